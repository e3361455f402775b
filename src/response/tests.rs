//! Unit tests of the decision: its size, its parts, and the response-header list.

use super::*;

/// A decision moves several times on its way out of the proxy function; at 128 bytes or
/// less a move is a few register copies instead of a `memcpy` call (issue 19's budget:
/// "a decision: 128 bytes at most"). A new field should not quietly undo that.
#[test]
fn a_decision_fits_in_128_bytes() {
    let size = std::mem::size_of::<ProxyResponse>();
    assert!(size <= 128, "ProxyResponse is {size} bytes");
    // And what it leaves for the response (moved three times on a `next`).
    let size = std::mem::size_of::<ResponseExtras>();
    assert!(size <= 128, "ResponseExtras is {size} bytes");
}

/// `next()` with nothing added holds no box: a matched `next` allocates nothing for its
/// decision (see `tests/decision_allocations.rs` for the count).
#[test]
fn a_bare_next_holds_nothing_boxed() {
    let decision = ProxyResponse::next();
    assert!(decision.more.is_none() && decision.response_headers.is_empty());
    let (outcome, additions) = decision.into_parts();
    assert!(matches!(outcome, Outcome::Next));
    assert!(additions.is_empty() && additions.more.is_none());
}

/// Taking a decision apart keeps every addition, in order, on the side it goes to.
#[test]
fn into_parts_keeps_every_addition_on_its_side() {
    let (outcome, mut additions) = ProxyResponse::rewrite("/b")
        .request_header("x-user", "ann")
        .remove_request_header("x-debug")
        .append_header("x-a", "1")
        .extension(7_u8)
        .set_cookie("c", "1")
        .into_parts();
    assert!(matches!(outcome, Outcome::Rewrite { destination } if destination == "/b"));
    let names = |edits: &[HeaderEdit]| {
        edits
            .iter()
            .map(|e| e.name().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(additions.request_headers()), ["x-user", "x-debug"]);
    assert!(matches!(
        additions.request_headers()[1],
        HeaderEdit::Remove(_)
    ));
    assert!(matches!(
        additions.response_headers(),
        [HeaderEdit::Append(..)]
    ));
    assert_eq!(additions.extensions().and_then(|e| e.get::<u8>()), Some(&7));
    assert_eq!(additions.cookies().len(), 1);
    let edits = additions.take_request_edits();
    assert_eq!(edits.headers.len(), 2);
    assert!(additions.request_headers().is_empty() && additions.extensions().is_none());
    assert!(!additions.into_response_extras().is_empty());
}

/// The first header is held inline, the rest in a list: one, two and three headers
/// keep their order, and `header` replaces where `append_header` adds, whichever holds
/// them.
#[test]
fn response_headers_keep_order_and_meaning_held_inline_or_listed() {
    let inner = || {
        let mut headers = HeaderMap::new();
        headers.insert("x-a", HeaderValue::from_static("inner"));
        headers.insert("x-b", HeaderValue::from_static("inner"));
        headers
    };
    let one = ProxyResponse::next().append_header("x-a", "1");
    assert!(matches!(one.response_headers, HeaderList::One(_)));
    let two = ProxyResponse::next()
        .header("x-a", "1")
        .append_header("x-b", "2");
    let three = ProxyResponse::next()
        .header("x-a", "1")
        .append_header("x-b", "2")
        .header("x-a", "3");
    assert!(matches!(three.response_headers, HeaderList::Many(_)));
    let listed = |d: &ProxyResponse| {
        d.response_headers()
            .map(|(k, v)| format!("{k}={}", v.to_str().unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(&one), ["x-a=1"]);
    assert_eq!(listed(&two), ["x-a=1", "x-b=2"]);
    assert_eq!(listed(&three), ["x-a=1", "x-b=2", "x-a=3"]);
    let applied = |d: ProxyResponse| {
        let mut headers = inner();
        ResponseExtras::new(d.response_headers, None).apply(&mut headers);
        let values = |name| {
            headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        (values("x-a"), values("x-b"))
    };
    assert_eq!(
        applied(one),
        (vec!["inner".into(), "1".into()], vec!["inner".into()])
    );
    assert_eq!(
        applied(two),
        (vec!["1".into()], vec!["inner".into(), "2".into()])
    );
    assert_eq!(
        applied(three),
        (vec!["3".into()], vec!["inner".into(), "2".into()])
    );
}
