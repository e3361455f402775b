//! The proxy function: what the layer calls for a matched request.
//!
//! - `mod.rs`: [`ProxyFn`], what the layer runs, and [`IntoProxyResponse`];
//! - `extract.rs`: [`ProxyHandler`], functions that take axum extractors and the app's
//!   state before the request.

mod extract;

use std::any::Any;
use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::request::Parts;
use tokio::time::Sleep;

use crate::{ProxyRequest, ProxyResponse};

pub use extract::{ExtractingFuture, ProxyHandler, WithState};

/// An async function from [`ProxyRequest`] to a [`ProxyResponse`] (or a `Result` of one).
///
/// Implemented for every `Fn(ProxyRequest) -> impl Future<Output = R>` that is `Clone + Send +
/// Sync + 'static` where `R` is [`ProxyResponse`] or `Result<ProxyResponse, E>` with
/// `E: IntoResponse`. You rarely name this trait; write an `async fn` and pass it to
/// [`ProxyLayer::new`](crate::ProxyLayer::new).
///
/// ```
/// use tower_proxy_fn::{ProxyRequest, ProxyResponse};
///
/// async fn proxy(req: ProxyRequest) -> ProxyResponse {
///     if req.path() == "/old" {
///         return ProxyResponse::redirect("/new");
///     }
///     ProxyResponse::next()
/// }
/// # let _ = tower_proxy_fn::ProxyLayer::new(proxy);
/// ```
pub trait ProxyFn: Clone + Send + Sync + 'static {
    /// The future the function returns.
    type Future: Future<Output = Self::Output> + Send + 'static;
    /// What the future resolves to.
    type Output: IntoProxyResponse;

    /// Runs the function on one request.
    fn call(&self, request: ProxyRequest) -> Self::Future;

    /// Whether the layer should call [`prepare`](Self::prepare) before building the
    /// request; a constant, so that a plain function's path has no trace of it.
    #[doc(hidden)]
    const PREPARES: bool = false;

    /// Work on the request head while the layer still owns it, before [`call`](Self::call)
    /// on this same value: extractors run here on the real head, without a copy, and what
    /// they change reaches the inner service as in axum's `from_fn`. An `Err` is the
    /// response (boxed: the default future then stays a few bytes, and the layer's future,
    /// which has room for it, stays small: `the_matched_future_stays_small`). Called only
    /// when [`PREPARES`](Self::PREPARES) is set.
    #[doc(hidden)]
    fn prepare(
        &mut self,
        parts: &mut Parts,
    ) -> impl Future<Output = Result<(), Box<Response>>> + Send {
        let _ = parts;
        std::future::ready(Ok(()))
    }
}

impl<F, Fut> ProxyFn for F
where
    F: Fn(ProxyRequest) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoProxyResponse,
{
    type Future = Fut;
    type Output = Fut::Output;

    fn call(&self, request: ProxyRequest) -> Self::Future {
        self(request)
    }
}

/// What a proxy function may return: a [`ProxyResponse`], or a `Result` whose error is a
/// response of its own (like an axum handler's).
pub trait IntoProxyResponse {
    /// Turns `self` into the decision.
    fn into_proxy_response(self) -> ProxyResponse;
}

impl IntoProxyResponse for ProxyResponse {
    fn into_proxy_response(self) -> ProxyResponse {
        self
    }
}

impl<E: IntoResponse> IntoProxyResponse for Result<ProxyResponse, E> {
    fn into_proxy_response(self) -> ProxyResponse {
        self.unwrap_or_else(ProxyResponse::respond)
    }
}

/// Why [`prepare`] gave no go-ahead.
pub(crate) enum NotPrepared {
    /// An extractor's rejection, the response (boxed: it is large and rare).
    Rejected(Box<Response>),
    /// An extractor panicked.
    Panicked(Box<dyn Any + Send>),
    /// The extractors ran over the function's time limit.
    TimedOut,
}

/// Runs [`ProxyFn::prepare`] with its panics caught, within `limit`. The timer is set only
/// once the extractors have to wait: most answer at once, and need no runtime with time
/// enabled (`tests/extractor_budgets.rs` runs without one).
pub(crate) async fn prepare<F: ProxyFn>(
    function: &mut F,
    parts: &mut Parts,
    limit: Option<Duration>,
) -> Result<(), NotPrepared> {
    let mut running = pin!(AssertUnwindSafe(function.prepare(parts)).catch_unwind());
    let mut timer: Option<Pin<Box<Sleep>>> = None;
    poll_fn(|cx| {
        if let Poll::Ready(done) = running.as_mut().poll(cx) {
            return Poll::Ready(match done {
                Ok(Ok(())) => Ok(()),
                Ok(Err(rejection)) => Err(NotPrepared::Rejected(rejection)),
                Err(panic) => Err(NotPrepared::Panicked(panic)),
            });
        }
        let Some(limit) = limit else {
            return Poll::Pending;
        };
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        timer.as_mut().poll(cx).map(|()| Err(NotPrepared::TimedOut))
    })
    .await
}
