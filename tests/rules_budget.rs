//! The rules' budget that can be counted (issue 19, "`with_rules` when no rule matches"):
//! a request that no rule can match allocates nothing over the same layer without rules.
//! The timed side is the `rules` bench ("no rule matches" against "layer without rules").

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::response::Response;
use http::{Request, StatusCode};
use tower::{service_fn, Service};
use tower_proxy_fn::rules::Rules;
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

/// The allocations of one call, the request built before counting and the response
/// dropped after; the least of a few rounds (a lazily initialized global does not count).
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

/// An inner service that allocates nothing; `/missing` answers 404.
fn bare() -> impl Service<Request<Body>, Response = Response, Error = Infallible, Future: Send>
       + Clone
       + Send
       + Sync
       + 'static {
    service_fn(|request: Request<Body>| async move {
        let mut response = Response::new(Body::empty());
        if request.uri().path() == "/missing" {
            *response.status_mut() = StatusCode::NOT_FOUND;
        }
        Ok::<_, Infallible>(response)
    })
}

async fn next(_: ProxyRequest) -> ProxyResponse {
    ProxyResponse::next()
}

/// Every kind of rule, each on a part of the site a static file is not under, with a `has`
/// condition and a look-ahead among them.
const RULES: &str = r#"{
    "trailingSlash": false,
    "headers": [
        {"source": "/api/:path*", "headers": [{"key": "x-api", "value": "1"}]},
        {"source": "/news/:slug", "headers": [{"key": "x-article", "value": ":slug"}]},
        {"source": "/((?!_next/).*)/edit", "headers": [{"key": "cache-control", "value": "no-store"}]}
    ],
    "redirects": [
        {"source": "/blog/:slug", "destination": "/news/:slug", "permanent": true},
        {"source": "/team", "has": [{"type": "cookie", "key": "team"}], "destination": "/teams/:team", "permanent": false},
        {"source": "/about-us", "destination": "/about", "permanent": true}
    ],
    "rewrites": {
        "beforeFiles": [{"source": "/docs/:path*", "destination": "/api/docs/:path*"}],
        "afterFiles": [{"source": "/old/:path*", "destination": "/legacy/:path*"}],
        "fallback": [{"source": "/shop/:path*", "destination": "/store/:path*"}]
    }
}"#;

fn layers(
    rules: &str,
) -> (
    impl Service<Request<Body>, Response = Response, Error = Infallible>,
    impl Service<Request<Body>, Response = Response, Error = Infallible>,
) {
    let matcher = Matcher::new(["/dashboard/:path*"]).unwrap();
    let plain = ProxyLayer::new(next)
        .with_matcher(matcher.clone())
        .layer(bare());
    let with_rules = ProxyLayer::new(next)
        .with_matcher(matcher)
        .with_rules(Rules::from_json(rules).unwrap())
        .layer(bare());
    (plain, with_rules)
}

#[test]
fn the_inner_service_of_these_tests_allocates_nothing() {
    // Otherwise "no more than without rules" below could hide the layer's allocations.
    assert_eq!(
        allocations_of_one_call(&mut bare(), "/_next/static/app.js"),
        0
    );
}

#[test]
fn a_request_no_rule_matches_allocates_nothing_over_the_layer_without_rules() {
    let (mut plain, mut with_rules) = layers(RULES);
    for path in ["/_next/static/app.js", "/", "/about", "/blogs/x", "/apis"] {
        let baseline = allocations_of_one_call(&mut plain, path);
        let ours = allocations_of_one_call(&mut with_rules, path);
        assert_eq!(
            ours, baseline,
            "{path}: {ours} allocations with rules, {baseline} without"
        );
    }
}

#[test]
fn the_rules_still_apply_to_the_requests_they_match() {
    // The other side of the test above: the prefilter lets through what the rules match.
    let (_, mut service) = layers(RULES);
    let mut call = |path: &str| {
        let request = Request::get(path).body(Body::empty()).unwrap();
        run(service.call(request)).unwrap()
    };
    let response = call("/blog/hello");
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(response.headers()["location"], "/news/hello");
    let response = call("/api/users");
    assert_eq!(response.headers()["x-api"], "1");
    let response = call("/news/today");
    assert_eq!(response.headers()["x-article"], "today");
    let response = call("/posts/1/edit");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let response = call("/_next/x/edit");
    assert!(response.headers().get("cache-control").is_none());
}

#[test]
fn a_catch_all_404_rewrite_costs_at_most_a_copy_of_the_request_head() {
    // With `fallback: /:path*` every request may be rewritten after a 404, so its head is
    // kept for a second call: that copy, and nothing else (no boxed future).
    let catch_all =
        r#"{"rewrites": {"fallback": [{"source": "/:path*", "destination": "/legacy/:path*"}]}}"#;
    let (mut plain, mut with_rules) = layers(catch_all);
    let path = "/_next/static/app.js";
    let copy = (0..5)
        .map(|_| {
            let (parts, _) = Request::get(path).body(()).unwrap().into_parts();
            let before = allocations();
            let copy = parts.clone();
            let counted = allocations() - before;
            drop((parts, copy));
            counted
        })
        .min()
        .unwrap();
    let baseline = allocations_of_one_call(&mut plain, path);
    let ours = allocations_of_one_call(&mut with_rules, path);
    assert!(
        ours <= baseline + copy,
        "{ours} allocations with a catch-all fallback, {baseline} without rules, {copy} for the copy"
    );
}
