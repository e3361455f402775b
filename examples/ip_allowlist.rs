//! An IP allow-list: only clients whose address is in `ALLOWED_IPS` (addresses and CIDR
//! ranges, comma-separated; default `127.0.0.1, ::1`) get through; everyone else gets a 401
//! JSON. `/health` stays open.
//!
//! The client IP is the connection's peer. A client that sends its own `X-Forwarded-For`
//! changes nothing, unless `TRUSTED_PROXIES` says which proxies may name the client: a
//! number of proxies in front (`TRUSTED_PROXIES=1`) or their addresses
//! (`TRUSTED_PROXIES=10.0.0.0/8`).
//!
//! Run: `cargo run --example ip_allowlist` (on `127.0.0.1:3000`, or `ADDR`). It prints what to
//! try, with the answers its settings give:
//!
//! ```text
//! $ ALLOWED_IPS=10.0.0.0/8 cargo run --example ip_allowlist
//! $ curl -i http://127.0.0.1:3000/   # 401; "127.0.0.1"
//! $ curl -i -H 'x-forwarded-for: 10.1.2.3' http://127.0.0.1:3000/   # 401; "127.0.0.1"
//! $ curl -i http://127.0.0.1:3000/health   # 200; "ok"
//!
//! $ TRUSTED_PROXIES=1 ALLOWED_IPS=10.0.0.0/8 cargo run --example ip_allowlist
//! $ curl -i -H 'x-forwarded-for: 10.1.2.3' http://127.0.0.1:3000/   # 200; "10.1.2.3 is on the list"
//! $ curl -i -H 'x-forwarded-for: 10.1.2.3, 198.51.100.23' http://127.0.0.1:3000/   # 401; "198.51.100.23"
//! ```
//!
//! The 401 is `{"error":"unauthorized","ip":"..."}`; with one trusted proxy, curl plays the
//! proxy, and the rightmost address it forwards is the client.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::{routing::get, Router};
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
        .with_trusted_proxies(proxies)
        .layer(router.with_state(()))
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

    let (listener, addr) = support::listen("ip_allowlist").await;
    // The answers these settings give to a client on 127.0.0.1, as the layer will work them out.
    let local = Some(IpAddr::from([127, 0, 0, 1]));
    let answer = |forwarded: &str| {
        let mut headers = HeaderMap::new();
        if let Ok(value) = forwarded.parse() {
            headers.insert("x-forwarded-for", value);
        }
        match proxies.client_ip(local, &headers) {
            Some(ip) if allowed.contains(ip) => format!("200; \"{ip} is on the list\""),
            Some(ip) => format!("401; \"{ip}\""),
            None => "401".to_owned(),
        }
    };
    println!("ip_allowlist listening on http://{addr}; try:");
    println!("  curl -i http://{addr}/   # {}", answer(""));
    for forwarded in ["10.1.2.3", "10.1.2.3, 198.51.100.23"] {
        let expected = answer(forwarded);
        println!("  curl -i -H 'x-forwarded-for: {forwarded}' http://{addr}/   # {expected}");
    }
    println!("  curl -i http://{addr}/health   # 200; \"ok\"");
    // Connect info puts the peer address in the request extensions for `client_ip()`.
    let make_service =
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(
            app(allowed, proxies.clone()),
        );
    axum::serve(listener, make_service).await?;
    Ok(())
}
