//! CORS for `/api/...`: the proxy answers `OPTIONS` preflights itself and adds
//! `Access-Control-Allow-Origin` to other responses when the `Origin` is on the list.
//!
//! Run: `cargo run --example cors` (on `127.0.0.1:3000`, or `ADDR`). It prints what to try:
//!
//! ```text
//! $ curl -i -X OPTIONS -H 'Origin: https://acme.com' -H 'Access-Control-Request-Method: POST' http://127.0.0.1:3000/api/data   # 204; access-control-allow-origin: https://acme.com; access-control-max-age: 600
//! $ curl -i -H 'Origin: https://acme.com' http://127.0.0.1:3000/api/data   # 200; access-control-allow-origin: https://acme.com; vary: origin
//! $ curl -i -H 'Origin: https://evil.example' http://127.0.0.1:3000/api/data   # 200; no access-control-allow-origin
//! ```
//!
//! An origin off the list gets no `access-control-allow-origin`, on the preflight either, so
//! the browser keeps the response from the page.

mod support;

use axum::http::{header, Method, StatusCode};
use axum::{routing::get, Json, Router};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

const ALLOWED_ORIGINS: &[&str] = &["https://acme.com", "https://my-app.org"];

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    // The list's own string goes into the header, never the request's.
    let allowed = req
        .header("origin")
        .and_then(|origin| ALLOWED_ORIGINS.iter().copied().find(|o| *o == origin));

    let decision = if req.method() == Method::OPTIONS {
        // A preflight: the browser asks before the real request. Answer it here; an origin
        // off the list gets no Allow-Origin, so the browser refuses the real request.
        ProxyResponse::respond(StatusCode::NO_CONTENT)
            .header(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, POST, PUT, DELETE, OPTIONS",
            )
            .header(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Content-Type, Authorization",
            )
            .header(header::ACCESS_CONTROL_MAX_AGE, "600")
    } else {
        ProxyResponse::next()
    };
    // The answer depends on Origin: caches must keep one copy per origin.
    let decision = decision.append_header(header::VARY, "origin");
    match allowed {
        Some(origin) => decision.header(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin),
        None => decision,
    }
}

async fn data() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "data": [1, 2, 3] }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let router = Router::new().route("/api/data", get(data).post(data));
    let app = ProxyLayer::new(proxy)
        .with_matcher(Matcher::new(["/api/:path*"])?)
        .layer(router.with_state(()));

    let (listener, addr) = support::listen("cors").await;
    println!("cors listening on http://{addr}; allowed origins: {ALLOWED_ORIGINS:?}; try:");
    println!("  curl -i -X OPTIONS -H 'Origin: https://acme.com' -H 'Access-Control-Request-Method: POST' http://{addr}/api/data   # 204; access-control-allow-origin: https://acme.com; access-control-max-age: 600");
    println!("  curl -i -H 'Origin: https://acme.com' http://{addr}/api/data   # 200; access-control-allow-origin: https://acme.com; vary: origin");
    println!("  curl -i -H 'Origin: https://evil.example' http://{addr}/api/data   # 200; no access-control-allow-origin");
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await?;
    Ok(())
}
