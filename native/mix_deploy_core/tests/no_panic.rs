//! No input makes the core panic: every key of both namespaces, given values of
//! every shape, resolves and renders to output or to an error message.

mod common;

use common::{a, input_in};
use mix_deploy_core::{api, spec::SPECS, Side};
use serde_json::{json, Value};

fn odd_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(-1),
        json!(0),
        json!(1.5),
        json!(""),
        json!("x\ny"),
        json!("/"),
        json!("../.."),
        json!("{{header}}"),
        json!("é$(id)`x`'\""),
        a("deploy_dir"),
        a("no_such_key"),
        a(""),
        json!([]),
        json!([null, [a("app_name"), ["nested", [a("ext_name")]]]]),
        json!([{"tuple": [a("src"), "a"]}]),
        json!({"map": [[a("src"), "a"], [a("dst"), [a("etc_dir"), "/x"]]]}),
        json!({"map": [[1, 2]]}),
        json!({"tuple": []}),
    ]
}

#[test]
fn every_key_with_every_shape_of_value() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let mut calls = 0;
    for spec in SPECS {
        for value in odd_values() {
            for side in [Side::Deploy, Side::Systemd] {
                let templates = json!(["start", "release", "set-env", "copy-files", "appspec"]);
                let doc = input_in(&[("templates", templates), (spec.key, value.clone())], root);
                if let Err(e) = api::resolve(&doc, side) {
                    assert!(!e.to_string().is_empty());
                }
                if let Err(e) = api::render_only(&doc, side) {
                    assert!(!e.to_string().is_empty());
                }
                calls += 1;
            }
        }
    }
    assert!(calls > 1000, "{calls}");
}

#[test]
fn malformed_documents_are_errors() {
    for doc in [
        "",
        "{}",
        "[]",
        r#"{"project": 1}"#,
        r#"{"project": {"app": "a", "version": "1", "mix_env": "prod", "build_path": "_build"}, "config": {"x": 1}}"#,
        r#"{"project": {"app": "a", "version": "1", "mix_env": "prod", "build_path": "_build"}, "config": "nope"}"#,
    ] {
        let e = api::resolve(doc, Side::Deploy).unwrap_err().to_string();
        assert!(e.contains("malformed input"), "{doc}: {e}");
    }
}
