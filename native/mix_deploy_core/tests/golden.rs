//! Golden outputs: every file generated for each fixture config under
//! tests/fixtures/<name>.json is compared with tests/golden/<name>/. After an
//! intended change, regenerate with `UPDATE_GOLDEN=1 cargo test --test golden` and
//! review the diff before committing.

use std::fs;
use std::path::{Path, PathBuf};

use mix_deploy_core::{generate, input::Input, resolve::resolve, Side};
use serde_json::{json, Value};

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// The input document of one side of a fixture, rooted at `root`.
fn side_input(fixture: &Value, side: Side, root: &Path) -> Input {
    let key = match side {
        Side::Deploy => "deploy",
        Side::Systemd => "systemd",
    };
    let mut project = fixture["project"].clone();
    project["project_dir"] = json!(root.to_str().unwrap());
    let doc = json!({
        "project": project,
        "account": fixture["account"],
        "config": fixture.get(key).cloned().unwrap_or(json!([])),
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
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
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
        let files = render_fixture(&fixture);
        if update {
            let _ = fs::remove_dir_all(&golden_dir);
        }
        for (rel, contents) in &files {
            let golden = golden_dir.join(rel);
            if update {
                fs::create_dir_all(golden.parent().unwrap()).unwrap();
                fs::write(&golden, contents).unwrap();
                continue;
            }
            match fs::read_to_string(&golden) {
                Ok(expected) if &expected == contents => {}
                Ok(expected) => failures.push(format!(
                    "{name}/{rel} differs\n{:-^72}\nexpected:\n{expected}\n{:-^72}\nactual:\n{contents}\n{:-^72}",
                    "", "", ""
                )),
                Err(_) => failures.push(format!("{name}/{rel}: no golden file (run with UPDATE_GOLDEN=1)")),
            }
        }
        if !update {
            let mut extra = Vec::new();
            collect(&golden_dir, &golden_dir, &mut extra);
            for rel in extra {
                if !files.iter().any(|(r, _)| *r == rel) {
                    failures.push(format!("{name}/{rel}: golden file no longer generated"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}\n(after an intended change: UPDATE_GOLDEN=1 cargo test --test golden, then review the diff)", failures.join("\n"));
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().display().to_string());
        }
    }
}
