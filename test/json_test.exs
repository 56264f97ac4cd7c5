defmodule MixDeploy.JSONTest do
  use ExUnit.Case, async: true
  alias MixDeploy.JSON

  test "atoms stay distinct from strings" do
    assert JSON.encode(["-", :deploy_dir, "/etc/environment"]) ==
             ~s(["-",{"atom":"deploy_dir"},"/etc/environment"])
  end

  test "scalars, keyword lists, tuples and maps" do
    assert JSON.encode(nil) == "null"
    assert JSON.encode(true) == "true"
    assert JSON.encode(42) == "42"
    assert JSON.encode(1.5) == "1.5"
    assert JSON.encode(a: 1) == ~s([{"tuple":[{"atom":"a"},1]}])
    assert JSON.encode(%{src: "x"}) == ~s({"map":[[{"atom":"src"},"x"]]})
  end

  test "strings are escaped" do
    assert JSON.encode("a\"b\\c\nd\te\u0001é") == ~s("a\\"b\\\\c\\nd\\te\\u0001é")
  end

  test "the core decodes what the encoder writes" do
    config = [env_vars: ["A=1", ["B=", :runtime_dir]], copy_files: [%{src: "a", dst: "/b"}]]

    doc =
      ~s({"project":{"app":"x","version":"1.0.0","mix_env":"prod","build_path":"_build/prod"},) <>
        ~s("account":{"user":"u","group":"g"},"config":#{JSON.encode(config)}})

    assert {:ok, resolved} = MixDeploy.Native.resolve(doc, :deploy)
    assert resolved =~ ~s("env_vars":["A=1","B=/run/x"])
    assert resolved =~ ~s("dst":"/b")
  end
end
