//! Background work started by the proxy function (`waitUntil` in Next.js).

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use tokio_util::task::TaskTracker;

/// The background work of one [`ProxyLayer`](crate::ProxyLayer): every future handed to
/// [`ProxyRequest::wait_until`](crate::ProxyRequest::wait_until) by the services it built.
///
/// Wire [`shutdown`](Self::shutdown) into a graceful shutdown so that analytics and audit
/// writes are not cut off:
///
/// ```no_run
/// # use axum::Router;
/// # use tower::Layer;
/// # use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};
/// # async fn proxy(_: ProxyRequest) -> ProxyResponse { ProxyResponse::next() }
/// # async fn run(router: Router, listener: tokio::net::TcpListener) -> std::io::Result<()> {
/// let layer = ProxyLayer::new(proxy);
/// let background = layer.background_tasks();
/// let app = layer.layer(router);
/// axum::serve(listener, axum::ServiceExt::<axum::extract::Request>::into_make_service(app))
///     .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.ok(); })
///     .await?;
/// // The server has stopped accepting; give outstanding work 10 seconds.
/// let finished = background.shutdown(std::time::Duration::from_secs(10)).await;
/// # let _ = finished;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct BackgroundTasks {
    tracker: TaskTracker,
}

impl BackgroundTasks {
    /// Starts `work` on the current tokio runtime, tracked. Its error (for a `Result`) or
    /// panic is logged; neither reaches the server.
    pub(crate) fn spawn<F>(&self, work: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutcome,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!("wait_until needs a tokio runtime; the work was dropped");
            return;
        };
        let work = async move {
            match AssertUnwindSafe(work).catch_unwind().await {
                Ok(outcome) => outcome.report(),
                Err(_) => tracing::error!("background work from wait_until panicked"),
            }
        };
        self.tracker.spawn_on(work, &runtime);
    }

    /// How many futures are still running.
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Whether nothing is running.
    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }

    /// Waits up to `limit` for every running future; `true` when all of them finished.
    ///
    /// Work started after this call is still tracked and awaited.
    pub async fn shutdown(&self, limit: Duration) -> bool {
        self.tracker.close();
        let finished = tokio::time::timeout(limit, self.tracker.wait())
            .await
            .is_ok();
        self.tracker.reopen();
        if !finished {
            tracing::warn!(
                running = self.len(),
                "background work still running at shutdown"
            );
        }
        finished
    }
}

impl fmt::Debug for BackgroundTasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundTasks")
            .field("running", &self.len())
            .finish()
    }
}

/// What background work may return: `()`, or a `Result` whose error is logged.
pub trait TaskOutcome: Send + 'static {
    /// Logs a failure, if this is one.
    fn report(self);
}

impl TaskOutcome for () {
    fn report(self) {}
}

impl<E: fmt::Display + Send + 'static> TaskOutcome for Result<(), E> {
    fn report(self) {
        if let Err(err) = self {
            tracing::error!(error = %err, "background work from wait_until failed");
        }
    }
}
