//! Emitting: a syntax tree as Rust `regex` (or `fancy-regex`) source, keeping the
//! JavaScript meaning of every node.

use std::fmt::Write as _;

use super::ast::Node;

impl Node {
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
    if ranges == [('\0', char::MAX)] {
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
