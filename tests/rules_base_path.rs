//! next.config's `basePath` in the rules (issue 22, item 5): sources and destinations on
//! this origin get the base path in front unless the rule says `basePath: false`, as
//! Next.js's `processRoutes` does (vercel/next.js `packages/next/src/lib/load-custom-routes.ts`);
//! requests outside the base path pass untouched. Over `oneshot` and a real server.

mod common;

use axum::extract::OriginalUri;
use axum::routing::get;
use axum::Router;
use common::*;
use http::StatusCode;
use tower_proxy_fn::rules::{Rules, RulesService};
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

const CONFIG: &str = r#"{
    "basePath": "/docs",
    "trailingSlash": false,
    "headers": [{"source": "/guide/:page", "headers": [{"key": "x-guide", "value": ":page"}]}],
    "redirects": [
        {"source": "/old/:page", "destination": "/guide/:page", "permanent": true},
        {"source": "/", "destination": "/guide/start", "permanent": false},
        {"source": "/legacy", "destination": "/docs/guide/legacy", "permanent": true, "basePath": false},
        {"source": "/away", "destination": "https://example.com/away", "permanent": false}
    ],
    "rewrites": {"beforeFiles": [{"source": "/short/:page", "destination": "/guide/:page"}]}
}"#;

type Next = std::future::Ready<ProxyResponse>;

fn next(_: ProxyRequest) -> Next {
    std::future::ready(ProxyResponse::next())
}

async fn page(OriginalUri(original): OriginalUri, uri: http::Uri) -> String {
    format!("{} for {}", uri.path(), original.path())
}

fn app() -> RulesService<Router, fn(ProxyRequest) -> Next> {
    let router = Router::new()
        .route("/docs/guide/{page}", get(page))
        .route("/guide/{page}", get(page))
        .route("/old/{page}", get(page))
        .route("/short/{page}", get(page));
    ProxyLayer::new(next as fn(ProxyRequest) -> Next)
        .with_rules(Rules::from_json(CONFIG).unwrap())
        .layer(router)
}

/// (path, status, location or body) as this crate must answer; each row says why.
const CASES: &[(&str, u16, &str)] = &[
    // Under the base path, the rules apply with the base path on both sides.
    ("/docs/old/a?x=1", 308, "/docs/guide/a?x=1"),
    // A source or destination of `/` is the base path itself.
    ("/docs", 307, "/docs/guide/start"),
    // An external destination keeps its own path.
    ("/docs/away", 307, "https://example.com/away"),
    // `basePath: false`: the source and destination as written.
    ("/legacy", 308, "/docs/guide/legacy"),
    // A rewrite on this origin stays under the base path.
    ("/docs/short/b", 200, "/docs/guide/b for /docs/short/b"),
    // Outside the base path the rules do not match: the routes answer as they are.
    ("/old/a", 200, "/old/a for /old/a"),
    ("/short/b", 200, "/short/b for /short/b"),
    ("/docsx/old/a", 404, ""),
    // The trailing-slash redirect is made under the base path only.
    ("/docs/guide/a/", 308, "/docs/guide/a"),
    ("/docs/", 308, "/docs"),
    ("/guide/a/", 404, ""),
];

fn check(
    path: &str,
    status: u16,
    expected: &str,
    got_status: StatusCode,
    location: Option<&str>,
    body: &str,
) {
    assert_eq!(got_status.as_u16(), status, "{path}: {body}");
    if (300..400).contains(&status) {
        assert_eq!(location, Some(expected), "{path}");
    } else if !expected.is_empty() {
        assert_eq!(body, expected, "{path}");
    }
}

#[tokio::test]
async fn base_path_rules_oneshot() {
    let app = app();
    for &(path, status, expected) in CASES {
        let response = send(&app, get_req(path)).await;
        let got = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = body_string(response).await;
        check(path, status, expected, got, location.as_deref(), &body);
    }
    // Headers rules too: under the base path only.
    let response = send(&app, get_req("/docs/guide/intro")).await;
    assert_eq!(response.headers()["x-guide"], "intro");
    let response = send(&app, get_req("/guide/intro")).await;
    assert!(response.headers().get("x-guide").is_none());
}

#[tokio::test]
async fn base_path_rules_over_http() {
    let addr = serve(app()).await;
    for &(path, status, expected) in CASES {
        let response = get_url(&format!("http://{addr}{path}"), &[]).await;
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = String::from_utf8_lossy(response.body()).into_owned();
        check(
            path,
            status,
            expected,
            response.status(),
            location.as_deref(),
            &body,
        );
    }
}

#[test]
fn a_bad_base_path_is_a_config_error_naming_it() {
    for (base, says) in [
        ("docs", "start with"),
        ("/docs/", "not end with"),
        ("/", "not end with"),
        ("/do cs", "plain path"),
    ] {
        let json = format!(r#"{{"basePath": "{base}"}}"#);
        let error = Rules::from_json(&json).unwrap_err();
        assert_eq!(error.location(), "basePath", "{base}");
        assert!(error.to_string().contains(says), "{base}: {error}");
    }
    assert!(Rules::from_json(r#"{"basePath": 1}"#).is_err());
    // A rewrite out of the base path is refused, as Next.js refuses it.
    let error = Rules::from_json(
        r#"{"basePath": "/docs", "rewrites": [{"source": "/a", "destination": "/b", "basePath": false}]}"#,
    )
    .unwrap_err();
    assert_eq!(error.location(), "rewrites[0].basePath");
    // Without a base path there is none.
    assert_eq!(Rules::from_json("{}").unwrap().base_path(), None);
    assert_eq!(Rules::from_json(CONFIG).unwrap().base_path(), Some("/docs"));
}

async fn path_seen(req: ProxyRequest) -> ProxyResponse {
    ProxyResponse::respond((StatusCode::OK, req.next_url().pathname().to_owned()))
}

#[tokio::test]
async fn the_layer_takes_the_rules_base_path() {
    // The matcher's `/admin` and `next_url` are under the rules' base path, as with
    // `ProxyLayer::with_base_path("/docs")`.
    let app = ProxyLayer::new(path_seen)
        .with_matcher(tower_proxy_fn::Matcher::new(["/admin"]).unwrap())
        .with_rules(Rules::from_json(r#"{"basePath": "/docs"}"#).unwrap())
        .layer(Router::new().route("/admin", get(|| async { "unguarded" })));
    let response = send(&app, get_req("/docs/admin")).await;
    assert_eq!(body_string(response).await, "/admin");
    let response = send(&app, get_req("/admin")).await;
    assert_eq!(body_string(response).await, "unguarded");
}

#[test]
#[should_panic(expected = "differs from the layer's base path")]
fn two_base_paths_are_a_mistake() {
    let _ = ProxyLayer::new(path_seen)
        .with_base_path("/app")
        .with_rules(Rules::from_json(r#"{"basePath": "/docs"}"#).unwrap());
}
