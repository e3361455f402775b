//! The layer's own error responses: plain text, the reason in the log and not in the body
//! (except a set-up mistake in a debug build, which says how to fix it).

use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::response::Response;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::StatusCode;

/// A plain-text response of the layer's own (bad path, refused value, failed function).
pub(crate) fn error_response(status: StatusCode, message: &'static str) -> Response {
    let mut response = Response::new(Body::from(message));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The layer's `500 Internal Server Error` (the reason goes to the log, not the client).
pub(crate) fn internal_error() -> Response {
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// A mistake in how the layer is set up, found while answering a request: a `500`, logged
/// at `ERROR` with the fix. A debug build also puts the problem and the fix in the body, and,
/// when the app installed no `tracing` subscriber (so the log would go nowhere), prints them
/// to stderr, once per kind of mistake (guarded by `tests/loud_mistakes.rs`).
#[cold]
pub(crate) fn misconfigured(mistake: &Misconfiguration, path: &str, destination: &str) -> Response {
    tracing::error!(path, destination, fix = mistake.fix, "{}", mistake.problem);
    if !cfg!(debug_assertions) {
        return internal_error();
    }
    let text = format!(
        "Internal Server Error\n\ntower-proxy-fn: {}\nFix: {}\n(This explanation is shown in debug builds only.)\n",
        mistake.problem, mistake.fix
    );
    if !tracing::dispatcher::has_been_set() && !mistake.told.swap(true, Ordering::Relaxed) {
        eprintln!("{text}(Install a tracing subscriber to see every such error, e.g. `tracing_subscriber::fmt().init()`.)");
    }
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// One kind of set-up mistake, with its fix and whether stderr has been told about it.
pub(crate) struct Misconfiguration {
    pub(crate) problem: &'static str,
    pub(crate) fix: &'static str,
    told: AtomicBool,
}

impl Misconfiguration {
    const fn new(problem: &'static str, fix: &'static str) -> Self {
        Self {
            problem,
            fix,
            told: AtomicBool::new(false),
        }
    }
}

/// A rewrite from a layer that runs after routing (see [`already_routed`]).
///
/// [`already_routed`]: crate::url_safety::already_routed
pub(crate) static REWRITE_AFTER_ROUTING: Misconfiguration = Misconfiguration::new(
    "a rewrite cannot re-route: the layer runs inside a Router (added with Router::layer, \
     Router::route_layer or as a route's service), which has chosen the handler already",
    "Wrap the whole Router instead: `let app = ProxyLayer::new(proxy).layer(router);` and \
     serve `app` with `axum::serve(listener, axum::ServiceExt::into_make_service(app))`",
);

/// An external rewrite from a build or a layer that cannot forward it.
pub(crate) static EXTERNAL_NOT_CONFIGURED: Misconfiguration = Misconfiguration::new(
    "the proxy function rewrote to another origin, but this layer does not forward \
     external rewrites",
    "enable the `external` cargo feature of tower-proxy-fn and allow the origin with \
     `ProxyLayer::with_external(Upstreams::new().allow(\"http://host:port\")?)`, or rewrite to a \
     path of this application",
);
