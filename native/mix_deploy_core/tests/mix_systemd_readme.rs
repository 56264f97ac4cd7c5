//! Configs transcribed by hand from the examples of mix_systemd's README (a copy
//! is ../shared/reference/mix_systemd-README.md in the workspace, not in this
//! repository), one fixture per example or section, in `examples()` below: each
//! generates, matches its golden units (tests/readme_golden/<example>/), and
//! produces what the README says it does. The test does not read the README: an
//! example left out when transcribing, or one the README adds or changes later,
//! goes unnoticed here; compare `examples()` with the README by hand. Where we
//! deviate on purpose, docs/systemd.md ("Differences from mix_systemd") says so and
//! the assertion here pins our behaviour. After an intended change:
//! `UPDATE_GOLDEN=1 cargo test --test mix_systemd_readme`, then review the diff.

mod common;

use std::path::{Path, PathBuf};

use common::{a, check_golden, input_in};
use mix_deploy_core::generate;
use mix_deploy_core::input::Input;
use mix_deploy_core::resolve::resolve;
use mix_deploy_core::Side;
use serde_json::{json, Value};

type Pairs = Vec<(&'static str, Value)>;

/// The README's examples, by section, transcribed by hand as written (the README's
/// own syntax slips, a missing comma and an unquoted `REPLACE_OS_VARS=true`, fixed).
fn examples() -> Vec<(&'static str, Pairs)> {
    vec![
        // "The library tries to choose reasonable defaults, so you may not need to
        // configure anything."
        ("defaults", vec![]),
        // ## Configuration (and again under "Configuration options").
        (
            "configuration",
            vec![
                ("app_user", json!("app")),
                ("app_group", json!("app")),
                ("base_dir", json!("/opt")),
                ("env_vars", json!(["PORT=8080"])),
            ],
        ),
        // ## Environment vars
        (
            "environment_vars",
            vec![
                ("env_vars", json!(["PORT=8080"])),
                ("dirs", json!([a("configuration")])),
                (
                    "env_files",
                    json!([["-", a("configuration_dir"), "/environment"]]),
                ),
            ],
        ),
        // ### Copying files: deploy-sync-config-s3 before the start, as root.
        (
            "copying_files",
            vec![
                (
                    "exec_start_pre",
                    json!([["!", a("deploy_dir"), "/bin/deploy-sync-config-s3"]]),
                ),
                ("dirs", json!([a("configuration"), a("runtime")])),
                (
                    "env_files",
                    json!([["-", a("deploy_dir"), "/etc/environment"]]),
                ),
                ("env_vars", json!([["RELEASE_TMP=", a("runtime_dir")]])),
            ],
        ),
        // ### Config providers
        (
            "config_providers",
            vec![
                ("dirs", json!([a("configuration"), a("runtime")])),
                ("env_vars", json!([["RELEASE_TMP=", a("runtime_dir")]])),
            ],
        ),
        // ### Directories: every standard directory.
        (
            "directories",
            vec![(
                "dirs",
                json!([
                    a("runtime"),
                    a("configuration"),
                    a("state"),
                    a("cache"),
                    a("logs"),
                    a("tmp")
                ]),
            )],
        ),
        // systemd_version for the README's targets.
        (
            "centos_7",
            vec![
                ("systemd_version", json!(219)),
                (
                    "dirs",
                    json!([a("runtime"), a("configuration"), a("state")]),
                ),
            ],
        ),
        ("ubuntu_16_04", vec![("systemd_version", json!(229))]),
        ("ubuntu_18_04", vec![("systemd_version", json!(237))]),
        // ## Variable expansion: expand_keys set to its documented default.
        (
            "expand_keys",
            vec![
                (
                    "expand_keys",
                    json!([
                        a("env_files"),
                        a("env_vars"),
                        a("runtime_environment_service_script"),
                        a("exec_start"),
                        a("exec_stop"),
                        a("exec_start_pre"),
                        a("exec_start_wrap"),
                        a("read_write_paths"),
                        a("read_only_paths"),
                        a("inaccessible_paths")
                    ]),
                ),
                (
                    "exec_start_pre",
                    json!([["!", a("deploy_dir"), "/bin/myscript"]]),
                ),
            ],
        ),
        // ### Environment vars: env_vars and the three env_files.
        (
            "env_files",
            vec![
                (
                    "env_vars",
                    json!(["PORT=8080", ["RELEASE_TMP=", a("runtime_dir")]]),
                ),
                (
                    "env_files",
                    json!([
                        ["-", a("deploy_dir"), "/etc/environment"],
                        ["-", a("configuration_dir"), "environment"],
                        ["-", a("runtime_dir"), "environment"]
                    ]),
                ),
            ],
        ),
        // ### Runtime dirs
        (
            "runtime_dirs",
            vec![
                ("dirs", json!([a("runtime")])),
                ("env_vars", json!([["RELEASE_TMP=", a("runtime_dir")]])),
                ("runtime_directory_preserve", json!("restart")),
            ],
        ),
        // ### Starting and restarting
        ("forking", vec![("service_type", a("forking"))]),
        (
            "exec",
            vec![("service_type", a("exec")), ("systemd_version", json!(240))],
        ),
        ("systemd_flag", vec![("restart_method", a("systemd_flag"))]),
        (
            "process_settings",
            vec![
                ("working_dir", json!([a("deploy_dir")])),
                ("limit_nofile", Value::Null),
                ("umask", json!("0077")),
                ("restart_sec", json!(5)),
                ("syslog_identifier", json!("foo")),
                ("limit_core", json!("infinity")),
            ],
        ),
        // #### ExecStart and ExecStop
        (
            "exec_start",
            vec![("exec_start", json!([a("deploy_dir"), "bin/start-migrate"]))],
        ),
        // #### ExecStartPre scripts: migrations.
        (
            "exec_start_pre_migrate",
            vec![(
                "exec_start_pre",
                json!([
                    [
                        a("current_dir"),
                        "/bin/",
                        a("release_name"),
                        " eval ",
                        a("module_name"),
                        ".Release.create_repos()"
                    ],
                    [
                        a("current_dir"),
                        "/bin/",
                        a("release_name"),
                        " eval ",
                        a("module_name"),
                        ".Release.migrate()"
                    ]
                ]),
            )],
        ),
        // #### ExecStart wrapper script
        (
            "exec_start_wrap",
            vec![("exec_start_wrap", json!("deploy-runtime-environment-wrap"))],
        ),
        // #### Runtime environment service
        (
            "runtime_environment_service",
            vec![(
                "runtime_environment_service_script",
                json!("deploy-runtime-environment-file"),
            )],
        ),
        // ### Runtime dependencies
        (
            "unit_after_targets",
            vec![("unit_after_targets", json!(["cloud-init.target"]))],
        ),
        // ## Security
        ("paranoia", vec![("paranoia", json!(true))]),
        (
            "chroot",
            vec![
                ("chroot", json!(true)),
                ("read_write_paths", json!([[a("runtime_dir")]])),
                ("read_only_paths", json!(["/etc/ssl"])),
                ("inaccessible_paths", json!(["/home"])),
            ],
        ),
        // ## Distillery
        (
            "distillery",
            vec![
                ("release_system", a("distillery")),
                (
                    "exec_start_pre",
                    json!([["!", a("deploy_dir"), "/bin/deploy-sync-config-s3"]]),
                ),
                ("dirs", json!([a("configuration"), a("runtime")])),
                ("runtime_directory_preserve", json!("yes")),
                (
                    "env_vars",
                    json!([
                        ["RELEASE_MUTABLE_DIR=", a("runtime_dir")],
                        "REPLACE_OS_VARS=true"
                    ]),
                ),
            ],
        ),
        // The overlay's env file under the release.
        (
            "distillery_overlay",
            vec![
                ("release_system", a("distillery")),
                (
                    "env_files",
                    json!([["-", a("current_dir"), "/etc/environment"]]),
                ),
            ],
        ),
    ]
}

fn example(name: &str) -> Pairs {
    examples()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no example {name}"))
        .1
}

/// The units of an example: (file name, contents), with the resolver's warnings.
fn units(pairs: &[(&str, Value)]) -> (Vec<(String, String)>, Vec<String>) {
    let root = tempfile::tempdir().unwrap();
    let input = Input::parse(&input_in(pairs, root.path().to_str().unwrap())).unwrap();
    let resolved = resolve(&input, Side::Systemd).unwrap_or_else(|e| panic!("resolve: {e}"));
    let (files, _) = generate::plan(&resolved, root.path(), Side::Systemd)
        .unwrap_or_else(|e| panic!("plan: {e}"));
    let files = files
        .into_iter()
        .map(|f| {
            let name = f.path.file_name().unwrap().to_string_lossy().into_owned();
            (name, f.contents)
        })
        .collect();
    (files, resolved.warnings)
}

fn unit(name: &str, file: &str) -> String {
    units(&example(name))
        .0
        .into_iter()
        .find(|(n, _)| n == file)
        .unwrap_or_else(|| panic!("{name}: {file} not generated"))
        .1
}

fn service(name: &str) -> String {
    unit(name, "foo-bar.service")
}

/// The values of `key=` lines, in order.
fn lines(text: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}=");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .collect()
}

fn line(text: &str, key: &str) -> String {
    let v = lines(text, key);
    assert_eq!(v.len(), 1, "{key}= once:\n{text}");
    v[0].clone()
}

/// The env files the service of an example reads, each as the file named in the
/// config: a copy the setup unit makes (of a file in a directory of the deploy
/// user or the app) is traced back to its source through the setup unit's
/// arguments (src, copy, optional|required, user, group; no white space in these
/// examples' paths). A `-` stays.
fn env_files_read(name: &str) -> Vec<String> {
    let setup = units(&example(name))
        .0
        .into_iter()
        .find(|(n, _)| n == "foo-bar-setup.service")
        .map(|(_, text)| text)
        .unwrap_or_default();
    let args: Vec<&str> = setup
        .split_once("done' sh ")
        .map(|(_, rest)| {
            rest.lines()
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect()
        })
        .unwrap_or_default();
    lines(&service(name), "EnvironmentFile")
        .into_iter()
        .map(|item| {
            let (dash, path) = item.split_at(usize::from(item.starts_with('-')));
            let source = args
                .iter()
                .skip(1)
                .collect::<Vec<_>>()
                .chunks(5)
                .find(|c| c.len() == 5 && *c[1] == path)
                .map(|c| c[0].to_string());
            if path.starts_with("/run/foo-bar-setup/") {
                let source = source.unwrap_or_else(|| panic!("{name}: no source of {path}"));
                format!("{dash}{source}")
            } else {
                item
            }
        })
        .collect()
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/readme_golden")
}

#[test]
fn each_transcribed_readme_example_generates_and_matches_its_golden_units() {
    let mut failures = Vec::new();
    for (name, pairs) in examples() {
        let (files, warnings) = units(&pairs);
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
        failures.extend(check_golden(name, &golden_dir().join(name), &files));
    }
    assert!(
        failures.is_empty(),
        "{}\n(after an intended change: UPDATE_GOLDEN=1 cargo test --test mix_systemd_readme, then review the diff)",
        failures.join("\n")
    );
}

#[test]
fn defaults_name_the_service_dir_and_user_after_the_app() {
    // "if your app is named foo_bar, it will create a service named foo-bar,
    // deployed to /srv/foo-bar, running under the user foo-bar."
    let (files, _) = units(&[]);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].0, "foo-bar.service");
    let text = service("defaults");
    assert_eq!(line(&text, "User"), "foo-bar");
    assert_eq!(line(&text, "Group"), "foo-bar");
    assert_eq!(line(&text, "WorkingDirectory"), "/srv/foo-bar/current");
    assert_eq!(
        line(&text, "ExecStart"),
        "/srv/foo-bar/current/bin/foo_bar start"
    );
    assert_eq!(line(&text, "LimitNOFILE"), "65535");
    assert_eq!(line(&text, "UMask"), "0027");
    assert_eq!(line(&text, "SyslogIdentifier"), "foo-bar");
    assert_eq!(line(&text, "Type"), "simple");
    assert!(
        lines(&text, "RestartSec").is_empty(),
        "systemd's own 100 ms"
    );
    assert!(lines(&text, "LimitCORE").is_empty());
    let env = lines(&text, "Environment");
    for var in ["\"LANG=en_US.utf8\"", "\"MIX_ENV=prod\""] {
        assert!(env.contains(&var.to_string()), "{var} in {env:?}");
    }
    // Deviation: no ExecStop= (systemd's SIGTERM stops the VM in order).
    assert!(lines(&text, "ExecStop").is_empty());
}

#[test]
fn configuration_example_sets_accounts_base_dir_and_port() {
    let text = service("configuration");
    assert_eq!(line(&text, "User"), "app");
    assert_eq!(line(&text, "Group"), "app");
    assert_eq!(line(&text, "WorkingDirectory"), "/opt/foo-bar/current");
    assert!(lines(&text, "Environment").contains(&"\"PORT=8080\"".to_string()));
}

#[test]
fn environment_examples_create_dirs_and_read_the_files_named() {
    let text = service("environment_vars");
    assert_eq!(line(&text, "ConfigurationDirectory"), "foo-bar");
    assert_eq!(line(&text, "ConfigurationDirectoryMode"), "0750");
    assert_eq!(
        env_files_read("environment_vars"),
        ["-/etc/foo-bar/environment"]
    );
    assert!(lines(&text, "Environment").contains(&"\"CONFIGURATION_DIR=/etc/foo-bar\"".into()));

    let text = service("copying_files");
    assert_eq!(
        line(&text, "ExecStartPre"),
        "!/srv/foo-bar/bin/deploy-sync-config-s3"
    );
    assert_eq!(
        env_files_read("copying_files"),
        ["-/srv/foo-bar/etc/environment"]
    );
    assert_eq!(line(&text, "RuntimeDirectory"), "foo-bar");
    assert!(lines(&text, "Environment").contains(&"\"RELEASE_TMP=/run/foo-bar\"".into()));

    // The README's comments: /srv/foo/etc/environment, /etc/foo/environment,
    // /run/foo/environment (the last two written without a leading slash).
    assert_eq!(
        env_files_read("env_files"),
        [
            "-/srv/foo-bar/etc/environment",
            "-/etc/foo-bar/environment",
            "-/run/foo-bar/environment"
        ]
    );
}

#[test]
fn directories_example_manages_every_directory_with_mode_750() {
    let text = service("directories");
    for directive in [
        "RuntimeDirectory",
        "ConfigurationDirectory",
        "StateDirectory",
        "CacheDirectory",
        "LogsDirectory",
    ] {
        assert_eq!(line(&text, directive), "foo-bar", "{directive}");
        assert_eq!(line(&text, &format!("{directive}Mode")), "0750");
    }
    // No TmpDirectory= in systemd: the root setup unit's systemd-tmpfiles
    // creates it before the service starts (the README's version, 235, has no
    // tmpfiles that refuses links: there create-dirs makes it); the service runs
    // no command as root.
    assert!(lines(&text, "ExecStartPre").is_empty());
    for var in [
        "RUNTIME_DIR=/run/foo-bar",
        "CONFIGURATION_DIR=/etc/foo-bar",
        "LOGS_DIR=/var/log/foo-bar",
        "CACHE_DIR=/var/cache/foo-bar",
        "STATE_DIR=/var/lib/foo-bar",
        "TMP_DIR=/var/tmp/foo-bar",
    ] {
        assert!(
            lines(&text, "Environment").contains(&format!("\"{var}\"")),
            "{var}"
        );
    }
    // "With earlier systemd versions, you need to create them beforehand".
    let old = service("centos_7");
    assert_eq!(line(&old, "RuntimeDirectory"), "foo-bar");
    assert!(lines(&old, "StateDirectory").is_empty());
    assert!(lines(&old, "ConfigurationDirectory").is_empty());
    assert!(lines(&old, "RuntimeDirectoryPreserve").is_empty());
}

#[test]
fn expand_keys_set_to_its_documented_default_still_expands() {
    let text = service("expand_keys");
    assert_eq!(line(&text, "ExecStartPre"), "!/srv/foo-bar/bin/myscript");
}

#[test]
fn starting_and_restarting_settings_reach_the_unit() {
    let text = service("forking");
    assert_eq!(line(&text, "Type"), "forking");
    assert_eq!(line(&text, "PIDFile"), "/run/foo-bar/foo_bar.pid");
    assert_eq!(
        line(&text, "ExecStart"),
        "/srv/foo-bar/current/bin/foo_bar daemon"
    );
    assert!(lines(&text, "Environment").contains(&"\"PIDFILE=/run/foo-bar/foo_bar.pid\"".into()));

    assert_eq!(line(&service("exec"), "Type"), "exec");

    let names: Vec<String> = units(&example("systemd_flag"))
        .0
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
    let path = unit("systemd_flag", "foo-bar-restart.path");
    assert_eq!(
        line(&path, "PathChanged"),
        "/srv/foo-bar/flags/restart.flag"
    );

    let text = service("process_settings");
    assert_eq!(line(&text, "WorkingDirectory"), "/srv/foo-bar");
    assert!(
        lines(&text, "LimitNOFILE").is_empty(),
        "nil: systemd's default"
    );
    assert_eq!(line(&text, "UMask"), "0077");
    assert_eq!(line(&text, "RestartSec"), "5");
    assert_eq!(line(&text, "SyslogIdentifier"), "foo");
    assert_eq!(line(&text, "LimitCORE"), "infinity");
}

#[test]
fn exec_examples_run_what_the_readme_says() {
    // "This would run the script /srv/foo/bin/start-migrate".
    assert_eq!(
        line(&service("exec_start"), "ExecStart"),
        "/srv/foo-bar/bin/start-migrate"
    );
    assert_eq!(
        lines(&service("exec_start_pre_migrate"), "ExecStartPre"),
        [
            "/srv/foo-bar/current/bin/foo_bar eval FooBar.Release.create_repos()",
            "/srv/foo-bar/current/bin/foo_bar eval FooBar.Release.migrate()"
        ]
    );
    assert_eq!(
        line(&service("exec_start_wrap"), "ExecStart"),
        "/srv/foo-bar/bin/deploy-runtime-environment-wrap /srv/foo-bar/current/bin/foo_bar start"
    );
}

#[test]
fn runtime_environment_service_is_a_dependency_of_the_app() {
    let env = unit(
        "runtime_environment_service",
        "foo-bar-runtime-environment.service",
    );
    assert_eq!(
        line(&env, "ExecStart"),
        "/srv/foo-bar/bin/deploy-runtime-environment-file"
    );
    let main = service("runtime_environment_service");
    assert_eq!(
        line(&main, "Requires"),
        "foo-bar-runtime-environment.service"
    );
    assert!(line(&main, "After").contains("foo-bar-runtime-environment.service"));
    assert!(line(&service("unit_after_targets"), "After").contains("cloud-init.target"));
}

#[test]
fn security_examples_harden_and_chroot() {
    let text = service("paranoia");
    for (k, v) in [
        ("NoNewPrivileges", "yes"),
        ("PrivateDevices", "yes"),
        ("PrivateTmp", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectControlGroups", "yes"),
    ] {
        assert_eq!(line(&text, k), v, "{k}");
    }
    // Deviations: no PrivateUsers= (fails where user namespaces are not allowed),
    // MountAPIVFS= only with chroot (it only means something with RootDirectory=).
    assert!(lines(&text, "PrivateUsers").is_empty());
    assert!(lines(&text, "MountAPIVFS").is_empty());

    let text = service("chroot");
    assert_eq!(line(&text, "RootDirectory"), "/srv/foo-bar/current");
    assert_eq!(line(&text, "ReadWritePaths"), "-/run/foo-bar");
    assert_eq!(line(&text, "ReadOnlyPaths"), "-/etc/ssl");
    assert_eq!(line(&text, "InaccessiblePaths"), "-/home");
}

#[test]
fn distillery_examples_start_in_the_foreground_with_their_env() {
    let text = service("distillery");
    assert_eq!(
        line(&text, "ExecStart"),
        "/srv/foo-bar/current/bin/foo_bar foreground"
    );
    assert_eq!(line(&text, "RuntimeDirectoryPreserve"), "yes");
    let env = lines(&text, "Environment");
    assert!(
        env.contains(&"\"RELEASE_MUTABLE_DIR=/run/foo-bar\"".into()),
        "{env:?}"
    );
    assert!(env.contains(&"\"REPLACE_OS_VARS=true\"".into()), "{env:?}");
    assert_eq!(
        env_files_read("distillery_overlay"),
        ["-/srv/foo-bar/current/etc/environment"]
    );
}
