//! The config types deserialize from any serde format.

use tower_proxy_fn::matcher::MatcherConfig;
use tower_proxy_fn::Matcher;

fn request(path: &str, auth: Option<&str>) -> http::Request<()> {
    let mut builder = http::Request::get(path);
    if let Some(auth) = auth {
        builder = builder.header("authorization", auth);
    }
    builder.body(()).unwrap()
}

#[test]
fn a_config_deserialized_with_serde_compiles_and_matches() {
    let config: MatcherConfig = serde_json::from_value(serde_json::json!({
        "matcher": ["/about/:path*", {"source": "/api/:path*", "has": [{"type": "header", "key": "authorization"}]}]
    }))
    .unwrap();
    let matcher = Matcher::from_config(config).unwrap();
    assert!(matcher.matches(&request("/about/team", None)));
    assert!(!matcher.matches(&request("/api/x", None)));
    assert!(matcher.matches(&request("/api/x", Some("Bearer t"))));
}

#[test]
fn serde_refuses_unknown_keys() {
    let parsed = serde_json::from_value::<MatcherConfig>(serde_json::json!({
        "matcher": [{"source": "/a", "sorce": "/b"}]
    }));
    assert!(parsed.is_err());
}
