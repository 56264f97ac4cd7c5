//! Partials are modules with an interface (docs/templates.md): the functions a
//! partial defines are named after it (`release-lib` defines `release_*`,
//! `health-check` `health_*`; core's `die` is the one exception); no template
//! uses a fixed file descriptor (each is allocated: `exec {fd}<...`); and only
//! the core partial writes the error prefix (the plan's `error_prefix`).

use std::fs;
use std::path::{Path, PathBuf};

fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../priv/templates")
}

fn hbs_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hbs"))
        .collect();
    files.sort();
    files
}

/// Every template and partial.
fn all_templates() -> Vec<PathBuf> {
    let root = templates_dir();
    let mut files = Vec::new();
    for dir in ["deploy", "deploy/partials", "systemd"] {
        files.extend(hbs_files(&root.join(dir)));
    }
    files
}

/// The shell functions a text defines: `name() {` or `name() (`.
fn functions(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.trim_start().split_once("()")?;
            let ok = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && (rest.trim_start().starts_with('{') || rest.trim_start().starts_with('('));
            ok.then(|| name.to_string())
        })
        .collect()
}

/// Functions of the partial `partial` not named after it.
fn misnamed(partial: &str, text: &str) -> Vec<String> {
    let family = partial.split('-').next().unwrap_or(partial);
    functions(text)
        .into_iter()
        .filter(|f| !(f.starts_with(&format!("{family}_")) || partial == "core" && f == "die"))
        .collect()
}

/// Uses of a fixed file descriptor number above 2.
fn fixed_fds(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let fixed = |w: &str| w.len() == 1 && w.chars().all(|c| ('3'..='9').contains(&c));
        let exec_fd = words
            .windows(2)
            .any(|w| w[0] == "exec" && w[1].starts_with(|c: char| c.is_ascii_digit()));
        let flock_fd = words.first() == Some(&"flock") && words.iter().any(|w| fixed(w))
            || words
                .windows(2)
                .any(|w| w[0].ends_with("flock") && fixed(w[1]));
        let redirect = ["<&", ">&"].iter().any(|r| {
            line.match_indices(r)
                .any(|(i, _)| line[i + 2..].starts_with(|c: char| ('3'..='9').contains(&c)))
        });
        let proc_fd = line
            .match_indices("/proc/self/fd/")
            .any(|(i, _)| line[i + 14..].starts_with(|c: char| c.is_ascii_digit()));
        if exec_fd || flock_fd || redirect || proc_fd {
            found.push(line.trim().to_string());
        }
    }
    found
}

#[test]
fn partial_functions_are_named_after_their_partial() {
    let partials = hbs_files(&templates_dir().join("deploy/partials"));
    assert!(partials.len() > 10);
    let mut problems = Vec::new();
    for file in partials {
        let name = file.file_stem().unwrap().to_str().unwrap();
        for f in misnamed(name, &fs::read_to_string(&file).unwrap()) {
            problems.push(format!("partials/{name}: {f}()"));
        }
    }
    assert!(
        problems.is_empty(),
        "name them <partial's first word>_*:\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_template_uses_a_fixed_descriptor() {
    let mut problems = Vec::new();
    for file in all_templates() {
        for line in fixed_fds(&fs::read_to_string(&file).unwrap()) {
            problems.push(format!("{}: {line}", file.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "allocate it (exec {{fd}}<...):\n{}",
        problems.join("\n")
    );
}

#[test]
fn only_the_core_partial_writes_the_error_prefix() {
    let mut problems = Vec::new();
    for file in all_templates() {
        if file.ends_with("deploy/partials/core.hbs") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        for line in text.lines().filter(|l| l.contains("error: ")) {
            problems.push(format!("{}: {}", file.display(), line.trim()));
        }
    }
    assert!(
        problems.is_empty(),
        "use die / core_error (or {{{{error_prefix}}}}):\n{}",
        problems.join("\n")
    );
}

/// Lines that set a trap.
fn traps(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("trap ") || l.contains("; trap ") || l.contains("&& trap "))
        .map(str::to_string)
        .collect()
}

#[test]
fn only_the_core_partial_sets_the_scripts_traps() {
    let mut problems = Vec::new();
    for file in all_templates() {
        let text = fs::read_to_string(&file).unwrap();
        for line in traps(&text) {
            let core = file.ends_with("deploy/partials/core.hbs");
            // safe_install runs in a subshell, which does not inherit the script's
            // EXIT trap: its own clean-up is local to it.
            let subshell = file.ends_with("deploy/partials/safe-path.hbs")
                && (line == r#"trap 'rm -f -- "$tmp"' EXIT"# || line == "trap - EXIT");
            // A playbook's shell task is a program of its own that includes no
            // core partial: fleet-scripts' trap is its only clean-up.
            let playbook_task = file.ends_with("deploy/partials/fleet-scripts.hbs")
                && line == r#"trap 'rm -rf -- "$fleet_bin"' EXIT"#;
            if !core && !subshell && !playbook_task {
                problems.push(format!("{}: {line}", file.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "register a clean-up with core_on_exit:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checks_see_what_they_forbid() {
    assert_eq!(
        traps("x\n    trap cleanup EXIT\ny; trap 'exit 1' INT").len(),
        2
    );
    assert_eq!(
        misnamed("release-lib", "release_list() {\n  take_lock() {\n"),
        ["take_lock"]
    );
    assert_eq!(
        misnamed("safe-path", "safe_install() (\nas_account() {\n"),
        ["as_account"]
    );
    assert!(misnamed("core", "die() {\ncore_error() {\n").is_empty());
    assert_eq!(misnamed("health-check", "die() {\n"), ["die"]);
    assert_eq!(fixed_fds("exec 9<\"$lock\"\nflock -n 9 ||").len(), 2);
    assert_eq!(fixed_fds("cat <&8 >/proc/self/fd/9").len(), 1);
    assert!(
        fixed_fds("exec {fd}<\"$f\"\nflock -w 60 \"$fd\"\necho x >&2\nflock -w \"${T:-60}\" 8")
            .len()
            == 1
    );
}
