//! A mistake in how the layer is set up is loud: a 500 whose body (in debug builds, as
//! tests are) names the problem and the fix, over a real server and with `oneshot`.

mod common;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::StatusCode;
use tower::ServiceExt;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

async fn rewrite_home(_: ProxyRequest) -> ProxyResponse {
    ProxyResponse::rewrite("/home")
}

#[tokio::test]
async fn a_rewrite_after_routing_says_how_to_mount_the_layer() {
    // `Router::layer` runs the layer after routing: a rewrite cannot reach `/home`.
    let app = Router::new()
        .route("/", get(|| async { "root" }))
        .route("/home", get(|| async { "home" }))
        .layer(ProxyLayer::new(rewrite_home));
    let response = app
        .clone()
        .oneshot(http::Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = common::body_string(response).await;
    assert!(body.contains("cannot re-route"), "{body}");
    assert!(body.contains("Wrap the whole Router"), "{body}");

    let addr = common::serve(app).await;
    let response = common::get_at(addr, "/", &[]).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = String::from_utf8_lossy(response.body());
    assert!(body.contains("Wrap the whole Router"), "{body}");
}

#[tokio::test]
async fn an_external_rewrite_without_forwarding_says_what_to_enable() {
    let app = ProxyLayer::new(|_: ProxyRequest| async {
        ProxyResponse::rewrite("http://backend.example/api")
    })
    .layer(Router::new().route("/", get(|| async { "root" })));
    let addr = common::serve(app).await;
    let response = common::get_at(addr, "/", &[]).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = String::from_utf8_lossy(response.body());
    assert!(
        body.contains("does not forward external rewrites"),
        "{body}"
    );
    assert!(body.contains("Upstreams::new().allow"), "{body}");
}
