defmodule MixDeploy.SystemdTest.Units do
  @moduledoc false
  # Fixture configs and readers for unit files shared by the tests below.

  import MixDeploy.Scratch

  @unit_dir "_build/prod/systemd/lib/systemd/system"
  def unit_dir, do: @unit_dir

  @doc "`config :mix_systemd` of each fixture (app :foo_bar unless said otherwise)."
  def fixtures do
    [
      default: [],
      reference: [
        app_user: "app",
        app_group: "app",
        exec_start_pre: [["!", :deploy_dir, "/bin/deploy-sync-config-s3"]],
        dirs: [:cache, :configuration, :logs, :runtime, :state, :tmp],
        runtime_directory_preserve: "yes",
        env_files: [
          ["-", :deploy_dir, "/etc/environment"],
          ["-", :configuration_dir, "/environment"]
        ],
        env_vars: ["PHX_SERVER=true", "PORT=8080", ["RELEASE_TMP=", :runtime_dir]]
      ],
      forking: [
        service_type: :forking,
        dirs: [:runtime],
        exec_stop: [:current_dir, "/bin/foo_bar stop"]
      ],
      systemd_flag: [restart_method: :systemd_flag],
      listen_stream: [
        listen_stream: ["127.0.0.1:4000", "[::1]:4000%lo", 8080, [[:runtime_dir, "/http.sock"]]],
        paranoia: true
      ],
      runtime_environment: [
        runtime_environment_service_script: [:scripts_dir, "/deploy-runtime-environment-file"],
        runtime_environment_unit_after_targets: ["cloud-init.target"],
        env_files: [["-", :runtime_dir, "/runtime-environment"]],
        dirs: [:runtime]
      ],
      paranoia: [paranoia: true, dirs: [:runtime, :state, :tmp], env_vars: ["PORT=4000"]],
      paranoia_252: [paranoia: true, systemd_version: 252, dirs: [:runtime]],
      chroot: [chroot: true, read_write_paths: ["/var/my data"], dirs: [:state]],
      systemd_219: [
        systemd_version: 219,
        paranoia: true,
        dirs: [:runtime, :configuration],
        runtime_environment_service_script: "/srv/foo-bar/bin/env"
      ],
      hostile: [
        base_dir: "/srv/my apps $HOME 100%",
        env_vars: ["GREETING=hello \"world\" 100% $HOME \\n", "EMPTY="],
        exec_start_pre: [["!", :deploy_dir, "/bin/sync"]],
        exec_start_wrap: [:scripts_dir, "/wrap "],
        env_files: [["-", :deploy_dir, "/etc/environment"]],
        dirs: [:runtime]
      ]
    ]
  end

  @doc "Runs mix systemd.generate in a scratch project; returns %{file name => contents}."
  def generate(dir, app, config, args \\ []) do
    in_project(dir, app, [systemd: config], fn ->
      mix("systemd.generate", args)
      read_units(@unit_dir)
    end)
  end

  def read_units(dir) do
    case File.ls(dir) do
      {:ok, names} -> Map.new(names, &{&1, File.read!(Path.join(dir, &1))})
      {:error, _} -> %{}
    end
  end

  @doc """
  Directives of a section: [{key, value}] in order. A line ending in a backslash
  goes on in the next one, the backslash read as a space, as systemd reads it.
  """
  def section(text, name) do
    text
    |> String.replace(~r/\\\n/, " ")
    |> String.split("\n")
    |> Enum.map(&String.trim/1)
    |> Enum.reduce({nil, []}, fn
      "", acc -> acc
      "#" <> _, acc -> acc
      "[" <> rest, {_, out} -> {String.trim_trailing(rest, "]"), out}
      line, {^name, out} -> {name, [List.to_tuple(String.split(line, "=", parts: 2)) | out]}
      _, acc -> acc
    end)
    |> elem(1)
    |> Enum.reverse()
  end

  def values(text, sect, key), do: for({^key, v} <- section(text, sect), do: v)

  @doc """
  Splits a value into words the way systemd does (double and single quotes,
  backslash escapes), as used by unit files and `systemctl show`.
  """
  def words(s), do: words(String.trim_leading(s), [], "", nil, false)

  defp words("", acc, "", nil, false), do: Enum.reverse(acc)
  defp words("", acc, word, nil, _), do: Enum.reverse([word | acc])

  defp words("\\x" <> <<h::binary-size(2), rest::binary>>, acc, w, q, _),
    do: words(rest, acc, w <> <<String.to_integer(h, 16)>>, q, true)

  defp words("\\n" <> rest, acc, w, q, _), do: words(rest, acc, w <> "\n", q, true)

  defp words("\\" <> <<c::utf8, rest::binary>>, acc, w, q, _),
    do: words(rest, acc, w <> <<c::utf8>>, q, true)

  defp words(<<c::utf8, rest::binary>>, acc, w, nil, _) when c in [?", ?'],
    do: words(rest, acc, w, c, true)

  defp words(<<c::utf8, rest::binary>>, acc, w, c, _), do: words(rest, acc, w, nil, true)

  defp words(<<c::utf8, rest::binary>>, acc, w, nil, started) when c in [?\s, ?\t] do
    rest = String.trim_leading(rest)
    if started, do: words(rest, [w | acc], "", nil, false), else: words(rest, acc, w, nil, false)
  end

  defp words(<<c::utf8, rest::binary>>, acc, w, q, _),
    do: words(rest, acc, w <> <<c::utf8>>, q, true)
end

defmodule MixDeploy.SystemdTest do
  use ExUnit.Case, async: false
  import MixDeploy.Scratch
  import MixDeploy.SystemdTest.Units

  @moduletag :tmp_dir

  setup do
    Mix.shell(Mix.Shell.Process)
    on_exit(fn -> Mix.shell(Mix.Shell.IO) end)
  end

  defp assert_info(message), do: assert_received({:mix_shell, :info, [^message]})

  # `systemd-analyze verify` of the units: {its findings other than commands that
  # are not executable, the paths of those commands (sorted, each once)}. No release
  # is installed on this machine, so what the units run is missing here; the tests
  # compare those paths with the ones the config names, so that a unit running a
  # wrong path (ExecStart= included) fails. verify checks the first command of each
  # Exec*= setting.
  defp verify(dir, names) do
    {out, _} =
      System.cmd("systemd-analyze", ["verify" | Enum.map(names, &Path.join(dir, &1))],
        stderr_to_stdout: true,
        env: [{"SYSTEMD_LOG_COLOR", "0"}]
      )

    lines = String.split(out, "\n", trim: true)
    not_executable = ~r/^[^:]+: Command (.+) is not executable: No such file or directory$/

    {missing, other} = Enum.split_with(lines, &Regex.match?(not_executable, &1))
    paths = for line <- missing, do: Regex.run(not_executable, line) |> List.last()
    {other, paths |> Enum.uniq() |> Enum.sort()}
  end

  # The release's command, where the units' deploy_dir puts it.
  @release_exe "/srv/foo-bar/current/bin/foo_bar"

  # The commands each fixture's units run first in an Exec*= setting, from its
  # config (@release_exe unless listed). The setup units run /bin/sh.
  @fixture_commands %{
    reference: [@release_exe, "/srv/foo-bar/bin/deploy-sync-config-s3"],
    runtime_environment: [@release_exe, "/srv/foo-bar/bin/deploy-runtime-environment-file"],
    # RootDirectory= is the release: its own /bin.
    chroot: ["/bin/foo_bar"],
    systemd_219: [@release_exe, "/srv/foo-bar/bin/env"],
    # Its ExecStartPre=, and exec_start_wrap, which runs the release.
    hostile: [
      "/srv/my apps $HOME 100%/foo-bar/bin/sync",
      "/srv/my apps $HOME 100%/foo-bar/bin/wrap"
    ]
  }

  # The same for the examples of mix_systemd's README (tests/mix_systemd_readme.rs),
  # from what each example configures.
  @readme_commands %{
    "configuration" => ["/opt/foo-bar/current/bin/foo_bar"],
    "chroot" => ["/bin/foo_bar"],
    "copying_files" => ["/srv/foo-bar/bin/deploy-sync-config-s3", @release_exe],
    "distillery" => ["/srv/foo-bar/bin/deploy-sync-config-s3", @release_exe],
    # "This would run the script /srv/foo/bin/start-migrate" instead of the release.
    "exec_start" => ["/srv/foo-bar/bin/start-migrate"],
    "exec_start_wrap" => ["/srv/foo-bar/bin/deploy-runtime-environment-wrap"],
    "expand_keys" => ["/srv/foo-bar/bin/myscript", @release_exe],
    "runtime_environment_service" => [
      "/srv/foo-bar/bin/deploy-runtime-environment-file",
      @release_exe
    ]
  }

  defp exposure(path) do
    {out, _} =
      System.cmd("systemd-analyze", ["security", "--offline=yes", path], stderr_to_stdout: true)

    [_, score] = Regex.run(~r/Overall exposure level for \S+: (\d+\.\d+)/, out)
    String.to_float(score)
  end

  describe "mix systemd.generate" do
    test "every fixture's units pass systemd-analyze verify, missing only the commands the config names",
         %{tmp_dir: tmp} do
      for {name, config} <- fixtures() do
        dir = Path.join(tmp, to_string(name))
        units = generate(dir, :foo_bar, config)
        assert Map.has_key?(units, "foo-bar.service"), "#{name}: #{inspect(Map.keys(units))}"
        expected = Enum.sort(Map.get(@fixture_commands, name, [@release_exe]))
        {other, missing} = verify(Path.join(dir, unit_dir()), Map.keys(units))
        assert other == [], "#{name}: #{Enum.join(other, "\n")}"

        assert missing == expected,
               "#{name}: not executable: #{inspect(missing)}, expected #{inspect(expected)}"

        for {file, text} <- units do
          refute text =~ "\n\n\n", "#{name}/#{file}: a run of blank lines"
        end
      end
    end

    # The examples transcribed from mix_systemd's README, rendered by
    # native/mix_deploy_core/tests/mix_systemd_readme.rs into tests/readme_golden.
    test "the units of the transcribed mix_systemd README examples pass systemd-analyze verify, missing only the commands they name" do
      golden = Path.expand("../native/mix_deploy_core/tests/readme_golden", __DIR__)
      dirs = Path.wildcard(Path.join(golden, "*"))
      assert length(dirs) >= 20
      examples = Enum.map(dirs, &Path.basename/1)
      assert Map.keys(@readme_commands) -- examples == []

      for dir <- dirs do
        names = dir |> File.ls!() |> Enum.sort()
        assert "foo-bar.service" in names, dir
        expected = Enum.sort(Map.get(@readme_commands, Path.basename(dir), [@release_exe]))
        {other, missing} = verify(dir, names)
        assert other == [], "#{Path.basename(dir)}: #{Enum.join(other, "\n")}"

        assert missing == expected,
               "#{Path.basename(dir)}: not executable: #{inspect(missing)}, expected #{inspect(expected)}"
      end
    end

    test "each option lands in the unit as systemd reads it", %{tmp_dir: tmp} do
      units = generate(tmp, :foo_bar, fixtures()[:hostile])
      text = units["foo-bar.service"]
      base = "/srv/my apps $HOME 100%"

      # One Environment= assignment per value, whatever it holds.
      env =
        for line <- values(text, "Service", "Environment"),
            word <- words(String.replace(line, "%%", "%")),
            into: %{},
            do: List.to_tuple(String.split(word, "=", parts: 2))

      assert env["GREETING"] == "hello \"world\" 100% $HOME \\n"
      assert env["EMPTY"] == ""
      assert env["RUNTIME_DIR"] == "/run/foo-bar"

      [start] = values(text, "Service", "ExecStart")

      argv =
        start |> String.replace("%%", "%") |> words() |> Enum.map(&String.replace(&1, "$$", "$"))

      assert argv == ["#{base}/foo-bar/bin/wrap", "#{base}/foo-bar/current/bin/foo_bar", "start"]

      assert ["!" <> pre] = values(text, "Service", "ExecStartPre")
      assert words(String.replace(pre, "%%", "%")) == ["#{base}/foo-bar/bin/sync"]

      # The env file lies in deploy_dir: the service reads the setup unit's copy,
      # which that unit makes of the file named in the config.
      assert values(text, "Service", "EnvironmentFile") == ["-/run/foo-bar-setup/env-1"]
      setup = units["foo-bar-setup.service"]

      copy =
        values(setup, "Service", "ExecStart")
        |> Enum.map(&(&1 |> String.replace("%%", "%") |> words()))
        |> Enum.find(&(Enum.at(&1, 2) =~ "setpriv"))
        |> Enum.map(&String.replace(&1, "$$", "$"))
        |> Enum.drop(4)

      # Read as the app, or as root where deploy_user (the account running this
      # test, by default) is root and so nobody else can redirect the file.
      reader = if elem(System.cmd("id", ["-u"]), 0) == "0\n", do: "root", else: "foo-bar"

      assert copy == [
               "/run/foo-bar-setup",
               "#{base}/foo-bar/etc/environment",
               "/run/foo-bar-setup/env-1",
               "optional",
               reader,
               reader
             ]
    end

    test "the paranoia unit scores 3.0 or lower in systemd-analyze security", %{tmp_dir: tmp} do
      default = generate(Path.join(tmp, "default"), :foo_bar, [])
      File.write!(Path.join(tmp, "plain.service"), default["foo-bar.service"])

      for fixture <- [:paranoia, :paranoia_252] do
        units = generate(Path.join(tmp, to_string(fixture)), :foo_bar, fixtures()[fixture])
        path = Path.join(tmp, "#{fixture}.service")
        File.write!(path, units["foo-bar.service"])
        score = exposure(path)
        assert score <= 3.0, "#{fixture}: #{score}"
        refute units["foo-bar.service"] =~ "MemoryDenyWriteExecute"
      end

      assert exposure(Path.join(tmp, "plain.service")) > 9.0
    end

    test "restart_method :overlap: the template unit and its socket pass systemd-analyze verify, and its sandbox scores 3.0 or lower",
         %{tmp_dir: tmp} do
      config = [
        restart_method: :overlap,
        listen_stream: "127.0.0.1:4000",
        paranoia: true,
        systemd_version: 252,
        dirs: [:runtime, :tmp]
      ]

      units = generate(tmp, :foo_bar, config)

      # :tmp is root's work before the start: each instance has its own setup
      # instance (a shared one, PartOf= either, would stop the live one).
      assert Enum.sort(Map.keys(units)) ==
               ["foo-bar-setup@.service", "foo-bar.socket", "foo-bar@.service"]

      {other, missing} = verify(Path.join(tmp, unit_dir()), Map.keys(units))
      assert other == [], Enum.join(other, "\n")
      # verify loads the template as its instance "i", which runs its own link.
      assert missing == ["/srv/foo-bar/current-i/bin/foo_bar"]
      assert values(units["foo-bar.socket"], "Socket", "Service") == ["foo-bar@a.service"]
      assert "foo-bar-setup@%i.service" in values(units["foo-bar@.service"], "Unit", "Requires")
      assert values(units["foo-bar-setup@.service"], "Unit", "PartOf") == ["foo-bar@%i.service"]

      path = Path.join(tmp, "foo-bar@a.service")
      File.write!(path, units["foo-bar@.service"])
      assert exposure(path) <= 3.0
    end

    test "prints creating, then unchanged; removes only stale units it wrote", %{tmp_dir: tmp} do
      in_project(tmp, :foo_bar, [systemd: [restart_method: :systemd_flag]], fn ->
        mix("systemd.generate")
        assert_info("* creating #{unit_dir()}/foo-bar.service")

        assert_info("* creating #{unit_dir()}/foo-bar-restart.path")

        assert_info("* creating #{unit_dir()}/foo-bar-restart.service")

        File.write!(Path.join(unit_dir(), "other.service"), "[Service]\nExecStart=/bin/true\n")
      end)

      in_project(tmp, :foo_bar, [systemd: []], fn ->
        mix("systemd.generate")
        assert_info("* unchanged #{unit_dir()}/foo-bar.service")

        assert_info("* removing #{unit_dir()}/foo-bar-restart.path")

        assert_info("* removing #{unit_dir()}/foo-bar-restart.service")

        assert File.ls!(unit_dir()) |> Enum.sort() == ["foo-bar.service", "other.service"]
      end)
    end

    test "--check names missing, stale and extra units and writes nothing", %{tmp_dir: tmp} do
      in_project(tmp, :foo_bar, [systemd: []], fn ->
        error = assert_raise Mix.Error, fn -> mix("systemd.generate", ["--check"]) end
        assert error.message =~ "#{unit_dir()}/foo-bar.service (missing)"
        refute File.exists?(unit_dir())
        mix("systemd.generate")
        mix("systemd.generate", ["--check"])
        assert_received {:mix_shell, :info, ["All 1 generated files are up to date."]}
      end)

      in_project(
        tmp,
        :foo_bar,
        [systemd: [restart_method: :systemd_flag, limit_nofile: 1024]],
        fn ->
          error = assert_raise Mix.Error, fn -> mix("systemd.generate", ["--check"]) end
          assert error.message =~ "foo-bar.service (stale)"
          assert error.message =~ "foo-bar-restart.path (missing)"
          assert error.message =~ "Run `mix systemd.generate`"
          refute File.exists?(Path.join(unit_dir(), "foo-bar-restart.path"))
        end
      )

      in_project(tmp, :foo_bar, [systemd: []], fn ->
        mix("systemd.generate", ["--check"])
      end)
    end

    test "a newline in a value stops generation before any write", %{tmp_dir: tmp} do
      for {key, value} <- [
            env_vars: ["A=1\nExecStartPre=/bin/evil"],
            exec_start_pre: ["/bin/true\nUser=root"],
            unit_after_targets: ["a.target\nUser=root"],
            env_lang: "C\nUser=root",
            exec_start_wrap: "/bin/env\nUser=root"
          ] do
        in_project(tmp, :foo_bar, [systemd: [{key, value}]], fn ->
          error = assert_raise Mix.Error, fn -> mix("systemd.generate") end
          assert error.message =~ "#{key}"
          assert error.message =~ "newline"
          refute File.exists?(unit_dir())
        end)
      end
    end
  end

  describe "mix systemd.init" do
    test "copies the unit templates, keeps edits unless --force, and they override", %{
      tmp_dir: tmp
    } do
      in_project(tmp, :foo_bar, [systemd: []], fn ->
        mix("systemd.init")
        dir = "rel/templates/systemd"

        assert File.ls!(dir) |> Enum.sort() ==
                 ~w(restart.path.hbs restart.service.hbs runtime-environment.service.hbs service.hbs setup.service.hbs socket.hbs)

        edited = File.read!("#{dir}/service.hbs") <> "# local edit\n"
        File.write!("#{dir}/service.hbs", edited)
        mix("systemd.init")
        assert File.read!("#{dir}/service.hbs") == edited

        mix("systemd.generate")
        assert File.read!("#{unit_dir()}/foo-bar.service") =~ "# local edit"

        assert File.read!("#{unit_dir()}/foo-bar.service") =~
                 "(rel/templates/systemd/service.hbs)"

        mix("systemd.init", ["--force"])
        refute File.read!("#{dir}/service.hbs") =~ "# local edit"
      end)
    end
  end
end

defmodule MixDeploy.SystemdHostTest do
  # Loads generated units into a real systemd (script/systemd-host) and checks what
  # systemd made of them; a small release boots and serves under each.
  use ExUnit.Case, async: false
  import MixDeploy.SystemdTest.Units

  @host_script Path.expand("../script/systemd-host", __DIR__)
  @moduletag :systemd_host
  @moduletag timeout: 600_000

  @skip MixDeploy.Requires.missing(
          __MODULE__,
          cond do
            not File.exists?(@host_script) -> "script/systemd-host is missing"
            not MixDeploy.Requires.root?() -> "needs root (it boots a throwaway systemd host)"
            not File.exists?("/lib/systemd/systemd") -> "needs systemd (apt-get install systemd)"
            true -> nil
          end,
          "every test of this module (units loaded into a real systemd)"
        )
  if @skip, do: @moduletag(skip: @skip)

  # Ports the test apps listen on, on 127.0.0.1 (the host shares the network).
  @ports %{
    "sdt-p" => 47_911,
    "sdt-q" => 47_912,
    "sdt-f" => 47_913,
    "sdt-r" => 47_914,
    "sdt-e" => 47_915,
    "sdt-h" => 47_916,
    "sdt-o" => 47_917
  }

  setup_all do
    work =
      Path.join(
        System.tmp_dir!(),
        "mix_deploy_systemd_host_#{System.unique_integer([:positive])}"
      )

    File.mkdir_p!(work)
    release = build_release(Path.join(work, "app"))
    name = "mixsd#{System.unique_integer([:positive])}"
    {out, status} = System.cmd(@host_script, ["start", name], stderr_to_stdout: true)
    assert status == 0, out

    on_exit(fn ->
      System.cmd(@host_script, ["stop", name], stderr_to_stdout: true)
      File.rm_rf!(work)
    end)

    {out, 0} = System.cmd(@host_script, ["root", name])
    root = String.trim(out)
    host!(name, ~w(useradd --system --no-create-home --shell /usr/sbin/nologin app))
    %{host: name, root: root, release: release, work: work}
  end

  # A release of a tiny app: serves its GREETING and cwd on 127.0.0.1:$PORT and
  # writes its OS pid to $PIDFILE when set (what Distillery did for forking).
  defp build_release(dir) do
    File.mkdir_p!(Path.join(dir, "lib"))

    File.write!(Path.join(dir, "mix.exs"), """
    defmodule Hello.MixProject do
      use Mix.Project
      def project, do: [app: :hello, version: "0.1.0", elixir: "~> 1.14", deps: []]
      def application, do: [mod: {Hello, []}, extra_applications: [:logger]]
    end
    """)

    File.write!(Path.join(dir, "lib/hello.ex"), """
    defmodule Hello do
      use Application

      def start(_type, _args) do
        port = String.to_integer(System.fetch_env!("PORT"))
        opts = [:binary, active: false, reuseaddr: true, ip: {127, 0, 0, 1}]
        {:ok, listen} = :gen_tcp.listen(port, opts)
        if file = System.get_env("PIDFILE"), do: File.write!(file, :os.getpid())
        {:ok, spawn_link(fn -> serve(listen) end)}
      end

      defp serve(listen) do
        {:ok, socket} = :gen_tcp.accept(listen)
        _ = :gen_tcp.recv(socket, 0, 2000)
        body = "greeting=\#{System.get_env("GREETING")}\\ncwd=\#{File.cwd!()}\\n"
        :gen_tcp.send(socket, "HTTP/1.0 200 OK\\r\\ncontent-length: \#{byte_size(body)}\\r\\n\\r\\n" <> body)
        :gen_tcp.close(socket)
        serve(listen)
      end
    end
    """)

    {out, status} =
      System.cmd("mix", ["release", "--overwrite", "--quiet"],
        cd: dir,
        env: [{"MIX_ENV", "prod"}],
        stderr_to_stdout: true
      )

    assert status == 0, out
    Path.join(dir, "_build/prod/rel/hello")
  end

  defp host!(name, argv) do
    {out, status} = System.cmd(@host_script, ["exec", name, "--" | argv], stderr_to_stdout: true)
    assert status == 0, "#{Enum.join(argv, " ")}: #{out}"
    out
  end

  defp host(name, argv),
    do: System.cmd(@host_script, ["exec", name, "--" | argv], stderr_to_stdout: true)

  defp show(ctx, unit, prop) do
    host!(ctx.host, ["systemctl", "show", unit, "-p", prop, "--value"])
    |> String.trim_trailing("\n")
  end

  # Generates the units of `config` for the app :hello, installs them with the
  # release under deploy_dir inside the host, and reloads systemd.
  defp install(ctx, ext_name, config, extra_files \\ %{}) do
    # Every scenario gets its own Erlang node name: epmd is shared with this machine
    # (and with any other throwaway host on it).
    node =
      "RELEASE_NODE=#{String.replace(ext_name, "-", "_")}_#{System.unique_integer([:positive])}"

    config = Keyword.update(config, :env_vars, [node], &[node | &1])
    config = [ext_name: ext_name, app_user: "app", app_group: "app"] ++ config
    dir = Path.join(ctx.work, ext_name)
    units = generate(dir, :hello, config)

    deploy_dir = "#{Keyword.get(config, :base_dir, "/srv")}/#{ext_name}"
    inside = fn path -> ctx.root <> path end
    File.mkdir_p!(inside.(deploy_dir <> "/bin"))
    File.cp_r!(ctx.release, inside.(deploy_dir <> "/current"))

    for {rel, {contents, mode}} <- extra_files do
      path = inside.(Path.join(deploy_dir, rel))
      File.mkdir_p!(Path.dirname(path))
      File.write!(path, contents)
      File.chmod!(path, mode)
    end

    for {file, text} <- units, do: File.write!(inside.("/etc/systemd/system/" <> file), text)
    host!(ctx.host, ~w(systemctl daemon-reload))
    %{units: units, deploy_dir: deploy_dir}
  end

  defp get(port) do
    case System.cmd("curl", ["-sS", "--max-time", "5", "http://127.0.0.1:#{port}/"],
           stderr_to_stdout: true
         ) do
      {body, 0} -> {:ok, body}
      {err, _} -> {:error, err}
    end
  end

  # Polls until `fun` returns a truthy value; fails after a minute.
  defp eventually(what, fun, tries \\ 240) do
    case fun.() do
      result when result not in [nil, false] ->
        result

      _ when tries > 0 ->
        Process.sleep(250)
        eventually(what, fun, tries - 1)

      other ->
        flunk("#{what}: still #{inspect(other)} after a minute")
    end
  end

  defp start_and_get(ctx, service, port) do
    {out, status} = host(ctx.host, ["systemctl", "start", service])

    if status != 0 do
      {journal, _} = host(ctx.host, ["journalctl", "-u", service, "--no-pager", "-n", "40"])
      flunk("systemctl start #{service} failed: #{out}\n#{journal}")
    end

    try do
      eventually("#{service} answering on #{port}", fn ->
        case get(port) do
          {:ok, body} -> body
          _ -> nil
        end
      end)
    rescue
      e in ExUnit.AssertionError ->
        {journal, _} = host(ctx.host, ["journalctl", "-u", service, "--no-pager", "-n", "60"])
        flunk("#{e.message}\n#{journal}")
    end
  end

  defp argv_file(ctx, path) do
    (ctx.root <> path) |> File.read!() |> String.split(<<0>>, trim: true)
  end

  @recorder """
  #!/bin/sh
  # Records its argv (NUL-separated) in $RUNTIME_DIR/<name>.argv; as "wrap", runs the rest.
  name="$(basename "$0")"
  for arg in "$0" "$@"; do printf '%s\\000' "$arg"; done >"$RUNTIME_DIR/$name.argv"
  if [ "$name" = wrap ]; then exec "$@"; fi
  """

  test "paranoia: the hardened unit loads as written, scores 3.0 or lower and the release serves",
       ctx do
    port = @ports["sdt-p"]

    %{deploy_dir: deploy_dir} =
      install(
        ctx,
        "sdt-p",
        [
          paranoia: true,
          dirs: [:runtime, :state, :tmp],
          # An epmd of its own, started inside the sandbox (port 4369 may be taken
          # by an epmd of this machine, which the sandboxed VM would just use).
          env_vars: [
            "PORT=#{port}",
            "ERL_EPMD_PORT=#{port + 100}",
            "GREETING=paranoid \"quoted\" 100% $HOME"
          ],
          exec_start_pre: [["-", :scripts_dir, "/pre"]],
          runtime_directory_preserve: "yes",
          limit_nofile: 4096
        ],
        %{"bin/pre" => {@recorder, 0o755}}
      )

    host!(ctx.host, ~w(install -d -o app -g app -m 0750 /var/tmp/sdt-p))
    body = start_and_get(ctx, "sdt-p", port)
    assert body =~ ~s(greeting=paranoid "quoted" 100% $HOME\n)
    assert body =~ "cwd=#{deploy_dir}/current"

    assert host!(ctx.host, ~w(systemd-cgls --no-pager -u sdt-p.service)) =~ "epmd -daemon"
    assert show(ctx, "sdt-p", "Type") == "simple"
    assert show(ctx, "sdt-p", "ProtectSystem") == "strict"
    assert show(ctx, "sdt-p", "ProtectHome") == "yes"
    assert show(ctx, "sdt-p", "PrivateTmp") == "yes"
    assert show(ctx, "sdt-p", "NoNewPrivileges") == "yes"
    assert show(ctx, "sdt-p", "CapabilityBoundingSet") == ""
    assert show(ctx, "sdt-p", "RestrictNamespaces") == "yes"
    assert show(ctx, "sdt-p", "LockPersonality") == "yes"
    assert show(ctx, "sdt-p", "MemoryDenyWriteExecute") == "no"
    assert show(ctx, "sdt-p", "SystemCallErrorNumber") =~ ~r/^(1|EPERM)$/
    assert show(ctx, "sdt-p", "LimitNOFILE") == "4096"
    assert show(ctx, "sdt-p", "RuntimeDirectoryPreserve") == "yes"
    assert show(ctx, "sdt-p", "RuntimeDirectoryMode") == "0750"
    assert show(ctx, "sdt-p", "StateDirectory") == "sdt-p"
    assert show(ctx, "sdt-p", "BindPaths") =~ "/var/tmp/sdt-p"
    assert show(ctx, "sdt-p", "User") == "app"
    assert show(ctx, "sdt-p", "UMask") == "0027"
    assert show(ctx, "sdt-p", "WorkingDirectory") == "#{deploy_dir}/current"

    env = words(show(ctx, "sdt-p", "Environment"))
    assert "GREETING=paranoid \"quoted\" 100% $HOME" in env
    assert "RELEASE_TMP=/run/sdt-p" in env
    assert "RUNTIME_DIR=/run/sdt-p" in env

    assert argv_file(ctx, "/run/sdt-p/pre.argv") == ["#{deploy_dir}/bin/pre"]
    assert show(ctx, "sdt-p", "ExecStartPreEx") =~ "flags=ignore-failure"
    assert show(ctx, "sdt-p", "ExecStart") =~ "argv[]=#{deploy_dir}/current/bin/hello start ;"

    {out, _} = host(ctx.host, ["systemd-analyze", "security", "--no-pager", "sdt-p.service"])
    [_, score] = Regex.run(~r/Overall exposure level for sdt-p.service: (\d+\.\d+)/, out)
    assert String.to_float(score) <= 3.0, out

    # Stopped with SIGTERM, the VM shuts down cleanly; the preserved runtime dir stays.
    host!(ctx.host, ~w(systemctl stop sdt-p))
    assert show(ctx, "sdt-p", "Result") == "success"
    assert File.dir?(ctx.root <> "/run/sdt-p")

    # With the systemd of this machine declared, the allow-list filter applies.
    port = @ports["sdt-q"]

    install(ctx, "sdt-q",
      paranoia: true,
      systemd_version: 252,
      env_vars: ["PORT=#{port}", "ERL_EPMD_PORT=#{port + 100}", "GREETING=q"]
    )

    assert start_and_get(ctx, "sdt-q", port) =~ "greeting=q\n"
    assert show(ctx, "sdt-q", "ProtectProc") == "invisible"
    assert show(ctx, "sdt-q", "SystemCallFilter") != ""
    host!(ctx.host, ~w(systemctl stop sdt-q))
  end

  test "paths with spaces, $ and %: argv, environment files and the working directory", ctx do
    port = @ports["sdt-h"]

    %{deploy_dir: deploy_dir} =
      install(
        ctx,
        "sdt-h",
        [
          base_dir: "/srv/my apps $HOME 100%",
          # ERTS starts epmd with an unquoted shell command, which no unit can fix
          # for a path like this one; this release runs without distribution.
          env_vars: ["PORT=#{port}", "GREETING=from the unit", "RELEASE_DISTRIBUTION=none"],
          exec_start_pre: [["!", :scripts_dir, "/pre one \"two words\" 100%% $$HOME"]],
          exec_start_wrap: [:scripts_dir, "/wrap"],
          env_files: [["-", :deploy_dir, "/etc/environment"], ["-", :deploy_dir, "/etc/missing"]],
          dirs: [:runtime]
        ],
        %{
          "bin/pre" => {@recorder, 0o755},
          "bin/wrap" => {@recorder, 0o755},
          "etc/environment" => {"GREETING=from the env file\n", 0o644}
        }
      )

    assert deploy_dir == "/srv/my apps $HOME 100%/sdt-h"

    assert start_and_get(ctx, "sdt-h", port) =~
             "greeting=from the env file\ncwd=#{deploy_dir}/current\n"

    assert argv_file(ctx, "/run/sdt-h/pre.argv") == [
             "#{deploy_dir}/bin/pre",
             "one",
             "two words",
             "100%",
             "$HOME"
           ]

    assert show(ctx, "sdt-h", "ExecStartPreEx") =~ "flags=no-setuid"

    assert argv_file(ctx, "/run/sdt-h/wrap.argv") == [
             "#{deploy_dir}/bin/wrap",
             "#{deploy_dir}/current/bin/hello",
             "start"
           ]

    # The env files lie in deploy_dir: systemd reads the setup unit's copies (the
    # greeting above came through one), made of the files the config names, read
    # as root since deploy_user is root here (the account running this test).
    files = show(ctx, "sdt-h", "EnvironmentFiles") |> String.split("\n")

    assert files == [
             "/run/sdt-h-setup/env-1 (ignore_errors=yes)",
             "/run/sdt-h-setup/env-2 (ignore_errors=yes)"
           ]

    # systemctl shows the arguments as stored, a $ still doubled (it becomes one
    # when the command runs).
    copy = show(ctx, "sdt-h-setup", "ExecStart")
    stored = String.replace(deploy_dir, "$", "$$")
    assert copy =~ "#{stored}/etc/environment /run/sdt-h-setup/env-1 optional root root "
    assert copy =~ "#{stored}/etc/missing /run/sdt-h-setup/env-2 optional root root "

    after_units = show(ctx, "sdt-h", "After") |> String.split()
    assert "network.target" in after_units and "local-fs.target" in after_units
    host!(ctx.host, ~w(systemctl stop sdt-h))
  end

  test "forking: PIDFile and PIDFILE point at the pid the app writes", ctx do
    port = @ports["sdt-f"]

    install(ctx, "sdt-f",
      service_type: :forking,
      dirs: [:runtime],
      env_vars: ["PORT=#{port}", "GREETING=f"]
    )

    assert start_and_get(ctx, "sdt-f", port) =~ "greeting=f\n"
    assert show(ctx, "sdt-f", "Type") == "forking"
    assert show(ctx, "sdt-f", "PIDFile") == "/run/sdt-f/hello.pid"
    assert "PIDFILE=/run/sdt-f/hello.pid" in words(show(ctx, "sdt-f", "Environment"))
    assert show(ctx, "sdt-f", "ExecStart") =~ "argv[]=/srv/sdt-f/current/bin/hello daemon ;"
    assert show(ctx, "sdt-f", "MainPID") == File.read!(ctx.root <> "/run/sdt-f/hello.pid")
    host!(ctx.host, ~w(systemctl stop sdt-f))
    assert show(ctx, "sdt-f", "ActiveState") == "inactive"
  end

  test "systemd_flag: touching the flag file restarts the service", ctx do
    port = @ports["sdt-r"]
    install(ctx, "sdt-r", restart_method: :systemd_flag, env_vars: ["PORT=#{port}", "GREETING=r"])
    host!(ctx.host, ~w(install -d -m 0755 /srv/sdt-r/flags))

    assert show(ctx, "sdt-r-restart.path", "Paths") ==
             "/srv/sdt-r/flags/restart.flag (PathChanged)"

    assert show(ctx, "sdt-r-restart.path", "Unit") == "sdt-r-restart.service"
    host!(ctx.host, ~w(systemctl enable --now sdt-r-restart.path))
    assert start_and_get(ctx, "sdt-r", port) =~ "greeting=r\n"
    first = show(ctx, "sdt-r", "InvocationID")

    host!(ctx.host, ~w(touch /srv/sdt-r/flags/restart.flag))

    eventually("a new invocation of sdt-r", fn ->
      id = show(ctx, "sdt-r", "InvocationID")
      id != first and show(ctx, "sdt-r", "ActiveState") == "active"
    end)

    assert show(ctx, "sdt-r-restart.service", "Result") == "success"
    assert eventually("sdt-r answering again", fn -> match?({:ok, _}, get(port)) end)
    host!(ctx.host, ~w(systemctl disable --now sdt-r-restart.path))
    host!(ctx.host, ~w(systemctl stop sdt-r))
  end

  test "runtime environment service: runs first, and again on every restart", ctx do
    port = @ports["sdt-e"]

    script = """
    #!/bin/sh
    echo "GREETING=runtime $(cat /proc/sys/kernel/random/uuid)" >"$RUNTIME_DIR/runtime-environment"
    """

    install(
      ctx,
      "sdt-e",
      [
        runtime_environment_service_script: [:scripts_dir, "/runtime-env"],
        env_files: [["-", :runtime_dir, "/runtime-environment"]],
        dirs: [:runtime],
        env_vars: ["PORT=#{port}", "GREETING=unit"]
      ],
      %{"bin/runtime-env" => {script, 0o755}}
    )

    assert show(ctx, "sdt-e", "Requires") =~ "sdt-e-runtime-environment.service"
    assert show(ctx, "sdt-e", "After") =~ "sdt-e-runtime-environment.service"
    first = start_and_get(ctx, "sdt-e", port)
    assert first =~ ~r/greeting=runtime [0-9a-f-]{36}\n/
    assert show(ctx, "sdt-e-runtime-environment.service", "ActiveState") == "active"

    host!(ctx.host, ~w(systemctl restart sdt-e))

    second =
      eventually("sdt-e answering after restart", fn ->
        case get(port) do
          {:ok, body} when body != first -> body
          _ -> nil
        end
      end)

    assert second =~ ~r/greeting=runtime [0-9a-f-]{36}\n/

    # A crash and an automatic restart do not lose the runtime environment either.
    id = show(ctx, "sdt-e", "InvocationID")
    host!(ctx.host, ~w(systemctl kill --signal=KILL sdt-e))

    third =
      eventually("sdt-e answering after an automatic restart", fn ->
        show(ctx, "sdt-e", "InvocationID") != id &&
          case get(port) do
            {:ok, body} -> body
            _ -> nil
          end
      end)

    assert third =~ ~r/greeting=runtime [0-9a-f-]{36}\n/
    host!(ctx.host, ~w(systemctl stop sdt-e))
    assert show(ctx, "sdt-e-runtime-environment.service", "ActiveState") == "inactive"
  end

  test "old systemd (219) with paranoia still boots; chroot loads inside its root", ctx do
    port = @ports["sdt-o"]

    install(ctx, "sdt-o",
      systemd_version: 219,
      paranoia: true,
      dirs: [:runtime],
      env_vars: ["PORT=#{port}", "GREETING=old"]
    )

    assert start_and_get(ctx, "sdt-o", port) =~ "greeting=old\n"
    assert show(ctx, "sdt-o", "ProtectSystem") == "full"
    assert show(ctx, "sdt-o", "RuntimeDirectoryPreserve") == "no"
    host!(ctx.host, ~w(systemctl stop sdt-o))

    install(ctx, "sdt-c", chroot: true, read_only_paths: ["/etc/ssl"])
    assert show(ctx, "sdt-c", "RootDirectory") == "/srv/sdt-c/current"
    assert show(ctx, "sdt-c", "ExecStart") =~ "path=/bin/hello ;"
    assert show(ctx, "sdt-c", "WorkingDirectory") == "/"
    assert show(ctx, "sdt-c", "MountAPIVFS") == "yes"
    # path lists are written optional (docs/systemd.md): systemd shows the "-"
    assert show(ctx, "sdt-c", "ReadOnlyPaths") == "-/etc/ssl"
  end
end
