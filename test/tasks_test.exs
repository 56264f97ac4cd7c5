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

  test "a first deploy.generate with no templates says so and shows the list to copy",
       %{tmp_dir: dir} do
    in_project(dir, :foo_bar, [deploy: []], fn ->
      mix("deploy.generate")
      refute File.exists?("bin")

      assert_received {:mix_shell, :error,
                       ["warning: config :mix_deploy, templates: [] enables no script" <> rest]}

      assert rest =~ "nothing was generated"

      assert rest =~
               "config :mix_deploy, templates: ~w(init-local create-users create-dirs copy-files enable release restart rollback start stop)"
    end)

    in_project(Path.join(dir, "other"), :foo_bar, [deploy: [templates: ["start"]]], fn ->
      mix("deploy.generate")
      refute_received {:mix_shell, :error, ["warning: config :mix_deploy, templates: []" <> _]}
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

  describe "one config for both namespaces" do
    test "keys set under :mix_systemd only reach the scripts", %{tmp_dir: dir} do
      systemd = [
        app_user: "app",
        app_group: "app",
        dirs: [:configuration, :tmp],
        env_vars: ["PORT=8080"],
        env_files: [["-", :configuration_dir, "/environment"]]
      ]

      deploy = [templates: ["set-env", "create-dirs", "create-users"]]

      in_project(dir, :foo_bar, [deploy: deploy, systemd: systemd], fn ->
        mix("deploy.generate")
        refute_received {:mix_shell, :error, _}
        assert File.read!("bin/deploy-set-env") =~ "export PORT='8080'"
        assert File.read!("bin/deploy-set-env") =~ "/etc/foo-bar/environment"
        assert File.read!("bin/deploy-create-dirs") =~ "/var/tmp/foo-bar"
        assert File.read!("bin/deploy-create-users") =~ "APP_USER=${APP_USER:-'app'}"
      end)
    end

    test "a key both namespaces set differently warns with both values", %{tmp_dir: dir} do
      opts = [deploy: [templates: ["start"], app_user: "app"], systemd: [app_user: "www"]]

      in_project(dir, :foo_bar, opts, fn ->
        mix("systemd.generate")
        assert_received {:mix_shell, :error, ["warning: app_user: the scripts use " <> w]}
        assert w =~ "\"app\" (config :mix_deploy) but the unit uses \"www\" (config :mix_systemd)"
        unit = "_build/prod/systemd/lib/systemd/system/foo-bar.service"
        assert File.read!(unit) =~ "\nUser=www\n"
      end)
    end
  end

  describe "strict command lines" do
    @tasks [
      {"deploy.init", "mix deploy.init [--force | -f]"},
      {"deploy.generate", "mix deploy.generate [--check]"},
      {"deploy.local", "mix deploy.local [--release-vsn VSN]"},
      {"deploy.local.rollback", "mix deploy.local.rollback [--release NAME_OR_VERSION]"},
      {"systemd.init", "mix systemd.init [--force | -f]"},
      {"systemd.generate", "mix systemd.generate [--check]"}
    ]

    for {task, usage} <- @tasks do
      test "#{task} rejects a stray argument and an unknown switch, writing nothing",
           %{tmp_dir: dir} do
        in_project(dir, :foo_bar, [deploy: [templates: ["start"]]], fn ->
          error = assert_raise Mix.Error, fn -> mix(unquote(task), ["stray"]) end
          assert error.message == "unexpected argument \"stray\"\nusage: " <> unquote(usage)

          error = assert_raise Mix.Error, fn -> mix(unquote(task), ["--bogus"]) end
          assert error.message == "unknown option --bogus\nusage: " <> unquote(usage)

          error = assert_raise Mix.Error, fn -> mix(unquote(task), ["-x"]) end
          assert error.message == "unknown option -x\nusage: " <> unquote(usage)

          assert files_under(dir) == [Path.join(dir, "mix.exs")]
        end)
      end
    end

    test "a switch that takes a value says so when it has none", %{tmp_dir: dir} do
      in_project(dir, :foo_bar, [], fn ->
        error = assert_raise Mix.Error, fn -> mix("deploy.local.rollback", ["--release"]) end
        assert error.message =~ "option --release needs a value\nusage: "
      end)
    end

    test "-f is --force for both init tasks", %{tmp_dir: dir} do
      in_project(dir, :foo_bar, [], fn ->
        mix("deploy.init")
        mix("systemd.init")
        File.write!("rel/templates/deploy/start.hbs", "mine\n")
        File.write!("rel/templates/systemd/service.hbs", "mine\n")

        mix("deploy.init", ["-f"])
        mix("systemd.init", ["-f"])
        assert_received {:mix_shell, :info, ["* updating rel/templates/deploy/start.hbs"]}
        assert_received {:mix_shell, :info, ["* updating rel/templates/systemd/service.hbs"]}
        assert File.read!("rel/templates/deploy/start.hbs") =~ "{{header}}"
        assert File.read!("rel/templates/systemd/service.hbs") =~ "{{header}}"
      end)
    end
  end
end
