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

/// The two ways of adding the layer after routing.
#[derive(Clone, Copy)]
enum Mount {
    Layer,
    RouteLayer,
}

impl Mount {
    fn apply(self, router: Router) -> Router {
        match self {
            Mount::Layer => router.layer(ProxyLayer::new(proxy)),
            Mount::RouteLayer => router.route_layer(ProxyLayer::new(proxy)),
        }
    }
}

async fn next_reaches_the_handler_with_response_headers(mount: Mount) {
    let counters = Counters::default();
    let app = mount.apply(routes(&counters));
    let response = send(&app, get_req("/plain")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_values(&response, "x-proxy"), ["next"]);
    assert_eq!(body_string(response).await, "plain handler");
    assert_eq!(Counters::get(&counters.plain), 1);
}

async fn redirect_works(mount: Mount) {
    let counters = Counters::default();
    let app = mount.apply(routes(&counters));
    let response = send(&app, get_req("/about")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&response), "/new");
}

async fn respond_works(mount: Mount) {
    let counters = Counters::default();
    let app = mount.apply(routes(&counters));
    let response = send(&app, get_req("/deny")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_string(response).await, "denied by proxy");
}

/// A rewrite answers 500, runs neither the old nor the new handler, and logs the mount hint
/// (which also names `mentions`).
async fn rewrite_is_500_runs_no_handler_and_logs_the_mount(mount: Mount, mentions: &str) {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let counters = Counters::default();
    let app = mount.apply(routes(&counters));
    let response = send(&app, get_req("/old")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_ne!(body_string(response).await, "old handler");
    assert_eq!(
        Counters::get(&counters.old),
        0,
        "the old handler must not run"
    );
    assert_eq!(Counters::get(&counters.new), 0);
    let text = logs.contents();
    assert!(text.contains(mentions), "log mentions {mentions}: {text}");
    assert_mount_hint(&logs);
}

// --- Router::layer ------------------------------------------------------------------------

#[tokio::test]
async fn router_layer_next_reaches_the_handler_with_response_headers() {
    next_reaches_the_handler_with_response_headers(Mount::Layer).await;
}

#[tokio::test]
async fn router_layer_redirect_works() {
    redirect_works(Mount::Layer).await;
}

#[tokio::test]
async fn router_layer_respond_works() {
    respond_works(Mount::Layer).await;
}

#[tokio::test(flavor = "current_thread")]
async fn router_layer_rewrite_is_500_runs_no_handler_and_logs_the_mount() {
    rewrite_is_500_runs_no_handler_and_logs_the_mount(Mount::Layer, "Router::layer").await;
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
    next_reaches_the_handler_with_response_headers(Mount::RouteLayer).await;
}

#[tokio::test]
async fn route_layer_redirect_works() {
    redirect_works(Mount::RouteLayer).await;
}

#[tokio::test]
async fn route_layer_respond_works() {
    respond_works(Mount::RouteLayer).await;
}

#[tokio::test(flavor = "current_thread")]
async fn route_layer_rewrite_is_500_runs_no_handler_and_logs_the_mount() {
    rewrite_is_500_runs_no_handler_and_logs_the_mount(Mount::RouteLayer, "route_layer").await;
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
