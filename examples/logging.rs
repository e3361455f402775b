//! Request logging: one JSON line per request (time, method, path, client IP, user agent),
//! written by the proxy, which then lets the request through.
//!
//! Run: `cargo run --example logging`, then `curl http://127.0.0.1:3000/hello` and watch
//! the server's stdout. `RUST_LOG=info,tower_proxy_fn=debug` adds the layer's own decisions.

use std::net::SocketAddr;

use axum::{routing::get, Router};
use tower::Layer;
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};
use tracing_subscriber::EnvFilter;

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    // Fields become JSON keys; `timestamp` comes from the subscriber. A user agent that is
    // not visible ASCII is logged as missing rather than mangled.
    tracing::info!(
        target: "access",
        method = %req.method(),
        path = req.path(),
        query = req.query_string(),
        client_ip = req.client_addr().map(|a| a.ip().to_string()),
        user_agent = req.header("user-agent"),
        "request"
    );
    ProxyResponse::next()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The same subscriber prints what the layer itself logs (a refused value, a panic in
    // the proxy function), so those show up as JSON too.
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true) // fields at the top level, not under "fields"
        .with_current_span(false)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();

    let router = Router::new()
        .route("/", get(|| async { "index\n" }))
        .route("/hello", get(|| async { "hello\n" }));
    // Not the static files: they would drown the log.
    let matcher = Matcher::new(["/((?!_static|favicon.ico).*)"])?;
    let app = ProxyLayer::new(proxy).with_matcher(matcher).layer(router);

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    // On stderr, so stdout holds only JSON lines.
    eprintln!("logging listening on http://{addr}; one JSON line per request on stdout");
    eprintln!("  curl http://{addr}/hello?x=1");
    eprintln!("  curl -A 'my-bot/1.0' http://{addr}/");
    let make_service =
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(
            app,
        );
    axum::serve(listener, make_service).await?;
    Ok(())
}
