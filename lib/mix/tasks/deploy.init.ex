defmodule Mix.Tasks.Deploy.Init do
  @shortdoc "Copies the built-in deploy script templates into the project"

  @moduledoc """
  Copies the built-in deploy script templates into the project.

      $ mix deploy.init
      * creating rel/templates/deploy/start.hbs
      * skipping rel/templates/deploy/stop.hbs

  Templates go to `template_dir` (default `rel/templates/deploy`), the partials
  they share to its `partials/` directory. Edit them and run `mix deploy.generate`;
  a file there overrides the built-in of the same name.
  Existing files are kept (reported as skipped) unless `--force` is given.

  ## Command line options

    * `--force`, `-f` - overwrite existing templates
  """
  use Mix.Task

  @usage "mix deploy.init [--force | -f]"

  @impl true
  def run(args) do
    opts = MixDeploy.Task.parse_args!(args, [force: :boolean], @usage)
    MixDeploy.Task.init(:mix_deploy, :deploy, opts)
  end
end
