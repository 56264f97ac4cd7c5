//! `api::render_script`, what `mix deploy.local` runs: the same text
//! `mix deploy.generate` writes, from the project's overrides when it has them.

mod common;

use std::fs;

use mix_deploy_core::{api, Side};
use serde_json::json;

fn project() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    let input = common::input_in(&[("templates", json!(["release", "rollback"]))], &path);
    (dir, input)
}

#[test]
fn the_script_is_what_generate_writes() {
    let (dir, input) = project();
    api::generate(&input, Side::Deploy).unwrap();
    for name in ["release", "rollback"] {
        let written = fs::read_to_string(dir.path().join(format!("bin/deploy-{name}"))).unwrap();
        assert_eq!(api::render_script(&input, name).unwrap(), written, "{name}");
    }
}

#[test]
fn the_projects_template_and_partials_win() {
    let (dir, input) = project();
    let templates = dir.path().join("rel/templates/deploy");
    fs::create_dir_all(templates.join("partials")).unwrap();
    fs::write(
        templates.join("partials/release-deploy.hbs"),
        "echo mine {{q release_name}}\n",
    )
    .unwrap();
    let release = api::render_script(&input, "release").unwrap();
    assert!(release.contains("\necho mine 'foo_bar'\n"), "{release}");
    assert!(!release.contains("next_release_name"), "{release}");
    assert!(
        release.contains("take_lock() {"),
        "the other partials stay built-in"
    );

    fs::write(templates.join("rollback.hbs"), "#!/bin/sh\n{{header}}\n").unwrap();
    let rollback = api::render_script(&input, "rollback").unwrap();
    assert!(
        rollback.contains("(rel/templates/deploy/rollback.hbs)"),
        "{rollback}"
    );
    assert_eq!(rollback.lines().count(), 3);
}

#[test]
fn mistakes_are_errors_naming_the_template() {
    let (dir, input) = project();
    let err = api::render_script(&input, "nope").unwrap_err().to_string();
    assert!(err.contains("templates: \"nope\" is invalid"), "{err}");
    let templates = dir.path().join("rel/templates/deploy");
    fs::create_dir_all(&templates).unwrap();
    fs::write(templates.join("release.hbs"), "{{deploy_dri}}\n").unwrap();
    let err = api::render_script(&input, "release")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("template release: line 1, column 1: unknown variable deploy_dri"),
        "{err}"
    );
}

/// The node name the scripts give the release: what sourcing set-env sets, and
/// what the release commands (run-release) set before it, in a clean environment.
#[test]
fn set_env_and_the_release_commands_use_the_services_node_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    let node_of = |pairs: &[(&str, serde_json::Value)]| {
        let mut pairs = pairs.to_vec();
        pairs.push(("templates", json!(["set-env", "migrate", "remote-console"])));
        let input = common::input_in(&pairs, &path);
        let set_env = dir.path().join("set-env");
        fs::write(&set_env, api::render_script(&input, "set-env").unwrap()).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(". \"$1\" && printf %s \"$RELEASE_NODE\"")
            .arg("sh")
            .arg(&set_env)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let from_set_env = String::from_utf8(out.stdout).unwrap();
        for script in ["migrate", "remote-console"] {
            let text = api::render_script(&input, script).unwrap();
            let line =
                format!("RELEASE_NODE=${{RELEASE_NODE:-'{from_set_env}'}}\nexport RELEASE_NODE\n");
            assert!(text.contains(&line), "{script}: no {line:?} in\n{text}");
        }
        from_set_env
    };
    assert_eq!(node_of(&[]), "foo_bar");
    assert_eq!(
        node_of(&[("ext_name", json!("foo-bar-staging"))]),
        "foo_bar_staging"
    );
    assert_eq!(
        node_of(&[("env_vars", json!(["RELEASE_NODE=shop"]))]),
        "shop"
    );
}
