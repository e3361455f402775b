//! Turning a [`ProxyResponse`] into what happens next: a request for the inner service or a
//! response of the layer's own.

use axum::extract::{MatchedPath, OriginalUri};
use axum::response::Response;
use bytes::Bytes;
use http::header::{HeaderValue, LOCATION};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Extensions, StatusCode, Uri};
use url::Url;

use crate::request::request_url;
use crate::response::{error_response, Action, HeaderEdit, ProxyResponse, ResponseExtras};

/// What the layer does after the proxy function decided.
pub(crate) enum Step {
    /// Call the inner service with the edited request, then add the extras to its response.
    Forward(ResponseExtras),
    /// Answer without the inner service.
    Respond(Response),
    /// Forward the edited request to another origin (an external rewrite), then add the
    /// extras to its response.
    #[cfg(feature = "external")]
    External(Url, ResponseExtras),
}

/// Applies the decision to the head of the request it was made for, in place: the head is
/// the largest thing a matched request moves, and is moved once, into the request the inner
/// service gets.
#[inline]
pub(crate) fn apply(decision: ProxyResponse, parts: &mut Parts) -> Step {
    // Taken apart by value: every piece moves once to where it goes. The box of the
    // rarer extras goes on with the cookies, or is freed here when it holds none.
    let ProxyResponse {
        action,
        response_headers,
        more,
    } = decision;
    let (edits, more) = match more {
        None => (RequestEdits::default(), None),
        Some(mut more) => {
            if let Some(reason) = more.invalid.take() {
                return invalid_decision(parts, &reason);
            }
            let edits = RequestEdits {
                headers: std::mem::take(&mut more.request_headers),
                extensions: std::mem::take(&mut more.extensions),
            };
            // The box goes on with the cookies, if it holds any.
            (edits, Some(more))
        }
    };
    let extras = ResponseExtras::new(response_headers, more);
    match action {
        Action::Next => {
            edits.apply(parts);
            Step::Forward(extras)
        }
        Action::Respond(mut response) => {
            extras.apply(response.headers_mut());
            Step::Respond(*response)
        }
        Action::Redirect(target, status) => {
            let location = match location(target, || request_url(parts)) {
                Ok(location) => location,
                Err((reason, target)) => return refuse(parts, reason, &target),
            };
            let mut response = Response::new(axum::body::Body::empty());
            *response.status_mut() = status;
            response.headers_mut().insert(LOCATION, location);
            extras.apply(response.headers_mut());
            Step::Respond(response)
        }
        Action::Rewrite(target) if is_plain_local_path(&target) => {
            if already_routed(parts) {
                return refuse_after_routing(parts, &target);
            }
            // The destination's own bytes become the new path and query, without a copy
            // (a plain local path is always a valid one).
            let uri = PathAndQuery::from_maybe_shared(Bytes::from(target))
                .ok()
                .and_then(|path_and_query| with_path_and_query(&parts.uri, path_and_query));
            let Some(uri) = uri else {
                return refuse(
                    parts,
                    "rewrite destination is not a valid URI",
                    "(a local path)",
                );
            };
            rewrite_to(edits, parts, uri, extras)
        }
        Action::Rewrite(target) => {
            let base = request_url(parts);
            let Some(target) = resolve(&base, &target) else {
                return refuse(parts, "rewrite destination is not a valid URL", &target);
            };
            if target.origin() != base.origin() {
                #[cfg(feature = "external")]
                {
                    edits.apply(parts);
                    return Step::External(target, extras);
                }
                #[cfg(not(feature = "external"))]
                return refuse(
                    parts,
                    "rewrite to another origin needs the `external` cargo feature of \
                     tower-proxy-fn, and ProxyLayer::external with the origin allowed",
                    target.as_str(),
                );
            }
            if already_routed(parts) {
                return refuse_after_routing(parts, target.as_str());
            }
            let Some(uri) = rewritten_uri(&parts.uri, &target) else {
                return refuse(
                    parts,
                    "rewrite destination is not a valid URI",
                    target.as_str(),
                );
            };
            rewrite_to(edits, parts, uri, extras)
        }
    }
}

#[cold]
#[inline(never)]
fn invalid_decision(parts: &Parts, reason: &str) -> Step {
    tracing::error!(path = %parts.uri.path(), %reason, "proxy function returned an invalid response");
    Step::Respond(error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
    ))
}

/// Sends the request on under `uri`, keeping the URI it came with for handlers.
fn rewrite_to(edits: RequestEdits, parts: &mut Parts, uri: Uri, extras: ResponseExtras) -> Step {
    if parts.extensions.get::<OriginalUri>().is_none() {
        parts.extensions.insert(OriginalUri(parts.uri.clone()));
    }
    parts.uri = uri;
    edits.apply(parts);
    Step::Forward(extras)
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
    let Some(target) = resolve(&base, &destination) else {
        return Err(("redirect destination is not a valid URL", destination));
    };
    let location = if target.origin() == base.origin() {
        relative(&target)
    } else {
        target.to_string()
    };
    HeaderValue::try_from(location).map_err(|_| (NOT_A_HEADER_VALUE, destination))
}

/// The router already chose a handler for this request: calling on would serve the old
/// route (or the fallback) under the new path, so fail loudly instead.
fn refuse_after_routing(parts: &Parts, destination: &str) -> Step {
    tracing::error!(
        path = %parts.uri.path(),
        destination,
        "ProxyLayer cannot rewrite after routing: it runs inside a Router (added \
         with Router::layer, Router::route_layer or as a route's service). Wrap \
         the whole Router instead: `ProxyLayer::new(proxy).layer(router)` and \
         serve it with `axum::ServiceExt::into_make_service`"
    );
    Step::Respond(error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
    ))
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
            // `%2e` is a dot to the URL Standard (a dot segment when it makes one up), so it
            // goes to the parser.
            b'%' => bytes.get(i + 1..i + 3).is_some_and(|hex| {
                hex.iter().all(u8::is_ascii_hexdigit) && !hex.eq_ignore_ascii_case(b"2e")
            }),
            _ => false,
        };
        if !plain {
            return false;
        }
    }
    true
}

/// Whether an axum `Router` has routed this request already. The router sets `MatchedPath`
/// for a matched route; for its fallback it only leaves `OriginalUri`, with the path
/// unchanged. (A router nested with `nest` strips its prefix, so there the paths differ and a
/// rewrite still reaches the nested router.)
fn already_routed(parts: &Parts) -> bool {
    parts.extensions.get::<MatchedPath>().is_some()
        || parts
            .extensions
            .get::<OriginalUri>()
            .is_some_and(|original| original.0.path() == parts.uri.path())
}

/// What a decision changes in the request the inner service gets.
#[derive(Default)]
struct RequestEdits {
    headers: Vec<HeaderEdit>,
    extensions: Extensions,
}

impl RequestEdits {
    fn apply(self, parts: &mut Parts) {
        // Most decisions edit nothing: not even an empty list is walked then (measured with
        // `scripts/profile.sh`: about 30 instructions per matched request).
        if self.headers.is_empty() && self.extensions.is_empty() {
            return;
        }
        for edit in self.headers {
            edit.apply(&mut parts.headers);
        }
        if !self.extensions.is_empty() {
            parts.extensions.extend(self.extensions);
        }
    }
}

fn refuse(parts: &Parts, reason: &str, destination: &str) -> Step {
    tracing::error!(path = %parts.uri.path(), destination, "{reason}");
    Step::Respond(error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
    ))
}

/// Resolves a destination against the request's URL.
///
/// An absolute URL (`scheme://...`) is taken as written. Anything else is a reference on the
/// request's origin and must stay there: the URL parser drops tabs and line breaks anywhere
/// and leading spaces and control characters, so those go first; then a leading run of `/`
/// and `\` is folded to one `/`, so that `//evil.example`, `/\evil.example` or
/// `/\t/evil.example` built from request data stays a path. A reference that still resolves
/// to another origin is refused.
pub(crate) fn resolve(base: &Url, destination: &str) -> Option<Url> {
    if has_scheme(destination) {
        return Url::parse(destination).ok();
    }
    let cleaned: String = destination
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let trimmed = cleaned.trim_start_matches(['/', '\\']);
    let target = if trimmed.len() != cleaned.len() {
        base.join(&format!("/{trimmed}")).ok()?
    } else {
        base.join(&cleaned).ok()?
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
/// with `//` would read as another host, so that one is written absolute.
fn relative(url: &Url) -> String {
    if url.path().starts_with("//") {
        return url.to_string();
    }
    let mut out = url.path().to_owned();
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
    use http::Request;

    fn base() -> Url {
        Url::parse("http://localhost:3000/dashboard?x=1").unwrap()
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
            let url = resolve(&base(), input).unwrap();
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

    fn external_rewrite() -> (Step, Parts) {
        let (mut parts, ()) = Request::get("http://localhost:3000/api/x")
            .body(())
            .unwrap()
            .into_parts();
        let step = apply(
            ProxyResponse::rewrite("http://backend.example/api/x").request_header("x-user", "ann"),
            &mut parts,
        );
        (step, parts)
    }

    #[cfg(not(feature = "external"))]
    #[test]
    fn without_the_feature_an_external_rewrite_is_a_500() {
        let (Step::Respond(response), _) = external_rewrite() else {
            panic!("an external rewrite must not reach the inner service");
        };
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[cfg(feature = "external")]
    #[test]
    fn with_the_feature_an_external_rewrite_goes_upstream_with_the_edits() {
        let (Step::External(target, _), parts) = external_rewrite() else {
            panic!("an external rewrite is forwarded");
        };
        assert_eq!(target.as_str(), "http://backend.example/api/x");
        assert_eq!(parts.headers["x-user"], "ann");
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
        for plain in ["/login?from=%2Fdashboard", "/a.b/c..d", "/x?y=../z", "/"] {
            assert!(is_plain_local_path(plain), "{plain:?}");
        }
    }
}
