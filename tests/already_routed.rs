//! "Already routed" over a real server (`axum::serve`, hyper-util's client): where the layer
//! sits after an axum `Router` chose the handler, a rewrite cannot re-route and is a loud
//! `500`; where it sits before the routing that matters (in front of a router mounted with
//! `nest_service`, which strips the prefix), a rewrite reaches the new path's handler.
//! The definition is `url_safety::already_routed`.

mod common;

use std::time::Duration;

use axum::extract::OriginalUri;
use axum::routing::get;
use axum::Router;
use common::*;
use http::StatusCode;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

/// Rewrites `/old` and `/nowhere` to `/new`; anything else goes on.
async fn proxy(req: ProxyRequest) -> ProxyResponse {
    match req.path() {
        "/old" | "/nowhere" | "/app/old" | "/app/nowhere" => ProxyResponse::rewrite("/new"),
        _ => ProxyResponse::next(),
    }
}

/// `/old` and `/new`, each answering its name and the URI the client asked for.
fn routes() -> Router {
    let handler = |name: &'static str| {
        move |OriginalUri(original): OriginalUri| async move { format!("{name} for {original}") }
    };
    Router::new()
        .route("/old", get(handler("old handler")))
        .route("/new", get(handler("new handler")))
}

/// The status and body of `GET path`, within a time limit.
async fn fetch(addr: std::net::SocketAddr, path: &str) -> (StatusCode, String) {
    let response = tokio::time::timeout(Duration::from_secs(10), get_at(addr, path, &[]))
        .await
        .unwrap_or_else(|_| panic!("GET {path} answered within 10 s"));
    let body = String::from_utf8(response.body().to_vec()).expect("a text body");
    (response.status(), body)
}

/// The body of the loud 500 (tests run a debug build, where it says how to mount the
/// layer).
fn is_rewrite_after_routing(body: &str) -> bool {
    body.contains("a rewrite cannot re-route") && body.contains("Fix: Wrap the whole Router")
}

#[tokio::test]
async fn router_layer_on_a_matched_route_refuses_a_rewrite() {
    let app = routes().layer(ProxyLayer::new(proxy));
    let addr = serve(app).await;

    let (status, body) = fetch(addr, "/old").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(is_rewrite_after_routing(&body), "{body}");
    // `next` is not a re-route: the matched handler answers.
    let (status, body) = fetch(addr, "/new").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "new handler for /new")
    );
}

#[tokio::test]
async fn router_layer_on_the_fallback_refuses_a_rewrite() {
    let app = routes()
        .fallback(|| async { (StatusCode::NOT_FOUND, "fallback") })
        .layer(ProxyLayer::new(proxy));
    let addr = serve(app).await;

    // No route matched, so no `MatchedPath`; the fallback would answer `/new` with its 404.
    let (status, body) = fetch(addr, "/nowhere").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(is_rewrite_after_routing(&body), "{body}");
    let (status, body) = fetch(addr, "/elsewhere").await;
    assert_eq!((status, body.as_str()), (StatusCode::NOT_FOUND, "fallback"));
}

#[tokio::test]
async fn router_layer_on_a_router_nested_with_nest_refuses_a_rewrite() {
    // `nest` merges the nested routes into the outer router (prefixed): the outer router
    // matched `/app/old` before the layer runs.
    let app = Router::new().nest("/app", routes().layer(ProxyLayer::new(proxy)));
    let addr = serve(app).await;

    let (status, body) = fetch(addr, "/app/old").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(is_rewrite_after_routing(&body), "{body}");
    let (status, body) = fetch(addr, "/app/new").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "new handler for /app/new")
    );
}

#[tokio::test]
async fn a_layer_around_a_router_mounted_under_a_prefix_rewrites_within_it() {
    // The outer router strips `/app` and leaves `OriginalUri` at `/app/old`: the paths
    // differ and no route of the nested router matched yet, so the rewrite reaches `/new`.
    let app = Router::new().nest_service("/app", ProxyLayer::new(proxy).layer(routes()));
    let addr = serve(app).await;

    let (status, body) = fetch(addr, "/app/old").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "new handler for /app/old")
    );
    let (status, body) = fetch(addr, "/app/new").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "new handler for /app/new")
    );
}

/// A known limit, kept visible: the fallback of a router nested with `nest`, with the layer
/// added to that router, looks to the layer like a router mounted under a prefix (the path
/// is stripped, `OriginalUri` differs, no `MatchedPath`; axum marks the difference only in a
/// private extension). The rewrite goes on and the nested fallback answers it, under the
/// new path; the route `/new` is not reached. Mount the layer around the whole router
/// instead (README, "Where to mount it").
#[tokio::test]
async fn known_limit_the_fallback_of_a_router_nested_with_nest_is_not_detected() {
    let app = Router::new().nest(
        "/app",
        routes()
            .fallback(|uri: http::Uri| async move {
                (StatusCode::NOT_FOUND, format!("nested fallback for {uri}"))
            })
            .layer(ProxyLayer::new(proxy)),
    );
    let addr = serve(app).await;

    let (status, body) = fetch(addr, "/app/nowhere").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, "nested fallback for /new")
    );
}

/// A proxy rewrite that keeps the path (only the query changes) leaves an `OriginalUri` with
/// the same path, as a router's fallback does; it must not read as "routed": a beforeFiles
/// rule after it still re-routes the request.
#[tokio::test]
async fn a_rewrite_to_the_same_path_is_not_routing() {
    use tower_proxy_fn::rules::{Rewrite, Rules};

    async fn same_path(req: ProxyRequest) -> ProxyResponse {
        match req.path() {
            "/same" => ProxyResponse::rewrite("/same?from=proxy"),
            _ => ProxyResponse::next(),
        }
    }
    let rules = Rules::new().rewrite_before(Rewrite::new("/same", "/new").unwrap());
    let app = ProxyLayer::new(same_path).with_rules(rules).layer(routes());
    let addr = serve(app).await;

    let (status, body) = fetch(addr, "/same").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "new handler for /same");
}
