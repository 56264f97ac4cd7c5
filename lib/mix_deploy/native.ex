defmodule MixDeploy.Native do
  @moduledoc false
  # The Rust NIF. Every function takes the JSON document built by MixDeploy.Task.input/2.

  for source <- MixDeploy.Build.sources(), do: @external_resource(source)
  MixDeploy.Build.ensure!()

  @on_load :load_nif

  # Loading never fails the module load: a stub explains what went wrong when called,
  # which reads better than Mix's "on_load function failed".
  @doc false
  def load_nif do
    path =
      case :code.priv_dir(:mix_deploy) do
        {:error, _} -> MixDeploy.Build.installed_path()
        dir -> Path.join([to_string(dir), "native", "libmix_deploy_nif"])
      end

    path = if File.exists?(path <> ".so"), do: path, else: MixDeploy.Build.installed_path()

    case :erlang.load_nif(String.to_charlist(path), 0) do
      :ok -> :persistent_term.erase({__MODULE__, :load_error})
      {:error, reason} -> :persistent_term.put({__MODULE__, :load_error}, {path, reason})
    end

    :ok
  end

  defp not_loaded do
    {path, reason} = :persistent_term.get({__MODULE__, :load_error}, {"?", :unknown})

    hint =
      case reason do
        {:upgrade, _} ->
          "The module was recompiled in a running VM that had the old library loaded; restart it."

        _ ->
          "Rebuild it with `mix deps.compile mix_deploy --force` (or `mix compile --force` in mix_deploy)."
      end

    raise "mix_deploy's native library #{path}.so is not loaded (#{inspect(reason)}). " <> hint
  end

  # Generation
  def generate(_json, _side), do: not_loaded()
  def init(_json, _side), do: not_loaded()
  def render_only(_json, _side), do: not_loaded()
  def resolve(_json, _side), do: not_loaded()

  # The deploy script `name` rendered for mix deploy.local: {:ok, text} | {:error, message}
  def render_script(_json, _name), do: not_loaded()
end
