//! Helpers for the unit templates: values systemd needs in a shape templates can
//! print directly (one After= line, quoted Environment= assignments, command lines
//! whose configured paths survive systemd's word splitting, directory settings gated
//! by systemd_version), and the checks that need the whole resolved config.
//!
//! Command lines keep the user's systemd syntax; configured values go through the
//! quoting functions of `quote` so they reach the program literally.

use serde_json::{json, Map, Value};

use crate::context::{get_bool, get_opt_str, get_str, get_strings};
use crate::error::{Error, Errors};
use crate::quote::{
    arg_word, exe_word, list_word, needs_quoting, octal_mode, split_prefixes, systemd_env_quote,
    unit_value,
};
use crate::resolve::Resolved;
use crate::spec::{self, Kind, Side};

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
                    .is_none_or(|n| n == '/' || n.is_whitespace())
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
        .filter_map(|s| get_opt_str(ctx, s.key))
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

/// The `dirs` of the unit: the configured ones, plus the runtime directory when a
/// forking service keeps its PID file there (the default), so the file has a place.
fn unit_dir_names(ctx: &Map<String, Value>) -> Vec<String> {
    let mut dirs = get_strings(ctx, "dirs");
    let runtime = format!("{}/", get_str(ctx, "runtime_dir"));
    let pid_in_runtime = get_opt_str(ctx, "pid_file").is_some_and(|p| p.starts_with(&runtime));
    if get_str(ctx, "service_type") == "forking" && pid_in_runtime {
        push_unique(&mut dirs, ["runtime".to_string()]);
    }
    dirs
}

/// Every Environment= assignment of the main unit, quoted, one name once (a later
/// assignment replaces an earlier one, so env_vars override the built-ins).
fn environment(ctx: &Map<String, Value>) -> Vec<(String, String)> {
    let dirs = unit_dir_names(ctx);
    let has = |d: &str| dirs.iter().any(|x| x == d);
    let user_vars: Vec<(String, String)> = get_strings(ctx, "env_vars")
        .iter()
        .filter_map(|a| a.split_once('='))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let user_sets = |name: &str| user_vars.iter().any(|(n, _)| n == name);

    let mut vars: Vec<(String, String)> = vec![
        ("LANG".into(), get_str(ctx, "env_lang").into()),
        ("MIX_ENV".into(), get_str(ctx, "mix_env").into()),
    ];
    let mut listed: Vec<&spec::Dir> = spec::DIRS.iter().filter(|d| has(d.name)).collect();
    listed.sort_by_key(|d| d.env_order);
    for dir in listed {
        let path = get_str(ctx, &format!("{}_dir", dir.name));
        vars.push((dir.var.into(), path.into()));
    }
    // The app user cannot write the release directory (and under paranoia nobody
    // can), yet a daemon (forking) writes its pipes and logs there: point the
    // release's scratch files at a writable place unless the user chose one.
    let forking = get_str(ctx, "service_type") == "forking";
    if get_bool(ctx, "paranoia") || forking {
        let scratch = if has("runtime") {
            get_str(ctx, "runtime_dir").to_string()
        } else {
            "/tmp".to_string()
        };
        let var = if get_str(ctx, "release_system") == "distillery" {
            "RELEASE_MUTABLE_DIR"
        } else {
            "RELEASE_TMP"
        };
        if !user_sets(var) {
            vars.push((var.into(), scratch));
        }
    }
    if forking {
        if let Some(pid) = get_opt_str(ctx, "pid_file") {
            vars.push(("PIDFILE".into(), pid.into()));
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
fn managed_dirs(ctx: &Map<String, Value>, version: i64) -> Vec<Value> {
    let dirs = unit_dir_names(ctx);
    spec::DIRS
        .iter()
        .filter(|dir| dirs.iter().any(|d| d == dir.name))
        .filter(|dir| dir.systemd_since.is_some_and(|since| version >= since))
        .map(|dir| {
            let name = dir.name;
            let mode = get_str(ctx, &format!("{name}_directory_mode"));
            json!({
                "name": name,
                "directive": dir.directive,
                "directory": get_str(ctx, &format!("{name}_directory")),
                "mode": octal_mode(mode),
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

/// Adds the unit helpers (documented in docs/systemd.md) to a systemd-side context.
pub fn add_unit_helpers(ctx: &mut Map<String, Value>) {
    let service = get_str(ctx, "service_name").to_string();
    let version = ctx
        .get("systemd_version")
        .and_then(Value::as_i64)
        .unwrap_or(spec::V_DIRECTORIES);
    let paths = special_paths(ctx);
    let dirs = get_strings(ctx, "dirs");
    let has = |d: &str| dirs.iter().any(|x| x == d);
    let paranoia = get_bool(ctx, "paranoia");
    let chroot = get_bool(ctx, "chroot");
    let root = get_str(ctx, "root_directory").to_string();

    // Ordering: one After= line with every unit.
    let runtime_env_script =
        get_opt_str(ctx, "runtime_environment_service_script").map(str::to_string);
    let runtime_env_unit = runtime_env_script
        .as_ref()
        .map(|_| format!("{service}-runtime-environment.service"));
    let mut after = vec!["local-fs.target".to_string(), "network.target".to_string()];
    push_unique(&mut after, runtime_env_unit.clone());
    push_unique(
        &mut after,
        unit_names(&get_strings(ctx, "unit_after_targets")),
    );
    let mut env_after = vec!["local-fs.target".to_string(), "network.target".to_string()];
    push_unique(
        &mut env_after,
        unit_names(&get_strings(ctx, "runtime_environment_unit_after_targets")),
    );

    // Environment.
    let env_quoted: Vec<Value> = get_strings(ctx, "env_vars")
        .iter()
        .map(|a| Value::String(systemd_env_quote(a)))
        .collect();
    let unit_env: Vec<Value> = environment(ctx)
        .iter()
        .map(|(n, v)| Value::String(systemd_env_quote(&format!("{n}={v}"))))
        .collect();
    let env_files: Vec<Value> = get_strings(ctx, "env_files")
        .iter()
        .map(|f| Value::String(unit_value(f)))
        .collect();

    // Commands.
    let current = get_str(ctx, "current_dir").to_string();
    let exec_start = get_str(ctx, "exec_start").to_string();
    let default = spec::default_exec_start(
        get_opt_str(ctx, "exec_start_wrap"),
        &current,
        get_str(ctx, "release_name"),
        get_str(ctx, "start_command"),
    );
    let unit_exec_start = if exec_start == default {
        let release = format!("{current}/bin/{}", get_str(ctx, "release_name"));
        let release = if chroot {
            inside_root(&release, &root).unwrap_or(release)
        } else {
            release
        };
        let command = arg_word(get_str(ctx, "start_command"));
        match get_opt_str(ctx, "exec_start_wrap").filter(|w| !w.trim().is_empty()) {
            Some(wrap) => format!(
                "{} {} {command}",
                command_line(wrap.trim(), &paths),
                arg_word(&release)
            ),
            None => format!("{} {command}", exe_word(&release)),
        }
    } else {
        command_line(&exec_start, &paths)
    };
    // systemd has no TmpDirectory=: create tmp_dir as root ("+": without the
    // private /var/tmp) before anything else, so TMP_DIR exists and paranoia's
    // BindPaths= has something to bind. systemd sets up BindPaths= for "+" lines
    // too, so that bind is optional: a missing source would fail this very line.
    let mut exec_start_pre: Vec<Value> = Vec::new();
    if has("tmp") && version >= V_PRIVILEGED_PREFIX {
        exec_start_pre.push(Value::String(format!(
            "+/usr/bin/install -d -m {} -o {} -g {} {}",
            octal_mode(get_str(ctx, "tmp_directory_mode")),
            arg_word(get_str(ctx, "app_user")),
            arg_word(get_str(ctx, "app_group")),
            arg_word(get_str(ctx, "tmp_dir")),
        )));
    }
    exec_start_pre.extend(
        get_strings(ctx, "exec_start_pre")
            .iter()
            .map(|c| Value::String(command_line(c, &paths))),
    );
    let exec_stop = get_opt_str(ctx, "exec_stop")
        .filter(|s| !s.trim().is_empty())
        .map(|s| Value::String(command_line(s, &paths)))
        .unwrap_or(Value::Null);
    let working_dir = get_str(ctx, "working_dir").to_string();
    let working_dir = if chroot {
        inside_root(&working_dir, &root).unwrap_or(working_dir)
    } else {
        working_dir
    };
    let runtime_env_exec = runtime_env_script
        .as_deref()
        .map(|s| Value::String(exe_word(s)))
        .unwrap_or(Value::Null);

    // File system view. tmp_dir is bound optionally (see path_list): on the first
    // start the ExecStartPre=+ line above creates it (a "+" command gets no private
    // /var/tmp, so it lands on the host), and the main process finds it bound.
    let tmp_bound = paranoia && has("tmp") && version >= V_BIND_PATHS;
    let private_tmp = paranoia && (!has("tmp") || tmp_bound);
    let bind_paths: Vec<String> = if tmp_bound {
        vec![get_str(ctx, "tmp_dir").to_string()]
    } else {
        Vec::new()
    };
    let protect_home = {
        let deploy = get_str(ctx, "deploy_dir");
        let under = |base: &str| deploy == base || deploy.starts_with(&format!("{base}/"));
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

    let set = |ctx: &mut Map<String, Value>, k: &str, v: Value| {
        ctx.insert(k.to_string(), v);
    };
    set(ctx, "after_targets", Value::String(after.join(" ")));
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
    set(ctx, "environment_quoted", Value::Array(env_quoted));
    set(ctx, "unit_environment", Value::Array(unit_env));
    set(ctx, "unit_env_files", Value::Array(env_files));
    set(ctx, "unit_exec_start", Value::String(unit_exec_start));
    set(ctx, "unit_exec_start_pre", Value::Array(exec_start_pre));
    set(ctx, "unit_exec_stop", exec_stop);
    set(
        ctx,
        "unit_working_dir",
        Value::String(unit_value(&working_dir)),
    );
    set(ctx, "unit_runtime_environment_exec", runtime_env_exec);
    set(ctx, "unit_dirs", Value::Array(managed_dirs(ctx, version)));
    set(
        ctx,
        "unit_read_write_paths",
        Value::String(path_list(&get_strings(ctx, "read_write_paths"))),
    );
    set(
        ctx,
        "unit_read_only_paths",
        Value::String(path_list(&get_strings(ctx, "read_only_paths"))),
    );
    set(
        ctx,
        "unit_inaccessible_paths",
        Value::String(path_list(&get_strings(ctx, "inaccessible_paths"))),
    );
    set(
        ctx,
        "unit_bind_paths",
        Value::String(path_list(&bind_paths)),
    );
    set(ctx, "unit_private_tmp", Value::Bool(private_tmp));
    set(ctx, "unit_protect_home", Value::String(protect_home.into()));
    set(
        ctx,
        "unit_protect_system",
        Value::String(protect_system.into()),
    );
}

/// Checks that need several keys at once; run before any unit is rendered.
pub fn check(r: &Resolved) -> Result<(), Errors> {
    let mut errors = Errors::default();
    let invalid =
        |key: &str, value: String, expected: &str, hint: Option<String>| Error::InvalidValue {
            ns: r.namespace_of(key).into(),
            key: key.into(),
            value,
            expected: expected.into(),
            hint,
        };
    // Newlines are rejected by the resolver; other control characters have no
    // business in a unit either (a NUL ends systemd's reading of the line).
    for key in [
        "env_vars",
        "env_files",
        "exec_start_pre",
        "exec_start",
        "exec_start_wrap",
        "exec_stop",
        "env_lang",
        "unit_after_targets",
        "runtime_environment_unit_after_targets",
    ] {
        let items = match r.context.get(key) {
            Some(Value::Array(_)) => r.strings(key),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
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
    let version = r.int("systemd_version");
    if r.str("service_type") == "exec" && version < V_TYPE_EXEC {
        errors.push(invalid(
            "service_type",
            ":exec".into(),
            &format!(
                "a type systemd {version} knows (Type=exec needs systemd {V_TYPE_EXEC} or newer)"
            ),
            Some("use :simple, or set systemd_version to the target's version".into()),
        ));
    }
    for file in r.strings("env_files") {
        let path = file.strip_prefix('-').unwrap_or(&file);
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
    for key in [
        "unit_after_targets",
        "runtime_environment_unit_after_targets",
    ] {
        for name in unit_names(&r.strings(key)) {
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
    for (key, lines) in [
        ("exec_start_pre", r.strings("exec_start_pre")),
        ("exec_start", vec![r.str("exec_start").to_string()]),
        (
            "exec_stop",
            r.opt_str("exec_stop")
                .filter(|w| !w.trim().is_empty())
                .map(str::to_string)
                .into_iter()
                .collect(),
        ),
        (
            "exec_start_wrap",
            r.opt_str("exec_start_wrap")
                .filter(|w| !w.trim().is_empty())
                .map(str::to_string)
                .into_iter()
                .collect(),
        ),
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
    errors.into_result(())
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
