//! Compiling matcher configs: any text as a `config` JSON object and as path sources.
//! Property: compilation returns `Ok` or `Err`, never panics, and a compiled matcher can
//! be asked about a request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_proxy_fn::Matcher;

fuzz_target!(|text: &str| {
    let probe = http::Request::get("/a/b").body(()).unwrap();
    if let Ok(matcher) = Matcher::from_json(text) {
        let _ = matcher.matches(&probe);
    }
    // The same text as one source, and split into several (newline-separated).
    if let Ok(matcher) = Matcher::new([text]) {
        let _ = matcher.matches(&probe);
    }
    if let Ok(matcher) = Matcher::new(text.lines()) {
        let _ = matcher.matches(&probe);
    }
    // As a string matcher inside a config object, so the JSON layer never hides it.
    let config = serde_json::json!({ "matcher": text }).to_string();
    if let Ok(matcher) = Matcher::from_json(&config) {
        let _ = matcher.matches(&probe);
    }
});
