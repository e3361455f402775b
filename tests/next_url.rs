//! `ProxyRequest::next_url()` (issue 22, item 1) against Next.js 16.4.6's `NextURL`
//! (`packages/next/src/server/web/next-url.ts`, `get-next-pathname-info.ts`,
//! `format-next-pathname-info.ts`): the values were recorded from the scenario apps
//! (`/next-url*` in the main app, `/to-fr`, `/to-default`, `/same` in the i18n app).

mod common;

use common::*;
use http::StatusCode;
use tower_proxy_fn::rules::{Locales, Rules};
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

#[test]
fn search_params_keep_order_like_url_search_params() {
    let req = ProxyRequest::from_request(
        http::Request::get("http://example.com/next-url?tag=a&drop=1&q=a%20b&drop=2")
            .body(())
            .unwrap(),
    );
    let mut url = req.next_url();
    url.set_pathname("/api/echo/next-url");
    let params = url.search_params_mut();
    params.delete("drop");
    params.append("tag", "b");
    let first = params.get("tag").unwrap().to_owned();
    params.set("first", &first);
    // Recorded: `x-search: ?tag=a&q=a+b&tag=b&first=a`, `x-tags: a,b`.
    assert_eq!(url.search(), "?tag=a&q=a+b&tag=b&first=a");
    assert_eq!(url.search_params().get_all("tag"), ["a", "b"]);
    assert!(!url.search_params().has("drop"));
    assert_eq!(
        url.href(),
        "http://example.com/api/echo/next-url?tag=a&q=a+b&tag=b&first=a"
    );
    // A clone is a copy: the request's own is untouched.
    assert_eq!(req.next_url().pathname(), "/next-url");
}

async fn proxy(req: ProxyRequest) -> ProxyResponse {
    let url = req.next_url();
    let mut to = url.clone();
    match url.pathname() {
        "/to-fr" => {
            to.set_locale("fr").unwrap();
            to.set_pathname("/moved");
        }
        "/to-default" => {
            to.set_locale("en").unwrap();
            to.set_pathname("/moved");
            to.search_params_mut().set("from", url.locale());
        }
        "/same" => to.set_pathname("/moved"),
        "/to-de" => {
            let refused = to.set_locale("de").unwrap_err();
            return ProxyResponse::json(StatusCode::BAD_REQUEST, &refused.to_string());
        }
        "/rewrite" => {
            to.set_pathname("/api/seen");
            return ProxyResponse::rewrite(to);
        }
        _ => {
            return ProxyResponse::next()
                .header("x-locale", url.locale())
                .header("x-pathname", url.pathname())
        }
    }
    ProxyResponse::redirect(to)
}

#[tokio::test]
async fn redirects_follow_nextjs_locale_rules_over_http() {
    let app = ProxyLayer::new(proxy)
        .with_rules(Rules::new().i18n(Locales::new(["en", "fr", "nl-NL"], "en")))
        .layer(echo_router());
    let addr = serve(app).await;
    for (path, location) in [
        ("/to-fr?x=1", "/fr/moved?x=1"),
        ("/fr/to-default?x=1", "/moved?x=1&from=fr"),
        ("/fr/same", "/fr/moved"),
        ("/same", "/moved"),
        ("/NL-nl/same", "/nl-NL/moved"),
    ] {
        let response = get_at(addr, path, &[]).await;
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT, "{path}");
        assert_eq!(response.headers()["location"], location, "{path}");
    }
    let response = get_at(addr, "/fr/to-de", &[]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = get_at(addr, "/fr/about", &[]).await;
    assert_eq!(response.headers()["x-locale"], "fr");
    assert_eq!(response.headers()["x-pathname"], "/about");
    // A rewrite keeps the locale in the path the router sees; `/api` gets no prefix.
    let response = get_at(addr, "/fr/rewrite", &[]).await;
    let echo: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(echo["path"], "/api/seen");
}

#[tokio::test]
async fn without_i18n_the_locale_is_empty_and_the_path_whole() {
    let response = send(
        &ProxyLayer::new(proxy).layer(echo_router()),
        get_req("/fr/about"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    // `x-locale: ""` is not sent (issue 22, item 3).
    assert!(response.headers().get("x-locale").is_none());
    assert_eq!(response.headers()["x-pathname"], "/fr/about");
}
