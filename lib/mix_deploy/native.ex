defmodule MixDeploy.Native do
  @moduledoc false
  # The Rust NIF. Every function takes the JSON document built by MixDeploy.Input.

  for source <- MixDeploy.Build.sources(), do: @external_resource(source)
  MixDeploy.Build.ensure!()

  @on_load :load_nif

  @doc false
  def load_nif do
    path =
      case :code.priv_dir(:mix_deploy) do
        {:error, _} -> MixDeploy.Build.installed_path()
        dir -> Path.join([to_string(dir), "native", "libmix_deploy_nif"])
      end

    path = if File.exists?(path <> ".so"), do: path, else: MixDeploy.Build.installed_path()

    case :erlang.load_nif(String.to_charlist(path), 0) do
      :ok -> :ok
      {:error, {:reload, _}} -> :ok
      {:error, reason} -> {:error, reason}
    end
  end

  @doc false
  def __mix_recompile__?, do: not File.exists?(MixDeploy.Build.installed_path() <> ".so")

  # Generation
  def generate(_json, _side), do: :erlang.nif_error(:nif_not_loaded)
  def init(_json, _side), do: :erlang.nif_error(:nif_not_loaded)
  def render_only(_json, _side), do: :erlang.nif_error(:nif_not_loaded)
  def resolve(_json, _side), do: :erlang.nif_error(:nif_not_loaded)
end
