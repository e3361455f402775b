//! Three proxy functions composed in one layer: logging (with `wait_until`), auth and i18n,
//! each behind its own matcher; graceful shutdown waits for the background work.
//!
//! Run: `cargo run --example chain` (on `127.0.0.1:3000`, or `ADDR`). It prints what to try:
//!
//! ```text
//! $ curl -i http://127.0.0.1:3000/docs   # 307; location: /en/docs
//! $ curl -i -H 'Accept-Language: ja' http://127.0.0.1:3000/docs   # 307; location: /ja/docs
//! $ curl -i http://127.0.0.1:3000/en   # 200; "/en for guest"
//! $ curl -i http://127.0.0.1:3000/en/account   # 307; location: /login
//! $ curl -i -b session=ann http://127.0.0.1:3000/en/account/settings   # 200; "/en/account/settings for ann"
//! ```
//!
//! Every answer carries the `x-request-id` the logging step set, redirects of later steps
//! included. The server prints one line per request, written after the response by
//! `wait_until` (`log: GET /docs id=18ea6c984353c4fb`), and on Ctrl-C waits for the last
//! ones: `background work finished: true`.

mod support;

use std::time::Duration;

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::{routing::get, Router};
use tower_proxy_fn::compose::{chain, when};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

/// Tags the request and logs it after the response, without delaying it.
async fn with_logging(req: ProxyRequest) -> ProxyResponse {
    let id = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let line = format!("{} {} id={id}", req.method(), req.path());
    req.wait_until(async move {
        // Stands in for a write to an analytics or audit service.
        tokio::time::sleep(Duration::from_millis(50)).await;
        println!("log: {line}");
    });
    ProxyResponse::next()
        .request_header("x-request-id", id.clone())
        .header("x-request-id", id)
}

/// Account pages need a session; the handler gets the user's name as a header.
async fn with_auth(req: ProxyRequest) -> ProxyResponse {
    match req.cookies().get("session").filter(|s| !s.is_empty()) {
        Some(user) => ProxyResponse::next().request_header("x-user", user),
        None => ProxyResponse::redirect("/login"),
    }
}

/// Paths without a locale get one: `/docs` → `/en/docs` (or `/ja/docs` for Japanese).
async fn with_i18n(req: ProxyRequest) -> ProxyResponse {
    let lang = match req.header("accept-language") {
        Some(accept) if accept.to_ascii_lowercase().starts_with("ja") => "ja",
        _ => "en",
    };
    ProxyResponse::redirect(format!("/{lang}{}", req.path()))
}

async fn page(headers: HeaderMap, request: Request) -> String {
    let user = headers
        .get("x-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("guest");
    format!("{} for {user}\n", request.uri().path())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proxy = chain()
        .then(with_logging)
        .then(when(
            Matcher::new(["/:lang(en|ja)/account/:path*"])?,
            with_auth,
        ))
        .then(when(
            // Not `/en`, `/ja` or anything under them (`/en` alone too: `(?:/|$)`).
            Matcher::new(["/((?!(?:en|ja)(?:/|$)|login|favicon.ico).*)"])?,
            with_i18n,
        ));
    let layer = ProxyLayer::new(proxy);
    let background = layer.background_tasks();

    let router = Router::new()
        .route("/login", get(|| async { "log in here\n" }))
        .route("/{lang}", get(page))
        .route("/{lang}/{*rest}", get(page));
    let app = layer.layer(router.with_state(()));

    let (listener, addr) = support::listen("chain").await;
    println!("chain example listening on http://{addr}; try:");
    println!("  curl -i http://{addr}/docs   # 307; location: /en/docs");
    println!("  curl -i -H 'Accept-Language: ja' http://{addr}/docs   # 307; location: /ja/docs");
    println!("  curl -i http://{addr}/en   # 200; \"/en for guest\"");
    println!("  curl -i http://{addr}/en/account   # 307; location: /login");
    println!("  curl -i -b session=ann http://{addr}/en/account/settings   # 200; \"/en/account/settings for ann\"");
    axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service(app),
    )
    .with_graceful_shutdown(async {
        tokio::signal::ctrl_c().await.ok();
    })
    .await?;
    // Stopped accepting: let the log writes finish, for at most five seconds.
    let finished = background.shutdown(Duration::from_secs(5)).await;
    println!("background work finished: {finished}");
    Ok(())
}
