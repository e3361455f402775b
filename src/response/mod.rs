//! [`ProxyResponse`]: the proxy function's decision and what rides along with it.

use std::fmt;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use cookie::Cookie;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use serde::Serialize;

use crate::url_safety::{is_safe_return_path, RedirectStatus};

mod cache_marks;
mod errors;
mod extras;
mod hook;
mod parts;

pub(crate) use cache_marks::CacheMarks;
pub(crate) use errors::{
    error_response, internal_error, misconfigured, EXTERNAL_NOT_CONFIGURED, REWRITE_AFTER_ROUTING,
};
pub use extras::HeaderEdit;
pub(crate) use extras::{HeaderList, More, ResponseExtras};
pub use parts::{Additions, Outcome};

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
/// name, a cookie attribute with a `;`) is not a panic: the layer answers 500 and logs the
/// reason ([`invalid_reason`](Self::invalid_reason) tells it beforehand). A redirect status
/// cannot be invalid: it is a [`RedirectStatus`].
///
/// A test of a proxy function can look at the decision with the `is_*` accessors, or take it
/// apart with [`into_parts`](Self::into_parts).
#[must_use]
pub struct ProxyResponse {
    pub(crate) action: Action,
    pub(crate) response_headers: HeaderList,
    /// The rest of what a decision can carry, boxed: most decisions carry none of it, and
    /// a decision is moved several times on its way out of the function.
    pub(crate) more: Option<Box<More>>,
}

/// The outcome, as the decision stores it.
pub(crate) enum Action {
    Next,
    Rewrite(String),
    Redirect(String, RedirectStatus),
    // Boxed: a `Response` is four times the size of the other variants, and every decision
    // is moved a few times on its way out of the function.
    Respond(Box<Response>),
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
        Self::redirect_with_status(url, RedirectStatus::Temporary)
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
            Some(path) if is_safe_return_path(path) => Self::redirect(path),
            _ => Self::redirect(fallback),
        }
    }

    /// A `308 Permanent Redirect` to `url`.
    pub fn permanent_redirect(url: impl AsRef<str>) -> Self {
        Self::redirect_with_status(url, RedirectStatus::Permanent)
    }

    /// A redirect with the given status (`NextResponse.redirect(url, status)`), taken like
    /// [`redirect`](Self::redirect)'s.
    ///
    /// ```
    /// use tower_proxy_fn::{ProxyResponse, RedirectStatus};
    ///
    /// let moved = ProxyResponse::redirect_with_status("/new", RedirectStatus::MovedPermanently);
    /// assert_eq!(moved.redirect_status(), Some(http::StatusCode::MOVED_PERMANENTLY));
    /// ```
    ///
    /// Only a redirect status can be written: a status from elsewhere is converted, and
    /// refused, first (`RedirectStatus::try_from(StatusCode::OK)` is an error).
    ///
    /// ```compile_fail
    /// use tower_proxy_fn::ProxyResponse;
    ///
    /// let _ = ProxyResponse::redirect_with_status("/x", http::StatusCode::OK);
    /// ```
    pub fn redirect_with_status(url: impl AsRef<str>, status: RedirectStatus) -> Self {
        Self::with_action(Action::Redirect(url.as_ref().to_owned(), status))
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
            self.response_headers.push(HeaderEdit::Set(name, value));
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
            self.response_headers.push(HeaderEdit::Append(name, value));
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
            Action::Redirect(_, status) => Some(status.status_code()),
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

    /// The response headers set or added for the client, in order (every edit, with
    /// whether it replaces or adds, is in [`Additions::response_headers`]).
    pub fn response_headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.response_headers
            .as_slice()
            .iter()
            .filter_map(|edit| Some((edit.name(), edit.value()?)))
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

    /// Takes the decision apart into what it does and what it adds, for code that handles
    /// every outcome: the layer itself, or a test of a proxy function.
    ///
    /// A decision with an invalid value ([`invalid_reason`](Self::invalid_reason)) is
    /// answered 500 by the layer whatever its parts say; check that first.
    ///
    /// ```
    /// use tower_proxy_fn::response::{HeaderEdit, Outcome};
    /// use tower_proxy_fn::{ProxyResponse, RedirectStatus};
    ///
    /// let decision = ProxyResponse::redirect("/login")
    ///     .header("x-reason", "signed-out")
    ///     .delete_cookie("session");
    /// assert_eq!(decision.invalid_reason(), None);
    ///
    /// let (outcome, additions) = decision.into_parts();
    /// let Outcome::Redirect { destination, status } = outcome else {
    ///     panic!("expected a redirect, got {outcome:?}");
    /// };
    /// assert_eq!((destination.as_str(), status), ("/login", RedirectStatus::Temporary));
    /// assert_eq!(
    ///     additions.response_headers(),
    ///     [HeaderEdit::Set("x-reason".parse().unwrap(), "signed-out".parse().unwrap())]
    /// );
    /// assert_eq!(additions.cookies()[0].name(), "session");
    /// assert!(additions.request_headers().is_empty());
    /// ```
    pub fn into_parts(self) -> (Outcome, Additions) {
        let outcome = match self.action {
            Action::Next => Outcome::Next,
            Action::Rewrite(destination) => Outcome::Rewrite { destination },
            Action::Redirect(destination, status) => Outcome::Redirect {
                destination,
                status,
            },
            Action::Respond(response) => Outcome::Respond(*response),
        };
        let additions = Additions {
            response_headers: self.response_headers,
            more: self.more,
        };
        (outcome, additions)
    }

    pub(crate) fn apply_request_headers(&self, headers: &mut HeaderMap) {
        let Some(more) = &self.more else { return };
        for edit in &more.request_headers {
            edit.clone().apply(headers);
        }
    }
}

impl fmt::Debug for ProxyResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match &self.action {
            Action::Next => "next".to_owned(),
            Action::Rewrite(url) => format!("rewrite {url}"),
            Action::Redirect(url, status) => {
                format!("redirect {} {url}", status.status_code().as_u16())
            }
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

/// RFC 7230 `token` characters, which a cookie name must consist of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests;
