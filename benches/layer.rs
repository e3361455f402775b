//! Cost of the layer per request over a bare `tower::service_fn`, and allocations per request.
//!
//! `cargo bench --bench layer` (criterion; add `-- --quick` for a fast look).
//! The allocation counts are printed before the timings; they are measured, not assumed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::response::Response;
use criterion::{criterion_group, criterion_main, Criterion};
use http::Request;
use tower::{service_fn, Layer, Service};
use tower_proxy_fn::matcher::Decision;
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

/// Counts every allocation, so the bench can show what one request costs in allocations.
struct Counting;

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

#[global_allocator]
static GLOBAL: Counting = Counting;

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    match req.path() {
        "/rewrite" => ProxyResponse::rewrite("/target"),
        "/redirect" => ProxyResponse::redirect("/target"),
        _ => ProxyResponse::next().header("x-proxy", "ran"),
    }
}

fn bare(
) -> impl Service<Request<Body>, Response = Response, Error = Infallible, Future: Send> + Clone {
    service_fn(|_req: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::empty())) })
}

/// Drives a future that never waits (every service here is immediate) without a runtime,
/// so the figures are the layer's and not a scheduler's.
fn run<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn call<S>(service: &mut S, path: &'static str) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    let request = Request::get(path).body(Body::empty()).unwrap();
    run(service.call(request)).unwrap()
}

fn allocations_per_request<S>(service: &mut S, path: &'static str) -> f64
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    const ROUNDS: usize = 1000;
    // Building the request allocates too; subtract what the bare service costs with it.
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..ROUNDS {
        black_box(call(service, path));
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / ROUNDS as f64
}

fn layer(c: &mut Criterion) {
    let matcher = Matcher::new(["/((?!_next/static|_next/image|favicon.ico).*)"]).unwrap();
    let mut bare_service = bare();
    let mut proxied = ProxyLayer::new(proxy)
        .with_matcher(matcher.clone())
        .layer(bare());

    let baseline = allocations_per_request(&mut bare_service, "/_next/static/app.js");
    for (name, path) in [
        ("unmatched", "/_next/static/app.js"),
        ("next", "/page"),
        ("rewrite", "/rewrite"),
        ("redirect", "/redirect"),
    ] {
        let extra = allocations_per_request(&mut proxied, path) - baseline;
        println!("allocations per request over bare service_fn, {name}: {extra}");
    }

    let mut group = c.benchmark_group("layer");
    // The matcher's share of the unmatched case.
    let static_request = Request::get("/_next/static/app.js").body(()).unwrap();
    group.bench_function("matcher decide alone (unmatched)", |b| {
        b.iter(|| matches!(matcher.decide(black_box(&static_request)), Decision::Skip))
    });
    group.bench_function("bare service_fn", |b| {
        b.iter(|| call(&mut bare_service, "/_next/static/app.js"))
    });
    group.bench_function("unmatched", |b| {
        b.iter(|| call(&mut proxied, "/_next/static/app.js"))
    });
    group.bench_function("matched next", |b| b.iter(|| call(&mut proxied, "/page")));
    group.bench_function("rewrite", |b| b.iter(|| call(&mut proxied, "/rewrite")));
    group.bench_function("redirect", |b| b.iter(|| call(&mut proxied, "/redirect")));
    group.finish();
}

criterion_group!(benches, layer);
criterion_main!(benches);
