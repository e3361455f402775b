//! A real app: login, logout and protected pages with tower-sessions (its memory store), a
//! proxy guard that takes the `Session` extractor, a redirect to `/login?from=...` that
//! cannot be turned into an open redirect, and a signed "remember me" cookie.
//!
//! Run: `cargo run --example sessions --features signed-cookies` (on `127.0.0.1:3001`, or
//! `ADDR`), then open `/dashboard` in a browser. It prints what to try:
//!
//! ```text
//! $ curl -i http://127.0.0.1:3001/dashboard   # 307; location: /login?from=%2Fdashboard
//! $ curl -i -c jar -d 'user=ann&from=%2Faccount' http://127.0.0.1:3001/login   # 303; location: /account; set-cookie: id=...
//! $ curl -i -b jar http://127.0.0.1:3001/account   # 200; "ann's account"
//! $ curl -i -c jar -d 'user=ann&remember=on&from=%2F%2Fevil.example' http://127.0.0.1:3001/login   # 303; location: /dashboard; set-cookie: remember=... (signed)
//! $ curl -i -b jar -c jar http://127.0.0.1:3001/logout   # 303; location: /login; the session and remember-me cookies deleted
//! ```
//!
//! The guard runs for `/dashboard`, `/account`, `/login` (POST) and `/logout`. It logs the
//! user in and out itself, so the session's user is only ever written in one place; pages
//! read who is logged in from the session the guard checked. A "remember me" login also
//! sets `remember`, signed with the app's key: when the session is gone (the server
//! restarted, the memory store forgot it), the guard logs its user back in from it, and a
//! changed `remember` cookie reads as absent.

use axum::extract::Query;
use axum::http::header;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tower_proxy_fn::cookie::time::Duration;
use tower_proxy_fn::cookie::{Cookie, Key, SameSite};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse, RedirectStatus};
use tower_sessions::{MemoryStore, Session, SessionManagerLayer};

/// The session key of the logged-in user's name.
const USER: &str = "user";

/// The app, with the key that signs the "remember me" cookie: tower-sessions outside, the
/// proxy guard inside it (its `Session` extractor needs the session layer in front), the
/// routes innermost.
pub fn app(key: Key) -> Router {
    let pages = Router::new()
        .route("/", get(home))
        .route("/login", get(login_page))
        .route("/dashboard", get(dashboard))
        .route("/account", get(account))
        .with_state(());
    let matcher = Matcher::new(["/dashboard/:path*", "/account/:path*", "/login", "/logout"])
        .expect("valid sources");
    let guarded = ProxyLayer::new(guard)
        .with_matcher(matcher)
        .with_request_body(4096) // the login form
        .with_cookie_key(key)
        .layer(pages);
    let sessions = SessionManagerLayer::new(MemoryStore::default())
        .with_secure(false) // plain http on localhost; keep the default in production
        .with_same_site(tower_sessions::cookie::SameSite::Lax);
    Router::new().fallback_service(guarded).layer(sessions)
}

/// The proxy guard: `Session` is tower-sessions' extractor, run before the function.
async fn guard(session: Session, req: ProxyRequest) -> ProxyResponse {
    let path = req.path();
    if path == "/logout" {
        if let Err(err) = session.flush().await {
            return store_failed(&err);
        }
        return ProxyResponse::redirect_with_status("/login", RedirectStatus::SeeOther)
            .delete_cookie("remember")
            .header(header::CACHE_CONTROL, "no-store");
    }
    if path == "/login" {
        if req.method() == http::Method::POST {
            return log_in(&session, &req).await;
        }
        return ProxyResponse::next();
    }
    // A protected page.
    let user = match session.get::<String>(USER).await {
        Ok(user) => user,
        Err(err) => return store_failed(&err),
    };
    let user = match user {
        Some(user) => Some(user),
        // Remembered: a signed cookie only this app could have set.
        None => match req.signed_cookie("remember") {
            Some(user) => match session.insert(USER, &user).await {
                Ok(()) => Some(user),
                Err(err) => return store_failed(&err),
            },
            None => None,
        },
    };
    if user.is_none() {
        let from = match req.query_string() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        let mut login = req.url_for("/login");
        login.query_pairs_mut().append_pair("from", &from);
        return ProxyResponse::redirect(login).header(header::CACHE_CONTROL, "no-store");
    }
    // Personalised: no cache keeps it for the next visitor, nor for "Back" after logout.
    ProxyResponse::next().header(header::CACHE_CONTROL, "no-store")
}

struct LoginForm {
    user: String,
    from: Option<String>,
    remember: Option<String>,
}

async fn log_in(session: &Session, req: &ProxyRequest) -> ProxyResponse {
    let form = req
        .body()
        .map(|body| login_form(body.as_ref()))
        .filter(|form: &LoginForm| !form.user.trim().is_empty() && form.user.len() <= 64);
    let Some(form) = form else {
        return ProxyResponse::respond((
            http::StatusCode::BAD_REQUEST,
            "a name of 1 to 64 bytes, please\n",
        ));
    };
    let user = form.user.trim().to_owned();
    // A new session id at login, so that an id planted before it is worth nothing.
    if let Err(err) = session.cycle_id().await {
        return store_failed(&err);
    }
    if let Err(err) = session.insert(USER, &user).await {
        return store_failed(&err);
    }
    // Back where the user was going, if that is a path on this site; else the dashboard.
    // `redirect_to_local` checks the path; the answer to a POST is a 303, so that the
    // browser follows with a GET.
    let local = ProxyResponse::redirect_to_local(form.from.as_deref(), "/dashboard");
    let target = local.redirect_url().unwrap_or("/dashboard").to_owned();
    let back = ProxyResponse::redirect_with_status(target, RedirectStatus::SeeOther)
        .header(header::CACHE_CONTROL, "no-store");
    if form.remember.is_none() {
        return back.delete_cookie("remember");
    }
    back.signed_cookie(
        Cookie::build(("remember", user))
            .http_only(true)
            .same_site(SameSite::Lax)
            .max_age(Duration::days(30)),
    )
}

/// The form's fields (`application/x-www-form-urlencoded`).
fn login_form(body: &[u8]) -> LoginForm {
    let mut form = LoginForm {
        user: String::new(),
        from: None,
        remember: None,
    };
    for (name, value) in url::form_urlencoded::parse(body) {
        match &*name {
            "user" => form.user = value.into_owned(),
            "from" => form.from = Some(value.into_owned()),
            "remember" => form.remember = Some(value.into_owned()),
            _ => {}
        }
    }
    form
}

/// The session store failed: a 500, with the reason logged (never "let it through").
fn store_failed(err: &tower_sessions::session::Error) -> ProxyResponse {
    tracing::error!(%err, "session store failed");
    ProxyResponse::respond((
        http::StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
    ))
}

async fn home() -> Html<&'static str> {
    Html(
        "<!doctype html>\n<title>Home</title>\n<h1>Home</h1>\n\
         <p><a href=\"/dashboard\">Dashboard</a> · <a href=\"/account\">Account</a></p>\n",
    )
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
         <label><input type=\"checkbox\" name=\"remember\"> Remember me</label>\n\
         <button id=\"login\" type=\"submit\">Log in</button>\n</form>\n"
    ))
}

/// The user the guard let through (it checked the session, or restored it).
async fn current_user(session: &Session) -> String {
    session
        .get::<String>(USER)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

async fn dashboard(session: Session) -> Html<String> {
    let user = escape(&current_user(&session).await);
    Html(format!(
        "<!doctype html>\n<title>Dashboard</title>\n<h1>Welcome, {user}</h1>\n\
         <p>Only a logged-in user sees this page.</p>\n\
         <p><a id=\"logout\" href=\"/logout\">Log out</a></p>\n"
    ))
}

async fn account(session: Session) -> String {
    format!("{}'s account", current_user(&session).await)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    // A demo key; a real app loads one (64 bytes) from its secrets: `Key::from(&bytes)`.
    let app = app(Key::generate());
    // Not 3000: the other examples' default, so that both can run at once.
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3001".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|err| {
        format!("sessions: cannot listen on {addr}: {err} (set ADDR to a free address)")
    })?;
    let addr = listener.local_addr()?;
    println!("sessions listening on http://{addr} (open /dashboard in a browser); try:");
    println!("  curl -i http://{addr}/dashboard   # 307; location: /login?from=%2Fdashboard");
    println!("  curl -i -c jar -d 'user=ann&from=%2Faccount' http://{addr}/login   # 303; location: /account; set-cookie: id=...");
    println!("  curl -i -b jar http://{addr}/account   # 200; \"ann's account\"");
    println!("  curl -i -c jar -d 'user=ann&remember=on&from=%2F%2Fevil.example' http://{addr}/login   # 303; location: /dashboard; set-cookie: remember=... (signed)");
    println!("  curl -i -b jar -c jar http://{addr}/logout   # 303; location: /login; the session and remember-me cookies deleted");
    axum::serve(listener, app).await?;
    Ok(())
}
