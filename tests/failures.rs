//! Failures of the proxy function (errors, panics) and request headers that must never make
//! the layer skip the proxy (CVE-2025-29927).

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use common::*;
use http::{Request, StatusCode};
use tower::{Service, ServiceExt};
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

fn counting_router(calls: &Arc<AtomicUsize>) -> Router {
    let calls = Arc::clone(calls);
    Router::new().fallback(move || {
        calls.fetch_add(1, Ordering::SeqCst);
        async { "handler" }
    })
}

/// Sends `request` through `service` itself (no clone): `ready().await`, then `call`.
async fn call_same<S>(service: &mut S, request: Request<Body>) -> axum::response::Response
where
    S: Service<
        Request<Body>,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
    >,
{
    service
        .ready()
        .await
        .expect("ready")
        .call(request)
        .await
        .expect("infallible")
}

// --- 7. errors and panics ------------------------------------------------------------------

#[tokio::test]
async fn err_from_the_proxy_becomes_that_response() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        if req.header("authorization") != Some("Bearer good") {
            return Err((
                StatusCode::FORBIDDEN,
                [("x-reason", "no-token")],
                "forbidden by proxy",
            ));
        }
        Ok(ProxyResponse::next())
    })
    .layer(counting_router(&calls));

    let response = send(&app, get_req("/secret")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(header_values(&response, "x-reason"), ["no-token"]);
    assert_eq!(body_string(response).await, "forbidden by proxy");
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let request = Request::get("/secret")
        .header("authorization", "Bearer good")
        .body(Body::empty())
        .unwrap();
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_string(response).await, "handler");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn err_of_a_custom_error_type_becomes_its_response() {
    struct AuthError;
    impl axum::response::IntoResponse for AuthError {
        fn into_response(self) -> axum::response::Response {
            (StatusCode::UNAUTHORIZED, "custom auth error").into_response()
        }
    }
    let app = common::wrap(|_req: ProxyRequest| async { Err::<ProxyResponse, _>(AuthError) });
    let response = send(&app, get_req("/")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_string(response).await, "custom auth error");
}

#[tokio::test]
async fn panic_inside_the_async_body_is_500_and_the_same_service_goes_on() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        tokio::task::yield_now().await;
        if req.path() == "/panic" {
            panic!("proxy panicked inside its future");
        }
        ProxyResponse::next().header("x-proxy", "ok")
    })
    .layer(counting_router(&calls));
    let mut service = app.clone();

    let response = call_same(&mut service, get_req("/panic")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let response = call_same(&mut service, get_req("/fine")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_values(&response, "x-proxy"), ["ok"]);
    assert_eq!(body_string(response).await, "handler");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn panic_before_the_first_await_is_500_and_the_same_service_goes_on() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        if req.path() == "/panic" {
            panic!("proxy panicked before awaiting");
        }
        tokio::task::yield_now().await;
        ProxyResponse::next()
    })
    .layer(counting_router(&calls));
    let mut service = app.clone();

    let response = call_same(&mut service, get_req("/panic")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let response = call_same(&mut service, get_req("/fine")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_string(response).await, "handler");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A plain closure that panics while building its future (before any future exists).
fn sync_panicking_proxy(req: ProxyRequest) -> impl Future<Output = ProxyResponse> + Send + 'static {
    if req.path() == "/panic" {
        panic!("proxy panicked in the sync part");
    }
    async { ProxyResponse::next().header("x-proxy", "ok") }
}

#[tokio::test]
async fn panic_in_a_sync_closure_returning_a_future_is_500_and_the_same_service_goes_on() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = ProxyLayer::new(sync_panicking_proxy).layer(counting_router(&calls));
    let mut service = app.clone();

    let response = call_same(&mut service, get_req("/panic")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let response = call_same(&mut service, get_req("/fine")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_values(&response, "x-proxy"), ["ok"]);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // And once more, to be sure nothing was left half-taken.
    let response = call_same(&mut service, get_req("/panic")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let response = call_same(&mut service, get_req("/fine")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn panic_with_a_closure_literal_is_500() {
    let app = common::wrap(|req: ProxyRequest| {
        if req.path() == "/panic" {
            panic!("closure panicked");
        }
        async { ProxyResponse::next() }
    });
    let mut service = app.clone();
    let response = call_same(&mut service, get_req("/panic")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let response = call_same(&mut service, get_req("/fine")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

// --- 8. CVE-2025-29927: no request header skips the proxy ---------------------------------

#[tokio::test]
async fn no_request_header_makes_the_layer_skip_the_proxy() {
    let proxy_runs = Arc::new(AtomicUsize::new(0));
    let handler_calls = Arc::new(AtomicUsize::new(0));
    let runs = Arc::clone(&proxy_runs);
    let app = ProxyLayer::new(move |_req: ProxyRequest| {
        runs.fetch_add(1, Ordering::SeqCst);
        async { ProxyResponse::respond((StatusCode::FORBIDDEN, "denied")) }
    })
    .layer(counting_router(&handler_calls));

    let cases: &[&[(&str, &str)]] = &[
        &[(
            "x-middleware-subrequest",
            "middleware:middleware:middleware:middleware:middleware",
        )],
        &[(
            "x-middleware-subrequest",
            "src/middleware:src/middleware:src/middleware:src/middleware:src/middleware",
        )],
        &[("x-middleware-subrequest", "src/middleware")],
        &[("x-middleware-subrequest", "pages/_middleware")],
        &[("x-middleware-subrequest", "proxy:proxy:proxy:proxy:proxy")],
        &[("x-nextjs-data", "1")],
        &[("x-invoke-path", "/")],
        &[("purpose", "prefetch")],
        &[("next-router-prefetch", "1")],
        &[
            (
                "x-middleware-subrequest",
                "middleware:middleware:middleware:middleware:middleware",
            ),
            ("x-nextjs-data", "1"),
            ("x-invoke-path", "/admin"),
            ("purpose", "prefetch"),
            ("next-router-prefetch", "1"),
            ("x-middleware-prefetch", "1"),
            ("x-middleware-invoke", "1"),
        ],
    ];
    for (i, headers) in cases.iter().enumerate() {
        let mut builder = Request::get("/admin");
        for (name, value) in *headers {
            builder = builder.header(*name, *value);
        }
        let response = send(&app, builder.body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "case {headers:?}");
        assert_eq!(body_string(response).await, "denied", "case {headers:?}");
        assert_eq!(proxy_runs.load(Ordering::SeqCst), i + 1, "case {headers:?}");
    }
    assert_eq!(handler_calls.load(Ordering::SeqCst), 0);
}

// --- Bad values from the proxy at request time: a well-formed 500 and a logged reason ---

/// One HTTP/1.1 response read off the wire, checked to be well-formed (RFC 9112): a status
/// line, header lines of a token name and a value free of CR and LF, an empty line, and a
/// body of exactly `Content-Length` bytes.
struct RawResponse {
    status_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

async fn raw_get(addr: std::net::SocketAddr, path: &str) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();

    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head that ends with an empty line");
    let head = std::str::from_utf8(&bytes[..end]).expect("an ASCII head");
    let body = bytes[end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap().to_owned();
    assert!(
        status_line.starts_with("HTTP/1.1 ")
            && status_line.as_bytes()[9..12].iter().all(u8::is_ascii_digit),
        "status line {status_line:?}"
    );
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("header line {line:?}"));
        assert!(
            !name.is_empty() && name.bytes().all(is_tchar),
            "header name {name:?}"
        );
        assert!(
            !value
                .bytes()
                .any(|b| b == b'\r' || b == b'\n' || (b < 0x20 && b != b'\t') || b == 0x7f),
            "header value {value:?}"
        );
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let response = RawResponse {
        status_line,
        headers,
        body,
    };
    let length = response.header("content-length");
    assert_eq!(
        length.len(),
        1,
        "one Content-Length: {:?}",
        response.headers
    );
    assert_eq!(length[0].parse::<usize>().unwrap(), response.body.len());
    response
}

/// Every kind of value that cannot go where the proxy put it.
fn bad_values(req: ProxyRequest) -> ProxyResponse {
    use tower_proxy_fn::cookie::Cookie;
    match req.path() {
        "/header-newline" => ProxyResponse::next().header("x-a", "line\nx-injected: 1"),
        "/header-crlf" => ProxyResponse::next().append_header("x-a", "a\r\nx-injected: 1"),
        "/header-nul" => ProxyResponse::next().header("x-a", "a\0b"),
        "/header-name" => ProxyResponse::next().header("bad name", "v"),
        "/header-name-colon" => ProxyResponse::next().header("x-a:", "v"),
        "/request-header-newline" => {
            ProxyResponse::next().request_header("x-user", "ann\r\nx-admin: 1")
        }
        "/request-header-name" => ProxyResponse::next().request_header("x user", "ann"),
        "/remove-header-name" => ProxyResponse::next().remove_request_header("bad\nname"),
        "/redirect-unparsable" => ProxyResponse::redirect("http://[::1/x"),
        "/redirect-bad-host" => ProxyResponse::redirect("https://exa mple.com/"),
        "/redirect-bad-port" => ProxyResponse::redirect("http://example.com:99999/"),
        "/rewrite-unparsable" => ProxyResponse::rewrite("http://[::1/x"),
        "/cookie-name-semicolon" => ProxyResponse::next().set_cookie("a;b", "v"),
        "/cookie-name-newline" => ProxyResponse::next().set_cookie("a\nSet-Cookie: evil", "v"),
        "/cookie-name-space" => ProxyResponse::next().set_cookie("a b", "v"),
        "/cookie-path-newline" => {
            ProxyResponse::next().cookie(Cookie::build(("s", "v")).path("/\r\nx-injected: 1"))
        }
        "/cookie-path-semicolon" => ProxyResponse::redirect("/x")
            .cookie(Cookie::build(("s", "v")).path("/; Domain=evil.example")),
        "/cookie-domain-semicolon" => ProxyResponse::respond("own")
            .cookie(Cookie::build(("s", "v")).domain("example.com; SameSite=None")),
        "/json" => {
            // serde_json refuses map keys that are not strings.
            let map: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
            ProxyResponse::json(StatusCode::OK, &map)
        }
        _ => ProxyResponse::next(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn bad_values_from_the_proxy_are_a_well_formed_500_with_a_logged_reason() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let handler_calls = Arc::new(AtomicUsize::new(0));
    let app = ProxyLayer::new(|req: ProxyRequest| async move { bad_values(req) })
        .layer(counting_router(&handler_calls));
    let addr = serve(app).await;

    // What the log must say for each (the reason, not only that something failed).
    let cases = [
        ("/header-newline", "invalid value for header x-a"),
        ("/header-crlf", "invalid value for header x-a"),
        ("/header-nul", "invalid value for header x-a"),
        ("/header-name", "invalid header name"),
        ("/header-name-colon", "invalid header name"),
        ("/request-header-newline", "invalid value for header x-user"),
        ("/request-header-name", "invalid header name"),
        ("/remove-header-name", "invalid header name"),
        (
            "/redirect-unparsable",
            "redirect destination is not a valid URL",
        ),
        (
            "/redirect-bad-host",
            "redirect destination is not a valid URL",
        ),
        (
            "/redirect-bad-port",
            "redirect destination is not a valid URL",
        ),
        (
            "/rewrite-unparsable",
            "rewrite destination is not a valid URL",
        ),
        ("/cookie-name-semicolon", "invalid cookie name"),
        ("/cookie-name-newline", "invalid cookie name"),
        ("/cookie-name-space", "invalid cookie name"),
        ("/cookie-path-newline", "is not a valid Set-Cookie line"),
        ("/cookie-path-semicolon", "holds a ';'"),
        ("/cookie-domain-semicolon", "holds a ';'"),
        ("/json", "JSON body does not serialize"),
    ];
    for (path, reason) in cases {
        let before = logs.contents().len();
        let response = raw_get(addr, path).await;
        assert_eq!(
            response.status_line, "HTTP/1.1 500 Internal Server Error",
            "{path}: {:?}",
            response.headers
        );
        assert_eq!(response.body, b"Internal Server Error", "{path}");
        for leaked in ["x-a", "x-injected", "x-user", "set-cookie", "location"] {
            assert!(response.header(leaked).is_empty(), "{path} sent {leaked}");
        }
        let logged = logs.contents()[before..].to_owned();
        let error = logged
            .lines()
            .find(|l| l.contains("ERROR"))
            .unwrap_or_else(|| panic!("{path}: nothing logged at ERROR: {logged}"));
        assert!(error.contains(reason), "{path}: {error:?} lacks {reason:?}");
        assert!(error.contains(path), "{path}: {error:?} lacks the path");
    }
    assert_eq!(handler_calls.load(Ordering::SeqCst), 0);

    // The server goes on serving well-formed answers.
    let response = raw_get(addr, "/fine").await;
    assert_eq!(response.status_line, "HTTP/1.1 200 OK");
    assert_eq!(response.body, b"handler");
}
