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
//!   ([`location`]).
//!
//! [`ProxyLayer::with_origin`]: crate::ProxyLayer::with_origin

use bytes::Bytes;
use http::header::{HeaderValue, HOST};
use http::request::Parts;
use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, StatusCode, Uri};
use percent_encoding::percent_decode_str;
use url::Url;

use crate::settings::Settings;

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
    request_authority(uri, headers)?;
    if uri.path().contains('\\') || has_dot_segment(uri.path()) {
        return Err(Refusal::bad_request(
            "request path has a dot segment or a backslash",
        ));
    }
    Ok(())
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
pub(crate) fn rewrite_destination(
    destination: String,
    parts: &Parts,
    settings: &Settings,
) -> Result<RewriteTarget, Refusal> {
    if is_plain_local_path(&destination) {
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
    let base = request_url(&parts.uri, &parts.headers, &settings.origins)?;
    let target = resolve(&base, &cleaned).ok_or(Refusal::server_error(
        "rewrite destination is not a valid URL",
    ))?;
    let local = !has_scheme(&cleaned)
        || match settings.origins.as_slice() {
            [] => target.origin() == base.origin() && !settings.forwards_to(&target),
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

/// The `Location` for a redirect to `destination`: a reference on the request's origin
/// (`base`, built only when needed) stays there and is written relative, an absolute URL is
/// taken as written (see [`resolve`]). Every redirect the layer makes, the proxy's and the
/// rules', goes through here. A refusal gives the reason and the destination back.
pub(crate) fn location(
    destination: String,
    base: impl FnOnce() -> Url,
) -> Result<HeaderValue, (&'static str, String)> {
    const NOT_A_HEADER_VALUE: &str = "redirect destination is not a valid header value";
    if is_plain_local_path(&destination) {
        // Resolving would give back the same path and query: skip the URL parser. Such a
        // path is visible ASCII, so a valid header value as it is (a test checks every
        // one), and its own bytes become the header, without a copy.
        return HeaderValue::from_maybe_shared(Bytes::from(destination))
            .map_err(|_| (NOT_A_HEADER_VALUE, String::new()));
    }
    let base = base();
    let Some(target) = resolve(&base, &clean(&destination)) else {
        return Err(("redirect destination is not a valid URL", destination));
    };
    let location = if target.origin() == base.origin() {
        relative(&target)
    } else {
        target.to_string()
    };
    HeaderValue::try_from(location).map_err(|_| (NOT_A_HEADER_VALUE, destination))
}

/// Whether `destination` is a path on this origin (with an optional query) that the URL
/// parser would give back unchanged: one leading `/` (not `//` or `/\`, which name another
/// host), no dot segment (nor `%2e`, which may spell one), no fragment, and only characters
/// that neither the path nor the query percent-encode set of the URL Standard touches (`%`
/// only before two hex digits).
/// Most redirects and rewrites are like this (`/login?from=%2Fdashboard`), and skipping the
/// parser halves their cost.
pub(crate) fn is_plain_local_path(destination: &str) -> bool {
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

/// Path, query and fragment: the `Location` for a same-origin redirect. A path that starts
/// with `//` would read as another host, so it is written after `/.`, which a browser
/// resolves back to the same path on the same origin (as the URL Standard serializes it).
fn relative(url: &Url) -> String {
    let mut out = String::new();
    if url.path().starts_with("//") {
        out.push_str("/.");
    }
    out.push_str(url.path());
    if let Some(query) = url.query() {
        out.push('?');
        out.push_str(query);
    }
    if let Some(fragment) = url.fragment() {
        out.push('#');
        out.push_str(fragment);
    }
    out
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

fn with_path_and_query(original: &Uri, path_and_query: PathAndQuery) -> Option<Uri> {
    let mut parts = original.clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://localhost:3000/dashboard?x=1").unwrap()
    }

    fn parts(uri: &str, host: Option<&str>) -> Parts {
        let mut builder = http::Request::get(uri);
        if let Some(host) = host {
            builder = builder.header(HOST, host);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn resolve_keeps_paths_on_the_origin() {
        let cases = [
            (
                "path",
                "/login?from=%2Fdashboard",
                "/login?from=%2Fdashboard",
            ),
            ("double slash", "//evil.example", "/evil.example"),
            ("backslash", "/\\evil.example", "/evil.example"),
            ("many", "\\\\//evil.example/x", "/evil.example/x"),
            ("relative", "settings", "/settings"),
            ("fragment", "/a#top", "/a#top"),
        ];
        for (name, input, want) in cases {
            let url = resolve(&base(), &clean(input)).unwrap();
            assert_eq!(url.origin(), base().origin(), "{name}");
            assert_eq!(relative(&url), want, "{name}");
        }
    }

    #[test]
    fn resolve_takes_absolute_urls_as_written() {
        let url = resolve(&base(), "https://example.com/x").unwrap();
        assert_eq!(url.as_str(), "https://example.com/x");
        assert_ne!(url.origin(), base().origin());
    }

    #[test]
    fn a_same_origin_path_that_starts_with_two_slashes_stays_relative() {
        let url = Url::parse("http://localhost:3000//evil.example/x").unwrap();
        let written = relative(&url);
        assert_eq!(written, "/.//evil.example/x");
        // A browser resolves it back to the same path on the same origin.
        assert_eq!(base().join(&written).unwrap(), url);
    }

    #[test]
    fn dot_segments_in_every_spelling() {
        for path in [
            "/a/./b",
            "/a/../b",
            "/a/%2e/b",
            "/a/%2E%2e/b",
            "/a/.%2e/b",
            "/a/%2e./b",
            "/a/..",
            "/..",
            "/a\\..\\b",
            "..",
        ] {
            assert!(has_dot_segment(path), "{path}");
        }
        let dotted = [
            "/a/..?x=1",
            "https://h.example/a/../b",
            "https://h.example/..",
            "https://h.example\\..\\b",
        ];
        for destination in dotted {
            assert!(destination_has_dot_segment(destination), "{destination}");
        }
        let plain = [
            "/a/%252e%252e/b",
            "/a/..%2Fb",
            "/a/..%5Cb",
            "/a?x=/../",
            "/a#/../",
            "https://h.example",
            "https://h.example?x=/..",
            // A `://` in the path is not a scheme.
            "/a/x://..b",
        ];
        for destination in plain {
            assert!(!destination_has_dot_segment(destination), "{destination}");
        }
        // Behind a rewrite, encoded separators count.
        for destination in ["/a/..%2Fb", "/a/..%5Cb", "http://h.example/a/%2e%2e%2fb"] {
            assert!(rewrite_has_dot_segment(destination), "{destination}");
        }
        for path in [
            "/",
            "/a.b/c..d",
            "/.well-known/x",
            "/a/...",
            "/a/%2e%2e%2e",
            "/a/%2f",
        ] {
            assert!(!has_dot_segment(path), "{path}");
        }
    }

    #[test]
    fn the_authority_is_parsed_strictly() {
        for (name, host) in [
            ("fragment", "h#"),
            ("path", "h/public?"),
            ("query", "h?a=x#"),
            ("user info", "a@evil.example"),
            ("space", "a b"),
            ("bad port", "h:99999"),
            ("forbidden host code point", "a<b"),
        ] {
            let parts = parts("/x", Some(host));
            assert_eq!(
                check_request(&parts.uri, &parts.headers).map_err(|r| r.status),
                Err(StatusCode::BAD_REQUEST),
                "{name}"
            );
        }
        for host in ["example.com", "example.com:8080", "[::1]:3000", "127.0.0.1"] {
            assert!(
                check_request(
                    &parts("/x", Some(host)).uri,
                    &parts("/x", Some(host)).headers
                )
                .is_ok(),
                "{host}"
            );
        }
        for host in [None, Some("")] {
            let parts = parts("/x", host);
            assert!(
                check_request(&parts.uri, &parts.headers).is_ok(),
                "{host:?}"
            );
        }
    }

    #[test]
    fn two_host_headers_are_refused() {
        let mut parts = parts("/x", Some("a.example"));
        parts
            .headers
            .append(HOST, HeaderValue::from_static("b.example"));
        assert!(check_request(&parts.uri, &parts.headers).is_err());
    }

    #[test]
    fn the_url_takes_path_and_query_from_the_target() {
        let parts = parts("/docs/a%20b?q=1&q=2", Some("Example.COM:8080"));
        let url = request_url(&parts.uri, &parts.headers, &[]).unwrap();
        assert_eq!(url.as_str(), "http://example.com:8080/docs/a%20b?q=1&q=2");
        // The request target's authority comes before Host (RFC 9112 §3.2.2).
        let parts = parts_absolute("http://target.example/p", "host.example");
        let url = request_url(&parts.uri, &parts.headers, &[]).unwrap();
        assert_eq!(url.host_str(), Some("target.example"));
    }

    fn parts_absolute(uri: &str, host: &str) -> Parts {
        parts(uri, Some(host))
    }

    #[test]
    fn a_declared_origin_is_the_url_s_origin() {
        let origins = [
            Url::parse("https://example.com").unwrap(),
            Url::parse("https://www.example.com").unwrap(),
        ];
        let url_for = |host| {
            let parts = parts("/x?y=1", Some(host));
            request_url(&parts.uri, &parts.headers, &origins)
                .unwrap()
                .to_string()
        };
        assert_eq!(url_for("www.example.com"), "https://www.example.com/x?y=1");
        assert_eq!(
            url_for("WWW.example.com:443"),
            "https://www.example.com/x?y=1"
        );
        // A host the application did not declare gets the first declared origin.
        assert_eq!(url_for("evil.example"), "https://example.com/x?y=1");
    }

    fn local_or_external(destination: &str, host: &str, settings: &Settings) -> String {
        match rewrite_destination(
            destination.to_owned(),
            &parts("/from", Some(host)),
            settings,
        ) {
            Ok(RewriteTarget::Local(uri)) => format!("local {uri}"),
            Ok(RewriteTarget::External(url)) => format!("external {url}"),
            Err(refusal) => format!("refused {}", refusal.status.as_u16()),
        }
    }

    #[test]
    fn rewrites_never_resolve_dot_segments() {
        let settings = Settings::default();
        for destination in [
            "/public/%2e%2e/admin",
            "/public/.%2e/admin",
            "/public/%2E%2E/admin",
            "/public/../admin",
            "/public/..\\admin",
            "/public/.\t./admin",
            "/public/..%2Fadmin",
            "/public/x..%2F..%5cadmin",
            "http://app.example/public/%2e%2e/admin",
            "https://upstream.example/api/../internal",
        ] {
            assert_eq!(
                local_or_external(destination, "app.example", &settings),
                "refused 400",
                "{destination}"
            );
        }
        assert_eq!(
            local_or_external("/public/a..b?x=../y", "app.example", &settings),
            "local /public/a..b?x=../y"
        );
    }

    #[test]
    fn only_a_declared_origin_is_local() {
        let mut settings = Settings::default();
        // Without declared origins, the request's own origin is local...
        assert_eq!(
            local_or_external("http://app.example/x", "app.example", &settings),
            "local /x"
        );
        assert_eq!(
            local_or_external("http://other.example/x", "app.example", &settings),
            "external http://other.example/x"
        );
        // ...and a relative reference always is, whatever the Host.
        assert_eq!(
            local_or_external("x/y", "upstream.example", &settings),
            "local /x/y"
        );
        settings.origins = vec![Url::parse("https://app.example").unwrap()];
        // With declared origins, a client's Host makes nothing local.
        assert_eq!(
            local_or_external("http://upstream.example/x", "upstream.example", &settings),
            "external http://upstream.example/x"
        );
        assert_eq!(
            local_or_external("https://app.example/x", "upstream.example", &settings),
            "local /x"
        );
    }

    #[test]
    fn rewritten_uri_replaces_path_and_query() {
        let original: Uri = "/another?x=1".parse().unwrap();
        let target = resolve(&base(), "/api/echo/a:b%20c?y=2").unwrap();
        let uri = rewritten_uri(&original, &target).unwrap();
        assert_eq!(uri, "/api/echo/a:b%20c?y=2");
    }

    /// The fast path must agree with the URL parser wherever it is taken: every destination
    /// it accepts resolves, on the origin, to itself.
    #[test]
    fn plain_local_paths_resolve_to_themselves() {
        let alphabet: Vec<char> = "/aZ09.-_~!$&'()*+,;=:@?%#\\ \"<>`{}|^[]\té2fFeE"
            .chars()
            .collect();
        let mut accepted = 0;
        // Every string of up to 3 characters from the alphabet, after a leading `/`.
        let mut stack = vec![String::from("/")];
        while let Some(destination) = stack.pop() {
            if is_plain_local_path(&destination) {
                accepted += 1;
                let url = resolve(&base(), &destination).expect("resolves");
                assert_eq!(url.origin(), base().origin(), "{destination:?}");
                assert_eq!(relative(&url), destination, "{destination:?}");
                assert!(
                    !has_dot_segment(path_of(&destination, false)),
                    "{destination:?}"
                );
                // Taken as they are for a `Location` and for a rewritten URI.
                assert!(
                    HeaderValue::from_str(&destination).is_ok(),
                    "{destination:?}"
                );
                assert!(
                    PathAndQuery::try_from(destination.as_str()).is_ok(),
                    "{destination:?}"
                );
            }
            if destination.chars().count() < 4 {
                for c in &alphabet {
                    stack.push(format!("{destination}{c}"));
                }
            }
        }
        assert!(accepted > 1_000, "only {accepted} accepted");
        for rejected in [
            "//evil.example",
            "/\\evil",
            "/./a",
            "/a/..",
            "/a/%2e%2e/b",
            "/%2E%2e//evil.example",
            "/a#b",
            "/a b",
            "a",
            "",
        ] {
            assert!(!is_plain_local_path(rejected), "{rejected:?}");
        }
        for rejected in ["/a%2Fb", "/a%5cb"] {
            assert!(!is_plain_local_path(rejected), "{rejected:?}");
        }
        for plain in ["/login?from=%2Fdashboard", "/a.b/c..d", "/x?y=../z", "/"] {
            assert!(is_plain_local_path(plain), "{plain:?}");
        }
    }
}
