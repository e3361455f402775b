//! [`ProxyLayer`] and the service it builds.
//!
//! - `mod.rs`: the layer and its builder;
//! - `service.rs`: [`ProxyService`], which picks a request's path through the layer;
//! - `body_mode.rs`: what the layer does with a matched request's body;
//! - `matched.rs`: a matched request, from its body to its response;
//! - `outcome.rs`: a decision carried out on the request;
//! - `future.rs`: the response future;
//! - `rules.rs`: the layer with next.config rules around it.

pub mod body_mode;
pub(crate) mod future;
mod matched;
mod outcome;
pub(crate) mod rules;
mod service;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use url::Url;

use crate::background::BackgroundTasks;
use crate::context::{Cdn, TrustedProxies};
use crate::function::{ProxyFn, ProxyHandler};
use crate::matcher::Matcher;
use crate::settings::Settings;
use body_mode::sealed::Kind;
use body_mode::{Buffered, Streamed};

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
/// [`ProxyResponse`]: crate::ProxyResponse
#[must_use]
pub struct ProxyLayer<F, M = Streamed> {
    function: F,
    pub(crate) settings: Settings,
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

/// The longest time limit taken: a deadline further out than this cannot always be
/// computed (`Instant + Duration::MAX` overflows).
const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The constructors. They are on `ProxyLayer<()>` only so that `ProxyLayer::new(f)` needs no
/// type annotation; the layer they build is a `ProxyLayer` of the function.
impl ProxyLayer<()> {
    /// A layer that runs `function` for every request (until [`with_matcher`](Self::with_matcher)).
    ///
    /// `function` is a plain `async fn(ProxyRequest)`, or one that takes axum extractors that
    /// need no state before the request (see [`ProxyHandler`]).
    pub fn new<H: ProxyHandler<T, ()>, T>(function: H) -> ProxyLayer<H::ProxyFn> {
        ProxyLayer::of(function.with_state(()))
    }

    /// A layer whose function takes axum extractors of the app's `state` before the request
    /// (`State<App>`, or any extractor of a state that `App` gives with `FromRef`), as
    /// `axum::middleware::from_fn_with_state` does.
    ///
    /// The state comes with the function, not later in the builder, because whether the
    /// function's extractors can read it is checked when the two meet: a function that needs
    /// a state the layer does not have does not compile (see [`ProxyHandler`]).
    ///
    /// ```
    /// use axum::extract::State;
    /// use axum::{routing::get, Router};
    /// use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};
    ///
    /// #[derive(Clone)]
    /// struct App {
    ///     closed: bool,
    /// }
    ///
    /// async fn guard(State(app): State<App>, _req: ProxyRequest) -> ProxyResponse {
    ///     if app.closed {
    ///         return ProxyResponse::rewrite("/closed");
    ///     }
    ///     ProxyResponse::next()
    /// }
    ///
    /// # fn main() -> Result<(), tower_proxy_fn::ConfigError> {
    /// let app = App { closed: false };
    /// let router: Router = Router::new()
    ///     .route("/shop", get(|| async { "shop" }))
    ///     .with_state(app.clone());
    /// let app = ProxyLayer::with_state(app, guard)
    ///     .with_matcher(Matcher::new(["/shop/:path*"])?)
    ///     .layer(router);
    /// # let _ = app;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_state<S, H: ProxyHandler<T, S>, T>(
        state: S,
        function: H,
    ) -> ProxyLayer<H::ProxyFn> {
        ProxyLayer::of(function.with_state(state))
    }
}

impl<F: ProxyFn> ProxyLayer<F> {
    fn of(function: F) -> Self {
        Self {
            function,
            settings: Settings::default(),
            mode: PhantomData,
        }
    }
}

impl<F: ProxyFn, M: Kind> ProxyLayer<F, M> {
    /// Lets the function read the request body, up to `limit` bytes, with
    /// [`ProxyRequest::body`](crate::ProxyRequest::body). Off by default.
    ///
    /// Only matched requests are read; after next or rewrite the same bytes go on to the
    /// inner service (or upstream, for an [external](Self::with_external) rewrite). A body over
    /// the limit is answered with `413 Payload Too Large` without reading past the limit (at
    /// once when `Content-Length` says so). The inner service's request body type must be
    /// buildable from bytes (`From<Bytes>`, as axum's `Body` is).
    pub fn with_request_body(mut self, limit: usize) -> ProxyLayer<F, Buffered> {
        self.settings.body_limit = limit;
        self.into_mode()
    }

    /// Forwards a rewrite to another origin there, if `upstreams` allows the origin
    /// (see [`external`](crate::external)); without this, every external rewrite is refused
    /// with a 500 and a logged error.
    ///
    /// The request body type must be an [`http_body::Body`] of [`Bytes`](bytes::Bytes), as
    /// axum's `Body` is.
    #[cfg(feature = "external")]
    #[cfg_attr(docsrs, doc(cfg(feature = "external")))]
    pub fn with_external(
        mut self,
        upstreams: crate::external::Upstreams,
    ) -> ProxyLayer<F, M::Forwarding> {
        self.settings.forwarder = Some(crate::external::Forwarder::new(upstreams));
        self.into_mode()
    }

    /// Wraps `inner` (a whole `Router`, usually), as [`Layer::layer`] does, without the
    /// `Layer` trait in scope: a new project needs only this crate and axum.
    pub fn layer<S>(&self, inner: S) -> ProxyService<S, F, M> {
        Layer::layer(self, inner)
    }

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
        self.settings.matcher = Some(match &*self.settings.next_config.base_path {
            "" => matcher,
            base => matcher.under_base_path(base),
        });
        self
    }

    /// Serves the application under a base path (next.config's `basePath`, e.g. `/docs`), as
    /// Next.js does: the matcher's sources are read under it (`/about` selects
    /// `/docs/about`), a request outside it goes straight to the inner service, and
    /// [`ProxyRequest::next_url`](crate::ProxyRequest::next_url) takes it off the pathname
    /// and puts it back when the URL is written (a redirect to `next_url()` keeps it; one to
    /// `"/x"` does not, as in Next.js). Call it before [`with_rules`](Self::with_rules).
    ///
    /// One difference, on purpose: Next.js's matcher misses the base path itself (`/docs`)
    /// for a source such as `/((?!api).*)`; here `/docs` is selected whenever `/` would be
    /// without a base path (`tests/base_path.rs`).
    ///
    /// # Panics
    ///
    /// When `base_path` does not start with `/`, ends with `/`, or has a character other
    /// than letters, digits, `-`, `.`, `_`, `~` and `/` (Next.js refuses the first two too);
    /// when a base path was set already.
    ///
    /// ```
    /// use tower_proxy_fn::{Matcher, ProxyLayer, ProxyRequest, ProxyResponse};
    ///
    /// async fn proxy(req: ProxyRequest) -> ProxyResponse {
    ///     let mut url = req.next_url(); // pathname `/old` for `/docs/old`
    ///     if url.pathname() == "/old" {
    ///         url.set_pathname("/new");
    ///         return ProxyResponse::redirect(url); // to `/docs/new`
    ///     }
    ///     ProxyResponse::next()
    /// }
    ///
    /// # fn main() -> Result<(), tower_proxy_fn::ConfigError> {
    /// let layer = ProxyLayer::new(proxy)
    ///     .with_base_path("/docs")
    ///     .with_matcher(Matcher::new(["/old"])?); // selects `/docs/old`
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    #[track_caller]
    pub fn with_base_path(mut self, base_path: &str) -> Self {
        let plain = base_path.len() > 1
            && base_path.starts_with('/')
            && !base_path.ends_with('/')
            && !base_path.contains("//")
            && base_path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b));
        assert!(
            plain,
            "ProxyLayer::with_base_path takes a path such as \"/docs\" (a leading `/`, no \
             trailing one, letters, digits, `-`, `.`, `_`, `~`), not {base_path:?}"
        );
        assert!(
            self.settings.next_config.base_path.is_empty(),
            "ProxyLayer::with_base_path is called once"
        );
        let matcher = self.settings.matcher.take().unwrap_or_else(Matcher::any);
        self.settings.next_config.base_path = base_path.into();
        self.settings.matcher = Some(matcher.under_base_path(base_path));
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
    /// [`with_request_body`](ProxyLayer::with_request_body) takes longer than `limit`; by default
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
    /// application's, except an origin that [`external`](ProxyLayer::with_external) rewrites go to.
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
    /// let layer = ProxyLayer::new(proxy).with_trusted_proxies(
    ///     TrustedProxies::addresses(IpAllowlist::parse(["10.0.0.0/8"])?)
    ///         .with_header(ForwardedHeader::Forwarded),
    /// );
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.settings.context_mut().proxies = proxies;
        self
    }

    /// Reads [`ProxyRequest::geo`](crate::ProxyRequest::geo) from the headers that `cdn`
    /// sets. Without it (the default), geolocation headers are ignored.
    pub fn with_geo_headers(mut self, cdn: Cdn) -> Self {
        self.settings.context_mut().cdn = Some(cdn);
        self
    }

    /// Looks [`ProxyRequest::geo`](crate::ProxyRequest::geo) up by the client IP in a
    /// MaxMind City database (after the CDN's headers, when [`with_geo_headers`](Self::with_geo_headers)
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
    ///     .with_geo_database(GeoDatabase::open("/var/lib/GeoIP/GeoLite2-City.mmdb")?);
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "maxminddb")]
    #[cfg_attr(docsrs, doc(cfg(feature = "maxminddb")))]
    pub fn with_geo_database(mut self, database: crate::context::GeoDatabase) -> Self {
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

impl<F, M> fmt::Debug for ProxyLayer<F, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyLayer")
            .field("function", &std::any::type_name::<F>())
            .field("settings", &self.settings)
            .field("body", &std::any::type_name::<M>())
            .finish()
    }
}
