//! mix_deploy's core: everything between the Mix task's JSON document and the
//! files on disk. `resolve` computes every config key, `generate` renders every
//! output in memory and only then writes, `release` deploys and rolls back
//! releases on the local machine. No Erlang here: the NIF crate is a thin boundary.

pub mod account;
pub mod context;
pub mod derive;
pub mod error;
pub mod generate;
pub mod input;
pub mod output;
pub mod release;
pub mod render;
pub mod resolve;
pub mod shared;
pub mod spec;
pub mod templates;
pub mod term;
pub mod units;

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

    /// `mix deploy.local`: deploys the project's release tar on this machine.
    pub fn deploy_local(json: &str) -> release::Outcome {
        release::run_json(json, release::deploy)
    }

    /// `mix deploy.local.rollback`: points current at the previous (or a named) release.
    pub fn rollback_local(json: &str) -> release::Outcome {
        release::run_json(json, release::rollback)
    }

    /// The resolved config as JSON (for `mix deploy.config`-style inspection and tests).
    pub fn resolve(json: &str, side: Side) -> Result<String, Errors> {
        let input = Input::parse(json)?;
        let resolved = resolve::resolve(&input, side)?;
        Ok(serde_json::Value::Object(resolved.context).to_string())
    }
}
