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
use tower::Layer;
use tower_proxy_fn::rules::{Locales, Redirect, Rules};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse, RulesService};

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
