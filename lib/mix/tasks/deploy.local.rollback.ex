defmodule Mix.Tasks.Deploy.Local.Rollback do
  @shortdoc "Points current at the previous release on this machine"

  @moduledoc """
  Points current at the previous release on this machine.

      $ MIX_ENV=prod mix deploy.local.rollback
      ==> Switching current from 20261126201501 to 20261125093000
      ==> Rolled back to 20261125093000; restart the service to run it

  It runs the project's `deploy-rollback` script, rendered in memory from the
  `rollback` template as `mix deploy.generate` would write it (your
  `rel/templates/deploy/rollback.hbs` and partials when you have them): the
  previous release is the newest one in `releases_dir` older than the one
  `current_dir` points to, so running it again steps further back. With nothing
  older it fails and leaves `current` unchanged. `--release DIR` (or
  `RELEASE=DIR`) picks a release by its directory name instead, older or newer.
  The switch is atomic and takes the same lock as `mix deploy.local` and the
  scripts. Restart the service afterwards to run the release.

  ## Environment

  Whatever the script reads, e.g.:

    * `RELEASE` - the release to switch to (a directory name in `releases_dir`)
    * `DESTDIR` - prefixes every target path
    * `LOCK_TIMEOUT` - seconds to wait for another deploy (default 60)
    * `DEPLOY_DIR`, ... - override a config value by its upper-case name

  ## Command line options

    * `--release DIR` - the release to switch to (sets `RELEASE`)
  """
  use Mix.Task

  @impl true
  def run(args) do
    {opts, _} = OptionParser.parse!(args, strict: [release: :string])
    MixDeploy.Task.run_script("rollback", %{"RELEASE" => opts[:release]})
  end
end
