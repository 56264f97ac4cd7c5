//! The crate's modules layer as lib.rs's `//!` says: each module uses only modules
//! of lower layers (so there is no import cycle), and every module is listed.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// The layers of lib.rs's doc, lowest first: lines `//! N. `a`, `b`: ...`.
fn layers(lib: &str) -> Vec<Vec<String>> {
    lib.lines()
        .filter_map(|l| l.strip_prefix("//! "))
        .filter(|l| {
            l.split_once(". ")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        })
        .map(|l| {
            let names = l.split_once(':').map_or(l, |(names, _)| names);
            names
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// The crate modules a source file refers to as `crate::name` (comments skipped).
fn uses(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .map(|n| n.trim().split("::").next().unwrap_or(""))
                    .collect(),
                None => vec![rest
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("")],
            };
            out.extend(
                names
                    .into_iter()
                    .filter(|n| !n.is_empty())
                    .map(String::from),
            );
        }
    }
    out
}

#[test]
fn modules_use_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layers = layers(&fs::read_to_string(src.join("lib.rs")).unwrap());
    assert!(layers.len() > 5, "no layer list in lib.rs: {layers:?}");
    let layer_of = |m: &str| layers.iter().position(|l| l.iter().any(|n| n == m));

    let mut files = BTreeSet::new();
    for entry in fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        if path.extension().is_some_and(|e| e == "rs") && name != "lib" {
            files.insert(name);
        }
    }
    let listed: BTreeSet<String> = layers.iter().flatten().cloned().collect();
    let expected: BTreeSet<String> = files.iter().cloned().chain(["api".into()]).collect();
    assert_eq!(listed, expected, "lib.rs's layer list and src/*.rs differ");

    let mut problems = Vec::new();
    for module in &files {
        let text = fs::read_to_string(src.join(format!("{module}.rs"))).unwrap();
        let own = layer_of(module).unwrap();
        for used in uses(&text) {
            match layer_of(&used) {
                Some(l) if l < own => {}
                Some(l) => problems.push(format!(
                    "{module} (layer {}) uses {used} (layer {})",
                    own + 1,
                    l + 1
                )),
                None => problems.push(format!("{module} uses unlisted {used}")),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_sees_uses_and_cycles() {
    let found = uses("use crate::spec::{Side};\nlet x = crate::units::check(r); // crate::nope\nuse crate::{a, b::c};");
    let want: BTreeSet<String> = ["spec", "units", "a", "b"].map(String::from).into();
    assert_eq!(found, want);
    let l = layers("//! 1. `term`, `error`: leaves\n//! 2. `spec`: keys `x`\n");
    assert_eq!(
        l,
        vec![
            vec!["term".to_string(), "error".into()],
            vec!["spec".into()]
        ]
    );
}
