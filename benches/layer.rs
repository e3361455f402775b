//! Cost of the layer per request over a bare `tower::service_fn`, and allocations per request.
//!
//! `cargo bench --bench layer` (criterion; add `-- --quick` for a fast look).
//! The allocation counts are printed before the timings; they are measured, not assumed.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use http::Request;
use tower::Layer;
use tower_proxy_fn::matcher::Decision;
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

mod support;

use support::{allocations_per_request, bare, call};

#[global_allocator]
static GLOBAL: support::Counting = support::Counting;

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    match req.path() {
        "/rewrite" => ProxyResponse::rewrite("/target"),
        "/redirect" => ProxyResponse::redirect("/target"),
        _ => ProxyResponse::next().header("x-proxy", "ran"),
    }
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
