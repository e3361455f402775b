//! [`ResponseFuture`]: a state machine, so that nothing is boxed on the way through.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::future::CatchUnwind;
use futures_util::FutureExt;
use http::request::Parts;
use http::{Request, StatusCode};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::outcome::{self, Step};
use crate::function::{IntoProxyResponse, ProxyFn};
use crate::request::ProxyRequest;
use crate::response::{error_response, ResponseExtras};

pin_project! {
    /// The response future of [`ProxyService`](super::ProxyService).
    pub struct ResponseFuture<S, F, B>
    where
        S: Service<Request<B>>,
        F: ProxyFn,
    {
        #[pin]
        state: State<S, F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, F, B>
    where
        S: Service<Request<B>>,
        F: ProxyFn,
    {
        // Not matched: the inner service's own future.
        Passthrough { #[pin] future: S::Future },
        // The proxy function is running.
        Deciding {
            #[pin] future: CatchUnwind<AssertUnwindSafe<F::Future>>,
            pending: Option<Pending<S, B>>,
        },
        // The inner service runs after a next or a rewrite.
        Inner { #[pin] future: S::Future, extras: Option<ResponseExtras> },
        // A response of the layer's own.
        Ready { response: Option<Response> },
    }
}

/// What waits while the proxy function runs.
struct Pending<S, B> {
    inner: S,
    parts: Arc<Parts>,
    body: B,
    source: String,
    started: Instant,
}

impl<S, F, B> ResponseFuture<S, F, B>
where
    S: Service<Request<B>>,
    F: ProxyFn,
{
    pub(crate) fn passthrough(future: S::Future) -> Self {
        Self {
            state: State::Passthrough { future },
        }
    }

    pub(crate) fn respond(response: Response) -> Self {
        Self {
            state: State::Ready {
                response: Some(response),
            },
        }
    }

    pub(crate) fn deciding(
        function: &F,
        request: ProxyRequest,
        source: String,
        inner: S,
        parts: Arc<Parts>,
        body: B,
    ) -> Self {
        // A panic while the function builds its future is caught like one inside it.
        let future = match std::panic::catch_unwind(AssertUnwindSafe(|| function.call(request))) {
            Ok(future) => AssertUnwindSafe(future).catch_unwind(),
            Err(panic) => {
                log_panic(&parts, &*panic);
                return Self::respond(internal_error());
            }
        };
        Self {
            state: State::Deciding {
                future,
                pending: Some(Pending {
                    inner,
                    parts,
                    body,
                    source,
                    started: Instant::now(),
                }),
            },
        }
    }
}

impl<S, F, B, ResBody> Future for ResponseFuture<S, F, B>
where
    S: Service<Request<B>, Response = http::Response<ResBody>>,
    F: ProxyFn,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Output = Result<Response, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            let next = match this.state.as_mut().project() {
                StateProj::Passthrough { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(Body::new)));
                }
                StateProj::Ready { response } => {
                    let response = response.take().unwrap_or_else(internal_error);
                    return Poll::Ready(Ok(response));
                }
                StateProj::Inner { future, extras } => {
                    let mut response = ready!(future.poll(cx))?.map(Body::new);
                    if let Some(extras) = extras.take() {
                        extras.apply(response.headers_mut());
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Deciding { future, pending } => {
                    let result = ready!(future.poll(cx));
                    let Some(Pending {
                        mut inner,
                        parts,
                        body,
                        source,
                        started,
                    }) = pending.take()
                    else {
                        return Poll::Ready(Ok(internal_error()));
                    };
                    let decision = match result {
                        Ok(output) => output.into_proxy_response(),
                        Err(panic) => {
                            log_panic(&parts, &*panic);
                            return Poll::Ready(Ok(internal_error()));
                        }
                    };
                    tracing::debug!(
                        source = %source,
                        path = %parts.uri.path(),
                        outcome = ?decision,
                        elapsed_us = started.elapsed().as_micros() as u64,
                        "proxy decided"
                    );
                    // The function has dropped its request by now, so this rarely copies.
                    let parts = Arc::try_unwrap(parts).unwrap_or_else(|shared| (*shared).clone());
                    match outcome::apply(decision, parts, body) {
                        Step::Forward(request, extras) => State::Inner {
                            future: inner.call(request),
                            extras: (!extras.is_empty()).then_some(extras),
                        },
                        Step::Respond(response) => State::Ready {
                            response: Some(response),
                        },
                    }
                }
            };
            this.state.set(next);
        }
    }
}

fn internal_error() -> Response {
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

fn log_panic(parts: &Parts, panic: &(dyn Any + Send)) {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload");
    tracing::error!(path = %parts.uri.path(), panic = message, "proxy function panicked: 500");
}
