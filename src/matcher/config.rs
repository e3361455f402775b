//! The Next.js `config` object: its types, deserialized with serde from JSON, TOML or any
//! other format, and the shapes shared with next.config's rules (string-or-object, objects
//! only).

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::config_error::ConfigError;

/// A Next.js proxy `config` object: `{ "matcher": ... }`.
///
/// `matcher: None` (no `matcher` key) means every request; an empty list means none. It
/// deserializes from any serde format, with `matcher` given as a string or as an array of
/// strings and objects; an unknown key is an error, as Next.js's config schema refuses one.
///
/// ```
/// use tower_proxy_fn::matcher::{Matcher, MatcherConfig};
///
/// let config: MatcherConfig = toml::from_str(r#"matcher = ["/about/:path*"]"#)?;
/// let matcher = Matcher::from_config(config)?;
/// # let _ = matcher;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatcherConfig {
    /// The entries; `None` matches every request.
    pub matcher: Option<Vec<MatcherEntry>>,
}

/// One matcher entry: a path source with optional conditions.
///
/// Deserializes from a string (the source alone) or an object
/// `{"source", "has", "missing", "locale"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
pub struct Condition {
    /// What the condition inspects (`"type"` in the config).
    pub kind: ConditionKind,
    /// Header, query or cookie name (required for those; unused for `host`).
    pub key: Option<String>,
    /// A JavaScript regular expression the whole value must match (required
    /// for `host`); without it, the value must be present and non-empty.
    pub value: Option<String>,
}

/// What a [`Condition`] inspects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

/// Parses a config object from JSON text; an error names its place (`matcher[1].has[0]`).
pub(crate) fn parse_json(json: &str) -> Result<MatcherConfig, ConfigError> {
    from_json(json)
}

/// Any config type from JSON text, with the place of an error from `serde_path_to_error`.
pub(crate) fn from_json<'de, T: Deserialize<'de>>(json: &'de str) -> Result<T, ConfigError> {
    // Syntax first, over the whole text, as `JSON.parse` comes before any schema check:
    // reading into the types stops at the first unknown key, which may come before the
    // broken bracket.
    serde_json::from_str::<de::IgnoredAny>(json)
        .map_err(|e| ConfigError::syntax(format!("invalid JSON: {e}")))?;
    let mut deserializer = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| ConfigError::deserialize(e.path(), e.inner().to_string()))
}

// The derives below sit on private mirrors of the public types: a derived struct also
// deserializes from a sequence of its fields in order (`[["header", "a"]]` as a condition),
// which no Next.js config shape is, so each public type reads a map only ([`from_map`]).

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFields {
    #[serde(default, deserialize_with = "matcher_list")]
    matcher: Option<Vec<MatcherEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFields {
    source: String,
    #[serde(default)]
    has: Vec<Condition>,
    #[serde(default)]
    missing: Vec<Condition>,
    // `true` is read, then refused by the compiler with a message that says why.
    #[serde(default, deserialize_with = "present")]
    locale: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionFields {
    #[serde(rename = "type")]
    kind: ConditionKind,
    #[serde(default, deserialize_with = "present")]
    key: Option<String>,
    #[serde(default, deserialize_with = "present")]
    value: Option<String>,
}

impl<'de> Deserialize<'de> for MatcherConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields: ConfigFields = from_map(deserializer, "a config object")?;
        Ok(MatcherConfig {
            matcher: fields.matcher,
        })
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields: ConditionFields = from_map(deserializer, "a condition object")?;
        Ok(Condition {
            kind: fields.kind,
            key: fields.key,
            value: fields.value,
        })
    }
}

impl<'de> Deserialize<'de> for ConditionKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(match name.as_str() {
            "header" => ConditionKind::Header,
            "query" => ConditionKind::Query,
            "cookie" => ConditionKind::Cookie,
            "host" => ConditionKind::Host,
            _ => {
                return Err(de::Error::custom(format_args!(
                    "unknown condition type {name:?} (expected \"header\", \"query\", \"cookie\" or \"host\")"
                )));
            }
        })
    }
}

impl<'de> Deserialize<'de> for MatcherEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;

        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = MatcherEntry;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a source string or a matcher object")
            }

            fn visit_str<E: de::Error>(self, source: &str) -> Result<MatcherEntry, E> {
                Ok(MatcherEntry::new(source))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MatcherEntry, A::Error> {
                let f = EntryFields::deserialize(MapAccessDeserializer::new(map))?;
                Ok(MatcherEntry {
                    source: f.source,
                    has: f.has,
                    missing: f.missing,
                    locale: f.locale,
                })
            }
        }

        deserializer.deserialize_any(EntryVisitor)
    }
}

/// `matcher`: one source, or a list of entries.
fn matcher_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<MatcherEntry>>, D::Error> {
    struct ListVisitor;

    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<MatcherEntry>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a source string or an array of matcher entries")
        }

        fn visit_str<E: de::Error>(self, source: &str) -> Result<Self::Value, E> {
            Ok(vec![MatcherEntry::new(source)])
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Vec::deserialize(SeqAccessDeserializer::new(seq))
        }
    }

    d.deserialize_any(ListVisitor).map(Some)
}

/// An optional field that, when present, holds a `T`: serde would read `null` as `None`,
/// where Next.js's schema refuses it (an absent key is the field's `default`).
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Deserializes `T` (a derived struct) from a map only; `expecting` names the shape in the
/// error for anything else ("expected a config object").
pub(crate) fn from_map<'de, D, T>(deserializer: D, expecting: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct MapVisitor<T>(&'static str, PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for MapVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map))
        }
    }

    deserializer.deserialize_map(MapVisitor(expecting, PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_shapes() {
        let c = parse_json(r#"{"matcher": "/a"}"#).unwrap();
        assert_eq!(c.matcher, Some(vec![MatcherEntry::new("/a")]));
        let c = parse_json(r#"{}"#).unwrap();
        assert_eq!(c.matcher, None);
        let c = parse_json(
            r#"{"matcher": ["/a", {"source": "/b", "has": [{"type": "host", "value": "x"}], "missing": [{"type": "cookie", "key": "s"}], "locale": false}]}"#,
        )
        .unwrap();
        let m = c.matcher.unwrap();
        assert_eq!(m[0], MatcherEntry::new("/a"));
        assert_eq!(m[1].source, "/b");
        assert_eq!(m[1].has[0].kind, ConditionKind::Host);
        assert_eq!(m[1].has[0].value.as_deref(), Some("x"));
        assert_eq!(m[1].missing[0].kind, ConditionKind::Cookie);
        assert_eq!(m[1].locale, Some(false));
    }

    #[test]
    fn reports_places() {
        // (name, json, place, is_syntax, message fragment)
        let rows: &[(&str, &str, &str, bool, &str)] = &[
            ("invalid json", "{", "", true, "EOF while parsing"),
            ("trailing text", "{} x", "", true, "trailing characters"),
            ("not object", "[]", "", false, "expected a config object"),
            (
                "unknown top key",
                r#"{"matchr": "/"}"#,
                "",
                false,
                "unknown key \"matchr\" (expected `matcher`)",
            ),
            (
                "matcher type",
                r#"{"matcher": 1}"#,
                "matcher",
                false,
                "expected a source string or an array",
            ),
            (
                "entry type",
                r#"{"matcher": ["/", 2]}"#,
                "matcher[1]",
                false,
                "invalid type: integer `2`",
            ),
            (
                "unknown entry key",
                r#"{"matcher": [{"source": "/", "src": "/"}]}"#,
                "matcher[0]",
                false,
                "unknown key \"src\"",
            ),
            (
                "missing source",
                r#"{"matcher": [{}]}"#,
                "matcher[0]",
                false,
                "missing field `source`",
            ),
            (
                "source type",
                r#"{"matcher": [{"source": 3}]}"#,
                "matcher[0].source",
                false,
                "expected a string",
            ),
            (
                "has type",
                r#"{"matcher": [{"source": "/", "has": {}}]}"#,
                "matcher[0].has",
                false,
                "expected a sequence",
            ),
            (
                "condition as a list",
                r#"{"matcher": [{"source": "/", "has": [["header", "a"]]}]}"#,
                "matcher[0].has[0]",
                false,
                "expected a condition object",
            ),
            (
                "unknown item key",
                r#"{"matcher": ["/", {"source": "/", "has": [{"type": "header", "key": "a", "valeu": "b"}]}]}"#,
                "matcher[1].has[0]",
                false,
                "unknown key \"valeu\"",
            ),
            (
                "unknown type",
                r#"{"matcher": [{"source": "/", "missing": [{"type": "ip"}]}]}"#,
                "matcher[0].missing[0].type",
                false,
                "unknown condition type \"ip\"",
            ),
            (
                "value type",
                r#"{"matcher": [{"source": "/", "has": [{"type": "query", "key": "a", "value": 1}]}]}"#,
                "matcher[0].has[0].value",
                false,
                "expected a string",
            ),
            (
                "null key",
                r#"{"matcher": [{"source": "/", "has": [{"type": "query", "key": null}]}]}"#,
                "matcher[0].has[0].key",
                false,
                "invalid type: null",
            ),
            (
                "locale type",
                r#"{"matcher": [{"source": "/", "locale": "no"}]}"#,
                "matcher[0].locale",
                false,
                "expected a boolean",
            ),
        ];
        for (name, json, place, syntax, fragment) in rows {
            let e = parse_json(json).expect_err(name);
            assert_eq!(e.location(), *place, "{name}: {e}");
            assert_eq!(e.is_syntax(), *syntax, "{name}: {e}");
            assert_eq!(e.is_schema(), !*syntax, "{name}: {e}");
            assert!(e.to_string().contains(fragment), "{name}: {e}");
        }
    }
}
