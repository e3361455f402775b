//! Header edits: the proxy adds `x-hello-from-proxy` and removes `x-secret` before the handler
//! runs (the client never sees those edits), and sets response headers for the client.
//!
//! Run: `cargo run --example headers` (on `127.0.0.1:3000`, or `ADDR`). It prints what to try:
//!
//! ```text
//! $ curl -i -H 'x-secret: hunter2' http://127.0.0.1:3000/echo   # 200; x-hello-from-proxy: hi, client; x-frame-options: DENY; cache-control: no-store
//! $ curl -i -H 'x-debug: 1' -H 'x-hello-from-proxy: spoofed' http://127.0.0.1:3000/echo/a/b   # 200; x-debug-echo: 1; vary: x-debug
//! ```
//!
//! The handler echoes the request headers it got, as JSON: no `x-secret`, and
//! `"x-hello-from-proxy":"hello"` whatever the client sent under that name. The handler's
//! `cache-control: public, max-age=60` is replaced (`header`), its `vary: accept-encoding`
//! kept (`append_header` adds `vary: x-debug`).

mod support;

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap};
use axum::{routing::get, Json, Router};
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
        .layer(router.with_state(()));

    let (listener, addr) = support::listen("headers").await;
    println!("headers listening on http://{addr}; try:");
    println!("  curl -i -H 'x-secret: hunter2' http://{addr}/echo   # 200; x-hello-from-proxy: hi, client; x-frame-options: DENY; cache-control: no-store");
    println!("  curl -i -H 'x-debug: 1' -H 'x-hello-from-proxy: spoofed' http://{addr}/echo/a/b   # 200; x-debug-echo: 1; vary: x-debug");
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await?;
    Ok(())
}
