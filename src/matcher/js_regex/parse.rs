//! Parsing: JavaScript regular expression syntax (no flags, non-Unicode mode, with the
//! leniencies of ECMA-262 Annex B.1.2 that browsers and Node accept) into an
//! [`ast::Node`](super::ast::Node) tree.
//!
//! Character classes are resolved here to sorted, merged ranges with their JavaScript
//! meaning (`\d` is `[0-9]`, `\s` includes U+FEFF, `.` excludes the four line
//! terminators), so that emitting them needs no knowledge of JavaScript.

use super::ast::{JsRegex, Node};

/// A syntax error, with the character position in the regex source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsRegexError {
    pub(crate) message: String,
    pub(crate) pos: usize,
}

const MAX_CHAR: char = char::MAX;

fn err<T>(message: impl Into<String>, pos: usize) -> Result<T, JsRegexError> {
    Err(JsRegexError {
        message: message.into(),
        pos,
    })
}

/// JavaScript's `\s`.
fn space_ranges() -> Vec<(char, char)> {
    vec![
        ('\t', '\r'),
        (' ', ' '),
        ('\u{a0}', '\u{a0}'),
        ('\u{1680}', '\u{1680}'),
        ('\u{2000}', '\u{200a}'),
        ('\u{2028}', '\u{2029}'),
        ('\u{202f}', '\u{202f}'),
        ('\u{205f}', '\u{205f}'),
        ('\u{3000}', '\u{3000}'),
        ('\u{feff}', '\u{feff}'),
    ]
}

fn digit_ranges() -> Vec<(char, char)> {
    vec![('0', '9')]
}

fn word_ranges() -> Vec<(char, char)> {
    vec![('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')]
}

/// Sorts and merges ranges.
fn normalize(mut ranges: Vec<(char, char)>) -> Vec<(char, char)> {
    ranges.sort_unstable();
    let mut out: Vec<(char, char)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        if let Some(last) = out.last_mut()
            && ((last.1 as u32).saturating_add(1) >= lo as u32 || next_char(last.1) == Some(lo))
        {
            if hi > last.1 {
                last.1 = hi;
            }
            continue;
        }
        out.push((lo, hi));
    }
    out
}

fn next_char(c: char) -> Option<char> {
    match c {
        '\u{d7ff}' => Some('\u{e000}'),
        MAX_CHAR => None,
        _ => char::from_u32(c as u32 + 1),
    }
}

fn prev_char(c: char) -> Option<char> {
    match c {
        '\u{e000}' => Some('\u{d7ff}'),
        '\0' => None,
        _ => char::from_u32(c as u32 - 1),
    }
}

/// The complement of normalized ranges.
fn complement(ranges: &[(char, char)]) -> Vec<(char, char)> {
    let mut out = Vec::new();
    let mut next = Some('\0');
    for &(lo, hi) in ranges {
        if let Some(n) = next
            && n < lo
            && let Some(p) = prev_char(lo)
        {
            out.push((n, p));
        }
        next = next_char(hi);
    }
    if let Some(n) = next {
        out.push((n, MAX_CHAR));
    }
    out
}

/// A class escape (`\d` ...) or a single character, inside a class.
enum ClassAtom {
    Char(char),
    Set(Vec<(char, char)>),
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    group_count: usize,
    /// Group names with their 1-based group numbers, in opening order.
    names: Vec<(String, usize)>,
    groups: Vec<Option<String>>,
}

/// Parses a JavaScript regular expression source (as given to `new RegExp`).
pub(crate) fn parse(source: &str) -> Result<JsRegex, JsRegexError> {
    let chars: Vec<char> = source.chars().collect();
    let (group_count, names) = prescan(&chars);
    let mut p = Parser {
        chars: &chars,
        pos: 0,
        group_count,
        names,
        groups: Vec::new(),
    };
    let ast = p.parse_alt(0)?;
    if p.pos < chars.len() {
        // Only a stray ')' stops the top-level alternation early.
        return err("Unmatched ')'", p.pos);
    }
    Ok(JsRegex {
        ast,
        groups: p.groups,
    })
}

/// Counts capturing groups and collects group names with their numbers, ahead of parsing
/// (a back-reference may point forward).
fn prescan(chars: &[char]) -> (usize, Vec<(String, usize)>) {
    let mut count = 0;
    let mut names = Vec::new();
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' => in_class = true,
            ']' => in_class = false,
            '(' if !in_class => {
                if chars.get(i + 1) != Some(&'?') {
                    count += 1;
                } else if chars.get(i + 2) == Some(&'<')
                    && !matches!(chars.get(i + 3), Some('=') | Some('!'))
                {
                    count += 1;
                    let name: String = chars[i + 3..].iter().take_while(|c| **c != '>').collect();
                    names.push((name, count));
                }
            }
            _ => {}
        }
        i += 1;
    }
    (count, names)
}

fn is_ident_start(c: char) -> bool {
    c == '$' || c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '$' || c == '_' || c == '\u{200c}' || c == '\u{200d}' || c.is_alphanumeric()
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn parse_alt(&mut self, depth: usize) -> Result<Node, JsRegexError> {
        if depth > 200 {
            return err("Regular expression nested too deeply", self.pos);
        }
        let mut branches = vec![self.parse_concat(depth)?];
        while self.eat('|') {
            branches.push(self.parse_concat(depth)?);
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Concat(Vec::new()))
        } else {
            Node::Alt(branches)
        })
    }

    fn parse_concat(&mut self, depth: usize) -> Result<Node, JsRegexError> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let start = self.pos;
            let atom = self.parse_atom(depth)?;
            let quantifiable = match &atom {
                Node::Start | Node::End | Node::WordBoundary(_) => false,
                Node::Look { ahead, .. } => *ahead,
                _ => true,
            };
            if let Some((min, max)) = self.try_quantifier()? {
                if !quantifiable {
                    return err("Nothing to repeat", start);
                }
                let greedy = !self.eat('?');
                items.push(Node::Repeat {
                    inner: Box::new(atom),
                    min,
                    max,
                    greedy,
                });
            } else {
                items.push(atom);
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Node::Concat(Vec::new()))
        } else {
            Node::Concat(items)
        })
    }

    /// Reads `{n}`, `{n,}` or `{n,m}` at the current position without
    /// consuming anything if it is not one.
    fn brace_quantifier(&self) -> Option<(u32, Option<u32>, usize)> {
        let mut i = self.pos;
        if self.chars.get(i) != Some(&'{') {
            return None;
        }
        i += 1;
        let read_num = |i: &mut usize| -> Option<u32> {
            let s = *i;
            let mut v: u32 = 0;
            while let Some(d) = self.chars.get(*i).and_then(|c| c.to_digit(10)) {
                v = v.saturating_mul(10).saturating_add(d);
                *i += 1;
            }
            (*i > s).then_some(v)
        };
        let min = read_num(&mut i)?;
        let max = if self.chars.get(i) == Some(&',') {
            i += 1;
            if self.chars.get(i) == Some(&'}') {
                None
            } else {
                Some(read_num(&mut i)?)
            }
        } else {
            Some(min)
        };
        if self.chars.get(i) != Some(&'}') {
            return None;
        }
        Some((min, max, i + 1))
    }

    fn try_quantifier(&mut self) -> Result<Option<(u32, Option<u32>)>, JsRegexError> {
        let start = self.pos;
        let q = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => match self.brace_quantifier() {
                Some((min, max, end)) => {
                    if max.is_some_and(|m| m < min) {
                        return err("numbers out of order in {} quantifier", start);
                    }
                    self.pos = end;
                    return Ok(Some((min, max)));
                }
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        self.pos += 1;
        Ok(Some(q))
    }

    fn parse_atom(&mut self, depth: usize) -> Result<Node, JsRegexError> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return err("Unexpected end of pattern", start);
        };
        self.pos += 1;
        match c {
            '^' => Ok(Node::Start),
            '$' => Ok(Node::End),
            '.' => Ok(Node::Class(complement(&normalize(vec![
                ('\n', '\n'),
                ('\r', '\r'),
                ('\u{2028}', '\u{2029}'),
            ])))),
            '*' | '+' | '?' => err("Nothing to repeat", start),
            '{' => {
                self.pos = start;
                if self.brace_quantifier().is_some() {
                    return err("Nothing to repeat", start);
                }
                self.pos = start + 1;
                Ok(Node::Char('{'))
            }
            '(' => self.parse_group(start, depth),
            '[' => self.parse_class(start),
            '\\' => self.parse_escape(start),
            other => Ok(Node::Char(other)),
        }
    }

    fn parse_group(&mut self, start: usize, depth: usize) -> Result<Node, JsRegexError> {
        enum Kind {
            Capture(Option<String>),
            NonCapture,
            Look(bool, bool),
        }
        let kind = if self.eat('?') {
            match self.peek() {
                Some(':') => {
                    self.pos += 1;
                    Kind::NonCapture
                }
                Some('=') => {
                    self.pos += 1;
                    Kind::Look(true, false)
                }
                Some('!') => {
                    self.pos += 1;
                    Kind::Look(true, true)
                }
                Some('<') if matches!(self.peek_at(1), Some('=') | Some('!')) => {
                    let negate = self.peek_at(1) == Some('!');
                    self.pos += 2;
                    Kind::Look(false, negate)
                }
                Some('<') => {
                    self.pos += 1;
                    let name_start = self.pos;
                    let mut name = String::new();
                    while let Some(c) = self.peek() {
                        if c == '>' {
                            break;
                        }
                        let ok = if name.is_empty() {
                            is_ident_start(c)
                        } else {
                            is_ident_continue(c)
                        };
                        if !ok {
                            return err("Invalid capture group name", self.pos);
                        }
                        name.push(c);
                        self.pos += 1;
                    }
                    if name.is_empty() || !self.eat('>') {
                        return err("Invalid capture group name", name_start);
                    }
                    if self
                        .groups
                        .iter()
                        .any(|g| g.as_deref() == Some(name.as_str()))
                    {
                        return err("Duplicate capture group name", name_start);
                    }
                    Kind::Capture(Some(name))
                }
                _ => return err("Invalid group", start),
            }
        } else {
            Kind::Capture(None)
        };
        let index = if let Kind::Capture(name) = &kind {
            self.groups.push(name.clone());
            Some(self.groups.len())
        } else {
            None
        };
        let inner = self.parse_alt(depth + 1)?;
        if !self.eat(')') {
            return err("Unterminated group", start);
        }
        Ok(match kind {
            Kind::Look(ahead, negate) => Node::Look {
                ahead,
                negate,
                inner: Box::new(inner),
            },
            _ => Node::Group(index, Box::new(inner)),
        })
    }

    fn hex(&self, from: usize, len: usize) -> Option<u32> {
        let digits = self.chars.get(from..from + len)?;
        let mut v = 0u32;
        for d in digits {
            v = v * 16 + d.to_digit(16)?;
        }
        Some(v)
    }

    /// `\u` escape (the `u` already consumed): a code unit, a surrogate pair
    /// combined into one character, or `None` when not followed by 4 hex
    /// digits (then it means a literal `u`).
    fn unicode_escape(&mut self, start: usize) -> Result<Option<char>, JsRegexError> {
        let Some(unit) = self.hex(self.pos, 4) else {
            return Ok(None);
        };
        self.pos += 4;
        if (0xd800..0xdc00).contains(&unit)
            && self.chars.get(self.pos) == Some(&'\\')
            && self.chars.get(self.pos + 1) == Some(&'u')
            && let Some(low) = self.hex(self.pos + 2, 4)
            && (0xdc00..0xe000).contains(&low)
        {
            self.pos += 6;
            let cp = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
            return Ok(char::from_u32(cp));
        }
        match char::from_u32(unit) {
            Some(c) => Ok(Some(c)),
            None => err("Lone surrogate escapes are not supported", start),
        }
    }

    /// Legacy octal escape (Annex B), the first digit not yet consumed.
    fn octal(&mut self) -> char {
        let mut v = 0u32;
        let mut n = 0;
        while n < 3 {
            match self.peek().and_then(|c| c.to_digit(8)) {
                Some(d) if v * 8 + d <= 0o377 => {
                    v = v * 8 + d;
                    self.pos += 1;
                    n += 1;
                }
                _ => break,
            }
        }
        char::from_u32(v).unwrap_or('\0')
    }

    /// Escapes shared by classes and atoms; `None` for the ones that differ.
    fn common_escape(&mut self, c: char, start: usize) -> Result<Option<ClassAtom>, JsRegexError> {
        let atom = match c {
            'd' => ClassAtom::Set(digit_ranges()),
            'D' => ClassAtom::Set(complement(&digit_ranges())),
            'w' => ClassAtom::Set(word_ranges()),
            'W' => ClassAtom::Set(complement(&word_ranges())),
            's' => ClassAtom::Set(normalize(space_ranges())),
            'S' => ClassAtom::Set(complement(&normalize(space_ranges()))),
            't' => ClassAtom::Char('\t'),
            'n' => ClassAtom::Char('\n'),
            'v' => ClassAtom::Char('\u{b}'),
            'f' => ClassAtom::Char('\u{c}'),
            'r' => ClassAtom::Char('\r'),
            'x' => match self.hex(self.pos, 2) {
                Some(v) => {
                    self.pos += 2;
                    ClassAtom::Char(char::from_u32(v).unwrap_or('x'))
                }
                None => ClassAtom::Char('x'),
            },
            'u' => ClassAtom::Char(self.unicode_escape(start)?.unwrap_or('u')),
            _ => return Ok(None),
        };
        Ok(Some(atom))
    }

    fn parse_escape(&mut self, start: usize) -> Result<Node, JsRegexError> {
        let Some(c) = self.peek() else {
            return err("\\ at end of pattern", start);
        };
        self.pos += 1;
        if let Some(atom) = self.common_escape(c, start)? {
            return Ok(match atom {
                ClassAtom::Char(ch) => Node::Char(ch),
                ClassAtom::Set(s) => Node::Class(s),
            });
        }
        Ok(match c {
            'b' => Node::WordBoundary(false),
            'B' => Node::WordBoundary(true),
            'c' => match self.peek() {
                Some(l) if l.is_ascii_alphabetic() => {
                    self.pos += 1;
                    Node::Char(char::from_u32(l as u32 % 32).unwrap_or('\0'))
                }
                _ => {
                    // Annex B: a lone `\c` is a literal backslash.
                    self.pos -= 1;
                    Node::Char('\\')
                }
            },
            '0' if !self.peek().is_some_and(|d| d.is_ascii_digit()) => Node::Char('\0'),
            '1'..='9' => {
                let mut end = self.pos - 1;
                let mut n: usize = 0;
                while let Some(d) = self.chars.get(end).and_then(|c| c.to_digit(10)) {
                    n = n.saturating_mul(10).saturating_add(d as usize);
                    end += 1;
                }
                if n <= self.group_count {
                    self.pos = end;
                    Node::Backref(n)
                } else if c == '8' || c == '9' {
                    Node::Char(c)
                } else {
                    self.pos -= 1;
                    Node::Char(self.octal())
                }
            }
            '0' => {
                self.pos -= 1;
                Node::Char(self.octal())
            }
            'k' if !self.names.is_empty() => {
                if !self.eat('<') {
                    return err("Invalid named reference", start);
                }
                let name: String = self.chars[self.pos..]
                    .iter()
                    .take_while(|c| **c != '>')
                    .collect();
                self.pos += name.chars().count();
                if !self.eat('>') {
                    return err("Invalid named reference", start);
                }
                match self.names.iter().find(|(n, _)| *n == name) {
                    // Group numbers follow opening order, as the prescan counted them.
                    Some(&(_, index)) => Node::Backref(index),
                    None => return err("Invalid named capture referenced", start),
                }
            }
            other => Node::Char(other),
        })
    }

    fn class_atom(&mut self) -> Result<ClassAtom, JsRegexError> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return err("Unterminated character class", start);
        };
        self.pos += 1;
        if c != '\\' {
            return Ok(ClassAtom::Char(c));
        }
        let Some(e) = self.peek() else {
            return err("\\ at end of pattern", start);
        };
        self.pos += 1;
        if let Some(atom) = self.common_escape(e, start)? {
            return Ok(atom);
        }
        Ok(ClassAtom::Char(match e {
            'b' => '\u{8}',
            'c' => match self.peek() {
                Some(l) if l.is_ascii_alphanumeric() || l == '_' => {
                    self.pos += 1;
                    char::from_u32(l as u32 % 32).unwrap_or('\0')
                }
                _ => {
                    self.pos -= 1;
                    '\\'
                }
            },
            '0'..='7' => {
                self.pos -= 1;
                self.octal()
            }
            other => other,
        }))
    }

    fn parse_class(&mut self, start: usize) -> Result<Node, JsRegexError> {
        let negated = self.eat('^');
        let mut ranges = Vec::new();
        loop {
            match self.peek() {
                None => return err("Unterminated character class", start),
                Some(']') => {
                    self.pos += 1;
                    break;
                }
                _ => {}
            }
            let range_start = self.pos;
            let a = self.class_atom()?;
            if self.peek() == Some('-') && self.peek_at(1).is_some_and(|c| c != ']') {
                self.pos += 1;
                let b = self.class_atom()?;
                match (a, b) {
                    (ClassAtom::Char(lo), ClassAtom::Char(hi)) => {
                        if lo > hi {
                            return err("Range out of order in character class", range_start);
                        }
                        ranges.push((lo, hi));
                    }
                    (a, b) => {
                        // Annex B: a range with a class escape is a union
                        // with a literal '-'.
                        for atom in [a, b] {
                            match atom {
                                ClassAtom::Char(c) => ranges.push((c, c)),
                                ClassAtom::Set(s) => ranges.extend(s),
                            }
                        }
                        ranges.push(('-', '-'));
                    }
                }
            } else {
                match a {
                    ClassAtom::Char(c) => ranges.push((c, c)),
                    ClassAtom::Set(s) => ranges.extend(s),
                }
            }
        }
        let ranges = normalize(ranges);
        Ok(Node::Class(if negated {
            complement(&ranges)
        } else {
            ranges
        }))
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors() {
        let rows: &[(&str, &str, usize)] = &[
            ("nothing to repeat", "*a", 0),
            ("nothing to repeat brace", "a{1}{2}", 4),
            ("unterminated group", "a(b", 1),
            ("unmatched paren", "a)b", 1),
            ("unterminated class", "[ab", 0),
            ("range order", "[z-a]", 1),
            ("quantifier order", "a{3,2}", 1),
            ("trailing backslash", "a\\", 1),
            ("invalid group", "(?x)", 0),
            ("duplicate name", "(?<a>x)(?<a>y)", 10),
            ("bad named ref", r"(?<a>x)\k<b>", 7),
            ("anchor repeat", "^*", 0),
        ];
        for (name, src, pos) in rows {
            let e = parse(src).expect_err(name);
            assert_eq!(e.pos, *pos, "{name}: {e:?}");
        }
    }
}
