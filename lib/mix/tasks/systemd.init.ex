defmodule Mix.Tasks.Systemd.Init do
  @shortdoc "Copies the built-in systemd unit templates into the project"

  @moduledoc """
  Copies the built-in systemd unit templates into the project.

      $ mix systemd.init
      * creating rel/templates/systemd/service.hbs

  Templates go to `template_dir` (default `rel/templates/systemd`). Edit them and run
  `mix systemd.generate`. Existing files are kept unless `--force` is given.

  ## Command line options

    * `--force`, `-f` - overwrite existing templates
  """
  use Mix.Task

  @usage "mix systemd.init [--force | -f]"

  @impl true
  def run(args) do
    opts = MixDeploy.Task.parse_args!(args, [force: :boolean], @usage)
    MixDeploy.Task.init(:mix_systemd, :systemd, opts)
  end
end
