//! Bypass resistance: no spelling of a path, and no header, lets a request reach a protected
//! handler without the proxy deciding on it.
//!
//! The oracle is axum itself: a path counts as protected when the bare router sends it to a
//! protected handler. Behind the layer, every such path must be stopped by the proxy.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::Request;
use axum::routing::get;
use axum::Router;
use http::StatusCode;
use http_body_util::BodyExt;
use proptest::prelude::*;
use tower::{Layer, ServiceExt};
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
    let edits = prop::collection::vec((0usize..8, any::<u8>(), any::<bool>()), 0..4);
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
        headers in prop::collection::vec(
            (
                prop_oneof![
                    Just("x-middleware-subrequest".to_owned()),
                    Just("x-middleware-prefetch".to_owned()),
                    Just("x-nextjs-data".to_owned()),
                    Just("x-invoke-path".to_owned()),
                    Just("x-forwarded-host".to_owned()),
                    Just("x-original-url".to_owned()),
                    Just("x-rewrite-url".to_owned()),
                    Just("purpose".to_owned()),
                    Just("next-router-prefetch".to_owned()),
                    "x-[a-z-]{1,12}",
                ],
                prop_oneof![
                    Just("middleware:middleware:middleware:middleware:middleware".to_owned()),
                    Just("src/middleware:src/middleware:src/middleware:src/middleware:src/middleware".to_owned()),
                    Just("/about".to_owned()),
                    Just("1".to_owned()),
                    Just("prefetch".to_owned()),
                    "[ -~]{0,20}",
                ],
            ),
            0..4,
        ),
    ) {
        check(&path, &headers)?;
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
