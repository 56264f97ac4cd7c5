//! Conversions by kind: whether a value, once references are expanded, is what its
//! key's kind accepts (a path, a name, a mode, one of an enum's names, an integer,
//! ...), and what to tell the user when it is not. Pure functions: they know
//! nothing of other keys (that is `eval`) nor of what one key means (that is
//! `domain`).

use crate::error::suggest;
use crate::spec::Kind;
use crate::term::Term;
use crate::values::Limit;

/// Why a value is invalid: what is expected, and a hint the user can act on.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub expected: String,
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(expected: impl Into<String>) -> Problem {
        Problem {
            expected: expected.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }
}

/// What a term that is not even the right shape for `kind` should have been.
pub fn expected_for(kind: Kind) -> &'static str {
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

/// A newline in a value printed on one line (a unit directive, a comment of a
/// script or of the sudoers file) would start a line of the reader's choosing.
const SINGLE_LINE: &str =
    "a single line: a newline would start a new line of the unit, script or sudoers file";

/// Checks the expanded text of a scalar key of `kind`.
pub fn check_scalar(kind: Kind, text: &str) -> Result<(), Problem> {
    match kind {
        Kind::Path | Kind::OptPath | Kind::Script => check_path(text),
        Kind::LocalPath => check_local_path(text),
        Kind::Name => check_name(text),
        Kind::Account => check_account(text),
        Kind::Mode if !is_mode(text) => Err(Problem::new(
            "3 or 4 octal digits as a string, e.g. \"750\"",
        )),
        Kind::Enum(options) if !options.contains(&text) => {
            let expected = format!(
                "one of {}",
                options
                    .iter()
                    .map(|o| format!(":{o}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let problem = Problem::new(expected);
            Err(match suggest(text, options.iter().copied()) {
                Some(s) => problem.hint(format!("did you mean :{s}?")),
                None => problem,
            })
        }
        Kind::Text | Kind::OptText | Kind::Wrap => single_line(text),
        Kind::FilePrefix => check_file_prefix(text),
        _ => Ok(()),
    }
}

/// No newline or carriage return.
pub fn single_line(text: &str) -> Result<(), Problem> {
    if text.contains(['\n', '\r']) {
        Err(Problem::new(SINGLE_LINE))
    } else {
        Ok(())
    }
}

pub fn check_path(text: &str) -> Result<(), Problem> {
    if !text.starts_with('/') {
        return Err(Problem::new("an absolute path starting with /")
            .hint("build it from a reference, e.g. [:base_dir, \"/foo\"]"));
    }
    if text.chars().any(char::is_control) {
        return Err(Problem::new(
            "a path without control characters (newlines, tabs)",
        ));
    }
    if text.split('/').any(|part| part == "..") {
        return Err(Problem::new("a path without .. components"));
    }
    Ok(())
}

fn check_local_path(text: &str) -> Result<(), Problem> {
    if text.is_empty() || text.chars().any(char::is_control) {
        return Err(Problem::new("a non-empty path without control characters"));
    }
    Ok(())
}

/// The start of file names (target_prefix): printed into file names, comments and
/// the sudoers file, so no `/` and no control character; it may be empty.
fn check_file_prefix(text: &str) -> Result<(), Problem> {
    if text.contains('/') || text.chars().any(char::is_control) {
        return Err(Problem::new(
            "the start of a file name: no /, no newline or other control character",
        ));
    }
    Ok(())
}

pub fn check_name(text: &str) -> Result<(), Problem> {
    let ok = !text.is_empty()
        && text != "."
        && text != ".."
        && !text.starts_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-@:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Problem::new(
            "a name of letters, digits, _, ., -, @ or : (no /, spaces or ..)",
        ))
    }
}

pub fn check_account(text: &str) -> Result<(), Problem> {
    if is_account(text) {
        Ok(())
    } else {
        Err(Problem::new(
            "a POSIX account name: a letter or _ then letters, digits, _, . or -, at most 32",
        ))
    }
}

pub fn is_account(text: &str) -> bool {
    let first_ok = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let body = text.strip_suffix('$').unwrap_or(text);
    first_ok
        && text.len() <= 32
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

pub fn is_mode(text: &str) -> bool {
    (3..=4).contains(&text.len()) && text.chars().all(|c| ('0'..='7').contains(&c))
}

/// "write 5 without quotes" for a number written as a string.
fn unquote_hint(term: &Term, ok: impl Fn(i64) -> bool) -> Option<String> {
    match term {
        Term::Str(s) if s.parse::<i64>().is_ok_and(ok) => Some(format!("write {s} without quotes")),
        _ => None,
    }
}

/// An Int or OptInt key: Some(n), or None when an OptInt is nil.
pub fn int(term: &Term, kind: Kind) -> Result<Option<i64>, Problem> {
    let (min, optional) = match kind {
        Kind::Int(m) => (m, false),
        Kind::OptInt(m) => (m, true),
        _ => (0, false),
    };
    match term {
        Term::Int(i) if *i >= min => Ok(Some(*i)),
        Term::Nil if optional => Ok(None),
        other => {
            let expected = format!(
                "an integer of at least {min}{}",
                if optional { ", or nil" } else { "" }
            );
            let problem = Problem::new(expected);
            Err(match unquote_hint(other, |_| true) {
                Some(h) => problem.hint(h),
                None => problem,
            })
        }
    }
}

/// A resource limit: a number, "infinity", or unset.
pub fn limit(term: &Term) -> Result<Limit, Problem> {
    match term {
        Term::Int(i) if *i >= 0 => Ok(Limit::Value(*i)),
        Term::Nil => Ok(Limit::Unset),
        Term::Atom(s) | Term::Str(s) if s == "infinity" => Ok(Limit::Infinity),
        other => {
            let problem = Problem::new("an integer of at least 0, \"infinity\", or nil");
            Err(match unquote_hint(other, |_| true) {
                Some(h) => problem.hint(h),
                None => problem,
            })
        }
    }
}

pub fn boolean(term: &Term) -> Result<bool, Problem> {
    match term {
        Term::Bool(b) => Ok(*b),
        _ => Err(Problem::new("true or false")),
    }
}

/// The items of a list-valued key; nil is the empty list; a bare string or atom
/// is a mistake.
pub fn list(term: Term) -> Result<Vec<Term>, Problem> {
    match term {
        Term::List(items) => Ok(items),
        Term::Nil => Ok(Vec::new()),
        other => {
            let problem = Problem::new("a list");
            Err(match &other {
                Term::Str(_) | Term::Atom(_) => {
                    problem.hint(format!("wrap it in a list: [{other}]"))
                }
                _ => problem,
            })
        }
    }
}

pub(crate) fn unquote_positive_hint(term: &Term) -> Option<String> {
    unquote_hint(term, |i| i >= 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_one_line() {
        assert!(check_scalar(Kind::Text, "a\nb").is_err());
        assert!(check_scalar(Kind::OptText, "a\rb").is_err());
        assert!(check_scalar(Kind::Text, "a\tb").is_ok());
    }

    #[test]
    fn file_prefixes_have_no_slash_or_newline() {
        assert!(check_scalar(Kind::FilePrefix, "").is_ok());
        assert!(check_scalar(Kind::FilePrefix, "deploy-").is_ok());
        assert!(check_scalar(Kind::FilePrefix, "a/b").is_err());
        assert!(check_scalar(Kind::FilePrefix, "x\nALL ALL=(ALL) ALL").is_err());
    }

    #[test]
    fn integers_suggest_unquoting() {
        let e = int(&Term::Str("5".into()), Kind::Int(1)).unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("write 5 without quotes"));
        assert_eq!(int(&Term::Nil, Kind::OptInt(0)), Ok(None));
    }
}
