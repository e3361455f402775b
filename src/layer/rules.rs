//! [`RulesLayer`]: a [`ProxyLayer`] with next.config rules around its proxy function.
//!
//! The rules compose as tower services around the unchanged proxy core:
//! `RulesService` (normalize, headers, redirects) → [`ProxyService`] (the proxy function)
//! → [`RewriteService`] (before-routing rewrites, the inner service, 404 rewrites) → inner.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{Request, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::body_mode::{BufferedCopy, Streamed};
use super::{ProxyLayer, ProxyService};
use crate::background::BackgroundTasks;
use crate::function::ProxyFn;
use crate::response::internal_error;
use crate::rules::{BeforeProxy, ExtraHeaders, RewriteHops, Rules};
use crate::url_safety::already_routed;
use futures_util::future::BoxFuture;

impl<F: ProxyFn, M> ProxyLayer<F, M> {
    /// Runs next.config rules around the proxy function, in Next.js's order: headers,
    /// redirects, the function, before-routing rewrites, the inner service, fallback
    /// rewrites. See [`rules`](crate::rules) for what each part does. Call it last, after
    /// the other builder methods.
    ///
    /// With [`Rules::i18n`], the matcher's entries without `locale: false` also match under
    /// a locale prefix (`/fr/dashboard` for `/dashboard`), as Next.js's matcher does with
    /// i18n; the function sees the locale as the parameter `nextInternalLocale`.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use tower::Layer;
    /// use tower_proxy_fn::rules::{Redirect, Rules};
    /// use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};
    ///
    /// async fn proxy(_req: ProxyRequest) -> ProxyResponse {
    ///     ProxyResponse::next()
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rules = Rules::from_json(
    ///     r#"{"redirects": [{"source": "/old", "destination": "/new", "permanent": true}]}"#,
    /// )?;
    /// let router = Router::new().route("/new", get(|| async { "new" }));
    /// let app = ProxyLayer::new(proxy)
    ///     .with_matcher(Matcher::new(["/dashboard/:path*"])?)
    ///     .with_rules(rules)
    ///     .layer(router);
    /// # let _ = axum::ServiceExt::<axum::extract::Request>::into_make_service(app);
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_rules(mut self, rules: Rules) -> RulesLayer<F, M> {
        // A 404 rewrite sends the body again: keep a copy of what `with_request_body` reads.
        self.settings.keep_body_copy = rules.has_not_found_rewrites();
        // With i18n, the proxy's matcher entries also match under a locale prefix, unless
        // they say `locale: false`.
        // `ProxyRequest::next_url` takes the locale off the path with them.
        self.settings.next_config.locales = rules.locales().cloned();
        if let (Some(locales), Some(matcher)) = (rules.locales(), &self.settings.matcher) {
            self.settings.matcher =
                Some(matcher.localized(&locales.source_group(), &locales.rule_group()));
        }
        RulesLayer {
            proxy: self,
            rules: rules.prepare(),
        }
    }
}

/// A [`ProxyLayer`] with [`Rules`]; built by [`ProxyLayer::with_rules`].
#[must_use]
pub struct RulesLayer<F, M = Streamed> {
    proxy: ProxyLayer<F, M>,
    rules: Arc<Rules>,
}

impl<F: Clone, M> Clone for RulesLayer<F, M> {
    fn clone(&self) -> Self {
        RulesLayer {
            proxy: self.proxy.clone(),
            rules: Arc::clone(&self.rules),
        }
    }
}

impl<F, M> RulesLayer<F, M> {
    /// The tracker of the proxy function's background work (see
    /// [`ProxyLayer::background_tasks`]).
    pub fn background_tasks(&self) -> BackgroundTasks {
        self.proxy.settings.tasks.clone()
    }
}

impl<S, F: Clone, M> Layer<S> for RulesLayer<F, M> {
    type Service = RulesService<S, F, M>;

    fn layer(&self, inner: S) -> Self::Service {
        let rewrites = RewriteService {
            inner,
            rules: Arc::clone(&self.rules),
        };
        RulesService {
            proxy: self.proxy.layer(rewrites),
            rules: Arc::clone(&self.rules),
        }
    }
}

impl<F: Clone, M> RulesLayer<F, M> {
    /// Wraps `inner`, as [`Layer::layer`] does, without the `Layer` trait in scope.
    pub fn layer<S>(&self, inner: S) -> RulesService<S, F, M> {
        Layer::layer(self, inner)
    }
}

impl<F, M> fmt::Debug for RulesLayer<F, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RulesLayer")
            .field("proxy", &self.proxy)
            .field("rules", &self.rules)
            .finish()
    }
}

/// The service a [`RulesLayer`] builds: URL normalization, headers and redirects, then the
/// [`ProxyService`] around a [`RewriteService`].
pub struct RulesService<S, F, M = Streamed> {
    proxy: ProxyService<RewriteService<S>, F, M>,
    rules: Arc<Rules>,
}

impl<S: Clone, F: Clone, M> Clone for RulesService<S, F, M> {
    fn clone(&self) -> Self {
        RulesService {
            proxy: self.proxy.clone(),
            rules: Arc::clone(&self.rules),
        }
    }
}

impl<S, F, M> RulesService<S, F, M> {
    /// The service the rules and the proxy wrap.
    pub fn get_ref(&self) -> &S {
        self.proxy.get_ref().get_ref()
    }

    /// The service the rules and the proxy wrap, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.proxy.get_mut().inner
    }

    /// The service the rules and the proxy wrap, unwrapped.
    pub fn into_inner(self) -> S {
        self.proxy.into_inner().inner
    }
}

impl<S, F, M, B> Service<Request<B>> for RulesService<S, F, M>
where
    ProxyService<RewriteService<S>, F, M>: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = <ProxyService<RewriteService<S>, F, M> as Service<Request<B>>>::Error;
    type Future =
        RulesFuture<<ProxyService<RewriteService<S>, F, M> as Service<Request<B>>>::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.proxy.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let state = match self.rules.before_proxy(&request) {
            BeforeProxy::Respond(response) => RulesState::Ready {
                response: Some(response),
            },
            BeforeProxy::Continue(headers) => RulesState::Proxy {
                future: self.proxy.call(request),
                headers,
            },
        };
        RulesFuture { state }
    }
}

pin_project! {
    /// The response future of [`RulesService`]: unboxed, so that a request no rule concerns
    /// costs the proxy's own future and nothing more.
    pub struct RulesFuture<Fut> {
        #[pin]
        state: RulesState<Fut>,
    }
}

pin_project! {
    #[project = RulesStateProj]
    enum RulesState<Fut> {
        // A redirect or an error of the rules' own.
        Ready { response: Option<Response> },
        // The proxy (and what it wraps), then the headers rules' headers on its response.
        Proxy { #[pin] future: Fut, headers: Option<ExtraHeaders> },
    }
}

impl<Fut, E> Future for RulesFuture<Fut>
where
    Fut: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            RulesStateProj::Ready { response } => {
                Poll::Ready(Ok(response.take().unwrap_or_else(internal_error)))
            }
            RulesStateProj::Proxy { future, headers } => {
                let mut response = ready!(future.poll(cx))?;
                if let Some(headers) = headers.take() {
                    headers.apply(response.headers_mut());
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

impl<Fut> fmt::Debug for RulesFuture<Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RulesFuture").finish_non_exhaustive()
    }
}

impl<S: fmt::Debug, F, M> fmt::Debug for RulesService<S, F, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RulesService")
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

/// What runs after the proxy function when rules are configured: the before-routing
/// rewrites, the inner service, and the `afterFiles` / `fallback` rewrites on a 404.
pub struct RewriteService<S> {
    inner: S,
    rules: Arc<Rules>,
}

impl<S> RewriteService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: Clone> Clone for RewriteService<S> {
    fn clone(&self) -> Self {
        RewriteService {
            inner: self.inner.clone(),
            rules: Arc::clone(&self.rules),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for RewriteService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RewriteService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Service<Request<B>> for RewriteService<S>
where
    S: Service<Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: http_body::Body + From<Bytes> + Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RewriteFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let rules = &self.rules;
        let mut hops = RewriteHops::new();
        // Asked of the request as it arrived: once a rule rewrote it, its `OriginalUri`
        // differs from its URI whether or not a router has seen it.
        let routed = already_routed(&request);
        if rules.has_before_rewrites() {
            if let Err(response) = rules.apply_before_rewrites(&mut request, &mut hops) {
                return RewriteFuture::ready(response);
            }
            if routed && hops.moved() {
                return RewriteFuture::ready(after_routing(&request));
            }
        }
        // No 404 rewrite can match (one pass of the phase's prefilter): the inner service's
        // own future, no copy of the request.
        if !rules.may_rewrite_not_found(&request) {
            return RewriteFuture::inner(ready.call(request), None);
        }
        let (request, copy) = replay_copy(request);
        let retry = copy.map(|(parts, bytes)| Retry {
            parts,
            bytes,
            spare: self.inner.clone(),
            rules: Arc::clone(rules),
            hops,
            routed,
        });
        RewriteFuture::inner(ready.call(request), retry)
    }
}

/// What a 404 from the inner service needs to be tried again under the 404 rewrites.
struct Retry<S> {
    parts: http::request::Parts,
    bytes: Bytes,
    spare: S,
    rules: Arc<Rules>,
    hops: RewriteHops,
    routed: bool,
}

impl<S> Retry<S> {
    /// The `afterFiles` / `fallback` rewrites after the inner service answered `first`
    /// (a 404): each matching one rewrites and calls the inner service again, until an
    /// answer is not a 404 or the rules run out (the last 404 stands).
    async fn run<B, ResBody>(self, first: http::Response<ResBody>) -> Result<Response, S::Error>
    where
        S: Service<Request<B>, Response = http::Response<ResBody>>,
        B: From<Bytes>,
        ResBody: http_body::Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<axum::BoxError>,
    {
        let Retry {
            mut parts,
            bytes,
            mut spare,
            rules,
            mut hops,
            routed,
        } = self;
        let mut last = first;
        let mut from = 0;
        loop {
            let mut probe = Request::from_parts(parts, ());
            let (next, target, rule) = match rules.next_not_found_rewrite(&probe, from) {
                Ok(Some(found)) => found,
                Ok(None) => break,
                Err(response) => return Ok(response),
            };
            if let Err(response) = hops.rewrite(&mut probe, &target, rule) {
                return Ok(response);
            }
            // Inside a Router the same route would answer again under the new path.
            if routed {
                return Ok(after_routing(&probe));
            }
            from = next;
            let (rewritten, ()) = probe.into_parts();
            parts = rewritten.clone();
            poll_fn(|cx| spare.poll_ready(cx)).await?;
            let response = spare
                .call(Request::from_parts(rewritten, B::from(bytes.clone())))
                .await?;
            if response.status() != StatusCode::NOT_FOUND {
                return Ok(response.map(Body::new));
            }
            last = response;
        }
        Ok(last.map(Body::new))
    }
}

pin_project! {
    /// The response future of [`RewriteService`]: the inner service's own future, unboxed,
    /// with what a 404 rewrite needs kept beside it; only a 404 that a rewrite may answer
    /// goes on in a boxed future (the rewrites, then the inner service again).
    pub struct RewriteFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: RewriteState<S, B>,
    }
}

pin_project! {
    #[project = RewriteStateProj]
    enum RewriteState<S, B>
    where
        S: Service<Request<B>>,
    {
        // A response of the rules' own (a 400, a 500).
        Ready { response: Option<Response> },
        // The inner service's first call; `retry` when a 404 may be rewritten.
        Inner { #[pin] future: S::Future, retry: Option<Retry<S>> },
        // A 404 under the rewrites.
        Retrying { future: BoxFuture<'static, Result<Response, S::Error>> },
    }
}

impl<S: Service<Request<B>>, B> RewriteFuture<S, B> {
    fn ready(response: Response) -> Self {
        RewriteFuture {
            state: RewriteState::Ready {
                response: Some(response),
            },
        }
    }

    fn inner(future: S::Future, retry: Option<Retry<S>>) -> Self {
        RewriteFuture {
            state: RewriteState::Inner { future, retry },
        }
    }
}

impl<S, B, ResBody> Future for RewriteFuture<S, B>
where
    S: Service<Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: From<Bytes> + Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Output = Result<Response, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let retrying = match self.as_mut().project().state.project() {
                RewriteStateProj::Ready { response } => {
                    return Poll::Ready(Ok(response.take().unwrap_or_else(internal_error)));
                }
                RewriteStateProj::Retrying { future } => return future.as_mut().poll(cx),
                RewriteStateProj::Inner { future, retry } => {
                    let response = ready!(future.poll(cx))?;
                    match retry.take() {
                        Some(retry) if response.status() == StatusCode::NOT_FOUND => {
                            Box::pin(retry.run(response))
                        }
                        _ => return Poll::Ready(Ok(response.map(Body::new))),
                    }
                }
            };
            self.as_mut()
                .project()
                .state
                .set(RewriteState::Retrying { future: retrying });
        }
    }
}

impl<S: Service<Request<B>>, B> fmt::Debug for RewriteFuture<S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RewriteFuture").finish_non_exhaustive()
    }
}

/// The request, and a copy of its head and body for a second call when the body is empty
/// or was read by `with_request_body`; a streamed body cannot be sent twice.
#[allow(clippy::type_complexity)]
fn replay_copy<B: http_body::Body>(
    request: Request<B>,
) -> (Request<B>, Option<(http::request::Parts, Bytes)>) {
    let empty = request.body().is_end_stream() || request.body().size_hint().upper() == Some(0);
    let bytes = if empty {
        Some(Bytes::new())
    } else {
        request
            .extensions()
            .get::<BufferedCopy>()
            .map(|copy| copy.0.clone())
    };
    let Some(bytes) = bytes else {
        return (request, None);
    };
    let (parts, body) = request.into_parts();
    let copy = parts.clone();
    (Request::from_parts(parts, body), Some((copy, bytes)))
}

fn after_routing<B>(request: &Request<B>) -> Response {
    crate::response::misconfigured(
        &crate::response::REWRITE_AFTER_ROUTING,
        request.uri().path(),
        "(a rewrite rule)",
    )
}
