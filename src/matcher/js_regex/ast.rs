//! The syntax tree of a parsed expression, and the questions the engine choice asks of it.

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
    /// A look-around assertion: `(?=`, `(?!` (ahead), `(?<=`, `(?<!` (behind, negated).
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
    /// Nodes in sequence.
    Concat(Vec<Node>),
    /// Alternatives (`a|b`).
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
    pub(super) fn looks_behind(&self) -> bool {
        match self {
            Node::Start | Node::WordBoundary(_) => true,
            Node::Look { ahead, inner, .. } => !ahead || inner.looks_behind(),
            Node::Group(_, inner) | Node::Repeat { inner, .. } => inner.looks_behind(),
            Node::Concat(v) | Node::Alt(v) => v.iter().any(Node::looks_behind),
            _ => false,
        }
    }
}
