//! The rules at request time: what runs before the proxy function (normalization, the
//! trailing slash, headers rules, redirects), the rewrites after it, and the answers of the
//! rules' own (a redirect, a 400, a 414 or a 500).

use crate::url_safety::RedirectStatus;
use axum::response::Response;
use http::header::{HeaderName, HeaderValue, SET_COOKIE};
use http::{HeaderMap, Request, StatusCode};

use crate::matcher::{decode_uri_component, Undecided};
use crate::response::{error_response, internal_error};

use super::destination::substitute;
use super::{normalize, Rules, MAX_REWRITE_HOPS};

impl Rules {
    /// Everything before the proxy function: normalization, trailing slash, headers,
    /// redirects.
    pub(crate) fn before_proxy<B>(&self, request: &Request<B>) -> BeforeProxy {
        let path = request.uri().path();
        if self.normalize_url {
            if let Some(normalized) = normalize::repeated_slashes(path) {
                return BeforeProxy::Respond(redirect_response(
                    request,
                    RedirectStatus::Permanent,
                    with_query(normalized, request.uri().query()),
                ));
            }
            if path.contains('%') && decode_uri_component(path).is_none() {
                tracing::debug!(%path, "path does not percent-decode: 400");
                return BeforeProxy::Respond(error_response(
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                ));
            }
        }
        if let Some(target) = self.trailing_slash.redirect(path) {
            let skipped = self
                .skip_trailing_slash
                .as_ref()
                .is_some_and(|m| m.matches(request));
            if !skipped {
                return BeforeProxy::Respond(redirect_response(
                    request,
                    RedirectStatus::Permanent,
                    with_query(target, request.uri().query()),
                ));
            }
        }
        let locales = self.locales.as_ref();
        let scan = self.filters.redirects.scan(request);
        for (i, rule) in self.redirects.iter().enumerate() {
            if !scan.may_match(i) {
                continue;
            }
            let hit = match rule.source.captures(request, locales) {
                Ok(Some(hit)) => hit,
                Ok(None) => continue,
                Err(Undecided) => {
                    return BeforeProxy::Respond(undecided(request, &rule.source.location));
                }
            };
            let locale = rule.source.destination_locale(&hit, locales);
            let target = rule
                .destination
                .build(&hit.params, request.uri().query(), false, locale);
            return BeforeProxy::Respond(redirect_response(request, rule.status, target));
        }
        // After the redirects: a config redirect carries no headers rules (Next.js's
        // `resolve-routes.ts`), so they are worked out only for requests that go on.
        match self.response_headers(request) {
            Ok(headers) => BeforeProxy::Continue(headers),
            Err(rule) => BeforeProxy::Respond(undecided(request, rule)),
        }
    }

    /// The headers rules' headers for a request, later rules winning for a key; `Err` with
    /// the rule that could not be decided.
    fn response_headers<B>(&self, request: &Request<B>) -> Result<Option<ExtraHeaders>, &str> {
        let mut out: Vec<(HeaderName, HeaderValue)> = Vec::new();
        let scan = self.filters.headers.scan(request);
        for (i, rule) in self.headers.iter().enumerate() {
            if !scan.may_match(i) {
                continue;
            }
            let Some(hit) = rule
                .source
                .captures(request, self.locales.as_ref())
                .map_err(|Undecided| rule.source.location.as_str())?
            else {
                continue;
            };
            for (key, value) in &rule.headers {
                let (key, value) = if hit.params.is_empty() {
                    (key.clone(), value.clone())
                } else {
                    let raw = |v: &str| v.to_owned();
                    (
                        substitute(key, &hit.params, raw),
                        substitute(value, &hit.params, raw),
                    )
                };
                let (Ok(name), Ok(value)) = (
                    HeaderName::try_from(key.as_str()),
                    HeaderValue::try_from(value.as_str()),
                ) else {
                    tracing::error!(rule = %rule.source.location, %key, %value, "header rule gave an invalid header; skipped");
                    continue;
                };
                if name != SET_COOKIE {
                    out.retain(|(n, _)| *n != name);
                }
                out.push((name, value));
            }
        }
        Ok((!out.is_empty()).then_some(ExtraHeaders(out)))
    }

    /// Applies the `beforeFiles` rewrites in order; each one that matches changes the URI.
    // The `Err` is the finished 500, handed straight back as the response.
    #[allow(clippy::result_large_err)]
    pub(crate) fn apply_before_rewrites<B>(
        &self,
        request: &mut Request<B>,
        hops: &mut RewriteHops,
    ) -> Result<(), Response> {
        let filter = &self.filters.before;
        let mut scan = filter.scan(request);
        for (i, rule) in self.before.iter().enumerate() {
            if !scan.may_match(i) {
                continue;
            }
            match rule.apply(request, self.locales.as_ref()) {
                Ok(Some(target)) => {
                    hops.rewrite(request, &target, &rule.source.location)?;
                    // The next rules see the rewritten path.
                    scan = filter.scan(request);
                }
                Ok(None) => {}
                Err(Undecided) => return Err(undecided(request, &rule.source.location)),
            }
        }
        Ok(())
    }

    /// The next `afterFiles` / `fallback` rewrite at or after `from` (an index over both
    /// lists) that matches, with the index after it; `Err` with the answer when a rule
    /// cannot be decided.
    #[allow(clippy::result_large_err)]
    pub(crate) fn next_not_found_rewrite<B>(
        &self,
        request: &Request<B>,
        from: usize,
    ) -> Result<Option<(usize, String, &str)>, Response> {
        let rules = self
            .after
            .iter()
            .chain(&self.fallback)
            .enumerate()
            .skip(from);
        let scan = self.filters.not_found.scan(request);
        for (i, rule) in rules {
            if !scan.may_match(i) {
                continue;
            }
            let location = rule.source.location.as_str();
            match rule.apply(request, self.locales.as_ref()) {
                Ok(Some(target)) => return Ok(Some((i + 1, target, location))),
                Ok(None) => {}
                Err(Undecided) => return Err(undecided(request, location)),
            }
        }
        Ok(None)
    }
}
/// The answer when `rule` cannot be decided for a request: skipping the rule could skip a
/// redirect or a security header, so the request is answered instead, `414 URI Too Long`
/// for a path over [`MAX_PATH_LEN`](crate::matcher::MAX_PATH_LEN) (which no rule tests),
/// else `500` (an expression at its backtracking limit), logged.
#[cold]
fn undecided<B>(request: &Request<B>, rule: &str) -> Response {
    let path = request.uri().path();
    if path.len() > crate::matcher::MAX_PATH_LEN {
        tracing::warn!(
            rule,
            length = path.len(),
            "path over the matcher's length limit: 414"
        );
        return error_response(StatusCode::URI_TOO_LONG, "URI Too Long");
    }
    tracing::error!(
        rule,
        %path,
        "rule could not be decided (regular expression backtracking limit): 500"
    );
    internal_error()
}

/// What happens before the proxy function.
pub(crate) enum BeforeProxy {
    /// A redirect or an error of the rules' own.
    Respond(Response),
    /// On to the proxy; these headers go on its response.
    Continue(Option<ExtraHeaders>),
}

/// Headers from headers rules, for one response.
#[derive(Debug)]
pub(crate) struct ExtraHeaders(Vec<(HeaderName, HeaderValue)>);

impl ExtraHeaders {
    pub(crate) fn apply(self, headers: &mut HeaderMap) {
        for (name, value) in self.0 {
            if name == SET_COOKIE {
                headers.append(name, value);
            } else if !headers.contains_key(&name) {
                headers.insert(name, value);
            }
        }
    }
}

/// The rewrites one request took, bounded by [`MAX_REWRITE_HOPS`]. Not
/// [`compose::Chain`](crate::compose::Chain), which chains proxy functions.
#[derive(Debug)]
pub(crate) struct RewriteHops {
    paths: Vec<String>,
}

impl RewriteHops {
    /// No rewrite yet; the request's first URI is noted at the first rewrite.
    pub(crate) fn new() -> Self {
        RewriteHops { paths: Vec::new() }
    }

    /// Whether the rewrites so far left the request on another path and query than it came
    /// with (a rule may rewrite to the same one). Asked instead of comparing URIs so that
    /// no URI is copied on a request no rule rewrote.
    pub(crate) fn moved(&self) -> bool {
        self.paths.first() != self.paths.last()
    }

    /// Points the request at `target` (path and query), keeping the original URI for
    /// handlers; `Err` is the 500 for a chain over the limit or a target that is not a URI,
    /// and a 400 for a target whose path has a dot segment: the inner service would get a
    /// path the rule did not write (`/public/../admin` from `/docs/:path*` ->
    /// `/public/:path*`), which a router, a file server or an upstream may resolve to a
    /// path the proxy never decided on.
    #[allow(clippy::result_large_err)]
    pub(crate) fn rewrite<B>(
        &mut self,
        request: &mut Request<B>,
        target: &str,
        rule: &str,
    ) -> Result<(), Response> {
        if crate::url_safety::rewrite_has_dot_segment(target) {
            tracing::debug!(
                path = %request.uri().path(),
                %rule,
                destination = %target,
                "rewrite destination has a dot segment: 400"
            );
            return Err(error_response(StatusCode::BAD_REQUEST, "Bad Request"));
        }
        if self.paths.is_empty() {
            let first = request.uri().path_and_query().map_or("/", |p| p.as_str());
            self.paths.push(first.to_owned());
        }
        self.paths.push(target.to_owned());
        if self.paths.len() > MAX_REWRITE_HOPS + 1 {
            tracing::error!(
                chain = %self.paths.join(" -> "),
                "rewrite rules chained more than {MAX_REWRITE_HOPS} rewrites: 500"
            );
            return Err(internal_error());
        }
        let Some(uri) = crate::url_safety::uri_with_path_and_query(request.uri(), target) else {
            tracing::error!(%rule, destination = %target, "rewrite destination is not a valid URI: 500");
            return Err(internal_error());
        };
        crate::url_safety::point_at(request, uri);
        Ok(())
    }
}

fn with_query(mut path: String, query: Option<&str>) -> String {
    if let Some(query) = query {
        path.push('?');
        path.push_str(query);
    }
    path
}

/// A redirect of the rules (normalization, trailing slash, `redirects`). Its `Location` is
/// made as the proxy's redirects are, so a path built from the request (`/\\evil.example/`
/// under the trailing-slash policy) cannot name another host; a location that is not a
/// valid header value is a 500.
///
/// A destination whose path holds a dot segment in any spelling is answered 400 instead:
/// resolving it (here, or in the browser that follows the `Location`) would redirect,
/// permanently and cacheably with 301/308, to a path the rule did not write
/// (`/blog/..%2F..%2Fadmin` through `/blog/:slug*` -> `/news/:slug*` is `/admin`). Next.js
/// substitutes the parameters as sent (path-to-regexp's `compile` with its default
/// `encode`, which is the identity, in `prepareDestination`, vercel/next.js
/// `packages/next/src/shared/lib/router/utils/prepare-destination.ts`), so its `%2F` stays
/// encoded, but a `%2e%2e/` segment goes into the `Location` as it came and the browser
/// resolves it. Our parameters are percent-decoded (the matcher matches the decoded path),
/// so we refuse every dot segment, whichever way it was spelt.
fn redirect_response<B>(
    request: &Request<B>,
    status: RedirectStatus,
    destination: String,
) -> Response {
    // A rule's parameters are percent-decoded, so a dot segment may come from the request:
    // a 400, as for the proxy's rewrites.
    if crate::url_safety::destination_has_dot_segment(&destination) {
        tracing::debug!(
            path = %request.uri().path(),
            %destination,
            "redirect destination has a dot segment: 400"
        );
        return error_response(StatusCode::BAD_REQUEST, "Bad Request");
    }
    match crate::url_safety::redirect_response(request, destination, status, &[]) {
        Ok(response) => response,
        Err(refused) => {
            tracing::error!(destination = %refused.destination, "redirect rule: {}: 500", refused.reason);
            internal_error()
        }
    }
}
