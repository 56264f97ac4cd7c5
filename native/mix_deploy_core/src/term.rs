//! Elixir terms as they arrive from the Mix task, decoded from the JSON shape
//! documented in `docs/json.md`: plain JSON for nil, booleans, numbers, strings
//! and lists; tagged objects for what JSON lacks (`{"atom": "x"}`,
//! `{"tuple": [..]}`, `{"map": [[k, v], ..]}`), so `:deploy_dir` (a reference)
//! never collapses into `"deploy_dir"` (a literal).

use std::fmt;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Atom(String),
    List(Vec<Term>),
    Tuple(Vec<Term>),
    Map(Vec<(Term, Term)>),
}

impl Term {
    /// Decodes the tagged JSON shape; an object that is not one of the three tags is
    /// a malformed document (a bug in the encoder, not a user mistake).
    pub fn from_json(value: &Value) -> Result<Term, String> {
        Ok(match value {
            Value::Null => Term::Nil,
            Value::Bool(b) => Term::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Term::Int(i),
                None => Term::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Term::Str(s.clone()),
            Value::Array(items) => Term::List(
                items
                    .iter()
                    .map(Term::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(obj) if obj.len() == 1 => {
                let (tag, inner) = obj.iter().next().expect("one entry");
                match (tag.as_str(), inner) {
                    ("atom", Value::String(name)) => Term::Atom(name.clone()),
                    ("tuple", Value::Array(items)) => Term::Tuple(
                        items
                            .iter()
                            .map(Term::from_json)
                            .collect::<Result<_, _>>()?,
                    ),
                    ("map", Value::Array(pairs)) => Term::Map(
                        pairs
                            .iter()
                            .map(|pair| match pair {
                                Value::Array(kv) if kv.len() == 2 => {
                                    Ok((Term::from_json(&kv[0])?, Term::from_json(&kv[1])?))
                                }
                                other => {
                                    Err(format!("map entry is not a [key, value] pair: {other}"))
                                }
                            })
                            .collect::<Result<_, _>>()?,
                    ),
                    _ => return Err(format!("unknown term tag {tag:?}")),
                }
            }
            other => return Err(format!("untagged JSON object: {other}")),
        })
    }

    /// A keyword list or map as ordered (key, value) pairs with atom or string keys.
    pub fn as_pairs(&self) -> Option<Vec<(String, &Term)>> {
        let key = |t: &Term| match t {
            Term::Atom(s) | Term::Str(s) => Some(s.clone()),
            _ => None,
        };
        match self {
            Term::Map(pairs) => pairs.iter().map(|(k, v)| Some((key(k)?, v))).collect(),
            Term::List(items) => items
                .iter()
                .map(|item| match item {
                    Term::Tuple(kv) if kv.len() == 2 => Some((key(&kv[0])?, &kv[1])),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }
}

/// Elixir syntax, so an error message shows the value as the user wrote it.
impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn join(f: &mut fmt::Formatter<'_>, items: &[Term]) -> fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        }
        match self {
            Term::Nil => f.write_str("nil"),
            Term::Bool(b) => write!(f, "{b}"),
            Term::Int(i) => write!(f, "{i}"),
            Term::Float(x) => write!(f, "{x:?}"),
            Term::Str(s) => write!(f, "{s:?}"),
            Term::Atom(a) => {
                if a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    write!(f, ":{a}")
                } else {
                    write!(f, ":{a:?}")
                }
            }
            Term::List(items) => {
                f.write_str("[")?;
                join(f, items)?;
                f.write_str("]")
            }
            Term::Tuple(items) => {
                f.write_str("{")?;
                join(f, items)?;
                f.write_str("}")
            }
            Term::Map(pairs) => {
                f.write_str("%{")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match k {
                        Term::Atom(a) => write!(f, "{a}: {v}")?,
                        other => write!(f, "{other} => {v}")?,
                    }
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn atoms_stay_distinct_from_strings() {
        let t = Term::from_json(&json!(["-", {"atom": "deploy_dir"}, "/etc/environment"])).unwrap();
        assert_eq!(
            t,
            Term::List(vec![
                Term::Str("-".into()),
                Term::Atom("deploy_dir".into()),
                Term::Str("/etc/environment".into())
            ])
        );
        assert_eq!(t.to_string(), r#"["-", :deploy_dir, "/etc/environment"]"#);
    }

    #[test]
    fn keyword_lists_and_maps_give_pairs() {
        let kw = Term::from_json(&json!([{"tuple": [{"atom": "src"}, "a"]}])).unwrap();
        let map = Term::from_json(&json!({"map": [[{"atom": "src"}, "a"]]})).unwrap();
        assert_eq!(kw.as_pairs().unwrap()[0].0, "src");
        assert_eq!(map.as_pairs().unwrap()[0].1, &Term::Str("a".into()));
        assert_eq!(map.to_string(), r#"%{src: "a"}"#);
    }

    #[test]
    fn untagged_objects_are_rejected() {
        assert!(Term::from_json(&json!({"a": 1, "b": 2})).is_err());
    }
}
