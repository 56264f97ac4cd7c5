//! Templates print the plan; they do not re-derive it. No built-in template or
//! partial compares `systemd_version` (or any number) to anything, or compares
//! a key whose value is one of a fixed set (`restart_method`, `service_type`, ...)
//! to a string: the plan's `features.*`, `units`, `unit.*` and the other plan
//! variables say it instead (docs/templates.md).

use std::fs;
use std::path::{Path, PathBuf};

use mix_deploy_core::spec::{Kind, SPECS};

const COMPARISONS: [&str; 6] = ["eq", "ne", "lt", "gt", "lte", "gte"];

/// Every `.hbs` file under priv/templates.
fn template_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "hbs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../priv/templates");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
}

/// The keys whose values are one of a fixed set of names.
fn enum_keys() -> Vec<&'static str> {
    SPECS
        .iter()
        .filter(|s| matches!(s.kind, Kind::Enum(_)))
        .map(|s| s.key)
        .collect()
}

/// The comparisons in a template that decide what the plan decides: each as
/// (line number, the subexpression).
fn plan_decisions(text: &str, enum_keys: &[&str]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(open) = rest.find('(') {
            rest = &rest[open + 1..];
            let inner = rest.split(')').next().unwrap_or("");
            let mut words = inner.split_whitespace();
            let Some(helper) = words.next() else { continue };
            if !COMPARISONS.contains(&helper) {
                continue;
            }
            let args: Vec<&str> = words.collect();
            let is_number = |a: &&str| a.parse::<f64>().is_ok();
            let names_version = |a: &&str| a.trim_start_matches("@root.") == "systemd_version";
            let names_enum = |a: &&str| enum_keys.contains(&a.trim_start_matches("@root."));
            if args
                .iter()
                .any(|a| is_number(a) || names_version(a) || names_enum(a))
            {
                found.push((n + 1, format!("({inner})")));
            }
        }
    }
    found
}

#[test]
fn no_template_compares_a_version_or_an_enum() {
    let keys = enum_keys();
    assert!(keys.contains(&"restart_method") && keys.contains(&"service_type"));
    let files = template_files();
    assert!(files.len() > 30, "templates not found: {files:?}");
    let mut problems = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for (line, expr) in plan_decisions(&text, &keys) {
            problems.push(format!("{}:{line}: {expr}", file.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "templates decide what the plan should (use features.*, units, unit.*, ...):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_forbids() {
    let keys = ["restart_method", "service_type"];
    let found = |t: &str| plan_decisions(t, &keys).len();
    assert_eq!(found("{{#if (gte systemd_version 235)}}"), 1);
    assert_eq!(
        found("{{#if (and (eq name \"x\") (lt @root.systemd_version 1))}}"),
        1
    );
    assert_eq!(found("{{#if (eq restart_method \"touch\")}}"), 1);
    assert_eq!(found("{{#unless (ne service_type \"forking\")}}"), 1);
    assert_eq!(found("{{#if (gt keep_releases 3)}}"), 1);
    // What the plan offers instead, and comparisons of other values, pass.
    assert_eq!(found("{{#if features.directories}}{{#if unit.socket}}"), 0);
    assert_eq!(found("{{#if (eq deploy_user \"root\")}} (a comment)"), 0);
    assert_eq!(found("{{#if (ne limit_core null)}}"), 0);
}
