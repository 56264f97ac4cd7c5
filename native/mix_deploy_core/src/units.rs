//! The unit side of the plan: values systemd needs in a shape templates can print
//! directly (one After= line, quoted Environment= assignments, command lines
//! whose configured paths survive systemd's word splitting, directory settings
//! for the target's systemd), and the checks that need the whole config.
//!
//! Command lines keep the user's systemd syntax; configured values go through the
//! quoting functions of `quote` so they reach the program literally.

use serde::Serialize;

use crate::config::{Config, DirSettings};
use crate::error::Errors;
use crate::features::{Features, SINCE};
use crate::overlap;
use crate::quote::INSTANCE;
use crate::quote::{
    arg_word, exe_word, instance, list_word, needs_quoting, octal_mode, split_prefixes,
    systemd_env_quote, unit_value,
};
use crate::spec::{self, Common, SystemdKeys};
use crate::trust;
use crate::values::{Choice, Distribution, ReleaseSystem, RestartMethod, ServiceType};

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
fn special_paths(cfg: &Config, s: &SystemdKeys) -> Vec<String> {
    let mut paths: Vec<String> = cfg
        .path_values()
        .into_iter()
        .chain(s.path_values())
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
/// forking service keeps its PID file there (the default), so the file has a place,
/// and under :overlap, where each instance has its control socket.
fn unit_dir_names(cfg: &Config, s: &SystemdKeys) -> Vec<String> {
    let mut dirs = cfg.dirs.clone();
    let runtime = format!("{}/", cfg.runtime_dir);
    let pid_in_runtime = cfg
        .pid_file
        .as_ref()
        .is_some_and(|p| p.starts_with(&runtime));
    if s.service_type == ServiceType::Forking && pid_in_runtime || overlap::on(cfg) {
        push_unique(&mut dirs, ["runtime".to_string()]);
    }
    dirs
}

/// The runtime directory as the main process sees it: under :overlap each
/// instance's own, `<runtime_dir>/%i` (one both shared would be removed when
/// either instance stops).
fn runtime_dir(cfg: &Config) -> String {
    if overlap::on(cfg) {
        overlap::instance_dir(&cfg.runtime_dir)
    } else {
        cfg.runtime_dir.clone()
    }
}

/// Every Environment= assignment of the main unit, quoted, one name once (a later
/// assignment replaces an earlier one, so env_vars override the built-ins).
fn environment(cfg: &Config, s: &SystemdKeys) -> Vec<(String, String)> {
    let dirs = unit_dir_names(cfg, s);
    let has = |d: &str| dirs.iter().any(|x| x == d);
    let user_vars: Vec<(String, String)> = cfg
        .env_vars
        .iter()
        .filter_map(|a| a.split_once('='))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let user_sets = |name: &str| user_vars.iter().any(|(n, _)| n == name);

    let mut vars: Vec<(String, String)> = vec![
        ("LANG".into(), cfg.env_lang.clone()),
        ("MIX_ENV".into(), cfg.mix_env.clone()),
    ];
    // The service's own node name (an explicit RELEASE_NODE is the same value).
    if let Some(node) = cfg.node_name() {
        vars.push(("RELEASE_NODE".into(), node));
    }
    let mut listed: Vec<DirSettings> = cfg
        .dir_settings()
        .into_iter()
        .filter(|d| has(d.dir.name))
        .collect();
    listed.sort_by_key(|d| d.dir.env_order);
    for d in listed {
        let path = match d.dir.name {
            "runtime" => runtime_dir(cfg),
            _ => d.path.to_string(),
        };
        vars.push((d.dir.var.into(), path));
    }
    // The app user cannot write the release directory (and under paranoia nobody
    // can), yet a daemon (forking) writes its pipes and logs there: point the
    // release's scratch files at a writable place unless the user chose one.
    let forking = s.service_type == ServiceType::Forking;
    if s.paranoia || forking {
        let scratch = if has("runtime") {
            runtime_dir(cfg)
        } else {
            "/tmp".to_string()
        };
        let var = match cfg.release_system {
            ReleaseSystem::Distillery => "RELEASE_MUTABLE_DIR",
            ReleaseSystem::Mix => "RELEASE_TMP",
        };
        if !user_sets(var) {
            vars.push((var.into(), scratch));
        }
    }
    if forking {
        if let Some(pid) = &cfg.pid_file {
            vars.push(("PIDFILE".into(), pid.clone()));
        }
    }
    for (name, value) in user_vars {
        vars.retain(|(n, _)| *n != name);
        vars.push((name, value));
    }
    if overlap::on(cfg) {
        // The instance's contract with the app (docs/systemd.md), and a node name
        // of its own: set last, so env_vars cannot make the two instances alike.
        let instance_vars = [
            ("OVERLAP_INSTANCE", INSTANCE.to_string()),
            (
                "OVERLAP_CONTROL_SOCKET",
                format!("{}/{}", runtime_dir(cfg), overlap::CONTROL_SOCKET),
            ),
            ("RELEASE_NODE", overlap::node_name(cfg)),
        ];
        for (name, value) in instance_vars {
            vars.retain(|(n, _)| n.as_str() != name);
            vars.push((name.into(), value));
        }
    }
    vars
}

/// A directory the target's systemd creates for the main unit.
#[derive(Debug, Clone, Serialize)]
pub struct UnitDir {
    /// The entry of `dirs`, e.g. `runtime`.
    pub name: &'static str,
    /// e.g. `RuntimeDirectory`
    pub directive: &'static str,
    /// The directory's name under its base, e.g. `foo`.
    pub directory: String,
    /// e.g. `0750`
    pub mode: String,
    /// `RuntimeDirectoryPreserve=` for the runtime directory where systemd knows it.
    pub preserve: Option<&'static str>,
}

/// Directory settings of the main unit: each entry of `dirs` that the target's
/// systemd creates itself.
fn managed_dirs(cfg: &Config, s: &SystemdKeys, features: &Features) -> Vec<UnitDir> {
    let dirs = unit_dir_names(cfg, s);
    cfg.dir_settings()
        .into_iter()
        .filter(|d| dirs.iter().any(|name| name == d.dir.name))
        .filter(|d| (d.dir.created_by_systemd)(features))
        .map(|d| UnitDir {
            name: d.dir.name,
            directive: d.dir.directive,
            directory: match d.dir.name {
                "runtime" if overlap::on(cfg) => instance(&overlap::instance_dir(d.directory)),
                _ => d.directory.to_string(),
            },
            mode: octal_mode(d.mode),
            preserve: (d.dir.name == "runtime" && features.runtime_directory_preserve)
                .then(|| cfg.runtime_directory_preserve.name()),
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

/// How systemd gets one entry of `env_files`.
#[derive(Debug, Clone)]
pub struct EnvRead<'a> {
    pub path: &'a str,
    pub optional: bool,
    /// The setup unit's copy that PID 1 reads instead, when the file lies in a
    /// directory of the deploy user or the app (PID 1 reads as root and follows
    /// links); None: PID 1 reads the file itself.
    pub copy: Option<String>,
    /// Whom the setup unit reads it as: the app (user, group) when an account
    /// other than root can write or redirect the path, so the copy holds nothing
    /// the app could not read itself; root when that dir's account is root.
    pub reader: (&'a str, &'a str),
}

/// The setup unit's directory under /run (its RuntimeDirectory=), root's alone.
pub fn setup_directory(cfg: &Common) -> String {
    format!("{}-setup", cfg.service_name)
}

/// The directory one setup unit keeps its copies in, below /run: the setup
/// directory, or under restart_method :overlap each instance's own
/// `<setup directory>/%i` (`INSTANCE` for the quoting functions to keep).
fn setup_run_dir(cfg: &Common) -> String {
    match cfg.restart_method == RestartMethod::Overlap {
        true => overlap::instance_dir(&setup_directory(cfg)),
        false => setup_directory(cfg),
    }
}

/// How each env file reaches the unit, in order (docs/security.md, "Env files").
pub fn env_reads(cfg: &Common) -> Vec<EnvRead<'_>> {
    cfg.env_files
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let (path, optional) = match item.strip_prefix('-') {
                Some(path) => (path, true),
                None => (item.as_str(), false),
            };
            let ground = trust::ground_of(cfg, path);
            let reader = match ground {
                Some(g) if g.is_lower() => (cfg.app_user.as_str(), cfg.app_group.as_str()),
                _ => ("root", "root"),
            };
            EnvRead {
                path,
                optional,
                copy: ground.map(|_| format!("/run/{}/env-{}", setup_run_dir(cfg), i + 1)),
                reader,
            }
        })
        .collect()
}

/// The systemd-tmpfiles line that makes tmp_dir, where the target's
/// systemd-tmpfiles refuses to follow a link there. A tmpfiles.d field quotes as
/// a path list item does (an absolute path has no leading `-`).
fn tmpfiles_line(cfg: &Common) -> Option<String> {
    let tmp = cfg.dir("tmp")?;
    let safe = Features::at(cfg.systemd_version).tmpfiles_safe_paths;
    (cfg.has_dir("tmp") && safe).then(|| {
        format!(
            "d {} {} {} {} -",
            list_word(tmp.path),
            octal_mode(tmp.mode),
            cfg.app_user,
            cfg.app_group
        )
    })
}

/// Whether the config makes `<service>-setup.service`: it has root's work to do
/// (tmp_dir, an env file to copy, setup_exec_start). Only keys both namespaces
/// read decide it, never an account's name, so the scripts that install, start
/// and remove units agree with the unit side about it.
pub fn setup_made(cfg: &Common) -> bool {
    tmpfiles_line(cfg).is_some()
        || !cfg.setup_exec_start.is_empty()
        || env_reads(cfg).iter().any(|r| r.copy.is_some())
}

/// The setup unit's settings, ready to print (`unit_setup`).
#[derive(Debug, Clone, Serialize)]
pub struct SetupValues {
    /// Its RuntimeDirectory=, where the copies of env files go.
    pub runtime_directory: String,
    pub after: String,
    /// The tmpfiles.d line making tmp_dir, as one Exec argument.
    pub tmpfiles: Option<String>,
    /// The copy command's arguments: the directory, then per env file its path,
    /// its copy, `optional` or `required`, and the account that reads it.
    pub copy_args: Option<String>,
    /// EnvironmentFile= values: the env files no account but root can write.
    pub env_files: Vec<String>,
    pub exec_start: Vec<String>,
}

fn setup_values(cfg: &Config, needs: &Needs, paths: &[String]) -> SetupValues {
    let reads = env_reads(cfg);
    let directory = setup_run_dir(cfg);
    let mut args = vec![arg_word(&format!("/run/{directory}"))];
    for r in reads.iter() {
        if let Some(copy) = &r.copy {
            let need = if r.optional { "optional" } else { "required" };
            for word in [r.path, copy, need, r.reader.0, r.reader.1] {
                args.push(arg_word(word));
            }
        }
    }
    let mut after = vec!["local-fs.target".to_string()];
    push_unique(&mut after, needs.runtime_environment.map(str::to_string));
    SetupValues {
        runtime_directory: instance(&unit_value(&directory)),
        after: after.join(" "),
        tmpfiles: tmpfiles_line(cfg).map(|line| arg_word(&line)),
        copy_args: (args.len() > 1).then(|| instance(&args.join(" "))),
        env_files: reads
            .iter()
            .filter(|r| trust::lower_ground_of(cfg, r.path).is_none())
            .map(|r| {
                let dash = if r.optional { "-" } else { "" };
                unit_value(&format!("{dash}{}", r.path))
            })
            .collect(),
        exec_start: cfg
            .setup_exec_start
            .iter()
            .map(|c| command_line(c, paths))
            .collect(),
    }
}

/// The units the main service needs, from the plan: the ones it requires (and is
/// ordered after), and the runtime environment unit.
pub struct Needs<'a> {
    pub requires: &'a [String],
    pub runtime_environment: Option<&'a str>,
}

/// The unit helpers of the systemd side (documented in docs/systemd.md and
/// docs/templates.md): the unit's settings ready to print.
#[derive(Debug, Clone, Serialize)]
pub struct UnitValues {
    /// Every After= unit of the main service on one line.
    pub after_targets: String,
    /// The units the main service has `Requires=` on.
    pub unit_requires: Vec<String>,
    pub unit_listen_streams: Vec<String>,
    pub runtime_environment_unit: Option<String>,
    pub runtime_environment_after_targets: String,
    pub environment_quoted: Vec<String>,
    pub unit_environment: Vec<String>,
    /// EnvironmentFile= values: each env file, or the setup unit's copy of it.
    pub unit_env_files: Vec<String>,
    /// `<service>-setup.service`, when the config makes it.
    pub unit_setup: Option<SetupValues>,
    pub unit_exec_start: String,
    pub unit_exec_start_pre: Vec<String>,
    pub unit_exec_stop: Option<String>,
    pub unit_working_dir: String,
    pub unit_runtime_environment_exec: Option<String>,
    /// PIDFile= of a forking service.
    pub unit_pid_file: Option<String>,
    /// distribution :local: epmd and the distribution port on loopback.
    pub unit_loopback_distribution: bool,
    pub unit_dirs: Vec<UnitDir>,
    pub unit_read_write_paths: String,
    pub unit_read_only_paths: String,
    pub unit_inaccessible_paths: String,
    pub unit_bind_paths: String,
    pub unit_private_tmp: bool,
    pub unit_protect_home: &'static str,
    pub unit_protect_system: &'static str,
    /// RestartSec=: restart_sec, else under :overlap 1 (its start limit is off).
    pub unit_restart_sec: Option<i64>,
    /// restart_method :overlap's template unit: its ExecStartPost= (null otherwise).
    pub unit_overlap: Option<UnitOverlap>,
}

/// What the template unit of restart_method :overlap adds to the service's.
#[derive(Debug, Clone, Serialize)]
pub struct UnitOverlap {
    /// `ExecStartPost=`: POST /accept for an instance systemd starts on its own.
    pub exec_start_post: String,
}

impl UnitValues {
    /// The unit values of a systemd-side config; None on the deploy side.
    pub fn of(cfg: &Config, needs: &Needs, features: &Features) -> Option<UnitValues> {
        let s = cfg.systemd()?;
        let paths = special_paths(cfg, s);
        let ordering = ordering(s, needs);
        let commands = commands(cfg, s, &paths);
        let view = file_system_view(cfg, s, features);
        let env_quoted = cfg.env_vars.iter().map(|a| systemd_env_quote(a)).collect();
        let unit_env = environment(cfg, s)
            .iter()
            .map(|(n, v)| instance(&systemd_env_quote(&format!("{n}={v}"))))
            .collect();
        let env_files = env_reads(cfg)
            .iter()
            .map(|r| {
                let dash = if r.optional { "-" } else { "" };
                instance(&unit_value(&format!(
                    "{dash}{}",
                    r.copy.as_deref().unwrap_or(r.path)
                )))
            })
            .collect();
        let pid_file = match (s.service_type, &cfg.pid_file) {
            (ServiceType::Forking, Some(pid)) => Some(unit_value(pid)),
            _ => None,
        };
        Some(UnitValues {
            after_targets: ordering.0,
            unit_requires: needs.requires.to_vec(),
            unit_listen_streams: cfg
                .listen_stream
                .iter()
                .map(|a| crate::listen::unit_address(a))
                .collect(),
            runtime_environment_unit: needs.runtime_environment.map(str::to_string),
            runtime_environment_after_targets: ordering.1,
            environment_quoted: env_quoted,
            unit_environment: unit_env,
            unit_env_files: env_files,
            unit_setup: setup_made(cfg).then(|| setup_values(cfg, needs, &paths)),
            unit_exec_start: commands.exec_start,
            unit_exec_start_pre: commands.exec_start_pre,
            unit_exec_stop: commands.exec_stop,
            unit_working_dir: commands.working_dir,
            unit_runtime_environment_exec: commands.runtime_environment_exec,
            unit_pid_file: pid_file,
            unit_loopback_distribution: s.distribution == Distribution::Local,
            unit_dirs: managed_dirs(cfg, s, features),
            unit_read_write_paths: path_list(&s.read_write_paths),
            unit_read_only_paths: path_list(&s.read_only_paths),
            unit_inaccessible_paths: path_list(&s.inaccessible_paths),
            unit_bind_paths: path_list(&view.bind_paths),
            unit_private_tmp: view.private_tmp,
            unit_protect_home: view.protect_home,
            unit_protect_system: view.protect_system,
            unit_restart_sec: s
                .restart_sec
                .or(overlap::on(cfg).then_some(overlap::RESTART_SEC)),
            unit_overlap: overlap::on(cfg).then(|| UnitOverlap {
                exec_start_post: overlap::exec_start_post(cfg),
            }),
        })
    }
}

/// Ordering: the main unit's After= line (the units it requires, then the
/// user's), and the runtime environment unit's.
fn ordering(s: &SystemdKeys, needs: &Needs) -> (String, String) {
    let base = || vec!["local-fs.target".to_string(), "network.target".to_string()];
    let mut after = base();
    push_unique(&mut after, needs.requires.iter().cloned());
    push_unique(&mut after, unit_names(&s.unit_after_targets));
    let mut env_after = base();
    push_unique(
        &mut env_after,
        unit_names(&s.runtime_environment_unit_after_targets),
    );
    (after.join(" "), env_after.join(" "))
}

struct Commands {
    exec_start: String,
    exec_start_pre: Vec<String>,
    exec_stop: Option<String>,
    working_dir: String,
    runtime_environment_exec: Option<String>,
}

/// Commands: ExecStart, ExecStartPre, ExecStop, the working directory and the
/// runtime-environment script.
fn commands(cfg: &Config, s: &SystemdKeys, paths: &[String]) -> Commands {
    let root = &cfg.root_directory;
    let in_root = |path: String| match s.chroot {
        true => inside_root(&path, root).unwrap_or(path),
        false => path,
    };
    let wrap = command(&s.exec_start_wrap);
    let default = spec::default_exec_start(
        s.exec_start_wrap.as_deref(),
        &cfg.current_dir,
        &cfg.release_name,
        &s.start_command,
    );
    // Under :overlap each instance runs the release its own link points at.
    let current = match overlap::on(cfg) {
        true => overlap::instance_path(&cfg.current_dir),
        false => cfg.current_dir.clone(),
    };
    let exec_start = if s.exec_start == default {
        let release = in_root(format!("{current}/bin/{}", cfg.release_name));
        let command = arg_word(&s.start_command);
        let line = match wrap {
            Some(wrap) => format!(
                "{} {} {command}",
                command_line(wrap.trim(), paths),
                arg_word(&release)
            ),
            None => format!("{} {command}", exe_word(&release)),
        };
        instance(&line)
    } else {
        command_line(&s.exec_start, paths)
    };
    let exec_start_pre = s
        .exec_start_pre
        .iter()
        .map(|c| command_line(c, paths))
        .collect();
    Commands {
        exec_start,
        exec_start_pre,
        exec_stop: command(&s.exec_stop).map(|c| command_line(c, paths)),
        working_dir: match s.working_dir == cfg.current_dir {
            true => instance(&unit_value(&in_root(current))),
            false => unit_value(&in_root(s.working_dir.clone())),
        },
        runtime_environment_exec: cfg
            .runtime_environment_service_script
            .as_deref()
            .map(exe_word),
    }
}

struct FileSystemView {
    bind_paths: Vec<String>,
    private_tmp: bool,
    protect_home: &'static str,
    protect_system: &'static str,
}

/// File system view: private tmp, bound paths, protection.
/// tmp_dir is bound optionally (see path_list): the setup unit creates it on the
/// host before the service starts, where the target's systemd-tmpfiles is safe;
/// otherwise create-dirs has made it.
fn file_system_view(cfg: &Config, s: &SystemdKeys, features: &Features) -> FileSystemView {
    let tmp_bound = s.paranoia && cfg.has_dir("tmp") && features.bind_paths;
    let private_tmp = s.paranoia && (!cfg.has_dir("tmp") || tmp_bound);
    let bind_paths: Vec<String> = if tmp_bound {
        vec![cfg.tmp_dir.clone()]
    } else {
        Vec::new()
    };
    let protect_home = {
        let deploy = &cfg.deploy_dir;
        let under = |base: &str| *deploy == base || deploy.starts_with(&format!("{base}/"));
        if under("/home") || under("/root") || under("/run/user") {
            "read-only"
        } else {
            "yes"
        }
    };
    let protect_system = if features.protect_system_strict {
        "strict"
    } else {
        "full"
    };
    FileSystemView {
        bind_paths,
        private_tmp,
        protect_home,
        protect_system,
    }
}

/// Checks that need several keys at once; run before any unit is rendered.
pub fn check(cfg: &Config, features: &Features) -> Result<(), Errors> {
    let Some(s) = cfg.systemd() else {
        return Ok(());
    };
    let mut errors = Errors::default();
    check_control_characters(cfg, s, &mut errors);
    check_service_type(cfg, s, features, &mut errors);
    check_env_files(cfg, &mut errors);
    check_setup_directory(cfg, &mut errors);
    check_unit_names(cfg, s, &mut errors);
    check_command_lines(cfg, s, features, &mut errors);
    errors.into_result(())
}

/// Newlines are rejected by the resolver; other control characters have no
/// business in a unit either (a NUL ends systemd's reading of the line).
fn check_control_characters(cfg: &Config, s: &SystemdKeys, errors: &mut Errors) {
    let one = |value: &Option<String>| value.iter().cloned().collect::<Vec<_>>();
    for (key, items) in [
        ("env_vars", cfg.env_vars.clone()),
        ("env_files", cfg.env_files.clone()),
        ("exec_start_pre", s.exec_start_pre.clone()),
        ("setup_exec_start", cfg.setup_exec_start.clone()),
        ("exec_start", vec![s.exec_start.clone()]),
        ("exec_start_wrap", one(&s.exec_start_wrap)),
        ("exec_stop", one(&s.exec_stop)),
        ("env_lang", vec![cfg.env_lang.clone()]),
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
            errors.push(cfg.invalid(
                key,
                format!("{item:?}"),
                "text without control characters (tabs are fine)",
                None,
            ));
        }
    }
}

/// Type=exec needs a systemd that knows it.
fn check_service_type(cfg: &Config, s: &SystemdKeys, features: &Features, errors: &mut Errors) {
    let version = cfg.systemd_version;
    if s.service_type == ServiceType::Exec && !features.type_exec {
        errors.push(cfg.invalid(
            "service_type",
            ":exec".into(),
            &format!(
                "a type systemd {version} knows (Type=exec needs systemd {} or newer)",
                SINCE.type_exec
            ),
            Some("use :simple, or set systemd_version to the target's version".into()),
        ));
    }
}

/// EnvironmentFile= takes absolute paths; one the setup unit copies is a file,
/// not a wildcard; the setup unit's directory is no directory of the app's.
fn check_env_files(cfg: &Config, errors: &mut Errors) {
    let reads = env_reads(cfg);
    for (file, read) in cfg.env_files.iter().zip(&reads) {
        let path = read.path;
        if read.copy.is_some() && path.contains(['*', '?', '[']) {
            errors.push(cfg.invalid(
                "env_files",
                format!("{file:?}"),
                "a file name without *, ? or [ where the deploy user or the app can write \
                 (the setup unit reads such a file as the app and copies it: one file, no wildcard)",
                Some("list each file, or keep wildcards to directories only root can write".into()),
            ));
        }
        if !path.starts_with('/') {
            errors.push(cfg.invalid(
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

/// The setup unit's directory under /run is root's alone: no directory of the
/// app's may be it (the app would own the copies of env files).
fn check_setup_directory(cfg: &Config, errors: &mut Errors) {
    if !setup_made(cfg) {
        return;
    }
    let setup = format!("/run/{}", setup_directory(cfg));
    for d in cfg.dir_settings() {
        let path = d.path.trim_end_matches('/');
        if cfg.has_dir(d.dir.name) && (path == setup || trust::inside(path, &setup)) {
            errors.push(cfg.invalid(
                &format!("{}_directory", d.dir.name),
                format!("{:?}", d.directory),
                &format!(
                    "a directory other than {setup}, where {}-setup.service keeps root's copies of env files",
                    cfg.service_name
                ),
                None,
            ));
        }
    }
}

/// After= entries are unit names.
fn check_unit_names(cfg: &Config, s: &SystemdKeys, errors: &mut Errors) {
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
                errors.push(cfg.invalid(
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
fn check_command_lines(cfg: &Config, s: &SystemdKeys, features: &Features, errors: &mut Errors) {
    let version = cfg.systemd_version;
    let one = |value: &Option<String>| command(value).map(str::to_string).into_iter().collect();
    for (key, lines) in [
        ("exec_start_pre", s.exec_start_pre.clone()),
        ("setup_exec_start", cfg.setup_exec_start.clone()),
        ("exec_start", vec![s.exec_start.clone()]),
        ("exec_stop", one(&s.exec_stop)),
        ("exec_start_wrap", one(&s.exec_start_wrap)),
    ] {
        for line in lines {
            let (_, rest) = split_prefixes(&line);
            if rest.trim().is_empty() {
                errors.push(cfg.invalid(
                    key,
                    format!("{line:?}"),
                    "a command line: optional prefixes (-, @, :, +, !) then a command",
                    None,
                ));
            } else if !features.relative_exec && !rest.starts_with(['/', '"', '\'']) {
                errors.push(cfg.invalid(
                    key,
                    format!("{line:?}"),
                    &format!(
                        "a command with an absolute path (systemd {version} does not search PATH; {} and newer do)",
                        SINCE.relative_exec
                    ),
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
