//! mix_deploy's core: everything between the Mix task's JSON document and the
//! files on disk. No Erlang here: the NIF crate is a thin boundary.
//!
//! The modules form layers, lowest first. A module uses only modules of lower
//! layers, never one of its own layer (tests/layers.rs checks this list):
//!
//! 1. `term`, `error`, `account`, `quote`, `templates`, `listen`, `values`, `features`:
//!    leaves (config terms, error reports, the current account, shell/systemd/YAML
//!    quoting, the embedded templates, ListenStream= addresses, typed values and
//!    enums, what each systemd version can do).
//! 2. `input`: the task's JSON document.
//! 3. `spec`: every config key once: its kind, its default, its typed field.
//! 4. `config`, `kinds`, `shared`: the typed config and where each key was written;
//!    conversions by kind; the keys both namespaces read.
//! 5. `domain`, `eval`, `trust`, `overlap`: validators of what a key means;
//!    evaluation of references; whose ground each path of the config is (deploy
//!    user, app, root); restart_method :overlap's instances, their names and
//!    paths, and its checks.
//! 6. `resolve`: raw config to the typed config (the first boundary where keys are
//!    names).
//! 7. `units`: the unit side's values and whole-config checks.
//! 8. `plan`, `grants`: the deploy plan, every derived fact computed once for
//!    templates; the warnings about root the config grants.
//! 9. `context`, `render`: the template context serialised from config and plan
//!    (the second boundary); Handlebars set up for scripts and units.
//! 10. `output`: writing files atomically, reporting changes.
//! 11. `generate`: the generate and init tasks, and the one script `mix deploy.local`
//!     runs, composing resolve, plan, context, render and output.
//! 12. `api` (in this file): the JSON-in entry points the NIF calls.

pub mod account;
pub mod config;
pub mod context;
pub mod domain;
pub mod error;
pub mod eval;
pub mod features;
pub mod generate;
pub mod grants;
pub mod input;
pub mod kinds;
pub mod listen;
pub mod output;
pub mod overlap;
pub mod plan;
pub mod quote;
pub mod render;
pub mod resolve;
pub mod shared;
pub mod spec;
pub mod templates;
pub mod term;
pub mod trust;
pub mod units;
pub mod values;

pub use error::{Error, Errors};
pub use generate::Report;
pub use input::Input;
pub use spec::Side;

/// The JSON-in entry points the NIF calls.
pub mod api {
    use super::*;

    pub fn generate(json: &str, side: Side) -> Result<Report, Errors> {
        let input = Input::parse(json)?;
        generate::generate(&input, side)
    }

    pub fn init(json: &str, side: Side) -> Result<Report, Errors> {
        let input = Input::parse(json)?;
        generate::init(&input, side)
    }

    /// Resolves and renders every output without touching the disk; returns the
    /// number of bytes rendered (for benchmarks and dry runs).
    pub fn render_only(json: &str, side: Side) -> Result<usize, Errors> {
        let input = Input::parse(json)?;
        let resolved = resolve::resolve(&input, side)?;
        let root = generate::project_root(&input);
        let (files, _) = generate::plan(&resolved, &root, side)?;
        Ok(files.iter().map(|f| f.contents.len()).sum())
    }

    /// `mix deploy.local` / `mix deploy.local.rollback`: the project's deploy script
    /// `name` (`release`, `rollback`) as `mix deploy.generate` would write it.
    pub fn render_script(json: &str, name: &str) -> Result<String, Errors> {
        let input = Input::parse(json)?;
        generate::render_script(&input, name)
    }

    /// The template context of `side` as JSON: every resolved key plus the plan
    /// templates see (for tests, and to check that the NIF is loaded).
    pub fn resolve(json: &str, side: Side) -> Result<String, Errors> {
        let input = Input::parse(json)?;
        let resolved = resolve::resolve(&input, side)?;
        Ok(serde_json::Value::Object(generate::template_context(&resolved)).to_string())
    }
}
