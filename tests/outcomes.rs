//! The outcomes through the layer: rewrite, request/response headers, cookies and the
//! proxy's own responses (Next.js semantics). Redirects are `tests/redirects.rs`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::OriginalUri;
use axum::routing::{any, get};
use axum::Router;
use common::*;
use http::{header, Request, StatusCode, Uri};
use serde_json::json;
use tower_proxy_fn::cookie::time::{Duration, OffsetDateTime};
use tower_proxy_fn::cookie::{Cookie, SameSite};
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

// ---------------------------------------------------------------------------------------
// 1. Rewrite
// ---------------------------------------------------------------------------------------

fn a_b_router() -> Router {
    Router::new()
        .route("/a", any(|| async { "handler a" }))
        .route("/b", any(echo))
        .route(
            "/b/{*rest}",
            get(|uri: Uri| async move { format!("b-rest {}", uri.path()) }),
        )
        .route(
            "/original",
            get(|OriginalUri(original): OriginalUri, uri: Uri| async move {
                format!("original={original} uri={uri}")
            }),
        )
}

#[tokio::test]
async fn rewrite_reaches_the_new_paths_handler() {
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        if req.path() == "/a" {
            ProxyResponse::rewrite("/b")
        } else {
            ProxyResponse::next()
        }
    })
    .layer(a_b_router());
    let response = send(&app, get_req("/a")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let echo = body_json(response).await;
    assert_eq!(echo["path"], "/b");
    assert_eq!(echo["method"], "GET");
}

#[tokio::test]
async fn rewrite_destination_query_replaces_the_request_query() {
    let app = ProxyLayer::new(|_req: ProxyRequest| async { ProxyResponse::rewrite("/b?y=2") })
        .layer(a_b_router());
    let echo = body_json(send(&app, get_req("/a?x=1")).await).await;
    assert_eq!(echo["path"], "/b");
    assert_eq!(echo["query"], "y=2");
}

#[tokio::test]
async fn rewrite_keeps_method_headers_and_body() {
    let app = ProxyLayer::new(|_req: ProxyRequest| async {
        ProxyResponse::rewrite("/b").request_header("x-from-proxy", "yes")
    })
    .layer(a_b_router());
    let request = Request::post("/a")
        .header("x-client", "kept")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("the posted body"))
        .unwrap();
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("x-from-proxy").is_none(),
        "a request header edit must not reach the client"
    );
    let echo = body_json(response).await;
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/b");
    assert_eq!(echo["body"], "the posted body");
    assert_eq!(echoed_header(&echo, "x-client"), ["kept"]);
    assert_eq!(echoed_header(&echo, "content-type"), ["text/plain"]);
    assert_eq!(echoed_header(&echo, "x-from-proxy"), ["yes"]);
}

#[tokio::test]
async fn rewritten_request_runs_the_proxy_exactly_once() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    let app = ProxyLayer::new(move |req: ProxyRequest| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if req.path() == "/a" {
                ProxyResponse::rewrite("/b")
            } else {
                ProxyResponse::next()
            }
        }
    })
    .layer(a_b_router());
    let echo = body_json(send(&app, get_req("/a")).await).await;
    assert_eq!(echo["path"], "/b");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn original_uri_in_the_handler_is_the_pre_rewrite_uri() {
    let app =
        ProxyLayer::new(|_req: ProxyRequest| async { ProxyResponse::rewrite("/original?y=2") })
            .layer(a_b_router());
    let response = send(&app, get_req("/a?x=1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body_string(response).await,
        "original=/a?x=1 uri=/original?y=2"
    );
}

#[tokio::test]
async fn rewrite_keeps_colons_and_percent_encoding_in_the_path() {
    let app = ProxyLayer::new(|_req: ProxyRequest| async { ProxyResponse::rewrite("/b/a:b%20c") })
        .layer(a_b_router());
    let response = send(&app, get_req("/a")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_string(response).await, "b-rest /b/a:b%20c");
}

#[tokio::test]
async fn rewrite_carries_response_headers_and_cookies() {
    let app = ProxyLayer::new(|_req: ProxyRequest| async {
        ProxyResponse::rewrite("/b")
            .header("x-rewritten", "1")
            .set_cookie("vercel", "fast")
    })
    .layer(a_b_router());
    let response = send(&app, get_req("/a")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_values(&response, "x-rewritten"), ["1"]);
    assert_eq!(set_cookies(&response), ["vercel=fast; Path=/"]);
    let echo = body_json(response).await;
    assert_eq!(echo["path"], "/b");
    assert!(echoed_header(&echo, "x-rewritten").is_empty());
}

#[tokio::test]
async fn rewrite_to_another_origin_is_refused() {
    let handler_calls = Arc::new(AtomicUsize::new(0));
    let calls = Arc::clone(&handler_calls);
    let router = Router::new().fallback(move || {
        calls.fetch_add(1, Ordering::SeqCst);
        async { "handler" }
    });
    let app = ProxyLayer::new(|_req: ProxyRequest| async {
        ProxyResponse::rewrite("https://example.com/b")
    })
    .layer(router);
    let response = send(&app, get_req("/a")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(handler_calls.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------------------
// 2. Request and response headers
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn request_header_edits_reach_the_inner_service_only() {
    let app = wrap(|_req: ProxyRequest| async {
        ProxyResponse::next()
            .request_header("X-Hello-From-Proxy", "hello")
            .append_request_header("X-Multi", "from-proxy")
            .remove_request_header("X-SECRET")
    });
    let request = Request::get("/api/echo/headers")
        .header("x-multi", "from-client")
        .header("x-secret", "s3cr3t")
        .header("x-other", "untouched")
        .body(Body::empty())
        .unwrap();
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    for name in ["x-hello-from-proxy", "x-multi", "x-secret"] {
        assert!(
            response.headers().get(name).is_none(),
            "request header {name} leaked to the client"
        );
    }
    let echo = body_json(response).await;
    assert_eq!(echoed_header(&echo, "x-hello-from-proxy"), ["hello"]);
    assert_eq!(
        echoed_header(&echo, "x-multi"),
        ["from-client", "from-proxy"]
    );
    assert!(echoed_header(&echo, "x-secret").is_empty());
    assert_eq!(echoed_header(&echo, "x-other"), ["untouched"]);
}

#[tokio::test]
async fn response_headers_reach_the_client_only() {
    let app = wrap(|_req: ProxyRequest| async {
        ProxyResponse::next()
            .header("X-Hello-From-Proxy2", "hello")
            .append_header("x-trace", "one")
            .append_header("x-trace", "two")
    });
    let response = send(&app, get_req("/api/echo/headers")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_values(&response, "x-hello-from-proxy2"), ["hello"]);
    assert_eq!(header_values(&response, "x-trace"), ["one", "two"]);
    let echo = body_json(response).await;
    assert!(
        echoed_header(&echo, "x-hello-from-proxy2").is_empty(),
        "a response header reached the handler"
    );
    assert!(echoed_header(&echo, "x-trace").is_empty());
}

#[tokio::test]
async fn request_header_set_replaces_the_clients_value() {
    let app = wrap(|_req: ProxyRequest| async {
        ProxyResponse::next().request_header("X-User", "from-proxy")
    });
    let request = Request::get("/")
        .header("x-user", "from-client")
        .header("X-USER", "second-from-client")
        .body(Body::empty())
        .unwrap();
    let echo = body_json(send(&app, request).await).await;
    assert_eq!(echoed_header(&echo, "x-user"), ["from-proxy"]);
}

#[tokio::test]
async fn response_header_set_replaces_the_handlers_value() {
    let router = Router::new().fallback(|| async {
        (
            [("x-frame-options", "SAMEORIGIN"), ("vary", "origin")],
            "body",
        )
    });
    let app = ProxyLayer::new(|_req: ProxyRequest| async {
        ProxyResponse::next()
            .header("X-Frame-Options", "DENY")
            .append_header("vary", "accept")
    })
    .layer(router);
    let response = send(&app, get_req("/")).await;
    assert_eq!(header_values(&response, "x-frame-options"), ["DENY"]);
    assert_eq!(header_values(&response, "vary"), ["origin", "accept"]);
}

#[tokio::test]
async fn invalid_header_value_or_name_gives_500() {
    let app = wrap(|req: ProxyRequest| async move {
        match req.path() {
            "/resp-value" => ProxyResponse::next().header("x-a", "line\nbreak"),
            "/req-value" => ProxyResponse::next().request_header("x-a", "line\r\nx-injected: 1"),
            "/resp-name" => ProxyResponse::next().header("bad name", "v"),
            _ => ProxyResponse::next().remove_request_header("bad:name"),
        }
    });
    for path in ["/resp-value", "/req-value", "/resp-name", "/remove-name"] {
        let response = send(&app, get_req(path)).await;
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}"
        );
        assert!(response.headers().get("x-a").is_none(), "{path}");
    }
}

#[tokio::test]
async fn extension_from_the_proxy_reaches_the_handler_on_next_and_rewrite() {
    #[derive(Clone)]
    struct User(&'static str);
    let router = Router::new()
        .route(
            "/me",
            get(|axum::Extension(User(name)): axum::Extension<User>| async move { name }),
        )
        .route("/old-me", get(|| async { "old route" }));
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        let decision = if req.path() == "/old-me" {
            ProxyResponse::rewrite("/me")
        } else {
            ProxyResponse::next()
        };
        decision.extension(User("ann"))
    })
    .layer(router);
    for path in ["/me", "/old-me"] {
        let response = send(&app, get_req(path)).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(body_string(response).await, "ann", "{path}");
    }
}

// ---------------------------------------------------------------------------------------
// 3. Cookies
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn request_cookies_get_get_all_and_has() {
    let app = wrap(|req: ProxyRequest| async move {
        let cookies = req.cookies();
        ProxyResponse::json(
            StatusCode::OK,
            &json!({
                "a": cookies.get("a"),
                "all_a": cookies.get_all("a").collect::<Vec<_>>(),
                "b": cookies.get("b"),
                "c": cookies.get("c"),
                "has_c": cookies.has("c"),
                "has_junk": cookies.has("junk"),
                "has_missing": cookies.has("missing"),
                "missing": cookies.get("missing"),
            }),
        )
    });
    let request = Request::get("/")
        .header(header::COOKIE, "a=1; junk; b=x%20y")
        .header(header::COOKIE, "a=2; c=3")
        .body(Body::empty())
        .unwrap();
    let seen = body_json(send(&app, request).await).await;
    assert_eq!(
        seen,
        // Next.js's `parseCookie` (`@edge-runtime/cookies`): a later pair replaces an
        // earlier one, a pair without `=` is "true" (see tests/fail_closed_cookies.rs).
        json!({
            "a": "2",
            "all_a": ["1", "2"],
            "b": "x y",
            "c": "3",
            "has_c": true,
            "has_junk": true,
            "has_missing": false,
            "missing": null,
        })
    );
}

#[tokio::test]
async fn set_cookie_has_path_root() {
    let app =
        wrap(|_req: ProxyRequest| async { ProxyResponse::next().set_cookie("theme", "dark") });
    let response = send(&app, get_req("/")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(set_cookies(&response), ["theme=dark; Path=/"]);
}

/// Splits a `Set-Cookie` line into `name=value` and its attributes (names lower-cased).
fn parse_set_cookie(line: &str) -> (String, Vec<(String, Option<String>)>) {
    let mut parts = line.split(';').map(str::trim);
    let pair = parts.next().unwrap().to_owned();
    let attributes = parts
        .map(|attr| match attr.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_owned())),
            None => (attr.to_ascii_lowercase(), None),
        })
        .collect();
    (pair, attributes)
}

fn attribute<'a>(
    attributes: &'a [(String, Option<String>)],
    name: &str,
) -> Option<Option<&'a str>> {
    let mut found = attributes.iter().filter(|(k, _)| k == name);
    let first = found.next().map(|(_, v)| v.as_deref());
    assert!(found.next().is_none(), "attribute {name} appears twice");
    first
}

#[tokio::test]
async fn cookie_builder_attributes_are_all_written() {
    let expires = OffsetDateTime::from_unix_timestamp(1_893_456_000).unwrap(); // 2030-01-01
    let app = wrap(move |_req: ProxyRequest| async move {
        ProxyResponse::next().cookie(
            Cookie::build(("prefs", "dark"))
                .path("/app")
                .domain("example.com")
                .max_age(Duration::hours(1))
                .expires(expires)
                .http_only(true)
                .secure(true)
                .same_site(SameSite::Lax)
                .partitioned(true),
        )
    });
    let response = send(&app, get_req("/")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let lines = set_cookies(&response);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (pair, attrs) = parse_set_cookie(&lines[0]);
    assert_eq!(pair, "prefs=dark");
    assert_eq!(attribute(&attrs, "path"), Some(Some("/app")));
    assert_eq!(attribute(&attrs, "domain"), Some(Some("example.com")));
    assert_eq!(attribute(&attrs, "max-age"), Some(Some("3600")));
    assert_eq!(
        attribute(&attrs, "expires"),
        Some(Some("Tue, 01 Jan 2030 00:00:00 GMT"))
    );
    assert_eq!(attribute(&attrs, "httponly"), Some(None));
    assert_eq!(attribute(&attrs, "secure"), Some(None));
    assert_eq!(
        attribute(&attrs, "samesite").map(|v| v.map(str::to_ascii_lowercase)),
        Some(Some("lax".to_owned()))
    );
    assert_eq!(attribute(&attrs, "partitioned"), Some(None));
}

#[tokio::test]
async fn delete_cookie_expires_it_in_1970() {
    let app = wrap(|_req: ProxyRequest| async { ProxyResponse::next().delete_cookie("old") });
    let response = send(&app, get_req("/")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let lines = set_cookies(&response);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (pair, attrs) = parse_set_cookie(&lines[0]);
    assert_eq!(pair, "old=", "empty value");
    assert_eq!(attribute(&attrs, "path"), Some(Some("/")));
    assert_eq!(attribute(&attrs, "max-age"), Some(Some("0")));
    // Next.js: `cookies.delete(name)` sets `expires: new Date(0)`.
    assert_eq!(
        attribute(&attrs, "expires"),
        Some(Some("Thu, 01 Jan 1970 00:00:00 GMT")),
        "line {:?}",
        lines[0]
    );
}

#[tokio::test]
async fn several_cookies_give_separate_set_cookie_headers() {
    let app = wrap(|_req: ProxyRequest| async {
        ProxyResponse::next()
            .set_cookie("vercel", "fast")
            .cookie(Cookie::build(("prefs", "dark")).http_only(true))
            .delete_cookie("old")
    });
    let response = send(&app, get_req("/cookies")).await;
    let lines = set_cookies(&response);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], "vercel=fast; Path=/");
    assert!(lines[1].starts_with("prefs=dark;"), "{lines:?}");
    assert!(lines[2].starts_with("old=;"), "{lines:?}");
    for line in &lines {
        assert_eq!(
            line.matches("Path=").count(),
            1,
            "one cookie per header: {line:?}"
        );
    }
}

#[tokio::test]
async fn cookie_values_are_percent_encoded() {
    // Next.js encodes values with encodeURIComponent: "a b;c=d" -> "a%20b%3Bc%3Dd".
    let app = wrap(|_req: ProxyRequest| async { ProxyResponse::next().set_cookie("v", "a b;c=d") });
    let response = send(&app, get_req("/")).await;
    assert_eq!(set_cookies(&response), ["v=a%20b%3Bc%3Dd; Path=/"]);
}

#[tokio::test]
async fn invalid_cookie_name_gives_500() {
    for name in ["bad name", "a;b", "a=b", "", "new\nline", "ü"] {
        let cookie_name = name.to_owned();
        let app = wrap(move |_req: ProxyRequest| {
            let cookie_name = cookie_name.clone();
            async move { ProxyResponse::next().set_cookie(cookie_name, "v") }
        });
        let response = send(&app, get_req("/")).await;
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "cookie name {name:?}"
        );
        assert!(
            set_cookies(&response).is_empty(),
            "cookie name {name:?}: {:?}",
            set_cookies(&response)
        );
    }
}

/// A cookie attribute that cannot go into a header (a newline in the path or domain) is a
/// value "not valid where it goes": the layer answers 500 rather than silently dropping the
/// cookie.
#[tokio::test]
async fn cookie_attribute_with_a_newline_gives_500() {
    let app = wrap(|req: ProxyRequest| async move {
        let cookie = match req.path() {
            "/path" => Cookie::build(("session", "x")).path("/a\nSet-Cookie: evil=1"),
            _ => Cookie::build(("session", "x")).domain("example.com\r\nx-injected: 1"),
        };
        ProxyResponse::next().cookie(cookie)
    });
    for path in ["/path", "/domain"] {
        let response = send(&app, get_req(path)).await;
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}: Set-Cookie {:?}",
            set_cookies(&response)
        );
        assert!(response.headers().get("x-injected").is_none());
    }
}

// ---------------------------------------------------------------------------------------
// 4. Respond
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn respond_with_any_status_and_body() {
    let handler_calls = Arc::new(AtomicUsize::new(0));
    let calls = Arc::clone(&handler_calls);
    let router = Router::new().fallback(move || {
        calls.fetch_add(1, Ordering::SeqCst);
        async { "handler" }
    });
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        match req.path() {
            "/teapot" => ProxyResponse::respond((StatusCode::IM_A_TEAPOT, "short and stout")),
            "/accepted" => ProxyResponse::respond((StatusCode::ACCEPTED, "queued")),
            _ => ProxyResponse::respond((StatusCode::SERVICE_UNAVAILABLE, "maintenance"))
                .header("retry-after", "120"),
        }
    })
    .layer(router);
    let response = send(&app, get_req("/teapot")).await;
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(body_string(response).await, "short and stout");

    let response = send(&app, get_req("/accepted")).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(body_string(response).await, "queued");

    let response = send(&app, get_req("/down")).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header_values(&response, "retry-after"), ["120"]);
    assert_eq!(body_string(response).await, "maintenance");

    assert_eq!(handler_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn respond_with_location_and_200_stays_200() {
    let app = wrap(|_req: ProxyRequest| async {
        ProxyResponse::respond((
            StatusCode::OK,
            [(header::LOCATION, "https://example.com/elsewhere")],
            "not a redirect",
        ))
    });
    let response = send(&app, get_req("/")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(location(&response), "https://example.com/elsewhere");
    assert_eq!(body_string(response).await, "not a redirect");
}

#[tokio::test]
async fn json_response_has_status_content_type_and_body() {
    let app = wrap(|_req: ProxyRequest| async {
        ProxyResponse::json(
            StatusCode::UNAUTHORIZED,
            &json!({ "success": false, "message": "authentication failed" }),
        )
    });
    let response = send(&app, get_req("/api/echo/protected")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header_values(&response, "content-type"),
        ["application/json"]
    );
    assert_eq!(
        body_json(response).await,
        json!({ "success": false, "message": "authentication failed" })
    );
}

#[tokio::test]
async fn respond_carries_response_headers_and_cookies() {
    let app = wrap(|_req: ProxyRequest| async {
        ProxyResponse::json(StatusCode::OK, &json!({}))
            .header("access-control-allow-origin", "https://acme.com")
            .set_cookie("seen", "1")
    });
    let response = send(&app, get_req("/api/cors")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header_values(&response, "access-control-allow-origin"),
        ["https://acme.com"]
    );
    assert_eq!(set_cookies(&response), ["seen=1; Path=/"]);
}
