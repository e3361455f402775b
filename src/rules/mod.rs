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

// One file per concern: the rules as built (`rule`: `Redirect`, `Rewrite`, `HeaderRule`),
// what they do to a request (`apply`), next.config read through serde (`config`), building
// a destination from a match (`destination`), the URL and trailing-slash policy
// (`normalize`), locales (`i18n`). This file holds `Rules`, the list of them.
mod apply;
mod config;
pub(crate) mod destination;
mod filter;
mod i18n;
mod normalize;
mod rule;

use std::sync::Arc;

use http::Request;

use crate::config_error::ConfigError;
use crate::matcher::Matcher;
use filter::PhaseFilter;

pub use crate::layer::rules::{RewriteService, RulesLayer, RulesService};
pub(crate) use apply::{BeforeProxy, ExtraHeaders, RewriteHops};
pub use config::RulesConfig;
pub use i18n::{Locales, DEFAULT_LOCALE_COOKIE};
pub use normalize::TrailingSlash;
pub use rule::{HeaderRule, Redirect, Rewrite};

/// The most rewrites from rules one request may take.
pub const MAX_REWRITE_HOPS: usize = 10;

/// next.config's routing rules: headers, redirects, rewrites, URL normalization, the
/// trailing-slash policy and i18n. See the [module docs](self) for the order and the
/// mapping onto tower.
///
/// Empty by default: every part is off until configured.
///
/// ```
/// use tower_proxy_fn::rules::{HeaderRule, Locales, Redirect, Rewrite, Rules, TrailingSlash};
///
/// # fn main() -> Result<(), tower_proxy_fn::ConfigError> {
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
    /// One prefilter per phase, built by [`prepare`](Self::prepare).
    filters: Filters,
}

/// The prefilters of the phases, in the order of their rules.
#[derive(Clone, Debug, Default)]
struct Filters {
    headers: PhaseFilter,
    redirects: PhaseFilter,
    before: PhaseFilter,
    /// `afterFiles` then `fallback`, as `next_not_found_rewrite` numbers them.
    not_found: PhaseFilter,
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
    /// a source that does not compile or a bad destination is a [`ConfigError`] naming
    /// where. Without `trailingSlash` slashes are left alone (Next.js would remove them:
    /// write `"trailingSlash": false` for that).
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        Self::from_config(crate::matcher::config::from_json(json)?)
    }

    /// Compiles next.config's routing keys read with serde from any format (see
    /// [`RulesConfig`]); a source that does not compile or a bad destination is an error
    /// naming its place (`redirects[2].source`).
    pub fn from_config(config: RulesConfig) -> Result<Self, ConfigError> {
        config.compile()
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
        self.filters = Filters {
            headers: PhaseFilter::build(self.headers.iter().map(|r| &r.source)),
            redirects: PhaseFilter::build(self.redirects.iter().map(|r| &r.source)),
            before: PhaseFilter::build(self.before.iter().map(|r| &r.source)),
            not_found: PhaseFilter::build(
                self.after.iter().chain(&self.fallback).map(|r| &r.source),
            ),
        };
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

    /// Whether an `afterFiles` or `fallback` rewrite may match this request: `false` only
    /// when the phase's prefilter rules them all out, in one pass; the rules themselves are
    /// tested only after a 404.
    pub(crate) fn may_rewrite_not_found<B>(&self, request: &Request<B>) -> bool {
        self.has_not_found_rewrites() && !self.filters.not_found.scan(request).none()
    }
}
