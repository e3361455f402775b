//! Cache safety: a response produced from a decision that read cookies or headers says so
//! to caches (`Vary`, RFC 9110 §12.5.5; `Cache-Control: private`, RFC 9111 §5.2.2.7), unless
//! the proxy set those headers itself; a permanent redirect decided on cookies is logged as
//! a warning. Requests the matcher skips are left untouched.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::*;
use http::StatusCode;
use tower_proxy_fn::compose::chain;
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse, RedirectStatus};

/// The names listed by every `Vary` line, lower-cased (field names are case-insensitive).
fn vary_names<B>(response: &http::Response<B>) -> Vec<String> {
    header_values(response, "vary")
        .iter()
        .flat_map(|line| line.split(',').map(|n| n.trim().to_ascii_lowercase()))
        .filter(|n| !n.is_empty())
        .collect()
}

/// The `Cache-Control` directives, lower-cased.
fn cache_directives<B>(response: &http::Response<B>) -> Vec<String> {
    header_values(response, "cache-control")
        .iter()
        .flat_map(|line| line.split(',').map(|d| d.trim().to_ascii_lowercase()))
        .filter(|d| !d.is_empty())
        .collect()
}

/// Routes whose responses carry caching headers of their own, as a real app's would.
fn router() -> Router {
    Router::new()
        .route(
            "/dashboard",
            get(|| async {
                (
                    [
                        ("cache-control", "public, max-age=60"),
                        ("vary", "Accept-Encoding"),
                    ],
                    "dashboard",
                )
            }),
        )
        .route(
            "/no-store",
            get(|| async { ([("cache-control", "no-store")], "secret") }),
        )
        .route("/vary-star", get(|| async { ([("vary", "*")], "varies") }))
        .route("/login", get(|| async { "login" }))
        .route("/public", get(|| async { "public" }))
}

/// The usual auth guard: the session cookie decides between the page and the login form.
async fn auth_guard(req: ProxyRequest) -> ProxyResponse {
    match req.cookies().get("session") {
        Some(_) => ProxyResponse::next(),
        None => ProxyResponse::redirect("/login"),
    }
}

async fn fetch(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> http::Response<Bytes> {
    get_at(addr, path, headers).await
}

#[tokio::test]
async fn cookie_decision_marks_both_the_redirect_and_the_page_over_a_real_server() {
    let app = ProxyLayer::new(auth_guard)
        .with_matcher(Matcher::new(["/dashboard"]).unwrap())
        .layer(router());
    let addr = serve(app).await;

    // Logged out: the redirect depends on the cookie.
    let response = fetch(addr, "/dashboard", &[]).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(vary_names(&response), ["cookie"]);
    assert_eq!(cache_directives(&response), ["private"]);

    // Logged in: the page the handler made public must not be stored by a shared cache and
    // handed to the next (logged-out) visitor; its own directives and Vary are kept.
    let response = fetch(addr, "/dashboard", &[("cookie", "session=abc")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(vary_names(&response), ["accept-encoding", "cookie"]);
    assert_eq!(cache_directives(&response), ["private", "max-age=60"]);
    assert_eq!(response.body().as_ref(), b"dashboard");
}

#[tokio::test]
async fn unmatched_requests_are_untouched() {
    let app = ProxyLayer::new(auth_guard)
        .with_matcher(Matcher::new(["/dashboard"]).unwrap())
        .layer(router());
    let addr = serve(app).await;
    let response = fetch(addr, "/public", &[("cookie", "session=abc")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(vary_names(&response).is_empty());
    assert!(cache_directives(&response).is_empty());
}

#[tokio::test]
async fn a_decision_that_read_nothing_adds_nothing() {
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        if req.path() == "/login" {
            return ProxyResponse::redirect("/public");
        }
        ProxyResponse::next().header("x-proxy", "ran")
    })
    .layer(router());
    let response = send(&app, get_req("/dashboard")).await;
    assert_eq!(header_values(&response, "x-proxy"), ["ran"]);
    assert_eq!(vary_names(&response), ["accept-encoding"]);
    assert_eq!(cache_directives(&response), ["public", "max-age=60"]);
    let response = send(&app, get_req("/login")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert!(vary_names(&response).is_empty());
    assert!(cache_directives(&response).is_empty());
}

#[tokio::test]
async fn a_header_read_adds_vary_for_that_header_only() {
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        // Case does not matter: the name goes into Vary in its canonical form.
        match req.header("X-Tenant") {
            Some("blocked") => ProxyResponse::respond((StatusCode::FORBIDDEN, "blocked")),
            _ => ProxyResponse::next(),
        }
    })
    .layer(router());
    let request = http::Request::get("/login")
        .header("x-tenant", "blocked")
        .body(Body::empty())
        .unwrap();
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(vary_names(&response), ["x-tenant"]);
    // A header is not a cookie: shared caches may keep one copy per tenant.
    assert!(cache_directives(&response).is_empty());

    // Read but absent still decided the outcome: the page varies on it too.
    let response = send(&app, get_req("/dashboard")).await;
    assert_eq!(vary_names(&response), ["accept-encoding", "x-tenant"]);
    assert_eq!(cache_directives(&response), ["public", "max-age=60"]);
}

#[tokio::test]
async fn several_reads_are_listed_once_each() {
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        let _ = req.header("accept-language");
        let _ = req.header("Accept-Language");
        let _ = req.header("x-ab-bucket");
        let _ = req.cookies().get("a");
        let _ = req.cookies().get("b");
        // Reading the Cookie header by name is reading cookies.
        let _ = req.header("cookie");
        ProxyResponse::respond("ok")
    })
    .layer(router());
    let response = send(&app, get_req("/login")).await;
    assert_eq!(
        vary_names(&response),
        ["cookie", "accept-language", "x-ab-bucket"]
    );
    assert_eq!(cache_directives(&response), ["private"]);
}

#[tokio::test]
async fn headers_the_proxy_set_itself_are_left_alone() {
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        let signed_in = req.cookies().has("session");
        match req.path() {
            // The proxy chose its own caching policy: kept as it is.
            "/login" => ProxyResponse::redirect("/public")
                .header("cache-control", "no-cache")
                .header("vary", "Cookie, Accept"),
            // Its own response with its own Cache-Control; Vary still added.
            "/public" => ProxyResponse::respond(([("cache-control", "max-age=5")], "own")),
            // The proxy's response header wins over the handler's and is not merged.
            _ if signed_in => ProxyResponse::next().header("cache-control", "public, max-age=1"),
            _ => ProxyResponse::next(),
        }
    })
    .layer(router());

    let response = send(&app, get_req("/login")).await;
    assert_eq!(header_values(&response, "cache-control"), ["no-cache"]);
    assert_eq!(header_values(&response, "vary"), ["Cookie, Accept"]);

    let response = send(&app, get_req("/public")).await;
    assert_eq!(header_values(&response, "cache-control"), ["max-age=5"]);
    assert_eq!(vary_names(&response), ["cookie"]);

    let request = http::Request::get("/dashboard")
        .header("cookie", "session=1")
        .body(Body::empty())
        .unwrap();
    let response = send(&app, request).await;
    assert_eq!(
        header_values(&response, "cache-control"),
        ["public, max-age=1"]
    );
    assert_eq!(vary_names(&response), ["accept-encoding", "cookie"]);
}

#[tokio::test]
async fn stricter_handler_policies_are_not_weakened() {
    let app = ProxyLayer::new(auth_guard).layer(router());
    for (path, want_cache, want_vary) in [
        ("/no-store", vec!["no-store"], vec!["cookie"]),
        // `Vary: *` already says the response varies on everything.
        ("/vary-star", vec!["private"], vec!["*"]),
    ] {
        let request = http::Request::get(path)
            .header("cookie", "session=1")
            .body(Body::empty())
            .unwrap();
        let response = send(&app, request).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(cache_directives(&response), want_cache, "{path}");
        assert_eq!(vary_names(&response), want_vary, "{path}");
    }
}

#[tokio::test]
async fn reads_in_a_clone_and_in_a_chain_count() {
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        let copy = req.clone();
        let _ = copy.cookies().get("session");
        ProxyResponse::next()
    })
    .layer(router());
    let response = send(&app, get_req("/login")).await;
    assert_eq!(vary_names(&response), ["cookie"]);
    assert_eq!(cache_directives(&response), ["private"]);

    async fn first(_: ProxyRequest) -> ProxyResponse {
        ProxyResponse::next().request_header("x-step", "1")
    }
    async fn second(req: ProxyRequest) -> ProxyResponse {
        let _ = req.header("x-country");
        auth_guard(req).await
    }
    let app = ProxyLayer::new(chain().then(first).then(second)).layer(router());
    let response = send(&app, get_req("/dashboard")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(vary_names(&response), ["cookie", "x-country"]);
    assert_eq!(cache_directives(&response), ["private"]);
}

/// `headers()` hands out the whole map; reading it is not tracked (documented in
/// SECURITY.md): a function that decides on a header it reads that way adds `Vary` itself.
#[tokio::test]
async fn the_whole_header_map_is_not_tracked() {
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        let _ = req.headers().get("x-tenant");
        ProxyResponse::respond("ok")
    })
    .layer(router());
    let response = send(&app, get_req("/login")).await;
    assert!(vary_names(&response).is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn a_permanent_redirect_decided_on_cookies_is_a_warning() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        let cookie_read = req.path() != "/no-cookie";
        if cookie_read && req.cookies().has("session") {
            return ProxyResponse::next();
        }
        match req.path() {
            "/moved" => {
                ProxyResponse::redirect_with_status("/login", RedirectStatus::MovedPermanently)
            }
            "/temporary" => ProxyResponse::redirect("/login"),
            "/found" => ProxyResponse::redirect_with_status("/login", RedirectStatus::Found),
            _ => ProxyResponse::permanent_redirect("/login"),
        }
    })
    .layer(router());

    for path in ["/temporary", "/found", "/no-cookie"] {
        let response = send(&app, get_req(path)).await;
        assert!(response.status().is_redirection(), "{path}");
    }
    assert!(
        !logs.contents().contains("WARN"),
        "no warning for temporary redirects or one that read no cookie: {}",
        logs.contents()
    );

    for (path, status) in [
        ("/moved", StatusCode::MOVED_PERMANENTLY),
        ("/permanent", StatusCode::PERMANENT_REDIRECT),
    ] {
        let response = send(&app, get_req(path)).await;
        assert_eq!(response.status(), status);
        // Still marked: caches that do honour Vary keep it per cookie.
        assert_eq!(vary_names(&response), ["cookie"]);
        assert_eq!(cache_directives(&response), ["private"]);
    }
    let text = logs.contents();
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 2, "{text}");
    assert!(
        warnings[0].contains("permanent redirect decided on cookies"),
        "{text}"
    );
    assert!(warnings[0].contains("status=301"), "{text}");
    assert!(warnings[1].contains("status=308"), "{text}");
}

/// Reads the cookie and a header only to log them: the answer is the same for everyone.
async fn logs_only(req: ProxyRequest) -> ProxyResponse {
    let _visitor = req.cookies().get("visitor").map(str::to_owned);
    let _agent = req.header("user-agent").map(str::to_owned);
    ProxyResponse::next()
        .header("x-seen", "1")
        .same_for_everyone()
}

#[tokio::test]
async fn same_for_everyone_leaves_the_response_cacheable() {
    let app = ProxyLayer::new(logs_only).layer(router());
    let request = http::Request::get("/dashboard")
        .header("cookie", "visitor=ann")
        .header("user-agent", "curl")
        .body(Body::empty())
        .unwrap();
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    // The handler's own headers, nothing added for the reads.
    assert_eq!(vary_names(&response), ["accept-encoding"]);
    assert_eq!(cache_directives(&response), ["public", "max-age=60"]);
    assert_eq!(header_values(&response, "x-seen"), ["1"]);

    // The same function without the declaration is marked (the default).
    let marked = ProxyLayer::new(|req: ProxyRequest| async move {
        let _ = req.cookies().get("visitor");
        ProxyResponse::next()
    })
    .layer(router());
    let response = send(&marked, get_req("/dashboard")).await;
    assert_eq!(vary_names(&response), ["accept-encoding", "cookie"]);
    assert_eq!(cache_directives(&response), ["private", "max-age=60"]);
}

#[tokio::test]
async fn in_a_chain_every_step_must_declare_it() {
    // The logging step declares it; the auth step's decision depends on the cookie.
    let app = ProxyLayer::new(chain().then(logs_only).then(auth_guard)).layer(router());
    let response = send(&app, get_req("/dashboard")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(vary_names(&response), ["cookie", "user-agent"]);
    assert_eq!(cache_directives(&response), ["private"]);

    let app = ProxyLayer::new(chain().then(logs_only).then(logs_only)).layer(router());
    let response = send(&app, get_req("/dashboard")).await;
    assert_eq!(vary_names(&response), ["accept-encoding"]);
    assert_eq!(cache_directives(&response), ["public", "max-age=60"]);
}
