//! Property tests: compiling and matching never panic.

use proptest::prelude::*;
use tower_proxy_fn::matcher::{Matcher, Selection};

const ALPHABET: &[&str] = &[
    "/", ":", "*", "+", "?", "(", ")", "{", "}", "\\", ".", "-", "a", "b", "1", "[", "]", "^", "|",
    "!", "=", ":id", "(?!", "(?:", "\\d", "<", "$",
];

fn source() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..24)
        .prop_map(|parts| format!("/{}", parts.concat()))
}

fn path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_owned()),
        Just("//".to_owned()),
        Just("%".to_owned()),
        Just("%2F".to_owned()),
        Just("%C3%A9".to_owned()),
        Just("%zz".to_owned()),
        Just("%C3".to_owned()),
        Just("api".to_owned()),
        Just("_next".to_owned()),
        Just("static".to_owned()),
        Just(".".to_owned()),
        Just("é".to_owned()),
        Just("日本".to_owned()),
        "[a-z0-9]{1,4}",
    ];
    prop::collection::vec(piece, 0..10).prop_map(|p| format!("/{}", p.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn compiling_never_panics(src in source(), raw in "\\PC{0,20}") {
        // Either outcome is fine; an error must render.
        if let Err(e) = Matcher::new([src.as_str()]) {
            prop_assert!(!e.to_string().is_empty());
        }
        if let Err(e) = Matcher::new([raw.as_str()]) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn has_values_never_panic(value in "[-a-z()\\[\\]{}?*+|\\\\^$.<>!=:0-9]{0,16}") {
        let json = serde_json::json!({"matcher": [{"source": "/", "has": [{"type": "header", "key": "x", "value": value}]}]});
        if let Ok(m) = Matcher::from_json(&json.to_string()) {
            let r = http::Request::builder().uri("/").header("x", "ab(c)").body(()).unwrap();
            let _ = m.select(&r);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matching_never_panics(srcs in prop::collection::vec(source(), 1..6), p in path()) {
        let fixed = [
            "/((?!api|_next/static|_next/image|favicon.ico).*)",
            "/about/:path*",
            "/shop{/:cat}?",
            "/a/:b-:c",
            "/((?!_next|.*\\..*).*)",
        ];
        let compiled: Vec<String> = srcs
            .into_iter()
            .filter(|s| Matcher::new([s.as_str()]).is_ok())
            .collect();
        let all = Matcher::new(fixed.iter().map(|s| s.to_string()).chain(compiled.clone())).unwrap();
        let Ok(uri) = http::Uri::try_from(p.as_str()) else { return Ok(()); };
        let request = http::Request::builder().uri(uri).body(()).unwrap();
        let selection = all.select(&request);
        // `matches` fails closed: only a request the matcher rules out is not a match.
        prop_assert_eq!(!matches!(selection, Selection::Skip), all.matches(&request));
        for s in compiled {
            let m = Matcher::new([s]).unwrap();
            let d = m.select(&request);
            prop_assert_eq!(!matches!(d, Selection::Skip), m.matches(&request));
        }
    }
}
