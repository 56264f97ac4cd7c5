import Config

# Keys both tasks read (accounts, directories, the environment) are written once:
# mix deploy.generate takes what only :mix_systemd sets, and the other way round.

# The systemd unit: where the app reads its environment, which directories systemd
# creates for it, and the OS account it runs under. The deploy scripts use the same
# account, create the same directories and set the same environment.
config :mix_systemd,
  env_files: [
    # /srv/hello/etc/environment, if it exists
    ["-", :deploy_dir, "/etc/environment"],
    # /etc/hello/environment (installed by deploy-copy-files), if it exists
    ["-", :configuration_dir, "/environment"]
  ],
  env_vars: [
    "PORT=4780",
    # One node on its own: no Erlang distribution, so no epmd and no node name
    # that could clash with another release on the same machine.
    "RELEASE_DISTRIBUTION=none"
  ],
  dirs: [
    # /var/cache/hello
    :cache,
    # /etc/hello
    :configuration,
    # /var/log/hello
    :logs,
    # /run/hello
    :runtime,
    # /var/lib/hello
    :state,
    # /var/tmp/hello
    :tmp
  ],
  app_user: "app",
  app_group: "app"

# Socket activation (the end-to-end test turns it on): systemd holds the port and
# hello takes it as fd 3, so restarts refuse no connection. A key both tasks read,
# so one line does it (mix deploy.generate takes it from :mix_systemd):
#   config :mix_systemd, listen_stream: "127.0.0.1:4780"

# The deploy scripts generated into bin/ (only what the unit does not need).
config :mix_deploy,
  # Install config/environment as /etc/hello/environment: the deploy user may
  # change it, the app may only read it.
  copy_files: [
    %{
      src: "config/environment",
      dst: [:configuration_dir, "/environment"],
      user: "$DEPLOY_USER",
      group: "$APP_GROUP",
      mode: "640"
    }
  ],
  templates: [
    "init-local",
    "create-users",
    "create-dirs",
    "copy-files",
    "enable",
    "release",
    "restart",
    "rollback",
    "start",
    "stop"
  ]
