//! Builds task input documents for tests, in the JSON shape of docs/json.md.
#![allow(dead_code)]

use serde_json::{json, Value};

/// An atom term.
pub fn a(name: &str) -> Value {
    json!({ "atom": name })
}

/// A keyword-list config from (key, value) pairs.
pub fn config(pairs: &[(&str, Value)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(k, v)| json!({"tuple": [a(k), v]}))
            .collect(),
    )
}

/// The input document for app `foo_bar` 0.1.0, prod, run by deploy:staff.
pub fn input(pairs: &[(&str, Value)]) -> String {
    input_in(pairs, "/nonexistent-project")
}

pub fn input_in(pairs: &[(&str, Value)], project_dir: &str) -> String {
    json!({
        "project": {"app": "foo_bar", "version": "0.1.0", "mix_env": "prod",
                    "build_path": "_build/prod", "project_dir": project_dir},
        "account": {"user": "deploy", "group": "staff"},
        "config": config(pairs),
    })
    .to_string()
}

/// Compares generated `files` (path relative to `dir`, contents) with the golden
/// files in `dir`, or rewrites `dir` from them when UPDATE_GOLDEN is set. Returns
/// one message per difference, prefixed with `label`: a changed, missing or no
/// longer generated file.
pub fn check_golden(label: &str, dir: &std::path::Path, files: &[(String, String)]) -> Vec<String> {
    use std::fs;
    let mut failures = Vec::new();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let _ = fs::remove_dir_all(dir);
        for (rel, contents) in files {
            let path = dir.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, contents).unwrap();
        }
        return failures;
    }
    for (rel, contents) in files {
        match fs::read_to_string(dir.join(rel)) {
            Ok(expected) if &expected == contents => {}
            Ok(expected) => failures.push(format!(
                "{label}/{rel} differs\n{:-^72}\nexpected:\n{expected}\n{:-^72}\nactual:\n{contents}\n{:-^72}",
                "", "", ""
            )),
            Err(_) => failures.push(format!("{label}/{rel}: no golden file")),
        }
    }
    let mut existing = Vec::new();
    collect_files(dir, dir, &mut existing);
    for rel in existing {
        if !files.iter().any(|(r, _)| *r == rel) {
            failures.push(format!("{label}/{rel}: golden file no longer generated"));
        }
    }
    failures
}

fn collect_files(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_files(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().display().to_string());
        }
    }
}

/// The input document of a task on `side` with both namespaces' config, for app
/// `foo_bar` 0.1.0, prod, run by deploy:staff.
pub fn input_both(
    side: mix_deploy_core::Side,
    deploy: &[(&str, Value)],
    systemd: &[(&str, Value)],
    project_dir: &str,
) -> String {
    let (own, other) = match side {
        mix_deploy_core::Side::Deploy => (deploy, systemd),
        mix_deploy_core::Side::Systemd => (systemd, deploy),
    };
    json!({
        "project": {"app": "foo_bar", "version": "0.1.0", "mix_env": "prod",
                    "build_path": "_build/prod", "project_dir": project_dir},
        "account": {"user": "deploy", "group": "staff"},
        "config": config(own),
        "other_config": config(other),
    })
    .to_string()
}
