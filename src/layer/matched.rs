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
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::future::CatchUnwind;
use futures_util::FutureExt;
use http::request::Parts;
use http::{Request, StatusCode};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower_service::Service;
use tracing::Span;

use super::body_mode::sealed::{Mode, ReadLimits};
use super::body_mode::BufferedCopy;
use super::outcome::{self, Step};
use crate::extract::ProxyValues;
use crate::function::{prepare, IntoProxyResponse, NotPrepared, ProxyFn};
use crate::matcher::Deferred;
use crate::request::{Head, ProxyRequest, ReadLog};
use crate::response::{error_response, internal_error, CacheMarks, ProxyResponse, ResponseExtras};

/// What a matched request needs besides its head: the service that was polled ready, the
/// function and what the matcher captured.
pub(super) struct Matched<S, F> {
    pub(super) inner: S,
    pub(super) function: F,
    pub(super) captured: Option<Deferred>,
}

impl<S, F: ProxyFn> Matched<S, F> {
    /// Handles the request to its response. Every way out is a response: a body over its
    /// limit, a function that panics or runs over its time limit, a decision that cannot be
    /// carried out (see `tests/failures.rs`, `tests/fail_closed.rs`).
    pub(super) async fn handle<M, B, ResBody>(
        self,
        mut head: Arc<Head>,
        body: B,
    ) -> Result<Response, S::Error>
    where
        S: Service<Request<B>, Response = http::Response<ResBody>>,
        M: Mode<B>,
        ResBody: http_body::Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<axum::BoxError>,
    {
        // Everything up to the inner call (or the upstream's) is decided in this block, and
        // its value matched in the same statement, so that none of it is kept in the future
        // while the response is awaited: a future is as large as its largest state, and it
        // is moved into its box whole (`the_matched_future_stays_small`). A `let` of the
        // block's value first would keep that value too.
        #[allow(clippy::blocks_in_conditions)]
        let (call, extras) = match {
            let Matched {
                mut inner,
                mut function,
                captured,
            } = self;
            let settings = Arc::clone(&head.settings);
            let limits = ReadLimits::of(&settings);
            let (bytes, body) = match M::read(&head.parts.headers, body, limits).await {
                Ok(read) => read,
                Err(response) => return Ok(response),
            };
            // Extractors run on the head while this future alone holds it (`ProxyFn::prepare`;
            // were it shared, `call` would extract from a copy), under the function's panic
            // guard and time limit (`tests/state_extractors.rs`).
            if F::PREPARES
                && let Some(only) = Arc::get_mut(&mut head)
            {
                match prepare(&mut function, &mut only.parts, settings.timeout).await {
                    Ok(()) => {}
                    Err(NotPrepared::Rejected(response)) => return Ok(*response),
                    Err(NotPrepared::Panicked(panic)) => return Ok(panicked(&head.parts, &*panic)),
                    Err(NotPrepared::TimedOut) => return Ok(timed_out(&None)),
                }
            }
            // With 404 rewrite rules, a copy of the bytes rides along for a second call.
            let copy = bytes.clone().filter(|_| settings.keep_body_copy);
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
            let deciding = match decide(&function, request, &head, settings.timeout) {
                Ok(deciding) => deciding,
                Err(panic) => return Ok(panicked(&head.parts, &*panic)),
            };
            #[cfg_attr(not(feature = "external"), allow(unused_variables))]
            let (decision, span) = match deciding.await {
                (Ok(decision), span) => (decision, span),
                (Err(Undecided::Panicked(panic)), _) => {
                    return Ok(panicked(&head.parts, &*panic));
                }
                (Err(Undecided::TimedOut), span) => return Ok(timed_out(&span)),
            };
            let marks = cache_marks(&head.reads, &decision, &head.parts);
            // Worked out before the decision's edits, from the head the function got.
            let learned = (settings.share_learned
                && (decision.is_next() || decision.rewrite_url().is_some()))
            .then(|| ProxyValues::of(&head, captured_copy));
            let mut parts = Head::into_parts(head);
            if let Some(copy) = copy {
                parts.extensions.insert(BufferedCopy(copy));
            }
            match outcome::apply(decision, &mut parts, &settings) {
                Step::CallInner(mut extras) => {
                    if let Some(learned) = learned {
                        parts.extensions.insert(learned);
                    }
                    extras.mark_for_caches(marks);
                    Then::CallInner(inner.call(Request::from_parts(parts, body)), extras)
                }
                Step::Respond(mut response) => {
                    if let Some(marks) = marks {
                        marks.apply_to_own(response.headers_mut());
                    }
                    return Ok(response);
                }
                #[cfg(feature = "external")]
                Step::External(target, mut extras) => {
                    extras.mark_for_caches(marks);
                    let request = Request::from_parts(parts, body);
                    let (Some(forwarder), Some(to_body)) =
                        (&settings.forwarder, M::upstream_body())
                    else {
                        return Ok(crate::response::misconfigured(
                            &crate::response::EXTERNAL_NOT_CONFIGURED,
                            request.uri().path(),
                            target.as_str(),
                        ));
                    };
                    let span = span.unwrap_or_else(Span::none);
                    Then::Forward(forwarder.forward(request.map(to_body), target, extras, span))
                }
            }
        } {
            Then::CallInner(call, extras) => (call, extras),
            #[cfg(feature = "external")]
            Then::Forward(forwarding) => return Ok(forwarding.await),
        };
        Ok(extras.apply_to(call.await?.map(Body::new)))
    }
}

/// What is left to wait for once the decision is carried out (awaited outside the block
/// that decided, for the future's size).
enum Then<Call> {
    /// The inner service's future, and what the decision adds to its response.
    CallInner(Call, ResponseExtras),
    /// The request forwarded upstream (an external rewrite).
    #[cfg(feature = "external")]
    Forward(futures_util::future::BoxFuture<'static, Response>),
}

/// Starts the function on `request`: the future of its decision, or the panic of a function
/// that panicked before it returned a future.
fn decide<F: ProxyFn>(
    function: &F,
    request: ProxyRequest,
    head: &Head,
    limit: Option<Duration>,
) -> Result<Deciding<F::Future>, Box<dyn Any + Send>> {
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
    match called {
        Ok(future) => Ok(Deciding {
            future: AssertUnwindSafe(future).catch_unwind(),
            span,
            started,
            limit,
            timer: None,
        }),
        Err(panic) => Err(panic),
    }
}

/// Why the function gave no decision.
enum Undecided {
    Panicked(Box<dyn Any + Send>),
    TimedOut,
}

pin_project! {
    /// The function's future, in its span, with its panics caught and under its time limit.
    ///
    /// A struct rather than nested `async` blocks: each of those would keep its own copy of
    /// its arguments, and the boxed future of every matched request is as large as its
    /// largest state (`the_matched_future_stays_small`).
    struct Deciding<Fut> {
        #[pin]
        future: CatchUnwind<AssertUnwindSafe<Fut>>,
        span: Option<Span>,
        started: Option<Instant>,
        limit: Option<Duration>,
        // Set when the future first has to wait: a function that decides at once (most do)
        // reads no clock and needs no timer, nor a runtime with time enabled
        // (`tests/budgets.rs` runs without one; `tests/composition.rs` times one out).
        // Boxed: the timer is large and most requests never set it.
        timer: Option<Pin<Box<Sleep>>>,
    }
}

impl<Fut> Future for Deciding<Fut>
where
    Fut: Future,
    Fut::Output: IntoProxyResponse,
{
    type Output = (Result<ProxyResponse, Undecided>, Option<Span>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = {
            let _entered = this.span.as_ref().map(Span::enter);
            this.future.poll(cx)
        };
        let decided = match polled {
            Poll::Ready(Ok(output)) => Ok(output.into_proxy_response()),
            Poll::Ready(Err(panic)) => Err(Undecided::Panicked(panic)),
            Poll::Pending => {
                let Some(limit) = *this.limit else {
                    return Poll::Pending;
                };
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                ready!(timer.as_mut().poll(cx));
                Err(Undecided::TimedOut)
            }
        };
        let span = this.span.take();
        if let (Some(span), Some(started), Ok(decision)) = (&span, *this.started, &decided) {
            record_decision(span, decision, started);
        }
        Poll::Ready((decided, span))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body_mode::Streamed;
    use crate::settings::Settings;

    async fn next(_request: ProxyRequest) -> ProxyResponse {
        ProxyResponse::next()
    }

    /// Every matched request boxes this future, moving it whole: it should stay within what
    /// an allocator serves from its fastest size classes (glibc's per-thread cache takes up
    /// to 1,032 bytes), with an axum `Router` inside as a server has.
    #[test]
    fn the_matched_future_stays_small() {
        let router = axum::Router::new()
            .route("/", axum::routing::get(|| async { "page" }))
            .with_state::<()>(());
        let matched = Matched {
            inner: router,
            function: next,
            captured: None,
        };
        let head = Head::new(
            Request::new(()).into_parts().0,
            Arc::new(Settings::default()),
        );
        let future = matched.handle::<Streamed, Body, Body>(head, Body::empty());
        let size = std::mem::size_of_val(&future);
        eprintln!("SIZE {size}");
        assert!(size <= 1024, "the matched future is {size} bytes");
    }
}
