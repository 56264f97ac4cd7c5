//! Typed reads from a template context (the resolved config as a JSON map), shared
//! by the resolver, the derived helpers and the unit helpers. A missing key or a
//! value of another type reads as empty: resolution guarantees presence and type.

use serde_json::{Map, Value};

pub fn get_str<'a>(ctx: &'a Map<String, Value>, key: &str) -> &'a str {
    get_opt_str(ctx, key).unwrap_or("")
}

pub fn get_opt_str<'a>(ctx: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    ctx.get(key).and_then(Value::as_str)
}

pub fn get_bool(ctx: &Map<String, Value>, key: &str) -> bool {
    ctx.get(key).and_then(Value::as_bool).unwrap_or(false)
}

pub fn get_int(ctx: &Map<String, Value>, key: &str) -> i64 {
    ctx.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// The string items of a list value.
pub fn get_strings(ctx: &Map<String, Value>, key: &str) -> Vec<String> {
    ctx.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
