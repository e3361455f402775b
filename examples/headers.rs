//! Header edits: the proxy adds `x-hello-from-proxy` and removes `x-secret` before the handler
//! runs (the client never sees those edits), and sets response headers for the client.
//!
//! Run: `cargo run --example headers`, then
//! `curl -i -H 'x-secret: hunter2' http://127.0.0.1:3000/echo`.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap};
use axum::{routing::get, Json, Router};
use tower::Layer;
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    let mut decision = ProxyResponse::next()
        // For the handler (`NextResponse.next({ request: { headers } })`):
        .request_header("x-hello-from-proxy", "hello")
        .remove_request_header("x-secret")
        // For the client (`response.headers.set(...)`):
        .header("x-hello-from-proxy", "hi, client")
        .header(header::X_FRAME_OPTIONS, "DENY")
        // `header` replaces what the handler set under the same name; `append_header` keeps it.
        .header(header::CACHE_CONTROL, "no-store")
        .append_header(header::VARY, "x-debug");
    // Request data can flow into headers; a value that is not a valid header value would make
    // the layer answer 500, so only copy what is already a header (`header()` is visible ASCII).
    if let Some(debug) = req.header("x-debug") {
        decision = decision.header("x-debug-echo", debug);
    }
    decision
}

/// Echoes the request headers the handler received, and sets a few of its own.
async fn echo(headers: HeaderMap) -> (HeaderMap, Json<BTreeMap<String, String>>) {
    let seen = headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut out = HeaderMap::new();
    out.insert(
        header::CACHE_CONTROL,
        "public, max-age=60".parse().expect("valid literal"),
    );
    out.insert(
        header::VARY,
        "accept-encoding".parse().expect("valid literal"),
    );
    (out, Json(seen))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let router = Router::new()
        .route("/echo", get(echo))
        .route("/echo/{*rest}", get(echo));
    let app = ProxyLayer::new(proxy)
        .with_matcher(Matcher::new(["/echo/:path*"])?)
        .layer(router);

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("headers listening on http://{addr}");
    println!("  curl -i -H 'x-secret: hunter2' http://{addr}/echo   # no x-secret in the echo");
    println!("  curl -i -H 'x-debug: 1' http://{addr}/echo/a/b      # x-debug-echo: 1");
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await?;
    Ok(())
}
