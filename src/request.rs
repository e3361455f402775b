//! [`ProxyRequest`]: what the proxy function can read.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::header::{HeaderName, COOKIE};
use http::request::Parts;
use http::{Extensions, HeaderMap, Method, Uri};
use url::Url;

#[cfg(doc)]
use crate::background::BackgroundTasks;
use crate::background::TaskOutcome;
use crate::context::{Geo, RequestContext};
use crate::matcher::{Deferred, Params};
pub(crate) use crate::request_values::query_value;
pub use crate::request_values::RequestCookies;
use crate::settings::Settings;
use crate::url_safety::request_url;

/// The request as the proxy function sees it: method, URL, headers, cookies, the client's
/// address, the matcher's captured parameters and the request extensions.
///
/// It owns what it holds, so the function's future is `'static`. The body streams on to the
/// inner service untouched, unless the layer was built with
/// [`ProxyLayer::with_request_body`](crate::ProxyLayer::with_request_body); then [`body`](Self::body) holds
/// the bytes it read.
///
/// ```
/// use tower_proxy_fn::{ProxyRequest, ProxyResponse};
///
/// async fn proxy(req: ProxyRequest) -> ProxyResponse {
///     if req.cookies().get("session").is_none() {
///         let mut login = req.url_for("/login");
///         login.query_pairs_mut().append_pair("from", req.path());
///         return ProxyResponse::redirect(login);
///     }
///     ProxyResponse::next()
/// }
/// # let _ = tower_proxy_fn::ProxyLayer::new(proxy);
/// ```
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    pub(crate) head: Arc<Head>,
    /// The head of the request a chain started from, whose log the reads of this edited
    /// copy go to (`None`: this request's own).
    reads_root: Option<Arc<Head>>,
    deferred: Option<Deferred>,
    body: Option<Bytes>,
    /// What the accessors work out on first use, boxed when the first of them is asked
    /// for: the request is moved several times on its way into the function's future, and
    /// a function that reads only the path and headers should move a small one.
    derived: OnceLock<Box<Derived>>,
}

/// The values a [`ProxyRequest`] works out from the request on first use.
#[derive(Debug, Clone, Default)]
struct Derived {
    params: OnceLock<Params>,
    url: OnceLock<Url>,
    cookies: OnceLock<RequestCookies>,
    context: RequestContext,
}

impl ProxyRequest {
    pub(crate) fn new(head: Arc<Head>, deferred: Option<Deferred>) -> Self {
        Self {
            head,
            reads_root: None,
            deferred,
            body: None,
            derived: OnceLock::new(),
        }
    }

    fn derived(&self) -> &Derived {
        self.derived.get_or_init(Box::default)
    }

    pub(crate) fn with_body(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self
    }

    /// The request body, when the layer reads it ([`ProxyLayer::with_request_body`]); `None` when
    /// the body streams past the function (the default).
    ///
    /// [`ProxyLayer::with_request_body`]: crate::ProxyLayer::with_request_body
    pub fn body(&self) -> Option<&Bytes> {
        self.body.as_ref()
    }

    /// Builds a request for testing a proxy function without a server.
    ///
    /// ```
    /// use tower_proxy_fn::ProxyRequest;
    ///
    /// let req = ProxyRequest::from_request(http::Request::new(()));
    /// assert_eq!(req.path(), "/");
    /// ```
    pub fn from_request<B>(request: http::Request<B>) -> Self {
        let (parts, _body) = request.into_parts();
        Self::new(Head::new(parts, Arc::default()), None)
    }

    /// The same request with these captured parameters (for tests).
    pub fn with_params(mut self, params: Params) -> Self {
        let mut derived = self.derived.take().unwrap_or_default();
        derived.params = OnceLock::from(params);
        self.derived = OnceLock::from(derived);
        self.deferred = None;
        self
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.head.parts.method
    }

    /// The request URI as received.
    pub fn uri(&self) -> &Uri {
        &self.head.parts.uri
    }

    /// The path, as sent (percent-encoded).
    pub fn path(&self) -> &str {
        self.head.parts.uri.path()
    }

    /// The raw query string, if any.
    pub fn query_string(&self) -> Option<&str> {
        self.head.parts.uri.query()
    }

    /// The value of a query parameter, decoded; the **last** one when the key is repeated
    /// (`?role=user&role=admin` gives `admin`), as the matcher's `has`/`missing` query
    /// conditions (Next.js's `matchHas`) and axum's `Query<HashMap<..>>` read it, so that
    /// the function never decides on a value the matcher or the handler does not see.
    /// Next.js's `searchParams.get` gives the first; use
    /// [`url`](Self::url)`().query_pairs()` for every value.
    pub fn query(&self, name: &str) -> Option<String> {
        query_value(self.query_string(), name)
    }

    /// The request headers.
    ///
    /// Reads through the whole map are not tracked for `Vary` (see
    /// [`header`](Self::header)): decide on a header with `header(name)`, or set `Vary` on the
    /// response yourself.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.parts.headers
    }

    /// A header's value as text, if present and visible ASCII.
    ///
    /// The read is remembered: a response produced from this decision gets `Vary: <name>`
    /// (and, for `Cookie`, what [`cookies`](Self::cookies) adds), so that a cache does not
    /// serve it to a request with another value. [`headers`](Self::headers) is not tracked.
    pub fn header(&self, name: &str) -> Option<&str> {
        // A name that does not parse cannot be in the map: nothing was read.
        let header_name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        self.note_header_read(&header_name);
        self.head.parts.headers.get(&header_name)?.to_str().ok()
    }

    /// Records that the decision depends on the request header `name` (for `Vary`).
    pub(crate) fn note_header_read(&self, name: &HeaderName) {
        self.read_log().note_header(name);
    }

    /// Where this request's reads are logged: its own head, or the head of the request a
    /// chain started from.
    fn read_log(&self) -> &ReadLog {
        &self.reads_root.as_ref().unwrap_or(&self.head).reads
    }

    /// The request extensions (what outer layers inserted).
    pub fn extensions(&self) -> &Extensions {
        &self.head.parts.extensions
    }

    /// The full URL of the request (`request.nextUrl`).
    ///
    /// Its path and query are the request target's, as the router reads them. Its origin is
    /// one declared with [`ProxyLayer::with_origin`] when there are any; otherwise the
    /// request's authority (the request target's, else `Host`), parsed strictly, with the
    /// target's scheme, else `http`. The layer answers `400` without calling the function
    /// for a request whose authority does not parse or whose path the URL parser would
    /// change (a dot segment, a `\`); a request built by hand with
    /// [`from_request`](Self::from_request) gets `http://localhost` in that case.
    ///
    /// [`ProxyLayer::with_origin`]: crate::ProxyLayer::with_origin
    pub fn url(&self) -> &Url {
        self.derived().url.get_or_init(|| {
            let parts = &self.head.parts;
            request_url(&parts.uri, &parts.headers, &self.head.settings.origins).unwrap_or_else(
                |_| {
                    let mut url = Url::parse("http://localhost/").expect("a valid literal URL");
                    url.set_path(parts.uri.path());
                    url.set_query(parts.uri.query());
                    url
                },
            )
        })
    }

    /// `path` resolved against the request's URL (`new URL(path, request.url)`).
    pub fn url_for(&self, path: &str) -> Url {
        self.url().join(path).unwrap_or_else(|_| self.url().clone())
    }

    /// The request cookies (`request.cookies`).
    ///
    /// Reading them is remembered: a response produced from this decision gets
    /// `Vary: Cookie` and `Cache-Control: private` (unless the proxy set those headers
    /// itself), so that no shared cache hands one user's decision to another. A function
    /// whose answer does not depend on them (logging) says so with
    /// [`ProxyResponse::same_for_everyone`](crate::ProxyResponse::same_for_everyone).
    pub fn cookies(&self) -> &RequestCookies {
        self.read_log().note_cookies();
        self.derived()
            .cookies
            .get_or_init(|| RequestCookies::parse(&self.head.parts.headers))
    }

    /// The client's address, when the server provides it (axum's
    /// `into_make_service_with_connect_info::<SocketAddr>()`).
    pub fn client_addr(&self) -> Option<SocketAddr> {
        self.head
            .parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0)
    }

    /// The parameters the matcher captured (`:name` in the source, named groups in `has`).
    ///
    /// Taken on first use: a function that never reads them does not pay for them.
    pub fn params(&self) -> &Params {
        self.derived()
            .params
            .get_or_init(|| match (&self.deferred, &self.head.settings.matcher) {
                (Some(deferred), Some(matcher)) => deferred.params(matcher, &self.head_only()),
                _ => Params::default(),
            })
    }

    /// Runs `work` in the background, after the decision and beyond the response
    /// (`event.waitUntil` / `after` in Next.js): analytics, audit logs.
    ///
    /// The work is tracked by the layer's [`BackgroundTasks`], so a graceful shutdown can
    /// wait for it. An `Err` it returns, or a panic, is logged and goes no further.
    ///
    /// ```
    /// use tower_proxy_fn::{ProxyRequest, ProxyResponse};
    ///
    /// async fn proxy(req: ProxyRequest) -> ProxyResponse {
    ///     let path = req.path().to_owned();
    ///     req.wait_until(async move {
    ///         // e.g. send `path` to an analytics endpoint
    ///         Ok::<(), std::io::Error>(())
    ///     });
    ///     ProxyResponse::next()
    /// }
    /// # let _ = tower_proxy_fn::ProxyLayer::new(proxy);
    /// ```
    pub fn wait_until<F>(&self, work: F)
    where
        F: std::future::Future + Send + 'static,
        F::Output: TaskOutcome,
    {
        self.head.settings.tasks.spawn(work);
    }

    /// The same request with edited headers and added extensions (the next function of a
    /// chain sees what the previous one asked for).
    pub(crate) fn edited(&self, edit: impl FnOnce(&mut Parts)) -> Self {
        let mut parts = self.head.parts.clone();
        edit(&mut parts);
        let head = Head::new(parts, Arc::clone(&self.head.settings));
        let mut request = Self::new(head, None).with_params(self.params().clone());
        request.body = self.body.clone();
        // Later functions of a chain decide for the same response.
        request.reads_root = Some(Arc::clone(self.reads_root.as_ref().unwrap_or(&self.head)));
        request
    }

    /// Method, URI and headers as a bodiless `http::Request`, for a matcher to look at.
    pub(crate) fn head_only(&self) -> http::Request<()> {
        let mut request = http::Request::new(());
        *request.method_mut() = self.head.parts.method.clone();
        *request.uri_mut() = self.head.parts.uri.clone();
        *request.headers_mut() = self.head.parts.headers.clone();
        request
    }

    /// The source of the matcher entry that selected this request (empty without one).
    pub(crate) fn matched_source(&self) -> &str {
        match (&self.deferred, &self.head.settings.matcher) {
            (Some(deferred), Some(matcher)) => deferred.source(matcher),
            _ => "",
        }
    }

    /// One captured parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params().get(name)
    }

    /// The client's IP address (Next.js's `request.ip`).
    ///
    /// By default the connection's peer ([`client_addr`](Self::client_addr)); forwarding
    /// headers are read only as [`ProxyLayer::with_trusted_proxies`] says (see
    /// [`TrustedProxies`](crate::context::TrustedProxies)), so a client cannot name its own
    /// address. `None` without connect info, or when a trusted hop is not an address.
    /// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) come back as IPv4.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use axum::extract::ConnectInfo;
    /// use tower_proxy_fn::ProxyRequest;
    ///
    /// let mut request = http::Request::builder()
    ///     .header("x-forwarded-for", "192.0.2.99") // sent by the client itself
    ///     .body(())
    ///     .unwrap();
    /// let peer: SocketAddr = "[::ffff:198.51.100.7]:50000".parse().unwrap();
    /// request.extensions_mut().insert(ConnectInfo(peer));
    /// let req = ProxyRequest::from_request(request);
    /// assert_eq!(req.client_ip(), Some("198.51.100.7".parse().unwrap()));
    /// ```
    ///
    /// [`ProxyLayer::with_trusted_proxies`]: crate::ProxyLayer::with_trusted_proxies
    pub fn client_ip(&self) -> Option<IpAddr> {
        *self.derived().context.client_ip.get_or_init(|| {
            let peer = self.client_addr().map(|addr| addr.ip());
            match &self.head.settings.context {
                Some(config) if config.proxies.trusts_any() => {
                    config.proxies.client_ip(peer, self.headers())
                }
                _ => peer.map(|ip| ip.to_canonical()),
            }
        })
    }

    /// Where the client is (Next.js's `request.geo`): from the headers of the CDN named
    /// with [`ProxyLayer::with_geo_headers`], else (feature `maxminddb`) from the database given to
    /// `ProxyLayer::with_geo_database`, looked up by [`client_ip`](Self::client_ip). `None`
    /// when neither is configured, even if the request carries CDN headers: a client can
    /// send those itself.
    ///
    /// [`ProxyLayer::with_geo_headers`]: crate::ProxyLayer::with_geo_headers
    pub fn geo(&self) -> Option<&Geo> {
        self.derived()
            .context
            .geo
            .get_or_init(|| {
                let config = self.head.settings.context.as_ref()?;
                let from_cdn = config
                    .cdn
                    .and_then(|cdn| cdn.geo_with(|name| self.headers().get(name)));
                #[cfg(feature = "maxminddb")]
                let from_cdn = from_cdn.or_else(|| {
                    let database = config.database.as_ref()?;
                    database.lookup(self.client_ip()?)
                });
                from_cdn
            })
            .as_ref()
    }

    /// The parsed `User-Agent` header (Next.js's `userAgent(request)`): bot or not,
    /// browser, OS, device type, engine. Parsed on first use, then kept. Reading it counts as
    /// a read of `User-Agent` for the response's `Vary` (see [`header`](Self::header)).
    ///
    /// ```
    /// use tower_proxy_fn::context::DeviceType;
    /// use tower_proxy_fn::ProxyRequest;
    ///
    /// let req = ProxyRequest::from_request(
    ///     http::Request::builder()
    ///         .header(
    ///             "user-agent",
    ///             "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    ///         )
    ///         .body(())
    ///         .unwrap(),
    /// );
    /// assert!(req.user_agent().is_bot);
    /// assert_eq!(req.user_agent().device, DeviceType::Unknown);
    /// ```
    #[cfg(feature = "user-agent")]
    #[cfg_attr(docsrs, doc(cfg(feature = "user-agent")))]
    pub fn user_agent(&self) -> &crate::context::UserAgent {
        // A decision on the user agent varies with it (see `header`).
        self.note_header_read(&http::header::USER_AGENT);
        self.derived().context.user_agent.get_or_init(|| {
            let header = self
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|value| std::str::from_utf8(value.as_bytes()).ok())
                .unwrap_or("");
            crate::context::UserAgent::parse(header)
        })
    }
}

/// The request's method, URI, headers and extensions, shared by the [`ProxyRequest`] the
/// function holds and the layer that takes them back afterwards, with the log of what the
/// function read and the layer's settings: one allocation for all of them.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) parts: Parts,
    pub(crate) reads: ReadLog,
    /// The layer's matcher (for the captures), origins, background tasks, trusted proxies
    /// and geolocation sources: what the request reads and what its decision needs.
    pub(crate) settings: Arc<Settings>,
}

impl Head {
    pub(crate) fn new(parts: Parts, settings: Arc<Settings>) -> Arc<Self> {
        Arc::new(Head {
            parts,
            reads: ReadLog::default(),
            settings,
        })
    }

    /// The request head back from a decided request. The function has dropped its
    /// `ProxyRequest` by then, unless it kept a clone (in background work, say): only then
    /// is the head copied.
    pub(crate) fn into_parts(head: Arc<Head>) -> Parts {
        match Arc::try_unwrap(head) {
            Ok(head) => head.parts,
            Err(shared) => shared.parts.clone(),
        }
    }
}

/// Which cookies and headers a decision read, for the response's `Vary` and
/// `Cache-Control`. One per matched request, shared by the request's clones; the header list
/// is only locked when a header is read.
#[derive(Debug, Default)]
pub(crate) struct ReadLog {
    cookies: AtomicBool,
    /// Whether `headers` has anything, so that the common case takes no lock.
    any_header: AtomicBool,
    headers: Mutex<Vec<HeaderName>>,
}

impl ReadLog {
    fn note_cookies(&self) {
        self.cookies.store(true, Ordering::Relaxed);
    }

    fn note_header(&self, name: &HeaderName) {
        if name == COOKIE {
            self.note_cookies();
            return;
        }
        // A poisoned lock only means another reader panicked; the list is still usable.
        let mut headers = self.headers.lock().unwrap_or_else(|e| e.into_inner());
        if !headers.contains(name) {
            headers.push(name.clone());
        }
        self.any_header.store(true, Ordering::Relaxed);
    }

    /// Whether the decision read neither cookies nor headers: the usual case, checked
    /// before anything else.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        !self.cookies.load(Ordering::Relaxed) && !self.any_header.load(Ordering::Relaxed)
    }

    /// Whether the decision read cookies.
    pub(crate) fn read_cookies(&self) -> bool {
        self.cookies.load(Ordering::Relaxed)
    }

    /// The headers the decision read (not `Cookie`), in the order first read.
    pub(crate) fn read_headers(&self) -> Vec<HeaderName> {
        if !self.any_header.load(Ordering::Relaxed) {
            return Vec::new();
        }
        self.headers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
