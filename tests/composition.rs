//! Chains, `when`, stacked layers, background work, time limits and the decision span.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::routing::get;
use axum::Router;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use tower::{ServiceBuilder, ServiceExt};
use tower_proxy_fn::compose::{chain, when};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

fn router() -> Router {
    async fn echo_headers(headers: HeaderMap) -> String {
        let mut seen: Vec<String> = headers
            .iter()
            .filter(|(k, _)| k.as_str().starts_with("x-"))
            .map(|(k, v)| format!("{k}={}", v.to_str().unwrap()))
            .collect();
        seen.sort();
        seen.join(",")
    }
    Router::new()
        .route("/", get(echo_headers))
        .route("/admin", get(echo_headers))
        .route("/login", get(|| async { "login" }))
}

async fn send(
    app: impl tower::Service<
        Request,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
    >,
    path: &str,
) -> (StatusCode, HeaderMap, String) {
    let response = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (parts.status, parts.headers, body)
}

async fn tag(_: ProxyRequest) -> ProxyResponse {
    ProxyResponse::next()
        .request_header("x-step", "one")
        .header("x-from-first", "1")
        .set_cookie("first", "kept")
}

async fn sees_tag(req: ProxyRequest) -> ProxyResponse {
    // The second function sees the first one's request header.
    let seen = req.header("x-step").unwrap_or("missing").to_owned();
    ProxyResponse::next().request_header("x-seen-by-second", seen)
}

async fn redirect_to_login(_: ProxyRequest) -> ProxyResponse {
    ProxyResponse::redirect("/login").set_cookie("second", "set")
}

#[tokio::test]
async fn second_function_sees_the_first_ones_request_header() {
    let app = ProxyLayer::new(chain().then(tag).then(sees_tag)).layer(router());
    let (status, headers, body) = send(app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "x-seen-by-second=one,x-step=one");
    assert_eq!(headers["x-from-first"], "1");
}

#[tokio::test]
async fn first_cookie_survives_the_second_ones_redirect() {
    let app = ProxyLayer::new(chain().then(tag).then(redirect_to_login)).layer(router());
    let (status, headers, _) = send(app, "/").await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(headers["location"], "/login");
    assert_eq!(headers["x-from-first"], "1");
    let cookies: Vec<&str> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["first=kept; Path=/", "second=set; Path=/"]);
}

#[tokio::test]
async fn an_invalid_later_step_makes_the_whole_chain_a_500() {
    async fn bad_header(_: ProxyRequest) -> ProxyResponse {
        ProxyResponse::next()
            .request_header("x-ok", "1")
            .header("bad name", "x")
    }
    let app = ProxyLayer::new(chain().then(tag).then(bad_header)).layer(router());
    let (status, headers, body) = send(app, "/").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body.contains("x-step"), "the inner service ran: {body}");
    assert!(headers.get("x-from-first").is_none());
    assert!(headers.get("set-cookie").is_none());
}

#[tokio::test]
async fn the_chain_stops_at_the_first_non_next() {
    let later = Arc::new(AtomicUsize::new(0));
    let counter = later.clone();
    let count = move |_: ProxyRequest| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            ProxyResponse::next()
        }
    };
    let app = ProxyLayer::new(chain().then(redirect_to_login).then(count)).layer(router());
    let (status, _, _) = send(app, "/").await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        later.load(Ordering::SeqCst),
        0,
        "nothing runs after a redirect"
    );
}

#[tokio::test]
async fn when_runs_its_function_only_for_matching_requests() {
    let guarded = when(Matcher::new(["/admin/:path*"]).unwrap(), redirect_to_login);
    let app = ProxyLayer::new(chain().then(tag).then(guarded)).layer(router());
    let (status, _, body) = send(app.clone(), "/").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "x-step=one"));
    let (status, headers, _) = send(app, "/admin").await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(headers["location"], "/login");
}

#[tokio::test]
async fn two_stacked_layers_both_run() {
    let app = ServiceBuilder::new()
        .layer(ProxyLayer::new(tag))
        .layer(ProxyLayer::new(sees_tag))
        .service(router());
    let (status, headers, body) = send(app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "x-seen-by-second=one,x-step=one");
    assert_eq!(headers["x-from-first"], "1");
}

#[tokio::test]
async fn wait_until_finishes_after_the_response_and_shutdown_waits_for_it() {
    let done = Arc::new(AtomicUsize::new(0));
    let flag = done.clone();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = Arc::new(Mutex::new(Some(released)));
    let proxy = move |req: ProxyRequest| {
        let flag = flag.clone();
        let gate = released.lock().unwrap().take();
        async move {
            req.wait_until(async move {
                if let Some(gate) = gate {
                    gate.await.ok();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                flag.fetch_add(1, Ordering::SeqCst);
            });
            ProxyResponse::next()
        }
    };
    let layer = ProxyLayer::new(proxy);
    let background = layer.background_tasks();
    let (status, _, _) = send(layer.layer(router()), "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        done.load(Ordering::SeqCst),
        0,
        "the response did not wait for the work"
    );
    assert_eq!(background.len(), 1);
    release.send(()).unwrap();
    assert!(background.shutdown(Duration::from_secs(5)).await);
    assert_eq!(
        done.load(Ordering::SeqCst),
        1,
        "shutdown waited for the work"
    );
}

#[tokio::test]
async fn shutdown_gives_up_after_its_limit() {
    let proxy = |req: ProxyRequest| async move {
        req.wait_until(tokio::time::sleep(Duration::from_secs(30)));
        ProxyResponse::next()
    };
    let layer = ProxyLayer::new(proxy);
    let background = layer.background_tasks();
    send(layer.layer(router()), "/").await;
    let started = std::time::Instant::now();
    assert!(!background.shutdown(Duration::from_millis(50)).await);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn failing_and_panicking_background_work_does_not_reach_the_server() {
    let proxy = |req: ProxyRequest| async move {
        req.wait_until(async { Err::<(), _>("audit log unavailable") });
        req.wait_until(async {
            if true {
                panic!("analytics exploded");
            }
        });
        ProxyResponse::next()
    };
    let layer = ProxyLayer::new(proxy);
    let background = layer.background_tasks();
    let app = layer.layer(router());
    let (first, _, _) = send(app.clone(), "/").await;
    assert!(background.shutdown(Duration::from_secs(5)).await);
    let (second, _, _) = send(app, "/").await;
    assert_eq!((first, second), (StatusCode::OK, StatusCode::OK));
}

#[tokio::test]
async fn a_slow_function_answers_504_within_the_limit() {
    let slow = |_: ProxyRequest| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        ProxyResponse::next()
    };
    let app = ProxyLayer::new(slow)
        .with_timeout(Duration::from_millis(50))
        .layer(router());
    let started = std::time::Instant::now();
    let (status, _, _) = send(app, "/").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_fast_function_is_not_cut_off_by_the_limit() {
    let app = ProxyLayer::new(tag)
        .with_timeout(Duration::from_secs(5))
        .layer(router());
    let (status, _, body) = send(app, "/").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "x-step=one"));
}

/// A writer into a shared buffer, for reading what `tracing` printed.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn one_span_per_decision_and_none_for_unmatched_requests() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let matcher = Matcher::new(["/admin"]).unwrap();
    let app = ProxyLayer::new(redirect_to_login)
        .with_matcher(matcher)
        .layer(router());
    send(app.clone(), "/admin").await;
    let after_matched = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(after_matched.contains("proxy decided"), "{after_matched}");
    assert!(after_matched.contains("source=/admin"), "{after_matched}");
    assert!(
        after_matched.contains("outcome=\"redirect\""),
        "{after_matched}"
    );
    assert!(after_matched.contains("status=307"), "{after_matched}");
    assert!(after_matched.contains("elapsed_us="), "{after_matched}");

    send(app, "/").await;
    let after_unmatched = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        after_matched, after_unmatched,
        "an unmatched request logs nothing"
    );
}

#[tokio::test]
async fn params_captured_by_the_matcher_reach_the_function() {
    let matcher = Matcher::from_json(
        r#"{"matcher": [{"source": "/blog/:slug", "has": [{"type": "header", "key": "authorization", "value": "Bearer (?<token>.+)"}]}]}"#,
    )
    .unwrap();
    let show = |req: ProxyRequest| async move {
        let slug = req.param("slug").unwrap_or("-").to_owned();
        let token = req.param("token").unwrap_or("-").to_owned();
        ProxyResponse::respond(format!("{slug} {token}"))
    };
    let app = ProxyLayer::new(show).with_matcher(matcher).layer(router());
    let request = |path: &str| {
        Request::get(path)
            .header("authorization", "Bearer abc")
            .body(Body::empty())
            .unwrap()
    };
    let body = |response: axum::response::Response| async move {
        String::from_utf8(
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap()
    };
    let response = app
        .clone()
        .oneshot(request("/blog/hello%20world"))
        .await
        .unwrap();
    assert_eq!(
        body(response).await,
        "hello world abc",
        "path values are percent-decoded"
    );
    // Matched only in its collapsed form: the captures come from that form.
    let response = app.oneshot(request("//blog/x")).await.unwrap();
    assert_eq!(body(response).await, "x abc");
}
