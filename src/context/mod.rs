//! Who and where the client is: its IP address (behind proxies you trust), its user agent,
//! and its location — Next.js's `request.ip`, `request.geo` and `userAgent(request)`.
//!
//! Nothing here believes a request header unless the application says so:
//!
//! - [`ProxyRequest::client_ip`] is the connection's peer address until
//!   [`ProxyLayer::with_trusted_proxies`] says which proxies may name the client
//!   ([`TrustedProxies`]). A client that sends its own `X-Forwarded-For` to a server that
//!   trusts no proxy changes nothing.
//! - [`ProxyRequest::geo`] is `None` until [`ProxyLayer::with_geo_headers`] names the CDN whose
//!   headers to read ([`Cdn`]), or (feature `maxminddb`) `ProxyLayer::with_geo_database` gives a
//!   MaxMind database to look the client IP up in.
//! - `ProxyRequest::user_agent` (feature `user-agent`) parses the `User-Agent` header on
//!   first use.
//!
//! [`IpAllowlist`] checks an address against CIDR ranges.
//!
//! ```
//! use std::net::SocketAddr;
//! use axum::extract::ConnectInfo;
//! use axum::{body::Body, routing::get, Router};
//! use http::StatusCode;
//! use tower::{Layer, ServiceExt};
//! use tower_proxy_fn::context::{Cdn, IpAllowlist, TrustedProxies};
//! use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let office = IpAllowlist::parse(["203.0.113.0/24", "2001:db8::/32"])?;
//! let proxy = move |req: ProxyRequest| {
//!     let allowed = req.client_ip().is_some_and(|ip| office.contains(ip));
//!     async move {
//!         if allowed {
//!             ProxyResponse::next()
//!         } else {
//!             ProxyResponse::respond(StatusCode::FORBIDDEN)
//!         }
//!     }
//! };
//! let router: Router = Router::new().route("/", get(|| async { "hi" }));
//! let app = ProxyLayer::new(proxy)
//!     // One load balancer in front: the right-most X-Forwarded-For address is the client.
//!     .with_trusted_proxies(TrustedProxies::hops(1))
//!     .with_geo_headers(Cdn::Cloudflare)
//!     .layer(router);
//!
//! // Served with `into_make_service_with_connect_info::<SocketAddr>()`, each request
//! // carries its peer: here the load balancer, 10.0.0.2.
//! let request = |forwarded_for: &str| {
//!     let mut request = http::Request::get("/")
//!         .header("x-forwarded-for", forwarded_for)
//!         .body(Body::empty())
//!         .unwrap();
//!     let peer: SocketAddr = "10.0.0.2:5000".parse().unwrap();
//!     request.extensions_mut().insert(ConnectInfo(peer));
//!     request
//! };
//! let inside = app.clone().oneshot(request("203.0.113.50")).await?;
//! assert_eq!(inside.status(), StatusCode::OK);
//! // The client wrote an office address; the load balancer appended the real one.
//! let spoofed = app.oneshot(request("203.0.113.50, 198.51.100.9")).await?;
//! assert_eq!(spoofed.status(), StatusCode::FORBIDDEN);
//! # Ok(())
//! # }
//! ```
//!
//! [`ProxyRequest::client_ip`]: crate::ProxyRequest::client_ip
//! [`ProxyRequest::geo`]: crate::ProxyRequest::geo
//! [`ProxyLayer::with_trusted_proxies`]: crate::ProxyLayer::with_trusted_proxies
//! [`ProxyLayer::with_geo_headers`]: crate::ProxyLayer::with_geo_headers

mod client_ip;
mod geo;
mod ip_range;
#[cfg(feature = "maxminddb")]
mod maxmind;
#[cfg(feature = "user-agent")]
mod user_agent;

use std::net::IpAddr;
use std::sync::OnceLock;

pub use client_ip::{ForwardedHeader, TrustedProxies};
pub use geo::{Cdn, Geo};
pub use ip_range::{IpAllowlist, IpRange, IpRangeError};
#[cfg(feature = "maxminddb")]
#[cfg_attr(docsrs, doc(cfg(feature = "maxminddb")))]
pub use maxmind::{GeoDatabase, GeoDatabaseError};
#[cfg(feature = "user-agent")]
#[cfg_attr(docsrs, doc(cfg(feature = "user-agent")))]
pub use user_agent::{DeviceType, Software, UserAgent};

/// What a layer was told about the network in front of it; shared by its requests.
#[derive(Clone, Debug, Default)]
pub(crate) struct ContextConfig {
    pub(crate) proxies: TrustedProxies,
    pub(crate) cdn: Option<Cdn>,
    #[cfg(feature = "maxminddb")]
    pub(crate) database: Option<GeoDatabase>,
}

/// What one request has worked out from the layer's context configuration so far (each on
/// first use).
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestContext {
    pub(crate) client_ip: OnceLock<Option<IpAddr>>,
    pub(crate) geo: OnceLock<Option<Geo>>,
    #[cfg(feature = "user-agent")]
    pub(crate) user_agent: OnceLock<UserAgent>,
}
