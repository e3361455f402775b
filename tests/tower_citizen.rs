//! The service is a good tower citizen: Clone, Send futures, poll_ready forwarded, and it
//! composes with tower-http layers in a ServiceBuilder.

mod common;

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use common::*;
use http::{header, Request, StatusCode};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

async fn next_proxy(_req: ProxyRequest) -> ProxyResponse {
    ProxyResponse::next().header("x-proxy", "seen")
}

fn assert_clone<T: Clone>(_: &T) {}
fn assert_send<T: Send>(_: &T) {}
fn assert_send_sync_static<T: Send + Sync + 'static>(_: &T) {}

#[test]
fn service_and_layer_are_clone_send_sync() {
    let layer = ProxyLayer::new(next_proxy);
    assert_clone(&layer);
    assert_send_sync_static(&layer);
    let service = layer.layer(echo_router());
    assert_clone(&service);
    assert_send_sync_static(&service);
}

#[tokio::test]
async fn response_futures_are_send() {
    let mut service = ProxyLayer::new(next_proxy).layer(echo_router());
    ServiceExt::<Request<Body>>::ready(&mut service)
        .await
        .unwrap();
    let future = service.call(get_req("/"));
    assert_send(&future);
    // A Send + 'static future can be spawned on the multi-threaded runtime.
    let response = tokio::spawn(future).await.unwrap().unwrap();
    assert_eq!(header_values(&response, "x-proxy"), ["seen"]);

    // A future whose proxy holds something across an await is Send too.
    let mut service = ProxyLayer::new(|req: ProxyRequest| async move {
        let path = req.path().to_owned();
        tokio::task::yield_now().await;
        ProxyResponse::next().header("x-path", path)
    })
    .layer(echo_router());
    ServiceExt::<Request<Body>>::ready(&mut service)
        .await
        .unwrap();
    let future = service.call(get_req("/held"));
    assert_send(&future);
    let response = tokio::spawn(future).await.unwrap().unwrap();
    assert_eq!(header_values(&response, "x-path"), ["/held"]);
}

/// An inner service that is not ready on its first poll, and counts polls and calls.
#[derive(Clone)]
struct PendingOnce {
    polls: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl Service<Request<Body>> for PendingOnce {
    type Response = Response;
    type Error = Infallible;
    type Future = Ready<Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if self.polls.fetch_add(1, Ordering::SeqCst) == 0 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn call(&mut self, _request: Request<Body>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        ready(Ok(Response::new(Body::from("inner"))))
    }
}

#[tokio::test]
async fn poll_ready_is_forwarded_to_the_inner_service() {
    let inner = PendingOnce {
        polls: Arc::new(AtomicUsize::new(0)),
        calls: Arc::new(AtomicUsize::new(0)),
    };
    let mut service = ProxyLayer::new(next_proxy).layer(inner.clone());
    let mut cx = Context::from_waker(Waker::noop());

    assert!(
        service.poll_ready(&mut cx).is_pending(),
        "inner Pending is passed on"
    );
    assert_eq!(inner.polls.load(Ordering::SeqCst), 1);
    assert!(service.poll_ready(&mut cx).is_ready());
    assert_eq!(inner.polls.load(Ordering::SeqCst), 2);

    let response = service.call(get_req("/")).await.unwrap();
    assert_eq!(body_string(response).await, "inner");
    assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
}

/// An inner service whose poll_ready fails.
#[derive(Clone)]
struct NeverReady;

impl Service<Request<Body>> for NeverReady {
    type Response = Response;
    type Error = &'static str;
    type Future = Ready<Result<Response, &'static str>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
        Poll::Ready(Err("inner is closed"))
    }

    fn call(&mut self, _request: Request<Body>) -> Self::Future {
        ready(Ok(Response::new(Body::from("must not be called"))))
    }
}

#[tokio::test]
async fn poll_ready_error_is_forwarded() {
    let service = ProxyLayer::new(next_proxy).layer(NeverReady);
    let error = service.oneshot(get_req("/")).await.unwrap_err();
    assert_eq!(error, "inner is closed");
}

/// A one-at-a-time limit in the style of `tower::limit::ConcurrencyLimit` (tower's `limit`
/// feature is not enabled here): `poll_ready` takes the permit and keeps it in this instance,
/// `call` moves it into the response future, and dropping that future gives it back. Clones
/// start without the permit.
struct OnePermit<S> {
    inner: S,
    shared: Arc<PermitState>,
    held: Option<Permit>,
}

#[derive(Default)]
struct PermitState {
    taken: Mutex<bool>,
    waiters: Mutex<Vec<Waker>>,
}

struct Permit(Arc<PermitState>);

impl Drop for Permit {
    fn drop(&mut self) {
        *self.0.taken.lock().unwrap() = false;
        for waker in self.0.waiters.lock().unwrap().drain(..) {
            waker.wake();
        }
    }
}

impl<S> OnePermit<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            shared: Arc::default(),
            held: None,
        }
    }
}

impl<S: Clone> Clone for OnePermit<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            held: None,
        }
    }
}

impl<S> Service<Request<Body>> for OnePermit<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if self.held.is_none() {
            // Register first, then try: a release in between still wakes us.
            self.shared.waiters.lock().unwrap().push(cx.waker().clone());
            let mut taken = self.shared.taken.lock().unwrap();
            if *taken {
                return Poll::Pending;
            }
            *taken = true;
            self.held = Some(Permit(Arc::clone(&self.shared)));
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let permit = self.held.take().expect("call without poll_ready");
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await;
            drop(permit);
            response
        })
    }
}

#[tokio::test]
async fn concurrency_limit_inside_gives_backpressure_through_the_layer() {
    let handler_calls = Arc::new(AtomicUsize::new(0));
    let calls = Arc::clone(&handler_calls);
    let handler = tower::service_fn(move |_req: Request<Body>| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(Response::new(Body::from("limited"))) }
    });
    let inner = OnePermit::new(handler);
    let mut first = ProxyLayer::new(next_proxy).layer(inner);
    let mut second = first.clone();
    let mut cx = Context::from_waker(Waker::noop());

    // The first clone takes the only permit and starts a request (not yet polled).
    ServiceExt::<Request<Body>>::ready(&mut first)
        .await
        .unwrap();
    let in_flight = first.call(get_req("/one"));

    // While it is in flight, no other clone is ready, not even the first one again.
    assert!(
        second.poll_ready(&mut cx).is_pending(),
        "second clone must wait"
    );
    assert!(
        first.poll_ready(&mut cx).is_pending(),
        "first clone must wait too"
    );
    assert!(
        tokio::time::timeout(
            Duration::from_millis(50),
            ServiceExt::<Request<Body>>::ready(&mut second),
        )
        .await
        .is_err(),
        "second clone became ready while the permit was held"
    );

    // Finishing the request returns the permit.
    let response = in_flight.await.unwrap();
    assert_eq!(header_values(&response, "x-proxy"), ["seen"]);
    assert_eq!(body_string(response).await, "limited");
    tokio::time::timeout(
        Duration::from_secs(5),
        ServiceExt::<Request<Body>>::ready(&mut second),
    )
    .await
    .expect("second clone ready after the first request")
    .unwrap();
    let response = second.call(get_req("/two")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(handler_calls.load(Ordering::SeqCst), 2);
}

/// The proxy's own response still releases the permit it was given (the inner service is
/// never called).
#[tokio::test]
async fn concurrency_permit_is_released_when_the_proxy_answers_itself() {
    let handler = tower::service_fn(|_req: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::from("handler")))
    });
    let inner = OnePermit::new(handler);
    let service = ProxyLayer::new(|req: ProxyRequest| async move {
        if req.path() == "/deny" {
            ProxyResponse::respond((StatusCode::FORBIDDEN, "denied"))
        } else {
            ProxyResponse::next()
        }
    })
    .layer(inner);
    for _ in 0..3 {
        let response = tokio::time::timeout(
            Duration::from_secs(5),
            service.clone().oneshot(get_req("/deny")),
        )
        .await
        .expect("not stuck waiting for a permit")
        .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    let response = tokio::time::timeout(Duration::from_secs(5), service.oneshot(get_req("/ok")))
        .await
        .expect("not stuck waiting for a permit")
        .unwrap();
    assert_eq!(body_string(response).await, "handler");
}

/// The clone that was polled ready and then answered by the proxy itself gives its permit
/// back at once, whether the function decided on its first poll or after waiting, so that
/// another clone is not kept waiting for a request that never reached the inner service.
#[tokio::test]
async fn the_ready_clone_gives_its_permit_back_when_the_proxy_answers_itself() {
    let handler = tower::service_fn(|_req: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::from("handler")))
    });
    let deny_at_once = |_: ProxyRequest| async { ProxyResponse::respond(StatusCode::FORBIDDEN) };
    let deny_after_waiting = |_: ProxyRequest| async {
        tokio::task::yield_now().await;
        ProxyResponse::respond(StatusCode::FORBIDDEN)
    };
    let inner = OnePermit::new(handler);
    let at_once = ProxyLayer::new(deny_at_once).layer(inner.clone());
    let after_waiting = ProxyLayer::new(deny_after_waiting).layer(inner);
    let mut first_at_once = at_once.clone();
    let mut first_after_waiting = after_waiting.clone();
    let mut other = at_once;
    // Decided on the first poll.
    ServiceExt::<Request<Body>>::ready(&mut first_at_once)
        .await
        .unwrap();
    let response = first_at_once.call(get_req("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    tokio::time::timeout(
        Duration::from_secs(5),
        ServiceExt::<Request<Body>>::ready(&mut other),
    )
    .await
    .expect("the permit came back after an answer decided at once")
    .unwrap();
    drop(other);
    // Decided after waiting once.
    ServiceExt::<Request<Body>>::ready(&mut first_after_waiting)
        .await
        .unwrap();
    let response = first_after_waiting.call(get_req("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let mut other = after_waiting;
    tokio::time::timeout(
        Duration::from_secs(5),
        ServiceExt::<Request<Body>>::ready(&mut other),
    )
    .await
    .expect("the permit came back after an answer decided later")
    .unwrap();
}

/// A function that is not ready at its first poll (which the layer makes inside `call`) is
/// woken through the task's own waker when what it waits for arrives.
#[tokio::test]
async fn a_function_that_waits_is_woken_by_what_it_waits_for() {
    let proxy = |_: ProxyRequest| async {
        let (send, receive) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            send.send("late").unwrap();
        });
        let value = receive.await.unwrap();
        ProxyResponse::next().header("x-waited", value)
    };
    let service = ProxyLayer::new(proxy).layer(echo_router());
    let response = tokio::time::timeout(Duration::from_secs(5), service.oneshot(get_req("/")))
        .await
        .expect("the function was woken")
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_values(&response, "x-waited"), ["late"]);
}

// --- tower-http neighbours -------------------------------------------------------------------

/// CRC-32 (IEEE), as in the gzip trailer.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn large_text() -> String {
    (0..4000)
        .map(|i| format!("line {i}: the quick brown fox jumps over the lazy dog\n"))
        .collect()
}

/// Checks a gzip member: magic, then the trailer's CRC-32 and size of the original data.
fn assert_gzip_of(compressed: &[u8], original: &[u8]) {
    assert!(compressed.len() > 18, "too short for gzip");
    assert_eq!(
        &compressed[..3],
        &[0x1f, 0x8b, 0x08],
        "gzip magic and deflate"
    );
    let n = compressed.len();
    let crc = u32::from_le_bytes(compressed[n - 8..n - 4].try_into().unwrap());
    let size = u32::from_le_bytes(compressed[n - 4..].try_into().unwrap());
    assert_eq!(size as usize, original.len(), "gzip ISIZE");
    assert_eq!(crc, crc32(original), "gzip CRC-32");
    assert!(compressed.len() < original.len() / 4, "actually compressed");
}

fn big_router() -> Router {
    Router::new()
        .route("/big", get(|| async { large_text() }))
        .route("/old-big", get(|| async { "wrong route" }))
}

async fn big_proxy(req: ProxyRequest) -> ProxyResponse {
    if req.path() == "/old-big" {
        return ProxyResponse::rewrite("/big").header("x-proxy", "rewritten");
    }
    ProxyResponse::next().header("x-proxy", "seen")
}

fn gzip_request(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn inside_service_builder_with_trace_and_compression() {
    let app = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(CompressionLayer::new())
        .layer(ProxyLayer::new(big_proxy))
        .service(big_router());
    let original = large_text();
    for (path, marker) in [("/big", "seen"), ("/old-big", "rewritten")] {
        let response = app.clone().oneshot(gzip_request(path)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header_values(&response, "content-encoding"),
            ["gzip"],
            "{path}"
        );
        assert_eq!(header_values(&response, "x-proxy"), [marker], "{path}");
        let compressed = body_bytes(response.into_body()).await;
        assert_gzip_of(&compressed, original.as_bytes());
    }

    // Without accept-encoding the body is plain.
    let response = app.oneshot(get_req("/big")).await.unwrap();
    assert!(response.headers().get("content-encoding").is_none());
    assert_eq!(header_values(&response, "x-proxy"), ["seen"]);
    assert_eq!(body_bytes(response.into_body()).await, original.as_bytes());
}

#[tokio::test]
async fn outside_trace_and_compression_in_service_builder() {
    let app = ServiceBuilder::new()
        .layer(ProxyLayer::new(big_proxy))
        .layer(TraceLayer::new_for_http())
        .layer(CompressionLayer::new())
        .service(big_router());
    let original = large_text();
    for (path, marker) in [("/big", "seen"), ("/old-big", "rewritten")] {
        let response = app.clone().oneshot(gzip_request(path)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header_values(&response, "content-encoding"),
            ["gzip"],
            "{path}"
        );
        assert_eq!(header_values(&response, "x-proxy"), [marker], "{path}");
        let compressed = body_bytes(response.into_body()).await;
        assert_gzip_of(&compressed, original.as_bytes());
    }
}
