//! What the proxy function can read from `ProxyRequest`, observed through the layer.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use common::*;
use http::{header, Request, StatusCode};
use serde_json::{json, Value};
use tower_proxy_fn::{ProxyRequest, ProxyResponse};

/// A proxy that answers with what it read.
async fn observe(req: ProxyRequest) -> ProxyResponse {
    ProxyResponse::json(
        StatusCode::OK,
        &json!({
            "method": req.method().as_str(),
            "path": req.path(),
            "query_string": req.query_string(),
            "url": req.url().as_str(),
            "next_url": req.next_url().href(),
            "query_x": req.query("x"),
            "query_missing": req.query("missing"),
            "url_for_login": req.url_for("/login").as_str(),
            "url_for_relative": req.url_for("settings").as_str(),
            "client_addr": req.client_addr().map(|a| a.to_string()),
            "params_empty": req.params().is_empty(),
            "params_count": req.params().iter().count(),
            "header_user_agent": req.header("user-agent"),
        }),
    )
}

async fn observed(request: Request<Body>) -> Value {
    let response = send(&wrap(observe), request).await;
    assert_eq!(response.status(), StatusCode::OK);
    body_json(response).await
}

#[tokio::test]
async fn url_is_built_from_the_host_header() {
    let seen = observed(
        Request::get("/path?x=1")
            .header(header::HOST, "example.com:8080")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(seen["url"], "http://example.com:8080/path?x=1");
    assert_eq!(seen["next_url"], "http://example.com:8080/path?x=1");
    assert_eq!(seen["path"], "/path");
    assert_eq!(seen["query_string"], "x=1");
}

#[tokio::test]
async fn url_falls_back_to_the_uri_authority_without_a_host_header() {
    let seen = observed(
        Request::get("http://example.org:9000/p?q=2")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(seen["url"], "http://example.org:9000/p?q=2");
    assert_eq!(seen["path"], "/p");
}

#[tokio::test]
async fn query_returns_the_last_value_decoded() {
    let seen = observed(
        Request::get("/search?x=1&y=0&x=a%20b+c")
            .header(header::HOST, "example.com")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    // The last value of a repeated key, as the matcher's `has` reads it.
    assert_eq!(seen["query_x"], "a b c");
    assert_eq!(seen["query_missing"], Value::Null);

    let seen = observed(get_req("/search?x=1")).await;
    assert_eq!(seen["query_x"], "1");
    let seen = observed(get_req("/search")).await;
    assert_eq!(seen["query_x"], Value::Null);
}

#[tokio::test]
async fn url_for_resolves_against_the_request_url() {
    let seen = observed(
        Request::get("/dashboard/team?x=1")
            .header(header::HOST, "example.com:8080")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(seen["url_for_login"], "http://example.com:8080/login");
    assert_eq!(
        seen["url_for_relative"],
        "http://example.com:8080/dashboard/settings"
    );
}

#[tokio::test]
async fn client_addr_comes_from_connect_info() {
    let addr = SocketAddr::from(([10, 0, 0, 7], 5555));
    let mut request = get_req("/");
    request.extensions_mut().insert(ConnectInfo(addr));
    let seen = observed(request).await;
    assert_eq!(seen["client_addr"], "10.0.0.7:5555");

    let seen = observed(get_req("/")).await;
    assert_eq!(seen["client_addr"], Value::Null);
}

#[tokio::test]
async fn params_are_empty_without_a_matcher() {
    let seen = observed(get_req("/users/42")).await;
    assert_eq!(seen["params_empty"], true);
    assert_eq!(seen["params_count"], 0);
}

#[tokio::test]
async fn method_and_headers_are_visible() {
    let seen = observed(
        Request::delete("/item/1")
            .header(header::USER_AGENT, "test-agent/1.0")
            .body(Body::from("ignored"))
            .unwrap(),
    )
    .await;
    assert_eq!(seen["method"], "DELETE");
    assert_eq!(seen["header_user_agent"], "test-agent/1.0");
}

#[test]
fn from_request_works_without_a_server() {
    let req = ProxyRequest::from_request(
        Request::get("/path?x=1&x=2")
            .header(header::HOST, "example.com:8080")
            .header(header::COOKIE, "a=1; b=x%20y")
            .body(())
            .unwrap(),
    );
    assert_eq!(req.url().as_str(), "http://example.com:8080/path?x=1&x=2");
    // The last value of a repeated key, as the matcher's `has` and axum's `Query` read it.
    assert_eq!(req.query("x").as_deref(), Some("2"));
    assert_eq!(
        req.url_for("/login").as_str(),
        "http://example.com:8080/login"
    );
    assert_eq!(req.cookies().get("b"), Some("x y"));
    assert_eq!(req.client_addr(), None);
    assert!(req.params().is_empty());
}
