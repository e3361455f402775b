//! The handler sees the request's cookies with the proxy's sets and deletes applied, on
//! `next` and on a rewrite, as a Next.js page does since 14.2 (issue 21, item 2).

mod common;

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use common::*;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

/// Echoes every `Cookie` line the handler got, joined with ` | `.
async fn echo_cookie(headers: HeaderMap) -> String {
    headers
        .get_all("cookie")
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn router() -> Router {
    Router::new()
        .route("/page", get(echo_cookie))
        .route("/other", get(echo_cookie))
}

async fn set_a_delete_b(req: ProxyRequest) -> ProxyResponse {
    let decision = match req.path() {
        "/moved" => ProxyResponse::rewrite("/other"),
        "/untouched" => return ProxyResponse::rewrite("/page"),
        _ => ProxyResponse::next(),
    };
    decision.set_cookie("a", "1").delete_cookie("b")
}

#[tokio::test]
async fn over_a_real_server_the_handler_sees_the_proxys_set_and_delete() {
    let app = ProxyLayer::new(set_a_delete_b).layer(router());
    let addr = serve(app).await;

    let response = get_at(addr, "/page", &[("cookie", "b=2; c=3")]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body().as_ref(), b"c=3; a=1");
    // The browser is told the same thing.
    let set = header_values(&response, "set-cookie");
    assert!(set.iter().any(|line| line.starts_with("a=1")), "{set:?}");
    assert!(
        set.iter()
            .any(|line| line.starts_with("b=;") && line.contains("Max-Age=0")),
        "{set:?}"
    );

    // A client that sent neither: the handler sees only the proxy's.
    let response = get_at(addr, "/page", &[]).await;
    assert_eq!(response.body().as_ref(), b"a=1");

    // A set replaces the client's value where it stood; repeated lines become one.
    let response = get_at(addr, "/page", &[("cookie", "a=0; z=9"), ("cookie", "b=1")]).await;
    assert_eq!(response.body().as_ref(), b"a=1; z=9");
}

#[tokio::test]
async fn on_a_rewrite_too_and_not_when_the_proxy_sets_nothing() {
    let app = ProxyLayer::new(set_a_delete_b).layer(router());
    let addr = serve(app).await;

    let response = get_at(addr, "/moved", &[("cookie", "b=2; c=3")]).await;
    assert_eq!(response.body().as_ref(), b"c=3; a=1");

    // No cookie in the decision: the client's lines reach the handler as sent.
    let response = get_at(addr, "/untouched", &[("cookie", "b=2"), ("cookie", "c=3")]).await;
    assert_eq!(response.body().as_ref(), b"b=2 | c=3");
}

#[tokio::test]
async fn with_oneshot_an_encoded_value_reads_back_as_set() {
    async fn proxy(_: ProxyRequest) -> ProxyResponse {
        ProxyResponse::next().set_cookie("note", "a b;c")
    }
    async fn read(req: axum::extract::Request) -> String {
        // The handler's own reading (axum-extra's jar) decodes what the proxy encoded.
        let jar = axum_extra::extract::CookieJar::from_headers(req.headers());
        jar.get("note")
            .map(|c| c.value().to_owned())
            .unwrap_or_default()
    }
    let app = ProxyLayer::new(proxy).layer(Router::new().route("/", get(read)));
    let response = send(&app, get_req("/")).await;
    assert_eq!(body_string(response).await, "a b;c");
}
