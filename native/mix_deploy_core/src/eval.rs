//! Evaluation of references: a key's value is what the user wrote, else its
//! default; atoms in it name other keys, expanded to their final text. Values are
//! computed lazily and memoised, so a default such as `{deploy_dir}/releases`
//! always sees the final `deploy_dir`, whichever order keys are written in; a
//! reference loop is reported with its chain instead of recursing forever. What a
//! valid value of a kind is, is `kinds`'s business; what a key means, `domain`'s.

use std::collections::HashMap;

use crate::account::Account;
use crate::config::Origin;
use crate::error::{suggest, Error, Errors};
use crate::input::Project;
use crate::kinds::{self, Problem};
use crate::spec::{self, Default, Kind, Spec};
use crate::term::Term;
use crate::values::Limit;

/// A key whose error was reported already (in `Evaluator::errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported;

/// The user's config of one namespace (plus what it takes from the other), being
/// evaluated. Errors go to `errors`, each reported once.
pub struct Evaluator<'a> {
    pub origin: Origin,
    user: HashMap<String, Term>,
    project: &'a Project,
    account: Account,
    /// Memoised text of string-like keys: Ok(None) is nil, Err a key whose error
    /// was already reported (so references to it add none).
    memo: HashMap<String, Result<Option<String>, Reported>>,
    /// Keys being expanded, outermost first, for cycle reports.
    stack: Vec<String>,
    pub errors: Errors,
}

/// What the spec's derived defaults read.
impl spec::Lookup for Evaluator<'_> {
    fn text(&mut self, key: &str) -> Option<String> {
        Evaluator::text(self, key)
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

impl<'a> Evaluator<'a> {
    pub fn new(
        origin: Origin,
        user: HashMap<String, Term>,
        project: &'a Project,
        account: Account,
    ) -> Evaluator<'a> {
        Evaluator {
            origin,
            user,
            project,
            account,
            memo: HashMap::new(),
            stack: Vec::new(),
            errors: Errors::default(),
        }
    }

    pub fn spec(&self, key: &str) -> Option<&'static Spec> {
        spec::find(self.origin.side, key)
    }

    /// Reports `key` as invalid: `shown` is the value as the user wrote it.
    pub fn report(&mut self, key: &str, shown: &Term, problem: Problem) {
        let e = self
            .origin
            .invalid(key, shown.to_string(), &problem.expected, problem.hint);
        self.errors.push(e);
    }

    /// What the user set for `key`, else its default as a term.
    pub fn raw(&mut self, spec: &Spec) -> Option<Term> {
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
    pub fn text(&mut self, key: &str) -> Option<String> {
        self.checked_text(key).ok().flatten()
    }

    /// The string value of a string-like key, expanded and validated once:
    /// Ok(None) when it is nil, Err when it is invalid (reported once).
    pub fn checked_text(&mut self, key: &str) -> Result<Option<String>, Reported> {
        if let Some(v) = self.memo.get(key) {
            return v.clone();
        }
        if let Some(start) = self.stack.iter().position(|k| k == key) {
            let mut chain = self.stack[start..].to_vec();
            chain.push(key.to_string());
            self.errors.push(Error::ReferenceCycle {
                ns: self.origin.ns(&chain[0]).to_string(),
                chain,
            });
            return Err(Reported);
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
            Err(Reported)
        } else {
            Ok(value)
        };
        self.memo.insert(key.to_string(), result.clone());
        result
    }

    /// A term as the value of a scalar key of the given spec, checked for its kind.
    fn scalar_text(&mut self, spec: &Spec, term: &Term) -> Option<String> {
        let key = spec.key;
        let text = match (term, spec.kind) {
            (Term::Nil, Kind::OptText | Kind::OptPath | Kind::Script | Kind::Wrap) => return None,
            (Term::Nil, _) => {
                self.report(key, term, Problem::new(kinds::expected_for(spec.kind)));
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
                self.report(key, term, Problem::new(kinds::expected_for(spec.kind)));
                return None;
            }
        };
        let text = match spec.kind {
            Kind::Script | Kind::Wrap => self.in_scripts_dir(spec, term, text)?,
            _ => text,
        };
        match kinds::check_scalar(spec.kind, &text) {
            Ok(()) => Some(text),
            Err(problem) => {
                // A list is shown as what it expanded to; anything else as written.
                let shown = match term {
                    Term::List(_) => Term::Str(text),
                    other => other.clone(),
                };
                self.report(key, &shown, problem);
                None
            }
        }
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
        if (spec.kind == Kind::Script && !args.is_empty()) || kinds::check_name(word).is_err() {
            let shown = match term {
                Term::List(_) => Term::Str(text.clone()),
                _ => term.clone(),
            };
            let problem = Problem::new("an absolute path, or the file name of a script in scripts_dir")
                .hint("e.g. \"deploy-runtime-environment-file\" or [:scripts_dir, \"/deploy-runtime-environment-file\"]");
            self.report(spec.key, &shown, problem);
            return None;
        }
        let dir = self.text("scripts_dir")?;
        Some(format!("{prefixes}{dir}/{word}{args}"))
    }

    /// Expands a term to text: strings are literal, atoms are references, lists
    /// concatenate, nil is empty.
    pub fn expand(&mut self, key: &str, term: &Term) -> Option<String> {
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
                let problem = Problem::new("a string, or a list of strings and key references such as [:deploy_dir, \"/etc\"]");
                self.report(key, other, problem);
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
            let side = self.origin.side;
            let keys = spec::SPECS
                .iter()
                .filter(|s| s.applies_to(side))
                .map(|s| s.key)
                .chain(self.user.keys().map(String::as_str).collect::<Vec<_>>());
            let suggestion = suggest(name, keys);
            self.errors.push(Error::UnknownReference {
                ns: self.origin.ns(from).to_string(),
                key: from.to_string(),
                reference: name.to_string(),
                suggestion,
            });
            return None;
        };
        match spec.kind {
            Kind::Int(_) | Kind::OptInt(_) => {
                let n = self.converted(spec, |t| kinds::int(t, spec.kind))?;
                Some(n.map(|i| i.to_string()).unwrap_or_default())
            }
            Kind::Bool => self.converted(spec, kinds::boolean).map(|b| b.to_string()),
            Kind::Limit => self.converted(spec, kinds::limit).map(|l| match l {
                Limit::Unset => String::new(),
                Limit::Infinity => "infinity".into(),
                Limit::Value(v) => v.to_string(),
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
            | Kind::FilePrefix
            | Kind::Enum(_)
            | Kind::Mode => {
                // Nil (an unset optional) expands to nothing; an invalid key was
                // reported already and fails this one without a second message.
                self.checked_text(name).ok().map(Option::unwrap_or_default)
            }
            _ => {
                let problem = Problem::new("a reference to a key with a single value")
                    .hint(format!(":{name} is a list"));
                self.report(from, &Term::Atom(name.into()), problem);
                None
            }
        }
    }

    /// The raw term of a key converted by `convert`; a failure is reported.
    pub fn converted<T>(
        &mut self,
        spec: &Spec,
        convert: impl FnOnce(&Term) -> Result<T, Problem>,
    ) -> Option<T> {
        let term = self.raw(spec)?;
        match convert(&term) {
            Ok(v) => Some(v),
            Err(problem) => {
                self.report(spec.key, &term, problem);
                None
            }
        }
    }

    /// The items of a list-valued key; a failure is reported.
    pub fn list(&mut self, spec: &Spec) -> Option<Vec<Term>> {
        let term = self.raw(spec)?;
        match kinds::list(term.clone()) {
            Ok(items) => Some(items),
            Err(problem) => {
                self.report(spec.key, &term, problem);
                None
            }
        }
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
        let Some(close) = rest[open..].find('}').map(|c| c + open) else {
            break;
        };
        parts.push(Term::Atom(rest[open + 1..close].to_string()));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Term::Str(rest.to_string()));
    }
    Term::List(parts)
}
