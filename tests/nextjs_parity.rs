//! The scenario app (`examples/nextjs_parity.rs`) against Next.js 16.4.6's transcripts
//! (`tests/fixtures/nextjs-transcripts.json`), by the rules of
//! `tests/fixtures/compare_transcripts.py`, through `oneshot`.

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/nextjs_parity.rs"]
mod parity;

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const TRANSCRIPTS: &str = include_str!("fixtures/nextjs-transcripts.json");
const ON_PURPOSE: &str = include_str!("fixtures/differs-on-purpose.json");

/// What `record_transcripts.py` keeps of a response.
struct Recorded {
    status: u16,
    location: Option<String>,
    set_cookie: Vec<String>,
    headers: BTreeMap<String, String>,
    json: Option<Value>,
}

async fn record(
    method: &str,
    path: &str,
    headers: &serde_json::Map<String, Value>,
    app: Option<&str>,
) -> Recorded {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:3000");
    if let Some(app) = app {
        request = request.header("x-scenario", app);
    }
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str().unwrap());
    }
    let body = if method == "POST" {
        Body::from("hello")
    } else {
        Body::empty()
    };
    let response = parity::scenarios()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let text = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let location = text("location");
    let content_type = text("content-type").unwrap_or_default();
    let set_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let headers = response
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-") || k.as_str().starts_with("access-control-"))
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = content_type
        .starts_with("application/json")
        .then(|| serde_json::from_slice(&bytes).ok())
        .flatten();
    Recorded {
        status,
        location,
        set_cookie,
        headers,
        json,
    }
}

/// `resolve` in compare_transcripts.py.
fn resolve(location: Option<&str>) -> Option<String> {
    let base = url::Url::parse("http://localhost/").unwrap();
    let url = base.join(location?).ok()?;
    Some(match url.host_str() {
        Some("localhost") | Some("127.0.0.1") => format!(
            "same-origin {} {} {}",
            url.path(),
            url.query().unwrap_or(""),
            url.fragment().unwrap_or("")
        ),
        _ => format!("other-origin {url}"),
    })
}

/// `parse_cookie` in compare_transcripts.py: name, value (or `<deleted>`) and the attributes
/// that count.
fn parse_cookie(line: &str) -> String {
    let mut pieces = line.split(';').map(str::trim);
    let (name, value) = pieces.next().unwrap().split_once('=').unwrap_or((line, ""));
    let mut attrs = BTreeMap::new();
    for piece in pieces.filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        attrs.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
    let mut expired = attrs.get("max-age").is_some_and(|v| v == "0");
    if let (Some(expires), None) = (attrs.get("expires"), attrs.get("max-age")) {
        expired |= expires.contains("1970");
    }
    if value.is_empty() && expired {
        let path = attrs.get("path").cloned().unwrap_or_else(|| "/".into());
        return format!("{name} <deleted> {path}");
    }
    let mut keep = BTreeMap::new();
    for key in ["path", "domain", "max-age", "samesite", "partitioned"] {
        if let Some(v) = attrs.get(key) {
            let v = if key == "samesite" {
                v.to_ascii_lowercase()
            } else {
                v.clone()
            };
            keep.insert(key.to_owned(), v);
        }
    }
    for flag in ["httponly", "secure"] {
        if attrs.contains_key(flag) {
            keep.insert(flag.to_owned(), "true".to_owned());
        }
    }
    if attrs.contains_key("expires") && !attrs.contains_key("max-age") {
        keep.insert("expires".into(), attrs["expires"].clone());
    }
    keep.entry("path".into()).or_insert_with(|| "/".into());
    format!("{name} {value} {keep:?}")
}

fn visible(headers: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter(|(k, _)| {
            !["x-middleware-", "x-nextjs-", "x-powered-by"]
                .iter()
                .any(|p| k.starts_with(p))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn echo_headers(json: &Value, leaked: &BTreeSet<String>) -> BTreeMap<String, String> {
    json["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !k.starts_with("x-forwarded-") && !leaked.contains(*k))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

fn compare(expected: &Value, actual: &Recorded) -> Vec<String> {
    let mut diffs = Vec::new();
    if expected["status"].as_u64() != Some(actual.status.into()) {
        diffs.push(format!(
            "status {} != expected {}",
            actual.status, expected["status"]
        ));
    }
    if resolve(expected["location"].as_str()) != resolve(actual.location.as_deref()) {
        diffs.push(format!(
            "location {:?} != expected {}",
            actual.location, expected["location"]
        ));
    }
    let mut want: Vec<String> = expected["set_cookie"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| parse_cookie(c.as_str().unwrap()))
        .collect();
    let mut got: Vec<String> = actual.set_cookie.iter().map(|c| parse_cookie(c)).collect();
    want.sort();
    got.sort();
    if want != got {
        diffs.push(format!("set-cookie {got:?} != expected {want:?}"));
    }
    let expected_headers: BTreeMap<String, String> = expected["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap().to_owned()))
        .collect();
    let (want_headers, got_headers) = (visible(&expected_headers), visible(&actual.headers));
    if want_headers != got_headers {
        diffs.push(format!(
            "headers {got_headers:?} != expected {want_headers:?}"
        ));
    }
    let expected_json = expected.get("json");
    if expected_json
        .and_then(|j| j.get("handler"))
        .and_then(Value::as_str)
        == Some("echo")
    {
        let want = expected_json.unwrap();
        match &actual.json {
            Some(got) if got.is_object() => {
                for key in ["handler", "path", "query", "method"] {
                    if want[key] != got[key] {
                        diffs.push(format!("echo {key} {} != expected {}", got[key], want[key]));
                    }
                }
                let leaked: BTreeSet<String> = want_headers.keys().cloned().collect();
                let (w, g) = (echo_headers(want, &leaked), echo_headers(got, &leaked));
                if w != g {
                    diffs.push(format!("echo headers {g:?} != expected {w:?}"));
                }
            }
            other => diffs.push(format!("expected an echo JSON body, got {other:?}")),
        }
    } else if expected_json != actual.json.as_ref() {
        diffs.push(format!(
            "json {:?} != expected {expected_json:?}",
            actual.json
        ));
    }
    diffs
}

/// The requests listed in `differs-on-purpose.json`.
fn on_purpose() -> Vec<Value> {
    let listed: Value = serde_json::from_str(ON_PURPOSE).unwrap();
    listed["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["request"].clone())
        .collect()
}

#[tokio::test]
async fn every_transcript_agrees_with_nextjs() {
    let fixture: Value = serde_json::from_str(TRANSCRIPTS).unwrap();
    let transcripts = fixture["transcripts"].as_array().unwrap();
    assert_eq!(
        transcripts.len(),
        98,
        "the fixture holds Next.js's 98 transcripts"
    );
    let differs = on_purpose();
    let (mut passed, mut purposeful, mut failed) = (0, 0, Vec::new());
    for expected in transcripts {
        let request = &expected["request"];
        let (method, path) = (
            request["method"].as_str().unwrap(),
            request["path"].as_str().unwrap(),
        );
        let app = request.get("app").and_then(Value::as_str);
        let actual = record(method, path, request["headers"].as_object().unwrap(), app).await;
        let diffs = compare(expected, &actual);
        if differs.contains(request) {
            // Listed: it must still differ, and by the proxy having run (its mark; on
            // `/cookies`, the cookie it read).
            let ran = actual.headers.contains_key("x-proxy-ran")
                || actual.headers.contains_key("x-seen-cookie");
            if diffs.is_empty() || !ran {
                failed.push(format!(
                    "{method} {path}: listed as differing on purpose: {diffs:?}"
                ));
            }
            purposeful += 1;
        } else if diffs.is_empty() {
            passed += 1;
        } else {
            failed.push(format!(
                "{method} {path} {}: {}",
                request["headers"],
                diffs.join("; ")
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{passed} passed, {} failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert_eq!((passed, purposeful), (91, 7));
}

#[test]
fn the_comparison_catches_differences() {
    // The comparison itself must be able to fail: a changed status, cookie or header is a diff.
    let fixture: Value = serde_json::from_str(TRANSCRIPTS).unwrap();
    let cookies = fixture["transcripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["request"]["path"] == "/cookies")
        .unwrap();
    let recorded = |status, set_cookie: Vec<&str>| Recorded {
        status,
        location: None,
        set_cookie: set_cookie.into_iter().map(String::from).collect(),
        headers: BTreeMap::new(),
        json: None,
    };
    let diffs = compare(cookies, &recorded(404, vec!["vercel=slow; Path=/"]));
    assert!(diffs.iter().any(|d| d.starts_with("status")));
    assert!(diffs.iter().any(|d| d.starts_with("set-cookie")));
    assert!(diffs.iter().any(|d| d.starts_with("headers")));
    assert!(diffs
        .iter()
        .any(|d| d.starts_with("expected an echo JSON body")));
    assert_eq!(
        parse_cookie("old=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
        parse_cookie("old=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    );
}

/// Next.js's default `trailingSlash: false` adds `/:path+/` -> `/:path+` (308) in front of
/// the redirects, before the proxy runs (vercel/next.js `packages/next/src/lib/load-custom-routes.ts`,
/// `loadCustomRoutes`; order from `resolve-routes.ts`). The scenario's proxy would rewrite
/// `/another` and redirect `/about`; with a slash, the trailing-slash redirect answers first.
#[tokio::test]
async fn trailing_slash_answers_308_before_the_proxy() {
    for (path, want) in [
        ("/another/", "/another"),
        ("/about/", "/about"),
        ("/api/echo/headers/?q=1", "/api/echo/headers?q=1"),
    ] {
        let response = parity::app()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 308, "{path}");
        assert_eq!(response.headers()["location"], want, "{path}");
    }
    // The root has no trailing slash to remove.
    let response = parity::app()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// resolve-routes.ts answers a path with `//` or `\` 308 to its normalized form.
#[tokio::test]
async fn repeated_slashes_answer_308() {
    for (path, want) in [("//another", "/another"), ("/api\\echo/x", "/api/echo/x")] {
        let response = parity::app()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 308, "{path}");
        assert_eq!(response.headers()["location"], want, "{path}");
    }
}
