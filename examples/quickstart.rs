//! The official Next.js Proxy example: `/about/...` redirects to `/home`, `/another/...` is
//! rewritten to `/home` (the address bar keeps `/another`).
//!
//! Run: `cargo run --example quickstart` (serves on `127.0.0.1:3000`; `ADDR=127.0.0.1:3001`
//! for another address). It prints what to try:
//!
//! ```text
//! $ curl -i http://127.0.0.1:3000/about/team     # 307; location: /home
//! $ curl -i http://127.0.0.1:3000/another/page   # 200; "home (you asked for /another/page)"
//! $ curl -i http://127.0.0.1:3000/home           # 200; "home (you asked for /home)"
//! ```
//!
//! The rewrite serves `/home` while the client still asks for `/another/page`; the handler
//! finds what was asked in `axum::extract::OriginalUri`.

mod support;

use axum::{extract::OriginalUri, routing::get, Router};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

// `export const config = { matcher: ["/about/:path*", "/another/:path*"] }`
const MATCHER: [&str; 2] = ["/about/:path*", "/another/:path*"];

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    // The matcher already limits which paths get here; checking the prefix again keeps the
    // function correct on its own (and it reads like the Next.js original).
    let path = req.path();
    if under(path, "/about") {
        return ProxyResponse::redirect("/home");
    }
    if under(path, "/another") {
        return ProxyResponse::rewrite("/home");
    }
    ProxyResponse::next()
}

/// `/about` and `/about/...`, but not `/aboutus` (what `/about/:path*` selects).
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

// After a rewrite the router sees `/home`; `OriginalUri` still holds what the client asked for.
async fn home(OriginalUri(original): OriginalUri) -> String {
    format!("home (you asked for {original})\n")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let router = Router::new()
        .route("/", get(|| async { "index: try /about or /another\n" }))
        .route("/home", get(home));
    let app = ProxyLayer::new(proxy)
        .with_matcher(Matcher::new(MATCHER)?)
        .layer(router.with_state(())); // routes readied once: see `guide::mounting`

    let (listener, addr) = support::listen("quickstart").await;
    println!("quickstart listening on http://{addr}; try:");
    println!("  curl -i http://{addr}/about/team     # 307; location: /home");
    println!(
        "  curl -i http://{addr}/another/page   # 200; \"home (you asked for /another/page)\""
    );
    println!("  curl -i http://{addr}/home           # 200; \"home (you asked for /home)\"");
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await?;
    Ok(())
}
