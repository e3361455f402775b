//! [`ResponseFuture`]: a state machine, so that nothing is boxed on the way through.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::future::{BoxFuture, CatchUnwind};
use futures_util::FutureExt;
use http::request::Parts;
use http::{Request, StatusCode};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower_service::Service;
use tracing::Span;

use super::outcome::{self, Step};
use super::{Forward, Settings};
use crate::function::{IntoProxyResponse, ProxyFn};
use crate::matcher::Deferred;
use crate::request::{Head, ProxyRequest, ReadLog};
use crate::response::{error_response, internal_error, CacheMarks, ProxyResponse, ResponseExtras};

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
    #[cfg_attr(not(feature = "external"), allow(dead_code))]
    enum State<S, F, B>
    where
        S: Service<Request<B>>,
        F: ProxyFn,
    {
        // The body of a matched request is being read (`ProxyLayer::read_body`).
        Reading {
            reading: BoxFuture<'static, Result<(Bytes, B), Response>>,
            next: Option<Box<AfterReading<S, F, B>>>,
        },
        // Not matched: the inner service's own future.
        Passthrough { #[pin] future: S::Future },
        // The proxy function is running. Boxed: a matched request allocates anyway, and the
        // future of an unmatched one stays small. (`None` only while it moves on.)
        Deciding { deciding: Option<Pin<Box<Deciding<S, F, B>>>> },
        // The inner service runs after a next or a rewrite. The `Deciding` box comes
        // along, holding the extras, when there are any (headers, cookies, cache marks):
        // they need no allocation of their own, and do not make this future larger.
        Inner { #[pin] future: S::Future, decided: Option<Pin<Box<Deciding<S, F, B>>>> },
        // A response of the layer's own.
        Ready { response: Option<Response> },
        // An external rewrite's exchange with the upstream (type-erased by nature). Never
        // built without the `external` feature.
        Upstream { exchange: BoxFuture<'static, Response> },
    }
}

pin_project! {
    /// The proxy function's future and what waits for its decision; then what the decision
    /// adds to the response.
    #[project = DecidingProj]
    struct Deciding<S, F, B>
    where
        F: ProxyFn,
    {
        // `None` once it has decided.
        #[pin]
        future: Option<CatchUnwind<AssertUnwindSafe<F::Future>>>,
        deadline: Option<Pin<Box<Sleep>>>,
        // `None` when no subscriber wants it (a `Span` of its own costs a drop even then).
        span: Option<Span>,
        pending: Option<Pending<S, B>>,
        extras: Option<ResponseExtras>,
    }
}

/// What the layer needs once the body is read.
pub(crate) struct AfterReading<S, F, B> {
    pub(crate) function: F,
    pub(crate) matched: Option<Deferred>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) inner: S,
    pub(crate) parts: Parts,
    pub(crate) forward: Forward<B>,
}

/// What waits while the proxy function runs: the service to call, and the request.
struct Pending<S, B> {
    inner: S,
    held: Held<B>,
}

/// The request while the function decides on it, and when it was called.
struct Held<B> {
    head: Arc<Head>,
    body: B,
    forward: Forward<B>,
    /// When the function was called; only read (and the clock only read) for a span that
    /// is recorded.
    started: Option<Instant>,
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

    pub(crate) fn reading(
        reading: BoxFuture<'static, Result<(Bytes, B), Response>>,
        next: AfterReading<S, F, B>,
    ) -> Self {
        Self {
            state: State::Reading {
                reading,
                next: Some(Box::new(next)),
            },
        }
    }

    /// Calls the function and polls its future once, here in `call`: most functions decide
    /// without waiting for anything, and then the request goes on to `inner` (the service
    /// that was polled ready) at once, and the function's box is reused for the response's
    /// extras or freed. No clone of `inner`, no `Pending` moved in and out, one state fewer.
    ///
    /// The first poll has a waker that does nothing; a future that is not ready is polled
    /// again with the task's own waker, which is the one it must keep (a future owes its
    /// wake-up to the waker of its latest poll).
    #[inline]
    pub(crate) fn decide_at_once(
        function: &F,
        request: ProxyRequest,
        timeout: Option<Duration>,
        inner: &mut S,
        head: Arc<Head>,
        body: B,
        forward: Forward<B>,
    ) -> Self
    where
        S: Clone,
    {
        let Some((future, span)) = start(function, request, &head) else {
            return Self::respond(internal_error());
        };
        let held = Held {
            head,
            body,
            forward,
            started: span.is_some().then(Instant::now),
        };
        // The time limit counts from here, not from the second poll.
        let deadline_at = timeout.map(|limit| tokio::time::Instant::now() + limit);
        let mut deciding = Box::pin(Deciding {
            future: Some(future),
            deadline: None,
            span,
            pending: None,
            extras: None,
        });
        let DecidingProj {
            mut future,
            deadline,
            span,
            pending,
            ..
        } = deciding.as_mut().project();
        let polled = match future.as_mut().as_pin_mut() {
            Some(running) => in_span(span, || {
                running.poll(&mut Context::from_waker(Waker::noop()))
            }),
            None => Poll::Pending,
        };
        let Poll::Ready(result) = polled else {
            *deadline = deadline_at.map(|at| Box::pin(tokio::time::sleep_until(at)));
            let inner = std::mem::replace(inner, inner.clone());
            *pending = Some(Pending { inner, held });
            return Self {
                state: State::Deciding {
                    deciding: Some(deciding),
                },
            };
        };
        future.set(None);
        let span = span.take();
        let decided = Decided { result, span, held };
        // When `inner` is not called, what its `poll_ready` reserved (a concurrency limit's
        // permit, say) is given up, as a dropped request would, rather than held in this
        // clone.
        let release: fn(&mut S) = |inner| *inner = inner.clone();
        Self {
            state: decided.into_state(inner, deciding, Some(release)),
        }
    }

    /// The function's future, for a function that reads its body first
    /// (`ProxyLayer::read_body`): it is polled by the response future's loop, right after.
    pub(crate) fn deciding(
        function: &F,
        request: ProxyRequest,
        timeout: Option<Duration>,
        inner: S,
        head: Arc<Head>,
        body: B,
        forward: Forward<B>,
    ) -> Self {
        let Some((future, span)) = start(function, request, &head) else {
            return Self::respond(internal_error());
        };
        let started = span.is_some().then(Instant::now);
        Self {
            state: State::Deciding {
                deciding: Some(Box::pin(Deciding {
                    future: Some(future),
                    deadline: timeout.map(|limit| Box::pin(tokio::time::sleep(limit))),
                    span,
                    pending: Some(Pending {
                        inner,
                        held: Held {
                            head,
                            body,
                            forward,
                            started,
                        },
                    }),
                    extras: None,
                })),
            },
        }
    }
}

/// The function's future, caught for panics, and the decision's span (`None`: the function
/// panicked while building its future, which is logged). One span per decision,
/// when a subscriber may want it; nothing at all for requests the matcher skipped.
/// (`info_span!` alone costs about 170 instructions even when no subscriber listens: with
/// `tracing`'s `log` feature, which axum's default `tower-log` turns on, it still offers the
/// span's fields to `log`.)
#[inline(always)]
#[allow(clippy::type_complexity)]
fn start<F: ProxyFn>(
    function: &F,
    request: ProxyRequest,
    head: &Head,
) -> Option<(CatchUnwind<AssertUnwindSafe<F::Future>>, Option<Span>)> {
    let span = if !tracing::level_enabled!(tracing::Level::INFO) {
        None
    } else {
        decision_span(&request, head)
    };
    // A panic while the function builds its future is caught like one inside it.
    let called = in_span(&span, || {
        std::panic::catch_unwind(AssertUnwindSafe(|| function.call(request)))
    });
    match called {
        Ok(future) => Some((AssertUnwindSafe(future).catch_unwind(), span)),
        Err(panic) => {
            log_panic(&head.parts, &*panic);
            None
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

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A skipped request's future, the hot path, stays small enough to inline into the
        // caller; every other state is polled out of line.
        if let StateProj::Passthrough { future } = self.as_mut().project().state.project() {
            let response = ready!(future.poll(cx))?;
            return Poll::Ready(Ok(response.map(Body::new)));
        }
        self.poll_selected(cx)
    }
}

impl<S, F, B> ResponseFuture<S, F, B>
where
    S: Service<Request<B>>,
    F: ProxyFn,
{
    /// The body is read (`ProxyLayer::read_body`): the function runs, with it. Out of line:
    /// a streamed request never comes here.
    #[inline(never)]
    fn after_reading(after: AfterReading<S, F, B>, bytes: Bytes, body: B) -> Self {
        let timeout = after.settings.timeout;
        let head = Head::new(after.parts, after.settings);
        let request = ProxyRequest::new(Arc::clone(&head), after.matched).with_body(bytes);
        Self::deciding(
            &after.function,
            request,
            timeout,
            after.inner,
            head,
            body,
            after.forward,
        )
    }
}

impl<S, F, B, ResBody> ResponseFuture<S, F, B>
where
    S: Service<Request<B>, Response = http::Response<ResBody>>,
    F: ProxyFn,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    #[inline(never)]
    fn poll_selected(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Response, S::Error>> {
        loop {
            let mut this = self.as_mut().project();
            let next = match this.state.as_mut().project() {
                StateProj::Reading { reading, next } => {
                    let read = ready!(reading.as_mut().poll(cx));
                    let Some(after) = next.take() else {
                        return Poll::Ready(Ok(internal_error()));
                    };
                    match read {
                        Ok((bytes, body)) => Self::after_reading(*after, bytes, body).state,
                        Err(response) => return Poll::Ready(Ok(response)),
                    }
                }
                StateProj::Passthrough { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(Body::new)));
                }
                StateProj::Ready { response } => {
                    let response = response.take().unwrap_or_else(internal_error);
                    return Poll::Ready(Ok(response));
                }
                StateProj::Upstream { exchange } => {
                    return exchange.as_mut().poll(cx).map(Ok);
                }
                StateProj::Inner { future, decided } => {
                    let mut response = ready!(future.poll(cx))?.map(Body::new);
                    let extras = decided
                        .as_mut()
                        .and_then(|d| d.as_mut().project().extras.take());
                    if let Some(extras) = extras {
                        extras.apply(response.headers_mut());
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Deciding { deciding: slot } => {
                    let Some(deciding) = slot.as_mut() else {
                        return Poll::Ready(Ok(internal_error()));
                    };
                    let DecidingProj {
                        mut future,
                        deadline,
                        span,
                        pending,
                        ..
                    } = deciding.as_mut().project();
                    let Some(running) = future.as_mut().as_pin_mut() else {
                        return Poll::Ready(Ok(internal_error()));
                    };
                    let polled = in_span(span, || running.poll(cx));
                    let result = match polled {
                        Poll::Ready(result) => result,
                        Poll::Pending => {
                            let expired = deadline
                                .as_mut()
                                .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
                            if !expired {
                                return Poll::Pending;
                            }
                            return Poll::Ready(Ok(timed_out(span)));
                        }
                    };
                    // Decided: the function's future and the timer go now; the box may stay
                    // on to carry the response's extras.
                    future.set(None);
                    *deadline = None;
                    let span = span.take();
                    let (Some(mut pending), Some(deciding)) = (pending.take(), slot.take()) else {
                        return Poll::Ready(Ok(internal_error()));
                    };
                    let decided = Decided {
                        result,
                        span,
                        held: pending.held,
                    };
                    decided.into_state(&mut pending.inner, deciding, None)
                }
            };
            this.state.set(next);
        }
    }
}

/// A decision the function has made, and what the request needs to go on.
struct Decided<F: ProxyFn, B> {
    result: std::thread::Result<F::Output>,
    span: Option<Span>,
    held: Held<B>,
}

impl<F: ProxyFn, B> Decided<F, B> {
    /// The state the decision leads to. `inner` is the service that was polled ready
    /// (`release_unused` runs on it when the decision does not call it); `deciding` is the
    /// decision's box, its function's future gone: it carries the response's extras when
    /// there are any, and is freed when there are none.
    #[inline(always)]
    fn into_state<S>(
        self,
        inner: &mut S,
        mut deciding: Pin<Box<Deciding<S, F, B>>>,
        release_unused: Option<fn(&mut S)>,
    ) -> State<S, F, B>
    where
        S: Service<Request<B>>,
    {
        let Decided {
            result,
            span,
            held:
                Held {
                    head,
                    body,
                    forward,
                    started,
                },
        } = self;
        #[cfg(not(feature = "external"))]
        let _ = forward;
        let decision = match result {
            Ok(output) => output.into_proxy_response(),
            Err(panic) => {
                log_panic(&head.parts, &*panic);
                return State::Ready {
                    response: Some(internal_error()),
                };
            }
        };
        if let (Some(span), Some(started)) = (&span, started) {
            record_decision(span, &decision, started);
        }
        let marks = cache_marks(&head.reads, &decision, &head.parts);
        // The function has dropped its request by now, so this rarely copies.
        let (mut parts, settings) = match Arc::try_unwrap(head) {
            Ok(Head {
                parts, settings, ..
            }) => (parts, settings),
            Err(shared) => (shared.parts.clone(), Arc::clone(&shared.settings)),
        };
        let step = outcome::apply(decision, &mut parts, &settings);
        if let (false, Some(release)) = (matches!(step, Step::CallInner(_)), release_unused) {
            release(inner);
        }
        match step {
            Step::CallInner(mut extras) => {
                extras.mark_for_caches(marks);
                let decided = if extras.is_empty() {
                    None
                } else {
                    *deciding.as_mut().project().extras = Some(extras);
                    Some(deciding)
                };
                State::Inner {
                    future: inner.call(Request::from_parts(parts, body)),
                    decided,
                }
            }
            Step::Respond(mut response) => {
                if let Some(marks) = marks {
                    marks.apply_to_own(response.headers_mut());
                }
                State::Ready {
                    response: Some(response),
                }
            }
            #[cfg(feature = "external")]
            Step::External(target, mut extras) => {
                extras.mark_for_caches(marks);
                let request = Request::from_parts(parts, body);
                upstream_exchange(request, target, extras, forward, &span)
            }
        }
    }
}

/// The state for an external rewrite: the exchange, or a 500 when this layer does not
/// forward (no `ProxyLayer::external`, or a body type that cannot stream upstream).
#[cfg(feature = "external")]
fn upstream_exchange<S, F, B>(
    request: Request<B>,
    target: url::Url,
    extras: ResponseExtras,
    forward: Forward<B>,
    span: &Option<Span>,
) -> State<S, F, B>
where
    S: Service<Request<B>>,
    F: ProxyFn,
{
    let (Some(forwarder), Some(to_body)) = (forward.forwarder, forward.to_body) else {
        let path = request.uri().path();
        let response = in_span(span, || {
            crate::response::misconfigured(
                &crate::response::EXTERNAL_NOT_CONFIGURED,
                path,
                target.as_str(),
            )
        });
        return State::Ready {
            response: Some(response),
        };
    };
    let request = request.map(to_body);
    State::Upstream {
        exchange: forwarder.forward(
            request,
            target,
            extras,
            span.clone().unwrap_or_else(Span::none),
        ),
    }
}

#[inline]
/// Records the decision into a span a subscriber wants (into a disabled one it would cost a
/// few hundred instructions per request for nothing).
fn record_decision(span: &Span, decision: &ProxyResponse, started: Instant) {
    span.record("elapsed_us", started.elapsed().as_micros() as u64);
    if decision.is_next() {
        span.record("outcome", "next");
    } else if let Some(url) = decision.rewrite_url() {
        span.record("outcome", "rewrite");
        span.record("destination", url);
    } else if let (Some(url), Some(status)) = (decision.redirect_url(), decision.redirect_status())
    {
        span.record("outcome", "redirect");
        span.record("destination", url);
        span.record("status", status.as_u16());
    } else if let Some(response) = decision.own_response() {
        span.record("outcome", "respond");
        span.record("status", response.status().as_u16());
    }
    span.in_scope(|| tracing::debug!("proxy decided"));
}

/// The span of one decision, when a subscriber wants it. Out of line, like every path a
/// request without a subscriber never takes: the macro's code would otherwise sit in the
/// middle of the hot one.
#[cold]
#[inline(never)]
fn decision_span(request: &ProxyRequest, head: &Head) -> Option<Span> {
    let span = tracing::info_span!(
        "proxy",
        source = %request.matched_source(),
        path = %head.parts.uri.path(),
        outcome = tracing::field::Empty,
        destination = tracing::field::Empty,
        status = tracing::field::Empty,
        elapsed_us = tracing::field::Empty,
    );
    (!span.is_disabled()).then_some(span)
}

/// The 504 for a function that ran over its time limit.
#[cold]
#[inline(never)]
fn timed_out(span: &Option<Span>) -> Response {
    if let Some(span) = span {
        span.record("outcome", "timeout");
    }
    in_span(span, || {
        tracing::error!("proxy function ran over its time limit: 504")
    });
    error_response(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")
}

/// Runs `f` inside `span`, or just runs it when no subscriber wants one (there is then no
/// span: entering and leaving even a disabled one costs a couple of hundred instructions
/// when `tracing`'s `log` feature is on, which axum's default `tower-log` turns on).
fn in_span<R>(span: &Option<Span>, f: impl FnOnce() -> R) -> R {
    match span {
        Some(span) => span.in_scope(f),
        None => f(),
    }
}

/// The cache marks for what the decision read; warns about a permanent redirect that
/// depended on cookies (browsers keep it after the cookie changes, e.g. after logout).
#[inline]
fn cache_marks(reads: &ReadLog, decision: &ProxyResponse, parts: &Parts) -> Option<CacheMarks> {
    if reads.is_empty() || decision.is_same_for_everyone() {
        return None;
    }
    let marks = CacheMarks::from_reads(reads.read_cookies(), reads.read_headers())?;
    if let Some(status) = decision.redirect_status()
        && marks.read_cookies()
        && matches!(status.as_u16(), 301 | 308)
    {
        tracing::warn!(
            path = %parts.uri.path(),
            status = status.as_u16(),
            "permanent redirect decided on cookies: browsers cache it and keep \
             redirecting after the cookie changes (e.g. after logout); use a 307 or 302"
        );
    }
    Some(marks)
}

#[cold]
#[inline(never)]
fn log_panic(parts: &Parts, panic: &(dyn Any + Send)) {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload");
    tracing::error!(path = %parts.uri.path(), panic = message, "proxy function panicked: 500");
}
