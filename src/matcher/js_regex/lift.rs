//! Lifting: look-aheads at a fixed offset on the mandatory path of an anchored pattern
//! become separate [`Guard`]s, so that the rest runs on the `regex` crate instead of
//! fancy-regex's backtracker.
//!
//! `/((?!api|_next/static|favicon.ico).*)`, the matcher in most Next.js projects, is the
//! reason: once `(?!...)` at byte 1 is a guard, what remains is `^/(.*)`, which needs no
//! look-around. A guard whose body is a few fixed character sequences is tested without a
//! regex (`Sequence`), and guards that all refuse at one offset get a one-byte shortcut
//! ([`GuardSkip`]). The lifted form must agree with fancy-regex on the original pattern:
//! `lift::tests::lifted_agrees_with_fancy` holds it to that.

use super::ast::Node;

/// A guard produced by lifting a look-ahead: at byte `offset` of the
/// haystack, `regex` (anchored) must match (`must_match`) or must not.
#[derive(Debug, Clone)]
pub(super) struct Guard {
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
pub(super) struct GuardSkip {
    offset: usize,
    /// A bit per ASCII byte, in two words: cheaper to test than one `u128`.
    first_bytes: [u64; 2],
}

impl GuardSkip {
    /// The shortcut for `guards`, when one byte can decide them all.
    pub(super) fn of(guards: &[Guard]) -> Option<Self> {
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
    pub(super) fn passes(&self, hay: &str) -> bool {
        // An ASCII byte always starts a character, so the guards would read from it.
        hay.as_bytes().get(self.offset).is_some_and(|&byte| {
            byte < 0x80 && (self.first_bytes[usize::from(byte >> 6)] >> (byte & 63)) & 1 == 0
        })
    }
}

impl Guard {
    /// A guard for a lifted look-ahead whose body compiled to `regex` (anchored).
    pub(super) fn new(offset: usize, must_match: bool, regex: regex::Regex, body: &Node) -> Self {
        Guard {
            offset,
            must_match,
            regex,
            sequences: sequences(body),
        }
    }

    /// Whether `hay` passes this guard: its body matches at the offset, or does not for a
    /// negative look-ahead. A haystack too short to have the offset fails.
    #[inline]
    pub(super) fn passes(&self, hay: &str) -> bool {
        match hay.get(self.offset..) {
            Some(rest) => self.body_matches(rest) == self.must_match,
            None => false,
        }
    }

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
pub(super) type Lifted = (usize, bool, Node);

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

/// Removes look-aheads sitting at a fixed offset on the mandatory path of a
/// pattern anchored with `^`: only literal characters and unquantified,
/// unalternated groups may come before them. Returns `None` when nothing can
/// be lifted.
pub(super) fn lift_lookaheads(ast: &Node) -> Option<(Node, Vec<Lifted>)> {
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

#[cfg(test)]
mod tests {
    use super::super::emit::to_rust;
    use super::super::{parse, Program};
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
    fn lifts_fixed_negative_lookahead() {
        let p = compile(r"^\/((?!api|_next\/static|favicon.ico).*)[\/#\?]?$");
        assert!(p.is_plain());
        assert_eq!(p.guards().len(), 1);
        assert_eq!(p.guards()[0].offset, 1);
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
        assert!(p.guards()[0].sequences.is_some());
        assert!(q.guards()[0].sequences.is_some());
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
            for g in p.guards().iter().chain(q.guards()) {
                assert_eq!(g.body_matches(hay), g.regex.is_match(hay), "{hay:?}");
            }
        }
        let r = compile(r"^\/((?!a+).*)$");
        assert!(r.guards()[0].sequences.is_none());
    }

    /// The guards read in full, without the shortcut.
    fn guards_read(p: &Program, hay: &str) -> bool {
        p.guards().iter().all(|g| match hay.get(g.offset..) {
            Some(rest) => g.body_matches(rest) == g.must_match,
            None => false,
        })
    }

    #[test]
    fn guard_skip_only_passes_what_the_guards_pass() {
        let standard = compile(r"^\/((?!_next\/static|_next\/image|favicon.ico).*)[\/#\?]?$");
        let skip = standard
            .guard_skip()
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
            assert!(p.guard_skip().is_none(), "{source}");
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
                .guard_skip()
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
