defmodule MixDeploy.ReleaseTest do
  # deploy-release, deploy-extract-release, deploy-rollback and mix deploy.local /
  # deploy.local.rollback against a deploy_dir in a temp dir, with small fake
  # release tars (bin/foo_bar prints the version from the release's VERSION file).
  use ExUnit.Case, async: false
  import MixDeploy.Scratch

  @moduletag :tmp_dir

  @templates ["release", "rollback", "extract-release"]
  @reader Path.expand("support/read_current_loop.sh", __DIR__)
  # Variables the scripts and tasks read; unset so the runner's environment cannot leak in.
  @script_env ~w(RELEASE RELEASE_VSN RELEASE_NAME RELEASE_TAR DESTDIR LOCK_TIMEOUT
                 KEEP_RELEASES BUILD_PATH DEPLOY_DIR RELEASES_DIR CURRENT_DIR
                 DEPLOY_USER APP_GROUP MARK_FILE)

  setup do
    isolate_env(@script_env)
  end

  # A scratch project `foo_bar` with the three scripts generated and deploy_dir
  # under dir/srv/foo; `fun` runs inside it with a map of paths.
  defp with_site(dir, config \\ [], fun) do
    project = Path.join(dir, "project")
    deploy_dir = Path.join(dir, "srv/foo")
    config = Keyword.merge([templates: @templates, deploy_dir: deploy_dir], config)

    in_project(project, :foo_bar, [deploy: config], fn ->
      mix("deploy.generate")
      _generated = shell_lines()

      fun.(%{
        project: project,
        deploy_dir: deploy_dir,
        releases: Path.join(deploy_dir, "releases"),
        current: Path.join(deploy_dir, "current")
      })
    end)
  end

  # _build/prod/foo_bar-<vsn>.tar.gz (or at `:tar`), as `mix release` with
  # steps: [:assemble, :tar] would leave it.
  defp build(site, vsn, opts \\ []) do
    tar = opts[:tar] || Path.join(site.project, "_build/prod/foo_bar-#{vsn}.tar.gz")

    exe = """
    #!/bin/sh
    root=$(cd "$(dirname "$0")/.." && pwd -P)
    printf 'version=%s\\n' "$(cat "$root/VERSION")"
    """

    release_tar(Path.join(site.project, "src/#{vsn}"), tar, "foo_bar", vsn, exe, [
      {"VERSION", vsn}
    ])
  end

  defp script(site, name, env \\ []) do
    System.cmd(Path.join(site.project, "bin/deploy-#{name}"), [],
      cd: site.project,
      env: env,
      stderr_to_stdout: true
    )
  end

  defp deploy!(site, vsn) do
    {out, status} = script(site, "release", [{"RELEASE_VSN", vsn}])
    assert status == 0, out
    out
  end

  defp build_and_deploy!(site, versions) do
    for v <- versions do
      build(site, v)
      deploy!(site, v)
    end
  end

  defp releases(site) do
    case File.ls(site.releases) do
      {:ok, names} -> Enum.sort(names)
      {:error, _} -> []
    end
  end

  defp link(site) do
    case File.read_link(site.current) do
      {:ok, target} -> target
      {:error, _} -> nil
    end
  end

  defp run_exe(path) do
    {out, 0} = System.cmd(path, [])
    String.trim(out)
  end

  defp current_version(site), do: run_exe(Path.join(site.current, "bin/foo_bar"))
  defp version_of(site, name), do: run_exe(Path.join([site.releases, name, "bin/foo_bar"]))

  defp shell_lines do
    receive do
      {:mix_shell, :info, [line]} -> [line | shell_lines()]
    after
      0 -> []
    end
  end

  describe "generated scripts" do
    test "are shellcheck and bash -n clean, for mix and distillery", %{tmp_dir: dir} do
      for system <- [:mix, :distillery] do
        with_site(Path.join(dir, "#{system}"), [release_system: system], fn site ->
          for name <- @templates do
            path = Path.join(site.project, "bin/deploy-#{name}")
            assert shellcheck(path) == "", "#{system} #{name}"
            assert bash_n(path) == ""
          end
        end)
      end
    end
  end

  describe "deploy-release" do
    test "a reader running current/bin/foo_bar during 20 deploys sees no failure, only newer versions",
         %{tmp_dir: dir} do
      with_site(dir, fn site ->
        build(site, "0.0.1")
        deploy!(site, "0.0.1")
        versions = for i <- 1..20, do: "0.1.#{i}"
        Enum.each(versions, &build(site, &1))

        stop = Path.join(dir, "stop")
        started = Path.join(dir, "started")
        exe = Path.join(site.current, "bin/foo_bar")

        # It stops as soon as `stop` exists: every run it makes overlaps the deploys.
        reader =
          Task.async(fn ->
            System.cmd("bash", [@reader, exe, stop, started, "0"], stderr_to_stdout: true)
          end)

        wait_for_file(started)
        Enum.each(versions, &deploy!(site, &1))
        File.touch!(stop)
        {out, 0} = Task.await(reader, :infinity)

        [_, failures, seen] = Regex.run(~r/failures=(\d+) versions=\d+ seen=(\S*)$/m, out)
        assert String.to_integer(failures) == 0, out
        seen = String.split(seen, ",")
        # It read while current was switched: a version between the first and the last.
        assert List.first(seen) == "0.0.1", out

        assert length(seen -- ["0.0.1", "0.1.20"]) >= 1,
               "the reader saw no version between the first and the last: it did not overlap the switches (#{out})"

        # current only moves forward: the versions appear in deploy order.
        assert seen == Enum.filter(["0.0.1" | versions], &(&1 in seen)), out
        assert current_version(site) == "version=0.1.20"
        # keep_releases defaults to 5.
        assert length(releases(site)) == 5
      end)
    end

    test "back-to-back deploys get distinct directories in deploy order", %{tmp_dir: dir} do
      with_site(dir, [keep_releases: 10], fn site ->
        versions = for i <- 1..6, do: "0.#{i}.0"
        Enum.each(versions, &build(site, &1))
        Enum.each(versions, &deploy!(site, &1))

        names = releases(site)
        assert length(names) == 6
        assert Enum.all?(names, &(&1 =~ ~r/^\d{14}(-\d{2})?$/)), inspect(names)
        assert Enum.map(names, &version_of(site, &1)) == Enum.map(versions, &"version=#{&1}")
        assert link(site) == "releases/#{List.last(names)}"
      end)
    end

    test "a name already taken in the same second gets the next suffix", %{tmp_dir: dir} do
      with_site(dir, fn site ->
        # A release from the future stands for "this second is taken": the next
        # names must still sort after it.
        File.mkdir_p!(Path.join(site.releases, "29991231235959"))
        build(site, "0.1.0")
        deploy!(site, "0.1.0")
        deploy!(site, "0.1.0")
        assert releases(site) == ~w(29991231235959 29991231235959-01 29991231235959-02)
        assert link(site) == "releases/29991231235959-02"
      end)
    end

    test "two concurrent deploys both land whole", %{tmp_dir: dir} do
      with_site(dir, [keep_releases: 10], fn site ->
        Enum.each(~w(0.1.0 0.2.0 0.3.0), &build(site, &1))

        results =
          ~w(0.1.0 0.2.0 0.3.0)
          |> Enum.map(fn v ->
            Task.async(fn -> script(site, "release", [{"RELEASE_VSN", v}]) end)
          end)
          |> Enum.map(&Task.await(&1, :infinity))

        for {out, status} <- results, do: assert(status == 0, out)
        names = releases(site)
        assert length(names) == 3

        assert names |> Enum.map(&version_of(site, &1)) |> Enum.sort() ==
                 ~w(version=0.1.0 version=0.2.0 version=0.3.0)

        assert link(site) == "releases/#{List.last(names)}"
      end)
    end

    test "a truncated tar fails, leaving current and releases unchanged", %{tmp_dir: dir} do
      with_site(dir, fn site ->
        build(site, "0.1.0")
        deploy!(site, "0.1.0")
        before = releases(site)
        tar = build(site, "0.2.0")
        bytes = File.read!(tar)
        File.write!(tar, binary_part(bytes, 0, div(byte_size(bytes), 2)))

        {out, status} = script(site, "release", [{"RELEASE_VSN", "0.2.0"}])
        assert status != 0
        assert out =~ ~r/cannot read .*truncated or not a tar.gz/
        assert out =~ "current is unchanged"
        assert File.ls!(site.releases) |> Enum.sort() == before, "no new or hidden directory"
        assert current_version(site) == "version=0.1.0"
      end)
    end

    test "a missing tar fails naming the path and the tar step", %{tmp_dir: dir} do
      with_site(dir, fn site ->
        build(site, "0.1.0")
        deploy!(site, "0.1.0")
        before = releases(site)

        {out, status} = script(site, "release", [{"RELEASE_VSN", "9.9.9"}])
        assert status != 0
        assert out =~ "release tar not found: _build/prod/foo_bar-9.9.9.tar.gz"
        assert out =~ "steps: [:assemble, :tar]"
        assert releases(site) == before
        assert current_version(site) == "version=0.1.0"
      end)
    end

    test "without RELEASE_VSN the release last built is deployed, not the generated version",
         %{tmp_dir: dir} do
      with_site(dir, fn site ->
        # `mix release` of a bumped version rewrites start_erl.data; the script was
        # generated for 0.1.0 and is not regenerated.
        build(site, "0.2.0")
        start_erl = Path.join(site.project, "_build/prod/rel/foo_bar/releases/start_erl.data")
        File.mkdir_p!(Path.dirname(start_erl))
        File.write!(start_erl, "14.2.5 0.2.0\n")

        {out, 0} = script(site, "release")
        assert out =~ "_build/prod/foo_bar-0.2.0.tar.gz"
        assert current_version(site) == "version=0.2.0"
      end)
    end

    test "a held lock makes a deploy give up with a clear message", %{tmp_dir: dir} do
      with_site(dir, fn site ->
        build(site, "0.1.0")
        File.mkdir_p!(site.deploy_dir)
        lock = Path.join(site.deploy_dir, ".deploy.lock")

        with_lock_held(dir, lock, fn ->
          {out, status} =
            script(site, "release", [{"RELEASE_VSN", "0.1.0"}, {"LOCK_TIMEOUT", "0"}])

          assert status != 0
          assert out =~ "still holds #{lock}"

          System.put_env("LOCK_TIMEOUT", "0")

          assert_raise Mix.Error, ~r/still holds/, fn ->
            mix("deploy.local", ["--release-vsn", "0.1.0"])
          end

          System.delete_env("LOCK_TIMEOUT")
        end)

        assert releases(site) == []
        deploy!(site, "0.1.0")
      end)
    end

    test "DESTDIR prefixes every path and the link stays relative", %{tmp_dir: dir} do
      with_site(dir, fn site ->
        build(site, "0.1.0")
        stage = Path.join(dir, "stage")
        {out, 0} = script(site, "release", [{"RELEASE_VSN", "0.1.0"}, {"DESTDIR", stage}])
        refute File.exists?(site.deploy_dir), out
        staged = stage <> site.current
        {:ok, target} = File.read_link(staged)
        assert target =~ ~r"^releases/\d{14}$"
        assert run_exe(Path.join(staged, "bin/foo_bar")) == "version=0.1.0"
      end)
    end
  end

  describe "distillery" do
    test "the script and the task find the tar under rel/<name>/releases/<vsn>", %{tmp_dir: dir} do
      with_site(dir, [release_system: :distillery, keep_releases: 10], fn site ->
        for v <- ~w(0.1.0 0.2.0) do
          build(site, v,
            tar: Path.join(site.project, "_build/prod/rel/foo_bar/releases/#{v}/foo_bar.tar.gz")
          )
        end

        deploy!(site, "0.1.0")
        mix("deploy.local", ["--release-vsn", "0.2.0"])
        assert Enum.map(releases(site), &version_of(site, &1)) == ~w(version=0.1.0 version=0.2.0)

        {out, status} = script(site, "release", [{"RELEASE_VSN", "0.3.0"}])
        assert status != 0
        assert out =~ "_build/prod/rel/foo_bar/releases/0.3.0/foo_bar.tar.gz"
        assert out =~ "mix distillery.release"
      end)
    end
  end

  # One ustar member header (512 bytes): the archive a hostile deploy user could
  # hand in, with member types this machine's tar cannot be made to write (a
  # device node needs mknod), built byte by byte.
  defp ustar_header(name, type, opts) do
    field = fn s, n -> s <> :binary.copy(<<0>>, n - byte_size(s)) end
    octal = fn v, n -> field.(String.pad_leading(Integer.to_string(v, 8), n - 1, "0"), n) end
    {major, minor} = Keyword.get(opts, :dev, {0, 0})

    header =
      field.(name, 100) <>
        octal.(Keyword.get(opts, :mode, 0o644), 8) <>
        octal.(0, 8) <>
        octal.(0, 8) <>
        octal.(Keyword.get(opts, :size, 0), 12) <>
        octal.(0, 12) <>
        "        " <>
        type <>
        field.("", 100) <>
        "ustar\0" <>
        "00" <>
        field.("root", 32) <>
        field.("root", 32) <> octal.(major, 8) <> octal.(minor, 8) <> field.("", 155)

    header = field.(header, 512)
    sum = header |> :binary.bin_to_list() |> Enum.sum()
    <<before::binary-size(148), _::binary-size(8), rest::binary>> = header
    before <> String.pad_leading(Integer.to_string(sum, 8), 6, "0") <> <<0, 32>> <> rest
  end

  # A .tar.gz with a working bin/foo_bar and then the member `name` of `type`.
  defp hostile_tar(path, name, type, opts) do
    exe = "#!/bin/sh\necho version=hostile\n"
    pad = :binary.copy(<<0>>, rem(512 - rem(byte_size(exe), 512), 512))

    tar =
      ustar_header("bin/foo_bar", "0", mode: 0o755, size: byte_size(exe)) <>
        exe <> pad <> ustar_header(name, type, opts) <> :binary.copy(<<0>>, 1024)

    File.write!(path, :zlib.gzip(tar))
    path
  end

  describe "release tars: the member filter" do
    # The attack test (test/security/run) covers names, links and setuid bits on
    # a real host; device nodes and FIFOs are here, where no mknod is needed.
    test "a device node or FIFO member is refused by name; nothing extracted, current unchanged",
         %{tmp_dir: dir} do
      with_site(dir, fn site ->
        build(site, "0.1.0")
        deploy!(site, "0.1.0")
        before = {releases(site), link(site)}

        for {name, type, opts} <- [
              {"dev/null-ish", "3", dev: {1, 3}},
              {"dev/disk", "4", dev: {8, 0}},
              {"run/pipe", "6", []}
            ] do
          tar = hostile_tar(Path.join(dir, "hostile.tar.gz"), name, type, opts)
          {listing, 0} = System.cmd("tar", ["-tvzf", tar])
          assert listing =~ name, "the hostile member was not planted"

          {out, status} = script(site, "extract-release", [{"RELEASE_TAR", tar}])
          assert status != 0
          assert out =~ "member '#{name}' is a device node, FIFO or socket"
          assert out =~ "current is unchanged"
          assert {releases(site), link(site)} == before
          assert current_version(site) == "version=0.1.0"
          assert Path.wildcard(Path.join(site.releases, ".tmp-*"), match_dot: true) == []
        end

        # The same tar with a plain file there deploys: the filter is what stopped it.
        tar = hostile_tar(Path.join(dir, "plain.tar.gz"), "dev/plain", "0", [])
        {out, 0} = script(site, "extract-release", [{"RELEASE_TAR", tar}])
        assert out =~ "Switching current"
        assert current_version(site) == "version=hostile"
      end)
    end
  end

  describe "deploy-extract-release" do
    test "deploys the tar in the bundle above its bin/ the same way", %{tmp_dir: dir} do
      with_site(dir, fn site ->
        bundle = Path.join(dir, "bundle")
        File.mkdir_p!(Path.join(bundle, "bin"))

        File.cp!(
          Path.join(site.project, "bin/deploy-extract-release"),
          Path.join(bundle, "bin/x")
        )

        build(site, "0.1.0")
        deploy!(site, "0.1.0")
        build(site, "0.2.0", tar: Path.join(bundle, "foo_bar.tar.gz"))

        {out, 0} = System.cmd(Path.join(bundle, "bin/x"), [], cd: dir, stderr_to_stdout: true)
        [first, second] = releases(site)
        assert out =~ "Switching current from #{first} to #{second}"
        assert current_version(site) == "version=0.2.0"

        File.rm!(Path.join(bundle, "foo_bar.tar.gz"))
        {out, status} = System.cmd(Path.join(bundle, "bin/x"), [], stderr_to_stdout: true)
        assert status != 0
        assert out =~ "release tar not found: #{bundle}/foo_bar.tar.gz"
        assert releases(site) == [first, second]
      end)
    end
  end

  describe "deploy-rollback" do
    test "steps back one release at a time and fails past the oldest", %{tmp_dir: dir} do
      with_site(dir, fn site ->
        build_and_deploy!(site, ~w(0.1.0 0.2.0 0.3.0))
        [r1, r2, r3] = releases(site)

        {out, 0} = script(site, "rollback")
        assert out =~ "==> Switching current from #{r3} to #{r2}"
        assert current_version(site) == "version=0.2.0"
        {_, 0} = script(site, "rollback")
        assert current_version(site) == "version=0.1.0"

        {out, status} = script(site, "rollback")
        assert status != 0

        assert out =~
                 "no release to roll back to from #{r1} (version 0.1.0): no release was current before #{r1}"

        assert link(site) == "releases/#{r1}"

        {out, 0} = script(site, "rollback", [{"RELEASE", r3}])
        assert out =~ "from #{r1} to #{r3}"
        assert current_version(site) == "version=0.3.0"

        {out, status} = script(site, "rollback", [{"RELEASE", "20000101000000"}])
        assert status != 0
        assert out =~ "no release named or of version 20000101000000"
        {_, status} = script(site, "rollback", [{"RELEASE", "../../etc"}])
        assert status != 0
        assert link(site) == "releases/#{r3}"
      end)
    end

    test "RELEASE=<version> picks the newest release of that version", %{tmp_dir: dir} do
      with_site(dir, fn site ->
        build_and_deploy!(site, ~w(0.1.0 0.2.0 0.1.0 0.3.0))
        [r1, r2, r3, r4] = releases(site)

        {out, 0} = script(site, "rollback", [{"RELEASE", "0.1.0"}])
        assert out =~ "==> Version 0.1.0 is release #{r3}"
        assert out =~ "==> Switching current from #{r4} to #{r3}"
        assert link(site) == "releases/#{r3}"

        {out, 0} = script(site, "rollback", [{"RELEASE", "0.3.0"}])
        assert out =~ "from #{r3} to #{r4}"
        {_, 0} = script(site, "rollback", [{"RELEASE", "0.2.0"}])
        assert link(site) == "releases/#{r2}"
        assert current_version(site) == "version=0.2.0"

        # Unknown: each release with its version, current marked; current stays.
        {out, status} = script(site, "rollback", [{"RELEASE", "0.9.0"}])
        assert status != 0

        assert out =~
                 "no release named or of version 0.9.0 in #{site.releases}; current is unchanged"

        assert out =~
                 Enum.join(
                   [
                     "  #{r1} (version 0.1.0)",
                     "  #{r2} (version 0.2.0) <- current",
                     "  #{r3} (version 0.1.0)",
                     "  #{r4} (version 0.3.0)"
                   ],
                   "\n"
                 )

        assert link(site) == "releases/#{r2}"
      end)
    end

    test "a release's version is read only from a regular file, never through a link",
         %{tmp_dir: dir} do
      with_site(dir, fn site ->
        build_and_deploy!(site, ~w(0.1.0 0.2.0 0.3.0))
        [r1, r2, _r3] = releases(site)
        # The deploy user owns the releases: a link to a file it cannot read
        # itself, and a FIFO that would hang a reader.
        elsewhere = Path.join(dir, "root-only")
        File.write!(elsewhere, "secret 0.9.0")
        data1 = Path.join([site.releases, r1, "releases/start_erl.data"])
        File.rm!(data1)
        File.ln_s!(elsewhere, data1)
        assert {:ok, ^elsewhere} = File.read_link(data1)
        data2 = Path.join([site.releases, r2, "releases/start_erl.data"])
        File.rm!(data2)
        {_, 0} = System.cmd("mkfifo", [data2])
        assert File.stat!(data2).type == :other

        {out, status} = script(site, "rollback", [{"RELEASE", "0.9.0"}])
        assert status != 0
        assert out =~ "  #{r1}\n  #{r2}\n"
        refute out =~ "secret"
      end)
    end

    test "with a single release fails and changes nothing", %{tmp_dir: dir} do
      with_site(dir, fn site ->
        build(site, "0.1.0")
        deploy!(site, "0.1.0")
        [only] = releases(site)
        {out, status} = script(site, "rollback")
        assert status != 0

        assert out =~
                 "no release to roll back to from #{only} (version 0.1.0): no release was current before"

        assert link(site) == "releases/#{only}"
      end)
    end
  end

  describe "pruning" do
    test "keeps keep_releases, oldest removed first", %{tmp_dir: dir} do
      with_site(dir, [keep_releases: 3], fn site ->
        versions = for i <- 1..5, do: "0.#{i}.0"
        build_and_deploy!(site, versions)
        names = releases(site)

        assert Enum.map(names, &version_of(site, &1)) ==
                 ~w(version=0.3.0 version=0.4.0 version=0.5.0)
      end)
    end

    test "KEEP_RELEASES overrides the config for the task as for the script", %{tmp_dir: dir} do
      with_site(dir, [keep_releases: 10], fn site ->
        for v <- ~w(0.1.0 0.2.0 0.3.0), do: build(site, v)
        System.put_env("KEEP_RELEASES", "2")

        for v <- ~w(0.1.0 0.2.0 0.3.0), do: mix("deploy.local", ["--release-vsn", v])
        assert Enum.map(releases(site), &version_of(site, &1)) == ~w(version=0.2.0 version=0.3.0)

        System.put_env("KEEP_RELEASES", "none")
        error = assert_raise Mix.Error, fn -> mix("deploy.local", ["--release-vsn", "0.3.0"]) end
        assert error.message =~ "KEEP_RELEASES must be a positive number, got 'none'"
      end)
    end

    test "under restart_method :overlap, never deletes the release an instance runs",
         %{tmp_dir: dir} do
      overlap = [
        keep_releases: 1,
        restart_method: :overlap,
        listen_stream: "127.0.0.1:4000",
        health_check_url: "http://127.0.0.1:4000/"
      ]

      with_site(dir, overlap, fn site ->
        build_and_deploy!(site, ~w(0.1.0))
        [first] = releases(site)
        # As deploy-restart leaves it: instance a runs 0.1.0 through its own link.
        File.ln_s!("releases/#{first}", site.current <> "-a")
        build_and_deploy!(site, ~w(0.2.0 0.3.0 0.4.0))

        assert Enum.map(releases(site), &version_of(site, &1)) ==
                 ~w(version=0.1.0 version=0.3.0 version=0.4.0)
      end)
    end

    test "never deletes current nor the release a rollback would pick", %{tmp_dir: dir} do
      with_site(dir, [keep_releases: 1], fn site ->
        build_and_deploy!(site, ~w(0.1.0 0.2.0 0.3.0))
        assert length(releases(site)) == 2
        {_, 0} = script(site, "rollback")
        assert current_version(site) == "version=0.2.0"
      end)
    end
  end

  describe "mix deploy.local and deploy.local.rollback" do
    test "run the scripts, options mapped onto their environment", %{tmp_dir: dir} do
      with_site(dir, [keep_releases: 10], fn site ->
        for v <- ~w(0.1.0 0.2.0 0.3.0 0.4.0), do: build(site, v)

        deploy!(site, "0.1.0")
        mix("deploy.local", ["--release-vsn", "0.2.0"])
        task_lines = shell_lines()
        deploy!(site, "0.3.0")
        System.put_env("RELEASE_VSN", "0.4.0")
        mix("deploy.local")
        System.delete_env("RELEASE_VSN")

        names = releases(site)

        assert Enum.map(names, &version_of(site, &1)) ==
                 ~w(version=0.1.0 version=0.2.0 version=0.3.0 version=0.4.0)

        [r1, r2, r3, r4] = names
        # The script's progress, line by line, as it printed it.
        assert [
                 "==> Extracting _build/prod/foo_bar-0.2.0.tar.gz to #{site.releases}/#{r2}",
                 "==> Setting owner root:root, release executables group-executable",
                 "==> Switching current from #{r1} to #{r2}",
                 "==> Deployed #{r2}; restart the service to run it"
               ] == task_lines

        assert link(site) == "releases/#{r4}"

        mix("deploy.local.rollback")
        assert "==> Switching current from #{r4} to #{r3}" in shell_lines()
        {_, 0} = script(site, "rollback")
        assert link(site) == "releases/#{r2}"
        mix("deploy.local.rollback", ["--release", r4])
        assert current_version(site) == "version=0.4.0"
        System.put_env("RELEASE", r1)
        mix("deploy.local.rollback")
        System.delete_env("RELEASE")
        assert current_version(site) == "version=0.1.0"

        error =
          assert_raise Mix.Error, ~r/^no release to roll back to from #{r1} /, fn ->
            mix("deploy.local.rollback")
          end

        assert error.mix == 1
        assert link(site) == "releases/#{r1}"

        # By version, and an unknown one listing each release.
        mix("deploy.local.rollback", ["--release", "0.3.0"])
        assert "==> Version 0.3.0 is release #{r3}" in shell_lines()
        assert link(site) == "releases/#{r3}"

        error =
          assert_raise Mix.Error, fn -> mix("deploy.local.rollback", ["--release", "9.9.9"]) end

        assert error.message =~ "no release named or of version 9.9.9"
        assert error.message =~ "  #{r3} (version 0.3.0) <- current"
        assert error.message =~ "  #{r1} (version 0.1.0)"
        assert link(site) == "releases/#{r3}"
      end)
    end

    test "a truncated or missing tar fails and changes nothing", %{tmp_dir: dir} do
      with_site(dir, fn site ->
        build(site, "0.1.0")
        mix("deploy.local", ["--release-vsn", "0.1.0"])
        before = File.ls!(site.releases)
        tar = build(site, "0.2.0")
        File.write!(tar, binary_part(File.read!(tar), 0, 200))

        assert_raise Mix.Error,
                     ~r/cannot read .*truncated or not a tar.gz.*current is unchanged/s,
                     fn ->
                       mix("deploy.local", ["--release-vsn", "0.2.0"])
                     end

        assert_raise Mix.Error,
                     ~r/_build\/prod\/foo_bar-9\.9\.tar\.gz.*steps: \[:assemble, :tar\]/s,
                     fn -> mix("deploy.local", ["--release-vsn", "9.9"]) end

        assert File.ls!(site.releases) == before
        assert current_version(site) == "version=0.1.0"
      end)
    end

    test "the environment reaches the script: DESTDIR, RELEASES_DIR, CURRENT_DIR", %{
      tmp_dir: dir
    } do
      with_site(dir, fn site ->
        build(site, "0.1.0")
        stage = Path.join(dir, "stage")
        System.put_env("DESTDIR", stage)
        mix("deploy.local", ["--release-vsn", "0.1.0"])
        System.delete_env("DESTDIR")
        refute File.exists?(site.deploy_dir)
        {:ok, target} = File.read_link(stage <> site.current)
        assert target =~ ~r"^releases/\d{14}$"

        elsewhere = Path.join(dir, "elsewhere")
        System.put_env("RELEASES_DIR", Path.join(elsewhere, "rels"))
        System.put_env("CURRENT_DIR", Path.join(elsewhere, "live"))
        mix("deploy.local", ["--release-vsn", "0.1.0"])
        System.delete_env("RELEASES_DIR")
        System.delete_env("CURRENT_DIR")
        {:ok, target} = File.read_link(Path.join(elsewhere, "live"))
        assert target =~ ~r"^rels/\d{14}$"
        assert run_exe(Path.join(elsewhere, "live/bin/foo_bar")) == "version=0.1.0"
        refute File.exists?(site.current)
      end)
    end

    test "run the project's release.hbs and partials, rendered with the config",
         %{tmp_dir: dir} do
      with_site(dir, fn site ->
        File.mkdir_p!("rel/templates/deploy/partials")
        marker = Path.join(dir, "marker")

        File.write!("rel/templates/deploy/release.hbs", """
        #!/usr/bin/env bash
        set -eu
        echo "==> my release of {{release_name}} to {{deploy_dir}}, RELEASE_VSN=${RELEASE_VSN-}"
        {{> partials/mark}}
        """)

        File.write!("rel/templates/deploy/partials/mark.hbs", """
        printf '%s\\n' "$0" "$PWD" >"$MARK_FILE"
        """)

        System.put_env("MARK_FILE", marker)

        mix("deploy.local", ["--release-vsn", "7.7.7"])
        System.delete_env("MARK_FILE")

        assert shell_lines() == [
                 "==> my release of foo_bar to #{site.deploy_dir}, RELEASE_VSN=7.7.7"
               ]

        [script, cwd] = marker |> File.read!() |> String.split("\n", trim: true)
        assert cwd == site.project
        # A private temporary file, gone after the run.
        assert Path.basename(script) == "deploy-release"
        refute File.exists?(script)
        refute File.exists?(Path.dirname(script))
        assert releases(site) == []

        # An override of a built-in partial is used too, with the built-in template.
        File.rm!("rel/templates/deploy/release.hbs")

        File.write!("rel/templates/deploy/partials/release-deploy.hbs", """
        echo "==> would deploy ${RELEASE_TAR}"
        """)

        build(site, "0.1.0")
        mix("deploy.local", ["--release-vsn", "0.1.0"])
        assert shell_lines() == ["==> would deploy _build/prod/foo_bar-0.1.0.tar.gz"]
        assert releases(site) == []
      end)
    end

    test "a failing script's message and exit status are the Mix error", %{tmp_dir: dir} do
      with_site(dir, fn _site ->
        File.mkdir_p!("rel/templates/deploy")

        File.write!("rel/templates/deploy/rollback.hbs", """
        #!/usr/bin/env bash
        echo "==> trying"
        echo "warning: about to fail" >&2
        echo "error: it broke ({{release_name}})" >&2
        exit 3
        """)

        error = assert_raise Mix.Error, fn -> mix("deploy.local.rollback") end
        assert error.message == "warning: about to fail\nerror: it broke (foo_bar)"
        assert error.mix == 3
        assert shell_lines() == ["==> trying"]

        File.write!("rel/templates/deploy/rollback.hbs", "exit 4\n")
        error = assert_raise Mix.Error, fn -> mix("deploy.local.rollback") end
        assert error.message == "deploy-rollback failed with exit status 4"
        assert error.mix == 4

        File.write!("rel/templates/deploy/rollback.hbs", "{{nope}}\n")
        error = assert_raise Mix.Error, fn -> mix("deploy.local.rollback") end
        assert error.message =~ "template rollback: line 1, column 1: unknown variable nope"
      end)
    end
  end

  describe "mix deploy.local from the command line" do
    # A real project depending on mix_deploy, run with `mix` as a user would.
    test "a failing script ends mix with its message and exit status, no stack trace",
         %{tmp_dir: dir} do
      repo = Path.expand("..", __DIR__)
      File.mkdir_p!(Path.join(dir, "config"))
      File.mkdir_p!(Path.join(dir, "rel/templates/deploy"))

      File.write!(Path.join(dir, "mix.exs"), """
      defmodule CliApp.MixProject do
        use Mix.Project
        def project do
          [app: :cli_app, version: "0.1.0", deps: [{:mix_deploy, path: #{inspect(repo)}, runtime: false}]]
        end
      end
      """)

      File.write!(Path.join(dir, "config/config.exs"), """
      import Config
      config :mix_deploy, deploy_dir: #{inspect(Path.join(dir, "srv"))}
      """)

      File.write!(Path.join(dir, "rel/templates/deploy/release.hbs"), """
      #!/usr/bin/env bash
      echo "==> deploying {{release_name}} to ${DEPLOY_DIR:-{{deploy_dir}}}"
      echo "error: no luck today" >&2
      exit 7
      """)

      {out, status} =
        System.cmd("mix", ["deploy.local"],
          cd: dir,
          env: [{"MIX_ENV", "prod"}, {"DEPLOY_DIR", "/nowhere"}],
          stderr_to_stdout: true
        )

      assert status == 7, out
      assert out =~ "==> deploying cli_app to /nowhere\n"
      assert out =~ "** (Mix) no luck today\n"
      refute out =~ "stacktrace"
      refute out =~ ~r/\(mix(_deploy)? [0-9.]+\) lib\//
      refute File.exists?(Path.join(dir, "srv"))
    end
  end
end
