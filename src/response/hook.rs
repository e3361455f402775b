//! The response on its way back: hooks a decision leaves for the response the client gets
//! ([`ProxyResponse::on_response`]).

use std::any::Any;
use std::panic::AssertUnwindSafe;

use axum::response::Response;
use http::response::Parts;

use super::errors::internal_error;
use super::ProxyResponse;

/// A hook on the response's head, boxed: hooks of any closure type share the decision's list.
pub(crate) type ResponseHook = Box<dyn FnOnce(&mut Parts) + Send>;

impl ProxyResponse {
    /// Lets the function see and edit the head of the response the client gets: its status,
    /// headers and extensions, while the body streams on untouched (SvelteKit's
    /// `handle` after `resolve`, a tower `map_response`, for the requests this decision is
    /// made for).
    ///
    /// The hook runs on every response this decision gives: the inner service's after
    /// [`next`](Self::next) or [`rewrite`](Self::rewrite), an external upstream's, or the
    /// proxy's own redirect or response. It sees the head as the inner service made it: the
    /// decision's own [headers](Self::header), cookies and cache marks are added after it.
    /// Hooks run last added first, across the steps of a
    /// [`chain`](crate::compose::chain) too: the first step's hook sees what the later ones
    /// did, as in SvelteKit's `sequence`. A hook that panics turns the response into a `500`,
    /// with the panic's message logged; the later hooks do not run. A decision that is
    /// refused as invalid runs none.
    ///
    /// ```
    /// use http::header::{CACHE_CONTROL, SET_COOKIE};
    /// use http::HeaderValue;
    /// use tower_proxy_fn::{ProxyRequest, ProxyResponse};
    ///
    /// async fn proxy(req: ProxyRequest) -> ProxyResponse {
    ///     let path = req.path().to_owned();
    ///     ProxyResponse::next()
    ///         .on_response(move |head| println!("{path} {}", head.status.as_u16()))
    ///         .on_response(|head| {
    ///             // Only where the handler set a cookie.
    ///             if head.headers.contains_key(SET_COOKIE) {
    ///                 head.headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
    ///             }
    ///         })
    /// }
    /// # let _ = tower_proxy_fn::ProxyLayer::new(proxy);
    /// ```
    ///
    /// For work that needs the response body, or that must run around the inner service
    /// (a timer that includes the handler's time to first byte is fine here; a body
    /// transform is not), use a tower layer such as `tower_http::map_response_body`.
    pub fn on_response(mut self, hook: impl FnOnce(&mut Parts) + Send + 'static) -> Self {
        self.more().hooks.push(Box::new(hook));
        self
    }
}

/// A hook panicked (and the panic was logged): the response is replaced by a `500`.
#[derive(Debug)]
pub(crate) struct HookPanicked;

impl HookPanicked {
    /// The `500` that replaces the response.
    pub(crate) fn into_response(self) -> Response {
        internal_error()
    }
}

/// Runs `hooks` on the response head, last added first, up to the first that panics.
pub(crate) fn run_hooks(hooks: Vec<ResponseHook>, head: &mut Parts) -> Result<(), HookPanicked> {
    for hook in hooks.into_iter().rev() {
        if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| hook(head))) {
            hook_panicked(&*panic, head);
            return Err(HookPanicked);
        }
    }
    Ok(())
}

#[cold]
fn hook_panicked(panic: &(dyn Any + Send), head: &Parts) {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload");
    tracing::error!(
        status = head.status.as_u16(),
        panic = message,
        "a response hook of the proxy function panicked: 500"
    );
}
