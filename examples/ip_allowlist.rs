//! An IP allowlist: only clients whose address is in `ALLOWED_IPS` (comma-separated, default
//! `127.0.0.1,::1`) get through; everyone else gets a 401 JSON. `/health` stays open.
//!
//! Run: `cargo run --example ip_allowlist`, then `curl -i http://127.0.0.1:3000/`
//! (and `ALLOWED_IPS=10.0.0.1 cargo run --example ip_allowlist` to see the 401).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::{routing::get, Router};
use tower::Layer;
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

async fn proxy(allowed: Arc<[IpAddr]>, req: ProxyRequest) -> ProxyResponse {
    if req.path() == "/health" {
        return ProxyResponse::next();
    }
    // The TCP peer, from `into_make_service_with_connect_info::<SocketAddr>()`. Behind a
    // reverse proxy this is the proxy's address; only trust `X-Forwarded-For` from it.
    // `to_canonical` turns `::ffff:127.0.0.1` (a dual-stack listener) back into `127.0.0.1`.
    let client = req.client_addr().map(|addr| addr.ip().to_canonical());
    match client {
        Some(ip) if allowed.contains(&ip) => {
            ProxyResponse::next().request_header("x-client-ip", ip.to_string())
        }
        // No address at all means the server was not started with connect info: fail closed.
        _ => ProxyResponse::json(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({
                "error": "unauthorized",
                "ip": client.map(|ip| ip.to_string()),
            }),
        ),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let list = std::env::var("ALLOWED_IPS").unwrap_or_else(|_| "127.0.0.1,::1".to_owned());
    let allowed = list
        .split(',')
        .map(|ip| ip.trim().parse::<IpAddr>())
        .collect::<Result<Arc<[IpAddr]>, _>>()
        .map_err(|err| format!("ALLOWED_IPS={list:?}: {err}"))?;
    println!("allowed IPs: {allowed:?}");

    let router = Router::new()
        .route(
            "/",
            get(|headers: HeaderMap| async move {
                let ip = headers
                    .get("x-client-ip")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("?");
                format!("{ip} is on the list\n")
            }),
        )
        .route("/health", get(|| async { "ok\n" }));
    // The function takes its state through a closure: each call clones the `Arc`.
    let state = Arc::clone(&allowed);
    let proxy = move |req| proxy(Arc::clone(&state), req);
    let app = ProxyLayer::new(proxy)
        .with_matcher(Matcher::new(["/((?!health).*)"])?)
        .layer(router);

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("ip_allowlist listening on http://{addr}");
    println!("  curl -i http://{addr}/        # 200 from an allowed IP, else 401 JSON");
    println!("  curl -i http://{addr}/health  # always 200");
    // Connect info puts the peer address in the request extensions for `client_addr()`.
    let make_service =
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(
            app,
        );
    axum::serve(listener, make_service).await?;
    Ok(())
}
