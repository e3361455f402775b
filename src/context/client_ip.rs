//! The client's IP address: the connection's peer, or a forwarding header written by
//! proxies the application trusts.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, HeaderValue};

use super::ip_range::IpAllowlist;

/// Which proxies in front of the application may say who the client is, and in which
/// header. The default trusts none: the client IP is the connection's peer address and
/// every forwarding header is ignored, whatever the client sends.
///
/// A request's path through proxies is a chain of hops, the client first: the addresses
/// the header lists, left to right, then the peer of the connection. Walking it from the
/// right, every trusted hop is skipped; the first one that is not trusted is the client.
///
/// - [`hops(n)`](Self::hops): the application sits behind exactly `n` proxies. The peer is
///   the first of them; the client is the `n`-th address from the right of the header.
///   Only right when every request passes through all `n` proxies.
/// - [`addresses(list)`](Self::addresses): hops whose address is in `list` are proxies.
///   A peer that is not in the list is the client, and the header is not read at all.
///
/// When every hop is trusted (the chain is shorter than `n`, or all its addresses are
/// proxies), the left-most hop is the answer. A hop that is not an address (garbage,
/// `unknown`, an obfuscated RFC 7239 name) ends the walk with **no** client IP (`None`)
/// rather than the peer's: the peer is a proxy, and mistaking it for the client could let
/// a request through an allow-list that names the proxy's network.
///
/// ```
/// use std::net::IpAddr;
/// use http::HeaderMap;
/// use tower_proxy_fn::context::{ForwardedHeader, IpAllowlist, TrustedProxies};
///
/// let peer: IpAddr = "10.0.0.2".parse()?;
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", "198.51.100.9, 203.0.113.7".parse()?);
///
/// // Trusting nobody, the header is ignored.
/// assert_eq!(TrustedProxies::none().client_ip(Some(peer), &headers), Some(peer));
/// // One proxy (the peer): the right-most address is the client.
/// assert_eq!(
///     TrustedProxies::hops(1).client_ip(Some(peer), &headers),
///     Some("203.0.113.7".parse()?)
/// );
/// // Proxies by address: 203.0.113.7 is not one of them, so it is the client.
/// let proxies = TrustedProxies::addresses(IpAllowlist::parse(["10.0.0.0/8"])?);
/// assert_eq!(proxies.client_ip(Some(peer), &headers), Some("203.0.113.7".parse()?));
///
/// // RFC 7239 `Forwarded` instead of `X-Forwarded-For`.
/// let mut headers = HeaderMap::new();
/// headers.insert("forwarded", r#"for="[2001:db8::1]:4711";proto=https"#.parse()?);
/// let proxies = TrustedProxies::hops(1).with_header(ForwardedHeader::Forwarded);
/// assert_eq!(proxies.client_ip(Some(peer), &headers), Some("2001:db8::1".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    trust: Trust,
    header: ForwardedHeader,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Trust {
    #[default]
    Nobody,
    Hops(usize),
    Addresses(IpAllowlist),
}

/// The header that the trusted proxies write the client's address into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`: each proxy appends the address it got
    /// the request from. Every header line counts, in order.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1;proto=https`: the `for` parameter of
    /// each element. IPv6 is written quoted and bracketed (`for="[2001:db8::1]:4711"`);
    /// `for=unknown` and obfuscated names (`for=_hidden`) are hops without an address.
    Forwarded,
    /// `X-Real-IP: client`: one address set by the proxy (nginx's `$remote_addr`). Several
    /// lines are read as a chain, like `X-Forwarded-For`.
    XRealIp,
}

impl ForwardedHeader {
    /// The header's name, lower case.
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
            Self::XRealIp => "x-real-ip",
        }
    }
}

impl TrustedProxies {
    /// Trust no proxy: the client IP is the connection's peer (the default).
    pub fn none() -> Self {
        Self::default()
    }

    /// The application sits behind `count` proxies (`0` is [`none`](Self::none)).
    pub fn hops(count: usize) -> Self {
        let trust = if count == 0 {
            Trust::Nobody
        } else {
            Trust::Hops(count)
        };
        Self {
            trust,
            ..Self::default()
        }
    }

    /// The proxies are the hosts in `proxies`.
    pub fn addresses(proxies: IpAllowlist) -> Self {
        Self {
            trust: Trust::Addresses(proxies),
            ..Self::default()
        }
    }

    /// Reads the client's address from `header` (`X-Forwarded-For` unless told).
    #[must_use]
    pub fn with_header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// Whether a forwarding header is read at all (some proxy is trusted).
    pub fn trusts_any(&self) -> bool {
        self.trust != Trust::Nobody
    }

    /// The client's address for a request whose connection came from `peer` (`None` when
    /// the server does not provide it), with these headers. IPv4-mapped IPv6 addresses
    /// come back as IPv4.
    ///
    /// Without a peer, [`addresses`](Self::addresses) cannot tell whether the peer is a
    /// proxy and answers `None`; [`hops`](Self::hops) does not need it.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer.map(|ip| ip.to_canonical());
        match &self.trust {
            Trust::Nobody => peer,
            Trust::Hops(count) => {
                let mut furthest = peer;
                // The peer is the first trusted proxy; the client is the `count`-th hop of
                // the header, counted from the right.
                for (seen, hop) in self.hops_from_right(headers).into_iter().enumerate() {
                    let ip = hop?;
                    if seen + 1 == *count {
                        return Some(ip);
                    }
                    furthest = Some(ip);
                }
                furthest
            }
            Trust::Addresses(proxies) => {
                let peer = peer?;
                if !proxies.contains(peer) {
                    return Some(peer);
                }
                let mut furthest = peer;
                for hop in self.hops_from_right(headers) {
                    let ip = hop?;
                    if !proxies.contains(ip) {
                        return Some(ip);
                    }
                    furthest = ip;
                }
                Some(furthest)
            }
        }
    }

    /// The header's hops, right-most first; `None` for a hop that is not an address.
    fn hops_from_right(&self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        let mut hops = Vec::new();
        for line in headers.get_all(self.header.name()).iter().rev() {
            let Some(text) = visible_text(line) else {
                hops.push(None);
                break;
            };
            match self.header {
                ForwardedHeader::XForwardedFor => {
                    // RFC 9110 §5.6.1: empty list elements are ignored.
                    hops.extend(
                        text.rsplit(',')
                            .map(str::trim)
                            .filter(|item| !item.is_empty())
                            .map(parse_node),
                    );
                }
                ForwardedHeader::XRealIp => hops.push(parse_node(text.trim())),
                ForwardedHeader::Forwarded => {
                    let elements = split_outside_quotes(text, ',');
                    hops.extend(
                        elements
                            .into_iter()
                            .rev()
                            .filter(|element| !element.trim().is_empty())
                            .map(forwarded_for),
                    );
                }
            }
            if hops.last().is_some_and(Option::is_none) {
                break; // the walk stops here anyway
            }
        }
        hops
    }
}

impl fmt::Display for TrustedProxies {
    /// `none`, `2 proxies (x-forwarded-for)`, `proxies in 10.0.0.0/8 (forwarded)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.trust {
            Trust::Nobody => return f.write_str("none"),
            Trust::Hops(1) => f.write_str("1 proxy")?,
            Trust::Hops(count) => write!(f, "{count} proxies")?,
            Trust::Addresses(list) => write!(f, "proxies in {list}")?,
        }
        write!(f, " ({})", self.header.name())
    }
}

fn visible_text(value: &HeaderValue) -> Option<&str> {
    value.to_str().ok()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:8080`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let ip = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| text.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(ip.to_canonical())
}

/// The `for` node of one RFC 7239 forwarded-element (`for=192.0.2.60;proto=http;by=…`).
/// `unknown`, obfuscated identifiers (`_abc`) and a missing `for` are not addresses.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let pair = split_outside_quotes(element, ';')
        .into_iter()
        .find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("for")
                .then_some(value.trim())
        })?;
    let value = unquote(pair)?;
    parse_node(&value)
}

/// Splits at `separator` where it is not inside a quoted string.
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A token as it is, or a quoted-string without its quotes and escapes (RFC 9110 §5.6.4);
/// `None` for a quoted string that does not end.
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return Some(value.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(name: &str, lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(line).unwrap(),
            );
        }
        map
    }

    #[test]
    fn forwarded_nodes() {
        let cases: &[(&str, Option<&str>)] = &[
            ("for=192.0.2.60", Some("192.0.2.60")),
            ("For=\"192.0.2.60:8080\"", Some("192.0.2.60")),
            ("for=\"[2001:db8:cafe::17]\"", Some("2001:db8:cafe::17")),
            (
                "for=\"[2001:db8:cafe::17]:4711\"",
                Some("2001:db8:cafe::17"),
            ),
            (
                "proto=https;for=198.51.100.17;by=203.0.113.43",
                Some("198.51.100.17"),
            ),
            ("for=\"[::ffff:192.0.2.1]\"", Some("192.0.2.1")),
            ("for=unknown", None),
            ("for=_hidden", None),
            ("for=\"_SEVKISEK\"", None),
            ("proto=https", None),
            ("for=\"192.0.2.60", None),
            ("for=", None),
            ("for=\"\\[2001:db8::1\\]\"", Some("2001:db8::1")),
        ];
        for (element, expected) in cases {
            assert_eq!(forwarded_for(element), expected.map(ip), "{element}");
        }
    }

    #[test]
    fn quoted_commas_do_not_split_elements() {
        let parts = split_outside_quotes(r#"for="a,b";by=x, for=192.0.2.1"#, ',');
        assert_eq!(parts, [r#"for="a,b";by=x"#, " for=192.0.2.1"]);
    }

    #[test]
    fn xff_nodes_with_ports_and_brackets() {
        let cases: &[(&str, Option<&str>)] = &[
            ("203.0.113.195", Some("203.0.113.195")),
            ("203.0.113.195:41237", Some("203.0.113.195")),
            (
                "2001:db8:85a3::8a2e:370:7334",
                Some("2001:db8:85a3::8a2e:370:7334"),
            ),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("::ffff:198.51.100.4", Some("198.51.100.4")),
            ("not-an-ip", None),
            ("1.2.3", None),
            ("fe80::1%eth0", None),
        ];
        for (node, expected) in cases {
            assert_eq!(parse_node(node), expected.map(ip), "{node}");
        }
    }

    #[test]
    fn hops_read_every_line_right_to_left() {
        let map = headers("x-forwarded-for", &["1.1.1.1, 2.2.2.2", "3.3.3.3,,"]);
        let proxies = TrustedProxies::hops(1);
        assert_eq!(
            proxies.hops_from_right(&map),
            [
                Some(ip("3.3.3.3")),
                Some(ip("2.2.2.2")),
                Some(ip("1.1.1.1"))
            ]
        );
        let peer = Some(ip("10.0.0.1"));
        // Two proxies: the peer and 3.3.3.3; three: 2.2.2.2 too.
        assert_eq!(
            TrustedProxies::hops(2).client_ip(peer, &map),
            Some(ip("2.2.2.2"))
        );
        assert_eq!(
            TrustedProxies::hops(3).client_ip(peer, &map),
            Some(ip("1.1.1.1"))
        );
        // More proxies than hops: the left-most hop.
        assert_eq!(
            TrustedProxies::hops(9).client_ip(peer, &map),
            Some(ip("1.1.1.1"))
        );
    }

    #[test]
    fn garbage_never_panics() {
        let lines = [
            "",
            ",,,",
            "\"",
            "for=\"",
            "[",
            "[]:",
            "[::1",
            "::::",
            "for=\"\\",
            "; ; ;",
            "=,=",
            "for=[::1]]",
            "999.999.999.999",
            "for=\"[2001:db8::1]:99999\"",
        ];
        for header in [
            ForwardedHeader::XForwardedFor,
            ForwardedHeader::Forwarded,
            ForwardedHeader::XRealIp,
        ] {
            for line in lines {
                let map = headers(header.name(), &[line]);
                for proxies in [TrustedProxies::hops(1), TrustedProxies::hops(4)] {
                    let _ = proxies
                        .with_header(header)
                        .client_ip(Some(ip("10.0.0.1")), &map);
                }
            }
        }
    }

    #[test]
    fn display() {
        assert_eq!(TrustedProxies::none().to_string(), "none");
        assert_eq!(
            TrustedProxies::hops(1).to_string(),
            "1 proxy (x-forwarded-for)"
        );
        let list = IpAllowlist::parse(["10.0.0.0/8", "::1"]).unwrap();
        let proxies = TrustedProxies::addresses(list).with_header(ForwardedHeader::Forwarded);
        assert_eq!(
            proxies.to_string(),
            "proxies in 10.0.0.0/8, ::1/128 (forwarded)"
        );
    }

    #[test]
    fn non_ascii_header_is_not_an_address() {
        let mut map = HeaderMap::new();
        map.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"1.2.3.4, \xff").unwrap(),
        );
        assert_eq!(
            TrustedProxies::hops(1).client_ip(Some(ip("10.0.0.1")), &map),
            None
        );
    }
}
