//! An A/B test: `/` is rewritten to `/variants/a` or `/variants/b` (the address bar keeps `/`),
//! and a `bucket` cookie keeps each visitor in the same variant.
//! `scripts/browser-e2e.sh` checks both in headless Chromium.
//!
//! Run: `cargo run --example ab_test` (on `127.0.0.1:3000`, or `ADDR`). It prints what to try:
//!
//! ```text
//! $ curl -i http://127.0.0.1:3000/   # 200; set-cookie: bucket=; cache-control: private, no-store; "Variant "
//! $ curl -i -b bucket=b http://127.0.0.1:3000/   # 200; no set-cookie; "Variant B"
//! $ curl -i -b bucket=zz http://127.0.0.1:3000/   # 200; set-cookie: bucket=
//! $ for i in $(seq 20); do curl -s http://127.0.0.1:3000/ | grep -o 'Variant [AB]'; done | sort | uniq -c
//! ```
//!
//! A new visitor gets A or B and a `bucket` cookie; a known bucket keeps its variant and gets
//! no new cookie; a tampered value is replaced by a fresh draw.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{OriginalUri, Path};
use axum::http::{header, StatusCode};
use axum::response::Html;
use axum::{routing::get, Router};
use tower_proxy_fn::cookie::{time::Duration, Cookie, SameSite};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    if req.path() != "/" {
        return ProxyResponse::next();
    }
    // A known bucket stays; anything else (none, or a tampered value) gets a new one.
    let (bucket, is_new) = match req.cookies().get("bucket") {
        Some("a") => ("a", false),
        Some("b") => ("b", false),
        _ => (random_bucket(), true),
    };
    let decision = ProxyResponse::rewrite(format!("/variants/{bucket}"))
        // The same URL shows different pages to different visitors: no shared caching.
        .header(header::CACHE_CONTROL, "private, no-store");
    if !is_new {
        return decision;
    }
    decision.cookie(
        Cookie::build(("bucket", bucket))
            .max_age(Duration::days(30))
            .same_site(SameSite::Lax),
    )
}

/// Random enough for a demo, without a dependency: the clock's nanoseconds. Use `rand` (or a
/// hash of a user id, for a stable split) in a real test.
fn random_bucket() -> &'static str {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    if nanos.is_multiple_of(2) {
        "a"
    } else {
        "b"
    }
}

// After the rewrite the router sees `/variants/{name}`; `OriginalUri` is what the visitor
// asked for (and what the address bar shows).
async fn variant(
    Path(name): Path<String>,
    OriginalUri(original): OriginalUri,
) -> Result<Html<String>, StatusCode> {
    let label = match name.as_str() {
        "a" => "A",
        "b" => "B",
        _ => return Err(StatusCode::NOT_FOUND),
    };
    Ok(Html(format!(
        "<!doctype html>\n<title>Home</title>\n<h1 id=\"variant\">Variant {label}</h1>\n\
         <p>Served by <code>/variants/{name}</code> for <code id=\"asked\">{}</code>.</p>\n",
        escape(original.path())
    )))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let router = Router::new().route("/variants/{name}", get(variant));
    let app = ProxyLayer::new(proxy)
        .with_matcher(Matcher::new(["/"])?)
        .layer(router.with_state(()));

    let (listener, addr) = support::listen("ab_test").await;
    println!("ab_test listening on http://{addr}; try:");
    println!("  curl -i http://{addr}/   # 200; set-cookie: bucket=; cache-control: private, no-store; \"Variant \"");
    println!("  curl -i -b bucket=b http://{addr}/   # 200; no set-cookie; \"Variant B\"");
    println!("  curl -i -b bucket=zz http://{addr}/   # 200; set-cookie: bucket=");
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await?;
    Ok(())
}
