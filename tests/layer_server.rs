//! A real server (`axum::serve` on 127.0.0.1:0) and a real HTTP client (hyper-util's legacy
//! `Client`): redirect, rewrite, cookies and a 10 MB streamed POST through a rewrite.

mod common;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use common::*;
use http::{header, Method, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse, RedirectStatus};

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    match req.path() {
        "/about" => ProxyResponse::redirect(req.url_for("/redirected")),
        "/permanent" => {
            ProxyResponse::redirect_with_status("https://example.com/x", RedirectStatus::Permanent)
        }
        "/another" => ProxyResponse::rewrite("/api/echo/rewritten?via=proxy"),
        "/cookies" => ProxyResponse::rewrite("/api/echo/cookies")
            .header(
                "x-seen-cookie",
                req.cookies().get("nextjs").unwrap_or("none"),
            )
            .set_cookie("vercel", "fast")
            .cookie(
                tower_proxy_fn::cookie::Cookie::build(("prefs", "dark"))
                    .http_only(true)
                    .same_site(tower_proxy_fn::cookie::SameSite::Lax),
            )
            .delete_cookie("old"),
        "/upload" => ProxyResponse::rewrite("/sink?rewritten=1"),
        "/whoami" => ProxyResponse::json(
            StatusCode::OK,
            &json!({ "ip": req.client_addr().map(|a| a.ip().to_string()) }),
        ),
        _ => ProxyResponse::next(),
    }
}

/// Streams the request body, counting bytes and frames and hashing with FNV-1a.
async fn sink(request: Request) -> Json<Value> {
    let query = request.uri().query().map(str::to_owned);
    let mut body = request.into_body();
    let mut len = 0u64;
    let mut frames = 0u64;
    let mut hash = Fnv1a::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("request body frame");
        if let Ok(data) = frame.into_data() {
            frames += 1;
            len += data.len() as u64;
            hash.update(&data);
        }
    }
    Json(json!({ "len": len, "fnv": hash.0.to_string(), "frames": frames, "query": query }))
}

fn app_router() -> Router {
    Router::new()
        .route("/redirected", get(|| async { "redirected" }))
        .route("/api/echo/{*rest}", get(echo).post(echo))
        .route("/sink", post(sink))
        .route("/upload", post(|| async { "upload handler must not run" }))
        .route(
            "/peer",
            get(|ConnectInfo(addr): ConnectInfo<SocketAddr>| async move { addr.ip().to_string() }),
        )
}

async fn start_server() -> SocketAddr {
    let app = ProxyLayer::new(proxy).layer(app_router());
    serve_with_peer(app).await
}

async fn get_from(addr: SocketAddr, path: &str, cookie: Option<&str>) -> http::Response<Bytes> {
    let cookie: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
    get_at(addr, path, &cookie).await
}

#[tokio::test]
async fn server_redirect_status_and_location() {
    let addr = start_server().await;
    let response = get_from(addr, "/about", None).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&response), "/redirected");

    let response = get_from(addr, "/permanent", None).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&response), "https://example.com/x");
}

#[tokio::test]
async fn server_rewrite_serves_the_destination_handler() {
    let addr = start_server().await;
    let response = get_from(addr, "/another?x=1", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(header::LOCATION).is_none());
    let echo: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(echo["path"], "/api/echo/rewritten");
    assert_eq!(echo["query"], "via=proxy");
    assert_eq!(echo["method"], "GET");
}

#[tokio::test]
async fn server_cookies_arrive_as_separate_set_cookie_lines() {
    let addr = start_server().await;
    let response = get_from(addr, "/cookies", Some("nextjs=fast; other=1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_values(&response, "x-seen-cookie"), ["fast"]);
    let lines = set_cookies(&response);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], "vercel=fast; Path=/");
    let prefs: Vec<&str> = lines[1].split("; ").collect();
    assert_eq!(prefs[0], "prefs=dark");
    assert!(prefs.contains(&"HttpOnly"), "{lines:?}");
    assert!(prefs.contains(&"Path=/"), "{lines:?}");
    assert!(
        prefs.iter().any(|a| a.eq_ignore_ascii_case("SameSite=Lax")),
        "{lines:?}"
    );
    let old: Vec<&str> = lines[2].split("; ").collect();
    assert_eq!(old[0], "old=");
    assert!(old.contains(&"Max-Age=0"), "{lines:?}");
    let echo: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(echo["path"], "/api/echo/cookies");
    // The handler sees the proxy's cookies (sets `vercel` and `prefs`, deletes `old`), as
    // the browser will send them next time (issue 21; docs/cookies.md).
    assert_eq!(
        echoed_header(&echo, "cookie"),
        ["nextjs=fast; other=1; vercel=fast; prefs=dark"]
    );
}

#[tokio::test]
async fn server_client_addr_comes_from_connect_info() {
    let addr = start_server().await;
    let response = get_from(addr, "/whoami", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["ip"], "127.0.0.1");
    // The handler extracts it too: the layer keeps the extension.
    let response = get_from(addr, "/peer", None).await;
    assert_eq!(std::str::from_utf8(response.body()).unwrap(), "127.0.0.1");
}

#[tokio::test]
async fn server_ten_megabyte_streamed_post_through_a_rewrite_arrives_intact() {
    const TOTAL: usize = 10 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let addr = start_server().await;

    // The producer makes pseudo-random chunks (xorshift) and hashes what it sends.
    let (tx, rx) = mpsc::channel::<Bytes>(2);
    let producer = tokio::spawn(async move {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut hash = Fnv1a::default();
        let mut sent = 0usize;
        while sent < TOTAL {
            let mut chunk = Vec::with_capacity(CHUNK);
            while chunk.len() < CHUNK {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.extend_from_slice(&state.to_le_bytes());
            }
            chunk.truncate(CHUNK.min(TOTAL - sent));
            hash.update(&chunk);
            sent += chunk.len();
            tx.send(Bytes::from(chunk))
                .await
                .expect("server reads the body");
        }
        (sent as u64, hash.0)
    });

    let client = Client::builder(TokioExecutor::new()).build_http::<ChannelBody>();
    let request = http::Request::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}/upload?x=1"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(ChannelBody(rx))
        .unwrap();
    let response = client.request(request).await.expect("upload");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let seen: Value = serde_json::from_slice(&bytes).unwrap();
    let (sent_len, sent_hash) = producer.await.unwrap();

    assert_eq!(sent_len, TOTAL as u64);
    assert_eq!(seen["len"], sent_len, "length seen by the handler");
    assert_eq!(
        seen["fnv"],
        sent_hash.to_string(),
        "FNV-1a seen by the handler"
    );
    assert_eq!(
        seen["query"], "rewritten=1",
        "served by the rewrite destination"
    );
    assert!(
        seen["frames"].as_u64().unwrap() > 1,
        "the body streamed in more than one frame: {seen}"
    );
}
