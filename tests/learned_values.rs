//! What the proxy learned reaches handlers as extractors, with the values the proxy saw,
//! which a client's (or the function's) headers do not change (issue 21, item 4).

mod common;

use axum::routing::get;
use axum::Router;
use common::*;
use tower_proxy_fn::context::TrustedProxies;
use tower_proxy_fn::extract::{ClientGeo, ClientIp, MatchedParams};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

async fn ip_and_geo(ClientIp(ip): ClientIp, ClientGeo(geo): ClientGeo) -> String {
    format!("{ip:?} {:?}", geo.and_then(|g| g.country))
}

async fn params(MatchedParams(params): MatchedParams) -> String {
    format!("{:?}", params.get("team"))
}

fn router() -> Router {
    Router::new()
        .route("/ip", get(ip_and_geo))
        .route("/teams/{team}", get(params))
        .route("/renamed", get(params))
}

/// Tells the client what it saw, and tries to mislead the handler with request headers.
async fn proxy(req: ProxyRequest) -> ProxyResponse {
    let saw = format!("{:?}", req.client_ip());
    let decision = if req.path() == "/teams/old" {
        ProxyResponse::rewrite("/renamed")
    } else {
        ProxyResponse::next()
    };
    decision
        .header("x-proxy-saw", saw)
        .request_header("x-forwarded-for", "192.0.2.200")
        .request_header("cf-ipcountry", "ZZ")
}

#[tokio::test]
async fn a_forwarding_header_does_not_change_the_client_ip_the_handler_gets() {
    let app = ProxyLayer::new(proxy).with_learned_values().layer(router());
    let addr = serve_with_peer(app).await;
    // Sent by the client itself, to a layer that trusts no proxy.
    let response = get_at(
        addr,
        "/ip",
        &[("x-forwarded-for", "203.0.113.9"), ("cf-ipcountry", "FR")],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header_values(&response, "x-proxy-saw"), ["Some(127.0.0.1)"]);
    assert_eq!(response.body().as_ref(), b"Some(127.0.0.1) None");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_handler_gets_the_proxys_reading_not_the_edited_header() {
    let app = ProxyLayer::new(proxy)
        .with_trusted_proxies(TrustedProxies::hops(1))
        .with_learned_values()
        .layer(router());
    let addr = serve_with_peer(app).await;
    let response = get_at(addr, "/ip", &[("x-forwarded-for", "198.51.100.4")]).await;
    assert_eq!(
        header_values(&response, "x-proxy-saw"),
        ["Some(198.51.100.4)"]
    );
    // The function set `x-forwarded-for: 192.0.2.200` for the handler: not what it learned.
    assert_eq!(response.body().as_ref(), b"Some(198.51.100.4) None");
}

#[tokio::test]
async fn the_matchers_parameters_reach_the_handler_also_after_a_rewrite() {
    let app = ProxyLayer::new(proxy)
        .with_matcher(Matcher::new(["/teams/:team", "/ip"]).unwrap())
        .with_learned_values()
        .layer(router());
    let response = send(&app, get_req("/teams/red")).await;
    assert_eq!(body_string(response).await, "Some(\"red\")");
    let response = send(&app, get_req("/teams/old")).await;
    assert_eq!(body_string(response).await, "Some(\"old\")");
}

#[tokio::test]
async fn a_handler_behind_no_proxy_gets_a_logged_500() {
    let log = LogCapture::default();
    let _guard = tracing::subscriber::set_default(log.subscriber());
    let response = send(&router(), get_req("/ip")).await;
    assert_eq!(response.status(), 500);
    assert!(
        log.contents()
            .contains("the proxy layer is not mounted in front of this route"),
        "{}",
        log.contents()
    );
    // Mounted, but without `with_learned_values`: the same answer, not a guess.
    let app = ProxyLayer::new(proxy).layer(router());
    assert_eq!(send(&app, get_req("/teams/red")).await.status(), 500);
}

#[cfg(feature = "user-agent")]
#[tokio::test]
async fn the_user_agent_is_the_one_the_proxy_parsed() {
    use tower_proxy_fn::extract::ClientUserAgent;
    async fn bot(req: ProxyRequest) -> ProxyResponse {
        let is_bot = req.user_agent().is_bot;
        ProxyResponse::next()
            .header("x-bot", is_bot.to_string())
            .request_header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
            )
    }
    let app = ProxyLayer::new(bot)
        .with_learned_values()
        .layer(Router::new().route(
            "/",
            get(|ClientUserAgent(ua): ClientUserAgent| async move { ua.is_bot.to_string() }),
        ));
    let addr = serve(app).await;
    let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let response = get_at(addr, "/", &[("user-agent", googlebot)]).await;
    assert_eq!(header_values(&response, "x-bot"), ["true"]);
    assert_eq!(response.body().as_ref(), b"true");
}
