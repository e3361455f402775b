//! `ProxyRequest::client_ip` behind 0, 1 and 2 trusted proxies, spoofed forwarding
//! headers, RFC 7239 `Forwarded`, `X-Real-IP`, IPv6 and IPv4-mapped peers, and the
//! `ip_allowlist` example with CIDR ranges: over a real server (`axum::serve` on
//! 127.0.0.1:0, hyper-util's client) and through `oneshot` where the peer must be another
//! address than loopback.

mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/ip_allowlist.rs"]
mod ip_allowlist;

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use common::*;
use http::StatusCode;
use serde_json::{json, Value};
use tower_proxy_fn::context::{ForwardedHeader, IpAllowlist, TrustedProxies};
use tower_proxy_fn::{ProxyFn, ProxyLayer, ProxyRequest, ProxyResponse, ProxyService};

/// Answers the client IP the proxy function sees, as JSON.
async fn whoami(req: ProxyRequest) -> ProxyResponse {
    ProxyResponse::json(
        StatusCode::OK,
        &json!({ "ip": req.client_ip().map(|ip| ip.to_string()) }),
    )
}

fn whoami_app(proxies: TrustedProxies) -> ProxyService<Router, impl ProxyFn> {
    ProxyLayer::new(whoami)
        .with_trusted_proxies(proxies)
        .layer(echo_router())
}

/// GET `path` with these header lines (repeated names stay separate lines).
async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let response = get_at(addr, path, headers).await;
    let status = response.status();
    (
        status,
        String::from_utf8(response.into_body().to_vec()).unwrap(),
    )
}

async fn ip_over_http(addr: SocketAddr, headers: &[(&str, &str)]) -> Value {
    let (status, body) = get_with(addr, "/", headers).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["ip"].clone()
}

/// The same through `oneshot`, with `peer` as the connection's address.
async fn ip_from_peer(proxies: TrustedProxies, peer: &str, headers: &[(&str, &str)]) -> Value {
    let mut builder = http::Request::get("/");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(Body::empty()).unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = send(&whoami_app(proxies), request).await;
    body_json(response).await["ip"].clone()
}

const SPOOFS: &[(&str, &str)] = &[
    ("x-forwarded-for", "203.0.113.66"),
    ("forwarded", "for=203.0.113.66"),
    ("x-real-ip", "203.0.113.66"),
];

#[tokio::test]
async fn no_trusted_proxy_ignores_every_forwarding_header() {
    let addr = serve_with_peer(whoami_app(TrustedProxies::none())).await;
    assert_eq!(ip_over_http(addr, &[]).await, "127.0.0.1");
    for spoof in SPOOFS {
        assert_eq!(
            ip_over_http(addr, &[*spoof]).await,
            "127.0.0.1",
            "{spoof:?}"
        );
    }
    assert_eq!(ip_over_http(addr, SPOOFS).await, "127.0.0.1");
    // hops(0) is the same as none().
    let addr = serve_with_peer(whoami_app(TrustedProxies::hops(0))).await;
    assert_eq!(ip_over_http(addr, SPOOFS).await, "127.0.0.1");
}

#[tokio::test]
async fn one_trusted_proxy_takes_the_right_most_address() {
    let addr = serve_with_peer(whoami_app(TrustedProxies::hops(1))).await;
    // Direct (no header): the peer.
    assert_eq!(ip_over_http(addr, &[]).await, "127.0.0.1");
    // The proxy appended the client's address to what the client sent.
    let chain = [("x-forwarded-for", "203.0.113.66, 198.51.100.23")];
    assert_eq!(ip_over_http(addr, &chain).await, "198.51.100.23");
    // The client's own line first, the proxy's line last: lines count in order.
    let lines = [
        ("x-forwarded-for", "203.0.113.66"),
        ("x-forwarded-for", "198.51.100.23"),
    ];
    assert_eq!(ip_over_http(addr, &lines).await, "198.51.100.23");
    // Other forwarding headers are not read.
    let others = [
        ("forwarded", "for=203.0.113.66"),
        ("x-real-ip", "203.0.113.66"),
    ];
    assert_eq!(ip_over_http(addr, &others).await, "127.0.0.1");
}

#[tokio::test]
async fn two_trusted_proxies_skip_one_header_hop() {
    let addr = serve_with_peer(whoami_app(TrustedProxies::hops(2))).await;
    // client spoof, real client (added by the CDN), CDN (added by the load balancer).
    let chain = [("x-forwarded-for", "203.0.113.66, 198.51.100.23, 192.0.2.10")];
    assert_eq!(ip_over_http(addr, &chain).await, "198.51.100.23");
    let lines = [
        ("x-forwarded-for", "203.0.113.66, 198.51.100.23"),
        ("x-forwarded-for", "192.0.2.10"),
    ];
    assert_eq!(ip_over_http(addr, &lines).await, "198.51.100.23");
    // Only one hop in the header: the left-most hop there is.
    let short = [("x-forwarded-for", "198.51.100.23")];
    assert_eq!(ip_over_http(addr, &short).await, "198.51.100.23");
}

#[tokio::test]
async fn trusted_addresses_stop_at_the_first_untrusted_hop() {
    let proxies =
        || TrustedProxies::addresses(IpAllowlist::parse(["127.0.0.0/8", "10.0.0.0/8"]).unwrap());
    let addr = serve_with_peer(whoami_app(proxies())).await;
    let chain = [(
        "x-forwarded-for",
        "203.0.113.66, 198.51.100.23, 10.1.2.3, 10.4.5.6",
    )];
    assert_eq!(ip_over_http(addr, &chain).await, "198.51.100.23");
    // All trusted: the left-most.
    let internal = [("x-forwarded-for", "10.9.9.9, 10.1.1.1")];
    assert_eq!(ip_over_http(addr, &internal).await, "10.9.9.9");

    // A peer outside the list is the client, whatever it sends.
    let spoofed = [("x-forwarded-for", "10.1.2.3")];
    assert_eq!(
        ip_from_peer(proxies(), "198.51.100.7:5000", &spoofed).await,
        "198.51.100.7"
    );
}

#[tokio::test]
async fn forwarded_rfc7239_nodes() {
    let proxies = || TrustedProxies::hops(1).with_header(ForwardedHeader::Forwarded);
    let addr = serve_with_peer(whoami_app(proxies())).await;
    let cases: &[(&str, Value)] = &[
        (
            r#"for=203.0.113.66, for="[2001:db8:cafe::17]:4711";proto=https"#,
            json!("2001:db8:cafe::17"),
        ),
        ("for=192.0.2.43:47011;by=203.0.113.60", json!("192.0.2.43")),
        (r#"For="[2001:db8::1]""#, json!("2001:db8::1")),
        (r#"for="[::ffff:192.0.2.9]""#, json!("192.0.2.9")),
        // Not addresses: no client IP rather than the proxy's.
        ("for=unknown", Value::Null),
        ("for=_hidden, for=192.0.2.1;by=_proxy", json!("192.0.2.1")),
        ("for=192.0.2.1, for=_hidden", Value::Null),
        ("proto=https", Value::Null),
    ];
    for (header, expected) in cases {
        assert_eq!(
            &ip_over_http(addr, &[("forwarded", header)]).await,
            expected,
            "{header}"
        );
    }
    // Two proxies: the second element from the right.
    let two = TrustedProxies::hops(2).with_header(ForwardedHeader::Forwarded);
    let header = [(
        "forwarded",
        "for=203.0.113.66, for=198.51.100.23, for=10.0.0.1",
    )];
    assert_eq!(
        ip_from_peer(two, "10.0.0.2:1", &header).await,
        "198.51.100.23"
    );
}

#[tokio::test]
async fn x_real_ip_from_one_proxy() {
    let proxies = TrustedProxies::hops(1).with_header(ForwardedHeader::XRealIp);
    let addr = serve_with_peer(whoami_app(proxies)).await;
    assert_eq!(
        ip_over_http(addr, &[("x-real-ip", "198.51.100.23")]).await,
        "198.51.100.23"
    );
    assert_eq!(
        ip_over_http(addr, &[("x-real-ip", " 2001:db8::5 ")]).await,
        "2001:db8::5"
    );
    // X-Forwarded-For is not what this proxy writes.
    assert_eq!(
        ip_over_http(addr, &[("x-forwarded-for", "198.51.100.23")]).await,
        "127.0.0.1"
    );
}

#[tokio::test]
async fn an_unparseable_hop_gives_no_ip_not_the_proxy() {
    let addr = serve_with_peer(whoami_app(TrustedProxies::hops(1))).await;
    for garbage in [
        "nonsense",
        "198.51.100.23, banana",
        "999.1.1.1",
        "[::1",
        "1.2.3.4:99999",
    ] {
        assert_eq!(
            ip_over_http(addr, &[("x-forwarded-for", garbage)]).await,
            Value::Null,
            "{garbage}"
        );
    }
    // An unparseable hop left of the client does not matter: the walk stopped before it.
    let chain = [("x-forwarded-for", "banana, 198.51.100.23")];
    assert_eq!(ip_over_http(addr, &chain).await, "198.51.100.23");
}

#[tokio::test]
async fn ipv6_and_ipv4_mapped_addresses() {
    // A dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d.
    assert_eq!(
        ip_from_peer(TrustedProxies::none(), "[::ffff:192.0.2.1]:4000", &[]).await,
        "192.0.2.1"
    );
    assert_eq!(
        ip_from_peer(TrustedProxies::none(), "[2001:db8::1]:4000", &[]).await,
        "2001:db8::1"
    );
    let xff = [("x-forwarded-for", "::ffff:198.51.100.23")];
    assert_eq!(
        ip_from_peer(TrustedProxies::hops(1), "[2001:db8::1]:1", &xff).await,
        "198.51.100.23"
    );
    let xff = [(
        "x-forwarded-for",
        "2001:db8:85a3::8a2e:370:7334, [2001:db8::9]:443",
    )];
    assert_eq!(
        ip_from_peer(TrustedProxies::hops(1), "[2001:db8::1]:1", &xff).await,
        "2001:db8::9"
    );
    // A trusted IPv4 range covers a mapped peer.
    let proxies = TrustedProxies::addresses(IpAllowlist::parse(["192.0.2.0/24"]).unwrap());
    let xff = [("x-forwarded-for", "198.51.100.23")];
    assert_eq!(
        ip_from_peer(proxies, "[::ffff:192.0.2.1]:4000", &xff).await,
        "198.51.100.23"
    );
}

#[tokio::test]
async fn without_connect_info() {
    // No peer: no IP by default, and addresses() cannot vouch for an unknown peer.
    let request = || {
        http::Request::get("/")
            .header("x-forwarded-for", "198.51.100.23")
            .body(Body::empty())
            .unwrap()
    };
    let none = send(&whoami_app(TrustedProxies::none()), request()).await;
    assert_eq!(body_json(none).await["ip"], Value::Null);
    let by_address = TrustedProxies::addresses(IpAllowlist::parse(["0.0.0.0/0"]).unwrap());
    let by_address = send(&whoami_app(by_address), request()).await;
    assert_eq!(body_json(by_address).await["ip"], Value::Null);
    // hops(1) counts the unseen peer as the proxy.
    let hops = send(&whoami_app(TrustedProxies::hops(1)), request()).await;
    assert_eq!(body_json(hops).await["ip"], "198.51.100.23");
}

// The `ip_allowlist` example, served as `cargo run --example ip_allowlist` serves it.

fn allow(list: &str) -> IpAllowlist {
    list.parse().unwrap()
}

#[tokio::test]
async fn allowlist_example_lets_listed_ranges_in() {
    let addr = serve_with_peer(ip_allowlist::app(
        allow("10.0.0.0/8, 127.0.0.0/8"),
        TrustedProxies::none(),
    ))
    .await;
    let (status, body) = get_with(addr, "/", &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "127.0.0.1 is on the list\n")
    );

    let addr = serve_with_peer(ip_allowlist::app(
        allow("10.0.0.0/8, ::1"),
        TrustedProxies::none(),
    ))
    .await;
    let (status, body) = get_with(addr, "/", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"error": "unauthorized", "ip": "127.0.0.1"})
    );
    // /health is not behind the list.
    let (status, body) = get_with(addr, "/health", &[]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
}

#[tokio::test]
async fn allowlist_example_is_not_fooled_by_a_spoofed_header() {
    // Only 10.0.0.0/8 is allowed; the client (127.0.0.1) claims to be 10.1.2.3.
    let addr = serve_with_peer(ip_allowlist::app(
        allow("10.0.0.0/8"),
        TrustedProxies::none(),
    ))
    .await;
    for spoof in [
        ("x-forwarded-for", "10.1.2.3"),
        ("forwarded", "for=10.1.2.3"),
        ("x-real-ip", "10.1.2.3"),
    ] {
        let (status, body) = get_with(addr, "/", &[spoof]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{spoof:?}: {body}");
        assert!(body.contains(r#""ip":"127.0.0.1""#), "{body}");
    }

    // Behind one trusted proxy, the proxy's right-most address decides, not the client's.
    let addr = serve_with_peer(ip_allowlist::app(
        allow("10.0.0.0/8"),
        TrustedProxies::hops(1),
    ))
    .await;
    let (status, _) = get_with(addr, "/", &[("x-forwarded-for", "10.1.2.3, 198.51.100.23")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) =
        get_with(addr, "/", &[("x-forwarded-for", "198.51.100.23, 10.1.2.3")]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "10.1.2.3 is on the list\n")
    );
}

#[tokio::test]
async fn allowlist_example_with_ipv6_ranges() {
    let app = ip_allowlist::app(allow("2001:db8::/32"), TrustedProxies::none());
    for (peer, expected) in [
        ("[2001:db8:1::5]:1000", StatusCode::OK),
        ("[2001:db9::5]:1000", StatusCode::UNAUTHORIZED),
        ("[::ffff:10.0.0.1]:1000", StatusCode::UNAUTHORIZED),
    ] {
        let mut request = http::Request::get("/").body(Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        assert_eq!(send(&app, request).await.status(), expected, "{peer}");
    }
    let app = ip_allowlist::app(allow("10.0.0.0/8"), TrustedProxies::none());
    let mut request = http::Request::get("/").body(Body::empty()).unwrap();
    request.extensions_mut().insert(ConnectInfo(
        "[::ffff:10.0.0.1]:1000".parse::<SocketAddr>().unwrap(),
    ));
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_string(response).await, "10.0.0.1 is on the list\n");
}

#[test]
fn allowlist_example_reads_trusted_proxies_from_the_environment_format() {
    let peer: Option<IpAddr> = Some("10.0.0.2".parse().unwrap());
    let mut headers = http::HeaderMap::new();
    headers.insert("x-forwarded-for", "198.51.100.23".parse().unwrap());
    let resolve = |value: &str| {
        ip_allowlist::trusted_proxies(value)
            .unwrap()
            .client_ip(peer, &headers)
    };
    assert_eq!(resolve(""), peer);
    assert_eq!(resolve("1"), Some("198.51.100.23".parse().unwrap()));
    assert_eq!(
        resolve("10.0.0.0/8"),
        Some("198.51.100.23".parse().unwrap())
    );
    assert_eq!(resolve("192.168.0.0/16"), peer);
    let err = ip_allowlist::trusted_proxies("10.0.0.0/33").unwrap_err();
    assert_eq!(
        err,
        r#"TRUSTED_PROXIES: invalid IP range "10.0.0.0/33": a /33 prefix is longer than the address (32 bits)"#
    );
}

#[tokio::test]
async fn the_configuration_reaches_chained_functions_and_read_body_mode() {
    use tower_proxy_fn::compose::chain;

    async fn first(_: ProxyRequest) -> ProxyResponse {
        ProxyResponse::next().request_header("x-step", "1")
    }
    let app = ProxyLayer::new(chain().then(first).then(whoami))
        .with_request_body(1024)
        .with_trusted_proxies(TrustedProxies::hops(1))
        .layer(echo_router());
    let mut request = http::Request::post("/")
        .header("x-forwarded-for", "198.51.100.23")
        .body(Body::from("payload"))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo("10.0.0.1:1".parse::<SocketAddr>().unwrap()));
    let response = send(&app, request).await;
    assert_eq!(body_json(response).await["ip"], "198.51.100.23");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Header text made of the characters forwarding headers are built from, plus noise.
    fn header_text() -> impl Strategy<Value = String> {
        proptest::string::string_regex(r#"[0-9a-fA-F:.,;=\[\]" _\\forwudnk]{0,60}"#).unwrap()
    }

    fn headers(lines: &[String]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (i, line) in lines.iter().enumerate() {
            let name = ["x-forwarded-for", "forwarded", "x-real-ip"][i % 3];
            map.append(name, line.parse().unwrap());
        }
        map
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Trusting nobody, or a peer outside the trusted ranges, nothing a client writes
        /// changes its IP; and no input panics.
        #[test]
        fn client_headers_cannot_move_an_untrusted_peer(lines in proptest::collection::vec(header_text(), 0..6)) {
            let map = headers(&lines);
            let peer: IpAddr = "198.51.100.7".parse().unwrap();
            prop_assert_eq!(TrustedProxies::none().client_ip(Some(peer), &map), Some(peer));
            let ranges = IpAllowlist::parse(["10.0.0.0/8"]).unwrap();
            for header in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded, ForwardedHeader::XRealIp] {
                let proxies = TrustedProxies::addresses(ranges.clone()).with_header(header);
                prop_assert_eq!(proxies.client_ip(Some(peer), &map), Some(peer));
                for hops in 1..4 {
                    // Any answer, but an answer: no panic.
                    let _ = TrustedProxies::hops(hops).with_header(header).client_ip(Some(peer), &map);
                }
            }
        }
    }
}
