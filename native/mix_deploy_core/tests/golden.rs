//! Golden outputs: every file generated for each fixture config under
//! tests/fixtures/<name>.json is compared with tests/golden/<name>/. After an
//! intended change, regenerate with `UPDATE_GOLDEN=1 cargo test --test golden` and
//! review the diff before committing. Only `UPDATE_GOLDEN=1` rewrites, never with CI
//! set; script/test fails when a run changed the golden files.

use std::fs;
use std::path::{Path, PathBuf};

mod common;

use common::check_golden;
use mix_deploy_core::{generate, input::Input, resolve::resolve, Side};
use serde_json::{json, Value};

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// The input document of one side of a fixture, rooted at `root`.
fn side_input(fixture: &Value, side: Side, root: &Path) -> Input {
    let (key, other) = match side {
        Side::Deploy => ("deploy", "systemd"),
        Side::Systemd => ("systemd", "deploy"),
    };
    let mut project = fixture["project"].clone();
    project["project_dir"] = json!(root.to_str().unwrap());
    let doc = json!({
        "project": project,
        "account": fixture["account"],
        "config": fixture.get(key).cloned().unwrap_or(json!([])),
        // Both namespaces, as the tasks pass them: shared keys cross over.
        "other_config": fixture.get(other).cloned().unwrap_or(json!([])),
    });
    Input::parse(&doc.to_string()).unwrap()
}

/// Every generated file of the fixture: (path relative to the project, contents).
fn render_fixture(fixture: &Value) -> Vec<(String, String)> {
    let root = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    for side in [Side::Deploy, Side::Systemd] {
        let input = side_input(fixture, side, root.path());
        let resolved = resolve(&input, side).unwrap_or_else(|e| panic!("{side:?}: {e}"));
        let (files, _) = generate::plan(&resolved, root.path(), side)
            .unwrap_or_else(|e| panic!("{side:?}: {e}"));
        out.extend(files.into_iter().map(|f| (f.shown, f.contents)));
    }
    out
}

#[test]
fn outputs_match_golden_files() {
    let mut failures = Vec::new();
    let mut fixtures: Vec<PathBuf> = fs::read_dir(tests_dir().join("fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    fixtures.sort();
    assert!(!fixtures.is_empty(), "no fixtures found");
    for path in fixtures {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let fixture: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let golden_dir = tests_dir().join("golden").join(&name);
        failures.extend(check_golden(&name, &golden_dir, &render_fixture(&fixture)));
    }
    assert!(failures.is_empty(), "{}\n(after an intended change: UPDATE_GOLDEN=1 cargo test --test golden, then review the diff)", failures.join("\n"));
}

#[test]
fn only_update_golden_1_rewrites_and_never_under_ci() {
    use common::update_golden_from;
    use std::ffi::OsStr;
    let v = |s: &'static str| Some(OsStr::new(s));
    assert_eq!(update_golden_from(None, None), Ok(false));
    assert_eq!(update_golden_from(v(""), None), Ok(false));
    assert_eq!(update_golden_from(v("0"), None), Ok(false));
    assert_eq!(update_golden_from(v("0"), v("true")), Ok(false));
    assert_eq!(update_golden_from(v("1"), None), Ok(true));
    assert_eq!(update_golden_from(v("1"), v("")), Ok(true));
    for bad in ["yes", "true", "2", " 1"] {
        let err = update_golden_from(v(bad), None).unwrap_err();
        assert!(err.contains(&format!("UPDATE_GOLDEN={bad}:")), "{err}");
    }
    let err = update_golden_from(v("1"), v("true")).unwrap_err();
    assert!(err.contains("CI set"), "{err}");
}
