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

  It does what the `deploy-release` script does, from the resolved `:mix_deploy`
  config and without the script, so either can deploy and either can roll back:

    * the release tar is `_build/<env>/<release>-<vsn>.tar.gz` (mix releases with
      `steps: [:assemble, :tar]`) or, with `release_system: :distillery`,
      `_build/<env>/rel/<release>/releases/<vsn>/<release>.tar.gz`. The version is
      `--release-vsn`, else `RELEASE_VSN`, else that of the release last built
      (`releases/start_erl.data`), else the project's;
    * it is extracted into a hidden temporary directory in `releases_dir`, checked
      (`bin/<release_name>` must be executable), owned by `deploy_user:app_group`
      with the release's executables group-executable, then renamed to
      `releases_dir/<UTC YYYYmmddHHMMSS>` (a `-01`, `-02`, ... suffix when that name
      is taken, so names sort in deploy order);
    * `current_dir` becomes a relative symlink to it, replaced atomically;
    * an exclusive lock on `deploy_dir/.deploy.lock`, shared with the scripts and
      `mix deploy.local.rollback`, makes a second deploy wait (at most
      `LOCK_TIMEOUT` seconds, default 60);
    * after the switch, releases beyond `keep_releases` (default 5) are deleted,
      oldest first, never the current one nor the one a rollback would pick.

  The task does not restart the service: run `bin/deploy-restart` (or
  `systemctl restart`) afterwards.

  ## Environment

    * `RELEASE_VSN`, `RELEASE_NAME`, `RELEASE_TAR` - choose the tar, as for the script
    * `DESTDIR` - prefixes every target path (a staging tree)
    * `LOCK_TIMEOUT` - seconds to wait for another deploy (default 60)
    * `KEEP_RELEASES` - overrides the `keep_releases` config, as for the script

  ## Command line options

    * `--release-vsn VSN` - the version to deploy (overrides `RELEASE_VSN`)
  """
  use Mix.Task

  @usage "mix deploy.local [--release-vsn VSN]"

  @impl true
  def run(args) do
    opts = MixDeploy.Task.parse_args!(args, [release_vsn: :string], @usage)
    local(:deploy_local, %{release_vsn: opts[:release_vsn] || env("RELEASE_VSN")})
  end

  @doc false
  # Shared with mix deploy.local.rollback: the environment the scripts read,
  # the call into the core, and its progress lines.
  def local(fun, options) do
    options =
      Map.merge(
        %{
          release_name: env("RELEASE_NAME"),
          release_tar: env("RELEASE_TAR"),
          destdir: env("DESTDIR"),
          lock_timeout: env("LOCK_TIMEOUT"),
          keep_releases: env("KEEP_RELEASES")
        },
        options
      )

    json = MixDeploy.Task.input(:mix_deploy, options)

    case apply(MixDeploy.Native, fun, [json]) do
      {:ok, lines} ->
        Enum.each(lines, &Mix.shell().info/1)

      {:error, lines, message} ->
        Enum.each(lines, &Mix.shell().info/1)
        Mix.raise(message)
    end
  end

  @doc false
  def env(name) do
    case System.get_env(name) do
      "" -> nil
      value -> value
    end
  end
end
