//! Next.js's file-system order with declared routes (issue 22, item 2): `beforeFiles`
//! rewrites, static routes, `afterFiles` rewrites, dynamic routes (`{param}`, catch-alls),
//! `fallback` rewrites (vercel/next.js `packages/next/src/server/lib/router-utils/
//! resolve-routes.ts`). Over `oneshot` and a real server; the inner service runs once per
//! request, on the final path. The expected answers are Next.js 16.4.6's, recorded from the
//! same routes and rewrites (`the_cases_are_what_nextjs_answers`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Path, Request};
use axum::routing::get;
use axum::Router;
use common::*;
use http::StatusCode;
use tower::ServiceExt;
use tower_proxy_fn::rules::{Rules, RulesService};
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

const RULES: &str = r#"{
    "rewrites": {
        "beforeFiles": [
            {"source": "/docs/old", "destination": "/about"},
            {"source": "/to-hello", "destination": "/hello"}
        ],
        "afterFiles": [
            {"source": "/about", "destination": "/docs/shadowed"},
            {"source": "/hello", "destination": "/docs/from-after"},
            {"source": "/docs/x", "destination": "/about"}
        ],
        "fallback": [
            {"source": "/world", "destination": "/about"},
            {"source": "/a/b", "destination": "/docs/from-fallback"}
        ]
    }
}"#;

type Next = std::future::Ready<ProxyResponse>;

fn next(_: ProxyRequest) -> Next {
    std::future::ready(ProxyResponse::next())
}

/// The app: a static `/about`, a dynamic `/{slug}` and a catch-all `/docs/{*rest}`, each
/// answering which page it is; `calls` counts the inner service's calls.
fn app(calls: Arc<AtomicUsize>) -> RulesService<Router, fn(ProxyRequest) -> Next> {
    let router = Router::new()
        .route("/about", get(|| async { "about" }))
        .route(
            "/{slug}",
            get(|Path(slug): Path<String>| async move { format!("slug {slug}") }),
        )
        .route(
            "/docs/{*rest}",
            get(|Path(rest): Path<String>| async move { format!("docs {rest}") }),
        )
        .layer(axum::middleware::from_fn(
            move |request: Request, next: axum::middleware::Next| {
                calls.fetch_add(1, Ordering::SeqCst);
                next.run(request)
            },
        ));
    let rules = Rules::from_json(RULES)
        .unwrap()
        .with_routes(["/about", "/{slug}", "/docs/{*rest}"])
        .unwrap();
    ProxyLayer::new(next as fn(ProxyRequest) -> Next)
        .with_rules(rules)
        .layer(router)
}

/// (path, status, body), each row with the step of the order that decides it.
const CASES: &[(&str, u16, &str)] = &[
    // beforeFiles runs before the routes: the catch-all does not see `/docs/old`.
    ("/docs/old", 200, "about"),
    // A beforeFiles rewrite to a path only a dynamic route serves does not end there: the
    // afterFiles rewrite of `/hello` still applies (as Next.js answered).
    ("/to-hello", 200, "docs from-after"),
    // A static route beats an afterFiles rewrite of the same path.
    ("/about", 200, "about"),
    // An afterFiles rewrite beats the dynamic route `/{slug}`...
    ("/hello", 200, "docs from-after"),
    // ...and the catch-all `/docs/{*rest}`.
    ("/docs/x", 200, "about"),
    // A dynamic route beats a fallback rewrite.
    ("/world", 200, "slug world"),
    // No route serves `/a/b`: the fallback rewrite applies.
    ("/a/b", 200, "docs from-fallback"),
    // No rule, served by the dynamic routes as they are.
    ("/plain", 200, "slug plain"),
    ("/docs/a/b", 200, "docs a/b"),
    // Nothing serves it and no rule matches: the router's 404.
    ("/x/y", 404, ""),
];

#[tokio::test]
async fn the_file_system_order_oneshot() {
    for &(path, status, body) in CASES {
        let calls = Arc::new(AtomicUsize::new(0));
        let response = app(Arc::clone(&calls))
            .oneshot(get_req(path))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        if status == 200 {
            assert_eq!(body_string(response).await, body, "{path}");
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "{path}: the inner service runs once"
        );
    }
}

#[tokio::test]
async fn the_file_system_order_over_http() {
    let calls = Arc::new(AtomicUsize::new(0));
    let addr = serve(app(Arc::clone(&calls))).await;
    for &(path, status, body) in CASES {
        let response = get_url(&format!("http://{addr}{path}"), &[]).await;
        assert_eq!(response.status().as_u16(), status, "{path}");
        if status == 200 {
            assert_eq!(String::from_utf8_lossy(response.body()), body, "{path}");
        }
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        CASES.len(),
        "one inner call a request"
    );
}

#[tokio::test]
async fn without_declared_routes_a_dynamic_route_shadows_after_files() {
    // The documented difference: the 404 order cannot see that `/hello` is only served by
    // a dynamic route.
    let router = Router::new()
        .route(
            "/{slug}",
            get(|Path(slug): Path<String>| async move { format!("slug {slug}") }),
        )
        .route(
            "/docs/{*rest}",
            get(|Path(rest): Path<String>| async move { format!("docs {rest}") }),
        );
    let app = ProxyLayer::new(next as fn(ProxyRequest) -> Next)
        .with_rules(Rules::from_json(RULES).unwrap())
        .layer(router);
    let response = send(&app, get_req("/hello")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_string(response).await, "slug hello");
}

#[test]
fn a_bad_route_is_a_config_error() {
    let error = Rules::new()
        .with_routes(["/ok", "/{*rest}/more"])
        .unwrap_err();
    assert_eq!(error.location(), "routes[1]");
}

/// What Next.js 16.4.6 answered for the same routes and rewrites
/// (`tests/fixtures/file-system-order/`, recorded by its `record.sh`).
const RECORDING: &str = include_str!("fixtures/file-system-order/recording.json");

#[test]
fn the_cases_are_what_nextjs_answers() {
    let recording: serde_json::Value = serde_json::from_str(RECORDING).unwrap();
    assert_eq!(recording["next"], "16.4.6");
    let answers = recording["answers"].as_object().unwrap();
    assert_eq!(answers.len(), CASES.len(), "every case is recorded");
    for &(path, status, body) in CASES {
        let answer = &answers[path];
        assert_eq!(answer["status"], status, "{path}");
        let page = answer["page"].as_str().unwrap_or("");
        assert_eq!(page, body, "{path}");
    }
}
