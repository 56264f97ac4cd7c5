//! The typed view of the resolved keys Rust code reads (the jobs to render, the
//! unit helpers and checks, the deploy helpers). Code reads fields, so a misspelt
//! key fails to compile; the view itself is read from the resolved config in this
//! one place, and a key it names that resolution did not produce is a bug that
//! fails every test that resolves (see `read`).

use serde_json::{Map, Value};

use crate::spec::{Dir, Side, DIRS};

/// The resolved keys of either side that Rust code reads.
#[derive(Debug, Clone)]
pub struct View {
    pub version: String,
    pub mix_env: String,
    pub build_path: String,
    pub release_name: String,
    pub ext_name: String,
    pub service_name: String,
    pub release_system: String,
    pub deploy_user: String,
    pub app_user: String,
    pub app_group: String,
    pub deploy_dir: String,
    pub current_dir: String,
    pub root_directory: String,
    /// The entries of `dirs`, in `spec::DIRS` order.
    pub dirs: Vec<String>,
    /// The settings of every standard directory, listed in `dirs` or not.
    pub dir_settings: Vec<DirSettings>,
    pub pid_file: Option<String>,
    pub runtime_environment_service_script: Option<String>,
    pub restart_method: String,
    /// ListenStream= addresses; empty without socket activation.
    pub listen_stream: Vec<String>,
    pub env_lang: String,
    pub env_files: Vec<String>,
    pub env_vars: Vec<String>,
    pub systemd_version: i64,
    pub output_dir: String,
    pub template_dir: String,
    pub sided: Sided,
}

/// The keys only one side has.
#[derive(Debug, Clone)]
pub enum Sided {
    Deploy(DeployView),
    /// Boxed: the systemd side reads many more keys.
    Systemd(Box<SystemdView>),
}

#[derive(Debug, Clone)]
pub struct DeployView {
    pub bin_dir: String,
    pub target_prefix: String,
    pub templates: Vec<String>,
    pub sudo_deploy: bool,
    pub sudo_app: bool,
}

#[derive(Debug, Clone)]
pub struct SystemdView {
    pub service_type: String,
    pub start_command: String,
    pub exec_start: String,
    pub exec_start_wrap: Option<String>,
    pub exec_start_pre: Vec<String>,
    pub exec_stop: Option<String>,
    pub unit_after_targets: Vec<String>,
    pub runtime_environment_unit_after_targets: Vec<String>,
    pub working_dir: String,
    pub paranoia: bool,
    pub chroot: bool,
    pub read_write_paths: Vec<String>,
    pub read_only_paths: Vec<String>,
    pub inaccessible_paths: Vec<String>,
}

/// The keys of one standard directory.
#[derive(Debug, Clone)]
pub struct DirSettings {
    pub dir: &'static Dir,
    /// `{name}_dir`
    pub path: String,
    /// `{name}_directory_base`
    pub base: String,
    /// `{name}_directory`
    pub directory: String,
    /// `{name}_directory_mode`
    pub mode: String,
}

impl View {
    /// Reads the view from a resolved config of `side` that had no errors.
    pub fn read(ctx: &Map<String, Value>, side: Side) -> View {
        let r = Reader(ctx);
        let sided = match side {
            Side::Deploy => Sided::Deploy(DeployView {
                bin_dir: r.str("bin_dir"),
                target_prefix: r.str("target_prefix"),
                templates: r.strings("templates"),
                sudo_deploy: r.bool("sudo_deploy"),
                sudo_app: r.bool("sudo_app"),
            }),
            Side::Systemd => Sided::Systemd(Box::new(SystemdView {
                service_type: r.str("service_type"),
                start_command: r.str("start_command"),
                exec_start: r.str("exec_start"),
                exec_start_wrap: r.opt_str("exec_start_wrap"),
                exec_start_pre: r.strings("exec_start_pre"),
                exec_stop: r.opt_str("exec_stop"),
                unit_after_targets: r.strings("unit_after_targets"),
                runtime_environment_unit_after_targets: r
                    .strings("runtime_environment_unit_after_targets"),
                working_dir: r.str("working_dir"),
                paranoia: r.bool("paranoia"),
                chroot: r.bool("chroot"),
                read_write_paths: r.strings("read_write_paths"),
                read_only_paths: r.strings("read_only_paths"),
                inaccessible_paths: r.strings("inaccessible_paths"),
            })),
        };
        View {
            version: r.str("version"),
            mix_env: r.str("mix_env"),
            build_path: r.str("build_path"),
            release_name: r.str("release_name"),
            ext_name: r.str("ext_name"),
            service_name: r.str("service_name"),
            release_system: r.str("release_system"),
            deploy_user: r.str("deploy_user"),
            app_user: r.str("app_user"),
            app_group: r.str("app_group"),
            deploy_dir: r.str("deploy_dir"),
            current_dir: r.str("current_dir"),
            root_directory: r.str("root_directory"),
            dirs: r.strings("dirs"),
            dir_settings: DIRS
                .iter()
                .map(|dir| DirSettings {
                    dir,
                    path: r.str(&format!("{}_dir", dir.name)),
                    base: r.str(&format!("{}_directory_base", dir.name)),
                    directory: r.str(&format!("{}_directory", dir.name)),
                    mode: r.str(&format!("{}_directory_mode", dir.name)),
                })
                .collect(),
            pid_file: r.opt_str("pid_file"),
            runtime_environment_service_script: r.opt_str("runtime_environment_service_script"),
            restart_method: r.str("restart_method"),
            listen_stream: r.strings("listen_stream"),
            env_lang: r.str("env_lang"),
            env_files: r.strings("env_files"),
            env_vars: r.strings("env_vars"),
            systemd_version: r.int("systemd_version"),
            output_dir: r.str("output_dir"),
            template_dir: r.str("template_dir"),
            sided,
        }
    }

    pub fn has_dir(&self, name: &str) -> bool {
        self.dirs.iter().any(|d| d == name)
    }

    /// The settings of the standard directory `name`.
    pub fn dir(&self, name: &str) -> &DirSettings {
        self.dir_settings
            .iter()
            .find(|d| d.dir.name == name)
            .expect("a standard directory name")
    }

    /// The unit files the systemd side generates, main service first:
    /// (template, unit name).
    pub fn units(&self) -> Vec<(&'static str, String)> {
        let service = &self.service_name;
        let mut units = vec![("service", format!("{service}.service"))];
        if !self.listen_stream.is_empty() {
            units.push(("socket", format!("{service}.socket")));
        }
        if self.restart_method == "systemd_flag" {
            units.push(("restart.path", format!("{service}-restart.path")));
            units.push(("restart.service", format!("{service}-restart.service")));
        }
        if self.runtime_environment_service_script.is_some() {
            let name = format!("{service}-runtime-environment.service");
            units.push(("runtime-environment.service", name));
        }
        units
    }

    /// `<service>.socket` with listen_stream: the unit that holds the port.
    pub fn socket_unit(&self) -> Option<String> {
        self.unit("socket")
    }

    /// The name of the unit made from `template`, when the config generates it.
    pub fn unit(&self, template: &str) -> Option<String> {
        self.units()
            .into_iter()
            .find(|(t, _)| *t == template)
            .map(|(_, name)| name)
    }

    pub fn is_distillery(&self) -> bool {
        self.release_system == "distillery"
    }
}

/// Strict reads: resolution produces every key of its side with its kind's type
/// (an unset optional as null), so anything else means the view names a key the
/// spec does not have for that side.
struct Reader<'a>(&'a Map<String, Value>);

impl Reader<'_> {
    fn get(&self, key: &str) -> &Value {
        self.0.get(key).unwrap_or_else(|| bug(key))
    }
    fn str(&self, key: &str) -> String {
        self.get(key)
            .as_str()
            .unwrap_or_else(|| bug(key))
            .to_string()
    }
    fn opt_str(&self, key: &str) -> Option<String> {
        match self.get(key) {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => bug(key),
        }
    }
    fn int(&self, key: &str) -> i64 {
        self.get(key).as_i64().unwrap_or_else(|| bug(key))
    }
    fn bool(&self, key: &str) -> bool {
        self.get(key).as_bool().unwrap_or_else(|| bug(key))
    }
    fn strings(&self, key: &str) -> Vec<String> {
        let items = self.get(key).as_array().unwrap_or_else(|| bug(key));
        items
            .iter()
            .map(|v| v.as_str().unwrap_or_else(|| bug(key)).to_string())
            .collect()
    }
}

fn bug(key: &str) -> ! {
    panic!("the resolved config has no {key} of the type the view reads (a bug in view.rs)")
}
