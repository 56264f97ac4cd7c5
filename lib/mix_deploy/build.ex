defmodule MixDeploy.Build do
  @moduledoc false
  # Puts the Rust NIF into the package's priv/native/ at compile time of
  # MixDeploy.Native, which Mix recompiles whenever a Rust source, manifest or
  # template changes (they are its @external_resource files). In this order:
  #
  #   1. the installed library is newer than every source: nothing to do;
  #   2. MIX_DEPLOY_NIF_URL is set, or there is no usable cargo: install the
  #      precompiled library for this target, verified against the checksum file
  #      that ships in the package (MixDeploy.Build.Precompiled);
  #   3. the per-user build cache has a library built from exactly these sources
  #      with this rustc for this target and NIF version (MixDeploy.Build.Cache);
  #   4. cargo build --release, then store the result in the cache.
  #
  # MIX_DEPLOY_BUILD=1 skips 1-3: always a source build.

  alias MixDeploy.Build.{Cache, Precompiled}
  # MixDeploy.Native calls ensure! while the parallel compiler may still be compiling
  # these: requiring them makes this module complete only after they are.
  require Cache
  require Precompiled

  @root Path.expand("../..", __DIR__)
  @lib_name "libmix_deploy_nif"

  # The floor has one home, Cargo.toml's rust-version (script/bootstrap reads it too).
  @rust_version Regex.run(
                  ~r/^rust-version\s*=\s*"([0-9.]+)"/m,
                  File.read!(Path.join(@root, "Cargo.toml")),
                  capture: :all_but_first
                )
                |> hd()

  @doc "The package root (where Cargo.toml and priv/ live)."
  def root, do: @root

  @doc "The oldest Rust that builds the native core (Cargo.toml's rust-version)."
  def rust_version, do: @rust_version

  @doc "The files whose change requires a rebuild."
  def sources do
    Path.wildcard(Path.join(@root, "native/**/*.{rs,toml}")) ++
      Path.wildcard(Path.join(@root, "priv/templates/**/*.hbs")) ++
      Enum.filter(
        [Path.join(@root, "Cargo.toml"), Path.join(@root, "Cargo.lock")],
        &File.exists?/1
      )
  end

  @doc "Where the installed library lives (without extension, as :erlang.load_nif wants)."
  def installed_path, do: Path.join([@root, "priv", "native", @lib_name])

  @doc "Installs a current library when needed; stops with a fix on failure."
  def ensure! do
    target = installed_path() <> ".so"
    newest = newest_source()
    forced? = System.get_env("MIX_DEPLOY_BUILD") in ["1", "true"]

    if forced? or stale?(target, newest) do
      install_current!(forced?, target)
      # Stamp the library with the newest source time seen *before* the build, so a
      # source edited while cargo ran still counts as newer next time.
      File.touch!(target, newest)
    end

    :ok
  end

  defp install_current!(true = _forced?, target) do
    case toolchain() do
      {:ok, tc} ->
        build_and_cache!(tc, target)

      {:error, why} ->
        fail!("""
        mix_deploy: MIX_DEPLOY_BUILD=1 asks for a source build, but #{why}.

        To fix it, either:
          * #{install_rust_hint()}\
          * unset MIX_DEPLOY_BUILD to install the precompiled library instead.
        """)
    end
  end

  defp install_current!(false, target) do
    url = non_empty_env("MIX_DEPLOY_NIF_URL")
    tc = toolchain()

    cond do
      url ->
        Precompiled.install!(url, "MIX_DEPLOY_NIF_URL is set", tc, target)
        |> fallback(target)

      match?({:ok, _}, tc) ->
        from_cache_or_source!(elem(tc, 1), target)

      true ->
        {:error, why} = tc
        Precompiled.install!(nil, why, tc, target) |> fallback(target)
    end
  end

  # Precompiled.install!/4 answers {:build, tc} when there is no artifact for this
  # target but cargo can build one.
  defp fallback(:ok, _target), do: :ok
  defp fallback({:build, tc}, target), do: from_cache_or_source!(tc, target)

  defp from_cache_or_source!(tc, target) do
    key = Cache.key(sources(), @root, tc)

    case Cache.fetch(key) do
      {:ok, cached} ->
        Mix.shell().info("==> mix_deploy: native core from the build cache (#{cached})")
        install_file!(cached, target)

      :miss ->
        build_and_cache!(tc, target, key)
    end
  end

  defp build_and_cache!(tc, target, key \\ nil) do
    key = key || Cache.key(sources(), @root, tc)
    built = build!(tc)
    # A source edited while cargo ran may or may not be in the library: such a build
    # is installed (the next compile rebuilds) but never cached under either key.
    if Cache.key(sources(), @root, tc) == key, do: Cache.store(key, built)
    install_file!(built, target)
  end

  defp newest_source do
    sources() |> Enum.map(&File.stat!(&1, time: :posix).mtime) |> Enum.max(fn -> 0 end)
  end

  defp stale?(target, newest) do
    case File.stat(target, time: :posix) do
      {:ok, %{mtime: built}} -> newest > built
      {:error, _} -> true
    end
  end

  @doc """
  The Rust toolchain cargo would use: `{:ok, %{cargo:, rustc:, version:, host:, verbose:}}`
  or `{:error, why}` when cargo is missing or its rustc is older than the floor.
  """
  def toolchain do
    with {:ok, cargo} <- find_cargo(),
         {:ok, rustc} <- find_rustc(cargo),
         {:ok, verbose} <- rustc_version(rustc) do
      fields =
        for line <- String.split(verbose, "\n"),
            [k, v] <- [String.split(line, ": ", parts: 2)],
            into: %{},
            do: {k, String.trim(v)}

      version = fields["release"] || "0.0.0"

      if Version.compare(normalize(version), normalize(@rust_version)) == :lt do
        {:error,
         "cargo's rustc is #{version}, older than the #{@rust_version} the native core needs"}
      else
        {:ok,
         %{cargo: cargo, rustc: rustc, version: version, host: fields["host"], verbose: verbose}}
      end
    end
  end

  defp find_cargo do
    case System.find_executable("cargo") ||
           Enum.find([Path.expand("~/.cargo/bin/cargo")], &File.exists?/1) do
      nil -> {:error, "cargo (Rust's build tool) was not found"}
      cargo -> {:ok, cargo}
    end
  end

  # cargo runs $RUSTC, else the rustc next to it (rustup's proxies), else PATH's.
  defp find_rustc(cargo) do
    sibling = Path.join(Path.dirname(cargo), "rustc")

    case non_empty_env("RUSTC") ||
           (File.exists?(sibling) && sibling) ||
           System.find_executable("rustc") do
      nil -> {:error, "cargo was found at #{cargo}, but rustc was not"}
      rustc -> {:ok, rustc}
    end
  end

  defp rustc_version(rustc) do
    case System.cmd(rustc, ["-vV"], stderr_to_stdout: true) do
      {out, 0} -> {:ok, out}
      {out, status} -> {:error, "`#{rustc} -vV` failed (exit #{status}): #{String.trim(out)}"}
    end
  rescue
    e -> {:error, "`#{rustc} -vV` could not run: #{Exception.message(e)}"}
  end

  defp normalize(version) do
    [core | pre] = String.split(version, "-", parts: 2)
    parts = String.split(core, ".") ++ ["0", "0"]
    Version.parse!(Enum.join(Enum.take(parts, 3), ".") <> Enum.map_join(pre, &("-" <> &1)))
  end

  @doc "How to get a Rust that builds the native core (the end of several messages)."
  def install_rust_hint do
    """
    install Rust #{@rust_version} or newer with rustup (https://rustup.rs), or
        `apt-get install cargo` where the distribution's is new enough (Debian 13,
        Ubuntu 24.04), and run the mix command again (MIX_DEPLOY_BUILD=1 builds from
        source even when MIX_DEPLOY_NIF_URL is set).
    """
  end

  defp build!(tc) do
    Mix.shell().info(
      "==> mix_deploy: building native core with rustc #{tc.version} (cargo build --release)"
    )

    {output, status} =
      System.cmd(tc.cargo, ["build", "--release", "--quiet", "-p", "mix_deploy_nif"],
        cd: @root,
        stderr_to_stdout: true
      )

    if status != 0 do
      fail!("""
      mix_deploy: cargo build of the native core failed (exit #{status}):

      #{output}
      """)
    end

    built =
      Enum.find(
        Enum.map([".so", ".dylib"], &Path.join([target_dir(), "release", @lib_name <> &1])),
        &File.exists?/1
      )

    built ||
      fail!("mix_deploy: cargo finished but #{@lib_name}.so is not in #{target_dir()}/release")
  end

  @doc false
  # Raised inside module compilation, Mix.raise would come with the compiler's stack
  # trace; the message alone says everything.
  def fail!(message) do
    Mix.shell().error(message)
    System.halt(1)
  end

  defp target_dir do
    case System.get_env("CARGO_TARGET_DIR") do
      nil -> Path.join(@root, "target")
      dir -> Path.expand(dir, @root)
    end
  end

  @doc """
  Installs `source` (a file) or `{:binary, bytes}` as the library at `target`: written
  under a temporary name in the same directory, then renamed over it. A loaded library
  overwritten in place can crash the VM; a rename leaves the loaded file intact.
  """
  def install_file!(source, target) do
    File.mkdir_p!(Path.dirname(target))
    tmp = "#{target}.tmp-#{System.unique_integer([:positive])}"

    try do
      case source do
        {:binary, bytes} -> File.write!(tmp, bytes)
        path -> File.cp!(path, tmp)
      end

      File.chmod!(tmp, 0o755)
      File.rename!(tmp, target)
    after
      File.rm(tmp)
    end
  end

  @doc false
  def non_empty_env(name) do
    case System.get_env(name) do
      nil -> nil
      "" -> nil
      value -> value
    end
  end
end
