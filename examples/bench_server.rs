//! The app that `scripts/loadtest.sh` measures, in one of several variants chosen by the
//! environment variable `VARIANT`:
//!
//! - `bare`: the axum app alone;
//! - `bare_header`: the app alone, its handlers setting the header that `proxy` adds (what
//!   the header itself costs, with no middleware);
//! - `proxy`: behind a `ProxyLayer` that adds one response header to every request except
//!   static paths (matcher `/((?!_next/static|_next/image|favicon.ico).*)`);
//! - `from_fn`: the same job written by hand with `axum::middleware::from_fn`;
//! - `redirect`, `rewrite`: the layer answering every request with a redirect, or rewriting
//!   it to another route;
//! - `from_fn_redirect`: the redirect written by hand with `from_fn`, for comparison (a
//!   rewrite has no `from_fn` equivalent: after routing it cannot reach another route).
//!
//! Run: `VARIANT=proxy cargo run --release --example bench_server` (on `$ADDR`, default
//! 127.0.0.1:3000), then `curl -i http://127.0.0.1:3000/page`.

mod support;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use http::header::X_FRAME_OPTIONS;
use http::HeaderValue;
use tower_proxy_fn::{Matcher, ProxyFn, ProxyLayer, ProxyRequest, ProxyResponse};

const STATIC: &str = "/((?!_next/static|_next/image|favicon.ico).*)";

/// The router whose handlers set `x-frame-options: DENY` themselves.
fn router_with_header() -> Router {
    let deny = || [(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"))];
    Router::new()
        .route("/page", get(move || async move { (deny(), "page") }))
        .route("/target", get(move || async move { (deny(), "target") }))
        .route("/_next/static/app.js", get(|| async { "static" }))
}

fn router() -> Router {
    Router::new()
        .route("/page", get(|| async { "page" }))
        .route("/target", get(|| async { "target" }))
        .route("/_next/static/app.js", get(|| async { "static" }))
}

async fn add_header(_: ProxyRequest) -> ProxyResponse {
    // Built from statics, as the `from_fn` variant builds its header.
    ProxyResponse::next().header(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"))
}

async fn redirect(_: ProxyRequest) -> ProxyResponse {
    ProxyResponse::redirect("/target")
}

async fn rewrite(_: ProxyRequest) -> ProxyResponse {
    ProxyResponse::rewrite("/target")
}

/// The hand-written equivalent of `add_header` behind the matcher: a prefix test per
/// excluded path, which is what people write with `from_fn`.
async fn by_hand(request: Request, next: Next) -> Response {
    let skip = is_static(request.uri().path());
    let mut response = next.run(request).await;
    if !skip {
        response
            .headers_mut()
            .insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// The hand-written equivalent of `redirect`.
async fn redirect_by_hand(request: Request, next: Next) -> Response {
    if is_static(request.uri().path()) {
        return next.run(request).await;
    }
    Redirect::temporary("/target").into_response()
}

fn is_static(path: &str) -> bool {
    ["/_next/static", "/_next/image", "/favicon.ico"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let variant = std::env::var("VARIANT").unwrap_or_else(|_| "proxy".to_owned());
    let (listener, addr) = support::listen("bench_server").await;
    let matcher = Matcher::new([STATIC]).expect("the static matcher compiles");
    println!("bench_server variant {variant} on http://{addr}/page");
    match variant.as_str() {
        "bare" => axum::serve(listener, router()).await,
        "bare_header" => axum::serve(listener, router_with_header()).await,
        "from_fn" => axum::serve(listener, router().layer(middleware::from_fn(by_hand))).await,
        "from_fn_redirect" => {
            let app = router().layer(middleware::from_fn(redirect_by_hand));
            axum::serve(listener, app).await
        }
        "redirect" => serve_proxied(listener, ProxyLayer::new(redirect), matcher).await,
        "rewrite" => serve_proxied(listener, ProxyLayer::new(rewrite), matcher).await,
        "proxy" => serve_proxied(listener, ProxyLayer::new(add_header), matcher).await,
        other => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "VARIANT={other:?}: expected bare, bare_header, proxy, from_fn, redirect, \
                 from_fn_redirect or rewrite"
            ),
        )),
    }
}

/// Serves the router behind `layer`, selected by `matcher`.
async fn serve_proxied<F: ProxyFn>(
    listener: tokio::net::TcpListener,
    layer: ProxyLayer<F>,
    matcher: Matcher,
) -> std::io::Result<()> {
    let app = layer.with_matcher(matcher).layer(router().with_state(()));
    axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service(app),
    )
    .await
}
