//! [`ProxyService`]: the middleware built by [`ProxyLayer`](super::ProxyLayer).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::Response;
use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_service::Service;

use super::future::{AfterReading, ResponseFuture};
use super::{Buffered, BufferedCopy, Forward, Settings, Streamed};
use crate::function::ProxyFn;
use crate::matcher::LazySelection;
use crate::request::{Head, ProxyRequest};
use crate::response::error_response;
use crate::url_safety::check_request;

/// The middleware that runs the proxy function; built by [`ProxyLayer`](super::ProxyLayer).
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
}

impl<S, F, M> ProxyService<S, F, M>
where
    F: ProxyFn,
{
    /// Runs the matcher once, on a borrowed request: the request is moved only once, to
    /// whoever handles it (for a skipped request, the inner service: the hot path, which
    /// allocates nothing).
    #[inline]
    fn select<B>(&self, request: &Request<B>) -> LazySelection {
        match &self.settings.matcher {
            None => LazySelection::Run(None),
            Some(matcher) => matcher.select_lazily(request),
        }
    }

    /// The service that was polled ready; a clone is left for the next call.
    fn take_ready_inner(&mut self) -> S
    where
        S: Clone,
    {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}

/// The `400` for a matched request whose URL cannot be built faithfully (see
/// [`check_request`]): the function never sees it. `None` for a request that passes.
fn refused<B>(request: &Request<B>) -> Option<Response> {
    let refusal = check_request(request.uri(), request.headers()).err()?;
    tracing::warn!(path = %request.uri().path(), "{}: 400", refusal.reason);
    Some(error_response(refusal.status, "Bad Request"))
}

fn uri_too_long<B>(request: &Request<B>) -> Response {
    tracing::debug!(
        length = request.uri().path().len(),
        limit = crate::matcher::MAX_PATH_LEN,
        "path over the matcher's length limit: 414"
    );
    error_response(StatusCode::URI_TOO_LONG, "URI Too Long")
}

fn bad_request<B>(request: &Request<B>) -> Response {
    tracing::debug!(path = %request.uri().path(), "path does not percent-decode: 400");
    error_response(StatusCode::BAD_REQUEST, "Bad Request")
}

impl<S, F, B, ResBody> Service<Request<B>> for ProxyService<S, F, Streamed>
where
    S: Service<Request<B>, Response = http::Response<ResBody>> + Clone,
    F: ProxyFn,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, F, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.call_streamed(request, None)
    }
}

/// External rewrites: as [`Streamed`], and a rewrite to an allowed origin is forwarded there.
#[cfg(feature = "external")]
impl<S, F, B, ResBody> Service<Request<B>> for ProxyService<S, F, crate::external::External>
where
    S: Service<Request<B>, Response = http::Response<ResBody>> + Clone,
    F: ProxyFn,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, F, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.call_streamed(request, Some(axum::body::Body::new::<B>))
    }
}

impl<S, F, M> ProxyService<S, F, M>
where
    F: ProxyFn,
{
    /// A request whose body streams through: the function decides on the head alone.
    /// `to_body` makes the body streamable to an upstream, where the body type allows it.
    #[inline]
    fn call_streamed<B>(
        &mut self,
        request: Request<B>,
        to_body: Option<fn(B) -> axum::body::Body>,
    ) -> ResponseFuture<S, F, B>
    where
        S: Service<Request<B>> + Clone,
    {
        // The skipped request, the hot path, stays small enough to inline into the caller;
        // the rest is out of line.
        match self.select(&request) {
            LazySelection::Skip => ResponseFuture::passthrough(self.inner.call(request)),
            selection => self.call_selected(request, selection, to_body),
        }
    }

    #[inline(never)]
    fn call_selected<B>(
        &mut self,
        request: Request<B>,
        selection: LazySelection,
        to_body: Option<fn(B) -> axum::body::Body>,
    ) -> ResponseFuture<S, F, B>
    where
        S: Service<Request<B>> + Clone,
    {
        let matched = match selection {
            LazySelection::Skip => return ResponseFuture::passthrough(self.inner.call(request)),
            LazySelection::Malformed => return ResponseFuture::respond(bad_request(&request)),
            LazySelection::TooLong => return ResponseFuture::respond(uri_too_long(&request)),
            LazySelection::Run(matched) => matched,
        };
        if let Some(refusal) = refused(&request) {
            return ResponseFuture::respond(refusal);
        }
        let (parts, body) = request.into_parts();
        let head = Head::new(parts, Arc::clone(&self.settings));
        let proxy_request = ProxyRequest::new(Arc::clone(&head), matched);
        ResponseFuture::decide_at_once(
            &self.function,
            proxy_request,
            self.settings.timeout,
            &mut self.inner,
            head,
            body,
            Forward::new(&self.settings, to_body),
        )
    }
}

impl<S, F, B, ResBody> Service<Request<B>> for ProxyService<S, F, Buffered>
where
    S: Service<Request<B>, Response = http::Response<ResBody>> + Clone,
    F: ProxyFn,
    B: http_body::Body<Data = Bytes> + From<Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, F, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let matched = match self.select(&request) {
            LazySelection::Skip => return ResponseFuture::passthrough(self.inner.call(request)),
            LazySelection::Malformed => return ResponseFuture::respond(bad_request(&request)),
            LazySelection::TooLong => return ResponseFuture::respond(uri_too_long(&request)),
            LazySelection::Run(matched) => matched,
        };
        if let Some(refusal) = refused(&request) {
            return ResponseFuture::respond(refusal);
        }
        let inner = self.take_ready_inner();
        let limit = self.settings.body_limit;
        let (mut parts, body) = request.into_parts();
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return ResponseFuture::respond(too_large());
        }
        // With 404 rewrite rules, a copy of the bytes rides along for a second call.
        let copy = self.settings.keep_body_copy.then(|| {
            let copy = BufferedCopy::default();
            parts.extensions.insert(copy.clone());
            copy
        });
        let body_timeout = self.settings.body_timeout;
        let reading = Box::pin(async move {
            let collecting = Limited::new(body, limit).collect();
            let collected = match body_timeout {
                Some(limit) => match tokio::time::timeout(limit, collecting).await {
                    Ok(collected) => collected,
                    Err(_) => {
                        tracing::warn!("request body not read within its time limit: 408");
                        return Err(error_response(
                            StatusCode::REQUEST_TIMEOUT,
                            "Request Timeout",
                        ));
                    }
                },
                None => collecting.await,
            };
            match collected {
                Ok(collected) => {
                    let bytes = collected.to_bytes();
                    if let Some(copy) = copy {
                        let _ = copy.0.set(bytes.clone());
                    }
                    Ok((bytes.clone(), B::from(bytes)))
                }
                Err(err) if err.is::<LengthLimitError>() => Err(too_large()),
                Err(err) => {
                    tracing::debug!(error = %err, "request body could not be read: 400");
                    Err(error_response(StatusCode::BAD_REQUEST, "Bad Request"))
                }
            }
        });
        ResponseFuture::reading(
            reading,
            AfterReading {
                function: self.function.clone(),
                matched,
                settings: Arc::clone(&self.settings),
                inner,
                parts,
                forward: Forward::new(&self.settings, Some(axum::body::Body::new::<B>)),
            },
        )
    }
}

fn too_large() -> Response {
    error_response(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large")
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
