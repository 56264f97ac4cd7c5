defmodule MixDeploy.DeployRuntimeScriptsTest do
  @moduledoc """
  The runtime scripts (set-env and the release commands that use it, the S3,
  SSM and cloud-init helpers): generated for several configs, linted, and run
  against a fake release and a fake `aws` (with the real jq) to prove what they
  do, and that config values stay literal.
  """
  use ExUnit.Case, async: false
  import MixDeploy.Scratch

  @templates ~w(set-env migrate seed custom-function remote-console sync-config-s3
                runtime-environment-file runtime-environment-wrap set-cookie-ssm)

  @hostile ~S|a'b"c $(touch SOMEFILE) `touch SOMEFILE` $HOME & ; * \ $'x' ${Y:-z}|
  @non_ascii "héllo wörld ☃ 日本語"

  setup do
    Mix.shell(Mix.Shell.Process)
    on_exit(fn -> Mix.shell(Mix.Shell.IO) end)
    # Scripts run as root switch to the app user, who must reach the fake
    # release and its record: a world-traversable dir outside the project.
    root = Path.join(System.tmp_dir!(), "mix_deploy_rt_#{System.unique_integer([:positive])}")
    File.mkdir_p!(root)
    File.chmod!(root, 0o755)
    on_exit(fn -> File.rm_rf!(root) end)
    # The generated scripts too: the checkout may sit under a directory other
    # users cannot enter (a CI clone in a mode-700 temp dir), so the projects are
    # generated in a traversable place rather than in ExUnit's tmp_dir.
    dir = Path.join(root, "project")
    File.mkdir_p!(dir)
    {:ok, root: root, tmp_dir: dir}
  end

  describe "lint" do
    test "every script of every fixture: 0 shellcheck findings, bash -n clean", %{
      tmp_dir: dir,
      root: root
    } do
      for {name, config} <- fixtures(root),
          {template, path} <- generate(Path.join(dir, "#{name}"), config) do
        assert shellcheck(path) == "", "#{name}/#{template}:\n#{shellcheck(path)}"
        assert bash_n(path) == "", "#{name}/#{template}: #{bash_n(path)}"
      end
    end

    test "set-env is POSIX sh: shellcheck in its own dialect, dash -n", %{
      tmp_dir: dir,
      root: root
    } do
      for {name, config} <- fixtures(root) do
        path = generate(Path.join(dir, "#{name}"), config)["set-env"]
        assert File.read!(path) =~ ~r/\A#!\/bin\/sh\n/
        assert {"", 0} == System.cmd("shellcheck", [path], stderr_to_stdout: true), "#{name}"
        assert {"", 0} == System.cmd("dash", ["-n", path], stderr_to_stdout: true), "#{name}"
      end
    end

    test "hostile values appear only as single-quoted literals", %{tmp_dir: dir, root: root} do
      scripts = generate(dir, fixtures(root)[:hostile])
      set_env = File.read!(scripts["set-env"])
      assert set_env =~ "export X=" <> shell_quote(@hostile) <> "\n"
      assert set_env =~ "export MULTI='line 1\nline '\\''2'\\'''\n"
      assert set_env =~ "LANG=${ENV_LANG:-" <> shell_quote(@hostile) <> "}\n"
    end
  end

  describe "set-env sourced" do
    setup %{tmp_dir: dir, root: root} do
      etc = Path.join([root, "srv", "etc"])
      File.mkdir_p!(etc)

      config = [
        deploy_dir: Path.join(root, "srv"),
        dirs: [:runtime, :configuration, :logs, :tmp, :state, :cache],
        env_files: [
          ["-", :deploy_dir, "/etc/environment"],
          [:deploy_dir, "/etc/required"],
          ["-", :deploy_dir, "/etc/override"]
        ],
        env_vars: [
          "X=" <> @hostile,
          "NONASCII=" <> @non_ascii,
          "MULTI=line 1\nline '2'",
          "PORT=8080",
          "FROM=env_vars",
          ["RELEASE_TMP=", :runtime_dir]
        ]
      ]

      set_env = generate(dir, config)["set-env"]
      cwd = Path.join(root, "cwd")
      home = Path.join(root, "home")
      File.mkdir_p!(cwd)
      File.mkdir_p!(home)

      on_exit(fn ->
        # Nothing in a value may have run: no file from `touch SOMEFILE` anywhere.
        for d <- [cwd, home, dir] do
          refute File.exists?(Path.join(d, "SOMEFILE")), "a value was executed in #{d}"
        end
      end)

      {:ok, set_env: set_env, etc: etc, cwd: cwd, home: home}
    end

    test "exports exactly the configured values, whatever they contain", ctx do
      File.write!(Path.join(ctx.etc, "required"), "REQUIRED=yes\n")

      for shell <- [["bash"], ["bash", "--posix"], ["dash"]] do
        {env, rc, err} = source(ctx, shell)
        assert {rc, err} == {"0", ""}, "#{inspect(shell)}: #{err}"
        assert env["X"] == @hostile
        assert env["NONASCII"] == @non_ascii
        assert env["MULTI"] == "line 1\nline '2'"
        assert env["PORT"] == "8080"
        assert env["FROM"] == "env_vars"
        assert env["REQUIRED"] == "yes"
        assert env["RELEASE_TMP"] == "/run/foo-bar"
        assert env["MIX_ENV"] == "prod"
        assert env["LANG"] == "en_US.utf8"
        assert env["RELEASE_NAME"] == "foo_bar"

        assert Map.take(
                 env,
                 ~w(RUNTIME_DIR CONFIGURATION_DIR LOGS_DIR TMP_DIR STATE_DIR CACHE_DIR)
               ) ==
                 %{
                   "RUNTIME_DIR" => "/run/foo-bar",
                   "CONFIGURATION_DIR" => "/etc/foo-bar",
                   "LOGS_DIR" => "/var/log/foo-bar",
                   "TMP_DIR" => "/var/tmp/foo-bar",
                   "STATE_DIR" => "/var/lib/foo-bar",
                   "CACHE_DIR" => "/var/cache/foo-bar"
                 }

        refute Map.has_key?(env, "OPTIONAL")
      end
    end

    test "reads env files in order: a later file overrides earlier ones and env_vars", ctx do
      File.write!(
        Path.join(ctx.etc, "environment"),
        "PORT=9000\nFROM=environment\nOPTIONAL='$HOME'\n"
      )

      File.write!(Path.join(ctx.etc, "required"), "FROM=required\nREQUIRED=yes\n")
      File.write!(Path.join(ctx.etc, "override"), "PORT=9100\n")

      for shell <- [["bash"], ["dash"]] do
        assert {env, "0", ""} = source(ctx, shell)
        assert env["PORT"] == "9100"
        assert env["FROM"] == "required"
        assert env["OPTIONAL"] == "$HOME"
        assert env["REQUIRED"] == "yes"
      end
    end

    test "leaves the caller's shell options and namespace as they were", ctx do
      File.write!(Path.join(ctx.etc, "required"), "REQUIRED=yes\n")

      script = ~S"""
      set -eu
      before=$-
      . "$1"
      [ "$before" = "$-" ] || echo "options changed: $before -> $-"
      LATER=1
      if env | grep -q '^LATER='; then echo "set -a leaked"; fi
      if set | grep -q '^_mix_deploy_'; then echo "internal names leaked"; fi
      echo done
      """

      for shell <- ["bash", "dash"] do
        assert {"done\n", 0} == run_in(ctx, [shell, "-c", script, "sh", ctx.set_env]), shell
      end

      # A caller already using set -a keeps it.
      keeps_a = ~S|set -a; . "$1"; case $- in *a*) echo a ;; esac|
      assert {"a\n", 0} == run_in(ctx, ["dash", "-c", keeps_a, "sh", ctx.set_env])
    end

    test "the environment wins for config values; LANG is overridden by ENV_LANG", ctx do
      File.write!(Path.join(ctx.etc, "required"), "")

      extra = ["MIX_ENV=staging", "RUNTIME_DIR=/run/other", "LANG=C", "PORT=1"]
      assert {env, "0", ""} = source(ctx, ["bash"], extra)
      assert env["MIX_ENV"] == "staging"
      assert env["RUNTIME_DIR"] == "/run/other"
      assert env["LANG"] == "en_US.utf8"
      assert env["PORT"] == "8080"

      assert {env, "0", ""} = source(ctx, ["bash"], ["LANG=C", "ENV_LANG=C.UTF-8"])
      assert env["LANG"] == "C.UTF-8"
    end

    test "a missing required env file: error on stderr, `.` returns 1, caller not exited", ctx do
      for shell <- ["bash", "dash"] do
        {_env, rc, err} = source(ctx, [shell])
        assert rc == "1"
        assert err =~ "error: env file #{ctx.etc}/required not found"
      end

      # A caller with set -e stops there.
      {out, status} =
        run_in(ctx, ["dash", "-c", ~S(set -e; . "$1"; echo after), "sh", ctx.set_env])

      assert status != 0
      refute out =~ "after"
    end

    test "an env file the user cannot read is an error, not a crash of the caller", ctx do
      required = Path.join(ctx.etc, "required")
      File.write!(required, "REQUIRED=yes\n")
      File.chmod!(required, 0o600)
      traversable(ctx.etc)

      {out, 0} =
        System.cmd(
          "runuser",
          ["-u", "nobody", "--", "dash", "-c", ~S(. "$1"; echo "rc=$?"), "sh", ctx.set_env],
          cd: "/",
          stderr_to_stdout: true
        )

      assert out =~ "error: cannot read env file #{required}"
      assert out =~ "rc=1"
    end
  end

  describe "release commands" do
    test "mix: migrate, seed, custom-function, remote-console run the release as the app user with set-env's environment",
         %{tmp_dir: dir, root: root} do
      {s, record} = release_setup(root, dir, [])
      expected_env = ["X=" <> @hostile, "PORT=8080", "MIX_ENV=prod"]

      for {script, args, env, argv} <- [
            {"migrate", [], [], ["eval", "FooBar.Release.migrate"]},
            {"migrate", [], [{"MIGRATE_FUNCTION", "Foo.up(1)"}], ["eval", "Foo.up(1)"]},
            {"migrate", [], [{"MODULE_NAME", "Other"}], ["eval", "Other.Release.migrate"]},
            {"seed", [], [], ["eval", "FooBar.Release.seed"]},
            {"seed", [], [{"SEED_FUNCTION", "Foo.seed(:demo)"}], ["eval", "Foo.seed(:demo)"]},
            {"custom-function", [~S{Foo.task("a b", 'c')}], [],
             ["eval", ~S{Foo.task("a b", 'c')}]},
            {"custom-function", [], [{"CUSTOM_FUNCTION", "Foo.x()"}], ["eval", "Foo.x()"]},
            {"remote-console", [], [], ["remote"]}
          ] do
        File.write!(record, "")
        {out, status} = run_script(s[script], args, env)
        assert status == 0, "#{script}: #{out}"
        assert out =~ "==> "

        lines = ["user=nobody" | Enum.map(argv, &("arg=" <> &1))] ++ expected_env
        assert File.read!(record) == Enum.join(lines, "\n") <> "\n", "#{script} #{inspect(env)}"
      end
    end

    test "run as root, they become the app before reading an env file: its code runs as the app, a root-only one stops them",
         %{tmp_dir: dir, root: root} do
      env_file = Path.join([root, "srv", "etc", "environment"])

      {s, record} =
        release_setup(root, dir, env_files: [[:deploy_dir, "/etc/environment"]], env_vars: [])

      File.mkdir_p!(Path.dirname(env_file))
      traversable(Path.dirname(env_file))
      # Shell code in an env file (set-env sources them) runs as whoever sources it.
      File.write!(env_file, "X=$(id -un)\nPORT=$(id -u)\n")
      File.chmod!(env_file, 0o644)

      for script <- ["migrate", "seed", "custom-function", "remote-console"] do
        File.write!(record, "")
        args = if script == "custom-function", do: ["Foo.x()"], else: []
        {out, 0} = run_script(s[script], args)
        assert File.read!(record) =~ "user=nobody\n", "#{script}: #{out}"
        assert File.read!(record) =~ "X=nobody\nPORT=65534\n", "#{script}: #{out}"
      end

      # Only root can read it: as the app it cannot, and nothing runs.
      File.chmod!(env_file, 0o600)
      File.write!(record, "")
      {out, status} = run_script(s["migrate"])
      assert status != 0
      assert out =~ "error: cannot read env file #{env_file} as nobody"
      assert File.read!(record) == ""
    end

    test "restart_method :overlap: remote-console reaches the live instance's node, name_<instance>[@host]",
         %{tmp_dir: dir, root: root} do
      overlap = [
        listen_stream: "127.0.0.1:4000",
        restart_method: :overlap,
        health_check_url: "http://127.0.0.1:4000/"
      ]

      # No socket drop-in on this machine names another instance: the live one is a.
      refute File.exists?("/etc/systemd/system/foo-bar.socket.d")

      for {vars, node} <- [
            {[], "foo_bar_a"},
            {["RELEASE_NODE=api@127.0.0.1"], "api_a@127.0.0.1"}
          ] do
        {s, record} = release_setup(root, Path.join(dir, node), overlap ++ [env_vars: vars])

        release = Path.join([root, "srv", "current", "bin", "foo_bar"])

        File.write!(
          release,
          "#!/bin/sh\necho \"node=$RELEASE_NODE $*\" >#{shell_quote(record)}\n"
        )

        {out, 0} = run_script(s["remote-console"])
        assert out =~ "==> Connecting to the node #{node} (instance a)"
        assert File.read!(record) == "node=#{node} remote\n"

        # A release command that starts its own node keeps the service's name.
        {out, 0} = run_script(s["migrate"])
        refute File.read!(record) =~ "_a", out
      end
    end

    test "distillery: custom commands migrate and seed, eval, remote_console", %{
      tmp_dir: dir,
      root: root
    } do
      {s, record} = release_setup(root, dir, release_system: :distillery)

      for {script, args, argv} <- [
            {"migrate", [], ["migrate"]},
            {"seed", [], ["seed"]},
            {"custom-function", ["Foo.x()"], ["eval", "Foo.x()"]},
            {"remote-console", [], ["remote_console"]}
          ] do
        File.write!(record, "")
        {out, 0} = run_script(s[script], args)
        assert File.read!(record) =~ Enum.map_join(argv, "", &"arg=#{&1}\n"), "#{script}: #{out}"
      end
    end

    test "hostile deploy_dir and module_name stay literal", %{tmp_dir: dir, root: root} do
      deploy_dir = Path.join(root, @hostile)

      {s, record} = release_setup(root, dir, [module_name: "Foo'$(touch SOMEFILE)"], deploy_dir)

      {out, 0} = run_script(s["migrate"], [], [], cd: root)
      assert File.read!(record) =~ "arg=Foo'$(touch SOMEFILE).Release.migrate\n", out
      refute File.exists?(Path.join(root, "SOMEFILE"))
    end

    test "clear errors: no release, missing set-env, custom-function without one expression",
         %{tmp_dir: dir, root: root} do
      {s, record} = release_setup(root, dir, [])

      {out, status} = run_script(s["migrate"], [], [{"CURRENT_DIR", Path.join(root, "none")}])
      assert status != 0
      assert out =~ "error: no release at #{root}/none/bin/foo_bar"

      {out, status} = run_script(s["remote-console"], [], [{"SET_ENV", "/nonexistent/set-env"}])
      assert status != 0
      assert out =~ "error: set-env not found at /nonexistent/set-env"

      assert {out, 2} = run_script(s["custom-function"])
      assert out =~ "usage:"
      assert {out, 2} = run_script(s["custom-function"], ["a", "b"])
      assert out =~ "one argument"

      assert File.read!(record) == "", "the release must not have run"
    end
  end

  describe "sync-config-s3" do
    test "mirrors the bucket under DESTDIR: deletes what the bucket lost, files 640, dirs 750",
         %{tmp_dir: dir, root: root} do
      s = generate(dir, deploy_user: "nobody", app_group: "nogroup")
      {fake, log} = fake_aws(root)
      bucket = Path.join([root, "s3", "bucket", "app"])
      File.mkdir_p!(Path.join(bucket, "sub"))
      File.write!(Path.join(bucket, "environment"), "A=1\n")
      File.write!(Path.join(bucket, "old.conf"), "old\n")
      File.write!(Path.join([bucket, "sub", "db.conf"]), "db\n")
      stage = Path.join(root, "stage")

      env = [
        {"PATH", fake},
        {"FAKE_S3", Path.join(root, "s3")},
        {"CONFIG_S3_BUCKET", "bucket"},
        {"CONFIG_S3_PREFIX", "app"},
        {"DESTDIR", stage}
      ]

      assert {_, 0} = run_script(s["sync-config-s3"], [], env)
      target = Path.join(stage, "etc/foo-bar")

      # aws downloads into a directory of root's, never into the target.
      assert ["s3", "sync", "--no-progress", "s3://bucket/app", download] =
               File.read!(log) |> String.split("\n", trim: true)

      assert String.ends_with?(download, "/tree/")
      refute String.starts_with?(download, stage)
      refute File.exists?(download), "the download is removed"

      assert File.read!(Path.join(target, "old.conf")) == "old\n"

      # A file gone from the bucket, and one put there by hand, are deleted.
      File.rm!(Path.join(bucket, "old.conf"))
      File.write!(Path.join(target, "stray"), "x")
      assert {_, 0} = run_script(s["sync-config-s3"], [], env)

      assert files(target) == ["environment", "sub", "sub/db.conf"]

      for rel <- ["", "sub"] do
        assert %{mode: mode, uid: 65_534, gid: 65_534} = File.stat!(Path.join(target, rel))
        assert Bitwise.band(mode, 0o7777) == 0o750, "dir #{rel}"
      end

      for rel <- ["environment", "sub/db.conf"] do
        assert %{mode: mode, uid: 65_534, gid: 65_534} = File.stat!(Path.join(target, rel))
        assert Bitwise.band(mode, 0o7777) == 0o640, "file #{rel}"
      end
    end

    test "as root, links the deploy user put in the config dir are replaced, never followed",
         %{tmp_dir: dir, root: root} do
      s = generate(dir, deploy_user: "nobody", app_group: "nogroup")
      {fake, _log} = fake_aws(root)
      bucket = Path.join([root, "s3", "bucket"])
      File.mkdir_p!(Path.join(bucket, "sub"))
      File.write!(Path.join(bucket, "environment"), "A=1\n")
      File.write!(Path.join([bucket, "sub", "db.conf"]), "db\n")
      stage = Path.join(root, "stage")
      target = Path.join(stage, "etc/foo-bar")
      # Links to root-only places where the config goes.
      {outside, root_file} = root_only_places(root, target)
      File.ln_s!(outside, Path.join(target, "sub"))
      File.ln_s!(root_file, Path.join(target, "environment"))
      File.ln_s!(outside, Path.join(target, "stray"))

      env = [
        {"PATH", fake},
        {"FAKE_S3", Path.join(root, "s3")},
        {"CONFIG_S3_BUCKET", "bucket"},
        {"DESTDIR", stage}
      ]

      assert {_, 0} = run_script(s["sync-config-s3"], [], env)
      assert_untouched(outside, root_file)
      assert files(target) == ["environment", "sub", "sub/db.conf"]
      assert %{type: :regular} = File.lstat!(Path.join(target, "environment"))
      assert %{type: :directory} = File.lstat!(Path.join(target, "sub"))
    end

    test "without CONFIG_S3_BUCKET: a clear error and aws is not called", %{
      tmp_dir: dir,
      root: root
    } do
      s = generate(dir, [])
      {fake, log} = fake_aws(root)
      env = [{"PATH", fake}, {"CONFIG_S3_BUCKET", nil}, {"DESTDIR", Path.join(root, "stage")}]
      {out, status} = run_script(s["sync-config-s3"], [], env)
      assert status != 0
      assert out =~ "error: CONFIG_S3_BUCKET is not set"
      refute File.exists?(log)
    end
  end

  describe "set-cookie-ssm" do
    setup %{tmp_dir: dir, root: root} do
      home = Path.join(root, "home")
      File.mkdir_p!(home)
      cookie = Path.join(home, ".erlang.cookie")

      scripts =
        generate(dir,
          app_user: "nobody",
          app_group: "nogroup",
          cookie_ssm_parameter: "/foo/prod/erlang_cookie",
          cookie_file: cookie
        )

      {fake, log} = fake_aws(root)
      instance = Path.join(root, "instance-data.json")
      File.write!(instance, ~s({"v1": {"cloud_name": "aws", "region": "eu-west-1"}}))

      env = [
        {"PATH", fake},
        {"CLOUD_INIT_INSTANCE_DATA", instance},
        {"FAKE_COOKIE", "S3CRET_c00kie"}
      ]

      {:ok, script: scripts["set-cookie-ssm"], cookie: cookie, home: home, env: env, log: log}
    end

    test "writes the cookie owner-only (0400, the app user) and never prints it", ctx do
      {out, 0} = run_script(ctx.script, [], [{"FAKE_SSM", "ok"} | ctx.env])
      refute out =~ "S3CRET"
      assert File.read!(ctx.cookie) == "S3CRET_c00kie"
      assert %{mode: mode, uid: 65_534, gid: 65_534} = File.stat!(ctx.cookie)
      assert Bitwise.band(mode, 0o7777) == 0o400
      assert files(ctx.home) == [".erlang.cookie"]

      assert File.read!(ctx.log) |> String.split("\n", trim: true) ==
               ~w(ssm get-parameter --region eu-west-1 --with-decryption --output json) ++
                 ["--name", "/foo/prod/erlang_cookie"]
    end

    test "writes nothing and fails when the lookup fails or has no value", ctx do
      for mode <- ~w(fail null empty missing garbage) do
        File.rm_rf!(ctx.cookie)
        {out, status} = run_script(ctx.script, [], [{"FAKE_SSM", mode} | ctx.env])
        assert status != 0, mode
        assert out =~ "nothing written", "#{mode}: #{out}"
        assert files(ctx.home) == [], mode

        # An existing cookie stays as it was.
        File.write!(ctx.cookie, "OLD")
        File.chmod!(ctx.cookie, 0o400)
        {_, status} = run_script(ctx.script, [], [{"FAKE_SSM", mode} | ctx.env])
        assert status != 0
        assert File.read!(ctx.cookie) == "OLD", mode
        assert files(ctx.home) == [".erlang.cookie"], mode
      end
    end

    test "as root, a link the owner of the cookie's directory planted is refused, never followed",
         %{tmp_dir: dir, root: root} = ctx do
      # The cookie goes below a directory nobody (standing in for the deploy
      # user, who owns the app's home deploy_dir) owns, where it put links.
      home = Path.join(root, "deployhome")
      {outside, root_file} = root_only_places(root, home)
      File.ln_s!(outside, Path.join(home, "sub"))
      File.ln_s!(root_file, Path.join(home, ".erlang.cookie"))

      # A link where its directory belongs, and one where the file belongs.
      for {cookie, refused} <- [
            {Path.join([home, "sub", ".erlang.cookie"]), Path.join(home, "sub")},
            {Path.join(home, ".erlang.cookie"), Path.join(home, ".erlang.cookie")}
          ] do
        s =
          generate(Path.join(dir, Path.basename(Path.dirname(cookie))),
            app_user: "nobody",
            app_group: "nogroup",
            cookie_ssm_parameter: "/foo/prod/erlang_cookie",
            cookie_file: cookie
          )

        {out, status} = run_script(s["set-cookie-ssm"], [], [{"FAKE_SSM", "ok"} | ctx.env])
        assert status != 0, out

        assert out =~ "error: refusing #{refused}: found a symbolic link"

        refute out =~ "S3CRET"
      end

      assert_untouched(outside, root_file)
    end

    test "rejects a value with a newline; names the parameter from APPLICATION_NAME & co",
         %{tmp_dir: dir, root: root} = ctx do
      {_, status} =
        run_script(ctx.script, [], ctx.env ++ [{"FAKE_SSM", "ok"}, {"FAKE_COOKIE", ~S(a\nb)}])

      assert status != 0
      refute File.exists?(ctx.cookie)

      s = generate(Path.join(dir, "fallback"), cookie_file: ctx.cookie)

      env = [
        {"FAKE_SSM", "ok"},
        {"APPLICATION_NAME", "foo"},
        {"ENVIRONMENT_NAME", "prod"},
        {"COMPONENT_NAME", "app"},
        {"DESTDIR", Path.join(root, "stage")}
        | ctx.env
      ]

      File.mkdir_p!(Path.join(root, "stage") <> ctx.home)
      {out, 0} = run_script(s["set-cookie-ssm"], [], env)
      assert File.read!(ctx.log) =~ "--name\n/foo/prod/app/erlang_cookie\n", out
      assert File.read!(Path.join(root, "stage") <> ctx.cookie) == "S3CRET_c00kie"

      {out, status} = run_script(s["set-cookie-ssm"], [], [{"FAKE_SSM", "ok"} | ctx.env])
      assert status != 0
      assert out =~ "error: no SSM parameter name"
    end
  end

  # cloud-init instance data as current cloud-init writes it for EC2, and in the
  # older dashed spelling for DigitalOcean.
  @aws ~s({"v1": {"cloud_name": "aws", "region": "eu-west-1"},
           "ds": {"meta_data": {"local-ipv4": "10.0.1.5"}}})
  @digitalocean ~s({"v1": {"cloud-name": "digitalocean", "region": "ams3"},
                    "ds": {"meta-data": {"interfaces": {"public": [{"anchor_ipv4": {"ip_address": "10.18.0.5"}}]}}}})

  describe "runtime environment from cloud-init" do
    test "runtime-environment-file writes validated values atomically, mode 0640", %{
      tmp_dir: dir,
      root: root
    } do
      s = generate(dir, dirs: [:runtime])
      stage = Path.join(root, "stage")
      file = Path.join(stage, "run/foo-bar/environment")

      for {data, expected} <- [
            {@aws, "CLOUD_NAME=aws\nDEFAULT_IPV4=10.0.1.5\nAWS_REGION=eu-west-1\n"},
            {@digitalocean, "CLOUD_NAME=digitalocean\nDEFAULT_IPV4=10.18.0.5\n"}
          ] do
        {out, 0} = run_script(s["runtime-environment-file"], [], instance_env(root, data, stage))
        assert File.read!(file) == expected, out
        assert Bitwise.band(File.stat!(file).mode, 0o7777) == 0o640
        assert files(Path.dirname(file)) == ["environment"]
      end

      for {data, message} <- [
            {~s({"v1": {"cloud_name": "gce"}}), "unsupported cloud 'gce'"},
            {String.replace(@aws, "10.0.1.5", ~S(10.0.1.5\nrm -rf /)), "unexpected IPv4 address"},
            {String.replace(@aws, "eu-west-1", "x;y"), "unexpected region"}
          ] do
        {out, status} =
          run_script(s["runtime-environment-file"], [], instance_env(root, data, stage))

        assert status != 0
        assert out =~ message
        assert File.read!(file) =~ "digitalocean", "the previous file stays"
      end
    end

    test "runtime-environment-wrap exports the values and execs its arguments", %{
      tmp_dir: dir,
      root: root
    } do
      s = generate(dir, [])
      show = ~S(printf '%s|' "$CLOUD_NAME" "$DEFAULT_IPV4" "$AWS_REGION" "$@")
      args = ["sh", "-c", show, "sh", "a b", @hostile]
      env = instance_env(root, @aws, nil)

      assert {"aws|10.0.1.5|eu-west-1|a b|" <> @hostile <> "|", 0} ==
               run_script(s["runtime-environment-wrap"], args, env)

      {out, status} =
        run_script(
          s["runtime-environment-wrap"],
          args,
          instance_env(root, ~s({"v1": {"cloud_name": "x"}}), nil)
        )

      assert status != 0
      assert out =~ "unsupported cloud 'x'"
      assert {_, 2} = run_script(s["runtime-environment-wrap"], [], env)
    end
  end

  # Generates every runtime template in a scratch project; returns name => path.
  defp generate(dir, config) do
    project = Path.join(dir, "project")
    deploy = Keyword.merge([templates: @templates], config)
    in_project(project, :foo_bar, [deploy: deploy], fn -> mix("deploy.generate") end)
    Map.new(@templates, fn t -> {t, Path.join([project, "bin", "deploy-" <> t])} end)
  end

  defp fixtures(root) do
    [
      default: [],
      reference: [
        app_user: "app",
        app_group: "app",
        dirs: [:cache, :configuration, :logs, :runtime, :state, :tmp],
        env_files: [
          ["-", :deploy_dir, "/etc/environment"],
          ["-", :configuration_dir, "/environment"],
          ["-", :runtime_dir, "/environment"]
        ],
        env_vars: ["PHX_SERVER=true", "PORT=8080", ["RELEASE_TMP=", :runtime_dir]],
        cookie_ssm_parameter: "/foo/prod/erlang_cookie"
      ],
      hostile: [
        base_dir: Path.join(root, @hostile),
        module_name: "Foo'$(touch SOMEFILE)",
        env_lang: @hostile,
        dirs: [:runtime, :configuration],
        env_files: [["-", :deploy_dir, "/etc/env $(touch SOMEFILE)"]],
        env_vars: ["X=" <> @hostile, "NONASCII=" <> @non_ascii, "MULTI=line 1\nline '2'"],
        cookie_ssm_parameter: @hostile,
        cookie_file: [:deploy_dir, "/cookie"]
      ],
      distillery: [release_system: :distillery, dirs: [:runtime]]
    ]
  end

  defp shell_quote(s), do: "'" <> String.replace(s, "'", ~S('\'')) <> "'"

  # Sources set-env in `shell` with a clean environment (plus `extra`); returns
  # the exported environment, the status of `.` and its stderr.
  defp source(ctx, shell, extra \\ []) do
    err_file = Path.join(ctx.cwd, "stderr")

    script = ~S"""
    . "$1" 2>"$2"
    rc=$?
    printf 'RC=%s\0' "$rc"
    env -0
    """

    args = ["-i", "PATH=/usr/bin:/bin", "HOME=#{ctx.home}"] ++ extra ++ shell
    {out, 0} = System.cmd("env", args ++ ["-c", script, "sh", ctx.set_env, err_file], cd: ctx.cwd)

    env =
      out
      |> String.split(<<0>>, trim: true)
      |> Map.new(fn kv -> List.to_tuple(String.split(kv, "=", parts: 2)) end)

    {Map.delete(env, "RC"), env["RC"], File.read!(err_file)}
  end

  defp run_in(ctx, args) do
    System.cmd("env", ["-i", "PATH=/usr/bin:/bin", "HOME=#{ctx.home}" | args],
      cd: ctx.cwd,
      stderr_to_stdout: true
    )
  end

  # MIX_ENV is unset first: script/test exports MIX_ENV=test, and set-env keeps
  # a MIX_ENV it finds in the environment.
  defp run_script(path, args \\ [], env \\ [], opts \\ []) do
    env = [{"MIX_ENV", nil} | env]
    System.cmd("bash", [path | args], [env: env, stderr_to_stdout: true] ++ opts)
  end

  # Makes every dir from the test's root down to `path` traversable by others.
  defp traversable(path) do
    root = Path.join(System.tmp_dir!(), "mix_deploy_rt_")

    path
    |> Path.split()
    |> Enum.scan(&Path.join(&2, &1))
    |> Enum.filter(&String.starts_with?(&1, root))
    |> Enum.each(&File.chmod!(&1, 0o755))
  end

  # A fake release under deploy_dir/current that records who ran it, its argv
  # and some of its environment; scripts generated with that deploy_dir.
  defp release_setup(root, dir, config, deploy_dir \\ nil) do
    deploy_dir = deploy_dir || Path.join(root, "srv")
    record = Path.join(root, "record")
    File.write!(record, "")
    File.chmod!(record, 0o666)
    bin = Path.join([deploy_dir, "current", "bin"])
    File.mkdir_p!(bin)
    traversable(bin)
    release = Path.join(bin, "foo_bar")

    File.write!(release, """
    #!/bin/sh
    {
      echo "user=$(id -un)"
      for a in "$@"; do printf 'arg=%s\\n' "$a"; done
      printf 'X=%s\\n' "${X-unset}"
      printf 'PORT=%s\\n' "${PORT-unset}"
      printf 'MIX_ENV=%s\\n' "${MIX_ENV-unset}"
    } >#{shell_quote(record)}
    """)

    File.chmod!(release, 0o755)

    defaults = [
      deploy_dir: deploy_dir,
      app_user: "nobody",
      app_group: "nogroup",
      env_vars: ["X=" <> @hostile, "PORT=8080"]
    ]

    {generate(dir, Keyword.merge(defaults, config)), record}
  end

  # A fake AWS CLI first on PATH: records its argv; `s3 sync` copies from
  # $FAKE_S3/<bucket>/<prefix> (honouring --delete) and leaves modes wide open
  # for the script to fix; `ssm get-parameter` answers as $FAKE_SSM says.
  defp fake_aws(root) do
    bin = Path.join(root, "fakebin")
    log = Path.join(root, "aws.log")
    File.mkdir_p!(bin)

    File.write!(Path.join(bin, "aws"), """
    #!/bin/sh
    printf '%s\\n' "$@" >#{shell_quote(log)}
    case "$1 $2" in
    "s3 sync")
        shift 2
        delete=no src= dst=
        for a in "$@"; do
            case $a in
                --delete) delete=yes ;;
                --*) ;;
                s3://*) src="$FAKE_S3/${a#s3://}" ;;
                *) dst=$a ;;
            esac
        done
        [ -d "$src" ] || { echo "fatal error: NoSuchBucket" >&2; exit 1; }
        mkdir -p "$dst"
        if [ "$delete" = yes ]; then
            (cd "$dst" && find . -type f) | while read -r f; do
                [ -e "$src/$f" ] || rm -f "$dst/$f"
            done
        fi
        cp -R "$src/." "$dst/"
        find "$dst" -type f -exec chmod 0666 {} +
        find "$dst" -type d -exec chmod 0777 {} +
        ;;
    "ssm get-parameter")
        case $FAKE_SSM in
            ok) printf '{"Parameter": {"Name": "x", "Type": "SecureString", "Value": "%s"}}\\n' "$FAKE_COOKIE" ;;
            null) echo '{"Parameter": {"Name": "x", "Type": "SecureString", "Value": null}}' ;;
            empty) echo '{"Parameter": {"Name": "x", "Value": ""}}' ;;
            missing) echo '{}' ;;
            garbage) echo 'not json' ;;
            *) echo "An error occurred (ParameterNotFound) when calling the GetParameter operation" >&2; exit 254 ;;
        esac
        ;;
    *) echo "fake aws: unexpected $*" >&2; exit 2 ;;
    esac
    """)

    File.chmod!(Path.join(bin, "aws"), 0o755)
    {bin <> ":" <> System.get_env("PATH"), log}
  end

  defp instance_env(root, data, destdir) do
    path = Path.join(root, "instance-#{System.unique_integer([:positive])}.json")
    File.write!(path, data)
    [{"CLOUD_INIT_INSTANCE_DATA", path}, {"DESTDIR", destdir}]
  end

  # A directory `owned` by nobody (standing in for the deploy user), and two
  # places only root may touch: a dir with one file, and a file.
  defp root_only_places(root, owned) do
    File.mkdir_p!(owned)
    File.chown!(owned, 65_534)
    outside = Path.join(root, "outside")
    File.mkdir_p!(outside)
    File.chmod!(outside, 0o700)
    File.write!(Path.join(outside, "keep"), "root's\n")
    root_file = Path.join(root, "root-file")
    File.write!(root_file, "root's\n")
    {outside, root_file}
  end

  defp assert_untouched(outside, root_file) do
    assert files(outside) == ["keep"]
    assert File.read!(Path.join(outside, "keep")) == "root's\n"
    assert %{uid: 0, mode: mode} = File.stat!(outside)
    assert Bitwise.band(mode, 0o7777) == 0o700
    assert File.read!(root_file) == "root's\n"
    assert %{uid: 0} = File.stat!(root_file)
  end

  # Everything under dir, relative, sorted.
  defp files(dir) do
    dir
    |> Path.join("**")
    |> Path.wildcard(match_dot: true)
    |> Enum.map(&Path.relative_to(&1, dir))
    |> Enum.sort()
  end
end
