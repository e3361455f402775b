//! Fail closed (issue 18): one reading of `Cookie` and of the query, for the proxy
//! function (`req.cookies()`, `req.query()`) and for the matcher's `has` / `missing`
//! conditions. If the two read a request differently, a matcher can let the proxy run (or
//! skip it) on a value the function never sees.
//!
//! Expected values are those of Next.js's `request.cookies`: `parseCookie` of
//! `@edge-runtime/cookies` 6.0.0 (bundled in next 16.4.6 as
//! `dist/compiled/@edge-runtime/cookies/index.js`): split on `/; */`, a pair without `=` is
//! `"true"`, the value goes through `decodeURIComponent` and the pair is dropped when that
//! throws, the name is not trimmed, quotes are kept, and a later pair replaces an earlier
//! one (`Map.set`). For the query, Next.js's `matchHas`
//! (`packages/next/src/shared/lib/router/utils/prepare-destination.ts`) takes the last value
//! of a repeated key: `Array.isArray(value) ? value.slice(-1)[0]`.

mod common;

use axum::body::Body;
use common::*;
use http::header::{HeaderValue, COOKIE};
use http::StatusCode;
use serde_json::{json, Value};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

/// The proxy runs when the matcher's cookie condition holds, and answers what it reads:
/// the condition's capture and `req.cookies()`.
fn cookie_app() -> tower_proxy_fn::ProxyService<axum::Router, impl tower_proxy_fn::ProxyFn> {
    let matcher = Matcher::from_json(
        r#"{"matcher": [{"source": "/c", "has": [{"type": "cookie", "key": "session", "value": "(?<s>.*)"}]}]}"#,
    )
    .unwrap();
    ProxyLayer::new(|req: ProxyRequest| async move {
        ProxyResponse::json(
            StatusCode::OK,
            &json!({
                "param": req.param("s"),
                "cookie": req.cookies().get("session"),
            }),
        )
    })
    .with_matcher(matcher)
    .layer(echo_router())
}

fn with_cookies(headers: &[&[u8]]) -> http::Request<Body> {
    let mut builder = http::Request::get("/c");
    for value in headers {
        builder = builder.header(COOKIE, HeaderValue::from_bytes(value).unwrap());
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_function_and_the_matcher_read_cookies_alike() {
    let app = cookie_app();
    // (case, Cookie header lines, `session` as Next.js's parseCookie reads it)
    type Row<'a> = (&'a str, &'a [&'a [u8]], Option<&'a str>);
    let rows: &[Row] = &[
        (
            "non-UTF-8 byte elsewhere",
            &[b"session=s1; bad=\xff\xfe"],
            Some("s1"),
        ),
        (
            "non-UTF-8 byte first",
            &[b"bad=\xff; session=s1"],
            Some("s1"),
        ),
        ("quotes kept", &[b"session=\"q\""], Some("\"q\"")),
        ("later pair wins", &[b"session=1; session=2"], Some("2")),
        (
            "later header wins",
            &[b"session=1", b"session=2"],
            Some("2"),
        ),
        (
            "undecodable pair dropped",
            &[b"session=ok; session=%zz"],
            Some("ok"),
        ),
        ("only an undecodable pair", &[b"session=%E0%A4%A"], None),
        ("no '=' is \"true\"", &[b"session"], Some("true")),
        ("decoded", &[b"session=a%20b"], Some("a b")),
        ("no space after ';'", &[b"x=1;session=s2"], Some("s2")),
        ("name not trimmed", &[b"session =s3"], None),
        ("absent", &[b"other=1"], None),
    ];
    for (case, headers, want) in rows {
        // What the function would read, straight from the request.
        let direct = ProxyRequest::from_request(with_cookies(headers));
        assert_eq!(
            direct.cookies().get("session"),
            *want,
            "{case}: req.cookies()"
        );

        let response = send(&app, with_cookies(headers)).await;
        assert_eq!(response.status(), StatusCode::OK, "{case}");
        let seen: Value = body_json(response).await;
        match want {
            Some(value) => {
                assert_eq!(seen["param"], *value, "{case}: the matcher's reading");
                assert_eq!(seen["cookie"], *value, "{case}: the function's reading");
            }
            // The matcher did not match: the inner service's echo answered.
            None => assert_eq!(seen["path"], "/c", "{case}: {seen}"),
        }
    }
}

/// A `missing` condition reads the same way: a cookie the function sees makes it fail.
#[tokio::test]
async fn missing_cookie_conditions_read_cookies_alike() {
    let matcher = Matcher::from_json(
        r#"{"matcher": [{"source": "/c", "missing": [{"type": "cookie", "key": "session"}]}]}"#,
    )
    .unwrap();
    let app = ProxyLayer::new(|_req: ProxyRequest| async {
        ProxyResponse::respond(StatusCode::UNAUTHORIZED)
    })
    .with_matcher(matcher)
    .layer(echo_router());
    for headers in [
        &[&b"session=s1; bad=\xff"[..]][..],
        &[&b"session"[..]][..],
        &[&b"session=\"\""[..]][..],
    ] {
        let direct = ProxyRequest::from_request(with_cookies(headers));
        let has = direct.cookies().has("session");
        let response = send(&app, with_cookies(headers)).await;
        // The proxy (401) runs exactly when the function would see no session.
        assert_eq!(
            response.status() == StatusCode::UNAUTHORIZED,
            !has,
            "{:?}",
            String::from_utf8_lossy(headers[0])
        );
        assert!(has, "{:?}", String::from_utf8_lossy(headers[0]));
    }
}

/// Query conditions take the last value of a repeated key (`matchHas`).
#[tokio::test]
async fn query_conditions_take_the_last_value() {
    let matcher = Matcher::from_json(
        r#"{"matcher": [{"source": "/q", "has": [{"type": "query", "key": "role", "value": "(?<r>.*)"}]}]}"#,
    )
    .unwrap();
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        ProxyResponse::json(
            StatusCode::OK,
            &json!({"param": req.param("r"), "query": req.query("role")}),
        )
    })
    .with_matcher(matcher)
    .layer(echo_router());
    let response = send(&app, get_req("/q?role=user&role=admin")).await;
    let seen = body_json(response).await;
    assert_eq!(seen["param"], "admin");
}

/// The function's `req.query` reads as the matcher does. `ProxyRequest::query` lives in the
/// lead's part of `request.rs`; it is to call `request::query_value`.
#[tokio::test]
async fn the_function_reads_the_query_as_the_matcher() {
    let req = ProxyRequest::from_request(
        http::Request::get("/q?role=user&role=admin&x=a+b&x=%zz")
            .body(())
            .unwrap(),
    );
    assert_eq!(req.query("role").as_deref(), Some("admin"));
    assert_eq!(req.query("x").as_deref(), Some("%zz"));
}
