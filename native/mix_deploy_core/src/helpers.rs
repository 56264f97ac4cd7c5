//! Template helpers derived from resolved keys: structured forms of lists that
//! templates would otherwise have to parse (env vars, env files, dirs), and the
//! release paths. Documented in docs/templates.md.

use serde_json::{json, Map, Value};

use crate::context::{get_str, get_strings};
use crate::spec::{Side, DIRS};

pub fn add_helpers(ctx: &mut Map<String, Value>, side: Side) {
    let dirs = get_strings(ctx, "dirs");
    let dir_specs: Vec<Value> = DIRS
        .iter()
        .filter(|dir| dirs.iter().any(|d| d == dir.name))
        .map(|dir| {
            let name = dir.name;
            json!({
                "name": name,
                "var": dir.var,
                "directive": dir.directive,
                "path": get_str(ctx, &format!("{name}_dir")),
                "base": get_str(ctx, &format!("{name}_directory_base")),
                "directory": get_str(ctx, &format!("{name}_directory")),
                "mode": get_str(ctx, &format!("{name}_directory_mode")),
            })
        })
        .collect();
    let mut has_dir = Map::new();
    for dir in &DIRS {
        has_dir.insert(
            dir.name.to_string(),
            Value::Bool(dirs.iter().any(|d| d == dir.name)),
        );
    }

    let env_var_list: Vec<Value> = get_strings(ctx, "env_vars")
        .iter()
        .filter_map(|item| item.split_once('='))
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    let env_file_list: Vec<Value> = get_strings(ctx, "env_files")
        .iter()
        .map(|item| match item.strip_prefix('-') {
            Some(path) => json!({"path": path, "optional": true}),
            None => json!({"path": item, "optional": false}),
        })
        .collect();

    let build_path = get_str(ctx, "build_path").to_string();
    let release = get_str(ctx, "release_name").to_string();
    let version = get_str(ctx, "version").to_string();
    let distillery = get_str(ctx, "release_system") == "distillery";
    let release_tar = if distillery {
        format!("{build_path}/rel/{release}/releases/{version}/{release}.tar.gz")
    } else {
        format!("{build_path}/{release}-{version}.tar.gz")
    };

    ctx.insert("dir_specs".into(), Value::Array(dir_specs));
    ctx.insert("has_dir".into(), Value::Object(has_dir));
    ctx.insert("env_var_list".into(), Value::Array(env_var_list));
    ctx.insert("env_file_list".into(), Value::Array(env_file_list));
    ctx.insert("release_tar".into(), Value::String(release_tar));
    ctx.insert(
        "release_build_dir".into(),
        Value::String(format!("{build_path}/rel/{release}")),
    );
    ctx.insert("is_distillery".into(), Value::Bool(distillery));
    // One full path everywhere, so a sudoers grant matches what the scripts run.
    ctx.insert("systemctl".into(), Value::String("/bin/systemctl".into()));

    if side == Side::Deploy {
        // Where `mix systemd.generate` writes units by default (copy-files, stage-files).
        ctx.insert(
            "systemd_output_dir".into(),
            Value::String(format!("{build_path}/systemd/lib/systemd/system")),
        );
        // The units the sudoers file lets users start/stop, `:` escaped for sudoers.
        let service = get_str(ctx, "service_name").to_string();
        let mut units = vec![service.clone()];
        if get_str(ctx, "restart_method") == "systemd_flag" {
            units.push(format!("{service}-restart.path"));
        }
        if ctx
            .get("runtime_environment_service_script")
            .is_some_and(|v| !v.is_null())
        {
            units.push(format!("{service}-runtime-environment.service"));
        }
        let units: Vec<Value> = units
            .iter()
            .map(|u| Value::String(u.replace(':', "\\:")))
            .collect();
        ctx.insert("sudoers_units".into(), Value::Array(units));

        let templates = get_strings(ctx, "templates");
        let mut enabled = Map::new();
        for (name, _) in crate::templates::DEPLOY {
            enabled.insert(
                name.replace('-', "_"),
                Value::Bool(templates.iter().any(|t| t == name)),
            );
        }
        for t in &templates {
            enabled.insert(t.replace('-', "_"), Value::Bool(true));
        }
        ctx.insert("enabled".into(), Value::Object(enabled));
    }
}
