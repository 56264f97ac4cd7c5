//! mix_deploy's core: everything between the Mix task's JSON document and the
//! files on disk. No Erlang here: the NIF crate is a thin boundary.
//!
//! The modules form layers, lowest first. A module uses only modules of lower
//! layers, never one of its own layer (tests/layers.rs checks this list):
//!
//! 1. `term`, `error`, `account`, `quote`, `templates`, `listen`: leaves (config
//!    terms, error reports, the current account, shell/systemd/YAML quoting, the
//!    embedded templates, ListenStream= addresses).
//! 2. `input`: the task's JSON document.
//! 3. `spec`: every config key, its kind and its default, derived ones included.
//! 4. `view`, `shared`: the typed view of the resolved keys Rust code reads; the
//!    keys both namespaces read, how one takes them from the other, and the
//!    warnings when the two disagree.
//! 5. `resolve`: raw config to the template context and the view.
//! 6. `helpers`, `units`, `grants`: the deploy and unit template helpers, the
//!    whole-config unit checks, and the warnings about root the config grants.
//! 7. `render`: Handlebars set up for scripts and units.
//! 8. `output`: writing files atomically, reporting changes.
//! 9. `generate`: the generate and init tasks, and the one script `mix deploy.local`
//!    runs, composing resolve, helpers, render and output.
//! 10. `api` (in this file): the JSON-in entry points the NIF calls.

pub mod account;
pub mod error;
pub mod generate;
pub mod grants;
pub mod helpers;
pub mod input;
pub mod listen;
pub mod output;
pub mod quote;
pub mod render;
pub mod resolve;
pub mod shared;
pub mod spec;
pub mod templates;
pub mod term;
pub mod units;
pub mod view;

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

    /// The template context of `side` as JSON: every resolved key plus the helpers
    /// templates see (for tests, and to check that the NIF is loaded).
    pub fn resolve(json: &str, side: Side) -> Result<String, Errors> {
        let input = Input::parse(json)?;
        let resolved = resolve::resolve(&input, side)?;
        Ok(serde_json::Value::Object(generate::template_context(&resolved)).to_string())
    }
}
