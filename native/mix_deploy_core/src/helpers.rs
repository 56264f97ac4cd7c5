//! Template helpers of both sides and the deploy side's own, derived from the
//! resolved keys: structured forms of lists that templates would otherwise have to
//! parse (env vars, env files, dirs), the release paths, and what the sudoers file
//! and the scripts need. Documented in docs/templates.md. The unit helpers are in
//! `units`.

use serde_json::{json, Map, Value};

use crate::spec;
use crate::templates;
use crate::view::{Sided, View};

/// Adds the helpers of the view's side to a template context.
pub fn add_helpers(ctx: &mut Map<String, Value>, v: &View) {
    add_dir_helpers(ctx, v);
    add_env_helpers(ctx, v);
    add_release_helpers(ctx, v);
    // listen_stream: the socket unit both sides name (scripts start, stop, copy it).
    ctx.insert(
        "socket_unit".into(),
        v.socket_unit().map(Value::String).unwrap_or(Value::Null),
    );
    // One full path everywhere, so a sudoers grant matches what the scripts run.
    ctx.insert("systemctl".into(), Value::String("/bin/systemctl".into()));
    if let Sided::Deploy(d) = &v.sided {
        // Where `mix systemd.generate` writes units by default (copy-files, stage-files).
        ctx.insert(
            "systemd_output_dir".into(),
            Value::String(spec::SYSTEMD_OUTPUT_DIR.replace("{build_path}", &v.build_path)),
        );
        ctx.insert("sudoers_units".into(), sudoers_units(v));
        ctx.insert("enabled".into(), enabled(&d.templates));
    }
}

/// `dir_specs` (the settings of each entry of `dirs`) and `has_dir`.
fn add_dir_helpers(ctx: &mut Map<String, Value>, v: &View) {
    let dir_specs: Vec<Value> = v
        .dir_settings
        .iter()
        .filter(|s| v.has_dir(s.dir.name))
        .map(|s| {
            json!({
                "name": s.dir.name,
                "var": s.dir.var,
                "directive": s.dir.directive,
                "path": s.path,
                "base": s.base,
                "directory": s.directory,
                "mode": s.mode,
            })
        })
        .collect();
    let has_dir: Map<String, Value> = v
        .dir_settings
        .iter()
        .map(|s| (s.dir.name.to_string(), Value::Bool(v.has_dir(s.dir.name))))
        .collect();
    ctx.insert("dir_specs".into(), Value::Array(dir_specs));
    ctx.insert("has_dir".into(), Value::Object(has_dir));
}

/// `env_var_list` (name and value of each env_vars entry) and `env_file_list`.
fn add_env_helpers(ctx: &mut Map<String, Value>, v: &View) {
    let env_var_list: Vec<Value> = v
        .env_vars
        .iter()
        .filter_map(|item| item.split_once('='))
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    let env_file_list: Vec<Value> = v
        .env_files
        .iter()
        .map(|item| match item.strip_prefix('-') {
            Some(path) => json!({"path": path, "optional": true}),
            None => json!({"path": item, "optional": false}),
        })
        .collect();
    ctx.insert("env_var_list".into(), Value::Array(env_var_list));
    ctx.insert("env_file_list".into(), Value::Array(env_file_list));
}

/// Where the build puts the release: `release_tar`, `release_build_dir`.
fn add_release_helpers(ctx: &mut Map<String, Value>, v: &View) {
    let (build_path, release, version) = (&v.build_path, &v.release_name, &v.version);
    let release_tar = if v.is_distillery() {
        format!("{build_path}/rel/{release}/releases/{version}/{release}.tar.gz")
    } else {
        format!("{build_path}/{release}-{version}.tar.gz")
    };
    ctx.insert("release_tar".into(), Value::String(release_tar));
    ctx.insert(
        "release_build_dir".into(),
        Value::String(format!("{build_path}/rel/{release}")),
    );
    ctx.insert("is_distillery".into(), Value::Bool(v.is_distillery()));
}

/// The units the sudoers file lets users start/stop, `:` escaped for sudoers.
fn sudoers_units(v: &View) -> Value {
    let extra = ["restart.path", "socket", "runtime-environment.service"];
    let units = std::iter::once(v.service_name.clone())
        .chain(extra.iter().filter_map(|template| v.unit(template)));
    units
        .map(|u| Value::String(u.replace(':', "\\:")))
        .collect()
}

/// `enabled.<template>`: whether the project generates that script (`-` as `_`).
fn enabled(templates: &[String]) -> Value {
    let mut enabled = Map::new();
    for (name, _) in templates::DEPLOY {
        enabled.insert(
            name.replace('-', "_"),
            Value::Bool(templates.iter().any(|t| t == name)),
        );
    }
    for t in templates {
        enabled.insert(t.replace('-', "_"), Value::Bool(true));
    }
    Value::Object(enabled)
}
