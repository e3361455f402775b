//! Cost of next.config rules per request, over the same layer without rules, and allocations
//! per request.
//!
//! `cargo bench --bench rules -- --warm-up-time 1 --measurement-time 3`. The allocation counts
//! are printed before the timings; they are measured, not assumed.

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
use tower_proxy_fn::rules::Rules;
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

/// Counts every allocation.
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

async fn proxy(_req: ProxyRequest) -> ProxyResponse {
    ProxyResponse::next()
}

/// Ten rules of each kind a site typically has.
const CONFIG: &str = r#"{
    "trailingSlash": false,
    "headers": [
        {"source": "/api/:path*", "headers": [{"key": "x-api", "value": "1"}]},
        {"source": "/news/:slug", "headers": [{"key": "x-article", "value": ":slug"}]}
    ],
    "redirects": [
        {"source": "/blog/:slug", "destination": "/news/:slug", "permanent": true},
        {"source": "/old-docs/:path*", "destination": "/docs/:path*", "permanent": true},
        {"source": "/team", "has": [{"type": "cookie", "key": "team"}], "destination": "/teams/:team", "permanent": false},
        {"source": "/about-us", "destination": "/about", "permanent": true}
    ],
    "rewrites": {
        "beforeFiles": [
            {"source": "/docs/:path*", "destination": "/api/docs/:path*"},
            {"source": "/me", "has": [{"type": "header", "key": "x-user"}], "destination": "/users/:xuser"}
        ],
        "fallback": [{"source": "/:path*", "destination": "/legacy/:path*"}]
    }
}"#;

fn bare(
) -> impl Service<Request<Body>, Response = Response, Error = Infallible, Future: Send> + Clone {
    service_fn(|_req: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::empty())) })
}

/// Drives a future that never waits without a runtime.
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
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..ROUNDS {
        black_box(call(service, path));
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / ROUNDS as f64
}

fn rules(c: &mut Criterion) {
    let matcher = Matcher::new(["/dashboard/:path*"]).unwrap();
    let mut plain = ProxyLayer::new(proxy)
        .with_matcher(matcher.clone())
        .layer(bare());
    let mut with_rules = ProxyLayer::new(proxy)
        .with_matcher(matcher)
        .with_rules(Rules::from_json(CONFIG).unwrap())
        .layer(bare());

    let baseline = allocations_per_request(&mut plain, "/_next/static/app.js");
    for (name, path) in [
        ("no rule matches", "/_next/static/app.js"),
        ("redirect", "/blog/hello"),
        ("before-routing rewrite", "/docs/a/b"),
        ("headers rule", "/news/hello"),
    ] {
        let extra = allocations_per_request(&mut with_rules, path) - baseline;
        println!("allocations per request over the layer without rules, {name}: {extra}");
    }

    let mut group = c.benchmark_group("rules");
    group.bench_function("layer without rules (unmatched)", |b| {
        b.iter(|| call(&mut plain, "/_next/static/app.js"))
    });
    group.bench_function("no rule matches", |b| {
        b.iter(|| call(&mut with_rules, "/_next/static/app.js"))
    });
    group.bench_function("redirect", |b| {
        b.iter(|| call(&mut with_rules, "/blog/hello"))
    });
    group.bench_function("before-routing rewrite", |b| {
        b.iter(|| call(&mut with_rules, "/docs/a/b"))
    });
    group.bench_function("headers rule", |b| {
        b.iter(|| call(&mut with_rules, "/news/hello"))
    });
    group.finish();
}

criterion_group!(benches, rules);
criterion_main!(benches);
