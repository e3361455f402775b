//! next.config routing rules: arbitrary `headers`, `redirects` and `rewrites` (before, after
//! and fallback), `trailingSlash` and `i18n`, compiled and run around a proxy function for
//! arbitrary request targets.
//! Properties: no panic, at compile time or at request time; every redirect the rules answer
//! carries a `Location`; the same request gets the same status twice.
#![no_main]

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::response::Response;
use http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use tower::{service_fn, Layer, ServiceExt};
use tower_proxy_fn::rules::Rules;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

#[derive(Arbitrary, Debug)]
struct Rule {
    /// 0: headers, 1: redirects, 2: beforeFiles, 3: afterFiles, 4: fallback.
    kind: u8,
    source: String,
    destination: String,
    /// A `has` header condition on this key, when given.
    has_header: Option<String>,
    permanent: bool,
    locale_false: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    rules: Vec<Rule>,
    trailing_slash: Option<bool>,
    locales: Vec<String>,
    /// Path and query as sent (not necessarily a valid URI).
    targets: Vec<String>,
    /// Paths for which the inner service answers 404, so that `afterFiles` and `fallback`
    /// rewrites run.
    missing_prefix: String,
}

fn config(input: &Input) -> Value {
    let (mut headers, mut redirects) = (Vec::new(), Vec::new());
    let (mut before, mut after, mut fallback) = (Vec::new(), Vec::new(), Vec::new());
    for rule in &input.rules {
        let mut item = json!({ "source": rule.source });
        if let Some(key) = &rule.has_header {
            item["has"] = json!([{ "type": "header", "key": key }]);
        }
        if rule.locale_false {
            item["locale"] = Value::Bool(false);
        }
        match rule.kind % 5 {
            0 => {
                item["headers"] = json!([{ "key": rule.destination, "value": rule.source }]);
                headers.push(item);
            }
            1 => {
                item["destination"] = Value::String(rule.destination.clone());
                item["permanent"] = Value::Bool(rule.permanent);
                redirects.push(item);
            }
            kind => {
                item["destination"] = Value::String(rule.destination.clone());
                [&mut before, &mut after, &mut fallback][usize::from(kind - 2)].push(item);
            }
        }
    }
    let mut config = json!({
        "headers": headers,
        "redirects": redirects,
        "rewrites": { "beforeFiles": before, "afterFiles": after, "fallback": fallback },
    });
    if let Some(trailing_slash) = input.trailing_slash {
        config["trailingSlash"] = Value::Bool(trailing_slash);
    }
    if let Some(default) = input.locales.first() {
        config["i18n"] = json!({ "locales": input.locales, "defaultLocale": default });
    }
    config
}

async fn proxy(_: ProxyRequest) -> ProxyResponse {
    ProxyResponse::next()
}

/// Drives a future that never waits (everything here answers at once); `None` if it did.
fn run<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    (0..1_000).find_map(|_| match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    })
}

fuzz_target!(|input: Input| {
    let Ok(rules) = Rules::from_json(&config(&input).to_string()) else {
        return;
    };
    let missing = input.missing_prefix.clone();
    let inner = service_fn(move |request: Request<Body>| {
        let found = missing.is_empty() || !request.uri().path().starts_with(missing.as_str());
        async move {
            let mut response = Response::new(Body::empty());
            if !found {
                *response.status_mut() = StatusCode::NOT_FOUND;
            }
            Ok::<_, Infallible>(response)
        }
    });
    let service = ProxyLayer::new(proxy).with_rules(rules).layer(inner);
    for target in &input.targets {
        let status = |service| {
            let request = Request::get(target.as_str()).body(Body::empty()).ok()?;
            let response: Response = run(ServiceExt::oneshot(service, request))?.ok()?;
            if response.status().is_redirection() {
                assert!(
                    response.headers().contains_key(http::header::LOCATION),
                    "a redirect without Location for {target:?}"
                );
            }
            Some(response.status())
        };
        let first = status(service.clone());
        assert_eq!(
            first,
            status(service.clone()),
            "not deterministic on {target:?}"
        );
    }
});
