//! Helpers for the unit templates: values systemd needs in a shape templates can
//! print directly (one After= line, quoted Environment= assignments).

use serde_json::{Map, Value};

use crate::render::systemd_env_quote;

pub fn add_unit_helpers(ctx: &mut Map<String, Value>) {
    let strings = |k: &str| -> Vec<String> {
        ctx.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let service = ctx
        .get("service_name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut after = vec!["network.target".to_string()];
    if ctx
        .get("runtime_environment_service_script")
        .is_some_and(|v| !v.is_null())
    {
        after.push(format!("{service}-runtime-environment.service"));
    }
    for t in strings("unit_after_targets") {
        if !after.contains(&t) {
            after.push(t);
        }
    }
    let env: Vec<Value> = strings("env_vars")
        .iter()
        .map(|a| Value::String(systemd_env_quote(a)))
        .collect();
    ctx.insert("after_targets".into(), Value::String(after.join(" ")));
    ctx.insert("environment_quoted".into(), Value::Array(env));
}
