//! The config types are serde types: the same matcher config and next.config rules load
//! from JSON and from TOML, and give the same decisions.

mod common;

use axum::body::Body;
use common::*;
use tower_proxy_fn::matcher::{MatcherConfig, Selection};
use tower_proxy_fn::rules::{Rules, RulesConfig};
use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};

const MATCHER_JSON: &str = r#"{
    "matcher": [
        "/about/:path*",
        {"source": "/api/:version(v1|v2)/:rest*", "has": [{"type": "header", "key": "authorization"}]},
        {"source": "/shop/:item", "missing": [{"type": "cookie", "key": "beta", "value": "yes"}], "locale": false}
    ]
}"#;

const MATCHER_TOML: &str = r#"
matcher = [
    "/about/:path*",
    { source = "/api/:version(v1|v2)/:rest*", has = [{ type = "header", key = "authorization" }] },
    { source = "/shop/:item", missing = [{ type = "cookie", key = "beta", value = "yes" }], locale = false },
]
"#;

/// (path, authorization header, cookie)
const MATCHER_REQUESTS: &[(&str, Option<&str>, Option<&str>)] = &[
    ("/about", None, None),
    ("/about/team/ann", None, None),
    ("/abouts", None, None),
    ("/api/v1/users", None, None),
    ("/api/v1/users", Some("Bearer t"), None),
    ("/api/v3/users", Some("Bearer t"), None),
    ("/shop/hat", None, None),
    ("/shop/hat", None, Some("beta=yes")),
    ("/shop/hat", None, Some("beta=no")),
    ("/shop/hat/size", None, None),
    ("/%61bout", None, None),
];

/// What a decision says, in a form two matchers' decisions can be compared by.
fn summary(decision: Selection<'_>) -> String {
    match decision {
        Selection::Run(m) => {
            let mut params: Vec<_> = m.params().iter().map(|(k, v)| format!("{k}={v}")).collect();
            params.sort();
            format!("run {} {}", m.source(), params.join("&"))
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn a_matcher_config_decides_the_same_from_json_and_from_toml() {
    let from_json = Matcher::from_json(MATCHER_JSON).expect("JSON loads");
    let config: MatcherConfig = toml::from_str(MATCHER_TOML).expect("TOML loads");
    assert_eq!(
        config,
        serde_json::from_str::<MatcherConfig>(MATCHER_JSON).unwrap(),
        "the same config from both formats"
    );
    let from_toml = Matcher::from_config(config).expect("TOML config compiles");
    let mut runs = 0;
    for (path, auth, cookie) in MATCHER_REQUESTS {
        let mut builder = http::Request::get(*path);
        if let Some(auth) = auth {
            builder = builder.header("authorization", *auth);
        }
        if let Some(cookie) = cookie {
            builder = builder.header("cookie", *cookie);
        }
        let request = builder.body(()).unwrap();
        let (json, toml) = (
            summary(from_json.select(&request)),
            summary(from_toml.select(&request)),
        );
        assert_eq!(json, toml, "{path} {auth:?} {cookie:?}");
        runs += usize::from(json.starts_with("run"));
    }
    // Both kinds of answer were compared, not only misses.
    assert_eq!(runs, 6);
}

const RULES_JSON: &str = r#"{
    "trailingSlash": false,
    "headers": [{"source": "/news/:slug", "headers": [{"key": "x-article", "value": ":slug"}]}],
    "redirects": [
        {"source": "/blog/:slug", "destination": "/news/:slug", "permanent": true},
        {"source": "/old/:path*", "destination": "/docs/:path*", "statusCode": 301, "basePath": false},
        {"source": "/team", "has": [{"type": "cookie", "key": "team", "value": "(?<team>[a-z]+)"}], "destination": "/teams/:team", "permanent": false}
    ],
    "rewrites": {
        "beforeFiles": [{"source": "/docs/:path*", "destination": "/api/docs/:path*"}],
        "fallback": [{"source": "/:path*", "destination": "/legacy/:path*"}]
    },
    "i18n": {"locales": ["en", "fr"], "defaultLocale": "en"}
}"#;

const RULES_TOML: &str = r#"
trailingSlash = false

[[headers]]
source = "/news/:slug"
headers = [{ key = "x-article", value = ":slug" }]

[[redirects]]
source = "/blog/:slug"
destination = "/news/:slug"
permanent = true

[[redirects]]
source = "/old/:path*"
destination = "/docs/:path*"
statusCode = 301
basePath = false

[[redirects]]
source = "/team"
has = [{ type = "cookie", key = "team", value = "(?<team>[a-z]+)" }]
destination = "/teams/:team"
permanent = false

[rewrites]
beforeFiles = [{ source = "/docs/:path*", destination = "/api/docs/:path*" }]
fallback = [{ source = "/:path*", destination = "/legacy/:path*" }]

[i18n]
locales = ["en", "fr"]
defaultLocale = "en"
"#;

async fn pass(_request: ProxyRequest) -> ProxyResponse {
    ProxyResponse::next()
}

/// Status, `Location`, the headers rule's header and the path the inner service saw.
async fn answer(rules: Rules, path: &str, cookie: Option<&str>) -> String {
    let app = ProxyLayer::new(pass).with_rules(rules).layer(echo_router());
    let mut builder = http::Request::get(path);
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    let response = send(&app, builder.body(Body::empty()).unwrap()).await;
    let status = response.status().as_u16();
    let location = header_values(&response, "location").join(",");
    let article = header_values(&response, "x-article").join(",");
    let body = body_string(response).await;
    let seen = serde_json::from_str::<serde_json::Value>(&body)
        .map(|echo| echo["path"].to_string())
        .unwrap_or_default();
    format!("{status} location={location} x-article={article} path={seen}")
}

#[tokio::test]
async fn next_config_rules_route_the_same_from_json_and_from_toml() {
    let config: RulesConfig = toml::from_str(RULES_TOML).expect("TOML loads");
    let from_toml = Rules::from_config(config).expect("TOML rules compile");
    let from_json = Rules::from_json(RULES_JSON).expect("JSON rules compile");
    let requests: &[(&str, Option<&str>)] = &[
        ("/blog/hello?ref=feed", None),
        ("/fr/blog/hello", None),
        ("/old/a/b", None),
        ("/team", Some("team=blue")),
        ("/team", None),
        ("/news/hello", None),
        ("/news/hello/", None),
        ("/docs/a", None),
        ("/anything", None),
    ];
    for (path, cookie) in requests {
        let json = answer(from_json.clone(), path, *cookie).await;
        let toml = answer(from_toml.clone(), path, *cookie).await;
        assert_eq!(json, toml, "{path} {cookie:?}");
    }
    // The answers are the rules' own, not a pass-through both configs would share.
    assert!(answer(from_toml.clone(), "/old/a/b", None)
        .await
        .starts_with("301 location=/docs/a/b"));
    assert!(answer(from_toml, "/docs/a", None)
        .await
        .ends_with("path=\"/api/docs/a\""));
}

#[test]
fn an_unknown_key_in_toml_is_refused_with_its_place() {
    let toml = "[[redirects]]\nsource = \"/a\"\ndestination = \"/b\"\npermanent = true\nperm = 1\n";
    let deserializer = toml::Deserializer::parse(toml).unwrap();
    let err = serde_path_to_error::deserialize::<_, RulesConfig>(deserializer).unwrap_err();
    assert_eq!(err.path().to_string(), "redirects[0].perm");
    assert!(err.inner().to_string().contains("unknown field `perm`"));
}
