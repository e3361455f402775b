//! Fail closed (issue 18), the parts in rules, external rewrites, cookies and query:
//! the locale prefix in any case spelling, redirect rules with dot segments, and one reading
//! of `Cookie` and the query for the proxy function and the matcher's conditions.
//!
//! Each bypass test runs twice: with `oneshot` and over a real `axum::serve` on loopback,
//! with the unprotected route present, so a request that escapes the proxy is answered by
//! that route and the test sees it.

mod common;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use common::*;
use http::StatusCode;
use tower_proxy_fn::rules::RulesService;
use tower_proxy_fn::rules::{Locales, Redirect, Rules};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

/// The answer of the protected handler: seeing it means the proxy was bypassed.
const SECRET: &str = "secret dashboard";

type Deny = std::future::Ready<ProxyResponse>;

fn deny(_req: ProxyRequest) -> Deny {
    std::future::ready(ProxyResponse::respond(StatusCode::UNAUTHORIZED))
}

fn locales() -> Locales {
    Locales::new(["en", "fr", "ja", "pt-BR"], "en")
}

/// An app whose proxy denies everything under `/dashboard`, with i18n, in front of a router
/// that serves `/{locale}/dashboard` for any locale text (any case, as a route written
/// `/{locale}/dashboard` does).
fn locale_app() -> RulesService<Router, fn(ProxyRequest) -> Deny> {
    let router = Router::new()
        .route("/dashboard", get(|| async { SECRET }))
        .route(
            "/{locale}/dashboard",
            get(|_: Path<String>| async { SECRET }),
        )
        .route(
            "/{locale}/dashboard/{*rest}",
            get(|_: Path<(String, String)>| async { SECRET }),
        );
    ProxyLayer::new(deny as fn(ProxyRequest) -> Deny)
        .with_matcher(Matcher::new(["/dashboard/:path*"]).unwrap())
        .with_rules(Rules::new().i18n(locales()))
        .layer(router)
}

/// Spellings of a locale prefix the router serves: every case of a configured locale, and
/// (as Next.js's generic locale group in `getMiddlewareMatchers` does) a segment that is not
/// a configured locale at all.
const LOCALE_PATHS: &[&str] = &[
    "/FR/dashboard",
    "/Fr/dashboard",
    "/fR/dashboard",
    "/JA/dashboard/settings",
    "/En/dashboard",
    "/PT-br/dashboard",
    "/pt-br/dashboard",
    "/de/dashboard",
    "/fr/dashboard",
    "/dashboard",
];

#[tokio::test]
async fn locale_case_does_not_escape_the_proxy_matcher_oneshot() {
    let app = locale_app();
    for path in LOCALE_PATHS {
        let response = send(&app, get_req(path)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_ne!(body_string(response).await, SECRET, "{path}");
    }
}

#[tokio::test]
async fn locale_case_does_not_escape_the_proxy_matcher_over_http() {
    let addr = serve(locale_app()).await;
    // The route is really there: a path outside the matcher and the locale prefix reaches it.
    let control = get_at(addr, "/x/y/dashboard", &[]).await;
    assert_eq!(control.status(), StatusCode::NOT_FOUND);
    for path in LOCALE_PATHS {
        let response = get_at(addr, path, &[]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_ne!(&response.body()[..], SECRET.as_bytes(), "{path}");
    }
}

/// The router really serves every spelling when no proxy stands in front: without this, a
/// 401 above could come from a route that does not exist.
#[tokio::test]
async fn the_unprotected_route_serves_every_locale_spelling() {
    let router = Router::new()
        .route("/dashboard", get(|| async { SECRET }))
        .route(
            "/{locale}/dashboard",
            get(|_: Path<String>| async { SECRET }),
        )
        .route(
            "/{locale}/dashboard/{*rest}",
            get(|_: Path<(String, String)>| async { SECRET }),
        );
    for path in LOCALE_PATHS {
        let response = send(&router, get_req(path)).await;
        assert_eq!(body_string(response).await, SECRET, "{path}");
    }
}

/// Rules under i18n: the locale group of a rule's source takes any case of a configured
/// locale, as `Locales::locale_of_path` does, and the destination gets the configured
/// spelling back.
#[tokio::test]
async fn localized_rules_take_any_case_of_a_locale() {
    let rules = Rules::new()
        .i18n(locales())
        .redirect(Redirect::new("/about", "/contact").unwrap());
    let app = ProxyLayer::new(|_req: ProxyRequest| async { ProxyResponse::next() })
        .with_rules(rules)
        .layer(echo_router());
    for (path, want) in [
        ("/FR/about", "/fr/contact"),
        ("/fr/about", "/fr/contact"),
        ("/Pt-Br/about", "/pt-BR/contact"),
        ("/JA/about", "/ja/contact"),
        // The default locale's prefix is dropped, whatever its case.
        ("/EN/about", "/contact"),
        ("/about", "/contact"),
    ] {
        let response = send(&app, get_req(path)).await;
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT, "{path}");
        assert_eq!(location(&response), want, "{path}");
    }
    // Not a configured locale: the rule's locale group is the list, as Next.js's
    // `processRoutes` writes it.
    let response = send(&app, get_req("/de/about")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

// ---- redirect and rewrite rules: no dot segment is resolved into another path ----

/// The Next.js docs' redirect with a catch-all, as next.config writes it.
fn blog_rules() -> Rules {
    Rules::from_json(
        r#"{
            "trailingSlash": false,
            "redirects": [
                {"source": "/blog/:slug*", "destination": "/news/:slug*", "permanent": true},
                {"source": "/old/:rest(.*)", "destination": "https://new.example/docs/:rest", "statusCode": 301}
            ],
            "rewrites": {"beforeFiles": [{"source": "/docs/:path*", "destination": "/public/:path*"}]}
        }"#,
    )
    .unwrap()
}

/// Paths whose captured value holds a dot segment, in the spellings a browser or
/// `url::Url` resolves (`%2e` is a dot in a path, RFC 3986 section 2.3 and the URL
/// Standard's "single-dot / double-dot URL path segment"), `%2F` and `%5C` that decode to
/// separators.
const DOTTED: &[&str] = &[
    "/blog/..%2F..%2Fadmin",
    "/blog/..%2f..%2fadmin",
    "/blog/%2e%2e/%2e%2e/admin",
    "/blog/.%2e/admin",
    "/blog/%2E%2E/admin",
    "/blog/%2e./admin",
    "/blog/../admin",
    "/blog/a/./b",
    "/blog/%2e/admin",
    "/blog/..%5C..%5Cadmin",
    "/blog/..%2F",
    "/old/..%2F..%2Fadmin",
    "/old/%2e%2e/secret",
    "/a/../admin/",
    "/a/%2e%2e/admin/",
];

/// Whether an answer is a permanent redirect to a path the rule did not write: its
/// `Location`, resolved as a browser resolves it, leaves the destination's prefix.
fn escapes(path: &str, status: u16, location: Option<&str>) -> Option<String> {
    if !matches!(status, 301 | 308) {
        return None;
    }
    let location = location?;
    let base = url::Url::parse("http://app.test")
        .unwrap()
        .join(path)
        .ok()?;
    let resolved = base.join(location).expect("a Location that resolves");
    let prefix_ok = if path.starts_with("/blog/") {
        resolved.host_str() == Some("app.test") && resolved.path().starts_with("/news/")
    } else if path.starts_with("/old/") {
        resolved.host_str() == Some("new.example") && resolved.path().starts_with("/docs/")
    } else {
        // The trailing-slash redirect: the same path without its slash, as sent.
        resolved.path() == path.trim_end_matches('/')
    };
    (!prefix_ok).then(|| format!("{status} to {resolved} (Location {location:?})"))
}

#[tokio::test]
async fn redirect_rules_never_resolve_dot_segments_oneshot() {
    let app = ProxyLayer::new(|_req: ProxyRequest| async { ProxyResponse::next() })
        .with_rules(blog_rules())
        .layer(echo_router());
    for path in DOTTED {
        let response = send(&app, get_req(path)).await;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        if let Some(escape) = escapes(path, status, location.as_deref()) {
            panic!("{path}: {escape}");
        }
        assert_ne!(status, 200, "{path}: the rule matched, no route serves it");
    }
}

#[tokio::test]
async fn redirect_rules_never_resolve_dot_segments_over_http() {
    let app = ProxyLayer::new(|_req: ProxyRequest| async { ProxyResponse::next() })
        .with_rules(blog_rules())
        .layer(
            Router::new()
                .route("/admin", get(|| async { SECRET }))
                .fallback(echo),
        );
    let addr = serve(app).await;
    for path in DOTTED {
        let answer = raw_exchange(
            addr,
            &format!("GET {path} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n"),
        )
        .await;
        let status = raw_status(&answer);
        let location = answer
            .lines()
            .find_map(|l| l.strip_prefix("location: "))
            .map(str::to_owned);
        if let Some(escape) = escapes(path, status, location.as_deref()) {
            panic!("{path}: {escape}");
        }
        assert!(!answer.contains(SECRET), "{path}: {answer}");
    }
}

/// What the rules still do with ordinary paths: the written destination, the value encoded
/// where a path needs it.
#[tokio::test]
async fn redirect_rules_still_redirect_plain_paths() {
    let app = ProxyLayer::new(|_req: ProxyRequest| async { ProxyResponse::next() })
        .with_rules(blog_rules())
        .layer(echo_router());
    for (path, status, want) in [
        ("/blog/hello", 308, "/news/hello"),
        ("/blog/a/b?x=1", 308, "/news/a/b?x=1"),
        ("/blog/a%20b", 308, "/news/a%20b"),
        ("/blog/v1.2/notes..txt", 308, "/news/v1.2/notes..txt"),
        ("/blog/...", 308, "/news/..."),
        ("/old/a/b", 301, "https://new.example/docs/a/b"),
        ("/x/", 308, "/x"),
    ] {
        let response = send(&app, get_req(path)).await;
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_eq!(location(&response), want, "{path}");
    }
}

/// A rewrite rule whose substituted path holds a dot segment does not hand the inner service
/// a path the rule did not write (`/public/../admin`, which a router or a file server
/// downstream may resolve to `/admin`).
#[tokio::test]
async fn rewrite_rules_never_hand_on_dot_segments() {
    let app = ProxyLayer::new(|_req: ProxyRequest| async { ProxyResponse::next() })
        .with_rules(blog_rules())
        .layer(
            Router::new()
                .route("/admin", get(|| async { SECRET }))
                .fallback(echo),
        );
    let addr = serve(app.clone()).await;
    for rest in [
        "%2e%2e/admin",
        ".%2e/admin",
        "%2E%2E/admin",
        "..%2Fadmin",
        "../admin",
        "x/%2e/y",
        "..%5Cadmin",
    ] {
        let path = format!("/docs/{rest}");
        let oneshot = send(&app, get_req(&path)).await;
        let answer = raw_exchange(
            addr,
            &format!("GET {path} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n"),
        )
        .await;
        for (how, status, body) in [
            (
                "oneshot",
                oneshot.status().as_u16(),
                body_string(oneshot).await,
            ),
            ("http", raw_status(&answer), answer.clone()),
        ] {
            assert!(!body.contains(SECRET), "{how} {path}: {body}");
            if status == 200 {
                let seen = if how == "http" {
                    raw_json(&body)
                } else {
                    serde_json::from_str(&body).unwrap()
                };
                let seen_path = seen["path"].as_str().unwrap();
                let dotted = seen_path.split(['/', '\\']).any(|s| {
                    matches!(
                        s.to_ascii_lowercase().replace("%2e", ".").as_str(),
                        "." | ".."
                    )
                });
                assert!(!dotted, "{how} {path}: the inner service got {seen_path}");
            }
        }
    }
    // A plain path is still rewritten.
    let response = send(&app, get_req("/docs/guide/intro")).await;
    let seen = body_json(response).await;
    assert_eq!(seen["path"], "/public/guide/intro");
}
