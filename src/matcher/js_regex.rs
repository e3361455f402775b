//! JavaScript regular expressions (no flags, non-Unicode mode with the
//! Annex B leniencies) parsed into a small syntax tree and emitted as Rust
//! `regex` syntax, so that `\d`, `\w`, `\s`, `.`, `\b` and friends keep their
//! JavaScript meaning.
//!
//! Look-around and back-references cannot be expressed in `regex`; a tree that
//! contains them is compiled with `fancy-regex`, except for look-aheads at a
//! fixed offset on the mandatory path, which [`Program`] turns into separate
//! anchored "guard" regexes (see [`Program::compile`]).

use std::sync::Arc;

use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::{Anchored, Input};
use std::fmt::Write as _;

/// A syntax error, with the character position in the regex source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsRegexError {
    pub(crate) message: String,
    pub(crate) pos: usize,
}

/// A node of the syntax tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A literal character.
    Char(char),
    /// A set of characters, as sorted, merged, inclusive ranges.
    Class(Vec<(char, char)>),
    /// `^`
    Start,
    /// `$`
    End,
    /// `\b` (false) or `\B` (true), ASCII word characters.
    WordBoundary(bool),
    /// A group; `Some(index)` for a capturing one (1-based).
    Group(Option<usize>, Box<Node>),
    /// A look-around assertion.
    Look {
        ahead: bool,
        negate: bool,
        inner: Box<Node>,
    },
    /// A quantified node.
    Repeat {
        inner: Box<Node>,
        min: u32,
        max: Option<u32>,
        greedy: bool,
    },
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    /// A back-reference to a group (1-based).
    Backref(usize),
}

/// A parsed regular expression.
#[derive(Debug, Clone)]
pub(crate) struct JsRegex {
    pub(crate) ast: Node,
    /// Name of each capturing group, in order (group 1 first).
    pub(crate) groups: Vec<Option<String>>,
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

impl Node {
    /// Whether the node needs look-around or back-references.
    pub(crate) fn needs_fancy(&self) -> bool {
        match self {
            Node::Look { .. } | Node::Backref(_) => true,
            Node::Group(_, inner) | Node::Repeat { inner, .. } => inner.needs_fancy(),
            Node::Concat(v) | Node::Alt(v) => v.iter().any(Node::needs_fancy),
            _ => false,
        }
    }

    /// Whether the node contains a capturing group.
    pub(crate) fn has_capture(&self) -> bool {
        match self {
            Node::Group(Some(_), _) => true,
            Node::Group(None, inner) | Node::Repeat { inner, .. } | Node::Look { inner, .. } => {
                inner.has_capture()
            }
            Node::Concat(v) | Node::Alt(v) => v.iter().any(Node::has_capture),
            _ => false,
        }
    }

    /// Whether the node contains `^` or a word boundary (which look at text
    /// before the current position).
    fn looks_behind(&self) -> bool {
        match self {
            Node::Start | Node::WordBoundary(_) => true,
            Node::Look { ahead, inner, .. } => !ahead || inner.looks_behind(),
            Node::Group(_, inner) | Node::Repeat { inner, .. } => inner.looks_behind(),
            Node::Concat(v) | Node::Alt(v) => v.iter().any(Node::looks_behind),
            _ => false,
        }
    }

    /// Emits Rust regex syntax. Every group is emitted unnamed, so Rust group
    /// numbers equal JavaScript ones.
    pub(crate) fn emit(&self, out: &mut String, fancy: bool) {
        match self {
            Node::Char(c) => push_char(out, *c),
            Node::Class(ranges) => emit_class(ranges, out),
            Node::Start => out.push('^'),
            Node::End => out.push('$'),
            Node::WordBoundary(negate) => out.push_str(match (negate, fancy) {
                (false, false) => r"(?-u:\b)",
                (true, false) => r"(?-u:\B)",
                (false, true) => {
                    r"(?:(?<=[0-9A-Za-z_])(?![0-9A-Za-z_])|(?<![0-9A-Za-z_])(?=[0-9A-Za-z_]))"
                }
                (true, true) => {
                    r"(?:(?<=[0-9A-Za-z_])(?=[0-9A-Za-z_])|(?<![0-9A-Za-z_])(?![0-9A-Za-z_]))"
                }
            }),
            Node::Group(cap, inner) => {
                out.push_str(if cap.is_some() { "(" } else { "(?:" });
                inner.emit(out, fancy);
                out.push(')');
            }
            Node::Look {
                ahead,
                negate,
                inner,
            } => {
                out.push_str(match (ahead, negate) {
                    (true, false) => "(?=",
                    (true, true) => "(?!",
                    (false, false) => "(?<=",
                    (false, true) => "(?<!",
                });
                inner.emit(out, fancy);
                out.push(')');
            }
            Node::Repeat {
                inner,
                min,
                max,
                greedy,
            } => {
                let simple = matches!(**inner, Node::Char(_) | Node::Class(_) | Node::Group(..));
                if simple {
                    inner.emit(out, fancy);
                } else {
                    out.push_str("(?:");
                    inner.emit(out, fancy);
                    out.push(')');
                }
                match (min, max) {
                    (0, None) => out.push('*'),
                    (1, None) => out.push('+'),
                    (0, Some(1)) => out.push('?'),
                    (n, None) => {
                        let _ = write!(out, "{{{n},}}");
                    }
                    (n, Some(m)) if n == m => {
                        let _ = write!(out, "{{{n}}}");
                    }
                    (n, Some(m)) => {
                        let _ = write!(out, "{{{n},{m}}}");
                    }
                }
                if !greedy {
                    out.push('?');
                }
            }
            Node::Concat(items) => {
                for item in items {
                    if matches!(item, Node::Alt(_)) {
                        out.push_str("(?:");
                        item.emit(out, fancy);
                        out.push(')');
                    } else {
                        item.emit(out, fancy);
                    }
                }
            }
            Node::Alt(branches) => {
                for (i, b) in branches.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    b.emit(out, fancy);
                }
            }
            Node::Backref(n) => {
                let _ = write!(out, "\\{n}");
            }
        }
    }
}

fn push_char(out: &mut String, c: char) {
    if c.is_ascii_graphic() || c == ' ' {
        out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
    } else {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
    }
}

fn push_class_char(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
    }
}

fn emit_class(ranges: &[(char, char)], out: &mut String) {
    if ranges.is_empty() {
        // Matches nothing (JavaScript's `[]`).
        out.push_str(r"[a&&b]");
        return;
    }
    if ranges == [('\0', MAX_CHAR)] {
        out.push_str(r"(?s:.)");
        return;
    }
    out.push('[');
    for &(lo, hi) in ranges {
        push_class_char(out, lo);
        if hi != lo {
            out.push('-');
            push_class_char(out, hi);
        }
    }
    out.push(']');
}

/// Emits a whole tree as Rust regex syntax.
pub(crate) fn to_rust(node: &Node, fancy: bool) -> String {
    let mut s = String::new();
    node.emit(&mut s, fancy);
    s
}

/// A guard produced by lifting a look-ahead: at byte `offset` of the
/// haystack, `regex` (anchored) must match (`must_match`) or must not.
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    offset: usize,
    must_match: bool,
    regex: regex::Regex,
    /// The body as alternatives of fixed character sequences (each position
    /// a set of ranges), when it is that simple: checked without a regex.
    sequences: Option<Vec<Sequence>>,
}

/// A shortcut past the guards: when every guard is a negative look-ahead at one offset
/// whose alternatives are character sequences, the ASCII bytes that any alternative can
/// start with. A path whose byte at that offset is ASCII and none of them passes every
/// guard without reading them: `/page` against `(?!_next/static|_next/image|favicon.ico)`
/// is decided on its `p`.
#[derive(Debug, Clone, Copy)]
struct GuardSkip {
    offset: usize,
    /// A bit per ASCII byte, in two words: cheaper to test than one `u128`.
    first_bytes: [u64; 2],
}

impl GuardSkip {
    fn of(guards: &[Guard]) -> Option<Self> {
        let offset = guards.first()?.offset;
        let mut first_bytes = 0u128;
        for guard in guards {
            if guard.must_match || guard.offset != offset {
                return None;
            }
            for sequence in guard.sequences.as_ref()? {
                // An empty alternative matches at every offset: no shortcut.
                first_bytes |= sequence.positions.first()?.ascii;
            }
        }
        Some(GuardSkip {
            offset,
            first_bytes: [first_bytes as u64, (first_bytes >> 64) as u64],
        })
    }

    /// Whether `hay` passes every guard for sure (`false`: the guards must be read).
    #[inline]
    fn passes(&self, hay: &str) -> bool {
        // An ASCII byte always starts a character, so the guards would read from it.
        hay.as_bytes().get(self.offset).is_some_and(|&byte| {
            byte < 0x80 && (self.first_bytes[usize::from(byte >> 6)] >> (byte & 63)) & 1 == 0
        })
    }
}

impl Guard {
    #[inline]
    fn body_matches(&self, rest: &str) -> bool {
        match &self.sequences {
            Some(alts) => alts.iter().any(|seq| seq.matches_prefix(rest)),
            None => self.regex.is_match(rest),
        }
    }
}

/// The characters one position of a [`Sequence`] accepts: ASCII as a bit set, tested per
/// byte without decoding (paths are nearly all ASCII), the rest as ranges.
#[derive(Debug, Clone)]
struct Position {
    ascii: u128,
    other: Box<[(char, char)]>,
}

impl Position {
    fn new(ranges: &[(char, char)]) -> Self {
        let mut ascii = 0u128;
        let mut other = Vec::new();
        for &(lo, hi) in ranges {
            for c in (lo as u32)..=(hi as u32).min(0x7f) {
                ascii |= 1 << c;
            }
            if hi as u32 >= 0x80 {
                other.push((lo.max('\u{80}'), hi));
            }
        }
        Position {
            ascii,
            other: other.into(),
        }
    }
}

/// One alternative of a look-ahead body: a fixed run of positions, tested as a prefix.
#[derive(Debug, Clone)]
struct Sequence {
    positions: Box<[Position]>,
    /// The bytes, when every position is one ASCII character (`_next/static`): a plain
    /// prefix comparison.
    literal: Option<Box<[u8]>>,
}

impl Sequence {
    fn new(positions: Vec<Position>) -> Self {
        let literal = positions
            .iter()
            .map(|p| {
                (p.other.is_empty() && p.ascii.count_ones() == 1)
                    .then(|| p.ascii.trailing_zeros() as u8)
            })
            .collect();
        Sequence {
            positions: positions.into(),
            literal,
        }
    }

    #[inline]
    fn matches_prefix(&self, hay: &str) -> bool {
        if let Some(literal) = &self.literal {
            return starts_with_literal(hay.as_bytes(), literal);
        }
        let bytes = hay.as_bytes();
        let mut at = 0;
        for position in self.positions.iter() {
            let Some(&byte) = bytes.get(at) else {
                return false;
            };
            if byte < 0x80 {
                if position.ascii & (1 << byte) == 0 {
                    return false;
                }
                at += 1;
            } else {
                // `at` is on a character boundary: every step so far was a whole character.
                let Some(c) = hay[at..].chars().next() else {
                    return false;
                };
                if !position.other.iter().any(|&(lo, hi)| lo <= c && c <= hi) {
                    return false;
                }
                at += c.len_utf8();
            }
        }
        true
    }
}

/// `hay.starts_with(literal)` for the short literals of look-aheads (`_next/static`):
/// compared a word at a time, where the library call costs more than the comparison.
#[inline]
fn starts_with_literal(hay: &[u8], literal: &[u8]) -> bool {
    let len = literal.len();
    if hay.len() < len {
        return false;
    }
    if !(8..=16).contains(&len) {
        return hay[..len] == *literal;
    }
    let word = |bytes: &[u8], at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
    // Two words that together cover the literal (overlapping when it is shorter than 16).
    word(hay, 0) == word(literal, 0) && word(hay, len - 8) == word(literal, len - 8)
}

/// A lifted look-ahead: byte offset, whether it must match, body.
type Lifted = (usize, bool, Node);

/// `body` as alternatives of fixed-length sequences of characters/classes.
fn sequences(body: &Node) -> Option<Vec<Sequence>> {
    fn position(n: &Node) -> Option<Position> {
        match n {
            Node::Char(c) => Some(Position::new(&[(*c, *c)])),
            Node::Class(r) => Some(Position::new(r)),
            _ => None,
        }
    }
    fn branch(n: &Node) -> Option<Sequence> {
        let positions: Option<Vec<Position>> = match n {
            Node::Concat(items) => items.iter().map(position).collect(),
            Node::Group(None, inner) => return branch(inner),
            other => Some(vec![position(other)?]),
        };
        Some(Sequence::new(positions?))
    }
    match body {
        Node::Alt(branches) => branches.iter().map(branch).collect(),
        Node::Group(None, inner) => sequences(inner),
        other => Some(vec![branch(other)?]),
    }
}

/// A match the engine could not decide: fancy-regex gave up at its backtracking limit.
///
/// Never read as "no match": each caller decides in the direction that keeps the proxy
/// running (see `CompiledEntry::holds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Undecided;

/// The engine running a compiled expression.
#[derive(Debug, Clone)]
pub(crate) enum Engine {
    Plain(regex::Regex),
    Fancy(Box<fancy_regex::Regex>),
}

/// A compiled JavaScript regular expression.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    engine: Engine,
    /// A fully built DFA for an anchored plain pattern: `is_match` without the regex
    /// engine's per-call cache lookup, which is most of the cost on short paths.
    /// Built by [`Program::prepare`] for the patterns that run alone (not in a set).
    dfa: Option<Arc<Prepared>>,
    /// Whether [`Program::prepare`] ran (a pattern over the DFA's size limit has no DFA,
    /// and is not tried again for every clone).
    prepared: bool,
    /// [`Prepared::accepts_ascii_paths`], kept here: the test that decides the usual
    /// request then reads no memory outside the entry.
    accepts_ascii_paths: bool,
    guards: Vec<Guard>,
    /// The guards' first bytes, when a path can pass them all on its one byte.
    guard_skip: Option<GuardSkip>,
    /// Group names (group 1 first).
    pub(crate) groups: Vec<Option<String>>,
    /// The Rust source of the plain engine (for a `RegexSet`), if plain.
    pub(crate) plain_source: Option<String>,
}

/// Size limit for compiled regexes (bounded memory on hostile config).
const SIZE_LIMIT: usize = 8 << 20;

/// Removes look-aheads sitting at a fixed offset on the mandatory path of a
/// pattern anchored with `^`: only literal characters and unquantified,
/// unalternated groups may come before them. Returns `None` when nothing can
/// be lifted.
fn lift_lookaheads(ast: &Node) -> Option<(Node, Vec<Lifted>)> {
    let Node::Concat(items) = ast else {
        return None;
    };
    if items.first() != Some(&Node::Start) {
        return None;
    }
    let mut lifted = Vec::new();
    let mut offset = 0usize;
    let mut fixed = true;
    let new_items = lift_in(&items[1..], &mut offset, &mut fixed, &mut lifted);
    if lifted.is_empty() {
        return None;
    }
    let mut all = vec![Node::Start];
    all.extend(new_items);
    Some((Node::Concat(all), lifted))
}

fn lift_in(
    items: &[Node],
    offset: &mut usize,
    fixed: &mut bool,
    lifted: &mut Vec<Lifted>,
) -> Vec<Node> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if !*fixed {
            out.push(item.clone());
            continue;
        }
        match item {
            Node::Char(c) => {
                *offset += c.len_utf8();
                out.push(item.clone());
            }
            Node::Look {
                ahead: true,
                negate,
                inner,
            } if !inner.needs_fancy() && !inner.has_capture() && !inner.looks_behind() => {
                lifted.push((*offset, !negate, (**inner).clone()));
            }
            Node::Group(cap, inner) => {
                let children: Vec<Node> = match &**inner {
                    Node::Concat(v) => v.clone(),
                    Node::Alt(_) => {
                        *fixed = false;
                        out.push(item.clone());
                        continue;
                    }
                    other => vec![other.clone()],
                };
                let new_children = lift_in(&children, offset, fixed, lifted);
                out.push(Node::Group(*cap, Box::new(Node::Concat(new_children))));
            }
            _ => {
                *fixed = false;
                out.push(item.clone());
            }
        }
    }
    out
}

/// Size limit for a prebuilt DFA; a pattern whose DFA is larger runs on the regex engine.
const DFA_SIZE_LIMIT: usize = 256 << 10;

/// A prebuilt automaton, and what it tells about paths in general.
#[derive(Debug)]
struct Prepared {
    dfa: dense::DFA<Vec<u32>>,
    /// Whether every `/` followed by the ASCII a request path can hold matches (`/(.*)` once
    /// the look-aheads are lifted): then a request's own ASCII path needs no automaton run.
    accepts_ascii_paths: bool,
}

/// Whether `dfa` matches `/` followed by any string of the ASCII bytes a request path can
/// hold (`!` to `~`, and DEL, which some `http` 1.x releases let through): every state
/// reachable that way must match at the end of input. A DFA is finite, so the walk ends.
fn accepts_ascii_paths(dfa: &dense::DFA<Vec<u32>>) -> bool {
    let config = regex_automata::util::start::Config::new().anchored(Anchored::Yes);
    let Ok(start) = dfa.start_state(&config) else {
        return false;
    };
    let first = dfa.next_state(start, b'/');
    let mut seen = vec![first];
    let mut todo = vec![first];
    while let Some(state) = todo.pop() {
        if !dfa.is_match_state(dfa.next_eoi_state(state)) {
            return false;
        }
        for byte in b'!'..=0x7f {
            let next = dfa.next_state(state, byte);
            if !seen.contains(&next) {
                if seen.len() >= 64 {
                    return false;
                }
                seen.push(next);
                todo.push(next);
            }
        }
    }
    true
}

fn compile_dfa(source: &str) -> Option<Arc<Prepared>> {
    if !source.starts_with('^') {
        return None;
    }
    let config = dense::Config::new()
        .start_kind(StartKind::Anchored)
        .dfa_size_limit(Some(DFA_SIZE_LIMIT))
        .determinize_size_limit(Some(DFA_SIZE_LIMIT));
    let dfa = dense::Builder::new().configure(config).build(source).ok()?;
    let accepts_ascii_paths = accepts_ascii_paths(&dfa);
    Some(Arc::new(Prepared {
        dfa,
        accepts_ascii_paths,
    }))
}

fn compile_plain(source: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(source)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

impl Program {
    /// Compiles a parsed expression. Errors are engine errors (size limits,
    /// constructs the engines refuse), as a message.
    pub(crate) fn compile(re: &JsRegex) -> Result<Program, String> {
        let groups = re.groups.clone();
        if !re.ast.needs_fancy() {
            let src = to_rust(&re.ast, false);
            let regex = compile_plain(&src)?;
            return Ok(Program {
                engine: Engine::Plain(regex),
                dfa: None,
                prepared: false,
                accepts_ascii_paths: false,
                guards: Vec::new(),
                guard_skip: None,
                groups,
                plain_source: Some(src),
            });
        }
        if let Some((rest, lifted)) = lift_lookaheads(&re.ast)
            && !rest.needs_fancy()
        {
            let src = to_rust(&rest, false);
            let regex = compile_plain(&src)?;
            let mut guards = Vec::with_capacity(lifted.len());
            for (offset, must_match, body) in lifted {
                let gsrc = format!("^(?:{})", to_rust(&body, false));
                guards.push(Guard {
                    offset,
                    must_match,
                    regex: compile_plain(&gsrc)?,
                    sequences: sequences(&body),
                });
            }
            return Ok(Program {
                engine: Engine::Plain(regex),
                dfa: None,
                prepared: false,
                accepts_ascii_paths: false,
                guard_skip: GuardSkip::of(&guards),
                guards,
                groups,
                plain_source: Some(src),
            });
        }
        let src = to_rust(&re.ast, true);
        let regex = fancy_regex::RegexBuilder::new(&src)
            .delegate_size_limit(SIZE_LIMIT)
            .delegate_dfa_size_limit(SIZE_LIMIT)
            .backtrack_limit(100_000)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Program {
            engine: Engine::Fancy(Box::new(regex)),
            dfa: None,
            prepared: false,
            accepts_ascii_paths: false,
            guards: Vec::new(),
            guard_skip: None,
            groups,
            plain_source: None,
        })
    }

    /// Whether the program runs without fancy-regex.
    #[cfg(test)]
    pub(crate) fn is_plain(&self) -> bool {
        matches!(self.engine, Engine::Plain(_))
    }

    /// Builds the DFA that `is_match` uses, for a pattern that will run on its own (a set
    /// of many patterns does not need one per pattern, and building them costs time).
    pub(crate) fn prepare(&mut self) {
        if self.prepared {
            return;
        }
        self.prepared = true;
        if let (Engine::Plain(_), Some(src)) = (&self.engine, &self.plain_source) {
            self.dfa = compile_dfa(src);
            self.accepts_ascii_paths = self.dfa.as_ref().is_some_and(|p| p.accepts_ascii_paths);
        }
    }

    /// Checks the lifted look-aheads (after the main regex matched).
    #[inline]
    pub(crate) fn guards_pass(&self, hay: &str) -> bool {
        if let Some(skip) = &self.guard_skip
            && skip.passes(hay)
        {
            return true;
        }
        self.guards.iter().all(|g| match hay.get(g.offset..) {
            Some(rest) => g.body_matches(rest) == g.must_match,
            None => false,
        })
    }

    /// [`Program::is_match`] for a request's path as sent (`Uri::path`): an ASCII one (which
    /// holds no space or control character but DEL) skips the automaton when the pattern
    /// accepts all of those.
    #[inline]
    pub(crate) fn is_match_request_path(&self, path: &str) -> Result<bool, Undecided> {
        self.is_match_with(path, true)
    }

    /// Whether the prebuilt automaton accepts every ASCII request path.
    #[cfg(test)]
    pub(crate) fn accepts_ascii_paths(&self) -> bool {
        self.accepts_ascii_paths
    }

    /// Whether the expression matches somewhere in `hay`.
    pub(crate) fn is_match(&self, hay: &str) -> Result<bool, Undecided> {
        self.is_match_with(hay, false)
    }

    #[inline]
    fn is_match_with(&self, hay: &str, request_path: bool) -> Result<bool, Undecided> {
        match &self.engine {
            // The lifted look-aheads first: they are literal prefix tests that reject the
            // excluded paths (`/_next/static/...`) before the automaton reads a byte.
            Engine::Plain(r) => Ok({
                self.guards_pass(hay)
                    && match &self.dfa {
                        Some(_)
                            if request_path
                                && self.accepts_ascii_paths
                                && hay.starts_with('/')
                                && hay.is_ascii() =>
                        {
                            true
                        }
                        Some(prepared) => prepared
                            .dfa
                            .try_search_fwd(&Input::new(hay).anchored(Anchored::Yes))
                            .map_or_else(|_| r.is_match(hay), |m| m.is_some()),
                        None => r.is_match(hay),
                    }
            }),
            // The only error fancy-regex gives at match time is its backtracking limit
            // (guarded by `tests/fail_closed.rs`).
            Engine::Fancy(r) => r.is_match(hay).map_err(|_| Undecided),
        }
    }

    /// The groups of the first match: `None` when no match, else one slot
    /// per group (group 1 first).
    pub(crate) fn captures<'h>(
        &self,
        hay: &'h str,
    ) -> Result<Option<Vec<Option<&'h str>>>, Undecided> {
        let groups = 1..=self.groups.len();
        match &self.engine {
            Engine::Plain(r) => Ok(r
                .captures(hay)
                .filter(|_| self.guards_pass(hay))
                .map(|caps| groups.map(|i| caps.get(i).map(|m| m.as_str())).collect())),
            Engine::Fancy(r) => Ok(r
                .captures(hay)
                .map_err(|_| Undecided)?
                .map(|caps| groups.map(|i| caps.get(i).map(|m| m.as_str())).collect())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time prefix test against `starts_with`, for literals of every length
    /// up to 20 and haystacks that differ from them at each position, or are cut short.
    #[test]
    fn literal_prefix_test_agrees_with_starts_with() {
        let text = b"_next/static/chunks/app.js";
        for len in 0..=20 {
            let literal = &text[..len];
            for hay_len in 0..=text.len() {
                let mut hay = text[..hay_len].to_vec();
                assert_eq!(
                    starts_with_literal(&hay, literal),
                    hay.starts_with(literal),
                    "{len} {hay_len}"
                );
                for at in 0..hay_len {
                    hay[at] ^= 0x20;
                    assert_eq!(
                        starts_with_literal(&hay, literal),
                        hay.starts_with(literal),
                        "{len} {hay_len} {at}"
                    );
                    hay[at] ^= 0x20;
                }
            }
        }
    }

    fn compile(src: &str) -> Program {
        Program::compile(&parse(src).expect("parses")).expect("compiles")
    }

    #[test]
    fn javascript_meanings() {
        // (name, regex, haystack, expected)
        let rows: &[(&str, &str, &str, bool)] = &[
            ("digit ascii", r"^\d$", "7", true),
            ("digit not arabic-indic", r"^\d$", "\u{663}", false),
            ("digit not fullwidth", r"^\d+$", "\u{ff11}", false),
            ("word ascii", r"^\w+$", "aZ_9", true),
            ("word not accented", r"^\w$", "é", false),
            ("space nbsp", r"^\s$", "\u{a0}", true),
            ("space bom", r"^\s$", "\u{feff}", true),
            ("space not next-line", r"^\s$", "\u{85}", false),
            ("non-space letter", r"^\S$", "x", true),
            ("dot not newline", r"^.$", "\n", false),
            ("dot not cr", r"^.$", "\r", false),
            ("dot not u2028", r"^.$", "\u{2028}", false),
            ("dot any other", r"^.$", "é", true),
            ("caret-class any", r"^[^]$", "\n", true),
            ("empty class nothing", r"^[]$", "a", false),
            ("empty class nothing 2", r"^a[]?$", "a", true),
            ("word boundary ascii", r"^a\b", "aé", true),
            ("word boundary no", r"^a\b", "ab", false),
            ("case sensitive", r"^abc$", "ABC", false),
            ("unicode escape", r"^\u0041$", "A", true),
            ("hex escape", r"^\x41$", "A", true),
            ("surrogate pair", r"^\uD83D\uDE00$", "😀", true),
            ("u brace not unicode mode", r"^\u{2}$", "uu", true),
            ("identity escape", r"^\a$", "a", true),
            ("literal brace", r"^a{$", "a{", true),
            ("lone closing bracket", r"^]$", "]", true),
            ("quantifier range", r"^a{2,3}$", "aaa", true),
            ("quantifier range miss", r"^a{2,3}$", "aaaa", false),
            ("class escape range union", r"^[\d-z]+$", "1-z", true),
            ("class backspace", r"^[\b]$", "\u{8}", true),
            ("named group", r"^(?<x>a)b$", "ab", true),
            ("lookahead", r"^(?!api).*$", "apis", false),
            ("lookahead pass", r"^(?!api).*$", "ap", true),
            ("lookbehind", r"^.*(?<=x)$", "abx", true),
            ("backref", r"^(a)\1$", "aa", true),
            ("octal escape", r"^\101$", "A", true),
            ("control escape", r"^\cJ$", "\n", true),
            ("alternation scope", r"^a|b$", "ax", true),
            ("negated class", r"^[^/#?]+$", "ab", true),
            ("negated class miss", r"^[^/#?]+$", "a/b", false),
            ("escaped slash", r"^\/$", "/", true),
        ];
        for (name, src, hay, expected) in rows {
            assert_eq!(
                compile(src).is_match(hay),
                Ok(*expected),
                "{name}: /{src}/ on {hay:?}"
            );
        }
    }

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

    #[test]
    fn lifts_fixed_negative_lookahead() {
        let p = compile(r"^\/((?!api|_next\/static|favicon.ico).*)[\/#\?]?$");
        assert!(p.is_plain());
        assert_eq!(p.guards.len(), 1);
        assert_eq!(p.guards[0].offset, 1);
        assert_eq!(p.is_match("/api/x"), Ok(false));
        assert_eq!(p.is_match("/about"), Ok(true));
        assert_eq!(p.captures("/about"), Ok(Some(vec![Some("about")])));
        assert_eq!(p.captures("/favicon.ico"), Ok(None));
    }

    #[test]
    fn does_not_lift_after_variable_part() {
        let p = compile(r"^\/a*(?!b)c$");
        assert!(!p.is_plain());
        let p = compile(r"^(?:x|y)(?!b).*$");
        assert!(!p.is_plain());
        let p = compile(r"^a(?!\bb).*$");
        assert!(!p.is_plain());
    }

    #[test]
    fn guard_sequences_agree_with_regex() {
        let p = compile(r"^\/((?!api|_next\/static|favicon.ico|[ab]c|).*)$");
        let q = compile(r"^\/((?!api|_next\/static|favicon.ico).*)$");
        assert!(p.guards[0].sequences.is_some());
        assert!(q.guards[0].sequences.is_some());
        for hay in [
            "api",
            "ap",
            "favicon_ico",
            "favicon\nico",
            "bc",
            "cc",
            "",
            "é",
            "_next/static",
            "faviconéico",
            "favicon\u{2028}ico",
            "\u{7f}c",
            "ac",
        ] {
            for g in p.guards.iter().chain(&q.guards) {
                assert_eq!(g.body_matches(hay), g.regex.is_match(hay), "{hay:?}");
            }
        }
        let r = compile(r"^\/((?!a+).*)$");
        assert!(r.guards[0].sequences.is_none());
    }

    /// The guards read in full, without the shortcut.
    fn guards_read(p: &Program, hay: &str) -> bool {
        p.guards.iter().all(|g| match hay.get(g.offset..) {
            Some(rest) => g.body_matches(rest) == g.must_match,
            None => false,
        })
    }

    #[test]
    fn guard_skip_only_passes_what_the_guards_pass() {
        let standard = compile(r"^\/((?!_next\/static|_next\/image|favicon.ico).*)[\/#\?]?$");
        let skip = standard
            .guard_skip
            .expect("literal negative look-aheads have a shortcut");
        assert_eq!(
            skip.first_bytes,
            [0, (1 << (b'_' - 64)) | (1 << (b'f' - 64))]
        );
        assert!(skip.passes("/page"));
        assert!(
            !skip.passes("/_next/data"),
            "a possible first byte reads the guards"
        );
        assert!(!skip.passes("/"), "nothing at the offset reads the guards");
        // No shortcut where one byte cannot decide: a positive look-ahead, an empty
        // alternative, a guard that needs its regex, guards at two offsets.
        for source in [
            r"^\/((?=docs).*)$",
            r"^\/((?!api|).*)$",
            r"^\/((?!a+).*)$",
            r"^\/x((?!a$)(?!b).*)$",
            r"^\/(?!a)x((?!b).*)$",
        ] {
            let p = compile(source);
            assert!(p.is_plain(), "{source}");
            assert!(p.guard_skip.is_none(), "{source}");
        }
        let sources = [
            r"^\/((?!_next\/static|_next\/image|favicon.ico).*)[\/#\?]?$",
            r"^\/((?!api|[ab]c|é).*)$",
            r"^\/en\/((?![0-9]x|\.well-known)(?!z).*)$",
        ];
        let mut hays = vec![
            String::new(),
            "/".to_owned(),
            "/en".to_owned(),
            "/en/".to_owned(),
        ];
        for byte in 0..0x80u8 {
            for prefix in ["/", "/en/"] {
                let mut hay = format!("{prefix}{}", byte as char);
                hays.push(hay.clone());
                hay.push_str("c/static");
                hays.push(hay);
            }
        }
        hays.extend(
            [
                "/é",
                "/éa",
                "/en/é",
                "/_next/static/x",
                "/favicon.ico",
                "/api",
                "/bc",
            ]
            .map(String::from),
        );
        hays.extend(["/en/1x", "/en/.well-known", "/en/z", "/en/zz", "/en/9"].map(String::from));
        for source in sources {
            let p = compile(source);
            let skip = p
                .guard_skip
                .unwrap_or_else(|| panic!("{source}: no shortcut"));
            let mut skipped = 0;
            for hay in &hays {
                let read = guards_read(&p, hay);
                assert_eq!(p.guards_pass(hay), read, "{source} on {hay:?}");
                if skip.passes(hay) {
                    skipped += 1;
                    assert!(read, "{source}: {hay:?} skipped but the guards refuse it");
                }
            }
            assert!(
                skipped > 100,
                "{source}: the shortcut decided only {skipped} paths"
            );
        }
    }

    /// The lifted form must agree with fancy-regex on the original.
    #[test]
    fn lifted_agrees_with_fancy() {
        let sources = [
            r"^\/((?!api|_next\/static|_next\/image|favicon.ico).*)[\/#\?]?$",
            r"^\/((?!_next|.*\..*).*)[\/#\?]?$",
            r"^\/(?:en\/)((?=docs)[a-z\/]*)[\/#\?]?$",
            r"^\/x((?!a$)(?!b).*)$",
        ];
        let paths = [
            "/",
            "/api",
            "/api/x",
            "/apix",
            "/ap",
            "/_next/static/a.js",
            "/_next/image",
            "/_next",
            "/favicon.ico",
            "/favicon_ico",
            "/about",
            "/a.b",
            "/x",
            "/xa",
            "/xb",
            "/xab",
            "/xc",
            "/docs",
            "/en/docs/x",
            "/en/other",
            "/é",
            "/\n",
            "//api",
            "/API",
        ];
        for src in sources {
            let ours = compile(src);
            assert!(ours.is_plain(), "{src} should be lifted");
            let fancy = fancy_regex::Regex::new(&to_rust(&parse(src).unwrap().ast, true)).unwrap();
            for path in paths {
                assert_eq!(
                    ours.is_match(path),
                    Ok(fancy.is_match(path).unwrap()),
                    "{src} on {path:?}"
                );
                let a = ours.captures(path).unwrap();
                let b = fancy.captures(path).unwrap().map(|c| {
                    (1..c.len())
                        .map(|i| c.get(i).map(|m| m.as_str()))
                        .collect::<Vec<_>>()
                });
                assert_eq!(a, b, "{src} captures on {path:?}");
            }
        }
    }
}
