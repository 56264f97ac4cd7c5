//! One config for both namespaces. A key that both `:mix_deploy` and `:mix_systemd`
//! read (names, accounts, directories and their modes, `dirs`, `env_files`,
//! `env_vars`, `restart_method`, `systemd_version`, ...) and that the user set in
//! only one of them is taken from there by the other, so the scripts and the unit
//! agree. When both set one, each side keeps its own; if the two resolve to
//! different values the unit and the scripts would disagree, which is reported as a
//! warning naming both values (both configs worked with the original libraries).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::spec::{self, Side};
use crate::term::Term;

/// Keys in both namespaces whose meaning differs by side, so they are never shared:
/// where each task writes and reads its templates, and the user's own expand lists
/// (they name keys of that namespace).
const NOT_SHARED: &[&str] = &[
    "output_dir",
    "template_dir",
    "expand_keys",
    "expand_keys_extra",
];

/// Shared keys whose defaults differ by side, with the key the scripts' default
/// comes from (mix_deploy: the deploy account; mix_systemd: `ext_name`). When the
/// scripts are generated and neither namespace sets one, the unit takes the
/// scripts' default: the scripts create the accounts and give the files to them,
/// so a unit running as `ext_name` would run as an account nobody created.
const SIDE_DEFAULTS: &[(&str, &str)] =
    &[("app_user", "deploy_user"), ("app_group", "deploy_group")];

/// Whether both namespaces read `key` with the same meaning.
pub fn is_shared(key: &str) -> bool {
    !NOT_SHARED.contains(&key)
        && spec::find(Side::Deploy, key).is_some()
        && spec::find(Side::Systemd, key).is_some()
}

/// Every shared key, in spec order (for documentation and tests).
pub fn shared_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = Vec::new();
    for s in spec::SPECS {
        if is_shared(s.key) && !keys.contains(&s.key) {
            keys.push(s.key);
        }
    }
    keys
}

/// The config `side` resolves: what its namespace holds (`own`), plus each shared
/// key that only the other namespace sets, plus, for the unit of a project that
/// generates scripts, the scripts' default of each account neither sets, unless
/// that is root (`runner`: the account running the task, deploy_user's default):
/// a default never makes the app run as root. Returns it with the names of the
/// borrowed keys.
pub fn user_config(
    side: Side,
    own: &[(String, Term)],
    other: &[(String, Term)],
    runner: &str,
) -> (HashMap<String, Term>, HashSet<String>) {
    let mut user: HashMap<String, Term> = own.iter().cloned().collect();
    let mut borrowed = HashSet::new();
    for (key, term) in other {
        if is_shared(key) && !user.contains_key(key) {
            user.insert(key.clone(), term.clone());
            borrowed.insert(key.clone());
        }
    }
    if side == Side::Systemd && generates_scripts(other) && deploy_user(&user, runner) != "root" {
        for (key, from) in SIDE_DEFAULTS {
            user.entry(key.to_string())
                .or_insert_with(|| Term::List(vec![Term::Atom(from.to_string())]));
        }
    }
    (user, borrowed)
}

/// The deploy user's name as written, `runner` when unset, "root" (not followed)
/// when it is a reference that only resolution can tell.
fn deploy_user<'a>(user: &'a HashMap<String, Term>, runner: &'a str) -> &'a str {
    match user.get("deploy_user") {
        None | Some(Term::Nil) => runner,
        Some(Term::Str(name)) | Some(Term::Atom(name)) => name,
        Some(_) => "root",
    }
}

/// Whether the `:mix_deploy` config lists templates to generate.
fn generates_scripts(deploy: &[(String, Term)]) -> bool {
    deploy
        .iter()
        .any(|(k, v)| k == "templates" && matches!(v, Term::List(items) if !items.is_empty()))
}

/// The shared keys whose two resolved values are compared: none when the deploy
/// side generates no scripts (then nothing can disagree with the unit: mix_systemd
/// used on its own); else the keys the user set in both namespaces, and the
/// accounts, whose defaults differ by side.
pub fn compared_keys(
    deploy_config: &[(String, Term)],
    systemd_config: &[(String, Term)],
) -> Vec<&'static str> {
    if !generates_scripts(deploy_config) {
        return Vec::new();
    }
    let set_in = |config: &[(String, Term)], key: &str| config.iter().any(|(k, _)| k == key);
    shared_keys()
        .into_iter()
        .filter(|key| {
            (set_in(deploy_config, key) && set_in(systemd_config, key))
                || SIDE_DEFAULTS.iter().any(|(k, _)| k == key)
        })
        .collect()
}

/// Warnings for the `keys` (see `compared_keys`) on which the two resolved sides
/// disagree (`deploy` and `systemd`: their values as each side serialises them).
pub fn disagreements(
    keys: &[&str],
    deploy_config: &[(String, Term)],
    systemd_config: &[(String, Term)],
    deploy: &serde_json::Map<String, Value>,
    systemd: &serde_json::Map<String, Value>,
) -> Vec<String> {
    let set_in = |config: &[(String, Term)], key: &str| config.iter().any(|(k, _)| k == key);
    let mut warnings = Vec::new();
    for &key in keys {
        let in_deploy = set_in(deploy_config, key);
        let in_systemd = set_in(systemd_config, key);
        let (Some(d), Some(s)) = (deploy.get(key), systemd.get(key)) else {
            continue;
        };
        if same(key, d, s) {
            continue;
        }
        let from = |side: Side| {
            if in_deploy || in_systemd {
                format!("config :{}", side.namespace())
            } else {
                format!(
                    "the default of :{}: {}",
                    side.namespace(),
                    default_word(key, side)
                )
            }
        };
        warnings.push(format!(
            "{key}: the scripts use {} ({}) but the unit uses {} ({}); set {key} in one \
             namespace only, the other takes it from there",
            shown(d),
            from(Side::Deploy),
            shown(s),
            from(Side::Systemd),
        ));
    }
    warnings
}

/// Equal for the unit and the scripts: `dirs` is a set, everything else compares as is.
fn same(key: &str, a: &Value, b: &Value) -> bool {
    if key == "dirs" {
        let set = |v: &Value| {
            let mut items: Vec<String> = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|i| i.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            items.sort();
            items
        };
        return set(a) == set(b);
    }
    a == b
}

fn shown(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        other => other.to_string(),
    }
}

fn default_word(key: &str, side: Side) -> &'static str {
    match (key, side) {
        ("app_user", Side::Deploy) => "deploy_user",
        ("app_group", Side::Deploy) => "deploy_group",
        ("app_user", Side::Systemd) => "ext_name",
        ("app_group", Side::Systemd) => "app_user",
        _ => "its default",
    }
}
