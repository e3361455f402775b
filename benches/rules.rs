//! Cost of next.config rules per request, over the same layer without rules, and allocations
//! per request.
//!
//! `cargo bench --bench rules -- --warm-up-time 1 --measurement-time 3`. The allocation counts
//! are printed before the timings; they are measured, not assumed.

use criterion::{criterion_group, criterion_main, Criterion};
use tower_proxy_fn::rules::Rules;
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

mod support;

use support::{allocations_per_request, bare, call};

#[global_allocator]
static GLOBAL: support::Counting = support::Counting;

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

fn rules(c: &mut Criterion) {
    let matcher = Matcher::new(["/dashboard/:path*"]).unwrap();
    let mut plain = ProxyLayer::new(proxy)
        .with_matcher(matcher.clone())
        .layer(bare());
    let mut with_rules = ProxyLayer::new(proxy)
        .with_matcher(matcher)
        .with_rules(Rules::from_json(CONFIG).unwrap())
        .layer(bare());

    // The same rules without the `fallback` rewrite: nothing is kept for a second call.
    let mut without_404_rewrites = {
        let mut config: serde_json::Value = serde_json::from_str(CONFIG).unwrap();
        config["rewrites"]
            .as_object_mut()
            .unwrap()
            .remove("fallback");
        ProxyLayer::new(proxy)
            .with_matcher(Matcher::new(["/dashboard/:path*"]).unwrap())
            .with_rules(Rules::from_json(&config.to_string()).unwrap())
            .layer(bare())
    };

    let baseline = allocations_per_request(&mut plain, "/_next/static/app.js");
    let extra =
        allocations_per_request(&mut without_404_rewrites, "/_next/static/app.js") - baseline;
    println!("allocations per request over the layer without rules, no rule matches, no 404 rewrites: {extra}");
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
    group.bench_function("no rule matches, no 404 rewrites", |b| {
        b.iter(|| call(&mut without_404_rewrites, "/_next/static/app.js"))
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
