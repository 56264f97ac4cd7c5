//! The NIF boundary: JSON in, Erlang terms out. No logic lives here; see
//! mix_deploy_core. Calls that touch the filesystem run on a dirty IO scheduler.

use mix_deploy_core::{api, Errors, Report, Side};
use rustler::{Atom, Encoder, Env, Term};

mod atoms {
    rustler::atoms! { ok, error, deploy, systemd, creating, updating, unchanged, removing, skipping }
}

fn side(atom: Atom) -> Side {
    if atom == atoms::systemd() {
        Side::Systemd
    } else {
        Side::Deploy
    }
}

fn action_atom(word: &str) -> Atom {
    match word {
        "creating" => atoms::creating(),
        "updating" => atoms::updating(),
        "removing" => atoms::removing(),
        "skipping" => atoms::skipping(),
        _ => atoms::unchanged(),
    }
}

fn report<'a>(env: Env<'a>, result: Result<Report, Errors>) -> Term<'a> {
    match result {
        Ok(r) => {
            let changes: Vec<(Atom, String)> = r
                .changes
                .iter()
                .map(|c| (action_atom(c.action.word()), c.path.clone()))
                .collect();
            (atoms::ok(), (changes, r.warnings, r.stale)).encode(env)
        }
        Err(e) => (atoms::error(), e.to_string()).encode(env),
    }
}

fn simple<'a, T: Encoder>(env: Env<'a>, result: Result<T, Errors>) -> Term<'a> {
    match result {
        Ok(v) => (atoms::ok(), v).encode(env),
        Err(e) => (atoms::error(), e.to_string()).encode(env),
    }
}

#[rustler::nif(schedule = "DirtyIo")]
fn render_script(env: Env, json: String, name: String) -> Term {
    simple(env, api::render_script(&json, &name))
}

#[rustler::nif(schedule = "DirtyIo")]
fn generate(env: Env, json: String, which: Atom) -> Term {
    report(env, api::generate(&json, side(which)))
}

#[rustler::nif(schedule = "DirtyIo")]
fn init(env: Env, json: String, which: Atom) -> Term {
    report(env, api::init(&json, side(which)))
}

#[rustler::nif(schedule = "DirtyIo")]
fn render_only(env: Env, json: String, which: Atom) -> Term {
    simple(env, api::render_only(&json, side(which)))
}

#[rustler::nif(schedule = "DirtyIo")]
fn resolve(env: Env, json: String, which: Atom) -> Term {
    simple(env, api::resolve(&json, side(which)))
}

rustler::init!("Elixir.MixDeploy.Native");
