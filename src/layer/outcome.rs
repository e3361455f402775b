//! Turning a [`ProxyResponse`] into what happens next: a request for the inner service or a
//! response of the layer's own.

use axum::extract::{MatchedPath, OriginalUri};
use axum::response::Response;
use http::header::{HeaderValue, LOCATION};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Request, StatusCode, Uri};
use url::Url;

use crate::request::request_url;
use crate::response::{error_response, Action, ProxyResponse, ResponseExtras};

/// What the layer does after the proxy function decided.
pub(crate) enum Step<B> {
    /// Call the inner service, then add the extras to its response.
    Forward(Request<B>, ResponseExtras),
    /// Answer without the inner service.
    Respond(Response),
    /// Forward to another origin (an external rewrite), then add the extras to its response.
    #[cfg(feature = "external")]
    External(Request<B>, Url, ResponseExtras),
}

/// Applies the decision to the request it was made for.
pub(crate) fn apply<B>(mut decision: ProxyResponse, mut parts: Parts, body: B) -> Step<B> {
    if let Some(reason) = decision.invalid.take() {
        tracing::error!(path = %parts.uri.path(), %reason, "proxy function returned an invalid response");
        return Step::Respond(error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
        ));
    }
    let extras = ResponseExtras::take_from(&mut decision);
    let action = std::mem::replace(&mut decision.action, Action::Next);
    match action {
        Action::Next => {
            edit_request(&decision, &mut parts);
            Step::Forward(Request::from_parts(parts, body), extras)
        }
        Action::Respond(mut response) => {
            extras.apply(response.headers_mut());
            Step::Respond(response)
        }
        Action::Redirect(target, status) => {
            let base = request_url(&parts);
            let Some(target) = resolve(&base, &target) else {
                return refuse(&parts, "redirect destination is not a valid URL", &target);
            };
            let location = if target.origin() == base.origin() {
                relative(&target)
            } else {
                target.to_string()
            };
            let Ok(location) = HeaderValue::try_from(location) else {
                return refuse(
                    &parts,
                    "redirect destination is not a valid header value",
                    target.as_str(),
                );
            };
            let mut response = Response::new(axum::body::Body::empty());
            *response.status_mut() = status;
            response.headers_mut().insert(LOCATION, location);
            extras.apply(response.headers_mut());
            Step::Respond(response)
        }
        Action::Rewrite(target) => {
            let base = request_url(&parts);
            let Some(target) = resolve(&base, &target) else {
                return refuse(&parts, "rewrite destination is not a valid URL", &target);
            };
            if target.origin() != base.origin() {
                #[cfg(feature = "external")]
                {
                    edit_request(&decision, &mut parts);
                    return Step::External(Request::from_parts(parts, body), target, extras);
                }
                #[cfg(not(feature = "external"))]
                return refuse(
                    &parts,
                    "rewrite to another origin needs the `external` cargo feature of \
                     tower-proxy-fn, and ProxyLayer::external with the origin allowed",
                    target.as_str(),
                );
            }
            if already_routed(&parts) {
                // The router already chose a handler for this request: calling on would serve
                // the old route (or the fallback) under the new path, so fail loudly instead.
                tracing::error!(
                    path = %parts.uri.path(),
                    destination = %target,
                    "ProxyLayer cannot rewrite after routing: it runs inside a Router (added \
                     with Router::layer, Router::route_layer or as a route's service). Wrap \
                     the whole Router instead: `ProxyLayer::new(proxy).layer(router)` and \
                     serve it with `axum::ServiceExt::into_make_service`"
                );
                return Step::Respond(error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                ));
            }
            let Some(uri) = rewritten_uri(&parts.uri, &target) else {
                return refuse(
                    &parts,
                    "rewrite destination is not a valid URI",
                    target.as_str(),
                );
            };
            if parts.extensions.get::<OriginalUri>().is_none() {
                parts.extensions.insert(OriginalUri(parts.uri.clone()));
            }
            parts.uri = uri;
            edit_request(&decision, &mut parts);
            Step::Forward(Request::from_parts(parts, body), extras)
        }
    }
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

fn edit_request(decision: &ProxyResponse, parts: &mut Parts) {
    decision.apply_request_headers(&mut parts.headers);
    parts.extensions.extend(decision.extensions.clone());
}

fn refuse<B>(parts: &Parts, reason: &str, destination: &str) -> Step<B> {
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
    let mut parts = original.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(path_and_query).ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn external_rewrite() -> Step<()> {
        let (parts, ()) = Request::get("http://localhost:3000/api/x")
            .body(())
            .unwrap()
            .into_parts();
        apply(
            ProxyResponse::rewrite("http://backend.example/api/x").request_header("x-user", "ann"),
            parts,
            (),
        )
    }

    #[cfg(not(feature = "external"))]
    #[test]
    fn without_the_feature_an_external_rewrite_is_a_500() {
        let Step::Respond(response) = external_rewrite() else {
            panic!("an external rewrite must not reach the inner service");
        };
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[cfg(feature = "external")]
    #[test]
    fn with_the_feature_an_external_rewrite_goes_upstream_with_the_edits() {
        let Step::External(request, target, _) = external_rewrite() else {
            panic!("an external rewrite is forwarded");
        };
        assert_eq!(target.as_str(), "http://backend.example/api/x");
        assert_eq!(request.headers()["x-user"], "ann");
    }

    #[test]
    fn rewritten_uri_replaces_path_and_query() {
        let original: Uri = "/another?x=1".parse().unwrap();
        let target = resolve(&base(), "/api/echo/a:b%20c?y=2").unwrap();
        let uri = rewritten_uri(&original, &target).unwrap();
        assert_eq!(uri, "/api/echo/a:b%20c?y=2");
    }
}
