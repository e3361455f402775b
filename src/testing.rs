#![doc = include_str!("../docs/testing.md")]

use bytes::Bytes;

use crate::function::{IntoProxyResponse, ProxyFn};
use crate::matcher::{Matcher, Selection};
use crate::request::ProxyRequest;
use crate::response::ProxyResponse;

/// Runs `function` on `request` as the layer would for a matched request (no captured
/// parameters). The body is dropped, as with the layer's default (streamed) mode; use
/// [`run_with_body`] for a function that reads it.
pub async fn run<F: ProxyFn, B>(function: &F, request: http::Request<B>) -> ProxyResponse {
    function
        .call(ProxyRequest::from_request(request))
        .await
        .into_proxy_response()
}

/// Runs `function` on `request` as a layer built with
/// [`ProxyLayer::with_request_body`](crate::ProxyLayer::with_request_body) would: the function finds the body
/// in [`ProxyRequest::body`].
pub async fn run_with_body<F: ProxyFn, B: Into<Bytes>>(
    function: &F,
    request: http::Request<B>,
) -> ProxyResponse {
    let (parts, body) = request.into_parts();
    let request = ProxyRequest::from_request(http::Request::from_parts(parts, ()));
    function
        .call(request.with_body(body.into()))
        .await
        .into_proxy_response()
}

/// Runs `function` on `request` if `matcher` selects it, with the captured parameters;
/// `None` when the layer would not call the function: it passes the request straight on,
/// or answers 400 for a path that does not percent-decode, or 414 for one over
/// [`MAX_PATH_LEN`](crate::matcher::MAX_PATH_LEN). The body is dropped, as in [`run`].
pub async fn run_matched<F: ProxyFn, B>(
    function: &F,
    matcher: &Matcher,
    request: http::Request<B>,
) -> Option<ProxyResponse> {
    let params = match matcher.select(&request) {
        Selection::Run(matched) => matched.into_params(),
        Selection::Skip | Selection::MalformedPath | Selection::PathTooLong => return None,
    };
    let request = ProxyRequest::from_request(request).with_params(params);
    Some(function.call(request).await.into_proxy_response())
}
