//! Signed and private cookies (feature `signed-cookies`): the proxy and axum-extra's
//! `SignedCookieJar` / `PrivateCookieJar` read each other's cookies under the same `Key`;
//! a tampered or foreign cookie reads as absent; a missing key is a clear answer and a
//! logged reason (issue 21, item 2).

mod common;

use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;
use axum_extra::extract::cookie::{Cookie, PrivateCookieJar, SignedCookieJar};
use common::*;
use tower_proxy_fn::cookie::Key;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

#[derive(Clone)]
struct App {
    key: Key,
}

impl FromRef<App> for Key {
    fn from_ref(app: &App) -> Key {
        app.key.clone()
    }
}

/// What the handler's jars read: `signed|private`.
async fn read_jars(signed: SignedCookieJar, private: PrivateCookieJar) -> String {
    let value = |cookie: Option<Cookie<'static>>| cookie.map(|c| c.value().to_owned());
    format!(
        "{}|{}",
        value(signed.get("user")).unwrap_or_default(),
        value(private.get("secret")).unwrap_or_default()
    )
}

/// The handler writes the cookies the proxy then reads.
async fn write_jars(
    signed: SignedCookieJar,
    private: PrivateCookieJar,
) -> (SignedCookieJar, PrivateCookieJar, &'static str) {
    (
        signed.add(Cookie::new("user", "bob")),
        private.add(Cookie::new("secret", "s3")),
        "written",
    )
}

fn router(key: &Key) -> Router {
    Router::new()
        .route("/read", get(read_jars))
        .route("/write", get(write_jars))
        .route("/seen", get(|| async { "seen" }))
        .with_state(App { key: key.clone() })
}

/// Sets a signed and a private cookie on `/read`; answers what it reads on `/proxy-reads`.
async fn proxy(req: ProxyRequest) -> ProxyResponse {
    match req.path() {
        "/read" => ProxyResponse::next()
            .signed_cookie(("user", "ann"))
            .private_cookie(("secret", "s1")),
        "/proxy-reads" => ProxyResponse::respond(format!(
            "{}|{}",
            req.signed_cookie("user").unwrap_or_default(),
            req.private_cookie("secret").unwrap_or_default()
        )),
        _ => ProxyResponse::next(),
    }
}

/// The `name=value` of each `Set-Cookie` line.
fn cookie_pairs(set_cookies: &[String]) -> String {
    set_cookies
        .iter()
        .map(|line| line.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn the_handlers_jars_read_what_the_proxy_signed_and_encrypted() {
    let key = Key::generate();
    let app = ProxyLayer::new(proxy)
        .with_cookie_key(key.clone())
        .layer(router(&key));
    // In the same request (the handler sees the proxy's cookies) ...
    let response = send(&app, get_req("/read")).await;
    let set = set_cookies(&response);
    assert_eq!(body_string(response).await, "ann|s1");
    // ... and when the browser sends them back, over a real server.
    assert!(
        !set.iter().any(|line| line.contains("s1")),
        "private: {set:?}"
    );
    let addr = serve(
        ProxyLayer::new(|_: ProxyRequest| async { ProxyResponse::next() }).layer(router(&key)),
    )
    .await;
    let back = cookie_pairs(&set);
    let response = get_at(addr, "/read", &[("cookie", &back)]).await;
    assert_eq!(response.body().as_ref(), b"ann|s1");
}

#[tokio::test]
async fn the_proxy_reads_what_the_handlers_jars_wrote() {
    let key = Key::generate();
    let app = ProxyLayer::new(proxy)
        .with_cookie_key(key.clone())
        .layer(router(&key));
    let addr = serve(app).await;
    let written = get_at(addr, "/write", &[]).await;
    let back = cookie_pairs(&header_values(&written, "set-cookie"));
    let response = get_at(addr, "/proxy-reads", &[("cookie", &back)]).await;
    assert_eq!(response.body().as_ref(), b"bob|s3");
}

#[tokio::test]
async fn a_tampered_or_foreign_cookie_reads_as_absent() {
    let key = Key::generate();
    let app = ProxyLayer::new(proxy)
        .with_cookie_key(key.clone())
        .layer(router(&key));
    let written = send(&app, get_req("/write")).await;
    let back = cookie_pairs(&set_cookies(&written));
    // Changing the signed value's last letter, or the private value's first byte.
    let tampered = back.replacen("bob; ", "bot; ", 1);
    assert_ne!(tampered, back);
    let request = http::Request::get("/proxy-reads")
        .header("cookie", &tampered)
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(body_string(send(&app, request).await).await, "|s3");

    // Another app's key: neither verifies; garbage does not panic either.
    let foreign = ProxyLayer::new(proxy)
        .with_cookie_key(Key::generate())
        .layer(router(&key));
    for cookies in [back.as_str(), "user=; secret=%%%", "user=x; secret=AAAA"] {
        let request = http::Request::get("/proxy-reads")
            .header("cookie", cookies)
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(
            body_string(send(&foreign, request).await).await,
            "|",
            "{cookies}"
        );
    }
}

#[tokio::test]
async fn without_a_key_writing_is_a_logged_500_and_reading_is_absent() {
    let key = Key::generate();
    let log = LogCapture::default();
    let _guard = tracing::subscriber::set_default(log.subscriber());
    let app = ProxyLayer::new(proxy).layer(router(&key));
    let response = send(&app, get_req("/read")).await;
    assert_eq!(response.status(), 500);
    assert!(set_cookies(&response).is_empty());
    assert!(
        log.contents().contains("with_cookie_key"),
        "{}",
        log.contents()
    );

    let request = http::Request::get("/proxy-reads")
        .header("cookie", "user=anything")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(body_string(send(&app, request).await).await, "|");
    assert!(
        log.contents().contains("a layer without a key"),
        "{}",
        log.contents()
    );
}

#[tokio::test]
async fn a_proxy_function_takes_the_key_from_state_through_its_jar() {
    // The key from the app's state: axum-extra's jar as the proxy function's extractor.
    async fn guard(jar: SignedCookieJar, req: ProxyRequest) -> ProxyResponse {
        if req.path() == "/write" {
            return ProxyResponse::next();
        }
        match jar.get("user") {
            Some(user) => ProxyResponse::next().request_header("x-user", user.value()),
            None => ProxyResponse::redirect("/login"),
        }
    }
    let key = Key::generate();
    let state = App { key: key.clone() };
    let router =
        router(&key).route(
            "/",
            get(|headers: http::HeaderMap| async move {
                headers["x-user"].to_str().unwrap().to_owned()
            }),
        );
    let app = ProxyLayer::with_state(state, guard).layer(router);
    let addr = serve(app).await;
    assert_eq!(get_at(addr, "/", &[]).await.status(), 307);
    let written = get_at(addr, "/write", &[]).await;
    let back = cookie_pairs(&header_values(&written, "set-cookie"));
    let response = get_at(addr, "/", &[("cookie", &back)]).await;
    assert_eq!(response.body().as_ref(), b"bob");
}

#[tokio::test]
async fn every_step_of_a_chain_keeps_its_signed_cookie() {
    async fn first(_: ProxyRequest) -> ProxyResponse {
        ProxyResponse::next()
            .signed_cookie(("user", "ann"))
            .set_cookie("plain", "1")
    }
    async fn second(_: ProxyRequest) -> ProxyResponse {
        ProxyResponse::next().private_cookie(("secret", "s2"))
    }
    let key = Key::generate();
    let proxy = tower_proxy_fn::compose::chain().then(first).then(second);
    let app = ProxyLayer::new(proxy)
        .with_cookie_key(key.clone())
        .layer(router(&key));
    let response = send(&app, get_req("/read")).await;
    let names: Vec<String> = set_cookies(&response)
        .iter()
        .map(|line| line.split('=').next().unwrap().to_owned())
        .collect();
    // Plain cookies first, then the sealed ones in the order the steps added them.
    assert_eq!(names, ["plain", "user", "secret"]);
    assert_eq!(body_string(response).await, "ann|s2");
}
