//! The budgets that can be counted rather than timed (issue "A core that the next maintainer
//! can read"): allocations per request and the size of a decision. The timed side of the
//! same budgets is in `benches/layer.rs` and `benches/rules.rs` (see BENCHMARKS.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::middleware::{from_fn, Next};
use axum::response::Response;
use http::Request;
use tower::{service_fn, Layer, Service};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

/// Counts the allocations of the current thread only, so that the test harness's other
/// threads do not count.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a const-initialized thread
// local without a destructor, so touching it cannot allocate or re-enter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Drives an immediate future without a runtime (a runtime would allocate on its own).
fn run<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// The allocations of one call through `service`, from `call` to the response, the request
/// built before counting and the response dropped after. The least of a few rounds, so
/// that a lazily initialized global (tracing's callsite registry) does not count.
fn allocations_of_one_call<S>(service: &mut S, path: &str) -> usize
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    (0..5)
        .map(|_| {
            let request = Request::get(path).body(Body::empty()).unwrap();
            let before = allocations();
            let response = run(service.call(request)).unwrap();
            let counted = allocations() - before;
            drop(response);
            counted
        })
        .min()
        .unwrap()
}

/// An inner service that allocates nothing: an empty response.
fn bare() -> impl Service<Request<Body>, Response = Response, Error = Infallible, Future: Send>
       + Clone
       + Send
       + Sync
       + 'static {
    service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::empty())) })
}

async fn next(_: ProxyRequest) -> ProxyResponse {
    ProxyResponse::next()
}

async fn guard(_: ProxyRequest) -> ProxyResponse {
    ProxyResponse::redirect("/login")
}

#[test]
fn the_inner_service_of_these_tests_allocates_nothing() {
    // Otherwise "0 allocations through the layer" below would say nothing.
    assert_eq!(allocations_of_one_call(&mut bare(), "/about"), 0);
}

#[test]
fn a_request_the_matcher_skips_costs_no_allocation() {
    let matcher = Matcher::new(["/dashboard/:path*", "/((?!api|_next/static).*)admin"]).unwrap();
    let mut service = ProxyLayer::new(guard).with_matcher(matcher).layer(bare());
    assert_eq!(allocations_of_one_call(&mut service, "/about/team"), 0);
    // And the matched one is really guarded: this test would see a skipped guard.
    let request = Request::get("/dashboard").body(Body::empty()).unwrap();
    let response = run(service.call(request)).unwrap();
    assert_eq!(response.status(), 307);
}

#[test]
fn a_skipped_request_costs_no_allocation_in_every_body_mode() {
    let matcher = || Matcher::new(["/dashboard/:path*"]).unwrap();
    let mut buffered = ProxyLayer::new(guard)
        .with_matcher(matcher())
        .with_request_body(1024)
        .layer(bare());
    assert_eq!(allocations_of_one_call(&mut buffered, "/about"), 0);
}

#[test]
fn a_matched_next_allocates_no_more_than_from_fn_doing_the_same() {
    let mut ours = ProxyLayer::new(next).layer(bare());
    let mut theirs =
        from_fn(|request: Request<Body>, next: Next| async move { next.run(request).await })
            .layer(bare());
    let ours = allocations_of_one_call(&mut ours, "/about");
    let theirs = allocations_of_one_call(&mut theirs, "/about");
    println!("matched next: {ours} allocations; from_fn: {theirs}");
    assert!(
        ours <= theirs,
        "{ours} allocations against from_fn's {theirs}"
    );
}

#[test]
fn a_decision_is_at_most_128_bytes() {
    assert!(
        size_of::<ProxyResponse>() <= 128,
        "ProxyResponse is {} bytes",
        size_of::<ProxyResponse>()
    );
}
