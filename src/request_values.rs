//! How a request's cookies and query values are read: one reading for the matcher's
//! conditions and for the proxy function, so that a condition never decides on a value the
//! function does not see. It depends on nothing else in the crate.

use http::header::COOKIE;
use http::HeaderMap;

/// The cookies of a request, from every `Cookie` header (`request.cookies`).
///
/// Read as Next.js's `request.cookies` reads them: `parseCookie` of `@edge-runtime/cookies`
/// 6.0.0 (next 16.4.6, `dist/compiled/@edge-runtime/cookies/index.js`), which splits the
/// header on `/; */`, takes a pair without `=` as the value `"true"`, passes the value
/// through `decodeURIComponent` and drops the pair when that throws, keeps the name as
/// written and the value's quotes (`a="x"` is `"x"`), and lets a later pair replace an
/// earlier one (`map.set(key, ...)`): [`get`](Self::get) is the last value. Several
/// `Cookie` lines read as one joined with `; ` (as Node joins them). A byte that is not
/// UTF-8 becomes U+FFFD in its own pair and hides nothing else.
///
/// The matcher's `cookie` conditions read the same pairs (Next.js's `matchHas` reads them
/// with the `cookie` package instead, first value and quotes stripped: one reading for
/// both is the point, so that a condition never decides on a value the function does not
/// see).
///
/// ```
/// use tower_proxy_fn::ProxyRequest;
///
/// let req = ProxyRequest::from_request(
///     http::Request::builder().header("cookie", "a=1; flag; b=x%20y; a=2; c=%zz").body(()).unwrap(),
/// );
/// assert_eq!(req.cookies().get("a"), Some("2"));
/// assert_eq!(req.cookies().get_all("a").collect::<Vec<_>>(), ["1", "2"]);
/// assert_eq!(req.cookies().get("b"), Some("x y"));
/// assert_eq!(req.cookies().get("flag"), Some("true"));
/// assert!(!req.cookies().has("c"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestCookies {
    /// Every pair that parsed, in order, repeated names included.
    pairs: Vec<(String, String)>,
}

impl RequestCookies {
    pub(crate) fn parse(headers: &HeaderMap) -> Self {
        let mut pairs = Vec::new();
        for header in headers.get_all(COOKIE) {
            let text = String::from_utf8_lossy(header.as_bytes());
            for (name, raw) in cookie_pairs(&text) {
                if let Some(value) = cookie_value(raw) {
                    pairs.push((name.to_owned(), value));
                }
            }
        }
        Self { pairs }
    }

    /// `RequestCookies::parse(headers).get(name)`, without collecting the other cookies
    /// (the matcher's `cookie` conditions, on every request they are tested on).
    pub(crate) fn value_of(headers: &HeaderMap, name: &str) -> Option<String> {
        let mut found = None;
        for header in headers.get_all(COOKIE) {
            let text = String::from_utf8_lossy(header.as_bytes());
            for (_, raw) in cookie_pairs(&text).filter(|(n, _)| *n == name) {
                // A later pair replaces an earlier one, unless it does not decode.
                if let Some(value) = cookie_value(raw) {
                    found = Some(value);
                }
            }
        }
        found
    }

    /// The value of `name`: the last one sent, as Next.js's `request.cookies.get(name)`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value sent under `name`, in order; the last is the one [`get`](Self::get)
    /// returns. (Next.js's `getAll(name)` keeps only that one.)
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a cookie named `name` was sent.
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// Every cookie, in order, repeated names included.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The pairs of one `Cookie` line as `parseCookie` splits them: `cookie.split(/; */)`
/// (the spaces after each `;` go, nothing else is trimmed), empty pieces skipped, the name
/// before the first `=`; `None` for the value of a pair without `=`.
fn cookie_pairs(text: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    text.split(';')
        .map(|piece| piece.trim_start_matches(' '))
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (piece, None),
        })
}

/// A pair's value as `parseCookie` keeps it: `"true"` without `=`, else
/// `decodeURIComponent(value)`, `None` (the pair is dropped) when that throws.
fn cookie_value(raw: Option<&str>) -> Option<String> {
    match raw {
        None => Some("true".to_owned()),
        Some(raw) => decode_uri_component(raw),
    }
}

/// The value of query parameter `name`, decoded as `URLSearchParams` decodes it (`+` is a
/// space, a bad `%` escape stays as written): the **last** one of a repeated key, as
/// Next.js's `matchHas` reads `has` / `missing` query conditions
/// (`packages/next/src/shared/lib/router/utils/prepare-destination.ts`:
/// `Array.isArray(value) ? value.slice(-1)[0].match(matcher) : value.match(matcher)`).
/// The matcher's query conditions use it, and so must every other reading of one value, so
/// that a condition never decides on a value the function does not see.
pub(crate) fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .filter(|(k, _)| k == name)
        .last()
        .map(|(_, v)| v.into_owned())
}

/// JavaScript's `decodeURIComponent`: every `%XX` decoded (including `%2F`);
/// `None` for a bad escape or bytes that are not UTF-8.
pub(crate) fn decode_uri_component(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
