//! Matching requests: sources with `has`/`missing` conditions against arbitrary paths,
//! queries, headers, cookies and hosts.
//! Properties: no panic; `matches` agrees with `select`; the answer is the same twice.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use tower_proxy_fn::matcher::Selection;
use tower_proxy_fn::Matcher;

#[derive(Arbitrary, Debug)]
struct Condition {
    missing: bool,
    kind: u8,
    key: String,
    value: Option<String>,
}

#[derive(Arbitrary, Debug)]
struct Entry {
    source: String,
    conditions: Vec<Condition>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    entries: Vec<Entry>,
    /// Path and query as sent (not necessarily a valid URI).
    targets: Vec<String>,
    headers: Vec<(String, Vec<u8>)>,
}

fn entry_json(entry: &Entry) -> Value {
    if entry.conditions.is_empty() {
        return Value::String(entry.source.clone());
    }
    let mut has = Vec::new();
    let mut missing = Vec::new();
    for c in &entry.conditions {
        let kind = ["header", "query", "cookie", "host"][usize::from(c.kind % 4)];
        let mut item = if kind == "host" {
            json!({ "type": kind, "value": c.value.clone().unwrap_or_default() })
        } else {
            json!({ "type": kind, "key": c.key })
        };
        if let (Some(value), true) = (&c.value, kind != "host") {
            item["value"] = Value::String(value.clone());
        }
        if c.missing {
            missing.push(item);
        } else {
            has.push(item);
        }
    }
    json!({ "source": entry.source, "has": has, "missing": missing })
}

fuzz_target!(|input: Input| {
    let config = json!({ "matcher": input.entries.iter().map(entry_json).collect::<Vec<_>>() });
    let Ok(matcher) = Matcher::from_json(&config.to_string()) else {
        return;
    };
    for target in &input.targets {
        let mut builder = http::Request::get(target.as_str());
        for (name, value) in &input.headers {
            builder = builder.header(name.as_str(), value.as_slice());
        }
        let Ok(request) = builder.body(()) else {
            continue;
        };
        let hit = matcher.matches(&request);
        let selected = matches!(matcher.select(&request), Selection::Run(_));
        assert_eq!(hit, selected, "matches and select disagree on {target:?}");
        assert_eq!(hit, matcher.matches(&request), "not deterministic on {target:?}");
    }
});
