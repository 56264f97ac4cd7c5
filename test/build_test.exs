defmodule MixDeploy.BuildTest do
  # How the native library gets installed at compile time: precompiled artifacts
  # served from a local HTTP server, the shared build cache, and the fall back to
  # cargo. Each compile runs in a fresh `elixir` process on a copy of the package
  # (the VM running the tests already has the library loaded), with a PATH and HOME
  # that hold no real cargo: a fake cargo records its calls and "builds" by copying
  # the library this suite loaded, so cargo's runs can be counted.
  use ExUnit.Case, async: true

  alias MixDeploy.Build
  alias MixDeploy.Build.{Cache, Precompiled}

  @moduletag :tmp_dir
  @real_lib Build.installed_path() <> ".so"
  @checksums "checksum-libmix_deploy_nif.txt"

  setup %{tmp_dir: tmp} do
    bin = Path.join(tmp, "bin")
    File.mkdir_p!(bin)

    %{
      tmp: tmp,
      bin: bin,
      cache: Path.join(tmp, "cache"),
      cargo_log: Path.join(tmp, "cargo.log"),
      name: Precompiled.artifact_name(Precompiled.target())
    }
  end

  describe "precompiled artifacts" do
    test "a good artifact is downloaded, verified, installed, and the NIF loads", ctx do
      artifact = artifact(File.read!(@real_lib))
      pkg = package(ctx, "a", %{ctx.name => artifact})
      url = serve(ctx, %{ctx.name => artifact})

      {out, 0} = compile(ctx, pkg, %{"MIX_DEPLOY_NIF_URL" => url})

      assert out =~ "downloading the precompiled native core #{url}/#{ctx.name}"
      assert out =~ "NIF answered: {:error, \"malformed input"
      assert File.read!(installed(pkg)) == File.read!(@real_lib)
      assert File.read!(Cache.download_path(ctx.name) |> in_cache(ctx)) == artifact
      refute File.exists?(ctx.cargo_log), "no cargo exists here, none can have run"
    end

    test "a tampered artifact is refused and nothing is installed", ctx do
      good = artifact(File.read!(@real_lib))
      tampered = artifact(File.read!(@real_lib) <> "tampered")
      assert Cache.sha256(good) != Cache.sha256(tampered)
      pkg = package(ctx, "a", %{ctx.name => good})
      url = serve(ctx, %{ctx.name => tampered})

      {out, status} = compile(ctx, pkg, %{"MIX_DEPLOY_NIF_URL" => url})

      assert status == 1
      assert out =~ "its sha256 is #{Cache.sha256(tampered)}"
      assert out =~ "records #{Cache.sha256(good)}"
      assert out =~ "The file was refused and nothing was installed"
      assert out =~ "MIX_DEPLOY_BUILD=1"
      refute File.exists?(installed(pkg))
      refute File.exists?(Cache.download_path(ctx.name) |> in_cache(ctx))
    end

    test "a missing artifact stops with one message saying what was tried", ctx do
      pkg = package(ctx, "a", %{ctx.name => artifact(File.read!(@real_lib))})
      url = serve(ctx, %{})
      fake_toolchain(ctx, "1.60.0")

      {out, 1} = compile(ctx, pkg, %{"MIX_DEPLOY_NIF_URL" => url})

      assert out =~ "could not install the precompiled native core (MIX_DEPLOY_NIF_URL is set)"
      assert out =~ "Downloading #{url}/#{ctx.name} failed: HTTP 404"
      assert out =~ "install Rust #{Build.rust_version()} or newer"
      refute File.exists?(installed(pkg))
      refute File.exists?(ctx.cargo_log)
    end

    test "a rustc older than the floor takes the precompiled path", ctx do
      artifact = artifact(File.read!(@real_lib))
      pkg = package(ctx, "a", %{ctx.name => artifact})
      fake_toolchain(ctx, "1.60.0")

      {out, 1} = compile(ctx, pkg, %{})
      assert out =~ "cargo's rustc is 1.60.0, older than the #{Build.rust_version()}"
      assert out =~ "Found no MIX_DEPLOY_NIF_URL to download #{ctx.name} from"

      url = serve(ctx, %{ctx.name => artifact})
      {out, 0} = compile(ctx, pkg, %{"MIX_DEPLOY_NIF_URL" => url})
      assert out =~ "NIF answered"
      refute File.exists?(ctx.cargo_log)
    end

    test "an unknown target falls back to cargo, saying so", ctx do
      pkg = package(ctx, "a", %{ctx.name => artifact(File.read!(@real_lib))})
      url = serve(ctx, %{})
      fake_toolchain(ctx, "1.80.0")
      env = %{"MIX_DEPLOY_NIF_URL" => url, "MIX_DEPLOY_NIF_TARGET" => "sparc64-unknown-linux-gnu"}

      {out, 0} = compile(ctx, pkg, env)

      assert out =~ "no precompiled library for sparc64-unknown-linux-gnu"
      assert out =~ "Building from source with cargo"
      assert cargo_builds(ctx) == 1
      assert out =~ "NIF answered"
    end
  end

  describe "the shared build cache" do
    test "a second project is served from the cache without running cargo", ctx do
      fake_toolchain(ctx, "1.80.0")

      {out, 0} = compile(ctx, package(ctx, "first", %{}), %{})
      assert out =~ "building native core with rustc 1.80.0"
      assert cargo_builds(ctx) == 1

      second = package(ctx, "second", %{})
      {out, 0} = compile(ctx, second, %{})
      assert out =~ "native core from the build cache"
      assert out =~ "NIF answered"
      assert cargo_builds(ctx) == 1
      assert File.read!(installed(second)) == File.read!(@real_lib)
    end

    test "another rustc or changed sources miss the cache", ctx do
      fake_toolchain(ctx, "1.80.0")
      {_, 0} = compile(ctx, package(ctx, "first", %{}), %{})

      fake_toolchain(ctx, "1.81.0")
      {_, 0} = compile(ctx, package(ctx, "second", %{}), %{})
      assert cargo_builds(ctx) == 2

      third = package(ctx, "third", %{})
      File.write!(Path.join(third, "native/mix_deploy_nif/src/lib.rs"), "\n// edit\n", [:append])
      {_, 0} = compile(ctx, third, %{})
      assert cargo_builds(ctx) == 3
    end

    test "a cached library that does not match its record is ignored and rebuilt", ctx do
      fake_toolchain(ctx, "1.80.0")
      {_, 0} = compile(ctx, package(ctx, "first", %{}), %{})
      [entry] = Path.wildcard(Path.join(ctx.cache, "builds/*"))
      cached = Path.join(entry, "libmix_deploy_nif.so")
      File.write!(cached, "not a library")

      {out, 0} = compile(ctx, package(ctx, "second", %{}), %{})

      assert out =~ "ignoring the cached library #{cached}"
      assert cargo_builds(ctx) == 2
      assert out =~ "NIF answered"

      assert Cache.sha256(File.read!(cached)) ==
               String.trim(File.read!(Path.join(entry, "sha256")))
    end

    test "a build during which a source changed is installed but not cached", ctx do
      fake_toolchain(
        ctx,
        "1.80.0",
        "echo '// edited meanwhile' >>native/mix_deploy_nif/src/lib.rs"
      )

      pkg = package(ctx, "first", %{})

      {out, 0} = compile(ctx, pkg, %{})

      assert File.read!(Path.join(pkg, "native/mix_deploy_nif/src/lib.rs")) =~ "edited meanwhile"
      assert out =~ "NIF answered"
      assert Path.wildcard(Path.join(ctx.cache, "builds/*")) == []
    end

    test "two compiles at once store one whole entry", ctx do
      # Each cargo waits (up to 30 s) until the other one has started too, so both
      # compiles miss the cache, build, and store the same key at the same time.
      arrived = Path.join(ctx.tmp, "arrived")
      File.mkdir_p!(arrived)

      fake_toolchain(ctx, "1.80.0", """
      touch '#{arrived}'/"$$"
      n=0
      while [ "$(ls '#{arrived}' | wc -l)" -lt 2 ]; do
          n=$((n + 1))
          if [ "$n" -gt 300 ]; then
              echo "fake cargo: the other compile never reached cargo: the builds did not overlap" >&2
              exit 1
          fi
          sleep 0.1
      done
      """)

      pkgs = Enum.map(~w(one two), &package(ctx, &1, %{}))

      results =
        pkgs
        |> Enum.map(fn pkg -> Task.async(fn -> compile(ctx, pkg, %{}) end) end)
        |> Enum.map(&Task.await(&1, 60_000))

      for {out, status} <- results do
        assert status == 0, out
        assert out =~ "NIF answered"
      end

      assert cargo_builds(ctx) == 2
      assert [entry] = Path.wildcard(Path.join(ctx.cache, "builds/*"))
      assert File.ls!(Path.join(ctx.cache, "builds")) == [Path.basename(entry)]
      assert File.read!(Path.join(entry, "libmix_deploy_nif.so")) == File.read!(@real_lib)
    end

    test "MIX_DEPLOY_BUILD=1 runs cargo even with a cache entry and a URL", ctx do
      fake_toolchain(ctx, "1.80.0")
      {_, 0} = compile(ctx, package(ctx, "first", %{}), %{})

      env = %{"MIX_DEPLOY_BUILD" => "1", "MIX_DEPLOY_NIF_URL" => "http://127.0.0.1:9/"}
      {out, 0} = compile(ctx, package(ctx, "second", %{}), env)

      refute out =~ "downloading"
      assert cargo_builds(ctx) == 2
    end
  end

  # A copy of the package as a dependency would have it, with its own checksum file.
  defp package(ctx, name, artifacts) do
    pkg = Path.join([ctx.tmp, "pkg", name])

    for rel <- ["lib/mix_deploy", "native", "priv/templates"] do
      File.mkdir_p!(Path.dirname(Path.join(pkg, rel)))
      File.cp_r!(Path.join(Build.root(), rel), Path.join(pkg, rel))
    end

    for rel <- ["mix.exs", "Cargo.toml", "Cargo.lock"],
        do: File.cp!(Path.join(Build.root(), rel), Path.join(pkg, rel))

    File.write!(
      Path.join(pkg, @checksums),
      Enum.map(artifacts, fn {name, bytes} -> "#{Cache.sha256(bytes)}  #{name}\n" end)
    )

    pkg
  end

  defp installed(pkg), do: Path.join(pkg, "priv/native/libmix_deploy_nif.so")

  defp in_cache(path, ctx), do: String.replace(path, Cache.dir(), ctx.cache)

  # A .so.tar.gz holding `lib`, as script/release-nif writes it.
  defp artifact(lib) do
    tgz =
      Path.join(System.tmp_dir!(), "mix-deploy-artifact-#{System.unique_integer([:positive])}")

    try do
      :ok =
        :erl_tar.create(String.to_charlist(tgz), [{~c"libmix_deploy_nif.so", lib}], [:compressed])

      File.read!(tgz)
    after
      File.rm(tgz)
    end
  end

  # Serves `files` from 127.0.0.1 on a free port; stopped when the test ends.
  defp serve(ctx, files) do
    root = Path.join(ctx.tmp, "www-#{System.unique_integer([:positive])}")
    File.mkdir_p!(root)
    Enum.each(files, fn {name, bytes} -> File.write!(Path.join(root, name), bytes) end)
    {:ok, _} = Application.ensure_all_started(:inets)

    {:ok, pid} =
      :inets.start(:httpd,
        port: 0,
        bind_address: {127, 0, 0, 1},
        server_name: ~c"mix-deploy-test",
        server_root: String.to_charlist(root),
        document_root: String.to_charlist(root)
      )

    on_exit(fn -> :inets.stop(:httpd, pid) end)
    "http://127.0.0.1:#{:httpd.info(pid)[:port]}"
  end

  # cargo and rustc stand-ins: rustc reports `version`; cargo logs its arguments and
  # "builds" the library this suite loaded into the package's target dir.
  defp fake_toolchain(ctx, version, during_build \\ "") do
    script(ctx.bin, "rustc", """
    #!/bin/sh
    printf 'rustc %s (fake)\\nbinary: rustc\\nhost: x86_64-unknown-linux-gnu\\nrelease: %s\\n' '#{version}' '#{version}'
    """)

    script(ctx.bin, "cargo", """
    #!/bin/sh
    set -eu
    echo "$*" >>'#{ctx.cargo_log}'
    mkdir -p target/release
    cp '#{@real_lib}' target/release/libmix_deploy_nif.so
    #{during_build}
    """)
  end

  defp script(dir, name, text) do
    path = Path.join(dir, name)
    File.write!(path, text)
    File.chmod!(path, 0o755)
  end

  defp cargo_builds(ctx) do
    case File.read(ctx.cargo_log) do
      {:ok, text} ->
        text |> String.split("\n", trim: true) |> Enum.count(&(&1 =~ "build --release"))

      {:error, _} ->
        0
    end
  end

  # Compiles the package's MixDeploy.Native (which installs the library) in a fresh VM
  # and calls the NIF once. Only the fake bin dir and the directories of elixir and
  # erl are on PATH, and HOME is empty, so no real cargo can be found.
  defp compile(ctx, pkg, env) do
    files =
      Enum.map(
        ~w(build.ex build/cache.ex build/precompiled.ex native.ex),
        &Path.join([pkg, "lib/mix_deploy", &1])
      )

    code = """
    Mix.start()
    {:ok, _, _} = Kernel.ParallelCompiler.compile(#{inspect(files)})
    IO.puts("NIF answered: " <> inspect(MixDeploy.Native.resolve("{}", :deploy)))
    """

    dirs =
      Enum.uniq(
        [ctx.bin, "/usr/bin", "/bin"] ++
          Enum.map(~w(elixir erl), &Path.dirname(System.find_executable(&1)))
      )

    for dir <- tl(dirs),
        tool <- ~w(cargo rustc),
        do: refute(File.exists?(Path.join(dir, tool)), "a real #{tool} in #{dir} spoils the test")

    home = Path.join(ctx.tmp, "home")
    File.mkdir_p!(home)

    base = %{
      "PATH" => Enum.join(dirs, ":"),
      "HOME" => home,
      "MIX_DEPLOY_CACHE_DIR" => ctx.cache,
      "MIX_DEPLOY_NIF_URL" => nil,
      "MIX_DEPLOY_NIF_TARGET" => nil,
      "MIX_DEPLOY_BUILD" => nil,
      "CARGO_TARGET_DIR" => nil,
      "RUSTC" => nil
    }

    System.cmd(System.find_executable("elixir"), ["-e", code],
      cd: pkg,
      env: Map.merge(base, env) |> Enum.to_list(),
      stderr_to_stdout: true
    )
  end
end
