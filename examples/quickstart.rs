//! The official Next.js Proxy example: `/about/...` redirects to `/home`, `/another/...` is
//! rewritten to `/home` (the address bar keeps `/another`).
//!
//! Run: `cargo run --example quickstart`, then `curl -i http://127.0.0.1:3000/about/team`.

use axum::{extract::OriginalUri, routing::get, Router};
use tower::Layer;
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
        .layer(router);

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("quickstart listening on http://{addr}");
    println!("  curl -i http://{addr}/about/team    # 307, location: /home");
    println!("  curl -i http://{addr}/another/page  # 200, served by /home");
    println!("  curl -i http://{addr}/home          # 200, untouched");
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await?;
    Ok(())
}
