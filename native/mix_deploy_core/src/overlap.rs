//! restart_method :overlap (docs/systemd.md, "Overlap restarts"): the service is a
//! template unit whose two instances take turns on the listen_stream socket, so a
//! new release boots and is checked beside the old one before it serves. The one
//! home of its facts (the instances; what each gets: its own link to a release,
//! runtime directory, control socket and node name; the socket's drop-in naming
//! the live instance) and of the checks that keep a config within what it supports,
//! reported by whichever task finds them.

use crate::config::Config;
use crate::error::Errors;
use crate::features::{Features, SINCE};
use crate::quote::{arg_word, INSTANCE};
use crate::spec;
use crate::values::{RestartMethod, ServiceType};

/// The instances. The first is the one the socket's own `Service=` names, so the
/// first start and a host without the drop-in use it.
pub const INSTANCES: [&str; 2] = ["a", "b"];

/// The drop-in deploy-restart writes into `/etc/systemd/system/<service>.socket.d/`:
/// `Service=` naming the live instance, so a connection while nothing runs, and a
/// reboot, start that one and never the instance it stopped.
pub const LIVE_DROPIN: &str = "50-live-instance.conf";

/// The control socket's name in an instance's runtime directory.
pub const CONTROL_SOCKET: &str = "control.sock";

/// An instance the switch starts is marked by `/run/<service><HOLD><instance>`
/// (root's, in a directory only root writes) until the switch has sent it
/// `POST /accept` itself; its `ExecStartPost=` then leaves the accept to the switch.
pub const HOLD: &str = ".switching-";

/// `CPUWeight=` of the instance that boots beside the live one (systemd's default
/// is 100), until it accepts: the live instance keeps most of a small host's CPU.
pub const BOOT_CPU_WEIGHT: i64 = 20;

/// `RestartSec=` unless restart_sec is set: the start limit is off (a new instance
/// crash-looping beside the live one must not fail the socket), so restarts are paced.
pub const RESTART_SEC: i64 = 1;

/// Whether the config restarts by overlap.
pub fn on(cfg: &Config) -> bool {
    cfg.restart_method == RestartMethod::Overlap
}

/// A path of the instance: `<path>-%i` (the instance specifier as `quote::INSTANCE`,
/// for the quoting functions to keep).
pub fn instance_path(path: &str) -> String {
    format!("{path}-{INSTANCE}")
}

/// The instance's own directory below `dir`: `<dir>/%i`.
pub fn instance_dir(dir: &str) -> String {
    format!("{dir}/{INSTANCE}")
}

/// The instance's Erlang node name: the service's (`Common::node_name`:
/// `RELEASE_NODE` from env_vars, else from service_name; for Distillery
/// `RELEASE_NODE` from env_vars or the release's name), with `_%i` before any `@host`, so the two instances of one
/// release never claim the same name, nor those of another service.
pub fn node_name(cfg: &Config) -> String {
    let node = cfg.node_name().unwrap_or_else(|| {
        cfg.env_vars
            .iter()
            .rev()
            .find_map(|a| a.strip_prefix("RELEASE_NODE="))
            .unwrap_or(&cfg.release_name)
            .to_string()
    });
    match node.split_once('@') {
        Some((name, host)) => format!("{name}_{INSTANCE}@{host}"),
        None => format!("{node}_{INSTANCE}"),
    }
}

/// The template unit's `ExecStartPost=` (as the app user): an instance systemd
/// starts on its own (at boot, by `Restart=`, for a connection while none runs)
/// has no deploy to tell it to accept, so this sends `POST /accept` on its control
/// socket until the app answers 2xx (`TimeoutStartSec=` bounds it); it does nothing
/// for an instance the switch started (the hold file).
pub fn exec_start_post(cfg: &Config) -> String {
    format!(
        "/bin/sh -c 'test -e \"$$1$$3\" || until curl -sS --fail --max-time 5 -o /dev/null \
         -X POST --unix-socket \"$$2/$$3/{CONTROL_SOCKET}\" http://localhost/accept 2>/dev/null; \
         do sleep 0.2; done' sh {} {} %i",
        arg_word(&format!("/run/{}{HOLD}", cfg.service_name)),
        arg_word(&cfg.runtime_dir)
    )
}

/// The checks of an :overlap config, on the keys the task at hand reads; nothing
/// for another restart_method.
pub fn check(cfg: &Config, features: &Features) -> Result<(), Errors> {
    let mut errors = Errors::default();
    if !on(cfg) {
        return Ok(());
    }
    let method = || ":overlap".to_string();
    if cfg.listen_stream.is_empty() {
        errors.push(cfg.invalid(
            "restart_method",
            method(),
            "a restart method that works without listen_stream (:overlap hands the new release the socket systemd holds)",
            Some("set listen_stream, e.g. listen_stream: \"127.0.0.1:4000\", or use :systemctl".into()),
        ));
    }
    if !features.unset_environment {
        errors.push(cfg.invalid(
            "restart_method",
            method(),
            &format!(
                "a restart method systemd {} supports (:overlap needs systemd {} or newer: UnsetEnvironment=, a runtime directory per instance)",
                cfg.systemd_version, SINCE.unset_environment
            ),
            Some("set systemd_version to the target's version, or use :systemctl".into()),
        ));
    }
    if let Some(script) = &cfg.runtime_environment_service_script {
        errors.push(cfg.invalid(
            "runtime_environment_service_script",
            format!("{script:?}"),
            "nil with restart_method :overlap (its unit would be shared by both instances and stopped with either)",
            Some("write the environment from the app at boot, or use restart_method :systemctl".into()),
        ));
    }
    if let Some(s) = cfg.systemd() {
        if s.service_type == ServiceType::Forking {
            errors.push(cfg.invalid(
                "service_type",
                ":forking".into(),
                "a type whose main process is the VM (:simple, :exec or :notify) with restart_method :overlap",
                None,
            ));
        }
        if s.chroot {
            errors.push(cfg.invalid(
                "chroot",
                "true".into(),
                "false with restart_method :overlap (each instance runs its own release, not one root)",
                None,
            ));
        }
        check_current_dir(cfg, s, &mut errors);
    }
    if let Some(d) = cfg.deploy() {
        if d.health_check_url.is_none() {
            errors.push(cfg.invalid(
                "health_check_url",
                "nil".into(),
                "a URL with restart_method :overlap: deploy-restart asks its path on the new instance's control socket before that instance serves anyone",
                Some("e.g. health_check_url: \"http://127.0.0.1:4000/health\"; any route the app answers 2xx when it works".into()),
            ));
        }
        let listed = |t: &str| d.templates.iter().any(|x| x == t);
        if listed("appspec") && !listed("restart") {
            errors.push(cfg.invalid(
                "templates",
                "\"appspec\"".into(),
                "templates that also list \"restart\" with restart_method :overlap (ApplicationStart runs deploy-restart, which starts the new release beside the old one)",
                Some("add \"restart\"".into()),
            ));
        }
    }
    errors.into_result(())
}

/// Unit settings the user wrote that run the release through current_dir: under
/// :overlap each instance runs its own link, and current moves at every deploy.
fn check_current_dir(cfg: &Config, s: &spec::SystemdKeys, errors: &mut Errors) {
    let current = cfg.current_dir.trim_end_matches('/');
    let names_current = |text: &str| {
        text.match_indices(current).any(|(i, _)| {
            text[i + current.len()..].chars().next().map_or(true, |c| {
                c == '/' || c.is_whitespace() || c == '"' || c == '\''
            })
        })
    };
    let default_start = spec::default_exec_start(
        s.exec_start_wrap.as_deref(),
        &cfg.current_dir,
        &cfg.release_name,
        &s.start_command,
    );
    let mut lines: Vec<(&str, &str)> = s
        .exec_start_pre
        .iter()
        .map(|l| ("exec_start_pre", l.as_str()))
        .collect();
    if s.exec_start != default_start {
        lines.push(("exec_start", &s.exec_start));
    }
    lines.extend(s.exec_stop.as_deref().map(|l| ("exec_stop", l)));
    if s.working_dir != cfg.current_dir {
        lines.push(("working_dir", &s.working_dir));
    }
    for (key, line) in lines {
        if names_current(line) {
            let hint = if key == "working_dir" {
                "leave working_dir unset: it is then each instance's own link".to_string()
            } else {
                format!(
                    "write {current}-%i, the instance's link, instead: e.g. [:current_dir, \"-%i/bin/{}\"]",
                    cfg.release_name
                )
            };
            errors.push(cfg.invalid(
                key,
                format!("{line:?}"),
                "no path in current_dir with restart_method :overlap (current moves at every deploy; each instance runs its own link, <current_dir>-%i)",
                Some(hint),
            ));
        }
    }
}
