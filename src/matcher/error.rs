//! [`MatcherError`]: what failed, where in the config, and at which character.

use std::fmt;

/// A source, condition or config that does not compile.
///
/// The message names the place in the config (`matcher[2]`,
/// `matcher[0].has[1].value`), the offending text and, when known, the
/// character position, which the `Display` output marks with a caret line:
///
/// ```text
/// matcher[1]: invalid source "/a/(b" at position 3: Unbalanced pattern at 3
///   /a/(b
///      ^
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct MatcherError {
    location: String,
    text: Option<String>,
    position: Option<usize>,
    message: String,
}

impl MatcherError {
    pub(crate) fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        MatcherError {
            location: location.into(),
            text: None,
            position: None,
            message: message.into(),
        }
    }

    pub(crate) fn with_text(mut self, text: impl Into<String>, position: Option<usize>) -> Self {
        self.text = Some(text.into());
        self.position = position;
        self
    }

    /// Where in the config the error is, e.g. `matcher[0].has[1].value`
    /// (`matcher` for a config whose `matcher` is a single string; empty for
    /// an error about the whole document).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The offending source or condition value, if the error concerns one.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The character position (0-based, in [`text`](Self::text)) of the error, if known.
    pub fn position(&self) -> Option<usize> {
        self.position
    }

    /// The error message, without location and caret line.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for MatcherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = if self.location.is_empty() {
            "config"
        } else {
            &self.location
        };
        match (&self.text, self.position) {
            (Some(text), Some(pos)) => {
                write!(f, "{loc}: {:?} at position {pos}: {}", text, self.message)?;
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

impl std::error::Error for MatcherError {}
