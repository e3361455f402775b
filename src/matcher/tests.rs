//! Unit tests of the matcher as a whole.

use super::*;

fn req(uri: &str) -> Request<()> {
    Request::builder()
        .uri(uri)
        .body(())
        .expect("valid test uri")
}

fn params_of(m: &Matcher, uri: &str) -> Option<Vec<(String, String)>> {
    match m.select(&req(uri)) {
        Selection::Run(hit) => Some(hit.into_params().into_iter().collect()),
        _ => None,
    }
}

#[test]
fn path_syntax() {
    // (name, source, path, matches)
    let rows: &[(&str, &str, &str, bool)] = &[
        ("root", "/", "/", true),
        ("root not other", "/", "/a", false),
        ("literal", "/about", "/about", true),
        ("literal trailing slash", "/about", "/about/", true),
        ("literal two trailing slashes", "/about", "/about//x", false),
        ("literal trailing hash char", "/about", "/about#", true),
        ("literal prefix only", "/about", "/aboutus", false),
        ("case sensitive", "/about", "/About", false),
        ("param", "/blog/:slug", "/blog/hello", true),
        ("param needs value", "/blog/:slug", "/blog/", false),
        ("param one segment", "/blog/:slug", "/blog/a/b", false),
        ("star zero", "/a/:p*", "/a", true),
        ("star many", "/a/:p*", "/a/b/c", true),
        ("plus zero", "/a/:p+", "/a", false),
        ("plus one", "/a/:p+", "/a/b", true),
        ("optional absent", "/a/:p?", "/a", true),
        ("optional present", "/a/:p?", "/a/b", true),
        ("optional not two", "/a/:p?", "/a/b/c", false),
        ("custom digits", r"/u/:id(\d+)", "/u/42", true),
        ("custom digits letters", r"/u/:id(\d+)", "/u/4a", false),
        (
            "custom not arabic digits",
            r"/u/:id(\d+)",
            "/u/\u{663}",
            false,
        ),
        ("custom quantifier", r"/y/:y(\d{4})", "/y/2024", true),
        ("custom quantifier short", r"/y/:y(\d{4})", "/y/202", false),
        ("unnamed", "/files/(.*)", "/files/a/b", true),
        ("unnamed needs slash", "/files/(.*)", "/files", false),
        ("alternation", "/:l(en|ja)/docs", "/ja/docs", true),
        ("alternation other", "/:l(en|ja)/docs", "/fr/docs", false),
        ("group optional absent", "/shop{/:cat}?", "/shop", true),
        (
            "group optional present",
            "/shop{/:cat}?",
            "/shop/shoes",
            true,
        ),
        ("group optional glued", "/shop{/:cat}?", "/shopx", false),
        ("dash group absent", "/dash{-:tab}?", "/dash", true),
        ("dash group present", "/dash{-:tab}?", "/dash-stats", true),
        ("dash group slash", "/dash{-:tab}?", "/dash/stats", false),
        (
            "name dot ext",
            "/download/:name.:ext",
            "/download/report.pdf",
            true,
        ),
        (
            "name dot ext missing",
            "/download/:name.:ext",
            "/download/report",
            false,
        ),
        ("dash params", "/a/:b-:c", "/a/x-y", true),
        ("dash params no dash", "/a/:b-:c", "/a/xy", false),
        ("escaped colon", r"/a\:b", "/a:b", true),
        ("escaped colon not param", r"/a\:b", "/ax", false),
        (
            "lookahead excluded",
            "/((?!api|_next/static).*)",
            "/api/users",
            false,
        ),
        (
            "lookahead excluded static",
            "/((?!api|_next/static).*)",
            "/_next/static/x.js",
            false,
        ),
        (
            "lookahead included",
            "/((?!api|_next/static).*)",
            "/about",
            true,
        ),
        ("lookahead root", "/((?!api|_next/static).*)", "/", true),
        (
            "lookahead prefix-like",
            "/((?!api|_next/static).*)",
            "/apx",
            true,
        ),
        (
            "lookahead dot any",
            "/((?!_next|.*\\..*).*)",
            "/logo.png",
            false,
        ),
        ("lookahead no dot", "/((?!_next|.*\\..*).*)", "/docs", true),
        (
            "dot literal in text",
            "/icons/:name.png",
            "/icons/a.png",
            true,
        ),
        ("dot prefix param", "/icons/:name.png", "/icons/apng", false),
        (
            "dot does not match decoded newline",
            "/x/:a(a.b)",
            "/x/a%0Ab",
            false,
        ),
        ("dot matches decoded space", "/x/:a(a.b)", "/x/a%20b", true),
    ];
    for (name, source, path, expected) in rows {
        let m = Matcher::new([*source]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            m.matches(&req(path)),
            *expected,
            "{name}: {source} on {path}"
        );
    }
}

#[test]
#[allow(clippy::type_complexity)]
fn params_values() {
    // (name, source, path, params)
    let rows: &[(&str, &str, &str, &[(&str, &str)])] = &[
        ("named", "/blog/:slug", "/blog/hi", &[("slug", "hi")]),
        ("star joined", "/a/:p*", "/a/b/c", &[("p", "b/c")]),
        ("star absent", "/a/:p*", "/a", &[]),
        (
            "unnamed index",
            "/f/(.*)/(\\d+)",
            "/f/x/7",
            &[("0", "x"), ("1", "7")],
        ),
        (
            "decoded value",
            "/blog/:slug",
            "/blog/caf%C3%A9",
            &[("slug", "café")],
        ),
        (
            "two params",
            "/a/:b-:c",
            "/a/x-y",
            &[("b", "x"), ("c", "y")],
        ),
        (
            "name ext",
            "/download/:name.:ext",
            "/download/r.pdf",
            &[("name", "r"), ("ext", "pdf")],
        ),
        ("group param", "/shop{/:cat}?", "/shop/s", &[("cat", "s")]),
        ("lookahead capture", "/((?!api).*)", "/x/y", &[("0", "x/y")]),
    ];
    for (name, source, path, expected) in rows {
        let m = Matcher::new([*source]).expect(name);
        let got = params_of(&m, path).unwrap_or_else(|| panic!("{name}: no match"));
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn path_forms() {
    // (name, sources, path, selection: "run" | "skip" | "malformed")
    let rows: &[(&str, &[&str], &str, &str)] = &[
        ("encoded letter", &["/admin/:p*"], "/%61dmin/x", "run"),
        ("encoded slash", &["/a/b"], "/a%2Fb", "run"),
        ("double slash", &["/admin/:p*"], "//admin/x", "run"),
        (
            "double slash inside",
            &["/admin/users"],
            "/admin//users",
            "run",
        ),
        ("encoded and double", &["/admin"], "//%61dmin", "run"),
        (
            "lookahead not bypassed by encoding",
            &["/((?!api).*)"],
            "/%61pi/x",
            "run",
        ),
        ("malformed escape", &["/admin"], "/%zz", "malformed"),
        ("malformed utf8", &["/admin"], "/%C3", "malformed"),
        ("malformed but raw matches", &["/(.*)"], "/%zz", "run"),
        ("no entries never malformed", &[], "/%zz", "skip"),
        ("plain miss", &["/admin"], "/other", "skip"),
        ("encoded miss", &["/admin"], "/%62", "skip"),
    ];
    for (name, sources, path, want) in rows {
        let m = Matcher::new(sources.iter()).expect(name);
        let got = match m.select(&req(path)) {
            Selection::Run(_) => "run",
            Selection::Skip => "skip",
            Selection::MalformedPath => "malformed",
            Selection::PathTooLong => "too long",
        };
        assert_eq!(got, *want, "{name}: {path}");
        // Fail closed: only a request that is ruled out is not a match.
        assert_eq!(m.matches(&req(path)), *want != "skip", "{name}: matches");
    }
}

#[test]
fn first_entry_wins_and_sources() {
    let m = Matcher::new(["/a/:x", "/a/(.*)", "/b"]).unwrap();
    assert_eq!(m.sources().collect::<Vec<_>>(), ["/a/:x", "/a/(.*)", "/b"]);
    match m.select(&req("/a/1")) {
        Selection::Run(hit) => assert_eq!(hit.source(), "/a/:x"),
        other => panic!("{other:?}"),
    }
    match m.select(&req("/a/1/2")) {
        Selection::Run(hit) => {
            assert_eq!(hit.source(), "/a/(.*)");
            assert_eq!(hit.params().get("0"), Some("1/2"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!m.matches(&req("/c")));
}

#[test]
fn mixed_plain_and_fancy_order() {
    // A back-reference needs fancy-regex; it comes first and must win.
    let m = Matcher::new([r"/:a(x+)-:b(y\1)", "/:any*"]).unwrap();
    match m.select(&req("/xx-yxx")) {
        Selection::Run(hit) => {
            assert_eq!(hit.source(), r"/:a(x+)-:b(y\1)");
            assert_eq!(hit.params().get("b"), Some("yxx"));
        }
        other => panic!("{other:?}"),
    }
    match m.select(&req("/xx-yx")) {
        Selection::Run(hit) => assert_eq!(hit.source(), "/:any*"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn any_and_empty() {
    assert!(Matcher::any().matches(&req("/anything")));
    assert!(Matcher::any().matches(&req("/%zz")));
    assert_eq!(Matcher::any().sources().count(), 0);
    let none = Matcher::from_json(r#"{"matcher": []}"#).unwrap();
    assert!(!none.matches(&req("/")));
    let all = Matcher::from_json("{}").unwrap();
    assert!(all.matches(&req("/x")));
}

#[test]
fn entry_with_conditions() {
    let m = Matcher::from_json(
        r#"{"matcher": [
            {"source": "/api/:path*", "has": [{"type": "header", "key": "Authorization", "value": "Bearer (?<token>.+)"}],
             "missing": [{"type": "cookie", "key": "blocked"}]},
            "/public"
        ]}"#,
    )
    .unwrap();
    let r = Request::builder()
        .uri("/api/users")
        .header("authorization", "Bearer abc")
        .body(())
        .unwrap();
    match m.select(&r) {
        Selection::Run(hit) => {
            let got: Vec<_> = hit.params().iter().collect();
            assert_eq!(got, [("path", "users"), ("token", "abc")]);
        }
        other => panic!("{other:?}"),
    }
    let blocked = Request::builder()
        .uri("/api/users")
        .header("authorization", "Bearer abc")
        .header("cookie", "blocked=1")
        .body(())
        .unwrap();
    assert!(!m.matches(&blocked));
    assert!(!m.matches(&req("/api/users")));
    assert!(m.matches(&req("/public")));
}

#[test]
fn compile_errors_name_place_and_position() {
    // (name, json, location, position, message fragment)
    let rows: &[(&str, &str, &str, Option<usize>, &str)] = &[
        (
            "empty",
            r#"{"matcher": [""]}"#,
            "matcher[0]",
            None,
            "empty source",
        ),
        (
            "no slash",
            r#"{"matcher": "about"}"#,
            "matcher",
            Some(0),
            "must start with",
        ),
        (
            "unbalanced",
            r#"{"matcher": ["/", "/a/(b"]}"#,
            "matcher[1]",
            Some(3),
            "Unbalanced pattern",
        ),
        (
            "capturing group",
            r#"{"matcher": ["/a/:x(a(b))"]}"#,
            "matcher[0]",
            Some(7),
            "Capturing groups are not allowed",
        ),
        (
            "lone modifier",
            r#"{"matcher": ["/a/*"]}"#,
            "matcher[0]",
            Some(3),
            "Unexpected MODIFIER",
        ),
        (
            "bad regex in source",
            r#"{"matcher": ["/a/:x([b-a])"]}"#,
            "matcher[0]",
            Some(7),
            "Range out of order",
        ),
        (
            "bad regex in has",
            r#"{"matcher": [{"source": "/", "has": [{"type": "header", "key": "k", "value": "a)"}]}]}"#,
            "matcher[0].has[0].value",
            Some(1),
            "invalid regular expression",
        ),
        (
            "missing key",
            r#"{"matcher": [{"source": "/", "missing": [{"type": "query"}]}]}"#,
            "matcher[0].missing[0]",
            None,
            "needs a \"key\"",
        ),
        (
            "host without value",
            r#"{"matcher": ["/", "/", {"source": "/", "has": [{"type": "host"}]}]}"#,
            "matcher[2].has[0]",
            None,
            "needs a \"value\"",
        ),
        (
            "locale true",
            r#"{"matcher": [{"source": "/", "locale": true}]}"#,
            "matcher[0].locale",
            None,
            "locale: true",
        ),
    ];
    for (name, json, loc, pos, msg) in rows {
        let e = Matcher::from_json(json).expect_err(name);
        assert_eq!(e.location(), *loc, "{name}: {e}");
        assert_eq!(e.position(), *pos, "{name}: {e}");
        let shown = e.to_string();
        assert!(shown.contains(msg), "{name}: {shown}");
        assert!(shown.starts_with(loc), "{name}: {shown}");
        if let (Some(p), Some(text)) = (pos, e.text()) {
            let caret = format!("\n  {text}\n  {}^", " ".repeat(*p));
            assert!(shown.ends_with(&caret), "{name}: caret line in {shown:?}");
        }
    }
}

#[test]
fn too_long_source() {
    let long = format!("/{}", "a".repeat(4096));
    let e = Matcher::new([long]).expect_err("too long");
    assert!(e.to_string().contains("over the limit of 4096"), "{e}");
    let ok = format!("/{}", "a".repeat(4095));
    assert!(Matcher::new([ok]).is_ok());
}

#[test]
fn new_names_index() {
    let e = Matcher::new(["/ok", "/bad/(x"]).expect_err("bad");
    assert_eq!(e.location(), "matcher[1]");
    assert_eq!(e.text(), Some("/bad/(x"));
}

#[test]
fn decode_uri_component_semantics() {
    assert_eq!(decode_uri_component("a%2Fb").as_deref(), Some("a/b"));
    assert_eq!(decode_uri_component("%E2%82%AC").as_deref(), Some("€"));
    assert_eq!(decode_uri_component("%"), None);
    assert_eq!(decode_uri_component("%4"), None);
    assert_eq!(decode_uri_component("%G0"), None);
    assert_eq!(decode_uri_component("%FF"), None);
    assert_eq!(decode_uri_component("+").as_deref(), Some("+"));
}

#[test]
fn compiled_entry_captures() {
    let e = CompiledEntry::compile(&MatcherEntry::new("/old/:slug"), "x").unwrap();
    assert_eq!(e.source, "/old/:slug");
    let p = e
        .captures(&req("/old//%68i"))
        .unwrap()
        .expect("matches via collapsed form");
    assert_eq!(p.get("slug"), Some("hi"));
    let p = e.captures(&req("/old/hi")).unwrap().expect("matches");
    assert_eq!(p.get("slug"), Some("hi"));
    assert_eq!(e.captures(&req("/new/hi")), Ok(None));
}

#[test]
fn overlapping_entries_in_set() {
    let m = Matcher::from_json(
        r#"{"matcher": [
            {"source": "/(.*)", "has": [{"type": "header", "key": "x-a"}]},
            "/((?!api).*)",
            "/api/:p*"
        ]}"#,
    )
    .unwrap();
    let cases = [("/api/x", "/api/:p*"), ("/other", "/((?!api).*)")];
    for (path, source) in cases {
        match m.select(&req(path)) {
            Selection::Run(hit) => assert_eq!(hit.source(), source, "{path}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    let with_header = Request::builder()
        .uri("/api/x")
        .header("x-a", "1")
        .body(())
        .unwrap();
    match m.select(&with_header) {
        Selection::Run(hit) => assert_eq!(hit.source(), "/(.*)"),
        other => panic!("{other:?}"),
    }
}

/// A pattern that accepts every ASCII request path (`/(.*)` once its look-ahead is
/// lifted) skips its automaton for a path as sent; the answers must not change.
#[test]
fn paths_accepted_without_the_automaton_match_as_with_it() {
    // (source, whether it accepts every ASCII request path)
    let sources = [
        ("/((?!_next/static|_next/image|favicon.ico).*)", true),
        ("/(.*)", true),
        ("/:path*", false),
        ("/about/:path*", false),
        ("/((?!api).*)", true),
        ("/:a/:b", false),
        ("/(\\d+)", false),
        // Each accepts all but a little of what a path can hold: a walk that skipped a byte,
        // a length or a state would say yes.
        ("/([ -~]*)", false),
        ("/(.{0,10})", false),
        ("/([^~]*)", false),
    ];
    let uris = [
        "/",
        "/page",
        "/_next/static/x",
        "/api",
        "/api/",
        "/about",
        "/about/x/y",
        "/a/b",
        "/a/b/c",
        "/x?y",
        "/caf%C3%A9",
        "/caf\u{e9}",
        "//",
        "/a%0Ab",
        "/12",
        "/~!$&'()*+,;=:@",
    ];
    // Pseudo-random paths over every byte a path can hold, `!` to DEL.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let random_paths: Vec<String> = (0..2000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            let bytes = (0..len).map(|i| b'!' + ((seed >> (i % 8 * 8)) as u8 % 95));
            format!("/{}", bytes.map(char::from).collect::<String>())
        })
        .collect();
    for (source, accepts_all) in sources {
        let matcher = Matcher::new([source]).unwrap();
        let program = &matcher.inner.entries[0].path;
        assert_eq!(program.accepts_ascii_paths(), accepts_all, "{source}");
        for path in &random_paths {
            assert_eq!(
                program.is_match_request_path(path),
                program.is_match(path),
                "{source} on {path:?}"
            );
        }
        for uri in uris {
            let request = req(uri);
            let path = request.uri().path();
            assert_eq!(
                program.is_match_request_path(path),
                program.is_match(path),
                "{source} on {path:?}"
            );
        }
    }
}

/// A set gives the first entry in order that holds, as the entries one by one would: with
/// one match state, with more patterns matching than the walk keeps on the stack (it then
/// collects them in a pattern set), and with conditions that send it to a later entry.
#[test]
fn a_set_selects_as_its_entries_one_by_one() {
    let sources = [
        r#"{"source": "/a/:y", "has": [{"type": "header", "key": "x-first"}]}"#,
        r#""/b/:path*""#,
        r#""/:x/:y""#,
        r#""/a/(.*)""#,
        r#""/(.*)""#,
        r#""/a/:y?""#,
        r#""/:x/b""#,
        r#""/a/b""#,
        r#""/:path*""#,
        r#""/a{/:y}?""#,
        r#""/:x(a|c)/:y""#,
        r#""/((?!c).*)""#,
    ];
    let matcher =
        Matcher::from_json(&format!(r#"{{"matcher": [{}]}}"#, sources.join(","))).unwrap();
    assert!(matcher.inner.set.as_ref().is_some_and(|set| set.is_dense()));
    let one_by_one = |request: &Request<()>| {
        matcher
            .inner
            .entries
            .iter()
            .position(|e| e.holds(request, request.uri().path(), true))
    };
    let paths = [
        "/a/b", "/b", "/b/x/y", "/c/d", "/", "/a", "/x/y/z", "/a/b/c",
    ];
    for path in paths {
        for first in [false, true] {
            let mut builder = Request::builder().uri(path);
            if first {
                builder = builder.header("x-first", "1");
            }
            let request = builder.body(()).unwrap();
            let want = one_by_one(&request).map(|i| matcher.inner.entries[i].source.as_str());
            let got = match matcher.select(&request) {
                Selection::Run(hit) => Some(hit.source()),
                Selection::Skip => None,
                other => panic!("{path}: {other:?}"),
            };
            assert_eq!(got, want, "{path} (x-first: {first})");
        }
    }
    // Without `x-first`, ten entries hold for `/a/b` (all but the first two), and eleven
    // paths match: more than the walk keeps on the stack.
    let request = Request::builder().uri("/a/b").body(()).unwrap();
    assert_eq!(
        matcher
            .inner
            .entries
            .iter()
            .filter(|e| e.holds(&request, "/a/b", true))
            .count(),
        10
    );
}

/// The configs of issue 23 run on one prebuilt automaton: two paths, fifty, five hundred.
#[test]
fn common_sets_run_on_a_prebuilt_automaton() {
    let two = Matcher::new(["/about/:path*", "/dashboard/:path*"]).unwrap();
    let fifty = Matcher::new((0..50).map(|i| format!("/section{i}/:path*"))).unwrap();
    let many = Matcher::new((0..500).map(|i| format!("/s{i}/:id(\\d+)/:rest*"))).unwrap();
    for (name, matcher) in [("two", &two), ("fifty", &fifty), ("500", &many)] {
        let set = matcher.inner.set.as_ref().expect(name);
        assert!(set.is_dense(), "{name}");
    }
    assert!(many.matches(&req("/s499/12/x")));
    assert!(!many.matches(&req("/s499/x")));
}
