//! The Ansible playbooks ("ansible" in templates): their config keys are validated
//! like every other key, and generation writes all three or nothing.

mod common;

use common::{input, input_in};
use mix_deploy_core::{api, Side};
use serde_json::{json, Value};

const SCRIPTS: [&str; 5] = [
    "init-local",
    "release",
    "restart",
    "rollback",
    "validate-service",
];

fn with_ansible(extra: &[&str]) -> Value {
    let mut t: Vec<&str> = SCRIPTS.to_vec();
    t.extend_from_slice(extra);
    t.push("ansible");
    json!(t)
}

fn resolved(pairs: &[(&str, Value)]) -> Value {
    serde_json::from_str(&api::resolve(&input(pairs), Side::Deploy).unwrap()).unwrap()
}

fn error(pairs: &[(&str, Value)]) -> String {
    match api::resolve(&input(pairs), Side::Deploy) {
        Ok(v) => panic!("expected an error for {pairs:?}, resolved to {v}"),
        Err(e) => e.to_string(),
    }
}

fn assert_names(msg: &str, key: &str, value: &str) {
    assert!(msg.contains(&format!("config :mix_deploy, {key}")), "{msg}");
    assert!(msg.contains(value), "should show {value}:\n{msg}");
    assert!(msg.contains("expected"), "{msg}");
    assert!(msg.lines().count() < 25, "one screen:\n{msg}");
}

#[test]
fn the_keys_have_their_documented_defaults() {
    let r = resolved(&[]);
    assert_eq!(r["ansible_hosts"], json!("all"));
    assert_eq!(r["ansible_serial"], json!(1));
    assert_eq!(r["ansible_rollback_on_failure"], json!(true));
}

#[test]
fn serial_is_a_positive_integer_or_a_percentage() {
    for (good, want) in [
        (json!(1), json!(1)),
        (json!(3), json!(3)),
        (json!("30%"), json!("30%")),
        (json!("100%"), json!("100%")),
    ] {
        assert_eq!(
            resolved(&[("ansible_serial", good)])["ansible_serial"],
            want
        );
    }
    for (bad, shown) in [
        (json!(0), "0"),
        (json!(-2), "-2"),
        (json!("0%"), "\"0%\""),
        (json!("101%"), "\"101%\""),
        (json!("%"), "\"%\""),
        (json!("1.5%"), "\"1.5%\""),
        (json!("half"), "\"half\""),
        (json!(true), "true"),
    ] {
        let msg = error(&[("ansible_serial", bad)]);
        assert_names(&msg, "ansible_serial", shown);
        assert!(
            msg.contains("\"30%\""),
            "says what a percentage looks like:\n{msg}"
        );
    }
    let msg = error(&[("ansible_serial", json!("2"))]);
    assert!(msg.contains("write 2 without quotes"), "{msg}");
}

#[test]
fn hosts_is_one_host_pattern() {
    let r = resolved(&[("ansible_hosts", json!("web:&prod"))]);
    assert_eq!(r["ansible_hosts"], json!("web:&prod"));
    for (bad, shown) in [
        (json!(""), "\"\""),
        (json!("web servers"), "\"web servers\""),
        (json!("web\nprod"), "web"),
        (json!("{{ evil }}"), "evil"),
        (json!("a'b"), "a'b"),
        (json!(["web"]), "web"),
        (json!(7), "7"),
    ] {
        assert_names(&error(&[("ansible_hosts", bad)]), "ansible_hosts", shown);
    }
}

#[test]
fn rollback_on_failure_is_a_boolean() {
    let msg = error(&[("ansible_rollback_on_failure", json!("yes"))]);
    assert_names(&msg, "ansible_rollback_on_failure", "\"yes\"");
}

#[test]
fn ansible_writes_three_playbooks_in_the_project_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let doc = input_in(
        &[
            ("templates", with_ansible(&[])),
            ("ansible_hosts", json!("web")),
            ("ansible_serial", json!("50%")),
            ("ansible_rollback_on_failure", json!(false)),
        ],
        root,
    );
    api::generate(&doc, Side::Deploy).unwrap();
    let deploy = std::fs::read_to_string(dir.path().join("ansible/deploy.yml")).unwrap();
    assert!(deploy.contains("  hosts: web\n"), "{deploy}");
    assert!(deploy.contains("default('50%')"), "{deploy}");
    assert!(
        deploy.contains("rollback_on_failure | default(false)"),
        "{deploy}"
    );
    // Jinja expressions survive Handlebars; config values are never templated by Ansible.
    assert!(deploy.contains("\"{{ fleet_tar }}\""), "{deploy}");
    assert!(deploy.contains("bin_dir: !unsafe bin\n"), "{deploy}");
    // Root runs the scripts of bin_dir here, shipped with each task, never the
    // deploy user's copies in scripts_dir on the host.
    let rollback = std::fs::read_to_string(dir.path().join("ansible/rollback.yml")).unwrap();
    for playbook in [&deploy, &rollback] {
        assert!(!playbook.contains("/srv/foo-bar/bin"), "{playbook}");
        // On the task's stdin (fleet-payload), never in its environment: the
        // ssh command line carries the environment, one argument of at most 128 KiB.
        assert!(
            playbook.contains("fleet_ship: [rollback, restart]"),
            "{playbook}"
        );
        assert!(
            playbook.contains("stdin: \"{{ fleet_payload }}\""),
            "{playbook}"
        );
        assert!(!playbook.contains("FLEET_SCRIPT"), "{playbook}");
        assert!(
            playbook.contains("\"${fleet_bin}/${PREFIX}restart\""),
            "{playbook}"
        );
    }
    let setup = std::fs::read_to_string(dir.path().join("ansible/setup.yml")).unwrap();
    assert!(setup.contains("- !unsafe bin/deploy-init-local"), "{setup}");
    assert!(!setup.contains("deploy-ansible"), "{setup}");
    assert!(dir.path().join("ansible/rollback.yml").exists());
    // deploy-init-local installs the scripts, not the playbooks.
    let init = std::fs::read_to_string(dir.path().join("bin/deploy-init-local")).unwrap();
    assert!(!init.contains("'ansible'"), "{init}");
    assert!(!dir.path().join("bin/deploy-ansible").exists());
}

#[test]
fn ansible_needs_the_scripts_the_playbooks_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let doc = input_in(&[("templates", json!(["release", "ansible"]))], root);
    let msg = api::generate(&doc, Side::Deploy).unwrap_err().to_string();
    assert_names(&msg, "templates", "\"ansible\"");
    assert!(
        msg.contains("add init-local, restart, rollback, validate-service"),
        "{msg}"
    );
    assert!(!dir.path().join("ansible").exists());
    assert!(!dir.path().join("bin").exists());
}

#[test]
fn playbook_templates_are_not_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let doc = input_in(&[("templates", json!(["ansible-deploy"]))], root);
    let msg = api::generate(&doc, Side::Deploy).unwrap_err().to_string();
    assert_names(&msg, "templates", "\"ansible-deploy\"");
    assert!(
        msg.contains("\"ansible\" writes all three playbooks"),
        "{msg}"
    );
    assert!(!dir.path().join("bin").exists());
}

#[test]
fn a_user_playbook_template_overrides_the_built_in() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    std::fs::create_dir_all(dir.path().join("rel/templates/deploy")).unwrap();
    std::fs::write(
        dir.path().join("rel/templates/deploy/ansible-rollback.hbs"),
        "{{header}}\n- hosts: {{yaml ansible_hosts}}\n  tasks: [] # \\{{ mine }}\n",
    )
    .unwrap();
    let doc = input_in(&[("templates", with_ansible(&[]))], root);
    api::generate(&doc, Side::Deploy).unwrap();
    let text = std::fs::read_to_string(dir.path().join("ansible/rollback.yml")).unwrap();
    assert!(
        text.contains("from template ansible-rollback (rel/templates/deploy/ansible-rollback.hbs)"),
        "{text}"
    );
    assert!(
        text.ends_with("- hosts: all\n  tasks: [] # {{ mine }}\n"),
        "{text}"
    );
}
