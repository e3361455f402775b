//! [`ProxyRequest`]: what the proxy function can read.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::header::{HeaderName, COOKIE, HOST};
use http::request::Parts;
use http::{Extensions, HeaderMap, Method, Uri};
use url::Url;

use crate::background::{BackgroundTasks, TaskOutcome};
use crate::matcher::{Deferred, Params};

/// The request as the proxy function sees it: method, URL, headers, cookies, the client's
/// address, the matcher's captured parameters and the request extensions.
///
/// It owns what it holds, so the function's future is `'static`. The body is not here: it
/// streams on to the inner service untouched.
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
    pub(crate) parts: Arc<Parts>,
    params: OnceLock<Params>,
    deferred: Option<Deferred>,
    url: OnceLock<Url>,
    cookies: OnceLock<RequestCookies>,
    tasks: BackgroundTasks,
    body: Option<Bytes>,
    reads: Arc<ReadLog>,
}

impl ProxyRequest {
    pub(crate) fn new(
        parts: Arc<Parts>,
        deferred: Option<Deferred>,
        tasks: BackgroundTasks,
    ) -> Self {
        Self {
            parts,
            params: OnceLock::new(),
            deferred,
            url: OnceLock::new(),
            cookies: OnceLock::new(),
            tasks,
            body: None,
            reads: Arc::default(),
        }
    }

    pub(crate) fn with_body(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self
    }

    /// The request body, when the layer reads it ([`ProxyLayer::read_body`]); `None` when
    /// the body streams past the function (the default).
    ///
    /// [`ProxyLayer::read_body`]: crate::ProxyLayer::read_body
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
        Self::new(Arc::new(parts), None, BackgroundTasks::default())
    }

    /// The same request with these captured parameters (for tests).
    pub fn with_params(mut self, params: Params) -> Self {
        self.params = OnceLock::from(params);
        self.deferred = None;
        self
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.parts.method
    }

    /// The request URI as received.
    pub fn uri(&self) -> &Uri {
        &self.parts.uri
    }

    /// The path, as sent (percent-encoded).
    pub fn path(&self) -> &str {
        self.parts.uri.path()
    }

    /// The raw query string, if any.
    pub fn query_string(&self) -> Option<&str> {
        self.parts.uri.query()
    }

    /// The first value of a query parameter, decoded (`searchParams.get`); use
    /// [`url`](Self::url)`().query_pairs()` for all of them.
    pub fn query(&self, name: &str) -> Option<String> {
        self.url()
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The request headers.
    ///
    /// Reads through the whole map are not tracked for `Vary` (see
    /// [`header`](Self::header)): decide on a header with `header(name)`, or set `Vary` on the
    /// response yourself.
    pub fn headers(&self) -> &HeaderMap {
        &self.parts.headers
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
        self.parts.headers.get(&header_name)?.to_str().ok()
    }

    /// Records that the decision depends on the request header `name` (for `Vary`).
    pub(crate) fn note_header_read(&self, name: &HeaderName) {
        self.reads.note_header(name);
    }

    /// What the function has read so far, shared by every clone of this request.
    pub(crate) fn read_log(&self) -> Arc<ReadLog> {
        Arc::clone(&self.reads)
    }

    /// The request extensions (what outer layers inserted).
    pub fn extensions(&self) -> &Extensions {
        &self.parts.extensions
    }

    /// The full URL of the request (`request.nextUrl`), built from the `Host` header (or the
    /// URI's authority) and the path and query. The scheme is the URI's, else `http`.
    pub fn url(&self) -> &Url {
        self.url.get_or_init(|| request_url(&self.parts))
    }

    /// A copy of the URL to edit (`request.nextUrl.clone()`).
    pub fn next_url(&self) -> Url {
        self.url().clone()
    }

    /// `path` resolved against the request's URL (`new URL(path, request.url)`).
    pub fn url_for(&self, path: &str) -> Url {
        self.url().join(path).unwrap_or_else(|_| self.url().clone())
    }

    /// The request cookies (`request.cookies`).
    ///
    /// Reading them is remembered: a response produced from this decision gets
    /// `Vary: Cookie` and `Cache-Control: private` (unless the proxy set those headers
    /// itself), so that no shared cache hands one user's decision to another.
    pub fn cookies(&self) -> &RequestCookies {
        self.reads.note_cookies();
        self.cookies
            .get_or_init(|| RequestCookies::parse(&self.parts.headers))
    }

    /// The client's address, when the server provides it (axum's
    /// `into_make_service_with_connect_info::<SocketAddr>()`).
    pub fn client_addr(&self) -> Option<SocketAddr> {
        self.parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0)
    }

    /// The parameters the matcher captured (`:name` in the source, named groups in `has`).
    ///
    /// Taken on first use: a function that never reads them does not pay for them.
    pub fn params(&self) -> &Params {
        self.params.get_or_init(|| match &self.deferred {
            Some(deferred) => deferred.params(&self.head_only()),
            None => Params::default(),
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
        self.tasks.spawn(work);
    }

    /// The same request with edited headers and added extensions (the next function of a
    /// chain sees what the previous one asked for).
    pub(crate) fn edited(&self, edit: impl FnOnce(&mut Parts)) -> Self {
        let mut parts = (*self.parts).clone();
        edit(&mut parts);
        let mut request =
            Self::new(Arc::new(parts), None, self.tasks.clone()).with_params(self.params().clone());
        request.body = self.body.clone();
        // Later functions of a chain decide for the same response.
        request.reads = Arc::clone(&self.reads);
        request
    }

    /// Method, URI and headers as a bodiless `http::Request`, for a matcher to look at.
    pub(crate) fn head_only(&self) -> http::Request<()> {
        let mut request = http::Request::new(());
        *request.method_mut() = self.parts.method.clone();
        *request.uri_mut() = self.parts.uri.clone();
        *request.headers_mut() = self.parts.headers.clone();
        request
    }

    /// The source of the matcher entry that selected this request (empty without one).
    pub(crate) fn matched_source(&self) -> &str {
        self.deferred.as_ref().map_or("", Deferred::source)
    }

    /// One captured parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params().get(name)
    }
}

/// Which cookies and headers a decision read, for the response's `Vary` and
/// `Cache-Control`. One per matched request, shared by the request's clones; the header list
/// is only locked when a header is read.
#[derive(Debug, Default)]
pub(crate) struct ReadLog {
    cookies: AtomicBool,
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
    }

    /// Whether the decision read cookies.
    pub(crate) fn read_cookies(&self) -> bool {
        self.cookies.load(Ordering::Relaxed)
    }

    /// The headers the decision read (not `Cookie`), in the order first read.
    pub(crate) fn read_headers(&self) -> Vec<HeaderName> {
        self.headers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

pub(crate) fn request_url(parts: &Parts) -> Url {
    let host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    let scheme = parts.uri.scheme_str().unwrap_or("http");
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    Url::parse(&format!("{scheme}://{host}{path_and_query}"))
        .or_else(|_| Url::parse(&format!("{scheme}://localhost{path_and_query}")))
        .unwrap_or_else(|_| Url::parse("http://localhost/").expect("a valid literal URL"))
}

/// The cookies of a request, from every `Cookie` header (`request.cookies`).
///
/// Values are percent-decoded; a pair that does not parse is skipped.
///
/// ```
/// use tower_proxy_fn::ProxyRequest;
///
/// let req = ProxyRequest::from_request(
///     http::Request::builder().header("cookie", "a=1; junk; b=x%20y; a=2").body(()).unwrap(),
/// );
/// assert_eq!(req.cookies().get("a"), Some("1"));
/// assert_eq!(req.cookies().get_all("a").collect::<Vec<_>>(), ["1", "2"]);
/// assert_eq!(req.cookies().get("b"), Some("x y"));
/// assert!(!req.cookies().has("junk"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestCookies {
    pairs: Vec<(String, String)>,
}

impl RequestCookies {
    pub(crate) fn parse(headers: &HeaderMap) -> Self {
        let mut pairs = Vec::new();
        for header in headers.get_all(COOKIE) {
            let Ok(text) = std::str::from_utf8(header.as_bytes()) else {
                continue;
            };
            for cookie in cookie::Cookie::split_parse_encoded(text).flatten() {
                pairs.push((cookie.name().to_owned(), cookie.value().to_owned()));
            }
        }
        Self { pairs }
    }

    /// The first value sent under `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value sent under `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a cookie named `name` was sent.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every cookie, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
