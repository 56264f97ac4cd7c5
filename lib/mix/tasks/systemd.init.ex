defmodule Mix.Tasks.Systemd.Init do
  @shortdoc "Copies the built-in systemd unit templates into the project"

  @moduledoc """
  Copies the built-in systemd unit templates into the project.

      $ mix systemd.init
      * creating rel/templates/systemd/service.hbs

  Templates go to `template_dir` (default `rel/templates/systemd`). Edit them and run
  `mix systemd.generate`. Existing files are kept unless `--force` is given.

  ## Command line options

    * `--force` - overwrite existing templates
  """
  use Mix.Task

  @impl true
  def run(args) do
    {opts, _} = OptionParser.parse!(args, strict: [force: :boolean])
    MixDeploy.Task.init(:mix_systemd, :systemd, opts)
  end
end
