defmodule MixDeploy.Build do
  @moduledoc false
  # Builds the Rust NIF with cargo and installs it into the package's priv/native/.
  # Runs at compile time of MixDeploy.Native, which Mix recompiles whenever a Rust
  # source, manifest or template changes (they are its @external_resource files).

  @root Path.expand("../..", __DIR__)
  @lib_name "libmix_deploy_nif"

  @doc "The package root (where Cargo.toml and priv/ live)."
  def root, do: @root

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

  @doc "Builds when needed and installs the library; raises with a fix on failure."
  def ensure! do
    target = installed_path() <> ".so"

    newest = newest_source()

    if stale?(target, newest) do
      build!()
      install!(target)
      # Stamp the library with the newest source time seen *before* the build, so a
      # source edited while cargo ran still counts as newer next time.
      File.touch!(target, newest)
    end

    :ok
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

  defp cargo do
    System.find_executable("cargo") ||
      Enum.find([Path.expand("~/.cargo/bin/cargo")], &File.exists?/1) ||
      fail!("""
      mix_deploy needs Rust's cargo to build its native core, and cargo was not found.

      Install Rust with rustup (https://rustup.rs), or on Debian/Ubuntu:

          apt-get install cargo

      then run the mix command again.
      """)
  end

  defp build! do
    Mix.shell().info("==> mix_deploy: building native core (cargo build --release)")

    {output, status} =
      System.cmd(cargo(), ["build", "--release", "--quiet", "-p", "mix_deploy_nif"],
        cd: @root,
        stderr_to_stdout: true
      )

    if status != 0 do
      fail!("""
      mix_deploy: cargo build of the native core failed (exit #{status}):

      #{output}
      """)
    end
  end

  # Raised inside module compilation, Mix.raise would come with the compiler's stack
  # trace; the message alone says everything.
  defp fail!(message) do
    Mix.shell().error(message)
    System.halt(1)
  end

  defp target_dir do
    case System.get_env("CARGO_TARGET_DIR") do
      nil -> Path.join(@root, "target")
      dir -> Path.expand(dir, @root)
    end
  end

  defp install!(target) do
    built =
      Enum.find(
        [".so", ".dylib"],
        &File.exists?(Path.join([target_dir(), "release", @lib_name <> &1]))
      ) ||
        Mix.raise(
          "mix_deploy: cargo finished but #{@lib_name}.so is not in #{target_dir()}/release"
        )

    File.mkdir_p!(Path.dirname(target))
    # Overwriting a loaded shared library in place can crash the VM: unlink first.
    File.rm(target)
    File.cp!(Path.join([target_dir(), "release", @lib_name <> built]), target)
  end
end
