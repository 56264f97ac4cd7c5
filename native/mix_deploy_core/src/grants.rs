//! Root the config hands to a less-privileged account, through a unit command
//! that runs as root (`!` or `+` prefix, `app_user` root, or any command of the
//! setup unit): one that executes a file from a directory the deploy user or the
//! app can write, and one of the service that runs with env files such an
//! account can write (a line `LD_PRELOAD=...` there is code root runs).
//! `generate` prints each as a warning naming the key, the path and the account
//! (docs/security.md). Whose ground a path is comes from `trust`.

use crate::config::Config;
use crate::quote::split_prefixes;
use crate::trust;
use crate::units;

/// The warnings for the systemd side's unit commands; none for the deploy side.
pub fn root_grants(cfg: &Config) -> Vec<String> {
    let Some(sd) = cfg.systemd() else {
        return Vec::new();
    };
    let mut commands: Vec<(&str, &str, bool)> = sd
        .exec_start_pre
        .iter()
        .map(|c| ("exec_start_pre", c.as_str(), false))
        .collect();
    commands.push(("exec_start", sd.exec_start.as_str(), false));
    if let Some(stop) = &sd.exec_stop {
        commands.push(("exec_stop", stop.as_str(), false));
    }
    commands.extend(
        cfg.setup_exec_start
            .iter()
            .map(|c| ("setup_exec_start", c.as_str(), true)),
    );
    // An env file of the service that a lower account can write, if any.
    let writable_env = units::env_reads(cfg)
        .into_iter()
        .find_map(|r| trust::lower_ground_of(cfg, r.path).map(|g| (r.path, g)));
    let setup = match crate::overlap::on(cfg) {
        true => format!("{}-setup@.service", cfg.service_name),
        false => format!("{}-setup.service", cfg.service_name),
    };
    let mut out = Vec::new();
    for (key, command, in_setup) in commands {
        let (prefixes, rest) = split_prefixes(command.trim_start());
        let why = if in_setup {
            format!("as root (in {setup})")
        } else if prefixes.contains('!') || prefixes.contains('+') {
            format!("as root (the '{prefixes}' prefix)")
        } else if cfg.app_user == "root" {
            "as root (app_user is root)".to_string()
        } else {
            continue;
        };
        let file = rest.split_whitespace().next().unwrap_or("");
        if let Some(g) = trust::lower_ground_of(cfg, file) {
            out.push(format!(
                "{key} runs {file} {why}, and {account} can write {dir}: that account can run \
                 anything as root. Install the file root-owned outside {dir} (e.g. with copy_files \
                 to /usr/local/libexec) or drop the prefix to run it as {app}; see docs/security.md",
                account = g.describe(),
                dir = g.dir,
                app = cfg.app_user,
            ));
        }
        if let (false, Some((path, g))) = (in_setup, writable_env) {
            out.push(format!(
                "{key} runs {file} {why} with the service's env files, and {account} can write \
                 {path}: a line such as LD_PRELOAD=... there makes root run that account's code. \
                 Run root's commands from setup_exec_start ({setup} runs them as root without \
                 those files), or drop the prefix to run it as {app}; see docs/security.md",
                account = g.describe(),
                app = cfg.app_user,
            ));
        }
    }
    out
}
