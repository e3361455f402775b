//! What the layer does with a matched request's body, chosen by the builder:
//!
//! | mode | set by | the function sees the body | an external rewrite streams it upstream |
//! |---|---|---|---|
//! | [`Streamed`] | default | no | no (no forwarder) |
//! | [`Buffered`] | [`ProxyLayer::with_request_body`] | yes, up to a limit | yes, the bytes read |
//! | [`External`] | [`ProxyLayer::with_external`] | no | yes |
//!
//! The mode is a type parameter of [`ProxyLayer`] and [`ProxyService`], so that each mode asks
//! of the request body type only what it uses: a streamed body may be any type at all.
//!
//! [`ProxyLayer`]: crate::ProxyLayer
//! [`ProxyLayer::with_request_body`]: crate::ProxyLayer::with_request_body
//! [`ProxyLayer::with_external`]: crate::ProxyLayer::with_external
//! [`ProxyService`]: crate::ProxyService

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::response::error_response;
use crate::settings::Settings;
use sealed::ReadLimits;

/// The default body mode: the request body streams to the inner service untouched, and the
/// proxy function does not see it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Streamed;

/// The body mode set by [`ProxyLayer::with_request_body`](crate::ProxyLayer::with_request_body): for a
/// matched request the body is read (up to a limit) before the function runs, and the same
/// bytes go on to the inner service, or upstream.
#[derive(Clone, Copy, Debug, Default)]
pub struct Buffered;

/// The body mode set by [`ProxyLayer::with_external`](crate::ProxyLayer::with_external): the request
/// body streams to the inner service or to the upstream of an external rewrite, and the
/// proxy function does not see it.
///
/// The request body must be an [`http_body::Body`] of [`Bytes`], as axum's `Body` is.
#[cfg(feature = "external")]
#[cfg_attr(docsrs, doc(cfg(feature = "external")))]
#[derive(Clone, Copy, Debug, Default)]
pub struct External;

/// The bytes [`ProxyLayer::with_request_body`](crate::ProxyLayer::with_request_body) read,
/// kept in the request's extensions for a 404 rewrite rule to send again.
#[derive(Clone, Debug)]
pub(crate) struct BufferedCopy(pub(crate) Bytes);

/// A body mode for request bodies of type `B`: [`Streamed`], [`Buffered`] or [`External`].
/// Sealed: the layer's builder picks the mode, and nothing else implements it.
pub trait BodyMode<B>: sealed::Mode<B> {}

impl<B, M: sealed::Mode<B>> BodyMode<B> for M {}

pub(crate) mod sealed {
    use super::*;

    /// The body mode a layer moves to when it also forwards external rewrites: a streamed
    /// body still streams (to the upstream too), and a read one is sent as read.
    pub trait Kind {
        #[cfg(feature = "external")]
        type Forwarding;
    }

    impl Kind for Streamed {
        #[cfg(feature = "external")]
        type Forwarding = External;
    }

    impl Kind for Buffered {
        #[cfg(feature = "external")]
        type Forwarding = Buffered;
    }

    #[cfg(feature = "external")]
    impl Kind for External {
        type Forwarding = External;
    }

    /// The limits of reading a body (`ProxyLayer::with_request_body`).
    #[derive(Clone, Copy, Debug)]
    pub struct ReadLimits {
        /// The most bytes read.
        pub size: usize,
        /// How long reading may take.
        pub time: Option<Duration>,
    }

    impl ReadLimits {
        pub(crate) fn of(settings: &Settings) -> Self {
            Self {
                size: settings.body_limit,
                time: settings.body_timeout,
            }
        }
    }

    /// What a body mode does; private, so that the modes stay the three above.
    pub trait Mode<B>: Send + Sync + 'static {
        /// Reads what the function may see of the body (nothing, for a streamed one), and
        /// gives back the body the inner service gets. `Err` is the response that ends the
        /// request (a body over the limit, or too slow).
        fn read(
            headers: &HeaderMap,
            body: B,
            limits: ReadLimits,
        ) -> impl Future<Output = Result<(Option<Bytes>, B), Response>> + Send;

        /// The body made into one an upstream can be sent, for an external rewrite; `None`
        /// when this mode does not forward.
        fn upstream_body() -> Option<fn(B) -> Body>;
    }
}

impl<B: Send> sealed::Mode<B> for Streamed {
    fn read(
        _: &HeaderMap,
        body: B,
        _: ReadLimits,
    ) -> impl Future<Output = Result<(Option<Bytes>, B), Response>> + Send {
        std::future::ready(Ok((None, body)))
    }

    fn upstream_body() -> Option<fn(B) -> Body> {
        None
    }
}

#[cfg(feature = "external")]
impl<B> sealed::Mode<B> for External
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    fn read(
        headers: &HeaderMap,
        body: B,
        limits: ReadLimits,
    ) -> impl Future<Output = Result<(Option<Bytes>, B), Response>> + Send {
        <Streamed as sealed::Mode<B>>::read(headers, body, limits)
    }

    fn upstream_body() -> Option<fn(B) -> Body> {
        Some(Body::new::<B>)
    }
}

impl<B> sealed::Mode<B> for Buffered
where
    B: http_body::Body<Data = Bytes> + From<Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    async fn read(
        headers: &HeaderMap,
        body: B,
        limits: ReadLimits,
    ) -> Result<(Option<Bytes>, B), Response> {
        let limit = limits.size;
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return Err(too_large());
        }
        let collecting = Limited::new(body, limit).collect();
        let collected = match limits.time {
            Some(limit) => tokio::time::timeout(limit, collecting).await.map_err(|_| {
                tracing::warn!("request body not read within its time limit: 408");
                error_response(StatusCode::REQUEST_TIMEOUT, "Request Timeout")
            })?,
            None => collecting.await,
        };
        let bytes = match collected {
            Ok(collected) => collected.to_bytes(),
            Err(err) if err.is::<LengthLimitError>() => return Err(too_large()),
            Err(err) => {
                tracing::debug!(error = %err, "request body could not be read: 400");
                return Err(error_response(StatusCode::BAD_REQUEST, "Bad Request"));
            }
        };
        Ok((Some(bytes.clone()), B::from(bytes)))
    }

    fn upstream_body() -> Option<fn(B) -> Body> {
        Some(Body::new::<B>)
    }
}

fn too_large() -> Response {
    error_response(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large")
}
