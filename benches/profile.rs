//! A fixed number of requests through one case of the layer bench, for instruction counts
//! under callgrind (`scripts/profile.sh`), which are repeatable on a shared machine where
//! times are not.
//!
//! `cargo bench --bench profile -- <case> <requests>`; cases: `bare`, `unmatched`, `next`,
//! `rewrite`, `redirect`, and `from_fn`: the job of `next` (one response header for every
//! non-static path) written by hand with `axum::middleware::from_fn`, for comparison.
//! The `router_*` cases put an axum `Router` inside instead of `service_fn`, as a server
//! does (its future is 320 bytes, which every move of ours pays): `router_bare`,
//! `router_header` (the handler sets the header itself), `router_next`, `router_from_fn`.

use std::convert::Infallible;
use std::hint::black_box;

use axum::body::Body;
use axum::response::Response;
use http::Request;
use tower::{Layer, Service};
use tower_proxy_fn::{Matcher, ProxyLayer};

// The allocator stays the system's here: instruction counts should be the layer's alone.
mod support;

use support::{bare, by_hand, proxy, run};

fn drive<S>(mut service: S, path: &'static str, requests: usize)
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    for _ in 0..requests {
        let request = Request::get(path).body(Body::empty()).unwrap();
        black_box(run(service.call(request)).unwrap());
    }
}

/// The app of `examples/bench_server.rs` in small: one page, its handler setting the
/// header itself when `with_header`; readied with `with_state` as `axum::serve` readies it.
fn router(with_header: bool) -> axum::Router {
    let page = move || async move {
        let mut response = Response::new(Body::from("page"));
        if with_header {
            response
                .headers_mut()
                .insert(support::X_PROXY, http::HeaderValue::from_static("ran"));
        }
        response
    };
    axum::Router::new()
        .route("/page", axum::routing::get(page))
        .with_state(())
}

fn main() {
    // `cargo bench` passes `--bench`; take the first two other arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let case = args.first().map_or("unmatched", String::as_str);
    let requests: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let matcher = Matcher::new(["/((?!_next/static|_next/image|favicon.ico).*)"]).unwrap();
    let proxied = || {
        ProxyLayer::new(proxy)
            .with_matcher(matcher.clone())
            .layer(bare())
    };
    match case {
        "bare" => drive(bare(), "/_next/static/app.js", requests),
        "unmatched" => drive(proxied(), "/_next/static/app.js", requests),
        "next" => drive(proxied(), "/page", requests),
        "rewrite" => drive(proxied(), "/rewrite", requests),
        "redirect" => drive(proxied(), "/redirect", requests),
        "from_fn" => drive(
            axum::middleware::from_fn(by_hand).layer(bare()),
            "/page",
            requests,
        ),
        "router_bare" => drive(router(false), "/page", requests),
        "router_header" => drive(router(true), "/page", requests),
        "router_next" => drive(
            ProxyLayer::new(proxy)
                .with_matcher(matcher.clone())
                .layer(router(false)),
            "/page",
            requests,
        ),
        "router_from_fn" => drive(
            router(false).layer(axum::middleware::from_fn(by_hand)),
            "/page",
            requests,
        ),
        other => {
            eprintln!(
                "unknown case {other:?}: bare, unmatched, next, rewrite, redirect, from_fn, \
                 router_bare, router_header, router_next, router_from_fn"
            );
            std::process::exit(2);
        }
    }
}
