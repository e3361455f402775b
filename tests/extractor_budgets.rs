//! A matched function that takes two extractors allocates no more than
//! `axum::middleware::from_fn_with_state` with the same two doing the same job (issue 21:
//! "costs no more than the same extractors in `from_fn`"); the timed side is
//! `benches/extractors.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::extract::State;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use http::Request;
use tower::{service_fn, Layer, Service};
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

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

#[derive(Clone)]
struct App {
    token: Arc<str>,
}

async fn ours(State(app): State<App>, jar: CookieJar, _req: ProxyRequest) -> ProxyResponse {
    match jar.get("session") {
        Some(cookie) if cookie.value() == &*app.token => ProxyResponse::next(),
        _ => ProxyResponse::redirect("/login"),
    }
}

async fn theirs(
    State(app): State<App>,
    jar: CookieJar,
    request: Request<Body>,
    next: Next,
) -> Response {
    match jar.get("session") {
        Some(cookie) if cookie.value() == &*app.token => next.run(request).await,
        _ => Redirect::temporary("/login").into_response(),
    }
}

fn bare() -> impl Service<Request<Body>, Response = Response, Error = Infallible, Future: Send>
       + Clone
       + Send
       + Sync
       + 'static {
    service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::empty())) })
}

/// The allocations of one signed-in call through `service` (the request built before
/// counting, the response dropped after), and its status; the least of a few rounds.
fn allocations_of_one_call<S>(service: &mut S, cookie: &str) -> (usize, u16)
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    (0..5)
        .map(|_| {
            let request = Request::get("/dashboard")
                .header("cookie", cookie)
                .body(Body::empty())
                .unwrap();
            let before = ALLOCATIONS.with(Cell::get);
            let response = run(service.call(request)).unwrap();
            let counted = ALLOCATIONS.with(Cell::get) - before;
            (counted, response.status().as_u16())
        })
        .min()
        .unwrap()
}

#[test]
fn two_extractors_allocate_no_more_than_from_fn_with_state() {
    let app = App {
        token: Arc::from("t0k3n"),
    };
    let mut ours = ProxyLayer::with_state(app.clone(), ours).layer(bare());
    let mut theirs = from_fn_with_state(app, theirs).layer(bare());
    // The job: a signed-in request goes through.
    let cookie = "theme=dark; session=t0k3n";
    let (ours_count, our_status) = allocations_of_one_call(&mut ours, cookie);
    let (theirs_count, their_status) = allocations_of_one_call(&mut theirs, cookie);
    assert_eq!((our_status, their_status), (200, 200));
    println!("signed in: {ours_count} allocations; from_fn_with_state: {theirs_count}");
    assert!(
        ours_count <= theirs_count,
        "{ours_count} allocations against from_fn_with_state's {theirs_count}"
    );
    // Turned away, both redirect. A redirect costs one allocation more than in `from_fn`
    // with no extractor at all (the decision owns its destination): the extractors add
    // nothing to that.
    let (ours_count, our_status) = allocations_of_one_call(&mut ours, "theme=dark");
    let (theirs_count, their_status) = allocations_of_one_call(&mut theirs, "theme=dark");
    assert_eq!((our_status, their_status), (307, 307));
    let (plain_ours, plain_theirs) = plain_redirects();
    println!(
        "redirected: {ours_count} allocations; from_fn_with_state: {theirs_count}; \
         without extractors: {plain_ours} against from_fn's {plain_theirs}"
    );
    assert!(
        ours_count + plain_theirs <= theirs_count + plain_ours,
        "the extractors cost more than in from_fn_with_state"
    );
}

/// The allocations of a redirect by a function with no extractor, ours and `from_fn`'s.
fn plain_redirects() -> (usize, usize) {
    async fn plain(_: ProxyRequest) -> ProxyResponse {
        ProxyResponse::redirect("/login")
    }
    async fn by_hand(_: Request<Body>, _: Next) -> Response {
        Redirect::temporary("/login").into_response()
    }
    let mut ours = ProxyLayer::new(plain).layer(bare());
    let mut theirs = axum::middleware::from_fn(by_hand).layer(bare());
    let (ours, _) = allocations_of_one_call(&mut ours, "theme=dark");
    let (theirs, _) = allocations_of_one_call(&mut theirs, "theme=dark");
    (ours, theirs)
}
