//! Warnings about root the config hands to the deploy user or the app: a unit
//! command running as root a file from a directory they can write.

mod common;

use common::{a, input};
use mix_deploy_core::{grants::root_grants, resolve::resolve, Input, Side};
use serde_json::{json, Value};

fn warnings(pairs: &[(&str, Value)]) -> Vec<String> {
    let input = Input::parse(&input(pairs)).unwrap();
    root_grants(&resolve(&input, Side::Systemd).unwrap())
}

#[test]
fn documented_sync_config_hook_with_bang_is_root_for_the_deploy_user() {
    let w = warnings(&[
        ("deploy_user", json!("deploy")),
        ("app_user", json!("app")),
        (
            "exec_start_pre",
            json!([["!", a("deploy_dir"), "/bin/deploy-sync-config-s3"]]),
        ),
    ]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(
            "exec_start_pre runs /srv/foo-bar/bin/deploy-sync-config-s3 as root (the '!' prefix)"
        ),
        "{}",
        w[0]
    );
    assert!(
        w[0].contains("the deploy user deploy can write /srv/foo-bar"),
        "{}",
        w[0]
    );
    assert!(w[0].contains("docs/security.md"), "{}", w[0]);
}

#[test]
fn plus_prefix_on_a_file_in_an_app_dir_names_the_app() {
    let w = warnings(&[
        ("app_user", json!("app")),
        ("dirs", json!([a("state")])),
        ("exec_start_pre", json!(["+/var/lib/foo-bar/hook"])),
    ]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("the app user app can write /var/lib/foo-bar"),
        "{}",
        w[0]
    );
}

#[test]
fn app_user_root_makes_the_release_itself_root() {
    let w = warnings(&[("app_user", json!("root"))]);
    assert!(
        w.iter().any(|m| m.starts_with(
            "exec_start runs /srv/foo-bar/current/bin/foo_bar as root (app_user is root)"
        )),
        "{w:?}"
    );
}

#[test]
fn no_warning_without_root_or_outside_writable_dirs() {
    assert_eq!(
        warnings(&[
            ("app_user", json!("app")),
            (
                "exec_start_pre",
                json!([
                    [a("deploy_dir"), "/bin/deploy-sync-config-s3"],
                    "!/usr/local/libexec/foo/sync"
                ])
            ),
        ]),
        Vec::<String>::new()
    );
}

#[test]
fn a_root_command_of_the_service_sees_the_env_files_the_deploy_user_writes() {
    let w = warnings(&[
        ("deploy_user", json!("deploy")),
        ("app_user", json!("app")),
        (
            "env_files",
            json!([
                "/etc/default/foo",
                ["-", a("deploy_dir"), "/etc/environment"]
            ]),
        ),
        ("exec_start_pre", json!(["!/usr/local/libexec/foo/sync"])),
    ]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(
            "exec_start_pre runs /usr/local/libexec/foo/sync as root (the '!' prefix) with the \
             service's env files, and the deploy user deploy can write /srv/foo-bar/etc/environment"
        ),
        "{}",
        w[0]
    );
    assert!(w[0].contains("LD_PRELOAD"), "{}", w[0]);
    assert!(w[0].contains("setup_exec_start"), "{}", w[0]);
}

#[test]
fn setup_commands_never_see_those_files_but_still_must_be_root_owned() {
    let env_files = json!([["-", a("deploy_dir"), "/etc/environment"]]);
    let w = warnings(&[
        ("deploy_user", json!("deploy")),
        ("app_user", json!("app")),
        ("env_files", env_files.clone()),
        (
            "setup_exec_start",
            json!([["/usr/local/libexec/foo/deploy-sync-config-s3"]]),
        ),
    ]);
    assert_eq!(w, Vec::<String>::new());
    let w = warnings(&[
        ("deploy_user", json!("deploy")),
        ("app_user", json!("app")),
        ("env_files", env_files),
        (
            "setup_exec_start",
            json!([[a("deploy_dir"), "/bin/deploy-sync-config-s3"]]),
        ),
    ]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(
            "setup_exec_start runs /srv/foo-bar/bin/deploy-sync-config-s3 as root (in \
             foo-bar-setup.service), and the deploy user deploy can write /srv/foo-bar"
        ),
        "{}",
        w[0]
    );
}

#[test]
fn a_root_deploy_user_hands_nothing_on() {
    assert_eq!(
        warnings(&[
            ("deploy_user", json!("root")),
            ("app_user", json!("app")),
            ("env_files", json!([[a("deploy_dir"), "/etc/environment"]])),
            (
                "exec_start_pre",
                json!([["!", a("deploy_dir"), "/bin/deploy-sync-config-s3"]])
            ),
        ]),
        Vec::<String>::new()
    );
}
