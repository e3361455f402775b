//! Fail closed (issue 18) for external rewrites: what the upstream is told about the client.
//! `X-Forwarded-Proto` comes from configuration, not from the request target; only a valid
//! authority becomes `X-Forwarded-Host`; proxy credentials are not forwarded, either way.
//! A real upstream and a real proxy server on loopback; the client writes raw HTTP/1.1 so
//! that it can send what a browser would not.
#![cfg(feature = "external")]

mod common;

use std::net::SocketAddr;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::Router;
use common::*;
use tower_proxy_fn::external::Upstreams;
use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};

/// The echo handler, answering with proxy headers of its own that must not reach the client.
async fn upstream_echo(request: Request) -> Response {
    let mut response = echo(request).await.into_response();
    let headers = response.headers_mut();
    headers.insert(
        "proxy-authenticate",
        "Basic realm=\"upstream\"".parse().unwrap(),
    );
    headers.insert("x-upstream", "u".parse().unwrap());
    response
}

async fn start_upstream() -> SocketAddr {
    serve(Router::new().fallback(upstream_echo)).await
}

/// A proxy server that rewrites `/up/<rest>` to the upstream, configured by `upstreams`.
async fn start_proxy(upstream: SocketAddr, upstreams: Upstreams) -> SocketAddr {
    let proxy = move |req: ProxyRequest| async move {
        let rest = req.path().strip_prefix("/up").unwrap_or("/");
        ProxyResponse::rewrite(format!("http://{upstream}{rest}"))
    };
    serve_with_peer(
        ProxyLayer::new(proxy)
            .with_external(upstreams)
            .layer(Router::new()),
    )
    .await
}

fn allow(upstream: SocketAddr) -> Upstreams {
    Upstreams::new()
        .allow(&format!("http://{upstream}"))
        .unwrap()
}

fn request(target: &str, host: &str, extra: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")
}

#[tokio::test]
async fn an_absolute_https_target_does_not_set_the_forwarded_proto() {
    let upstream = start_upstream().await;
    let proxy = start_proxy(upstream, allow(upstream)).await;
    for target in ["https://app.test/up/echo", "/up/echo"] {
        let answer = raw_exchange(
            proxy,
            &request(target, "app.test", "X-Forwarded-Proto: https\r\n"),
        )
        .await;
        assert_eq!(raw_status(&answer), 200, "{answer}");
        let seen = raw_json(&answer);
        assert_eq!(seen["path"], "/echo", "{target}");
        assert_eq!(
            echoed_header(&seen, "x-forwarded-proto"),
            ["http"],
            "{target}"
        );
    }
}

#[tokio::test]
async fn the_forwarded_proto_is_the_configured_one() {
    let upstream = start_upstream().await;
    let proxy = start_proxy(upstream, allow(upstream).with_forwarded_proto("https")).await;
    let answer = raw_exchange(proxy, &request("/up/echo", "app.test", "")).await;
    let seen = raw_json(&answer);
    assert_eq!(echoed_header(&seen, "x-forwarded-proto"), ["https"]);
}

/// A `Host` that is not an authority never reaches the upstream as `X-Forwarded-Host`, and
/// neither does the client's own `X-Forwarded-Host`. (The layer may also refuse such a
/// request outright: a 400 is as good, as long as the upstream is not told.)
#[tokio::test]
async fn x_forwarded_host_is_never_unvalidated() {
    let upstream = start_upstream().await;
    for keep_host in [false, true] {
        let proxy = start_proxy(upstream, allow(upstream).with_client_host(keep_host)).await;
        for host in [
            "a@evil.example",
            "h/public?",
            "h?a=x#",
            "h#",
            "evil.example:x",
        ] {
            let answer = raw_exchange(
                proxy,
                &request("/up/echo", host, "X-Forwarded-Host: spoofed.example\r\n"),
            )
            .await;
            let status = raw_status(&answer);
            if status == 400 {
                continue;
            }
            assert_eq!(status, 200, "{host}: {answer}");
            let seen = raw_json(&answer);
            assert_eq!(
                echoed_header(&seen, "x-forwarded-host"),
                Vec::<String>::new(),
                "{host}"
            );
            assert_eq!(
                echoed_header(&seen, "host"),
                [upstream.to_string()],
                "{host}, keep_host {keep_host}"
            );
        }
        // A valid one replaces the client's `X-Forwarded-Host`.
        let answer = raw_exchange(
            proxy,
            &request(
                "/up/echo",
                "app.test:8080",
                "X-Forwarded-Host: spoofed.example\r\n",
            ),
        )
        .await;
        let seen = raw_json(&answer);
        assert_eq!(echoed_header(&seen, "x-forwarded-host"), ["app.test:8080"]);
    }
}

#[tokio::test]
async fn proxy_credentials_are_not_forwarded_either_way() {
    let upstream = start_upstream().await;
    let proxy = start_proxy(upstream, allow(upstream)).await;
    let answer = raw_exchange(
        proxy,
        &request(
            "/up/echo",
            "app.test",
            "Proxy-Authorization: Basic dTpw\r\nAuthorization: Bearer t\r\n",
        ),
    )
    .await;
    assert_eq!(raw_status(&answer), 200, "{answer}");
    let seen = raw_json(&answer);
    assert_eq!(
        echoed_header(&seen, "proxy-authorization"),
        Vec::<String>::new()
    );
    assert_eq!(echoed_header(&seen, "authorization"), ["Bearer t"]);
    let head = &answer[..answer.find("\r\n\r\n").unwrap()].to_ascii_lowercase();
    assert!(head.contains("\r\nx-upstream: u"), "{head}");
    assert!(!head.contains("proxy-authenticate"), "{head}");
}
