//! [`CacheMarks`]: what a decision read, written into the response so that no cache hands a
//! per-visitor answer to another visitor (`Vary`, RFC 9110 §12.5.5; `Cache-Control: private`,
//! RFC 9111 §5.2.2.7). Guarded by `tests/cache_safety.rs`.

use http::header::{HeaderName, HeaderValue, CACHE_CONTROL, VARY};
use http::HeaderMap;

/// What a decision read, as it must show in the response for caches: `Vary` names the
/// request headers the decision depends on (`Cookie` when it read cookies), and a decision
/// that read cookies is `Cache-Control: private` (no shared cache may store it).
#[derive(Debug)]
pub(crate) struct CacheMarks {
    cookies: bool,
    headers: Vec<HeaderName>,
}

impl CacheMarks {
    /// The marks for a decision; `None` when it read neither cookies nor headers.
    pub(crate) fn from_reads(cookies: bool, headers: Vec<HeaderName>) -> Option<Self> {
        (cookies || !headers.is_empty()).then_some(Self { cookies, headers })
    }

    /// Whether the decision read cookies.
    pub(crate) fn read_cookies(&self) -> bool {
        self.cookies
    }

    /// Marks a response the layer built from the decision (redirect, own response): every
    /// header on it is the proxy's, so a `Vary` or `Cache-Control` already there stays as the
    /// proxy set it.
    pub(crate) fn apply_to_own(&self, headers: &mut HeaderMap) {
        let keep_vary = headers.contains_key(VARY);
        let keep_cache_control = headers.contains_key(CACHE_CONTROL);
        self.merge_into(headers, keep_vary, keep_cache_control);
    }

    /// Adds the marks to what the response already says: names missing from `Vary` are
    /// appended (`Vary: *` already covers everything); `Cache-Control` becomes `private`
    /// unless it already is `private` or `no-store` (a `public` directive is dropped, the
    /// rest kept). `keep_*`: the proxy set that header itself, and its word is final.
    pub(super) fn merge_into(
        &self,
        headers: &mut HeaderMap,
        keep_vary: bool,
        keep_cache_control: bool,
    ) {
        if !keep_vary {
            self.merge_vary(headers);
        }
        if self.cookies && !keep_cache_control {
            merge_private(headers);
        }
    }

    fn merge_vary(&self, headers: &mut HeaderMap) {
        let listed: Vec<String> = headers
            .get_all(VARY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|name| name.trim().to_ascii_lowercase())
            .collect();
        if listed.iter().any(|name| name == "*") {
            return;
        }
        let cookie = self.cookies.then_some("cookie");
        let missing: Vec<&str> = cookie
            .into_iter()
            .chain(self.headers.iter().map(HeaderName::as_str))
            .filter(|name| !listed.iter().any(|l| l == name))
            .collect();
        if missing.is_empty() {
            return;
        }
        // Header names are tokens, so the joined list is always a valid value.
        if let Ok(value) = HeaderValue::try_from(missing.join(", ")) {
            headers.append(VARY, value);
        }
    }
}

/// Makes `Cache-Control` say `private`, keeping the handler's stricter or unrelated
/// directives (`no-store` already forbids every cache; `max-age` still applies).
fn merge_private(headers: &mut HeaderMap) {
    let directives: Vec<String> = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .collect();
    let name_of = |d: &str| {
        d.split('=')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    if directives
        .iter()
        .any(|d| matches!(name_of(d).as_str(), "private" | "no-store"))
    {
        return;
    }
    let kept = directives.iter().filter(|d| name_of(d) != "public");
    let value = std::iter::once("private")
        .chain(kept.map(String::as_str))
        .collect::<Vec<_>>()
        .join(", ");
    match HeaderValue::try_from(value) {
        Ok(value) => {
            headers.insert(CACHE_CONTROL, value);
        }
        Err(_) => {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
        }
    }
}
