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
//! 93 passed, 5 differ on purpose, 0 failed
//! ```
//!
//! Each branch of `proxy` is the matching branch of `tests/fixtures/nextjs-scenario-app/proxy.js`;
//! the echo handler shows the path it was reached under and the request headers the proxy
//! edited. Around it, Next.js's own routing with its defaults: `trailingSlash: false`
//! (`/another/` answers 308 to `/another`) and the 308 for `//` and `\` in a path.
//! `tests/nextjs_parity.rs` runs the same comparison with `oneshot`.
//!
//! Three more apps answer on the same address, picked by the request header `x-scenario`:
//! `i18n` (next.config's i18n, `next_url()` with locales), `base-path` (`basePath:
//! '/docs'`) and `base-path-i18n` (both, with a redirect and a rewrite rule), as
//! `tests/fixtures/nextjs-scenario-app/build.sh` builds them for Next.js.

mod support;

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower::util::BoxCloneSyncService;
use tower::{service_fn, ServiceExt};
use tower_proxy_fn::cookie::{time::Duration, Cookie, SameSite};
use tower_proxy_fn::rules::RulesService;
use tower_proxy_fn::rules::{Locales, Rules, TrailingSlash};
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
        // `Response.redirect(url)`: the web platform's default, 302.
        "/response-redirect" => {
            return ProxyResponse::redirect_with_status("/redirected", RedirectStatus::Found)
        }
        // A header set to "" is not sent (Next.js copies the proxy's headers `if (value)`);
        // a request header set to "" reaches the handler empty.
        "/empty-header" => {
            return ProxyResponse::rewrite("/api/echo/empty-header")
                .request_header("x-empty-request", "")
                .header("x-empty", "")
                .header("x-full", "yes")
        }
        "/empty-header/redirect" => {
            return ProxyResponse::redirect("/redirected")
                .header("x-empty", "")
                .header("x-full", "yes")
        }
        "/empty-header/respond" => {
            let headers = [("x-empty", ""), ("x-full", "yes")];
            return ProxyResponse::respond((headers, Json(json!({ "ok": true }))));
        }
        "/next-url" => {
            let mut url = request.next_url();
            url.set_pathname("/api/echo/next-url");
            let params = url.search_params_mut();
            params.delete("drop");
            params.append("tag", "b");
            let first = params.get("tag").unwrap_or("none").to_owned();
            params.set("first", &first);
            let tags = url.search_params().get_all("tag").join(",");
            let has_drop = url.search_params().has("drop").to_string();
            return ProxyResponse::rewrite(&url)
                .header("x-tags", tags)
                .header("x-has-drop", has_drop)
                .header("x-search", url.search())
                .header("x-locale", url.locale()) // "" without i18n: not sent
                .header("x-base-path", url.base_path());
        }
        "/next-url/redirect" => {
            let mut url = request.next_url();
            url.set_pathname("/redirected");
            url.search_params_mut().set("from", path);
            return ProxyResponse::redirect(&url);
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
        let mut url = request.next_url();
        url.set_pathname("/api/echo/search");
        url.search_params_mut().set("from", "proxy");
        return ProxyResponse::rewrite(&url);
    }

    if path == "/old-blog" {
        let mut url = request.next_url();
        url.set_pathname("/blog");
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

/// The routes every scenario app has: the echo handler (GET, POST and OPTIONS, as
/// `echo-route.js` exports them: another method is a 405, HEAD is answered as GET) and the
/// catch-all page.
fn routes() -> Router {
    Router::new()
        .route("/api/echo/{*rest}", get(echo).post(echo).options(echo))
        .fallback(page)
}

/// Next.js's default routing around the proxy (an app without a next.config still gets it).
fn nextjs_defaults() -> Rules {
    Rules::new()
        .trailing_slash(TrailingSlash::Remove)
        .normalize_url(true)
}

/// The app: the scenario's matcher and proxy in front of its routes.
pub fn app() -> RulesService<Router, impl ProxyFn> {
    let matcher = Matcher::from_json(
        r#"{"matcher": ["/((?!_next/static|_next/image|favicon.ico|skip).*)"]}"#,
    )
    .expect("the scenario's matcher compiles");
    ProxyLayer::new(proxy)
        .with_matcher(matcher)
        .with_rules(nextjs_defaults())
        .layer(routes())
}

/// `nextjs-scenario-app/i18n/proxy.js`: `next_url()` under i18n.
async fn i18n_proxy(request: ProxyRequest) -> ProxyResponse {
    let url = request.next_url();
    let mut to = url.clone();
    let locale = match url.pathname() {
        "/to-fr" => Some("fr"),
        "/to-default" => Some("en"),
        "/same" => None,
        _ => {
            return ProxyResponse::next()
                .header("x-proxy-ran", "1")
                .header("x-locale", url.locale())
                .header("x-default-locale", url.default_locale().unwrap_or(""))
                .header("x-pathname", url.pathname());
        }
    };
    if let Some(locale) = locale {
        if let Err(unknown) = to.set_locale(locale) {
            return ProxyResponse::json(StatusCode::INTERNAL_SERVER_ERROR, &unknown.to_string());
        }
        if locale == "en" {
            to.search_params_mut().set("from", url.locale());
        }
    }
    to.set_pathname("/moved");
    ProxyResponse::redirect(to)
}

/// The i18n app: locales en, fr and nl-NL (default en); `x-m` picks the matcher entry.
pub fn i18n_app() -> RulesService<Router, impl ProxyFn> {
    let matcher = Matcher::from_json(
        r#"{"matcher": [
            {"source": "/", "has": [{"type": "header", "key": "x-m", "value": "root"}]},
            {"source": "/", "locale": false, "has": [{"type": "header", "key": "x-m", "value": "root-no-locale"}]},
            {"source": "/:path*", "has": [{"type": "header", "key": "x-m", "value": "star"}]},
            {"source": "/((?!api|_next).*)", "has": [{"type": "header", "key": "x-m", "value": "negative"}]},
            {"source": "/about", "has": [{"type": "header", "key": "x-m", "value": "about"}]}
        ]}"#,
    )
    .expect("the i18n scenario's matcher compiles");
    let rules = nextjs_defaults().i18n(Locales::new(["en", "fr", "nl-NL"], "en"));
    ProxyLayer::new(i18n_proxy)
        .with_matcher(matcher)
        .with_rules(rules)
        .layer(routes())
}

/// `nextjs-scenario-app/base-path/proxy.js`: the matcher, `next_url()` and redirects under a
/// base path.
async fn base_path_proxy(request: ProxyRequest) -> ProxyResponse {
    let url = request.next_url();
    let mut to = url.clone();
    match url.pathname() {
        // A path written by hand does not get the base path (as `new URL('/x', request.url)`).
        "/about" => ProxyResponse::redirect("/redirected"),
        "/moved" => {
            to.set_pathname("/target");
            ProxyResponse::redirect(to)
        }
        "/rewrite" => {
            to.set_pathname("/api/echo/rewritten");
            ProxyResponse::rewrite(to)
        }
        // Next.js, recorded with `-H 127.0.0.1`, runs its proxy again on the rewritten path
        // (the artifact issue 22 notes); base-path/proxy.js answers it with a plain next.
        "/api/echo/rewritten" => ProxyResponse::next(),
        _ => ProxyResponse::next()
            .header("x-proxy-ran", "1")
            .header("x-base-path", url.base_path())
            .header("x-pathname", url.pathname()),
    }
}

/// The base-path app: next.config's `basePath: '/docs'`. Next.js serves nothing outside
/// it (404), and its handlers see the path without it, as axum's `nest` gives it.
pub fn base_path_app() -> RulesService<Router, impl ProxyFn> {
    let matcher = Matcher::new(["/((?!skip).*)"]).expect("the matcher compiles");
    ProxyLayer::new(base_path_proxy)
        .with_base_path("/docs")
        .with_matcher(matcher)
        .with_rules(nextjs_defaults())
        .layer(Router::new().nest("/docs", routes()))
}

/// `nextjs-scenario-app/base-path-i18n/proxy.js`: `next_url()` under a base path and
/// locales, and redirects built from it.
async fn base_path_i18n_proxy(request: ProxyRequest) -> ProxyResponse {
    let url = request.next_url();
    let mut to = url.clone();
    let locale = match url.pathname() {
        "/moved" => None,
        "/to-fr" => Some("fr"),
        "/to-default" => Some("en"),
        _ => {
            return ProxyResponse::next()
                .header("x-proxy-ran", "1")
                .header("x-base-path", url.base_path())
                .header("x-locale", url.locale())
                .header("x-default-locale", url.default_locale().unwrap_or(""))
                .header("x-pathname", url.pathname());
        }
    };
    if let Some(locale) = locale
        && let Err(unknown) = to.set_locale(locale)
    {
        return ProxyResponse::json(StatusCode::INTERNAL_SERVER_ERROR, &unknown.to_string());
    }
    to.set_pathname("/target");
    ProxyResponse::redirect(to)
}

/// The base-path-i18n app: next.config's `basePath: '/docs'` with locales en and fr
/// (default en), a redirect and a `beforeFiles` rewrite, all read from the config as
/// Next.js reads it. Its page (`base-path-i18n/page.js`, a Pages Router catch-all) tells
/// the locale and the path it was reached under.
pub fn base_path_i18n_app() -> RulesService<Router, impl ProxyFn> {
    let rules = Rules::from_json(
        r#"{
            "basePath": "/docs",
            "i18n": {"locales": ["en", "fr"], "defaultLocale": "en"},
            "trailingSlash": false,
            "redirects": [{"source": "/old/:slug", "destination": "/new/:slug", "permanent": false}],
            "rewrites": {"beforeFiles": [{"source": "/alias/:slug", "destination": "/real/:slug"}]}
        }"#,
    )
    .expect("the base-path-i18n scenario's next.config compiles")
    .normalize_url(true);
    let locales = rules.locales().cloned().expect("the config has i18n");
    let page = move |request: Request| {
        let path = request.uri().path().to_owned();
        let locale = locales.locale_of_path(&path).map(str::to_owned);
        let rest = match &locale {
            Some(locale) => &path[1 + locale.len()..],
            None => path.as_str(),
        };
        let rest = if rest.is_empty() { "/" } else { rest }.to_owned();
        let locale = locale.unwrap_or_else(|| locales.default_locale().to_owned());
        async move {
            (
                [("x-page-locale", locale), ("x-page-path", rest)],
                Html("<p id=\"page\">page</p>"),
            )
        }
    };
    let matcher = Matcher::new(["/((?!skip).*)"]).expect("the matcher compiles");
    ProxyLayer::new(base_path_i18n_proxy)
        .with_matcher(matcher)
        .with_rules(rules)
        .layer(Router::new().nest("/docs", Router::new().fallback(page)))
}

/// The four apps behind one address, picked by the `x-scenario` request header that
/// `record_transcripts.py` sends with the i18n, base-path and base-path-i18n corpora.
pub fn scenarios() -> BoxCloneSyncService<Request, Response, Infallible> {
    let (main, i18n, base_path) = (app(), i18n_app(), base_path_app());
    let both = base_path_i18n_app();
    BoxCloneSyncService::new(service_fn(move |request: Request| {
        let scenario = request.headers().get("x-scenario").cloned();
        let (main, i18n, base_path) = (main.clone(), i18n.clone(), base_path.clone());
        let both = both.clone();
        async move {
            match scenario.as_ref().map(|v| v.as_bytes()) {
                Some(b"i18n") => i18n.oneshot(request).await,
                Some(b"base-path") => base_path.oneshot(request).await,
                Some(b"base-path-i18n") => both.oneshot(request).await,
                _ => main.oneshot(request).await,
            }
        }
    }))
}

#[allow(dead_code)] // `tests/nextjs_parity.rs` includes this file for its apps alone.
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
    println!("  curl -i -X PUT http://{addr}/api/echo/x   # 405");
    println!("  curl -i -H 'x-scenario: base-path' http://{addr}/docs/moved   # 307; location: /docs/target");
    println!("  compare with Next.js: python3 tests/fixtures/record_transcripts.py http://{addr} /tmp/ours.json");
    println!("    then: python3 tests/fixtures/compare_transcripts.py tests/fixtures/nextjs-transcripts.json /tmp/ours.json");
    axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service(scenarios()),
    )
    .await
}
