defmodule Mix.Tasks.Systemd.Generate do
  @shortdoc "Generates systemd unit files from the project's :mix_systemd config"

  @moduledoc """
  Generates systemd unit files from the project's :mix_systemd config.

      $ MIX_ENV=prod mix systemd.generate
      * creating _build/prod/systemd/lib/systemd/system/foo.service

  Always writes `<service_name>.service`; with `restart_method: :systemd_flag` also
  `<service_name>-restart.path` and `<service_name>-restart.service`; with
  `runtime_environment_service_script` also `<service_name>-runtime-environment.service`.
  A unit this task wrote earlier that the config no longer produces is removed.
  Templates in `rel/templates/systemd/` (see `mix systemd.init`) override the built-ins.

  ## Command line options

    * `--check` - write nothing; exit non-zero naming each missing or stale file
  """
  use Mix.Task

  @usage "mix systemd.generate [--check]"

  @impl true
  def run(args) do
    opts = MixDeploy.Task.parse_args!(args, [check: :boolean], @usage)
    MixDeploy.Task.generate(:mix_systemd, :systemd, opts, "mix systemd.generate")
  end
end
