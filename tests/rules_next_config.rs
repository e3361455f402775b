//! `examples/next_config.rs` with `examples/next.config.json`: each rule kind of the file
//! over `oneshot` (the README's curl walk-through, as a test).

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/next_config.rs"]
mod next_config;

mod common;

use axum::body::Body;
use common::*;
use http::StatusCode;

const CONFIG: &str = include_str!("../examples/next.config.json");

fn get(path: &str, cookie: Option<&str>) -> http::Request<Body> {
    let mut builder = http::Request::get(path);
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_example_config_routes_like_nextjs() {
    let app = next_config::app(CONFIG).expect("the example config loads");

    let response = send(&app, get("/blog/hello?ref=feed", None)).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&response), "/news/hello?ref=feed");
    // A config redirect carries no `headers` rule headers.
    assert!(header_values(&response, "x-frame-options").is_empty());

    let response = send(&app, get("/old-docs/a", None)).await;
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(location(&response), "/docs/a");

    let response = send(&app, get("/team", Some("team=blue"))).await;
    assert_eq!(location(&response), "/teams/blue");

    let response = send(&app, get("/news/hello", None)).await;
    assert_eq!(header_values(&response, "x-frame-options"), ["DENY"]);
    assert_eq!(header_values(&response, "x-article"), ["hello"]);
    assert_eq!(body_string(response).await, "news: hello\n");

    let response = send(&app, get("/me", Some("session=ann"))).await;
    assert_eq!(body_string(response).await, "user: ann\n");

    let response = send(&app, get("/docs/a/b", None)).await;
    assert_eq!(body_string(response).await, "docs: a/b\n");

    let response = send(&app, get("/anything/else", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_values(&response, "x-frame-options"), ["DENY"]);
    assert_eq!(body_string(response).await, "legacy: anything/else\n");

    let response = send(&app, get("/news/hello/", None)).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&response), "/news/hello");
}

#[test]
fn a_bad_config_names_the_rule() {
    let bad = CONFIG.replace("/old-docs/:path*", "/old-docs/(:path*");
    let err = next_config::app(&bad).expect_err("refused");
    assert_eq!(err.location(), "redirects[1].source");
}
