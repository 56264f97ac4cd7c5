//! Config values are read by field, never by name: outside the two boundaries
//! where keys are names (resolution: `spec`, `eval`, `resolve`, `shared`; the
//! template context: `context`), no code looks a config key up by string in a
//! map, a JSON value or the spec table. A misspelt field fails to compile; a
//! misspelt string would fail at run time, or not at all.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use mix_deploy_core::spec::SPECS;

/// The modules where keys are names.
const BOUNDARIES: [&str; 5] = ["spec", "eval", "resolve", "shared", "context"];

/// Calls that look a value up by its key.
const LOOKUPS: [&str; 12] = [
    "get",
    "get_mut",
    "contains_key",
    "remove",
    "entry",
    "pointer",
    "str",
    "opt_str",
    "strings",
    "text",
    "checked_text",
    "find",
];

/// The code of a source file: comments removed, and the `#[cfg(test)]` module at
/// its end left out (tests may name keys freely).
fn code(source: &str) -> String {
    let source = source.split("#[cfg(test)]").next().unwrap_or("");
    source
        .lines()
        .map(without_comment)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A line up to its `//` comment, if any (one outside a string literal).
fn without_comment(line: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Each place in `code` where a config key (one of `keys`) is looked up by its
/// name: the string literal indexes something (`x["deploy_dir"]`) or is an
/// argument of a lookup call (`x.get("deploy_dir")`, `find(side, "deploy_dir")`).
fn key_lookups(code: &str, keys: &BTreeSet<&str>) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let mut from = 0;
        while let Some(start) = line[from..].find('"').map(|i| from + i) {
            let Some(len) = line[start + 1..].find('"') else {
                break;
            };
            let literal = &line[start + 1..start + 1 + len];
            from = start + len + 2;
            if !keys.contains(literal) {
                continue;
            }
            let before = line[..start].trim_end();
            let indexed = before.ends_with('[');
            // The call whose argument list the literal is in.
            let call = before
                .rfind('(')
                .map(|open| {
                    let name = before[..open].trim_end();
                    let start = name
                        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .map_or(0, |i| i + 1);
                    &name[start..]
                })
                .unwrap_or("");
            let in_lookup = LOOKUPS.contains(&call)
                && before[before.rfind('(').unwrap_or(0)..]
                    .chars()
                    .filter(|c| *c == ')')
                    .count()
                    == 0;
            if indexed || in_lookup {
                found.push(format!("line {}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn no_code_reads_config_by_key_outside_the_boundaries() {
    let keys: BTreeSet<&str> = SPECS.iter().map(|s| s.key).collect();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    let mut problems = Vec::new();
    for entry in fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let module = path.file_stem().unwrap().to_str().unwrap().to_string();
        if path.extension().is_none_or(|e| e != "rs") || BOUNDARIES.contains(&module.as_str()) {
            continue;
        }
        checked += 1;
        let text = fs::read_to_string(&path).unwrap();
        for place in key_lookups(&code(&text), &keys) {
            problems.push(format!("src/{module}.rs {place}"));
        }
    }
    assert!(checked > 10, "only {checked} modules checked");
    assert!(
        problems.is_empty(),
        "config read by key name outside spec/eval/resolve/shared/context (read a field of \
         config::Config or plan::Plan instead):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_forbids() {
    let keys: BTreeSet<&str> = ["deploy_dir", "service_type"].into();
    let found = |src: &str| key_lookups(&code(src), &keys).len();
    assert_eq!(found(r#"let d = ctx.get("deploy_dir");"#), 1);
    assert_eq!(found(r#"let d = &ctx["deploy_dir"];"#), 1);
    assert_eq!(found(r#"if map.contains_key("service_type") {"#), 1);
    assert_eq!(
        found(r#"let s = spec::find(Side::Systemd, "service_type");"#),
        1
    );
    assert_eq!(found(r#"let s = r.str("deploy_dir").to_string();"#), 1);
    // Naming a key for an error, a key-like string that is no key, a comment
    // and the test module are fine.
    assert_eq!(
        found(r#"errors.push(cfg.invalid("service_type", v, e, None));"#),
        0
    );
    assert_eq!(found(r#"cfg.dir("tmp") // ctx.get("deploy_dir")"#), 0);
    assert_eq!(
        found("#[cfg(test)]\nmod t { fn f() { ctx.get(\"deploy_dir\"); } }"),
        0
    );
}
