//! Defaults, derivations, expansion and their errors, through the public API.

mod common;

use common::{a, input};
use mix_deploy_core::{api, Side};
use serde_json::{json, Value};

fn resolved(pairs: &[(&str, Value)]) -> Value {
    resolved_side(pairs, Side::Deploy)
}

fn resolved_side(pairs: &[(&str, Value)], side: Side) -> Value {
    let text = api::resolve(&input(pairs), side).unwrap_or_else(|e| panic!("resolve failed:\n{e}"));
    serde_json::from_str(&text).unwrap()
}

fn error(pairs: &[(&str, Value)]) -> String {
    error_side(pairs, Side::Deploy)
}

fn error_side(pairs: &[(&str, Value)], side: Side) -> String {
    match api::resolve(&input(pairs), side) {
        Ok(v) => panic!("expected an error, resolved to {v}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_follow_the_reference() {
    let r = resolved(&[]);
    let expect = [
        ("app_name", json!("foo_bar")),
        ("version", json!("0.1.0")),
        ("module_name", json!("FooBar")),
        ("release_name", json!("foo_bar")),
        ("ext_name", json!("foo-bar")),
        ("service_name", json!("foo-bar")),
        ("release_system", json!("mix")),
        ("deploy_user", json!("deploy")),
        ("deploy_group", json!("staff")),
        ("app_user", json!("deploy")),
        ("app_group", json!("staff")),
        ("base_dir", json!("/srv")),
        ("deploy_dir", json!("/srv/foo-bar")),
        ("systemd_version", json!(235)),
        ("dirs", json!([])),
        ("releases_dir", json!("/srv/foo-bar/releases")),
        ("scripts_dir", json!("/srv/foo-bar/bin")),
        ("flags_dir", json!("/srv/foo-bar/flags")),
        ("current_dir", json!("/srv/foo-bar/current")),
        ("etc_dir", json!("/srv/foo-bar/etc")),
        ("runtime_dir", json!("/run/foo-bar")),
        ("configuration_dir", json!("/etc/foo-bar")),
        ("logs_dir", json!("/var/log/foo-bar")),
        ("tmp_dir", json!("/var/tmp/foo-bar")),
        ("state_dir", json!("/var/lib/foo-bar")),
        ("cache_dir", json!("/var/cache/foo-bar")),
        ("runtime_directory_mode", json!("750")),
        ("configuration_directory_base", json!("/etc")),
        ("runtime_directory_preserve", json!("no")),
        ("pid_file", json!("/run/foo-bar/foo_bar.pid")),
        ("root_directory", json!("/srv/foo-bar/current")),
        ("restart_method", json!("systemctl")),
        ("sudo_deploy", json!(false)),
        ("sudo_app", json!(false)),
        ("mix_env", json!("prod")),
        ("env_lang", json!("en_US.utf8")),
        ("env_files", json!([])),
        ("env_vars", json!([])),
        ("copy_files", json!([])),
        ("bin_dir", json!("bin")),
        ("output_dir", json!("_build/prod/deploy")),
        ("template_dir", json!("rel/templates/deploy")),
        ("target_prefix", json!("deploy-")),
        ("templates", json!([])),
        ("conform_conf_path", json!("/etc/foo-bar/foo_bar.conf")),
        ("runtime_environment_service_script", Value::Null),
        ("keep_releases", json!(5)),
        ("release_tar", json!("_build/prod/foo_bar-0.1.0.tar.gz")),
    ];
    for (key, value) in expect {
        assert_eq!(r[key], value, "default of {key}");
    }
}

#[test]
fn systemd_side_defaults_accounts_to_ext_name() {
    let r = resolved_side(&[], Side::Systemd);
    assert_eq!(r["app_user"], json!("foo-bar"));
    assert_eq!(r["app_group"], json!("foo-bar"));
    assert_eq!(
        r["output_dir"],
        json!("_build/prod/systemd/lib/systemd/system")
    );
    assert_eq!(r["template_dir"], json!("rel/templates/systemd"));
}

#[test]
fn derivations_read_the_users_final_values() {
    let r = resolved(&[
        ("deploy_dir", json!("/opt/app")),
        ("app_name", json!("other_app")),
        ("logs_directory_base", json!("/logs")),
        ("tmp_directory_base", json!("/scratch")),
    ]);
    assert_eq!(r["releases_dir"], json!("/opt/app/releases"));
    // The original derives etc_dir from current_dir and tmp_dir from logs_dir.
    assert_eq!(r["etc_dir"], json!("/opt/app/etc"));
    assert_eq!(r["tmp_dir"], json!("/scratch/other-app"));
    assert_eq!(r["logs_dir"], json!("/logs/other-app"));
    assert_eq!(r["ext_name"], json!("other-app"));
    assert_eq!(r["module_name"], json!("OtherApp"));
}

#[test]
fn user_values_win_over_defaults_whatever_the_order() {
    let r = resolved(&[("ext_name", json!("svc")), ("base_dir", json!("/data"))]);
    assert_eq!(r["deploy_dir"], json!("/data/svc"));
    assert_eq!(r["service_name"], json!("svc"));
    assert_eq!(r["configuration_dir"], json!("/etc/svc"));
}

#[test]
fn deploy_group_defaults_to_a_chosen_deploy_user() {
    let r = resolved(&[("deploy_user", json!("ci"))]);
    assert_eq!(r["deploy_group"], json!("ci"));
    assert_eq!(r["app_user"], json!("ci"));
    assert_eq!(r["app_group"], json!("ci"));
}

#[test]
fn atoms_name_accounts_and_enums() {
    let r = resolved(&[("app_user", a("app")), ("release_system", a("distillery"))]);
    assert_eq!(r["app_user"], json!("app"));
    assert_eq!(
        r["release_tar"],
        json!("_build/prod/rel/foo_bar/releases/0.1.0/foo_bar.tar.gz")
    );
}

#[test]
fn lists_expand_references_recursively() {
    let r = resolved(&[
        (
            "env_files",
            json!([
                ["-", a("deploy_dir"), "/etc/environment"],
                ["-", a("configuration_dir"), "/environment"]
            ]),
        ),
        (
            "env_vars",
            json!([
                "PORT=8080",
                ["RELEASE_TMP=", a("runtime_dir")],
                ["V=", a("systemd_version")]
            ]),
        ),
        ("conform_conf_path", json!([a("etc_dir"), "/app.conf"])),
    ]);
    assert_eq!(
        r["env_files"],
        json!(["-/srv/foo-bar/etc/environment", "-/etc/foo-bar/environment"])
    );
    assert_eq!(
        r["env_vars"],
        json!(["PORT=8080", "RELEASE_TMP=/run/foo-bar", "V=235"])
    );
    assert_eq!(r["conform_conf_path"], json!("/srv/foo-bar/etc/app.conf"));
    assert_eq!(
        r["env_file_list"][0],
        json!({"path": "/srv/foo-bar/etc/environment", "optional": true})
    );
    assert_eq!(
        r["env_var_list"][1],
        json!({"name": "RELEASE_TMP", "value": "/run/foo-bar"})
    );
}

#[test]
fn nil_expands_to_nothing_and_bin_dir_joins_as_a_path() {
    let r = resolved(&[
        ("bin_dir", json!([a("output_dir"), "bin"])),
        ("env_vars", json!([["A=", null, "b"]])),
    ]);
    assert_eq!(r["bin_dir"], json!("_build/prod/deploy/bin"));
    assert_eq!(r["env_vars"], json!(["A=b"]));
}

#[test]
fn unknown_reference_is_an_error_with_a_suggestion() {
    let e = error(&[("env_files", json!([[a("deploy_dri"), "/etc/environment"]]))]);
    assert!(e.contains("env_files"), "{e}");
    assert!(e.contains(":deploy_dri"), "{e}");
    assert!(e.contains("did you mean :deploy_dir?"), "{e}");
}

#[test]
fn reference_cycle_names_the_chain() {
    let e = error(&[("deploy_dir", json!([a("releases_dir"), "/x"]))]);
    assert!(e.contains("reference cycle"), "{e}");
    assert!(
        e.contains("deploy_dir -> releases_dir -> deploy_dir"),
        "{e}"
    );
}

#[test]
fn self_reference_is_a_cycle() {
    let e = error(&[("base_dir", json!([a("base_dir")]))]);
    assert!(e.contains("base_dir -> base_dir"), "{e}");
}

#[test]
fn custom_keys_warn_and_reach_templates() {
    let text = api::resolve(
        &input(&[("tempaltes", json!(["start"])), ("my_port", json!(4000))]),
        Side::Deploy,
    )
    .unwrap();
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["my_port"], json!(4000));
}

#[test]
fn a_directory_reference_joins_a_relative_name_with_a_slash() {
    // mix_systemd's README: ["-", :configuration_dir, "environment"] is
    // /etc/foo/environment and [:deploy_dir, "bin/start-migrate"] runs
    // /srv/foo/bin/start-migrate.
    let r = resolved_side(
        &[
            (
                "env_files",
                json!([
                    ["-", a("configuration_dir"), "environment"],
                    ["-", a("deploy_dir"), "/etc/environment"]
                ]),
            ),
            ("exec_start", json!([a("deploy_dir"), "bin/start-migrate"])),
            (
                "env_vars",
                json!([
                    ["RELEASE_TMP=", a("runtime_dir")],
                    ["A=", a("runtime_dir"), "_x"],
                    ["B=", a("release_name"), "x"],
                    ["C=", a("runtime_dir"), ".old"],
                    ["D=", a("runtime_dir"), "-1"]
                ]),
            ),
        ],
        Side::Systemd,
    );
    assert_eq!(
        r["env_files"],
        json!(["-/etc/foo-bar/environment", "-/srv/foo-bar/etc/environment"])
    );
    assert_eq!(r["exec_start"], json!("/srv/foo-bar/bin/start-migrate"));
    // Only a name (letter, digit, _) after a directory key gets the slash.
    assert_eq!(
        r["env_vars"],
        json!([
            "RELEASE_TMP=/run/foo-bar",
            "A=/run/foo-bar/_x",
            "B=foo_barx",
            "C=/run/foo-bar.old",
            "D=/run/foo-bar-1"
        ])
    );
}
