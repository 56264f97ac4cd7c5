defmodule MixDeploy.Build.Precompiled do
  @moduledoc false
  # Precompiled libraries: script/release-nif builds one per target and NIF version as
  #
  #   libmix_deploy_nif-v<version>-nif-<nif version>-<target>.so.tar.gz
  #
  # and records its sha256 in checksum-libmix_deploy_nif.txt (`sha256sum` format),
  # which ships in the package. At compile time the artifact for this machine is
  # fetched from $MIX_DEPLOY_NIF_URL/<name> with :httpc (or taken from the download
  # cache), its sha256 checked against that file, and only then unpacked and
  # installed. Anything else stops with a message; an unverified file is never used.

  alias MixDeploy.Build
  alias MixDeploy.Build.Cache

  @root Path.expand("../../..", __DIR__)
  @checksum_file "checksum-libmix_deploy_nif.txt"

  @version Regex.run(~r/@version "([^"]+)"/, File.read!(Path.join(@root, "mix.exs")),
             capture: :all_but_first
           )
           |> hd()

  # The NIF version the library is built for: the rustler feature nif_version_X_Y in
  # the NIF crate's manifest. A VM with this or a later NIF version loads it.
  @nif_version Regex.run(
                 ~r/"nif_version_(\d+)_(\d+)"/,
                 File.read!(Path.join(@root, "native/mix_deploy_nif/Cargo.toml")),
                 capture: :all_but_first
               )
               |> Enum.join(".")

  @doc "The checksum file, the only trusted record of the artifacts' sha256."
  def checksum_file, do: Path.join(@root, @checksum_file)

  @doc "The NIF version artifacts are built for."
  def nif_version, do: @nif_version

  @doc "The artifact's file name for `target`."
  def artifact_name(target),
    do: "libmix_deploy_nif-v#{@version}-nif-#{@nif_version}-#{target}.so.tar.gz"

  @doc """
  This machine's target triple in Rust's spelling, from the VM's system architecture
  (`x86_64-pc-linux-gnu` -> `x86_64-unknown-linux-gnu`); MIX_DEPLOY_NIF_TARGET overrides it.
  """
  def target do
    Build.non_empty_env("MIX_DEPLOY_NIF_TARGET") ||
      rust_target(to_string(:erlang.system_info(:system_architecture)))
  end

  @doc false
  def rust_target(arch) do
    case String.split(arch, "-") do
      [cpu, _vendor, "linux", abi | _] -> "#{cpu}-unknown-linux-#{abi}"
      [cpu, "linux", abi | _] -> "#{cpu}-unknown-linux-#{abi}"
      [cpu, "apple", "darwin" <> _ | _] -> "#{cpu(cpu)}-apple-darwin"
      [cpu, _vendor, "freebsd" <> _ | _] -> "#{cpu}-unknown-freebsd"
      _ -> arch
    end
  end

  defp cpu("arm"), do: "aarch64"
  defp cpu(cpu), do: cpu

  @doc "The sha256 recorded for `name`, or nil."
  def recorded_sha256(name) do
    case File.read(checksum_file()) do
      {:ok, text} ->
        Enum.find_value(String.split(text, "\n"), fn line ->
          case String.split(line) do
            [sum, ^name] -> String.downcase(sum)
            _ -> nil
          end
        end)

      {:error, _} ->
        nil
    end
  end

  @doc """
  Installs the precompiled library at `target`. `url` is the base URL (nil when unset),
  `why` says why the precompiled path was taken, `toolchain` is Build.toolchain/0's
  answer. Returns :ok, or {:build, toolchain} when there is no artifact for this target
  and cargo can build from source; stops with a message otherwise.
  """
  def install!(url, why, toolchain, target) do
    name = artifact_name(target())

    case {recorded_sha256(name), toolchain} do
      {nil, {:ok, tc}} ->
        Mix.shell().info("""
        ==> mix_deploy: no precompiled library for #{target()} (NIF #{@nif_version}): \
        #{checksum_file()} has no #{name}. Building from source with cargo.\
        """)

        {:build, tc}

      {nil, {:error, _}} ->
        stop!(
          "Looked for #{name} in #{checksum_file()}: this version has no precompiled library for #{target()} (a maintainer can add one with script/release-nif).",
          why,
          url,
          false
        )

      {_sum, _} when url == nil ->
        stop!("Found no MIX_DEPLOY_NIF_URL to download #{name} from.", why, url)

      {sum, _} ->
        bytes = fetch!(url, name, sum, why)
        Build.install_file!({:binary, unpack!(bytes, name, why, url)}, target)
        :ok
    end
  end

  # The bytes of the artifact, verified: from the download cache when it holds a copy
  # with the recorded sha256, else downloaded (and then cached).
  defp fetch!(url, name, sum, why) do
    cached = Cache.download_path(name)

    with {:ok, bytes} <- File.read(cached), ^sum <- Cache.sha256(bytes) do
      Mix.shell().info("==> mix_deploy: precompiled native core from the cache (#{cached})")
      bytes
    else
      _ ->
        address = String.trim_trailing(url, "/") <> "/" <> name
        Mix.shell().info("==> mix_deploy: downloading the precompiled native core #{address}")

        case download(address) do
          {:ok, bytes} ->
            case Cache.sha256(bytes) do
              ^sum ->
                Cache.store_download(name, bytes)
                bytes

              actual ->
                stop!(
                  "Downloaded #{address}: its sha256 is #{actual}, but #{checksum_file()} records #{sum}. The file was refused and nothing was installed.",
                  why,
                  url
                )
            end

          {:error, reason} ->
            stop!("Downloading #{address} failed: #{reason}.", why, url)
        end
    end
  end

  defp download(address) do
    {:ok, _} = Application.ensure_all_started(:inets)
    https? = String.starts_with?(address, "https:")
    if https?, do: {:ok, _} = Application.ensure_all_started(:ssl)

    ssl =
      if https? do
        [
          verify: :verify_peer,
          cacerts: :public_key.cacerts_get(),
          depth: 4,
          customize_hostname_check: [
            match_fun: :public_key.pkix_verify_hostname_match_fun(:https)
          ]
        ]
      else
        []
      end

    set_proxy(address, https?)
    request = {String.to_charlist(address), []}

    case :httpc.request(:get, request, [timeout: 60_000, connect_timeout: 10_000, ssl: ssl],
           body_format: :binary
         ) do
      {:ok, {{_, 200, _}, _headers, body}} ->
        {:ok, body}

      {:ok, {{_, status, reason}, _headers, _body}} ->
        {:error, "HTTP #{status} #{reason}"}

      {:error, {:failed_connect, details}} ->
        {:error, "cannot connect (#{connect_reason(details)})"}

      {:error, reason} ->
        {:error, inspect(reason)}
    end
  rescue
    e -> {:error, Exception.message(e)}
  end

  defp connect_reason(details) do
    Enum.find_value(details, inspect(details), fn
      {:inet, _, reason} -> to_string(:inet.format_error(reason))
      _ -> nil
    end)
  end

  # Like Mix itself: HTTP(S)_PROXY from the environment, not for the loopback.
  defp set_proxy(address, https?) do
    names = if https?, do: ~w(HTTPS_PROXY https_proxy), else: ~w(HTTP_PROXY http_proxy)
    host = URI.parse(address).host

    with false <- host in ["127.0.0.1", "localhost", "::1"],
         proxy when is_binary(proxy) <- Enum.find_value(names, &Build.non_empty_env/1),
         %URI{host: phost, port: pport} when is_binary(phost) <- URI.parse(proxy) do
      key = if https?, do: :https_proxy, else: :proxy
      :httpc.set_options([{key, {{String.to_charlist(phost), pport}, []}}])
    end
  end

  # Only after the sha256 matched: the library is the archive's one member we use.
  defp unpack!(bytes, name, why, url) do
    case :erl_tar.extract({:binary, bytes}, [:compressed, :memory]) do
      {:ok, files} ->
        Enum.find_value(files, fn {path, data} ->
          if Path.basename(to_string(path)) == "libmix_deploy_nif.so", do: data
        end) || stop!("#{name} has no libmix_deploy_nif.so inside.", why, url)

      {:error, reason} ->
        stop!("#{name} could not be unpacked: #{inspect(reason)}.", why, url)
    end
  end

  defp stop!(tried, why, url, offer_url? \\ true) do
    set =
      if url,
        do: "now MIX_DEPLOY_NIF_URL=#{url}",
        else: "now unset"

    url_fix =
      if offer_url?,
        do: """
          * set MIX_DEPLOY_NIF_URL to the base URL where script/release-nif's artifacts
            for version #{@version} are published (#{set}), or
        """,
        else: ""

    Build.fail!("""
    mix_deploy: could not install the precompiled native core (#{why}).

    #{tried}

    To fix it#{if offer_url?, do: ", either", else: ""}:
    #{url_fix}  * build from source: #{Build.install_rust_hint()}\
    """)
  end
end
