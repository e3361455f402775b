//! `ProxyLayer::with_base_path` (issue 22, item 4), as recorded from Next.js 16.4.6 with
//! `basePath: '/docs'` (the base-path scenario app): the matcher reads its sources under the
//! base path, a request outside it passes untouched, `next_url()` takes the base path off
//! and puts it back, a redirect to a path written by hand does not get it.

mod common;

use axum::Router;
use common::*;
use http::StatusCode;
use tower_proxy_fn::rules::{Locales, Rules};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    let url = req.next_url();
    let mut to = url.clone();
    match url.pathname() {
        "/about" => ProxyResponse::redirect("/redirected"),
        "/moved" => {
            to.set_pathname("/target");
            ProxyResponse::redirect(to)
        }
        "/rewrite" => {
            to.set_pathname("/api/rewritten");
            ProxyResponse::rewrite(to)
        }
        _ => ProxyResponse::next()
            .header("x-base-path", url.base_path())
            .header("x-pathname", url.pathname())
            .header("x-locale", url.locale()),
    }
}

fn app(
    matcher: Option<&str>,
) -> tower_proxy_fn::ProxyService<Router, impl tower_proxy_fn::ProxyFn> {
    let layer = ProxyLayer::new(proxy).with_base_path("/docs");
    let layer = match matcher {
        Some(source) => layer.with_matcher(Matcher::new([source]).unwrap()),
        None => layer,
    };
    layer.layer(echo_router())
}

#[tokio::test]
async fn under_the_base_path_as_nextjs_over_http() {
    let addr = serve(app(Some("/((?!skip).*)"))).await;
    // (path, status, location, x-pathname)
    for (path, status, location, pathname) in [
        ("/docs/about", 307, Some("/redirected"), None),
        ("/docs/moved?x=1", 307, Some("/docs/target?x=1"), None),
        ("/docs/page", 200, None, Some("/page")),
        ("/docs/skip/x", 200, None, None),
        // Outside the base path: untouched.
        ("/about", 200, None, None),
        ("/docsx", 200, None, None),
        ("/", 200, None, None),
        // Beyond Next.js, on purpose: the base path itself runs the proxy whenever `/` would
        // (Next.js's `/docs/((?!skip).*)` misses `/docs`; docs/migrating.md).
        ("/docs", 200, None, Some("/")),
    ] {
        let response = get_at(addr, path, &[]).await;
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_eq!(
            response
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap()),
            location,
            "{path}"
        );
        let seen = response
            .headers()
            .get("x-pathname")
            .map(|v| v.to_str().unwrap());
        assert_eq!(seen, pathname, "{path}");
        if pathname.is_some() {
            assert_eq!(response.headers()["x-base-path"], "/docs", "{path}");
        }
    }
    let response = get_at(addr, "/docs/rewrite?y=2", &[]).await;
    let echo: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(echo["path"], "/docs/api/rewritten");
    assert_eq!(echo["query"], "y=2");
}

#[tokio::test]
async fn without_a_matcher_only_the_base_path_runs_the_proxy() {
    let app = app(None);
    let response = send(&app, get_req("/docs/a/b")).await;
    assert_eq!(response.headers()["x-pathname"], "/a/b");
    let response = send(&app, get_req("/elsewhere")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("x-pathname").is_none());
}

#[tokio::test]
async fn base_path_then_locale() {
    let app = ProxyLayer::new(proxy)
        .with_base_path("/docs")
        .with_matcher(Matcher::new(["/guide"]).unwrap())
        .with_rules(Rules::new().i18n(Locales::new(["en", "fr"], "en")))
        .layer(echo_router());
    let response = send(&app, get_req("/docs/fr/guide")).await;
    assert_eq!(response.headers()["x-locale"], "fr");
    assert_eq!(response.headers()["x-pathname"], "/guide");
    let response = send(&app, get_req("/fr/docs/guide")).await;
    assert!(response.headers().get("x-pathname").is_none());
}

#[test]
#[should_panic(expected = "with_base_path")]
fn a_base_path_with_a_trailing_slash_is_refused() {
    let _ = ProxyLayer::new(proxy).with_base_path("/docs/");
}
