//! Composition: several proxy functions in one layer.
//!
//! Next.js allows one proxy function, so its users chain theirs by hand and lose cookies or
//! headers on the way. Here a [`Chain`] runs functions in order, each optionally behind its
//! own [`Matcher`]:
//!
//! - `next` hands on: the next function sees the request with the header edits and
//!   extensions applied, and response headers, cookies and extensions accumulate;
//! - the first rewrite, redirect or respond ends the chain and still carries everything the
//!   earlier functions added.
//!
//! ```
//! use tower_proxy_fn::compose::{chain, when};
//! use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};
//!
//! async fn with_request_id(_: ProxyRequest) -> ProxyResponse {
//!     ProxyResponse::next().request_header("x-request-id", "42")
//! }
//! async fn with_auth(req: ProxyRequest) -> ProxyResponse {
//!     // Sees x-request-id from the function before it.
//!     match req.cookies().get("session") {
//!         Some(_) => ProxyResponse::next(),
//!         None => ProxyResponse::redirect("/login"),
//!     }
//! }
//!
//! # fn main() -> Result<(), tower_proxy_fn::ConfigError> {
//! let proxy = chain()
//!     .then(with_request_id)
//!     .then(when(Matcher::new(["/dashboard/:path*"])?, with_auth));
//! let layer = ProxyLayer::new(proxy);
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
//!
//! Functions that take axum extractors work in a chain as they do in a layer. The state they
//! read is the chain's ([`Chain::with_state`]); [`when`] passes its state on:
//!
//! ```
//! use axum::extract::State;
//! use tower_proxy_fn::compose::{chain, when};
//! use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};
//!
//! #[derive(Clone)]
//! struct App {
//!     maintenance: bool,
//! }
//!
//! async fn maintenance(State(app): State<App>, _req: ProxyRequest) -> ProxyResponse {
//!     match app.maintenance {
//!         true => ProxyResponse::rewrite("/maintenance"),
//!         false => ProxyResponse::next(),
//!     }
//! }
//!
//! # fn main() -> Result<(), tower_proxy_fn::ConfigError> {
//! let proxy = chain()
//!     .with_state(App { maintenance: false })
//!     .then(when(Matcher::new(["/shop/:path*"])?, maintenance));
//! let layer = ProxyLayer::new(proxy);
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
//!
//! A chain is one decision with one span and one matcher pass per step. Two `ProxyLayer`s
//! stacked with `tower::ServiceBuilder` also work: choose that when the steps belong to
//! different parts of the stack (one around the whole app, one around a nested router), and
//! a chain when they are one policy.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::StatusCode;

use crate::function::{IntoProxyResponse, ProxyFn, ProxyHandler};
use crate::matcher::{Matcher, Selection};
use crate::request::ProxyRequest;
use crate::response::{error_response, Action, ProxyResponse};

/// An empty [`Chain`], to add functions to with [`Chain::then`].
pub fn chain() -> Chain {
    Chain::default()
}

/// Runs `function` only for requests that `matcher` selects; any other request goes on as
/// [`ProxyResponse::next`]. The matcher's captured parameters reach the function.
///
/// `function` may take extractors ([`ProxyHandler`]); it gets the state of the layer or
/// chain the `When` is added to.
pub fn when<H, T>(matcher: Matcher, function: H) -> When<H, T> {
    When {
        matcher,
        function,
        kind: PhantomData,
    }
}

/// Proxy functions run in order as one; see the [module docs](self).
///
/// `S` is the state that the functions added after [`with_state`](Self::with_state) read
/// through their extractors.
#[derive(Clone, Default)]
#[must_use]
pub struct Chain<S = ()> {
    steps: Vec<Arc<dyn ErasedProxyFn>>,
    state: S,
}

impl<S: Clone + Send + Sync + 'static> Chain<S> {
    /// Adds a function at the end of the chain: a plain `Fn(ProxyRequest)`, or one that
    /// takes extractors of the chain's state ([`ProxyHandler`]).
    pub fn then<H: ProxyHandler<T, S>, T>(mut self, function: H) -> Self {
        self.steps
            .push(Arc::new(function.with_state(self.state.clone())));
        self
    }

    /// The state that the functions added from here on read (`State<S>` and other
    /// extractors of `S`); the steps already added keep theirs.
    pub fn with_state<S2: Clone + Send + Sync + 'static>(self, state: S2) -> Chain<S2> {
        Chain {
            steps: self.steps,
            state,
        }
    }
}

impl<S: Clone + Send + Sync + 'static> ProxyFn for Chain<S> {
    type Future = BoxFuture<'static, ProxyResponse>;
    type Output = ProxyResponse;

    fn call(&self, request: ProxyRequest) -> Self::Future {
        let steps = self.steps.clone();
        Box::pin(async move {
            let mut request = request;
            let mut so_far = ProxyResponse::next();
            // The steps' reads go to one log: its marks are left off only if every step that
            // ran declared that what it read does not change the response.
            let mut same_for_everyone = true;
            for step in steps {
                let decision = step.call_erased(request.clone()).await;
                same_for_everyone &= decision.is_same_for_everyone();
                let goes_on = decision.is_next() && decision.invalid_reason().is_none();
                if goes_on {
                    request = request.edited(|parts| {
                        decision.apply_request_headers(&mut parts.headers);
                        if let Some(more) = &decision.more {
                            parts.extensions.extend(more.extensions.clone());
                        }
                    });
                }
                so_far = so_far.followed_by(decision);
                if !goes_on {
                    break;
                }
            }
            match (&mut so_far.more, same_for_everyone) {
                (Some(more), declared) => more.same_for_everyone = declared,
                (None, true) => so_far = so_far.same_for_everyone(),
                (None, false) => {}
            }
            so_far
        })
    }
}

impl<S> fmt::Debug for Chain<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("steps", &self.steps.len())
            .finish()
    }
}

/// A function behind its own matcher, before it has its state; built by [`when`]. It becomes
/// a [`Guarded`] where it is added (a layer, a chain), which gives it the state.
pub struct When<H, T = ()> {
    matcher: Matcher,
    function: H,
    kind: PhantomData<fn() -> T>,
}

impl<H: Clone, T> Clone for When<H, T> {
    fn clone(&self) -> Self {
        when(self.matcher.clone(), self.function.clone())
    }
}

impl<H, T, S> ProxyHandler<When<(), T>, S> for When<H, T>
where
    H: ProxyHandler<T, S>,
    T: 'static,
{
    type ProxyFn = Guarded<H::ProxyFn>;

    fn with_state(self, state: S) -> Self::ProxyFn {
        Guarded {
            matcher: self.matcher,
            function: self.function.with_state(state),
        }
    }
}

/// A function behind its own matcher, with its state: what a [`When`] becomes in a layer or
/// a chain.
#[derive(Clone)]
pub struct Guarded<F> {
    matcher: Matcher,
    function: F,
}

impl<F: ProxyFn> ProxyFn for Guarded<F> {
    type Future = BoxFuture<'static, ProxyResponse>;
    type Output = ProxyResponse;

    fn call(&self, request: ProxyRequest) -> Self::Future {
        let probe = request.head_only();
        let params = match self.matcher.select(&probe) {
            Selection::Skip => return Box::pin(async { ProxyResponse::next() }),
            // Fail closed: a path that cannot be decoded cannot be shown not to match.
            Selection::MalformedPath => {
                return Box::pin(async {
                    ProxyResponse::respond(error_response(StatusCode::BAD_REQUEST, "Bad Request"))
                })
            }
            Selection::PathTooLong => {
                return Box::pin(async {
                    ProxyResponse::respond(error_response(StatusCode::URI_TOO_LONG, "URI Too Long"))
                })
            }
            Selection::Run(matched) => matched.into_params(),
        };
        let mut merged = request.params().clone();
        merged.extend(params);
        let future = self.function.call(request.with_params(merged));
        Box::pin(async move { future.await.into_proxy_response() })
    }
}

impl<H, T> fmt::Debug for When<H, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("When")
            .field("matcher", &self.matcher)
            .field("function", &std::any::type_name::<H>())
            .finish()
    }
}

impl<F> fmt::Debug for Guarded<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guarded")
            .field("matcher", &self.matcher)
            .field("function", &std::any::type_name::<F>())
            .finish()
    }
}

/// A proxy function behind a pointer, so that functions of different types share a chain.
trait ErasedProxyFn: Send + Sync {
    fn call_erased(&self, request: ProxyRequest) -> BoxFuture<'static, ProxyResponse>;
}

impl<F: ProxyFn> ErasedProxyFn for F {
    fn call_erased(&self, request: ProxyRequest) -> BoxFuture<'static, ProxyResponse> {
        let future = self.call(request);
        Box::pin(async move { future.await.into_proxy_response() })
    }
}

impl ProxyResponse {
    /// This decision's extras followed by `later`'s, with `later`'s outcome.
    fn followed_by(mut self, mut later: ProxyResponse) -> ProxyResponse {
        self.response_headers
            .extend(std::mem::take(&mut later.response_headers));
        match (&mut self.more, later.more.take()) {
            (_, None) => {}
            (None, later_more) => self.more = later_more,
            (Some(more), Some(mut later_more)) => {
                more.request_headers.append(&mut later_more.request_headers);
                more.cookies.append(&mut later_more.cookies);
                #[cfg(feature = "signed-cookies")]
                more.sealed.append(&mut later_more.sealed);
                more.hooks.append(&mut later_more.hooks);
                more.extensions
                    .extend(std::mem::take(&mut later_more.extensions));
                more.invalid = more.invalid.take().or(later_more.invalid.take());
            }
        }
        self.action = std::mem::replace(&mut later.action, Action::Next);
        self
    }
}
