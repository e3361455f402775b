//! A fixed number of requests through one case of the layer bench, for instruction counts
//! under callgrind (`scripts/profile.sh`), which are repeatable on a shared machine where
//! times are not.
//!
//! `cargo bench --bench profile -- <case> <requests>`; cases: `bare`, `unmatched`, `next`,
//! `rewrite`, `redirect`, and `from_fn`: the job of `next` (one response header for every
//! non-static path) written by hand with `axum::middleware::from_fn`, for comparison.

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
        other => {
            eprintln!("unknown case {other:?}: bare, unmatched, next, rewrite, redirect, from_fn");
            std::process::exit(2);
        }
    }
}
