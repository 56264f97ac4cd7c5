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
  older it fails and leaves `current` unchanged. `--release NAME_OR_VERSION` (or
  `RELEASE=...`) picks a release instead, older or newer: by its directory name,
  or by version, meaning the newest release of that version (read from its
  `releases/start_erl.data`). One that matches nothing fails, listing each release
  as `NAME (version V)` with the current one marked, and `current` stays.

      $ MIX_ENV=prod mix deploy.local.rollback --release 0.1.0
      ==> Version 0.1.0 is release 20261125093000
      ==> Switching current from 20261126201501 to 20261125093000
  The switch is atomic and takes the same lock as `mix deploy.local` and the
  scripts. Restart the service afterwards to run the release.

  ## Environment

  Whatever the script reads, e.g.:

    * `RELEASE` - the release to switch to (a directory name in `releases_dir`, or a version)
    * `DESTDIR` - prefixes every target path
    * `LOCK_TIMEOUT` - seconds to wait for another deploy (default 60)
    * `DEPLOY_DIR`, ... - override a config value by its upper-case name

  ## Command line options

    * `--release NAME_OR_VERSION` - the release to switch to (sets `RELEASE`)
  """
  use Mix.Task

  @usage "mix deploy.local.rollback [--release NAME_OR_VERSION]"

  @impl true
  def run(args) do
    opts = MixDeploy.Task.parse_args!(args, [release: :string], @usage)
    MixDeploy.Task.run_script("rollback", %{"RELEASE" => opts[:release]})
  end
end
