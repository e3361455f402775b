//! next.config's routing around the proxy: `headers`, `redirects`, `rewrites`, URL
//! normalization, the trailing-slash policy and i18n, run by the same layer in Next.js's order.
//!
//! ```text
//! request ─▶ normalize URL ─▶ headers (collected) ─▶ redirects ─▶ proxy function
//!        ─▶ before-routing rewrites ─▶ inner service ─▶ (404) after-files, then fallback rewrites
//! ```
//!
//! That is the order of Next.js's router (vercel/next.js
//! `packages/next/src/server/lib/router-utils/resolve-routes.ts`: headers, redirects,
//! middleware, `beforeFiles`, the filesystem check, `afterFiles`, dynamic routes, `fallback`).
//! Every part is off unless configured. Build the rules in code or load them from JSON in
//! next.config's shape, then give them to the layer with
//! [`ProxyLayer::with_rules`](crate::ProxyLayer::with_rules):
//!
//! ```
//! use axum::{routing::get, Router};
//! use http::StatusCode;
//! use tower::{Layer, ServiceExt};
//! use tower_proxy_fn::rules::{Redirect, Rewrite, Rules, TrailingSlash};
//! use tower_proxy_fn::{ProxyLayer, ProxyRequest, ProxyResponse};
//!
//! async fn proxy(_req: ProxyRequest) -> ProxyResponse {
//!     ProxyResponse::next()
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let rules = Rules::new()
//!     .redirect(Redirect::new("/blog/:slug", "/news/:slug")?.permanent())
//!     .rewrite_before(Rewrite::new("/docs/:path*", "/api/docs/:path*")?)
//!     .trailing_slash(TrailingSlash::Remove);
//! let router = Router::new().route("/news/{slug}", get(|| async { "news" }));
//! let app = ProxyLayer::new(proxy).with_rules(rules).layer(router);
//!
//! let request = http::Request::get("/blog/hello?x=1").body(axum::body::Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
//! assert_eq!(response.headers()["location"], "/news/hello?x=1");
//! # Ok(())
//! # }
//! ```
//!
//! # How the parts map onto a tower service
//!
//! - **Sources** use the proxy matcher's engine (path-to-regexp, `has` / `missing`, named
//!   captures): a source matches as the proxy matcher does (one optional trailing slash,
//!   case-sensitive, the path as sent or percent-decoded).
//! - **Destinations** take `:params` from the source and the `has` captures, into host, path
//!   and query, as Next.js's `prepareDestination` does (see [`Redirect`] and [`Rewrite`]).
//!   Unlike Next.js, which substitutes the text as sent, a parameter is percent-decoded
//!   (the source matched the decoded path), so `%2F` in a value is a `/` in the
//!   destination. A redirect or rewrite whose built path has a dot segment, in any
//!   spelling (`..`, `.%2e`, `%2E%2E`, `\` as separator), is answered 400: resolving it
//!   would lead to a path the rule did not write, and as a 301/308 a browser would cache it.
//! - **Headers** rules add headers to every response that went through the proxy: the
//!   proxy's own redirects and responses, the inner service's, fallbacks. A header the
//!   response already has wins (`Set-Cookie` lines are added). As in Next.js, a config
//!   redirect (and the URL-normalization and trailing-slash redirects) carries none of them:
//!   `resolve-routes.ts` returns `resHeaders: null` for a config redirect.
//! - **Redirects** answer before the proxy function runs; the first matching one wins.
//! - **`beforeFiles`** rewrites run after the proxy function, in order, each on the URL the
//!   previous ones produced; they see the request headers the proxy set.
//! - **`afterFiles`** and **`fallback`**: there is no filesystem in front of a tower service,
//!   so "a page or file exists" becomes "the inner service does not answer 404". When it
//!   does answer 404, the `afterFiles` rules, then the `fallback` rules, are tried in order,
//!   each on the current URL; a matching one rewrites and calls the inner service again,
//!   until one answer is not a 404 (or the rules run out: the last 404 stands). That needs
//!   the request body a second time, so it happens only when the body is empty (`GET` without
//!   a body, `Content-Length: 0`) or was read by [`ProxyLayer::with_request_body`]; otherwise the
//!   404 stands.
//! - **Rewrite chains** are bounded: a request takes at most 10 rewrites from rules (each
//!   rule applies at most once per phase, so a chain cannot loop forever, but a long one
//!   still stops): the 11th answers 500 and logs the chain.
//! - **Cost**: a layer without rules is the plain [`ProxyService`](crate::ProxyService).
//!   With rules, every request takes the rules path: its response futures are boxed and
//!   each rule's source is tested in turn, so the cost grows with the number of rules.
//!
//! [`ProxyLayer::with_request_body`]: crate::ProxyLayer::with_request_body

mod config;
pub(crate) mod destination;
mod i18n;
mod normalize;

use std::fmt;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::header::{HeaderName, HeaderValue, LOCATION, SET_COOKIE};
use http::{HeaderMap, Request, StatusCode};

use crate::matcher::{
    decode_uri_component, CompiledEntry, Matcher, MatcherEntry, MatcherError, Params, Undecided,
};
use crate::response::{error_response, internal_error};

use destination::{substitute, Destination, LOCALE_PARAM};
pub use i18n::{Locales, DEFAULT_LOCALE_COOKIE};
pub use normalize::TrailingSlash;

/// The most rewrites from rules one request may take.
pub const MAX_REWRITE_HOPS: usize = 10;

/// A rule or a rules config that does not compile: what and where (`redirects[2].source`,
/// `rewrites.fallback[0].destination`), with the offending text and position when known.
///
/// ```
/// use tower_proxy_fn::rules::Rules;
///
/// let err = Rules::from_json(r#"{"redirects": [{"source": "/a/(b", "destination": "/", "permanent": true}]}"#)
///     .unwrap_err();
/// assert_eq!(err.location(), "redirects[0].source");
/// assert_eq!(err.position(), Some(3));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct RulesError {
    inner: MatcherError,
}

impl RulesError {
    pub(crate) fn at(location: impl Into<String>, message: impl Into<String>) -> Self {
        MatcherError::new(location, message).into()
    }

    /// Where the error is, e.g. `redirects[2].source` (empty for the whole document).
    pub fn location(&self) -> &str {
        self.inner.location()
    }

    /// The offending source, destination or value, if the error concerns one.
    pub fn text(&self) -> Option<&str> {
        self.inner.text()
    }

    /// The character position in [`text`](Self::text), if known.
    pub fn position(&self) -> Option<usize> {
        self.inner.position()
    }

    /// The message, without location.
    pub fn message(&self) -> &str {
        self.inner.message()
    }
}

impl From<MatcherError> for RulesError {
    fn from(inner: MatcherError) -> Self {
        RulesError { inner }
    }
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl std::error::Error for RulesError {}

/// A rule's source: the matcher entry, compiled as written and, with i18n, with the locale
/// group in front.
#[derive(Clone, Debug)]
struct RuleSource {
    location: String,
    plain: CompiledEntry,
    localized: Option<CompiledEntry>,
}

/// A match: the parameters and, for a localized match, the locale the path carried.
struct Hit {
    params: Params,
    locale: Option<String>,
}

impl RuleSource {
    fn compile(entry: MatcherEntry, location: &str) -> Result<Self, RulesError> {
        let mut plain = CompiledEntry::compile(&entry, location).map_err(|e| {
            // The matcher names the entry; a rule names its `source` field.
            if e.location() == location && e.text().is_some() {
                MatcherError::new(format!("{location}.source"), e.message().to_owned())
                    .with_text(e.text().unwrap_or_default().to_owned(), e.position())
            } else {
                e
            }
        })?;
        plain.prepare();
        Ok(RuleSource {
            location: location.to_owned(),
            plain,
            localized: None,
        })
    }

    /// With i18n and without `locale: false`, Next.js puts
    /// `/:nextInternalLocale(en|fr|...)` in front of the source (`processRoutes` in
    /// vercel/next.js `packages/next/src/lib/load-custom-routes.ts`), matched without case
    /// (see [`Locales::rule_group`]); the source as written stands for the default locale,
    /// which Next.js's router inserts into a path without one.
    fn localize(&mut self, locales: &Locales) {
        self.localized = self.plain.localized(&locales.rule_group());
        if let Some(localized) = &mut self.localized {
            localized.prepare();
        }
    }

    /// The rule's captures for a request, under a locale prefix first; `Err` when that
    /// cannot be decided, which the caller answers rather than skip the rule (see
    /// [`undecided`]).
    fn captures<B>(
        &self,
        request: &Request<B>,
        locales: Option<&Locales>,
    ) -> Result<Option<Hit>, Undecided> {
        if let (Some(localized), Some(locales)) = (&self.localized, locales)
            && let Some(params) = localized.captures(request)?
        {
            let locale = params
                .get(LOCALE_PARAM)
                .and_then(|l| locales.find(l))
                .map(str::to_owned);
            return Ok(Some(Hit { params, locale }));
        }
        Ok(self.plain.captures(request)?.map(|params| Hit {
            params,
            locale: None,
        }))
    }

    /// The locale to put in front of an internal destination: the one the path carried,
    /// unless it is the default (Next.js adds a default-locale copy of each redirect whose
    /// destination has no prefix).
    fn destination_locale<'h>(&self, hit: &'h Hit, locales: Option<&Locales>) -> Option<&'h str> {
        let locale = hit.locale.as_deref()?;
        (Some(locale) != locales.map(Locales::default_locale)).then_some(locale)
    }
}

/// A redirect rule: next.config's `{source, destination, permanent | statusCode, has,
/// missing, locale}`.
///
/// The destination takes `:params` (see the [module docs](self)); the request's query is
/// kept and the destination's overrides it. The default status is 307; `permanent()` makes
/// it 308.
///
/// ```
/// use tower_proxy_fn::rules::Redirect;
/// use tower_proxy_fn::matcher::{Condition, ConditionKind, MatcherEntry};
///
/// # fn main() -> Result<(), tower_proxy_fn::rules::RulesError> {
/// let simple = Redirect::new("/old-blog/:slug", "/news/:slug")?.permanent();
/// // With a `has` condition whose named group goes into the destination:
/// let mut entry = MatcherEntry::new("/account");
/// entry.has.push(Condition {
///     kind: ConditionKind::Cookie,
///     key: Some("team".into()),
///     value: Some("(?<team>[a-z]+)".into()),
/// });
/// let team = Redirect::new(entry, "/teams/:team")?;
/// # let _ = (simple, team);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Redirect {
    source: RuleSource,
    destination: Destination,
    status: StatusCode,
}

impl Redirect {
    /// A temporary (307) redirect from `source` to `destination`.
    pub fn new(
        source: impl Into<MatcherEntry>,
        destination: impl AsRef<str>,
    ) -> Result<Self, RulesError> {
        Self::compile(source.into(), destination.as_ref(), "redirect")
    }

    pub(crate) fn compile(
        entry: MatcherEntry,
        destination: &str,
        location: &str,
    ) -> Result<Self, RulesError> {
        let source = RuleSource::compile(entry, location)?;
        let destination = Destination::parse(destination).map_err(|message| {
            RulesError::from(
                MatcherError::new(format!("{location}.destination"), message)
                    .with_text(destination.to_owned(), None),
            )
        })?;
        Ok(Redirect {
            source,
            destination,
            status: StatusCode::TEMPORARY_REDIRECT,
        })
    }

    /// Makes it permanent: 308 (next.config's `permanent: true`).
    #[must_use]
    pub fn permanent(mut self) -> Self {
        self.status = StatusCode::PERMANENT_REDIRECT;
        self
    }

    /// Another redirect status (next.config's `statusCode`).
    ///
    /// # Panics
    ///
    /// When `status` is not 301, 302, 303, 307 or 308 (Next.js's `allowedStatusCodes`).
    #[must_use]
    #[track_caller]
    pub fn status(mut self, status: StatusCode) -> Self {
        assert!(
            is_redirect_status(status),
            "redirect status must be 301, 302, 303, 307 or 308, not {status}"
        );
        self.status = status;
        self
    }
}

pub(crate) fn is_redirect_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// A rewrite rule: next.config's `{source, destination, has, missing, locale}`.
///
/// The destination is a path on this origin with `:params`; parameters it does not use in
/// its path are added to the query, as Next.js does for rewrites. Where it runs depends on
/// how it is added: [`Rules::rewrite_before`], [`Rules::rewrite_after`] or
/// [`Rules::rewrite_fallback`].
///
/// ```
/// use tower_proxy_fn::rules::Rewrite;
///
/// # fn main() -> Result<(), tower_proxy_fn::rules::RulesError> {
/// let rewrite = Rewrite::new("/docs/:path*", "/api/docs/:path*")?;
/// # let _ = rewrite;
/// assert!(Rewrite::new("/x", "https://example.com/x").is_err()); // external: not supported
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Rewrite {
    source: RuleSource,
    destination: Destination,
}

impl Rewrite {
    /// A rewrite from `source` to `destination` (a path on this origin).
    pub fn new(
        source: impl Into<MatcherEntry>,
        destination: impl AsRef<str>,
    ) -> Result<Self, RulesError> {
        Self::compile(source.into(), destination.as_ref(), "rewrite")
    }

    pub(crate) fn compile(
        entry: MatcherEntry,
        destination: &str,
        location: &str,
    ) -> Result<Self, RulesError> {
        let source = RuleSource::compile(entry, location)?;
        let fail = |message: &str| {
            RulesError::from(
                MatcherError::new(format!("{location}.destination"), message.to_owned())
                    .with_text(destination.to_owned(), None),
            )
        };
        let parsed = Destination::parse(destination).map_err(|m| fail(&m))?;
        if parsed.is_absolute() {
            return Err(fail(
                "a rewrite to another origin is not supported by rules; rewrite to a path on this origin",
            ));
        }
        Ok(Rewrite {
            source,
            destination: parsed,
        })
    }

    /// The rewritten path and query for a request, if the rule matches.
    fn apply<B>(
        &self,
        request: &Request<B>,
        locales: Option<&Locales>,
    ) -> Result<Option<String>, Undecided> {
        let Some(hit) = self.source.captures(request, locales)? else {
            return Ok(None);
        };
        let locale = self.source.destination_locale(&hit, locales);
        let target = self
            .destination
            .build(&hit.params, request.uri().query(), true, locale);
        // A rewrite has no fragment to send.
        Ok(Some(match target.find('#') {
            Some(i) => target[..i].to_owned(),
            None => target,
        }))
    }
}

/// A headers rule: next.config's `{source, headers: [{key, value}], has, missing, locale}`.
///
/// Keys and values take `:params` (Next.js's `compileNonPath`). The headers go on every
/// response that went through the proxy, unless the response has the header already
/// (`Set-Cookie` is added to); among rules, a later one wins for the same key.
///
/// ```
/// use tower_proxy_fn::rules::HeaderRule;
///
/// # fn main() -> Result<(), tower_proxy_fn::rules::RulesError> {
/// let rule = HeaderRule::new("/api/:path*", [("x-frame-options", "DENY"), ("x-section", ":path")])?;
/// # let _ = rule;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct HeaderRule {
    source: RuleSource,
    headers: Vec<(String, String)>,
}

impl HeaderRule {
    /// Headers for the responses to requests `source` matches.
    pub fn new<I, K, V>(source: impl Into<MatcherEntry>, headers: I) -> Result<Self, RulesError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let headers = headers
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::compile(source.into(), headers, "header")
    }

    pub(crate) fn compile(
        entry: MatcherEntry,
        headers: Vec<(String, String)>,
        location: &str,
    ) -> Result<Self, RulesError> {
        let source = RuleSource::compile(entry, location)?;
        for (i, (key, value)) in headers.iter().enumerate() {
            // A `:param` is only known per request; the rest must be a valid header already.
            if !key.contains(':') && HeaderName::try_from(key.as_str()).is_err() {
                return Err(MatcherError::new(
                    format!("{location}.headers[{i}].key"),
                    "not a valid header name",
                )
                .with_text(key.clone(), None)
                .into());
            }
            if !value.contains(':') && HeaderValue::try_from(value.as_str()).is_err() {
                return Err(MatcherError::new(
                    format!("{location}.headers[{i}].value"),
                    "not a valid header value",
                )
                .with_text(value.clone(), None)
                .into());
            }
        }
        Ok(HeaderRule { source, headers })
    }
}

/// next.config's routing rules: headers, redirects, rewrites, URL normalization, the
/// trailing-slash policy and i18n. See the [module docs](self) for the order and the
/// mapping onto tower.
///
/// Empty by default: every part is off until configured.
///
/// ```
/// use tower_proxy_fn::rules::{HeaderRule, Locales, Redirect, Rewrite, Rules, TrailingSlash};
///
/// # fn main() -> Result<(), tower_proxy_fn::rules::RulesError> {
/// let in_code = Rules::new()
///     .header(HeaderRule::new("/:path*", [("x-powered-by", "axum")])?)
///     .redirect(Redirect::new("/old", "/new")?.permanent())
///     .rewrite_before(Rewrite::new("/about", "/pages/about")?)
///     .rewrite_fallback(Rewrite::new("/:path*", "/legacy/:path*")?)
///     .trailing_slash(TrailingSlash::Remove)
///     .normalize_url(true)
///     .i18n(Locales::new(["en", "fr"], "en"));
///
/// let from_json = Rules::from_json(r#"{
///     "trailingSlash": false,
///     "redirects": [{"source": "/old", "destination": "/new", "permanent": true}],
///     "rewrites": {"beforeFiles": [{"source": "/about", "destination": "/pages/about"}]}
/// }"#)?;
/// # let _ = (in_code, from_json);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct Rules {
    headers: Vec<HeaderRule>,
    redirects: Vec<Redirect>,
    before: Vec<Rewrite>,
    after: Vec<Rewrite>,
    fallback: Vec<Rewrite>,
    trailing_slash: TrailingSlash,
    skip_trailing_slash: Option<Matcher>,
    normalize_url: bool,
    locales: Option<Locales>,
}

impl Rules {
    /// No rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads next.config's routing keys from JSON:
    /// `{"headers": [...], "redirects": [...], "rewrites": [...] | {"beforeFiles", "afterFiles",
    /// "fallback"}, "trailingSlash": bool, "skipTrailingSlashRedirect": bool,
    /// "i18n": {"locales", "defaultLocale"}}` (each optional).
    ///
    /// `rewrites` as an array is `afterFiles`, as in Next.js. An unknown key, a wrong type,
    /// a source that does not compile or a bad destination is an error naming where. Without
    /// `trailingSlash` slashes are left alone (Next.js would remove them: write
    /// `"trailingSlash": false` for that).
    pub fn from_json(json: &str) -> Result<Self, RulesError> {
        config::parse(json)
    }

    /// Adds a headers rule.
    pub fn header(mut self, rule: HeaderRule) -> Self {
        self.headers.push(rule);
        self
    }

    /// Adds a redirect; they are tried in order before the proxy function.
    pub fn redirect(mut self, rule: Redirect) -> Self {
        self.redirects.push(rule);
        self
    }

    /// Adds a rewrite that runs after the proxy function, before the inner service
    /// (next.config's `beforeFiles`).
    pub fn rewrite_before(mut self, rule: Rewrite) -> Self {
        self.before.push(rule);
        self
    }

    /// Adds a rewrite tried when the inner service answers 404, before the fallback rewrites
    /// (next.config's `afterFiles`, see the [module docs](self)).
    pub fn rewrite_after(mut self, rule: Rewrite) -> Self {
        self.after.push(rule);
        self
    }

    /// Adds a rewrite tried when the inner service answers 404, after the `afterFiles` ones
    /// (next.config's `fallback`).
    pub fn rewrite_fallback(mut self, rule: Rewrite) -> Self {
        self.fallback.push(rule);
        self
    }

    /// The trailing-slash policy (default [`TrailingSlash::Keep`]).
    pub fn trailing_slash(mut self, policy: TrailingSlash) -> Self {
        self.trailing_slash = policy;
        self
    }

    /// Paths this matcher selects are left out of the trailing-slash redirect (next.config's
    /// `skipTrailingSlashRedirect: true` is `Matcher::any()`).
    pub fn skip_trailing_slash_redirect(mut self, paths: Matcher) -> Self {
        self.skip_trailing_slash = Some(paths);
        self
    }

    /// As Next.js's router: a path with `//` or `\` is redirected (308) to its normalized
    /// form (query kept; `resolve-routes.ts`), and a path that does not percent-decode is
    /// answered 400 (`next-server.ts` answers a `DecodeError` with 400). Off by default.
    pub fn normalize_url(mut self, on: bool) -> Self {
        self.normalize_url = on;
        self
    }

    /// Locales: rules without `locale: false` also match under a locale prefix
    /// (`/fr/about` for source `/about`), and an internal destination gets that prefix back
    /// unless it is the default locale's.
    pub fn i18n(mut self, locales: Locales) -> Self {
        self.locales = Some(locales);
        self
    }

    /// The locales given with [`i18n`](Self::i18n).
    pub fn locales(&self) -> Option<&Locales> {
        self.locales.as_ref()
    }

    /// Whether no rule and no policy is configured.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
            && self.redirects.is_empty()
            && self.before.is_empty()
            && self.after.is_empty()
            && self.fallback.is_empty()
            && self.trailing_slash == TrailingSlash::Keep
            && !self.normalize_url
    }

    /// Compiles the localized sources once, for the layer.
    pub(crate) fn prepare(mut self) -> Arc<Self> {
        if let Some(locales) = self.locales.clone() {
            let sources = self
                .headers
                .iter_mut()
                .map(|r| &mut r.source)
                .chain(self.redirects.iter_mut().map(|r| &mut r.source))
                .chain(self.before.iter_mut().map(|r| &mut r.source))
                .chain(self.after.iter_mut().map(|r| &mut r.source))
                .chain(self.fallback.iter_mut().map(|r| &mut r.source));
            for source in sources {
                source.localize(&locales);
            }
        }
        Arc::new(self)
    }

    /// Whether any rewrite runs before routing (`beforeFiles`).
    pub(crate) fn has_before_rewrites(&self) -> bool {
        !self.before.is_empty()
    }

    /// Whether a 404 from the inner service may be retried under a rewrite.
    pub(crate) fn has_not_found_rewrites(&self) -> bool {
        !self.after.is_empty() || !self.fallback.is_empty()
    }

    /// Everything before the proxy function: normalization, trailing slash, headers,
    /// redirects.
    pub(crate) fn before_proxy<B>(&self, request: &Request<B>) -> BeforeProxy {
        let path = request.uri().path();
        if self.normalize_url {
            if let Some(normalized) = normalize::repeated_slashes(path) {
                return BeforeProxy::Respond(redirect_response(
                    request,
                    StatusCode::PERMANENT_REDIRECT,
                    with_query(normalized, request.uri().query()),
                ));
            }
            if path.contains('%') && decode_uri_component(path).is_none() {
                tracing::debug!(%path, "path does not percent-decode: 400");
                return BeforeProxy::Respond(error_response(
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                ));
            }
        }
        if let Some(target) = self.trailing_slash.redirect(path) {
            let skipped = self
                .skip_trailing_slash
                .as_ref()
                .is_some_and(|m| m.matches(request));
            if !skipped {
                return BeforeProxy::Respond(redirect_response(
                    request,
                    StatusCode::PERMANENT_REDIRECT,
                    with_query(target, request.uri().query()),
                ));
            }
        }
        let locales = self.locales.as_ref();
        for rule in &self.redirects {
            let hit = match rule.source.captures(request, locales) {
                Ok(Some(hit)) => hit,
                Ok(None) => continue,
                Err(Undecided) => {
                    return BeforeProxy::Respond(undecided(request, &rule.source.location));
                }
            };
            let locale = rule.source.destination_locale(&hit, locales);
            let target = rule
                .destination
                .build(&hit.params, request.uri().query(), false, locale);
            return BeforeProxy::Respond(redirect_response(request, rule.status, target));
        }
        // After the redirects: a config redirect carries no headers rules (Next.js's
        // `resolve-routes.ts`), so they are worked out only for requests that go on.
        match self.response_headers(request) {
            Ok(headers) => BeforeProxy::Continue(headers),
            Err(rule) => BeforeProxy::Respond(undecided(request, rule)),
        }
    }

    /// The headers rules' headers for a request, later rules winning for a key; `Err` with
    /// the rule that could not be decided.
    fn response_headers<B>(&self, request: &Request<B>) -> Result<Option<ExtraHeaders>, &str> {
        let mut out: Vec<(HeaderName, HeaderValue)> = Vec::new();
        for rule in &self.headers {
            let Some(hit) = rule
                .source
                .captures(request, self.locales.as_ref())
                .map_err(|Undecided| rule.source.location.as_str())?
            else {
                continue;
            };
            for (key, value) in &rule.headers {
                let (key, value) = if hit.params.is_empty() {
                    (key.clone(), value.clone())
                } else {
                    let raw = |v: &str| v.to_owned();
                    (
                        substitute(key, &hit.params, raw),
                        substitute(value, &hit.params, raw),
                    )
                };
                let (Ok(name), Ok(value)) = (
                    HeaderName::try_from(key.as_str()),
                    HeaderValue::try_from(value.as_str()),
                ) else {
                    tracing::error!(rule = %rule.source.location, %key, %value, "header rule gave an invalid header; skipped");
                    continue;
                };
                if name != SET_COOKIE {
                    out.retain(|(n, _)| *n != name);
                }
                out.push((name, value));
            }
        }
        Ok((!out.is_empty()).then_some(ExtraHeaders(out)))
    }

    /// Applies the `beforeFiles` rewrites in order; each one that matches changes the URI.
    // The `Err` is the finished 500, handed straight back as the response.
    #[allow(clippy::result_large_err)]
    pub(crate) fn apply_before_rewrites<B>(
        &self,
        request: &mut Request<B>,
        chain: &mut Chain,
    ) -> Result<(), Response> {
        for rule in &self.before {
            match rule.apply(request, self.locales.as_ref()) {
                Ok(Some(target)) => chain.rewrite(request, &target, &rule.source.location)?,
                Ok(None) => {}
                Err(Undecided) => return Err(undecided(request, &rule.source.location)),
            }
        }
        Ok(())
    }

    /// The next `afterFiles` / `fallback` rewrite at or after `from` (an index over both
    /// lists) that matches, with the index after it; `Err` with the answer when a rule
    /// cannot be decided.
    #[allow(clippy::result_large_err)]
    pub(crate) fn next_not_found_rewrite<B>(
        &self,
        request: &Request<B>,
        from: usize,
    ) -> Result<Option<(usize, String, &str)>, Response> {
        let rules = self
            .after
            .iter()
            .chain(&self.fallback)
            .enumerate()
            .skip(from);
        for (i, rule) in rules {
            let location = rule.source.location.as_str();
            match rule.apply(request, self.locales.as_ref()) {
                Ok(Some(target)) => return Ok(Some((i + 1, target, location))),
                Ok(None) => {}
                Err(Undecided) => return Err(undecided(request, location)),
            }
        }
        Ok(None)
    }
}

/// The answer when `rule` cannot be decided for a request: skipping the rule could skip a
/// redirect or a security header, so the request is answered instead, `414 URI Too Long`
/// for a path over [`MAX_PATH_LEN`](crate::matcher::MAX_PATH_LEN) (which no rule tests),
/// else `500` (an expression at its backtracking limit), logged.
#[cold]
fn undecided<B>(request: &Request<B>, rule: &str) -> Response {
    let path = request.uri().path();
    if path.len() > crate::matcher::MAX_PATH_LEN {
        tracing::warn!(
            rule,
            length = path.len(),
            "path over the matcher's length limit: 414"
        );
        return error_response(StatusCode::URI_TOO_LONG, "URI Too Long");
    }
    tracing::error!(
        rule,
        %path,
        "rule could not be decided (regular expression backtracking limit): 500"
    );
    internal_error()
}

/// What happens before the proxy function.
pub(crate) enum BeforeProxy {
    /// A redirect or an error of the rules' own.
    Respond(Response),
    /// On to the proxy; these headers go on its response.
    Continue(Option<ExtraHeaders>),
}

/// Headers from headers rules, for one response.
#[derive(Debug)]
pub(crate) struct ExtraHeaders(Vec<(HeaderName, HeaderValue)>);

impl ExtraHeaders {
    pub(crate) fn apply(self, headers: &mut HeaderMap) {
        for (name, value) in self.0 {
            if name == SET_COOKIE {
                headers.append(name, value);
            } else if !headers.contains_key(&name) {
                headers.insert(name, value);
            }
        }
    }
}

/// The rewrites one request took, bounded by [`MAX_REWRITE_HOPS`].
#[derive(Debug)]
pub(crate) struct Chain {
    paths: Vec<String>,
}

impl Chain {
    /// An empty chain; the request's first URI is noted at the first rewrite.
    pub(crate) fn new() -> Self {
        Chain { paths: Vec::new() }
    }

    /// Points the request at `target` (path and query), keeping the original URI for
    /// handlers; `Err` is the 500 for a chain over the limit or a target that is not a URI,
    /// and a 400 for a target whose path has a dot segment: the inner service would get a
    /// path the rule did not write (`/public/../admin` from `/docs/:path*` ->
    /// `/public/:path*`), which a router, a file server or an upstream may resolve to a
    /// path the proxy never decided on.
    #[allow(clippy::result_large_err)]
    pub(crate) fn rewrite<B>(
        &mut self,
        request: &mut Request<B>,
        target: &str,
        rule: &str,
    ) -> Result<(), Response> {
        if crate::url_safety::rewrite_has_dot_segment(target) {
            tracing::debug!(
                path = %request.uri().path(),
                %rule,
                destination = %target,
                "rewrite destination has a dot segment: 400"
            );
            return Err(error_response(StatusCode::BAD_REQUEST, "Bad Request"));
        }
        if self.paths.is_empty() {
            let first = request.uri().path_and_query().map_or("/", |p| p.as_str());
            self.paths.push(first.to_owned());
        }
        self.paths.push(target.to_owned());
        if self.paths.len() > MAX_REWRITE_HOPS + 1 {
            tracing::error!(
                chain = %self.paths.join(" -> "),
                "rewrite rules chained more than {MAX_REWRITE_HOPS} rewrites: 500"
            );
            return Err(internal_error());
        }
        let mut parts = request.uri().clone().into_parts();
        let Ok(path_and_query) = http::uri::PathAndQuery::try_from(target) else {
            tracing::error!(%rule, destination = %target, "rewrite destination is not a valid URI: 500");
            return Err(internal_error());
        };
        parts.path_and_query = Some(path_and_query);
        let Ok(uri) = http::Uri::from_parts(parts) else {
            tracing::error!(%rule, destination = %target, "rewrite destination is not a valid URI: 500");
            return Err(internal_error());
        };
        if request
            .extensions()
            .get::<axum::extract::OriginalUri>()
            .is_none()
        {
            let original = axum::extract::OriginalUri(request.uri().clone());
            request.extensions_mut().insert(original);
        }
        *request.uri_mut() = uri;
        Ok(())
    }
}

fn with_query(mut path: String, query: Option<&str>) -> String {
    if let Some(query) = query {
        path.push('?');
        path.push_str(query);
    }
    path
}

/// A redirect of the rules (normalization, trailing slash, `redirects`). Its `Location` is
/// made as the proxy's redirects are, so a path built from the request (`/\\evil.example/`
/// under the trailing-slash policy) cannot name another host; a location that is not a
/// valid header value is a 500.
///
/// A destination whose path holds a dot segment in any spelling is answered 400 instead:
/// resolving it (here, or in the browser that follows the `Location`) would redirect,
/// permanently and cacheably with 301/308, to a path the rule did not write
/// (`/blog/..%2F..%2Fadmin` through `/blog/:slug*` -> `/news/:slug*` is `/admin`). Next.js
/// substitutes the parameters as sent (path-to-regexp's `compile` with its default
/// `encode`, which is the identity, in `prepareDestination`, vercel/next.js
/// `packages/next/src/shared/lib/router/utils/prepare-destination.ts`), so its `%2F` stays
/// encoded, but a `%2e%2e/` segment goes into the `Location` as it came and the browser
/// resolves it. Our parameters are percent-decoded (the matcher matches the decoded path),
/// so we refuse every dot segment, whichever way it was spelt.
fn redirect_response<B>(request: &Request<B>, status: StatusCode, destination: String) -> Response {
    if crate::url_safety::destination_has_dot_segment(&destination) {
        tracing::debug!(
            path = %request.uri().path(),
            %destination,
            "redirect destination has a dot segment: 400"
        );
        return error_response(StatusCode::BAD_REQUEST, "Bad Request");
    }
    // Only decides whether an absolute destination is on the request's origin (then
    // written relative): a request whose authority does not parse is on none.
    let base = || {
        crate::url_safety::request_url(request.uri(), request.headers(), &[])
            .unwrap_or_else(|_| url::Url::parse("http://localhost/").expect("a valid literal URL"))
    };
    let value = match crate::url_safety::location(destination, base) {
        Ok(value) => value,
        Err((reason, destination)) => {
            tracing::error!(%destination, "redirect rule: {reason}: 500");
            return internal_error();
        }
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response.headers_mut().insert(LOCATION, value);
    response
}
