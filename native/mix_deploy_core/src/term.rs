//! Elixir terms as they arrive from the Mix task, decoded from the JSON shape
//! documented in `docs/json.md`: plain JSON for nil, booleans, numbers, strings
//! and lists; tagged objects for what JSON lacks (`{"atom": "x"}`,
//! `{"tuple": [..]}`, `{"map": [[k, v], ..]}`), so `:deploy_dir` (a reference)
//! never collapses into `"deploy_dir"` (a literal).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Term {
    #[default]
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
        Term::deserialize(value).map_err(|e| e.to_string())
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

/// Decoded straight from the JSON text (no intermediate `serde_json::Value`).
impl<'de> Deserialize<'de> for Term {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Term, D::Error> {
        d.deserialize_any(TermVisitor)
    }
}

struct TermVisitor;

impl<'de> Visitor<'de> for TermVisitor {
    type Value = Term;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a term in the tagged JSON shape of docs/json.md")
    }
    fn visit_unit<E>(self) -> Result<Term, E> {
        Ok(Term::Nil)
    }
    fn visit_none<E>(self) -> Result<Term, E> {
        Ok(Term::Nil)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Term, E> {
        Ok(Term::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Term, E> {
        Ok(Term::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Term, E> {
        Ok(i64::try_from(u).map_or(Term::Float(u as f64), Term::Int))
    }
    fn visit_f64<E>(self, x: f64) -> Result<Term, E> {
        Ok(Term::Float(x))
    }
    fn visit_str<E>(self, s: &str) -> Result<Term, E> {
        Ok(Term::Str(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Term, E> {
        Ok(Term::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Term, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Term::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Term, A::Error> {
        let Some(tag) = map.next_key::<String>()? else {
            return Err(de::Error::custom("untagged JSON object: {}"));
        };
        let term = match tag.as_str() {
            "atom" => Term::Atom(map.next_value()?),
            "tuple" => Term::Tuple(map.next_value()?),
            "map" => {
                let pairs: Vec<Vec<Term>> = map.next_value()?;
                let pairs = pairs
                    .into_iter()
                    .map(|pair| match <[Term; 2]>::try_from(pair) {
                        Ok([k, v]) => Ok((k, v)),
                        Err(other) => Err(de::Error::custom(format!(
                            "map entry is not a [key, value] pair: {}",
                            Term::List(other)
                        ))),
                    })
                    .collect::<Result<_, _>>()?;
                Term::Map(pairs)
            }
            other => return Err(de::Error::custom(format!("unknown term tag {other:?}"))),
        };
        if map.next_key::<String>()?.is_some() {
            return Err(de::Error::custom(format!(
                "untagged JSON object: more than the tag {tag:?}"
            )));
        }
        Ok(term)
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
