//! One error type for the crate. Every user mistake names the config namespace,
//! the key, the bad value and what is expected; the Mix task prints the list as is.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A config value of the wrong type or form.
    InvalidValue {
        ns: String,
        key: String,
        value: String,
        expected: String,
        hint: Option<String>,
    },
    /// An atom in an expandable value that names no config key.
    UnknownReference {
        ns: String,
        key: String,
        reference: String,
        suggestion: Option<String>,
    },
    /// References that lead back to where they started.
    ReferenceCycle { ns: String, chain: Vec<String> },
    /// A template that failed to parse or render (a user override, usually).
    Template { name: String, message: String },
    /// A file that could not be read or written.
    Io { path: String, message: String },
    /// A deploy operation (release, rollback) that cannot go ahead.
    Deploy(String),
    /// The JSON document from the Mix task is malformed: a bug, not a user mistake.
    Input(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidValue {
                ns,
                key,
                value,
                expected,
                hint,
            } => {
                write!(
                    f,
                    "config :{ns}, {key}: {value} is invalid: expected {expected}"
                )?;
                if let Some(hint) = hint {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
            Error::UnknownReference {
                ns,
                key,
                reference,
                suggestion,
            } => {
                write!(
                    f,
                    "config :{ns}, {key}: reference :{reference} names no config key"
                )?;
                match suggestion {
                    Some(s) => write!(f, " (did you mean :{s}?)"),
                    None => Ok(()),
                }
            }
            Error::ReferenceCycle { ns, chain } => {
                write!(f, "config :{ns}: reference cycle {}", chain.join(" -> "))
            }
            Error::Template { name, message } => write!(f, "template {name}: {message}"),
            Error::Io { path, message } => write!(f, "{path}: {message}"),
            Error::Deploy(message) => f.write_str(message),
            Error::Input(message) => write!(f, "malformed input from the Mix task: {message}"),
        }
    }
}

/// Several errors reported together, so one run shows every mistake.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Errors(pub Vec<Error>);

impl Errors {
    pub fn push(&mut self, e: Error) {
        if !self.0.contains(&e) {
            self.0.push(e);
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn into_result<T>(self, ok: T) -> Result<T, Errors> {
        if self.0.is_empty() {
            Ok(ok)
        } else {
            Err(self)
        }
    }
}

impl From<Error> for Errors {
    fn from(e: Error) -> Self {
        Errors(vec![e])
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [one] = self.0.as_slice() {
            return write!(f, "{one}");
        }
        write!(f, "{} problems found:", self.0.len())?;
        for e in &self.0 {
            write!(f, "\n  * {e}")?;
        }
        Ok(())
    }
}

/// The closest name within a small edit distance, for "did you mean" hints.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = (word.len() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c.to_string())
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions,
/// so `tempaltes` is one step from `templates`.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_transposed_names() {
        assert_eq!(
            suggest("tempaltes", ["templates", "dirs"]),
            Some("templates".into())
        );
        assert_eq!(suggest("zzz", ["templates", "dirs"]), None);
    }

    #[test]
    fn several_errors_are_listed() {
        let mut errs = Errors::default();
        errs.push(Error::Deploy("a".into()));
        errs.push(Error::Deploy("b".into()));
        assert_eq!(errs.to_string(), "2 problems found:\n  * a\n  * b");
    }
}
