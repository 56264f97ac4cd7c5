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
