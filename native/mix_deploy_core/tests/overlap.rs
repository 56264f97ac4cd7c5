//! restart_method :overlap (issue: overlap restarts): what a config may combine it
//! with (a clear error, nothing written, otherwise), the template unit and the socket
//! read back the way systemd reads them, and the plan the scripts walk.

mod common;

use common::{a, input_in};
use mix_deploy_core::plan::{Plan, UnitKind};
use mix_deploy_core::resolve::resolve;
use mix_deploy_core::{api, input::Input, Side};
use serde_json::{json, Value};

/// The shared keys of a working :overlap config, plus `extra`.
fn config(extra: &[(&'static str, Value)]) -> Vec<(&'static str, Value)> {
    let mut pairs = vec![
        ("restart_method", a("overlap")),
        ("listen_stream", json!("127.0.0.1:4000")),
        ("systemd_version", json!(252)),
        ("app_user", json!("app")),
        ("app_group", json!("app")),
        ("health_check_url", json!("http://127.0.0.1:4000/health")),
        ("templates", json!(["start", "stop", "restart", "enable"])),
    ];
    for (key, value) in extra {
        pairs.retain(|(k, _)| k != key);
        pairs.push((key, value.clone()));
    }
    pairs
}

/// One side's config without the keys the other side alone reads.
fn side_pairs(side: Side, pairs: &[(&'static str, Value)]) -> Vec<(&'static str, Value)> {
    let deploy_only = ["health_check_url", "templates", "sudo_deploy"];
    pairs
        .iter()
        .filter(|(k, _)| side == Side::Deploy || !deploy_only.contains(k))
        .cloned()
        .collect()
}

/// Generates `side` into a fresh project dir: the files written, or the error
/// (then also checking that nothing was written).
fn generate(side: Side, pairs: &[(&'static str, Value)]) -> Result<Vec<(String, String)>, String> {
    let dir = tempfile::tempdir().unwrap();
    let doc = input_in(&side_pairs(side, pairs), dir.path().to_str().unwrap());
    match api::generate(&doc, side) {
        Ok(_) => {
            let mut files = Vec::new();
            for entry in walk(dir.path()) {
                let name = entry
                    .strip_prefix(dir.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((name, std::fs::read_to_string(&entry).unwrap()));
            }
            Ok(files)
        }
        Err(e) => {
            assert!(
                walk(dir.path()).is_empty(),
                "nothing written on an error: {e}"
            );
            Err(e.to_string())
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn file(files: &[(String, String)], suffix: &str) -> String {
    files
        .iter()
        .find(|(n, _)| n.ends_with(suffix))
        .unwrap_or_else(|| {
            panic!(
                "no {suffix} in {:?}",
                files.iter().map(|f| &f.0).collect::<Vec<_>>()
            )
        })
        .1
        .clone()
}

/// Asserts one error names the namespace, key, value and what is expected.
fn assert_error(msg: &str, ns: &str, key: &str, value: &str, says: &str) {
    let line = msg
        .lines()
        .find(|l| {
            l.contains(&format!(
                "config :{ns}, {key}: {value} is invalid: expected"
            ))
        })
        .unwrap_or_else(|| panic!("no error for :{ns} {key} {value}:\n{msg}"));
    assert!(line.contains(says), "{line}");
}

#[test]
fn a_working_config_generates_both_sides() {
    let pairs = config(&[]);
    let units = generate(Side::Systemd, &pairs).unwrap();
    let names: Vec<&str> = units
        .iter()
        .map(|(n, _)| n.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(names, ["foo-bar.socket", "foo-bar@.service"]);
    let scripts = generate(Side::Deploy, &pairs).unwrap();
    assert!(file(&scripts, "bin/deploy-restart").contains("restart_service() {"));
}

#[test]
fn overlap_needs_listen_stream_on_either_side() {
    let pairs = config(&[("listen_stream", json!([]))]);
    for (side, ns) in [(Side::Deploy, "mix_deploy"), (Side::Systemd, "mix_systemd")] {
        let msg = generate(side, &pairs).unwrap_err();
        assert_error(
            &msg,
            ns,
            "restart_method",
            ":overlap",
            "without listen_stream",
        );
        assert!(msg.contains("set listen_stream"), "{msg}");
    }
}

#[test]
fn overlap_needs_systemd_235() {
    let msg = generate(Side::Systemd, &config(&[("systemd_version", json!(234))])).unwrap_err();
    assert_error(
        &msg,
        "mix_systemd",
        "restart_method",
        ":overlap",
        "systemd 234 supports",
    );
    assert!(msg.contains("235 or newer"), "{msg}");
}

#[test]
fn what_overlap_cannot_combine_with_is_named() {
    let cases: Vec<(Side, (&'static str, Value), &str, &str)> = vec![
        (
            Side::Systemd,
            (
                "runtime_environment_service_script",
                json!("deploy-runtime-environment-file"),
            ),
            "\"/srv/foo-bar/bin/deploy-runtime-environment-file\"",
            "nil with restart_method :overlap",
        ),
        (
            Side::Systemd,
            ("service_type", a("forking")),
            ":forking",
            ":simple, :exec or :notify",
        ),
        (
            Side::Systemd,
            ("chroot", json!(true)),
            "true",
            "false with restart_method :overlap",
        ),
        (
            Side::Systemd,
            (
                "exec_start",
                json!(["/usr/bin/nice ", a("current_dir"), "/bin/foo_bar start"]),
            ),
            "\"/usr/bin/nice /srv/foo-bar/current/bin/foo_bar start\"",
            "no path in current_dir",
        ),
        (
            Side::Systemd,
            ("working_dir", json!([a("current_dir"), "/priv"])),
            "\"/srv/foo-bar/current/priv\"",
            "no path in current_dir",
        ),
        (
            Side::Deploy,
            ("health_check_url", Value::Null),
            "nil",
            "control socket",
        ),
        (
            Side::Deploy,
            ("templates", json!(["start", "appspec"])),
            "\"appspec\"",
            "also list \"restart\"",
        ),
    ];
    for (side, (key, value), shown, says) in cases {
        let msg = generate(side, &config(&[(key, value)])).expect_err(key);
        assert_error(&msg, side.namespace(), key, shown, says);
    }
    // A path of the instance's own link is what the hint says to write, and works.
    let own = [(
        "exec_start",
        json!([a("current_dir"), "-%i/bin/foo_bar start"]),
    )];
    let units = generate(Side::Systemd, &config(&own)).unwrap();
    let unit = file(&units, "foo-bar@.service");
    assert!(
        unit.contains("\nExecStart=/srv/foo-bar/current-%i/bin/foo_bar start\n"),
        "{unit}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let pairs = config(&[("listen_stream", json!([])), ("service_type", a("forking"))]);
    let msg = generate(Side::Systemd, &pairs).unwrap_err();
    assert!(msg.starts_with("2 problems found"), "{msg}");
}

// ---------------------------------------------------------------------------------
// The units, read back.

/// Directive values of a section, in order (comments and blank lines skipped).
fn values(text: &str, sect: &str, key: &str) -> Vec<String> {
    let mut current = "";
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            current = line.trim_matches(|c| c == '[' || c == ']');
        } else if let Some((k, v)) = line.split_once('=') {
            if current == sect && k == key && !line.starts_with('#') {
                out.push(v.to_string());
            }
        }
    }
    out
}

fn value(text: &str, sect: &str, key: &str) -> String {
    let v = values(text, sect, key);
    assert_eq!(v.len(), 1, "{key}= once in [{sect}]:\n{text}");
    v[0].clone()
}

fn units(extra: &[(&'static str, Value)]) -> (String, String) {
    let files = generate(Side::Systemd, &config(extra)).unwrap();
    (
        file(&files, "foo-bar@.service"),
        file(&files, "foo-bar.socket"),
    )
}

#[test]
fn the_template_unit_has_the_proven_overlap_settings() {
    let (unit, socket) = units(&[("paranoia", json!(true))]);
    assert_eq!(value(&unit, "Unit", "StartLimitIntervalSec"), "0");
    assert_eq!(value(&unit, "Unit", "Requires"), "foo-bar.socket");
    assert_eq!(value(&unit, "Service", "Sockets"), "foo-bar.socket");
    assert_eq!(value(&unit, "Service", "NonBlocking"), "yes");
    assert_eq!(
        value(&unit, "Service", "UnsetEnvironment"),
        "LISTEN_FDS LISTEN_PID LISTEN_FDNAMES"
    );
    assert_eq!(value(&unit, "Service", "RestartSec"), "1");
    assert_eq!(value(&unit, "Service", "RuntimeDirectory"), "foo-bar/%i");
    assert_eq!(value(&unit, "Service", "SyslogIdentifier"), "foo-bar-%i");
    assert_eq!(
        value(&unit, "Service", "WorkingDirectory"),
        "/srv/foo-bar/current-%i"
    );
    assert_eq!(
        value(&unit, "Service", "ExecStart"),
        "/srv/foo-bar/current-%i/bin/foo_bar start"
    );
    let post = value(&unit, "Service", "ExecStartPost");
    assert!(post.starts_with("/bin/sh -c '"), "{post}");
    assert!(
        post.ends_with("' sh /run/foo-bar.switching- /run/foo-bar %i"),
        "{post}"
    );
    let env = values(&unit, "Service", "Environment");
    for want in [
        "\"OVERLAP_INSTANCE=%i\"",
        "\"OVERLAP_CONTROL_SOCKET=/run/foo-bar/%i/control.sock\"",
        "\"RELEASE_NODE=foo_bar_%i\"",
        "\"RUNTIME_DIR=/run/foo-bar/%i\"",
        "\"RELEASE_TMP=/run/foo-bar/%i\"",
    ] {
        assert!(env.iter().any(|e| e == want), "{want} in {env:?}");
    }
    assert_eq!(value(&socket, "Socket", "Service"), "foo-bar@a.service");
    assert_eq!(value(&unit, "Install", "WantedBy"), "multi-user.target");
}

#[test]
fn the_instance_specifier_survives_quoting_of_hostile_paths() {
    let (unit, _) = units(&[("deploy_dir", json!("/srv/my app%"))]);
    assert_eq!(
        value(&unit, "Service", "ExecStart"),
        "\"/srv/my app%%/current-%i/bin/foo_bar\" start"
    );
    assert_eq!(
        value(&unit, "Service", "WorkingDirectory"),
        "/srv/my app%%/current-%i"
    );
}

#[test]
fn each_instance_gets_a_node_name_of_its_own() {
    let node = |vars: Value| {
        let (unit, _) = units(&[("env_vars", vars)]);
        values(&unit, "Service", "Environment")
            .into_iter()
            .filter(|e| e.starts_with("\"RELEASE_NODE="))
            .collect::<Vec<_>>()
    };
    assert_eq!(node(json!([])), ["\"RELEASE_NODE=foo_bar_%i\""]);
    assert_eq!(
        node(json!(["RELEASE_NODE=shop"])),
        ["\"RELEASE_NODE=shop_%i\""]
    );
    assert_eq!(
        node(json!(["RELEASE_NODE=shop@host.example"])),
        ["\"RELEASE_NODE=shop_%i@host.example\""]
    );
    // restart_sec wins over the paced default.
    let (unit, _) = units(&[("restart_sec", json!(3))]);
    assert_eq!(value(&unit, "Service", "RestartSec"), "3");
}

// ---------------------------------------------------------------------------------
// The plan the scripts walk.

fn plan(side: Side, extra: &[(&'static str, Value)]) -> Plan {
    let doc = input_in(&side_pairs(side, &config(extra)), "/nonexistent-project");
    let resolved = resolve(&Input::parse(&doc).unwrap(), side).unwrap();
    Plan::of(&resolved)
}

#[test]
fn the_instances_are_units_without_files_of_their_own() {
    let p = plan(Side::Deploy, &[]);
    let names: Vec<(&str, Option<&str>)> = p
        .units
        .iter()
        .map(|u| (u.name.as_str(), u.instance))
        .collect();
    assert_eq!(
        names,
        [
            ("foo-bar@a", Some("a")),
            ("foo-bar@b", Some("b")),
            ("foo-bar.socket", None)
        ]
    );
    assert!(p
        .units
        .iter()
        .filter(|u| u.instance.is_some())
        .all(|u| u.kind == UnitKind::Instance && u.unit_name.ends_with(".service") && u.started));
    let start: Vec<&str> = p.start_units.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(start, ["foo-bar.socket", "foo-bar@a", "foo-bar@b"]);
    let files: Vec<(&str, bool, Vec<String>)> = p
        .unit_files
        .iter()
        .map(|f| (f.name.as_str(), f.made, f.instances.clone()))
        .take(3)
        .collect();
    assert_eq!(
        files,
        [
            ("foo-bar.service", false, vec![]),
            (
                "foo-bar@.service",
                true,
                vec!["@a.service".into(), "@b.service".into()]
            ),
            ("foo-bar.socket", true, vec![]),
        ]
    );
    assert_eq!(p.service_file_suffix, "@.service");
    assert_eq!(p.unit.instance.as_deref(), Some("foo-bar@.service"));
    assert_eq!(p.unit.service, None);
    assert_eq!(
        p.deploy.unwrap().restart_partial,
        "partials/restart-overlap"
    );
    // Back to :systemctl, the template and its instances are retired.
    let p = plan(Side::Deploy, &[("restart_method", a("systemctl"))]);
    assert!(p.overlap.is_none());
    assert_eq!(p.service_file_suffix, ".service");
    let template = p
        .unit_files
        .iter()
        .find(|f| f.name == "foo-bar@.service")
        .unwrap();
    assert!(!template.made && template.instances.len() == 2);
    // So is the setup template: retiring it stops its instances, which systemctl
    // can name (the bare template it cannot).
    let setup = p
        .unit_files
        .iter()
        .find(|f| f.name == "foo-bar-setup@.service")
        .unwrap();
    assert_eq!(
        setup.instances,
        [
            "-setup@a.service".to_string(),
            "-setup@b.service".to_string()
        ]
    );
}

#[test]
fn each_instance_has_its_own_root_setup_unit() {
    // An env file in the configuration dir (the deploy user's) and tmp_dir: root's
    // work for the setup unit, as trust does it for the plain service.
    let files = generate(
        Side::Systemd,
        &config(&[
            ("dirs", json!([a("configuration"), a("tmp")])),
            (
                "env_files",
                json!([["-", a("configuration_dir"), "/environment"]]),
            ),
        ]),
    )
    .unwrap();
    assert!(
        !files
            .iter()
            .any(|(n, _)| n.ends_with("foo-bar-setup.service")),
        "no shared setup unit: stopping the old instance would stop it, and the \
         live instance with it (Requires=)"
    );
    let unit = file(&files, "foo-bar@.service");
    let setup = file(&files, "foo-bar-setup@.service");
    assert!(
        values(&unit, "Unit", "Requires").contains(&"foo-bar-setup@%i.service".to_string()),
        "{unit}"
    );
    assert!(value(&unit, "Unit", "After").contains("foo-bar-setup@%i.service"));
    assert_eq!(
        value(&unit, "Service", "EnvironmentFile"),
        "-/run/foo-bar-setup/%i/env-1"
    );
    assert_eq!(value(&setup, "Unit", "PartOf"), "foo-bar@%i.service");
    assert_eq!(
        value(&setup, "Service", "RuntimeDirectory"),
        "foo-bar-setup/%i"
    );
    assert!(
        setup.contains("sh /run/foo-bar-setup/%i /etc/foo-bar/environment /run/foo-bar-setup/%i/env-1 optional app app"),
        "{setup}"
    );
}
