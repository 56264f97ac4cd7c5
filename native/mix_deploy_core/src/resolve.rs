//! From raw config (what the user wrote, as terms) to the typed config of either
//! namespace. Three separate concerns meet here: `eval` expands references,
//! `kinds` converts and checks by kind, `domain` validates what a key means; this
//! module picks, for each key, the conversion its kind calls for (`spec::Source`),
//! fills the typed structs, and collects the user's own keys for templates. It is
//! one of the two places where keys are names (serialising for templates is the
//! other, `context`).

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use crate::account::{self, Account};
use crate::config::{Config, Origin, Sided};
use crate::domain;
use crate::error::{suggest, Errors};
use crate::eval::Evaluator;
use crate::input::Input;
use crate::kinds::{self, Problem};
use crate::shared;
use crate::spec::{self, Common, DeployKeys, Kind, Side, Source, Spec, SystemdKeys};
use crate::term::Term;
use crate::values::{BatchSize, CopyFile, Limit};

/// The resolved config (the name the generate step and tests use).
pub type Resolved = Config;

/// Resolves the config of `side` from the task's input: its own namespace plus
/// the shared keys only the other namespace sets (see `shared`), with a warning for
/// each shared key on which the two sides end up disagreeing.
pub fn resolve(input: &Input, side: Side) -> Result<Config, Errors> {
    let account = input.account.clone().unwrap_or_else(account::current);
    let mut config = resolve_side(input, side, &account)?;
    let (own, other) = (&input.config, &input.other_config);
    let (deploy, systemd) = match side {
        Side::Deploy => (own, other),
        Side::Systemd => (other, own),
    };
    let keys = shared::compared_keys(deploy, systemd);
    if keys.is_empty() {
        return Ok(config);
    }
    // The other side's values of those keys, only to compare: its own mistakes
    // are its task's to report.
    let ours = match serde_json::to_value(&config.common) {
        Ok(Value::Object(map)) => map,
        _ => return Ok(config),
    };
    let mut ev = evaluator(input, side.other(), &account, other, own);
    let theirs: Map<String, Value> = keys
        .iter()
        .filter_map(|key| {
            Some((
                key.to_string(),
                Common::read_value(&mut Reader(&mut ev), key)?,
            ))
        })
        .collect();
    if ev.errors.is_empty() {
        let warnings = match side {
            Side::Deploy => shared::disagreements(&keys, deploy, systemd, &ours, &theirs),
            Side::Systemd => shared::disagreements(&keys, deploy, systemd, &theirs, &ours),
        };
        config.warnings.extend(warnings);
    }
    Ok(config)
}

/// The evaluator of `side`'s config: `own` namespace plus what it takes from `other`.
fn evaluator<'a>(
    input: &'a Input,
    side: Side,
    account: &Account,
    own: &[(String, Term)],
    other: &[(String, Term)],
) -> Evaluator<'a> {
    let (user, borrowed) = shared::user_config(side, own, other, &account.user);
    let origin = Origin { side, borrowed };
    Evaluator::new(origin, user, &input.project, account.clone())
}

fn resolve_side(input: &Input, side: Side, account: &Account) -> Result<Config, Errors> {
    let mut ev = evaluator(input, side, account, &input.config, &input.other_config);
    let mut reader = Reader(&mut ev);
    let common = Common::read(&mut reader);
    let sided = match side {
        Side::Deploy => DeployKeys::read(&mut reader).map(|d| Sided::Deploy(Box::new(d))),
        Side::Systemd => SystemdKeys::read(&mut reader).map(|s| Sided::Systemd(Box::new(s))),
    };
    let (custom, warnings) = match &common {
        Some(common) => custom_keys(&mut ev, &input.config, common),
        None => (Vec::new(), Vec::new()),
    };
    let errors = std::mem::take(&mut ev.errors);
    match (common, sided) {
        (Some(common), Some(sided)) if errors.is_empty() => Ok(Config {
            origin: ev.origin,
            common,
            sided,
            custom,
            warnings,
        }),
        _ => Err(errors),
    }
}

/// Converts each key as its kind says, reporting what is invalid.
struct Reader<'e, 'a>(&'e mut Evaluator<'a>);

impl Reader<'_, '_> {
    fn spec(&self, key: &str) -> Option<&'static Spec> {
        self.0.spec(key)
    }

    /// Expands every item of a list-valued key to text.
    fn text_items(&mut self, spec: &Spec) -> Option<Vec<String>> {
        let items = self.0.list(spec)?;
        let mut out = Vec::new();
        let mut ok = true;
        for item in &items {
            match item {
                Term::Str(_) | Term::Atom(_) | Term::List(_) => match self.0.expand(spec.key, item)
                {
                    Some(s) => out.push(s),
                    None => ok = false,
                },
                other => {
                    let problem = Problem::new("a list of strings or [references, \"text\"] lists");
                    self.0.report(spec.key, other, problem);
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// Checks each item with `check`, reporting each bad one (shown as expanded).
    fn each_item(
        &mut self,
        key: &str,
        items: &[String],
        check: impl Fn(&str) -> Result<(), Problem>,
    ) -> Option<()> {
        let mut ok = true;
        for item in items {
            if let Err(problem) = check(item) {
                self.0.report(key, &Term::Str(item.clone()), problem);
                ok = false;
            }
        }
        ok.then_some(())
    }

    /// Names (strings or atoms), each once, in the order written, checked by `check`.
    fn names(
        &mut self,
        spec: &Spec,
        check: impl Fn(&str) -> Result<(), Problem>,
        not_a_name: &str,
    ) -> Option<Vec<String>> {
        let items = self.0.list(spec)?;
        let mut names: Vec<String> = Vec::new();
        for item in items {
            let name = match &item {
                Term::Str(s) | Term::Atom(s) => s.clone(),
                other => {
                    self.0.report(spec.key, other, Problem::new(not_a_name));
                    continue;
                }
            };
            match check(&name) {
                Ok(()) if !names.contains(&name) => names.push(name),
                Ok(()) => {}
                Err(problem) => self.0.report(spec.key, &item, problem),
            }
        }
        Some(names)
    }

    /// listen_stream: one address or a list; each a string, a port number or an
    /// expandable list (`[:runtime_dir, "/http.sock"]`), checked as ListenStream= reads it.
    fn listen_stream(&mut self, spec: &Spec) -> Option<Vec<String>> {
        let items = match self.0.raw(spec)? {
            Term::Nil => Vec::new(),
            Term::List(items) => items,
            one => vec![one],
        };
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for item in &items {
            let text = match item {
                Term::Int(port) => port.to_string(),
                Term::Str(_) | Term::List(_) => match self.0.expand(spec.key, item) {
                    Some(s) => s,
                    None => {
                        ok = false;
                        continue;
                    }
                },
                other => {
                    self.0
                        .report(spec.key, other, domain::listen_item_shape(other));
                    ok = false;
                    continue;
                }
            };
            if let Err(problem) = domain::listen_address(&text) {
                self.0.report(spec.key, &Term::Str(text), problem);
                ok = false;
            } else if !out.contains(&text) {
                out.push(text);
            }
        }
        ok.then_some(out)
    }

    /// One copy_files entry with its defaults; None when invalid (reported).
    fn copy_file(&mut self, spec: &Spec, item: &Term) -> Option<CopyFile> {
        let Some(pairs) = item.as_pairs() else {
            let problem = Problem::new("a list of maps such as %{src: \"config/environment\", dst: [:configuration_dir, \"/environment\"]}");
            self.0.report(spec.key, item, problem);
            return None;
        };
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut ok = true;
        for (field, value) in &pairs {
            if let Err(problem) = domain::copy_file_field(field) {
                self.0.report(spec.key, item, problem);
                ok = false;
                continue;
            }
            match self.0.expand(spec.key, value) {
                Some(text) => fields.push((field.clone(), text)),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        match domain::copy_file(&fields) {
            Ok(entry) => Some(entry),
            Err(problems) => {
                for problem in problems {
                    self.0.report(spec.key, item, problem);
                }
                None
            }
        }
    }
}

impl Source for Reader<'_, '_> {
    fn string(&mut self, key: &'static str) -> Option<String> {
        let spec = self.spec(key)?;
        match spec.kind {
            Kind::HostPattern => self.0.converted(spec, domain::host_pattern),
            _ => self.0.text(key),
        }
    }

    fn opt_string(&mut self, key: &'static str) -> Option<Option<String>> {
        self.0.checked_text(key).ok()
    }

    fn int(&mut self, key: &'static str) -> Option<i64> {
        let spec = self.spec(key)?;
        self.0
            .converted(spec, |t| kinds::int(t, spec.kind))
            .flatten()
    }

    fn opt_int(&mut self, key: &'static str) -> Option<Option<i64>> {
        let spec = self.spec(key)?;
        self.0.converted(spec, |t| kinds::int(t, spec.kind))
    }

    fn boolean(&mut self, key: &'static str) -> Option<bool> {
        let spec = self.spec(key)?;
        self.0.converted(spec, kinds::boolean)
    }

    fn limit(&mut self, key: &'static str) -> Option<Limit> {
        let spec = self.spec(key)?;
        self.0.converted(spec, kinds::limit)
    }

    fn strings(&mut self, key: &'static str) -> Option<Vec<String>> {
        let spec = self.spec(key)?;
        let systemd = self.0.origin.side == Side::Systemd;
        match spec.kind {
            Kind::TextList => {
                let items = self.text_items(spec)?;
                if systemd {
                    self.each_item(key, &items, kinds::single_line)?;
                }
                Some(items)
            }
            Kind::EnvVars => {
                let items = self.text_items(spec)?;
                if systemd {
                    self.each_item(key, &items, kinds::single_line)?;
                }
                self.each_item(key, &items, domain::env_assignment)?;
                Some(items)
            }
            Kind::PathList => {
                let items = self.text_items(spec)?;
                // systemd's path lists take "-" (ignore if missing) and "+"
                // (relative to RootDirectory=) before the path.
                self.each_item(key, &items, |item| {
                    let path = if systemd {
                        item.strip_prefix(['-', '+']).unwrap_or(item)
                    } else {
                        item
                    };
                    kinds::check_path(path)
                })?;
                Some(items)
            }
            Kind::Templates => self.names(
                spec,
                domain::template_name,
                "a list of template names such as \"start\"",
            ),
            Kind::Dirs => {
                let expected = domain::dir_name("").err()?.expected;
                self.names(spec, domain::dir_name, &expected)
            }
            Kind::Keys => self.names(spec, |_| Ok(()), "a list of key names (atoms)"),
            Kind::ListenStream => self.listen_stream(spec),
            _ => None,
        }
    }

    fn copy_files(&mut self, key: &'static str) -> Option<Vec<CopyFile>> {
        let spec = self.spec(key)?;
        let items = self.0.list(spec)?;
        Some(
            items
                .iter()
                .filter_map(|item| self.copy_file(spec, item))
                .collect(),
        )
    }

    fn batch_size(&mut self, key: &'static str) -> Option<BatchSize> {
        let spec = self.spec(key)?;
        self.0.converted(spec, domain::batch_size)
    }
}

/// Keys the user set that no spec knows: a warning with a suggestion, then
/// passed to templates as they are (expanded when listed in expand_keys*).
fn custom_keys(
    ev: &mut Evaluator,
    config: &[(String, Term)],
    common: &Common,
) -> (Vec<(String, Value)>, Vec<String>) {
    let expand: HashSet<&String> = common
        .expand_keys
        .iter()
        .chain(&common.expand_keys_extra)
        .collect();
    let side = ev.origin.side;
    let ns = side.namespace();
    let mut custom = Vec::new();
    let mut warnings = Vec::new();
    for (key, term) in config {
        if ev.spec(key).is_some() {
            continue;
        }
        if !domain::is_env_name(key) {
            warnings.push(format!(
                "config :{ns}, {key}: not a usable key name, ignored"
            ));
            continue;
        }
        let known = spec::SPECS
            .iter()
            .filter(|s| s.applies_to(side))
            .map(|s| s.key);
        let hint = match suggest(key, known) {
            Some(s) => format!("did you mean {s}?"),
            None => "passed to templates as is".to_string(),
        };
        warnings.push(format!("config :{ns}, {key}: unknown key ({hint})"));
        let value = if expand.contains(key) {
            match term {
                Term::List(items)
                    if items
                        .iter()
                        .all(|i| matches!(i, Term::List(_) | Term::Str(_) | Term::Atom(_)))
                        && !items.is_empty()
                        && items.iter().any(|i| matches!(i, Term::List(_))) =>
                {
                    Value::Array(
                        items
                            .iter()
                            .filter_map(|i| ev.expand(key, i))
                            .map(Value::String)
                            .collect(),
                    )
                }
                _ => ev.text(key).map(Value::String).unwrap_or(Value::Null),
            }
        } else {
            plain_json(term)
        };
        custom.push((key.clone(), value));
    }
    (custom, warnings)
}

/// A term as plain JSON for a custom template variable (atoms become strings).
fn plain_json(term: &Term) -> Value {
    match term {
        Term::Nil => Value::Null,
        Term::Bool(b) => Value::Bool(*b),
        Term::Int(i) => Value::from(*i),
        Term::Float(f) => json!(f),
        Term::Str(s) | Term::Atom(s) => Value::String(s.clone()),
        Term::List(items) | Term::Tuple(items) => match term.as_pairs() {
            Some(pairs) if !items.is_empty() && matches!(term, Term::List(_)) => {
                Value::Object(pairs.into_iter().map(|(k, v)| (k, plain_json(v))).collect())
            }
            _ => Value::Array(items.iter().map(plain_json).collect()),
        },
        Term::Map(_) => Value::Object(
            term.as_pairs()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, plain_json(v)))
                .collect::<Map<String, Value>>(),
        ),
    }
}
