//! External rewrites: `ProxyResponse::rewrite("https://backend.example/api")` forwards the
//! request to another origin and streams its answer back, the client's URL unchanged
//! (Next.js's `NextResponse.rewrite(new URL(...))`). Needs the `external` cargo feature, and
//! `external-rustls` for `https` upstreams.
//!
//! Which origins may be targets is the application's choice: [`Upstreams`] is an allow-list,
//! empty by default. A rewrite to an origin that is not on it is refused (500, logged), so a
//! proxy function that builds URLs from request data cannot be turned into an open proxy.
//!
//! ```
//! use std::time::Duration;
//! use axum::{routing::get, Router};
//! use tower::Layer;
//! use tower_proxy_fn::external::Upstreams;
//! use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};
//!
//! async fn proxy(req: ProxyRequest) -> ProxyResponse {
//!     // `/api/users?page=2` is answered by `http://127.0.0.1:4000/users?page=2`.
//!     let rest = req.path().strip_prefix("/api").unwrap_or("/");
//!     let mut target = format!("http://127.0.0.1:4000{rest}");
//!     if let Some(query) = req.url().query() {
//!         target.push('?');
//!         target.push_str(query);
//!     }
//!     ProxyResponse::rewrite(target).header("x-served-by", "proxy")
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let upstreams = Upstreams::new()
//!     .allow("http://127.0.0.1:4000")?
//!     .with_timeout(Duration::from_secs(10));
//! let app = ProxyLayer::new(proxy)
//!     .with_matcher(Matcher::new(["/api/:path*"])?)
//!     .with_external(upstreams)
//!     .layer(Router::new().route("/", get(|| async { "home" })));
//! # let _ = axum::ServiceExt::<axum::extract::Request>::into_make_service(app);
//! # Ok(())
//! # }
//! ```
//!
//! What is forwarded, and how:
//!
//! - Method, path and query of the destination URL, the request headers with the proxy's
//!   edits, and the body, streamed as it arrives (never buffered).
//! - Hop-by-hop headers are dropped both ways (RFC 9110 §7.6.1: `Connection` and the headers
//!   it lists, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`,
//!   `Upgrade`), and so are the proxy authentication headers.
//! - `Host` is the destination's authority, as Next.js does (`changeOrigin: true` in
//!   `packages/next/src/server/lib/router-utils/proxy-request.ts`);
//!   [`Upstreams::with_client_host`] keeps the client's.
//! - `X-Forwarded-For` gets the client's address appended when the server provides it
//!   (`into_make_service_with_connect_info::<SocketAddr>()`). `X-Forwarded-Host` is the
//!   client's `Host` when it is a plain authority (`host[:port]`, parsed by
//!   `http::uri::Authority`, with none of `/ ? # @`), and is removed otherwise: a client's
//!   own `X-Forwarded-Host` never passes (Next.js sets it from `Host` too:
//!   `'x-forwarded-host': req.headers.host` in `proxy-request.ts`). `X-Forwarded-Proto` is
//!   [`Upstreams::with_forwarded_proto`], `http` by default, never the scheme of the request
//!   target, which the client writes.
//! - `Proxy-Authorization` is not forwarded, nor `Proxy-Authenticate` and
//!   `Proxy-Authentication-Info` sent back: proxy credentials are for the hop that asks
//!   for them.
//! - The upstream's response streams back with the proxy's response headers and cookies
//!   added. A `Location` from the upstream is passed on unchanged (Next.js does not rewrite
//!   it either: no `autoRewrite`/`hostRewrite` in its proxy options).
//! - Failures answer with a short body and log the reason with `tracing::error!`: `502 Bad
//!   Gateway` when the upstream cannot be reached or breaks the exchange, `504 Gateway
//!   Timeout` when the connect timeout or the exchange's time limit passes first. After the
//!   response has started, a failure (a reset, the time limit) cuts the response body.
//! - Not forwarded: protocol upgrades (WebSocket): `Upgrade` is hop-by-hop, so the upstream
//!   sees a plain request.

mod client;
mod headers;

use std::fmt;
use std::time::Duration;

use url::{Origin, Url};

pub(crate) use client::Forwarder;

/// How long an idle upstream connection is kept ([`Upstreams::with_pool`]).
const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// How many idle connections are kept per upstream ([`Upstreams::with_pool`]).
const DEFAULT_POOL_MAX_IDLE: usize = 1024;

/// The origins an external rewrite may reach, and the limits of the exchange.
///
/// Empty by default: every external rewrite is refused until an origin is allowed.
///
/// ```
/// use std::time::Duration;
/// use tower_proxy_fn::external::Upstreams;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let upstreams = Upstreams::new()
///     .allow("http://127.0.0.1:4000")?
///     .allow("http://legacy.internal")?
///     .with_connect_timeout(Duration::from_secs(2))
///     .with_timeout(Duration::from_secs(20));
/// assert!(upstreams.allows(&"http://legacy.internal:80/old?x=1".parse()?));
/// assert!(!upstreams.allows(&"http://127.0.0.1:4001/".parse()?));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct Upstreams {
    origins: Vec<Origin>,
    connect_timeout: Duration,
    timeout: Duration,
    keep_host: bool,
    forwarded_proto: &'static str,
    pool_idle_timeout: Duration,
    pool_max_idle: usize,
}

impl Upstreams {
    /// No origin allowed; connect timeout 5 s, exchange time limit 30 s (Next.js's
    /// `proxyTimeout` default, `proxy-request.ts`), `Host` set to the destination's,
    /// `X-Forwarded-Proto: http`; idle upstream connections kept 4 s, at most 1,024 per upstream
    /// (see [`with_pool`](Self::with_pool)).
    pub fn new() -> Self {
        Self {
            origins: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            keep_host: false,
            forwarded_proto: "http",
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            pool_max_idle: DEFAULT_POOL_MAX_IDLE,
        }
    }

    /// Allows rewrites to `origin`: `scheme://host[:port]`, scheme `http` or (with the
    /// `external-rustls` feature) `https`, nothing after the authority but an optional `/`.
    /// The default port may be written or not: `http://a.example` and `http://a.example:80`
    /// are one origin.
    pub fn allow(mut self, origin: &str) -> Result<Self, UpstreamsError> {
        let url = Url::parse(origin).map_err(|err| UpstreamsError::InvalidUrl {
            origin: origin.to_owned(),
            reason: err.to_string(),
        })?;
        match url.scheme() {
            "http" => {}
            "https" if cfg!(feature = "external-rustls") => {}
            "https" => {
                return Err(UpstreamsError::HttpsNeedsRustls {
                    origin: origin.to_owned(),
                })
            }
            _ => {
                return Err(UpstreamsError::UnsupportedScheme {
                    origin: origin.to_owned(),
                })
            }
        }
        let only_origin = url.username().is_empty()
            && url.password().is_none()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && url.host().is_some();
        if !only_origin {
            return Err(UpstreamsError::NotAnOrigin {
                origin: origin.to_owned(),
            });
        }
        self.origins.push(url.origin());
        Ok(self)
    }

    /// How long connecting (TCP) to an upstream may take; `504` when it runs over.
    pub fn with_connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = limit;
        self
    }

    /// How long the whole exchange may take, from sending the request to the end of the
    /// response body. Over the limit before the response starts: `504`; after: the response
    /// body is cut. Long streams (server-sent events, big downloads) need a limit to match.
    /// A limit over a year (`Duration::MAX` meant as "none") is taken as a year, so that the
    /// deadline can always be computed.
    pub fn with_timeout(mut self, limit: Duration) -> Self {
        const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);
        self.timeout = limit.min(YEAR);
        self
    }

    /// Sends the client's `Host` to the upstream instead of the destination's authority
    /// (for upstreams that serve several sites by name). Off by default. A client `Host`
    /// that is not a plain authority (see the [module docs](self)) is not sent: the
    /// destination's authority goes instead.
    pub fn with_client_host(mut self, keep: bool) -> Self {
        self.keep_host = keep;
        self
    }

    /// How the connections to upstreams are kept for reuse: an idle connection is closed
    /// after `idle_timeout`, and at most `max_idle` idle connections are kept per upstream
    /// (the others close when their exchange ends). `max_idle` 0 closes every connection
    /// after its exchange.
    ///
    /// The defaults are 4 s and 1,024: what a burst of load opened closes soon after it
    /// ends, and under load no connection is closed only to be opened again (a maximum
    /// under the number of requests in flight would do that to the excess). 4 s
    /// is under the 5 s after which a Node.js upstream closes an idle connection (its
    /// server's `keepAliveTimeout` default): a pool that kept connections longer would
    /// sometimes send a request on one the upstream is closing, and the exchange would fail.
    /// An idle timeout of zero is taken as 1 ms.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_proxy_fn::external::Upstreams;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // An upstream that closes idle connections after 60 s; up to 100 kept for reuse.
    /// let upstreams = Upstreams::new()
    ///     .allow("http://127.0.0.1:4000")?
    ///     .with_pool(Duration::from_secs(55), 100);
    /// # let _ = upstreams;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_pool(mut self, idle_timeout: Duration, max_idle: usize) -> Self {
        self.pool_idle_timeout = idle_timeout.max(Duration::from_millis(1));
        self.pool_max_idle = max_idle;
        self
    }

    /// The scheme clients reach this application with, sent to upstreams as
    /// `X-Forwarded-Proto`: `"http"` (the default) or `"https"` (ASCII case ignored). Set
    /// `"https"` when TLS ends in front of the application (a load balancer, a TLS
    /// terminator) or in the server itself.
    ///
    /// It is configuration because the request cannot tell: a request target in absolute
    /// form (`GET https://app.example/ HTTP/1.1`) is text the client chose, and a plain-HTTP
    /// client may write `https` there. Next.js takes it from the connection, not from the
    /// request (`x-forwarded-proto` is `https` when `socket.encrypted`, in
    /// `packages/next/src/server/base-server.ts`); a tower service does not see the
    /// connection, so the application says.
    ///
    /// ```
    /// use tower_proxy_fn::external::Upstreams;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let upstreams = Upstreams::new()
    ///     .allow("http://127.0.0.1:4000")?
    ///     .with_forwarded_proto("https");
    /// # let _ = upstreams;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `proto` is neither `http` nor `https`.
    #[track_caller]
    pub fn with_forwarded_proto(mut self, proto: &str) -> Self {
        self.forwarded_proto = if proto.eq_ignore_ascii_case("https") {
            "https"
        } else if proto.eq_ignore_ascii_case("http") {
            "http"
        } else {
            panic!("with_forwarded_proto takes \"http\" or \"https\", not {proto:?}")
        };
        self
    }

    /// Whether `url`'s origin is on the allow-list.
    pub fn allows(&self, url: &Url) -> bool {
        let origin = url.origin();
        self.origins.contains(&origin)
    }
}

impl Default for Upstreams {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origins: Vec<String> = self
            .origins
            .iter()
            .map(Origin::ascii_serialization)
            .collect();
        f.debug_struct("Upstreams")
            .field("origins", &origins)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("keep_host", &self.keep_host)
            .field("forwarded_proto", &self.forwarded_proto)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle", &self.pool_max_idle)
            .finish()
    }
}

/// An origin that [`Upstreams::allow`] cannot take.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamsError {
    /// Not a URL.
    InvalidUrl {
        /// The text given.
        origin: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A scheme other than `http` and `https`.
    UnsupportedScheme {
        /// The text given.
        origin: String,
    },
    /// An `https` origin without the `external-rustls` feature.
    HttpsNeedsRustls {
        /// The text given.
        origin: String,
    },
    /// A URL with more than an origin: a path, query, fragment or user name.
    NotAnOrigin {
        /// The text given.
        origin: String,
    },
}

impl fmt::Display for UpstreamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl { origin, reason } => {
                write!(f, "upstream origin {origin:?} is not a URL: {reason}")
            }
            Self::UnsupportedScheme { origin } => {
                write!(f, "upstream origin {origin:?}: only http and https upstreams are supported")
            }
            Self::HttpsNeedsRustls { origin } => write!(
                f,
                "upstream origin {origin:?}: https upstreams need the `external-rustls` feature of tower-proxy-fn"
            ),
            Self::NotAnOrigin { origin } => write!(
                f,
                "upstream origin {origin:?} must be scheme://host[:port], without path, query, fragment or user"
            ),
        }
    }
}

impl std::error::Error for UpstreamsError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Duration::MAX` as "no limit" must not overflow the deadline the exchange computes
    /// (`Instant::now() + limit`), which would panic at request time.
    #[test]
    fn an_endless_time_limit_still_gives_a_deadline() {
        let upstreams = Upstreams::new().with_timeout(Duration::MAX);
        assert!(tokio::time::Instant::now()
            .checked_add(upstreams.timeout)
            .is_some());
        assert_eq!(
            Upstreams::new()
                .with_timeout(Duration::from_secs(5))
                .timeout,
            Duration::from_secs(5)
        );
    }

    #[test]
    fn allow_takes_origins_only() {
        let refused = [
            ("not a URL", "127.0.0.1:4000"),
            ("scheme", "ftp://files.example"),
            ("path", "http://a.example/api"),
            ("query", "http://a.example/?x=1"),
            ("fragment", "http://a.example/#x"),
            ("user", "http://user@a.example"),
        ];
        for (name, origin) in refused {
            assert!(Upstreams::new().allow(origin).is_err(), "{name}");
        }
        assert_eq!(
            Upstreams::new().allow("ftp://files.example").unwrap_err(),
            UpstreamsError::UnsupportedScheme {
                origin: "ftp://files.example".into()
            }
        );
    }

    #[test]
    fn forwarded_proto_takes_http_or_https_only() {
        assert_eq!(Upstreams::new().forwarded_proto, "http");
        assert_eq!(
            Upstreams::new()
                .with_forwarded_proto("HTTPS")
                .forwarded_proto,
            "https"
        );
        assert_eq!(
            Upstreams::new()
                .with_forwarded_proto("http")
                .forwarded_proto,
            "http"
        );
        let refused = std::panic::catch_unwind(|| Upstreams::new().with_forwarded_proto("wss"));
        assert!(refused.is_err());
    }

    #[test]
    fn https_needs_the_rustls_feature() {
        let result = Upstreams::new().allow("https://a.example");
        assert_eq!(result.is_ok(), cfg!(feature = "external-rustls"));
    }

    #[test]
    fn allows_compares_whole_origins() {
        let upstreams = Upstreams::new()
            .allow("http://a.example")
            .unwrap()
            .allow("http://127.0.0.1:4000/")
            .unwrap();
        let cases = [
            ("default port written", "http://a.example:80/x", true),
            ("path and query", "http://127.0.0.1:4000/a/b?c=d", true),
            ("other port", "http://127.0.0.1:4001/", false),
            ("other scheme", "https://a.example/", false),
            ("subdomain", "http://b.a.example/", false),
            ("suffix trick", "http://a.example.evil.test/", false),
            ("user info", "http://a.example@evil.test/", false),
        ];
        for (name, url, want) in cases {
            assert_eq!(upstreams.allows(&Url::parse(url).unwrap()), want, "{name}");
        }
        assert!(!Upstreams::new().allows(&Url::parse("http://a.example/").unwrap()));
    }
}
