//! next.config rules around the proxy: Next.js's order, parameter substitution, the rewrite
//! bound, URL normalization, the trailing-slash policies, 404 rewrites and config errors.
//! Expected values come from Next.js's docs and source (cited beside each test).

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use common::*;
use http::{header, StatusCode};
use tower_proxy_fn::matcher::{Condition, ConditionKind, MatcherEntry};
use tower_proxy_fn::rules::{HeaderRule, Redirect, Rewrite, Rules, TrailingSlash};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

async fn pass(_req: ProxyRequest) -> ProxyResponse {
    ProxyResponse::next()
}

/// The rules around a proxy that lets everything through, in front of the echo router.
fn app_with(
    rules: Rules,
) -> impl tower::Service<http::Request<Body>, Response = axum::response::Response, Error = Infallible>
       + Clone {
    ProxyLayer::new(pass).with_rules(rules).layer(echo_router())
}

fn has(kind: ConditionKind, key: Option<&str>, value: Option<&str>) -> Condition {
    Condition {
        kind,
        key: key.map(str::to_owned),
        value: value.map(str::to_owned),
    }
}

// Next.js order (resolve-routes.ts): headers, redirects, then the proxy ("middleware"):
// a config redirect answers before the proxy function runs.
#[tokio::test]
async fn config_redirect_wins_over_the_proxy() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let proxy = move |_req: ProxyRequest| {
        let calls = Arc::clone(&counted);
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            ProxyResponse::respond((StatusCode::IM_A_TEAPOT, "proxy"))
        }
    };
    let rules = Rules::new().redirect(Redirect::new("/old", "/new").unwrap().permanent());
    let app = ProxyLayer::new(proxy)
        .with_rules(rules)
        .layer(echo_router());

    let response = send(&app, get_req("/old")).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&response), "/new");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the proxy did not run");

    let response = send(&app, get_req("/other")).await;
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

// beforeFiles rewrites come after the proxy and see the request headers it set.
#[tokio::test]
async fn before_rewrite_sees_the_proxy_request_headers() {
    async fn proxy(_req: ProxyRequest) -> ProxyResponse {
        ProxyResponse::next().request_header("x-user", "ann")
    }
    let mut entry = MatcherEntry::new("/me");
    entry.has.push(has(
        ConditionKind::Header,
        Some("x-user"),
        Some("(?<user>[a-z]+)"),
    ));
    let rules = Rules::new().rewrite_before(Rewrite::new(entry, "/users/:user").unwrap());
    let app = ProxyLayer::new(proxy)
        .with_rules(rules)
        .layer(echo_router());

    let echo = body_json(send(&app, get_req("/me")).await).await;
    assert_eq!(echo["path"], "/users/ann");
    assert_eq!(echoed_header(&echo, "x-user"), ["ann"]);
}

// The proxy's rewrite happens first; a beforeFiles rule then matches the rewritten path.
#[tokio::test]
async fn before_rewrite_matches_the_proxy_rewrite() {
    async fn proxy(req: ProxyRequest) -> ProxyResponse {
        match req.path() {
            "/a" => ProxyResponse::rewrite("/b"),
            _ => ProxyResponse::next(),
        }
    }
    let rules = Rules::new().rewrite_before(Rewrite::new("/b", "/c").unwrap());
    let app = ProxyLayer::new(proxy)
        .with_rules(rules)
        .layer(echo_router());
    let echo = body_json(send(&app, get_req("/a")).await).await;
    assert_eq!(echo["path"], "/c");
}

// Next.js docs (redirects): `/blog/:slug` -> `/news/:slug`; the query is passed through.
#[tokio::test]
async fn redirect_substitutes_path_params_and_keeps_the_query() {
    let rules = Rules::new()
        .redirect(
            Redirect::new("/blog/:slug", "/news/:slug")
                .unwrap()
                .permanent(),
        )
        .redirect(Redirect::new("/docs/:path*", "/guide/:path*").unwrap());
    let app = app_with(rules);

    let response = send(&app, get_req("/blog/hello-world?ref=home")).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&response), "/news/hello-world?ref=home");

    let response = send(&app, get_req("/docs/a/b/c")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&response), "/guide/a/b/c");
}

// Next.js docs (redirects, "Header, Cookie, and Query Matching"): named groups of `has`
// values go into the destination, in path and query.
#[tokio::test]
async fn redirect_substitutes_has_captures_into_path_and_query() {
    let mut by_cookie = MatcherEntry::new("/account");
    by_cookie.has.push(has(
        ConditionKind::Cookie,
        Some("team"),
        Some("(?<team>[a-z]+)"),
    ));
    let mut by_query = MatcherEntry::new("/landing");
    by_query
        .has
        .push(has(ConditionKind::Query, Some("page"), None));
    by_query.has.push(has(
        ConditionKind::Header,
        Some("x-campaign"),
        Some("(?<campaign>[a-z0-9-]+)"),
    ));
    let rules = Rules::new()
        .redirect(Redirect::new(by_cookie, "/teams/:team").unwrap())
        .redirect(Redirect::new(by_query, "/promo/:page?utm=:campaign").unwrap());
    let app = app_with(rules);

    let request = http::Request::get("/account")
        .header(header::COOKIE, "team=blue")
        .body(Body::empty())
        .unwrap();
    let response = send(&app, request).await;
    assert_eq!(location(&response), "/teams/blue");

    // Without the cookie the rule does not hold: the echo handler answers.
    let response = send(&app, get_req("/account")).await;
    assert_eq!(response.status(), StatusCode::OK);

    // `has` query without value captures its key (`page`); the query is kept, the
    // destination's `utm` added.
    let request = http::Request::get("/landing?page=spring")
        .header("x-campaign", "mail-1")
        .body(Body::empty())
        .unwrap();
    let response = send(&app, request).await;
    assert_eq!(location(&response), "/promo/spring?page=spring&utm=mail-1");
}

// prepareDestination: for rewrites, parameters the destination does not use in its path
// are added to the query; the destination's own query wins over the request's.
#[tokio::test]
async fn rewrite_appends_unused_params_to_the_query() {
    let rules = Rules::new()
        .rewrite_before(Rewrite::new("/shop/:category/:item", "/api/items").unwrap())
        .rewrite_before(Rewrite::new("/search", "/api/search?from=rule").unwrap());
    let app = app_with(rules);

    let echo = body_json(send(&app, get_req("/shop/books/dune")).await).await;
    assert_eq!(echo["path"], "/api/items");
    assert_eq!(echo["query"], "category=books&item=dune");

    let echo = body_json(send(&app, get_req("/search?q=rust&from=user")).await).await;
    assert_eq!(echo["path"], "/api/search");
    assert_eq!(echo["query"], "q=rust&from=rule");
}

// Next.js: redirects carry no `headers()` headers (resolve-routes.ts returns
// `resHeaders: null` for a config redirect); the proxy's responses and the pages do.
#[tokio::test]
async fn header_rules_apply_to_proxy_and_inner_responses_not_config_redirects() {
    async fn proxy(req: ProxyRequest) -> ProxyResponse {
        match req.path() {
            "/proxy-redirect" => ProxyResponse::redirect("/elsewhere"),
            "/proxy-respond" => ProxyResponse::respond("own"),
            "/proxy-header" => ProxyResponse::next().header("x-frame-options", "SAMEORIGIN"),
            _ => ProxyResponse::next(),
        }
    }
    let rules = Rules::new()
        .header(
            HeaderRule::new(
                "/:path*",
                [("x-frame-options", "DENY"), ("set-cookie", "a=1")],
            )
            .unwrap(),
        )
        .header(HeaderRule::new("/section/:name", [("x-section", "sec-:name")]).unwrap())
        .redirect(Redirect::new("/config-redirect", "/new").unwrap());
    let app = ProxyLayer::new(proxy)
        .with_rules(rules)
        .layer(echo_router());

    let response = send(&app, get_req("/section/news")).await;
    assert_eq!(header_values(&response, "x-frame-options"), ["DENY"]);
    assert_eq!(header_values(&response, "x-section"), ["sec-news"]);
    assert_eq!(set_cookies(&response), ["a=1"]);

    let response = send(&app, get_req("/proxy-redirect")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(header_values(&response, "x-frame-options"), ["DENY"]);

    let response = send(&app, get_req("/proxy-respond")).await;
    assert_eq!(header_values(&response, "x-frame-options"), ["DENY"]);

    // The proxy's own header wins over the config's.
    let response = send(&app, get_req("/proxy-header")).await;
    assert_eq!(header_values(&response, "x-frame-options"), ["SAMEORIGIN"]);

    let response = send(&app, get_req("/config-redirect")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert!(header_values(&response, "x-frame-options").is_empty());
}

fn chain(len: usize) -> Rules {
    (0..len).fold(Rules::new(), |rules, i| {
        rules.rewrite_before(Rewrite::new(format!("/h{i}"), format!("/h{}", i + 1)).unwrap())
    })
}

// At most 10 rewrites per request: a chain of 10 arrives, an 11th answers 500 and logs the
// chain.
#[tokio::test]
async fn rewrite_chain_is_bounded_at_ten_hops() {
    let app = app_with(chain(10));
    let echo = body_json(send(&app, get_req("/h0")).await).await;
    assert_eq!(echo["path"], "/h10");

    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let app = app_with(chain(11));
    let response = send(&app, get_req("/h0")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let logged = logs.contents();
    assert!(logged.contains("ERROR"), "{logged}");
    assert!(
        logged.contains(
            "/h0 -> /h1 -> /h2 -> /h3 -> /h4 -> /h5 -> /h6 -> /h7 -> /h8 -> /h9 -> /h10 -> /h11"
        ),
        "{logged}"
    );
}

// load-custom-routes.ts: `trailingSlash: false` (Next.js's default) redirects `/:path+/` to
// `/:path+` with 308; `true` redirects `/:notfile` to `/:notfile/` and `/:file/` to
// `/:file`; without the option, axum's behaviour: `/a/` is its own path.
#[tokio::test]
async fn trailing_slash_policies() {
    let keep = app_with(Rules::new().trailing_slash(TrailingSlash::Keep));
    let echo = body_json(send(&keep, get_req("/another/")).await).await;
    assert_eq!(echo["path"], "/another/");

    let remove = app_with(Rules::new().trailing_slash(TrailingSlash::Remove));
    let response = send(&remove, get_req("/another/?x=1")).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&response), "/another?x=1");
    assert_eq!(send(&remove, get_req("/")).await.status(), StatusCode::OK);
    assert_eq!(
        send(&remove, get_req("/another")).await.status(),
        StatusCode::OK
    );

    let add = app_with(Rules::new().trailing_slash(TrailingSlash::Add));
    let response = send(&add, get_req("/another")).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&response), "/another/");
    let response = send(&add, get_req("/files/report.pdf/")).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&response), "/files/report.pdf");
    assert_eq!(
        send(&add, get_req("/files/report.pdf")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&add, get_req("/.well-known/security.txt"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn trailing_slash_redirect_can_be_skipped_per_path() {
    let rules = Rules::new()
        .trailing_slash(TrailingSlash::Remove)
        .skip_trailing_slash_redirect(Matcher::new(["/api/:path*"]).unwrap());
    let app = app_with(rules);
    let echo = body_json(send(&app, get_req("/api/items/")).await).await;
    assert_eq!(echo["path"], "/api/items/");
    let response = send(&app, get_req("/items/")).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);

    // next.config's `skipTrailingSlashRedirect: true` skips it everywhere.
    let app = app_with(
        Rules::from_json(r#"{"trailingSlash": false, "skipTrailingSlashRedirect": true}"#).unwrap(),
    );
    assert_eq!(
        send(&app, get_req("/items/")).await.status(),
        StatusCode::OK
    );
}

// resolve-routes.ts: a path with `\` or `//` is answered 308 to `normalizeRepeatedSlashes`
// of the URL (query kept).
#[tokio::test]
async fn url_normalization() {
    let app = app_with(Rules::new().normalize_url(true));
    let response = send(&app, get_req("/a//b?x=1")).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&response), "/a/b?x=1");
    let response = send(&app, get_req("/a\\b")).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&response), "/a/b");
    let response = send(&app, get_req("//evil.example/x")).await;
    assert_eq!(location(&response), "/evil.example/x");
    assert_eq!(
        send(&app, get_req("/a%zz")).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(send(&app, get_req("/a%20b")).await.status(), StatusCode::OK);

    // Off by default.
    let app = app_with(Rules::new());
    let echo = body_json(send(&app, get_req("/a//b")).await).await;
    assert_eq!(echo["path"], "/a//b");
}

/// Routes for the 404 rewrites: `/legacy/...` and `/after/...` echo, `/exists` answers.
fn not_found_app() -> Router {
    Router::new()
        .route("/legacy/{*rest}", get(echo).post(echo))
        .route("/after/{*rest}", get(echo))
        .route("/exists", get(|| async { "exists" }))
}

// afterFiles / fallback: tried only when the inner service answers 404, afterFiles first.
#[tokio::test]
async fn not_found_rewrites_run_after_a_404_in_order() {
    let rules = Rules::new()
        .rewrite_after(Rewrite::new("/only-after/:rest*", "/after/:rest*").unwrap())
        .rewrite_fallback(Rewrite::new("/:rest*", "/legacy/:rest*").unwrap());
    let app = ProxyLayer::new(pass)
        .with_rules(rules.clone())
        .layer(not_found_app());

    assert_eq!(
        body_string(send(&app, get_req("/exists")).await).await,
        "exists"
    );
    let echo = body_json(send(&app, get_req("/only-after/x")).await).await;
    assert_eq!(echo["path"], "/after/x");
    let echo = body_json(send(&app, get_req("/old/page?q=1")).await).await;
    assert_eq!(echo["path"], "/legacy/old/page");
    assert_eq!(echo["query"], "q=1");
}

// A 404 rewrite re-sends the body: only an empty one or one `with_request_body` kept; a streamed
// body cannot be sent twice, so the 404 stands.
#[tokio::test]
async fn not_found_rewrite_needs_an_empty_or_buffered_body() {
    let rules = Rules::new().rewrite_fallback(Rewrite::new("/:rest*", "/legacy/:rest*").unwrap());
    let post_req = |body: &'static str| {
        http::Request::post("/form")
            .body(Body::from_stream(futures_util::stream::iter([Ok::<
                _,
                std::io::Error,
            >(
                bytes::Bytes::from_static(body.as_bytes()),
            )])))
            .unwrap()
    };

    let streamed = ProxyLayer::new(pass)
        .with_rules(rules.clone())
        .layer(not_found_app());
    assert_eq!(
        send(&streamed, post_req("a=1")).await.status(),
        StatusCode::NOT_FOUND
    );

    let empty = http::Request::post("/form").body(Body::empty()).unwrap();
    let echo = body_json(send(&streamed, empty).await).await;
    assert_eq!(echo["path"], "/legacy/form");

    let buffered = ProxyLayer::new(pass)
        .with_request_body(1024)
        .with_rules(rules.clone())
        .layer(not_found_app());
    let echo = body_json(send(&buffered, post_req("a=1")).await).await;
    assert_eq!(echo["path"], "/legacy/form");
    assert_eq!(echo["body"], "a=1");
}

#[tokio::test]
async fn rewrites_keep_the_original_uri_for_handlers() {
    let router =
        Router::new().route(
            "/new",
            get(
                |axum::extract::OriginalUri(uri): axum::extract::OriginalUri| async move {
                    uri.to_string()
                },
            ),
        );
    let rules = Rules::new().rewrite_before(Rewrite::new("/old", "/new").unwrap());
    let app = ProxyLayer::new(pass).with_rules(rules).layer(router);
    assert_eq!(
        body_string(send(&app, get_req("/old?x=1")).await).await,
        "/old?x=1"
    );
}

/// `rules` added inside a Router with `route_layer`, whose `/old` route answers `old_status`:
/// a request for `/old` must get a 500 and a log that says to wrap the whole Router.
async fn assert_fails_loudly_after_routing(rules: Rules, old_status: StatusCode) {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let router: Router = Router::new()
        .route("/old", get(move || async move { old_status }))
        .route("/new", get(|| async { "new" }))
        .route_layer(ProxyLayer::new(pass).with_rules(rules));
    let response = send(&router, get_req("/old")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        logs.contents().contains("Wrap the whole Router"),
        "{}",
        logs.contents()
    );
}

// Inside a Router (route_layer), a rewrite rule cannot reach another route: 500, logged.
#[tokio::test]
async fn rewrite_rule_after_routing_fails_loudly() {
    let rules = Rules::new().rewrite_before(Rewrite::new("/old", "/new").unwrap());
    assert_fails_loudly_after_routing(rules, StatusCode::OK).await;
}

// The same for a rewrite on 404: inside a Router the route that answered 404 would be
// called again under the new path, serving the wrong handler; it must fail loudly instead.
#[tokio::test]
async fn not_found_rewrite_after_routing_fails_loudly() {
    let rules = Rules::new().rewrite_fallback(Rewrite::new("/:path*", "/new").unwrap());
    assert_fails_loudly_after_routing(rules, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn json_rewrites_array_is_after_files() {
    let rules = Rules::from_json(r#"{"rewrites": [{"source": "/exists", "destination": "/legacy/x"}, {"source": "/gone", "destination": "/legacy/gone"}]}"#).unwrap();
    let app = ProxyLayer::new(pass)
        .with_rules(rules)
        .layer(not_found_app());
    // afterFiles: the route that exists is served, the rewrite only fills a 404.
    assert_eq!(
        body_string(send(&app, get_req("/exists")).await).await,
        "exists"
    );
    let echo = body_json(send(&app, get_req("/gone")).await).await;
    assert_eq!(echo["path"], "/legacy/gone");
}

// Next.js's `processRoutes`: without `locale: false` a rule also matches under a locale
// prefix and the destination gets it back; the default locale's copy has no prefix.
#[tokio::test]
async fn i18n_rules_match_under_locale_prefixes() {
    let rules = Rules::from_json(
        r#"{
            "i18n": {"locales": ["en", "fr", "ja"], "defaultLocale": "en"},
            "redirects": [
                {"source": "/about", "destination": "/contact", "permanent": false},
                {"source": "/fr/raw", "destination": "/fr/plain", "permanent": false, "locale": false}
            ],
            "rewrites": {"beforeFiles": [{"source": "/docs/:page", "destination": "/api/docs/:page"}]}
        }"#,
    )
    .unwrap();
    let app = app_with(rules);
    for (path, want) in [
        ("/about", "/contact"),
        ("/fr/about", "/fr/contact"),
        ("/en/about", "/contact"),
    ] {
        let response = send(&app, get_req(path)).await;
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT, "{path}");
        assert_eq!(location(&response), want, "{path}");
    }
    // `locale: false`: the source is taken as written.
    assert_eq!(location(&send(&app, get_req("/fr/raw")).await), "/fr/plain");
    assert_eq!(
        send(&app, get_req("/ja/fr/raw")).await.status(),
        StatusCode::OK
    );

    let echo = body_json(send(&app, get_req("/ja/docs/intro")).await).await;
    assert_eq!(echo["path"], "/ja/api/docs/intro");
    let echo = body_json(send(&app, get_req("/docs/intro")).await).await;
    assert_eq!(echo["path"], "/api/docs/intro");
}

mod server {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use std::net::SocketAddr;

    async fn fetch(
        addr: SocketAddr,
        method: &str,
        path: &str,
        body: &'static str,
    ) -> http::Response<Bytes> {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let request = http::Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"))
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        let response = client.request(request).await.expect("request");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        http::Response::from_parts(parts, bytes)
    }

    fn json(response: &http::Response<Bytes>) -> serde_json::Value {
        serde_json::from_slice(response.body()).expect("JSON body")
    }

    // One server, one request per rule kind, over HTTP.
    #[tokio::test]
    async fn every_rule_kind_over_http() {
        let rules = Rules::from_json(
            r#"{
                "trailingSlash": false,
                "headers": [{"source": "/:path*", "headers": [{"key": "x-served-by", "value": "rules"}]}],
                "redirects": [{"source": "/blog/:slug", "destination": "/news/:slug", "permanent": true}],
                "rewrites": {
                    "beforeFiles": [{"source": "/about", "destination": "/pages/about"}],
                    "fallback": [{"source": "/:path*", "destination": "/legacy/:path*"}]
                }
            }"#,
        )
        .unwrap()
        .normalize_url(true);
        let router = Router::new()
            .route("/pages/about", get(echo))
            .route("/legacy/{*rest}", get(echo).post(echo));
        let app = ProxyLayer::new(pass)
            .with_request_body(1 << 16)
            .with_rules(rules);
        let addr = common::serve(app.layer(router)).await;

        let response = fetch(addr, "GET", "/blog/hello?x=1", "").await;
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(response.headers()["location"], "/news/hello?x=1");

        let response = fetch(addr, "GET", "/about", "").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-served-by"], "rules");
        assert_eq!(json(&response)["path"], "/pages/about");

        let response = fetch(addr, "POST", "/old/form", "a=1").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(json(&response)["path"], "/legacy/old/form");
        assert_eq!(json(&response)["body"], "a=1");
        assert_eq!(response.headers()["x-served-by"], "rules");

        let response = fetch(addr, "GET", "/about/", "").await;
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(response.headers()["location"], "/about");

        let response = fetch(addr, "GET", "/a//b", "").await;
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(response.headers()["location"], "/a/b");
    }
}
