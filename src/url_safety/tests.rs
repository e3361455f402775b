use super::redirect::relative;
use super::*;
use crate::settings::Settings;
use axum::extract::OriginalUri;
use http::header::HeaderValue;

fn base() -> Url {
    Url::parse("http://localhost:3000/dashboard?x=1").unwrap()
}

fn parts(uri: &str, host: Option<&str>) -> Parts {
    let mut builder = http::Request::get(uri);
    if let Some(host) = host {
        builder = builder.header(HOST, host);
    }
    builder.body(()).unwrap().into_parts().0
}

#[test]
fn resolve_keeps_paths_on_the_origin() {
    let cases = [
        (
            "path",
            "/login?from=%2Fdashboard",
            "/login?from=%2Fdashboard",
        ),
        ("double slash", "//evil.example", "/evil.example"),
        ("backslash", "/\\evil.example", "/evil.example"),
        ("many", "\\\\//evil.example/x", "/evil.example/x"),
        ("relative", "settings", "/settings"),
        ("fragment", "/a#top", "/a#top"),
    ];
    for (name, input, want) in cases {
        let url = resolve(&base(), &clean(input)).unwrap();
        assert_eq!(url.origin(), base().origin(), "{name}");
        assert_eq!(relative(&url), want, "{name}");
    }
}

#[test]
fn resolve_takes_absolute_urls_as_written() {
    let url = resolve(&base(), "https://example.com/x").unwrap();
    assert_eq!(url.as_str(), "https://example.com/x");
    assert_ne!(url.origin(), base().origin());
}

#[test]
fn a_same_origin_path_that_starts_with_two_slashes_stays_relative() {
    let url = Url::parse("http://localhost:3000//evil.example/x").unwrap();
    let written = relative(&url);
    assert_eq!(written, "/.//evil.example/x");
    // A browser resolves it back to the same path on the same origin.
    assert_eq!(base().join(&written).unwrap(), url);
}

#[test]
fn dot_segments_in_every_spelling() {
    for path in [
        "/a/./b",
        "/a/../b",
        "/a/%2e/b",
        "/a/%2E%2e/b",
        "/a/.%2e/b",
        "/a/%2e./b",
        "/a/..",
        "/..",
        "/a\\..\\b",
        "..",
    ] {
        assert!(has_dot_segment(path), "{path}");
    }
    let dotted = [
        "/a/..?x=1",
        "https://h.example/a/../b",
        "https://h.example/..",
        "https://h.example\\..\\b",
    ];
    for destination in dotted {
        assert!(destination_has_dot_segment(destination), "{destination}");
    }
    let plain = [
        "/a/%252e%252e/b",
        "/a/..%2Fb",
        "/a/..%5Cb",
        "/a?x=/../",
        "/a#/../",
        "https://h.example",
        "https://h.example?x=/..",
        // A `://` in the path is not a scheme.
        "/a/x://..b",
    ];
    for destination in plain {
        assert!(!destination_has_dot_segment(destination), "{destination}");
    }
    // Behind a rewrite, encoded separators count.
    for destination in ["/a/..%2Fb", "/a/..%5Cb", "http://h.example/a/%2e%2e%2fb"] {
        assert!(rewrite_has_dot_segment(destination), "{destination}");
    }
    for path in [
        "/",
        "/a.b/c..d",
        "/.well-known/x",
        "/a/...",
        "/a/%2e%2e%2e",
        "/a/%2f",
    ] {
        assert!(!has_dot_segment(path), "{path}");
    }
}

#[test]
fn the_authority_is_parsed_strictly() {
    for (name, host) in [
        ("fragment", "h#"),
        ("path", "h/public?"),
        ("query", "h?a=x#"),
        ("user info", "a@evil.example"),
        ("space", "a b"),
        ("bad port", "h:99999"),
        ("forbidden host code point", "a<b"),
    ] {
        let parts = parts("/x", Some(host));
        assert_eq!(
            check_request(&parts.uri, &parts.headers).map_err(|r| r.status),
            Err(StatusCode::BAD_REQUEST),
            "{name}"
        );
    }
    for host in ["example.com", "example.com:8080", "[::1]:3000", "127.0.0.1"] {
        assert!(
            check_request(
                &parts("/x", Some(host)).uri,
                &parts("/x", Some(host)).headers
            )
            .is_ok(),
            "{host}"
        );
    }
    for host in [None, Some("")] {
        let parts = parts("/x", host);
        assert!(
            check_request(&parts.uri, &parts.headers).is_ok(),
            "{host:?}"
        );
    }
}

#[test]
fn two_host_headers_are_refused() {
    let mut parts = parts("/x", Some("a.example"));
    parts
        .headers
        .append(HOST, HeaderValue::from_static("b.example"));
    assert!(check_request(&parts.uri, &parts.headers).is_err());
}

#[test]
fn the_url_takes_path_and_query_from_the_target() {
    let parts = parts("/docs/a%20b?q=1&q=2", Some("Example.COM:8080"));
    let url = request_url(&parts.uri, &parts.headers, &[]).unwrap();
    assert_eq!(url.as_str(), "http://example.com:8080/docs/a%20b?q=1&q=2");
    // The request target's authority comes before Host (RFC 9112 §3.2.2).
    let parts = parts_absolute("http://target.example/p", "host.example");
    let url = request_url(&parts.uri, &parts.headers, &[]).unwrap();
    assert_eq!(url.host_str(), Some("target.example"));
}

fn parts_absolute(uri: &str, host: &str) -> Parts {
    parts(uri, Some(host))
}

#[test]
fn a_declared_origin_is_the_url_s_origin() {
    let origins = [
        Url::parse("https://example.com").unwrap(),
        Url::parse("https://www.example.com").unwrap(),
    ];
    let url_for = |host| {
        let parts = parts("/x?y=1", Some(host));
        request_url(&parts.uri, &parts.headers, &origins)
            .unwrap()
            .to_string()
    };
    assert_eq!(url_for("www.example.com"), "https://www.example.com/x?y=1");
    assert_eq!(
        url_for("WWW.example.com:443"),
        "https://www.example.com/x?y=1"
    );
    // A host the application did not declare gets the first declared origin.
    assert_eq!(url_for("evil.example"), "https://example.com/x?y=1");
}

fn local_or_external(destination: &str, host: &str, settings: &Settings) -> String {
    match rewrite_destination(
        destination.to_owned(),
        &parts("/from", Some(host)),
        &settings.origins,
        |url| settings.forwards_to(url),
    ) {
        Ok(RewriteTarget::Local(uri)) => format!("local {uri}"),
        Ok(RewriteTarget::External(url)) => format!("external {url}"),
        Err(refusal) => format!("refused {}", refusal.status.as_u16()),
    }
}

#[test]
fn rewrites_never_resolve_dot_segments() {
    let settings = Settings::default();
    for destination in [
        "/public/%2e%2e/admin",
        "/public/.%2e/admin",
        "/public/%2E%2E/admin",
        "/public/../admin",
        "/public/..\\admin",
        "/public/.\t./admin",
        "/public/..%2Fadmin",
        "/public/x..%2F..%5cadmin",
        "http://app.example/public/%2e%2e/admin",
        "https://upstream.example/api/../internal",
    ] {
        assert_eq!(
            local_or_external(destination, "app.example", &settings),
            "refused 400",
            "{destination}"
        );
    }
    assert_eq!(
        local_or_external("/public/a..b?x=../y", "app.example", &settings),
        "local /public/a..b?x=../y"
    );
}

#[test]
fn only_a_declared_origin_is_local() {
    // (destination, the request's Host, where it goes)
    let without_declared_origins = [
        // The request's own origin is local...
        ("http://app.example/x", "app.example", "local /x"),
        (
            "http://other.example/x",
            "app.example",
            "external http://other.example/x",
        ),
        // ...and a relative reference always is, whatever the Host.
        ("x/y", "upstream.example", "local /x/y"),
    ];
    // With declared origins, a client's Host makes nothing local.
    let with_declared_origins = [
        (
            "http://upstream.example/x",
            "upstream.example",
            "external http://upstream.example/x",
        ),
        ("https://app.example/x", "upstream.example", "local /x"),
    ];
    let mut settings = Settings::default();
    for (destination, host, expected) in without_declared_origins {
        assert_eq!(local_or_external(destination, host, &settings), expected);
    }
    settings.origins = vec![Url::parse("https://app.example").unwrap()];
    for (destination, host, expected) in with_declared_origins {
        assert_eq!(local_or_external(destination, host, &settings), expected);
    }
}

#[test]
fn rewritten_uri_replaces_path_and_query() {
    let original: Uri = "/another?x=1".parse().unwrap();
    let target = resolve(&base(), "/api/echo/a:b%20c?y=2").unwrap();
    let uri = rewritten_uri(&original, &target).unwrap();
    assert_eq!(uri, "/api/echo/a:b%20c?y=2");
}

/// The fast path must agree with the URL parser wherever it is taken: every destination
/// it accepts resolves, on the origin, to itself.
#[test]
fn verbatim_local_paths_resolve_to_themselves() {
    let alphabet: Vec<char> = "/aZ09.-_~!$&'()*+,;=:@?%#\\ \"<>`{}|^[]\té2fFeE"
        .chars()
        .collect();
    let mut accepted = 0;
    // Every string of up to 3 characters from the alphabet, after a leading `/`.
    let mut stack = vec![String::from("/")];
    while let Some(destination) = stack.pop() {
        if is_verbatim_local_path(&destination) {
            accepted += 1;
            let url = resolve(&base(), &destination).expect("resolves");
            assert_eq!(url.origin(), base().origin(), "{destination:?}");
            assert_eq!(relative(&url), destination, "{destination:?}");
            assert!(
                !has_dot_segment(path_of(&destination, false)),
                "{destination:?}"
            );
            // Taken as they are for a `Location` and for a rewritten URI.
            assert!(
                HeaderValue::from_str(&destination).is_ok(),
                "{destination:?}"
            );
            assert!(
                PathAndQuery::try_from(destination.as_str()).is_ok(),
                "{destination:?}"
            );
        }
        if destination.chars().count() < 4 {
            for c in &alphabet {
                stack.push(format!("{destination}{c}"));
            }
        }
    }
    assert!(accepted > 1_000, "only {accepted} accepted");
    for rejected in [
        "//evil.example",
        "/\\evil",
        "/./a",
        "/a/..",
        "/a/%2e%2e/b",
        "/%2E%2e//evil.example",
        "/a#b",
        "/a b",
        "a",
        "",
    ] {
        assert!(!is_verbatim_local_path(rejected), "{rejected:?}");
    }
    for rejected in ["/a%2Fb", "/a%5cb"] {
        assert!(!is_verbatim_local_path(rejected), "{rejected:?}");
    }
    for plain in ["/login?from=%2Fdashboard", "/a.b/c..d", "/x?y=../z", "/"] {
        assert!(is_verbatim_local_path(plain), "{plain:?}");
    }
}

/// A path from the request is a safe place to send a user back to only when no browser can
/// read it as another host; the rows are the ways one is smuggled.
#[test]
fn safe_return_paths_stay_on_the_origin() {
    let safe = ["/", "/settings?tab=2", "/a/b/", "/a#top", "/caf%C3%A9"];
    for path in safe {
        assert!(is_safe_return_path(path), "{path:?}");
    }
    let unsafe_ = [
        ("scheme-relative", "//evil.example"),
        ("backslash", "/\\evil.example"),
        ("tab dropped", "/\t/evil.example"),
        ("absolute", "https://evil.example"),
        ("no leading slash", "evil.example"),
        ("dot segment", "/./"),
        ("encoded dot segment", "/%2e%2e/admin"),
        ("empty segment", "/a//b"),
        ("encoded slash", "/%2F/evil.example"),
        ("encoded backslash", "/%5c/evil.example"),
    ];
    for (name, path) in unsafe_ {
        assert!(!is_safe_return_path(path), "{name}: {path:?}");
    }
}

/// One function builds every redirect: the status, and a `Location` relative for this
/// origin and absolute for another; a destination that is no URL is refused with itself.
#[test]
fn redirect_response_writes_status_and_location() {
    let head = parts("/from", Some("app.example"));
    let cases = [
        ("path", "/to?x=1", RedirectStatus::Temporary, "/to?x=1"),
        (
            "this origin",
            "http://app.example/to",
            RedirectStatus::Found,
            "/to",
        ),
        (
            "other origin",
            "https://evil.example/x",
            RedirectStatus::Permanent,
            "https://evil.example/x",
        ),
        (
            "folded",
            "//evil.example",
            RedirectStatus::SeeOther,
            "/evil.example",
        ),
    ];
    for (name, destination, status, want) in cases {
        let response = redirect_response(&head, destination.to_owned(), status, &[]).unwrap();
        assert_eq!(response.status(), status.status_code(), "{name}");
        assert_eq!(response.headers()[http::header::LOCATION], want, "{name}");
    }
    let refused = redirect_response(
        &head,
        "http://[::1/x".into(),
        RedirectStatus::Temporary,
        &[],
    )
    .unwrap_err();
    assert_eq!(refused.destination, "http://[::1/x");
    assert_eq!(refused.reason, "redirect destination is not a valid URL");
}

/// `point_at` keeps the first URI the request came with, through several rewrites, and works
/// on a whole request as on its head.
#[test]
fn point_at_keeps_the_first_original_uri() {
    let mut head = parts("/a?q=1", None);
    point_at(&mut head, Uri::from_static("/b"));
    point_at(&mut head, Uri::from_static("/c"));
    assert_eq!(head.uri, "/c");
    assert_eq!(head.extensions.get::<OriginalUri>().unwrap().0, "/a?q=1");

    let mut request = http::Request::get("/x").body(()).unwrap();
    let uri = uri_with_path_and_query(request.uri(), "/y?z=1").unwrap();
    point_at(&mut request, uri);
    assert_eq!(request.uri(), "/y?z=1");
    assert_eq!(request.extensions().get::<OriginalUri>().unwrap().0, "/x");
    assert!(uri_with_path_and_query(request.uri(), "no slash").is_none());
}

/// "Already routed", row by row, from the `OriginalUri` a router leaves (`MatchedPath` has
/// no public constructor: a matched route is checked over a real server, with the other
/// rows, in `tests/already_routed.rs`).
#[test]
fn already_routed_reads_the_original_uri_a_router_left() {
    let rows = [
        ("no router", "/a", None, false),
        ("fallback: path unchanged", "/a?x", Some("/a"), true),
        ("nested: prefix stripped", "/a", Some("/app/a"), false),
    ];
    for (name, uri, original, want) in rows {
        let mut head = parts(uri, None);
        if let Some(original) = original {
            let original = OriginalUri(Uri::try_from(original).unwrap());
            head.extensions.insert(original);
        }
        assert_eq!(already_routed(&head), want, "{name}");
    }
}

#[test]
fn plain_hosts_are_valid_authorities() {
    let hosts = [
        "app.example",
        "localhost",
        "localhost:3000",
        "a-b.c1.example:65535",
        "x.y.z",
        "a..b",
        "a.",
        ".a",
        "-a.example",
        "a.example:65536",
        "a.example:",
        "a.example:+1",
        "1.2.3.4",
        "1.2.3",
        "999.1.1.1",
        "0x1",
        "a.0x1",
        "xn--zz.example",
        "xn--bcher-kva.example",
        "App.Example",
        "a_b.example",
        "[::1]:80",
        "a b",
        "a.example:80:80",
        "",
    ];
    for host in hosts {
        let uri: Uri = "/x".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(host).unwrap());
        if has_plain_host(&uri, &headers) {
            assert!(
                request_authority(&uri, &headers).is_ok_and(|a| a.is_some()),
                "{host:?} taken as plain, but refused by the full parse"
            );
        }
    }
    // The usual ones take the short way.
    for host in ["app.example", "localhost:3000", "127.0.0.1:3000"] {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static(host));
        assert!(has_plain_host(&"/x".parse().unwrap(), &headers), "{host}");
    }
}
