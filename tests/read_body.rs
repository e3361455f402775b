//! `ProxyLayer::with_request_body`: the function reads the body; the same bytes reach the handler.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::routing::post;
use axum::Router;
use futures_util::StreamExt;
use http::StatusCode;
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

async fn inspect(req: ProxyRequest) -> ProxyResponse {
    let body = req.body().cloned().unwrap_or_default();
    if body.windows(6).any(|w| w == b"forbid") {
        return ProxyResponse::respond((StatusCode::FORBIDDEN, "no"));
    }
    ProxyResponse::rewrite("/echo").header("x-proxy-saw-bytes", body.len().to_string())
}

fn app(
    limit: usize,
) -> impl tower::Service<Request, Response = axum::response::Response, Error = Infallible> + Clone {
    let router = Router::new().route("/echo", post(|body: Bytes| async move { body }));
    ProxyLayer::new(inspect)
        .with_request_body(limit)
        .layer(router)
}

async fn send(
    service: impl tower::Service<Request, Response = axum::response::Response, Error = Infallible>,
    body: Body,
) -> (StatusCode, Option<String>, Bytes) {
    let request = Request::post("/upload").body(body).unwrap();
    let response = service.oneshot(request).await.unwrap();
    let saw = response
        .headers()
        .get("x-proxy-saw-bytes")
        .map(|v| v.to_str().unwrap().to_owned());
    let status = response.status();
    (
        status,
        saw,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

#[tokio::test]
async fn the_function_reads_the_body_and_the_handler_gets_the_same_bytes() {
    let payload: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let (status, saw, echoed) = send(app(64 * 1024), Body::from(payload.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(saw.as_deref(), Some("50000"));
    assert_eq!(echoed.as_ref(), payload.as_slice());
}

#[tokio::test]
async fn the_function_can_decide_on_the_body() {
    let (status, _, body) = send(app(1024), Body::from("please forbid this")).await;
    assert_eq!(
        (status, body.as_ref()),
        (StatusCode::FORBIDDEN, b"no".as_ref())
    );
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_413_at_once() {
    let request = Request::post("/upload")
        .header("content-length", "5000")
        .body(Body::from(vec![b'x'; 5000]))
        .unwrap();
    let response = app(1024).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_413_without_reading_past_it() {
    // Ten chunks of 1 KiB against a 2.5 KiB limit: the layer must stop by the third.
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let chunks = futures_util::stream::iter(0..10).map(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Infallible>(Bytes::from(vec![b'y'; 1024]))
    });
    let (status, _, _) = send(app(2560), Body::from_stream(chunks)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let pulled = pulled.load(Ordering::SeqCst);
    assert!(
        pulled <= 3,
        "read {pulled} chunks of 1 KiB for a 2.5 KiB limit"
    );
}

#[tokio::test]
async fn without_read_body_the_function_sees_no_body() {
    let router = Router::new().route("/echo", post(|body: Bytes| async move { body }));
    let app = ProxyLayer::new(inspect).layer(router);
    let (status, saw, echoed) = send(app, Body::from("streamed")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(saw.as_deref(), Some("0"));
    assert_eq!(echoed.as_ref(), b"streamed");
}
