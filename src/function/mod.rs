//! The proxy function: what the layer calls for a matched request.
//!
//! - `mod.rs`: [`ProxyFn`], what the layer runs, and [`IntoProxyResponse`];
//! - `extract.rs`: [`ProxyHandler`], functions that take axum extractors and the app's
//!   state before the request.

mod extract;

use std::future::Future;

use axum::response::{IntoResponse, Response};
use http::request::Parts;

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
    /// response. Called only when [`PREPARES`](Self::PREPARES) is set.
    #[doc(hidden)]
    fn prepare(&mut self, parts: &mut Parts) -> impl Future<Output = Result<(), Response>> + Send {
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
