//! The matcher on a request it skips allocates nothing, once its engines have warmed up:
//! every request the proxy does not concern pays for the matcher, so the usual one must
//! not touch the heap. Counted with the benches' counting allocator, one test in this
//! binary so that nothing else allocates meanwhile.

#[path = "../benches/support/mod.rs"]
mod support;

use support::allocations;
use tower_proxy_fn::matcher::{Matcher, Selection};

#[global_allocator]
static GLOBAL: support::Counting = support::Counting;

#[test]
fn a_skipped_request_allocates_nothing() {
    // (name, sources): one look-ahead pattern (lifted into guards, prebuilt automaton), one
    // plain pattern, and several patterns that share one set.
    let cases: &[(&str, &[&str])] = &[
        (
            "look-ahead",
            &["/((?!api|_next/static|_next/image|favicon.ico).*)"],
        ),
        ("one path", &["/dashboard/:path*"]),
        (
            "set",
            &[
                "/dashboard/:path*",
                "/api/:version(v1|v2)/:rest*",
                "/account",
            ],
        ),
    ];
    // Skipped as sent: no `%` or `//`, so no other form is tried.
    let paths = [
        "/_next/static/chunks/app.js",
        "/about",
        "/blog/2026/post-title",
    ];
    for (name, sources) in cases {
        let matcher = Matcher::new(sources.iter().copied()).expect("compiles");
        let requests: Vec<_> = paths
            .iter()
            .map(|path| http::Request::get(*path).body(()).expect("valid uri"))
            .filter(|request| !matcher.matches(request))
            .collect();
        assert!(!requests.is_empty(), "{name}: no path is skipped");
        // The first search on a thread fills the engines' caches.
        for request in &requests {
            assert!(matches!(matcher.select(request), Selection::Skip));
        }
        let count = allocations(|| {
            for _ in 0..100 {
                for request in &requests {
                    assert!(!matcher.matches(request));
                    assert!(matches!(matcher.select(request), Selection::Skip));
                }
            }
        });
        assert_eq!(count, 0, "{name}: {count} allocations");
    }
}
