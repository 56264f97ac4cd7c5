defmodule Mix.Tasks.Deploy.Generate do
  @shortdoc "Generates deploy scripts from the project's :mix_deploy config"

  @moduledoc """
  Generates deploy scripts from the project's :mix_deploy config.

      $ MIX_ENV=prod mix deploy.generate
      * creating bin/deploy-start
      * unchanged bin/deploy-stop

  Each name in the `templates` config becomes `<bin_dir>/<target_prefix><name>`
  (default `bin/deploy-<name>`, mode 0755). A file `rel/templates/deploy/<name>.hbs`
  (see `mix deploy.init`) overrides the built-in template of that name; a name with
  no built-in renders your own `<name>.hbs`. Everything is rendered before the first
  file is written: a config mistake writes nothing.

  ## Command line options

    * `--check` - write nothing; exit non-zero naming each missing or stale file
  """
  use Mix.Task

  @usage "mix deploy.generate [--check]"

  @impl true
  def run(args) do
    opts = MixDeploy.Task.parse_args!(args, [check: :boolean], @usage)
    MixDeploy.Task.generate(:mix_deploy, :deploy, opts, "mix deploy.generate")
  end
end
