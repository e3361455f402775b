//! Running a proxy function without a server, like Next.js's
//! `next/experimental/testing/server`.
//!
//! ```
//! use tower_proxy_fn::testing::{run, run_matched};
//! use tower_proxy_fn::{Matcher, ProxyRequest, ProxyResponse};
//!
//! async fn proxy(req: ProxyRequest) -> ProxyResponse {
//!     match req.param("slug") {
//!         Some(slug) => ProxyResponse::rewrite(format!("/news/{slug}")),
//!         None => ProxyResponse::next(),
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let matcher = Matcher::new(["/blog/:slug"])?;
//! let request = http::Request::get("/blog/hello").body(())?;
//! let decision = run_matched(&proxy, &matcher, request).await.expect("the matcher runs it");
//! assert!(decision.is_rewrite());
//! assert_eq!(decision.rewrite_url(), Some("/news/hello"));
//!
//! // Would the proxy run at all?
//! assert!(!matcher.matches(&http::Request::get("/about").body(())?));
//!
//! let decision = run(&proxy, http::Request::get("/about").body(())?).await;
//! assert!(decision.is_next());
//! # Ok(())
//! # }
//! ```

use crate::function::{IntoProxyResponse, ProxyFn};
use crate::matcher::{Decision, Matcher};
use crate::request::ProxyRequest;
use crate::response::ProxyResponse;

/// Runs `function` on `request` as the layer would for a matched request (no captured
/// parameters). The body is dropped: proxy functions do not read it.
pub async fn run<F: ProxyFn, B>(function: &F, request: http::Request<B>) -> ProxyResponse {
    function
        .call(ProxyRequest::from_request(request))
        .await
        .into_proxy_response()
}

/// Runs `function` on `request` if `matcher` selects it, with the captured parameters;
/// `None` when the layer would not call the function: it passes the request straight on,
/// or answers 400 for a path that does not percent-decode, or 414 for one over
/// [`MAX_PATH_LEN`](crate::matcher::MAX_PATH_LEN).
pub async fn run_matched<F: ProxyFn, B>(
    function: &F,
    matcher: &Matcher,
    request: http::Request<B>,
) -> Option<ProxyResponse> {
    let params = match matcher.decide(&request) {
        Decision::Run(matched) => matched.into_params(),
        Decision::Skip | Decision::MalformedPath | Decision::PathTooLong => return None,
    };
    let request = ProxyRequest::from_request(request).with_params(params);
    Some(function.call(request).await.into_proxy_response())
}
