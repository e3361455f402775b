//! Fail closed: an error while deciding never lets a request past the proxy.
//!
//! Each test serves an app with `axum::serve` on a loopback port, with the protected route
//! *and* the route an attacker would aim for present, and sends the crafted request with a
//! raw socket (a real client that does not tidy what it sends), so that a bypass would
//! show as the protected handler's answer. SECURITY.md lists each class with its test.

mod common;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::StatusCode;
use tower::ServiceExt;
use tower_proxy_fn::matcher::{Selection, MAX_PATH_LEN};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

/// What a raw HTTP/1.1 exchange gave back.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    fn reached_protected(&self) -> bool {
        self.body.contains("protected")
    }
}

/// Sends `GET {target}` with these header lines over a new connection, as written (see
/// [`common::raw_exchange`]), and splits the answer.
async fn raw_get(addr: std::net::SocketAddr, target: &str, headers: &[&str]) -> Answer {
    let mut request = format!("GET {target} HTTP/1.1\r\n");
    for line in headers {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("Connection: close\r\n\r\n");
    let text = common::raw_exchange(addr, &request).await;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Answer {
        status: common::raw_status(&text),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn protected() -> axum::routing::MethodRouter {
    get(|| async { "protected handler" })
}

/// The app of most tests: `/admin` and everything under it is protected; `/public/...` and
/// `/` are not.
fn router() -> Router {
    Router::new()
        .route("/admin", protected())
        .route("/admin/{*rest}", protected())
        .route("/public/{*rest}", get(|| async { "public page" }))
        .route("/", get(|| async { "home" }))
}

async fn deny_admin(req: ProxyRequest) -> ProxyResponse {
    // Written the Next.js way: the decision reads `request.nextUrl.pathname`.
    if req.url().path().starts_with("/admin") {
        ProxyResponse::respond((StatusCode::FORBIDDEN, "denied by proxy"))
    } else {
        ProxyResponse::next()
    }
}

/// Clerk's widely copied matcher: a look-ahead inside a negative look-ahead (`js(?!on)`),
/// which only fancy-regex runs.
fn clerk_matcher() -> Matcher {
    Matcher::new([
        r"/((?!_next|[^?]*\.(?:html?|css|js(?!on)|jpe?g|webp|png|gif|svg|ttf|woff2?|ico|csv|docx?|xlsx?|zip|webmanifest)).*)",
        "/(api|trpc)(.*)",
    ])
    .unwrap()
}

#[tokio::test]
async fn a_look_around_pattern_at_its_backtracking_limit_still_runs_the_proxy() {
    let app = ProxyLayer::new(deny_admin)
        .with_matcher(clerk_matcher())
        .layer(router());
    let addr = common::serve(app.clone()).await;
    for dots in [2_000, 4_000, MAX_PATH_LEN - "/admin/".len()] {
        let path = format!("/admin/{}", ".".repeat(dots));
        let answer = raw_get(addr, &path, &["Host: app.example"]).await;
        assert!(!answer.reached_protected(), "{dots} dots: {}", answer.body);
        assert_eq!(answer.status, 403, "{dots} dots");
        // The same through `oneshot`, and the matcher's own selection.
        let request = http::Request::get(&path).body(Body::empty()).unwrap();
        assert!(matches!(
            clerk_matcher().select(&request),
            Selection::Run(_)
        ));
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{dots} dots");
    }
}

#[tokio::test]
async fn a_path_over_the_length_limit_is_414_before_any_expression_runs() {
    let app = ProxyLayer::new(deny_admin)
        .with_matcher(clerk_matcher())
        .layer(router());
    let addr = common::serve(app).await;
    for prefix in ["/admin/", "/public/"] {
        let path = format!("{prefix}{}", "a".repeat(MAX_PATH_LEN));
        let answer = raw_get(addr, &path, &["Host: app.example"]).await;
        assert_eq!(answer.status, 414, "{prefix}");
        assert!(!answer.reached_protected());
        let request = http::Request::get(&path).body(()).unwrap();
        assert!(matches!(
            clerk_matcher().select(&request),
            Selection::PathTooLong
        ));
        // A user's own middleware asking `matches` is not let past either.
        assert!(clerk_matcher().matches(&request));
    }
    // At the limit, the path is decided as usual.
    let path = format!("/public/{}", "a".repeat(MAX_PATH_LEN - "/public/".len()));
    assert_eq!(raw_get(addr, &path, &[]).await.status, 200);
}

#[tokio::test]
async fn a_host_with_a_path_query_fragment_or_user_info_is_400() {
    let app = ProxyLayer::new(deny_admin).layer(router());
    let addr = common::serve(app).await;
    // Pasted into a URL, each of these hides `/admin` from `req.url().path()`.
    for host in [
        "h#",
        "h/public?",
        "h?a=x#",
        "a@evil.example",
        "h:99999",
        "a b",
    ] {
        let answer = raw_get(addr, "/admin", &[&format!("Host: {host}")]).await;
        assert!(!answer.reached_protected(), "Host: {host}: {}", answer.body);
        assert_eq!(answer.status, 400, "Host: {host}");
    }
    let answer = raw_get(addr, "/admin", &["Host: a.example", "Host: b.example"]).await;
    assert_eq!(answer.status, 400, "two Host headers");
    // A Host that is an authority is decided on.
    for host in [
        "app.example",
        "app.example:8080",
        "127.0.0.1:3000",
        "[::1]:3000",
    ] {
        let answer = raw_get(addr, "/admin", &[&format!("Host: {host}")]).await;
        assert_eq!(answer.status, 403, "Host: {host}");
    }
}

#[tokio::test]
async fn a_query_value_cannot_be_injected_through_host() {
    // The proxy lets a request through when `a=ok`; the handler sees the real query.
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        match req.query("a").as_deref() {
            Some("ok") => ProxyResponse::next(),
            _ => ProxyResponse::respond((StatusCode::FORBIDDEN, "denied by proxy")),
        }
    })
    .with_matcher(Matcher::new(["/admin"]).unwrap())
    .layer(router());
    let addr = common::serve(app).await;
    let answer = raw_get(addr, "/admin?a=evil", &["Host: h?a=ok#"]).await;
    assert!(!answer.reached_protected(), "{}", answer.body);
    assert_eq!(answer.status, 400);
}

#[tokio::test]
async fn a_request_path_with_a_dot_segment_is_400_when_matched() {
    // `/admin/%2e%2e/public/x`: the router routes it under `/admin`, while a URL parser
    // resolves it to `/public/x`.
    let app = ProxyLayer::new(deny_admin).layer(router());
    let addr = common::serve(app).await;
    for path in [
        "/admin/%2e%2e/public/x",
        "/admin/.%2e/public/x",
        "/admin/%2E%2E/public/x",
        "/admin/../public/x",
        "/admin/./x",
    ] {
        let answer = raw_get(addr, path, &["Host: app.example"]).await;
        assert!(!answer.reached_protected(), "{path}: {}", answer.body);
        assert_eq!(answer.status, 400, "{path}");
    }
}

/// A function that serves `/docs/...` from `/public/...`, built from the request path.
async fn docs_from_public(req: ProxyRequest) -> ProxyResponse {
    let rest = req.path().strip_prefix("/docs/").unwrap_or_default();
    ProxyResponse::rewrite(format!("/public/{rest}"))
}

/// The same, from the captured (decoded) parameter.
async fn docs_from_public_param(req: ProxyRequest) -> ProxyResponse {
    let rest = req.param("rest").unwrap_or_default().to_owned();
    ProxyResponse::rewrite(format!("/public/{rest}"))
}

#[tokio::test]
async fn a_rewrite_never_resolves_dot_segments_into_another_route() {
    let matcher = Matcher::new(["/docs/:rest*"]).unwrap();
    let by_path = ProxyLayer::new(docs_from_public)
        .with_matcher(matcher.clone())
        .layer(router());
    let by_param = ProxyLayer::new(docs_from_public_param)
        .with_matcher(matcher)
        .layer(router());
    let by_path = common::serve(by_path).await;
    let by_param = common::serve(by_param).await;
    for app in [by_path, by_param] {
        for path in [
            "/docs/%2e%2e/admin",
            "/docs/.%2e/admin",
            "/docs/%2E%2E/admin",
            "/docs/%2e%2e%2fadmin",
            "/docs/%2e%2e%5cadmin",
            "/docs/..%5Cadmin",
            "/docs/..%2Fadmin",
        ] {
            let answer = raw_get(app, path, &["Host: app.example"]).await;
            assert!(!answer.reached_protected(), "{path}: {}", answer.body);
            // Refused, or served from `/public` under the literal path.
            assert!(
                answer.status == 400 || answer.body == "public page",
                "{path}: {} {}",
                answer.status,
                answer.body
            );
        }
        // A path without dot segments is rewritten as written.
        let answer = raw_get(app, "/docs/guide", &["Host: app.example"]).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, "public page"));
    }
    // The decoded parameter spells a dot segment the request path did not: the rewrite
    // itself is refused.
    for path in [
        "/docs/%2e%2e%2fadmin",
        "/docs/..%5Cadmin",
        "/docs/%2E.%2Fadmin",
    ] {
        let answer = raw_get(by_param, path, &["Host: app.example"]).await;
        assert_eq!(answer.status, 400, "{path}");
    }
}

#[tokio::test]
async fn a_same_origin_location_is_relative_whatever_its_path() {
    // `nextUrl.clone()` with a new pathname, as a Next.js function writes a redirect.
    let app = ProxyLayer::new(|req: ProxyRequest| async move {
        let mut url = req.next_url();
        url.set_pathname(&format!("/{}", req.query("to").unwrap_or_default()));
        url.set_search("");
        ProxyResponse::redirect(url)
    })
    .with_matcher(Matcher::new(["/go"]).unwrap())
    .layer(router());
    let addr = common::serve(app).await;
    let answer = raw_get(addr, "/go?to=/evil.example/x", &["Host: app.example"]).await;
    assert_eq!(answer.status, 307);
    let location = answer.header("location").unwrap();
    assert_eq!(location, "/.//evil.example/x");
    // A browser reads it as a path on the same origin.
    let base = url::Url::parse("http://app.example/go").unwrap();
    let resolved = base.join(location).unwrap();
    assert_eq!(resolved.host_str(), Some("app.example"));
    // And a Host with user info is refused rather than reflected.
    let answer = raw_get(addr, "/go?to=/x", &["Host: a@evil.example"]).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.header("location"), None);
}

#[tokio::test(start_paused = true)]
async fn a_function_that_never_decides_is_a_504_by_default() {
    let app = ProxyLayer::new(|_req: ProxyRequest| std::future::pending::<ProxyResponse>())
        .layer(router());
    let request = http::Request::get("/admin").body(Body::empty()).unwrap();
    // The paused clock jumps to the next timer: the layer's default, else this guard.
    let guard = tower_proxy_fn::DEFAULT_FUNCTION_TIMEOUT * 2;
    let response = tokio::time::timeout(guard, app.oneshot(request))
        .await
        .expect("the layer answers within its default time limit")
        .unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn a_body_that_never_ends_is_a_408_by_default() {
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    sender.send(bytes::Bytes::from_static(b"a")).await.unwrap();
    let app = ProxyLayer::new(|_req: ProxyRequest| async { ProxyResponse::next() })
        .with_request_body(1024)
        .layer(router());
    let request = http::Request::post("/admin")
        .body(Body::new(common::ChannelBody(receiver)))
        .unwrap();
    let guard = tower_proxy_fn::DEFAULT_BODY_TIMEOUT * 2;
    let response = tokio::time::timeout(guard, app.oneshot(request))
        .await
        .expect("the layer answers within its default time limit")
        .unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    drop(sender);
}

#[cfg(feature = "external")]
mod external {
    use super::*;
    use tower_proxy_fn::external::Upstreams;

    /// An upstream and, on the app, a local route under the same path that must not be
    /// reached through the rewrite.
    async fn setup(declare: Option<&str>) -> (std::net::SocketAddr, std::net::SocketAddr) {
        let upstream = common::serve(
            Router::new().route("/api/{*rest}", get(|| async { "from the upstream" })),
        )
        .await;
        let target = format!("http://{upstream}");
        let layer = ProxyLayer::new(move |req: ProxyRequest| {
            let target = format!("{target}{}", req.path());
            async move { ProxyResponse::rewrite(target) }
        })
        .with_matcher(Matcher::new(["/api/:path*"]).unwrap());
        let layer = match declare {
            Some(origin) => layer.with_origin(origin.parse().unwrap()),
            None => layer,
        };
        let app = layer
            .with_external(
                Upstreams::new()
                    .allow(&format!("http://{upstream}"))
                    .unwrap(),
            )
            .layer(Router::new().route("/api/{*rest}", protected()));
        (common::serve(app).await, upstream)
    }

    #[tokio::test]
    async fn the_clients_host_cannot_turn_an_external_rewrite_into_a_local_one() {
        for declare in [None, Some("http://app.example")] {
            let (app, upstream) = setup(declare).await;
            for host in [format!("{upstream}"), "app.example".to_owned()] {
                let answer = raw_get(app, "/api/users", &[&format!("Host: {host}")]).await;
                assert!(
                    !answer.reached_protected(),
                    "Host: {host}, declared {declare:?}: {}",
                    answer.body
                );
                assert_eq!(
                    (answer.status, answer.body.as_str()),
                    (200, "from the upstream"),
                    "Host: {host}, declared {declare:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn dot_segments_do_not_reach_the_upstreams_other_paths() {
        let (app, _) = setup(None).await;
        let answer = raw_get(app, "/api/%2e%2e/internal", &["Host: app.example"]).await;
        assert_eq!(answer.status, 400);
    }
}

/// next.config rules that cannot be decided answer the request rather than skip the rule:
/// a skipped headers rule would drop a security header.
#[tokio::test]
async fn a_rule_that_cannot_be_decided_answers_instead_of_skipping() {
    use tower_proxy_fn::rules::Rules;
    let clerk = r"/((?!_next|[^?]*\\.(?:html?|css|js(?!on)|jpe?g|webp|png|gif|svg|ttf|woff2?|ico|csv|docx?|xlsx?|zip|webmanifest)).*)";
    let rules = Rules::from_json(&format!(
        r#"{{"headers": [{{"source": "{clerk}", "headers": [{{"key": "content-security-policy", "value": "default-src 'self'"}}]}}]}}"#
    ))
    .unwrap();
    let app = ProxyLayer::new(|_req: ProxyRequest| async { ProxyResponse::next() })
        .with_matcher(Matcher::new(["/nothing"]).unwrap())
        .with_rules(rules)
        .layer(router());
    let addr = common::serve(app).await;
    // Decided: the header is there.
    let answer = raw_get(addr, "/public/page", &["Host: app.example"]).await;
    assert_eq!(answer.status, 200);
    assert!(answer.header("content-security-policy").is_some());
    // At the backtracking limit: answered, never served without the header.
    let path = format!("/public/{}", ".".repeat(MAX_PATH_LEN - "/public/".len()));
    let answer = raw_get(addr, &path, &["Host: app.example"]).await;
    assert_eq!(answer.status, 500, "{}", answer.body);
    // Over the length limit: 414.
    let path = format!("/public/{}", "a".repeat(MAX_PATH_LEN));
    let answer = raw_get(addr, &path, &["Host: app.example"]).await;
    assert_eq!(answer.status, 414);
}
