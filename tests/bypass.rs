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
use tower::util::BoxCloneService;
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

// ---------------------------------------------------------------------------------------
// Issue 18's bypass classes: look-around patterns on long paths, Host spellings,
// dot-segment rewrites and locale case. Each property generates the spellings; none of the
// expected answers comes from the crate: the oracle is the bare router (which handler a path
// reaches) or a counter in the proxy function.
// ---------------------------------------------------------------------------------------

/// The protected answer of [`admin_router`]'s handlers.
const ADMIN_SECRET: &str = "protected:admin";

/// `/admin` and everything under it protected; `/public/...` and `/` not.
fn admin_router() -> Router {
    Router::new()
        .route("/admin", get(|| async { ADMIN_SECRET }))
        .route("/admin/{*rest}", get(|| async { ADMIN_SECRET }))
        .route("/public/{*rest}", get(|| async { "public:page" }))
        .route("/", get(|| async { "public:home" }))
}

/// A function written the Next.js way: the decision reads `request.nextUrl.pathname`.
async fn deny_admin(req: ProxyRequest) -> ProxyResponse {
    if req.url().path().starts_with("/admin") {
        ProxyResponse::respond((StatusCode::FORBIDDEN, "denied by proxy"))
    } else {
        ProxyResponse::next()
    }
}

/// Clerk's widely copied matcher: a look-ahead inside a negative look-ahead (`js(?!on)`), so
/// only fancy-regex (with its backtracking limit) runs it.
fn clerk_matcher() -> Matcher {
    Matcher::new([
        r"/((?!_next|[^?]*\.(?:html?|css|js(?!on)|jpe?g|webp|png|gif|svg|ttf|woff2?|ico|csv|docx?|xlsx?|zip|webmanifest)).*)",
        "/(api|trpc)(.*)",
    ])
    .unwrap()
}

/// Runs `future` on a fresh single-threaded runtime.
fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Whether Clerk's first pattern means to leave `path` alone, read from the pattern's text
/// rather than run: the path (before any `?`) starts with `/_next`, or has a `.` followed by
/// one of the listed extensions (`js` only when not followed by `on`). The second pattern
/// (`/(api|trpc)(.*)`) does not apply to `/admin/...`. Read without regard to case (as
/// Next.js compiles sources, `sensitive: false`): where the crate differs, the property
/// checks less rather than fails.
fn clerk_means_to_skip(path: &str) -> bool {
    const EXTENSIONS: [&str; 16] = [
        "htm",
        "css",
        "jpg",
        "jpeg",
        "webp",
        "png",
        "gif",
        "svg",
        "ttf",
        "woff",
        "ico",
        "csv",
        "doc",
        "xls",
        "zip",
        "webmanifest",
    ];
    let path = path
        .split('?')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if path.starts_with("/_next") {
        return true;
    }
    path.match_indices('.').any(|(i, _)| {
        let after = &path[i + 1..];
        EXTENSIONS.iter().any(|ext| after.starts_with(ext))
            || (after.starts_with("js") && !after[2..].starts_with("on"))
    })
}

/// `/admin/` followed by a fragment repeated up to a length around `MAX_PATH_LEN` (most near
/// the limit, where fancy-regex runs out of backtracking), then a suffix.
fn long_admin_path() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        4 => Just(".".to_owned()),
        1 => Just("..".to_owned()),
        1 => Just(".js".to_owned()),
        1 => Just(".json".to_owned()),
        1 => Just("a.".to_owned()),
        1 => Just("-_~".to_owned()),
        1 => Just(".jsonx".to_owned()),
        2 => "[a-z.]{1,5}",
        1 => "[a-zA-Z0-9._~-]{1,8}",
    ];
    let limit = tower_proxy_fn::matcher::MAX_PATH_LEN;
    let length = prop_oneof![
        2 => 1_000..limit,
        2 => limit - 64..limit + 64,
    ];
    let suffix = prop_oneof![
        Just(""),
        Just(".js"),
        Just(".json"),
        Just(".html"),
        Just("/x"),
        Just("?q=1"),
    ];
    (fragment, length, suffix).prop_map(|(fragment, length, suffix)| {
        let mut path = "/admin/".to_owned();
        while path.len() < length {
            path.push_str(&fragment);
        }
        path.truncate(length);
        path.push_str(suffix);
        path
    })
}

/// A `Host` value from an alphabet of URL delimiters, authority syntax and plain letters.
fn host_value() -> impl Strategy<Value = String> {
    prop_oneof![
        // anything from the alphabet
        r"[a-z0-9.:#?/@\[\]% ,;=_~\\-]{0,16}",
        // a plausible host with one delimiter and a tail
        (
            "[a-z]{1,8}(\\.[a-z]{2,4})?",
            prop_oneof![
                Just("#"),
                Just("?"),
                Just("/"),
                Just("@"),
                Just(":"),
                Just("%23"),
                Just(" "),
                Just("\\")
            ],
            "[a-z0-9/?#=&.:]{0,10}"
        )
            .prop_map(|(host, delimiter, tail)| format!("{host}{delimiter}{tail}")),
        // plausible authorities, so that the allowed case is covered too
        "[a-z]{1,8}\\.[a-z]{2,4}(:[0-9]{1,5})?",
        "\\[[0-9a-f:]{2,12}\\](:[0-9]{1,5})?",
    ]
}

/// `/admin` and spellings of it that `admin_router` may route to a protected handler.
fn admin_spelling() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/admin".to_owned()),
        Just("/admin/".to_owned()),
        "/admin/[a-z]{1,6}(/[a-z]{1,6})?",
        Just("/admin//x".to_owned()),
        Just("/admin/./x".to_owned()),
        Just("/admin/%2e%2e/public/x".to_owned()),
        Just("/admin/.%2E/public/x".to_owned()),
        Just("/x/../admin".to_owned()),
        Just("/admin;x=1".to_owned()),
        "/admin\\?[a-z]=[a-z/#]{0,6}",
    ]
}

/// Checks one `Host` against the Next.js-style function (no matcher): when the bare router
/// serves `path`'s protected handler, the guarded app answers 400 or 403.
fn check_host(path: &str, hosts: &[String]) -> Result<(), TestCaseError> {
    block_on(async {
        let headers: Vec<(String, String)> = hosts
            .iter()
            .map(|h| ("host".to_owned(), h.clone()))
            .collect();
        let Some(bare_request) = request(path, &headers) else {
            return Ok(()); // a value `http` refuses: no server would see it
        };
        let (_, bare_body) = body_of(admin_router(), bare_request).await;
        if bare_body != ADMIN_SECRET {
            return Ok(());
        }
        let guarded = ProxyLayer::new(deny_admin).layer(admin_router());
        let (status, body) = body_of(guarded, request(path, &headers).unwrap()).await;
        prop_assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST,
            "{path} with Host {hosts:?} got past the proxy: {status} {body}"
        );
        prop_assert_ne!(body, ADMIN_SECRET);
        Ok(())
    })
}

fn dot_dot() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just(".."),
        Just("%2e%2e"),
        Just("%2E%2E"),
        Just(".%2e"),
        Just("%2e."),
        Just("%2E."),
    ]
}

fn dot() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("."), Just("%2e"), Just("%2E")]
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        3 => Just("/"),
        1 => Just("%2f"),
        1 => Just("%2F"),
        1 => Just("%5c"),
        1 => Just("%5C"),
        1 => Just("\\"),
    ]
}

/// Paths under `/docs/` made of dot segments, names and separators in their spellings: half
/// of them aimed at `/admin` (parent segments, then `admin`), half free-form.
fn docs_path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        3 => dot_dot(),
        1 => dot(),
        2 => prop_oneof![Just("admin"), Just("public"), Just("x"), Just("")],
    ];
    let free = prop::collection::vec((segment, separator()), 1..6).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(segment, separator)| format!("{segment}{separator}"))
            .collect::<String>()
    });
    let aimed = (
        prop::collection::vec(prop_oneof![Just("x"), dot()], 0..2),
        prop::collection::vec(dot_dot(), 1..4),
        separator(),
    )
        .prop_map(|(before, ups, separator)| {
            let mut rest = String::new();
            for segment in before.into_iter().chain(ups) {
                rest.push_str(segment);
                rest.push_str(separator);
            }
            rest.push_str("admin");
            rest
        });
    let tail = prop_oneof![Just(""), Just("/"), Just("?a=1")];
    (prop_oneof![free, aimed], tail).prop_map(|(rest, tail)| format!("/docs/{rest}{tail}"))
}

/// `/docs/{rest}` served from `/public/{rest}`, `rest` taken from the path as sent.
async fn docs_from_path(req: ProxyRequest) -> ProxyResponse {
    let rest = req.path().strip_prefix("/docs/").unwrap_or_default();
    ProxyResponse::rewrite(format!("/public/{rest}"))
}

/// The same from the matcher's decoded `rest` parameter.
async fn docs_from_param(req: ProxyRequest) -> ProxyResponse {
    let rest = req.param("rest").unwrap_or_default().to_owned();
    ProxyResponse::rewrite(format!("/public/{rest}"))
}

/// The app guarded by one of the two rewriting functions (boxed, so both have one type).
fn docs_app(from_param: bool) -> BoxCloneService<Request, axum::response::Response, Infallible> {
    let matcher = Matcher::new(["/docs/:rest*"]).unwrap();
    if from_param {
        BoxCloneService::new(
            ProxyLayer::new(docs_from_param)
                .with_matcher(matcher)
                .layer(admin_router()),
        )
    } else {
        BoxCloneService::new(
            ProxyLayer::new(docs_from_path)
                .with_matcher(matcher)
                .layer(admin_router()),
        )
    }
}

/// Checks one `/docs/...` spelling: the rewrite never lands on `/admin`'s handler; it is
/// refused (400), or served from `/public`, or not found.
fn check_docs(path: &str, from_param: bool) -> Result<(), TestCaseError> {
    block_on(async {
        let Some(request) = request(path, &[]) else {
            return Ok(()); // `http` refuses the target (e.g. a raw `\`)
        };
        let (status, body) = body_of(docs_app(from_param), request).await;
        prop_assert_ne!(&body, ADMIN_SECRET, "{} reached /admin", path);
        prop_assert!(
            status == StatusCode::BAD_REQUEST
                || (status == StatusCode::OK && body == "public:page")
                || status == StatusCode::NOT_FOUND,
            "{path}: {status} {body}"
        );
        Ok(())
    })
}

/// The locales of the i18n property.
const LOCALES: [&str; 4] = ["en", "fr", "ja", "pt-BR"];

/// A locale in a random case spelling.
fn locale_spelling() -> impl Strategy<Value = String> {
    (0..LOCALES.len(), prop::collection::vec(any::<bool>(), 5)).prop_map(|(i, upper)| {
        LOCALES[i]
            .chars()
            .zip(upper)
            .map(|(c, up)| {
                if up {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    })
}

/// How many times the proxy ran for `path` behind i18n rules and the matcher
/// `/dashboard/:path*`, in front of a router whose `/{locale}/dashboard` is not protected,
/// and the body that came back.
fn locale_runs(path: &str) -> (usize, String) {
    use tower_proxy_fn::rules::{Locales, Rules};
    block_on(async {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        let router = Router::new()
            .route("/dashboard", get(|| async { "protected:dashboard" }))
            .route("/{locale}/dashboard", get(|| async { "public:localized" }))
            .route(
                "/{locale}/dashboard/{*rest}",
                get(|| async { "public:localized" }),
            );
        let app = ProxyLayer::new(move |_req: ProxyRequest| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { ProxyResponse::next() }
        })
        .with_matcher(Matcher::new(["/dashboard/:path*"]).unwrap())
        .with_rules(Rules::new().i18n(Locales::new(LOCALES, "en")))
        .layer(router);
        let request = http::Request::get(path).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            runs.load(Ordering::SeqCst),
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    })
}

proptest! {
    // A long path through fancy-regex costs milliseconds even in release: few cases.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Issue 18 (1): a look-around matcher on a long path (at fancy-regex's backtracking
    /// limit, or over `MAX_PATH_LEN`) never lets the request skip a denying proxy.
    #[test]
    fn a_long_path_under_a_look_around_matcher_never_reaches_the_protected_handler(
        path in long_admin_path(),
    ) {
        block_on(async {
            let (_, bare_body) = body_of(admin_router(), request(&path, &[]).unwrap()).await;
            prop_assert_eq!(&bare_body, ADMIN_SECRET, "the oracle does not protect it");
            if clerk_means_to_skip(&path) {
                return Ok(()); // a static file by the pattern's own definition
            }
            let guarded = ProxyLayer::new(deny)
                .with_matcher(clerk_matcher())
                .layer(admin_router());
            let (status, body) = body_of(guarded, request(&path, &[]).unwrap()).await;
            prop_assert_ne!(&body, ADMIN_SECRET, "{} bytes reached the handler", path.len());
            prop_assert!(
                status == StatusCode::FORBIDDEN
                    || status == StatusCode::URI_TOO_LONG
                    || status == StatusCode::BAD_REQUEST,
                "{} bytes: {} {}", path.len(), status, body
            );
            Ok(())
        })?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Issue 18 (2): whatever the `Host` (one or two of them), a function that reads
    /// `req.url().path()` sees the path the router routes.
    #[test]
    fn no_host_spelling_hides_a_protected_path_from_the_function(
        path in admin_spelling(),
        hosts in prop::collection::vec(host_value(), 0..3),
    ) {
        check_host(&path, &hosts)?;
    }

    /// Issue 18 (3): a rewrite of `/docs/{rest}` to `/public/{rest}` never lands on
    /// `/admin`, whatever the spelling of dot segments and separators in `rest`.
    #[test]
    fn no_dot_segment_spelling_rewrites_into_a_protected_route(
        path in docs_path(),
        from_param in any::<bool>(),
    ) {
        check_docs(&path, from_param)?;
    }

    /// Issue 18 (5): under i18n, the proxy runs for every case spelling of a locale prefix
    /// in front of `/dashboard` (which the router serves from an unprotected
    /// `/{locale}/dashboard`), and for the unprefixed protected path.
    #[test]
    fn the_proxy_runs_for_every_case_of_a_locale_prefix(
        locale in locale_spelling(),
        tail in prop_oneof![Just(String::new()), Just("/".to_owned()), "/[a-z]{1,6}"],
    ) {
        for path in [format!("/{locale}/dashboard{tail}"), format!("/dashboard{tail}")] {
            let (runs, body) = locale_runs(&path);
            prop_assert_eq!(runs, 1, "{} ran the proxy {} times ({})", path, runs, body);
        }
    }
}

/// The generated `/docs` spellings do include the ones a resolving rewrite turns into
/// `/admin`, and the router would serve those: the property has something to find.
#[test]
fn the_dot_segment_oracle_has_something_to_find() {
    block_on(async {
        for resolved in ["/public/../admin", "/admin"] {
            let url = url::Url::parse(&format!("http://h{resolved}")).unwrap();
            let (_, body) = body_of(admin_router(), request(url.path(), &[]).unwrap()).await;
            assert_eq!(body, ADMIN_SECRET, "{resolved}");
        }
        // And the same without dot segments is rewritten and served.
        for from_param in [false, true] {
            let request = request("/docs/guide", &[]).unwrap();
            let (status, body) = body_of(docs_app(from_param), request).await;
            assert_eq!((status, body.as_str()), (StatusCode::OK, "public:page"));
        }
    });
}

/// Runs `cases` generated cases of `strategy` through `check` with a fixed seed-free runner
/// (proptest's default), for the properties that need a server per run.
fn run_cases<S: Strategy>(
    cases: u32,
    strategy: S,
    check: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    if let Err(failure) = runner.run(&strategy, check) {
        panic!("{failure}");
    }
}

/// A whole HTTP/1.1 GET as a client could write it, with these `Host` lines.
fn raw_request(path: &str, hosts: &[String]) -> String {
    let mut text = format!("GET {path} HTTP/1.1\r\n");
    for host in hosts {
        text.push_str(&format!("Host: {host}\r\n"));
    }
    text.push_str("Connection: close\r\n\r\n");
    text
}

fn raw_body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// Host spellings and dot-segment rewrites over real sockets (`axum::serve`, a raw client
/// that sends the target and `Host` as written), with the unprotected routes present.
#[test]
fn over_a_real_server_host_spellings_and_dot_segment_rewrites_stay_denied() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (bare, guarded, by_path, by_param) = runtime.block_on(async {
        (
            serve(admin_router()).await,
            serve(ProxyLayer::new(deny_admin).layer(admin_router())).await,
            serve(docs_app(false)).await,
            serve(docs_app(true)).await,
        )
    });
    let exchange = |addr, text: String| {
        runtime.block_on(async {
            tokio::time::timeout(
                std::time::Duration::from_secs(15),
                common::raw_exchange(addr, &text),
            )
            .await
            .expect("the server answers within 15 s")
        })
    };
    let seen = AtomicUsize::new(0);
    // Printable hosts only: a raw request line carries them as written.
    let hosts = prop::collection::vec(host_value(), 1..3);
    run_cases(32, (admin_spelling(), hosts), |(path, hosts)| {
        let text = raw_request(&path, &hosts);
        let answer = exchange(bare, text.clone());
        if raw_body(&answer) != ADMIN_SECRET {
            return Ok(()); // the server refused it, or it is not a protected path
        }
        seen.fetch_add(1, Ordering::SeqCst);
        let answer = exchange(guarded, text);
        let status = common::raw_status(&answer);
        prop_assert_ne!(raw_body(&answer), ADMIN_SECRET, "{} with {:?}", path, hosts);
        prop_assert!(status == 400 || status == 403, "{path} {hosts:?}: {answer}");
        Ok(())
    });
    assert!(
        seen.load(Ordering::SeqCst) >= 8,
        "only {} of 32 generated Host cases reached the bare router's protected handler",
        seen.load(Ordering::SeqCst)
    );
    run_cases(32, (docs_path(), any::<bool>()), |(path, from_param)| {
        let addr = if from_param { by_param } else { by_path };
        let answer = exchange(addr, raw_request(&path, &["app.example".to_owned()]));
        let status = common::raw_status(&answer);
        let body = raw_body(&answer);
        prop_assert_ne!(body, ADMIN_SECRET, "{} reached /admin", path);
        prop_assert!(
            status == 400 || status == 404 || (status == 200 && body == "public:page"),
            "{path}: {answer}"
        );
        Ok(())
    });
}

/// The hand-written reading of Clerk's pattern agrees with its intent on paths chosen by
/// hand, so that the look-around property skips only static files.
#[test]
fn the_clerk_oracle_reads_the_pattern_as_written() {
    for (path, skip) in [
        ("/admin/....", false),
        ("/admin/a.json", false),
        ("/admin/app.js", true),
        ("/admin/app.jsx", true),
        ("/admin/x.HTML", true),
        ("/admin/page.html", true),
        ("/admin/a.jpeg/x", true),
        ("/_next/static/x", true),
        ("/admin?x=a.js", false),
        ("/admin/.jsonx", false),
    ] {
        assert_eq!(clerk_means_to_skip(path), skip, "{path}");
    }
}
