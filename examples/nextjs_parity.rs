//! The scenario app of Next.js's conformance suite, written with tower-proxy-fn and axum.
//!
//! `cargo run --example nextjs_parity` (listens on 127.0.0.1:3000, or on `$ADDR`), then
//! compare it with Next.js 16.4.6:
//!
//! ```text
//! python3 tests/fixtures/record_transcripts.py http://127.0.0.1:3000 /tmp/ours.json
//! python3 tests/fixtures/compare_transcripts.py tests/fixtures/nextjs-transcripts.json /tmp/ours.json
//! ```
//!
//! Each branch of `proxy` is the matching branch of `tests/fixtures/nextjs-scenario-app/proxy.js`.
//! Around it, Next.js's own routing with its defaults: `trailingSlash: false` (`/another/`
//! answers 308 to `/another`) and the 308 for `//` and `\` in a path.
//! `tests/nextjs_parity.rs` runs the same comparison with `oneshot`.

use std::collections::BTreeMap;

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::json;
use tower::Layer;
use tower_proxy_fn::cookie::{time::Duration, Cookie, SameSite};
use tower_proxy_fn::rules::{Rules, TrailingSlash};
use tower_proxy_fn::{Matcher, ProxyFn, ProxyLayer, ProxyRequest, ProxyResponse, RulesService};

async fn proxy(request: ProxyRequest) -> ProxyResponse {
    let path = request.path();

    match path {
        "/about" => return ProxyResponse::redirect("/redirected"),
        "/another" => return ProxyResponse::rewrite("/api/echo/rewritten"),
        "/permanent" => {
            return ProxyResponse::redirect_with_status(
                "https://example.com/x",
                StatusCode::PERMANENT_REDIRECT,
            )
        }
        "/see-other" => {
            return ProxyResponse::redirect_with_status(
                "/api/echo/target?from=see-other",
                StatusCode::SEE_OTHER,
            )
        }
        _ => {}
    }

    if path.starts_with("/api/echo/headers") {
        return ProxyResponse::next()
            .request_header("x-hello-from-proxy1", "hello")
            .remove_request_header("x-secret")
            .header("x-hello-from-proxy2", "hello");
    }

    if path.starts_with("/api/echo/protected") {
        if request.header("authorization") != Some("Bearer good") {
            let body = json!({ "success": false, "message": "authentication failed" });
            return ProxyResponse::json(StatusCode::UNAUTHORIZED, &body);
        }
        return ProxyResponse::next();
    }

    if path.starts_with("/dashboard") {
        // `request.cookies.get('session')?.value` is falsy for an empty value too.
        if request.cookies().get("session").is_none_or(str::is_empty) {
            let mut login = request.url_for("/login");
            login.query_pairs_mut().append_pair("from", path);
            return ProxyResponse::redirect(login);
        }
        return ProxyResponse::rewrite(format!("/api/echo{path}"));
    }

    if path == "/cookies" {
        let seen = request.cookies().get("nextjs").unwrap_or("none").to_owned();
        return ProxyResponse::rewrite("/api/echo/cookies")
            .set_cookie("vercel", "fast")
            .cookie(
                Cookie::build(("prefs", "dark"))
                    .path("/")
                    .http_only(true)
                    .max_age(Duration::hours(1))
                    .same_site(SameSite::Lax),
            )
            .delete_cookie("old")
            .header("x-seen-cookie", seen);
    }

    if path.starts_with("/api/cors") {
        let origin = request.header("origin").unwrap_or("");
        let allowed = ["https://acme.com", "https://my-app.org"].contains(&origin);
        let mut response = if request.method() == Method::OPTIONS {
            ProxyResponse::json(StatusCode::OK, &json!({}))
        } else {
            ProxyResponse::rewrite("/api/echo/cors")
        };
        if allowed {
            response = response.header("access-control-allow-origin", origin);
        }
        return response
            .header(
                "access-control-allow-methods",
                "GET, POST, PUT, DELETE, OPTIONS",
            )
            .header(
                "access-control-allow-headers",
                "Content-Type, Authorization",
            );
    }

    if path == "/ab" {
        let bucket = if request.cookies().get("bucket") == Some("b") {
            "b"
        } else {
            "a"
        };
        return ProxyResponse::rewrite(format!("/api/echo/ab-{bucket}"));
    }

    if path == "/search" {
        // `url.searchParams.set('from', 'proxy')`: replace every `from`, keep the rest.
        let mut url = request.next_url();
        url.set_path("/api/echo/search");
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "from")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("from", "proxy");
        return ProxyResponse::rewrite(url);
    }

    if path == "/old-blog" {
        let mut url = request.next_url();
        url.set_path("/blog");
        return ProxyResponse::redirect_with_status(url, StatusCode::MOVED_PERMANENTLY);
    }

    if path.starts_with("/lang") {
        let accept = request
            .header("accept-language")
            .unwrap_or("")
            .to_ascii_lowercase();
        let lang = if accept.starts_with("ja") { "ja" } else { "en" };
        return ProxyResponse::redirect(format!("/{lang}{path}"));
    }

    if path == "/api/echo/tag" {
        return ProxyResponse::next().header("x-proxy", "ran");
    }

    ProxyResponse::next()
}

/// `echo-route.js`: what the handler received after the proxy ran.
async fn echo(method: Method, uri: Uri, headers: HeaderMap) -> impl IntoResponse {
    let query: BTreeMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect(); // a repeated key keeps its last value, like Object.fromEntries
    let seen: BTreeMap<&str, &str> = headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            name.starts_with("x-") || ["authorization", "cookie", "origin"].contains(&name)
        })
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    Json(json!({
        "handler": "echo",
        "path": uri.path(),
        "query": query,
        "method": method.as_str(),
        "headers": seen,
    }))
}

/// `catch-all-page.js`: every other path is a page.
async fn page(request: Request) -> Html<String> {
    Html(format!("<p id=\"page\">page:{}</p>", request.uri().path()))
}

/// The app: the scenario's matcher and proxy in front of its routes, with Next.js's default
/// routing around them (an app without a next.config still gets these).
pub fn app() -> RulesService<Router, impl ProxyFn> {
    let matcher = Matcher::from_json(
        r#"{"matcher": ["/((?!_next/static|_next/image|favicon.ico|skip).*)"]}"#,
    )
    .expect("the scenario's matcher compiles");
    let router = Router::new()
        .route("/api/echo/{*rest}", any(echo))
        .fallback(page);
    let nextjs_defaults = Rules::new()
        .trailing_slash(TrailingSlash::Remove)
        .normalize_url(true);
    ProxyLayer::new(proxy)
        .with_matcher(matcher)
        .with_rules(nextjs_defaults)
        .layer(router)
}

#[allow(dead_code)] // `tests/nextjs_parity.rs` includes this file for `app` alone.
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("Next.js scenario app on http://{addr}");
    println!(
        "  compare: python3 tests/fixtures/record_transcripts.py http://{addr} /tmp/ours.json"
    );
    println!("           python3 tests/fixtures/compare_transcripts.py tests/fixtures/nextjs-transcripts.json /tmp/ours.json");
    axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service(app()),
    )
    .await
}
