//! An IP allow-list: only clients whose address is in `ALLOWED_IPS` (addresses and CIDR
//! ranges, comma-separated; default `127.0.0.1, ::1`) get through; everyone else gets a 401
//! JSON. `/health` stays open.
//!
//! The client IP is the connection's peer. A client that sends its own `X-Forwarded-For`
//! changes nothing, unless `TRUSTED_PROXIES` says which proxies may name the client: a
//! number of proxies in front (`TRUSTED_PROXIES=1`) or their addresses
//! (`TRUSTED_PROXIES=10.0.0.0/8`).
//!
//! Run: `cargo run --example ip_allowlist`, then `curl -i http://127.0.0.1:3000/`
//! (`ALLOWED_IPS=10.0.0.0/8 cargo run --example ip_allowlist` to see the 401).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::{routing::get, Router};
use tower::Layer;
use tower_proxy_fn::context::{IpAllowlist, TrustedProxies};
use tower_proxy_fn::{Matcher, ProxyFn, ProxyLayer, ProxyRequest, ProxyResponse, ProxyService};

async fn proxy(allowed: Arc<IpAllowlist>, req: ProxyRequest) -> ProxyResponse {
    // `None` when the server was started without connect info, or when a trusted proxy
    // wrote something that is not an address: fail closed.
    let client = req.client_ip();
    match client {
        Some(ip) if allowed.contains(ip) => {
            ProxyResponse::next().request_header("x-client-ip", ip.to_string())
        }
        _ => ProxyResponse::json(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({
                "error": "unauthorized",
                "ip": client.map(|ip| ip.to_string()),
            }),
        ),
    }
}

/// The application: `/` behind the allow-list, `/health` open.
pub fn app(allowed: IpAllowlist, proxies: TrustedProxies) -> ProxyService<Router, impl ProxyFn> {
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
    let allowed = Arc::new(allowed);
    let proxy = move |req| proxy(Arc::clone(&allowed), req);
    ProxyLayer::new(proxy)
        .with_matcher(Matcher::new(["/((?!health).*)"]).expect("a valid matcher"))
        .trust_proxies(proxies)
        .layer(router)
}

/// `TRUSTED_PROXIES`: empty or unset = none, a number = that many proxies, else ranges.
pub fn trusted_proxies(value: &str) -> Result<TrustedProxies, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(TrustedProxies::none());
    }
    if let Ok(count) = value.parse::<usize>() {
        return Ok(TrustedProxies::hops(count));
    }
    let ranges: IpAllowlist = value
        .parse()
        .map_err(|err| format!("TRUSTED_PROXIES: {err}"))?;
    Ok(TrustedProxies::addresses(ranges))
}

#[allow(dead_code)] // `tests/client_ip.rs` includes this file for `app`.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let list = std::env::var("ALLOWED_IPS").unwrap_or_else(|_| "127.0.0.1, ::1".to_owned());
    let allowed: IpAllowlist = list.parse().map_err(|err| format!("ALLOWED_IPS: {err}"))?;
    let proxies = trusted_proxies(&std::env::var("TRUSTED_PROXIES").unwrap_or_default())?;
    println!("allowed: {allowed}; trusted proxies: {proxies}");

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("ip_allowlist listening on http://{addr}");
    println!("  curl -i http://{addr}/        # 200 from an allowed IP, else 401 JSON");
    println!("  curl -i -H 'x-forwarded-for: 10.1.2.3' http://{addr}/   # ignored unless TRUSTED_PROXIES");
    println!("  curl -i http://{addr}/health  # always 200");
    // Connect info puts the peer address in the request extensions for `client_ip()`.
    let make_service =
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(
            app(allowed, proxies),
        );
    axum::serve(listener, make_service).await?;
    Ok(())
}
