//! Proxy functions that take axum extractors before the request, and the app's state for
//! them: `async fn guard(State(app): State<App>, jar: CookieJar, req: ProxyRequest)`.
//!
//! A function of extractors becomes a [`ProxyFn`] once it has its state
//! ([`ProxyHandler::with_state`]); [`ProxyLayer::new`](crate::ProxyLayer::new) gives it `()`,
//! [`ProxyLayer::with_state`](crate::ProxyLayer::with_state) and
//! [`Chain::with_state`](crate::compose::Chain::with_state) the app's. A plain
//! `Fn(ProxyRequest)` is a [`ProxyHandler`] for every state and stays itself: it costs what it
//! cost before (`tests/budgets.rs`).

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either, Map};
use futures_util::FutureExt;
use http::request::Parts;

use super::{IntoProxyResponse, ProxyFn};
use crate::{ProxyRequest, ProxyResponse};

/// A proxy function that becomes a [`ProxyFn`] once it has the state `S`: a plain
/// `Fn(ProxyRequest)`, or an async function that takes up to 16 axum extractors
/// ([`FromRequestParts<S>`]) before the [`ProxyRequest`].
///
/// `T` tells the two kinds apart (`()` for a plain function, the extractors' types for the
/// others), as axum's `Handler<T, S>` does; you never write it.
///
/// An extractor's rejection is the response, as in axum, and its reason is logged (`info`
/// for a 4xx, `error` for a 5xx such as a missing `Extension`). In a layer the extractors run
/// on the request head itself, so what they change (an extension they cache) reaches the
/// inner service, as with axum's `from_fn`; in a [`Chain`](crate::compose::Chain) or behind
/// [`when`](crate::compose::when) they run on a copy of it.
///
/// ```
/// use axum::extract::State;
/// use http::HeaderMap;
/// use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};
///
/// #[derive(Clone)]
/// struct App {
///     api_key: &'static str,
/// }
///
/// async fn guard(State(app): State<App>, headers: HeaderMap, _req: ProxyRequest) -> ProxyResponse {
///     match headers.get("x-api-key") {
///         Some(key) if key == app.api_key => ProxyResponse::next(),
///         _ => ProxyResponse::respond(http::StatusCode::UNAUTHORIZED),
///     }
/// }
///
/// let layer = ProxyLayer::with_state(App { api_key: "s3cret" }, guard);
/// # let _ = layer;
/// ```
///
/// A function that needs a state its layer does not have does not compile:
///
/// ```compile_fail
/// # use axum::extract::State;
/// # use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};
/// # #[derive(Clone)] struct App;
/// async fn guard(State(_app): State<App>, _req: ProxyRequest) -> ProxyResponse {
///     ProxyResponse::next()
/// }
/// let layer = ProxyLayer::new(guard); // no `App` here: use `ProxyLayer::with_state`
/// ```
pub trait ProxyHandler<T, S>: Clone + Send + Sync + Sized + 'static {
    /// The function with its state, as the layer runs it.
    type ProxyFn: ProxyFn;

    /// Gives the function its state.
    fn with_state(self, state: S) -> Self::ProxyFn;
}

impl<F: ProxyFn, S> ProxyHandler<(), S> for F {
    type ProxyFn = F;

    fn with_state(self, _state: S) -> F {
        self
    }
}

/// A function of extractors with its state: the [`ProxyFn`] that
/// [`ProxyHandler::with_state`] builds.
pub struct WithState<F, S, T> {
    function: F,
    state: S,
    /// What [`ProxyFn::prepare`] extracted, taken by the [`ProxyFn::call`] that follows on
    /// this same value (the layer calls both on its own clone of the function, once per
    /// request). A lock, not a cell: a `ProxyFn` is `Sync`.
    extracted: Mutex<Option<T>>,
}

impl<F, S, T> WithState<F, S, T> {
    fn new(function: F, state: S) -> Self {
        Self {
            function,
            state,
            extracted: Mutex::new(None),
        }
    }
}

impl<F: Clone, S: Clone, T> Clone for WithState<F, S, T> {
    fn clone(&self) -> Self {
        Self::new(self.function.clone(), self.state.clone())
    }
}

impl<F, S, T> fmt::Debug for WithState<F, S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithState")
            .field("function", &type_name::<F>())
            .field("state", &type_name::<S>())
            .finish()
    }
}

/// The future of a function of extractors: the function's own future when the layer
/// extracted beforehand, else one boxed future that extracts from a copy of the head first.
pub type ExtractingFuture<Fut> = Either<
    Map<Fut, fn(<Fut as Future>::Output) -> ProxyResponse>,
    BoxFuture<'static, ProxyResponse>,
>;

/// Runs one extractor; its rejection becomes the response, with the reason logged.
async fn extract<T: FromRequestParts<S>, S: Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<T, Response> {
    match T::from_request_parts(parts, state).await {
        Ok(value) => Ok(value),
        Err(rejection) => Err(rejected::<T>(parts, rejection.into_response())),
    }
}

#[cold]
fn rejected<T>(parts: &Parts, response: Response) -> Response {
    let (path, status, extractor) = (parts.uri.path(), response.status(), type_name::<T>());
    if status.is_server_error() {
        tracing::error!(
            path,
            status = status.as_u16(),
            extractor,
            "an extractor of the proxy function failed"
        );
    } else {
        tracing::info!(
            path,
            status = status.as_u16(),
            extractor,
            "an extractor of the proxy function rejected the request"
        );
    }
    response
}

macro_rules! extractor_functions {
    ($($ty:ident),+) => {
        impl<F, Fut, S, $($ty,)+> ProxyHandler<($($ty,)+), S> for F
        where
            F: Fn($($ty,)+ ProxyRequest) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future + Send + 'static,
            Fut::Output: IntoProxyResponse,
            S: Clone + Send + Sync + 'static,
            $($ty: FromRequestParts<S> + Send + 'static,)+
        {
            type ProxyFn = WithState<F, S, ($($ty,)+)>;

            fn with_state(self, state: S) -> Self::ProxyFn {
                WithState::new(self, state)
            }
        }

        #[allow(non_snake_case)]
        impl<F, Fut, S, $($ty,)+> ProxyFn for WithState<F, S, ($($ty,)+)>
        where
            F: Fn($($ty,)+ ProxyRequest) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future + Send + 'static,
            Fut::Output: IntoProxyResponse,
            S: Clone + Send + Sync + 'static,
            $($ty: FromRequestParts<S> + Send + 'static,)+
        {
            type Future = ExtractingFuture<Fut>;
            type Output = ProxyResponse;

            const PREPARES: bool = true;

            fn prepare(
                &mut self,
                parts: &mut Parts,
            ) -> impl Future<Output = Result<(), Box<Response>>> + Send {
                async move {
                    $(let $ty = extract::<$ty, S>(parts, &self.state).await.map_err(Box::new)?;)+
                    *self.extracted.get_mut().unwrap_or_else(PoisonError::into_inner) =
                        Some(($($ty,)+));
                    Ok(())
                }
            }

            fn call(&self, request: ProxyRequest) -> Self::Future {
                let ready = self
                    .extracted
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                if let Some(($($ty,)+)) = ready {
                    let finish: fn(Fut::Output) -> ProxyResponse =
                        IntoProxyResponse::into_proxy_response;
                    return Either::Left((self.function)($($ty,)+ request).map(finish));
                }
                // Not prepared by a layer (a step of a chain, a test): extract from a copy.
                let (function, state) = (self.function.clone(), self.state.clone());
                Either::Right(Box::pin(async move {
                    let mut parts = request.head.parts.clone();
                    $(
                        let $ty = match extract::<$ty, S>(&mut parts, &state).await {
                            Ok(value) => value,
                            Err(response) => return ProxyResponse::respond(response),
                        };
                    )+
                    function($($ty,)+ request).await.into_proxy_response()
                }))
            }
        }
    };
}

extractor_functions!(T1);
extractor_functions!(T1, T2);
extractor_functions!(T1, T2, T3);
extractor_functions!(T1, T2, T3, T4);
extractor_functions!(T1, T2, T3, T4, T5);
extractor_functions!(T1, T2, T3, T4, T5, T6);
extractor_functions!(T1, T2, T3, T4, T5, T6, T7);
extractor_functions!(T1, T2, T3, T4, T5, T6, T7, T8);
extractor_functions!(T1, T2, T3, T4, T5, T6, T7, T8, T9);
extractor_functions!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10);
extractor_functions!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11);
extractor_functions!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12);
extractor_functions!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13);
extractor_functions!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14);
extractor_functions!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15);
extractor_functions!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16);

impl ProxyRequest {
    /// Runs an axum extractor that needs no state on a copy of the request head, for
    /// one-off use inside the function (an extractor every request needs is better taken as
    /// a parameter: the layer then runs it on the head itself, with no copy).
    ///
    /// ```
    /// use axum::extract::Query;
    /// use tower_proxy_fn::{ProxyRequest, ProxyResponse};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Page {
    ///     page: u32,
    /// }
    ///
    /// async fn proxy(req: ProxyRequest) -> ProxyResponse {
    ///     match req.extract::<Query<Page>>().await {
    ///         Ok(Query(Page { page })) if page > 100 => ProxyResponse::redirect("/archive"),
    ///         Ok(_) => ProxyResponse::next(),
    ///         Err(rejection) => ProxyResponse::respond(rejection),
    ///     }
    /// }
    /// # let _ = tower_proxy_fn::ProxyLayer::new(proxy);
    /// ```
    pub async fn extract<T: FromRequestParts<()>>(&self) -> Result<T, T::Rejection> {
        self.extract_with_state(&()).await
    }

    /// [`extract`](Self::extract) for an extractor that reads a state (`State<App>`, a
    /// signed cookie jar's key); pass the state the function has.
    pub async fn extract_with_state<T, S>(&self, state: &S) -> Result<T, T::Rejection>
    where
        T: FromRequestParts<S>,
        S: Send + Sync,
    {
        let mut parts = self.head.parts.clone();
        T::from_request_parts(&mut parts, state).await
    }
}
