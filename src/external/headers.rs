//! Header rules of a forwarding proxy: hop-by-hop headers (and proxy credentials) stay on
//! their hop, the upstream learns who asked (`X-Forwarded-*`), and `Host` names the
//! destination.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::header::{
    HeaderName, HeaderValue, CONNECTION, HOST, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE,
    TRAILER, TRANSFER_ENCODING, UPGRADE,
};
use http::request::Parts;
use http::uri::Authority;
use http::HeaderMap;

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static PROXY_AUTHENTICATION_INFO: HeaderName = HeaderName::from_static("proxy-authentication-info");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Removes the hop-by-hop headers (RFC 9110 §7.6.1): the ones `Connection` lists, then
/// `Connection` itself, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`,
/// `Transfer-Encoding` and `Upgrade`. They describe one connection, not the message.
///
/// Also the proxy authentication headers, `Proxy-Authorization`, `Proxy-Authenticate` and
/// `Proxy-Authentication-Info` (RFC 9110 §11.7, RFC 7615 §4): they are between a client and
/// the proxy it was told to authenticate to, and this layer is not such a proxy, so a
/// client's proxy credentials must not reach an upstream, and an upstream must not ask the
/// client for them.
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
        &PROXY_AUTHORIZATION,
        &PROXY_AUTHENTICATE,
        &PROXY_AUTHENTICATION_INFO,
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
    /// The client's `Host` (or the request URI's authority), only when it is a strict
    /// authority (see [`strict_authority`]).
    host: Option<HeaderValue>,
    proto: &'static str,
}

impl ClientSide {
    /// `proto` is the configured scheme clients use ([`Upstreams::forwarded_proto`]): the
    /// request says nothing trustworthy about it. An absolute-form target
    /// (`GET https://app.example/ HTTP/1.1`) is the client's text, and a plain-HTTP client
    /// may write `https` there.
    ///
    /// [`Upstreams::forwarded_proto`]: super::Upstreams::forwarded_proto
    pub(crate) fn of(parts: &Parts, proto: &'static str) -> Self {
        let host = match parts.headers.get(HOST) {
            Some(host) => Some(host.clone()),
            None => parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::try_from(a.as_str()).ok()),
        }
        .filter(strict_authority);
        Self {
            ip: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
            host,
            proto,
        }
    }
}

/// Whether a `Host` value is an authority an upstream may take at its word: `host[:port]`
/// that [`Authority`] parses into a host and a numeric port and nothing else, without
/// `/ ? # @`. `Authority` lets user information through (`a@evil.example`) and a port that
/// is not a number (`h:x`); either would end or move the host in a URL the upstream builds
/// from it (`https://${x-forwarded-host}/...`).
fn strict_authority(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.iter().any(|b| matches!(b, b'/' | b'?' | b'#' | b'@')) {
        return false;
    }
    let Ok(authority) = Authority::try_from(bytes) else {
        return false;
    };
    // Everything is accounted for by the host and a port that parsed as a number.
    let port_len = authority.port().map_or(0, |port| port.as_str().len() + 1);
    !authority.host().is_empty() && authority.host().len() + port_len == bytes.len()
}

/// Sets the headers an upstream sees, after the hop-by-hop ones are gone (so that a client's
/// `Connection: x-forwarded-for` cannot remove what the proxy adds):
///
/// - `X-Forwarded-For`: the client's values with the client's IP address appended, when the
///   server provides it (`ConnectInfo<SocketAddr>`); the client's values as they are
///   otherwise. Only the entries added by proxies the upstream trusts can be trusted.
/// - `X-Forwarded-Host`: the client's `Host` (or the request URI's authority) when it is a
///   strict authority; removed otherwise, so the client's own value never passes.
/// - `X-Forwarded-Proto`: the configured scheme, whatever the client sent.
/// - `Host`: `destination` (an authority), or the client's when `keep_host` is set and the
///   client's is a strict authority.
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
        set_forwarded(
            &mut map,
            &ClientSide::of(&parts, "http"),
            &destination,
            false,
        );
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
        set_forwarded(
            &mut map,
            &ClientSide::of(&parts, "https"),
            &destination,
            true,
        );
        assert!(map.get("x-forwarded-for").is_none());
        assert_eq!(map["x-forwarded-host"], "app.example");
        assert_eq!(map["x-forwarded-proto"], "https");
        assert_eq!(map["host"], "app.example");
    }

    /// A plain-HTTP client that writes its request target in absolute form with `https`
    /// does not make the upstream believe the connection was encrypted.
    #[test]
    fn the_proto_comes_from_configuration_not_from_the_request_target() {
        let parts = parts("https://app.example/a", Some("app.example"), None);
        for (configured, want) in [("http", "http"), ("https", "https")] {
            let mut map = headers(&[("x-forwarded-proto", "https")]);
            let destination = HeaderValue::from_static("backend.example");
            set_forwarded(
                &mut map,
                &ClientSide::of(&parts, configured),
                &destination,
                false,
            );
            assert_eq!(map["x-forwarded-proto"], want, "configured {configured}");
        }
        let plain = parts_of("http://app.example/a");
        let mut map = headers(&[("x-forwarded-proto", "https")]);
        let destination = HeaderValue::from_static("backend.example");
        set_forwarded(
            &mut map,
            &ClientSide::of(&plain, "https"),
            &destination,
            false,
        );
        assert_eq!(map["x-forwarded-proto"], "https");
    }

    fn parts_of(uri: &str) -> Parts {
        parts(uri, None, None)
    }

    /// Only a strictly valid authority becomes `X-Forwarded-Host`; otherwise the header is
    /// removed, the client's own `X-Forwarded-Host` included.
    #[test]
    fn x_forwarded_host_is_a_valid_authority_or_absent() {
        let valid = [
            "app.example",
            "app.example:8080",
            "127.0.0.1:3000",
            "[::1]:80",
        ];
        // The headers sent upstream for a client `Host`, with the client's `Host` kept or not.
        let forwarded = |host: &str, keep_host: bool| {
            let parts = parts("/a", Some(host), None);
            let mut map = headers(&[("x-forwarded-host", "spoofed.example")]);
            let destination = HeaderValue::from_static("backend.example");
            set_forwarded(
                &mut map,
                &ClientSide::of(&parts, "http"),
                &destination,
                keep_host,
            );
            map
        };
        for host in valid {
            assert_eq!(forwarded(host, false)["x-forwarded-host"], host);
        }
        let invalid = [
            "a@evil.example",
            "user:pw@evil.example",
            "h/public",
            "h?a=x",
            "h#",
            "h:port",
            "h:",
            "h:99999",
            ":80",
            "",
            "h h",
            "h\\evil.example",
        ];
        for host in invalid {
            let map = forwarded(host, true);
            assert!(map.get("x-forwarded-host").is_none(), "{host:?}");
            // `keep_host` does not send it either: the destination's authority goes instead.
            assert_eq!(map["host"], "backend.example", "{host:?}");
        }
        // Not UTF-8: not an authority.
        let mut parts = parts("/a", None, None);
        parts
            .headers
            .insert(HOST, HeaderValue::from_bytes(b"caf\xe9.example").unwrap());
        let mut map = headers(&[("x-forwarded-host", "spoofed.example")]);
        let destination = HeaderValue::from_static("backend.example");
        set_forwarded(
            &mut map,
            &ClientSide::of(&parts, "http"),
            &destination,
            false,
        );
        assert!(map.get("x-forwarded-host").is_none());
    }

    /// Credentials for a proxy are for the hop that asked for them.
    #[test]
    fn proxy_credentials_stay_on_their_hop() {
        let mut map = headers(&[
            ("proxy-authorization", "Basic dTpw"),
            ("proxy-authenticate", "Basic realm=\"p\""),
            ("proxy-authentication-info", "nextnonce=\"x\""),
            ("authorization", "Bearer t"),
        ]);
        remove_hop_by_hop(&mut map);
        assert_eq!(
            map.keys().map(HeaderName::as_str).collect::<Vec<_>>(),
            ["authorization"]
        );
    }
}
