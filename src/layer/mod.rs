//! [`ProxyLayer`] and the service it builds.

mod future;
mod outcome;
mod rules;
mod service;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use url::Url;

use crate::background::BackgroundTasks;
use crate::context::{Cdn, TrustedProxies};
use crate::function::ProxyFn;
use crate::matcher::Matcher;
use crate::settings::Settings;

pub use future::ResponseFuture;
pub(crate) use rules::BufferedCopy;
pub use rules::{RewriteFuture, RewriteService, RulesFuture, RulesLayer, RulesService};
pub use service::ProxyService;

/// A tower [`Layer`] that runs a proxy function in front of a service.
///
/// Requests the [`Matcher`] does not select go straight to the inner service. For the others
/// the function decides: next, rewrite, redirect or respond (see [`ProxyResponse`]).
///
/// Wrap the whole [`Router`](axum::Router) so that rewrites re-route:
///
/// ```
/// use axum::{routing::get, Router};
/// use tower::Layer;
/// use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};
///
/// async fn proxy(req: ProxyRequest) -> ProxyResponse {
///     match req.path() {
///         "/about" => ProxyResponse::redirect("/home"),
///         "/another" => ProxyResponse::rewrite("/home"),
///         _ => ProxyResponse::next(),
///     }
/// }
///
/// # fn main() -> Result<(), tower_proxy_fn::ConfigError> {
/// let router = Router::new().route("/home", get(|| async { "home" }));
/// let layer = ProxyLayer::new(proxy).with_matcher(Matcher::new(["/about", "/another"])?);
/// let app = layer.layer(router);
/// // axum::serve(listener, app.into_make_service())
/// # let _ = axum::ServiceExt::<axum::extract::Request>::into_make_service(app);
/// # Ok(())
/// # }
/// ```
///
/// Added with `Router::layer` or `route_layer` instead, the function runs after routing:
/// next, redirect and respond work, but a rewrite cannot reach another route, so the layer
/// answers 500 and logs how to mount it.
///
/// The function is called, and its future polled once, inside the service's `call`: a
/// function that decides without waiting for anything (most of them) has decided before
/// `call` returns, and a `next` or a rewrite calls the inner service right there. A
/// function that waits is polled on by the response future, as any future is.
///
/// [`ProxyResponse`]: crate::ProxyResponse
#[must_use]
pub struct ProxyLayer<F, M = Streamed> {
    function: F,
    settings: Settings,
    mode: PhantomData<fn() -> M>,
}

impl<F: Clone, M> Clone for ProxyLayer<F, M> {
    fn clone(&self) -> Self {
        Self {
            function: self.function.clone(),
            settings: self.settings.clone(),
            mode: PhantomData,
        }
    }
}

/// The default body mode: the request body streams to the inner service untouched, and the
/// proxy function does not see it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Streamed;

/// The body mode set by [`ProxyLayer::read_body`]: for a matched request the body is read
/// (up to a limit) before the function runs, and the same bytes go on to the inner service.
#[derive(Clone, Copy, Debug, Default)]
pub struct Buffered;

/// The longest time limit taken: a deadline further out than this cannot always be
/// computed (`Instant + Duration::MAX` overflows).
const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// What an external rewrite needs from the service that took the request: the forwarder, and
/// the request body made streamable (only a service whose body type allows it has one).
/// Carries nothing without the `external` feature.
pub(crate) struct Forward<B> {
    #[cfg(feature = "external")]
    pub(crate) forwarder: Option<crate::external::Forwarder>,
    #[cfg(feature = "external")]
    pub(crate) to_body: Option<fn(B) -> axum::body::Body>,
    body: PhantomData<fn(B)>,
}

impl<B> Forward<B> {
    pub(crate) fn new(settings: &Settings, to_body: Option<fn(B) -> axum::body::Body>) -> Self {
        #[cfg(not(feature = "external"))]
        let _ = (settings, to_body);
        Self {
            #[cfg(feature = "external")]
            forwarder: settings.forwarder.clone(),
            #[cfg(feature = "external")]
            to_body,
            body: PhantomData,
        }
    }
}

impl<F: ProxyFn> ProxyLayer<F> {
    /// A layer that runs `function` for every request (until [`with_matcher`](Self::with_matcher)).
    pub fn new(function: F) -> Self {
        Self {
            function,
            settings: Settings::default(),
            mode: PhantomData,
        }
    }

    /// Lets the function read the request body, up to `limit` bytes, with
    /// [`ProxyRequest::body`](crate::ProxyRequest::body). Off by default.
    ///
    /// Only matched requests are read; after next or rewrite the same bytes go on to the
    /// inner service. A body over the limit is answered with `413 Payload Too Large`
    /// without reading past the limit (at once when `Content-Length` says so). The inner
    /// service's request body type must be buildable from bytes (`From<Bytes>`, as axum's
    /// `Body` is).
    pub fn read_body(mut self, limit: usize) -> ProxyLayer<F, Buffered> {
        self.settings.body_limit = limit;
        self.into_mode()
    }
}

/// External rewrites (the `external` feature): see [`external`](crate::external).
#[cfg(feature = "external")]
#[cfg_attr(docsrs, doc(cfg(feature = "external")))]
impl<F: ProxyFn> ProxyLayer<F> {
    /// Forwards a rewrite to another origin there, if `upstreams` allows the origin
    /// (see [`external`](crate::external)); without this, every external rewrite is refused
    /// with a 500 and a logged error.
    ///
    /// The request body type must be an [`http_body::Body`] of [`Bytes`](bytes::Bytes), as
    /// axum's `Body` is.
    pub fn external(
        mut self,
        upstreams: crate::external::Upstreams,
    ) -> ProxyLayer<F, crate::external::External> {
        self.settings.forwarder = Some(crate::external::Forwarder::new(upstreams));
        self.into_mode()
    }
}

#[cfg(feature = "external")]
#[cfg_attr(docsrs, doc(cfg(feature = "external")))]
impl<F: ProxyFn> ProxyLayer<F, crate::external::External> {
    /// [`ProxyLayer::read_body`], for a layer that forwards external rewrites: the function
    /// reads the body, and the same bytes go on to the inner service or the upstream.
    pub fn read_body(mut self, limit: usize) -> ProxyLayer<F, Buffered> {
        self.settings.body_limit = limit;
        self.into_mode()
    }
}

#[cfg(feature = "external")]
#[cfg_attr(docsrs, doc(cfg(feature = "external")))]
impl<F: ProxyFn> ProxyLayer<F, Buffered> {
    /// [`ProxyLayer::external`], for a layer that reads the body: the bytes read are what the
    /// upstream gets.
    pub fn external(mut self, upstreams: crate::external::Upstreams) -> Self {
        self.settings.forwarder = Some(crate::external::Forwarder::new(upstreams));
        self
    }
}

impl<F: ProxyFn, M> ProxyLayer<F, M> {
    /// The same layer in another body mode.
    fn into_mode<N>(self) -> ProxyLayer<F, N> {
        ProxyLayer {
            function: self.function,
            settings: self.settings,
            mode: PhantomData,
        }
    }

    /// Runs the function only for requests that `matcher` selects (Next.js's
    /// `config.matcher`).
    pub fn with_matcher(mut self, matcher: Matcher) -> Self {
        self.settings.matcher = Some(matcher);
        self
    }

    /// Answers `504 Gateway Timeout` (and logs it) when the function runs longer than
    /// `limit`; by default [`DEFAULT_FUNCTION_TIMEOUT`](crate::DEFAULT_FUNCTION_TIMEOUT),
    /// 30 s, so that a function that never finishes cannot hold a connection for ever.
    /// A limit over a year is taken as a year.
    pub fn with_timeout(mut self, limit: Duration) -> Self {
        self.settings.timeout = Some(limit.min(YEAR));
        self
    }

    /// Answers `408 Request Timeout` when reading a matched request's body for
    /// [`read_body`](ProxyLayer::read_body) takes longer than `limit`; by default
    /// [`DEFAULT_BODY_TIMEOUT`](crate::DEFAULT_BODY_TIMEOUT), 30 s, so that a client that
    /// sends its body slowly cannot hold a connection for ever. A limit over a year is taken
    /// as a year.
    pub fn with_body_timeout(mut self, limit: Duration) -> Self {
        self.settings.body_timeout = Some(limit.min(YEAR));
        self
    }

    /// Declares `origin` (`https://example.com`) as the application's own; may be called for
    /// each origin the application answers on.
    ///
    /// A request's URL ([`ProxyRequest::url`](crate::ProxyRequest::url)) then has the
    /// declared origin its authority names, or the first one declared: the client's `Host`
    /// can no longer choose it. A rewrite to an absolute URL stays in the application only
    /// when the URL names a declared origin; every other one is external. Without a declared
    /// origin, the request's own origin (from its strictly parsed authority) counts as the
    /// application's, except an origin that [`external`](ProxyLayer::external) rewrites go to.
    /// See SECURITY.md.
    ///
    /// # Panics
    ///
    /// When `origin` is not an `http` or `https` URL.
    ///
    /// ```
    /// use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};
    ///
    /// async fn proxy(req: ProxyRequest) -> ProxyResponse {
    ///     ProxyResponse::rewrite(req.url_for("/home"))
    /// }
    ///
    /// let layer = ProxyLayer::new(proxy)
    ///     .with_origin("https://example.com".parse().unwrap())
    ///     .with_origin("https://www.example.com".parse().unwrap());
    /// # let _ = layer;
    /// ```
    #[track_caller]
    pub fn with_origin(mut self, origin: Url) -> Self {
        assert!(
            matches!(origin.scheme(), "http" | "https") && origin.host().is_some(),
            "ProxyLayer::with_origin takes an http or https origin, not {origin}"
        );
        let mut origin = origin;
        origin.set_path("/");
        origin.set_query(None);
        origin.set_fragment(None);
        let _ = origin.set_username("");
        let _ = origin.set_password(None);
        self.settings.origins.push(origin);
        self
    }

    /// The tracker of the work the function starts with
    /// [`ProxyRequest::wait_until`](crate::ProxyRequest::wait_until), shared by every
    /// service this layer builds.
    pub fn background_tasks(&self) -> BackgroundTasks {
        self.settings.tasks.clone()
    }

    /// Which proxies may tell [`ProxyRequest::client_ip`](crate::ProxyRequest::client_ip)
    /// who the client is. By default none: the connection's peer address is the client,
    /// whatever forwarding headers say.
    ///
    /// ```
    /// use tower_proxy_fn::context::{ForwardedHeader, IpAllowlist, TrustedProxies};
    /// use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};
    ///
    /// async fn proxy(req: ProxyRequest) -> ProxyResponse {
    ///     println!("client: {:?}", req.client_ip());
    ///     ProxyResponse::next()
    /// }
    ///
    /// # fn main() -> Result<(), tower_proxy_fn::context::IpRangeError> {
    /// // Behind a load balancer on the private network that writes `Forwarded`.
    /// let layer = ProxyLayer::new(proxy).trust_proxies(
    ///     TrustedProxies::addresses(IpAllowlist::parse(["10.0.0.0/8"])?)
    ///         .header(ForwardedHeader::Forwarded),
    /// );
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    pub fn trust_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.settings.context_mut().proxies = proxies;
        self
    }

    /// Reads [`ProxyRequest::geo`](crate::ProxyRequest::geo) from the headers that `cdn`
    /// sets. Without it (the default), geolocation headers are ignored.
    pub fn geo_from(mut self, cdn: Cdn) -> Self {
        self.settings.context_mut().cdn = Some(cdn);
        self
    }

    /// Looks [`ProxyRequest::geo`](crate::ProxyRequest::geo) up by the client IP in a
    /// MaxMind City database (after the CDN's headers, when [`geo_from`](Self::geo_from)
    /// is set too and they say nothing).
    ///
    /// ```no_run
    /// use tower_proxy_fn::context::GeoDatabase;
    /// use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};
    ///
    /// async fn proxy(req: ProxyRequest) -> ProxyResponse {
    ///     let country = req.geo().and_then(|geo| geo.country.clone());
    ///     ProxyResponse::next().request_header("x-country", country.unwrap_or_default())
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let layer = ProxyLayer::new(proxy)
    ///     .geo_database(GeoDatabase::open("/var/lib/GeoIP/GeoLite2-City.mmdb")?);
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "maxminddb")]
    #[cfg_attr(docsrs, doc(cfg(feature = "maxminddb")))]
    pub fn geo_database(mut self, database: crate::context::GeoDatabase) -> Self {
        self.settings.context_mut().database = Some(database);
        self
    }
}

impl<S, F: Clone, M> Layer<S> for ProxyLayer<F, M> {
    type Service = ProxyService<S, F, M>;

    fn layer(&self, inner: S) -> Self::Service {
        ProxyService::new(
            inner,
            self.function.clone(),
            Arc::new(self.settings.clone()),
        )
    }
}

impl<F: Clone, M> ProxyLayer<F, M> {
    /// Wraps `inner` (a whole `Router`, usually), as [`Layer::layer`] does, without the
    /// `Layer` trait in scope: a new project needs only this crate and axum.
    pub fn layer<S>(&self, inner: S) -> ProxyService<S, F, M> {
        Layer::layer(self, inner)
    }
}

impl<F, M> fmt::Debug for ProxyLayer<F, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyLayer")
            .field("function", &std::any::type_name::<F>())
            .field("settings", &self.settings)
            .field("body", &std::any::type_name::<M>())
            .finish()
    }
}
