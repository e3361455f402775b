//! Next.js path sources: the path-to-regexp 6.3 syntax (lexer, parser and
//! `tokensToRegexp` with the default options), producing a JavaScript regex
//! source that [`super::js_regex`] then compiles.

use super::js_regex::{self, JsRegex};

/// A source that does not compile, with the character position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathError {
    pub(crate) message: String,
    pub(crate) pos: usize,
}

fn err<T>(message: impl Into<String>, pos: usize) -> Result<T, PathError> {
    Err(PathError {
        message: message.into(),
        pos,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Modifier,
    EscapedChar,
    Open,
    Close,
    Name,
    Pattern,
    Char,
    End,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Modifier => "MODIFIER",
            Kind::EscapedChar => "ESCAPED_CHAR",
            Kind::Open => "OPEN",
            Kind::Close => "CLOSE",
            Kind::Name => "NAME",
            Kind::Pattern => "PATTERN",
            Kind::Char => "CHAR",
            Kind::End => "END",
        }
    }
}

#[derive(Debug, Clone)]
struct LexToken {
    kind: Kind,
    index: usize,
    value: String,
}

fn lex(chars: &[char]) -> Result<Vec<LexToken>, PathError> {
    let mut tokens = Vec::new();
    let mut i = 0;
    let push = |tokens: &mut Vec<LexToken>, kind, index, value: String| {
        tokens.push(LexToken { kind, index, value });
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' | '+' | '?' => {
                push(&mut tokens, Kind::Modifier, i, c.to_string());
                i += 1;
            }
            '\\' => match chars.get(i + 1) {
                Some(n) => {
                    push(&mut tokens, Kind::EscapedChar, i, n.to_string());
                    i += 2;
                }
                None => return err(format!("Unexpected ESCAPED_CHAR at {i}, expected END"), i),
            },
            '{' => {
                push(&mut tokens, Kind::Open, i, c.to_string());
                i += 1;
            }
            '}' => {
                push(&mut tokens, Kind::Close, i, c.to_string());
                i += 1;
            }
            ':' => {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                if j == i + 1 {
                    return err(format!("Missing parameter name at {i}"), i);
                }
                push(&mut tokens, Kind::Name, i, chars[i + 1..j].iter().collect());
                i = j;
            }
            '(' => {
                let mut count = 1;
                let mut j = i + 1;
                let mut pattern = String::new();
                if chars.get(j) == Some(&'?') {
                    return err(format!("Pattern cannot start with \"?\" at {j}"), j);
                }
                while j < chars.len() {
                    if chars[j] == '\\' {
                        pattern.push(chars[j]);
                        if let Some(n) = chars.get(j + 1) {
                            pattern.push(*n);
                        }
                        j += 2;
                        continue;
                    }
                    if chars[j] == ')' {
                        count -= 1;
                        if count == 0 {
                            j += 1;
                            break;
                        }
                    } else if chars[j] == '(' {
                        count += 1;
                        if chars.get(j + 1) != Some(&'?') {
                            return err(format!("Capturing groups are not allowed at {j}"), j);
                        }
                    }
                    pattern.push(chars[j]);
                    j += 1;
                }
                if count != 0 {
                    return err(format!("Unbalanced pattern at {i}"), i);
                }
                if pattern.is_empty() {
                    return err(format!("Missing pattern at {i}"), i);
                }
                push(&mut tokens, Kind::Pattern, i, pattern);
                i = j;
            }
            _ => {
                push(&mut tokens, Kind::Char, i, c.to_string());
                i += 1;
            }
        }
    }
    push(&mut tokens, Kind::End, i, String::new());
    Ok(tokens)
}

/// A parsed path token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Text(String),
    Key {
        name: String,
        prefix: String,
        suffix: String,
        /// The JS regex of the parameter; empty for a group with only text.
        pattern: String,
        /// Where a custom pattern starts in the source (characters).
        pattern_pos: Option<usize>,
        modifier: String,
    },
}

const DELIMITER: &str = "/#?";
const PREFIXES: &str = "./";

/// path-to-regexp's `escapeString`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if ".+*?=^!:${}()[]|/\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

struct Parser {
    tokens: Vec<LexToken>,
    i: usize,
    result: Vec<Token>,
    auto: usize,
}

impl Parser {
    fn try_consume(&mut self, kind: Kind) -> Option<(String, usize)> {
        let t = self.tokens.get(self.i)?;
        if t.kind == kind {
            self.i += 1;
            Some((t.value.clone(), t.index))
        } else {
            None
        }
    }

    fn must_consume(&mut self, kind: Kind) -> Result<(), PathError> {
        if self.try_consume(kind).is_some() {
            return Ok(());
        }
        let (found, index) = self
            .tokens
            .get(self.i)
            .map_or((Kind::End, 0), |t| (t.kind, t.index));
        err(
            format!(
                "Unexpected {} at {index}, expected {}",
                found.label(),
                kind.label()
            ),
            index,
        )
    }

    fn consume_text(&mut self) -> String {
        let mut out = String::new();
        while let Some((v, _)) = self
            .try_consume(Kind::Char)
            .or_else(|| self.try_consume(Kind::EscapedChar))
        {
            out.push_str(&v);
        }
        out
    }

    fn safe_pattern(&self, prefix: &str, pos: usize) -> Result<String, PathError> {
        let prev = self.result.last();
        let prev_text = if !prefix.is_empty() {
            prefix
        } else if let Some(Token::Text(t)) = prev {
            t.as_str()
        } else {
            ""
        };
        if let (Some(prev), true) = (prev, prev_text.is_empty()) {
            let name = match prev {
                Token::Key { name, .. } => name.as_str(),
                Token::Text(_) => "",
            };
            return err(
                format!("Must have text between two parameters, missing text after \"{name}\""),
                pos,
            );
        }
        if prev_text.is_empty() || prev_text.chars().any(|c| DELIMITER.contains(c)) {
            return Ok(r"[^\/#\?]+?".to_owned());
        }
        let mut chars = prev_text.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            // `(?:(?!X)[^/#?])+?` is the class `[^/#?X]+?`.
            return Ok(format!(r"[^\/#\?{}]+?", escape(&c.to_string())));
        }
        Ok(format!(r"(?:(?!{})[^\/#\?])+?", escape(prev_text)))
    }

    fn next_auto(&mut self) -> String {
        let n = self.auto;
        self.auto += 1;
        n.to_string()
    }

    fn parse(mut self) -> Result<Vec<Token>, PathError> {
        let mut path = String::new();
        loop {
            let ch = self.try_consume(Kind::Char);
            let name = self.try_consume(Kind::Name);
            let pattern = self.try_consume(Kind::Pattern);
            if name.is_some() || pattern.is_some() {
                let mut prefix = ch.map(|c| c.0).unwrap_or_default();
                if !prefix.is_empty() && !PREFIXES.contains(prefix.as_str()) {
                    path.push_str(&prefix);
                    prefix.clear();
                }
                if !path.is_empty() {
                    self.result.push(Token::Text(std::mem::take(&mut path)));
                }
                let pos = name
                    .as_ref()
                    .or(pattern.as_ref())
                    .map_or(0, |(_, index)| *index);
                let key_name = match &name {
                    Some((n, _)) => n.clone(),
                    None => self.next_auto(),
                };
                let (pattern, pattern_pos) = match pattern {
                    Some((p, index)) => (p, Some(index + 1)),
                    None => (self.safe_pattern(&prefix, pos)?, None),
                };
                let modifier = self
                    .try_consume(Kind::Modifier)
                    .map(|m| m.0)
                    .unwrap_or_default();
                self.result.push(Token::Key {
                    name: key_name,
                    prefix,
                    suffix: String::new(),
                    pattern,
                    pattern_pos,
                    modifier,
                });
                continue;
            }
            let value = ch.or_else(|| self.try_consume(Kind::EscapedChar));
            if let Some((v, _)) = value {
                path.push_str(&v);
                continue;
            }
            if !path.is_empty() {
                self.result.push(Token::Text(std::mem::take(&mut path)));
            }
            if let Some((_, open_index)) = self.try_consume(Kind::Open) {
                let prefix = self.consume_text();
                let name = self.try_consume(Kind::Name);
                let pattern = self.try_consume(Kind::Pattern);
                let suffix = self.consume_text();
                self.must_consume(Kind::Close)?;
                let key_name = match (&name, &pattern) {
                    (Some((n, _)), _) => n.clone(),
                    (None, Some(_)) => self.next_auto(),
                    (None, None) => String::new(),
                };
                let (pattern, pattern_pos) = match (&name, pattern) {
                    (_, Some((p, index))) => (p, Some(index + 1)),
                    (Some((_, index)), None) => (self.safe_pattern(&prefix, *index)?, None),
                    (None, None) => (String::new(), None),
                };
                let _ = open_index;
                let modifier = self
                    .try_consume(Kind::Modifier)
                    .map(|m| m.0)
                    .unwrap_or_default();
                self.result.push(Token::Key {
                    name: key_name,
                    prefix,
                    suffix,
                    pattern,
                    pattern_pos,
                    modifier,
                });
                continue;
            }
            self.must_consume(Kind::End)?;
            break;
        }
        Ok(self.result)
    }
}

/// Parses a source into tokens (path-to-regexp's `parse`).
pub(crate) fn parse(source: &str) -> Result<Vec<Token>, PathError> {
    let chars: Vec<char> = source.chars().collect();
    let tokens = lex(&chars)?;
    Parser {
        tokens,
        i: 0,
        result: Vec::new(),
        auto: 0,
    }
    .parse()
}

/// A compiled source: the JavaScript regex and the names of its keys.
#[derive(Debug, Clone)]
pub(crate) struct CompiledPath {
    /// The regex source, as Next.js would build it.
    #[allow(dead_code)] // diagnostics and tests
    pub(crate) js_source: String,
    /// The parsed regex, with every capturing group named (keys get their
    /// parameter names; named groups in custom patterns keep theirs).
    pub(crate) regex: JsRegex,
}

/// Compiles a source (path-to-regexp's `tokensToRegexp`, default options).
pub(crate) fn compile(source: &str) -> Result<CompiledPath, PathError> {
    let tokens = parse(source)?;
    let mut route = String::from("^");
    let mut key_names = Vec::new();
    for token in &tokens {
        match token {
            Token::Text(t) => route.push_str(&escape(t)),
            Token::Key {
                name,
                prefix,
                suffix,
                pattern,
                pattern_pos,
                modifier,
            } => {
                if let Some(pos) = pattern_pos {
                    // Check the custom pattern alone, for a precise position.
                    if let Err(e) = js_regex::parse(pattern) {
                        return err(
                            format!("Invalid regular expression in pattern: {}", e.message),
                            pos + e.pos,
                        );
                    }
                }
                let prefix = escape(prefix);
                let suffix = escape(suffix);
                if pattern.is_empty() {
                    route.push_str(&format!("(?:{prefix}{suffix}){modifier}"));
                    continue;
                }
                key_names.push(name.clone());
                let repeat = modifier == "+" || modifier == "*";
                if !prefix.is_empty() || !suffix.is_empty() {
                    if repeat {
                        let m = if modifier == "*" { "?" } else { "" };
                        route.push_str(&format!(
                            "(?:{prefix}((?:{pattern})(?:{suffix}{prefix}(?:{pattern}))*){suffix}){m}"
                        ));
                    } else {
                        route.push_str(&format!("(?:{prefix}({pattern}){suffix}){modifier}"));
                    }
                } else {
                    if repeat {
                        return err(
                            format!("Can not repeat \"{name}\" without a prefix and suffix"),
                            0,
                        );
                    }
                    route.push_str(&format!("({pattern}){modifier}"));
                }
            }
        }
    }
    route.push_str(r"[\/#\?]?$");
    let mut regex = js_regex::parse(&route).map_err(|e| PathError {
        message: format!("Invalid regular expression: {}", e.message),
        pos: 0,
    })?;
    let mut keys = key_names.into_iter();
    for (i, group) in regex.groups.iter_mut().enumerate() {
        if group.is_none() {
            *group = Some(keys.next().unwrap_or_else(|| i.to_string()));
        }
    }
    Ok(CompiledPath {
        js_source: route,
        regex,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_sources_like_path_to_regexp() {
        // Expected sources written from the path-to-regexp 6.3 rules.
        let rows: &[(&str, &str, &str)] = &[
            ("root", "/", r"^\/[\/#\?]?$"),
            ("param", "/a/:b", r"^\/a(?:\/([^\/#\?]+?))[\/#\?]?$"),
            (
                "star",
                "/a/:p*",
                r"^\/a(?:\/((?:[^\/#\?]+?)(?:\/(?:[^\/#\?]+?))*))?[\/#\?]?$",
            ),
            ("unnamed", "/f/(.*)", r"^\/f(?:\/(.*))[\/#\?]?$"),
            ("custom", r"/u/:id(\d+)", r"^\/u(?:\/(\d+))[\/#\?]?$"),
            (
                "dash",
                "/a/:b-:c",
                r"^\/a(?:\/([^\/#\?]+?))-([^\/#\?-]+?)[\/#\?]?$",
            ),
            (
                "dot",
                "/d/:n.:e",
                r"^\/d(?:\/([^\/#\?]+?))(?:\.([^\/#\?\.]+?))[\/#\?]?$",
            ),
            (
                "group",
                "/shop{/:cat}?",
                r"^\/shop(?:\/([^\/#\?]+?))?[\/#\?]?$",
            ),
            ("text group", "/x{-y}?", r"^\/x(?:-y)?[\/#\?]?$"),
            ("escape", r"/a\:b", r"^\/a\:b[\/#\?]?$"),
            (
                "multi-char prev",
                "/{ab:x}",
                r"^\/(?:ab((?:(?!ab)[^\/#\?])+?))[\/#\?]?$",
            ),
        ];
        for (name, src, expected) in rows {
            let c = compile(src).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(c.js_source, *expected, "{name}");
        }
    }

    #[test]
    fn key_names() {
        let c = compile("/:a/(x)/{:b}?/:c((?<n>y))").unwrap();
        let names: Vec<_> = c.regex.groups.iter().map(|g| g.clone().unwrap()).collect();
        assert_eq!(names, ["a", "0", "b", "c", "n"]);
    }

    #[test]
    fn errors() {
        let rows: &[(&str, &str, &str, usize)] = &[
            ("missing name", "/:", "Missing parameter name at 1", 1),
            (
                "question pattern",
                "/(?x)",
                "Pattern cannot start with \"?\" at 2",
                2,
            ),
            (
                "capturing group",
                "/(a(b))",
                "Capturing groups are not allowed at 3",
                3,
            ),
            ("unbalanced", "/(ab", "Unbalanced pattern at 1", 1),
            ("empty pattern", "/()", "Missing pattern at 1", 1),
            (
                "lone modifier",
                "/*",
                "Unexpected MODIFIER at 1, expected END",
                1,
            ),
            (
                "open unclosed",
                "/{a",
                "Unexpected END at 3, expected CLOSE",
                3,
            ),
            (
                "stray close",
                "/a}",
                "Unexpected CLOSE at 2, expected END",
                2,
            ),
            (
                "two params",
                "/:a:b",
                "Must have text between two parameters",
                3,
            ),
            ("repeat no prefix", "/x(a)*", "Can not repeat \"0\"", 0),
            ("bad regex", "/:a([z-a])", "Range out of order", 5),
        ];
        for (name, src, msg, pos) in rows {
            let e = compile(src).expect_err(name);
            assert!(e.message.contains(msg), "{name}: {e:?}");
            assert_eq!(e.pos, *pos, "{name}: {e:?}");
        }
    }
}
