//! The `sessions` example over a real server, with a client that keeps cookies as a
//! browser does: log in, see the protected pages, be remembered, log out (issue 21, item 5).

mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/sessions.rs"]
mod sessions;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower_proxy_fn::cookie::{Cookie, Key};

/// A client that keeps the cookies the server sets, and sends them back.
struct Browser {
    addr: SocketAddr,
    jar: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    location: Option<String>,
    set_cookies: Vec<String>,
    body: String,
}

impl Browser {
    fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            jar: BTreeMap::new(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send("GET", path, None).await
    }

    async fn post(&mut self, path: &str, form: &str) -> Page {
        self.send("POST", path, Some(form)).await
    }

    async fn send(&mut self, method: &str, path: &str, form: Option<&str>) -> Page {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("cookie", cookies.join("; "));
        }
        if form.is_some() {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        let body = Full::new(Bytes::from(form.unwrap_or("").to_owned()));
        let response = client.request(request.body(body).unwrap()).await.unwrap();
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for line in &set_cookies {
            let cookie = Cookie::parse(line.clone()).unwrap();
            let gone = cookie.max_age().is_some_and(|age| age.is_zero())
                || cookie
                    .expires_datetime()
                    .is_some_and(|at| at.unix_timestamp() <= 0);
            if gone {
                self.jar.remove(cookie.name());
            } else {
                self.jar
                    .insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            location,
            set_cookies,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }
}

#[tokio::test]
async fn log_in_see_the_protected_pages_log_out_and_be_sent_to_login() {
    let addr = common::serve(sessions::app(Key::generate())).await;
    let mut browser = Browser::new(addr);

    let page = browser.get("/dashboard?tab=2").await;
    assert_eq!(page.status, 307);
    assert_eq!(
        page.location.as_deref(),
        Some("/login?from=%2Fdashboard%3Ftab%3D2")
    );
    let form = browser.get(page.location.as_deref().unwrap()).await;
    assert!(
        form.body.contains("value=\"/dashboard?tab=2\""),
        "{}",
        form.body
    );

    let page = browser
        .post("/login", "user=ann&from=%2Fdashboard%3Ftab%3D2")
        .await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/dashboard?tab=2"));
    assert!(
        browser.jar.contains_key("id"),
        "the session cookie: {:?}",
        page.set_cookies
    );

    let page = browser.get("/dashboard?tab=2").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Welcome, ann"), "{}", page.body);
    assert_eq!(browser.get("/account").await.body, "ann's account");

    let page = browser.get("/logout").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/login"));
    let page = browser.get("/account").await;
    assert_eq!(page.status, 307);
    assert_eq!(page.location.as_deref(), Some("/login?from=%2Faccount"));
}

#[tokio::test]
async fn a_return_path_to_another_site_goes_to_the_dashboard() {
    let addr = common::serve(sessions::app(Key::generate())).await;
    let mut browser = Browser::new(addr);
    for evil in [
        "%2F%2Fevil.example",
        "https%3A%2F%2Fevil.example",
        "%2F%5Cevil.example",
    ] {
        let page = browser
            .post("/login", &format!("user=ann&from={evil}"))
            .await;
        assert_eq!(page.location.as_deref(), Some("/dashboard"), "{evil}");
    }
    assert_eq!(browser.post("/login", "user=+&from=%2F").await.status, 400);
}

#[tokio::test]
async fn a_signed_remember_me_cookie_restores_a_lost_session_and_a_changed_one_does_not() {
    let addr = common::serve(sessions::app(Key::generate())).await;
    let mut browser = Browser::new(addr);
    let page = browser.post("/login", "user=bea&remember=on").await;
    assert_eq!(page.location.as_deref(), Some("/dashboard"));
    let remember = browser
        .jar
        .get("remember")
        .cloned()
        .expect("a remember-me cookie");
    assert_ne!(remember, "bea", "signed, not the bare name");

    // The session is gone (a restart of the memory store): remembered.
    browser.jar.remove("id");
    let page = browser.get("/account").await;
    assert_eq!((page.status, page.body.as_str()), (200, "bea's account"));

    // A remember-me cookie changed by the client reads as absent.
    browser.jar.clear();
    browser
        .jar
        .insert("remember".to_owned(), remember.replace("bea", "eve"));
    assert_eq!(browser.get("/account").await.status, 307);

    // Logging out forgets both.
    browser.jar.clear();
    browser.post("/login", "user=bea&remember=on").await;
    browser.get("/logout").await;
    assert!(!browser.jar.contains_key("remember"), "{:?}", browser.jar);
    assert_eq!(browser.get("/account").await.status, 307);
}
