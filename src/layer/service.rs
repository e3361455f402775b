//! [`ProxyService`]: the middleware built by [`ProxyLayer`](super::ProxyLayer).

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::Response;
use bytes::Bytes;
use http::{Request, StatusCode};
use tower_service::Service;

use super::future::ResponseFuture;
use super::Settings;
use crate::function::ProxyFn;
use crate::matcher::{Decision, Params};
use crate::request::ProxyRequest;
use crate::response::error_response;

/// The middleware that runs the proxy function; built by [`ProxyLayer`](super::ProxyLayer).
#[derive(Clone)]
pub struct ProxyService<S, F> {
    inner: S,
    function: F,
    settings: Arc<Settings>,
}

impl<S, F> ProxyService<S, F> {
    pub(crate) fn new(inner: S, function: F, settings: Arc<Settings>) -> Self {
        Self {
            inner,
            function,
            settings,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, F, B, ResBody> Service<Request<B>> for ProxyService<S, F>
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
        let (source, params) = match &self.settings.matcher {
            None => (String::new(), Params::default()),
            Some(matcher) => match matcher.decide(&request) {
                // The hot path: the service that was polled ready takes the request as it is.
                Decision::Skip => return ResponseFuture::passthrough(self.inner.call(request)),
                Decision::MalformedPath => {
                    tracing::debug!(path = %request.uri().path(), "path does not percent-decode: 400");
                    return ResponseFuture::respond(error_response(
                        StatusCode::BAD_REQUEST,
                        "Bad Request",
                    ));
                }
                Decision::Run(matched) => (matched.source().to_owned(), matched.into_params()),
            },
        };

        // Take the service that was polled ready; leave a clone for the next call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let (parts, body) = request.into_parts();
        let parts = Arc::new(parts);
        let proxy_request =
            ProxyRequest::new(Arc::clone(&parts), params, self.settings.tasks.clone());
        ResponseFuture::deciding(
            &self.function,
            proxy_request,
            source,
            self.settings.timeout,
            inner,
            parts,
            body,
        )
    }
}

impl<S: fmt::Debug, F> fmt::Debug for ProxyService<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyService")
            .field("inner", &self.inner)
            .field("function", &std::any::type_name::<F>())
            .field("settings", &self.settings)
            .finish()
    }
}
