//! Root the config hands to a less-privileged account: a unit command that runs as
//! root (`!` or `+` prefix, or `app_user` root) and executes a file from a
//! directory the deploy user or the app can write. `generate` prints each as a
//! warning naming the key, the path and the account (docs/security.md).

use crate::config::Config;
use crate::quote::split_prefixes;

/// The warnings for the systemd side's unit commands; none for the deploy side.
pub fn root_grants(cfg: &Config) -> Vec<String> {
    let Some(sd) = cfg.systemd() else {
        return Vec::new();
    };
    let writable = writable_dirs(cfg);
    let mut commands: Vec<(&str, &str)> = sd
        .exec_start_pre
        .iter()
        .map(|c| ("exec_start_pre", c.as_str()))
        .collect();
    commands.push(("exec_start", sd.exec_start.as_str()));
    if let Some(stop) = &sd.exec_stop {
        commands.push(("exec_stop", stop.as_str()));
    }
    let mut out = Vec::new();
    for (key, command) in commands {
        let (prefixes, rest) = split_prefixes(command.trim_start());
        let why = if prefixes.contains('!') || prefixes.contains('+') {
            format!("as root (the '{prefixes}' prefix)")
        } else if cfg.app_user == "root" {
            "as root (app_user is root)".to_string()
        } else {
            continue;
        };
        let file = rest.split_whitespace().next().unwrap_or("");
        if let Some((dir, account)) = writable.iter().find(|(dir, _)| inside(file, dir)) {
            out.push(format!(
                "{key} runs {file} {why}, and {account} can write {dir}: that account can run \
                 anything as root. Install the file root-owned outside {dir} (e.g. with copy_files \
                 to /usr/local/libexec) or drop the prefix to run it as {app}; see docs/security.md",
                app = cfg.app_user,
            ));
        }
    }
    out
}

/// Directories a less-privileged account can write, with who: `deploy_dir` and the
/// configuration dir belong to the deploy user; the app's own dirs to the app.
fn writable_dirs(cfg: &Config) -> Vec<(String, String)> {
    let mut dirs = vec![(
        cfg.deploy_dir.clone(),
        format!("the deploy user {}", cfg.deploy_user),
    )];
    for d in cfg.dir_settings() {
        let who = if d.dir.name == "configuration" {
            format!("the deploy user {}", cfg.deploy_user)
        } else {
            format!("the app user {}", cfg.app_user)
        };
        dirs.push((d.path.to_string(), who));
    }
    dirs.retain(|(dir, _)| !dir.is_empty() && dir != "/");
    dirs
}

/// systemd's command prefixes (`@`, `-`, `:`, `+`, `!`) and the command after them.
fn inside(file: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    file.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_means_below_not_a_longer_name() {
        assert!(inside("/srv/app/bin/x", "/srv/app"));
        assert!(inside("/srv/app/bin/x", "/srv/app/"));
        assert!(!inside("/srv/application/x", "/srv/app"));
        assert!(!inside("/srv/app", "/srv/app"));
    }
}
