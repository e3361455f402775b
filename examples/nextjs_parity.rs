//! The scenario app of Next.js's conformance suite, written with tower-proxy-fn and axum.
//!
//! Run: `cargo run --example nextjs_parity` (on `127.0.0.1:3000`, or `ADDR`). It prints what
//! to try, and how to compare it with Next.js 16.4.6:
//!
//! ```text
//! $ curl -i http://127.0.0.1:3000/about   # 307; location: /redirected
//! $ curl -i http://127.0.0.1:3000/another   # 200; "/api/echo/rewritten"
//! $ curl -i http://127.0.0.1:3000/another/   # 308; location: /another
//! $ curl -i -H 'x-secret: s3cret' http://127.0.0.1:3000/api/echo/headers   # 200; x-hello-from-proxy2: hello; "x-hello-from-proxy1"
//! $ curl -i http://127.0.0.1:3000/dashboard/stats   # 307; location: /login?from=%2Fdashboard%2Fstats
//! $ curl -i 'http://127.0.0.1:3000/search?q=rust&from=user'   # 200; '"from":"proxy"'
//! $ curl -i --path-as-is http://127.0.0.1:3000//about   # 308; location: /about
//! $ curl -i --path-as-is 'http://127.0.0.1:3000/a\b'   # 308; location: /a/b
//! $ python3 tests/fixtures/record_transcripts.py http://127.0.0.1:3000 /tmp/ours.json
//! $ python3 tests/fixtures/compare_transcripts.py tests/fixtures/nextjs-transcripts.json /tmp/ours.json
//! 34 passed, 0 failed
//! ```
//!
//! Each branch of `proxy` is the matching branch of `tests/fixtures/nextjs-scenario-app/proxy.js`;
//! the echo handler shows the path it was reached under and the request headers the proxy
//! edited. Around it, Next.js's own routing with its defaults: `trailingSlash: false`
//! (`/another/` answers 308 to `/another`) and the 308 for `//` and `\` in a path.
//! `tests/nextjs_parity.rs` runs the same comparison with `oneshot`.

mod support;

use std::collections::BTreeMap;

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::json;
use tower_proxy_fn::cookie::{time::Duration, Cookie, SameSite};
use tower_proxy_fn::rules::RulesService;
use tower_proxy_fn::rules::{Rules, TrailingSlash};
use tower_proxy_fn::{Matcher, ProxyFn, ProxyLayer, ProxyRequest, ProxyResponse, RedirectStatus};

async fn proxy(request: ProxyRequest) -> ProxyResponse {
    let path = request.path();

    match path {
        "/about" => return ProxyResponse::redirect("/redirected"),
        "/another" => return ProxyResponse::rewrite("/api/echo/rewritten"),
        "/permanent" => {
            return ProxyResponse::redirect_with_status(
                "https://example.com/x",
                RedirectStatus::Permanent,
            )
        }
        "/see-other" => {
            return ProxyResponse::redirect_with_status(
                "/api/echo/target?from=see-other",
                RedirectStatus::SeeOther,
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
        return ProxyResponse::redirect_with_status(url, RedirectStatus::MovedPermanently);
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
        .layer(router.with_state(()))
}

#[allow(dead_code)] // `tests/nextjs_parity.rs` includes this file for `app` alone.
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (listener, addr) = support::listen("nextjs_parity").await;
    println!("Next.js scenario app listening on http://{addr}; try:");
    println!("  curl -i http://{addr}/about   # 307; location: /redirected");
    println!("  curl -i http://{addr}/another   # 200; \"/api/echo/rewritten\"");
    println!("  curl -i http://{addr}/another/   # 308; location: /another");
    println!("  curl -i -H 'x-secret: s3cret' http://{addr}/api/echo/headers   # 200; x-hello-from-proxy2: hello; \"x-hello-from-proxy1\"");
    println!("  curl -i http://{addr}/dashboard/stats   # 307; location: /login?from=%2Fdashboard%2Fstats");
    println!("  curl -i 'http://{addr}/search?q=rust&from=user'   # 200; '\"from\":\"proxy\"'");
    println!("  curl -i --path-as-is http://{addr}//about   # 308; location: /about");
    println!("  compare with Next.js: python3 tests/fixtures/record_transcripts.py http://{addr} /tmp/ours.json");
    println!("    then: python3 tests/fixtures/compare_transcripts.py tests/fixtures/nextjs-transcripts.json /tmp/ours.json");
    axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service(app()),
    )
    .await
}
