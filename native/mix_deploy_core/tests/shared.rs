//! One config for both namespaces: a key both read, set in only one, is taken from
//! there by the other; defaults apply when neither sets it; when both set it and the
//! two sides disagree, generation warns naming both values and goes on.

mod common;

use common::{a, input_both};
use mix_deploy_core::generate;
use mix_deploy_core::input::Input;
use mix_deploy_core::resolve::{resolve, Resolved};
use mix_deploy_core::shared::{is_shared, shared_keys};
use mix_deploy_core::Side;
use serde_json::{json, Value};

type Pairs<'a> = &'a [(&'a str, Value)];

fn resolved(side: Side, deploy: Pairs, systemd: Pairs) -> Resolved {
    let doc = input_both(side, deploy, systemd, "/nonexistent-project");
    resolve(&Input::parse(&doc).unwrap(), side).unwrap_or_else(|e| panic!("{side:?}: {e}"))
}

/// The template context of a resolved config: every key under its own name.
fn ctx(r: &Resolved) -> serde_json::Map<String, Value> {
    generate::template_context(r)
}

fn both(deploy: Pairs, systemd: Pairs) -> (Resolved, Resolved) {
    (
        resolved(Side::Deploy, deploy, systemd),
        resolved(Side::Systemd, deploy, systemd),
    )
}

fn error(side: Side, deploy: Pairs, systemd: Pairs) -> String {
    let doc = input_both(side, deploy, systemd, "/nonexistent-project");
    match resolve(&Input::parse(&doc).unwrap(), side) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// A generated file of one side, by file name.
fn file(side: Side, deploy: Pairs, systemd: Pairs, name: &str) -> String {
    let root = tempfile::tempdir().unwrap();
    let doc = input_both(side, deploy, systemd, root.path().to_str().unwrap());
    let r = resolve(&Input::parse(&doc).unwrap(), side).unwrap();
    let (files, _) = generate::plan(&r, root.path(), side).unwrap();
    files
        .into_iter()
        .find(|f| f.path.file_name().is_some_and(|n| n == name))
        .unwrap_or_else(|| panic!("{name} not generated"))
        .contents
}

const TEMPLATES: &str = "templates";

fn scripts(names: &[&str]) -> (&'static str, Value) {
    (TEMPLATES, json!(names))
}

#[test]
fn the_documented_shared_keys_are_shared_and_side_keys_are_not() {
    for key in [
        "app_name",
        "ext_name",
        "service_name",
        "release_name",
        "deploy_user",
        "app_user",
        "app_group",
        "base_dir",
        "deploy_dir",
        "scripts_dir",
        "current_dir",
        "dirs",
        "tmp_directory_mode",
        "configuration_dir",
        "env_files",
        "env_vars",
        "env_lang",
        "restart_method",
        "systemd_version",
        "runtime_environment_service_script",
        "pid_file",
        "listen_stream",
    ] {
        assert!(is_shared(key), "{key} should be shared");
    }
    for key in [
        "templates",
        "copy_files",
        "keep_releases",
        "paranoia",
        "service_type",
        "exec_start_pre",
        "output_dir",
        "template_dir",
        "expand_keys",
        "unknown_key",
    ] {
        assert!(!is_shared(key), "{key} should not be shared");
    }
    assert!(shared_keys().contains(&"app_user"));
}

#[test]
fn a_key_set_under_mix_systemd_only_reaches_the_scripts() {
    let systemd = [
        ("app_user", json!("app")),
        ("app_group", json!("app")),
        ("dirs", json!([a("configuration"), a("runtime"), a("tmp")])),
        ("tmp_directory_mode", json!("700")),
        (
            "env_files",
            json!([["-", a("configuration_dir"), "/environment"]]),
        ),
        ("env_vars", json!(["PORT=8080"])),
        ("restart_method", a("systemd_flag")),
        ("systemd_version", json!(252)),
        ("base_dir", json!("/opt")),
    ];
    let deploy = [scripts(&["set-env", "create-dirs", "create-users"])];
    let (d, s) = both(&deploy, &systemd);
    for key in [
        "app_user",
        "app_group",
        "dirs",
        "tmp_directory_mode",
        "env_files",
        "env_vars",
        "restart_method",
        "systemd_version",
        "deploy_dir",
        "configuration_dir",
    ] {
        assert_eq!(ctx(&d)[key], ctx(&s)[key], "{key}");
    }
    assert_eq!(ctx(&d)["app_user"], "app");
    assert_eq!(ctx(&d)["deploy_dir"], "/opt/foo-bar");
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);

    let set_env = file(Side::Deploy, &deploy, &systemd, "deploy-set-env");
    assert!(set_env.contains("export PORT='8080'"), "{set_env}");
    assert!(set_env.contains("/etc/foo-bar/environment"), "{set_env}");
    let create_dirs = file(Side::Deploy, &deploy, &systemd, "deploy-create-dirs");
    assert!(create_dirs.contains("/var/tmp/foo-bar"), "{create_dirs}");
    let users = file(Side::Deploy, &deploy, &systemd, "deploy-create-users");
    assert!(users.contains("APP_USER=${APP_USER:-'app'}"), "{users}");
}

#[test]
fn a_key_set_under_mix_deploy_only_reaches_the_unit() {
    let deploy = [
        scripts(&["start"]),
        ("app_user", json!("www")),
        ("dirs", json!([a("state")])),
        ("env_vars", json!(["PHX_SERVER=true"])),
        (
            "runtime_environment_service_script",
            json!("deploy-runtime-environment-file"),
        ),
    ];
    let unit = file(Side::Systemd, &deploy, &[], "foo-bar.service");
    assert!(unit.contains("\nUser=www\n"), "{unit}");
    // app_group is set nowhere: the unit takes the scripts' (deploy_group), the
    // group the scripts give the files to.
    assert!(unit.contains("\nGroup=staff\n"), "{unit}");
    assert!(unit.contains("StateDirectory=foo-bar"), "{unit}");
    assert!(unit.contains("Environment=\"PHX_SERVER=true\""), "{unit}");
    let env_unit = file(
        Side::Systemd,
        &deploy,
        &[],
        "foo-bar-runtime-environment.service",
    );
    assert!(
        env_unit.contains("ExecStart=/srv/foo-bar/bin/deploy-runtime-environment-file"),
        "{env_unit}"
    );
}

#[test]
fn defaults_apply_when_neither_namespace_sets_a_key() {
    let (d, s) = both(&[], &[]);
    assert_eq!(ctx(&d)["app_user"], "deploy");
    assert_eq!(ctx(&s)["app_user"], "foo-bar");
    assert_eq!(ctx(&d)["deploy_dir"], "/srv/foo-bar");
    assert_eq!(ctx(&s)["deploy_dir"], "/srv/foo-bar");
}

#[test]
fn both_namespaces_keep_their_own_values_and_a_disagreement_warns() {
    let deploy = [scripts(&["start"]), ("app_user", json!("app"))];
    let systemd = [("app_user", json!("www")), ("app_group", json!("www"))];
    for side in [Side::Deploy, Side::Systemd] {
        let r = resolved(side, &deploy, &systemd);
        let expect = if side == Side::Deploy { "app" } else { "www" };
        assert_eq!(ctx(&r)["app_user"], expect);
        let w: Vec<&String> = r
            .warnings
            .iter()
            .filter(|w| w.starts_with("app_user:"))
            .collect();
        assert_eq!(w.len(), 1, "{side:?}: {:?}", r.warnings);
        assert!(
            w[0].contains("\"app\" (config :mix_deploy)")
                && w[0].contains("\"www\" (config :mix_systemd)"),
            "{}",
            w[0]
        );
    }
    // app_group: mix_systemd sets it, so mix_deploy takes it: no warning for it.
    let d = resolved(Side::Deploy, &deploy, &systemd);
    assert_eq!(ctx(&d)["app_group"], "www");
    assert!(
        !d.warnings.iter().any(|w| w.starts_with("app_group")),
        "{:?}",
        d.warnings
    );
    // Generation goes on: the unit is written with its own value.
    let unit = file(Side::Systemd, &deploy, &systemd, "foo-bar.service");
    assert!(unit.contains("\nUser=www\n"));
}

#[test]
fn equal_values_in_both_namespaces_do_not_warn() {
    let deploy = [
        scripts(&["start"]),
        ("app_user", json!("app")),
        ("app_group", json!("app")),
        ("dirs", json!([a("tmp"), a("runtime")])),
        (
            "env_files",
            json!([["-", a("deploy_dir"), "/etc/environment"]]),
        ),
    ];
    let systemd = [
        ("app_user", json!("app")),
        ("app_group", a("app")),
        ("dirs", json!([a("runtime"), a("tmp")])),
        ("env_files", json!(["-/srv/foo-bar/etc/environment"])),
    ];
    let (d, s) = both(&deploy, &systemd);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn with_scripts_and_no_account_set_the_unit_runs_as_the_account_the_scripts_create() {
    // Nothing set anywhere: the scripts create (and give the files to) the deploy
    // account as app user; the unit must run as it, not as an ext_name nobody made.
    let deploy = [scripts(&["create-users", "create-dirs"])];
    let (d, s) = both(&deploy, &[]);
    assert_eq!(ctx(&d)["app_user"], json!("deploy"));
    assert_eq!(ctx(&d)["app_group"], json!("staff"));
    assert_eq!(ctx(&s)["app_user"], json!("deploy"));
    assert_eq!(ctx(&s)["app_group"], json!("staff"));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let unit = file(Side::Systemd, &deploy, &[], "foo-bar.service");
    assert!(
        unit.contains("\nUser=deploy\n") && unit.contains("\nGroup=staff\n"),
        "{unit}"
    );

    // app_user set once: app_group still follows the scripts (deploy_group).
    let systemd = [("app_user", json!("app"))];
    let (d, s) = both(&deploy, &systemd);
    assert_eq!(ctx(&s)["app_user"], json!("app"));
    assert_eq!(ctx(&s)["app_group"], ctx(&d)["app_group"]);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);

    // mix_systemd used on its own (no scripts): its own default, ext_name.
    let s = resolved(Side::Systemd, &[], &[]);
    assert_eq!(ctx(&s)["app_user"], json!("foo-bar"));
    assert_eq!(ctx(&s)["app_group"], json!("foo-bar"));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn a_default_never_makes_the_unit_run_as_root() {
    // deploy_user root and no app_user: the scripts' default would be root, so the
    // unit keeps its own (ext_name) and generation warns about the difference.
    let deploy = [scripts(&["create-users"]), ("deploy_user", json!("root"))];
    let (d, s) = both(&deploy, &[]);
    assert_eq!(ctx(&d)["app_user"], json!("root"));
    assert_eq!(ctx(&s)["app_user"], json!("foo-bar"));
    let w = d
        .warnings
        .iter()
        .find(|w| w.starts_with("app_user:"))
        .unwrap_or_else(|| panic!("{:?}", d.warnings));
    assert!(
        w.contains("\"root\" (the default of :mix_deploy: deploy_user)")
            && w.contains("\"foo-bar\" (the default of :mix_systemd: ext_name)"),
        "{w}"
    );
}

#[test]
fn accounts_set_differently_in_both_namespaces_still_warn() {
    let deploy = [scripts(&["create-users"]), ("app_user", json!("app"))];
    let systemd = [("app_user", json!("www"))];
    let d = resolved(Side::Deploy, &deploy, &systemd);
    let w = d
        .warnings
        .iter()
        .find(|w| w.starts_with("app_user:"))
        .unwrap_or_else(|| panic!("{:?}", d.warnings));
    assert!(w.contains("\"app\"") && w.contains("\"www\""), "{w}");
}

#[test]
fn a_mistake_in_a_borrowed_key_names_the_namespace_it_was_written_in() {
    let systemd = [("dirs", json!([a("runtim")]))];
    let err = error(Side::Deploy, &[], &systemd);
    assert!(
        err.contains("config :mix_systemd, dirs: :runtim is invalid"),
        "{err}"
    );
    let deploy = [("env_files", json!(["etc/environment"]))];
    let root = tempfile::tempdir().unwrap();
    let doc = input_both(Side::Systemd, &deploy, &[], root.path().to_str().unwrap());
    let r = resolve(&Input::parse(&doc).unwrap(), Side::Systemd).unwrap();
    let Err(err) = generate::plan(&r, root.path(), Side::Systemd) else {
        panic!("a relative env file is an error for the unit");
    };
    let err = err.to_string();
    assert!(err.contains("config :mix_deploy, env_files:"), "{err}");
}

#[test]
fn side_keys_stay_on_their_side() {
    let systemd = [
        ("output_dir", json!("/tmp/units")),
        ("paranoia", json!(true)),
        ("expand_keys", json!([a("my_key")])),
    ];
    let d = resolved(Side::Deploy, &[], &systemd);
    assert_eq!(ctx(&d)["output_dir"], "_build/prod/deploy");
    assert_eq!(ctx(&d)["expand_keys"], json!([]));
    assert!(!ctx(&d).contains_key("paranoia"));
}
