//! Header rules of a forwarding proxy: hop-by-hop headers stay on their hop, the upstream
//! learns who asked (`X-Forwarded-*`), and `Host` names the destination.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::header::{
    HeaderName, HeaderValue, CONNECTION, HOST, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};
use http::request::Parts;
use http::HeaderMap;

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Removes the hop-by-hop headers (RFC 9110 §7.6.1): the ones `Connection` lists, then
/// `Connection` itself, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`,
/// `Transfer-Encoding` and `Upgrade`. They describe one connection, not the message.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in [
        &CONNECTION,
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &TE,
        &TRAILER,
        &TRANSFER_ENCODING,
        &UPGRADE,
    ] {
        headers.remove(name);
    }
}

/// What the upstream is told about the client, read from the request before its headers
/// are cleaned (a client's `Connection: host` must not hide its `Host`).
pub(crate) struct ClientSide {
    ip: Option<IpAddr>,
    host: Option<HeaderValue>,
    proto: &'static str,
}

impl ClientSide {
    pub(crate) fn of(parts: &Parts) -> Self {
        let host = parts.headers.get(HOST).cloned().or_else(|| {
            let authority = parts.uri.authority()?;
            HeaderValue::try_from(authority.as_str()).ok()
        });
        Self {
            ip: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
            host,
            proto: match parts.uri.scheme_str() {
                Some("https") => "https",
                _ => "http",
            },
        }
    }
}

/// Sets the headers an upstream sees, after the hop-by-hop ones are gone (so that a client's
/// `Connection: x-forwarded-for` cannot remove what the proxy adds):
///
/// - `X-Forwarded-For`: the client's values with the client's IP address appended, when the
///   server provides it (`ConnectInfo<SocketAddr>`); the client's values as they are
///   otherwise. Only the entries added by proxies the upstream trusts can be trusted.
/// - `X-Forwarded-Host`: the client's `Host` (or the request URI's authority).
/// - `X-Forwarded-Proto`: the request URI's scheme, `http` when it has none.
/// - `Host`: `destination` (an authority), or the client's when `keep_host` is set.
pub(crate) fn set_forwarded(
    headers: &mut HeaderMap,
    client: &ClientSide,
    destination: &HeaderValue,
    keep_host: bool,
) {
    if let Some(ip) = client.ip {
        let mut chain: Vec<&str> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        let ip = ip.to_string();
        chain.push(&ip);
        if let Ok(value) = HeaderValue::try_from(chain.join(", ")) {
            headers.insert(&X_FORWARDED_FOR, value);
        }
    }
    match &client.host {
        Some(host) => {
            headers.insert(&X_FORWARDED_HOST, host.clone());
        }
        None => {
            headers.remove(&X_FORWARDED_HOST);
        }
    }
    headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(client.proto));
    match (&client.host, keep_host) {
        (Some(host), true) => headers.insert(HOST, host.clone()),
        _ => headers.insert(HOST, destination.clone()),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_lists_are_removed() {
        let mut map = headers(&[
            ("connection", "keep-alive, X-Secret"),
            ("connection", "x-other"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-secret", "1"),
            ("x-other", "2"),
            ("x-kept", "3"),
            ("content-length", "10"),
        ]);
        remove_hop_by_hop(&mut map);
        let left: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["x-kept", "content-length"]);
    }

    #[test]
    fn a_connection_token_that_is_not_a_header_name_is_ignored() {
        let mut map = headers(&[
            ("connection", "not a name, , x-a"),
            ("x-a", "1"),
            ("x-b", "2"),
        ]);
        remove_hop_by_hop(&mut map);
        assert_eq!(
            map.keys().map(HeaderName::as_str).collect::<Vec<_>>(),
            ["x-b"]
        );
    }

    fn parts(uri: &str, host: Option<&str>, addr: Option<&str>) -> Parts {
        let mut builder = http::Request::get(uri);
        if let Some(host) = host {
            builder = builder.header(HOST, host);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        if let Some(addr) = addr {
            parts
                .extensions
                .insert(ConnectInfo::<SocketAddr>(addr.parse().unwrap()));
        }
        parts
    }

    #[test]
    fn forwarded_headers_name_the_client() {
        let parts = parts("/a", Some("app.example"), Some("10.0.0.7:5123"));
        let mut map = headers(&[("x-forwarded-for", "203.0.113.9"), ("host", "app.example")]);
        let destination = HeaderValue::from_static("backend.example:8080");
        set_forwarded(&mut map, &ClientSide::of(&parts), &destination, false);
        assert_eq!(map["x-forwarded-for"], "203.0.113.9, 10.0.0.7");
        assert_eq!(map["x-forwarded-host"], "app.example");
        assert_eq!(map["x-forwarded-proto"], "http");
        assert_eq!(map["host"], "backend.example:8080");
    }

    #[test]
    fn keep_host_and_no_client_address() {
        // An HTTP/2 request: the authority is in the URI, and `Host` is absent.
        let parts = parts("https://app.example/a", None, None);
        let mut map = headers(&[("x-forwarded-host", "spoofed")]);
        let destination = HeaderValue::from_static("backend.example");
        set_forwarded(&mut map, &ClientSide::of(&parts), &destination, true);
        assert!(map.get("x-forwarded-for").is_none());
        assert_eq!(map["x-forwarded-host"], "app.example");
        assert_eq!(map["x-forwarded-proto"], "https");
        assert_eq!(map["host"], "app.example");
    }
}
