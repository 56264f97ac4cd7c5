//! The resolved config of one namespace, typed: what resolution produces and every
//! later step reads by field (a misspelt key fails to compile). It carries where
//! each key was written (`Origin`), so an error found at any step names the
//! namespace the user wrote the key in, and the user's own keys, which only
//! templates read.

use std::collections::HashSet;
use std::ops::Deref;

use serde_json::Value;

use crate::error::Error;
use crate::spec::{Common, DeployKeys, Dir, Side, SystemdKeys, DIRS};
use crate::values::ReleaseSystem;

/// Where each key of a resolved config was written: its own namespace, or the
/// other one for a shared key only that one sets. Every config error is built here,
/// so each names the right namespace whichever step finds it.
#[derive(Debug, Clone)]
pub struct Origin {
    pub side: Side,
    /// Shared keys taken from the other namespace.
    pub borrowed: HashSet<String>,
}

impl Origin {
    /// The namespace where the user wrote `key` (or would write it).
    pub fn ns(&self, key: &str) -> &'static str {
        if self.borrowed.contains(key) {
            self.side.other().namespace()
        } else {
            self.side.namespace()
        }
    }

    /// `key` has a bad `value` (as the user wrote it): `expected` says what is valid.
    pub fn invalid(&self, key: &str, value: String, expected: &str, hint: Option<String>) -> Error {
        Error::InvalidValue {
            ns: self.ns(key).to_string(),
            key: key.to_string(),
            value,
            expected: expected.to_string(),
            hint,
        }
    }
}

/// The keys only one side has.
#[derive(Debug, Clone)]
pub enum Sided {
    Deploy(Box<DeployKeys>),
    Systemd(Box<SystemdKeys>),
}

/// One namespace's config, every key resolved, validated and typed.
#[derive(Debug, Clone)]
pub struct Config {
    pub origin: Origin,
    /// The keys both namespaces read (also reachable through `Deref`).
    pub common: Common,
    pub sided: Sided,
    /// Keys the user set that no spec knows, for templates: (name, value).
    pub custom: Vec<(String, Value)>,
    /// Found on the way: unknown keys, the two namespaces disagreeing.
    pub warnings: Vec<String>,
}

impl Deref for Config {
    type Target = Common;
    fn deref(&self) -> &Common {
        &self.common
    }
}

/// The keys of one standard directory.
#[derive(Debug, Clone, Copy)]
pub struct DirSettings<'a> {
    pub dir: &'static Dir,
    /// `{name}_dir`
    pub path: &'a str,
    /// `{name}_directory_base`
    pub base: &'a str,
    /// `{name}_directory`
    pub directory: &'a str,
    /// `{name}_directory_mode`
    pub mode: &'a str,
}

impl Config {
    pub fn side(&self) -> Side {
        self.origin.side
    }

    pub fn deploy(&self) -> Option<&DeployKeys> {
        match &self.sided {
            Sided::Deploy(d) => Some(d),
            Sided::Systemd(_) => None,
        }
    }

    pub fn systemd(&self) -> Option<&SystemdKeys> {
        match &self.sided {
            Sided::Systemd(s) => Some(s),
            Sided::Deploy(_) => None,
        }
    }

    /// An error about `key` of this config (see `Origin::invalid`).
    pub fn invalid(&self, key: &str, value: String, expected: &str, hint: Option<String>) -> Error {
        self.origin.invalid(key, value, expected, hint)
    }
}

impl Common {
    /// The Erlang node name of this service, the one fact the unit, set-env,
    /// remote-console and every release command use (and the overlap instances
    /// derive theirs from): `RELEASE_NODE` from env_vars when the user set it,
    /// else service_name with each character but letters, digits and `_` made
    /// `_` (the default service of app `foo_bar` is `foo-bar`: node `foo_bar`,
    /// the release's own default). So two services of one release on one host
    /// (production and staging) never claim the same name. None for Distillery,
    /// whose node name is in its vm.args.
    pub fn node_name(&self) -> Option<String> {
        if self.release_system == ReleaseSystem::Distillery {
            return None;
        }
        let explicit = self
            .env_vars
            .iter()
            .rev()
            .find_map(|a| a.strip_prefix("RELEASE_NODE="));
        Some(match explicit {
            Some(node) => node.to_string(),
            None => self
                .service_name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect(),
        })
    }

    pub fn has_dir(&self, name: &str) -> bool {
        self.dirs.iter().any(|d| d == name)
    }

    /// The settings of every standard directory, in `spec::DIRS` order.
    pub fn dir_settings(&self) -> [DirSettings<'_>; 6] {
        let [runtime, configuration, logs, tmp, state, cache] = &DIRS;
        fn settings<'a>(
            dir: &'static Dir,
            path: &'a str,
            base: &'a str,
            directory: &'a str,
            mode: &'a str,
        ) -> DirSettings<'a> {
            DirSettings {
                dir,
                path,
                base,
                directory,
                mode,
            }
        }
        [
            settings(
                runtime,
                &self.runtime_dir,
                &self.runtime_directory_base,
                &self.runtime_directory,
                &self.runtime_directory_mode,
            ),
            settings(
                configuration,
                &self.configuration_dir,
                &self.configuration_directory_base,
                &self.configuration_directory,
                &self.configuration_directory_mode,
            ),
            settings(
                logs,
                &self.logs_dir,
                &self.logs_directory_base,
                &self.logs_directory,
                &self.logs_directory_mode,
            ),
            settings(
                tmp,
                &self.tmp_dir,
                &self.tmp_directory_base,
                &self.tmp_directory,
                &self.tmp_directory_mode,
            ),
            settings(
                state,
                &self.state_dir,
                &self.state_directory_base,
                &self.state_directory,
                &self.state_directory_mode,
            ),
            settings(
                cache,
                &self.cache_dir,
                &self.cache_directory_base,
                &self.cache_directory,
                &self.cache_directory_mode,
            ),
        ]
    }

    /// The settings of the standard directory `name` (one of `spec::DIRS`).
    pub fn dir(&self, name: &str) -> Option<DirSettings<'_>> {
        self.dir_settings().into_iter().find(|d| d.dir.name == name)
    }

    /// The paths of the standard directories and the deploy layout: a copy_files
    /// destination equal to one of them is a directory.
    pub fn known_dirs(&self) -> [&str; 10] {
        [
            &self.deploy_dir,
            &self.etc_dir,
            &self.scripts_dir,
            &self.flags_dir,
            &self.configuration_dir,
            &self.runtime_dir,
            &self.state_dir,
            &self.cache_dir,
            &self.logs_dir,
            &self.tmp_dir,
        ]
    }
}
