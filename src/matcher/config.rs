//! The Next.js `config` object: types, and a hand walk of JSON that reports
//! exactly where a config is wrong.

use serde_json::Value;

use super::error::MatcherError;

/// A Next.js proxy `config` object: `{ "matcher": ... }`.
///
/// `matcher: None` (no `matcher` key) means every request; an empty list
/// means none. With the `serde` feature it deserializes from any serde format,
/// with `matcher` given as a string or as an array of strings and objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct MatcherConfig {
    /// The entries; `None` matches every request.
    #[cfg_attr(
        feature = "serde",
        serde(default, deserialize_with = "serde_impl::one_or_many")
    )]
    pub matcher: Option<Vec<MatcherEntry>>,
}

/// One matcher entry: a path source with optional conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(from = "serde_impl::EntryRepr"))]
pub struct MatcherEntry {
    /// The path source, e.g. `/dashboard/:path*`.
    pub source: String,
    /// Conditions that must all hold.
    pub has: Vec<Condition>,
    /// Conditions none of which may hold.
    pub missing: Vec<Condition>,
    /// Next.js's `locale` flag: only `false` (or absent) is accepted, as
    /// this crate adds no locale prefix.
    pub locale: Option<bool>,
}

impl MatcherEntry {
    /// An entry with just a source.
    pub fn new(source: impl Into<String>) -> Self {
        MatcherEntry {
            source: source.into(),
            ..MatcherEntry::default()
        }
    }
}

impl From<&str> for MatcherEntry {
    fn from(source: &str) -> Self {
        MatcherEntry::new(source)
    }
}

impl From<String> for MatcherEntry {
    fn from(source: String) -> Self {
        MatcherEntry::new(source)
    }
}

/// A `has` / `missing` item.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Condition {
    /// What the condition inspects (`"type"` in the config).
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub kind: ConditionKind,
    /// Header, query or cookie name (required for those; unused for `host`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub key: Option<String>,
    /// A JavaScript regular expression the whole value must match (required
    /// for `host`); without it, the value must be present and non-empty.
    #[cfg_attr(feature = "serde", serde(default))]
    pub value: Option<String>,
}

/// What a [`Condition`] inspects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum ConditionKind {
    /// A request header (name case-insensitive).
    Header,
    /// A query-string parameter.
    Query,
    /// A cookie.
    Cookie,
    /// The host name (from `Host`, port stripped, lower-cased).
    Host,
}

impl ConditionKind {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "header" => ConditionKind::Header,
            "query" => ConditionKind::Query,
            "cookie" => ConditionKind::Cookie,
            "host" => ConditionKind::Host,
            _ => return None,
        })
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    use super::{Condition, MatcherEntry};
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct FullEntry {
        source: String,
        #[serde(default)]
        has: Vec<Condition>,
        #[serde(default)]
        missing: Vec<Condition>,
        #[serde(default)]
        locale: Option<bool>,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    pub(super) enum EntryRepr {
        Source(String),
        Full(FullEntry),
    }

    impl From<EntryRepr> for MatcherEntry {
        fn from(r: EntryRepr) -> Self {
            match r {
                EntryRepr::Source(s) => MatcherEntry::new(s),
                EntryRepr::Full(f) => MatcherEntry {
                    source: f.source,
                    has: f.has,
                    missing: f.missing,
                    locale: f.locale,
                },
            }
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<MatcherEntry>),
    }

    pub(super) fn one_or_many<'de, D>(d: D) -> Result<Option<Vec<MatcherEntry>>, D::Error>
    where
        D: Deserializer<'de>,
    {
        Ok(Some(match OneOrMany::deserialize(d)? {
            OneOrMany::One(s) => vec![MatcherEntry::new(s)],
            OneOrMany::Many(v) => v,
        }))
    }
}

/// How a JSON value's type reads in an error message ("a string").
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(location: &str, expected: &str, got: &Value) -> MatcherError {
    MatcherError::new(
        location,
        format!("expected {expected}, found {}", type_name(got)),
    )
}

fn string_at(v: &Value, location: &str) -> Result<String, MatcherError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| wrong_type(location, "a string", v))
}

/// Parses a config object from JSON text, walking it by hand.
pub(crate) fn parse_json(json: &str) -> Result<MatcherConfig, MatcherError> {
    let value: Value = serde_json::from_str(json).map_err(|e| {
        MatcherError::new(
            "",
            format!(
                "invalid JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let Value::Object(obj) = &value else {
        return Err(wrong_type("", "a config object", &value));
    };
    let mut config = MatcherConfig::default();
    for (k, v) in obj {
        if k != "matcher" {
            return Err(MatcherError::new(
                "",
                format!("unknown key {k:?} (expected \"matcher\")"),
            ));
        }
        config.matcher = Some(match v {
            Value::String(s) => vec![MatcherEntry::new(s.clone())],
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| entry(item, &format!("matcher[{i}]")))
                .collect::<Result<_, _>>()?,
            other => return Err(wrong_type("matcher", "a string or an array", other)),
        });
    }
    Ok(config)
}

fn entry(v: &Value, location: &str) -> Result<MatcherEntry, MatcherError> {
    match v {
        Value::String(s) => Ok(MatcherEntry::new(s.clone())),
        Value::Object(obj) => {
            let mut e = MatcherEntry::default();
            let mut source = None;
            for (k, v) in obj {
                let loc = format!("{location}.{k}");
                match k.as_str() {
                    "source" => source = Some(string_at(v, &loc)?),
                    "has" => e.has = conditions(v, &loc)?,
                    "missing" => e.missing = conditions(v, &loc)?,
                    "locale" => match v {
                        Value::Bool(b) => e.locale = Some(*b),
                        other => return Err(wrong_type(&loc, "false", other)),
                    },
                    _ => {
                        return Err(MatcherError::new(
                            location,
                            format!(
                                "unknown key {k:?} (expected \"source\", \"has\", \"missing\" or \"locale\")"
                            ),
                        ))
                    }
                }
            }
            e.source = source.ok_or_else(|| {
                MatcherError::new(location, "missing \"source\" in matcher object")
            })?;
            Ok(e)
        }
        other => Err(wrong_type(location, "a string or an object", other)),
    }
}

/// `has` / `missing`: an array of conditions (also next.config's rules use it).
pub(crate) fn conditions(v: &Value, location: &str) -> Result<Vec<Condition>, MatcherError> {
    let Value::Array(items) = v else {
        return Err(wrong_type(location, "an array", v));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| condition(item, &format!("{location}[{i}]")))
        .collect()
}

fn condition(v: &Value, location: &str) -> Result<Condition, MatcherError> {
    let Value::Object(obj) = v else {
        return Err(wrong_type(location, "an object", v));
    };
    let mut kind = None;
    let mut key = None;
    let mut value = None;
    for (k, v) in obj {
        let loc = format!("{location}.{k}");
        match k.as_str() {
            "type" => {
                let s = string_at(v, &loc)?;
                kind = Some(ConditionKind::parse(&s).ok_or_else(|| {
                    MatcherError::new(
                        &loc,
                        format!(
                            "unknown condition type {s:?} (expected \"header\", \"query\", \"cookie\" or \"host\")"
                        ),
                    )
                })?);
            }
            "key" => key = Some(string_at(v, &loc)?),
            "value" => value = Some(string_at(v, &loc)?),
            _ => {
                return Err(MatcherError::new(
                    location,
                    format!("unknown key {k:?} (expected \"type\", \"key\" or \"value\")"),
                ))
            }
        }
    }
    let kind = kind.ok_or_else(|| MatcherError::new(location, "missing \"type\" in condition"))?;
    Ok(Condition { kind, key, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_shapes() {
        let c = parse_json(r#"{"matcher": "/a"}"#).unwrap();
        assert_eq!(c.matcher, Some(vec![MatcherEntry::new("/a")]));
        let c = parse_json(r#"{}"#).unwrap();
        assert_eq!(c.matcher, None);
        let c = parse_json(
            r#"{"matcher": ["/a", {"source": "/b", "has": [{"type": "host", "value": "x"}], "locale": false}]}"#,
        )
        .unwrap();
        let m = c.matcher.unwrap();
        assert_eq!(m[1].source, "/b");
        assert_eq!(m[1].has[0].kind, ConditionKind::Host);
        assert_eq!(m[1].has[0].value.as_deref(), Some("x"));
        assert_eq!(m[1].locale, Some(false));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_shapes() {
        let c: MatcherConfig = serde_json::from_str(
            r#"{"matcher": ["/a", {"source": "/b", "missing": [{"type": "cookie", "key": "s"}]}]}"#,
        )
        .unwrap();
        let m = c.matcher.unwrap();
        assert_eq!(m[0], MatcherEntry::new("/a"));
        assert_eq!(m[1].missing[0].kind, ConditionKind::Cookie);
        let c: MatcherConfig = serde_json::from_str(r#"{"matcher": "/x"}"#).unwrap();
        assert_eq!(c.matcher, Some(vec![MatcherEntry::new("/x")]));
        let c: MatcherConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c.matcher, None);
        assert!(serde_json::from_str::<MatcherConfig>(r#"{"matchr": "/x"}"#).is_err());
        assert!(serde_json::from_str::<MatcherConfig>(
            r#"{"matcher": [{"source": "/", "has": [{"type": "header", "key": "a", "valeu": "b"}]}]}"#
        )
        .is_err());
        assert!(serde_json::from_str::<MatcherConfig>(
            r#"{"matcher": [{"source": "/", "has": [{"type": "ip"}]}]}"#
        )
        .is_err());
    }

    #[test]
    fn reports_locations() {
        // (name, json, location, message fragment)
        let rows: &[(&str, &str, &str, &str)] = &[
            ("invalid json", "{", "", "invalid JSON"),
            ("not object", "[]", "", "expected a config object"),
            (
                "unknown top key",
                r#"{"matchr": "/"}"#,
                "",
                "unknown key \"matchr\"",
            ),
            (
                "matcher type",
                r#"{"matcher": 1}"#,
                "matcher",
                "expected a string or an array",
            ),
            (
                "entry type",
                r#"{"matcher": ["/", 2]}"#,
                "matcher[1]",
                "found a number",
            ),
            (
                "unknown entry key",
                r#"{"matcher": [{"source": "/", "src": "/"}]}"#,
                "matcher[0]",
                "unknown key \"src\"",
            ),
            (
                "missing source",
                r#"{"matcher": [{}]}"#,
                "matcher[0]",
                "missing \"source\"",
            ),
            (
                "source type",
                r#"{"matcher": [{"source": 3}]}"#,
                "matcher[0].source",
                "expected a string",
            ),
            (
                "has type",
                r#"{"matcher": [{"source": "/", "has": {}}]}"#,
                "matcher[0].has",
                "expected an array",
            ),
            (
                "unknown item key",
                r#"{"matcher": ["/", {"source": "/", "has": [{"type": "header", "key": "a", "valeu": "b"}]}]}"#,
                "matcher[1].has[0]",
                "unknown key \"valeu\"",
            ),
            (
                "unknown type",
                r#"{"matcher": [{"source": "/", "missing": [{"type": "ip"}]}]}"#,
                "matcher[0].missing[0].type",
                "unknown condition type \"ip\"",
            ),
            (
                "value type",
                r#"{"matcher": [{"source": "/", "has": [{"type": "query", "key": "a", "value": 1}]}]}"#,
                "matcher[0].has[0].value",
                "expected a string",
            ),
            (
                "locale type",
                r#"{"matcher": [{"source": "/", "locale": "no"}]}"#,
                "matcher[0].locale",
                "expected false",
            ),
        ];
        for (name, json, loc, msg) in rows {
            let e = parse_json(json).expect_err(name);
            assert_eq!(e.location(), *loc, "{name}: {e}");
            assert!(e.to_string().contains(msg), "{name}: {e}");
        }
    }
}
