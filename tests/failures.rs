//! Failures of the proxy function (errors, panics) and request headers that must never make
//! the layer skip the proxy (CVE-2025-29927).

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use common::*;
use http::{Request, StatusCode};
use tower::{Layer, Service, ServiceExt};
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

fn counting_router(calls: &Arc<AtomicUsize>) -> Router {
    let calls = Arc::clone(calls);
    Router::new().fallback(move || {
        calls.fetch_add(1, Ordering::SeqCst);
        async { "handler" }
    })
}

/// Sends `request` through `service` itself (no clone): `ready().await`, then `call`.
async fn call_same<S>(service: &mut S, request: Request<Body>) -> axum::response::Response
where
    S: Service<
        Request<Body>,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
    >,
{
    service
        .ready()
        .await
        .expect("ready")
        .call(request)
        .await
        .expect("infallible")
}

// --- 7. errors and panics ------------------------------------------------------------------

#[tokio::test]
async fn err_from_the_proxy_becomes_that_response() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        if req.header("authorization") != Some("Bearer good") {
            return Err((
                StatusCode::FORBIDDEN,
                [("x-reason", "no-token")],
                "forbidden by proxy",
            ));
        }
        Ok(ProxyResponse::next())
    })
    .layer(counting_router(&calls));

    let response = send(&app, get_req("/secret")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(header_values(&response, "x-reason"), ["no-token"]);
    assert_eq!(body_string(response).await, "forbidden by proxy");
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let request = Request::get("/secret")
        .header("authorization", "Bearer good")
        .body(Body::empty())
        .unwrap();
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_string(response).await, "handler");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn err_of_a_custom_error_type_becomes_its_response() {
    struct AuthError;
    impl axum::response::IntoResponse for AuthError {
        fn into_response(self) -> axum::response::Response {
            (StatusCode::UNAUTHORIZED, "custom auth error").into_response()
        }
    }
    let app = common::wrap(|_req: ProxyRequest| async { Err::<ProxyResponse, _>(AuthError) });
    let response = send(&app, get_req("/")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_string(response).await, "custom auth error");
}

#[tokio::test]
async fn panic_inside_the_async_body_is_500_and_the_same_service_goes_on() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        tokio::task::yield_now().await;
        if req.path() == "/panic" {
            panic!("proxy panicked inside its future");
        }
        ProxyResponse::next().header("x-proxy", "ok")
    })
    .layer(counting_router(&calls));
    let mut service = app.clone();

    let response = call_same(&mut service, get_req("/panic")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let response = call_same(&mut service, get_req("/fine")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_values(&response, "x-proxy"), ["ok"]);
    assert_eq!(body_string(response).await, "handler");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn panic_before_the_first_await_is_500_and_the_same_service_goes_on() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        if req.path() == "/panic" {
            panic!("proxy panicked before awaiting");
        }
        tokio::task::yield_now().await;
        ProxyResponse::next()
    })
    .layer(counting_router(&calls));
    let mut service = app.clone();

    let response = call_same(&mut service, get_req("/panic")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let response = call_same(&mut service, get_req("/fine")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_string(response).await, "handler");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A plain closure that panics while building its future (before any future exists).
fn sync_panicking_proxy(req: ProxyRequest) -> impl Future<Output = ProxyResponse> + Send + 'static {
    if req.path() == "/panic" {
        panic!("proxy panicked in the sync part");
    }
    async { ProxyResponse::next().header("x-proxy", "ok") }
}

#[tokio::test]
async fn panic_in_a_sync_closure_returning_a_future_is_500_and_the_same_service_goes_on() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = ProxyLayer::new(sync_panicking_proxy).layer(counting_router(&calls));
    let mut service = app.clone();

    let response = call_same(&mut service, get_req("/panic")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let response = call_same(&mut service, get_req("/fine")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_values(&response, "x-proxy"), ["ok"]);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // And once more, to be sure nothing was left half-taken.
    let response = call_same(&mut service, get_req("/panic")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let response = call_same(&mut service, get_req("/fine")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn panic_with_a_closure_literal_is_500() {
    let app = common::wrap(|req: ProxyRequest| {
        if req.path() == "/panic" {
            panic!("closure panicked");
        }
        async { ProxyResponse::next() }
    });
    let mut service = app.clone();
    let response = call_same(&mut service, get_req("/panic")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let response = call_same(&mut service, get_req("/fine")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

// --- 8. CVE-2025-29927: no request header skips the proxy ---------------------------------

#[tokio::test]
async fn no_request_header_makes_the_layer_skip_the_proxy() {
    let proxy_runs = Arc::new(AtomicUsize::new(0));
    let handler_calls = Arc::new(AtomicUsize::new(0));
    let runs = Arc::clone(&proxy_runs);
    let app = ProxyLayer::new(move |_req: ProxyRequest| {
        runs.fetch_add(1, Ordering::SeqCst);
        async { ProxyResponse::respond((StatusCode::FORBIDDEN, "denied")) }
    })
    .layer(counting_router(&handler_calls));

    let cases: &[&[(&str, &str)]] = &[
        &[(
            "x-middleware-subrequest",
            "middleware:middleware:middleware:middleware:middleware",
        )],
        &[(
            "x-middleware-subrequest",
            "src/middleware:src/middleware:src/middleware:src/middleware:src/middleware",
        )],
        &[("x-middleware-subrequest", "src/middleware")],
        &[("x-middleware-subrequest", "pages/_middleware")],
        &[("x-middleware-subrequest", "proxy:proxy:proxy:proxy:proxy")],
        &[("x-nextjs-data", "1")],
        &[("x-invoke-path", "/")],
        &[("purpose", "prefetch")],
        &[("next-router-prefetch", "1")],
        &[
            (
                "x-middleware-subrequest",
                "middleware:middleware:middleware:middleware:middleware",
            ),
            ("x-nextjs-data", "1"),
            ("x-invoke-path", "/admin"),
            ("purpose", "prefetch"),
            ("next-router-prefetch", "1"),
            ("x-middleware-prefetch", "1"),
            ("x-middleware-invoke", "1"),
        ],
    ];
    for (i, headers) in cases.iter().enumerate() {
        let mut builder = Request::get("/admin");
        for (name, value) in *headers {
            builder = builder.header(*name, *value);
        }
        let response = send(&app, builder.body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "case {headers:?}");
        assert_eq!(body_string(response).await, "denied", "case {headers:?}");
        assert_eq!(proxy_runs.load(Ordering::SeqCst), i + 1, "case {headers:?}");
    }
    assert_eq!(handler_calls.load(Ordering::SeqCst), 0);
}
