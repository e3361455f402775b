//! Cost of the layer per request over a bare `tower::service_fn`, and allocations per request.
//!
//! `cargo bench --bench layer` (criterion; add `-- --quick` for a fast look).
//! The allocation counts are printed before the timings; they are measured, not assumed.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use criterion::{criterion_group, criterion_main, Criterion};
use http::Request;
use tower::{Layer, Service};
use tower_proxy_fn::matcher::Selection;
use tower_proxy_fn::{Matcher, ProxyLayer};

mod support;

use support::{allocations_per_request, bare, by_hand, call, proxy};

#[global_allocator]
static GLOBAL: support::Counting = support::Counting;

fn layer(c: &mut Criterion) {
    let matcher = Matcher::new(["/((?!_next/static|_next/image|favicon.ico).*)"]).unwrap();
    let mut bare_service = bare();
    let mut proxied = ProxyLayer::new(proxy)
        .with_matcher(matcher.clone())
        .layer(bare());

    let mut hand_written = axum::middleware::from_fn(by_hand).layer(bare());

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
    let extra = allocations_per_request(&mut hand_written, "/page") - baseline;
    println!("allocations per request over bare service_fn, from_fn doing `next`'s job: {extra}");

    // An axum `Router` wrapped from outside: unless `with_state` readied its routes (as
    // `Router::into_make_service` and `axum::serve` do), each request builds its handler's
    // route anew.
    let router = || axum::Router::new().route("/page", axum::routing::get(|| async { "page" }));
    let api_only = || ProxyLayer::new(proxy).with_matcher(Matcher::new(["/api/:path*"]).unwrap());
    for (name, mut router) in [
        ("as built", api_only().layer(router())),
        (
            "after with_state(())",
            api_only().layer(router().with_state(())),
        ),
    ] {
        let allocations = allocations_per_request(&mut router, "/page");
        println!("allocations per unmatched request through a Router {name}: {allocations}");
    }

    let mut group = c.benchmark_group("layer");
    // The matcher's share of the unmatched case.
    let static_request = Request::get("/_next/static/app.js").body(()).unwrap();
    group.bench_function("matcher select alone (unmatched)", |b| {
        b.iter(|| matches!(matcher.select(black_box(&static_request)), Selection::Skip))
    });
    group.bench_function("bare service_fn", |b| {
        b.iter(|| call(&mut bare_service, "/_next/static/app.js"))
    });
    group.bench_function("unmatched", |b| {
        b.iter(|| call(&mut proxied, "/_next/static/app.js"))
    });
    group.bench_function("matched next", |b| b.iter(|| call(&mut proxied, "/page")));
    group.bench_function("from_fn, same job", |b| {
        b.iter(|| call(&mut hand_written, "/page"))
    });
    group.bench_function("rewrite", |b| b.iter(|| call(&mut proxied, "/rewrite")));
    group.bench_function("redirect", |b| b.iter(|| call(&mut proxied, "/redirect")));

    // The figures above come from separate runs, and the bare service alone drifts by
    // 20-30 ns between them on a shared machine: as much as the target for an unmatched
    // request. These two time the layer against its reference in pairs instead.
    group.bench_function("unmatched minus bare, paired", |b| {
        b.iter_custom(|iters| {
            paired_extra(
                iters,
                &mut proxied,
                &mut bare_service,
                "/_next/static/app.js",
            )
        })
    });
    group.bench_function("matched next minus from_fn, paired", |b| {
        b.iter_custom(|iters| paired_extra(iters, &mut proxied, &mut hand_written, "/page"))
    });
    group.finish();
}

/// The time `measured` takes over `reference` for `iters` calls of `GET path`: batches of
/// each run back to back, alternating which goes first, so that what the machine does
/// meanwhile falls on both alike. (A difference below zero counts as zero.)
fn paired_extra<A, B>(
    iters: u64,
    measured: &mut A,
    reference: &mut B,
    path: &'static str,
) -> Duration
where
    A: Service<Request<Body>, Response = Response, Error = Infallible>,
    B: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    const BATCH: u64 = 64;
    let (mut measured_time, mut reference_time) = (Duration::ZERO, Duration::ZERO);
    let time = |calls: u64, service: &mut dyn FnMut() -> Response| {
        let start = Instant::now();
        for _ in 0..calls {
            black_box(service());
        }
        start.elapsed()
    };
    let mut left = iters;
    let mut measured_first = true;
    while left > 0 {
        let calls = left.min(BATCH);
        let mut run_measured = || call(measured, path);
        let mut run_reference = || call(reference, path);
        if measured_first {
            measured_time += time(calls, &mut run_measured);
            reference_time += time(calls, &mut run_reference);
        } else {
            reference_time += time(calls, &mut run_reference);
            measured_time += time(calls, &mut run_measured);
        }
        measured_first = !measured_first;
        left -= calls;
    }
    measured_time.saturating_sub(reference_time)
}

criterion_group!(benches, layer);
criterion_main!(benches);
