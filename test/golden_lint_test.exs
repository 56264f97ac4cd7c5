defmodule MixDeploy.GoldenLintTest do
  # Every script generated for every golden fixture (which together enable every
  # template, with hostile values) passes shellcheck at its default severity and
  # bash -n. The golden files are what the core renders (see
  # native/mix_deploy_core/tests/golden.rs, which keeps them current).
  use ExUnit.Case, async: true
  import MixDeploy.Scratch, only: [shellcheck: 1, bash_n: 1]

  @golden Path.expand("../native/mix_deploy_core/tests/golden", __DIR__)
  @scripts Path.wildcard(Path.join(@golden, "*/bin/*"))

  test "golden fixtures cover every built-in deploy template" do
    builtins =
      Path.wildcard(Path.expand("../priv/templates/deploy/*.hbs", __DIR__))
      |> Enum.map(&Path.basename(&1, ".hbs"))
      |> Enum.reject(&(&1 in ["sudoers", "appspec"] or String.starts_with?(&1, "ansible-")))

    generated =
      @scripts
      |> Enum.map(&(Path.basename(&1) |> String.replace_prefix("deploy-", "")))
      |> Enum.uniq()

    assert builtins -- generated == []
  end

  for script <- @scripts do
    name = Path.relative_to(script, @golden)

    test "#{name} is shellcheck and bash -n clean" do
      script = unquote(script)
      assert shellcheck(script) == ""
      assert bash_n(script) == ""
    end
  end
end
