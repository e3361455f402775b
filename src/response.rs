//! [`ProxyResponse`]: the proxy function's decision and what rides along with it.

use std::fmt;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use cookie::Cookie;
use http::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE, VARY};
use http::{Extensions, HeaderMap, StatusCode};
use serde::Serialize;

/// What the proxy function decided, plus the header edits, cookies and extensions that go
/// with it.
///
/// Start from one of the four outcomes and add to it:
///
/// | outcome | Next.js | what happens |
/// |---|---|---|
/// | [`next`](Self::next) | `NextResponse.next()` | the request goes on to the inner service |
/// | [`rewrite`](Self::rewrite) | `NextResponse.rewrite(url)` | the inner service serves another path; the address bar stays |
/// | [`redirect`](Self::redirect) | `NextResponse.redirect(url)` | a 307 (or 301/302/303/308) with `Location` |
/// | [`respond`](Self::respond) | `new NextResponse(...)`, `Response.json(...)` | the proxy's own response |
///
/// ```
/// use tower_proxy_fn::ProxyResponse;
///
/// let decision = ProxyResponse::next()
///     .request_header("x-user", "ann") // the inner service sees it, the client does not
///     .header("x-frame-options", "DENY") // the client sees it
///     .set_cookie("theme", "dark");
/// assert!(decision.is_next());
/// ```
///
/// A value that is not valid where it goes (a header value with a newline, a bad header
/// name, a redirect status that is not a redirect) is not a panic: the layer answers 500
/// and logs the reason.
#[must_use]
pub struct ProxyResponse {
    pub(crate) action: Action,
    pub(crate) response_headers: HeaderList,
    /// The rest of what a decision can carry, boxed: most decisions carry none of it, and
    /// a decision is moved several times on its way out of the function.
    pub(crate) more: Option<Box<More>>,
}

/// Request-header edits, cookies, extensions, and what made the decision invalid.
#[derive(Default)]
pub(crate) struct More {
    pub(crate) request_headers: Vec<HeaderEdit>,
    pub(crate) cookies: Vec<Cookie<'static>>,
    pub(crate) extensions: Extensions,
    pub(crate) invalid: Option<String>,
    /// Set by [`ProxyResponse::same_for_everyone`]: no cache marks for what was read.
    pub(crate) same_for_everyone: bool,
}

pub(crate) enum Action {
    Next,
    Rewrite(String),
    Redirect(String, StatusCode),
    // Boxed: a `Response` is four times the size of the other variants, and every decision
    // is moved a few times on its way out of the function.
    Respond(Box<Response>),
}

#[derive(Clone)]
pub(crate) enum HeaderEdit {
    Set(HeaderName, HeaderValue),
    Append(HeaderName, HeaderValue),
    Remove(HeaderName),
}

impl HeaderEdit {
    pub(crate) fn apply(self, headers: &mut HeaderMap) {
        match self {
            HeaderEdit::Set(name, value) => {
                headers.insert(name, value);
            }
            HeaderEdit::Append(name, value) => {
                headers.append(name, value);
            }
            HeaderEdit::Remove(name) => {
                headers.remove(name);
            }
        }
    }
}

impl ProxyResponse {
    fn with_action(action: Action) -> Self {
        Self {
            action,
            response_headers: HeaderList::default(),
            more: None,
        }
    }

    /// Continue to the inner service (`NextResponse.next()`).
    pub fn next() -> Self {
        Self::with_action(Action::Next)
    }

    /// Serve another URL while the client's address stays (`NextResponse.rewrite(url)`).
    ///
    /// `url` is a path (`/api/echo?x=1`, resolved against the request's URL) or an absolute
    /// URL. The destination's query replaces the request's. Method, headers and body are
    /// kept; the proxy function does not run again for the new path; handlers find the
    /// original URI in [`axum::extract::OriginalUri`].
    ///
    /// The inner service gets the path the function wrote, never one that dot segments
    /// resolve into: a destination whose path has a `.` or `..` segment in any spelling
    /// (`%2e%2e`, `..%2F`, `..\`) is answered `400` and logged, so that
    /// `rewrite(format!("/public/{rest}"))` with `rest` taken from `/docs/%2e%2e/admin`
    /// cannot reach `/admin`, a path the proxy never decided on. An absolute URL stays in
    /// the application only when it names the application's own origin (see
    /// [`ProxyLayer::with_origin`](crate::ProxyLayer::with_origin)); any other is an
    /// external rewrite.
    pub fn rewrite(url: impl AsRef<str>) -> Self {
        Self::with_action(Action::Rewrite(url.as_ref().to_owned()))
    }

    /// A `307 Temporary Redirect` to `url` (`NextResponse.redirect(url)`).
    ///
    /// A path is resolved against the request's URL and written as a relative `Location`;
    /// an absolute URL of another origin is written as given. A leading `//` or `\` in a
    /// path is folded to one `/`, so a path built from request data cannot leave the origin.
    pub fn redirect(url: impl AsRef<str>) -> Self {
        Self::redirect_with_status(url, StatusCode::TEMPORARY_REDIRECT)
    }

    /// A `307` redirect to `target` if it is a path on this site, else to `fallback`: the
    /// safe way to send a user back to where they came from (`/login?from=...`).
    ///
    /// [`redirect`](Self::redirect) takes an absolute URL as written, so
    /// `redirect(req.query("from"))` sends anyone to `https://evil.example` who links to
    /// `/login?from=https://evil.example`. Here `target` must be a local path: it starts with
    /// one `/`, holds no `\`, whitespace or control character (which browsers drop or read as
    /// `/`), and its path has no empty or dot segment and no encoded `/` or `\` (`%2F`,
    /// `%5C`, which a server may decode into `//`). Anything else, or `None`, goes to
    /// `fallback`, which comes from the code and is taken like [`redirect`](Self::redirect)'s.
    ///
    /// ```
    /// use tower_proxy_fn::{ProxyRequest, ProxyResponse};
    ///
    /// async fn after_login(req: ProxyRequest) -> ProxyResponse {
    ///     ProxyResponse::redirect_to_local(req.query("from").as_deref(), "/dashboard")
    /// }
    ///
    /// let back = ProxyResponse::redirect_to_local(Some("/settings?tab=2"), "/dashboard");
    /// assert_eq!(back.redirect_url(), Some("/settings?tab=2"));
    /// for evil in ["//evil.example", "/\\evil.example", "https://evil.example", "/\t/evil.example"] {
    ///     let back = ProxyResponse::redirect_to_local(Some(evil), "/dashboard");
    ///     assert_eq!(back.redirect_url(), Some("/dashboard"), "{evil}");
    /// }
    /// # let _ = tower_proxy_fn::ProxyLayer::new(after_login);
    /// ```
    pub fn redirect_to_local(target: Option<&str>, fallback: &str) -> Self {
        match target {
            Some(path) if is_local_path(path) => Self::redirect(path),
            _ => Self::redirect(fallback),
        }
    }

    /// A `308 Permanent Redirect` to `url`.
    pub fn permanent_redirect(url: impl AsRef<str>) -> Self {
        Self::redirect_with_status(url, StatusCode::PERMANENT_REDIRECT)
    }

    /// A redirect with the given status: 301, 302, 303, 307 or 308
    /// (`NextResponse.redirect(url, status)`). Any other status makes the layer answer 500
    /// and log why, as Next.js refuses it.
    pub fn redirect_with_status(url: impl AsRef<str>, status: StatusCode) -> Self {
        let mut response = Self::with_action(Action::Redirect(url.as_ref().to_owned(), status));
        if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
            response.note_invalid(format!(
                "redirect status {status} is not one of 301, 302, 303, 307, 308"
            ));
        }
        response
    }

    /// The proxy's own response; the inner service is not called.
    ///
    /// Any status and body; a `Location` header on a non-3xx response is just a header.
    pub fn respond(response: impl IntoResponse) -> Self {
        Self::with_action(Action::Respond(Box::new(response.into_response())))
    }

    /// A JSON response of the proxy's own (`Response.json(value, { status })`).
    pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                let mut response = Response::new(Body::from(bytes));
                *response.status_mut() = status;
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Self::with_action(Action::Respond(Box::new(response)))
            }
            Err(err) => {
                let mut response = Self::with_action(Action::Respond(Box::default()));
                response.note_invalid(format!("JSON body does not serialize: {err}"));
                response
            }
        }
    }

    /// Sets a response header for the client, replacing one of the same name that the inner
    /// service set. It does not reach the inner service.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        if let Some((name, value)) = self.checked(name, value) {
            self.response_headers.push((name, value, false));
        }
        self
    }

    /// Adds a response header for the client, keeping others of the same name.
    pub fn append_header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        if let Some((name, value)) = self.checked(name, value) {
            self.response_headers.push((name, value, true));
        }
        self
    }

    /// Sets a request header for the inner service, replacing what the client sent
    /// (`NextResponse.next({ request: { headers } })`). The client never sees it.
    pub fn request_header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        if let Some((name, value)) = self.checked(name, value) {
            self.more()
                .request_headers
                .push(HeaderEdit::Set(name, value));
        }
        self
    }

    /// Adds a request header for the inner service, keeping others of the same name.
    pub fn append_request_header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        if let Some((name, value)) = self.checked(name, value) {
            self.more()
                .request_headers
                .push(HeaderEdit::Append(name, value));
        }
        self
    }

    /// Removes a request header before the inner service sees the request.
    pub fn remove_request_header<K>(mut self, name: K) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Display,
    {
        match name.try_into() {
            Ok(name) => self.more().request_headers.push(HeaderEdit::Remove(name)),
            Err(err) => self.note_invalid(format!("invalid header name: {err}")),
        }
        self
    }

    /// Sets a cookie on the response (`response.cookies.set(...)`), with every attribute the
    /// [`cookie`] crate offers; `Path=/` unless the cookie names a path.
    ///
    /// ```
    /// use tower_proxy_fn::ProxyResponse;
    /// use tower_proxy_fn::cookie::{Cookie, SameSite};
    ///
    /// let decision = ProxyResponse::next().cookie(
    ///     Cookie::build(("prefs", "dark"))
    ///         .http_only(true)
    ///         .max_age(tower_proxy_fn::cookie::time::Duration::hours(1))
    ///         .same_site(SameSite::Lax),
    /// );
    /// assert_eq!(decision.cookies().count(), 1);
    /// ```
    pub fn cookie(mut self, cookie: impl Into<Cookie<'static>>) -> Self {
        let mut cookie = cookie.into();
        if cookie.name().is_empty() || !cookie.name().bytes().all(is_token_byte) {
            self.note_invalid(format!("invalid cookie name {:?}", cookie.name()));
            return self;
        }
        // RFC 6265 §4.1.1: an attribute value holds no `;` (it would end the attribute and
        // start another one the code never asked for, e.g. `Path=/; Domain=evil.example`).
        for (attribute, value) in [("path", cookie.path()), ("domain", cookie.domain())] {
            if value.is_some_and(|v| v.contains(';')) {
                self.note_invalid(format!(
                    "cookie {:?}: {attribute} {value:?} holds a ';'",
                    cookie.name()
                ));
                return self;
            }
        }
        if cookie.path().is_none() {
            cookie.set_path("/");
        }
        if HeaderValue::try_from(cookie.encoded().to_string()).is_err() {
            self.note_invalid(format!(
                "cookie {:?} is not a valid Set-Cookie line",
                cookie.name()
            ));
            return self;
        }
        self.more().cookies.push(cookie);
        self
    }

    /// Sets a cookie by name and value with `Path=/`.
    pub fn set_cookie(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.cookie(Cookie::new(name.into(), value.into()))
    }

    /// Deletes a cookie (`response.cookies.delete(name)`): an empty value with `Max-Age=0`
    /// and an `Expires` in 1970, `Path=/`.
    pub fn delete_cookie(self, name: impl Into<String>) -> Self {
        let mut cookie = Cookie::new(name.into(), "");
        cookie.set_max_age(cookie::time::Duration::ZERO);
        cookie.set_expires(cookie::time::OffsetDateTime::UNIX_EPOCH);
        self.cookie(cookie)
    }

    /// Inserts a request extension that handlers can extract (`Extension<T>` in axum): a
    /// typed hand-off from the proxy to the routes.
    pub fn extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.more().extensions.insert(value);
        self
    }

    /// Declares that what the function read (cookies, headers) does not change this
    /// response: every visitor would get the same one, so the layer leaves off the
    /// `Vary: cookie` / `Vary: <header>` and `Cache-Control: private` it adds otherwise.
    ///
    /// For a function that reads a cookie only to log it, or to count visits in the
    /// background. Never for a decision that depends on what it read (a login redirect, a
    /// per-user header): a shared cache would hand it to other visitors. In a
    /// [`chain`](crate::compose::chain), the marks are left off only when every step's
    /// decision says so.
    ///
    /// ```
    /// use tower_proxy_fn::{ProxyRequest, ProxyResponse};
    ///
    /// async fn log_visits(req: ProxyRequest) -> ProxyResponse {
    ///     let visitor = req.cookies().get("visitor").unwrap_or("new").to_owned();
    ///     req.wait_until(async move { println!("visit from {visitor}") });
    ///     ProxyResponse::next().same_for_everyone() // a CDN may cache the page for all
    /// }
    /// ```
    pub fn same_for_everyone(mut self) -> Self {
        self.more().same_for_everyone = true;
        self
    }

    /// Whether [`same_for_everyone`](Self::same_for_everyone) was declared.
    pub fn is_same_for_everyone(&self) -> bool {
        self.more
            .as_ref()
            .is_some_and(|more| more.same_for_everyone)
    }

    fn checked<K, V>(&mut self, name: K, value: V) -> Option<(HeaderName, HeaderValue)>
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        let name = match name.try_into() {
            Ok(name) => name,
            Err(err) => {
                self.note_invalid(format!("invalid header name: {err}"));
                return None;
            }
        };
        match value.try_into() {
            Ok(value) => Some((name, value)),
            Err(err) => {
                self.note_invalid(format!("invalid value for header {name}: {err}"));
                None
            }
        }
    }

    fn note_invalid(&mut self, reason: String) {
        self.more().invalid.get_or_insert(reason);
    }

    fn more(&mut self) -> &mut More {
        self.more.get_or_insert_with(Box::default)
    }

    /// Whether the decision is [`next`](Self::next).
    pub fn is_next(&self) -> bool {
        matches!(self.action, Action::Next)
    }

    /// Whether the decision is a [`rewrite`](Self::rewrite).
    pub fn is_rewrite(&self) -> bool {
        matches!(self.action, Action::Rewrite(_))
    }

    /// Whether the decision is a redirect.
    pub fn is_redirect(&self) -> bool {
        matches!(self.action, Action::Redirect(..))
    }

    /// Whether the decision is the proxy's own response.
    pub fn is_respond(&self) -> bool {
        matches!(self.action, Action::Respond(_))
    }

    /// The rewrite destination, as given.
    pub fn rewrite_url(&self) -> Option<&str> {
        match &self.action {
            Action::Rewrite(url) => Some(url),
            _ => None,
        }
    }

    /// The redirect destination, as given.
    pub fn redirect_url(&self) -> Option<&str> {
        match &self.action {
            Action::Redirect(url, _) => Some(url),
            _ => None,
        }
    }

    /// The redirect status.
    pub fn redirect_status(&self) -> Option<StatusCode> {
        match &self.action {
            Action::Redirect(_, status) => Some(*status),
            _ => None,
        }
    }

    /// The proxy's own response, for [`respond`](Self::respond) and [`json`](Self::json).
    pub fn own_response(&self) -> Option<&Response> {
        match &self.action {
            Action::Respond(response) => Some(response),
            _ => None,
        }
    }

    /// The response headers set for the client, in order.
    pub fn response_headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.response_headers
            .as_slice()
            .iter()
            .map(|(k, v, _)| (k, v))
    }

    /// The request headers as the inner service will see them, given the client's headers.
    pub fn edited_request_headers(&self, client: &HeaderMap) -> HeaderMap {
        let mut headers = client.clone();
        self.apply_request_headers(&mut headers);
        headers
    }

    /// The cookies the response sets (deletions included).
    pub fn cookies(&self) -> impl Iterator<Item = &Cookie<'static>> {
        self.more.iter().flat_map(|more| more.cookies.iter())
    }

    /// Why the decision cannot be turned into a response, if a value was invalid.
    pub fn invalid_reason(&self) -> Option<&str> {
        self.more.as_ref()?.invalid.as_deref()
    }

    pub(crate) fn apply_request_headers(&self, headers: &mut HeaderMap) {
        let Some(more) = &self.more else { return };
        for edit in &more.request_headers {
            edit.clone().apply(headers);
        }
    }
}

/// A response header for the client: name, value, and whether it keeps others of its name.
pub(crate) type ResponseHeader = (HeaderName, HeaderValue, bool);

/// The proxy's response headers, in order. One is held inline: a decision that sets a
/// single header (the usual security header, a request id) allocates nothing for it, which
/// through a real server is worth more than the larger decision costs to move (measured
/// with `scripts/perf_server.sh`).
#[derive(Default)]
pub(crate) enum HeaderList {
    #[default]
    Empty,
    One(ResponseHeader),
    Many(Vec<ResponseHeader>),
}

impl HeaderList {
    pub(crate) fn push(&mut self, header: ResponseHeader) {
        // The empty case, the usual one, is written in place: taking the list out first
        // would add a drop call to every decision that sets a header.
        match self {
            HeaderList::Empty => *self = HeaderList::One(header),
            HeaderList::Many(headers) => headers.push(header),
            HeaderList::One(_) => {
                let HeaderList::One(first) = std::mem::take(self) else {
                    unreachable!("matched One above")
                };
                *self = HeaderList::Many(vec![first, header]);
            }
        }
    }

    /// `later`'s headers after these.
    pub(crate) fn extend(&mut self, later: HeaderList) {
        later.for_each(|header| self.push(header));
    }

    /// Hands each header to `f`, in order, by value.
    pub(crate) fn for_each(self, mut f: impl FnMut(ResponseHeader)) {
        match self {
            HeaderList::Empty => {}
            HeaderList::One(header) => f(header),
            HeaderList::Many(headers) => headers.into_iter().for_each(f),
        }
    }

    pub(crate) fn as_slice(&self) -> &[ResponseHeader] {
        match self {
            HeaderList::Empty => &[],
            HeaderList::One(header) => std::slice::from_ref(header),
            HeaderList::Many(headers) => headers,
        }
    }
}

/// What travels from the decision to the final response: response headers and cookies.
/// At most 128 bytes, so that it moves without a `memcpy` call: the cookies stay in the
/// decision's own box ([`More`]), which comes along only when it holds some.
#[derive(Default)]
pub(crate) struct ResponseExtras {
    headers: HeaderList,
    cookies: Option<Box<More>>,
    cache: Option<CacheMarks>,
}

impl ResponseExtras {
    /// `cookies`: the decision's box, its request edits taken out.
    pub(crate) fn new(headers: HeaderList, cookies: Option<Box<More>>) -> Self {
        Self {
            headers,
            cookies: cookies.filter(|more| !more.cookies.is_empty()),
            cache: None,
        }
    }

    /// Marks the inner service's response for what the decision read (see [`CacheMarks`]).
    #[inline]
    pub(crate) fn mark_for_caches(&mut self, marks: Option<CacheMarks>) {
        self.cache = marks;
    }

    /// Adds the proxy's headers and cookies to a response.
    pub(crate) fn apply(self, headers: &mut HeaderMap) {
        if let Some(marks) = &self.cache {
            let proxy_set =
                |name: &HeaderName| self.headers.as_slice().iter().any(|(n, _, _)| n == name);
            let (keep_vary, keep_cache_control) = (proxy_set(&VARY), proxy_set(&CACHE_CONTROL));
            marks.merge_into(headers, keep_vary, keep_cache_control);
        }
        self.headers.for_each(|(name, value, append)| {
            if append {
                headers.append(name, value);
            } else {
                headers.insert(name, value);
            }
        });
        let Some(more) = self.cookies else {
            return;
        };
        for cookie in more.cookies {
            // Encoded as Next.js does (`encodeURIComponent` on the value); names were
            // checked to be tokens, so the line is always a valid header value.
            let line = cookie.encoded().to_string();
            if let Ok(value) = HeaderValue::try_from(line) {
                headers.append(SET_COOKIE, value);
            }
        }
    }
}

/// What a decision read, as it must show in the response for caches: `Vary` names the
/// request headers the decision depends on (`Cookie` when it read cookies), and a decision
/// that read cookies is `Cache-Control: private` (no shared cache may store it).
#[derive(Debug)]
pub(crate) struct CacheMarks {
    cookies: bool,
    headers: Vec<HeaderName>,
}

impl CacheMarks {
    /// The marks for a decision; `None` when it read neither cookies nor headers.
    pub(crate) fn from_reads(cookies: bool, headers: Vec<HeaderName>) -> Option<Self> {
        (cookies || !headers.is_empty()).then_some(Self { cookies, headers })
    }

    /// Whether the decision read cookies.
    pub(crate) fn read_cookies(&self) -> bool {
        self.cookies
    }

    /// Marks a response the layer built from the decision (redirect, own response): every
    /// header on it is the proxy's, so a `Vary` or `Cache-Control` already there stays as the
    /// proxy set it.
    pub(crate) fn apply_to_own(&self, headers: &mut HeaderMap) {
        let keep_vary = headers.contains_key(VARY);
        let keep_cache_control = headers.contains_key(CACHE_CONTROL);
        self.merge_into(headers, keep_vary, keep_cache_control);
    }

    /// Adds the marks to what the response already says: names missing from `Vary` are
    /// appended (`Vary: *` already covers everything); `Cache-Control` becomes `private`
    /// unless it already is `private` or `no-store` (a `public` directive is dropped, the
    /// rest kept).
    fn merge_into(&self, headers: &mut HeaderMap, keep_vary: bool, keep_cache_control: bool) {
        if !keep_vary {
            self.merge_vary(headers);
        }
        if self.cookies && !keep_cache_control {
            merge_private(headers);
        }
    }

    fn merge_vary(&self, headers: &mut HeaderMap) {
        let listed: Vec<String> = headers
            .get_all(VARY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|name| name.trim().to_ascii_lowercase())
            .collect();
        if listed.iter().any(|name| name == "*") {
            return;
        }
        let cookie = self.cookies.then_some("cookie");
        let missing: Vec<&str> = cookie
            .into_iter()
            .chain(self.headers.iter().map(HeaderName::as_str))
            .filter(|name| !listed.iter().any(|l| l == name))
            .collect();
        if missing.is_empty() {
            return;
        }
        // Header names are tokens, so the joined list is always a valid value.
        if let Ok(value) = HeaderValue::try_from(missing.join(", ")) {
            headers.append(VARY, value);
        }
    }
}

fn merge_private(headers: &mut HeaderMap) {
    let directives: Vec<String> = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .collect();
    let name_of = |d: &str| {
        d.split('=')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    if directives
        .iter()
        .any(|d| matches!(name_of(d).as_str(), "private" | "no-store"))
    {
        return;
    }
    let kept = directives.iter().filter(|d| name_of(d) != "public");
    let value = std::iter::once("private")
        .chain(kept.map(String::as_str))
        .collect::<Vec<_>>()
        .join(", ");
    match HeaderValue::try_from(value) {
        Ok(value) => {
            headers.insert(CACHE_CONTROL, value);
        }
        Err(_) => {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
        }
    }
}

impl fmt::Debug for ProxyResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match &self.action {
            Action::Next => "next".to_owned(),
            Action::Rewrite(url) => format!("rewrite {url}"),
            Action::Redirect(url, status) => format!("redirect {} {url}", status.as_u16()),
            Action::Respond(response) => format!("respond {}", response.status().as_u16()),
        };
        f.debug_struct("ProxyResponse")
            .field("action", &action)
            .field(
                "request_header_edits",
                &self.more.as_ref().map_or(0, |m| m.request_headers.len()),
            )
            .field("response_headers", &self.response_headers.as_slice().len())
            .field("cookies", &self.cookies().collect::<Vec<_>>())
            .field("invalid", &self.invalid_reason())
            .finish()
    }
}

/// Whether `path` is a path on the current origin under every URL parser a browser runs:
/// one leading `/`, no `\` (read as `/`), no whitespace or control characters (dropped, so
/// `/\t/evil.example` would become `//evil.example`), and in the path part no empty segment
/// and no dot segment (`/.//evil.example` normalizes to `//evil.example`; `%2e` is a dot),
/// nor an encoded `/` or `\` (a server that decodes the path again would see `//`).
fn is_local_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    if path
        .chars()
        .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
    {
        return false;
    }
    let path_part = rest.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path_part.split('/').collect();
    let last = segments.len() - 1;
    segments.iter().enumerate().all(|(i, segment)| {
        // Only the last segment may be empty (a trailing slash, or the root `/` itself).
        let lower = segment.to_ascii_lowercase();
        let dots = lower.replace("%2e", ".");
        (!segment.is_empty() || i == last)
            && dots != "."
            && dots != ".."
            && !lower.contains("%2f")
            && !lower.contains("%5c")
    })
}

/// RFC 7230 `token` characters, which a cookie name must consist of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A plain-text response of the layer's own (bad path, refused value, failed function).
/// The layer's `500 Internal Server Error` (the reason goes to the log, not the client).
/// A mistake in how the layer is set up, found while answering a request: a `500`, logged
/// at `ERROR` with the fix. A debug build also puts the problem and the fix in the body, and,
/// when the app installed no `tracing` subscriber (so the log would go nowhere), prints them
/// to stderr, once per kind of mistake.
#[cold]
pub(crate) fn misconfigured(mistake: &Misconfiguration, path: &str, destination: &str) -> Response {
    tracing::error!(path, destination, fix = mistake.fix, "{}", mistake.problem);
    if !cfg!(debug_assertions) {
        return internal_error();
    }
    let text = format!(
        "Internal Server Error\n\ntower-proxy-fn: {}\nFix: {}\n(This explanation is shown in debug builds only.)\n",
        mistake.problem, mistake.fix
    );
    if !tracing::dispatcher::has_been_set()
        && !mistake
            .told
            .swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        eprintln!("{text}(Install a tracing subscriber to see every such error, e.g. `tracing_subscriber::fmt().init()`.)");
    }
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// One kind of set-up mistake, with its fix and whether stderr has been told about it.
pub(crate) struct Misconfiguration {
    pub(crate) problem: &'static str,
    pub(crate) fix: &'static str,
    told: std::sync::atomic::AtomicBool,
}

impl Misconfiguration {
    const fn new(problem: &'static str, fix: &'static str) -> Self {
        Self {
            problem,
            fix,
            told: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// A rewrite from a layer that runs after routing.
pub(crate) static REWRITE_AFTER_ROUTING: Misconfiguration = Misconfiguration::new(
    "a rewrite cannot re-route: the layer runs inside a Router (added with Router::layer, \
     Router::route_layer or as a route's service), which has chosen the handler already",
    "Wrap the whole Router instead: `let app = ProxyLayer::new(proxy).layer(router);` and \
     serve `app` with `axum::serve(listener, axum::ServiceExt::into_make_service(app))`",
);

/// An external rewrite from a build or a layer that cannot forward it.
pub(crate) static EXTERNAL_NOT_CONFIGURED: Misconfiguration = Misconfiguration::new(
    "the proxy function rewrote to another origin, but this layer does not forward \
     external rewrites",
    "enable the `external` cargo feature of tower-proxy-fn and allow the origin with \
     `ProxyLayer::with_external(Upstreams::new().allow(\"http://host:port\")?)`, or rewrite to a \
     path of this application",
);

pub(crate) fn internal_error() -> Response {
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

pub(crate) fn error_response(status: StatusCode, message: &'static str) -> Response {
    let mut response = Response::new(Body::from(message));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decision moves several times on its way out of the proxy function; at 128 bytes or
    /// less a move is a few register copies instead of a `memcpy` call (measured with
    /// `scripts/profile.sh`: 83 instructions per matched request). A new field should not
    /// quietly undo that.
    #[test]
    fn a_decision_fits_in_128_bytes() {
        assert!(std::mem::size_of::<ProxyResponse>() <= 128);
        // And what it leaves for the response (moved three times on a `next`).
        assert!(std::mem::size_of::<ResponseExtras>() <= 128);
    }

    /// The first header is held inline, the rest in a list: one, two and three headers
    /// keep their order, and `header` replaces where `append_header` adds, whichever holds
    /// them.
    #[test]
    fn response_headers_keep_order_and_meaning_held_inline_or_listed() {
        let inner = || {
            let mut headers = HeaderMap::new();
            headers.insert("x-a", HeaderValue::from_static("inner"));
            headers.insert("x-b", HeaderValue::from_static("inner"));
            headers
        };
        let one = ProxyResponse::next().append_header("x-a", "1");
        assert!(matches!(one.response_headers, HeaderList::One(_)));
        let two = ProxyResponse::next()
            .header("x-a", "1")
            .append_header("x-b", "2");
        let three = ProxyResponse::next()
            .header("x-a", "1")
            .append_header("x-b", "2")
            .header("x-a", "3");
        assert!(matches!(three.response_headers, HeaderList::Many(_)));
        let listed = |d: &ProxyResponse| {
            d.response_headers()
                .map(|(k, v)| format!("{k}={}", v.to_str().unwrap()))
                .collect::<Vec<_>>()
        };
        assert_eq!(listed(&one), ["x-a=1"]);
        assert_eq!(listed(&two), ["x-a=1", "x-b=2"]);
        assert_eq!(listed(&three), ["x-a=1", "x-b=2", "x-a=3"]);
        let applied = |d: ProxyResponse| {
            let mut headers = inner();
            ResponseExtras::new(d.response_headers, None).apply(&mut headers);
            let values = |name| {
                headers
                    .get_all(name)
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            };
            (values("x-a"), values("x-b"))
        };
        assert_eq!(
            applied(one),
            (vec!["inner".into(), "1".into()], vec!["inner".into()])
        );
        assert_eq!(
            applied(two),
            (vec!["1".into()], vec!["inner".into(), "2".into()])
        );
        assert_eq!(
            applied(three),
            (vec!["3".into()], vec!["inner".into(), "2".into()])
        );
    }
}
