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
use crate::matcher::{Deferred, LazyDecision};
use crate::request::{Head, ProxyRequest};
use crate::response::error_response;

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

/// A request the proxy function is to see.
struct Selected<S, B> {
    matched: Option<Deferred>,
    inner: S,
    request: Request<B>,
}

impl<S, F, M> ProxyService<S, F, M>
where
    F: ProxyFn,
{
    /// Runs the matcher once. A request it skips goes to the inner service that was polled
    /// ready, as it is: that is the hot path, and it allocates nothing.
    // The `Err` is the finished response future, returned as is: boxing it would put an
    // allocation on the hot path.
    #[allow(clippy::result_large_err)]
    fn select<B>(&mut self, request: Request<B>) -> Result<Selected<S, B>, ResponseFuture<S, F, B>>
    where
        S: Service<Request<B>> + Clone,
    {
        let matched = match &self.settings.matcher {
            None => None,
            Some(matcher) => match matcher.decide_lazily(&request) {
                LazyDecision::Skip => {
                    return Err(ResponseFuture::passthrough(self.inner.call(request)))
                }
                LazyDecision::Malformed => {
                    tracing::debug!(path = %request.uri().path(), "path does not percent-decode: 400");
                    return Err(ResponseFuture::respond(error_response(
                        StatusCode::BAD_REQUEST,
                        "Bad Request",
                    )));
                }
                LazyDecision::Run(matched) => matched,
            },
        };
        // Take the service that was polled ready; leave a clone for the next call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Ok(Selected {
            matched,
            inner,
            request,
        })
    }
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
    fn call_streamed<B>(
        &mut self,
        request: Request<B>,
        to_body: Option<fn(B) -> axum::body::Body>,
    ) -> ResponseFuture<S, F, B>
    where
        S: Service<Request<B>> + Clone,
    {
        let selected = match self.select(request) {
            Ok(selected) => selected,
            Err(done) => return done,
        };
        let (parts, body) = selected.request.into_parts();
        let head = Head::new(parts);
        let proxy_request = ProxyRequest::new(
            Arc::clone(&head),
            selected.matched,
            self.settings.tasks.clone(),
            self.settings.context.clone(),
        );
        ResponseFuture::deciding(
            &self.function,
            proxy_request,
            self.settings.timeout,
            selected.inner,
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
        let selected = match self.select(request) {
            Ok(selected) => selected,
            Err(done) => return done,
        };
        let limit = self.settings.body_limit;
        let (mut parts, body) = selected.request.into_parts();
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
        let reading = Box::pin(async move {
            match Limited::new(body, limit).collect().await {
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
                matched: selected.matched,
                timeout: self.settings.timeout,
                tasks: self.settings.tasks.clone(),
                context: self.settings.context.clone(),
                inner: selected.inner,
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
