defmodule MixDeploy.Build.Cache do
  @moduledoc false
  # The per-user cache of built libraries, shared by every project on the machine:
  # $MIX_DEPLOY_CACHE_DIR, else $XDG_CACHE_HOME/mix_deploy, else ~/.cache/mix_deploy.
  #
  #   builds/<key>/libmix_deploy_nif.so   the library
  #   builds/<key>/sha256                 its sha256, checked before every use
  #   downloads/<artifact>.so.tar.gz      precompiled artifacts (MixDeploy.Build.Precompiled)
  #
  # An entry is written as a temporary directory and renamed into place, so a reader
  # sees a whole entry or none, and of two compiles storing the same key at once one
  # rename wins and the other is discarded. The cache only saves time: failing to
  # write it never fails a build.

  @lib "libmix_deploy_nif.so"

  @doc "The cache directory."
  def dir do
    MixDeploy.Build.non_empty_env("MIX_DEPLOY_CACHE_DIR") ||
      :filename.basedir(:user_cache, "mix_deploy") |> to_string()
  end

  @doc """
  The cache key: sha256 over the sources' paths (relative to `root`) and contents,
  the full `rustc -vV`, the target triple, the VM's NIF version and RUSTFLAGS.
  """
  def key(sources, root, toolchain) do
    files =
      sources
      |> Enum.map(&{Path.relative_to(&1, root), &1})
      |> Enum.sort()
      |> Enum.map(fn {rel, path} ->
        bytes = File.read!(path)
        ["file ", rel, " ", Integer.to_string(byte_size(bytes)), "\n", bytes]
      end)

    flags =
      for var <- ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"],
          do: [var, "=", System.get_env(var, ""), "\n"]

    [
      "mix_deploy native build cache v1\n",
      files,
      "rustc\n",
      toolchain.verbose,
      "target ",
      toolchain.host || "",
      "\nnif ",
      to_string(:erlang.system_info(:nif_version)),
      "\n",
      flags
    ]
    |> sha256()
  end

  @doc "The cached library for `key`, after checking it against its record."
  def fetch(key) do
    entry = Path.join([dir(), "builds", key])
    lib = Path.join(entry, @lib)

    with {:ok, recorded} <- File.read(Path.join(entry, "sha256")),
         {:ok, bytes} <- File.read(lib) do
      actual = sha256(bytes)

      if actual == String.trim(recorded) do
        # Recently used entries are the ones pruning keeps.
        File.touch(entry)
        {:ok, lib}
      else
        Mix.shell().info("""
        ==> mix_deploy: ignoring the cached library #{lib}: its sha256 is #{actual},
            its record says #{String.trim(recorded)}. Removing it and building again.\
        """)

        discard(entry)
        :miss
      end
    else
      _ -> :miss
    end
  end

  @doc "Stores the library at `built` under `key`, then prunes old entries."
  def store(key, built) do
    put(Path.join([dir(), "builds", key]), fn tmp ->
      bytes = File.read!(built)
      File.write!(Path.join(tmp, @lib), bytes)
      File.write!(Path.join(tmp, "sha256"), sha256(bytes) <> "\n")
    end)

    prune(Path.join(dir(), "builds"))
  end

  # Each source change adds an entry (about 2 MB); keep the most recently used.
  @keep 16
  defp prune(builds) do
    builds
    |> Path.join("*")
    |> Path.wildcard()
    |> Enum.map(&{File.stat(&1, time: :posix), &1})
    |> Enum.flat_map(fn
      {{:ok, %{mtime: mtime}}, path} -> [{mtime, path}]
      _ -> []
    end)
    |> Enum.sort(:desc)
    |> Enum.drop(@keep)
    |> Enum.each(fn {_, path} -> discard(path) end)
  end

  @doc "Where a downloaded artifact is kept."
  def download_path(name), do: Path.join([dir(), "downloads", name])

  @doc "Stores downloaded bytes as `name` (written to a temporary file, then renamed)."
  def store_download(name, bytes) do
    path = download_path(name)
    tmp = "#{path}.tmp-#{System.unique_integer([:positive])}"

    with :ok <- File.mkdir_p(Path.dirname(path)),
         :ok <- File.write(tmp, bytes),
         :ok <- File.rename(tmp, path) do
      :ok
    else
      {:error, reason} ->
        File.rm(tmp)
        warn_unwritable(path, reason)
    end
  end

  # Fills a temporary directory and renames it to `entry`. When another compile got
  # there first the rename fails (the target is not empty) and its entry stays.
  defp put(entry, fill) do
    tmp = Path.join(Path.dirname(entry), ".tmp-#{Path.basename(entry)}-#{unique()}")

    try do
      File.mkdir_p!(tmp)
      fill.(tmp)

      case File.rename(tmp, entry) do
        :ok -> :ok
        {:error, reason} when reason in [:eexist, :enotempty] -> :ok
        {:error, reason} -> warn_unwritable(entry, reason)
      end
    rescue
      e in File.Error -> warn_unwritable(entry, e.reason)
    after
      File.rm_rf(tmp)
    end
  end

  # Moved aside first, so a concurrent reader never sees half an entry.
  defp discard(entry) do
    aside = Path.join(Path.dirname(entry), ".bad-#{Path.basename(entry)}-#{unique()}")

    case File.rename(entry, aside) do
      :ok -> File.rm_rf(aside)
      {:error, _} -> File.rm_rf(entry)
    end
  end

  defp warn_unwritable(path, reason) do
    Mix.shell().info(
      "==> mix_deploy: not caching #{path} (#{:file.format_error(reason)}); set MIX_DEPLOY_CACHE_DIR to a writable directory to share builds"
    )

    :ok
  end

  defp unique, do: "#{System.os_time()}-#{System.unique_integer([:positive])}"

  @doc "Lower-case hex sha256 of iodata."
  def sha256(data), do: :crypto.hash(:sha256, data) |> Base.encode16(case: :lower)
end
