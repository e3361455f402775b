//! [`ProxyService`]: the middleware built by [`ProxyLayer`](super::ProxyLayer).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::Response;
use bytes::Bytes;
use http::{Request, StatusCode};
use tower_service::Service;

use super::body_mode::{BodyMode, Streamed};
use super::future::ResponseFuture;
use super::matched::Matched;
use crate::function::ProxyFn;
use crate::matcher::LazySelection;
use crate::request::Head;
use crate::response::error_response;
use crate::settings::Settings;
use crate::url_safety::check_request;

/// The middleware that runs the proxy function; built by [`ProxyLayer`](super::ProxyLayer).
///
/// `M` is the [body mode](crate::body_mode).
pub struct ProxyService<S, F, M = Streamed> {
    inner: S,
    function: F,
    settings: Arc<Settings>,
    mode: PhantomData<fn() -> M>,
}

impl<S: Clone, F: Clone, M> Clone for ProxyService<S, F, M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            function: self.function.clone(),
            settings: Arc::clone(&self.settings),
            mode: PhantomData,
        }
    }
}

impl<S, F, M> ProxyService<S, F, M> {
    pub(crate) fn new(inner: S, function: F, settings: Arc<Settings>) -> Self {
        Self {
            inner,
            function,
            settings,
            mode: PhantomData,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, F, M, B, ResBody> Service<Request<B>> for ProxyService<S, F, M>
where
    S: Service<Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    F: ProxyFn,
    M: BodyMode<B>,
    B: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The matcher runs on the borrowed request, so that a skipped one (the common case)
        // moves once, to the inner service, with no allocation (`tests/budgets.rs`).
        let captured = match self
            .settings
            .matcher
            .as_ref()
            .map(|m| m.select_lazily(&request))
        {
            None => None,
            Some(LazySelection::Skip) => {
                return ResponseFuture::passthrough(self.inner.call(request))
            }
            Some(LazySelection::Run(captured)) => captured,
            // The matcher could not decide: the request is refused rather than let past the
            // function (`tests/fail_closed.rs`).
            Some(LazySelection::Malformed) => return ResponseFuture::ready(bad_path(&request)),
            Some(LazySelection::TooLong) => return ResponseFuture::ready(uri_too_long(&request)),
        };
        if let Err(refusal) = check_request(request.uri(), request.headers()) {
            tracing::warn!(path = %request.uri().path(), "{}: 400", refusal.reason);
            return ResponseFuture::ready(error_response(refusal.status, "Bad Request"));
        }
        // The service that was polled ready goes with the request; a clone stays for the
        // next call (as axum's `from_fn` does).
        let inner = self.inner.clone();
        let matched = Matched {
            inner: std::mem::replace(&mut self.inner, inner),
            function: self.function.clone(),
            captured,
        };
        let (parts, body) = request.into_parts();
        let head = Head::new(parts, Arc::clone(&self.settings));
        ResponseFuture::matched(Box::pin(matched.handle::<M, B, ResBody>(head, body)))
    }
}

fn uri_too_long<B>(request: &Request<B>) -> Response {
    tracing::debug!(
        length = request.uri().path().len(),
        limit = crate::matcher::MAX_PATH_LEN,
        "path over the matcher's length limit: 414"
    );
    error_response(StatusCode::URI_TOO_LONG, "URI Too Long")
}

fn bad_path<B>(request: &Request<B>) -> Response {
    tracing::debug!(path = %request.uri().path(), "path does not percent-decode: 400");
    error_response(StatusCode::BAD_REQUEST, "Bad Request")
}

impl<S: fmt::Debug, F, M> fmt::Debug for ProxyService<S, F, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyService")
            .field("inner", &self.inner)
            .field("function", &std::any::type_name::<F>())
            .field("settings", &self.settings)
            .field("body", &std::any::type_name::<M>())
            .finish()
    }
}
