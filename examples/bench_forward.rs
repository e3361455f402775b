//! The servers of `scripts/forward-vs-peers.sh`, which measures what an external rewrite
//! costs: one binary, the role chosen by `VARIANT`.
//!
//! - `upstream`: answers every request with `{"ok":true}`.
//! - `ours`: every request rewritten to `UPSTREAM` (`host:port`) with the same path and
//!   query, through `ProxyLayer::with_external`.
//! - `bare`: the same forwarding written by hand with hyper-util's pooled client, and the
//!   same header edits as the layer's (hop-by-hop headers dropped both ways, `Host` set to
//!   the upstream, `X-Forwarded-For`/`-Host`/`-Proto` set): what the layer is measured
//!   against. What it does not do, and the layer does: the exchange's time limit (a timer
//!   for the head, one for the body), the allow-list check, parsing the rewrite's URL,
//!   validating `Host` before it becomes `X-Forwarded-Host`, and closing idle upstream
//!   connections after 4 s (hyper-util's default, kept here, is 90 s).
//!
//! ```sh
//! VARIANT=upstream ADDR=127.0.0.1:4000 cargo run --release --features external --example bench_forward
//! VARIANT=ours UPSTREAM=127.0.0.1:4000 ADDR=127.0.0.1:3000 cargo run --release --features external --example bench_forward
//! ```
//!
//! Each prints `listening on <addr>` once bound (`ADDR=127.0.0.1:0` picks a free port).

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tower_proxy_fn::external::Upstreams;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let variant = std::env::var("VARIANT").unwrap_or_else(|_| "upstream".to_owned());
    let upstream = || std::env::var("UPSTREAM").expect("UPSTREAM: the upstream's host:port");
    let app = match variant.as_str() {
        "upstream" => Router::new().fallback(|| async {
            (
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"ok":true}"#,
            )
        }),
        "ours" => ours(upstream())?,
        "bare" => bare(upstream()),
        other => return Err(format!("VARIANT={other}: upstream, ours or bare").into()),
    };
    let (listener, addr) = support::listen("bench_forward").await;
    println!("listening on {addr}");
    // `ConnectInfo` gives both forwarders the client's address for `X-Forwarded-For`.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

/// The layer, rewriting everything to the upstream; the router under it is never reached.
fn ours(upstream: String) -> Result<Router, Box<dyn std::error::Error>> {
    let origin = format!("http://{upstream}");
    let upstreams = Upstreams::new()
        .allow(&origin)?
        .with_timeout(Duration::from_secs(30));
    let proxy = move |req: ProxyRequest| {
        let mut target = format!("{origin}{}", req.path());
        if let Some(query) = req.url().query() {
            target.push('?');
            target.push_str(query);
        }
        std::future::ready(ProxyResponse::rewrite(target))
    };
    // A layer over a `Router` is a service, not a `Router`: nest it as the fallback.
    let layered = ProxyLayer::new(proxy)
        .with_external(upstreams)
        .layer(Router::new());
    Ok(Router::new().fallback_service(layered))
}

/// The headers a proxy drops both ways (RFC 9110 §7.6.1), and the proxy credentials.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // The headers `Connection` names go too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in named.iter().chain(&HOP_BY_HOP) {
        headers.remove(name);
    }
    headers.remove(header::PROXY_AUTHORIZATION);
    headers.remove(header::PROXY_AUTHENTICATE);
}

/// The forwarding by hand: hyper-util's pooled client, set up as the layer sets up its own
/// (`TCP_NODELAY`, the pool's timer), and the same header edits.
fn bare(upstream: String) -> Router {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .build(connector);
    let destination = HeaderValue::try_from(upstream.as_str()).expect("UPSTREAM is host:port");
    Router::new().fallback(
        move |ConnectInfo(peer): ConnectInfo<SocketAddr>, mut request: Request| {
            let client = client.clone();
            let destination = destination.clone();
            let upstream = upstream.clone();
            async move {
                let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
                *request.uri_mut() = Uri::try_from(format!("http://{upstream}{path}"))
                    .expect("a path and query from a parsed URI");
                let headers = request.headers_mut();
                remove_hop_by_hop(headers);
                let forwarded_for = match headers.get("x-forwarded-for") {
                    Some(chain) => format!("{}, {}", chain.to_str().unwrap_or(""), peer.ip()),
                    None => peer.ip().to_string(),
                };
                headers.insert(
                    "x-forwarded-for",
                    HeaderValue::try_from(forwarded_for).expect("an IP address is a value"),
                );
                match headers.get(header::HOST).cloned() {
                    Some(host) => headers.insert("x-forwarded-host", host),
                    None => headers.remove("x-forwarded-host"),
                };
                headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
                headers.insert(header::HOST, destination);
                let response = match client.request(request).await {
                    Ok(response) => {
                        let mut response = response.map(Body::new);
                        remove_hop_by_hop(response.headers_mut());
                        response
                    }
                    Err(err) => (http::StatusCode::BAD_GATEWAY, format!("{err}\n")).into_response(),
                };
                Ok::<Response, Infallible>(response)
            }
        },
    )
}
