//! From raw config (what the user wrote, as terms) to resolved config (every key
//! computed, validated and typed), for either namespace. Values are computed lazily
//! and memoised, so a default such as `{deploy_dir}/releases` always sees the final
//! `deploy_dir`, whichever order keys are written in; a reference loop is reported
//! with its chain instead of recursing forever.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use crate::account::{self, Account};
use crate::error::{suggest, Error, Errors};
use crate::input::{Input, Project};
use crate::spec::{self, Default, Kind, Side, Spec};
use crate::term::Term;
use crate::view::View;

/// The resolved config of one namespace: the typed view of the keys Rust code
/// reads, the template context (keys named exactly like config keys, custom keys
/// included; the helpers are added by `generate::template_context`) and the
/// warnings found on the way.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub side: Side,
    pub view: View,
    pub context: Map<String, Value>,
    pub warnings: Vec<String>,
    /// Shared keys taken from the other namespace (only it sets them).
    pub borrowed: HashSet<String>,
}

impl Resolved {
    /// The namespace where the user wrote `key`, for error messages.
    pub fn namespace_of(&self, key: &str) -> &'static str {
        if self.borrowed.contains(key) {
            self.side.other().namespace()
        } else {
            self.side.namespace()
        }
    }

    /// Errors found in the resolved config, each naming the namespace where its
    /// key was written (a shared key may come from the other one).
    pub fn written_in(&self, errors: Errors) -> Errors {
        Errors(
            errors
                .0
                .into_iter()
                .map(|e| match e {
                    Error::InvalidValue {
                        key,
                        value,
                        expected,
                        hint,
                        ..
                    } => Error::InvalidValue {
                        ns: self.namespace_of(&key).to_string(),
                        key,
                        value,
                        expected,
                        hint,
                    },
                    other => other,
                })
                .collect(),
        )
    }
}

/// Resolves the config of `side` from the task's input: its own namespace plus
/// the shared keys only the other namespace sets (see `shared`), with a warning for
/// each shared key on which the two sides end up disagreeing.
pub fn resolve(input: &Input, side: Side) -> Result<Resolved, Errors> {
    let account = input.account.clone().unwrap_or_else(account::current);
    let mut resolved = resolve_side(input, side, &account, &input.config, &input.other_config)?;
    // The other side only to compare: its own mistakes are its task's to report.
    if let Ok(other) = resolve_side(
        input,
        side.other(),
        &account,
        &input.other_config,
        &input.config,
    ) {
        let (deploy, systemd) = match side {
            Side::Deploy => (
                (&input.config, &resolved.context),
                (&input.other_config, &other.context),
            ),
            Side::Systemd => (
                (&input.other_config, &other.context),
                (&input.config, &resolved.context),
            ),
        };
        let warnings = crate::shared::disagreements(deploy.0, systemd.0, deploy.1, systemd.1);
        resolved.warnings.extend(warnings);
    }
    Ok(resolved)
}

fn resolve_side(
    input: &Input,
    side: Side,
    account: &Account,
    own: &[(String, Term)],
    other: &[(String, Term)],
) -> Result<Resolved, Errors> {
    let (user, borrowed) = crate::shared::user_config(side, own, other, &account.user);
    let mut r = Resolver {
        side,
        user,
        borrowed: borrowed.clone(),
        project: &input.project,
        account: account.clone(),
        memo: HashMap::new(),
        stack: Vec::new(),
        errors: Errors::default(),
    };
    let mut context = Map::new();
    for spec in spec::SPECS.iter().filter(|s| s.applies_to(side)) {
        if let Some(value) = r.typed(spec) {
            context.insert(spec.key.to_string(), value);
        }
    }
    let warnings = r.custom_keys(own, &mut context);
    std::mem::take(&mut r.errors).into_result(())?;
    Ok(Resolved {
        side,
        view: View::read(&context, side),
        context,
        warnings,
        borrowed,
    })
}

struct Resolver<'a> {
    side: Side,
    user: HashMap<String, Term>,
    /// Keys of `user` that come from the other namespace.
    borrowed: HashSet<String>,
    project: &'a Project,
    account: Account,
    /// Memoised string values of string-like keys: Ok(None) is nil, Err a key
    /// whose error was already reported (so references to it add none).
    memo: HashMap<String, Result<Option<String>, ()>>,
    /// Keys being expanded, outermost first, for cycle reports.
    stack: Vec<String>,
    errors: Errors,
}

/// What the spec's derived defaults read.
impl spec::Lookup for Resolver<'_> {
    fn text(&mut self, key: &str) -> Option<String> {
        Resolver::text(self, key)
    }
    fn is_set(&self, key: &str) -> bool {
        self.user.contains_key(key)
    }
    fn project(&self) -> &Project {
        self.project
    }
    fn account(&self) -> &Account {
        &self.account
    }
}

impl Resolver<'_> {
    fn ns(&self) -> String {
        self.side.namespace().to_string()
    }

    /// The namespace where the user wrote `key` (the other one for a borrowed key).
    fn ns_of(&self, key: &str) -> String {
        if self.borrowed.contains(key) {
            self.side.other().namespace().to_string()
        } else {
            self.ns()
        }
    }

    fn spec(&self, key: &str) -> Option<&'static Spec> {
        spec::find(self.side, key)
    }

    fn invalid(&mut self, key: &str, value: &Term, expected: &str, hint: Option<String>) {
        let e = Error::InvalidValue {
            ns: self.ns_of(key),
            key: key.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
            hint,
        };
        self.errors.push(e);
    }

    /// What the user set for `key`, else its default as a term.
    fn raw(&mut self, spec: &Spec) -> Option<Term> {
        if let Some(t) = self.user.get(spec.key) {
            return Some(t.clone());
        }
        Some(match spec.default {
            Default::Nil => Term::Nil,
            Default::Str(s) => Term::Str(s.into()),
            Default::Atom(a) => Term::Atom(a.into()),
            Default::Int(i) => Term::Int(i),
            Default::Bool(b) => Term::Bool(b),
            Default::EmptyList => Term::List(Vec::new()),
            Default::Expand(pattern) => pattern_term(pattern),
            Default::Derived(f) => return f(self),
        })
    }

    /// The string value of a string-like key (None: nil or invalid).
    fn text(&mut self, key: &str) -> Option<String> {
        self.checked_text(key).ok().flatten()
    }

    /// The string value of a string-like key, expanded and validated once:
    /// Ok(None) when it is nil, Err when it is invalid (reported once).
    fn checked_text(&mut self, key: &str) -> Result<Option<String>, ()> {
        if let Some(v) = self.memo.get(key) {
            return v.clone();
        }
        if let Some(start) = self.stack.iter().position(|k| k == key) {
            let mut chain = self.stack[start..].to_vec();
            chain.push(key.to_string());
            self.errors.push(Error::ReferenceCycle {
                ns: self.ns(),
                chain,
            });
            return Err(());
        }
        let before = self.errors.0.len();
        self.stack.push(key.to_string());
        let value = match self.spec(key) {
            Some(spec) => self.raw(spec).and_then(|t| self.scalar_text(spec, &t)),
            None => match self.user.get(key).cloned() {
                Some(t) => self.expand(key, &t),
                None => None,
            },
        };
        self.stack.pop();
        let result = if self.errors.0.len() > before {
            Err(())
        } else {
            Ok(value)
        };
        self.memo.insert(key.to_string(), result.clone());
        result
    }

    /// A term as the value of a scalar key of the given spec.
    fn scalar_text(&mut self, spec: &Spec, term: &Term) -> Option<String> {
        let key = spec.key;
        let text = match (term, spec.kind) {
            (Term::Nil, Kind::OptText | Kind::OptPath | Kind::Script | Kind::Wrap) => return None,
            (Term::Nil, _) => {
                self.invalid(key, term, expected_for(spec.kind), None);
                return None;
            }
            // A bare atom names something (a user, a release) for these kinds.
            (Term::Atom(a), Kind::Name | Kind::Account | Kind::Enum(_)) => a.clone(),
            // bin_dir: [:output_dir, "bin"] joins as path components.
            (Term::List(items), Kind::LocalPath) => {
                let mut path = std::path::PathBuf::new();
                for item in items {
                    path.push(self.expand(key, item)?.trim_start_matches('/'));
                }
                path.display().to_string()
            }
            (Term::Atom(_) | Term::Str(_) | Term::List(_), _) => self.expand(key, term)?,
            (Term::Int(i), Kind::Text | Kind::OptText | Kind::Name) => i.to_string(),
            _ => {
                self.invalid(key, term, expected_for(spec.kind), None);
                return None;
            }
        };
        let text = match spec.kind {
            Kind::Script | Kind::Wrap => self.in_scripts_dir(spec, term, text)?,
            _ => text,
        };
        self.check_text(spec, term, &text).then_some(text)
    }

    /// mix_systemd's bare script names: `deploy-runtime-environment-file` (or the
    /// command word of a wrap line) is that file in `scripts_dir`. Prefixes of an
    /// Exec line stay in front; a path with a `/`, or a quoted command, is kept.
    fn in_scripts_dir(&mut self, spec: &Spec, term: &Term, text: String) -> Option<String> {
        let (prefixes, rest) = match spec.kind {
            Kind::Wrap => crate::quote::split_prefixes(text.trim_start()),
            _ => ("", text.as_str()),
        };
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, args) = rest.split_at(word_end);
        if word.is_empty() || word.contains('/') || word.starts_with(['"', '\'']) {
            return Some(text);
        }
        if (spec.kind == Kind::Script && !args.is_empty()) || check_name(word).is_some() {
            let shown = match term {
                Term::List(_) => Term::Str(text.clone()),
                _ => term.clone(),
            };
            self.invalid(
                spec.key,
                &shown,
                "an absolute path, or the file name of a script in scripts_dir",
                Some("e.g. \"deploy-runtime-environment-file\" or [:scripts_dir, \"/deploy-runtime-environment-file\"]".into()),
            );
            return None;
        }
        let dir = self.text("scripts_dir")?;
        Some(format!("{prefixes}{dir}/{word}{args}"))
    }

    /// Validates the expanded text of a scalar key; pushes an error when bad.
    fn check_text(&mut self, spec: &Spec, term: &Term, text: &str) -> bool {
        // A list is shown as what it expanded to; anything else as written.
        let shown = if matches!(term, Term::List(_)) {
            Term::Str(text.to_string())
        } else {
            term.clone()
        };
        let problem: Option<(&str, Option<String>)> = match spec.kind {
            Kind::Path | Kind::OptPath | Kind::Script => check_path(text),
            Kind::LocalPath => check_local_path(text),
            Kind::Name => check_name(text),
            Kind::Account => check_account(text),
            Kind::Mode => {
                (!is_mode(text)).then_some(("3 or 4 octal digits as a string, e.g. \"750\"", None))
            }
            Kind::Enum(options) => (!options.contains(&text)).then(|| {
                let hint =
                    suggest(text, options.iter().copied()).map(|s| format!("did you mean :{s}?"));
                ("one of ", hint)
            }),
            Kind::Text | Kind::OptText | Kind::Wrap => {
                (self.side == Side::Systemd && text.contains(['\n', '\r'])).then_some((
                    "a single line: a newline would start a new unit directive",
                    None,
                ))
            }
            _ => None,
        };
        match problem {
            None => true,
            Some((expected, hint)) => {
                let expected = match spec.kind {
                    Kind::Enum(options) => format!(
                        "one of {}",
                        options
                            .iter()
                            .map(|o| format!(":{o}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    _ => expected.to_string(),
                };
                self.invalid(spec.key, &shown, &expected, hint);
                false
            }
        }
    }

    /// Expands a term to text: strings are literal, atoms are references, lists
    /// concatenate, nil is empty.
    fn expand(&mut self, key: &str, term: &Term) -> Option<String> {
        match term {
            Term::Str(s) => Some(s.clone()),
            Term::Nil => Some(String::new()),
            Term::Int(i) => Some(i.to_string()),
            Term::Atom(name) => self.reference(key, name),
            Term::List(items) => {
                let mut out = String::new();
                let mut ok = true;
                let mut after_dir = false;
                for item in items {
                    // [:configuration_dir, "environment"] is /etc/foo/environment,
                    // as mix_systemd's README shows (plain concatenation would
                    // make it /etc/fooenvironment).
                    if let Term::Str(s) = item {
                        if after_dir
                            && s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                        {
                            out.push('/');
                        }
                    }
                    after_dir = false;
                    match self.expand(key, item) {
                        Some(s) => {
                            if let Term::Atom(name) = item {
                                after_dir =
                                    self.is_dir_key(name) && !s.is_empty() && !s.ends_with('/');
                            }
                            out.push_str(&s)
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(out)
            }
            other => {
                let other = other.clone();
                self.invalid(key, &other, "a string, or a list of strings and key references such as [:deploy_dir, \"/etc\"]", None);
                None
            }
        }
    }

    /// A directory key (`deploy_dir`, `configuration_dir`, ...), after which a
    /// relative name in a list is joined with a `/`.
    fn is_dir_key(&self, name: &str) -> bool {
        name.ends_with("_dir") && self.spec(name).is_some_and(|s| s.kind == Kind::Path)
    }

    /// The text of the key an atom refers to.
    fn reference(&mut self, from: &str, name: &str) -> Option<String> {
        let Some(spec) = self.spec(name) else {
            if self.user.contains_key(name) {
                return self.text(name);
            }
            let keys = spec::SPECS
                .iter()
                .filter(|s| s.applies_to(self.side))
                .map(|s| s.key)
                .chain(self.user.keys().map(String::as_str).collect::<Vec<_>>());
            let suggestion = suggest(name, keys);
            self.errors.push(Error::UnknownReference {
                ns: self.ns_of(from),
                key: from.to_string(),
                reference: name.to_string(),
                suggestion,
            });
            return None;
        };
        match spec.kind {
            Kind::Int(_) | Kind::OptInt(_) => self
                .int(spec)
                .map(|i| i.to_string())
                .or(Some(String::new())),
            Kind::Bool => self.boolean(spec).map(|b| b.to_string()),
            Kind::Limit => self.limit(spec).map(|v| match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            }),
            Kind::Text
            | Kind::OptText
            | Kind::Path
            | Kind::OptPath
            | Kind::Script
            | Kind::Wrap
            | Kind::LocalPath
            | Kind::Name
            | Kind::Account
            | Kind::Enum(_)
            | Kind::Mode => {
                // Nil (an unset optional) expands to nothing; an invalid key was
                // reported already and fails this one without a second message.
                self.checked_text(name).ok().map(Option::unwrap_or_default)
            }
            _ => {
                self.invalid(
                    from,
                    &Term::Atom(name.into()),
                    "a reference to a key with a single value",
                    Some(format!(":{name} is a list")),
                );
                None
            }
        }
    }

    fn int(&mut self, spec: &Spec) -> Option<i64> {
        let term = self.raw(spec)?;
        let min = match spec.kind {
            Kind::Int(m) | Kind::OptInt(m) => m,
            _ => 0,
        };
        match term {
            Term::Int(i) if i >= min => Some(i),
            Term::Nil if matches!(spec.kind, Kind::OptInt(_)) => None,
            other => {
                let expected = format!(
                    "an integer of at least {min}{}",
                    if matches!(spec.kind, Kind::OptInt(_)) {
                        ", or nil"
                    } else {
                        ""
                    }
                );
                let hint = match &other {
                    Term::Str(s) if s.parse::<i64>().is_ok() => {
                        Some(format!("write {s} without quotes"))
                    }
                    _ => None,
                };
                self.invalid(spec.key, &other, &expected, hint);
                None
            }
        }
    }

    /// A resource limit as its unit value: a number, "infinity", or null (unset).
    fn limit(&mut self, spec: &Spec) -> Option<Value> {
        match self.raw(spec)? {
            Term::Int(i) if i >= 0 => Some(Value::from(i)),
            Term::Nil => Some(Value::Null),
            Term::Atom(s) | Term::Str(s) if s == "infinity" => Some(Value::String(s)),
            other => {
                let hint = match &other {
                    Term::Str(s) if s.parse::<i64>().is_ok() => {
                        Some(format!("write {s} without quotes"))
                    }
                    _ => None,
                };
                self.invalid(
                    spec.key,
                    &other,
                    "an integer of at least 0, \"infinity\", or nil",
                    hint,
                );
                None
            }
        }
    }

    fn boolean(&mut self, spec: &Spec) -> Option<bool> {
        match self.raw(spec)? {
            Term::Bool(b) => Some(b),
            other => {
                self.invalid(spec.key, &other, "true or false", None);
                None
            }
        }
    }

    /// The items of a list-valued key; a bare string or atom is a mistake.
    fn list(&mut self, spec: &Spec) -> Option<Vec<Term>> {
        match self.raw(spec)? {
            Term::List(items) => Some(items),
            Term::Nil => Some(Vec::new()),
            other => {
                let hint = match &other {
                    Term::Str(_) | Term::Atom(_) => Some(format!("wrap it in a list: [{other}]")),
                    _ => None,
                };
                self.invalid(spec.key, &other, "a list", hint);
                None
            }
        }
    }

    /// Expands every item of a list-valued key to text.
    fn text_items(&mut self, spec: &Spec) -> Option<Vec<String>> {
        let items = self.list(spec)?;
        let mut out = Vec::new();
        let mut ok = true;
        for item in &items {
            match item {
                Term::Str(_) | Term::Atom(_) | Term::List(_) => match self.expand(spec.key, item) {
                    Some(s) => out.push(s),
                    None => ok = false,
                },
                other => {
                    self.invalid(
                        spec.key,
                        other,
                        "a list of strings or [references, \"text\"] lists",
                        None,
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// The typed JSON value of one key, validated for its kind.
    fn typed(&mut self, spec: &'static Spec) -> Option<Value> {
        match spec.kind {
            Kind::Text
            | Kind::Path
            | Kind::LocalPath
            | Kind::Name
            | Kind::Account
            | Kind::Mode
            | Kind::Enum(_) => self.text(spec.key).map(Value::String),
            Kind::OptText | Kind::OptPath | Kind::Script | Kind::Wrap => {
                let v = self.checked_text(spec.key).ok()?;
                Some(v.map(Value::String).unwrap_or(Value::Null))
            }
            Kind::Int(_) => self.int(spec).map(Value::from),
            Kind::OptInt(_) => {
                let before = self.errors.0.len();
                let v = self.int(spec);
                (self.errors.0.len() == before).then(|| v.map(Value::from).unwrap_or(Value::Null))
            }
            Kind::Bool => self.boolean(spec).map(Value::Bool),
            Kind::Limit => self.limit(spec),
            Kind::TextList => {
                let items = self.text_items(spec)?;
                if self.side == Side::Systemd {
                    self.no_newlines(spec.key, &items)?;
                }
                Some(json!(items))
            }
            Kind::PathList => self.path_list(spec),
            Kind::EnvVars => self.env_vars(spec),
            Kind::Templates => self.templates(spec),
            Kind::Dirs => self.dirs(spec),
            Kind::Keys => self.keys(spec),
            Kind::CopyFiles => self.copy_files(spec),
            Kind::HostPattern => self.host_pattern(spec),
            Kind::BatchSize => self.batch_size(spec),
            Kind::ListenStream => self.listen_stream(spec),
        }
    }

    /// An Ansible host pattern: it lands in a playbook's `hosts:`, so one word
    /// without white space, quotes or template braces.
    fn host_pattern(&mut self, spec: &Spec) -> Option<Value> {
        let term = self.raw(spec)?;
        let ok = match &term {
            Term::Str(s) | Term::Atom(s) => {
                !s.is_empty()
                    && !s.contains(|c: char| {
                        c.is_whitespace() || c.is_control() || "'\"{}#".contains(c)
                    })
            }
            _ => false,
        };
        match (&term, ok) {
            (Term::Str(s) | Term::Atom(s), true) => Some(Value::String(s.clone())),
            _ => {
                self.invalid(
                    spec.key,
                    &term,
                    "an inventory group or host pattern such as \"all\" or \"web:&prod\" (no spaces, quotes or braces)",
                    None,
                );
                None
            }
        }
    }

    /// An Ansible batch size: an integer of at least 1, or a percentage "N%" (1 to 100).
    fn batch_size(&mut self, spec: &Spec) -> Option<Value> {
        let term = self.raw(spec)?;
        match &term {
            Term::Int(i) if *i >= 1 => return Some(Value::from(*i)),
            Term::Str(s) => {
                if let Some(n) = s.strip_suffix('%') {
                    if !n.is_empty()
                        && n.bytes().all(|b| b.is_ascii_digit())
                        && n.parse::<u32>().is_ok_and(|n| (1..=100).contains(&n))
                    {
                        return Some(Value::String(s.clone()));
                    }
                }
            }
            _ => {}
        }
        let hint = match &term {
            Term::Str(s) if s.parse::<i64>().is_ok_and(|i| i >= 1) => {
                Some(format!("write {s} without quotes"))
            }
            _ => None,
        };
        self.invalid(
            spec.key,
            &term,
            "a batch size: an integer of at least 1, or a percentage such as \"30%\" (1% to 100%)",
            hint,
        );
        None
    }

    /// Absolute paths; on the systemd side each may carry a `-` or `+` prefix.
    fn path_list(&mut self, spec: &Spec) -> Option<Value> {
        let items = self.text_items(spec)?;
        let mut ok = true;
        for item in &items {
            // systemd's path lists take "-" (ignore if missing) and "+"
            // (relative to RootDirectory=) before the path.
            let path = match self.side {
                Side::Systemd => item.strip_prefix(['-', '+']).unwrap_or(item),
                Side::Deploy => item,
            };
            if let Some((expected, hint)) = check_path(path) {
                self.invalid(spec.key, &Term::Str(item.clone()), expected, hint);
                ok = false;
            }
        }
        ok.then(|| json!(items))
    }

    /// `NAME=value` items with a valid variable name.
    fn env_vars(&mut self, spec: &Spec) -> Option<Value> {
        let items = self.text_items(spec)?;
        if self.side == Side::Systemd {
            self.no_newlines(spec.key, &items)?;
        }
        let mut ok = true;
        for item in &items {
            let name = item.split_once('=').map(|(n, _)| n);
            if !name.is_some_and(is_env_name) {
                self.invalid(
                    spec.key,
                    &Term::Str(item.clone()),
                    "\"NAME=value\" where NAME is letters, digits and _ and does not start with a digit",
                    None,
                );
                ok = false;
            }
        }
        ok.then(|| json!(items))
    }

    /// Template names, each once.
    fn templates(&mut self, spec: &Spec) -> Option<Value> {
        let items = self.list(spec)?;
        let mut names = Vec::new();
        for item in items {
            let name = match &item {
                Term::Str(s) | Term::Atom(s) => s.clone(),
                other => {
                    self.invalid(
                        spec.key,
                        other,
                        "a list of template names such as \"start\"",
                        None,
                    );
                    continue;
                }
            };
            if !is_template_name(&name) {
                self.invalid(
                    spec.key,
                    &item,
                    "a template name: letters, digits, -, _ and ., no path",
                    None,
                );
                continue;
            }
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Some(json!(names))
    }

    /// Standard directory names, each once, in the order written.
    fn dirs(&mut self, spec: &Spec) -> Option<Value> {
        let items = self.list(spec)?;
        let mut names: Vec<String> = Vec::new();
        for item in items {
            let name = match &item {
                Term::Atom(s) | Term::Str(s) => s.clone(),
                _ => String::new(),
            };
            if spec::dir_names().any(|d| d == name) {
                if !names.contains(&name) {
                    names.push(name);
                }
            } else {
                let hint = suggest(&name, spec::dir_names()).map(|s| format!("did you mean :{s}?"));
                let names: Vec<String> = spec::dir_names().map(|d| format!(":{d}")).collect();
                self.invalid(
                    spec.key,
                    &item,
                    &format!("a list of {}", names.join(", ")),
                    hint,
                );
            }
        }
        Some(json!(names))
    }

    /// Key names (atoms or strings).
    fn keys(&mut self, spec: &Spec) -> Option<Value> {
        let items = self.list(spec)?;
        let mut keys = Vec::new();
        for item in items {
            match item {
                Term::Atom(s) | Term::Str(s) => keys.push(s),
                other => self.invalid(spec.key, &other, "a list of key names (atoms)", None),
            }
        }
        Some(json!(keys))
    }

    fn no_newlines(&mut self, key: &str, items: &[String]) -> Option<()> {
        let mut ok = true;
        for item in items.iter().filter(|i| i.contains(['\n', '\r'])) {
            self.invalid(
                key,
                &Term::Str(item.clone()),
                "a single line: a newline would start a new unit directive",
                None,
            );
            ok = false;
        }
        ok.then_some(())
    }

    /// listen_stream: one address or a list; each a string, a port number or an
    /// expandable list (`[:runtime_dir, "/http.sock"]`), checked as ListenStream= reads it.
    fn listen_stream(&mut self, spec: &Spec) -> Option<Value> {
        let items = match self.raw(spec)? {
            Term::Nil => Vec::new(),
            Term::List(items) => items,
            one => vec![one],
        };
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for item in &items {
            let text = match item {
                Term::Int(port) => port.to_string(),
                Term::Str(_) | Term::List(_) => match self.expand(spec.key, item) {
                    Some(s) => s,
                    None => {
                        ok = false;
                        continue;
                    }
                },
                other => {
                    let hint = matches!(other, Term::Atom(_)).then(|| {
                        "to build one address from references, nest it: [[:runtime_dir, \"/http.sock\"]]".to_string()
                    });
                    self.invalid(spec.key, other, crate::listen::EXPECTED, hint);
                    ok = false;
                    continue;
                }
            };
            if let Some(problem) = crate::listen::problem(&text) {
                self.invalid(
                    spec.key,
                    &Term::Str(text),
                    crate::listen::EXPECTED,
                    Some(problem),
                );
                ok = false;
            } else if !out.contains(&text) {
                out.push(text);
            }
        }
        ok.then(|| json!(out))
    }

    fn copy_files(&mut self, spec: &Spec) -> Option<Value> {
        let items = self.list(spec)?;
        let out: Vec<Value> = items
            .iter()
            .filter_map(|item| self.copy_file(spec, item))
            .collect();
        Some(Value::Array(out))
    }

    /// One copy_files entry with its defaults and shell words; None when invalid
    /// (reported).
    fn copy_file(&mut self, spec: &Spec, item: &Term) -> Option<Value> {
        let Some(pairs) = item.as_pairs() else {
            self.invalid(spec.key, item, "a list of maps such as %{src: \"config/environment\", dst: [:configuration_dir, \"/environment\"]}", None);
            return None;
        };
        let mut entry = Map::new();
        let mut ok = true;
        for (field, value) in &pairs {
            let allowed = ["src", "dst", "user", "group", "mode"];
            if !allowed.contains(&field.as_str()) {
                let hint = suggest(field, allowed).map(|s| format!("did you mean {s}?"));
                self.invalid(
                    spec.key,
                    item,
                    "entries with only src, dst, user, group, mode",
                    hint,
                );
                ok = false;
                continue;
            }
            let Some(text) = self.expand(spec.key, value) else {
                ok = false;
                continue;
            };
            entry.insert(field.clone(), Value::String(text));
        }
        for required in ["src", "dst"] {
            if !entry.contains_key(required) && ok {
                self.invalid(spec.key, item, &format!("an entry with {required}"), None);
                ok = false;
            }
        }
        let mode = entry
            .get("mode")
            .and_then(Value::as_str)
            .unwrap_or("640")
            .to_string();
        if !is_mode(&mode) {
            self.invalid(
                spec.key,
                item,
                "mode as 3 or 4 octal digits in a string, e.g. \"640\"",
                None,
            );
            ok = false;
        }
        let dst = entry
            .get("dst")
            .and_then(Value::as_str)
            .unwrap_or("/")
            .to_string();
        if let Some((expected, hint)) = check_path(&dst) {
            self.invalid(spec.key, item, &format!("dst to be {expected}"), hint);
            ok = false;
        }
        let user = entry
            .get("user")
            .and_then(Value::as_str)
            .unwrap_or("$DEPLOY_USER")
            .to_string();
        let group = entry
            .get("group")
            .and_then(Value::as_str)
            .unwrap_or("$APP_GROUP")
            .to_string();
        let (Some(user_word), Some(group_word)) = (owner_word(&user), owner_word(&group)) else {
            self.invalid(spec.key, item, "user and group as account names or one of $DEPLOY_USER, $DEPLOY_GROUP, $APP_USER, $APP_GROUP", None);
            return None;
        };
        ok.then(|| {
            json!({
                "src": entry["src"], "dst": dst, "mode": mode,
                "user": user, "group": group,
                "user_word": user_word, "group_word": group_word,
            })
        })
    }

    /// Keys the user set that no spec knows: a warning with a suggestion, then
    /// passed to templates as they are (expanded when listed in expand_keys*).
    fn custom_keys(
        &mut self,
        config: &[(String, Term)],
        context: &mut Map<String, Value>,
    ) -> Vec<String> {
        let expand: Vec<String> = ["expand_keys", "expand_keys_extra"]
            .iter()
            .flat_map(|k| {
                context
                    .get(*k)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let mut warnings = Vec::new();
        for (key, term) in config {
            if self.spec(key).is_some() {
                continue;
            }
            if !is_template_var(key) {
                warnings.push(format!(
                    "config :{}, {key}: not a usable key name, ignored",
                    self.side.namespace()
                ));
                continue;
            }
            let known = spec::SPECS
                .iter()
                .filter(|s| s.applies_to(self.side))
                .map(|s| s.key);
            let hint = match suggest(key, known) {
                Some(s) => format!("did you mean {s}?"),
                None => "passed to templates as is".to_string(),
            };
            warnings.push(format!(
                "config :{}, {key}: unknown key ({hint})",
                self.side.namespace()
            ));
            let value = if expand.contains(key) {
                match term {
                    Term::List(items)
                        if items
                            .iter()
                            .all(|i| matches!(i, Term::List(_) | Term::Str(_) | Term::Atom(_)))
                            && !items.is_empty()
                            && items.iter().any(|i| matches!(i, Term::List(_))) =>
                    {
                        let items = items.clone();
                        Value::Array(
                            items
                                .iter()
                                .filter_map(|i| self.expand(key, i))
                                .map(Value::String)
                                .collect(),
                        )
                    }
                    _ => self.text(key).map(Value::String).unwrap_or(Value::Null),
                }
            } else {
                plain_json(term)
            };
            context.insert(key.clone(), value);
        }
        warnings
    }
}

/// `{deploy_dir}/releases` as the list term `[:deploy_dir, "/releases"]`.
fn pattern_term(pattern: &str) -> Term {
    let mut parts = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Term::Str(rest[..open].to_string()));
        }
        let close = rest[open..].find('}').expect("pattern braces balance") + open;
        parts.push(Term::Atom(rest[open + 1..close].to_string()));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Term::Str(rest.to_string()));
    }
    Term::List(parts)
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
                .collect(),
        ),
    }
}

fn expected_for(kind: Kind) -> &'static str {
    match kind {
        Kind::Path | Kind::OptPath | Kind::Script => {
            "an absolute path, or a list such as [:base_dir, \"/foo\"]"
        }
        Kind::Name => "a name without /, spaces or ..",
        Kind::Account => "a user or group name",
        Kind::Mode => "3 or 4 octal digits as a string, e.g. \"750\"",
        _ => "a string",
    }
}

type Problem = Option<(&'static str, Option<String>)>;

fn check_path(text: &str) -> Problem {
    if !text.starts_with('/') {
        return Some((
            "an absolute path starting with /",
            Some("build it from a reference, e.g. [:base_dir, \"/foo\"]".into()),
        ));
    }
    if text.chars().any(char::is_control) {
        return Some(("a path without control characters (newlines, tabs)", None));
    }
    if text.split('/').any(|part| part == "..") {
        return Some(("a path without .. components", None));
    }
    None
}

fn check_local_path(text: &str) -> Problem {
    if text.is_empty() || text.chars().any(char::is_control) {
        return Some(("a non-empty path without control characters", None));
    }
    None
}

fn check_name(text: &str) -> Problem {
    let ok = !text.is_empty()
        && text != "."
        && text != ".."
        && !text.starts_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-@:".contains(c));
    (!ok).then_some((
        "a name of letters, digits, _, ., -, @ or : (no /, spaces or ..)",
        None,
    ))
}

fn check_account(text: &str) -> Problem {
    let mut chars = text.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let body = text.strip_suffix('$').unwrap_or(text);
    let ok = first_ok
        && text.len() <= 32
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    (!ok).then_some((
        "a POSIX account name: a letter or _ then letters, digits, _, . or -, at most 32",
        None,
    ))
}

fn is_mode(text: &str) -> bool {
    (3..=4).contains(&text.len()) && text.chars().all(|c| ('0'..='7').contains(&c))
}

pub fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn is_template_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn is_template_var(name: &str) -> bool {
    is_env_name(name)
}

/// The shell word for a copy_files owner: a script variable or a quoted literal.
fn owner_word(value: &str) -> Option<String> {
    match value {
        "$DEPLOY_USER" | "$DEPLOY_GROUP" | "$APP_USER" | "$APP_GROUP" => {
            Some(format!("\"${{{}}}\"", &value[1..]))
        }
        name if check_account(name).is_none() => Some(format!("'{name}'")),
        _ => None,
    }
}
