//! Helpers for the unit templates: values systemd needs in a shape templates can
//! print directly (one After= line, quoted Environment= assignments, command lines
//! whose configured paths survive systemd's word splitting, directory settings gated
//! by systemd_version), and the checks that need the whole resolved config.
//!
//! Command lines keep the user's systemd syntax; configured values go through the
//! quoting functions of `quote` so they reach the program literally.

use serde_json::{json, Map, Value};

use crate::error::{Error, Errors};
use crate::quote::{
    arg_word, exe_word, list_word, needs_quoting, octal_mode, split_prefixes, systemd_env_quote,
    unit_value,
};
use crate::spec::{self, Kind, Side};
use crate::view::{DirSettings, Sided, SystemdView, View};

/// Versions that introduced the settings we gate on.
pub const V_BIND_PATHS: i64 = 233;
pub const V_PROTECT_SYSTEM_STRICT: i64 = 235;
pub const V_TYPE_EXEC: i64 = 240;
pub const V_RELATIVE_EXEC: i64 = 239;
/// The "+" and "!" prefixes of Exec lines.
pub const V_PRIVILEGED_PREFIX: i64 = 231;

/// A user's command line (exec_start_pre entries, exec_start_wrap, exec_start,
/// exec_stop) for an Exec line. It is systemd syntax as written: prefixes, words
/// split at white space, the user's own quotes, specifiers and `$VAR`s all kept.
/// One exception makes references safe: a word that begins with a configured path
/// containing white space, quotes, `%` or `$` (such as `deploy_dir` "/srv/my app")
/// is one literal word, quoted and escaped, so `["!", :deploy_dir, "/bin/x"]` runs
/// that file whatever the path holds.
pub fn command_line(line: &str, special_paths: &[String]) -> String {
    let (prefixes, rest) = split_prefixes(line);
    let mut out = String::from(prefixes);
    let mut i = 0;
    let mut first = true;
    while i < rest.len() {
        let c = rest[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let start = i;
        if c == '"' || c == '\'' {
            // The user's own quoting: copied through the closing quote.
            i = quoted_end(rest, i, c);
            i = word_end(rest, i);
            out.push_str(&rest[start..i]);
        } else if let Some(path) = special_paths.iter().find(|p| {
            rest[i..].starts_with(p.as_str())
                && rest[i + p.len()..]
                    .chars()
                    .next()
                    .map_or(true, |n| n == '/' || n.is_whitespace())
        }) {
            i = word_end(rest, i + path.len());
            let word = &rest[start..i];
            out.push_str(&if first {
                exe_word(word)
            } else {
                arg_word(word)
            });
        } else {
            i = word_end(rest, i);
            out.push_str(&rest[start..i]);
        }
        first = false;
    }
    out
}

/// Where the word starting at `from` ends: the next white space or the end.
fn word_end(s: &str, from: usize) -> usize {
    s[from..]
        .char_indices()
        .find(|(_, c)| c.is_whitespace())
        .map(|(j, _)| from + j)
        .unwrap_or(s.len())
}

/// Just past the quote closing the one at `from` (backslash escapes skipped), or the end.
fn quoted_end(s: &str, from: usize, quote: char) -> usize {
    let body = from + quote.len_utf8();
    let mut escaped = false;
    for (j, c) in s[body..].char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return body + j + c.len_utf8();
        }
    }
    s.len()
}

/// Configured paths (values of path keys) that systemd would not read as one
/// literal word, longest first (so `/srv/my app/current` wins over `/srv/my app`).
fn special_paths(ctx: &Map<String, Value>) -> Vec<String> {
    let mut paths: Vec<String> = spec::SPECS
        .iter()
        .filter(|s| {
            s.applies_to(Side::Systemd)
                && matches!(s.kind, Kind::Path | Kind::OptPath | Kind::Script)
        })
        .filter_map(|s| ctx.get(s.key).and_then(Value::as_str))
        .filter(|p| needs_quoting(p))
        .map(str::to_string)
        .collect();
    paths.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    paths.dedup();
    paths
}

/// `path` as seen inside RootDirectory=`root`, when it lies there.
fn inside_root(path: &str, root: &str) -> Option<String> {
    let root = root.trim_end_matches('/');
    let rest = path.strip_prefix(root)?;
    if rest.is_empty() {
        Some("/".into())
    } else if rest.starts_with('/') {
        Some(rest.to_string())
    } else {
        None
    }
}

/// Unit names in a list of After= entries, each entry split at white space.
fn unit_names(entries: &[String]) -> Vec<String> {
    entries
        .iter()
        .flat_map(|e| e.split_whitespace().map(str::to_string))
        .collect()
}

fn push_unique(list: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

/// A non-blank command of an optional key.
fn command(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|w| !w.trim().is_empty())
}

/// The `dirs` of the unit: the configured ones, plus the runtime directory when a
/// forking service keeps its PID file there (the default), so the file has a place.
fn unit_dir_names(v: &View, s: &SystemdView) -> Vec<String> {
    let mut dirs = v.dirs.clone();
    let runtime = format!("{}/", v.dir("runtime").path);
    let pid_in_runtime = v.pid_file.as_ref().is_some_and(|p| p.starts_with(&runtime));
    if s.service_type == "forking" && pid_in_runtime {
        push_unique(&mut dirs, ["runtime".to_string()]);
    }
    dirs
}

/// Every Environment= assignment of the main unit, quoted, one name once (a later
/// assignment replaces an earlier one, so env_vars override the built-ins).
fn environment(v: &View, s: &SystemdView) -> Vec<(String, String)> {
    let dirs = unit_dir_names(v, s);
    let has = |d: &str| dirs.iter().any(|x| x == d);
    let user_vars: Vec<(String, String)> = v
        .env_vars
        .iter()
        .filter_map(|a| a.split_once('='))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let user_sets = |name: &str| user_vars.iter().any(|(n, _)| n == name);

    let mut vars: Vec<(String, String)> = vec![
        ("LANG".into(), v.env_lang.clone()),
        ("MIX_ENV".into(), v.mix_env.clone()),
    ];
    let mut listed: Vec<&DirSettings> = v.dir_settings.iter().filter(|d| has(d.dir.name)).collect();
    listed.sort_by_key(|d| d.dir.env_order);
    for d in listed {
        vars.push((d.dir.var.into(), d.path.clone()));
    }
    // The app user cannot write the release directory (and under paranoia nobody
    // can), yet a daemon (forking) writes its pipes and logs there: point the
    // release's scratch files at a writable place unless the user chose one.
    let forking = s.service_type == "forking";
    if s.paranoia || forking {
        let scratch = if has("runtime") {
            v.dir("runtime").path.clone()
        } else {
            "/tmp".to_string()
        };
        let var = if v.is_distillery() {
            "RELEASE_MUTABLE_DIR"
        } else {
            "RELEASE_TMP"
        };
        if !user_sets(var) {
            vars.push((var.into(), scratch));
        }
    }
    if forking {
        if let Some(pid) = &v.pid_file {
            vars.push(("PIDFILE".into(), pid.clone()));
        }
    }
    for (name, value) in user_vars {
        vars.retain(|(n, _)| *n != name);
        vars.push((name, value));
    }
    vars
}

/// Directory settings of the main unit: (directive, directory, mode) for each entry
/// of `dirs` that the target's systemd creates itself.
fn managed_dirs(v: &View, s: &SystemdView) -> Vec<Value> {
    let dirs = unit_dir_names(v, s);
    v.dir_settings
        .iter()
        .filter(|d| dirs.iter().any(|name| name == d.dir.name))
        .filter(|d| {
            d.dir
                .systemd_since
                .is_some_and(|since| v.systemd_version >= since)
        })
        .map(|d| {
            json!({
                "name": d.dir.name,
                "directive": d.dir.directive,
                "directory": d.directory,
                "mode": octal_mode(&d.mode),
            })
        })
        .collect()
}

/// A path list for ReadWritePaths=, BindPaths= and the like, each path optional
/// (`-`: skipped when missing). A missing path would otherwise stop every start of
/// the unit with 226/NAMESPACE before any command of it runs, and nothing the unit
/// runs could create it: the unit must start whatever exists yet.
fn path_list(items: &[String]) -> String {
    items
        .iter()
        .map(|p| {
            if p.starts_with('-') {
                list_word(p)
            } else {
                list_word(&format!("-{p}"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn set(ctx: &mut Map<String, Value>, key: &str, value: Value) {
    ctx.insert(key.to_string(), value);
}

/// Adds the unit helpers (documented in docs/systemd.md) to a systemd-side context.
pub fn add_unit_helpers(ctx: &mut Map<String, Value>, v: &View) {
    let Sided::Systemd(s) = &v.sided else {
        return;
    };
    let paths = special_paths(ctx);
    add_ordering(ctx, v, s);
    add_environment(ctx, v, s);
    add_commands(ctx, v, s, &paths);
    add_file_system_view(ctx, v, s);
}

/// Ordering: one After= line with every unit.
fn add_ordering(ctx: &mut Map<String, Value>, v: &View, s: &SystemdView) {
    let runtime_env_unit = v.unit("runtime-environment.service");
    // listen_stream: systemd holds the port in <service>.socket and hands it over.
    let mut after = vec!["local-fs.target".to_string(), "network.target".to_string()];
    push_unique(&mut after, v.socket_unit());
    push_unique(&mut after, runtime_env_unit.clone());
    push_unique(&mut after, unit_names(&s.unit_after_targets));
    let mut env_after = vec!["local-fs.target".to_string(), "network.target".to_string()];
    push_unique(
        &mut env_after,
        unit_names(&s.runtime_environment_unit_after_targets),
    );
    set(ctx, "after_targets", Value::String(after.join(" ")));
    set(
        ctx,
        "unit_listen_streams",
        Value::Array(
            v.listen_stream
                .iter()
                .map(|a| Value::String(crate::listen::unit_address(a)))
                .collect(),
        ),
    );
    set(
        ctx,
        "runtime_environment_unit",
        runtime_env_unit.map(Value::String).unwrap_or(Value::Null),
    );
    set(
        ctx,
        "runtime_environment_after_targets",
        Value::String(env_after.join(" ")),
    );
}

/// Environment: the user's assignments, the main unit's and the env files, quoted.
fn add_environment(ctx: &mut Map<String, Value>, v: &View, s: &SystemdView) {
    let env_quoted: Vec<Value> = v
        .env_vars
        .iter()
        .map(|a| Value::String(systemd_env_quote(a)))
        .collect();
    let unit_env: Vec<Value> = environment(v, s)
        .iter()
        .map(|(n, v)| Value::String(systemd_env_quote(&format!("{n}={v}"))))
        .collect();
    let env_files: Vec<Value> = v
        .env_files
        .iter()
        .map(|f| Value::String(unit_value(f)))
        .collect();
    set(ctx, "environment_quoted", Value::Array(env_quoted));
    set(ctx, "unit_environment", Value::Array(unit_env));
    set(ctx, "unit_env_files", Value::Array(env_files));
}

/// Commands: ExecStart, ExecStartPre, ExecStop, the working directory and the
/// runtime-environment script.
fn add_commands(ctx: &mut Map<String, Value>, v: &View, s: &SystemdView, paths: &[String]) {
    let root = &v.root_directory;
    let in_root = |path: String| match s.chroot {
        true => inside_root(&path, root).unwrap_or(path),
        false => path,
    };
    let wrap = command(&s.exec_start_wrap);
    let default = spec::default_exec_start(
        s.exec_start_wrap.as_deref(),
        &v.current_dir,
        &v.release_name,
        &s.start_command,
    );
    let unit_exec_start = if s.exec_start == default {
        let release = in_root(format!("{}/bin/{}", v.current_dir, v.release_name));
        let command = arg_word(&s.start_command);
        match wrap {
            Some(wrap) => format!(
                "{} {} {command}",
                command_line(wrap.trim(), paths),
                arg_word(&release)
            ),
            None => format!("{} {command}", exe_word(&release)),
        }
    } else {
        command_line(&s.exec_start, paths)
    };
    // systemd has no TmpDirectory=: create tmp_dir as root ("+": without the
    // private /var/tmp) before anything else, so TMP_DIR exists and paranoia's
    // BindPaths= has something to bind. systemd sets up BindPaths= for "+" lines
    // too, so that bind is optional: a missing source would fail this very line.
    let mut exec_start_pre: Vec<Value> = Vec::new();
    if v.has_dir("tmp") && v.systemd_version >= V_PRIVILEGED_PREFIX {
        let tmp = v.dir("tmp");
        exec_start_pre.push(Value::String(format!(
            "+/usr/bin/install -d -m {} -o {} -g {} {}",
            octal_mode(&tmp.mode),
            arg_word(&v.app_user),
            arg_word(&v.app_group),
            arg_word(&tmp.path),
        )));
    }
    exec_start_pre.extend(
        s.exec_start_pre
            .iter()
            .map(|c| Value::String(command_line(c, paths))),
    );
    let exec_stop = command(&s.exec_stop)
        .map(|c| Value::String(command_line(c, paths)))
        .unwrap_or(Value::Null);
    let working_dir = in_root(s.working_dir.clone());
    let runtime_env_exec = v
        .runtime_environment_service_script
        .as_deref()
        .map(|s| Value::String(exe_word(s)))
        .unwrap_or(Value::Null);
    set(ctx, "unit_exec_start", Value::String(unit_exec_start));
    set(ctx, "unit_exec_start_pre", Value::Array(exec_start_pre));
    set(ctx, "unit_exec_stop", exec_stop);
    set(
        ctx,
        "unit_working_dir",
        Value::String(unit_value(&working_dir)),
    );
    set(ctx, "unit_runtime_environment_exec", runtime_env_exec);
}

/// File system view: managed directories, path lists, private tmp, protection.
/// tmp_dir is bound optionally (see path_list): on the first start the
/// ExecStartPre=+ line creates it (a "+" command gets no private /var/tmp, so it
/// lands on the host), and the main process finds it bound.
fn add_file_system_view(ctx: &mut Map<String, Value>, v: &View, s: &SystemdView) {
    let version = v.systemd_version;
    let tmp_bound = s.paranoia && v.has_dir("tmp") && version >= V_BIND_PATHS;
    let private_tmp = s.paranoia && (!v.has_dir("tmp") || tmp_bound);
    let bind_paths: Vec<String> = if tmp_bound {
        vec![v.dir("tmp").path.clone()]
    } else {
        Vec::new()
    };
    let protect_home = {
        let deploy = &v.deploy_dir;
        let under = |base: &str| *deploy == base || deploy.starts_with(&format!("{base}/"));
        if under("/home") || under("/root") || under("/run/user") {
            "read-only"
        } else {
            "yes"
        }
    };
    let protect_system = if version >= V_PROTECT_SYSTEM_STRICT {
        "strict"
    } else {
        "full"
    };
    set(ctx, "unit_dirs", Value::Array(managed_dirs(v, s)));
    for (key, items) in [
        ("unit_read_write_paths", &s.read_write_paths),
        ("unit_read_only_paths", &s.read_only_paths),
        ("unit_inaccessible_paths", &s.inaccessible_paths),
        ("unit_bind_paths", &bind_paths),
    ] {
        set(ctx, key, Value::String(path_list(items)));
    }
    set(ctx, "unit_private_tmp", Value::Bool(private_tmp));
    set(ctx, "unit_protect_home", Value::String(protect_home.into()));
    set(
        ctx,
        "unit_protect_system",
        Value::String(protect_system.into()),
    );
}

fn invalid(key: &str, value: String, expected: &str, hint: Option<String>) -> Error {
    Error::InvalidValue {
        ns: "mix_systemd".into(),
        key: key.into(),
        value,
        expected: expected.into(),
        hint,
    }
}

/// Checks that need several keys at once; run before any unit is rendered.
pub fn check(v: &View) -> Result<(), Errors> {
    let Sided::Systemd(s) = &v.sided else {
        return Ok(());
    };
    let mut errors = Errors::default();
    check_control_characters(v, s, &mut errors);
    check_service_type(v, s, &mut errors);
    check_env_files(v, &mut errors);
    check_unit_names(s, &mut errors);
    check_command_lines(v, s, &mut errors);
    errors.into_result(())
}

/// Newlines are rejected by the resolver; other control characters have no
/// business in a unit either (a NUL ends systemd's reading of the line).
fn check_control_characters(v: &View, s: &SystemdView, errors: &mut Errors) {
    let one = |value: &Option<String>| value.iter().cloned().collect::<Vec<_>>();
    for (key, items) in [
        ("env_vars", v.env_vars.clone()),
        ("env_files", v.env_files.clone()),
        ("exec_start_pre", s.exec_start_pre.clone()),
        ("exec_start", vec![s.exec_start.clone()]),
        ("exec_start_wrap", one(&s.exec_start_wrap)),
        ("exec_stop", one(&s.exec_stop)),
        ("env_lang", vec![v.env_lang.clone()]),
        ("unit_after_targets", s.unit_after_targets.clone()),
        (
            "runtime_environment_unit_after_targets",
            s.runtime_environment_unit_after_targets.clone(),
        ),
    ] {
        for item in items
            .iter()
            .filter(|i| i.chars().any(|c| c.is_control() && c != '\t'))
        {
            errors.push(invalid(
                key,
                format!("{item:?}"),
                "text without control characters (tabs are fine)",
                None,
            ));
        }
    }
}

/// Type=exec needs a systemd that knows it.
fn check_service_type(v: &View, s: &SystemdView, errors: &mut Errors) {
    let version = v.systemd_version;
    if s.service_type == "exec" && version < V_TYPE_EXEC {
        errors.push(invalid(
            "service_type",
            ":exec".into(),
            &format!(
                "a type systemd {version} knows (Type=exec needs systemd {V_TYPE_EXEC} or newer)"
            ),
            Some("use :simple, or set systemd_version to the target's version".into()),
        ));
    }
}

/// EnvironmentFile= takes absolute paths.
fn check_env_files(v: &View, errors: &mut Errors) {
    for file in &v.env_files {
        let path = file.strip_prefix('-').unwrap_or(file);
        if !path.starts_with('/') {
            errors.push(invalid(
                "env_files",
                format!("{file:?}"),
                "absolute paths, optionally prefixed with \"-\" (the file may be missing)",
                Some(
                    "build it from a reference, e.g. [\"-\", :deploy_dir, \"/etc/environment\"]"
                        .into(),
                ),
            ));
        }
    }
}

/// After= entries are unit names.
fn check_unit_names(s: &SystemdView, errors: &mut Errors) {
    for (key, entries) in [
        ("unit_after_targets", &s.unit_after_targets),
        (
            "runtime_environment_unit_after_targets",
            &s.runtime_environment_unit_after_targets,
        ),
    ] {
        for name in unit_names(entries) {
            let ok = name.contains('.')
                && !name.starts_with('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ":-_.\\@%".contains(c));
            if !ok {
                errors.push(invalid(
                    key,
                    format!("{name:?}"),
                    "systemd unit names such as \"network-online.target\"",
                    None,
                ));
            }
        }
    }
}

/// Exec lines have a command after their prefixes, with an absolute path where
/// the target's systemd does not search PATH.
fn check_command_lines(v: &View, s: &SystemdView, errors: &mut Errors) {
    let version = v.systemd_version;
    let one = |value: &Option<String>| command(value).map(str::to_string).into_iter().collect();
    for (key, lines) in [
        ("exec_start_pre", s.exec_start_pre.clone()),
        ("exec_start", vec![s.exec_start.clone()]),
        ("exec_stop", one(&s.exec_stop)),
        ("exec_start_wrap", one(&s.exec_start_wrap)),
    ] {
        for line in lines {
            let (_, rest) = split_prefixes(&line);
            if rest.trim().is_empty() {
                errors.push(invalid(
                    key,
                    format!("{line:?}"),
                    "a command line: optional prefixes (-, @, :, +, !) then a command",
                    None,
                ));
            } else if version < V_RELATIVE_EXEC && !rest.starts_with(['/', '"', '\'']) {
                errors.push(invalid(
                    key,
                    format!("{line:?}"),
                    &format!("a command with an absolute path (systemd {version} does not search PATH; {V_RELATIVE_EXEC} and newer do)"),
                    Some("build it from a reference, e.g. [\"!\", :scripts_dir, \"/deploy-sync-config-s3\"]".into()),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn prefixes_split_from_the_command() {
        assert_eq!(split_prefixes("!/bin/x"), ("!", "/bin/x"));
        assert_eq!(split_prefixes("-+/bin/x a"), ("-+", "/bin/x a"));
        assert_eq!(split_prefixes("/bin/x"), ("", "/bin/x"));
    }

    #[test]
    fn command_lines_stay_as_written_without_special_paths() {
        let line = "-/usr/bin/env FOO=%n \"a b\" $HOME";
        assert_eq!(command_line(line, &[]), line);
    }

    #[test]
    fn configured_paths_with_spaces_stay_one_word() {
        let p = paths(&["/srv/my app/current", "/srv/my app"]);
        assert_eq!(
            command_line("!/srv/my app/bin/sync --to /srv/my app/etc", &p),
            "!\"/srv/my app/bin/sync\" --to \"/srv/my app/etc\""
        );
        // A path that merely starts like a configured one is not mistaken for it.
        assert_eq!(command_line("/srv/my apple", &p), "/srv/my apple");
        assert_eq!(
            command_line("/opt/x \"/srv/my app/y\"", &p),
            "/opt/x \"/srv/my app/y\""
        );
    }

    #[test]
    fn the_root_directory_prefix_is_removed_under_chroot() {
        assert_eq!(
            inside_root("/srv/foo/current/bin/foo", "/srv/foo/current").as_deref(),
            Some("/bin/foo")
        );
        assert_eq!(
            inside_root("/srv/foo/current", "/srv/foo/current/").as_deref(),
            Some("/")
        );
        assert_eq!(inside_root("/srv/foo/currently", "/srv/foo/current"), None);
    }
}
