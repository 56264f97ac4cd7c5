defmodule MixDeploy.ReleaseRecordTest do
  @moduledoc """
  Each release's record and what reads it: the rollback choice (deploy-rollback
  and deploy-restart's automatic rollback), the health outcome deploy-restart
  records, pruning around failed releases, the history, and what killed runs
  leave behind. Run as root against a deploy_dir in a temp dir, with small fake
  release tars whose bin/foo_bar prints its version; deploy-restart talks to a
  fake systemctl whose service crashes when current's bin/foo_bar says so. The
  real thing, with kills and a full disk: test/e2e/faults.
  """
  use ExUnit.Case, async: false
  import MixDeploy.Scratch

  @moduletag :tmp_dir

  # false runs the tests; a reason skips them (outside CI only: MixDeploy.Requires).
  @unless_root MixDeploy.Requires.unless_root(
                 __MODULE__,
                 "deploy-restart runs systemctl as root, strace follows the deploy",
                 "every test of the release record"
               )
  @moduletag skip: @unless_root

  @script_env ~w(RELEASE RELEASE_VSN RELEASE_TAR DESTDIR LOCK_TIMEOUT KEEP_RELEASES SUDO_USER LIFECYCLE_EVENT HEALTH_CHECK_RECORD)

  setup do
    isolate_env(@script_env)
  end

  # The scripts of a project foo_bar deploying to dir/srv; `fun` gets the paths.
  defp site(dir, config \\ [], fun) do
    project = Path.join(dir, "project")
    deploy = Path.join(dir, "srv")
    {templates, config} = Keyword.pop(config, :templates, [])
    templates = ~w(release rollback restart extract-release validate-service) ++ templates

    in_project(
      project,
      :foo_bar,
      [deploy: [templates: templates, deploy_dir: deploy] ++ config],
      fn ->
        mix("deploy.generate")

        fun.(%{
          dir: dir,
          bin: Path.join(project, "bin"),
          deploy: deploy,
          releases: Path.join(deploy, "releases"),
          current: Path.join(deploy, "current"),
          systemctl: fake_systemctl(Path.join(dir, "fake"), Path.join(deploy, "current"))
        })
      end
    )
  end

  # A release tar of version `vsn`; with crash: true its service crashes at boot.
  defp tar(site, vsn, opts \\ []) do
    crash = if opts[:crash], do: "# crash\n", else: ""
    path = Path.join(site.dir, "foo_bar-#{vsn}#{if opts[:crash], do: "-crash"}.tar.gz")
    exe = "#!/bin/sh\n#{crash}#{opts[:eval] || ""}echo version=#{vsn}\n"
    release_tar(Path.join(site.dir, "src-#{vsn}"), path, "foo_bar", vsn, exe, opts[:extra] || [])
  end

  # What the release's `eval` (deploy-migrate's) does: appends what it ran, as
  # whom, with which node name and PROBE (set by env_vars: the unit's environment),
  # where current pointed and how many descriptors of the deploy lock it was given,
  # to dir/migrations; prints a line; exits with `status`.
  defp migration(site, vsn, status) do
    """
    if [ "$1" = eval ]; then
        lock_fds=$(ls -l /proc/$$/fd | grep -c 'deploy[.]lock')
        echo "$2 version=#{vsn} user=$(id -un) node=$RELEASE_NODE probe=$PROBE current=$(basename "$(readlink '#{site.current}')") lock_fds=$lock_fds" >>'#{site.dir}/migrations'
        echo "migrating #{vsn}: status #{status}"
        exit #{status}
    fi
    """
  end

  # After the migrations of release `name` (version `vsn`) failed with exit 3:
  # current is still `current`, the release is marked failed, the history says so,
  # and it cannot be switched to by name.
  defp assert_migration_failed(site, name, vsn, current) do
    assert current(site) == current
    assert record(site, name)["health"] == "failed"

    assert List.last(history(site)) =~
             ~r/ migrate release=#{name} version=#{Regex.escape(vsn)} result=failed exit=3$/

    {out, 1} = run(site, "release", [], ["--switch", name])
    assert out =~ "is marked failed"
    assert current(site) == current
  end

  defp migrations(site) do
    case File.read(Path.join(site.dir, "migrations")) do
      {:ok, text} -> String.split(text, "\n", trim: true)
      {:error, :enoent} -> []
    end
  end

  defp run(site, script, env \\ [], args \\ []) do
    System.cmd(Path.join(site.bin, "deploy-#{script}"), args,
      env: env,
      stderr_to_stdout: true,
      cd: site.dir
    )
  end

  # Deploys a tar of `vsn` (a new release); returns its name.
  defp deploy!(site, vsn, opts \\ []) do
    {out, 0} = run(site, "release", [{"RELEASE_TAR", tar(site, vsn, opts)}])
    [_, name] = Regex.run(~r/==> Deployed (\S+);/, out)
    name
  end

  # deploy-restart against the fake systemctl; no settle window.
  defp restart(site, env \\ []) do
    run(site, "restart", [{"SYSTEMCTL", site.systemctl}, {"HEALTH_CHECK_SETTLE", "0"} | env])
  end

  # A fake systemctl: `show` reports the service running as a new process after
  # each restart, or crash-looping when current's bin/foo_bar has "# crash".
  defp fake_systemctl(dir, current) do
    File.mkdir_p!(dir)
    path = Path.join(dir, "systemctl")

    File.write!(path, """
    #!/bin/bash
    echo "systemctl $*" >>'#{dir}/calls'
    case "$1" in
        restart) echo x >>'#{dir}/restarts' ;;
        show)
            n=$(wc -l <'#{dir}/restarts' 2>/dev/null || echo 0)
            if grep -q '^# crash' '#{current}/bin/foo_bar'; then
                printf 'LoadState=loaded\\nActiveState=activating\\nSubState=auto-restart\\nResult=exit-code\\nMainPID=0\\nNRestarts=1\\nInvocationID=i%s\\n' "$n"
            else
                printf 'LoadState=loaded\\nActiveState=active\\nSubState=running\\nResult=success\\nMainPID=%s\\nNRestarts=0\\nInvocationID=i%s\\n' "$((100 + n))" "$n"
            fi
            ;;
    esac
    exit 0
    """)

    File.chmod!(path, 0o755)
    path
  end

  defp record(site, name) do
    site.releases
    |> Path.join("#{name}/.deploy-record")
    |> File.read!()
    |> String.split("\n", trim: true)
    |> Enum.reject(&String.starts_with?(&1, "#"))
    |> Map.new(fn line -> line |> String.split("=", parts: 2) |> List.to_tuple() end)
  end

  defp current(site), do: site.current |> File.read_link!() |> Path.basename()

  defp releases(site) do
    site.releases |> File.ls!() |> Enum.filter(&(&1 =~ ~r/^\d{14}(-\d\d)?$/)) |> Enum.sort()
  end

  defp history(site) do
    site.deploy |> Path.join(".deploy-history") |> File.read!() |> String.split("\n", trim: true)
  end

  describe "the record" do
    test "says version, tar sha256, when, by whom and what was current; no group write",
         %{tmp_dir: dir} do
      site(dir, fn site ->
        first = deploy!(site, "0.1.0")
        t = tar(site, "0.2.0")
        {out, 0} = run(site, "release", [{"RELEASE_TAR", t}, {"SUDO_USER", "alice"}])
        [_, second] = Regex.run(~r/==> Deployed (\S+);/, out)

        {sum, 0} = System.cmd("sha256sum", [t])
        rec = record(site, second)
        assert rec["format"] == "1"
        assert rec["release"] == second
        assert rec["version"] == "0.2.0"
        assert rec["tar_sha256"] == sum |> String.split() |> hd()
        assert rec["deployed_at"] =~ ~r/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/
        assert rec["deployed_by"] == "alice"
        assert rec["previous"] == first
        refute Map.has_key?(rec, "health")
        assert record(site, first)["previous"] == ""
        assert record(site, first)["deployed_by"] == "root"

        stat = File.stat!(Path.join([site.releases, second, ".deploy-record"]))
        # Readable by the app group (like the release), writable by no one else.
        assert Bitwise.band(stat.mode, 0o777) == 0o640

        sha = rec["tar_sha256"]

        assert [
                 "deploy release=#{first} version=0.1.0 by=root tar_sha256=#{record(site, first)["tar_sha256"]}",
                 "deploy release=#{second} version=0.2.0 from=#{first} by=alice tar_sha256=#{sha}"
               ] == Enum.map(history(site), &(&1 |> String.split(" ", parts: 2) |> List.last()))
      end)
    end

    test "is read, never sourced: a value outside its pattern is unknown", %{tmp_dir: dir} do
      site(dir, fn site ->
        first = deploy!(site, "0.1.0")
        second = deploy!(site, "0.2.0")
        marker = Path.join(dir, "ran")
        path = Path.join([site.releases, second, ".deploy-record"])
        # A record the deploy user rewrote: a command substitution and a bogus previous.
        File.write!(path, "previous=$(touch #{marker})\nhealth=ok; touch #{marker}\n")

        {out, 0} = run(site, "rollback")
        refute File.exists?(marker)
        # No previous known: the release older by name, as for a release without a record.
        assert out =~
                 "==> Rolling back to #{first} (version 0.1.0): it was current before #{second}"
      end)
    end

    test "a tar with a member named like the record is refused", %{tmp_dir: dir} do
      site(dir, fn site ->
        deploy!(site, "0.1.0")
        t = tar(site, "0.2.0", extra: [{".deploy-record", "health=ok\n"}])
        {out, status} = run(site, "release", [{"RELEASE_TAR", t}])
        assert status != 0
        assert out =~ "member '.deploy-record' has the name of the record the deploy writes"
        assert length(releases(site)) == 1
      end)
    end
  end

  describe "deploy-restart records the outcome and rolls back by the record" do
    test "two broken releases in a row both go back to 0.1.0, and a good one deploys",
         %{tmp_dir: dir} do
      site(dir, fn site ->
        good = deploy!(site, "0.1.0")
        {_, 0} = restart(site)
        assert record(site, good)["health"] == "ok"
        assert record(site, good)["health_at"] =~ ~r/Z$/

        bad1 = deploy!(site, "0.2.0", crash: true)
        {out, 1} = restart(site)

        assert out =~
                 "==> Rolling back from #{bad1} (version 0.2.0) to #{good} (version 0.1.0) (it was current before #{bad1})"

        assert current(site) == good
        assert record(site, bad1)["health"] == "failed"
        assert record(site, good)["health"] == "ok"

        # Deployed while 0.1.0 is current: its record says so, and the rollback
        # goes there, not to the newer, failed 0.2.0.
        bad2 = deploy!(site, "0.3.0", crash: true)
        assert record(site, bad2)["previous"] == good
        {out, 1} = restart(site)
        assert out =~ "rolled back from #{bad2} (version 0.3.0) to #{good} (version 0.1.0)"
        refute out =~ "not healthy either"
        assert current(site) == good

        fixed = deploy!(site, "0.4.0")
        {_, 0} = restart(site)
        assert current(site) == fixed
        assert record(site, fixed)["health"] == "ok"

        events = Enum.map(history(site), &(&1 |> String.split(" ") |> Enum.at(1)))
        assert Enum.count(events, &(&1 == "rollback")) == 2
        assert Enum.count(events, &(&1 == "health")) == 6
      end)
    end

    test "deploy-rollback skips failed releases, says why, and warns when RELEASE is failed",
         %{tmp_dir: dir} do
      site(dir, [keep_releases: 10], fn site ->
        r1 = deploy!(site, "0.1.0")
        {_, 0} = restart(site)
        # Two broken releases before any restart: the rollback from r3 goes to r2,
        # which fails too.
        r2 = deploy!(site, "0.2.0", crash: true)
        r3 = deploy!(site, "0.3.0", crash: true)
        {out, 1} = restart(site)
        assert out =~ "rolled back from #{r3} (version 0.3.0) to #{r2} (version 0.2.0), but"
        assert {record(site, r2)["health"], record(site, r3)["health"]} == {"failed", "failed"}

        {out, 0} = run(site, "rollback", [{"RELEASE", "0.3.0"}])

        assert out =~
                 "warning: #{r3} (version 0.3.0) is marked failed: its health check failed at"

        assert current(site) == r3

        {out, 0} = run(site, "rollback")

        assert out =~
                 ~r/==> Skipping #{r2} \(version 0\.2\.0\): marked failed \(its health check at \S+Z\)/

        assert out =~ "==> Rolling back to #{r1} (version 0.1.0): it was current before #{r2}"
        assert current(site) == r1

        {out, 1} = run(site, "rollback", [{"RELEASE", "9.9.9"}])
        assert out =~ "  #{r1} (version 0.1.0) ok <- current\n  #{r2} (version 0.2.0) failed\n"
      end)
    end

    test "a release gone from the chain: the newest release that ran ok", %{tmp_dir: dir} do
      site(dir, [keep_releases: 10], fn site ->
        r1 = deploy!(site, "0.1.0")
        r2 = deploy!(site, "0.2.0")
        {_, 0} = restart(site)
        {_, 0} = run(site, "rollback", [{"RELEASE", r1}])
        r3 = deploy!(site, "0.3.0")
        assert record(site, r3)["previous"] == r1
        File.rm_rf!(Path.join(site.releases, r1))

        {out, 0} = run(site, "rollback")
        assert out =~ "==> Skipping #{r1}: it was current before #{r3}, and it is gone"
        assert out =~ "==> Rolling back to #{r2} (version 0.2.0): the newest release that ran ok"
        assert current(site) == r2
      end)
    end
  end

  describe "deploy-validate-service (the agent hook) records the outcome" do
    # As an agent's ValidateService hook: the agent sets LIFECYCLE_EVENT.
    defp validate(site, systemctl \\ nil, env \\ [{"LIFECYCLE_EVENT", "ValidateService"}]) do
      run(site, "validate-service", [
        {"SYSTEMCTL", systemctl || site.systemctl},
        {"HEALTH_CHECK_SETTLE", "0"} | env
      ])
    end

    test "run by hand it records nothing; HEALTH_CHECK_RECORD=true records", %{tmp_dir: dir} do
      site(dir, fn site ->
        bad = deploy!(site, "0.1.0", crash: true)
        {_, 1} = validate(site, nil, [])
        refute Map.has_key?(record(site, bad), "health")
        {_, 1} = validate(site, nil, [{"HEALTH_CHECK_RECORD", "true"}])
        assert record(site, bad)["health"] == "failed"
        {out, 1} = validate(site, nil, [{"HEALTH_CHECK_RECORD", "yes"}])
        assert out =~ "HEALTH_CHECK_RECORD must be true or false, got 'yes'"
      end)
    end

    test "ok and failed, as deploy-restart does; the rollback rule skips the failed one",
         %{tmp_dir: dir} do
      site(dir, fn site ->
        good = deploy!(site, "0.1.0")
        refute Map.has_key?(record(site, good), "health")
        {_, 0} = validate(site)
        assert record(site, good)["health"] == "ok"

        bad = deploy!(site, "0.2.0", crash: true)
        {out, 1} = validate(site)
        assert out =~ "foo-bar is not healthy: foo-bar exited (exit-code)"
        assert record(site, bad)["health"] == "failed"
        # It checks; it never switches.
        assert current(site) == bad
        assert Enum.count(history(site), &(&1 =~ " health ")) == 2

        {out, 0} = run(site, "rollback")
        assert out =~ "to #{good} (version 0.1.0)"
      end)
    end

    test "nothing is recorded when a deploy switched away during the check", %{tmp_dir: dir} do
      site(dir, fn site ->
        old = deploy!(site, "0.1.0")
        new = deploy!(site, "0.2.0")
        # A systemctl that points current back at the old release at its first
        # look at the service, as a deploy in between would.
        switching = Path.join(site.dir, "switching-systemctl")

        File.write!(switching, """
        #!/bin/bash
        if [ ! -e '#{site.dir}/switched' ]; then
            touch '#{site.dir}/switched'
            ln -sfn 'releases/#{old}' '#{site.current}.x' && mv -T '#{site.current}.x' '#{site.current}'
        fi
        exec '#{site.systemctl}' "$@"
        """)

        File.chmod!(switching, 0o755)
        {out, 0} = validate(site, switching)
        assert File.exists?(Path.join(site.dir, "switched"))
        assert current(site) == old

        assert out =~
                 "a deploy switched away from #{new} during the check; its outcome (ok) is not recorded"

        refute Map.has_key?(record(site, new), "health")
        refute Map.has_key?(record(site, old), "health")
      end)
    end
  end

  describe "the release phase" do
    test "migrate_on_deploy: stage, migrate as the app with the unit environment, then switch",
         %{tmp_dir: dir} do
      site(
        dir,
        [templates: ~w(migrate set-env), migrate_on_deploy: true, env_vars: ["PROBE=unit"]],
        fn site ->
          first = deploy!(site, "0.1.0", eval: migration(site, "0.1.0", 0))
          second = deploy!(site, "0.2.0", eval: migration(site, "0.2.0", 0))
          assert current(site) == second

          # Each ran once, before the switch (current was still the release before),
          # given no descriptor of the deploy lock the deploy holds.
          assert migrations(site) == [
                   "FooBar.Release.migrate version=0.1.0 user=root node=foo_bar probe=unit current= lock_fds=0",
                   "FooBar.Release.migrate version=0.2.0 user=root node=foo_bar probe=unit current=#{first} lock_fds=0"
                 ]

          events = Enum.map(history(site), &(&1 |> String.split(" ") |> Enum.slice(1..2)))

          assert events == [
                   ["migrate", "release=#{first}"],
                   ["deploy", "release=#{first}"],
                   ["migrate", "release=#{second}"],
                   ["deploy", "release=#{second}"]
                 ]
        end
      )
    end

    test "mix deploy.local runs the same flow: the migration before the switch",
         %{tmp_dir: dir} do
      site(
        dir,
        [templates: ~w(migrate set-env), migrate_on_deploy: true, env_vars: ["PROBE=unit"]],
        fn site ->
          # deploy.local renders the script into a dir of its own: set-env is found
          # in scripts_dir, as on a host after deploy-init-local.
          scripts = Path.join(site.deploy, "bin")
          File.mkdir_p!(scripts)
          File.cp!(Path.join(site.bin, "deploy-set-env"), Path.join(scripts, "deploy-set-env"))

          try do
            System.put_env("RELEASE_TAR", tar(site, "0.1.0", eval: migration(site, "0.1.0", 0)))
            mix("deploy.local")
            System.put_env("RELEASE_TAR", tar(site, "0.2.0", eval: migration(site, "0.2.0", 3)))

            assert_raise Mix.Error, ~r/the migrations of \S+ \(version 0\.2\.0\) failed/, fn ->
              mix("deploy.local")
            end
          after
            System.delete_env("RELEASE_TAR")
          end

          [first] = releases(site) -- [List.last(releases(site))]
          assert current(site) == first
          assert [one, two] = migrations(site)
          assert one =~ "version=0.1.0 user=root node=foo_bar probe=unit current="
          assert two =~ "version=0.2.0 user=root node=foo_bar probe=unit current=#{first}"
        end
      )
    end

    test "a failed migration switches nothing, prints its output, marks the release failed",
         %{tmp_dir: dir} do
      site(
        dir,
        [templates: ~w(migrate set-env), migrate_on_deploy: true, env_vars: ["PROBE=unit"]],
        fn site ->
          good = deploy!(site, "0.1.0", eval: migration(site, "0.1.0", 0))
          t = tar(site, "0.2.0", eval: migration(site, "0.2.0", 3))
          {out, 1} = run(site, "release", [{"RELEASE_TAR", t}])
          assert out =~ "migrating 0.2.0: status 3"
          assert out =~ ~r/error: the migrations of (\S+) \(version 0\.2\.0\) failed \(exit 3;/
          assert out =~ "current is unchanged (#{good})"
          assert current(site) == good
          [bad] = releases(site) -- [good]
          assert_migration_failed(site, bad, "0.2.0", good)
          # The next deploy removes it.
          third = deploy!(site, "0.3.0", eval: migration(site, "0.3.0", 0))
          assert releases(site) == [good, third]
        end
      )
    end

    test "by hand: --stage, deploy-migrate NAME, --switch NAME; each step under the lock",
         %{tmp_dir: dir} do
      site(dir, [templates: ~w(migrate set-env), env_vars: ["PROBE=unit"]], fn site ->
        first = deploy!(site, "0.1.0")
        assert migrations(site) == [], "without migrate_on_deploy nothing migrates"

        t = tar(site, "0.2.0", eval: migration(site, "0.2.0", 0))
        {out, 0} = run(site, "release", [{"RELEASE_TAR", t}, {"SUDO_USER", "alice"}], ["--stage"])

        [_, staged] =
          Regex.run(~r/==> Staged (\S+) \(version 0\.2\.0\); current is unchanged/, out)

        assert current(site) == first

        # While a deploy holds the lock, it waits (here: gives up at once) and runs nothing.
        with_lock_held(site.dir, Path.join(site.deploy, ".deploy.lock"), fn ->
          {out, 1} = run(site, "migrate", [{"LOCK_TIMEOUT", "0"}], [staged])
          assert out =~ "still holds #{site.deploy}/.deploy.lock"
        end)

        assert migrations(site) == []

        {out, 0} = run(site, "migrate", [], [staged])
        assert out =~ "migrating 0.2.0: status 0"
        assert [line] = migrations(site)
        # The lock stays with the script: the app is given no descriptor of it.
        assert line =~
                 "version=0.2.0 user=root node=foo_bar probe=unit current=#{first} lock_fds=0"

        # A name that is not a release's is refused before anything runs.
        {out, 1} = run(site, "migrate", [], ["../#{staged}"])
        assert out =~ "is not a release name"
        {out, 1} = run(site, "release", [], ["--switch", "20990101000000"])
        assert out =~ "no release 20990101000000"

        {out, 0} = run(site, "release", [{"SUDO_USER", "bob"}], ["--switch", staged])
        assert out =~ "Switched to #{staged} (version 0.2.0)"
        assert current(site) == staged
        rec = record(site, staged)
        assert {rec["previous"], rec["deployed_by"]} == {first, "bob"}
        {out, 0} = run(site, "release", [], ["--switch", staged])
        assert out =~ "is already current"

        assert [_, stage, migrate, deploy] =
                 Enum.map(history(site), &(&1 |> String.split(" ", parts: 2) |> List.last()))

        assert stage =~ "stage release=#{staged} version=0.2.0 by=alice"

        assert migrate == "migrate release=#{staged} version=0.2.0 result=ok"
        assert deploy =~ "deploy release=#{staged} version=0.2.0 from=#{first} by=bob"

        # Back past the release whose migrations ran: a warning, and no migration runs.
        {out, 0} = run(site, "rollback")

        assert out =~
                 "warning: #{first} (version 0.1.0) is older than release #{staged} (version 0.2.0), whose migrations ran at"

        assert current(site) == first
        assert length(migrations(site)) == 1

        {out, 2} = run(site, "release", [], ["--bogus"])
        assert out =~ "usage:"
      end)
    end

    test "by hand: a failed deploy-migrate NAME marks the staged release failed, as in a deploy",
         %{tmp_dir: dir} do
      site(dir, [templates: ~w(migrate set-env), env_vars: ["PROBE=unit"]], fn site ->
        first = deploy!(site, "0.1.0")
        t = tar(site, "0.2.0", eval: migration(site, "0.2.0", 3))
        {out, 0} = run(site, "release", [{"RELEASE_TAR", t}], ["--stage"])
        [_, staged] = Regex.run(~r/==> Staged (\S+) /, out)

        {out, 1} = run(site, "migrate", [], [staged])
        assert out =~ "migrating 0.2.0: status 3"

        assert out =~
                 "the migrations of #{staged} (version 0.2.0) failed (exit 3; their output is above): current is unchanged (#{first}), release #{staged} is marked failed"

        assert [_] = migrations(site)
        assert_migration_failed(site, staged, "0.2.0", first)
      end)
    end
  end

  describe "bridge_assets" do
    # A release's priv/static: two digested files (one with a .gz twin), a file
    # without a digest, and a digest-named link; each holds its version.
    defp assets(vsn, digests) do
      static = "lib/foo_bar-#{vsn}/priv/static"

      Enum.flat_map(digests, fn d ->
        [
          {"#{static}/assets/app-#{d}.js", "js #{vsn}"},
          {"#{static}/assets/app-#{d}.js.gz", "gz #{vsn}"},
          {"#{static}/images/logo-#{d}.svg", "svg #{vsn}"}
        ]
      end) ++
        [
          {"#{static}/assets/app.js", "plain #{vsn}"},
          {"#{static}/cache_manifest.json", "{}"},
          {"#{static}/assets/link-#{String.duplicate("e", 32)}.js", {:symlink, "app.js"}}
        ]
    end

    defp static_files(site, name) do
      [static] = Path.wildcard(Path.join([site.releases, name, "lib/foo_bar-*/priv/static"]))

      Path.wildcard(Path.join(static, "**"), match_dot: true)
      |> Enum.filter(&(File.lstat!(&1).type == :regular))
      |> Map.new(&{Path.relative_to(&1, static), File.read!(&1)})
    end

    test "old digested files are copied where the new release lacks them, only the previous N releases' own",
         %{tmp_dir: dir} do
      [d1, d2, d3] = for c <- ~w(1 2 3), do: String.duplicate(c, 32)

      site(dir, [bridge_assets: 1], fn site ->
        r1 = deploy!(site, "0.1.0", extra: assets("0.1.0", [d1]))
        t2 = tar(site, "0.2.0", extra: assets("0.2.0", [d2]))
        {out, 0} = run(site, "release", [{"RELEASE_TAR", t2}])
        assert out =~ "==> Bridged 3 digested static files from #{r1}"
        [_, r2] = Regex.run(~r/==> Deployed (\S+);/, out)

        files = static_files(site, r2)
        # 0.1.0's digested files and the .gz twin, as they were; the new release's own kept.
        assert files["assets/app-#{d1}.js"] == "js 0.1.0"
        assert files["assets/app-#{d1}.js.gz"] == "gz 0.1.0"
        assert files["images/logo-#{d1}.svg"] == "svg 0.1.0"
        assert files["assets/app-#{d2}.js"] == "js 0.2.0"
        assert files["assets/app.js"] == "plain 0.2.0"
        # No link is followed or copied: 0.2.0's own link stays a link.
        link = "lib/foo_bar-0.2.0/priv/static/assets/link-#{String.duplicate("e", 32)}.js"
        assert File.lstat!(Path.join([site.releases, r2, link])).type == :symlink
        assert map_size(files) == 3 + 3 + 2

        # bridge_assets: 1 takes 0.2.0's own files, not what 0.2.0 got from 0.1.0.
        r3 = deploy!(site, "0.3.0", extra: assets("0.3.0", [d3]))
        files = static_files(site, r3)
        assert files["assets/app-#{d2}.js"] == "js 0.2.0"
        refute Map.has_key?(files, "assets/app-#{d1}.js")

        # Two releases back (BRIDGE_ASSETS overrides the config), a file the new
        # release has itself is never replaced.
        t4 = tar(site, "0.4.0", extra: assets("0.4.0", [d3]))
        {out, 0} = run(site, "release", [{"RELEASE_TAR", t4}, {"BRIDGE_ASSETS", "2"}])
        [_, r4] = Regex.run(~r/==> Deployed (\S+);/, out)
        files = static_files(site, r4)
        assert files["assets/app-#{d3}.js"] == "js 0.4.0"
        assert files["assets/app-#{d2}.js"] == "js 0.2.0"
        refute Map.has_key?(files, "assets/app-#{d1}.js")
        assert out =~ "==> Bridged 3 digested static files from #{r2} #{r3}"
      end)
    end
  end

  describe "deploy-status" do
    # deploy-status as JSON, through jq: FILTER's compact output lines.
    defp status_jq(site, filter) do
      {json, 0} = run(site, "status", [{"STATUS_FORMAT", "json"}, {"SYSTEMCTL", site.systemctl}])
      file = Path.join(site.dir, "status.json")
      File.write!(file, json)
      assert length(String.split(json, "\n", trim: true)) == 1, "one line: #{json}"
      {out, 0} = System.cmd("jq", ["-c", filter, file], stderr_to_stdout: true)
      String.split(out, "\n", trim: true)
    end

    defp status_text(site) do
      {text, 0} = run(site, "status", [{"SYSTEMCTL", site.systemctl}])
      text
    end

    test "text and JSON after a good deploy, a failed deploy and a rollback", %{tmp_dir: dir} do
      site(dir, [templates: ~w(status)], fn site ->
        good = deploy!(site, "0.1.0")
        {_, 0} = restart(site)
        text = status_text(site)
        assert text =~ ~r/^foo-bar: foo-bar.service active \(running\)/
        assert text =~ "main PID 101"
        assert text =~ ~r/current: #{good}, version 0\.1\.0, deployed \S+Z by root, health ok/
        assert text =~ ~r/\n  #{good} +0\.1\.0 +\S+Z +root +ok +current,last good\n/
        assert text =~ "rollback would go to: nothing"

        assert status_jq(site, "[.service, .active, .main_pid, .current, .last_good, .rollback]") ==
                 [~s(["foo-bar","active",101,"#{good}","#{good}",null])]

        # A failed deploy: deploy-restart rolls back to 0.1.0 and marks 0.2.0 failed.
        bad = deploy!(site, "0.2.0", crash: true)
        {_, 1} = restart(site)
        text = status_text(site)
        assert text =~ ~r/current: #{good}, version 0\.1\.0/
        assert text =~ ~r/\n  #{bad} +0\.2\.0 +\S+Z +root +failed +failed\n  #{good} /

        assert status_jq(site, ".releases[] | [.release, .version, .health, .marks]") == [
                 ~s(["#{bad}","0.2.0","failed",["failed"]]),
                 ~s(["#{good}","0.1.0","ok",["current","last good"]])
               ]

        # The history: the deploy, the failed check, the rollback, the check after it.
        assert status_jq(site, "[.events[] | .event] | .[-4:]") ==
                 [~s(["deploy","health","rollback","health"])]

        assert status_jq(site, ".events[-3] | [.event, .release, .result]") ==
                 [~s(["health","#{bad}","failed"])]

        # A good deploy (it prunes the failed 0.2.0), then a rollback by hand: back on
        # 0.1.0; 0.3.0 is the last good release and what a rollback would pick.
        third = deploy!(site, "0.3.0")
        {_, 0} = restart(site)
        {_, 0} = run(site, "rollback")
        text = status_text(site)
        assert text =~ ~r/current: #{good}, version 0\.1\.0/
        assert text =~ ~r/\n  #{third} +0\.3\.0 +\S+Z +root +ok +last good,rollback\n/

        assert status_jq(site, "[.current, .last_good, (.releases | length), .events[-1].event]") ==
                 [~s(["#{good}","#{third}",2,"rollback"])]

        # A control character the deploy user wrote into its history stays out of
        # the text, and JSON escapes it.
        File.write!(
          Path.join(site.deploy, ".deploy-history"),
          "2026-01-01T00:00:00Z deploy release=x\e[2J\n",
          [:append]
        )

        text = status_text(site)
        assert text =~ "  2026-01-01T00:00:00Z deploy release=x?[2J\n"
        refute text =~ "\e"
        assert status_jq(site, ".events[-1].release") == [~s("x\\u001b[2J")]

        {out, 1} = run(site, "status", [{"STATUS_FORMAT", "yaml"}])
        assert out =~ "STATUS_FORMAT must be text or json, got 'yaml'"
      end)
    end
  end

  describe "pruning" do
    test "repeated failed deploys with keep_releases: 2 never remove the last good release",
         %{tmp_dir: dir} do
      site(dir, [keep_releases: 2], fn site ->
        good = deploy!(site, "0.1.0")
        {_, 0} = restart(site)

        for i <- 2..6 do
          bad = deploy!(site, "0.#{i}.0", crash: true)
          {_, 1} = restart(site)
          assert current(site) == good
          assert good in releases(site)
          # The failed one stays until the next deploy; the ones before it are gone.
          assert releases(site) == [good, bad]
        end

        assert Enum.count(history(site), &(&1 =~ " prune " and &1 =~ "why=failed")) == 4
      end)
    end

    test "failed releases go first; keep_releases counts the rest; current, last ok and target stay",
         %{tmp_dir: dir} do
      site(dir, [keep_releases: 3], fn site ->
        r1 = deploy!(site, "0.1.0")
        {_, 0} = restart(site)
        r2 = deploy!(site, "0.2.0")
        r3 = deploy!(site, "0.3.0")
        r4 = deploy!(site, "0.4.0")
        # r1 ran ok, r3 is the rollback target, r4 current: r2 goes, four are kept.
        assert releases(site) == [r1, r3, r4]
        {_, 0} = restart(site)
        r5 = deploy!(site, "0.5.0", crash: true)
        assert releases(site) == [r3, r4, r5]
        {_, 1} = restart(site)
        assert current(site) == r4

        # The failed r5 goes first; then three are left, so r3 stays (oldest
        # first, with failed releases counted, it would have gone).
        r6 = deploy!(site, "0.6.0")
        assert releases(site) == [r3, r4, r6]
        refute r2 in releases(site)
      end)
    end
  end

  @no_strace MixDeploy.Requires.missing(
               __MODULE__,
               if(System.find_executable("strace"), do: nil, else: "strace is not installed"),
               "the test of the flush order (script/bootstrap installs strace)"
             )

  describe "a power cut right after a deploy" do
    @describetag skip: @unless_root || @no_strace

    test "the release is on disk before current points to it, and current's dir after",
         %{tmp_dir: dir} do
      site(dir, fn site ->
        deploy!(site, "0.1.0")
        log = Path.join(dir, "strace")
        calls = "trace=syncfs,fsync,fdatasync,sync,rename,renameat,renameat2"

        {out, 0} =
          System.cmd(
            "strace",
            ["-f", "-y", "-qq", "-o", log, "-e", calls, Path.join(site.bin, "deploy-release")],
            env: [{"RELEASE_TAR", tar(site, "0.2.0")}],
            stderr_to_stdout: true,
            cd: site.dir
          )

        [_, name] = Regex.run(~r/==> Deployed (\S+);/, out)
        lines = log |> File.read!() |> String.split("\n") |> Enum.reject(&(&1 =~ ~r/= -1 /))

        at = fn pattern ->
          Enum.find_index(lines, &(&1 =~ pattern)) ||
            flunk("no #{inspect(pattern)} in:\n#{Enum.join(lines, "\n")}")
        end

        rel = Regex.escape(site.releases)

        # One syncfs of the whole release, under its temp name ...
        synced = at.(~r/syncfs\(\d+<#{rel}\/\.tmp-\w+>\) = 0/)
        # ... before it takes its name, and that name is flushed ...
        named = at.(~r/rename\w*\(.*"#{rel}\/\.tmp-\w+", .*"#{rel}\/#{name}"/)
        dir_synced = at.(~r/fsync\(\d+<#{rel}>\) = 0/)
        # ... before current is switched to it, and the dir holding current last.
        switched =
          at.(
            ~r/rename\w*\(.*"#{Regex.escape(site.deploy)}\/\.current\.tmp-\d+", .*"#{Regex.escape(site.current)}"/
          )

        current_dir_synced = at.(~r/fsync\(\d+<#{Regex.escape(site.deploy)}>\) = 0/)

        assert synced < named and named < dir_synced and dir_synced < switched and
                 switched < current_dir_synced,
               Enum.join(lines, "\n")
      end)
    end
  end

  describe "what killed runs leave" do
    test "the next deploy and the next rollback clear it", %{tmp_dir: dir} do
      site(dir, fn site ->
        r1 = deploy!(site, "0.1.0")
        r2 = deploy!(site, "0.2.0")

        plant = fn ->
          File.mkdir_p!(Path.join(site.releases, ".tmp-AbCdEf12/bin"))
          File.write!(Path.join(site.releases, ".tmp-record-XyZ"), "half")
          File.mkdir_p!(Path.join(site.releases, ".tmp-removed-#{r1}x"))
          File.ln_s!("releases/#{r1}", Path.join(site.deploy, ".current.tmp-99999"))
        end

        debris = fn ->
          Path.wildcard(Path.join(site.releases, ".tmp-*"), match_dot: true) ++
            Path.wildcard(Path.join(site.deploy, ".current.tmp-*"), match_dot: true)
        end

        plant.()
        assert length(debris.()) == 4
        {out, 0} = run(site, "rollback")
        assert out =~ "==> Removing what an interrupted run left in #{site.releases}"
        assert debris.() == []
        assert current(site) == r1

        plant.()
        deploy!(site, "0.3.0")
        assert debris.() == []
        assert r2 in releases(site)
      end)
    end

    test "mix deploy.local clears the private dir a killed run of it left", %{tmp_dir: dir} do
      site(dir, fn site ->
        tmp = System.tmp_dir!()
        # No process has a pid above pid_max; this VM's own is alive.
        pid_max = "/proc/sys/kernel/pid_max" |> File.read!() |> String.trim()
        stale = Path.join(tmp, "mix_deploy-#{pid_max}0-1")
        live = Path.join(tmp, "mix_deploy-#{System.pid()}-999999999")
        for d <- [stale, live], do: File.mkdir_p!(Path.join(d, "x"))

        try do
          System.put_env("RELEASE_TAR", tar(site, "0.1.0"))
          mix("deploy.local")
          refute File.exists?(stale)
          assert File.exists?(live)
        after
          System.delete_env("RELEASE_TAR")
          File.rm_rf!(stale)
          File.rm_rf!(live)
        end
      end)
    end
  end
end
