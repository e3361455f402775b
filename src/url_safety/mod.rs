//! URL safety: the request's own URL, and where a decision may send a request.
//!
//! Every place that turns request data or a decision's destination into a URL goes through
//! here, so that one set of rules holds everywhere:
//!
//! - The request's origin comes from configuration ([`ProxyLayer::with_origin`]) or from a
//!   strictly parsed authority; its path and query always come from the request target
//!   ([`check_request`], [`request_url`]).
//! - A rewrite goes to a path the function wrote, never to one that dot segments resolve
//!   into ([`rewrite_destination`]).
//! - An absolute URL is local only when it names the application's own origin, and never
//!   when it names an upstream that external rewrites forward to.
//! - A redirect to the request's own origin is written as a relative `Location`
//!   ([`location`]); every redirect response, the proxy's and the rules', is built by
//!   [`redirect_response`]. A path taken from the request is redirected to only when
//!   [`is_safe_return_path`] says so.
//! - A rewrite points the request at its new path with [`point_at`], which keeps
//!   `OriginalUri`, and only before a router has routed it ([`already_routed`]).
//! - A redirect status is one of five ([`RedirectStatus`]), by type.
//!
//! [`ProxyLayer::with_origin`]: crate::ProxyLayer::with_origin

use bytes::Bytes;
use http::header::HOST;
use http::request::Parts;
use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, StatusCode, Uri};
use percent_encoding::percent_decode_str;
use url::Url;

mod redirect;
mod redirect_status;
mod reroute;

pub(crate) use redirect::{is_safe_return_path, redirect_response, RefusedRedirect};
pub use redirect_status::{InvalidRedirectStatus, RedirectStatus};
pub(crate) use reroute::uri_with_path_and_query;
use reroute::with_path_and_query;
pub(crate) use reroute::{already_routed, point_at};

/// Why a request or a destination was refused, and the status that answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) reason: &'static str,
}

impl Refusal {
    const fn bad_request(reason: &'static str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            reason,
        }
    }

    const fn server_error(reason: &'static str) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            reason,
        }
    }
}

/// Checks what a matched request's URL is made of, before the proxy function sees it: an
/// authority that parses strictly, and a path that the URL parser gives back as it is (no
/// dot segment, no `\`), so that `ProxyRequest::url` and the router read the same path.
/// A refused request is answered `400` (guarded by `tests/fail_closed.rs`).
pub(crate) fn check_request(uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
    if !has_plain_host(uri, headers) {
        request_authority(uri, headers)?;
    }
    if uri.path().contains('\\') || has_dot_segment(uri.path()) {
        return Err(Refusal::bad_request(
            "request path has a dot segment or a backslash",
        ));
    }
    Ok(())
}

/// Whether the request names its authority only by one `Host` that is a dotted-quad IPv4
/// address or a lowercase DNS name (its last label starting with a letter, so not a
/// number; no `xn--` label to decode), with an optional port: the usual request, which [`request_authority`] would
/// accept, told without its allocations (`plain_hosts_are_valid_authorities` checks the
/// agreement).
fn has_plain_host(uri: &Uri, headers: &HeaderMap) -> bool {
    if uri.authority().is_some() {
        return false;
    }
    let mut hosts = headers.get_all(HOST).iter();
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return false;
    };
    let host = host.as_bytes();
    let (name, port) = match host.iter().rposition(|&b| b == b':') {
        Some(colon) => (&host[..colon], Some(&host[colon + 1..])),
        None => (host, None),
    };
    let port_ok = port.is_none_or(|port| {
        std::str::from_utf8(port).is_ok_and(|port| {
            port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok()
        })
    });
    if !port_ok {
        return false;
    }
    if std::str::from_utf8(name).is_ok_and(|name| name.parse::<std::net::Ipv4Addr>().is_ok()) {
        return true;
    }
    let last_label = name.rsplit(|&b| b == b'.').next().unwrap_or_default();
    name.iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && last_label.first().is_some_and(u8::is_ascii_lowercase)
        && !name.windows(4).any(|w| w == b"xn--")
}

/// The authority a request names: the request target's own (absolute form, or HTTP/2's
/// `:authority`), which RFC 9112 §3.2.2 puts before `Host`; else the one `Host` header.
/// `None` when there is neither, or `Host` is empty. Anything `http::uri::Authority` refuses,
/// or that holds `/ ? # @` (a path, a query, a fragment or user info pasted into the host),
/// or a host the URL Standard refuses, is an error; so are two `Host` headers.
pub(crate) fn request_authority(
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<Authority>, Refusal> {
    let authority = match uri.authority() {
        Some(authority) => authority.clone(),
        None => {
            let mut hosts = headers.get_all(HOST).iter();
            let Some(host) = hosts.next() else {
                return Ok(None);
            };
            if hosts.next().is_some() {
                return Err(Refusal::bad_request("more than one Host header"));
            }
            if host.is_empty() {
                return Ok(None);
            }
            Authority::try_from(host.as_bytes())
                .map_err(|_| Refusal::bad_request("Host is not an authority"))?
        }
    };
    if authority
        .as_str()
        .bytes()
        .any(|b| matches!(b, b'/' | b'?' | b'#' | b'@'))
    {
        return Err(Refusal::bad_request(
            "authority holds a path, query, fragment or user info",
        ));
    }
    // `Authority` keeps a port it cannot read as a number (`h:99999`); an empty one (`h:`)
    // is the scheme's default (RFC 3986 §3.2.3).
    let port = authority.as_str()[authority.host().len()..].trim_start_matches(':');
    if !port.is_empty() && port.parse::<u16>().is_err() {
        return Err(Refusal::bad_request(
            "authority's port is not a port number",
        ));
    }
    url::Host::parse(authority.host())
        .map_err(|_| Refusal::bad_request("authority's host is not a valid host"))?;
    Ok(Some(authority))
}

/// The request's absolute URL (`request.nextUrl`).
///
/// The origin is a declared one (`origins`) when there are any: the one whose host and
/// port the request names, else the first. Without declared origins it is the request's
/// authority ([`request_authority`]; `localhost` when it names none) with the request
/// target's scheme, else `http`. Path and query are the request target's.
pub(crate) fn request_url(uri: &Uri, headers: &HeaderMap, origins: &[Url]) -> Result<Url, Refusal> {
    let authority = request_authority(uri, headers)?;
    let mut url = match origins.split_first() {
        Some((first, _)) => authority
            .as_ref()
            .and_then(|authority| origins.iter().find(|o| names(o, authority)))
            .unwrap_or(first)
            .clone(),
        None => {
            let mut url = Url::parse("http://localhost/").expect("a valid literal URL");
            if uri.scheme_str() == Some("https") {
                url.set_scheme("https").expect("http and https are special");
            }
            if let Some(authority) = &authority {
                url.set_host(Some(authority.host()))
                    .map_err(|_| Refusal::bad_request("authority's host is not a valid host"))?;
                url.set_port(authority.port_u16())
                    .expect("an http URL with a host takes a port");
            }
            url
        }
    };
    url.set_path(uri.path());
    url.set_query(uri.query());
    Ok(url)
}

/// Whether the declared origin `origin` is the one `authority` names (host without case,
/// port written or the scheme's default).
fn names(origin: &Url, authority: &Authority) -> bool {
    origin
        .host_str()
        .is_some_and(|host| host.eq_ignore_ascii_case(authority.host()))
        && authority.port_u16().or(origin.port_or_known_default()) == origin.port_or_known_default()
}

/// Whether `path` has a segment that the URL Standard reads as `.` or `..` (written with
/// dots or as `%2e` in any case), between `/` or `\` (a separator in `http` URLs).
pub(crate) fn has_dot_segment(path: &str) -> bool {
    path.split(['/', '\\']).any(|segment| {
        let segment = segment.as_bytes();
        // `.`, `%2e`, `..`, `.%2e`, `%2e.`, `%2e%2e`: one or two dots, either spelling.
        let rest = match segment {
            [b'.', rest @ ..] => rest,
            [b'%', b'2', e, rest @ ..] if e.eq_ignore_ascii_case(&b'e') => rest,
            _ => return false,
        };
        matches!(rest, [] | [b'.'])
            || matches!(rest, [b'%', b'2', e] if e.eq_ignore_ascii_case(&b'e'))
    })
}

/// Where a rewrite sends the request.
#[derive(Debug)]
pub(crate) enum RewriteTarget {
    /// To the inner service, under this URI.
    Local(Uri),
    /// To another origin (an external rewrite).
    #[cfg_attr(not(feature = "external"), allow(dead_code))]
    External(Url),
}

/// Where `destination`, a rewrite's, sends the request whose head is `parts`.
///
/// A destination whose path has a dot segment in any spelling, encoded separators included
/// (`..%2F`), is refused (`400`): resolved,
/// `/docs/%2e%2e/admin` made into `/public/%2e%2e/admin` would reach `/admin`, a path the
/// proxy never decided on (and an upstream's other paths through an external rewrite).
/// A path or relative reference stays on this origin. An absolute URL is local only when
/// it names an origin the application declared as its own (`ProxyLayer::with_origin`), or,
/// when it declared none, the request's own origin, unless the external rewrites forward to
/// that origin: a client's `Host` cannot turn an upstream into this application.
/// `origins` are the declared ones; `forwarded` tells whether the external rewrites forward
/// to a URL's origin.
pub(crate) fn rewrite_destination(
    destination: String,
    parts: &Parts,
    origins: &[Url],
    forwarded: impl Fn(&Url) -> bool,
) -> Result<RewriteTarget, Refusal> {
    if is_verbatim_local_path(&destination) {
        // A plain local path is a valid path and query as it is: its own bytes become the
        // new one, without a copy or the URL parser.
        let path_and_query = PathAndQuery::from_maybe_shared(Bytes::from(destination))
            .map_err(|_| Refusal::server_error("rewrite destination is not a valid URI"))?;
        return with_path_and_query(&parts.uri, path_and_query)
            .map(RewriteTarget::Local)
            .ok_or(Refusal::server_error(
                "rewrite destination is not a valid URI",
            ));
    }
    let cleaned = clean(&destination);
    if rewrite_has_dot_segment(&cleaned) {
        return Err(Refusal::bad_request(
            "rewrite destination has a dot segment or a backslash",
        ));
    }
    let base = request_url(&parts.uri, &parts.headers, origins)?;
    let target = resolve(&base, &cleaned).ok_or(Refusal::server_error(
        "rewrite destination is not a valid URL",
    ))?;
    let local = !has_scheme(&cleaned)
        || match origins {
            [] => target.origin() == base.origin() && !forwarded(&target),
            declared => declared.iter().any(|own| own.origin() == target.origin()),
        };
    if !local {
        return Ok(RewriteTarget::External(target));
    }
    rewritten_uri(&parts.uri, &target)
        .map(RewriteTarget::Local)
        .ok_or(Refusal::server_error(
            "rewrite destination is not a valid URI",
        ))
}

/// Whether the path of `destination` (a path, a relative reference or an absolute URL;
/// what follows `?` or `#` is not looked at) has a dot segment in any spelling (see
/// [`has_dot_segment`]): a browser, a router or a file server that resolves it would land
/// on a path nobody wrote. Redirects of the rules are refused for it.
pub(crate) fn destination_has_dot_segment(destination: &str) -> bool {
    has_dot_segment(path_of(destination, has_scheme(destination)))
}

/// [`destination_has_dot_segment`], also after percent-decoding: a server behind a rewrite
/// may decode `%2F` and `%5C` into separators before it resolves dot segments
/// (`/public/..%2Fadmin`). Every rewrite, the proxy's and the rules', is refused for it.
pub(crate) fn rewrite_has_dot_segment(destination: &str) -> bool {
    let path = path_of(destination, has_scheme(destination));
    has_dot_segment(path) || has_dot_segment(&percent_decode_str(path).decode_utf8_lossy())
}

/// The path of a destination as written: after the authority of an absolute URL, before
/// the query or fragment.
fn path_of(destination: &str, absolute: bool) -> &str {
    let rest = match (absolute, destination.split_once("://")) {
        (true, Some((_, after))) => after
            .find(['/', '\\', '?', '#'])
            .map_or("", |start| &after[start..]),
        _ => destination,
    };
    rest.split(['?', '#']).next().unwrap_or_default()
}

/// Whether `destination` is a path on this origin (with an optional query) that the URL
/// parser would give back unchanged: one leading `/` (not `//` or `/\`, which name another
/// host), no dot segment (nor `%2e`, which may spell one), no fragment, and only characters
/// that neither the path nor the query percent-encode set of the URL Standard touches (`%`
/// only before two hex digits).
///
/// Most destinations the code writes are like this (`/login?from=%2Fdashboard`); for them
/// the URL parser is skipped and the string's own bytes become the `Location` or the URI
/// (guarded by `verbatim_local_paths_resolve_to_themselves`). It says nothing about whether a
/// path from the request is safe to redirect to: that is [`is_safe_return_path`].
pub(crate) fn is_verbatim_local_path(destination: &str) -> bool {
    let bytes = destination.as_bytes();
    if bytes.first() != Some(&b'/') || matches!(bytes.get(1), Some(b'/' | b'\\')) {
        return false;
    }
    let mut in_query = false;
    for (i, &byte) in bytes.iter().enumerate() {
        let plain = match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => true,
            b'-' | b'_' | b'~' | b'!' | b'$' | b'&' | b'(' | b')' | b'*' | b'+' | b',' | b';'
            | b'=' | b':' | b'@' | b'/' => true,
            // A dot segment (`/.`, `/..`) would be removed by the parser.
            b'.' => in_query || bytes[i - 1] != b'/',
            b'?' => {
                in_query = true;
                true
            }
            // `%2e` is a dot to the URL Standard (a dot segment when it makes one up), and
            // `%2F` and `%5C` in the path are separators to a server that decodes them:
            // those go to the checks of the slow path.
            b'%' => bytes.get(i + 1..i + 3).is_some_and(|hex| {
                hex.iter().all(u8::is_ascii_hexdigit)
                    && !hex.eq_ignore_ascii_case(b"2e")
                    && (in_query
                        || !(hex.eq_ignore_ascii_case(b"2f") || hex.eq_ignore_ascii_case(b"5c")))
            }),
            _ => false,
        };
        if !plain {
            return false;
        }
    }
    true
}

/// A destination as the URL parser reads it: it drops leading spaces and control
/// characters, and tabs and line breaks anywhere; done first, so that what is checked is
/// what is parsed.
fn clean(destination: &str) -> String {
    destination
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// Resolves a destination (already [`clean`]ed) against the request's URL.
///
/// An absolute URL (`scheme://...`) is taken as written. Anything else is a reference on the
/// request's origin and must stay there: a leading run of `/` and `\` is folded to one `/`,
/// so that `//evil.example`, `/\evil.example` or `/\t/evil.example` built from request data
/// stays a path. A reference that still resolves to another origin is refused.
pub(crate) fn resolve(base: &Url, destination: &str) -> Option<Url> {
    if has_scheme(destination) {
        return Url::parse(destination).ok();
    }
    let trimmed = destination.trim_start_matches(['/', '\\']);
    let target = if trimmed.len() != destination.len() {
        base.join(&format!("/{trimmed}")).ok()?
    } else {
        base.join(destination).ok()?
    };
    (target.origin() == base.origin()).then_some(target)
}

fn has_scheme(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// The request URI with the destination's path and query (the destination's query replaces
/// the request's, as in Next.js); scheme and authority are kept.
fn rewritten_uri(original: &Uri, target: &Url) -> Option<Uri> {
    let mut path_and_query = target.path().to_owned();
    if let Some(query) = target.query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    with_path_and_query(original, PathAndQuery::try_from(path_and_query).ok()?)
}

#[cfg(test)]
mod tests;
