//! Mounting with `Router::layer` / `Router::route_layer` (after routing): next, redirect
//! and respond work; a rewrite cannot reach another route, so it answers 500, runs no
//! handler and logs how to mount the layer.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use common::*;
use http::StatusCode;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

/// The proxy used by every test here: the outcome is chosen by the path.
async fn proxy(req: ProxyRequest) -> ProxyResponse {
    match req.path() {
        "/old" | "/nowhere" => ProxyResponse::rewrite("/new"),
        "/about" => ProxyResponse::redirect("/new"),
        "/deny" => ProxyResponse::respond((StatusCode::FORBIDDEN, "denied by proxy")),
        _ => ProxyResponse::next().header("x-proxy", "next"),
    }
}

#[derive(Clone, Default)]
struct Counters {
    old: Arc<AtomicUsize>,
    new: Arc<AtomicUsize>,
    plain: Arc<AtomicUsize>,
    fallback: Arc<AtomicUsize>,
}

impl Counters {
    fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

/// Routes `/old`, `/new`, `/plain`, `/about`, `/deny` and a fallback, each counting its calls.
fn routes(counters: &Counters) -> Router {
    let handler = |counter: &Arc<AtomicUsize>, body: &'static str| {
        let counter = Arc::clone(counter);
        move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { body }
        }
    };
    let unused = Arc::new(AtomicUsize::new(0));
    Router::new()
        .route("/old", get(handler(&counters.old, "old handler")))
        .route("/new", get(handler(&counters.new, "new handler")))
        .route("/plain", get(handler(&counters.plain, "plain handler")))
        .route("/about", get(handler(&unused, "about handler")))
        .route("/deny", get(handler(&unused, "deny handler")))
}

fn with_fallback(router: Router, counters: &Counters) -> Router {
    let counter = Arc::clone(&counters.fallback);
    router.fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { (StatusCode::NOT_FOUND, "fallback handler") }
    })
}

fn assert_mount_hint(logs: &LogCapture) {
    let text = logs.contents();
    assert!(text.contains("ERROR"), "an error is logged: {text}");
    assert!(
        text.contains("Router::layer"),
        "log mentions Router::layer: {text}"
    );
    assert!(
        text.contains("ProxyLayer::new(proxy).layer(router)"),
        "log shows the right mount: {text}"
    );
}

// --- Router::layer ------------------------------------------------------------------------

#[tokio::test]
async fn router_layer_next_reaches_the_handler_with_response_headers() {
    let counters = Counters::default();
    let app = routes(&counters).layer(ProxyLayer::new(proxy));
    let response = send(&app, get_req("/plain")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_values(&response, "x-proxy"), ["next"]);
    assert_eq!(body_string(response).await, "plain handler");
    assert_eq!(Counters::get(&counters.plain), 1);
}

#[tokio::test]
async fn router_layer_redirect_works() {
    let counters = Counters::default();
    let app = routes(&counters).layer(ProxyLayer::new(proxy));
    let response = send(&app, get_req("/about")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&response), "/new");
}

#[tokio::test]
async fn router_layer_respond_works() {
    let counters = Counters::default();
    let app = routes(&counters).layer(ProxyLayer::new(proxy));
    let response = send(&app, get_req("/deny")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_string(response).await, "denied by proxy");
}

#[tokio::test(flavor = "current_thread")]
async fn router_layer_rewrite_is_500_runs_no_handler_and_logs_the_mount() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let counters = Counters::default();
    let app = routes(&counters).layer(ProxyLayer::new(proxy));
    let response = send(&app, get_req("/old")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_ne!(body_string(response).await, "old handler");
    assert_eq!(
        Counters::get(&counters.old),
        0,
        "the old handler must not run"
    );
    assert_eq!(Counters::get(&counters.new), 0);
    assert_mount_hint(&logs);
}

/// `Router::layer` also wraps the fallback: a request no route matched has no
/// `MatchedPath`, but a rewrite still cannot re-route from there.
#[tokio::test(flavor = "current_thread")]
async fn router_layer_rewrite_from_the_fallback_is_500_and_runs_no_handler() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let counters = Counters::default();
    let app = with_fallback(routes(&counters), &counters).layer(ProxyLayer::new(proxy));
    let response = send(&app, get_req("/nowhere")).await;
    let status = response.status();
    let body = body_string(response).await;
    assert_eq!(
        Counters::get(&counters.fallback),
        0,
        "the fallback ran for the rewritten request (answered {status} {body:?})"
    );
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "body {body:?}");
    assert_mount_hint(&logs);
}

// --- Router::route_layer -------------------------------------------------------------------

#[tokio::test]
async fn route_layer_next_reaches_the_handler_with_response_headers() {
    let counters = Counters::default();
    let app = routes(&counters).route_layer(ProxyLayer::new(proxy));
    let response = send(&app, get_req("/plain")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_values(&response, "x-proxy"), ["next"]);
    assert_eq!(body_string(response).await, "plain handler");
    assert_eq!(Counters::get(&counters.plain), 1);
}

#[tokio::test]
async fn route_layer_redirect_works() {
    let counters = Counters::default();
    let app = routes(&counters).route_layer(ProxyLayer::new(proxy));
    let response = send(&app, get_req("/about")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&response), "/new");
}

#[tokio::test]
async fn route_layer_respond_works() {
    let counters = Counters::default();
    let app = routes(&counters).route_layer(ProxyLayer::new(proxy));
    let response = send(&app, get_req("/deny")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_string(response).await, "denied by proxy");
}

#[tokio::test(flavor = "current_thread")]
async fn route_layer_rewrite_is_500_runs_no_handler_and_logs_the_mount() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let counters = Counters::default();
    let app = routes(&counters).route_layer(ProxyLayer::new(proxy));
    let response = send(&app, get_req("/old")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        Counters::get(&counters.old),
        0,
        "the old handler must not run"
    );
    assert_eq!(Counters::get(&counters.new), 0);
    let text = logs.contents();
    assert!(
        text.contains("route_layer"),
        "log mentions route_layer: {text}"
    );
    assert_mount_hint(&logs);
}

/// For contrast: wrapping the whole Router, the same proxy rewrites `/old` to `/new`.
#[tokio::test(flavor = "current_thread")]
async fn wrapping_the_router_rewrites_without_an_error() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let counters = Counters::default();
    let app = tower::Layer::layer(&ProxyLayer::new(proxy), routes(&counters));
    let response = send(&app, get_req("/old")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_string(response).await, "new handler");
    assert_eq!(Counters::get(&counters.old), 0);
    assert_eq!(Counters::get(&counters.new), 1);
    assert!(!logs.contents().contains("ERROR"), "{}", logs.contents());
}
