//! A matched request, from start to end, as one `async fn`: read the body (if the mode
//! does), run the proxy function under its time limit, carry out its decision.
//!
//! ```text
//! request ─ BodyMode::read ─ decide (function, time limit, panics caught)
//!                                      │
//!                    outcome::apply ───┼─ CallInner: inner service, then the extras
//!                                      ├─ Respond: the layer's own response
//!                                      └─ External: forwarded upstream
//! ```

use std::any::Any;
use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::future::Either;
use futures_util::FutureExt;
use http::request::Parts;
use http::{Request, StatusCode};
use tokio::time::Sleep;
use tower_service::Service;
use tracing::{Instrument, Span};

use super::body_mode::sealed::{Mode, ReadLimits};
use super::outcome::{self, Step};
use crate::extract::ProxyValues;
use crate::function::{IntoProxyResponse, ProxyFn};
use crate::matcher::Deferred;
use crate::request::{Head, ProxyRequest, ReadLog};
use crate::response::{error_response, internal_error, CacheMarks, ProxyResponse};
use crate::settings::Settings;

/// What a matched request needs: the service that was polled ready, the function, the
/// layer's settings and what the matcher captured.
pub(super) struct Matched<S, F> {
    pub(super) inner: S,
    pub(super) function: F,
    pub(super) settings: Arc<Settings>,
    pub(super) captured: Option<Deferred>,
}

impl<S, F: ProxyFn> Matched<S, F> {
    /// Handles the request to its response. Every way out is a response: a body over its
    /// limit, a function that panics or runs over its time limit, a decision that cannot be
    /// carried out (see `tests/failures.rs`, `tests/fail_closed.rs`).
    pub(super) async fn handle<M, B, ResBody>(
        self,
        request: Request<B>,
    ) -> Result<Response, S::Error>
    where
        S: Service<Request<B>, Response = http::Response<ResBody>>,
        M: Mode<B>,
        ResBody: http_body::Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<axum::BoxError>,
    {
        let Matched {
            mut inner,
            mut function,
            settings,
            captured,
        } = self;
        let (mut parts, body) = request.into_parts();
        let (bytes, body) = match M::read(&mut parts, body, ReadLimits::of(&settings)).await {
            Ok(read) => read,
            Err(response) => return Ok(response),
        };
        // Extractors run on the head before it is shared (`ProxyFn::prepare`), under the
        // function's panic guard and time limit (`tests/state_extractors.rs`).
        if F::PREPARES {
            let prepared = AssertUnwindSafe(function.prepare(&mut parts)).catch_unwind();
            match within(settings.timeout, prepared).await {
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(rejection))) => return Ok(rejection),
                Some(Err(panic)) => return Ok(panicked(&parts, &*panic)),
                None => return Ok(timed_out(&None)),
            }
        }
        let head = Head::new(parts, Arc::clone(&settings));
        // Kept for what the proxy learned (`extract`), when the layer shares it.
        let captured_copy = if settings.share_learned {
            captured.clone()
        } else {
            None
        };
        let mut request = ProxyRequest::new(Arc::clone(&head), captured);
        if let Some(bytes) = bytes {
            request = request.with_body(bytes);
        }
        let (decision, span) = match decide(&function, request, &head, settings.timeout).await {
            Ok(decided) => decided,
            Err(response) => return Ok(response),
        };
        let marks = cache_marks(&head.reads, &decision, &head.parts);
        // Worked out before the decision's edits, from the head the function got.
        let learned = (settings.share_learned
            && (decision.is_next() || decision.rewrite_url().is_some()))
        .then(|| ProxyValues::of(&head, captured_copy));
        let mut parts = Head::into_parts(head);
        match outcome::apply(decision, &mut parts, &settings) {
            Step::CallInner(mut extras) => {
                drop(span);
                if let Some(learned) = learned {
                    parts.extensions.insert(learned);
                }
                extras.mark_for_caches(marks);
                let response = inner.call(Request::from_parts(parts, body)).await?;
                Ok(extras.apply_to(response.map(Body::new)))
            }
            Step::Respond(mut response) => {
                if let Some(marks) = marks {
                    marks.apply_to_own(response.headers_mut());
                }
                Ok(response)
            }
            #[cfg(feature = "external")]
            Step::External(target, mut extras) => {
                extras.mark_for_caches(marks);
                let request = Request::from_parts(parts, body);
                let (Some(forwarder), Some(to_body)) = (&settings.forwarder, M::upstream_body())
                else {
                    return Ok(crate::response::misconfigured(
                        &crate::response::EXTERNAL_NOT_CONFIGURED,
                        request.uri().path(),
                        target.as_str(),
                    ));
                };
                Ok(forwarder
                    .forward(
                        request.map(to_body),
                        target,
                        extras,
                        span.unwrap_or_else(Span::none),
                    )
                    .await)
            }
        }
    }
}

/// Runs the function on `request`: its decision (and its span, when a subscriber wants one),
/// or the response that replaces it (500 for a panic, 504 for a function over its time
/// limit).
async fn decide<F: ProxyFn>(
    function: &F,
    request: ProxyRequest,
    head: &Head,
    timeout: Option<Duration>,
) -> Result<(ProxyResponse, Option<Span>), Response> {
    // A span only when a subscriber wants one: building even a disabled one costs, with
    // `tracing`'s `log` feature on (axum's default `tower-log` turns it on).
    let span = if tracing::level_enabled!(tracing::Level::INFO) {
        decision_span(&request, head)
    } else {
        None
    };
    let started = span.is_some().then(Instant::now);
    // A panic while the function builds its future is caught like one inside it.
    let called = in_span(&span, || {
        std::panic::catch_unwind(AssertUnwindSafe(|| function.call(request)))
    });
    let running = match called {
        Ok(future) => AssertUnwindSafe(future).catch_unwind(),
        Err(panic) => return Err(panicked(&head.parts, &*panic)),
    };
    let running = match &span {
        Some(span) => Either::Left(running.instrument(span.clone())),
        None => Either::Right(running),
    };
    let Some(finished) = within(timeout, running).await else {
        return Err(timed_out(&span));
    };
    let decision = match finished {
        Ok(output) => output.into_proxy_response(),
        Err(panic) => return Err(panicked(&head.parts, &*panic)),
    };
    if let (Some(span), Some(started)) = (&span, started) {
        record_decision(span, &decision, started);
    }
    Ok((decision, span))
}

/// `future`'s output, or `None` when it runs over `limit`. The timer is set only once the
/// future has to wait, at its first poll: a function that decides at once (most do) reads
/// no clock and needs no timer entry, nor a runtime with time enabled (`tests/budgets.rs`
/// runs without one; `tests/composition.rs` times a function out).
async fn within<Fut: Future>(limit: Option<Duration>, future: Fut) -> Option<Fut::Output> {
    let mut future = pin!(future);
    // Boxed: the timer is large, and most requests never set it, so it should not make the
    // future of every matched request larger.
    let mut timer: Option<Pin<Box<Sleep>>> = None;
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        let Some(limit) = limit else {
            return Poll::Pending;
        };
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Records the decision into the span a subscriber wants.
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

/// The span of one decision, when a subscriber wants it.
#[cold]
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

fn in_span<R>(span: &Option<Span>, f: impl FnOnce() -> R) -> R {
    match span {
        Some(span) => span.in_scope(f),
        None => f(),
    }
}

/// The 504 for a function that ran over its time limit.
#[cold]
fn timed_out(span: &Option<Span>) -> Response {
    if let Some(span) = span {
        span.record("outcome", "timeout");
    }
    in_span(span, || {
        tracing::error!("proxy function ran over its time limit: 504")
    });
    error_response(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")
}

/// The 500 for a function that panicked, with the panic's message logged.
#[cold]
fn panicked(parts: &Parts, panic: &(dyn Any + Send)) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload");
    tracing::error!(path = %parts.uri.path(), panic = message, "proxy function panicked: 500");
    internal_error()
}

/// The cache marks for what the decision read; warns about a permanent redirect that
/// depended on cookies (browsers keep it after the cookie changes, e.g. after logout).
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
