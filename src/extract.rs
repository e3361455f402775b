//! What the proxy learned about a request, for the handlers behind it: the client's IP
//! (after trusted proxies), its geolocation, its user agent (feature `user-agent`) and the
//! matcher's parameters, as axum extractors.
//!
//! With [`ProxyLayer::with_learned_values`], on `next` and on a local rewrite the layer
//! puts one [`ProxyValues`] in the request's extensions, worked out from the request as the proxy function got it, before its header
//! edits: the same values the function saw, whatever a client (or the function) writes in
//! `X-Forwarded-For` or a CDN's geo headers (`tests/learned_values.rs`). A handler behind no
//! proxy layer (or behind one without `with_learned_values`) gets a `500` and a logged
//! reason rather than a guess from the headers. It is asked for because it costs a few
//! allocations per matched request, which a layer whose handlers do not need it should
//! not pay (`tests/budgets.rs`).
//!
//! ```
//! use axum::{routing::get, Router};
//! use tower_proxy_fn::extract::{ClientIp, MatchedParams};
//! use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};
//!
//! async fn page(ClientIp(ip): ClientIp, MatchedParams(params): MatchedParams) -> String {
//!     format!("{ip:?} asked for team {:?}", params.get("team"))
//! }
//!
//! # fn main() -> Result<(), tower_proxy_fn::ConfigError> {
//! let router: Router = Router::new().route("/teams/{team}", get(page));
//! let app = ProxyLayer::new(|_: ProxyRequest| async { ProxyResponse::next() })
//!     .with_matcher(Matcher::new(["/teams/:team"])?)
//!     .with_learned_values()
//!     .layer(router);
//! # let _ = app;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::context::Geo;
use crate::matcher::{Deferred, Params};
use crate::request::{Head, ProxyRequest};
use crate::ProxyLayer;

impl<F, M> ProxyLayer<F, M> {
    /// On `next` and on a local rewrite, hands what the proxy learned (client IP, geo, user
    /// agent, the matcher's parameters) to the handlers, as the extractors of
    /// [`extract`](crate::extract). Off by default: it costs a few allocations per
    /// matched request.
    pub fn with_learned_values(mut self) -> Self {
        self.settings.share_learned = true;
        self
    }
}

/// Everything the proxy learned, as one extractor; the others below take one field of it.
///
/// Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct ProxyValues(Arc<Learned>);

#[derive(Debug)]
struct Learned {
    client_ip: Option<IpAddr>,
    geo: Option<Geo>,
    params: Params,
    /// The `User-Agent` header the proxy saw, parsed when a handler asks.
    #[cfg(feature = "user-agent")]
    user_agent: (
        Option<http::HeaderValue>,
        std::sync::OnceLock<crate::context::UserAgent>,
    ),
}

impl ProxyValues {
    /// Works the values out from the head the function got, as its `ProxyRequest` does.
    /// Nothing it reads is logged for `Vary`: the decision was made without it.
    pub(crate) fn of(head: &Arc<Head>, captured: Option<Deferred>) -> Self {
        let request = ProxyRequest::new(Arc::clone(head), captured);
        let learned = Learned {
            client_ip: request.client_ip(),
            geo: request.geo().cloned(),
            params: request.params().clone(),
            #[cfg(feature = "user-agent")]
            user_agent: (
                head.parts.headers.get(http::header::USER_AGENT).cloned(),
                std::sync::OnceLock::new(),
            ),
        };
        Self(Arc::new(learned))
    }

    /// The client's IP address, as [`ProxyRequest::client_ip`] gave it.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.0.client_ip
    }

    /// Where the client is, as [`ProxyRequest::geo`] gave it.
    pub fn geo(&self) -> Option<&Geo> {
        self.0.geo.as_ref()
    }

    /// The matcher's captured parameters, as [`ProxyRequest::params`] gave them (of the path
    /// the proxy matched, before any rewrite).
    pub fn params(&self) -> &Params {
        &self.0.params
    }

    /// The parsed `User-Agent` the proxy saw, as [`ProxyRequest::user_agent`] gives it.
    #[cfg(feature = "user-agent")]
    #[cfg_attr(docsrs, doc(cfg(feature = "user-agent")))]
    pub fn user_agent(&self) -> &crate::context::UserAgent {
        let (header, parsed) = &self.0.user_agent;
        parsed.get_or_init(|| {
            let text = header
                .as_ref()
                .and_then(|value| std::str::from_utf8(value.as_bytes()).ok())
                .unwrap_or("");
            crate::context::UserAgent::parse(text)
        })
    }
}

/// The rejection of this module's extractors: the request did not come through a proxy
/// layer's `next` or rewrite, so there is nothing the proxy learned. A `500` (the app is
/// put together wrong, not the request), with the reason logged.
#[derive(Debug)]
#[non_exhaustive]
pub struct ProxyNotMounted;

impl fmt::Display for ProxyNotMounted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the proxy layer is not mounted in front of this route \
             (or was built without ProxyLayer::with_learned_values)",
        )
    }
}

impl std::error::Error for ProxyNotMounted {}

impl IntoResponse for ProxyNotMounted {
    fn into_response(self) -> Response {
        tracing::error!("{self}: a handler asked for what the proxy learned");
        crate::response::internal_error()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ProxyValues {
    type Rejection = ProxyNotMounted;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or(ProxyNotMounted)
    }
}

/// The client's IP address as the proxy saw it ([`ProxyRequest::client_ip`]: the peer, or
/// what trusted proxies say); `None` without connect info.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ProxyNotMounted;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let values = ProxyValues::from_request_parts(parts, state).await?;
        Ok(Self(values.client_ip()))
    }
}

/// Where the client is, as the proxy saw it ([`ProxyRequest::geo`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ClientGeo(pub Option<Geo>);

impl<S: Send + Sync> FromRequestParts<S> for ClientGeo {
    type Rejection = ProxyNotMounted;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let values = ProxyValues::from_request_parts(parts, state).await?;
        Ok(Self(values.geo().cloned()))
    }
}

/// The matcher's parameters ([`ProxyRequest::params`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchedParams(pub Params);

impl<S: Send + Sync> FromRequestParts<S> for MatchedParams {
    type Rejection = ProxyNotMounted;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let values = ProxyValues::from_request_parts(parts, state).await?;
        Ok(Self(values.params().clone()))
    }
}

/// The client's parsed user agent, as the proxy saw it ([`ProxyRequest::user_agent`]).
#[cfg(feature = "user-agent")]
#[cfg_attr(docsrs, doc(cfg(feature = "user-agent")))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientUserAgent(pub crate::context::UserAgent);

#[cfg(feature = "user-agent")]
impl<S: Send + Sync> FromRequestParts<S> for ClientUserAgent {
    type Rejection = ProxyNotMounted;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let values = ProxyValues::from_request_parts(parts, state).await?;
        Ok(Self(values.user_agent().clone()))
    }
}
