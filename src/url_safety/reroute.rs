//! Pointing a request at another path: the one way to do it ([`point_at`]), and the one
//! definition of when it is too late to ([`already_routed`]).

use axum::extract::{MatchedPath, OriginalUri};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Extensions, HeaderMap, Request, Uri};

/// The head of a request, whole (`Request<B>`, as the rules see it) or taken apart
/// (`Parts`, as the proxy's layer sees it), so that one function serves both.
pub(crate) trait RequestHead {
    fn uri(&self) -> &Uri;
    fn uri_mut(&mut self) -> &mut Uri;
    fn headers(&self) -> &HeaderMap;
    fn extensions(&self) -> &Extensions;
    fn extensions_mut(&mut self) -> &mut Extensions;
}

impl RequestHead for Parts {
    fn uri(&self) -> &Uri {
        &self.uri
    }
    fn uri_mut(&mut self) -> &mut Uri {
        &mut self.uri
    }
    fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    fn extensions(&self) -> &Extensions {
        &self.extensions
    }
    fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }
}

impl<B> RequestHead for Request<B> {
    fn uri(&self) -> &Uri {
        Request::uri(self)
    }
    fn uri_mut(&mut self) -> &mut Uri {
        Request::uri_mut(self)
    }
    fn headers(&self) -> &HeaderMap {
        Request::headers(self)
    }
    fn extensions(&self) -> &Extensions {
        Request::extensions(self)
    }
    fn extensions_mut(&mut self) -> &mut Extensions {
        Request::extensions_mut(self)
    }
}

/// Points the request at `uri` (a rewrite), keeping the URI it came with in
/// [`OriginalUri`] for handlers. The first rewrite's original is kept: after several
/// rewrites (or behind an outer router that set it), `OriginalUri` is still what the client
/// asked for (guarded by `tests/outcomes.rs`).
pub(crate) fn point_at(request: &mut impl RequestHead, uri: Uri) {
    if request.extensions().get::<OriginalUri>().is_none() {
        let original = OriginalUri(request.uri().clone());
        request.extensions_mut().insert(original);
        request.extensions_mut().insert(OriginalUriFromRewrite);
    }
    *request.uri_mut() = uri;
}

/// Marks an [`OriginalUri`] that a rewrite of ours set, not a router: it says nothing about
/// routing, even when the rewrite kept the path (`/a` to `/a?x=1`).
#[derive(Clone, Copy, Debug)]
struct OriginalUriFromRewrite;

/// `original` with `path_and_query` (a path with an optional query) in place of its own;
/// scheme and authority are kept. `None` when it is not a valid path and query.
pub(crate) fn uri_with_path_and_query(original: &Uri, path_and_query: &str) -> Option<Uri> {
    with_path_and_query(original, PathAndQuery::try_from(path_and_query).ok()?)
}

pub(super) fn with_path_and_query(original: &Uri, path_and_query: PathAndQuery) -> Option<Uri> {
    let mut parts = original.clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).ok()
}

/// Whether an axum `Router` has routed this request already, so that a rewrite cannot reach
/// another handler and calling on would serve the old route (or the fallback) under the new
/// path.
///
/// The router sets [`MatchedPath`] when it matched a route. For its fallback it sets no
/// `MatchedPath` and only leaves [`OriginalUri`], with the path unchanged. A router nested
/// with `nest` strips its prefix, so there the paths differ: a layer outside the nested
/// router but inside the outer one still comes before the nested router's routing, and a
/// rewrite reaches it. An `OriginalUri` that our own rewrite set does not count. Guarded
/// over a real server by `tests/already_routed.rs`.
pub(crate) fn already_routed(request: &impl RequestHead) -> bool {
    let extensions = request.extensions();
    extensions.get::<MatchedPath>().is_some()
        || (extensions.get::<OriginalUriFromRewrite>().is_none()
            && extensions
                .get::<OriginalUri>()
                .is_some_and(|original| original.0.path() == request.uri().path()))
}
