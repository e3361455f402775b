//! Request logging: one JSON line per request with the client IP, its location, method,
//! path, user agent (parsed: browser, OS, device, bot) and the proxy's outcome. The proxy
//! lets requests through, except that bots are kept out of `/account` (403) and `/old`
//! redirects to `/hello`.
//!
//! `GEO_FROM=vercel` or `GEO_FROM=cloudflare` reads that CDN's location headers (only do
//! this behind that CDN: a client can send them too); `TRUSTED_PROXIES=N` trusts N proxies'
//! `X-Forwarded-For`. `RUST_LOG=info,tower_proxy_fn=debug` adds the layer's own decisions.
//!
//! Run: `cargo run --example logging --features user-agent` (on `127.0.0.1:3000`, or `ADDR`).
//! It prints what to try on stderr, and the JSON lines on stdout:
//!
//! ```text
//! $ curl -i http://127.0.0.1:3000/hello   # 200; "hello"
//! $ curl -i http://127.0.0.1:3000/old   # 307; location: /hello
//! $ curl -i -A 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' http://127.0.0.1:3000/account   # 403
//! ```
//!
//! ```json
//! {"timestamp":"...","level":"INFO","message":"request","ip":"127.0.0.1","method":"GET","path":"/hello","user_agent":"curl/7.88.1","browser":"HTTP Library","device":"Unknown","bot":false,"outcome":"next","target":"access"}
//! ```
//!
//! Behind Vercel and one proxy (`GEO_FROM=vercel TRUSTED_PROXIES=1`), a request with
//! `x-forwarded-for: 198.51.100.23`, `x-vercel-ip-country: US`, `x-vercel-ip-country-region: CA`
//! and `x-vercel-ip-city: San%20Francisco` logs `"ip":"198.51.100.23","country":"US",
//! "region":"CA","city":"San Francisco"`; without `GEO_FROM` the same headers log no location.

mod support;

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::{routing::get, Router};
use tower_proxy_fn::context::{Cdn, TrustedProxies};
use tower_proxy_fn::{Matcher, ProxyFn, ProxyLayer, ProxyRequest, ProxyResponse, ProxyService};
use tracing_subscriber::EnvFilter;

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    let ua = req.user_agent();
    let (response, outcome) = if ua.is_bot && req.path().starts_with("/account") {
        (ProxyResponse::respond(StatusCode::FORBIDDEN), "respond 403")
    } else if req.path() == "/old" {
        (ProxyResponse::redirect("/hello"), "redirect /hello")
    } else {
        (ProxyResponse::next(), "next")
    };
    let geo = req.geo();
    // Fields become JSON keys; `timestamp` comes from the subscriber.
    tracing::info!(
        target: "access",
        ip = req.client_ip().map(|ip| ip.to_string()),
        country = geo.and_then(|g| g.country.as_deref()),
        region = geo.and_then(|g| g.region.as_deref()),
        city = geo.and_then(|g| g.city.as_deref()),
        method = %req.method(),
        path = req.path(),
        user_agent = req.header("user-agent"),
        browser = ua.browser.as_ref().map(|b| b.name.as_str()),
        os = ua.os.as_ref().map(|os| os.name.as_str()),
        device = ?ua.device,
        bot = ua.is_bot,
        outcome,
        "request"
    );
    response
}

/// The application: three routes behind the logging proxy.
pub fn app(cdn: Option<Cdn>, proxies: TrustedProxies) -> ProxyService<Router, impl ProxyFn> {
    let router = Router::new()
        .route("/", get(|| async { "index\n" }))
        .route("/hello", get(|| async { "hello\n" }))
        .route("/account", get(|| async { "account\n" }));
    // Not the static files: they would drown the log.
    let matcher = Matcher::new(["/((?!_static|favicon.ico).*)"]).expect("a valid matcher");
    let layer = ProxyLayer::new(proxy)
        .with_matcher(matcher)
        .with_trusted_proxies(proxies);
    match cdn {
        Some(cdn) => layer.with_geo_headers(cdn).layer(router.with_state(())),
        None => layer.layer(router.with_state(())),
    }
}

#[allow(dead_code)] // `tests/user_agent.rs` includes this file for `app`.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The same subscriber prints what the layer itself logs (a refused value, a panic in
    // the proxy function), so those show up as JSON too.
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true) // fields at the top level, not under "fields"
        .with_current_span(false)
        .with_span_list(false) // one flat object per line
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();

    let cdn = match std::env::var("GEO_FROM").unwrap_or_default().as_str() {
        "" => None,
        "vercel" => Some(Cdn::Vercel),
        "cloudflare" => Some(Cdn::Cloudflare),
        other => return Err(format!("GEO_FROM={other:?}: expected vercel or cloudflare").into()),
    };
    let hops = match std::env::var("TRUSTED_PROXIES") {
        Ok(n) => n
            .parse()
            .map_err(|_| format!("TRUSTED_PROXIES={n:?}: expected a number of proxies"))?,
        Err(_) => 0,
    };

    let (listener, addr) = support::listen("logging").await;
    eprintln!("logging listening on http://{addr}; one JSON line per request on stdout; try:");
    eprintln!("  curl -i http://{addr}/hello   # 200; \"hello\"");
    eprintln!("  curl -i http://{addr}/old   # 307; location: /hello");
    eprintln!("  curl -i -A 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' http://{addr}/account   # 403");
    let make_service =
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(
            app(cdn, TrustedProxies::hops(hops)),
        );
    axum::serve(listener, make_service).await?;
    Ok(())
}
