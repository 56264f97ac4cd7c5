//! A project without partials of its own renders the built-in templates with
//! their partials written in (build.rs inlines them; Handlebars copies the whole
//! context for every partial it expands). A project with partials renders the
//! forms that include them by name. Both must give the same bytes, for every
//! fixture and every restart method (each picks its own restart partial).

use std::fs;
use std::path::Path;

use mix_deploy_core::{generate, input::Input, resolve::resolve, Side};
use serde_json::{json, Value};

/// Every file the fixture generates in a fresh project, with `extra_partial` in
/// its rel/templates/deploy/partials/ when given.
fn render(fixture: &Value, extra_partial: bool) -> Vec<(String, String)> {
    let root = tempfile::tempdir().unwrap();
    if extra_partial {
        let dir = root.path().join("rel/templates/deploy/partials");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("mine.hbs"), "# a partial no built-in includes\n").unwrap();
    }
    let mut out = Vec::new();
    for (side, own, other) in [
        (Side::Deploy, "deploy", "systemd"),
        (Side::Systemd, "systemd", "deploy"),
    ] {
        let mut project = fixture["project"].clone();
        project["project_dir"] = json!(root.path().to_str().unwrap());
        let doc = json!({
            "project": project,
            "account": fixture["account"],
            "config": fixture.get(own).cloned().unwrap_or(json!([])),
            "other_config": fixture.get(other).cloned().unwrap_or(json!([])),
        });
        let input = Input::parse(&doc.to_string()).unwrap();
        let resolved = resolve(&input, side).unwrap_or_else(|e| panic!("{e}"));
        let (files, _) = generate::plan(&resolved, root.path(), side).unwrap();
        out.extend(files.into_iter().map(|f| (f.shown, f.contents)));
    }
    out
}

/// The fixture with `key` set to `value` in both namespaces.
fn with(fixture: &Value, key: &str, value: Value) -> Value {
    let mut f = fixture.clone();
    for ns in ["deploy", "systemd"] {
        let list = f[ns].as_array_mut().unwrap();
        list.retain(|t| t["tuple"][0]["atom"] != key);
        list.push(json!({"tuple": [{"atom": key}, value.clone()]}));
    }
    f
}

#[test]
fn inlined_and_included_partials_render_the_same() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut fixtures = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let fixture: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        for method in ["systemctl", "systemd_flag", "touch"] {
            let name = format!("{} ({method})", path.file_stem().unwrap().to_string_lossy());
            fixtures.push((
                name,
                with(&fixture, "restart_method", json!({"atom": method})),
            ));
        }
    }
    assert!(fixtures.len() >= 12);
    let mut compared = 0;
    for (name, fixture) in fixtures {
        let inlined = render(&fixture, false);
        let included = render(&fixture, true);
        assert_eq!(inlined.len(), included.len(), "{name}");
        for ((path, a), (_, b)) in inlined.iter().zip(&included) {
            assert!(
                a == b,
                "{name}: {path} differs between the inlined and the included partials"
            );
            compared += 1;
        }
    }
    assert!(compared > 100, "{compared}");
}
