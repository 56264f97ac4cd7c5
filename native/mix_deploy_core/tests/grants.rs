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
