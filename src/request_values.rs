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

/// Writes the proxy's cookie sets and deletes into the request's `Cookie` header, so that
/// the inner service reads the cookies as the browser will send them next time (Next.js
/// since 14.2; in next 16.4.6 `dist/server/web/spec-extension/response.js` writes
/// `x-middleware-set-cookie`, `dist/server/lib/router-utils/resolve-routes.js` puts it on
/// the request, and `mergeMiddlewareCookies` in `dist/server/async-storage/request-store.js`
/// sets each cookie into the page's `RequestCookies`).
///
/// A set cookie replaces the client's pairs of that name at the place of the first one (a
/// new name goes last, as `RequestCookies.set` keeps its `Map` order); a deleted or expired
/// one (`Max-Age` ≤ 0, `Expires` in the past) is left out, where Next.js's `set` hands the
/// page an empty value: a browser would not send it, and a handler that checks for a
/// session cookie after a logout must not find `Some("")`. The client's other pairs are kept as written;
/// every `Cookie` line becomes one, joined with `; `. Guarded by
/// `tests/cookies_handler.rs`.
pub(crate) fn apply_cookie_changes(headers: &mut HeaderMap, changes: &[cookie::Cookie<'static>]) {
    if changes.is_empty() {
        return;
    }
    let mut pairs: Vec<(String, Option<String>)> = Vec::new();
    for header in headers.get_all(COOKIE) {
        let text = String::from_utf8_lossy(header.as_bytes());
        for (name, raw) in cookie_pairs(&text) {
            pairs.push((name.to_owned(), raw.map(str::to_owned)));
        }
    }
    for change in changes {
        let name = change.name();
        let value = (!is_removal(change)).then(|| {
            // The value as it will come back: encoded as the `Set-Cookie` line encodes it.
            let encoded = cookie::Cookie::new(name, change.value())
                .encoded()
                .to_string();
            encoded[name.len() + 1..].to_owned()
        });
        let first = pairs.iter().position(|(n, _)| n == name);
        pairs.retain(|(n, _)| n != name);
        if let Some(value) = value {
            let at = first.unwrap_or(pairs.len()).min(pairs.len());
            pairs.insert(at, (name.to_owned(), Some(value)));
        }
    }
    headers.remove(COOKIE);
    if pairs.is_empty() {
        return;
    }
    let line = pairs
        .iter()
        .map(|(name, value)| match value {
            Some(value) => format!("{name}={value}"),
            None => name.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    // The names are tokens and the values encoded: the line is a valid header value.
    if let Ok(value) = http::HeaderValue::try_from(line) {
        headers.insert(COOKIE, value);
    }
}

/// Whether a `Set-Cookie` removes the cookie in the browser: `Max-Age` zero or less, or an
/// `Expires` already past.
fn is_removal(cookie: &cookie::Cookie<'_>) -> bool {
    if let Some(max_age) = cookie.max_age() {
        return max_age <= cookie::time::Duration::ZERO;
    }
    cookie
        .expires_datetime()
        .is_some_and(|at| at <= cookie::time::OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cookie::Cookie;

    fn applied(header: Option<&str>, changes: &[Cookie<'static>]) -> Option<String> {
        let mut headers = HeaderMap::new();
        if let Some(header) = header {
            headers.insert(COOKIE, header.parse().unwrap());
        }
        apply_cookie_changes(&mut headers, changes);
        headers.get(COOKIE).map(|v| v.to_str().unwrap().to_owned())
    }

    fn deleted(name: &'static str) -> Cookie<'static> {
        let mut cookie = Cookie::new(name, "");
        cookie.set_max_age(cookie::time::Duration::ZERO);
        cookie
    }

    #[test]
    fn sets_replace_in_place_and_deletes_drop_every_pair() {
        let changes = [Cookie::new("a", "1"), deleted("b"), Cookie::new("n", "x y")];
        assert_eq!(
            applied(Some("b=0; a=0; c=keep%20me; b=2; a=3; flag"), &changes).as_deref(),
            Some("a=1; c=keep%20me; flag; n=x%20y")
        );
    }

    #[test]
    fn the_last_change_of_a_name_wins_and_an_empty_header_goes() {
        assert_eq!(
            applied(None, &[Cookie::new("a", "1"), Cookie::new("a", "2")]).as_deref(),
            Some("a=2")
        );
        assert_eq!(applied(Some("b=1"), &[deleted("b")]), None);
        let mut expired = Cookie::new("b", "v");
        expired.set_expires(cookie::time::OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            applied(Some("b=1; c=2"), &[expired]).as_deref(),
            Some("c=2")
        );
    }

    #[test]
    fn the_handler_reads_what_the_proxy_wrote() {
        let mut headers = HeaderMap::new();
        apply_cookie_changes(&mut headers, &[Cookie::new("v", "a;b=c é")]);
        assert_eq!(RequestCookies::parse(&headers).get("v"), Some("a;b=c é"));
    }
}
