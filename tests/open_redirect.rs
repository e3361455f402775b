//! Open redirects: a redirect built from request data never sends the browser to another
//! origin unless the code asked for an absolute URL on purpose.
//!
//! The oracle is the WHATWG URL parser (the `url` crate implements it, as browsers do): a
//! `Location` is resolved against the request's URL the way a browser resolves it
//! (RFC 9110 §10.2.2), backslashes and dropped tabs included, and its origin compared.

mod common;

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::*;
use http::StatusCode;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use proptest::prelude::*;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};
use url::Url;

/// What request data looks like when someone crafts it to leave the site.
const EVIL: &[&str] = &[
    "//evil.example",
    "//evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "/%2F%2Fevil.example",
    "/%2f%2fevil.example",
    "/%5Cevil.example",
    "/.//evil.example",
    "///evil.example",
    "/\\/evil.example",
    "//evil.example@good.example",
    "/\u{3000}/evil.example",
    "/a/..//evil.example",
    "/%2e//evil.example",
    "/%2E%2E//evil.example",
];

/// Proxy functions that build redirects from request data, the two ways code does it.
async fn proxy(req: ProxyRequest) -> ProxyResponse {
    match req.path() {
        // The documented safe way: only a local path, else the fallback.
        "/login" => ProxyResponse::redirect_to_local(req.query("from").as_deref(), "/dashboard"),
        // A plain redirect to a path taken from the query: leading slashes and backslashes
        // are folded, so it stays a path (it would follow an absolute URL, though).
        "/go" => ProxyResponse::redirect(req.query("to").unwrap_or_default()),
        // Absolute on purpose: an identity provider.
        "/sso" => ProxyResponse::redirect("https://accounts.example/authorize?client=1"),
        // A trailing-slash normalizer that redirects to the request's own path.
        path if path.len() > 1 && path.ends_with('/') => {
            ProxyResponse::permanent_redirect(path.trim_end_matches('/'))
        }
        _ => ProxyResponse::next(),
    }
}

fn router() -> Router {
    Router::new().fallback(get(|| async { "page" }))
}

async fn serve() -> SocketAddr {
    common::serve(ProxyLayer::new(proxy).layer(router())).await
}

/// `path?name=value` with the value percent-encoded as a form would send it.
fn with_query(path: &str, name: &str, value: &str) -> String {
    let mut url = Url::parse("http://localhost").unwrap();
    url.set_path(path);
    url.query_pairs_mut().append_pair(name, value);
    format!("{}?{}", url.path(), url.query().unwrap())
}

async fn redirect_location(addr: SocketAddr, path_and_query: &str) -> (StatusCode, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = http::Request::get(format!("http://{addr}{path_and_query}"))
        .body(Empty::new())
        .unwrap();
    let response = client.request(request).await.expect("request");
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("visible ASCII Location").to_owned())
        .unwrap_or_default();
    let _ = response.into_body().collect().await;
    (status, location)
}

/// Where a browser on `page` goes with this `Location`.
fn followed(page: &Url, location: &str) -> Url {
    page.join(location)
        .unwrap_or_else(|e| panic!("Location {location:?} does not resolve: {e}"))
}

/// `GET path` on `addr` answers a permanent redirect whose `Location`, followed from `page`,
/// stays on `page`'s origin; `case` names the case in a failure.
async fn assert_permanent_redirect_on_origin(addr: SocketAddr, page: &Url, path: &str, case: &str) {
    let (status, location) = redirect_location(addr, path).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT, "{case}");
    let target = followed(page, &location);
    assert_eq!(
        target.origin(),
        page.origin(),
        "{case} gave Location {location:?}"
    );
}

#[tokio::test]
async fn return_to_accepts_local_paths_only() {
    let addr = serve().await;
    let page = Url::parse(&format!("http://{addr}/login")).unwrap();
    for evil in EVIL.iter().copied().chain([
        "https://evil.example",
        "HTTPS://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "",
    ]) {
        let (status, location) = redirect_location(addr, &with_query("/login", "from", evil)).await;
        assert_eq!(status, StatusCode::TEMPORARY_REDIRECT, "{evil:?}");
        assert_eq!(location, "/dashboard", "from={evil:?}");
    }
    // Also the raw spellings in the query, as an attacker would link them.
    for raw in [
        "/login?from=//evil.example",
        "/login?from=%2F%2Fevil.example",
        "/login?from=/%5Cevil.example",
        "/login?from=%5C%5Cevil.example",
        "/login?from=%09//evil.example",
        "/login?from=https:%2F%2Fevil.example",
    ] {
        let (_, location) = redirect_location(addr, raw).await;
        assert_eq!(location, "/dashboard", "{raw}");
        assert_eq!(followed(&page, &location).origin(), page.origin(), "{raw}");
    }
    for good in [
        "/settings",
        "/settings?tab=2&x=%2F",
        "/a/b/",
        "/caf%C3%A9#top",
    ] {
        let (_, location) = redirect_location(addr, &with_query("/login", "from", good)).await;
        assert_eq!(location, good);
    }
    // No `from` at all: the fallback.
    let (_, location) = redirect_location(addr, "/login").await;
    assert_eq!(location, "/dashboard");
}

#[tokio::test]
async fn a_plain_redirect_to_a_path_from_request_data_stays_on_the_origin() {
    let addr = serve().await;
    let page = Url::parse(&format!("http://{addr}/go")).unwrap();
    for evil in EVIL {
        let (status, location) = redirect_location(addr, &with_query("/go", "to", evil)).await;
        assert_eq!(status, StatusCode::TEMPORARY_REDIRECT, "{evil:?}");
        assert!(
            !location.starts_with("//") && !location.starts_with("/\\"),
            "{evil:?} gave Location {location:?}"
        );
        let target = followed(&page, &location);
        assert_eq!(
            target.origin(),
            page.origin(),
            "{evil:?} gave Location {location:?}"
        );
    }
}

#[tokio::test]
async fn a_trailing_slash_redirect_of_a_crafted_path_stays_on_the_origin() {
    let addr = serve().await;
    for path in [
        "//evil.example/",
        "///evil.example//",
        "/%2F%2Fevil.example/",
        "//evil.example/x/",
    ] {
        let page = Url::parse(&format!("http://{addr}{path}")).unwrap();
        assert_permanent_redirect_on_origin(addr, &page, path, path).await;
    }
}

#[tokio::test]
async fn an_absolute_url_asked_for_on_purpose_is_sent_as_written() {
    let addr = serve().await;
    let (status, location) = redirect_location(addr, "/sso").await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location, "https://accounts.example/authorize?client=1");
}

/// Pieces that URL parsers treat specially at the start of a reference.
fn crafted() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/"),
        Just("\\"),
        Just("%2F"),
        Just("%2f"),
        Just("%5C"),
        Just("."),
        Just(".."),
        Just("\t"),
        Just("\n"),
        Just("\r"),
        Just(" "),
        Just("\u{0}"),
        Just("\u{1f}"),
        Just("@"),
        Just(":"),
        Just("?"),
        Just("#"),
        Just("evil.example"),
        Just("http:"),
        Just("x"),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever the request data, `redirect_to_local` lands on the origin, and so does a
    /// plain `redirect` of anything that is not an absolute URL (`scheme://...`).
    #[test]
    fn no_crafted_value_leaves_the_origin(value in crafted()) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let app = ProxyLayer::new(proxy).layer(router());
            let page = Url::parse("http://app.example/login").unwrap();
            for (path, name) in [("/login", "from"), ("/go", "to")] {
                if path == "/go" && value.contains("://") {
                    continue; // an absolute URL is taken as written, by design
                }
                let request = http::Request::get(with_query(path, name, &value))
                    .header("host", "app.example")
                    .body(axum::body::Body::empty())
                    .unwrap();
                let response = send(&app, request).await;
                if !response.status().is_redirection() {
                    // A destination that does not parse is refused with a 500, not sent.
                    prop_assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
                    continue;
                }
                let location = location(&response);
                let target = followed(&page, &location);
                prop_assert_eq!(
                    target.origin(),
                    page.origin(),
                    "{}={:?} gave Location {:?}",
                    name,
                    value,
                    location
                );
            }
            Ok(())
        })?;
    }
}

/// The next.config trailing-slash redirects build their `Location` from the request path,
/// so they go through the same check as the proxy's redirects: `/\evil.example/` must not
/// become `Location: /\evil.example`, which a browser reads as `//evil.example`.
#[tokio::test]
async fn a_rules_trailing_slash_redirect_of_a_crafted_path_stays_on_the_origin() {
    use tower_proxy_fn::rules::{Rules, TrailingSlash};

    async fn next(_: ProxyRequest) -> ProxyResponse {
        ProxyResponse::next()
    }
    for (policy, paths) in [
        (
            TrailingSlash::Remove,
            &[
                "/\\evil.example/",
                "/\\\\evil.example/x/",
                "/\\/evil.example/",
            ][..],
        ),
        (
            TrailingSlash::Add,
            &["/\\evil%2Ecom", "/\\\\evil.example/x", "/\\/evil%2Eexample"][..],
        ),
    ] {
        let app = ProxyLayer::new(next)
            .with_rules(Rules::new().trailing_slash(policy))
            .layer(router());
        let addr = common::serve(app).await;
        for path in paths {
            let page = Url::parse(&format!("http://{addr}/")).unwrap();
            let case = format!("{policy:?} {path}");
            assert_permanent_redirect_on_origin(addr, &page, path, &case).await;
        }
    }
}
