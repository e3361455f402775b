//! Empty header values (issue 22, item 3): Next.js sends a header the proxy set only
//! `if (value)` (`resolveRoutes`, `packages/next/src/server/lib/router-utils/resolve-routes.ts`,
//! 16.4.6), for next, rewrite, redirect and the proxy's own response alike (recorded:
//! `/empty-header*` in the scenario app). A request header set to `""` reaches the handler
//! empty.

mod common;

use axum::routing::get;
use axum::{Json, Router};
use common::*;
use http::StatusCode;
use serde_json::json;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    let decision = match req.path() {
        "/next" => ProxyResponse::next().request_header("x-empty-request", ""),
        "/rewrite" => ProxyResponse::rewrite("/kept"),
        "/redirect" => ProxyResponse::redirect("/elsewhere"),
        "/respond" => {
            let headers = [("x-empty", ""), ("x-own", "yes")];
            return ProxyResponse::respond((headers, Json(json!({ "ok": true }))));
        }
        _ => ProxyResponse::next(),
    };
    decision
        .header("x-empty", "")
        .append_header("x-appended", "")
        .header("x-full", "yes")
        // An empty value does not wipe what the handler set.
        .header("x-from-handler", "")
}

fn app() -> tower_proxy_fn::ProxyService<Router, impl tower_proxy_fn::ProxyFn> {
    let router = Router::new().route("/kept", get(kept)).fallback(echo);
    ProxyLayer::new(proxy).layer(router)
}

async fn kept() -> ([(&'static str, &'static str); 1], &'static str) {
    ([("x-from-handler", "handler")], "kept")
}

#[tokio::test]
async fn an_empty_response_header_is_not_sent() {
    let addr = serve(app()).await;
    for (path, status) in [
        ("/next", StatusCode::OK),
        ("/rewrite", StatusCode::OK),
        ("/redirect", StatusCode::TEMPORARY_REDIRECT),
        ("/respond", StatusCode::OK),
    ] {
        let response = get_at(addr, path, &[]).await;
        assert_eq!(response.status(), status, "{path}");
        assert!(response.headers().get("x-empty").is_none(), "{path}");
        assert!(response.headers().get("x-appended").is_none(), "{path}");
        let full = if path == "/respond" {
            "x-own"
        } else {
            "x-full"
        };
        assert_eq!(response.headers()[full], "yes", "{path}");
    }
    let response = get_at(addr, "/rewrite", &[]).await;
    assert_eq!(response.headers()["x-from-handler"], "handler");
}

#[tokio::test]
async fn an_empty_request_header_reaches_the_handler_empty() {
    let response = send(
        &app(),
        http::Request::get("/next")
            .header("x-empty-request", "sent")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    let echo = body_json(response).await;
    assert_eq!(echoed_header(&echo, "x-empty-request"), [""]);
}
