//! An auth guard: `/dashboard` needs a `session` cookie (else a redirect to `/login?from=...`),
//! `/api/...` needs `Authorization: Bearer <token>` (else a 401 JSON), `/logout` is answered
//! by the proxy itself, and the proxy hands the user to the handler as a typed extension.
//!
//! Open http://127.0.0.1:3000/dashboard in a browser: it sends you to a login form, back to
//! the dashboard once you have a name, and to the login form again after "Log out".
//! `scripts/browser-e2e.sh` walks through that in headless Chromium.
//!
//! Run: `cargo run --example auth_guard` (on `127.0.0.1:3000`, or `ADDR`). It prints what to
//! try:
//!
//! ```text
//! $ curl -i http://127.0.0.1:3000/dashboard   # 307; location: /login?from=%2Fdashboard; cache-control: no-store
//! $ curl -i 'http://127.0.0.1:3000/dashboard?tab=2'   # 307; location: /login?from=%2Fdashboard%3Ftab%3D2
//! $ curl -i -b 'session=Ann%20Lee' http://127.0.0.1:3000/dashboard   # 200; cache-control: no-store; "Welcome, Ann Lee"
//! $ curl -i http://127.0.0.1:3000/api/hello   # 401; "unauthorized"
//! $ curl -i -H 'Authorization: Bearer t0ken' http://127.0.0.1:3000/api/hello   # 200; "api"
//! $ curl -i -d 'user=ann&from=%2Fdashboard%3Ftab%3D2' http://127.0.0.1:3000/login   # 303; location: /dashboard?tab=2; set-cookie: session=ann
//! $ curl -i -d 'user=ann&from=%2F%2Fevil.example' http://127.0.0.1:3000/login   # 303; location: /dashboard
//! $ curl -i -b session=ann http://127.0.0.1:3000/logout   # 307; location: /login; set-cookie: session=; cache-control: no-store
//! ```
//!
//! `/login` serves a form that posts `user` and `from`; `from` must be a path on this site
//! (`//evil.example` and `/\evil.example` are other hosts to a browser, so they fall back to
//! `/dashboard`). `cache-control: no-store` on the dashboard keeps "Back" after logging out
//! from showing it again: without it, Chromium restores the page from its back/forward cache
//! (the browser test fails on exactly that when the header is removed).

mod support;

use axum::extract::{Extension, Form, Query};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect};
use axum::{routing::get, Json, Router};
use serde::Deserialize;
use serde_json::json;
use tower_proxy_fn::cookie::{Cookie, SameSite};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

/// What the proxy learned about the caller, for the handlers (`Extension<User>`).
#[derive(Clone)]
struct User {
    name: String,
}

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    let path = req.path();
    if path == "/logout" {
        return ProxyResponse::redirect("/login")
            .delete_cookie("session")
            .header(header::CACHE_CONTROL, "no-store");
    }
    if under(path, "/api") {
        // RFC 9110: the scheme name is case-insensitive.
        let token = req.header("authorization").and_then(|v| v.split_once(' '));
        return match token {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
                ProxyResponse::next()
            }
            _ => ProxyResponse::json(
                StatusCode::UNAUTHORIZED,
                &json!({ "error": "unauthorized" }),
            ),
        };
    }
    if under(path, "/dashboard") {
        // Demo only: the cookie holds the user name. A real app verifies a signed or
        // server-side session here.
        let Some(name) = req.cookies().get("session").filter(|s| !s.is_empty()) else {
            // Back to the same page, query included, once logged in.
            let from = match req.query_string() {
                Some(query) => format!("{path}?{query}"),
                None => path.to_owned(),
            };
            let mut login = req.url_for("/login");
            login.query_pairs_mut().append_pair("from", &from);
            // The answer depends on the cookie: no cache may keep it for a later, logged-in
            // visit (307 is not cacheable by default, RFC 9111 section 4.2.2, but a header
            // says so to every cache on the way).
            return ProxyResponse::redirect(login).header(header::CACHE_CONTROL, "no-store");
        };
        return ProxyResponse::next()
            .extension(User {
                name: name.to_owned(),
            })
            // Personalised pages must not be cached by the browser or a shared cache: after
            // logging out, "Back" or a new visit must ask the server (and the proxy) again.
            .header(header::CACHE_CONTROL, "no-store");
    }
    ProxyResponse::next()
}

fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

async fn dashboard(Extension(user): Extension<User>) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<title>Dashboard</title>\n<h1>Welcome, {}</h1>\n\
         <p>Only a logged-in user sees this page.</p>\n\
         <p><a id=\"logout\" href=\"/logout\">Log out</a></p>\n",
        escape(&user.name)
    ))
}

#[derive(Deserialize)]
struct LoginQuery {
    from: Option<String>,
}

async fn login_page(Query(q): Query<LoginQuery>) -> Html<String> {
    let from = escape(q.from.as_deref().unwrap_or("/dashboard"));
    Html(format!(
        "<!doctype html>\n<title>Log in</title>\n<h1>Log in</h1>\n\
         <form method=\"post\" action=\"/login\">\n\
         <input type=\"hidden\" name=\"from\" value=\"{from}\">\n\
         <label>Name <input name=\"user\" autofocus></label>\n\
         <button id=\"login\" type=\"submit\">Log in</button>\n</form>\n"
    ))
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    from: Option<String>,
}

async fn login(Form(form): Form<LoginForm>) -> impl IntoResponse {
    let user = form.user.trim();
    if user.is_empty() || user.len() > 64 {
        return (StatusCode::BAD_REQUEST, "a name of 1 to 64 bytes, please\n").into_response();
    }
    let session = Cookie::build(("session", user.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax);
    let target = form
        .from
        .filter(|from| is_local_path(from))
        .unwrap_or_else(|| "/dashboard".to_owned());
    (
        [
            (header::SET_COOKIE, session.build().encoded().to_string()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Redirect::to(&target), // 303: the browser follows with a GET
    )
        .into_response()
}

/// A path on this site, safe as a `Location`: `//evil.example` and `/\evil.example` are other
/// hosts to a browser (the WHATWG URL parser reads `\` as `/`, and drops tabs and line breaks,
/// so `/`, a tab, `/evil.example` is `//evil.example` too).
fn is_local_path(from: &str) -> bool {
    from.starts_with('/')
        && !from.contains('\\')
        && !from.chars().any(char::is_control)
        && !from.starts_with("//")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let router = Router::new()
        .route("/login", get(login_page).post(login))
        .route("/dashboard", get(dashboard))
        .route(
            "/api/hello",
            get(|| async { Json(json!({ "hello": "api" })) }),
        );
    let matcher = Matcher::new(["/dashboard/:path*", "/api/:path*", "/logout"])?;
    let app = ProxyLayer::new(proxy)
        .with_matcher(matcher)
        .layer(router.with_state(()));

    let (listener, addr) = support::listen("auth_guard").await;
    println!("auth_guard listening on http://{addr} (open /dashboard in a browser); try:");
    println!("  curl -i http://{addr}/dashboard   # 307; location: /login?from=%2Fdashboard; cache-control: no-store");
    println!("  curl -i 'http://{addr}/dashboard?tab=2'   # 307; location: /login?from=%2Fdashboard%3Ftab%3D2");
    println!("  curl -i -b 'session=Ann%20Lee' http://{addr}/dashboard   # 200; cache-control: no-store; \"Welcome, Ann Lee\"");
    println!("  curl -i http://{addr}/api/hello   # 401; \"unauthorized\"");
    println!("  curl -i -H 'Authorization: Bearer t0ken' http://{addr}/api/hello   # 200; \"api\"");
    println!("  curl -i -d 'user=ann&from=%2Fdashboard%3Ftab%3D2' http://{addr}/login   # 303; location: /dashboard?tab=2; set-cookie: session=ann");
    println!("  curl -i -d 'user=ann&from=%2F%2Fevil.example' http://{addr}/login   # 303; location: /dashboard");
    println!("  curl -i -b session=ann http://{addr}/logout   # 307; location: /login; set-cookie: session=; cache-control: no-store");
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await?;
    Ok(())
}
