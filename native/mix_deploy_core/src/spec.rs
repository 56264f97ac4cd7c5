//! Every config key both tasks understand: its kind (what a valid value looks like),
//! its default, and which namespace reads it. Defaults that depend on other keys are
//! written as `{key}` patterns and expanded from the user's final values, so a
//! derivation can never read a value the user has since overridden.

use crate::account::Account;
use crate::input::Project;
use crate::term::Term;

/// Which config namespace a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Deploy,
    Systemd,
}

impl Side {
    pub fn namespace(self) -> &'static str {
        match self {
            Side::Deploy => "mix_deploy",
            Side::Systemd => "mix_systemd",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text (expandable); no newline when it ends up in a unit file.
    Text,
    /// Like Text, but nil is allowed and means "not set".
    OptText,
    /// An absolute path (expandable).
    Path,
    OptPath,
    /// A script: an absolute path, or a bare file name meaning that file in
    /// `scripts_dir` (as mix_systemd's runtime_environment_service_script). Nil: unset.
    Script,
    /// A command line (nil: unset) whose command, when a bare name, is that file in
    /// `scripts_dir` (as mix_systemd's exec_start_wrap).
    Wrap,
    /// A path relative to the project or absolute (bin_dir, output_dir, template_dir).
    LocalPath,
    /// A file or unit name: no `/`, no white space, not `.` or `..`.
    Name,
    /// A POSIX user or group name.
    Account,
    /// One of a fixed set of atoms or strings.
    Enum(&'static [&'static str]),
    /// A non-negative integer, at least the given minimum.
    Int(i64),
    OptInt(i64),
    /// A resource limit (LimitNOFILE=, LimitCORE=): an integer of at least 0,
    /// `"infinity"` (or `:infinity`), or nil for systemd's default.
    Limit,
    Bool,
    /// A file mode as a string of 3 or 4 octal digits.
    Mode,
    /// A list whose items are strings or expandable lists.
    TextList,
    /// `NAME=value` strings or lists expanding to one.
    EnvVars,
    /// Template names.
    Templates,
    /// Atoms naming the standard directories.
    Dirs,
    /// Maps with src, dst and optional user, group, mode.
    CopyFiles,
    /// A list of key names (atoms).
    Keys,
    /// Absolute paths (expandable), e.g. read_write_paths.
    PathList,
    /// An Ansible host pattern (ansible_hosts): one word such as "all" or "web:&prod".
    HostPattern,
    /// An Ansible batch size (ansible_serial): an integer of at least 1, or "N%".
    BatchSize,
    /// `ListenStream=` addresses: one (a string, a port number) or a list of them.
    ListenStream,
}

/// How the default is found when the user sets nothing.
#[derive(Clone, Copy)]
pub enum Default {
    Nil,
    Str(&'static str),
    Atom(&'static str),
    Int(i64),
    Bool(bool),
    EmptyList,
    /// A pattern such as `{deploy_dir}/releases`, expanded like a user's list.
    Expand(&'static str),
    /// Computed by code from other keys.
    Derived(fn(&mut dyn Lookup) -> Option<Term>),
}

/// What a derived default may read: the final text of other keys (so it never sees
/// a value the user has since overridden), whether the user set a key, and the
/// task's facts. The resolver implements it.
pub trait Lookup {
    fn text(&mut self, key: &str) -> Option<String>;
    fn is_set(&self, key: &str) -> bool;
    fn project(&self) -> &Project;
    fn account(&self) -> &Account;
}

pub struct Spec {
    pub key: &'static str,
    pub kind: Kind,
    pub default: Default,
    pub deploy: bool,
    pub systemd: bool,
}

impl Spec {
    pub fn applies_to(&self, side: Side) -> bool {
        match side {
            Side::Deploy => self.deploy,
            Side::Systemd => self.systemd,
        }
    }
}

/// A standard directory: an entry of `dirs`, configured by the keys
/// `{name}_directory`, `{name}_directory_base`, `{name}_directory_mode` and
/// `{name}_dir`.
#[derive(Debug)]
pub struct Dir {
    pub name: &'static str,
    /// Its variable in the scripts and in the unit's Environment= lines.
    pub var: &'static str,
    /// The unit directive that has systemd create it (templates see `TmpDirectory`
    /// for tmp, which systemd lacks).
    pub directive: &'static str,
    /// The systemd version that introduced `directive`; None: there is none, the
    /// unit creates the directory itself (ExecStartPre=+).
    pub systemd_since: Option<i64>,
    /// Where `var` goes among the unit's Environment= lines (mix_systemd's order).
    pub env_order: usize,
}

/// systemd versions that introduced the directory directives.
pub const V_RUNTIME_DIRECTORY: i64 = 211;
pub const V_DIRECTORIES: i64 = 235;

/// The standard directories, in the order `dirs` is kept in.
pub const DIRS: [Dir; 6] = [
    dir(
        "runtime",
        "RUNTIME_DIR",
        "RuntimeDirectory",
        Some(V_RUNTIME_DIRECTORY),
        0,
    ),
    dir(
        "configuration",
        "CONFIGURATION_DIR",
        "ConfigurationDirectory",
        Some(V_DIRECTORIES),
        1,
    ),
    dir("logs", "LOGS_DIR", "LogsDirectory", Some(V_DIRECTORIES), 2),
    dir("tmp", "TMP_DIR", "TmpDirectory", None, 5),
    dir(
        "state",
        "STATE_DIR",
        "StateDirectory",
        Some(V_DIRECTORIES),
        4,
    ),
    dir(
        "cache",
        "CACHE_DIR",
        "CacheDirectory",
        Some(V_DIRECTORIES),
        3,
    ),
];

const fn dir(
    name: &'static str,
    var: &'static str,
    directive: &'static str,
    systemd_since: Option<i64>,
    env_order: usize,
) -> Dir {
    Dir {
        name,
        var,
        directive,
        systemd_since,
        env_order,
    }
}

/// The names of the standard directories, in `DIRS` order.
pub fn dir_names() -> impl Iterator<Item = &'static str> + Clone {
    DIRS.iter().map(|d| d.name)
}

/// Where `mix systemd.generate` writes units by default (the deploy side's
/// scripts copy them from there).
pub const SYSTEMD_OUTPUT_DIR: &str = "{build_path}/systemd/lib/systemd/system";

pub const RELEASE_SYSTEMS: &[&str] = &["mix", "distillery"];
pub const RESTART_METHODS: &[&str] = &["systemctl", "systemd_flag", "touch"];
/// Who may reach the node's Erlang distribution: `local` binds epmd and the
/// distribution port to loopback; `cluster` leaves them on every interface.
pub const DISTRIBUTIONS: &[&str] = &["local", "cluster"];
pub const SERVICE_TYPES: &[&str] = &["simple", "exec", "notify", "forking"];
pub const PRESERVE: &[&str] = &["no", "yes", "restart"];

use Kind::*;

const fn both(key: &'static str, kind: Kind, default: Default) -> Spec {
    Spec {
        key,
        kind,
        default,
        deploy: true,
        systemd: true,
    }
}
const fn deploy(key: &'static str, kind: Kind, default: Default) -> Spec {
    Spec {
        key,
        kind,
        default,
        deploy: true,
        systemd: false,
    }
}
const fn systemd(key: &'static str, kind: Kind, default: Default) -> Spec {
    Spec {
        key,
        kind,
        default,
        deploy: false,
        systemd: true,
    }
}

/// Keys whose defaults differ by side are listed twice, once per side.
pub static SPECS: &[Spec] = &[
    // Project facts; overridable like any key.
    both("app_name", Name, Default::Derived(project_app)),
    both("version", Text, Default::Derived(project_version)),
    both("mix_env", Name, Default::Derived(project_env)),
    both(
        "build_path",
        LocalPath,
        Default::Derived(project_build_path),
    ),
    both("module_name", Text, Default::Derived(module_name)),
    both("release_name", Name, Default::Expand("{app_name}")),
    both("ext_name", Name, Default::Derived(ext_name)),
    both("service_name", Name, Default::Expand("{ext_name}")),
    both(
        "release_system",
        Enum(RELEASE_SYSTEMS),
        Default::Atom("mix"),
    ),
    // Accounts.
    both("deploy_user", Account, Default::Derived(os_user)),
    both("deploy_group", Account, Default::Derived(deploy_group)),
    deploy("app_user", Account, Default::Expand("{deploy_user}")),
    deploy("app_group", Account, Default::Expand("{deploy_group}")),
    systemd("app_user", Account, Default::Expand("{ext_name}")),
    systemd("app_group", Account, Default::Expand("{app_user}")),
    // Layout on the target.
    both("base_dir", Path, Default::Str("/srv")),
    both("deploy_dir", Path, Default::Expand("{base_dir}/{ext_name}")),
    both(
        "releases_dir",
        Path,
        Default::Expand("{deploy_dir}/releases"),
    ),
    both("scripts_dir", Path, Default::Expand("{deploy_dir}/bin")),
    both("flags_dir", Path, Default::Expand("{deploy_dir}/flags")),
    both("current_dir", Path, Default::Expand("{deploy_dir}/current")),
    both("etc_dir", Path, Default::Expand("{deploy_dir}/etc")),
    both("systemd_version", Int(1), Default::Int(235)),
    both("dirs", Dirs, Default::EmptyList),
    both("runtime_directory", Name, Default::Expand("{ext_name}")),
    both("runtime_directory_base", Path, Default::Str("/run")),
    both("runtime_directory_mode", Mode, Default::Str("750")),
    both(
        "runtime_directory_preserve",
        Enum(PRESERVE),
        Default::Str("no"),
    ),
    both(
        "configuration_directory",
        Name,
        Default::Expand("{ext_name}"),
    ),
    both("configuration_directory_base", Path, Default::Str("/etc")),
    both("configuration_directory_mode", Mode, Default::Str("750")),
    both("logs_directory", Name, Default::Expand("{ext_name}")),
    both("logs_directory_base", Path, Default::Str("/var/log")),
    both("logs_directory_mode", Mode, Default::Str("750")),
    both("state_directory", Name, Default::Expand("{ext_name}")),
    both("state_directory_base", Path, Default::Str("/var/lib")),
    both("state_directory_mode", Mode, Default::Str("750")),
    both("cache_directory", Name, Default::Expand("{ext_name}")),
    both("cache_directory_base", Path, Default::Str("/var/cache")),
    both("cache_directory_mode", Mode, Default::Str("750")),
    both("tmp_directory", Name, Default::Expand("{ext_name}")),
    both("tmp_directory_base", Path, Default::Str("/var/tmp")),
    both("tmp_directory_mode", Mode, Default::Str("750")),
    both(
        "runtime_dir",
        Path,
        Default::Expand("{runtime_directory_base}/{runtime_directory}"),
    ),
    both(
        "configuration_dir",
        Path,
        Default::Expand("{configuration_directory_base}/{configuration_directory}"),
    ),
    both(
        "logs_dir",
        Path,
        Default::Expand("{logs_directory_base}/{logs_directory}"),
    ),
    both(
        "state_dir",
        Path,
        Default::Expand("{state_directory_base}/{state_directory}"),
    ),
    both(
        "cache_dir",
        Path,
        Default::Expand("{cache_directory_base}/{cache_directory}"),
    ),
    both(
        "tmp_dir",
        Path,
        Default::Expand("{tmp_directory_base}/{tmp_directory}"),
    ),
    both(
        "pid_file",
        OptPath,
        Default::Expand("{runtime_dir}/{app_name}.pid"),
    ),
    both("root_directory", Path, Default::Expand("{current_dir}")),
    both(
        "conform_conf_path",
        Path,
        Default::Expand("{configuration_dir}/{app_name}.conf"),
    ),
    both("runtime_environment_service_script", Script, Default::Nil),
    // Socket activation: the socket unit holds the port while the service restarts.
    both("listen_stream", ListenStream, Default::EmptyList),
    // Behaviour.
    both(
        "restart_method",
        Enum(RESTART_METHODS),
        Default::Atom("systemctl"),
    ),
    both("env_lang", Text, Default::Str("en_US.utf8")),
    both("env_files", TextList, Default::EmptyList),
    both("env_vars", EnvVars, Default::EmptyList),
    both("expand_keys", Keys, Default::EmptyList),
    both("expand_keys_extra", Keys, Default::EmptyList),
    deploy("sudo_deploy", Bool, Default::Bool(false)),
    deploy("sudo_app", Bool, Default::Bool(false)),
    deploy("copy_files", CopyFiles, Default::EmptyList),
    deploy("create_dirs", PathList, Default::EmptyList),
    deploy("keep_releases", Int(1), Default::Int(5)),
    deploy("health_check_url", OptText, Default::Nil),
    deploy("health_check_timeout", Int(1), Default::Int(30)),
    deploy("rollback_on_failure", Bool, Default::Bool(true)),
    // The Ansible playbooks ("ansible" in templates): which inventory hosts, how many
    // at a time, and whether a failure rolls back every host the run switched.
    deploy("ansible_hosts", HostPattern, Default::Str("all")),
    deploy("ansible_serial", BatchSize, Default::Int(1)),
    deploy("ansible_rollback_on_failure", Bool, Default::Bool(true)),
    // set-cookie-ssm: SSM parameter holding the Erlang cookie, and where to write it
    // (nil: the script's fallbacks, see its header).
    deploy("cookie_ssm_parameter", OptText, Default::Nil),
    deploy("cookie_file", OptPath, Default::Nil),
    // Where output goes.
    deploy("bin_dir", LocalPath, Default::Str("bin")),
    deploy(
        "output_dir",
        LocalPath,
        Default::Expand("{build_path}/deploy"),
    ),
    deploy(
        "template_dir",
        LocalPath,
        Default::Str("rel/templates/deploy"),
    ),
    deploy("target_prefix", Text, Default::Str("deploy-")),
    deploy("templates", Templates, Default::EmptyList),
    systemd("output_dir", LocalPath, Default::Expand(SYSTEMD_OUTPUT_DIR)),
    systemd(
        "template_dir",
        LocalPath,
        Default::Str("rel/templates/systemd"),
    ),
    // The systemd unit.
    systemd("service_type", Enum(SERVICE_TYPES), Default::Atom("simple")),
    systemd("start_command", Text, Default::Derived(start_command)),
    systemd("exec_start_pre", TextList, Default::EmptyList),
    systemd("exec_start_wrap", Wrap, Default::Nil),
    systemd("exec_start", Text, Default::Derived(exec_start)),
    systemd("exec_stop", OptText, Default::Nil),
    systemd(
        "restart",
        Enum(&[
            "always",
            "no",
            "on-success",
            "on-failure",
            "on-abnormal",
            "on-abort",
            "on-watchdog",
        ]),
        Default::Str("always"),
    ),
    systemd("restart_sec", OptInt(0), Default::Nil),
    systemd("timeout_start_sec", OptInt(0), Default::Nil),
    systemd("timeout_stop_sec", OptInt(0), Default::Nil),
    systemd("unit_after_targets", TextList, Default::EmptyList),
    systemd(
        "runtime_environment_unit_after_targets",
        TextList,
        Default::EmptyList,
    ),
    systemd("limit_nofile", Limit, Default::Int(65535)),
    systemd("limit_core", Limit, Default::Nil),
    systemd("umask", Mode, Default::Str("0027")),
    systemd("syslog_identifier", Name, Default::Expand("{service_name}")),
    systemd("working_dir", Path, Default::Expand("{current_dir}")),
    systemd("chroot", Bool, Default::Bool(false)),
    systemd("read_write_paths", PathList, Default::EmptyList),
    systemd("read_only_paths", PathList, Default::EmptyList),
    systemd("inaccessible_paths", PathList, Default::EmptyList),
    systemd("listen_backlog", OptInt(1), Default::Int(4096)),
    systemd("paranoia", Bool, Default::Bool(false)),
    systemd("distribution", Enum(DISTRIBUTIONS), Default::Atom("local")),
    systemd("memory_deny_write_execute", Bool, Default::Bool(false)),
];

/// The spec of `key` for `side`, if the key exists there.
pub fn find(side: Side, key: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.key == key && s.applies_to(side))
}

// Derived defaults (referenced from the table above).

fn project_app(r: &mut dyn Lookup) -> Option<Term> {
    Some(Term::Str(r.project().app.clone()))
}
fn project_version(r: &mut dyn Lookup) -> Option<Term> {
    Some(Term::Str(r.project().version.clone()))
}
fn project_env(r: &mut dyn Lookup) -> Option<Term> {
    Some(Term::Str(r.project().mix_env.clone()))
}
fn project_build_path(r: &mut dyn Lookup) -> Option<Term> {
    Some(Term::Str(r.project().build_path.clone()))
}
fn module_name(r: &mut dyn Lookup) -> Option<Term> {
    let app = r.text("app_name")?;
    let camel = app
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<String>();
    Some(Term::Str(camel))
}
fn ext_name(r: &mut dyn Lookup) -> Option<Term> {
    Some(Term::Str(r.text("app_name")?.replace('_', "-")))
}
fn os_user(r: &mut dyn Lookup) -> Option<Term> {
    Some(Term::Str(r.account().user.clone()))
}
/// The deploy user's name when the user chose one (as the reference says);
/// otherwise the primary group of whoever runs the task.
fn deploy_group(r: &mut dyn Lookup) -> Option<Term> {
    if r.is_set("deploy_user") {
        Some(Term::List(vec![Term::Atom("deploy_user".into())]))
    } else {
        Some(Term::Str(r.account().group.clone()))
    }
}
/// The release script command that runs the VM the way service_type expects.
fn start_command(r: &mut dyn Lookup) -> Option<Term> {
    let system = r.text("release_system")?;
    let forking = r.text("service_type")? == "forking";
    let cmd = match (system.as_str(), forking) {
        ("distillery", true) => "start",
        ("distillery", false) => "foreground",
        (_, true) => "daemon",
        (_, false) => "start",
    };
    Some(Term::Str(cmd.into()))
}
/// `[wrap ]<current_dir>/bin/<release_name> <start_command>`.
fn exec_start(r: &mut dyn Lookup) -> Option<Term> {
    let wrap = r.text("exec_start_wrap");
    let current = r.text("current_dir")?;
    let release = r.text("release_name")?;
    let command = r.text("start_command")?;
    Some(Term::Str(default_exec_start(
        wrap.as_deref(),
        &current,
        &release,
        &command,
    )))
}

/// The default ExecStart line; a wrap works with or without its trailing space.
pub fn default_exec_start(
    wrap: Option<&str>,
    current: &str,
    release: &str,
    command: &str,
) -> String {
    let main = format!("{current}/bin/{release} {command}");
    match wrap {
        Some(w) if !w.trim().is_empty() => format!("{} {main}", w.trim_end()),
        _ => main,
    }
}
