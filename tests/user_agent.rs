//! `ProxyRequest::user_agent` (feature `user-agent`): a desktop browser on Windows and on
//! macOS, an iPhone, an iPad and an Android tablet and phone, Googlebot and Bingbot. The
//! expected values are what each string says of itself (its product tokens and platform
//! comment; the crawlers' strings as Google and Bing document them), not our output. Then
//! the `logging` example's access line.

mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/logging.rs"]
mod logging;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use common::*;
use http::StatusCode;
use serde_json::json;
use tower_proxy_fn::context::{Cdn, DeviceType, Software, TrustedProxies, UserAgent};
use tower_proxy_fn::{ProxyRequest, ProxyResponse};

fn named(software: &Option<Software>) -> Option<(&str, Option<&str>)> {
    software
        .as_ref()
        .map(|s| (s.name.as_str(), s.version.as_deref()))
}

struct Case {
    name: &'static str,
    ua: &'static str,
    is_bot: bool,
    browser: Option<(&'static str, Option<&'static str>)>,
    os_name_starts: Option<&'static str>,
    device: DeviceType,
    engine: Option<(&'static str, Option<&'static str>)>,
}

const CASES: &[Case] = &[
    Case {
        name: "Chrome 120 on Windows 10/11 (NT 10.0)",
        ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        is_bot: false,
        browser: Some(("Chrome", Some("120.0.0.0"))),
        os_name_starts: Some("Windows"),
        device: DeviceType::Desktop,
        engine: Some(("Blink", Some("120.0.0.0"))),
    },
    Case {
        // MDN's example string ("Browser detection using the user agent").
        name: "Firefox 138 on macOS",
        ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:138.0) Gecko/20100101 Firefox/138.0",
        is_bot: false,
        browser: Some(("Firefox", Some("138.0"))),
        os_name_starts: Some("Mac"),
        device: DeviceType::Desktop,
        engine: Some(("Gecko", Some("138.0"))),
    },
    Case {
        name: "Safari 17.1 on iPhone",
        ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        is_bot: false,
        browser: Some(("Safari", Some("17.1"))),
        os_name_starts: Some("iPhone"),
        device: DeviceType::Mobile,
        engine: Some(("WebKit", Some("605.1.15"))),
    },
    Case {
        name: "Safari 16.6 on iPad",
        ua: "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
        is_bot: false,
        browser: Some(("Safari", Some("16.6"))),
        os_name_starts: Some("iPad"),
        device: DeviceType::Tablet,
        engine: Some(("WebKit", Some("605.1.15"))),
    },
    Case {
        name: "Chrome on an Android tablet (no `Mobile` token)",
        ua: "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        is_bot: false,
        browser: Some(("Chrome", Some("120.0.0.0"))),
        os_name_starts: Some("Android"),
        device: DeviceType::Tablet,
        engine: Some(("Blink", Some("120.0.0.0"))),
    },
    Case {
        name: "Chrome on an Android phone",
        ua: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
        is_bot: false,
        browser: Some(("Chrome", Some("120.0.0.0"))),
        os_name_starts: Some("Android"),
        device: DeviceType::Mobile,
        engine: Some(("Blink", Some("120.0.0.0"))),
    },
    Case {
        // Google's documented Googlebot Desktop string (the compact form).
        name: "Googlebot",
        ua: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        is_bot: true,
        browser: Some(("Googlebot", None)),
        os_name_starts: None,
        device: DeviceType::Unknown,
        engine: None,
    },
    Case {
        // Google's documented Googlebot Smartphone string, `W.X.Y.Z` included.
        name: "Googlebot Smartphone",
        ua: "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/W.X.Y.Z Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        is_bot: true,
        browser: Some(("Googlebot", None)),
        os_name_starts: None,
        device: DeviceType::Unknown,
        engine: Some(("Blink", Some("W.X.Y.Z"))),
    },
    Case {
        // Bing's documented bingbot string.
        name: "Bingbot",
        ua: "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        is_bot: true,
        browser: Some(("bingbot", None)),
        os_name_starts: None,
        device: DeviceType::Unknown,
        engine: None,
    },
    Case {
        // Bing's evergreen desktop crawler string.
        name: "Bingbot, Chromium-based",
        ua: "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        is_bot: true,
        browser: Some(("bingbot", None)),
        os_name_starts: None,
        device: DeviceType::Unknown,
        engine: Some(("Blink", Some("116.0.1938.76"))),
    },
];

fn check(case: &Case, ua: &UserAgent) {
    let name = case.name;
    assert_eq!(ua.is_bot, case.is_bot, "{name}: is_bot");
    assert_eq!(named(&ua.browser), case.browser, "{name}: browser");
    let os = ua.os.as_ref().map(|os| os.name.as_str());
    match case.os_name_starts {
        Some(prefix) => assert!(
            os.is_some_and(|os| os.starts_with(prefix)),
            "{name}: os {os:?}"
        ),
        None => assert_eq!(os, None, "{name}: os"),
    }
    assert_eq!(ua.device, case.device, "{name}: device");
    assert_eq!(named(&ua.engine), case.engine, "{name}: engine");
}

#[test]
fn parsed_strings() {
    for case in CASES {
        check(case, &UserAgent::parse(case.ua));
    }
}

#[test]
fn nothing_known_from_nothing() {
    for ua in ["", "-", "\u{1}\u{2}", "x"] {
        let parsed = UserAgent::parse(ua);
        assert!(!parsed.is_bot, "{ua:?}");
        assert_eq!(parsed.device, DeviceType::Unknown, "{ua:?}");
        assert_eq!(parsed.browser, None, "{ua:?}");
    }
}

/// The function answers what `req.user_agent()` says, so the layer's lazily parsed value
/// is the one checked.
async fn describe(req: ProxyRequest) -> ProxyResponse {
    let ua = req.user_agent();
    ProxyResponse::json(
        StatusCode::OK,
        &json!({
            "is_bot": ua.is_bot,
            "browser": ua.browser.as_ref().map(|b| &b.name),
            "device": format!("{:?}", ua.device),
        }),
    )
}

#[tokio::test]
async fn through_the_layer() {
    let app = wrap(describe);
    for case in CASES {
        let request = http::Request::get("/")
            .header("user-agent", case.ua)
            .body(Body::empty())
            .unwrap();
        let answer = body_json(send(&app, request).await).await;
        assert_eq!(answer["is_bot"], case.is_bot, "{}", case.name);
        assert_eq!(
            answer["browser"],
            json!(case.browser.map(|b| b.0)),
            "{}",
            case.name
        );
        assert_eq!(
            answer["device"],
            format!("{:?}", case.device),
            "{}",
            case.name
        );
    }
    // No header at all.
    let answer = body_json(send(&app, get_req("/")).await).await;
    assert_eq!(
        answer,
        json!({"is_bot": false, "browser": null, "device": "Unknown"})
    );
}

// The `logging` example.

async fn logged(
    app: &tower_proxy_fn::ProxyService<axum::Router, impl tower_proxy_fn::ProxyFn>,
    request: http::Request<Body>,
) -> (StatusCode, String) {
    let capture = LogCapture::default();
    let _guard = tracing::subscriber::set_default(capture.subscriber());
    let status = send(app, request).await.status();
    (status, capture.contents())
}

fn request(path: &str, peer: &str, headers: &[(&str, &str)]) -> http::Request<Body> {
    let mut builder = http::Request::get(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    request
}

#[tokio::test(flavor = "current_thread")]
async fn logging_example_writes_one_access_line() {
    let app = logging::app(Some(Cdn::Vercel), TrustedProxies::hops(1));
    let (status, log) = logged(
        &app,
        request(
            "/hello",
            "10.0.0.1:5000",
            &[
                ("user-agent", CASES[2].ua),
                ("x-forwarded-for", "203.0.113.66, 198.51.100.23"),
                ("x-vercel-ip-country", "US"),
                ("x-vercel-ip-country-region", "CA"),
                ("x-vercel-ip-city", "San%20Francisco"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("access")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    let line = lines[0];
    for field in [
        "ip=\"198.51.100.23\"",
        "country=\"US\"",
        "region=\"CA\"",
        "city=\"San Francisco\"",
        "method=GET",
        "path=\"/hello\"",
        "browser=\"Safari\"",
        "device=Mobile",
        "bot=false",
        "outcome=\"next\"",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    assert!(
        line.contains("iPhone OS 17_1"),
        "the raw user agent: {line}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn logging_example_keeps_bots_out_of_account_and_logs_why() {
    let app = logging::app(None, TrustedProxies::none());
    let googlebot = [("user-agent", CASES[6].ua)];
    let (status, log) = logged(&app, request("/account", "192.0.2.4:1", &googlebot)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(log.contains("outcome=\"respond 403\""), "{log}");
    assert!(log.contains("bot=true"), "{log}");
    assert!(log.contains("ip=\"192.0.2.4\""), "{log}");
    // Geo is not configured: the Vercel headers a client sends are not logged as geo.
    let spoof = [("user-agent", CASES[0].ua), ("x-vercel-ip-country", "KP")];
    let (status, log) = logged(&app, request("/account", "192.0.2.4:1", &spoof)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!log.contains("country="), "{log}");
    assert!(log.contains("outcome=\"next\""), "{log}");

    let (status, log) = logged(&app, request("/old", "192.0.2.4:1", &[])).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    assert!(log.contains("outcome=\"redirect /hello\""), "{log}");
}
