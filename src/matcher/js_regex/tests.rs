//! The whole pipeline against JavaScript's meaning of each construct.

use super::*;

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

/// A hostile config cannot make a program take unbounded memory: past the size limit,
/// compiling is an error.
#[test]
fn an_expression_over_the_size_limit_does_not_compile() {
    let huge = parse(r"^(?:[^x]{1000}){1000}$").expect("parses");
    let error = Program::compile(&huge).expect_err("over the limit");
    assert!(error.contains("size limit"), "{error}");
    // Within the limit, the same shape compiles.
    assert!(Program::compile(&parse(r"^(?:[^x]{10}){10}$").expect("parses")).is_ok());
}
