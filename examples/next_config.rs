//! next.config's routing rules loaded from a JSON file (`examples/next.config.json`, or the
//! file named as the first argument), around a proxy function, in Next.js's order: headers,
//! redirects, the proxy, before-routing rewrites, the router, fallback rewrites on 404.
//!
//! Run: `cargo run --example next_config` (on `127.0.0.1:3000`, or `ADDR`). With the
//! default file it prints what to try:
//!
//! ```text
//! $ curl -i 'http://127.0.0.1:3000/blog/hello?ref=feed'   # 308; location: /news/hello?ref=feed
//! $ curl -i http://127.0.0.1:3000/news/hello   # 200; x-frame-options: DENY; x-article: hello; "news: hello"
//! $ curl -i -b session=ann http://127.0.0.1:3000/me   # 200; "user: ann"
//! $ curl -i -H 'x-user: eve' http://127.0.0.1:3000/me   # 200; "legacy: me"
//! $ curl -i http://127.0.0.1:3000/docs/a/b   # 200; "docs: a/b"
//! $ curl -i http://127.0.0.1:3000/old-docs/a   # 301; location: /docs/a
//! $ curl -i -b team=red http://127.0.0.1:3000/team   # 307; location: /teams/red
//! $ curl -i http://127.0.0.1:3000/anything/else   # 200; "legacy: anything/else"
//! $ curl -i http://127.0.0.1:3000/news/hello/   # 308; location: /news/hello
//! ```
//!
//! In order: a permanent redirect; a header rule with `:slug`; the proxy turns the `session`
//! cookie into `x-user`, which a `beforeFiles` rewrite's `has` reads; a client's own `x-user`
//! is removed by the proxy, so `/me` falls through to the fallback; a `beforeFiles` rewrite; a
//! redirect with `"statusCode": 301`; a redirect whose `has` captures the cookie's value; a 404
//! rescued by the fallback rewrite; `trailingSlash: false`.

mod support;

use axum::extract::{Path, Request};
use axum::routing::get;
use axum::Router;
use tower_proxy_fn::rules::Rules;
use tower_proxy_fn::rules::RulesService;
use tower_proxy_fn::ConfigError;
use tower_proxy_fn::{ProxyFn, ProxyLayer, ProxyRequest, ProxyResponse};

/// The proxy: hands the session's user to the routing rules as a request header.
async fn proxy(request: ProxyRequest) -> ProxyResponse {
    match request.cookies().get("session") {
        Some(user) => ProxyResponse::next().request_header("x-user", user),
        None => ProxyResponse::next().remove_request_header("x-user"),
    }
}

fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "home\n" }))
        .route(
            "/news/{slug}",
            get(|Path(slug): Path<String>| async move { format!("news: {slug}\n") }),
        )
        .route(
            "/users/{name}",
            get(|Path(name): Path<String>| async move { format!("user: {name}\n") }),
        )
        .route(
            "/teams/{team}",
            get(|Path(team): Path<String>| async move { format!("team: {team}\n") }),
        )
        .route(
            "/api/docs/{*path}",
            get(|Path(path): Path<String>| async move { format!("docs: {path}\n") }),
        )
        .route(
            "/legacy/{*path}",
            get(|Path(path): Path<String>| async move { format!("legacy: {path}\n") }),
        )
}

/// The app for a next.config JSON text.
pub fn app(config: &str) -> Result<RulesService<Router, impl ProxyFn + use<>>, ConfigError> {
    let rules = Rules::from_json(config)?;
    Ok(ProxyLayer::new(proxy)
        .with_rules(rules)
        .layer(router().with_state(())))
}

#[allow(dead_code)] // `tests/rules_next_config.rs` includes this file for `app` alone.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/next.config.json").to_owned()
    });
    let config = std::fs::read_to_string(&path)?;
    // A bad config names the rule: `redirects[2].source: "/a/(b" at position 3: ...`.
    let app = app(&config).map_err(|e| format!("{path}: {e}"))?;

    let (listener, addr) = support::listen("next_config").await;
    println!("next.config rules from {path} on http://{addr}");
    if std::env::args().nth(1).is_none() {
        println!("try:");
        println!(
            "  curl -i 'http://{addr}/blog/hello?ref=feed'   # 308; location: /news/hello?ref=feed"
        );
        println!("  curl -i http://{addr}/news/hello   # 200; x-frame-options: DENY; x-article: hello; \"news: hello\"");
        println!("  curl -i -b session=ann http://{addr}/me   # 200; \"user: ann\"");
        println!("  curl -i -H 'x-user: eve' http://{addr}/me   # 200; \"legacy: me\"");
        println!("  curl -i http://{addr}/docs/a/b   # 200; \"docs: a/b\"");
        println!("  curl -i http://{addr}/old-docs/a   # 301; location: /docs/a");
        println!("  curl -i -b team=red http://{addr}/team   # 307; location: /teams/red");
        println!("  curl -i http://{addr}/anything/else   # 200; \"legacy: anything/else\"");
        println!("  curl -i http://{addr}/news/hello/   # 308; location: /news/hello");
    }
    axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service(app),
    )
    .await?;
    Ok(())
}
