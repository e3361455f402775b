//! Redirects: a destination made into a `Location`, and the one function that builds a
//! redirect response, for the proxy's redirects and the rules'.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{HeaderValue, LOCATION};
use url::Url;

use super::reroute::RequestHead;
use super::{clean, is_verbatim_local_path, request_url, resolve, RedirectStatus};

/// A redirect destination that cannot be made into a `Location`: always the code's mistake
/// (the destination is not a URL, or not a header value), so a `500`, logged with both.
#[derive(Debug)]
pub(crate) struct RefusedRedirect {
    pub(crate) reason: &'static str,
    pub(crate) destination: String,
}

/// The response for a redirect to `destination` of the request whose head is `request`: the
/// status and a `Location` ([`location`]), nothing else. The proxy's redirects
/// (`layer/outcome.rs`) and the rules' are built here, so both write the same `Location`
/// for the same destination (guarded by `tests/open_redirect.rs`).
///
/// `origins` are the application's declared origins (`ProxyLayer::with_origin`), which
/// decide whether an absolute destination is this origin (then written relative); empty,
/// the request's own authority decides. A request whose authority does not parse is on no
/// origin: `check_request` refused it before any proxy function ran, so only a request
/// built by hand gets here, and the client's text is never used as a base.
pub(crate) fn redirect_response(
    request: &impl RequestHead,
    destination: String,
    status: RedirectStatus,
    origins: &[Url],
) -> Result<Response, RefusedRedirect> {
    let base = || {
        request_url(request.uri(), request.headers(), origins)
            .unwrap_or_else(|_| Url::parse("http://localhost/").expect("a valid literal URL"))
    };
    let location =
        location(destination, base).map_err(|(reason, destination)| RefusedRedirect {
            reason,
            destination,
        })?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status.status_code();
    response.headers_mut().insert(LOCATION, location);
    Ok(response)
}

/// The `Location` for a redirect to `destination`: a reference on the request's origin
/// (`base`, built only when needed) stays there and is written relative, an absolute URL is
/// taken as written (see [`resolve`]). A refusal gives the reason and the destination back.
pub(crate) fn location(
    destination: String,
    base: impl FnOnce() -> Url,
) -> Result<HeaderValue, (&'static str, String)> {
    const NOT_A_HEADER_VALUE: &str = "redirect destination is not a valid header value";
    if is_verbatim_local_path(&destination) {
        // Resolving would give back the same path and query: skip the URL parser. Such a
        // path is visible ASCII, so a valid header value as it is (guarded by
        // `verbatim_local_paths_resolve_to_themselves`), and its own bytes become the header,
        // without a copy.
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

/// Path, query and fragment: the `Location` for a same-origin redirect. A path that starts
/// with `//` would read as another host, so it is written after `/.`, which a browser
/// resolves back to the same path on the same origin (as the URL Standard serializes it).
pub(super) fn relative(url: &Url) -> String {
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

/// Whether `path`, taken from the request (`/login?from=...`), may be redirected to as it
/// is: a path on this origin under every URL parser a browser runs. One leading `/`, no `\`
/// (read as `/`), no whitespace or control characters (dropped, so `/\t/evil.example` would
/// become `//evil.example`), and in the path part no empty segment and no dot segment
/// (`/.//evil.example` normalizes to `//evil.example`; `%2e` is a dot), nor an encoded `/`
/// or `\` (a server that decodes the path again would see `//`).
///
/// Stricter than [`is_verbatim_local_path`], which only says the URL parser may be skipped
/// for a destination the code wrote. Used by `ProxyResponse::redirect_to_local`; guarded by
/// `tests/open_redirect.rs`.
pub(crate) fn is_safe_return_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    if path
        .chars()
        .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
    {
        return false;
    }
    let path_part = rest.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path_part.split('/').collect();
    let last = segments.len() - 1;
    segments.iter().enumerate().all(|(i, segment)| {
        // Only the last segment may be empty (a trailing slash, or the root `/` itself).
        let lower = segment.to_ascii_lowercase();
        let dots = lower.replace("%2e", ".");
        (!segment.is_empty() || i == last)
            && dots != "."
            && dots != ".."
            && !lower.contains("%2f")
            && !lower.contains("%5c")
    })
}
