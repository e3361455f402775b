//! An auth guard: `/dashboard` needs a `session` cookie (else a redirect to `/login?from=...`),
//! `/api/...` needs `Authorization: Bearer <token>` (else a 401 JSON), `/logout` is answered
//! by the proxy itself, and the proxy hands the user to the handler as a typed extension.
//!
//! Open http://127.0.0.1:3000/dashboard in a browser: it sends you to a login form, back to
//! the dashboard once you have a name, and to the login form again after "Log out".
//! `scripts/browser-e2e.sh` walks through that in headless Chromium.
//!
//! Run: `cargo run --example auth_guard`, or `curl -i http://127.0.0.1:3000/dashboard`.

use axum::extract::{Extension, Form, Query};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect};
use axum::{routing::get, Json, Router};
use serde::Deserialize;
use serde_json::json;
use tower::Layer;
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
    let app = ProxyLayer::new(proxy).with_matcher(matcher).layer(router);

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("auth_guard listening on http://{addr} (open /dashboard in a browser)");
    println!("  curl -i http://{addr}/dashboard                           # 307 to /login?from=%2Fdashboard");
    println!("  curl -i -b session=ann http://{addr}/dashboard            # 200 Welcome, ann");
    println!("  curl -i http://{addr}/api/hello                           # 401 JSON");
    println!("  curl -i -H 'Authorization: Bearer t0ken' http://{addr}/api/hello");
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await?;
    Ok(())
}
