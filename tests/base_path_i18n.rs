//! next.config's `basePath` together with `i18n` (issue 22, item 5 with item 1): the locale
//! sits after the base path (`/docs/fr/about`), in the rules' sources and destinations as
//! Next.js's `processRoutes` writes them (vercel/next.js
//! `packages/next/src/lib/load-custom-routes.ts`: `` `${srcBasePath}/:nextInternalLocale(..)${source}` ``,
//! `` `${destBasePath}/:nextInternalLocale${destination}` ``, and for redirects a copy under
//! the default locale whose destination has no locale), in the proxy's matcher, and in
//! `next_url()`'s fields and text. Requests outside the base path pass untouched. Over
//! `oneshot` and a real server; `tests/nextjs_parity.rs` compares the `base-path-i18n`
//! scenario app with the recording of Next.js 16.4.6.

mod common;

use axum::extract::OriginalUri;
use axum::routing::get;
use axum::Router;
use common::*;
use http::StatusCode;
use tower_proxy_fn::rules::{Rules, RulesService};
use tower_proxy_fn::{Matcher, ProxyFn, ProxyLayer, ProxyRequest, ProxyResponse};

const CONFIG: &str = r#"{
    "basePath": "/docs",
    "i18n": {"locales": ["en", "fr", "nl-NL"], "defaultLocale": "en"},
    "trailingSlash": false,
    "headers": [{"source": "/guide/:page", "headers": [{"key": "x-guide", "value": ":page"}]}],
    "redirects": [
        {"source": "/old/:page", "destination": "/guide/:page", "permanent": true},
        {"source": "/", "destination": "/guide/start", "permanent": false},
        {"source": "/legacy", "destination": "/docs/guide/legacy", "permanent": true, "basePath": false},
        {"source": "/fixed", "destination": "/here", "permanent": false, "locale": false}
    ],
    "rewrites": {"beforeFiles": [{"source": "/short/:page", "destination": "/guide/:page"}]}
}"#;

/// The proxy: `next_url()`'s fields as the body, and redirects built from it.
async fn proxy(request: ProxyRequest) -> ProxyResponse {
    let url = request.next_url();
    let mut to = url.clone();
    match url.pathname() {
        "/go" => {}
        "/go-en" => {
            if to.set_locale("en").is_err() {
                return ProxyResponse::respond(StatusCode::INTERNAL_SERVER_ERROR);
            }
        }
        _ => {
            let fields = format!("{} {} {}", url.base_path(), url.locale(), url.pathname());
            return ProxyResponse::respond((StatusCode::OK, fields));
        }
    }
    to.set_pathname("/went");
    ProxyResponse::redirect(to)
}

async fn page(OriginalUri(original): OriginalUri, uri: http::Uri) -> String {
    format!("{} for {}", uri.path(), original.path())
}

async fn fallback(uri: http::Uri) -> String {
    format!("not proxied {}", uri.path())
}

fn app() -> RulesService<Router, impl ProxyFn> {
    let router = Router::new()
        .route("/docs/guide/{page}", get(page))
        .route("/docs/{locale}/guide/{page}", get(page))
        .fallback(fallback);
    ProxyLayer::new(proxy)
        .with_matcher(Matcher::new(["/admin/:path*", "/go", "/go-en"]).unwrap())
        .with_rules(Rules::from_json(CONFIG).unwrap())
        .layer(router)
}

/// (path, status, location or body) as Next.js answers; each row says why.
const CASES: &[(&str, u16, &str)] = &[
    // A redirect rule: the locale the path carries goes after the base path, both sides.
    ("/docs/fr/old/a?x=1", 308, "/docs/fr/guide/a?x=1"),
    ("/docs/nl-NL/old/a", 308, "/docs/nl-NL/guide/a"),
    // No locale is the default one; under it, the destination has no locale.
    ("/docs/old/a", 308, "/docs/guide/a"),
    ("/docs/en/old/a", 308, "/docs/guide/a"),
    // A source and destination of `/`: the base path, then the locale.
    ("/docs/fr", 307, "/docs/fr/guide/start"),
    ("/docs", 307, "/docs/guide/start"),
    // `basePath: false`: the locale goes first, the destination as written after it.
    ("/fr/legacy", 308, "/fr/docs/guide/legacy"),
    // `locale: false`: under the base path, without a locale only.
    ("/docs/fixed", 307, "/docs/here"),
    ("/docs/fr/fixed", 200, "not proxied /docs/fr/fixed"),
    // A rewrite rule keeps the locale after the base path.
    (
        "/docs/fr/short/b",
        200,
        "/docs/fr/guide/b for /docs/fr/short/b",
    ),
    ("/docs/short/b", 200, "/docs/guide/b for /docs/short/b"),
    // The proxy's matcher under the base path and a locale; `next_url()`'s fields.
    ("/docs/fr/admin/x", 200, "/docs fr /admin/x"),
    ("/docs/nl-NL/admin", 200, "/docs nl-NL /admin"),
    ("/docs/admin/x", 200, "/docs en /admin/x"),
    // Redirects to `next_url()`: base path, then the locale unless it is the default.
    ("/docs/fr/go?k=1", 307, "/docs/fr/went?k=1"),
    ("/docs/fr/go-en", 307, "/docs/went"),
    ("/docs/go", 307, "/docs/went"),
    // Outside the base path nothing applies, the locale first or not.
    ("/fr/old/a", 200, "not proxied /fr/old/a"),
    ("/fr/docs/old/a", 200, "not proxied /fr/docs/old/a"),
    ("/fr/admin/x", 200, "not proxied /fr/admin/x"),
    ("/admin/x", 200, "not proxied /admin/x"),
    ("/fr/short/b", 200, "not proxied /fr/short/b"),
];

/// A same-origin `Location` as a path (absolute or not).
fn path_of(location: &str) -> &str {
    match location.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => location,
    }
}

fn check(
    path: &str,
    status: u16,
    expected: &str,
    got: StatusCode,
    location: Option<&str>,
    body: &str,
) {
    assert_eq!(got.as_u16(), status, "{path}: {body}");
    if (300..400).contains(&status) {
        assert_eq!(location.map(path_of), Some(expected), "{path}");
    } else {
        assert_eq!(body, expected, "{path}");
    }
}

#[tokio::test]
async fn base_path_and_locales_oneshot() {
    let app = app();
    for &(path, status, expected) in CASES {
        let response = send(&app, get_req(path)).await;
        let got = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = body_string(response).await;
        check(path, status, expected, got, location.as_deref(), &body);
    }
    // Headers rules: under the base path, with or without a locale; not outside it.
    for path in ["/docs/fr/guide/intro", "/docs/guide/intro"] {
        let response = send(&app, get_req(path)).await;
        assert_eq!(response.headers()["x-guide"], "intro", "{path}");
    }
    let response = send(&app, get_req("/fr/guide/intro")).await;
    assert!(response.headers().get("x-guide").is_none());
}

#[tokio::test]
async fn base_path_and_locales_over_http() {
    let addr = serve(app()).await;
    for &(path, status, expected) in CASES {
        let response = get_url(&format!("http://{addr}{path}"), &[]).await;
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = String::from_utf8_lossy(response.body()).into_owned();
        check(
            path,
            status,
            expected,
            response.status(),
            location.as_deref(),
            &body,
        );
    }
}

#[test]
fn the_config_has_both() {
    let rules = Rules::from_json(CONFIG).unwrap();
    assert_eq!(rules.base_path(), Some("/docs"));
    assert_eq!(rules.locales().unwrap().locales(), ["en", "fr", "nl-NL"]);
}
