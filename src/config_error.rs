//! [`ConfigError`]: a matcher or rules config that does not load, with what and where.

use std::fmt;

/// A matcher, a rule or a config that does not load: what is wrong, where in the config,
/// and for a pattern the character position.
///
/// The place is a path into the config (`matcher[1]`, `redirects[2].source`,
/// `rewrites.beforeFiles[0].destination`, `redirects[0].statusCode`; empty for the whole
/// document). For a pattern that does not compile, `Display` marks the position with a caret
/// line:
///
/// ```text
/// redirects[0].source: "/a/(b" at position 3: invalid source: Unbalanced pattern at 3
///   /a/(b
///      ^
/// ```
///
/// The `is_*` predicates say what kind of mistake it is:
///
/// ```
/// use tower_proxy_fn::rules::Rules;
///
/// let err = Rules::from_json(r#"{"redirects": [{"source": "/a/(b", "destination": "/", "permanent": true}]}"#)
///     .unwrap_err();
/// assert!(err.is_pattern());
/// assert_eq!(err.location(), "redirects[0].source");
/// assert_eq!(err.position(), Some(3));
///
/// let err = Rules::from_json(r#"{"redirects": [{"source": "/a", "destination": "/", "statusCode": 200}]}"#)
///     .unwrap_err();
/// assert!(err.is_redirect_status());
/// assert_eq!(err.location(), "redirects[0].statusCode");
/// ```
#[derive(Debug)]
pub struct ConfigError {
    kind: Kind,
    location: String,
    text: Option<String>,
    position: Option<usize>,
    message: String,
}

/// What kind of mistake a [`ConfigError`] is; private so that a kind can be added or split
/// without breaking callers, who ask with the `is_*` predicates (as hyper's `Error` does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The text is not valid JSON.
    Syntax,
    /// A field is missing, unknown, or of the wrong type or value.
    Schema,
    /// A source or a condition's regular expression does not compile.
    Pattern,
    /// A redirect or rewrite destination is not one this crate can build.
    Destination,
    /// A redirect status that is not 301, 302, 303, 307 or 308.
    RedirectStatus,
    /// A headers rule's key or value is not a valid header name or value.
    Header,
    /// The i18n locales: none, one that is not a language tag, or a default not among them.
    Locale,
}

impl ConfigError {
    fn with_kind(kind: Kind, location: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            kind,
            location: location.into(),
            text: None,
            position: None,
            message: message.into(),
        }
    }

    /// A field that is missing, unknown, or of the wrong type or value.
    pub(crate) fn schema(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_kind(Kind::Schema, location, message)
    }

    /// A source or regular expression that does not compile; add the text with
    /// [`with_text`](Self::with_text) when the position is known.
    pub(crate) fn pattern(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_kind(Kind::Pattern, location, message)
    }

    /// A destination that cannot be built.
    pub(crate) fn destination(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_kind(Kind::Destination, location, message)
    }

    /// An invalid header name or value in a headers rule.
    pub(crate) fn header(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_kind(Kind::Header, location, message)
    }

    /// Locales that are not usable.
    pub(crate) fn locale(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_kind(Kind::Locale, location, message)
    }

    /// The offending text and, when known, the character position in it.
    pub(crate) fn with_text(mut self, text: impl Into<String>, position: Option<usize>) -> Self {
        self.text = Some(text.into());
        self.position = position;
        self
    }

    /// The same error at another place: a rule names its `source` field where the matcher
    /// named the entry.
    pub(crate) fn at(mut self, location: impl Into<String>) -> Self {
        self.location = location.into();
        self
    }

    /// Text that is not valid JSON; serde_json's message says the line and column.
    pub(crate) fn syntax(message: impl Into<String>) -> Self {
        Self::with_kind(Kind::Syntax, "", message)
    }

    /// A config that serde could not read into its types, at the place `serde_path_to_error`
    /// tracked.
    pub(crate) fn deserialize(path: &serde_path_to_error::Path, message: String) -> Self {
        let segments: Vec<_> = path.iter().collect();
        // An unknown key is reported at the object that holds it, as the key is not a place
        // whose value is wrong, and in the words the rest of the config errors use
        // (`tests/config_errors.rs`, `an_unknown_key_is_reported_at_the_object_that_holds_it`).
        let (message, unknown_key) = match unknown_key(&message) {
            Some(reworded) => (reworded, true),
            None => (message, false),
        };
        let shown = match segments.split_last() {
            Some((_, parent)) if unknown_key => parent,
            _ => &segments[..],
        };
        // `statusCode` is the only field that deserializes into a `RedirectStatus`; a key of
        // that name where none is allowed is an unknown key (both guarded by
        // `tests/config_errors.rs`, `a_status_code_that_is_not_a_redirect_is_refused_at_its_place`).
        let kind = match segments.last() {
            Some(serde_path_to_error::Segment::Map { key })
                if key == "statusCode" && !unknown_key =>
            {
                Kind::RedirectStatus
            }
            _ => Kind::Schema,
        };
        Self::with_kind(kind, place(shown), message)
    }

    /// Where the error is, e.g. `redirects[2].source` or `matcher[0].has[1].value` (`matcher`
    /// for a config whose `matcher` is a single string; empty for the whole document).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The offending source, destination or value, if the error concerns one.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The character position (0-based, in [`text`](Self::text)) of the error, if known.
    pub fn position(&self) -> Option<usize> {
        self.position
    }

    /// The error message, without the place and the caret line.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the text given to `from_json` is not valid JSON (the message says the line
    /// and column). Another format is read with its own crate into
    /// [`MatcherConfig`](crate::matcher::MatcherConfig) or
    /// [`RulesConfig`](crate::rules::RulesConfig), whose errors are that crate's.
    pub fn is_syntax(&self) -> bool {
        self.kind == Kind::Syntax
    }

    /// Whether a field is missing, unknown, or of the wrong type or value
    /// (`"permanent": "yes"`, `{"sorce": "/"}`, a `has` item without `type`).
    pub fn is_schema(&self) -> bool {
        self.kind == Kind::Schema
    }

    /// Whether a source, or a `has` / `missing` value, does not compile. The
    /// [`position`](Self::position) is then known when the parser could tell it.
    pub fn is_pattern(&self) -> bool {
        self.kind == Kind::Pattern
    }

    /// Whether a redirect or rewrite destination cannot be built (a relative path, a
    /// rewrite to another origin).
    pub fn is_destination(&self) -> bool {
        self.kind == Kind::Destination
    }

    /// Whether a redirect's `statusCode` is not 301, 302, 303, 307 or 308.
    pub fn is_redirect_status(&self) -> bool {
        self.kind == Kind::RedirectStatus
    }

    /// Whether a headers rule's key or value is not a valid header name or value.
    pub fn is_header(&self) -> bool {
        self.kind == Kind::Header
    }

    /// Whether the i18n locales are not usable: none, one that is not a language tag, or a
    /// default that is not one of them.
    pub fn is_locale(&self) -> bool {
        self.kind == Kind::Locale
    }
}

/// serde's ``unknown field `perm`, expected one of `source`, ...`` (from
/// `de::Error::unknown_field`, which every format keeps) as ``unknown key "perm" (expected
/// one of `source`, ...)``, with what the format put around it; `None` for another message.
fn unknown_key(message: &str) -> Option<String> {
    const SERDE: &str = "unknown field `";
    let start = message.find(SERDE)?;
    let name_start = start + SERDE.len();
    let name_len = message[name_start..].find('`')?;
    let name = &message[name_start..name_start + name_len];
    let rest = &message[name_start + name_len + 1..];
    let (expected, after) = match rest.strip_prefix(", ") {
        // serde's list ends the sentence; serde_json adds " at line L column C" after it,
        // TOML a new line.
        Some(rest) => match rest.find(" at line ").or_else(|| rest.find('\n')) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        },
        None => ("", rest),
    };
    let expected = if expected.is_empty() {
        String::new()
    } else {
        format!(" ({expected})")
    };
    Some(format!(
        "{}unknown key {name:?}{expected}{after}",
        &message[..start]
    ))
}

/// `redirects[0].source` from serde's path segments.
fn place(segments: &[&serde_path_to_error::Segment]) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => out.push_str(if out.is_empty() { "?" } else { ".?" }),
        }
    }
    out
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = if self.location.is_empty() {
            "config"
        } else {
            &self.location
        };
        match (&self.text, self.position) {
            (Some(text), Some(pos)) => {
                write!(f, "{loc}: {:?} at position {pos}: {}", text, self.message)?;
                // A control character would break the caret line's alignment.
                let shown: String = text
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                write!(f, "\n  {shown}\n  {}^", " ".repeat(pos))
            }
            (Some(text), None) => write!(f, "{loc}: {:?}: {}", text, self.message),
            _ => write!(f, "{loc}: {}", self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_marks_the_position_with_a_caret() {
        let e = ConfigError::pattern("matcher[1]", "invalid source: Unbalanced pattern at 3")
            .with_text("/a/(b", Some(3));
        assert_eq!(
            e.to_string(),
            "matcher[1]: \"/a/(b\" at position 3: invalid source: Unbalanced pattern at 3\n  /a/(b\n     ^"
        );
        assert!(e.is_pattern() && !e.is_schema());
    }

    #[test]
    fn display_without_place_names_the_config() {
        let e = ConfigError::schema("", "unknown field `x`");
        assert_eq!(e.to_string(), "config: unknown field `x`");
        let e = ConfigError::destination("rewrites[0].destination", "must start with \"/\"")
            .with_text("b", None);
        assert_eq!(
            e.to_string(),
            "rewrites[0].destination: \"b\": must start with \"/\""
        );
    }
}
