//! What the benches share: a bare service to measure against, a way to drive a future without
//! a runtime, and an allocation counter (which `tests/matcher_alloc.rs` shares too).

// Each bench uses the part it needs.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderName, HeaderValue, Request};
use tower::{service_fn, Service};
use tower_proxy_fn::{ProxyRequest, ProxyResponse};

/// Counts every allocation; a bench installs it with
/// `#[global_allocator] static GLOBAL: support::Counting = support::Counting;`.
pub struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// A service that answers at once with an empty response: the baseline.
pub fn bare(
) -> impl Service<Request<Body>, Response = Response, Error = Infallible, Future: Send> + Clone {
    service_fn(|_req: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::empty())) })
}

/// Drives a future that never waits (every service here is immediate) without a runtime,
/// so the figures are the layer's and not a scheduler's.
pub fn run<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// One `GET path` through `service`.
pub fn call<S>(service: &mut S, path: &'static str) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    let request = Request::get(path).body(Body::empty()).unwrap();
    run(service.call(request)).unwrap()
}

/// Allocations per `GET path` (building the request included: subtract a baseline), counted
/// by [`Counting`] when the bench installed it.
pub fn allocations_per_request<S>(service: &mut S, path: &'static str) -> f64
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    const ROUNDS: usize = 1000;
    let count = allocations(|| {
        for _ in 0..ROUNDS {
            black_box(call(service, path));
        }
    });
    count as f64 / ROUNDS as f64
}

/// How many allocations `work` makes, counted by [`Counting`] when it is installed.
pub fn allocations(work: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    work();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

/// The proxy function of the layer benches: a rewrite, a redirect, or `next` with one
/// response header.
pub async fn proxy(req: ProxyRequest) -> ProxyResponse {
    match req.path() {
        "/rewrite" => ProxyResponse::rewrite("/target"),
        "/redirect" => ProxyResponse::redirect("/target"),
        _ => ProxyResponse::next().header(X_PROXY, HeaderValue::from_static("ran")),
    }
}

/// The header both middlewares add, a constant in both: they compare the middleware, not
/// the parsing of a header name.
pub const X_PROXY: HeaderName = HeaderName::from_static("x-proxy");

/// The job of [`proxy`]'s `next` (one response header for every non-static path) written by
/// hand with `axum::middleware::from_fn`, for comparison.
pub async fn by_hand(request: Request<Body>, next: Next) -> Response {
    let skip = ["/_next/static", "/_next/image", "/favicon.ico"]
        .iter()
        .any(|prefix| request.uri().path().starts_with(prefix));
    let mut response = next.run(request).await;
    if !skip {
        response
            .headers_mut()
            .insert(X_PROXY, HeaderValue::from_static("ran"));
    }
    response
}
