//! The proxy function: what the layer calls for a matched request.

use std::future::Future;

use axum::response::IntoResponse;

use crate::{ProxyRequest, ProxyResponse};

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
