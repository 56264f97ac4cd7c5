defmodule MixDeploy.TasksTest do
  use ExUnit.Case, async: false
  import MixDeploy.Scratch

  @moduletag :tmp_dir

  setup do
    Mix.shell(Mix.Shell.Process)
    on_exit(fn -> Mix.shell(Mix.Shell.IO) end)
  end

  test "deploy.generate writes scripts, then reports them unchanged", %{tmp_dir: dir} do
    in_project(dir, :foo_bar, [deploy: [templates: ["start"]]], fn ->
      mix("deploy.generate")
      assert_received {:mix_shell, :info, ["* creating bin/deploy-start"]}
      assert File.stat!("bin/deploy-start").mode |> Bitwise.band(0o777) == 0o755
      mix("deploy.generate")
      assert_received {:mix_shell, :info, ["* unchanged bin/deploy-start"]}
    end)
  end
end
