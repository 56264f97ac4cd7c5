//! Every user mistake gets one clear message naming the namespace, key, value and
//! what is expected (issue: bad input and hostile values).

mod common;

use common::{a, input, input_in};
use mix_deploy_core::{api, Side};
use serde_json::{json, Value};

fn err(side: Side, pairs: &[(&str, Value)]) -> String {
    match api::resolve(&input(pairs), side) {
        Ok(v) => panic!("expected an error for {pairs:?}, resolved to {v}"),
        Err(e) => e.to_string(),
    }
}

fn deploy_err(pairs: &[(&str, Value)]) -> String {
    err(Side::Deploy, pairs)
}

/// Asserts the message names the key and shows the value.
fn assert_names(msg: &str, ns: &str, key: &str, value: &str) {
    assert!(
        msg.contains(&format!("config :{ns}, {key}")),
        "should name :{ns} {key}:\n{msg}"
    );
    assert!(msg.contains(value), "should show the value {value}:\n{msg}");
    assert!(
        msg.contains("expected"),
        "should say what is expected:\n{msg}"
    );
    assert!(msg.lines().count() < 25, "one screen:\n{msg}");
}

#[test]
fn string_where_a_list_is_expected() {
    for key in ["templates", "dirs", "env_vars", "env_files", "copy_files"] {
        let msg = deploy_err(&[(key, json!("start"))]);
        assert_names(&msg, "mix_deploy", key, "\"start\"");
        assert!(msg.contains("wrap it in a list"), "{msg}");
    }
    let msg = err(Side::Systemd, &[("exec_start_pre", a("deploy_dir"))]);
    assert_names(&msg, "mix_systemd", "exec_start_pre", ":deploy_dir");
}

#[test]
fn template_names_with_paths_are_rejected() {
    for name in ["../etc/passwd", "a/b", "..", ".hidden"] {
        let msg = deploy_err(&[("templates", json!([name]))]);
        assert_names(&msg, "mix_deploy", "templates", name);
    }
}

#[test]
fn unknown_template_names_suggest_the_nearest() {
    let dir = tempfile::tempdir().unwrap();
    let doc = input_in(
        &[("templates", json!(["strat"]))],
        dir.path().to_str().unwrap(),
    );
    let msg = api::generate(&doc, Side::Deploy).unwrap_err().to_string();
    assert_names(&msg, "mix_deploy", "templates", "\"strat\"");
    assert!(msg.contains("did you mean \"start\"?"), "{msg}");
    assert!(!dir.path().join("bin").exists(), "nothing written");
}

#[test]
fn unknown_dirs_suggest_the_nearest() {
    let msg = deploy_err(&[("dirs", json!([a("runtim")]))]);
    assert_names(&msg, "mix_deploy", "dirs", ":runtim");
    assert!(msg.contains("did you mean :runtime?"), "{msg}");
}

#[test]
fn modes_must_be_octal_strings() {
    for bad in [json!("75"), json!("0999"), json!(750), json!("rwx")] {
        let msg = deploy_err(&[("runtime_directory_mode", bad.clone())]);
        assert!(msg.contains("runtime_directory_mode"), "{msg}");
        assert!(msg.contains("octal"), "{msg}");
    }
}

#[test]
fn paths_must_be_absolute() {
    for key in [
        "base_dir",
        "deploy_dir",
        "releases_dir",
        "configuration_directory_base",
    ] {
        let msg = deploy_err(&[(key, json!("srv/foo"))]);
        assert_names(&msg, "mix_deploy", key, "\"srv/foo\"");
        assert!(msg.contains("absolute path"), "{msg}");
    }
    let msg = deploy_err(&[("deploy_dir", json!("/srv/../etc"))]);
    assert!(msg.contains(".."), "{msg}");
}

#[test]
fn names_reject_slashes_spaces_and_dots() {
    for key in ["ext_name", "service_name", "release_name"] {
        for bad in ["a/b", "my app", "..", ""] {
            let msg = deploy_err(&[(key, json!(bad))]);
            assert!(
                msg.contains(&format!("config :mix_deploy, {key}")),
                "{key}={bad}: {msg}"
            );
        }
    }
}

#[test]
fn accounts_must_be_posix_names() {
    for key in ["app_user", "app_group", "deploy_user", "deploy_group"] {
        for bad in [
            "1abc",
            "a b",
            "x;rm",
            "-x",
            "averyveryveryveryverylongusername1",
        ] {
            let msg = deploy_err(&[(key, json!(bad))]);
            assert!(msg.contains("POSIX"), "{key}={bad}: {msg}");
        }
    }
    // Digits and dashes inside a name are fine (the original's `id` parsing broke on them).
    let ok = api::resolve(&input(&[("app_user", json!("app-2"))]), Side::Deploy);
    assert!(ok.is_ok());
}

#[test]
fn enums_list_the_valid_values_and_suggest() {
    let msg = deploy_err(&[("release_system", a("distilery"))]);
    assert_names(&msg, "mix_deploy", "release_system", ":distilery");
    assert!(msg.contains(":mix, :distillery"), "{msg}");
    assert!(msg.contains("did you mean :distillery?"), "{msg}");
    for (key, bad) in [
        ("restart_method", "systemctrl"),
        ("runtime_directory_preserve", "maybe"),
    ] {
        let msg = deploy_err(&[(key, json!(bad))]);
        assert_names(&msg, "mix_deploy", key, bad);
    }
    let msg = err(Side::Systemd, &[("service_type", a("oneshot"))]);
    assert_names(&msg, "mix_systemd", "service_type", ":oneshot");
}

#[test]
fn integers_are_integers() {
    for key in ["systemd_version", "keep_releases", "health_check_timeout"] {
        let msg = deploy_err(&[(key, json!("10"))]);
        assert_names(&msg, "mix_deploy", key, "\"10\"");
        assert!(msg.contains("without quotes"), "{msg}");
    }
    let msg = err(Side::Systemd, &[("limit_nofile", json!("lots"))]);
    assert_names(&msg, "mix_systemd", "limit_nofile", "\"lots\"");
    let msg = deploy_err(&[("keep_releases", json!(0))]);
    assert!(msg.contains("at least 1"), "{msg}");
}

#[test]
fn env_var_names_are_validated() {
    for bad in ["1X=a", "MY-VAR=a", "NOEQUALS", "=a", "A B=c"] {
        let msg = deploy_err(&[("env_vars", json!([bad]))]);
        assert_names(&msg, "mix_deploy", "env_vars", bad);
    }
}

#[test]
fn newlines_are_rejected_in_unit_values() {
    let msg = err(
        Side::Systemd,
        &[("env_vars", json!(["A=b\nExecStartPre=/bin/evil"]))],
    );
    assert!(msg.contains("newline"), "{msg}");
    let msg = err(Side::Systemd, &[("exec_start_wrap", json!("x\ny"))]);
    assert!(msg.contains("newline"), "{msg}");
    // Scripts quote them literally, so the deploy side accepts them.
    assert!(api::resolve(&input(&[("env_vars", json!(["A=b\nc"]))]), Side::Deploy).is_ok());
}

#[test]
fn copy_files_entries_need_src_and_dst() {
    let msg = deploy_err(&[(
        "copy_files",
        json!([{"map": [[a("src"), "config/environment"]]}]),
    )]);
    assert_names(
        &msg,
        "mix_deploy",
        "copy_files",
        "src: \"config/environment\"",
    );
    assert!(msg.contains("dst"), "{msg}");
    let msg = deploy_err(&[("copy_files", json!([{"map": [[a("dst"), "/etc/x"]]}]))]);
    assert!(msg.contains("with src"), "{msg}");
    let msg = deploy_err(&[(
        "copy_files",
        json!([{"map": [[a("src"), "a"], [a("dts"), "/x"]]}]),
    )]);
    assert!(msg.contains("did you mean dst?"), "{msg}");
    let msg = deploy_err(&[(
        "copy_files",
        json!([{"map": [[a("src"), "a"], [a("dst"), "/x"], [a("user"), "$EVIL"]]}]),
    )]);
    assert!(msg.contains("$DEPLOY_USER"), "{msg}");
}

#[test]
fn several_errors_are_reported_together() {
    let msg = deploy_err(&[
        ("base_dir", json!("srv")),
        ("keep_releases", json!("x")),
        ("dirs", json!([a("nope")])),
    ]);
    assert!(msg.starts_with("3 problems found:"), "{msg}");
}

#[test]
fn unknown_keys_only_warn() {
    let dir = tempfile::tempdir().unwrap();
    let doc = input_in(
        &[("tempaltes", json!(["start"]))],
        dir.path().to_str().unwrap(),
    );
    let report = api::generate(&doc, Side::Deploy).unwrap();
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert!(
        report.warnings[0].contains("did you mean templates?"),
        "{:?}",
        report.warnings
    );
    // So templates is empty: the first-run guidance follows.
    assert!(
        report.warnings[1].contains("templates: [] enables no script"),
        "{:?}",
        report.warnings
    );
}

#[test]
fn nothing_is_written_when_anything_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    api::generate(
        &input_in(&[("templates", json!(["start"]))], root),
        Side::Deploy,
    )
    .unwrap();
    let script = dir.path().join("bin/deploy-start");
    let before = std::fs::read(&script).unwrap();
    let bad = input_in(
        &[
            ("templates", json!(["start", "stop"])),
            ("service_name", json!("a b")),
        ],
        root,
    );
    assert!(api::generate(&bad, Side::Deploy).is_err());
    assert_eq!(std::fs::read(&script).unwrap(), before);
    assert!(!dir.path().join("bin/deploy-stop").exists());
}

#[test]
fn a_broken_user_template_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    std::fs::create_dir_all(dir.path().join("rel/templates/deploy")).unwrap();
    std::fs::write(
        dir.path().join("rel/templates/deploy/mine.hbs"),
        "echo {{deploy_dri}}\n",
    )
    .unwrap();
    let doc = input_in(&[("templates", json!(["start", "mine"]))], root);
    let msg = api::generate(&doc, Side::Deploy).unwrap_err().to_string();
    assert!(msg.contains("template mine"), "{msg}");
    assert!(msg.contains("deploy_dri"), "{msg}");
    assert!(!dir.path().join("bin").exists());
}

#[test]
fn an_invalid_key_is_reported_once_not_in_every_key_derived_from_it() {
    let msg = deploy_err(&[("ext_name", json!("foo/bar"))]);
    assert!(!msg.contains("problems found"), "one error only:\n{msg}");
    assert_names(&msg, "mix_deploy", "ext_name", "\"foo/bar\"");
}

#[test]
fn systemd_path_lists_take_their_prefixes() {
    let ok = api::resolve(
        &input(&[("read_write_paths", json!(["-/var/lib/x", "+/data"]))]),
        Side::Systemd,
    );
    assert!(ok.is_ok(), "{ok:?}");
    let msg = err(Side::Systemd, &[("read_only_paths", json!(["-relative"]))]);
    assert_names(&msg, "mix_systemd", "read_only_paths", "\"-relative\"");
    let msg = deploy_err(&[("create_dirs", json!(["-/x"]))]);
    assert!(msg.contains("absolute path"), "{msg}");
}

/// A line an attacker would like in the sudoers file (or any script).
const INJECTED: &str = "x\nALL ALL=(ALL) NOPASSWD: ALL";

#[test]
fn deploy_side_text_values_refuse_newlines() {
    // Every scalar key of the deploy side: a newline would start a line of a
    // script, a comment or the sudoers file where the value is printed unquoted
    // (target_prefix is, in comments and the sudoers file's header).
    use mix_deploy_core::spec::{Kind, SPECS};
    let mut checked = 0;
    for spec in SPECS.iter().filter(|s| s.deploy) {
        let list = matches!(
            spec.kind,
            Kind::TextList
                | Kind::EnvVars
                | Kind::Templates
                | Kind::Dirs
                | Kind::CopyFiles
                | Kind::Keys
                | Kind::PathList
                | Kind::ListenStream
        );
        if list {
            continue;
        }
        let msg = err(Side::Deploy, &[(spec.key, json!(INJECTED))]);
        assert!(
            msg.contains(&format!("config :mix_deploy, {}", spec.key)),
            "{}: {msg}",
            spec.key
        );
        checked += 1;
    }
    assert!(checked > 50, "{checked}");
    let msg = deploy_err(&[("target_prefix", json!(INJECTED))]);
    assert!(msg.contains("newline"), "{msg}");
    let msg = deploy_err(&[("version", json!("1.0\nrm -rf /"))]);
    assert!(msg.contains("a single line"), "{msg}");
}

#[test]
fn a_newline_in_target_prefix_never_reaches_the_sudoers_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let config = |prefix: &str| {
        input_in(
            &[
                ("templates", json!(["start", "stop"])),
                ("sudo_deploy", json!(true)),
                ("target_prefix", json!(prefix)),
            ],
            root,
        )
    };
    let msg = api::generate(&config(INJECTED), Side::Deploy)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("config :mix_deploy, target_prefix"), "{msg}");
    assert!(
        !dir.path().join("_build").exists() && !dir.path().join("bin").exists(),
        "nothing is written"
    );
    // A good prefix: the sudoers file has exactly the grants, one account each.
    api::generate(&config("ops-"), Side::Deploy).unwrap();
    let sudoers = std::fs::read_to_string(
        dir.path()
            .join("_build/prod/deploy/etc/sudoers.d/ops-foo-bar"),
    )
    .unwrap();
    let rules: Vec<&str> = sudoers
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && !l.trim().is_empty())
        .collect();
    assert_eq!(rules.len(), 2, "{sudoers}");
    assert!(
        rules[0].starts_with("Defaults:deploy ")
            && rules[1].starts_with("deploy ALL=(root) NOPASSWD: /bin/systemctl "),
        "{sudoers}"
    );
}

/// The sudoers grants of a config: what follows `NOPASSWD:`, one per command.
fn sudoers_grants(pairs: &[(&str, Value)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut pairs = pairs.to_vec();
    pairs.push(("sudo_deploy", json!(true)));
    api::generate(
        &input_in(&pairs, dir.path().to_str().unwrap()),
        Side::Deploy,
    )
    .unwrap();
    let text = std::fs::read_to_string(
        dir.path()
            .join("_build/prod/deploy/etc/sudoers.d/deploy-foo-bar"),
    )
    .unwrap()
    .replace("\\\n", "");
    text.lines()
        .filter_map(|l| l.split_once("NOPASSWD: "))
        .flat_map(|(_, rest)| rest.split(',').map(|g| g.trim().to_string()))
        .collect()
}

#[test]
fn sudoers_grants_exactly_what_the_scripts_in_templates_run_with_sudo() {
    let all = json!(["start", "stop", "restart"]);
    assert_eq!(
        sudoers_grants(&[
            ("templates", all.clone()),
            ("listen_stream", json!(4000)),
            ("restart_method", a("systemctl")),
        ]),
        [
            "/bin/systemctl start foo-bar.socket",
            "/bin/systemctl start foo-bar",
            "/bin/systemctl stop foo-bar.socket",
            "/bin/systemctl stop foo-bar",
            "/bin/systemctl restart foo-bar",
        ]
    );
    // :touch starts a stopped service; :systemd_flag touches the flag (no sudo).
    assert_eq!(
        sudoers_grants(&[
            ("templates", json!(["restart"])),
            ("restart_method", a("touch"))
        ]),
        ["/bin/systemctl start foo-bar"]
    );
    assert_eq!(
        sudoers_grants(&[("templates", all), ("restart_method", a("systemd_flag"))]),
        [
            "/bin/systemctl start foo-bar",
            "/bin/systemctl start foo-bar-restart.path",
            "/bin/systemctl stop foo-bar-restart.path",
            "/bin/systemctl stop foo-bar",
        ]
    );
    // :overlap: deploy-start starts the live instance (either may be), deploy-stop
    // stops both; deploy-restart's switch runs as root and is granted nothing.
    assert_eq!(
        sudoers_grants(&[
            ("templates", json!(["start", "stop", "restart"])),
            ("listen_stream", json!(4000)),
            ("restart_method", a("overlap")),
            ("health_check_url", json!("http://127.0.0.1:4000/")),
        ]),
        [
            "/bin/systemctl start foo-bar.socket",
            "/bin/systemctl start foo-bar@a",
            "/bin/systemctl start foo-bar@b",
            "/bin/systemctl stop foo-bar.socket",
            "/bin/systemctl stop foo-bar@a",
            "/bin/systemctl stop foo-bar@b",
        ]
    );
    assert_eq!(
        sudoers_grants(&[
            ("templates", json!(["restart"])),
            ("listen_stream", json!(4000)),
            ("restart_method", a("overlap")),
            ("health_check_url", json!("http://127.0.0.1:4000/")),
        ]),
        Vec::<String>::new()
    );
    // No script that needs sudo: nothing granted.
    assert_eq!(
        sudoers_grants(&[("templates", json!(["release"]))]),
        Vec::<String>::new()
    );
}
