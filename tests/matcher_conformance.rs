//! Every case of `tests/fixtures/nextjs-matcher-cases.json` (decisions
//! computed with Next.js's own matcher) must get the same answer.

use serde_json::Value;
use tower_proxy_fn::matcher::Matcher;

#[test]
fn nextjs_matcher_cases() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/nextjs-matcher-cases.json"
    ))
    .expect("fixture present");
    let doc: Value = serde_json::from_str(&text).expect("fixture is JSON");
    let cases = doc["cases"].as_array().expect("cases array");
    assert_eq!(cases.len(), 2354, "case count");

    let mut failures = Vec::new();
    let mut compiled: std::collections::HashMap<String, Matcher> = Default::default();
    for case in cases {
        let id = &case["id"];
        let config = serde_json::to_string(&case["config"]).expect("config");
        let url = case["url"].as_str().expect("url");
        let expected = case["expected"].as_bool().expect("expected");
        let matcher = match compiled
            .get(&config)
            .cloned()
            .map_or_else(|| Matcher::from_json(&config), Ok)
        {
            Ok(m) => {
                compiled.insert(config.clone(), m.clone());
                m
            }
            Err(e) => {
                failures.push(format!("#{id} {config}: does not compile: {e}"));
                continue;
            }
        };
        let mut builder = http::Request::builder().uri(url);
        if let Some(headers) = case["headers"].as_object() {
            for (k, v) in headers {
                builder = builder.header(k.as_str(), v.as_str().expect("header value"));
            }
        }
        if let Some(cookies) = case["cookies"].as_object()
            && !cookies.is_empty()
        {
            let line = cookies
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().expect("cookie value")))
                .collect::<Vec<_>>()
                .join("; ");
            builder = builder.header("cookie", line);
        }
        let request = builder.body(()).expect("request");
        let got = matcher.matches(&request);
        if got != expected {
            failures.push(format!(
                "#{id} config={config} url={url} headers={} cookies={}: expected {expected}, got {got}",
                case["headers"], case["cookies"]
            ));
        }
    }
    for f in failures.iter().take(20) {
        eprintln!("{f}");
    }
    assert_eq!(
        failures.len(),
        0,
        "{} of {} cases differ",
        failures.len(),
        cases.len()
    );
}
