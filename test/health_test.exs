defmodule MixDeploy.HealthTest do
  @moduledoc """
  deploy-validate-service and deploy-restart's check and rollback, against a fake
  systemctl that answers `show` from a script of states (one line per call, the
  last repeating) and a fake curl: healthy, crashing (new process, auto-restart),
  failed, missing, URL answers, the rollback and its refusals, each restart
  method (a deploy user touching the flag included), and deploy-copy-files
  removing units the config no longer makes. The real thing: test/e2e/run.

  The checks never depend on timing: a failure is a state the fake reports, and
  success comes with HEALTH_CHECK_SETTLE=0, or after a settle window that only
  delays it.
  """
  use ExUnit.Case, async: false
  import MixDeploy.Scratch

  @moduletag :tmp_dir

  # false runs the tests; a reason skips them (outside CI only: MixDeploy.Requires).
  @unless_root MixDeploy.Requires.unless_root(
                 __MODULE__,
                 "restart runs systemctl as root, chown, runuser",
                 "the tests that run deploy-restart and deploy-copy-files"
               )

  @show "systemctl show -p LoadState -p ActiveState -p SubState -p Result -p MainPID -p NRestarts -p InvocationID -- foo-bar"
  @old "20240101000000"
  @new "20240102000000"

  setup do
    Mix.shell(Mix.Shell.Process)
    on_exit(fn -> Mix.shell(Mix.Shell.IO) end)
  end

  defp generate(dir, config), do: dir |> generate_deploy(config) |> Path.join("bin")

  # A fake systemctl in `dir`: logs each call to dir/calls; `show` prints the next
  # line of `states` ("ActiveState SubState MainPID NRestarts InvocationID Result
  # [LoadState]"); `restart` and `is-active` exit with dir/restart.status and
  # dir/is-active.status (default 0). Usable by any user.
  defp fake_systemctl(dir, states, opts \\ []) do
    File.mkdir_p!(dir)
    File.write!(Path.join(dir, "states"), Enum.join(states, "\n") <> "\n")
    File.write!(Path.join(dir, "restart.status"), "#{opts[:restart] || 0}\n")
    File.write!(Path.join(dir, "is-active.status"), "#{opts[:is_active] || 0}\n")
    path = Path.join(dir, "systemctl")

    File.write!(path, ~S"""
    #!/bin/bash
    dir=$(dirname "$0")
    echo "systemctl $*" >>"$dir/calls"
    case "$1" in
        show)
            n=$(cat "$dir/n" 2>/dev/null || echo 0)
            total=$(wc -l <"$dir/states")
            line=$(sed -n "$((n < total ? n + 1 : total))p" "$dir/states")
            echo $((n + 1)) >"$dir/n"
            read -r a s p r i res load <<<"$line"
            printf 'LoadState=%s\nActiveState=%s\nSubState=%s\nResult=%s\nMainPID=%s\nNRestarts=%s\nInvocationID=%s\n' \
                "${load:-loaded}" "$a" "$s" "$res" "$p" "$r" "$i"
            ;;
        restart) exit "$(cat "$dir/restart.status")" ;;
        is-active) exit "$(cat "$dir/is-active.status")" ;;
    esac
    exit 0
    """)

    File.chmod!(path, 0o755)
    for f <- File.ls!(dir), do: File.chmod!(Path.join(dir, f), 0o777)
    File.chmod!(dir, 0o777)
    path
  end

  # A fake curl: answers each call with the next status of `codes` (000 is no
  # answer) and logs its arguments.
  defp fake_curl(dir, codes) do
    bin = Path.join(dir, "curlbin")
    File.mkdir_p!(bin)
    File.write!(Path.join(dir, "codes"), Enum.join(codes, "\n") <> "\n")

    File.write!(Path.join(bin, "curl"), """
    #!/bin/bash
    echo "curl $*" >>'#{dir}/curl.calls'
    n=$(cat '#{dir}/curl.n' 2>/dev/null || echo 0)
    total=$(wc -l <'#{dir}/codes')
    code=$(sed -n "$((n < total ? n + 1 : total))p" '#{dir}/codes')
    echo $((n + 1)) >'#{dir}/curl.n'
    if [ "$code" = 000 ]; then echo "curl: (7) Failed to connect" >&2; printf 000; exit 7; fi
    printf '%s' "$code"
    """)

    File.chmod!(Path.join(bin, "curl"), 0o755)
    {"PATH", bin <> ":" <> System.get_env("PATH")}
  end

  defp calls(dir, name \\ "calls") do
    case File.read(Path.join(dir, name)) do
      {:ok, text} -> String.split(text, "\n", trim: true)
      _ -> []
    end
  end

  # releases/<old> (0.1.0) and releases/<new> (0.2.0), current -> new; the env
  # that points the scripts at it.
  defp site(dir, releases \\ [{@old, "0.1.0"}, {@new, "0.2.0"}]) do
    deploy = Path.join(dir, "srv")

    for {name, vsn} <- releases do
      rel = Path.join([deploy, "releases", name])
      File.mkdir_p!(Path.join(rel, "bin"))
      File.mkdir_p!(Path.join(rel, "releases"))
      File.write!(Path.join(rel, "bin/foo_bar"), "#!/bin/sh\n")
      File.chmod!(Path.join(rel, "bin/foo_bar"), 0o755)
      File.write!(Path.join(rel, "releases/start_erl.data"), "13.1.5 #{vsn}")
    end

    {latest, _} = List.last(releases)
    File.ln_s!("releases/#{latest}", Path.join(deploy, "current"))

    {deploy,
     [
       {"DEPLOY_DIR", deploy},
       {"RELEASES_DIR", Path.join(deploy, "releases")},
       {"CURRENT_DIR", Path.join(deploy, "current")},
       {"FLAGS_DIR", Path.join(deploy, "flags")},
       {"DEPLOY_USER", "root"},
       {"APP_GROUP", "root"}
     ]}
  end

  defp current(deploy), do: File.read_link!(Path.join(deploy, "current"))

  defp run(script, env, opts \\ []) do
    {cmd, args} =
      case opts[:as] do
        nil -> {script, []}
        user -> {"runuser", ["-u", user, "--", script]}
      end

    System.cmd(cmd, args, env: env, stderr_to_stdout: true, cd: opts[:cd] || "/")
  end

  # No waiting for a settle window, unless a test asks for one.
  defp quick(env), do: [{"HEALTH_CHECK_SETTLE", "0"} | env]

  # Never succeeds by time within a test: only a state the fake reports ends it.
  defp patient(env),
    do: [{"HEALTH_CHECK_SETTLE", "600"}, {"HEALTH_CHECK_TIMEOUT", "900"} | env]

  describe "static checks" do
    test "restart and validate-service are shellcheck and bash -n clean for every restart method",
         %{tmp_dir: dir} do
      for method <- [:systemctl, :systemd_flag, :touch], url <- [nil, "http://127.0.0.1:4000/"] do
        config = [
          restart_method: method,
          health_check_url: url,
          templates: ["restart", "validate-service"]
        ]

        bin = generate(Path.join(dir, "#{method}-#{url != nil}"), config)

        for name <- ~w(restart validate-service) do
          path = Path.join(bin, "deploy-#{name}")
          assert shellcheck(path) == "", "#{method} #{name}:\n#{shellcheck(path)}"
          assert bash_n(path) == ""
        end
      end
    end

    test "config values are the scripts' defaults; the environment overrides them", %{
      tmp_dir: dir
    } do
      bin =
        generate(dir,
          health_check_url: "http://x/it's",
          health_check_timeout: 7,
          rollback_on_failure: false,
          templates: ["restart", "validate-service"]
        )

      restart = File.read!(Path.join(bin, "deploy-restart"))
      assert restart =~ ~S"HEALTH_CHECK_URL=${HEALTH_CHECK_URL:-'http://x/it'\''s'}"
      assert restart =~ ~S"HEALTH_CHECK_TIMEOUT=${HEALTH_CHECK_TIMEOUT:-'7'}"
      assert restart =~ ~S"ROLLBACK_ON_FAILURE=${ROLLBACK_ON_FAILURE:-'false'}"

      assert File.read!(Path.join(bin, "deploy-validate-service")) =~
               ~S"HEALTH_CHECK_TIMEOUT=${HEALTH_CHECK_TIMEOUT:-'7'}"
    end
  end

  describe "deploy-validate-service" do
    setup %{tmp_dir: dir} do
      %{
        script:
          Path.join(generate(dir, templates: ["validate-service"]), "deploy-validate-service")
      }
    end

    test "a running service is up", %{tmp_dir: dir, script: script} do
      sc = fake_systemctl(Path.join(dir, "fake"), ["active running 10 0 a success"])
      {out, 0} = run(script, quick([{"SYSTEMCTL", sc}]))
      assert out =~ "==> foo-bar is up: process 10 has run 0s"
      assert calls(Path.join(dir, "fake")) == [@show]
    end

    test "waits through activating until running", %{tmp_dir: dir, script: script} do
      states = [
        "activating start-pre 0 0 a success",
        "activating start 9 0 a success",
        "active running 9 0 a success"
      ]

      sc = fake_systemctl(Path.join(dir, "fake"), states)
      {out, 0} = run(script, quick([{"SYSTEMCTL", sc}]))
      assert out =~ "is up: process 9"
    end

    test "a new process while watching is a crash", %{tmp_dir: dir, script: script} do
      states = ["active running 10 0 a success", "active running 11 1 b success"]
      sc = fake_systemctl(Path.join(dir, "fake"), states)
      {out, 1} = run(script, patient([{"SYSTEMCTL", sc}]))

      assert out =~
               "error: foo-bar is not healthy: systemd restarted foo-bar while it was being checked (process 10 -> 11): it crashes"

      assert List.last(calls(Path.join(dir, "fake"))) ==
               "systemctl status --no-pager --lines=20 -- foo-bar"
    end

    test "a restart count that grows is a crash, even with the same process id", %{
      tmp_dir: dir,
      script: script
    } do
      states = ["active running 10 0 a success", "active running 10 1 a success"]
      sc = fake_systemctl(Path.join(dir, "fake"), states)
      {out, 1} = run(script, patient([{"SYSTEMCTL", sc}]))
      assert out =~ "it crashes"
    end

    test "auto-restart is a crash, not 'activating'", %{tmp_dir: dir, script: script} do
      sc = fake_systemctl(Path.join(dir, "fake"), ["activating auto-restart 0 3 a exit-code"])
      {out, 1} = run(script, patient([{"SYSTEMCTL", sc}]))
      assert out =~ "foo-bar exited (exit-code) and systemd is restarting it: it crashes"
    end

    test "failed, and not installed", %{tmp_dir: dir, script: script} do
      sc = fake_systemctl(Path.join(dir, "a"), ["failed failed 0 5 a start-limit-hit"])
      {out, 1} = run(script, patient([{"SYSTEMCTL", sc}]))
      assert out =~ "foo-bar failed (start-limit-hit)"

      sc = fake_systemctl(Path.join(dir, "b"), ["inactive dead 0 0 '' success not-found"])
      {out, 1} = run(script, patient([{"SYSTEMCTL", sc}]))
      assert out =~ "foo-bar is not installed"
    end

    test "the URL must answer 2xx; HEALTH_CHECK_URL from the environment", %{
      tmp_dir: dir,
      script: script
    } do
      sc = fake_systemctl(Path.join(dir, "fake"), ["active running 10 0 a success"])
      path = fake_curl(dir, ["000", "503", "204"])
      env = quick([{"SYSTEMCTL", sc}, path, {"HEALTH_CHECK_URL", "http://127.0.0.1:9/health"}])
      {out, 0} = run(script, env)
      assert out =~ "==> http://127.0.0.1:9/health answered 204"
      assert out =~ "is up: process 10 has run"
      assert [first | _] = calls(dir, "curl.calls")
      assert first =~ "--url http://127.0.0.1:9/health"
      assert length(calls(dir, "curl.calls")) == 3
    end

    test "a URL that never answers 2xx fails when the timeout is up, saying what it got", %{
      tmp_dir: dir,
      script: script
    } do
      sc = fake_systemctl(Path.join(dir, "fake"), ["active running 10 0 a success"])
      path = fake_curl(dir, ["503"])

      env = [
        {"SYSTEMCTL", sc},
        path,
        {"HEALTH_CHECK_URL", "http://h/"},
        {"HEALTH_CHECK_TIMEOUT", "1"}
      ]

      {out, 1} = run(script, env)
      assert out =~ "http://h/ did not answer 2xx within 1s (last: 503)"
    end

    test "bad numbers are refused", %{tmp_dir: dir, script: script} do
      sc = fake_systemctl(Path.join(dir, "fake"), ["active running 10 0 a success"])
      {out, 1} = run(script, [{"SYSTEMCTL", sc}, {"HEALTH_CHECK_TIMEOUT", "soon"}])
      assert out =~ "HEALTH_CHECK_TIMEOUT must be a positive number of seconds, got 'soon'"
      assert calls(Path.join(dir, "fake")) == []
    end
  end

  describe "deploy-restart (systemctl)" do
    @describetag skip: @unless_root

    setup %{tmp_dir: dir} do
      %{script: Path.join(generate(dir, templates: ["restart"]), "deploy-restart")}
    end

    test "a healthy restart exits 0 and leaves current alone", %{tmp_dir: dir, script: script} do
      {deploy, env} = site(dir)
      sc = fake_systemctl(Path.join(dir, "fake"), ["active running 10 0 a success"])
      {out, 0} = run(script, quick([{"SYSTEMCTL", sc} | env]))
      assert out =~ "==> Restarting foo-bar"
      assert calls(Path.join(dir, "fake")) == ["systemctl restart foo-bar", @show]
      assert current(deploy) == "releases/#{@new}"
    end

    test "a crashing release is rolled back, the old one restarted and checked; exit 1", %{
      tmp_dir: dir,
      script: script
    } do
      {deploy, env} = site(dir)

      states = [
        "active running 10 0 a success",
        "activating auto-restart 0 1 a exit-code",
        "active running 20 0 b success"
      ]

      sc = fake_systemctl(Path.join(dir, "fake"), states)
      # Settles only for the rolled-back release, after its first look.
      {out, 1} = run(script, [{"HEALTH_CHECK_SETTLE", "1"}, {"SYSTEMCTL", sc} | env])

      assert out =~
               "is not healthy after the restart: foo-bar exited (exit-code) and systemd is restarting it: it crashes"

      assert out =~ "==> Rolling back from #{@new} (version 0.2.0) to #{@old} (version 0.1.0)"
      assert out =~ "==> Switching current from #{@new} to #{@old}"

      assert out =~
               "error: #{@new} (version 0.2.0) failed its check, so foo-bar was rolled back from #{@new} (version 0.2.0) to #{@old} (version 0.1.0)"

      assert current(deploy) == "releases/#{@old}"

      assert Enum.reject(calls(Path.join(dir, "fake")), &(&1 == @show)) == [
               "systemctl restart foo-bar",
               "systemctl status --no-pager --lines=20 -- foo-bar",
               # A start limit the crashes may have hit would refuse the restart.
               "systemctl reset-failed foo-bar",
               "systemctl restart foo-bar"
             ]

      assert Path.wildcard(Path.join(deploy, ".current.tmp-*"), match_dot: true) == []
    end

    test "when the rolled-back release fails too, it says so", %{tmp_dir: dir, script: script} do
      {deploy, env} = site(dir)

      states = [
        "active running 10 0 a success",
        "active running 11 1 b success",
        "failed failed 0 0 c exit-code"
      ]

      sc = fake_systemctl(Path.join(dir, "fake"), states)
      {out, 1} = run(script, patient([{"SYSTEMCTL", sc} | env]))

      assert out =~
               "error: rolled back from #{@new} (version 0.2.0) to #{@old} (version 0.1.0), but #{@old} (version 0.1.0) is not healthy either: foo-bar failed (exit-code)"

      assert current(deploy) == "releases/#{@old}"
    end

    test "a failing systemctl restart counts as a failed check", %{tmp_dir: dir, script: script} do
      {deploy, env} = site(dir)
      sc = fake_systemctl(Path.join(dir, "fake"), ["active running 20 0 b success"], restart: 1)
      {out, 1} = run(script, quick([{"SYSTEMCTL", sc} | env]))
      assert out =~ "restarting foo-bar failed (exit status 1)"
      assert out =~ "rolled back from #{@new}"
      assert current(deploy) == "releases/#{@old}"
    end

    test "a service that is not installed is an error, not a reason to roll back", %{
      tmp_dir: dir,
      script: script
    } do
      {deploy, env} = site(dir)
      states = ["inactive dead 0 0 '' success not-found"]
      sc = fake_systemctl(Path.join(dir, "fake"), states, restart: 5)
      {out, 1} = run(script, quick([{"SYSTEMCTL", sc} | env]))
      assert out =~ "error: foo-bar is not installed (no unit file; deploy-copy-files"
      refute out =~ "Rolling back"
      assert current(deploy) == "releases/#{@new}"
    end

    test "ROLLBACK_ON_FAILURE=false: no rollback, current unchanged, exit 1", %{
      tmp_dir: dir,
      script: script
    } do
      {deploy, env} = site(dir)
      sc = fake_systemctl(Path.join(dir, "fake"), ["failed failed 0 0 a exit-code"])
      {out, 1} = run(script, patient([{"SYSTEMCTL", sc}, {"ROLLBACK_ON_FAILURE", "false"} | env]))
      assert out =~ "not rolling back (ROLLBACK_ON_FAILURE is false); current is still #{@new}"
      assert current(deploy) == "releases/#{@new}"
      assert Enum.count(calls(Path.join(dir, "fake")), &(&1 == "systemctl restart foo-bar")) == 1
    end

    test "nothing older to roll back to: current unchanged, exit 1", %{
      tmp_dir: dir,
      script: script
    } do
      {deploy, env} = site(dir, [{@new, "0.2.0"}])
      sc = fake_systemctl(Path.join(dir, "fake"), ["failed failed 0 0 a exit-code"])
      {out, 1} = run(script, patient([{"SYSTEMCTL", sc} | env]))

      assert out =~
               "no release to roll back to from #{@new} (version 0.2.0): no release was current before"

      assert current(deploy) == "releases/#{@new}"
    end

    test "current that is not a link: restarts and checks, never rolls back", %{
      tmp_dir: dir,
      script: script
    } do
      {deploy, env} = site(dir)
      File.rm!(Path.join(deploy, "current"))
      File.mkdir_p!(Path.join(deploy, "current"))
      sc = fake_systemctl(Path.join(dir, "a"), ["active running 10 0 a success"])
      {_, 0} = run(script, quick([{"SYSTEMCTL", sc} | env]))

      sc = fake_systemctl(Path.join(dir, "b"), ["failed failed 0 0 a exit-code"])
      {out, 1} = run(script, patient([{"SYSTEMCTL", sc} | env]))
      assert out =~ "not rolling back: #{deploy}/current is not a link to a release"
    end
  end

  describe "deploy-restart (flag methods)" do
    @describetag skip: @unless_root

    test "touch, as root: touches the flag, waits for the new process, checks it", %{
      tmp_dir: dir
    } do
      script =
        Path.join(generate(dir, restart_method: :touch, templates: ["restart"]), "deploy-restart")

      {deploy, env} = site(dir)
      File.mkdir_p!(Path.join(deploy, "flags"))
      # Before the touch; the old process still; the app exits and systemd starts it again.
      states = [
        "active running 10 0 a success",
        "active running 10 0 a success",
        "activating auto-restart 0 1 a success",
        "active running 11 1 b success"
      ]

      sc = fake_systemctl(Path.join(dir, "fake"), states)
      {out, 0} = run(script, quick([{"SYSTEMCTL", sc} | env]))
      assert out =~ "touching #{deploy}/flags/restart.flag"
      assert out =~ "is up: process 11"
      assert File.exists?(Path.join(deploy, "flags/restart.flag"))
      refute "systemctl restart foo-bar" in calls(Path.join(dir, "fake"))
    end

    test "touch: a service that does not run is started, not touched", %{tmp_dir: dir} do
      script =
        Path.join(generate(dir, restart_method: :touch, templates: ["restart"]), "deploy-restart")

      {deploy, env} = site(dir)
      File.mkdir_p!(Path.join(deploy, "flags"))

      sc =
        fake_systemctl(Path.join(dir, "fake"), [
          "inactive dead 0 0 '' success",
          "active running 5 0 a success"
        ])

      {out, 0} = run(script, quick([{"SYSTEMCTL", sc} | env]))
      assert out =~ "==> Starting foo-bar (inactive: touching the flag would not start it)"
      assert "systemctl start foo-bar" in calls(Path.join(dir, "fake"))
      refute File.exists?(Path.join(deploy, "flags/restart.flag"))
    end

    test "touch: no restart within the timeout fails", %{tmp_dir: dir} do
      script =
        Path.join(generate(dir, restart_method: :touch, templates: ["restart"]), "deploy-restart")

      {deploy, env} = site(dir)
      File.mkdir_p!(Path.join(deploy, "flags"))
      sc = fake_systemctl(Path.join(dir, "fake"), ["active running 10 0 a success"])

      env = [
        {"HEALTH_CHECK_TIMEOUT", "1"},
        {"ROLLBACK_ON_FAILURE", "false"},
        {"SYSTEMCTL", sc} | env
      ]

      {out, 1} = run(script, env)
      assert out =~ "foo-bar did not restart within 1s (state active/running, process 10)"
    end

    test "systemd_flag, as a deploy user: touches the flag and checks the restarted service; " <>
           "refuses when the path unit is not active",
         %{tmp_dir: dir} do
      bin = generate(dir, restart_method: :systemd_flag, templates: ["restart"])
      # Where another user can run it: a world-readable copy.
      shared =
        Path.join(System.tmp_dir!(), "mix-deploy-health-#{System.unique_integer([:positive])}")

      on_exit(fn -> File.rm_rf!(shared) end)
      File.mkdir_p!(shared)
      File.chmod!(shared, 0o755)
      script = Path.join(shared, "deploy-restart")
      File.cp!(Path.join(bin, "deploy-restart"), script)
      File.chmod!(script, 0o755)
      flags = Path.join(shared, "flags")
      File.mkdir_p!(flags)
      {_, 0} = System.cmd("chown", ["nobody", flags])

      fake = Path.join(shared, "fake")

      sc =
        fake_systemctl(fake, ["active running 10 0 a success", "active running 11 0 b success"])

      env =
        quick([
          {"SYSTEMCTL", sc},
          {"FLAGS_DIR", flags},
          {"CURRENT_DIR", Path.join(shared, "current")}
        ])

      {out, 0} = run(script, env, as: "nobody")
      assert out =~ "touching #{flags}/restart.flag"
      assert out =~ "is up: process 11"
      assert File.exists?(Path.join(flags, "restart.flag"))
      assert "systemctl is-active --quiet foo-bar-restart.path" in calls(fake)
      refute "systemctl restart foo-bar" in calls(fake)

      File.rm!(Path.join(flags, "restart.flag"))

      sc =
        fake_systemctl(Path.join(shared, "fake2"), ["active running 10 0 a success"], is_active: 3)

      {out, 1} = run(script, List.keystore(env, "SYSTEMCTL", 0, {"SYSTEMCTL", sc}), as: "nobody")

      assert out =~
               "foo-bar-restart.path is not active, so touching the flag file restarts nothing"

      refute File.exists?(Path.join(flags, "restart.flag"))
    end
  end

  describe "units the config no longer makes" do
    @describetag skip: @unless_root

    test "generated ones are disabled and removed by name; an admin's own stays", %{tmp_dir: dir} do
      bin = generate(dir, templates: ["copy-files"])
      project = Path.dirname(bin)
      units = Path.join(project, "_build/prod/systemd/lib/systemd/system")
      File.mkdir_p!(units)
      File.write!(Path.join(units, "foo-bar.service"), "# Generated by mix_deploy\n[Service]\n")

      dest = Path.join(dir, "dest")
      lib = Path.join(dest, "lib/systemd/system")
      File.mkdir_p!(lib)
      marked = "# Generated by mix_deploy (mix systemd.generate) from template x.\n[Unit]\n"
      File.write!(Path.join(lib, "foo-bar-restart.path"), marked)
      File.write!(Path.join(lib, "foo-bar-restart.service"), marked)
      File.write!(Path.join(lib, "foo-bar-runtime-environment.service"), "[Unit]\n# mine\n")
      File.write!(Path.join(lib, "foo-bar-worker.service"), marked)

      sc = fake_systemctl(Path.join(dir, "fake"), ["inactive dead 0 0 '' success"])
      env = [{"SYSTEMCTL", sc}, {"DESTDIR", dest}, {"DEPLOY_USER", "root"}, {"APP_GROUP", "root"}]
      {out, 0} = run(Path.join(bin, "deploy-copy-files"), env, cd: project)

      assert out =~ "==> Removing #{lib}/foo-bar-restart.path: the config no longer makes it"

      assert out =~
               "==> Keeping #{lib}/foo-bar-runtime-environment.service: the config no longer makes it, but mix_deploy did not generate it"

      assert Enum.sort(File.ls!(lib)) ==
               ~w(foo-bar-runtime-environment.service foo-bar-worker.service foo-bar.service)

      assert calls(Path.join(dir, "fake")) == [
               "systemctl --root=#{dest} disable foo-bar-restart.path",
               "systemctl --root=#{dest} disable foo-bar-restart.service"
             ]
    end

    test "deploy-enable disables an enabled unit the config no longer makes, file gone or generated",
         %{tmp_dir: dir} do
      bin = generate(dir, templates: ["enable"])
      dest = Path.join(dir, "dest")
      wants = Path.join(dest, "etc/systemd/system/multi-user.target.wants")
      File.mkdir_p!(wants)
      # deploy-clean-target removed the file; the enable link is left.
      File.ln_s!(
        "/lib/systemd/system/foo-bar-restart.path",
        Path.join(wants, "foo-bar-restart.path")
      )

      sc = fake_systemctl(Path.join(dir, "fake"), ["inactive dead 0 0 '' success"])
      {out, 0} = run(Path.join(bin, "deploy-enable"), [{"SYSTEMCTL", sc}, {"DESTDIR", dest}])

      assert out =~
               "==> Disabling foo-bar-restart.path under #{dest}: the config no longer makes it"

      assert calls(Path.join(dir, "fake")) == [
               "systemctl --root=#{dest} enable foo-bar.service",
               "systemctl --root=#{dest} disable foo-bar-restart.path"
             ]
    end

    test "deploy-enable leaves an admin's own unit of that name enabled", %{tmp_dir: dir} do
      bin = generate(dir, templates: ["enable"])
      dest = Path.join(dir, "dest")
      wants = Path.join(dest, "etc/systemd/system/multi-user.target.wants")
      lib = Path.join(dest, "lib/systemd/system")
      File.mkdir_p!(wants)
      File.mkdir_p!(lib)
      File.write!(Path.join(lib, "foo-bar-runtime-environment.service"), "[Unit]\n# mine\n")

      File.ln_s!(
        "/lib/systemd/system/foo-bar-runtime-environment.service",
        Path.join(wants, "foo-bar-runtime-environment.service")
      )

      sc = fake_systemctl(Path.join(dir, "fake"), ["inactive dead 0 0 '' success"])
      {out, 0} = run(Path.join(bin, "deploy-enable"), [{"SYSTEMCTL", sc}, {"DESTDIR", dest}])
      assert out =~ "==> Leaving foo-bar-runtime-environment.service as it is"
      assert calls(Path.join(dir, "fake")) == ["systemctl --root=#{dest} enable foo-bar.service"]
    end

    test "with systemd_flag nothing is removed", %{tmp_dir: dir} do
      bin = generate(dir, restart_method: :systemd_flag, templates: ["copy-files", "enable"])
      text = File.read!(Path.join(bin, "deploy-copy-files"))
      refute text =~ ~s(remove_stale_unit "${SERVICE_NAME}-restart)
      assert text =~ ~s(remove_stale_unit "${SERVICE_NAME}-runtime-environment.service")
      text = File.read!(Path.join(bin, "deploy-enable"))
      refute text =~ ~s(disable_stale "${SERVICE_NAME}-restart)
      assert text =~ ~s(disable_stale "${SERVICE_NAME}-runtime-environment.service")
    end
  end
end
