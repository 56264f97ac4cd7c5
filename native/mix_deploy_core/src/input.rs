//! The JSON document a Mix task hands to the core (see docs/json.md).

use serde::Deserialize;

use crate::account::Account;
use crate::error::Error;
use crate::term::Term;

#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    /// The OTP application name (`app:` in mix.exs).
    pub app: String,
    pub version: String,
    pub mix_env: String,
    /// `Mix.Project.build_path/0`, relative to `project_dir` when inside it.
    pub build_path: String,
    /// The project root; relative output paths are taken from here. Default: cwd.
    #[serde(default)]
    pub project_dir: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Options {
    /// Write nothing; report stale or missing files.
    pub check: bool,
    /// Overwrite existing files (init tasks).
    pub force: bool,
}

#[derive(Debug, Clone)]
pub struct Input {
    pub project: Project,
    pub account: Option<Account>,
    /// User config as (key, value) pairs in the order written: the namespace of the
    /// task (`:mix_deploy` for deploy tasks, `:mix_systemd` for systemd tasks).
    pub config: Vec<(String, Term)>,
    /// The other namespace's config, for the keys both read (see `shared`).
    pub other_config: Vec<(String, Term)>,
    pub options: Options,
}

#[derive(Deserialize)]
struct Raw {
    project: Project,
    #[serde(default)]
    account: Option<RawAccount>,
    #[serde(default)]
    config: Term,
    #[serde(default)]
    other_config: Term,
    #[serde(default)]
    options: Options,
}

#[derive(Deserialize)]
struct RawAccount {
    user: String,
    group: String,
}

impl Input {
    pub fn parse(json: &str) -> Result<Input, Error> {
        let raw: Raw = serde_json::from_str(json).map_err(|e| Error::Input(e.to_string()))?;
        let pairs = |term: Term, what: &str| -> Result<Vec<(String, Term)>, Error> {
            Ok(match term {
                Term::Nil => Vec::new(),
                term => term
                    .as_pairs()
                    .ok_or_else(|| Error::Input(format!("{what} is not a keyword list: {term}")))?
                    .into_iter()
                    .map(|(k, v)| (k, v.clone()))
                    .collect(),
            })
        };
        let config = pairs(raw.config, "config")?;
        let other_config = pairs(raw.other_config, "other_config")?;
        Ok(Input {
            project: raw.project,
            account: raw.account.map(|a| Account {
                user: a.user,
                group: a.group,
            }),
            config,
            other_config,
            options: raw.options,
        })
    }
}
