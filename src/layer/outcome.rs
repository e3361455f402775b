//! Turning a [`ProxyResponse`] into what happens next: a request for the inner service or a
//! response of the layer's own.

use axum::extract::{MatchedPath, OriginalUri};
use axum::response::Response;
use http::header::LOCATION;
use http::request::Parts;
use http::{Extensions, StatusCode, Uri};
use url::Url;

use crate::response::{
    error_response, misconfigured, Action, HeaderEdit, ProxyResponse, ResponseExtras,
    REWRITE_AFTER_ROUTING,
};
use crate::settings::Settings;
use crate::url_safety::{location, request_url, rewrite_destination, Refusal, RewriteTarget};

/// What the layer does after the proxy function decided.
pub(crate) enum Step {
    /// Call the inner service with the edited request, then add the extras to its response.
    CallInner(ResponseExtras),
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
pub(crate) fn apply(decision: ProxyResponse, parts: &mut Parts, settings: &Settings) -> Step {
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
            Step::CallInner(extras)
        }
        Action::Respond(mut response) => {
            extras.apply(response.headers_mut());
            Step::Respond(*response)
        }
        Action::Redirect(target, status) => {
            let base = || {
                request_url(&parts.uri, &parts.headers, &settings.origins)
                    .unwrap_or_else(|_| fallback_origin())
            };
            let location = match location(target, base) {
                Ok(location) => location,
                Err((reason, target)) => return refuse(parts, reason, &target),
            };
            let mut response = Response::new(axum::body::Body::empty());
            *response.status_mut() = status;
            response.headers_mut().insert(LOCATION, location);
            extras.apply(response.headers_mut());
            Step::Respond(response)
        }
        Action::Rewrite(target) => match rewrite_destination(target, parts, settings) {
            Ok(RewriteTarget::Local(uri)) => {
                if already_routed(parts) {
                    return refuse_after_routing(parts, &uri.to_string());
                }
                rewrite_to(edits, parts, uri, extras)
            }
            #[cfg(feature = "external")]
            Ok(RewriteTarget::External(target)) => {
                edits.apply(parts);
                Step::External(target, extras)
            }
            #[cfg(not(feature = "external"))]
            Ok(RewriteTarget::External(target)) => Step::Respond(misconfigured(
                &crate::response::EXTERNAL_NOT_CONFIGURED,
                parts.uri.path(),
                target.as_str(),
            )),
            Err(refusal) => refuse_with(parts, refusal),
        },
    }
}

/// The origin a redirect is resolved against when the request's cannot be worked out
/// (`check_request` refused it before the function ran, so only a request built by hand
/// gets here): never the client's text.
fn fallback_origin() -> Url {
    Url::parse("http://localhost/").expect("a valid literal URL")
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
    Step::CallInner(extras)
}

/// The router already chose a handler for this request: calling on would serve the old
/// route (or the fallback) under the new path, so fail loudly instead.
fn refuse_after_routing(parts: &Parts, destination: &str) -> Step {
    Step::Respond(misconfigured(
        &REWRITE_AFTER_ROUTING,
        parts.uri.path(),
        destination,
    ))
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

/// A destination refused for what it is made of: a `400` when the request could have made
/// it so (a dot segment taken from the path), a `500` for a destination the function got
/// wrong; logged either way.
fn refuse_with(parts: &Parts, refusal: Refusal) -> Step {
    let (path, status) = (parts.uri.path(), refusal.status.as_u16());
    if refusal.status.is_server_error() {
        tracing::error!(path, status, "{}", refusal.reason);
    } else {
        tracing::warn!(path, status, "{}", refusal.reason);
    }
    Step::Respond(error_response(
        refusal.status,
        refusal.status.canonical_reason().unwrap_or("Error"),
    ))
}

fn refuse(parts: &Parts, reason: &str, destination: &str) -> Step {
    tracing::error!(path = %parts.uri.path(), destination, "{reason}");
    Step::Respond(error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn external_rewrite() -> (Step, Parts) {
        let (mut parts, ()) = Request::get("http://localhost:3000/api/x")
            .body(())
            .unwrap()
            .into_parts();
        let step = apply(
            ProxyResponse::rewrite("http://backend.example/api/x").request_header("x-user", "ann"),
            &mut parts,
            &Settings::default(),
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
}
