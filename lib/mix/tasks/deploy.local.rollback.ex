defmodule Mix.Tasks.Deploy.Local.Rollback do
  @shortdoc "Points current at the previous release on this machine"

  @moduledoc """
  Points current at the previous release on this machine.

      $ MIX_ENV=prod mix deploy.local.rollback
      ==> Switching current from 20261126201501 to 20261125093000
      ==> Rolled back to 20261125093000; restart the service to run it

  It does what the `deploy-rollback` script does, from the resolved `:mix_deploy`
  config: the previous release is the newest one in `releases_dir` older than
  the one `current_dir` points to, so running it again steps further back. With
  nothing older it fails and leaves `current` unchanged. `--release DIR` (or
  `RELEASE=DIR`) picks a release by its directory name instead, older or newer.
  The switch is atomic and takes the same lock as `mix deploy.local` and the
  scripts. Restart the service afterwards to run the release.

  ## Environment

    * `RELEASE` - the release to switch to (a directory name in `releases_dir`)
    * `DESTDIR` - prefixes every target path
    * `LOCK_TIMEOUT` - seconds to wait for another deploy (default 60)

  ## Command line options

    * `--release DIR` - the release to switch to (overrides `RELEASE`)
  """
  use Mix.Task

  @usage "mix deploy.local.rollback [--release DIR]"

  @impl true
  def run(args) do
    opts = MixDeploy.Task.parse_args!(args, [release: :string], @usage)
    release = opts[:release] || Mix.Tasks.Deploy.Local.env("RELEASE")
    Mix.Tasks.Deploy.Local.local(:rollback_local, %{release: release})
  end
end
