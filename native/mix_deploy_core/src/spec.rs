//! Every config key both tasks understand, declared once: its kind (what a valid
//! value looks like, and so its Rust type), its default, and which namespace reads
//! it. From that one list come the spec table resolution walks (`SPECS`) and the
//! typed structs resolution fills (`Common`, `DeployKeys`, `SystemdKeys`), whose
//! field names are the keys, so serialising them gives templates every key under
//! its own name. Defaults that depend on other keys are written as `{key}`
//! patterns and expanded from the user's final values, so a derivation can never
//! read a value the user has since overridden.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

use crate::account::Account;
use crate::features::Features;
use crate::input::Project;
use crate::term::Term;
use crate::values::{
    BatchSize, Choice, CopyFile, Distribution, Limit, Preserve, ReleaseSystem, RestartMethod,
    RestartPolicy, ServiceType,
};

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

    pub fn other(self) -> Side {
        match self {
            Side::Deploy => Side::Systemd,
            Side::Systemd => Side::Deploy,
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
    /// The start of file names (target_prefix): no `/`, no control character; may
    /// be empty.
    FilePrefix,
    /// One of a fixed set of atoms or strings (a `values::Choice`).
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
/// task's facts. The evaluator implements it.
pub trait Lookup {
    fn text(&mut self, key: &str) -> Option<String>;
    fn is_set(&self, key: &str) -> bool;
    fn project(&self) -> &Project;
    fn account(&self) -> &Account;
}

/// What fills the typed structs: each key's value converted for its kind, or None
/// when it is invalid (the source reports why). Resolution implements it; the
/// method for a key follows from its kind in the table, so a key always gets the
/// conversion its Rust type needs.
pub trait Source {
    /// Text, Path, LocalPath, Name, Account, Mode, HostPattern and Enum keys.
    fn string(&mut self, key: &'static str) -> Option<String>;
    /// OptText, OptPath, Script and Wrap keys: Some(None) when unset.
    fn opt_string(&mut self, key: &'static str) -> Option<Option<String>>;
    fn int(&mut self, key: &'static str) -> Option<i64>;
    fn opt_int(&mut self, key: &'static str) -> Option<Option<i64>>;
    fn boolean(&mut self, key: &'static str) -> Option<bool>;
    fn limit(&mut self, key: &'static str) -> Option<Limit>;
    /// The list kinds whose items are text.
    fn strings(&mut self, key: &'static str) -> Option<Vec<String>>;
    fn copy_files(&mut self, key: &'static str) -> Option<Vec<CopyFile>>;
    fn batch_size(&mut self, key: &'static str) -> Option<BatchSize>;
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
    /// Whether the target's systemd creates it from `directive`; when not, the
    /// scripts (and, for tmp, the setup unit's systemd-tmpfiles) create it.
    pub created_by_systemd: fn(&Features) -> bool,
    /// Where `var` goes among the unit's Environment= lines (mix_systemd's order).
    pub env_order: usize,
}

fn has_runtime_directory(f: &Features) -> bool {
    f.runtime_directory
}
fn has_directories(f: &Features) -> bool {
    f.directories
}
fn never(_: &Features) -> bool {
    false
}

/// The standard directories, in the order `dirs` is kept in.
pub const DIRS: [Dir; 6] = [
    dir(
        "runtime",
        "RUNTIME_DIR",
        "RuntimeDirectory",
        has_runtime_directory,
        0,
    ),
    dir(
        "configuration",
        "CONFIGURATION_DIR",
        "ConfigurationDirectory",
        has_directories,
        1,
    ),
    dir("logs", "LOGS_DIR", "LogsDirectory", has_directories, 2),
    dir("tmp", "TMP_DIR", "TmpDirectory", never, 5),
    dir("state", "STATE_DIR", "StateDirectory", has_directories, 4),
    dir("cache", "CACHE_DIR", "CacheDirectory", has_directories, 3),
];

const fn dir(
    name: &'static str,
    var: &'static str,
    directive: &'static str,
    created_by_systemd: fn(&Features) -> bool,
    env_order: usize,
) -> Dir {
    Dir {
        name,
        var,
        directive,
        created_by_systemd,
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

/// A kind's entry in the spec table.
macro_rules! kind {
    (Enum<$t:ident>) => {
        Kind::Enum(<$t as Choice>::NAMES)
    };
    (Int($min:literal)) => {
        Kind::Int($min)
    };
    (OptInt($min:literal)) => {
        Kind::OptInt($min)
    };
    ($k:ident) => {
        Kind::$k
    };
}

/// A kind's Rust type.
macro_rules! key_type {
    (Enum<$t:ident>) => { $t };
    (Int($min:literal)) => { i64 };
    (OptInt($min:literal)) => { Option<i64> };
    (Bool) => { bool };
    (Limit) => { Limit };
    (BatchSize) => { BatchSize };
    (CopyFiles) => { Vec<CopyFile> };
    (OptText) => { Option<String> };
    (OptPath) => { Option<String> };
    (Script) => { Option<String> };
    (Wrap) => { Option<String> };
    (TextList) => { Vec<String> };
    (PathList) => { Vec<String> };
    (EnvVars) => { Vec<String> };
    (Templates) => { Vec<String> };
    (Dirs) => { Vec<String> };
    (Keys) => { Vec<String> };
    (ListenStream) => { Vec<String> };
    ($k:ident) => { String };
}

/// Reads a key of that kind from a `Source`.
macro_rules! read_key {
    ($src:ident, $key:ident, Enum<$t:ident>) => {
        $src.string(stringify!($key))
            .and_then(|name| <$t as Choice>::from_name(&name))
    };
    ($src:ident, $key:ident, Int($min:literal)) => {
        $src.int(stringify!($key))
    };
    ($src:ident, $key:ident, OptInt($min:literal)) => {
        $src.opt_int(stringify!($key))
    };
    ($src:ident, $key:ident, Bool) => {
        $src.boolean(stringify!($key))
    };
    ($src:ident, $key:ident, Limit) => {
        $src.limit(stringify!($key))
    };
    ($src:ident, $key:ident, BatchSize) => {
        $src.batch_size(stringify!($key))
    };
    ($src:ident, $key:ident, CopyFiles) => {
        $src.copy_files(stringify!($key))
    };
    ($src:ident, $key:ident, OptText) => {
        $src.opt_string(stringify!($key))
    };
    ($src:ident, $key:ident, OptPath) => {
        $src.opt_string(stringify!($key))
    };
    ($src:ident, $key:ident, Script) => {
        $src.opt_string(stringify!($key))
    };
    ($src:ident, $key:ident, Wrap) => {
        $src.opt_string(stringify!($key))
    };
    ($src:ident, $key:ident, TextList) => {
        $src.strings(stringify!($key))
    };
    ($src:ident, $key:ident, PathList) => {
        $src.strings(stringify!($key))
    };
    ($src:ident, $key:ident, EnvVars) => {
        $src.strings(stringify!($key))
    };
    ($src:ident, $key:ident, Templates) => {
        $src.strings(stringify!($key))
    };
    ($src:ident, $key:ident, Dirs) => {
        $src.strings(stringify!($key))
    };
    ($src:ident, $key:ident, Keys) => {
        $src.strings(stringify!($key))
    };
    ($src:ident, $key:ident, ListenStream) => {
        $src.strings(stringify!($key))
    };
    ($src:ident, $key:ident, $k:ident) => {
        $src.string(stringify!($key))
    };
}

/// A key's value when its kind is a path (unset optional paths give None).
macro_rules! path_of {
    (Path, $v:expr) => {
        Some($v.as_str())
    };
    (OptPath, $v:expr) => {
        $v.as_deref()
    };
    (Script, $v:expr) => {
        $v.as_deref()
    };
    ($k:ident, $v:expr) => {
        None::<&str>
    };
}

/// The key list: `both` keys are read by both namespaces with one default;
/// `split` keys by both with a default each (mix_deploy's, then mix_systemd's);
/// `deploy` and `systemd` keys by one namespace. Each key becomes a field of
/// `Common`, `DeployKeys` or `SystemdKeys` and an entry (two for split keys) of
/// `SPECS`, in the order written (the order keys are resolved in).
macro_rules! keys {
    (
        both { $($b:ident: $bk:ident $(<$bt:ident>)? $(($bm:literal))? = $bd:expr,)* }
        split { $($s:ident: $sk:ident = ($sdd:expr, $sds:expr),)* }
        deploy { $($d:ident: $dk:ident $(<$dt:ident>)? $(($dm:literal))? = $dd:expr,)* }
        systemd { $($y:ident: $yk:ident $(<$yt:ident>)? $(($ym:literal))? = $yd:expr,)* }
    ) => {
        /// Every key: both namespaces', then split, mix_deploy's and mix_systemd's.
        pub static SPECS: &[Spec] = &[
            $(Spec { key: stringify!($b), kind: kind!($bk $(<$bt>)? $(($bm))?), default: $bd, deploy: true, systemd: true },)*
            $(
                Spec { key: stringify!($s), kind: kind!($sk), default: $sdd, deploy: true, systemd: false },
                Spec { key: stringify!($s), kind: kind!($sk), default: $sds, deploy: false, systemd: true },
            )*
            $(Spec { key: stringify!($d), kind: kind!($dk $(<$dt>)? $(($dm))?), default: $dd, deploy: true, systemd: false },)*
            $(Spec { key: stringify!($y), kind: kind!($yk $(<$yt>)? $(($ym))?), default: $yd, deploy: false, systemd: true },)*
        ];

        /// The keys both namespaces read, resolved.
        #[derive(Debug, Clone, Serialize)]
        pub struct Common {
            $(pub $b: key_type!($bk $(<$bt>)? $(($bm))?),)*
            $(pub $s: key_type!($sk),)*
        }

        /// The keys only `:mix_deploy` reads, resolved.
        #[derive(Debug, Clone, Serialize)]
        pub struct DeployKeys {
            $(pub $d: key_type!($dk $(<$dt>)? $(($dm))?),)*
        }

        /// The keys only `:mix_systemd` reads, resolved.
        #[derive(Debug, Clone, Serialize)]
        pub struct SystemdKeys {
            $(pub $y: key_type!($yk $(<$yt>)? $(($ym))?),)*
        }

        impl Common {
            /// The values of its path keys (Path, OptPath, Script), in key order.
            pub fn path_values(&self) -> Vec<&str> {
                let mut paths: Vec<&str> = Vec::new();
                $(paths.extend(path_of!($bk, self.$b));)*
                $(paths.extend(path_of!($sk, self.$s));)*
                paths
            }

            /// One key, serialised as templates see it; None when the key is
            /// invalid or not one of these (to compare one key of both sides).
            pub fn read_value(src: &mut dyn Source, key: &str) -> Option<serde_json::Value> {
                match key {
                    $(stringify!($b) => read_key!(src, $b, $bk $(<$bt>)? $(($bm))?)
                        .and_then(|v| serde_json::to_value(v).ok()),)*
                    $(stringify!($s) => read_key!(src, $s, $sk)
                        .and_then(|v| serde_json::to_value(v).ok()),)*
                    _ => None,
                }
            }

            /// Reads every key (so every mistake is reported), then the struct
            /// when none failed.
            pub fn read(src: &mut dyn Source) -> Option<Common> {
                $(let $b = read_key!(src, $b, $bk $(<$bt>)? $(($bm))?);)*
                $(let $s = read_key!(src, $s, $sk);)*
                Some(Common { $($b: $b?,)* $($s: $s?,)* })
            }
        }

        impl DeployKeys {
            pub fn read(src: &mut dyn Source) -> Option<DeployKeys> {
                $(let $d = read_key!(src, $d, $dk $(<$dt>)? $(($dm))?);)*
                Some(DeployKeys { $($d: $d?,)* })
            }
        }

        impl SystemdKeys {
            /// The values of its path keys (Path, OptPath, Script), in key order.
            pub fn path_values(&self) -> Vec<&str> {
                let mut paths: Vec<&str> = Vec::new();
                $(paths.extend(path_of!($yk, self.$y));)*
                paths
            }

            pub fn read(src: &mut dyn Source) -> Option<SystemdKeys> {
                $(let $y = read_key!(src, $y, $yk $(<$yt>)? $(($ym))?);)*
                Some(SystemdKeys { $($y: $y?,)* })
            }
        }
    };
}

keys! {
    both {
        // Project facts; overridable like any key.
        app_name: Name = Default::Derived(project_app),
        version: Text = Default::Derived(project_version),
        mix_env: Name = Default::Derived(project_env),
        build_path: LocalPath = Default::Derived(project_build_path),
        module_name: Text = Default::Derived(module_name),
        release_name: Name = Default::Expand("{app_name}"),
        ext_name: Name = Default::Derived(ext_name),
        service_name: Name = Default::Expand("{ext_name}"),
        release_system: Enum<ReleaseSystem> = Default::Atom("mix"),
        // Accounts (app_user and app_group are split, below).
        deploy_user: Account = Default::Derived(os_user),
        deploy_group: Account = Default::Derived(deploy_group),
        // Layout on the target.
        base_dir: Path = Default::Str("/srv"),
        deploy_dir: Path = Default::Expand("{base_dir}/{ext_name}"),
        releases_dir: Path = Default::Expand("{deploy_dir}/releases"),
        scripts_dir: Path = Default::Expand("{deploy_dir}/bin"),
        flags_dir: Path = Default::Expand("{deploy_dir}/flags"),
        current_dir: Path = Default::Expand("{deploy_dir}/current"),
        etc_dir: Path = Default::Expand("{deploy_dir}/etc"),
        systemd_version: Int(1) = Default::Int(235),
        dirs: Dirs = Default::EmptyList,
        runtime_directory: Name = Default::Expand("{ext_name}"),
        runtime_directory_base: Path = Default::Str("/run"),
        runtime_directory_mode: Mode = Default::Str("750"),
        runtime_directory_preserve: Enum<Preserve> = Default::Str("no"),
        configuration_directory: Name = Default::Expand("{ext_name}"),
        configuration_directory_base: Path = Default::Str("/etc"),
        configuration_directory_mode: Mode = Default::Str("750"),
        logs_directory: Name = Default::Expand("{ext_name}"),
        logs_directory_base: Path = Default::Str("/var/log"),
        logs_directory_mode: Mode = Default::Str("750"),
        state_directory: Name = Default::Expand("{ext_name}"),
        state_directory_base: Path = Default::Str("/var/lib"),
        state_directory_mode: Mode = Default::Str("750"),
        cache_directory: Name = Default::Expand("{ext_name}"),
        cache_directory_base: Path = Default::Str("/var/cache"),
        cache_directory_mode: Mode = Default::Str("750"),
        tmp_directory: Name = Default::Expand("{ext_name}"),
        tmp_directory_base: Path = Default::Str("/var/tmp"),
        tmp_directory_mode: Mode = Default::Str("750"),
        runtime_dir: Path = Default::Expand("{runtime_directory_base}/{runtime_directory}"),
        configuration_dir: Path =
            Default::Expand("{configuration_directory_base}/{configuration_directory}"),
        logs_dir: Path = Default::Expand("{logs_directory_base}/{logs_directory}"),
        state_dir: Path = Default::Expand("{state_directory_base}/{state_directory}"),
        cache_dir: Path = Default::Expand("{cache_directory_base}/{cache_directory}"),
        tmp_dir: Path = Default::Expand("{tmp_directory_base}/{tmp_directory}"),
        pid_file: OptPath = Default::Expand("{runtime_dir}/{app_name}.pid"),
        root_directory: Path = Default::Expand("{current_dir}"),
        conform_conf_path: Path = Default::Expand("{configuration_dir}/{app_name}.conf"),
        runtime_environment_service_script: Script = Default::Nil,
        // Commands the root setup unit <service>-setup.service runs before the
        // service starts, without the env files a lower account can write.
        setup_exec_start: TextList = Default::EmptyList,
        // Socket activation: the socket unit holds the port while the service restarts.
        listen_stream: ListenStream = Default::EmptyList,
        // Behaviour.
        restart_method: Enum<RestartMethod> = Default::Atom("systemctl"),
        env_lang: Text = Default::Str("en_US.utf8"),
        env_files: TextList = Default::EmptyList,
        env_vars: EnvVars = Default::EmptyList,
        expand_keys: Keys = Default::EmptyList,
        expand_keys_extra: Keys = Default::EmptyList,
    }
    split {
        // The scripts' accounts default to the deploy account, the unit's to ext_name
        // (see shared.rs for how a unit takes the scripts' when they are generated).
        app_user: Account = (Default::Expand("{deploy_user}"), Default::Expand("{ext_name}")),
        app_group: Account = (Default::Expand("{deploy_group}"), Default::Expand("{app_user}")),
        // Where each task writes its files and reads its templates.
        output_dir: LocalPath = (
            Default::Expand("{build_path}/deploy"),
            Default::Expand(SYSTEMD_OUTPUT_DIR)
        ),
        template_dir: LocalPath = (
            Default::Str("rel/templates/deploy"),
            Default::Str("rel/templates/systemd")
        ),
    }
    deploy {
        sudo_deploy: Bool = Default::Bool(false),
        sudo_app: Bool = Default::Bool(false),
        copy_files: CopyFiles = Default::EmptyList,
        create_dirs: PathList = Default::EmptyList,
        keep_releases: Int(1) = Default::Int(5),
        health_check_url: OptText = Default::Nil,
        health_check_timeout: Int(1) = Default::Int(30),
        rollback_on_failure: Bool = Default::Bool(true),
        // The release phase: deploy-release stages the release, runs its
        // migrations, and switches only when they pass.
        migrate_on_deploy: Bool = Default::Bool(false),
        // Digested static files of this many previous releases are copied into a
        // new release that lacks them (0: none), so old pages still load theirs.
        bridge_assets: Int(0) = Default::Int(0),
        // The Ansible playbooks ("ansible" in templates): which inventory hosts, how
        // many at a time, and whether a failure rolls back every host the run switched.
        ansible_hosts: HostPattern = Default::Str("all"),
        ansible_serial: BatchSize = Default::Int(1),
        ansible_rollback_on_failure: Bool = Default::Bool(true),
        // set-cookie-ssm: SSM parameter holding the Erlang cookie, and where to write
        // it (nil: the script's fallbacks, see its header).
        cookie_ssm_parameter: OptText = Default::Nil,
        cookie_file: OptPath = Default::Nil,
        // Where output goes.
        bin_dir: LocalPath = Default::Str("bin"),
        target_prefix: FilePrefix = Default::Str("deploy-"),
        templates: Templates = Default::EmptyList,
    }
    systemd {
        service_type: Enum<ServiceType> = Default::Atom("simple"),
        start_command: Text = Default::Derived(start_command),
        exec_start_pre: TextList = Default::EmptyList,
        exec_start_wrap: Wrap = Default::Nil,
        exec_start: Text = Default::Derived(exec_start),
        exec_stop: OptText = Default::Nil,
        restart: Enum<RestartPolicy> = Default::Str("always"),
        restart_sec: OptInt(0) = Default::Nil,
        timeout_start_sec: OptInt(0) = Default::Nil,
        timeout_stop_sec: OptInt(0) = Default::Nil,
        unit_after_targets: TextList = Default::EmptyList,
        runtime_environment_unit_after_targets: TextList = Default::EmptyList,
        limit_nofile: Limit = Default::Int(65535),
        limit_core: Limit = Default::Nil,
        umask: Mode = Default::Str("0027"),
        syslog_identifier: Name = Default::Expand("{service_name}"),
        working_dir: Path = Default::Expand("{current_dir}"),
        chroot: Bool = Default::Bool(false),
        read_write_paths: PathList = Default::EmptyList,
        read_only_paths: PathList = Default::EmptyList,
        inaccessible_paths: PathList = Default::EmptyList,
        listen_backlog: OptInt(1) = Default::Int(4096),
        paranoia: Bool = Default::Bool(false),
        distribution: Enum<Distribution> = Default::Atom("local"),
        memory_deny_write_execute: Bool = Default::Bool(false),
    }
}

/// The spec of `key` for `side`, if the key exists there.
pub fn find(side: Side, key: &str) -> Option<&'static Spec> {
    type Index = HashMap<&'static str, [Option<&'static Spec>; 2]>;
    static INDEX: OnceLock<Index> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut index: Index = HashMap::new();
        for spec in SPECS {
            let entry = index.entry(spec.key).or_default();
            if spec.deploy {
                entry[0] = Some(spec);
            }
            if spec.systemd {
                entry[1] = Some(spec);
            }
        }
        index
    });
    let slot = match side {
        Side::Deploy => 0,
        Side::Systemd => 1,
    };
    index.get(key).and_then(|entry| entry[slot])
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
    let system = ReleaseSystem::from_name(&r.text("release_system")?)?;
    let forking = ServiceType::from_name(&r.text("service_type")?)? == ServiceType::Forking;
    let cmd = match (system, forking) {
        (ReleaseSystem::Distillery, true) => "start",
        (ReleaseSystem::Distillery, false) => "foreground",
        (ReleaseSystem::Mix, true) => "daemon",
        (ReleaseSystem::Mix, false) => "start",
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
