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

/// Whether this run rewrites the golden files: only `UPDATE_GOLDEN=1` does, and
/// never under CI (a rewrite there would turn every difference into a pass).
/// Unset, empty or `0` compares; any other value is a mistake and stops the test.
pub fn update_golden() -> bool {
    update_golden_from(
        std::env::var_os("UPDATE_GOLDEN").as_deref(),
        std::env::var_os("CI").as_deref(),
    )
    .unwrap_or_else(|why| panic!("{why}"))
}

/// [`update_golden`] on given values of UPDATE_GOLDEN and CI.
pub fn update_golden_from(
    update: Option<&std::ffi::OsStr>,
    ci: Option<&std::ffi::OsStr>,
) -> Result<bool, String> {
    let rewrite = match update.map(|v| v.to_str()) {
        None | Some(Some("" | "0")) => false,
        Some(Some("1")) => true,
        Some(other) => {
            return Err(format!(
                "UPDATE_GOLDEN={}: set UPDATE_GOLDEN=1 to rewrite the golden files, or unset it to compare with them",
                other.unwrap_or("(not UTF-8)")
            ))
        }
    };
    if rewrite && ci.is_some_and(|v| !v.is_empty()) {
        return Err(
            "UPDATE_GOLDEN=1 with CI set: CI compares with the golden files and never rewrites them"
                .to_string(),
        );
    }
    Ok(rewrite)
}

/// Compares generated `files` (path relative to `dir`, contents) with the golden
/// files in `dir`, or rewrites `dir` from them when [`update_golden`] says so.
/// Returns one message per difference, prefixed with `label`: a changed, missing
/// or no longer generated file.
pub fn check_golden(label: &str, dir: &std::path::Path, files: &[(String, String)]) -> Vec<String> {
    use std::fs;
    let mut failures = Vec::new();
    if update_golden() {
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
