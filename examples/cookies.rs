//! Cookies: the proxy reads a `visits` cookie, sets it again (incremented, with attributes),
//! tells the handler the count, and deletes it on `/forget`.
//!
//! Run: `cargo run --example cookies` (on `127.0.0.1:3000`, or `ADDR`). It prints what to try:
//!
//! ```text
//! $ curl -i http://127.0.0.1:3000/   # 200; set-cookie: visits=1; "visit #1 with theme light"
//! $ curl -i -b 'visits=41; theme=dark' http://127.0.0.1:3000/   # 200; set-cookie: visits=42; "visit #42 with theme dark"
//! $ curl -i -b visits=7 http://127.0.0.1:3000/forget   # 307; location: /; set-cookie: visits=; no x-visits
//! $ curl -i -c jar -b jar http://127.0.0.1:3000/       (again and again: the count grows)
//! ```
//!
//! The new cookie is `visits=42; HttpOnly; SameSite=Lax; Path=/; Max-Age=2592000`; the
//! deletion is `visits=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`.

mod support;

use axum::http::HeaderMap;
use axum::{routing::get, Router};
use tower_proxy_fn::cookie::{time::Duration, Cookie, SameSite};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    if req.path() == "/forget" {
        // `Max-Age=0` and an `Expires` in 1970: the browser drops the cookie.
        return ProxyResponse::redirect("/").delete_cookie("visits");
    }
    if req.path() != "/" {
        return ProxyResponse::next();
    }
    // A missing or tampered value counts as zero: cookies are client input.
    let visits = req
        .cookies()
        .get("visits")
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0)
        .saturating_add(1);
    // Only known values go on into a header: a decoded cookie may hold anything (`%0A` is a
    // newline), and an invalid header value makes the layer answer 500.
    let theme = match req.cookies().get("theme") {
        Some("dark") => "dark",
        _ => "light",
    };

    ProxyResponse::next()
        .cookie(
            Cookie::build(("visits", visits.to_string()))
                .http_only(true) // scripts cannot read it
                .max_age(Duration::days(30))
                .same_site(SameSite::Lax),
        )
        // The handler learns what the proxy decided without parsing cookies again.
        .request_header("x-visits", visits.to_string())
        .request_header("x-theme", theme)
}

async fn index(headers: HeaderMap) -> String {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
    };
    format!(
        "visit #{} with theme {}\nCookie header the handler got: {}\n",
        get("x-visits"),
        get("x-theme"),
        get("cookie"),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let router = Router::new().route("/", get(index));
    let app = ProxyLayer::new(proxy)
        .with_matcher(Matcher::new(["/", "/forget"])?)
        .layer(router.with_state(()));

    let (listener, addr) = support::listen("cookies").await;
    println!("cookies listening on http://{addr}; try:");
    println!("  curl -i -c jar -b jar http://{addr}/   (again and again: the count grows)");
    println!(
        "  curl -i http://{addr}/   # 200; set-cookie: visits=1; \"visit #1 with theme light\""
    );
    println!("  curl -i -b 'visits=41; theme=dark' http://{addr}/   # 200; set-cookie: visits=42; \"visit #42 with theme dark\"");
    println!("  curl -i -b visits=7 http://{addr}/forget   # 307; location: /; set-cookie: visits=; no x-visits");
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await?;
    Ok(())
}
