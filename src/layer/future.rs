//! [`ResponseFuture`]: the response future of [`ProxyService`](crate::ProxyService).
//!
//! ```text
//!            call
//!  ┌──────────┼──────────────────────┐
//!  │ skipped  │ refused (400/414)    │ matched
//!  ▼          ▼                      ▼
//! Passthrough Ready                  Matched
//! (the inner  (the layer's           (one boxed future: the body, the
//!  service's   response)              function, its decision carried out)
//!  future)
//! ```
//!
//! A skipped request costs the inner service's own future and no allocation
//! (`tests/budgets.rs`); a matched one, one box, as axum's `from_fn` does.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use pin_project_lite::pin_project;

pin_project! {
    /// The response future of [`ProxyService`](crate::ProxyService).
    pub struct ResponseFuture<Fut, E> {
        #[pin]
        state: State<Fut, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<Fut, E> {
        // Not matched: the inner service's own future.
        Passthrough { #[pin] future: Fut },
        // A response of the layer's own, decided in `call`. `None` once returned.
        Ready { response: Option<Response> },
        // A matched request (see `matched.rs`).
        Matched { future: BoxFuture<'static, Result<Response, E>> },
    }
}

impl<Fut, E> ResponseFuture<Fut, E> {
    pub(crate) fn passthrough(future: Fut) -> Self {
        Self {
            state: State::Passthrough { future },
        }
    }

    pub(crate) fn ready(response: Response) -> Self {
        Self {
            state: State::Ready {
                response: Some(response),
            },
        }
    }

    pub(crate) fn matched(future: BoxFuture<'static, Result<Response, E>>) -> Self {
        Self {
            state: State::Matched { future },
        }
    }
}

impl<Fut, E, ResBody> Future for ResponseFuture<Fut, E>
where
    Fut: Future<Output = Result<http::Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Passthrough { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(Body::new)))
            }
            StateProj::Ready { response } => {
                let response = response
                    .take()
                    .expect("ResponseFuture polled after it completed");
                Poll::Ready(Ok(response))
            }
            StateProj::Matched { future } => future.as_mut().poll(cx),
        }
    }
}

impl<Fut, E> fmt::Debug for ResponseFuture<Fut, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
