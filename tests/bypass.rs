//! Bypass resistance: no spelling of a path, and no header, lets a request reach a protected
//! handler without the proxy deciding on it.
//!
//! The oracle is axum itself: a path counts as protected when the bare router sends it to a
//! protected handler. Behind the layer, every such path must be stopped by the proxy.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::routing::get;
use axum::Router;
use common::serve;
use http::StatusCode;
use http_body_util::BodyExt;
use proptest::prelude::*;
use tower::ServiceExt;
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

fn protected(name: &'static str) -> axum::routing::MethodRouter {
    get(move || async move { format!("protected:{name}") })
}

/// Protected routes of every kind: literal, parameter, wildcard, nested.
fn router() -> Router {
    let users = Router::new()
        .route("/{id}/settings", protected("nested"))
        .route("/{id}", get(|| async { "public:user" }));
    Router::new()
        .route("/admin", protected("literal"))
        .route("/admin/{section}", protected("param"))
        .route("/admin/{section}/{*rest}", protected("wildcard"))
        .route("/files/{*path}", protected("files"))
        .nest("/api/v1/users", users)
        .route("/", get(|| async { "public:home" }))
        .route("/about", get(|| async { "public:about" }))
}

/// The Next.js matcher a user would write for those routes.
fn matcher() -> Matcher {
    Matcher::new([
        "/admin",
        "/admin/:path*",
        "/files/:path*",
        "/api/v1/users/:id/settings",
    ])
    .unwrap()
}

async fn deny(_: ProxyRequest) -> ProxyResponse {
    ProxyResponse::respond((StatusCode::FORBIDDEN, "denied by proxy"))
}

async fn body_of(
    service: impl tower::Service<Request, Response = axum::response::Response, Error = Infallible>,
    request: Request,
) -> (StatusCode, String) {
    let response = service.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn request(path: &str, headers: &[(String, String)]) -> Option<Request> {
    let mut builder = Request::get(path);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Body::empty()).ok()
}

/// Checks one path (and header set): if the bare router serves a protected handler, the
/// guarded app must answer with the proxy's denial.
fn check(path: &str, headers: &[(String, String)]) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let Some(bare_request) = request(path, headers) else {
            return Ok(()); // not a valid URI: no server would route it
        };
        let (_, bare_body) = body_of(router(), bare_request).await;
        if !bare_body.starts_with("protected:") {
            return Ok(());
        }
        let guarded = ProxyLayer::new(deny)
            .with_matcher(matcher())
            .layer(router());
        let (status, body) = body_of(guarded, request(path, headers).unwrap()).await;
        prop_assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST,
            "{path} reached {bare_body} past the proxy: {status} {body}"
        );
        prop_assert!(!body.starts_with("protected:"), "{path} reached {body}");
        Ok(())
    })
}

/// A path built from a protected route, then spelled differently.
fn spelled_path() -> impl Strategy<Value = String> {
    let base = prop_oneof![
        Just(vec!["admin".to_owned()]),
        "[a-z0-9]{1,6}".prop_map(|s| vec!["admin".to_owned(), s]),
        ("[a-z0-9]{1,6}", "[a-z0-9._-]{1,6}", "[a-z]{1,4}").prop_map(|(a, b, c)| vec![
            "admin".into(),
            a,
            b,
            c
        ]),
        "[a-z0-9.]{1,8}".prop_map(|s| vec!["files".to_owned(), s]),
        "[0-9]{1,4}".prop_map(|id| vec![
            "api".into(),
            "v1".into(),
            "users".into(),
            id,
            "settings".into()
        ]),
    ];
    let edits = prop::collection::vec((0usize..11, any::<u8>(), any::<bool>()), 0..6);
    let tail = prop_oneof![
        Just(String::new()),
        Just("/".to_owned()),
        Just("?x=1".to_owned()),
        Just("/?a=%2F&b".to_owned()),
        Just(";jsessionid=1".to_owned()),
        Just("#frag".to_owned()),
    ];
    (base, edits, tail).prop_map(|(segments, edits, tail)| {
        let mut segments: Vec<String> = segments;
        for (kind, pick, upper) in edits {
            let at = pick as usize % segments.len().max(1);
            match kind {
                // a doubled slash before a segment
                0 => segments[at].insert(0, '/'),
                // a dot segment
                1 => segments.insert(at, ".".into()),
                // a parent segment after a dummy one
                2 => {
                    segments.insert(at, "..".into());
                    segments.insert(at, "x".into());
                }
                // percent-encode one character, upper or lower case hex
                3 | 4 => {
                    let seg = &segments[at];
                    if let Some((i, c)) = seg.char_indices().nth(pick as usize % seg.len().max(1)) {
                        let hex = if upper {
                            format!("%{:02X}", c as u32)
                        } else {
                            format!("%{:02x}", c as u32)
                        };
                        let mut s = seg.clone();
                        s.replace_range(i..i + c.len_utf8(), &hex);
                        segments[at] = s;
                    }
                }
                // an encoded slash inside a segment
                5 => segments[at].push_str(if upper { "%2F" } else { "%2f" }),
                // a `;` parameter on a segment
                6 => segments[at].push_str(";p=1"),
                // an encoded dot segment, or an encoded parent after a dummy segment
                7 => segments.insert(at, if upper { "%2E" } else { ".%2e" }.into()),
                8 => {
                    segments.insert(at, if upper { "%2E%2E" } else { "%2e." }.into());
                    segments.insert(at, "x".into());
                }
                // every character of a segment percent-encoded, hex case mixed
                9 => {
                    let encoded: String = segments[at]
                        .bytes()
                        .enumerate()
                        .map(|(i, b)| {
                            if (i + pick as usize) % 2 == usize::from(upper) {
                                format!("%{b:02X}")
                            } else {
                                format!("%{b:02x}")
                            }
                        })
                        .collect();
                    segments[at] = encoded;
                }
                // an empty segment at the end
                _ => segments.push(String::new()),
            }
        }
        format!("/{}{tail}", segments.join("/"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_spelling_of_a_protected_path_gets_past_the_proxy(path in spelled_path()) {
        check(&path, &[])?;
    }

    #[test]
    fn no_header_makes_the_proxy_skip_a_protected_path(
        path in spelled_path(),
        headers in client_headers(),
    ) {
        check(&path, &headers)?;
    }
}

/// The headers a client could send to try to change how a request is routed or whether
/// the proxy runs: Next.js's internal ones, proxy and rewrite headers, method overrides.
fn client_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop_oneof![
                Just("x-middleware-subrequest".to_owned()),
                Just("x-middleware-prefetch".to_owned()),
                Just("x-middleware-invoke".to_owned()),
                Just("x-nextjs-data".to_owned()),
                Just("x-invoke-path".to_owned()),
                Just("x-invoke-query".to_owned()),
                Just("x-matched-path".to_owned()),
                Just("x-now-route-matches".to_owned()),
                Just("rsc".to_owned()),
                Just("next-router-state-tree".to_owned()),
                Just("x-forwarded-host".to_owned()),
                Just("x-forwarded-prefix".to_owned()),
                Just("x-forwarded-proto".to_owned()),
                Just("x-original-url".to_owned()),
                Just("x-original-uri".to_owned()),
                Just("x-rewrite-url".to_owned()),
                Just("x-http-method-override".to_owned()),
                Just("host".to_owned()),
                Just("cookie".to_owned()),
                Just("purpose".to_owned()),
                Just("next-router-prefetch".to_owned()),
                "x-[a-z-]{1,12}",
            ],
            prop_oneof![
                Just("middleware:middleware:middleware:middleware:middleware".to_owned()),
                Just(
                    "src/middleware:src/middleware:src/middleware:src/middleware:src/middleware"
                        .to_owned()
                ),
                Just("proxy:proxy:proxy:proxy:proxy".to_owned()),
                Just("/about".to_owned()),
                Just("/".to_owned()),
                Just("1".to_owned()),
                Just("prefetch".to_owned()),
                Just("POST".to_owned()),
                Just("evil.example".to_owned()),
                "[ -~]{0,20}",
            ],
        ),
        0..6,
    )
}

/// What the layer did with a request.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Handled {
    /// The proxy function ran (counted, not inferred).
    Ran,
    /// The layer answered `400` itself, before the function and the inner service (a
    /// `Host` that is not an authority).
    Refused,
    /// Neither: the request went straight on.
    Passed,
}

/// What the layer does with `path` and these headers.
fn proxy_runs(path: &str, headers: &[(String, String)]) -> Option<Handled> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let request = request(path, headers)?;
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        let app = ProxyLayer::new(move |_req: ProxyRequest| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { ProxyResponse::next() }
        })
        .with_matcher(matcher())
        .layer(router());
        let response = app.oneshot(request).await.unwrap();
        Some(match runs.load(Ordering::SeqCst) {
            1 => Handled::Ran,
            _ if response.status() == StatusCode::BAD_REQUEST => Handled::Refused,
            _ => Handled::Passed,
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The matcher has no `has`/`missing` conditions, so headers must not change whether the
    /// proxy runs, for protected and unprotected paths alike; they may only make the layer
    /// refuse the request outright (a bad `Host`).
    #[test]
    fn no_header_changes_whether_the_proxy_runs(
        path in prop_oneof![spelled_path(), "/[a-z]{1,8}(/[a-z]{1,8}){0,2}"],
        headers in client_headers(),
    ) {
        let Some(with_headers) = proxy_runs(&path, &headers) else {
            return Ok(()); // a header value that is not valid in a request
        };
        let without = proxy_runs(&path, &[]).unwrap();
        prop_assert!(
            with_headers == without || with_headers == Handled::Refused,
            "{} with {:?}: {:?}, without: {:?}", path, headers, with_headers, without
        );
    }
}

#[test]
fn known_bypass_spellings_are_stopped_or_not_routed() {
    let cases = [
        "/admin//users",
        "//admin",
        "/admin/./users",
        "/admin/users/",
        "/admin%2Fusers",
        "/%61dmin",
        "/admin/%2e%2e/x",
        "/files//etc/passwd",
        "/api/v1/users/7//settings",
        "/api/v1/users/7/settings/",
        "/admin;x=1/users",
        "/admin/users;x=1",
        "/%2e/admin",
        "/admin/%2E%2E/admin",
        "/ADMIN%2fusers",
        "/%41%44%4d%49%4e",
        "/adm%69n/users",
        "/adm%49n/users",
        "/admin?x=/about",
        "/files/a%2f..%2f..%2fetc",
        "/api/v1/users/7/%73ettings",
        "/api//v1/users/7/settings",
        "/api/v1/users/7/./settings",
    ];
    for path in cases {
        check(path, &[]).unwrap();
    }
}

#[test]
fn the_oracle_sees_protected_routes() {
    // The property is only worth something if the bare router does serve these.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        for (path, want) in [
            ("/admin", "protected:literal"),
            ("/admin/users", "protected:param"),
            ("/admin//users", "protected:wildcard"),
            ("/files/a/b", "protected:files"),
            ("/api/v1/users/7/settings", "protected:nested"),
        ] {
            let (_, body) = body_of(router(), request(path, &[]).unwrap()).await;
            assert_eq!(body, want, "{path}");
        }
    });
}

/// Sends the request target exactly as written (no client normalizes it) and returns the
/// status code and body.
async fn raw_get(addr: std::net::SocketAddr, target: &str, headers: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Over real sockets: what the bare server routes to a protected handler, the guarded
/// server denies, whatever the spelling and whatever Next.js-internal headers come along.
#[tokio::test]
async fn over_a_real_server_protected_spellings_are_denied() {
    let bare = serve(router()).await;
    let guarded = serve(
        ProxyLayer::new(deny)
            .with_matcher(matcher())
            .layer(router()),
    )
    .await;
    let spellings = [
        "/admin",
        "/admin/",
        "//admin",
        "/admin//users",
        "/admin/./users",
        "/admin/users/",
        "/%61dmin",
        "/%61DMIN",
        "/adm%69n/users",
        "/adm%6En/users",
        "/admin%2Fusers",
        "/admin%2fusers",
        "/admin;x=1",
        "/admin/users;jsessionid=1",
        "/admin/users?x=1",
        "/admin/a/b/c",
        "/admin/a//b",
        "/files/a",
        "/files//etc/passwd",
        "/files/%2e%2e/x",
        "/api/v1/users/7/settings",
        "/api/v1/users/7//settings",
        "/api/v1//users/7/settings",
        "/api/v1/users/7/settings/",
        "/api/v1/users/7/%73ettings",
        "/api/v1/users/%37/settings",
        "/x/../admin",
        "/%2e/admin",
        "/./admin",
    ];
    let headers = [
        "",
        "x-middleware-subrequest: middleware:middleware:middleware:middleware:middleware\r\n",
        "x-middleware-subrequest: src/middleware:src/middleware:src/middleware:src/middleware:src/middleware\r\n",
        "x-invoke-path: /about\r\nx-matched-path: /about\r\nx-nextjs-data: 1\r\n",
        "x-original-url: /about\r\nx-rewrite-url: /about\r\nx-forwarded-prefix: /about\r\n",
    ];
    let mut protected_seen = 0;
    for target in spellings {
        for extra in headers {
            let (_, bare_body) = raw_get(bare, target, extra).await;
            if !bare_body.starts_with("protected:") {
                continue;
            }
            protected_seen += 1;
            let (status, body) = raw_get(guarded, target, extra).await;
            assert!(
                status == 403 || status == 400,
                "{target} with {extra:?} reached {bare_body} past the proxy: {status} {body}"
            );
            assert!(!body.starts_with("protected:"), "{target}: {body}");
        }
    }
    // The oracle must have had something to check.
    assert!(
        protected_seen >= 10 * headers.len(),
        "only {protected_seen} protected requests"
    );
}
