//! Redirects through the layer: the status, and a `Location` that stays on the origin for a
//! path (Next.js's `NextResponse.redirect`). Open redirects from request data are
//! `tests/open_redirect.rs`.

mod common;

use axum::body::Body;
use common::*;
use http::{header, Request, StatusCode};
use tower_proxy_fn::{ProxyRequest, ProxyResponse, RedirectStatus};
use url::Url;

fn request_with_host(uri: &str, host: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::HOST, host)
        .body(Body::empty())
        .unwrap()
}

/// Where a browser goes with this `Location`, for a request to `base`.
fn followed(base: &str, location: &str) -> Url {
    Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap_or_else(|e| panic!("Location {location:?} does not resolve: {e}"))
}

#[tokio::test]
async fn redirect_defaults_to_307() {
    let app = wrap(|_req: ProxyRequest| async { ProxyResponse::redirect("/redirected") });
    let response = send(&app, get_req("/about")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&response), "/redirected");
}

#[tokio::test]
async fn permanent_redirect_is_308() {
    let app = wrap(|_req: ProxyRequest| async { ProxyResponse::permanent_redirect("/new") });
    let response = send(&app, get_req("/old")).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&response), "/new");
}

#[tokio::test]
async fn redirect_with_each_redirect_status() {
    for code in [301u16, 302, 303, 307, 308] {
        let status = RedirectStatus::try_from(code).unwrap();
        let app = wrap(move |_req: ProxyRequest| async move {
            ProxyResponse::redirect_with_status("/target", status)
        });
        let response = send(&app, get_req("/from")).await;
        assert_eq!(response.status().as_u16(), code, "status {code}");
        assert_eq!(location(&response), "/target", "status {code}");
    }
}

/// A status that is not a redirect cannot reach a response: `redirect_with_status` takes a
/// `RedirectStatus` (a `StatusCode` does not compile there, a doc test on it checks), and
/// converting one is where it is refused, with the reason.
#[test]
fn a_non_redirect_status_is_refused_where_it_is_converted() {
    for code in [200u16, 404, 201, 500, 300, 304] {
        let status = StatusCode::from_u16(code).unwrap();
        let refused = RedirectStatus::try_from(status).expect_err("not a redirect status");
        assert_eq!(refused.code(), code);
        assert_eq!(
            refused.to_string(),
            format!("redirect status {code} is not one of 301, 302, 303, 307, 308")
        );
    }
}

#[tokio::test]
async fn same_origin_redirect_location_is_relative() {
    let app = wrap(|req: ProxyRequest| async move {
        match req.path() {
            "/by-url" => ProxyResponse::redirect(req.url_for("/redirected")),
            "/by-absolute" => ProxyResponse::redirect("http://localhost:3000/redirected?a=1"),
            _ => ProxyResponse::redirect("/redirected"),
        }
    });
    let response = send(&app, request_with_host("/by-url", "localhost:3000")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&response), "/redirected");

    let response = send(&app, request_with_host("/by-absolute", "localhost:3000")).await;
    assert_eq!(location(&response), "/redirected?a=1");

    let response = send(&app, request_with_host("/by-path", "localhost:3000")).await;
    assert_eq!(location(&response), "/redirected");
}

#[tokio::test]
async fn other_origin_redirect_location_is_absolute() {
    let app = wrap(|req: ProxyRequest| async move {
        match req.path() {
            "/other-host" => ProxyResponse::redirect("https://example.com/x"),
            "/other-port" => ProxyResponse::redirect("http://localhost:4000/x"),
            "/other-scheme" => ProxyResponse::redirect("https://localhost:3000/x"),
            _ => ProxyResponse::next(),
        }
    });
    for (path, want) in [
        ("/other-host", "https://example.com/x"),
        ("/other-port", "http://localhost:4000/x"),
        ("/other-scheme", "https://localhost:3000/x"),
    ] {
        let response = send(&app, request_with_host(path, "localhost:3000")).await;
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT, "{path}");
        assert_eq!(location(&response), want, "{path}");
    }
}

#[tokio::test]
async fn redirect_keeps_the_fragment() {
    let app = wrap(|req: ProxyRequest| async move {
        match req.path() {
            "/abs" => ProxyResponse::redirect("https://example.com/docs#install"),
            _ => ProxyResponse::redirect("/login?from=%2Fdashboard#top"),
        }
    });
    let response = send(&app, get_req("/rel")).await;
    assert_eq!(location(&response), "/login?from=%2Fdashboard#top");
    let response = send(&app, get_req("/abs")).await;
    assert_eq!(location(&response), "https://example.com/docs#install");
}

#[tokio::test]
async fn redirect_carries_response_headers_and_cookies() {
    let app = wrap(|_req: ProxyRequest| async {
        ProxyResponse::redirect("/login")
            .header("x-proxy", "was-here")
            .set_cookie("flash", "please-log-in")
    });
    let response = send(&app, get_req("/dashboard")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&response), "/login");
    assert_eq!(header_values(&response, "x-proxy"), ["was-here"]);
    assert_eq!(set_cookies(&response), ["flash=please-log-in; Path=/"]);
}

#[tokio::test]
async fn redirect_to_scheme_relative_or_backslash_paths_stays_on_origin() {
    let app = wrap(|req: ProxyRequest| async move {
        match req.path() {
            "/double-slash" => ProxyResponse::redirect("//evil.example"),
            "/backslash" => ProxyResponse::redirect("/\\evil.example"),
            "/mixed" => ProxyResponse::redirect("\\\\//evil.example/x"),
            _ => ProxyResponse::next(),
        }
    });
    for (path, want) in [
        ("/double-slash", "/evil.example"),
        ("/backslash", "/evil.example"),
        ("/mixed", "/evil.example/x"),
    ] {
        let response = send(&app, request_with_host(path, "localhost:3000")).await;
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT, "{path}");
        let loc = location(&response);
        assert_eq!(loc, want, "{path}");
        assert_eq!(
            followed("http://localhost:3000/", &loc).host_str(),
            Some("localhost"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn redirect_with_a_from_query_value_stays_on_origin() {
    // The docs' login pattern: the original path (attacker-controlled) goes in `from`.
    let app = wrap(|req: ProxyRequest| async move {
        let mut login = req.url_for("/login");
        let from = req.query("next").unwrap_or_else(|| req.path().to_owned());
        login.query_pairs_mut().append_pair("from", &from);
        ProxyResponse::redirect(login)
    });
    let response = send(
        &app,
        request_with_host("/dashboard?next=//evil.example", "localhost:3000"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    let loc = location(&response);
    assert_eq!(loc, "/login?from=%2F%2Fevil.example");
    let target = followed("http://localhost:3000/dashboard", &loc);
    assert_eq!(target.host_str(), Some("localhost"));
    assert_eq!(target.path(), "/login");

    let response = send(
        &app,
        request_with_host("//evil.example/x", "localhost:3000"),
    )
    .await;
    let loc = location(&response);
    assert_eq!(
        followed("http://localhost:3000/", &loc).host_str(),
        Some("localhost"),
        "Location {loc:?}"
    );
}

/// A destination taken from request data with a tab, newline or leading space around the
/// slashes: the URL parser drops those characters, so `/\t/evil.example` is
/// `//evil.example`. The crate promises a path built from request data cannot leave the
/// origin.
#[tokio::test]
async fn redirect_destination_with_tab_newline_or_space_stays_on_origin() {
    let app = wrap(|req: ProxyRequest| async move {
        ProxyResponse::redirect(req.query("next").unwrap_or_default())
    });
    let mut escaped = Vec::new();
    for encoded in [
        "%2F%09%2Fevil.example",    // "/\t/evil.example"
        "%2F%0A%2Fevil.example",    // "/\n/evil.example"
        "%09%2F%2Fevil.example",    // "\t//evil.example"
        "%20%2F%2Fevil.example",    // " //evil.example"
        "%2F%5C%09%5Cevil.example", // "/\\\t\\evil.example"
    ] {
        let uri = format!("/go?next={encoded}");
        let response = send(&app, request_with_host(&uri, "localhost:3000")).await;
        match response.headers().get(header::LOCATION) {
            None => assert_eq!(
                response.status(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{encoded}: neither a redirect nor refused"
            ),
            Some(_) => {
                let loc = location(&response);
                let host = followed("http://localhost:3000/go", &loc)
                    .host_str()
                    .map(str::to_owned);
                if host.as_deref() != Some("localhost") {
                    escaped.push(format!("next={encoded} -> Location {loc:?}"));
                }
            }
        }
    }
    assert!(
        escaped.is_empty(),
        "redirects left the origin: {escaped:#?}"
    );
}

/// A same-origin URL whose path starts with `//` (e.g. `next_url()` with a path from
/// request data): written relative, the `Location` must still lead to that URL.
#[tokio::test]
async fn same_origin_location_resolves_to_the_destination() {
    let app = wrap(|req: ProxyRequest| async move {
        let mut url = req.next_url();
        url.set_pathname(&req.query("to").unwrap_or_default());
        url.set_search("");
        ProxyResponse::redirect(url)
    });
    let response = send(
        &app,
        request_with_host("/x?to=%2F%2Fevil.example%2Fpath", "localhost:3000"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    let loc = location(&response);
    let target = followed("http://localhost:3000/x", &loc);
    assert_eq!(
        target.host_str(),
        Some("localhost"),
        "Location {loc:?} leaves the origin"
    );
    assert_eq!(target.path(), "//evil.example/path", "Location {loc:?}");
}
