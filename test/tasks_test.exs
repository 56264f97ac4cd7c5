defmodule MixDeploy.TasksTest do
  use ExUnit.Case, async: false
  import MixDeploy.Scratch

  @moduletag :tmp_dir

  setup do
    Mix.shell(Mix.Shell.Process)
    on_exit(fn -> Mix.shell(Mix.Shell.IO) end)
  end

  defp files_under(dir) do
    dir |> Path.join("**") |> Path.wildcard(match_dot: true) |> Enum.filter(&File.regular?/1)
  end

  test "deploy.generate writes scripts, then reports them unchanged", %{tmp_dir: dir} do
    in_project(dir, :foo_bar, [deploy: [templates: ["start", "stop"]]], fn ->
      mix("deploy.generate")
      assert_received {:mix_shell, :info, ["* creating bin/deploy-start"]}
      assert_received {:mix_shell, :info, ["* creating bin/deploy-stop"]}
      assert File.stat!("bin/deploy-start").mode |> Bitwise.band(0o777) == 0o755
      assert File.read!("bin/deploy-start") =~ "foo-bar"

      mix("deploy.generate")
      assert_received {:mix_shell, :info, ["* unchanged bin/deploy-start"]}
    end)
  end

  test "deploy.generate works without deploy.init and honours overrides", %{tmp_dir: dir} do
    in_project(dir, :foo_bar, [deploy: [templates: ["start", "hello"], greeting: "hi"]], fn ->
      File.mkdir_p!("rel/templates/deploy")

      File.write!(
        "rel/templates/deploy/hello.hbs",
        "#!/bin/sh\necho {{q greeting}} {{service_name}}\n"
      )

      File.write!("rel/templates/deploy/start.hbs", "#!/bin/sh\n# mine {{deploy_dir}}\n")
      mix("deploy.generate")
      assert File.read!("bin/deploy-hello") == "#!/bin/sh\necho 'hi' foo-bar\n"
      assert File.read!("bin/deploy-start") == "#!/bin/sh\n# mine /srv/foo-bar\n"

      assert_received {:mix_shell, :error,
                       ["warning: config :mix_deploy, greeting: unknown key" <> _]}
    end)
  end

  test "--check names stale and missing files and writes nothing", %{tmp_dir: dir} do
    in_project(dir, :foo_bar, [deploy: [templates: ["start", "stop"]]], fn ->
      mix("deploy.generate")
      File.write!("bin/deploy-stop", "edited\n")
      File.rm!("bin/deploy-start")

      error = assert_raise Mix.Error, fn -> mix("deploy.generate", ["--check"]) end
      assert error.message =~ "bin/deploy-start (missing)"
      assert error.message =~ "bin/deploy-stop (stale)"
      assert error.message =~ "mix deploy.generate"
      refute File.exists?("bin/deploy-start")
      assert File.read!("bin/deploy-stop") == "edited\n"

      mix("deploy.generate")
      mix("deploy.generate", ["--check"])
      assert_received {:mix_shell, :info, ["All 2 generated files are up to date."]}
    end)
  end

  test "a config mistake raises one clear message and writes nothing", %{tmp_dir: dir} do
    in_project(
      dir,
      :foo_bar,
      [deploy: [templates: ["start"], base_dir: "srv", dirs: :runtime]],
      fn ->
        error = assert_raise Mix.Error, fn -> mix("deploy.generate") end
        assert error.message =~ "2 problems found"
        assert error.message =~ ~s(config :mix_deploy, base_dir: "srv" is invalid)
        assert error.message =~ "config :mix_deploy, dirs: :runtime is invalid: expected a list"
        assert files_under(dir) == [Path.join(dir, "mix.exs")]
      end
    )
  end

  test "deploy.init copies templates and keeps edits unless --force", %{tmp_dir: dir} do
    in_project(dir, :foo_bar, [], fn ->
      mix("deploy.init")
      assert_received {:mix_shell, :info, ["* creating rel/templates/deploy/start.hbs"]}
      File.write!("rel/templates/deploy/start.hbs", "mine\n")

      mix("deploy.init")
      assert_received {:mix_shell, :info, ["* skipping rel/templates/deploy/start.hbs"]}
      assert File.read!("rel/templates/deploy/start.hbs") == "mine\n"

      mix("deploy.init", ["--force"])
      assert_received {:mix_shell, :info, ["* updating rel/templates/deploy/start.hbs"]}
      assert File.read!("rel/templates/deploy/start.hbs") =~ "{{header}}"
    end)
  end

  test "deploy.init copies the partials; generate uses a project's partial", %{tmp_dir: dir} do
    in_project(dir, :foo_bar, [deploy: [templates: ["start", "stop", "clean-target"]]], fn ->
      mix("deploy.init")

      assert_received {:mix_shell, :info,
                       ["* creating rel/templates/deploy/partials/systemctl-run.hbs"]}

      builtin = File.read!("rel/templates/deploy/partials/systemctl-run.hbs")
      assert builtin =~ "systemctl_run() {"
      mix("deploy.generate")
      assert File.read!("bin/deploy-start") =~ "sudo -n \"$SYSTEMCTL\" \"$@\""

      File.write!(
        "rel/templates/deploy/partials/systemctl-run.hbs",
        "systemctl_run() { echo {{q service_name}} \"$@\"; }\n"
      )

      mix("deploy.generate")

      for script <- ~w(bin/deploy-start bin/deploy-stop) do
        text = File.read!(script)
        assert text =~ "systemctl_run() { echo 'foo-bar' \"$@\"; }\n", script
        refute text =~ "sudo -n \"$SYSTEMCTL\""
      end

      refute File.read!("bin/deploy-clean-target") =~ "systemctl_run"

      File.write!("rel/templates/deploy/partials/systemctl-run.hbs", "{{#if}}\n")
      error = assert_raise Mix.Error, fn -> mix("deploy.generate") end
      assert error.message =~ "template partials/systemctl-run: line 2"
    end)
  end

  test "systemd.init and systemd.generate use the :mix_systemd config", %{tmp_dir: dir} do
    in_project(dir, :foo_bar, [systemd: [app_user: "app"]], fn ->
      mix("systemd.init")
      assert_received {:mix_shell, :info, ["* creating rel/templates/systemd/service.hbs"]}
      mix("systemd.generate")
      unit = "_build/prod/systemd/lib/systemd/system/foo-bar.service"
      assert_received {:mix_shell, :info, ["* creating " <> ^unit]}
      assert File.read!(unit) =~ "Generated by mix_deploy"
    end)
  end
end
