//! Turning a [`ProxyResponse`] into what happens next: a request for the inner service or a
//! response of the layer's own.

use axum::response::Response;
use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
#[cfg(feature = "external")]
use url::Url;

use crate::request_values::apply_cookie_changes;
use crate::response::{
    error_response, misconfigured, Outcome, ProxyResponse, ResponseExtras, REWRITE_AFTER_ROUTING,
};
use crate::settings::Settings;
use crate::url_safety::{
    already_routed, point_at, redirect_response, rewrite_destination, Refusal, RefusedRedirect,
    RewriteTarget,
};

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
    if let Some(reason) = decision.invalid_reason() {
        return invalid_decision(parts, reason);
    }
    #[cfg(feature = "signed-cookies")]
    let mut decision = decision;
    #[cfg(feature = "signed-cookies")]
    if let Err(reason) = crate::cookies::seal(&mut decision, settings.cookie_key.as_ref()) {
        return invalid_decision(parts, &reason);
    }
    // Taken apart by value: every piece moves once to where it goes.
    let (outcome, mut additions) = decision.into_parts();
    let edits = additions.take_request_edits();
    let extras = additions.into_response_extras();
    match outcome {
        Outcome::Next => {
            edits.apply(parts);
            apply_cookie_changes(&mut parts.headers, extras.cookies());
            Step::CallInner(extras)
        }
        Outcome::Respond(mut response) => {
            drop_empty_values(response.headers_mut());
            Step::Respond(extras.apply_to(response))
        }
        Outcome::Redirect {
            destination,
            status,
        } => match redirect_response(parts, destination, status, &settings.origins) {
            Ok(response) => Step::Respond(extras.apply_to(response)),
            Err(refused) => refuse_redirect(parts, &refused),
        },
        Outcome::Rewrite { destination } => {
            let forwarded = |url: &url::Url| settings.forwards_to(url);
            match rewrite_destination(destination, parts, &settings.origins, forwarded) {
                Ok(RewriteTarget::Local(uri)) => {
                    if already_routed(parts) {
                        return refuse_after_routing(parts, &uri.to_string());
                    }
                    point_at(parts, uri);
                    edits.apply(parts);
                    apply_cookie_changes(&mut parts.headers, extras.cookies());
                    Step::CallInner(extras)
                }
                #[cfg(feature = "external")]
                Ok(RewriteTarget::External(target)) => {
                    // The proxy's cookies are this origin's: another origin is not told
                    // (`headers_and_cookies_from_both_sides_land_where_they_belong`).
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
            }
        }
    }
}

/// Removes the headers with an empty value from the proxy's own response: Next.js does not
/// send them (recorded: `/empty-header/respond` in the scenario app; `tests/empty_headers.rs`).
fn drop_empty_values(headers: &mut HeaderMap) {
    if !headers.values().any(HeaderValue::is_empty) {
        return;
    }
    let names: Vec<HeaderName> = headers
        .iter()
        .filter(|(_, value)| value.is_empty())
        .map(|(name, _)| name.clone())
        .collect();
    for name in names {
        let kept: Vec<HeaderValue> = headers
            .get_all(&name)
            .iter()
            .filter(|value| !value.is_empty())
            .cloned()
            .collect();
        headers.remove(&name);
        for value in kept {
            headers.append(name.clone(), value);
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

/// The router already chose a handler for this request: calling on would serve the old
/// route (or the fallback) under the new path, so fail loudly instead.
fn refuse_after_routing(parts: &Parts, destination: &str) -> Step {
    Step::Respond(misconfigured(
        &REWRITE_AFTER_ROUTING,
        parts.uri.path(),
        destination,
    ))
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

fn refuse_redirect(parts: &Parts, refused: &RefusedRedirect) -> Step {
    tracing::error!(path = %parts.uri.path(), destination = %refused.destination, "{}", refused.reason);
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
