//! The systemd units: golden files per fixture config, the unit text parsed back the
//! way systemd reads it (one directive once, quoting, argv), version gates, errors,
//! stale unit removal and --check. Golden files live in tests/units_golden/<fixture>/;
//! after an intended change run `UPDATE_GOLDEN=1 cargo test --test units` and review
//! the diff.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::{a, check_golden, input_in};
use mix_deploy_core::generate;
use mix_deploy_core::input::Input;
use mix_deploy_core::output::Action;
use mix_deploy_core::plan::MARKER;
use mix_deploy_core::resolve::resolve;
use mix_deploy_core::Side;
use serde_json::{json, Value};

type Pairs = Vec<(&'static str, Value)>;

/// The fixture configs (`config :mix_systemd, ...`) of the golden tests.
fn fixtures() -> Vec<(&'static str, Pairs)> {
    vec![
        ("default", vec![]),
        (
            // The reference documentation's complete example (both of its configs).
            "reference",
            vec![
                ("app_user", json!("app")),
                ("app_group", json!("app")),
                (
                    "exec_start_pre",
                    json!([["!", a("deploy_dir"), "/bin/deploy-sync-config-s3"]]),
                ),
                (
                    "dirs",
                    json!([
                        a("cache"),
                        a("configuration"),
                        a("logs"),
                        a("runtime"),
                        a("state"),
                        a("tmp")
                    ]),
                ),
                ("runtime_directory_preserve", json!("yes")),
                (
                    "env_files",
                    json!([
                        ["-", a("deploy_dir"), "/etc/environment"],
                        ["-", a("configuration_dir"), "/environment"]
                    ]),
                ),
                (
                    "env_vars",
                    json!([
                        "PHX_SERVER=true",
                        "PORT=8080",
                        ["RELEASE_TMP=", a("runtime_dir")]
                    ]),
                ),
            ],
        ),
        (
            "forking",
            vec![
                ("service_type", a("forking")),
                ("dirs", json!([a("runtime")])),
                ("exec_stop", json!([a("current_dir"), "/bin/foo_bar stop"])),
                ("restart", json!("on-failure")),
                ("restart_sec", json!(5)),
                ("timeout_start_sec", json!(60)),
                ("timeout_stop_sec", json!(30)),
                ("limit_core", json!(0)),
            ],
        ),
        (
            "distillery_forking",
            vec![
                ("release_system", a("distillery")),
                ("service_type", a("forking")),
                ("pid_file", json!("/run/foo-bar/app.pid")),
            ],
        ),
        ("systemd_flag", vec![("restart_method", a("systemd_flag"))]),
        (
            "listen_stream",
            vec![
                ("listen_stream", json!(["127.0.0.1:4000", "[::1]:4000%lo"])),
                ("paranoia", json!(true)),
                ("systemd_version", json!(252)),
            ],
        ),
        (
            "listen_stream_219",
            vec![
                ("listen_stream", json!(8080)),
                ("listen_backlog", Value::Null),
                ("systemd_version", json!(219)),
            ],
        ),
        (
            "runtime_environment",
            vec![
                (
                    "runtime_environment_service_script",
                    json!([a("scripts_dir"), "/deploy-runtime-environment-file"]),
                ),
                (
                    "runtime_environment_unit_after_targets",
                    json!(["cloud-init.target"]),
                ),
                ("unit_after_targets", json!(["postgresql.service"])),
                (
                    "env_files",
                    json!([["-", a("runtime_dir"), "/runtime-environment"]]),
                ),
                ("dirs", json!([a("runtime")])),
                ("runtime_directory_preserve", json!("restart")),
            ],
        ),
        (
            "paranoia",
            vec![
                ("paranoia", json!(true)),
                ("app_user", json!("app")),
                ("dirs", json!([a("runtime"), a("state"), a("tmp")])),
                ("env_vars", json!(["PORT=4000"])),
            ],
        ),
        (
            "paranoia_mdwe",
            vec![
                ("paranoia", json!(true)),
                ("memory_deny_write_execute", json!(true)),
                ("base_dir", json!("/home/deploy")),
            ],
        ),
        (
            "chroot",
            vec![
                ("chroot", json!(true)),
                (
                    "read_write_paths",
                    json!([[a("state_dir")], "/var/my data"]),
                ),
                ("read_only_paths", json!(["/etc/ssl"])),
                ("inaccessible_paths", json!(["/home", "/root"])),
                ("dirs", json!([a("state")])),
            ],
        ),
        (
            "systemd_219",
            vec![
                ("systemd_version", json!(219)),
                ("paranoia", json!(true)),
                ("dirs", json!([a("runtime"), a("configuration"), a("tmp")])),
                ("runtime_directory_preserve", json!("yes")),
                (
                    "runtime_environment_service_script",
                    json!("/srv/foo-bar/bin/env"),
                ),
            ],
        ),
        (
            "hostile_values",
            vec![
                ("base_dir", json!("/srv/my apps $HOME 100%")),
                (
                    "env_vars",
                    json!([
                        "GREETING=hello \"world\" 100% $HOME \\n",
                        "EMPTY=",
                        "LANG=C.UTF-8"
                    ]),
                ),
                ("env_lang", json!("en_US.utf8")),
                (
                    "exec_start_pre",
                    json!([
                        ["!", a("deploy_dir"), "/bin/deploy-sync-config-s3"],
                        "-/usr/bin/env FOO=%n \"two words\""
                    ]),
                ),
                ("exec_start_wrap", json!([a("scripts_dir"), "/wrap "])),
                (
                    "env_files",
                    json!([["-", a("deploy_dir"), "/etc/environment"]]),
                ),
                ("dirs", json!([a("runtime")])),
            ],
        ),
    ]
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/units_golden")
}

fn input(pairs: &[(&str, Value)], root: &Path) -> Input {
    Input::parse(&input_in(pairs, root.to_str().unwrap())).unwrap()
}

/// The units of a config: (file name, contents).
fn units(pairs: &[(&str, Value)]) -> Vec<(String, String)> {
    let root = tempfile::tempdir().unwrap();
    let input = input(pairs, root.path());
    let resolved = resolve(&input, Side::Systemd).unwrap_or_else(|e| panic!("resolve: {e}"));
    let (files, _) = generate::plan(&resolved, root.path(), Side::Systemd)
        .unwrap_or_else(|e| panic!("plan: {e}"));
    files
        .into_iter()
        .map(|f| {
            let name = f.path.file_name().unwrap().to_string_lossy().into_owned();
            (name, f.contents)
        })
        .collect()
}

fn unit(pairs: &[(&str, Value)], name: &str) -> String {
    units(pairs)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} not generated"))
        .1
}

fn service(pairs: &[(&str, Value)]) -> String {
    unit(pairs, "foo-bar.service")
}

fn plan_error(pairs: &[(&str, Value)]) -> String {
    let root = tempfile::tempdir().unwrap();
    let input = input(pairs, root.path());
    match resolve(&input, Side::Systemd) {
        Err(e) => e.to_string(),
        Ok(r) => match generate::plan(&r, root.path(), Side::Systemd) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("expected an error for {pairs:?}"),
        },
    }
}

#[test]
fn units_match_golden_files() {
    let mut failures = Vec::new();
    for (name, pairs) in fixtures() {
        failures.extend(check_golden(name, &golden_dir().join(name), &units(&pairs)));
    }
    assert!(
        failures.is_empty(),
        "{}\n(after an intended change: UPDATE_GOLDEN=1 cargo test --test units, then review the diff)",
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------
// Reading units back the way systemd does.

/// The unit's lines as systemd reads them: a line ending in a backslash goes on
/// in the next one, the backslash read as a space.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        match line.strip_suffix('\\') {
            Some(head) if !line.trim_start().starts_with('#') => {
                pending.push_str(head);
                pending.push(' ');
            }
            _ => {
                pending.push_str(line);
                out.push(std::mem::take(&mut pending));
            }
        }
    }
    out
}

/// Directives of one section, in order: (key, raw value).
fn section(text: &str, name: &str) -> Vec<(String, String)> {
    let mut current = String::new();
    let mut out = Vec::new();
    for line in logical_lines(text) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            current = line[1..line.len() - 1].to_string();
            continue;
        }
        if current == name {
            let (k, v) = line.split_once('=').expect("key=value");
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn values(text: &str, sect: &str, key: &str) -> Vec<String> {
    section(text, sect)
        .into_iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .collect()
}

fn value(text: &str, sect: &str, key: &str) -> String {
    let v = values(text, sect, key);
    assert_eq!(v.len(), 1, "{key}= should appear once in [{sect}]:\n{text}");
    v[0].clone()
}

/// `%%` -> `%` (we never emit other specifiers from config values).
fn specifiers(s: &str) -> String {
    assert!(
        !s.replace("%%", "").contains('%'),
        "unescaped specifier in {s:?}"
    );
    s.replace("%%", "%")
}

/// Splits a value into words as systemd's extract_first_word with quotes and C
/// escapes does.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return out;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (_, '\\') => match chars.next() {
                    Some('n') => word.push('\n'),
                    Some('t') => word.push('\t'),
                    Some('s') => word.push(' '),
                    Some(other) => word.push(other),
                    None => word.push('\\'),
                },
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, c) if c.is_whitespace() => break,
                (_, c) => word.push(c),
            }
        }
        assert!(quote.is_none(), "unterminated quote in {s:?}");
        out.push(word);
    }
}

/// Environment= assignments of the [Service] section as a map.
fn environment(text: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for v in values(text, "Service", "Environment") {
        for w in words(&specifiers(&v)) {
            let (n, val) = w.split_once('=').expect("NAME=value");
            env.insert(n.to_string(), val.to_string());
        }
    }
    env
}

/// An Exec line as systemd runs it: (prefixes, executable, argv after expansion of
/// `$$` in arguments; variables are not expanded here).
fn exec(line: &str) -> (String, Vec<String>) {
    let split = line
        .char_indices()
        .find(|(_, c)| !"-@:+!".contains(*c))
        .map(|(i, _)| i)
        .unwrap_or(line.len());
    let (prefixes, rest) = line.split_at(split);
    let mut argv = words(&specifiers(rest));
    for arg in argv.iter_mut().skip(1) {
        *arg = arg.replace("$$", "$");
    }
    (prefixes.to_string(), argv)
}

const LIST_DIRECTIVES: &[&str] = &[
    "Environment",
    "EnvironmentFile",
    "Requires",
    "ExecStartPre",
    "SystemCallFilter",
];

#[test]
fn each_directive_once_one_after_line_no_blank_runs() {
    for (name, pairs) in fixtures() {
        for (file, text) in units(&pairs) {
            assert!(!text.contains("\n\n\n"), "{name}/{file}: blank run");
            assert!(text.starts_with("# "), "{name}/{file}: no header");
            assert!(
                text.lines().take(3).any(|l| l.contains(MARKER)),
                "{name}/{file}: no marker"
            );
            for sect in ["Unit", "Service", "Path", "Install"] {
                let mut seen = BTreeMap::new();
                for (k, _) in section(&text, sect) {
                    *seen.entry(k).or_insert(0) += 1;
                }
                for (k, n) in seen {
                    assert!(
                        n == 1
                            || LIST_DIRECTIVES.contains(&k.as_str())
                            // The setup unit is a oneshot: one command a line.
                            || (k == "ExecStart" && file.ends_with("-setup.service")),
                        "{name}/{file}: {k}= {n} times in [{sect}]"
                    );
                }
            }
        }
    }
}

#[test]
fn every_after_target_is_on_the_one_after_line() {
    let text = service(&[
        (
            "unit_after_targets",
            json!(["postgresql.service", "a.target b.target"]),
        ),
        ("runtime_environment_service_script", json!("/srv/env")),
    ]);
    assert_eq!(
        words(&value(&text, "Unit", "After")),
        [
            "local-fs.target",
            "network.target",
            "foo-bar-runtime-environment.service",
            "postgresql.service",
            "a.target",
            "b.target"
        ]
    );
    assert_eq!(
        value(&text, "Unit", "Requires"),
        "foo-bar-runtime-environment.service"
    );
}

#[test]
fn environment_values_with_spaces_quotes_percent_and_dollar_stay_one_assignment() {
    let nasty = "a b  \"c\" 'd' 100% $HOME ${X} \\n \\";
    let text = service(&[(
        "env_vars",
        json!([format!("NASTY={nasty}"), "PORT=4000", "EMPTY="]),
    )]);
    let env = environment(&text);
    assert_eq!(env["NASTY"], nasty);
    assert_eq!(env["PORT"], "4000");
    assert_eq!(env["EMPTY"], "");
    assert_eq!(env["LANG"], "en_US.utf8");
    assert_eq!(env["MIX_ENV"], "prod");
}

#[test]
fn env_vars_override_built_in_assignments_once() {
    let text = service(&[("env_vars", json!(["LANG=C.UTF-8", "X=1", "X=2"]))]);
    let assignments = values(&text, "Service", "Environment");
    assert_eq!(
        assignments.iter().filter(|a| a.contains("LANG=")).count(),
        1
    );
    let env = environment(&text);
    assert_eq!(env["LANG"], "C.UTF-8");
    assert_eq!(env["X"], "2");
}

#[test]
fn default_exec_start_argv_survives_spaces_percent_and_dollar() {
    let base = "/srv/my apps $HOME 100%";
    let text = service(&[("base_dir", json!(base))]);
    let (prefixes, argv) = exec(&value(&text, "Service", "ExecStart"));
    assert_eq!(prefixes, "");
    assert_eq!(
        argv,
        [
            format!("{base}/foo-bar/current/bin/foo_bar"),
            "start".to_string()
        ]
    );
    assert_eq!(
        specifiers(&value(&text, "Service", "WorkingDirectory")),
        format!("{base}/foo-bar/current")
    );
}

#[test]
fn exec_start_wrap_works_with_or_without_trailing_space() {
    let with = service(&[("exec_start_wrap", json!("/usr/bin/env FOO=1 "))]);
    let without = service(&[("exec_start_wrap", json!("/usr/bin/env FOO=1"))]);
    assert_eq!(
        value(&with, "Service", "ExecStart"),
        value(&without, "Service", "ExecStart")
    );
    let (_, argv) = exec(&value(&with, "Service", "ExecStart"));
    assert_eq!(
        argv,
        [
            "/usr/bin/env",
            "FOO=1",
            "/srv/foo-bar/current/bin/foo_bar",
            "start"
        ]
    );
    // A wrapper under a directory with spaces is still one word; the release
    // path after it is an argument, so its `$` is escaped.
    let text = service(&[
        ("base_dir", json!("/srv/a b$c")),
        ("exec_start_wrap", json!([a("scripts_dir"), "/wrap"])),
    ]);
    let (_, argv) = exec(&value(&text, "Service", "ExecStart"));
    assert_eq!(
        argv,
        [
            "/srv/a b$c/foo-bar/bin/wrap",
            "/srv/a b$c/foo-bar/current/bin/foo_bar",
            "start"
        ]
    );
}

#[test]
fn start_command_follows_release_system_and_service_type() {
    for (system, kind, command) in [
        ("mix", "simple", "start"),
        ("mix", "exec", "start"),
        ("mix", "notify", "start"),
        ("mix", "forking", "daemon"),
        ("distillery", "simple", "foreground"),
        ("distillery", "forking", "start"),
    ] {
        let text = service(&[
            ("release_system", a(system)),
            ("service_type", a(kind)),
            ("systemd_version", json!(252)),
        ]);
        let (_, argv) = exec(&value(&text, "Service", "ExecStart"));
        assert_eq!(argv[1], command, "{system} {kind}");
        assert_eq!(value(&text, "Service", "Type"), kind);
    }
}

#[test]
fn exec_start_pre_keeps_prefixes_outside_the_quoting() {
    let text = service(&[
        ("base_dir", json!("/srv/my apps")),
        (
            "exec_start_pre",
            json!([
                ["!", a("deploy_dir"), "/bin/sync"],
                [
                    "-+",
                    a("scripts_dir"),
                    "/check --dir ",
                    a("deploy_dir"),
                    "/etc"
                ],
                "@/bin/true true-name",
                "-/usr/bin/env FOO=%n \"two words\" $HOME"
            ]),
        ),
    ]);
    let lines = values(&text, "Service", "ExecStartPre");
    assert_eq!(lines[0], "!\"/srv/my apps/foo-bar/bin/sync\"");
    let parsed: Vec<_> = lines[..3].iter().map(|l| exec(l)).collect();
    assert_eq!(
        parsed[0],
        ("!".into(), vec!["/srv/my apps/foo-bar/bin/sync".into()])
    );
    assert_eq!(
        parsed[1],
        (
            "-+".into(),
            vec![
                "/srv/my apps/foo-bar/bin/check".to_string(),
                "--dir".into(),
                "/srv/my apps/foo-bar/etc".into()
            ]
        )
    );
    assert_eq!(parsed[2].0, "@");
    // A command line the user wrote is kept: specifiers and variables stay theirs.
    assert_eq!(lines[3], "-/usr/bin/env FOO=%n \"two words\" $HOME");
}

#[test]
fn user_exec_start_and_exec_stop_are_command_lines() {
    let text = service(&[
        (
            "exec_start",
            json!([a("current_dir"), "/bin/foo_bar foreground --x"]),
        ),
        ("exec_stop", json!([a("current_dir"), "/bin/foo_bar stop"])),
    ]);
    let (_, start) = exec(&value(&text, "Service", "ExecStart"));
    assert_eq!(
        start,
        ["/srv/foo-bar/current/bin/foo_bar", "foreground", "--x"]
    );
    let (_, stop) = exec(&value(&text, "Service", "ExecStop"));
    assert_eq!(stop, ["/srv/foo-bar/current/bin/foo_bar", "stop"]);
    assert!(values(&service(&[]), "Service", "ExecStop").is_empty());
}

#[test]
fn environment_files_keep_their_optional_dash() {
    let pairs = [
        ("app_user", json!("app")),
        (
            "env_files",
            json!([
                ["-", a("deploy_dir"), "/etc/environment"],
                [a("configuration_dir"), "/environment"],
                "-/etc/100%/env"
            ]),
        ),
    ];
    // The first two lie in the deploy user's dirs: the service reads the setup
    // unit's copies, in its root-only directory; the third is root's.
    assert_eq!(
        values(&service(&pairs), "Service", "EnvironmentFile"),
        [
            "-/run/foo-bar-setup/env-1",
            "/run/foo-bar-setup/env-2",
            "-/etc/100%%/env"
        ]
    );
    let setup = unit(&pairs, "foo-bar-setup.service");
    assert_eq!(
        values(&setup, "Service", "EnvironmentFile"),
        ["-/etc/100%%/env"],
        "the setup unit reads only root's env files"
    );
}

/// The argv of the setup unit's ExecStart= line that runs `script_start`.
fn setup_command(setup: &str, script_start: &str) -> Vec<String> {
    values(setup, "Service", "ExecStart")
        .iter()
        .map(|line| exec(line).1)
        .find(|argv| argv.len() > 2 && argv[2].starts_with(script_start))
        .unwrap_or_else(|| panic!("no ExecStart= running {script_start}:\n{setup}"))
}

#[test]
fn the_setup_unit_copies_env_files_of_lower_accounts_reading_them_as_the_app() {
    let pairs = [
        ("deploy_user", json!("deploy")),
        ("app_user", json!("app")),
        ("app_group", json!("web")),
        ("dirs", json!([a("runtime"), a("configuration")])),
        (
            "env_files",
            json!([
                ["-", a("deploy_dir"), "/etc/my env"],
                ["-", a("runtime_dir"), "/environment"],
                "/etc/default/foo"
            ]),
        ),
    ];
    let setup = unit(&pairs, "foo-bar-setup.service");
    let argv = setup_command(&setup, "set -eu;");
    assert_eq!(argv[..2], ["/bin/sh", "-c"]);
    assert_eq!(
        argv[4..],
        [
            "/run/foo-bar-setup",
            "/srv/foo-bar/etc/my env",
            "/run/foo-bar-setup/env-1",
            "optional",
            "app",
            "web",
            "/run/foo-bar/environment",
            "/run/foo-bar-setup/env-2",
            "optional",
            "app",
            "web",
        ]
    );
    assert_eq!(value(&setup, "Unit", "PartOf"), "foo-bar.service");
    assert_eq!(value(&setup, "Service", "Type"), "oneshot");
    assert_eq!(
        value(&setup, "Service", "RuntimeDirectory"),
        "foo-bar-setup"
    );
    assert_eq!(value(&setup, "Service", "RuntimeDirectoryMode"), "0700");
    let service = service(&pairs);
    assert_eq!(
        values(&service, "Unit", "Requires"),
        ["foo-bar-setup.service"]
    );
    assert!(words(&value(&service, "Unit", "After")).contains(&"foo-bar-setup.service".into()));
    assert_eq!(
        values(&service, "Service", "EnvironmentFile"),
        [
            "-/run/foo-bar-setup/env-1",
            "-/run/foo-bar-setup/env-2",
            "/etc/default/foo"
        ]
    );
    assert!(
        values(&service, "Service", "ExecStartPre").is_empty(),
        "no root-run command in the service"
    );
}

#[test]
fn a_root_deploy_user_keeps_its_files_read_as_root() {
    // deploy_dir is root's: nobody lower can redirect a file there, so it is read
    // as root, as PID 1 read it before; the app's runtime dir stays the app's.
    let setup = unit(
        &[
            ("deploy_user", json!("root")),
            ("app_user", json!("app")),
            (
                "env_files",
                json!([
                    [a("deploy_dir"), "/etc/environment"],
                    ["-", a("runtime_dir"), "/environment"]
                ]),
            ),
        ],
        "foo-bar-setup.service",
    );
    let argv = setup_command(&setup, "set -eu;");
    assert_eq!(
        argv[5..],
        [
            "/srv/foo-bar/etc/environment",
            "/run/foo-bar-setup/env-1",
            "required",
            "root",
            "root",
            "/run/foo-bar/environment",
            "/run/foo-bar-setup/env-2",
            "optional",
            "app",
            "app",
        ]
    );
    assert_eq!(
        values(&setup, "Service", "EnvironmentFile"),
        ["/srv/foo-bar/etc/environment"],
        "a file only root can write is the setup unit's environment too"
    );
}

#[test]
fn the_tmp_dir_is_made_by_tmpfiles_where_tmpfiles_is_safe() {
    let pairs = |version: i64| {
        vec![
            ("app_user", json!("app")),
            ("dirs", json!([a("tmp")])),
            ("tmp_directory_base", json!("/var/my tmp%")),
            ("systemd_version", json!(version)),
        ]
    };
    let setup = unit(&pairs(239), "foo-bar-setup.service");
    let argv = setup_command(&setup, "printf");
    assert_eq!(argv[4], "d \"/var/my tmp%%/foo-bar\" 0750 app app -");
    assert!(
        argv[2].contains("systemd-tmpfiles --create /dev/stdin"),
        "{argv:?}"
    );
    assert!(
        !units(&pairs(238))
            .iter()
            .any(|(n, _)| n == "foo-bar-setup.service"),
        "below 239 tmpfiles may follow a link: no setup unit, create-dirs makes it"
    );
}

#[test]
fn directories_have_names_modes_and_version_gates() {
    let dirs = json!([
        a("runtime"),
        a("configuration"),
        a("logs"),
        a("state"),
        a("cache"),
        a("tmp")
    ]);
    let text = service(&[
        ("dirs", dirs.clone()),
        ("configuration_directory_mode", json!("550")),
        ("state_directory", json!("foo-state")),
        ("runtime_directory_preserve", json!("restart")),
    ]);
    let s = |k: &str| value(&text, "Service", k);
    assert_eq!(s("RuntimeDirectory"), "foo-bar");
    assert_eq!(s("RuntimeDirectoryMode"), "0750");
    assert_eq!(s("RuntimeDirectoryPreserve"), "restart");
    assert_eq!(s("ConfigurationDirectory"), "foo-bar");
    assert_eq!(s("ConfigurationDirectoryMode"), "0550");
    assert_eq!(s("StateDirectory"), "foo-state");
    assert_eq!(s("LogsDirectoryMode"), "0750");
    assert_eq!(s("CacheDirectory"), "foo-bar");
    let env = environment(&text);
    assert_eq!(env["STATE_DIR"], "/var/lib/foo-state");
    assert_eq!(env["TMP_DIR"], "/var/tmp/foo-bar");
    assert!(!text.contains("TmpDirectory"));

    // Below 235 only RuntimeDirectory= exists; deploy-create-dirs makes the rest.
    let old = service(&[("dirs", dirs), ("systemd_version", json!(234))]);
    assert_eq!(value(&old, "Service", "RuntimeDirectory"), "foo-bar");
    for k in [
        "RuntimeDirectoryPreserve",
        "ConfigurationDirectory",
        "StateDirectory",
        "LogsDirectory",
        "CacheDirectory",
    ] {
        assert!(values(&old, "Service", k).is_empty(), "{k} below 235");
    }
    assert!(environment(&old).contains_key("STATE_DIR"));

    let none = service(&[]);
    assert!(values(&none, "Service", "RuntimeDirectory").is_empty());
}

#[test]
fn forking_sets_pid_file_and_pidfile_variable() {
    let text = service(&[("service_type", a("forking"))]);
    assert_eq!(
        value(&text, "Service", "PIDFile"),
        "/run/foo-bar/foo_bar.pid"
    );
    assert_eq!(environment(&text)["PIDFILE"], "/run/foo-bar/foo_bar.pid");
    // The PID file needs its directory, and the daemon a writable scratch directory.
    assert_eq!(value(&text, "Service", "RuntimeDirectory"), "foo-bar");
    assert_eq!(environment(&text)["RELEASE_TMP"], "/run/foo-bar");
    let distillery = service(&[
        ("service_type", a("forking")),
        ("release_system", a("distillery")),
    ]);
    assert_eq!(
        environment(&distillery)["RELEASE_MUTABLE_DIR"],
        "/run/foo-bar"
    );
    let elsewhere = service(&[
        ("service_type", a("forking")),
        ("pid_file", json!("/var/run/x.pid")),
    ]);
    assert!(values(&elsewhere, "Service", "RuntimeDirectory").is_empty());
    assert_eq!(environment(&elsewhere)["RELEASE_TMP"], "/tmp");
    let simple = service(&[]);
    assert!(values(&simple, "Service", "PIDFile").is_empty());
    assert!(!environment(&simple).contains_key("PIDFILE"));
    let unset = service(&[("service_type", a("forking")), ("pid_file", Value::Null)]);
    assert!(values(&unset, "Service", "PIDFile").is_empty());
}

#[test]
fn process_settings_have_their_defaults() {
    let text = service(&[]);
    let s = |k: &str| value(&text, "Service", k);
    assert_eq!(s("Type"), "simple");
    assert_eq!(s("User"), "foo-bar");
    assert_eq!(s("Group"), "foo-bar");
    assert_eq!(s("WorkingDirectory"), "/srv/foo-bar/current");
    assert_eq!(s("LimitNOFILE"), "65535");
    assert_eq!(s("UMask"), "0027");
    assert_eq!(s("SyslogIdentifier"), "foo-bar");
    assert_eq!(s("Restart"), "always");
    for k in [
        "RestartSec",
        "TimeoutStartSec",
        "LimitCORE",
        "NoNewPrivileges",
    ] {
        assert!(values(&text, "Service", k).is_empty(), "{k}");
    }
    assert_eq!(value(&text, "Install", "WantedBy"), "multi-user.target");
}

#[test]
fn systemd_flag_adds_a_path_unit_watching_the_flag_file() {
    let names: Vec<String> = units(&[("restart_method", a("systemd_flag"))])
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "foo-bar.service",
            "foo-bar-restart.path",
            "foo-bar-restart.service"
        ]
    );
    let path = unit(
        &[
            ("restart_method", a("systemd_flag")),
            ("flags_dir", json!("/srv/x 100%/flags")),
        ],
        "foo-bar-restart.path",
    );
    assert_eq!(
        specifiers(&value(&path, "Path", "PathChanged")),
        "/srv/x 100%/flags/restart.flag"
    );
    assert_eq!(value(&path, "Path", "Unit"), "foo-bar-restart.service");
    let restart = unit(
        &[("restart_method", a("systemd_flag"))],
        "foo-bar-restart.service",
    );
    assert_eq!(value(&restart, "Service", "Type"), "oneshot");
    assert_eq!(
        exec(&value(&restart, "Service", "ExecStart")).1,
        ["/bin/systemctl", "restart", "foo-bar.service"]
    );
    assert!(section(&restart, "Install").is_empty());
}

#[test]
fn listen_stream_adds_a_socket_unit_the_service_requires() {
    let pairs = [("listen_stream", json!("0.0.0.0:4000"))];
    let names: Vec<String> = units(&pairs).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["foo-bar.service", "foo-bar.socket"]);
    let socket = unit(&pairs, "foo-bar.socket");
    assert_eq!(values(&socket, "Socket", "ListenStream"), ["0.0.0.0:4000"]);
    assert_eq!(value(&socket, "Socket", "Backlog"), "4096");
    assert_eq!(value(&socket, "Socket", "NoDelay"), "yes");
    assert_eq!(value(&socket, "Socket", "FileDescriptorName"), "foo-bar");
    assert!(
        values(&socket, "Socket", "Accept").is_empty(),
        "one service for all connections"
    );
    assert_eq!(value(&socket, "Install", "WantedBy"), "sockets.target");
    let service = service(&pairs);
    assert_eq!(values(&service, "Unit", "Requires"), ["foo-bar.socket"]);
    assert!(value(&service, "Unit", "After")
        .split(' ')
        .any(|u| u == "foo-bar.socket"));

    // A list gives one ListenStream= each (duplicates once); a port number is a port;
    // a device suffix keeps its % as a literal.
    let socket = unit(
        &[(
            "listen_stream",
            json!([
                8080,
                "[::]:443",
                "[fe80::1]:80%eth0",
                "8080",
                [[a("runtime_dir"), "/http.sock"]]
            ]),
        )],
        "foo-bar.socket",
    );
    let listen: Vec<String> = values(&socket, "Socket", "ListenStream")
        .iter()
        .map(|v| specifiers(v))
        .collect();
    assert_eq!(
        listen,
        [
            "8080",
            "[::]:443",
            "[fe80::1]:80%eth0",
            "/run/foo-bar/http.sock"
        ]
    );

    // Version gates: NoDelay= from 216, FileDescriptorName= from 227.
    let old = unit(
        &[
            ("listen_stream", json!("8080")),
            ("systemd_version", json!(215)),
        ],
        "foo-bar.socket",
    );
    assert!(values(&old, "Socket", "NoDelay").is_empty());
    assert!(values(&old, "Socket", "FileDescriptorName").is_empty());
    let mid = unit(
        &[
            ("listen_stream", json!("8080")),
            ("systemd_version", json!(226)),
        ],
        "foo-bar.socket",
    );
    assert_eq!(value(&mid, "Socket", "NoDelay"), "yes");
    assert!(values(&mid, "Socket", "FileDescriptorName").is_empty());
    // nil leaves the backlog to systemd.
    let sd_default = unit(
        &[
            ("listen_stream", json!("8080")),
            ("listen_backlog", Value::Null),
        ],
        "foo-bar.socket",
    );
    assert!(values(&sd_default, "Socket", "Backlog").is_empty());

    // Without listen_stream there is no socket and no Requires= on one.
    assert_eq!(units(&[]).len(), 1);
    assert!(values(&service_default(), "Unit", "Requires").is_empty());
}

fn service_default() -> String {
    service(&[])
}

#[test]
fn bad_listen_stream_addresses_are_errors_naming_the_entry() {
    for (bad, says) in [
        (json!("127.0.0.1"), "no port"),
        (json!("127.0.0.1:70000"), "out of range"),
        (json!(0), "out of range"),
        (json!(["8080", "::1:80"]), "in brackets"),
        (json!("8080\nExecStartPre=/bin/sh"), "newline"),
        (json!("localhost:80"), "not an IPv4 address"),
        (json!("http://x/"), "URL"),
        (json!(true), "ListenStream= address"),
        (json!([a("runtime_dir"), "/http.sock"]), "nest it"),
    ] {
        let msg = plan_error(&[("listen_stream", bad.clone())]);
        assert!(
            msg.contains("config :mix_systemd, listen_stream"),
            "{bad}: {msg}"
        );
        assert!(msg.contains("expected"), "{bad}: {msg}");
        assert!(msg.contains(says), "{bad}: should say {says:?}:\n{msg}");
        assert!(msg.lines().count() < 25, "one screen:\n{msg}");
    }
    // The deploy side reads the same key with the same checks.
    let err = mix_deploy_core::api::resolve(
        &common::input(&[("listen_stream", json!("99999"))]),
        Side::Deploy,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("config :mix_deploy, listen_stream"), "{err}");
}

#[test]
fn runtime_environment_script_gets_its_own_unit() {
    let pairs = [
        (
            "runtime_environment_service_script",
            json!([a("scripts_dir"), "/deploy-runtime-environment-file"]),
        ),
        (
            "runtime_environment_unit_after_targets",
            json!(["cloud-init.target"]),
        ),
    ];
    let names: Vec<String> = units(&pairs).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["foo-bar.service", "foo-bar-runtime-environment.service"]
    );
    let env = unit(&pairs, "foo-bar-runtime-environment.service");
    let s = |k: &str| value(&env, "Service", k);
    assert_eq!(s("Type"), "oneshot");
    assert_eq!(s("RemainAfterExit"), "yes");
    assert_eq!(s("User"), "foo-bar");
    assert_eq!(
        exec(&s("ExecStart")).1,
        ["/srv/foo-bar/bin/deploy-runtime-environment-file"]
    );
    assert_eq!(s("RuntimeDirectory"), "foo-bar");
    assert_eq!(
        words(&value(&env, "Unit", "After")),
        ["local-fs.target", "network.target", "cloud-init.target"]
    );
    assert_eq!(value(&env, "Unit", "PartOf"), "foo-bar.service");
    let main = service(&pairs);
    assert!(value(&main, "Unit", "After").contains("foo-bar-runtime-environment.service"));
}

#[test]
fn paranoia_hardens_by_version_and_keeps_the_jit_working() {
    let text = service(&[("paranoia", json!(true))]);
    let s = |k: &str| value(&text, "Service", k);
    assert_eq!(s("ProtectSystem"), "strict");
    assert_eq!(s("ProtectHome"), "yes");
    assert_eq!(s("PrivateTmp"), "yes");
    assert_eq!(s("NoNewPrivileges"), "yes");
    assert_eq!(s("CapabilityBoundingSet"), "");
    assert!(values(&text, "Service", "MemoryDenyWriteExecute").is_empty());
    assert!(values(&text, "Service", "PrivateUsers").is_empty());
    // The release directory is read-only: its scratch files go to the private /tmp.
    assert_eq!(environment(&text)["RELEASE_TMP"], "/tmp");

    let runtime = service(&[("paranoia", json!(true)), ("dirs", json!([a("runtime")]))]);
    assert_eq!(environment(&runtime)["RELEASE_TMP"], "/run/foo-bar");
    let own = service(&[
        ("paranoia", json!(true)),
        ("env_vars", json!(["RELEASE_TMP=/var/tmp/x"])),
    ]);
    assert_eq!(environment(&own)["RELEASE_TMP"], "/var/tmp/x");

    let mdwe = service(&[
        ("paranoia", json!(true)),
        ("memory_deny_write_execute", json!(true)),
    ]);
    assert_eq!(value(&mdwe, "Service", "MemoryDenyWriteExecute"), "yes");

    // :tmp lives in the shared /var/tmp: bound into the private one, optionally,
    // since the unit's own ExecStartPre=+ line creates it on the first start.
    let tmp = service(&[("paranoia", json!(true)), ("dirs", json!([a("tmp")]))]);
    assert_eq!(value(&tmp, "Service", "BindPaths"), "-/var/tmp/foo-bar");
    assert_eq!(value(&tmp, "Service", "PrivateTmp"), "yes");

    // A deploy_dir under /home stays readable.
    let home = service(&[("paranoia", json!(true)), ("base_dir", json!("/home/me"))]);
    assert_eq!(value(&home, "Service", "ProtectHome"), "read-only");

    // Old systemd gets only what it knows.
    let old = service(&[("paranoia", json!(true)), ("systemd_version", json!(219))]);
    assert_eq!(value(&old, "Service", "ProtectSystem"), "full");
    for k in [
        "ProtectKernelTunables",
        "RestrictNamespaces",
        "LockPersonality",
        "SystemCallFilter",
        "ProtectProc",
        "PrivateMounts",
    ] {
        assert!(values(&old, "Service", k).is_empty(), "{k} on 219");
    }
    let old_tmp = service(&[
        ("paranoia", json!(true)),
        ("systemd_version", json!(219)),
        ("dirs", json!([a("tmp")])),
    ]);
    assert!(values(&old_tmp, "Service", "PrivateTmp").is_empty());
}

#[test]
fn chroot_runs_the_release_inside_its_root() {
    let text = service(&[
        ("chroot", json!(true)),
        ("read_write_paths", json!(["/var/my data", "/var/lib/x"])),
    ]);
    assert_eq!(
        value(&text, "Service", "RootDirectory"),
        "/srv/foo-bar/current"
    );
    assert_eq!(
        exec(&value(&text, "Service", "ExecStart")).1,
        ["/bin/foo_bar", "start"]
    );
    assert_eq!(value(&text, "Service", "WorkingDirectory"), "/");
    // Optional ("-"): a path nothing created yet must not stop the unit starting.
    assert_eq!(
        words(&value(&text, "Service", "ReadWritePaths")),
        ["-/var/my data", "-/var/lib/x"]
    );
    // A root elsewhere holds the release at its usual path.
    let other = service(&[
        ("chroot", json!(true)),
        ("root_directory", json!("/srv/jail")),
    ]);
    assert_eq!(
        exec(&value(&other, "Service", "ExecStart")).1[0],
        "/srv/foo-bar/current/bin/foo_bar"
    );
    // Path lists apply without chroot too.
    let plain = service(&[("read_only_paths", json!(["/etc/ssl"]))]);
    assert_eq!(value(&plain, "Service", "ReadOnlyPaths"), "-/etc/ssl");
    let dashed = service(&[("inaccessible_paths", json!(["-/home", "/root"]))]);
    assert_eq!(
        value(&dashed, "Service", "InaccessiblePaths"),
        "-/home -/root"
    );
    assert!(values(&plain, "Service", "RootDirectory").is_empty());
}

#[test]
fn a_newline_in_any_value_is_an_error_not_a_new_directive() {
    for (key, v) in [
        ("env_vars", json!(["A=1\nExecStartPre=/bin/evil"])),
        ("env_files", json!(["/etc/x\n[Service]"])),
        ("exec_start_pre", json!(["/bin/true\nUser=root"])),
        ("unit_after_targets", json!(["a.target\nUser=root"])),
        (
            "runtime_environment_unit_after_targets",
            json!(["a.target\rUser=root"]),
        ),
        ("exec_start_wrap", json!("/bin/env\nUser=root")),
        ("exec_start", json!("/bin/x\nUser=root")),
        ("exec_stop", json!("/bin/x\nUser=root")),
        ("env_lang", json!("C\nUser=root")),
        ("read_write_paths", json!(["/var/x\nUser=root"])),
        ("base_dir", json!("/srv\nUser=root")),
        (
            "runtime_environment_service_script",
            json!("/srv/x\nUser=root"),
        ),
        ("start_command", json!("start\nUser=root")),
    ] {
        let err = plan_error(&[(key, v)]);
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn mistakes_systemd_would_reject_are_errors() {
    let err = plan_error(&[("service_type", a("exec")), ("systemd_version", json!(239))]);
    assert!(err.contains("service_type") && err.contains("240"), "{err}");
    let err = plan_error(&[("env_files", json!(["etc/environment"]))]);
    assert!(
        err.contains("env_files") && err.contains("absolute"),
        "{err}"
    );
    let err = plan_error(&[("unit_after_targets", json!(["postgres"]))]);
    assert!(err.contains("unit_after_targets"), "{err}");
    let err = plan_error(&[("exec_start_pre", json!(["!"]))]);
    assert!(err.contains("exec_start_pre"), "{err}");
    let err = plan_error(&[("env_vars", json!(["A=x\u{0}y"]))]);
    assert!(err.contains("env_vars") && err.contains("control"), "{err}");
    let err = plan_error(&[("exec_start_pre", json!(["/bin/x \u{1b}[2J"]))]);
    assert!(err.contains("exec_start_pre"), "{err}");
    assert!(!service(&[("env_vars", json!(["A=x\ty"]))]).is_empty());
    let err = plan_error(&[
        ("exec_start_pre", json!(["!deploy-sync"])),
        ("systemd_version", json!(237)),
    ]);
    assert!(
        err.contains("exec_start_pre") && err.contains("absolute"),
        "{err}"
    );
    let found = service(&[
        ("exec_start_pre", json!(["-mkdir -p /x"])),
        ("systemd_version", json!(239)),
    ]);
    assert_eq!(values(&found, "Service", "ExecStartPre"), ["-mkdir -p /x"]);
    let err = plan_error(&[("service_type", a("oneshot"))]);
    assert!(err.contains("service_type"), "{err}");
    let err = plan_error(&[("setup_exec_start", json!(["+"]))]);
    assert!(err.contains("setup_exec_start"), "{err}");
}

#[test]
fn the_setup_units_copies_are_files_in_a_directory_of_roots_own() {
    // A wildcard where a lower account writes: the setup unit copies one file.
    let err = plan_error(&[
        ("app_user", json!("app")),
        ("env_files", json!([["-", a("deploy_dir"), "/etc/*.env"]])),
    ]);
    assert!(
        err.contains("env_files") && err.contains("\"-/srv/foo-bar/etc/*.env\""),
        "{err}"
    );
    // Root's own dirs keep systemd's wildcards.
    assert_eq!(
        values(
            &service(&[("env_files", json!(["-/etc/foo/*.env"]))]),
            "Service",
            "EnvironmentFile"
        ),
        ["-/etc/foo/*.env"]
    );
    // The app's runtime dir named like the setup unit's own.
    let err = plan_error(&[
        ("app_user", json!("app")),
        ("dirs", json!([a("runtime")])),
        ("runtime_directory", json!("foo-bar-setup")),
        (
            "env_files",
            json!([["-", a("runtime_dir"), "/environment"]]),
        ),
    ]);
    assert!(
        err.contains("runtime_directory") && err.contains("/run/foo-bar-setup"),
        "{err}"
    );
}

#[test]
fn stale_units_are_removed_only_when_we_wrote_them() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("_build/prod/systemd/lib/systemd/system");
    let run = |pairs: &[(&str, Value)], check: bool| {
        let mut input = input(pairs, root.path());
        input.options.check = check;
        generate::generate(&input, Side::Systemd).unwrap()
    };
    let flag = [("restart_method", a("systemd_flag"))];
    let report = run(&flag, false);
    assert!(report.changes.iter().all(|c| c.action == Action::Create));
    assert_eq!(report.changes.len(), 3);
    fs::write(dir.join("mine.service"), "[Service]\nExecStart=/bin/true\n").unwrap();

    // --check reports the stale units and touches nothing.
    let check = run(&[], true);
    assert!(check.stale);
    let removing: Vec<&str> = check
        .changes
        .iter()
        .filter(|c| c.action == Action::Remove)
        .map(|c| c.path.as_str())
        .collect();
    assert_eq!(
        removing,
        [
            "_build/prod/systemd/lib/systemd/system/foo-bar-restart.path",
            "_build/prod/systemd/lib/systemd/system/foo-bar-restart.service"
        ]
    );
    assert!(dir.join("foo-bar-restart.path").exists());

    let report = run(&[], false);
    assert!(report
        .changes
        .iter()
        .any(|c| c.action == Action::Unchanged && c.path.ends_with("foo-bar.service")));
    assert!(!dir.join("foo-bar-restart.path").exists());
    assert!(!dir.join("foo-bar-restart.service").exists());
    assert!(dir.join("mine.service").exists(), "a user's unit is kept");

    let again = run(&[], true);
    assert!(!again.stale);
}

#[test]
fn a_bare_script_name_is_that_script_in_scripts_dir() {
    // mix_systemd's README: "Set runtime_environment_service_script to a script
    // such as deploy-runtime-environment-file"; its unit runs scripts_dir/<name>.
    for script in [
        json!("deploy-runtime-environment-file"),
        json!([a("scripts_dir"), "/deploy-runtime-environment-file"]),
        json!("/srv/foo-bar/bin/deploy-runtime-environment-file"),
    ] {
        let pairs = [("runtime_environment_service_script", script.clone())];
        let env = unit(&pairs, "foo-bar-runtime-environment.service");
        assert_eq!(
            exec(&value(&env, "Service", "ExecStart")).1,
            ["/srv/foo-bar/bin/deploy-runtime-environment-file"],
            "{script}"
        );
    }
    // scripts_dir is the final one, wherever it points.
    let env = unit(
        &[
            ("runtime_environment_service_script", json!("env-file")),
            ("scripts_dir", json!("/opt/tools")),
        ],
        "foo-bar-runtime-environment.service",
    );
    assert_eq!(
        exec(&value(&env, "Service", "ExecStart")).1,
        ["/opt/tools/env-file"]
    );
    // "README: Set exec_start_wrap to the name of the script".
    let text = service(&[("exec_start_wrap", json!("deploy-runtime-environment-wrap"))]);
    assert_eq!(
        exec(&value(&text, "Service", "ExecStart")).1,
        [
            "/srv/foo-bar/bin/deploy-runtime-environment-wrap",
            "/srv/foo-bar/current/bin/foo_bar",
            "start"
        ]
    );
    let text = service(&[("exec_start_wrap", json!("-my-wrap --verbose "))]);
    let (prefixes, argv) = exec(&value(&text, "Service", "ExecStart"));
    assert_eq!(prefixes, "-");
    assert_eq!(
        argv,
        [
            "/srv/foo-bar/bin/my-wrap",
            "--verbose",
            "/srv/foo-bar/current/bin/foo_bar",
            "start"
        ]
    );
}

#[test]
fn a_script_that_is_neither_a_name_nor_an_absolute_path_is_an_error() {
    for bad in [json!("bin/env-file"), json!("env file"), json!("../env")] {
        let err = plan_error(&[("runtime_environment_service_script", bad.clone())]);
        assert!(
            err.contains("runtime_environment_service_script")
                && (err.contains("file name of a script in scripts_dir")
                    || err.contains("absolute path")),
            "{bad}: {err}"
        );
    }
}

#[test]
fn each_service_has_its_own_node_name_and_an_explicit_one_wins() {
    let node = |pairs: &[(&str, Value)]| environment(&service(pairs)).get("RELEASE_NODE").cloned();
    // The default service of foo_bar is foo-bar: the release's own default node name.
    assert_eq!(node(&[]).as_deref(), Some("foo_bar"));
    // A second environment of the same app, with its own ext_name.
    let staging = unit(
        &[("ext_name", json!("foo-bar-staging"))],
        "foo-bar-staging.service",
    );
    assert_eq!(environment(&staging)["RELEASE_NODE"], "foo_bar_staging");
    let named = unit(
        &[("service_name", json!("foo-bar.staging"))],
        "foo-bar.staging.service",
    );
    assert_eq!(environment(&named)["RELEASE_NODE"], "foo_bar_staging");
    assert_eq!(
        node(&[("env_vars", json!(["RELEASE_NODE=shop@10.0.0.1"]))]).as_deref(),
        Some("shop@10.0.0.1")
    );
    let text = service(&[("env_vars", json!(["RELEASE_NODE=shop"]))]);
    assert_eq!(
        values(&text, "Service", "Environment")
            .iter()
            .filter(|a| a.contains("RELEASE_NODE="))
            .count(),
        1
    );
    assert_eq!(
        node(&[("release_system", a("distillery"))]),
        None,
        "Distillery's node name is in its vm.args"
    );
}
