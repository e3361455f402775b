//! A matched proxy function that takes two extractors (`State` and axum-extra's
//! `CookieJar`) against `axum::middleware::from_fn_with_state` with the same two doing the
//! same job: a session check that lets the request through.
//!
//! `cargo bench --bench extractors` (criterion; add `-- --quick` for a fast look). The
//! allocation counts are printed before the timings; `tests/extractor_budgets.rs` asserts
//! them.

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use criterion::{criterion_group, criterion_main, Criterion};
use http::Request;
use tower::{Layer, Service};
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

mod support;

use support::{allocations, bare, run};

#[global_allocator]
static GLOBAL: support::Counting = support::Counting;

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

fn signed_in() -> Request<Body> {
    Request::get("/dashboard")
        .header("cookie", "theme=dark; session=t0k3n")
        .body(Body::empty())
        .unwrap()
}

fn one<S>(service: &mut S) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    let response = run(service.call(signed_in())).unwrap();
    assert_eq!(
        response.status(),
        200,
        "the session check lets the request through"
    );
    response
}

fn extractors(c: &mut Criterion) {
    let app = App {
        token: Arc::from("t0k3n"),
    };
    let mut proxied = ProxyLayer::with_state(app.clone(), ours).layer(bare());
    let captured = app.clone();
    let mut plain = ProxyLayer::new(move |req: ProxyRequest| {
        let app = captured.clone();
        async move {
            let jar = CookieJar::from_headers(req.headers());
            match jar.get("session") {
                Some(cookie) if cookie.value() == &*app.token => ProxyResponse::next(),
                _ => ProxyResponse::redirect("/login"),
            }
        }
    })
    .layer(bare());
    let mut by_hand = from_fn_with_state(app, theirs).layer(bare());

    const ROUNDS: usize = 1000;
    let baseline = allocations(|| {
        for _ in 0..ROUNDS {
            black_box(signed_in());
        }
    });
    let per_request = |count: usize| (count - baseline) as f64 / ROUNDS as f64;
    let ours_count = allocations(|| {
        for _ in 0..ROUNDS {
            black_box(one(&mut proxied));
        }
    });
    let theirs_count = allocations(|| {
        for _ in 0..ROUNDS {
            black_box(one(&mut by_hand));
        }
    });
    println!(
        "allocations per request, State + CookieJar: ProxyLayer::with_state {}, from_fn_with_state {}",
        per_request(ours_count),
        per_request(theirs_count)
    );

    let mut group = c.benchmark_group("extractors");
    group.bench_function("ProxyLayer::with_state, State + CookieJar", |b| {
        b.iter(|| one(&mut proxied))
    });
    group.bench_function("ProxyLayer::new, the same job without extractors", |b| {
        b.iter(|| one(&mut plain))
    });
    group.bench_function("from_fn_with_state, State + CookieJar", |b| {
        b.iter(|| one(&mut by_hand))
    });
    group.finish();
}

criterion_group!(benches, extractors);
criterion_main!(benches);
