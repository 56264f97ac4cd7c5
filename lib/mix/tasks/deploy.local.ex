defmodule Mix.Tasks.Deploy.Local do
  @shortdoc "Deploys the project's release to this machine"

  @moduledoc """
  Deploys the project's release to this machine.

      $ MIX_ENV=prod mix release
      $ MIX_ENV=prod mix deploy.local
      ==> Extracting _build/prod/foo-0.1.0.tar.gz to /srv/foo/releases/20261126201501
      ==> Setting owner deploy:foo, release executables group-executable
      ==> Switching current from 20261125093000 to 20261126201501
      ==> Deployed 20261126201501; restart the service to run it

  It runs the project's `deploy-release` script: rendered in memory from the
  `release` template as `mix deploy.generate` would write it (your
  `rel/templates/deploy/release.hbs` and partials when you have them, with the
  config as it is now), then run with bash from the project directory. So it
  deploys exactly as the script does (see the README's deploy-release: timestamped
  release directories, the atomic switch of `current`, the lock shared with the
  scripts and `mix deploy.local.rollback`, pruning beyond `keep_releases`), and
  prints its messages; a failure is the script's message and exit status.

  The task does not restart the service: run `bin/deploy-restart` (or
  `systemctl restart`) afterwards.

  ## Environment

  Whatever the script reads, e.g.:

    * `RELEASE_VSN`, `RELEASE_NAME`, `RELEASE_TAR` - choose the tar
    * `DESTDIR` - prefixes every target path (a staging tree)
    * `LOCK_TIMEOUT` - seconds to wait for another deploy (default 60)
    * `DEPLOY_DIR`, `KEEP_RELEASES`, ... - override a config value by its upper-case name

  ## Command line options

    * `--release-vsn VSN` - the version to deploy (sets `RELEASE_VSN`)
  """
  use Mix.Task

  @usage "mix deploy.local [--release-vsn VSN]"

  @impl true
  def run(args) do
    opts = MixDeploy.Task.parse_args!(args, [release_vsn: :string], @usage)
    MixDeploy.Task.run_script("release", %{"RELEASE_VSN" => opts[:release_vsn]})
  end
end
