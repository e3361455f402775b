//! The response on its way back (issue 21, item 3): `ProxyResponse::on_response` sees and
//! edits the head of the response while the body streams on. Each use case runs with
//! `oneshot` and over a real server; hooks of a chain run in reverse order; a hook that
//! panics gives a 500 with a logged reason.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::response::Response;
use axum::routing::get;
use axum::Router;
use common::*;
use http::header::{CACHE_CONTROL, SET_COOKIE};
use http::{HeaderValue, StatusCode};
use tower_proxy_fn::compose::chain;
use tower_proxy_fn::{ProxyFn, ProxyLayer, ProxyRequest, ProxyResponse, ProxyService};

/// A megabyte that is not all one byte, so that a reordered or cut body shows.
fn big_body() -> Vec<u8> {
    (0..1_000_000u32).map(|i| (i % 251) as u8).collect()
}

fn router() -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/sets-cookie",
            get(|| async { ([(SET_COOKIE, "cart=1; Path=/")], "with a cookie") }),
        )
        .route("/big", get(|| async { big_body() }))
        .route(
            "/broken",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
}

/// Runs the same request with `oneshot` and over a real server, and hands both answers
/// (status, headers, body bytes) to `check`.
async fn both_ways<F>(
    service: ProxyService<Router, F>,
    path: &str,
    check: impl Fn(&http::Response<Vec<u8>>),
) where
    F: ProxyFn,
{
    let response = send(&service, get_req(path)).await;
    let (parts, body) = response.into_parts();
    check(&http::Response::from_parts(parts, body_bytes(body).await));

    let addr: SocketAddr = serve(service).await;
    let response = get_at(addr, path, &[]).await;
    let (parts, body) = response.into_parts();
    check(&http::Response::from_parts(parts, body.to_vec()));
}

type Log = Arc<Mutex<Vec<(String, u16)>>>;

fn access_log(log: Log) -> ProxyService<Router, impl ProxyFn> {
    ProxyLayer::new(move |req: ProxyRequest| {
        let log = Arc::clone(&log);
        async move {
            let path = req.path().to_owned();
            let decision = match req.path() {
                "/old" => ProxyResponse::redirect("/ok"),
                _ => ProxyResponse::next(),
            };
            decision.on_response(move |head| log.lock().unwrap().push((path, head.status.as_u16())))
        }
    })
    .layer(router())
}

#[tokio::test]
async fn an_access_log_gets_each_status() {
    let log = Log::default();
    for (path, status) in [
        ("/ok", 200),
        ("/missing", 404),
        ("/broken", 503),
        ("/old", 307),
    ] {
        both_ways(access_log(Arc::clone(&log)), path, |response| {
            assert_eq!(response.status().as_u16(), status, "{path}");
        })
        .await;
    }
    let expected: Vec<(String, u16)> = [
        ("/ok", 200),
        ("/missing", 404),
        ("/broken", 503),
        ("/old", 307),
    ]
    .into_iter()
    .flat_map(|(path, status)| [(path.to_owned(), status), (path.to_owned(), status)])
    .collect();
    assert_eq!(*log.lock().unwrap(), expected);
}

async fn only_on_success(_: ProxyRequest) -> ProxyResponse {
    ProxyResponse::next().on_response(|head| {
        if head.status.is_success() {
            head.headers
                .insert("x-served-by", HeaderValue::from_static("proxy"));
        }
    })
}

#[tokio::test]
async fn a_header_only_on_2xx() {
    for (path, expected) in [
        ("/ok", vec!["proxy"]),
        ("/missing", vec![]),
        ("/broken", vec![]),
    ] {
        let service = ProxyLayer::new(only_on_success).layer(router());
        both_ways(service, path, |response| {
            let values: Vec<_> = response.headers().get_all("x-served-by").iter().collect();
            assert_eq!(values, expected, "{path}");
        })
        .await;
    }
}

async fn private_where_a_cookie_is_set(_: ProxyRequest) -> ProxyResponse {
    ProxyResponse::next()
        // The proxy's own cookie is added after the hook: it does not count.
        .set_cookie("visited", "1")
        .on_response(|head| {
            if head.headers.contains_key(SET_COOKIE) {
                head.headers
                    .insert(CACHE_CONTROL, HeaderValue::from_static("private"));
            }
        })
}

#[tokio::test]
async fn cache_control_private_only_where_the_handler_set_a_cookie() {
    for (path, cache_control) in [("/sets-cookie", Some("private")), ("/ok", None)] {
        let service = ProxyLayer::new(private_where_a_cookie_is_set).layer(router());
        both_ways(service, path, |response| {
            let got = response
                .headers()
                .get(CACHE_CONTROL)
                .map(|v| v.to_str().unwrap());
            assert_eq!(got, cache_control, "{path}");
            let cookies: Vec<_> = response.headers().get_all(SET_COOKIE).iter().collect();
            assert!(cookies
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("visited=1")));
        })
        .await;
    }
}

#[tokio::test]
async fn the_body_streams_on_untouched() {
    let service = ProxyLayer::new(|_: ProxyRequest| async {
        ProxyResponse::next().on_response(|head| {
            head.headers.insert("x-seen", HeaderValue::from_static("1"));
        })
    })
    .layer(router());
    both_ways(service, "/big", |response| {
        assert_eq!(response.headers()["x-seen"], "1");
        assert!(
            response.body() == &big_body(),
            "the body arrives whole and in order"
        );
    })
    .await;
}

/// Appends `step` to `x-order` on the way back.
fn mark(step: &'static str) -> impl FnOnce(&mut http::response::Parts) + Send {
    move |head| {
        head.headers
            .append("x-order", HeaderValue::from_static(step));
    }
}

#[tokio::test]
async fn in_a_chain_hooks_run_in_reverse_order() {
    let proxy = chain()
        .then(|_: ProxyRequest| async { ProxyResponse::next().on_response(mark("first")) })
        .then(|_: ProxyRequest| async {
            ProxyResponse::next()
                .on_response(mark("second-a"))
                .on_response(mark("second-b"))
        })
        .then(|_: ProxyRequest| async { ProxyResponse::next().on_response(mark("third")) });
    let service = ProxyLayer::new(proxy).layer(router());
    both_ways(service, "/ok", |response| {
        let order: Vec<_> = response
            .headers()
            .get_all("x-order")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(order, ["third", "second-b", "second-a", "first"]);
    })
    .await;
}

#[tokio::test]
async fn hooks_of_a_chain_that_ends_in_its_own_response_run_on_it() {
    let proxy = chain()
        .then(|_: ProxyRequest| async { ProxyResponse::next().on_response(mark("logger")) })
        .then(|_: ProxyRequest| async {
            ProxyResponse::respond((StatusCode::FORBIDDEN, "no")).on_response(mark("guard"))
        });
    let service = ProxyLayer::new(proxy).layer(router());
    both_ways(service, "/ok", |response| {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let order: Vec<_> = response.headers().get_all("x-order").iter().collect();
        assert_eq!(order, ["guard", "logger"]);
    })
    .await;
}

#[tokio::test]
async fn a_hook_that_panics_gives_a_500_and_a_logged_reason() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let later_ran = Arc::new(Mutex::new(false));
    let flag = Arc::clone(&later_ran);
    let service = ProxyLayer::new(move |_: ProxyRequest| {
        let flag = Arc::clone(&flag);
        async move {
            ProxyResponse::next()
                // Added first, so it would run after the one that panics.
                .on_response(move |_| *flag.lock().unwrap() = true)
                .on_response(|_| panic!("hook exploded"))
        }
    })
    .layer(router());
    for _ in 0..2 {
        let response = send(&service, get_req("/ok")).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body_string(response).await, "Internal Server Error");
    }
    let text = logs.contents();
    assert!(text.contains("hook exploded"), "{text}");
    assert!(
        text.contains("a response hook of the proxy function panicked"),
        "{text}"
    );
    assert!(
        !*later_ran.lock().unwrap(),
        "the hooks after a panic do not run"
    );

    // And over a real server: the connection answers, the server keeps serving.
    let addr = serve(service).await;
    for _ in 0..2 {
        assert_eq!(get_at(addr, "/ok", &[]).await.status(), 500);
    }
}

#[tokio::test]
async fn an_invalid_decision_runs_no_hook() {
    let ran = Arc::new(Mutex::new(false));
    let flag = Arc::clone(&ran);
    let service = ProxyLayer::new(move |_: ProxyRequest| {
        let flag = Arc::clone(&flag);
        async move {
            ProxyResponse::next()
                .header("x-bad", "line\nbreak")
                .on_response(move |_| *flag.lock().unwrap() = true)
        }
    })
    .layer(router());
    let response: Response = send(&service, get_req("/ok")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!*ran.lock().unwrap());
}
