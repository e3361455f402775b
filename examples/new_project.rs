//! The README's walk-through, as a file: the `src/main.rs` of a new project (`cargo new
//! my-app`) that protects `/dashboard` and tests it with `oneshot`. `tests/examples_run.rs`
//! checks that the README shows this file as it is.
//!
//! Run: `cargo run --example new_project` (serves on 127.0.0.1:3000), or its test:
//! `cargo test --example new_project`.

use axum::{routing::get, Extension, Router};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

/// Who is logged in: the proxy hands it to the handlers.
#[derive(Clone)]
struct User(String);

/// Runs before routing, for the paths `matcher()` picks.
async fn proxy(req: ProxyRequest) -> ProxyResponse {
    match req.cookies().get("session") {
        // A real app verifies a signed or server-side session here.
        Some(name) => ProxyResponse::next().extension(User(name.to_owned())),
        None => {
            let mut login = req.url_for("/login");
            login.query_pairs_mut().append_pair("from", req.path());
            ProxyResponse::redirect(login) // 307
        }
    }
}

fn matcher() -> Matcher {
    Matcher::new(["/dashboard/:path*"]).expect("a valid pattern") // Next.js's config.matcher
}

async fn dashboard(Extension(User(name)): Extension<User>) -> String {
    format!("Welcome, {name}\n")
}

fn routes() -> Router {
    Router::new()
        .route("/dashboard", get(dashboard))
        .route("/login", get(|| async { "Log in here\n" }))
        .with_state(()) // readies the routes once, as `axum::serve(listener, router)` would
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().init(); // shows what the layer reports: refused values, panics
    let app = ProxyLayer::new(proxy)
        .with_matcher(matcher())
        .layer(routes());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000; try /dashboard");
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt; // `oneshot`

    #[tokio::test]
    async fn the_dashboard_needs_a_session() {
        let app = ProxyLayer::new(proxy)
            .with_matcher(matcher())
            .layer(routes());

        let request = Request::get("/dashboard").body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(response.headers()["location"], "/login?from=%2Fdashboard");

        let request = Request::get("/dashboard")
            .header("cookie", "session=ann")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let body = to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(body, "Welcome, ann\n");
    }
}
