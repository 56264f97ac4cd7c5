defmodule MixDeploy.DeploySetupScriptsTest do
  @moduledoc """
  The setup and service scripts (start, stop, restart, enable, create-users,
  create-dirs, init-local, copy-files, set-perms, clean-target, stage-files,
  sync-assets-s3) and the sudoers file: generated for several configs, checked
  with shellcheck, bash -n and visudo, and run for real under DESTDIR.
  """
  use ExUnit.Case, async: false
  import Bitwise
  import MixDeploy.Scratch

  @moduletag :tmp_dir

  @scripts ~w(start stop restart enable create-users create-dirs init-local copy-files
              set-perms clean-target stage-files sync-assets-s3)

  # false runs the tests; a reason skips them (outside CI only: MixDeploy.Requires).
  @unless_root MixDeploy.Requires.unless_root(
                 __MODULE__,
                 "chown, useradd, running the scripts as they run in production",
                 "the tests that run create-dirs, copy-files, create-users, init-local, set-perms, clean-target and the systemctl wrappers"
               )

  # The reference documentation's complete example, plus the systemd side's dirs
  # and env settings (the deploy side reads them for set-env).
  @complete [
    app_user: "app",
    app_group: "app",
    dirs: [:cache, :configuration, :logs, :runtime, :state, :tmp],
    env_files: [["-", :deploy_dir, "/etc/environment"], ["-", :configuration_dir, "/environment"]],
    env_vars: ["PHX_SERVER=true", "PORT=8080", ["RELEASE_TMP=", :runtime_dir]],
    copy_files: [
      %{
        src: "config/environment",
        dst: [:configuration_dir, "/environment"],
        user: "$DEPLOY_USER",
        group: "$APP_GROUP",
        mode: "640"
      },
      %{
        src: "rel/etc/environment",
        dst: [:deploy_dir, "/etc"],
        user: "$DEPLOY_USER",
        group: "$APP_GROUP",
        mode: "640"
      }
    ],
    sudo_deploy: true,
    templates: @scripts
  ]

  # restart through the path unit, a runtime environment unit, old systemd,
  # scripts generated under _build, both sudo grants for a service name that
  # needs escaping in sudoers.
  @flags [
    deploy_user: "deploy",
    app_user: "app",
    restart_method: :systemd_flag,
    runtime_environment_service_script: [:deploy_dir, "/bin/deploy-runtime-environment-file"],
    systemd_version: 219,
    dirs: [:configuration, :runtime, :state, :cache, :logs, :tmp],
    create_dirs: ["/srv/shared/uploads"],
    bin_dir: [:output_dir, "bin"],
    service_name: "web:app@1",
    sudo_deploy: true,
    sudo_app: true,
    templates: @scripts
  ]

  @evil "it's $(touch PWNED) `touch PWNED2` $HOME \"q\" & ; * é"

  defp hostile(marker) do
    [
      base_dir: "/srv/#{@evil}",
      deploy_user: "deploy.user-1",
      app_user: "app_1",
      app_group: "app-grp",
      dirs: [:configuration, :tmp],
      create_dirs: ["/opt/x y $(touch PWNED3) é"],
      env_vars: ["WEIRD=#{@evil}", "EMPTY="],
      env_files: [["-", :deploy_dir, "/etc/#{@evil}"]],
      copy_files: [
        %{
          src: "config/#{@evil} $(touch #{marker}).env",
          dst: [:configuration_dir, "/a b $(touch PWNED4) é.env"],
          mode: "600"
        }
      ],
      target_prefix: "dé'p $(touch PWNED5)-",
      sudo_deploy: true,
      templates: @scripts
    ]
  end

  setup do
    Mix.shell(Mix.Shell.Process)
    on_exit(fn -> Mix.shell(Mix.Shell.IO) end)
  end

  # Generates the deploy scripts of `config` in a project under `dir`; returns
  # {project dir, bin dir}.
  defp generate(dir, config) do
    project = generate_deploy(dir, config)

    bin =
      if config[:bin_dir],
        do: Path.join(project, "_build/prod/deploy/bin"),
        else: Path.join(project, "bin")

    {project, bin}
  end

  defp script(bin, name, config),
    do: Path.join(bin, Keyword.get(config, :target_prefix, "deploy-") <> name)

  defp run(path, opts) do
    env = Keyword.get(opts, :env, [])
    cd = Keyword.fetch!(opts, :cd)
    args = Keyword.get(opts, :args, [])
    System.cmd(path, args, env: env, cd: cd, stderr_to_stdout: true)
  end

  defp run!(path, opts) do
    {out, status} = run(path, opts)
    assert status == 0, "#{path} exited #{status}:\n#{out}"
    out
  end

  defp mode(path), do: File.stat!(path).mode &&& 0o7777

  defp owner(path) do
    %{uid: uid, gid: gid} = File.stat!(path)
    {name_of("passwd", uid), name_of("group", gid)}
  end

  defp name_of(db, id) do
    {out, 0} = System.cmd("getent", [db, to_string(id)])
    out |> String.split(":") |> hd()
  end

  # Existing accounts to own files in DESTDIR runs (env overrides of the config).
  # The app group is the deploy user's own group, so create-users (run by
  # init-local) finds the deploy user in it and changes no real account.
  defp accounts, do: %{deploy: "daemon", app: "nobody", group: "daemon"}

  defp account_env(destdir) do
    a = accounts()

    [
      {"DESTDIR", destdir},
      {"DEPLOY_USER", a.deploy},
      {"APP_USER", a.app},
      {"APP_GROUP", a.group}
    ]
  end

  # An executable that appends its arguments to `log`, one call per line, and
  # exits with `status`.
  defp shim(path, log, status \\ 0) do
    File.mkdir_p!(Path.dirname(path))

    File.write!(path, """
    #!/bin/sh
    echo "$(basename "$0") $*" >> '#{log}'
    exit #{status}
    """)

    File.chmod!(path, 0o755)
    path
  end

  # As shim/2, and `show` answers as systemd does for a service that runs: what
  # deploy-restart reads to check the service after restarting it.
  defp running_shim(path, log) do
    File.mkdir_p!(Path.dirname(path))

    File.write!(path, """
    #!/bin/sh
    echo "$(basename "$0") $*" >> '#{log}'
    if [ "$1" = show ]; then
        printf 'LoadState=loaded\\nActiveState=active\\nSubState=running\\nMainPID=42\\nNRestarts=0\\n'
    fi
    exit 0
    """)

    File.chmod!(path, 0o755)
    path
  end

  # What deploy-restart's check asks systemd.
  @show "systemctl show -p LoadState -p ActiveState -p SubState -p Result -p MainPID -p NRestarts -p InvocationID --"

  defp calls(log),
    do: if(File.exists?(log), do: File.read!(log) |> String.split("\n", trim: true), else: [])

  describe "static checks" do
    for {name, config} <- [
          default: [templates: @scripts],
          complete: @complete,
          flags: @flags,
          hostile: :hostile
        ] do
      @config config
      test "#{name}: every script is shellcheck and bash -n clean; sudoers passes visudo", %{
        tmp_dir: dir
      } do
        config = if @config == :hostile, do: hostile("/tmp/never"), else: @config
        {project, bin} = generate(dir, config)

        for name <- @scripts do
          path = script(bin, name, config)
          assert File.exists?(path), "#{path} not generated"
          assert shellcheck(path) == "", "shellcheck #{name}:\n#{shellcheck(path)}"
          assert bash_n(path) == "", "bash -n #{name}:\n#{bash_n(path)}"
        end

        sudoers = Path.wildcard(Path.join(project, "_build/prod/deploy/etc/sudoers.d/*"))

        if config[:sudo_deploy] || config[:sudo_app] do
          assert [file] = sudoers
          assert {_, 0} = System.cmd("visudo", ["-cf", file], stderr_to_stdout: true)
          refute File.read!(file) =~ ~r/^\s*root\s/m
        else
          assert sudoers == []
        end
      end
    end
  end

  describe "sudoers" do
    test "grants only what deploy-start and deploy-stop run (no status, no restart), with the full path, to non-root users",
         %{tmp_dir: dir} do
      {project, _} = generate(dir, @flags)
      file = Path.join(project, "_build/prod/deploy/etc/sudoers.d/deploy-foo-bar")
      text = File.read!(file)
      {_, 0} = System.cmd("visudo", ["-cf", file])
      assert mode(file) == 0o440

      commands =
        text
        |> String.replace("\\\n", "")
        |> String.split("\n")
        |> Enum.filter(&(&1 =~ "NOPASSWD"))

      assert [deploy, app] = commands
      assert deploy =~ ~r/^deploy ALL=\(root\) NOPASSWD: /
      assert app =~ ~r/^app ALL=\(root\) NOPASSWD: /

      granted =
        deploy
        |> String.split("NOPASSWD: ")
        |> List.last()
        |> String.split(~r/,\s*/)

      # restart_method :systemd_flag: deploy-restart touches the flag, so no
      # restart; status and is-active need no sudo.
      expected =
        for unit <- [
              "web\\:app@1",
              "web\\:app@1-restart.path",
              "web\\:app@1-runtime-environment.service"
            ],
            verb <- ~w(start stop),
            do: "/bin/systemctl #{verb} #{unit}"

      assert Enum.sort(granted) == Enum.sort(expected)
      refute Enum.any?(granted, &(&1 =~ ~r/ (status|is-active|restart) /))
    end

    test "no grant to root", %{tmp_dir: dir} do
      {project, _} =
        generate(dir, deploy_user: "root", app_user: "root", sudo_deploy: true, sudo_app: true)

      [file] = Path.wildcard(Path.join(project, "_build/prod/deploy/etc/sudoers.d/*"))
      {_, 0} = System.cmd("visudo", ["-cf", file])
      text = File.read!(file)
      refute text =~ "NOPASSWD"
      refute text =~ ~r/^root/m
    end

    test "app user equal to deploy user is granted once", %{tmp_dir: dir} do
      {project, _} =
        generate(dir,
          deploy_user: "deploy",
          app_user: "deploy",
          sudo_deploy: true,
          sudo_app: true,
          templates: ["start", "stop", "restart"]
        )

      [file] = Path.wildcard(Path.join(project, "_build/prod/deploy/etc/sudoers.d/*"))
      {_, 0} = System.cmd("visudo", ["-cf", file])
      assert length(Regex.scan(~r/NOPASSWD/, File.read!(file))) == 1
    end
  end

  describe "create-dirs and copy-files under DESTDIR" do
    @describetag skip: @unless_root

    test "the reference example: tree, owners, modes; a second run repairs", %{tmp_dir: dir} do
      {project, bin} = generate(dir, @complete)
      File.mkdir_p!(Path.join(project, "config"))
      File.write!(Path.join(project, "config/environment"), "SECRET_KEY_BASE=s3cr3t\n")
      File.mkdir_p!(Path.join(project, "rel/etc"))
      File.write!(Path.join(project, "rel/etc/environment"), "PORT=8080\n")

      dest = Path.join(dir, "dest")
      a = accounts()
      env = account_env(dest)
      run!(script(bin, "create-dirs", @complete), env: env, cd: project)

      for d <-
            ~w(/srv/foo-bar /srv/foo-bar/releases /srv/foo-bar/bin /srv/foo-bar/flags /srv/foo-bar/etc /etc/foo-bar) do
        assert mode(dest <> d) == 0o750, d
        assert owner(dest <> d) == {a.deploy, a.group}, d
      end

      # systemd >= 235 creates these at start; tmp has no systemd directive.
      for d <- ~w(/run/foo-bar /var/lib/foo-bar /var/cache/foo-bar /var/log/foo-bar),
          do: refute(File.exists?(dest <> d), d)

      assert owner(dest <> "/var/tmp/foo-bar") == {a.app, a.group}
      assert mode(dest <> "/var/tmp/foo-bar") == 0o750

      out = run!(script(bin, "copy-files", @complete), env: env, cd: project)
      assert out =~ "==> Copying config/environment"

      env_file = dest <> "/etc/foo-bar/environment"
      assert File.read!(env_file) == "SECRET_KEY_BASE=s3cr3t\n"
      assert mode(env_file) == 0o640
      assert owner(env_file) == {a.deploy, a.group}

      # dst [:deploy_dir, "/etc"] is the etc dir: the file goes into it.
      etc_file = dest <> "/srv/foo-bar/etc/environment"
      assert File.read!(etc_file) == "PORT=8080\n"
      assert mode(etc_file) == 0o640

      sudoers = dest <> "/etc/sudoers.d/deploy-foo-bar"
      assert mode(sudoers) == 0o440
      assert owner(sudoers) == {"root", "root"}

      # No temp files left next to the installed ones.
      assert File.ls!(dest <> "/etc/foo-bar") == ["environment"]
      assert File.ls!(dest <> "/etc/sudoers.d") == ["deploy-foo-bar"]

      # Break a dir and the env file, run both again: repaired, and no error.
      File.chmod!(dest <> "/srv/foo-bar", 0o777)
      {_, 0} = System.cmd("chown", ["root:root", dest <> "/srv/foo-bar/releases"])
      File.chmod!(env_file, 0o644)
      run!(script(bin, "create-dirs", @complete), env: env, cd: project)
      run!(script(bin, "copy-files", @complete), env: env, cd: project)
      assert mode(dest <> "/srv/foo-bar") == 0o750
      assert owner(dest <> "/srv/foo-bar/releases") == {a.deploy, a.group}
      assert mode(env_file) == 0o640
    end

    test "old systemd: create-dirs makes the dirs systemd would; flags dir group-writable",
         %{tmp_dir: dir} do
      {project, bin} = generate(dir, @flags)
      dest = Path.join(dir, "dest")
      a = accounts()
      run!(script(bin, "create-dirs", @flags), env: account_env(dest), cd: project)

      for d <-
            ~w(/run/foo-bar /var/lib/foo-bar /var/cache/foo-bar /var/log/foo-bar /var/tmp/foo-bar) do
        assert mode(dest <> d) == 0o750, d
        assert owner(dest <> d) == {a.app, a.group}, d
      end

      assert owner(dest <> "/etc/foo-bar") == {a.deploy, a.group}
      assert mode(dest <> "/srv/foo-bar/flags") == 0o770
      assert owner(dest <> "/srv/shared/uploads") == {a.deploy, a.group}
    end

    test "hostile values stay literal; nothing runs", %{tmp_dir: dir} do
      marker = "/tmp/pwned-#{System.unique_integer([:positive])}"
      config = hostile(marker)
      {project, bin} = generate(dir, config)
      src = Path.join(project, "config/#{@evil} $(touch #{marker}).env")
      File.mkdir_p!(Path.dirname(src))
      File.write!(src, "X=1\n")

      dest = Path.join(dir, "dest")
      env = account_env(dest)
      run!(script(bin, "create-dirs", config), env: env, cd: project)
      run!(script(bin, "copy-files", config), env: env, cd: project)
      run!(script(bin, "create-dirs", config), env: env, cd: project)

      deploy_dir = dest <> "/srv/#{@evil}/foo-bar"
      assert File.dir?(deploy_dir)
      assert mode(deploy_dir) == 0o750
      assert File.dir?(dest <> "/opt/x y $(touch PWNED3) é")

      copied = dest <> "/etc/foo-bar/a b $(touch PWNED4) é.env"
      assert File.read!(copied) == "X=1\n"
      assert mode(copied) == 0o600

      refute File.exists?(marker)

      for cwd <- [project, bin, dir, dest],
          name <- ~w(PWNED PWNED2 PWNED3 PWNED4 PWNED5),
          do: refute(File.exists?(Path.join(cwd, name)), "#{name} created in #{cwd}")
    end

    test "copy-files: the secret is never readable by others on its way into place",
         %{tmp_dir: dir} do
      {project, bin} = generate(dir, @complete)
      File.mkdir_p!(Path.join(project, "config"))
      File.write!(Path.join(project, "config/environment"), "SECRET=1\n")
      File.mkdir_p!(Path.join(project, "rel/etc"))
      File.write!(Path.join(project, "rel/etc/environment"), "PORT=1\n")

      # chown, chmod and mv wrappers that log the mode and owner of every file
      # argument as it is when they are called, then run the real command. The
      # script works on names relative to the verified directory and on the temp
      # file's open fd (/proc/self/fd/N): both are logged by the file they reach.
      log = Path.join(dir, "fs.log")
      shims = Path.join(dir, "shims")
      File.mkdir_p!(shims)

      for cmd <- ~w(chown chmod mv) do
        real = System.find_executable(cmd)

        File.write!(Path.join(shims, cmd), """
        #!/bin/sh
        line="#{cmd}"
        for a; do
            case "$a" in
                /proc/self/fd/*) p=$(readlink -- "$a") ;;
                /*) p="$a" ;;
                *) p="$(pwd -P)/$a" ;;
            esac
            if [ -f "$p" ]; then line="$line|$p=$(stat -c '%a %U' -- "$p")"; fi
        done
        echo "$line" >> '#{log}'
        exec '#{real}' "$@"
        """)

        File.chmod!(Path.join(shims, cmd), 0o755)
      end

      dest = Path.join(dir, "dest")
      env = [{"PATH", shims <> ":" <> System.get_env("PATH")} | account_env(dest)]
      run!(script(bin, "copy-files", @complete), env: env, cd: project)

      target = dest <> "/etc/foo-bar/environment"
      a = accounts()

      seen =
        for line <- File.read!(log) |> String.split("\n", trim: true),
            [cmd | files] = String.split(line, "|"),
            file <- files,
            [path, state] = String.split(file, "=", parts: 2),
            Path.dirname(path) == Path.dirname(target),
            do: {cmd, Path.basename(path), state}

      # A temp file in the destination dir: private (600, root) until it has
      # its owner, then 640 only when it is renamed over the target.
      assert [
               {"chown", tmp, "600 root"},
               {"chmod", tmp, "600 " <> deploy_user},
               {"mv", tmp, "640 " <> deploy_user}
             ] = seen

      assert deploy_user == a.deploy
      assert tmp =~ ~r/^\.environment\.\w{6}$/
      assert mode(target) == 0o640
    end

    test "copy-files: a missing source is an error naming it", %{tmp_dir: dir} do
      {project, bin} = generate(dir, @complete)

      {out, status} =
        run(script(bin, "copy-files", @complete),
          env: account_env(Path.join(dir, "dest")),
          cd: project
        )

      assert status != 0
      assert out =~ "error: copy_files source not found: config/environment"
    end

    test "copy-files: a failure leaves no temp file and no half-installed file", %{tmp_dir: dir} do
      config = [
        copy_files: [
          %{src: "secret", dst: "/etc/app/secret", user: "nosuchuser-x", group: "$APP_GROUP"}
        ],
        templates: ["copy-files"]
      ]

      {project, bin} = generate(dir, config)
      File.write!(Path.join(project, "secret"), "pw\n")
      dest = Path.join(dir, "dest")
      File.mkdir_p!(dest <> "/etc/app")
      {out, status} = run(script(bin, "copy-files", config), env: account_env(dest), cd: project)
      assert status != 0, out
      # chown of the temp file failed: no file, and no temp file left behind.
      assert File.ls!(dest <> "/etc/app") == []
    end

    test "copy-files: dst as file path, existing dir, and trailing slash", %{tmp_dir: dir} do
      config = [
        copy_files: [
          %{src: "a.conf", dst: "/etc/one/renamed.conf", mode: "644"},
          %{src: "a.conf", dst: "/etc/two"},
          %{src: "a.conf", dst: "/etc/three/"}
        ],
        templates: ["copy-files"]
      ]

      {project, bin} = generate(dir, config)
      File.write!(Path.join(project, "a.conf"), "a\n")
      dest = Path.join(dir, "dest")
      File.mkdir_p!(dest <> "/etc/two")
      run!(script(bin, "copy-files", config), env: account_env(dest), cd: project)
      assert mode(dest <> "/etc/one/renamed.conf") == 0o644
      assert mode(dest <> "/etc/one") == 0o750
      assert File.read!(dest <> "/etc/two/a.conf") == "a\n"
      assert mode(dest <> "/etc/two/a.conf") == 0o640
      assert File.read!(dest <> "/etc/three/a.conf") == "a\n"
    end
  end

  describe "create-users" do
    @describetag skip: @unless_root

    test "creates a system app user without login shell, a deploy user in the app group; leaves existing users",
         %{tmp_dir: dir} do
      n = rem(System.unique_integer([:positive]), 100_000)
      deploy = "mdt-dep#{n}"
      app = "mdt-app#{n}"
      existing = "mdt-old#{n}"

      # Users first: a group cannot go while it is some user's primary group.
      on_exit(fn ->
        System.cmd("userdel", ["-r", deploy], stderr_to_stdout: true)
        for u <- [app, existing], do: System.cmd("userdel", [u], stderr_to_stdout: true)
        for g <- [deploy, app, existing], do: System.cmd("groupdel", [g], stderr_to_stdout: true)
      end)

      {_, 0} = System.cmd("useradd", ["--shell", "/bin/sh", existing])

      {project, bin} =
        generate(dir,
          deploy_user: deploy,
          app_user: app,
          app_group: app,
          templates: ["create-users"]
        )

      path = script(bin, "create-users", [])
      out = run!(path, cd: project)
      assert out =~ "==> Creating app user #{app}"

      [_, _, uid, _, _, home, shell] = passwd(app)
      assert shell in ["/usr/sbin/nologin", "/sbin/nologin"]
      assert String.to_integer(uid) < 1000
      assert home == "/srv/foo-bar"
      assert [_, _, _, _, _, _, "/bin/bash"] = passwd(deploy)
      assert app in groups(deploy)

      # Second run: nothing to do.
      out = run!(path, cd: project)
      refute out =~ "Creating"

      # An existing app user keeps its shell; the deploy user joins the app *group*.
      out = run!(path, env: [{"APP_USER", existing}, {"APP_GROUP", app}], cd: project)
      assert out =~ "#{existing} exists"
      assert List.last(passwd(existing)) == "/bin/sh"
    end

    test "arguments to useradd/groupadd/usermod (shims), and root is never created", %{
      tmp_dir: dir
    } do
      {project, bin} =
        generate(dir,
          deploy_user: "mdt-nodeploy",
          app_user: "mdt-noapp",
          app_group: "mdt-nogrp",
          templates: ["create-users"]
        )

      log = Path.join(dir, "calls.log")
      shims = Path.join(dir, "shims")
      for cmd <- ~w(useradd groupadd usermod), do: shim(Path.join(shims, cmd), log)
      path_env = {"PATH", shims <> ":" <> System.get_env("PATH")}
      run!(script(bin, "create-users", []), env: [path_env], cd: project)

      assert calls(log) == [
               "groupadd -- mdt-nodeploy",
               "groupadd --system -- mdt-nogrp",
               "useradd --create-home --shell /bin/bash --gid mdt-nodeploy -- mdt-nodeploy",
               "useradd --system --gid mdt-nogrp --home-dir /srv/foo-bar --no-create-home --shell /usr/sbin/nologin -- mdt-noapp",
               "usermod -a -G mdt-nogrp -- mdt-nodeploy"
             ]

      File.rm!(log)

      run!(script(bin, "create-users", []),
        env: [
          path_env,
          {"DEPLOY_USER", "root"},
          {"DEPLOY_GROUP", "root"},
          {"APP_USER", "root"},
          {"APP_GROUP", "root"}
        ],
        cd: project
      )

      assert calls(log) == []
    end
  end

  defp passwd(user) do
    {out, 0} = System.cmd("getent", ["passwd", user])
    out |> String.trim() |> String.split(":")
  end

  defp groups(user) do
    {out, 0} = System.cmd("id", ["-nG", user])
    String.split(out)
  end

  describe "systemctl wrappers" do
    @describetag skip: @unless_root

    test "start, stop, restart, enable call the full systemctl path for the service", %{
      tmp_dir: dir
    } do
      {project, bin} = generate(dir, templates: @scripts)
      log = Path.join(dir, "calls.log")
      env = [{"SYSTEMCTL", running_shim(Path.join(dir, "systemctl"), log)}]
      # deploy-restart's check passes at once (test/health_test.exs tests the check).
      env = [{"HEALTH_CHECK_SETTLE", "0"} | env]
      for s <- ~w(start stop restart enable), do: run!(script(bin, s, []), env: env, cd: project)

      assert calls(log) == [
               "systemctl start foo-bar",
               "systemctl stop foo-bar",
               "systemctl restart foo-bar",
               "#{@show} foo-bar",
               "systemctl daemon-reload",
               "systemctl enable foo-bar.service"
             ]

      # The generated default is /bin/systemctl, as in the sudoers file.
      assert File.read!(script(bin, "start", [])) =~ "SYSTEMCTL=${SYSTEMCTL:-'/bin/systemctl'}"
    end

    test "systemd_flag and a runtime environment unit: helper units; restart as root restarts",
         %{tmp_dir: dir} do
      {project, bin} = generate(dir, @flags)
      log = Path.join(dir, "calls.log")
      flags = Path.join(dir, "flags")
      File.mkdir_p!(flags)
      a = accounts()

      env = [
        {"SYSTEMCTL", running_shim(Path.join(dir, "systemctl"), log)},
        {"FLAGS_DIR", flags},
        {"DEPLOY_USER", a.deploy},
        {"APP_GROUP", a.group},
        {"HEALTH_CHECK_SETTLE", "0"}
      ]

      for s <- ~w(start stop enable), do: run!(script(bin, s, @flags), env: env, cd: project)

      assert calls(log) == [
               "systemctl start web:app@1-runtime-environment.service",
               "systemctl start web:app@1",
               "systemctl start web:app@1-restart.path",
               "systemctl stop web:app@1-restart.path",
               "systemctl stop web:app@1",
               "systemctl stop web:app@1-runtime-environment.service",
               "systemctl daemon-reload",
               "systemctl enable web:app@1.service",
               "systemctl enable web:app@1-runtime-environment.service",
               "systemctl enable web:app@1-restart.path",
               # The path unit watches from now on, so a touch of the flag restarts.
               "systemctl start web:app@1-restart.path"
             ]

      File.rm!(log)
      # Root restarts with systemctl (the flag is for users who cannot); a deploy
      # user touching the flag: test/health_test.exs and the end-to-end test.
      run!(script(bin, "restart", @flags), env: env, cd: project)
      assert calls(log) == ["systemctl restart web:app@1", "#{@show} web:app@1"]
      refute File.exists?(Path.join(flags, "restart.flag"))
    end

    test "listen_stream: the socket is started first, stopped first, enabled; restart leaves it",
         %{tmp_dir: dir} do
      config = [templates: @scripts, listen_stream: "127.0.0.1:4000"]
      {project, bin} = generate(dir, config)
      log = Path.join(dir, "calls.log")

      env = [
        {"SYSTEMCTL", running_shim(Path.join(dir, "systemctl"), log)},
        {"HEALTH_CHECK_SETTLE", "0"}
      ]

      for s <- ~w(start stop restart enable),
          do: run!(script(bin, s, config), env: env, cd: project)

      assert calls(log) == [
               "systemctl start foo-bar.socket",
               "systemctl start foo-bar",
               # The port closes before the service stops, so no connection restarts it.
               "systemctl stop foo-bar.socket",
               "systemctl stop foo-bar",
               # Only the service: the socket keeps the port open meanwhile.
               "systemctl restart foo-bar",
               "#{@show} foo-bar",
               "systemctl daemon-reload",
               "systemctl enable foo-bar.service",
               "systemctl enable foo-bar.socket"
             ]
    end

    test "restart_method :overlap: start and enable act on the live instance, stop on both",
         %{tmp_dir: dir} do
      config = [
        templates: ~w(start stop enable),
        listen_stream: "127.0.0.1:4000",
        restart_method: :overlap,
        health_check_url: "http://127.0.0.1:4000/"
      ]

      {project, bin} = generate(dir, config)
      log = Path.join(dir, "calls.log")
      current = Path.join(dir, "srv/current")
      env = [{"SYSTEMCTL", shim(Path.join(dir, "systemctl"), log)}, {"CURRENT_DIR", current}]

      # Before the first deploy-restart the live instance (a: no drop-in names
      # another) has no release of its own to run.
      {out, 1} = run(script(bin, "start", config), env: env, cd: project)
      assert out =~ "foo-bar@a, the live instance, has no release yet (#{current}-a is missing)"
      assert calls(log) == []

      File.mkdir_p!(current <> "-a")
      for s <- ~w(start stop), do: run!(script(bin, s, config), env: env, cd: project)

      assert calls(log) == [
               "systemctl start foo-bar.socket",
               "systemctl start foo-bar@a",
               "systemctl stop foo-bar.socket",
               "systemctl stop foo-bar@a",
               "systemctl stop foo-bar@b"
             ]

      # As deploy-restart leaves a tree after switching to b: its drop-in names b.
      File.rm!(log)
      dest = Path.join(dir, "dest")
      dropin = Path.join(dest, "etc/systemd/system/foo-bar.socket.d/50-live-instance.conf")
      File.mkdir_p!(Path.dirname(dropin))
      File.write!(dropin, "[Socket]\nService=foo-bar@b.service\n")
      run!(script(bin, "enable", config), env: [{"DESTDIR", dest} | env], cd: project)

      assert calls(log) == [
               "systemctl --root=#{dest} enable foo-bar@b.service",
               "systemctl --root=#{dest} enable foo-bar.socket",
               "systemctl --root=#{dest} is-enabled --quiet foo-bar@a.service",
               "systemctl --root=#{dest} disable foo-bar@a.service"
             ]

      # start acts on this machine's systemd: a DESTDIR in the environment does
      # not make it read another tree's drop-in (here naming b).
      File.rm!(log)
      run!(script(bin, "start", config), env: [{"DESTDIR", dest} | env], cd: project)
      assert calls(log) == ["systemctl start foo-bar.socket", "systemctl start foo-bar@a"]
    end

    test "stop of a unit that is not installed is not an error; other failures are", %{
      tmp_dir: dir
    } do
      {project, bin} = generate(dir, templates: ["stop"])
      log = Path.join(dir, "calls.log")
      env = [{"SYSTEMCTL", shim(Path.join(dir, "not-loaded/systemctl"), log, 5)}]
      out = run!(script(bin, "stop", []), env: env, cd: project)
      assert out =~ "not installed"

      env = [{"SYSTEMCTL", shim(Path.join(dir, "failing/systemctl"), log, 1)}]
      {out, status} = run(script(bin, "stop", []), env: env, cd: project)
      assert status == 1
      assert out =~ "error: systemctl stop foo-bar failed"
    end

    test "enable with DESTDIR enables in that tree only", %{tmp_dir: dir} do
      {project, bin} = generate(dir, templates: ["enable"])
      log = Path.join(dir, "calls.log")
      env = [{"SYSTEMCTL", shim(Path.join(dir, "systemctl"), log)}, {"DESTDIR", "/x y"}]
      run!(script(bin, "enable", []), env: env, cd: project)
      assert calls(log) == ["systemctl --root=/x y enable foo-bar.service"]
    end
  end

  describe "init-local" do
    @describetag skip: @unless_root

    test "runs the enabled scripts in order from its own dir and copies only generated scripts",
         %{tmp_dir: dir} do
      config =
        Keyword.put(@flags, :copy_files, [
          %{src: "config/environment", dst: [:configuration_dir, "/environment"]}
        ])

      {project, bin} = generate(dir, config)
      File.mkdir_p!(Path.join(project, "config"))
      File.write!(Path.join(project, "config/environment"), "A=1\n")
      File.write!(Path.join(bin, "deploy-not-generated"), "#!/bin/sh\n")

      units = Path.join(project, "_build/prod/systemd/lib/systemd/system")
      File.mkdir_p!(units)

      for u <-
            ~w(web:app@1.service web:app@1-restart.path web:app@1-restart.service web:app@1-runtime-environment.service),
          do: File.write!(Path.join(units, u), "[Unit]\n")

      dest = Path.join(dir, "dest")
      log = Path.join(dir, "calls.log")
      a = accounts()

      env =
        account_env(dest) ++
          [{"DEPLOY_GROUP", a.group}, {"SYSTEMCTL", shim(Path.join(dir, "systemctl"), log)}]

      out = run!(Path.join(bin, "deploy-init-local"), env: env, cd: project)

      steps =
        ~r/^==> (Creating OS users|Creating directories|Copying files|Enabling systemd units)$|^==> (Copying scripts) to .*$/m
        |> Regex.scan(out)
        |> Enum.map(&(&1 |> tl() |> Enum.join()))

      assert steps == [
               "Creating OS users",
               "Creating directories",
               "Copying scripts",
               "Copying files",
               "Enabling systemd units"
             ]

      scripts_dir = dest <> "/srv/foo-bar/bin"
      assert Enum.sort(File.ls!(scripts_dir)) == Enum.sort(Enum.map(@scripts, &("deploy-" <> &1)))
      assert mode(Path.join(scripts_dir, "deploy-start")) == 0o755
      assert owner(Path.join(scripts_dir, "deploy-start")) == {a.deploy, a.group}

      assert File.read!(dest <> "/etc/foo-bar/environment") == "A=1\n"
      assert File.exists?(dest <> "/lib/systemd/system/web:app@1-restart.path")
      assert File.exists?(dest <> "/etc/sudoers.d/deploy-foo-bar")
      assert "systemctl --root=#{dest} enable web:app@1-restart.path" in calls(log)
    end

    test "only the enabled scripts run", %{tmp_dir: dir} do
      config = [templates: ["init-local", "create-dirs"]]
      {project, bin} = generate(dir, config)
      dest = Path.join(dir, "dest")
      out = run!(Path.join(bin, "deploy-init-local"), env: account_env(dest), cd: project)
      assert out =~ "==> Creating directories"
      refute out =~ "Creating OS users"
      refute out =~ "Enabling"

      assert Enum.sort(File.ls!(dest <> "/srv/foo-bar/bin")) == [
               "deploy-create-dirs",
               "deploy-init-local"
             ]
    end
  end

  describe "agent hooks" do
    @describetag skip: @unless_root

    setup %{tmp_dir: dir} do
      {project, bin} = generate(dir, @complete)
      dest = Path.join(dir, "dest")
      env = account_env(dest)
      run!(script(bin, "create-dirs", @complete), env: env, cd: project)
      release = dest <> "/srv/foo-bar/releases/20240101T000000"
      File.mkdir_p!(release <> "/bin")
      File.write!(release <> "/bin/foo_bar", "#!/bin/sh\n")
      File.chmod!(release <> "/bin/foo_bar", 0o700)
      File.write!(release <> "/lib.txt", "x")
      File.chmod!(release <> "/lib.txt", 0o600)
      # Relative, as extract-release links it (the scripts handle absolute links too).
      File.ln_s!("releases/20240101T000000", dest <> "/srv/foo-bar/current")
      File.write!(dest <> "/srv/foo-bar/bin/deploy-start", "#!/bin/sh\n")
      File.write!(dest <> "/srv/foo-bar/etc/environment", "A=1\n")
      File.chmod!(dest <> "/srv/foo-bar/etc/environment", 0o644)
      %{project: project, bin: bin, dest: dest, env: env, release: release}
    end

    test "set-perms: deploy user and app group own it; release readable and executable by the group",
         %{project: project, bin: bin, dest: dest, env: env, release: release} do
      a = accounts()
      {_, 0} = System.cmd("chown", ["-R", "root:root", dest <> "/srv/foo-bar"])
      run!(script(bin, "set-perms", @complete), env: env, cd: project)

      for p <- [
            dest <> "/srv/foo-bar",
            release,
            release <> "/bin/foo_bar",
            dest <> "/srv/foo-bar/etc/environment"
          ],
          do: assert(owner(p) == {a.deploy, a.group}, p)

      assert mode(dest <> "/srv/foo-bar") == 0o750
      assert mode(release <> "/bin/foo_bar") == 0o750
      assert mode(release <> "/lib.txt") == 0o640
      assert mode(dest <> "/srv/foo-bar/etc/environment") == 0o640
      assert mode(dest <> "/srv/foo-bar/bin/deploy-start") == 0o750
      assert mode(release <> "/tmp") == 0o770
    end

    test "set-perms: an absolute current link is followed inside DESTDIR, not on this machine",
         %{project: project, bin: bin, dest: dest, env: env, release: release} do
      File.rm!(dest <> "/srv/foo-bar/current")
      File.ln_s!("/srv/foo-bar/releases/20240101T000000", dest <> "/srv/foo-bar/current")
      live_before = File.exists?("/srv/foo-bar")
      run!(script(bin, "set-perms", @complete), env: env, cd: project)
      assert mode(release <> "/tmp") == 0o770
      assert File.exists?("/srv/foo-bar") == live_before
    end

    test "clean-target removes scripts, etc files and this service's units only; keeps the release",
         %{project: project, bin: bin, dest: dest, env: env, release: release} do
      lib = dest <> "/lib/systemd/system"
      etc = dest <> "/etc/systemd/system"
      File.mkdir_p!(lib)
      File.mkdir_p!(etc <> "/foo-bar.service.d")

      for u <-
            ~w(foo-bar.service foo-bar-restart.path foo-bar-restart.service foo-bar-runtime-environment.service
                  foo-bar-worker.service foo-barista.service),
          do: File.write!(Path.join(lib, u), "")

      File.write!(etc <> "/foo-bar.service", "")
      File.write!(etc <> "/foo-bar.service.d/override.conf", "")
      File.ln_s!("/dev/null", etc <> "/foo-bar-restart.path")

      run!(script(bin, "clean-target", @complete), env: env, cd: project)

      assert Enum.sort(File.ls!(lib)) == ["foo-bar-worker.service", "foo-barista.service"]
      assert Enum.sort(File.ls!(etc)) == ["foo-bar-restart.path", "foo-bar.service.d"]
      assert File.ls!(dest <> "/srv/foo-bar/bin") == []
      assert File.ls!(dest <> "/srv/foo-bar/etc") == []
      assert File.exists?(release <> "/bin/foo_bar")
      assert {:ok, _} = File.read_link(dest <> "/srv/foo-bar/current")
      assert File.dir?(dest <> "/srv/foo-bar/bin")
    end

    test "clean-target never empties a dir that holds or is part of the release", %{tmp_dir: dir} do
      config = [
        scripts_dir: [:current_dir, "/bin"],
        etc_dir: [:deploy_dir],
        templates: ["clean-target"]
      ]

      {project, bin} = generate(dir, config)
      dest = Path.join(dir, "dest2")
      File.mkdir_p!(dest <> "/srv/foo-bar/current/bin")
      File.write!(dest <> "/srv/foo-bar/current/bin/foo_bar", "")
      out = run!(script(bin, "clean-target", config), env: [{"DESTDIR", dest}], cd: project)
      assert out =~ "Keeping"
      assert File.exists?(dest <> "/srv/foo-bar/current/bin/foo_bar")
    end
  end

  describe "stage-files" do
    test "stages scripts, units, etc files and the release", %{tmp_dir: dir} do
      {project, bin} = generate(dir, @complete)
      File.mkdir_p!(Path.join(project, "rel/etc"))
      File.write!(Path.join(project, "rel/etc/environment"), "PORT=8080\n")
      units = Path.join(project, "_build/prod/systemd/lib/systemd/system")
      File.mkdir_p!(units)
      File.write!(Path.join(units, "foo-bar.service"), "[Unit]\n")
      # The env files lie in the deploy user's dirs: the config has a setup unit.
      File.write!(Path.join(units, "foo-bar-setup.service"), "[Unit]\n")
      File.write!(Path.join(units, "other.service"), "[Unit]\n")
      File.write!(Path.join(project, "_build/prod/foo_bar-0.1.0.tar.gz"), "tar")

      run!(script(bin, "stage-files", @complete), cd: project)
      files = Path.join(project, "files")

      assert Enum.sort(File.ls!(Path.join(files, "bin"))) ==
               Enum.sort(Enum.map(@scripts, &("deploy-" <> &1)))

      assert mode(Path.join(files, "bin/deploy-start")) == 0o755

      assert Enum.sort(File.ls!(Path.join(files, "systemd"))) ==
               ["foo-bar-setup.service", "foo-bar.service"]

      assert File.read!(Path.join(files, "etc/environment")) == "PORT=8080\n"
      assert mode(Path.join(files, "etc/environment")) == 0o640
      assert File.read!(Path.join(files, "foo_bar.tar.gz")) == "tar"
      assert File.ls!(Path.join(files, "sudoers.d")) == ["deploy-foo-bar"]

      # Another staging dir by argument; a missing release is an error naming it.
      File.rm!(Path.join(project, "_build/prod/foo_bar-0.1.0.tar.gz"))
      {out, status} = run(script(bin, "stage-files", @complete), args: ["other"], cd: project)
      assert status != 0
      assert out =~ "error: _build/prod/foo_bar-0.1.0.tar.gz not found (run mix release)"
      assert File.exists?(Path.join(project, "other/bin/deploy-start"))
    end
  end

  describe "sync-assets-s3" do
    test "needs ASSETS_S3_BUCKET; syncs priv/static with the aws CLI", %{tmp_dir: dir} do
      {project, bin} = generate(dir, templates: ["sync-assets-s3"])
      path = script(bin, "sync-assets-s3", [])
      {out, status} = run(path, env: [{"ASSETS_S3_BUCKET", nil}], cd: project)
      assert status != 0
      assert out =~ "error: ASSETS_S3_BUCKET is not set"

      File.mkdir_p!(Path.join(project, "priv/static"))
      log = Path.join(dir, "calls.log")
      shims = Path.join(dir, "shims")
      shim(Path.join(shims, "aws"), log)

      env = [
        {"PATH", shims <> ":" <> System.get_env("PATH")},
        {"ASSETS_S3_BUCKET", "s3://my-bucket/"},
        {"ASSETS_S3_PREFIX", "static"}
      ]

      run!(path, env: env, args: ["--delete"], cd: project)

      assert calls(log) == [
               "aws s3 sync --no-progress --delete priv/static/ s3://my-bucket/static"
             ]
    end
  end
end
