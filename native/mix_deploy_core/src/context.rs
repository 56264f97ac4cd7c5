//! The template context: the typed config and the plan serialised for Handlebars,
//! every key under its own name (so a user's template override reads like the
//! documentation, and `restart_method` is still "systemctl"), the user's own keys,
//! then the plan's variables. The one place, with resolution, where config keys
//! are names; nothing reads the context back.

use handlebars::Context;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{Config, Sided};
use crate::plan::Plan;

/// The context templates of the config's side see (documented in
/// docs/templates.md and docs/systemd.md).
pub fn of(cfg: &Config, plan: &Plan) -> Map<String, Value> {
    let mut ctx = Map::new();
    merge(&mut ctx, &cfg.common);
    match &cfg.sided {
        Sided::Deploy(d) => merge(&mut ctx, d),
        Sided::Systemd(s) => merge(&mut ctx, s),
    }
    for (key, value) in &cfg.custom {
        ctx.insert(key.clone(), value.clone());
    }
    merge(&mut ctx, plan);
    if let Some(d) = &plan.deploy {
        merge(&mut ctx, d);
    }
    if let Some(u) = &plan.unit_values {
        merge(&mut ctx, u);
    }
    ctx
}

/// Adds the fields of a struct to the context.
fn merge<T: Serialize>(ctx: &mut Map<String, Value>, value: &T) {
    // Every part is a struct of plain data: it serialises to an object.
    if let Ok(Value::Object(fields)) = serde_json::to_value(value) {
        ctx.extend(fields);
    }
}

/// Sets the variables of the template being rendered: its name and the header
/// every generated file starts with.
pub fn set_template(ctx: &mut Context, template: &str, header: String) {
    if let Value::Object(map) = ctx.data_mut() {
        map.insert("template_name".into(), Value::String(template.into()));
        map.insert("header".into(), Value::String(header));
    }
}
