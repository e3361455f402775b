//! The rules as built in code or from next.config: [`Redirect`], [`Rewrite`] and
//! [`HeaderRule`], each with its compiled source ([`RuleSource`]).

use http::header::{HeaderName, HeaderValue};
use http::Request;

use crate::config_error::ConfigError;
use crate::matcher::{CompiledEntry, MatcherEntry, Params, Undecided};
use crate::url_safety::RedirectStatus;

use super::destination::{Destination, LOCALE_PARAM};
use super::Locales;

/// A rule's source: the matcher entry, compiled as written and, with i18n, with the locale
/// group in front.
#[derive(Clone, Debug)]
pub(super) struct RuleSource {
    pub(super) location: String,
    plain: CompiledEntry,
    localized: Option<CompiledEntry>,
}

/// A match: the parameters and, for a localized match, the locale the path carried.
pub(super) struct Hit {
    pub(super) params: Params,
    pub(super) locale: Option<String>,
}

impl RuleSource {
    pub(super) fn compile(entry: MatcherEntry, location: &str) -> Result<Self, ConfigError> {
        let mut plain = CompiledEntry::compile(&entry, location).map_err(|e| {
            // The matcher names the entry; a rule names its `source` field.
            if e.location() == location && e.is_pattern() {
                e.at(format!("{location}.source"))
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

    /// Puts next.config's `basePath` in front (see `CompiledEntry::rule_under_base_path`);
    /// [`localize`](Self::localize) then puts the locale group after it.
    pub(super) fn under_base_path(&mut self, base: &str) -> Result<(), ConfigError> {
        if base.is_empty() {
            return Ok(());
        }
        let location = format!("{}.source", self.location);
        self.plain = self.plain.rule_under_base_path(base, &location)?;
        self.plain.prepare();
        Ok(())
    }

    /// With i18n and without `locale: false`, Next.js puts
    /// `/:nextInternalLocale(en|fr|...)` in front of the source (`processRoutes` in
    /// vercel/next.js `packages/next/src/lib/load-custom-routes.ts`), matched without case
    /// (see [`Locales::rule_group`]); the source as written stands for the default locale,
    /// which Next.js's router inserts into a path without one.
    pub(super) fn localize(&mut self, locales: &Locales) {
        let group = locales.rule_group();
        self.localized = self.plain.localized(&group, &group);
        if let Some(localized) = &mut self.localized {
            localized.prepare();
        }
    }

    /// The expressions of the source for a phase's prefilter (see `filter`): the plain one
    /// and the localized one, if any; `None` when one of them is not in the `regex` crate's
    /// syntax (the rule is then always tested on its own).
    pub(super) fn plain_path_sources(&self) -> Option<[Option<&str>; 2]> {
        let localized = match &self.localized {
            Some(entry) => Some(entry.plain_path_source()?),
            None => None,
        };
        Some([Some(self.plain.plain_path_source()?), localized])
    }

    /// The rule's captures for a request, under a locale prefix first; `Err` when that
    /// cannot be decided, which the caller answers rather than skip the rule (see
    /// `apply::undecided`).
    pub(super) fn captures<B>(
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
    pub(super) fn destination_locale<'h>(
        &self,
        hit: &'h Hit,
        locales: Option<&Locales>,
    ) -> Option<&'h str> {
        let locale = hit.locale.as_deref()?;
        (Some(locale) != locales.map(Locales::default_locale)).then_some(locale)
    }
}

/// A rule's source and destination, compiled; errors name `location`. Rewrite rules go to
/// a path on this origin only (`to_other_origins: false`).
fn compile_rule(
    entry: MatcherEntry,
    destination: &str,
    location: &str,
    to_other_origins: bool,
) -> Result<(RuleSource, Destination), ConfigError> {
    let source = RuleSource::compile(entry, location)?;
    let fail = |message: &str| {
        ConfigError::destination(format!("{location}.destination"), message)
            .with_text(destination.to_owned(), None)
    };
    let parsed = Destination::parse(destination).map_err(|m| fail(&m))?;
    if !to_other_origins && parsed.is_absolute() {
        return Err(fail(
            "a rewrite to another origin is not supported by rules; rewrite to a path on this origin",
        ));
    }
    Ok((source, parsed))
}

/// A redirect rule: next.config's `{source, destination, permanent | statusCode, has,
/// missing, locale}`.
///
/// The destination takes `:params` (see the [module docs](super)); the request's query is
/// kept and the destination's overrides it. The default status is 307; `permanent()` makes
/// it 308, and [`status`](Self::status) picks any of the five [`RedirectStatus`]es.
///
/// ```
/// use tower_proxy_fn::rules::Redirect;
/// use tower_proxy_fn::matcher::{Condition, ConditionKind, MatcherEntry};
///
/// # fn main() -> Result<(), tower_proxy_fn::ConfigError> {
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
    pub(super) source: RuleSource,
    pub(super) destination: Destination,
    pub(super) status: RedirectStatus,
}

impl Redirect {
    /// A temporary (307) redirect from `source` to `destination`.
    pub fn new(
        source: impl Into<MatcherEntry>,
        destination: impl AsRef<str>,
    ) -> Result<Self, ConfigError> {
        Self::compile(source.into(), destination.as_ref(), "redirect")
    }

    pub(crate) fn compile(
        entry: MatcherEntry,
        destination: &str,
        location: &str,
    ) -> Result<Self, ConfigError> {
        let (source, destination) = compile_rule(entry, destination, location, true)?;
        Ok(Redirect {
            source,
            destination,
            status: RedirectStatus::Temporary,
        })
    }

    /// The rule under next.config's `basePath` (`""` for none), which the config put in
    /// front of the destination already: the locale goes after it.
    pub(crate) fn under_base_path(mut self, base: &str) -> Result<Self, ConfigError> {
        self.source.under_base_path(base)?;
        self.destination.under_base_path(base);
        Ok(self)
    }

    /// Makes it permanent: 308 (next.config's `permanent: true`).
    #[must_use]
    pub fn permanent(mut self) -> Self {
        self.status = RedirectStatus::Permanent;
        self
    }

    /// Another redirect status (next.config's `statusCode`); a number becomes a
    /// [`RedirectStatus`] with `RedirectStatus::try_from(301)`.
    ///
    /// ```
    /// use tower_proxy_fn::rules::Redirect;
    /// use tower_proxy_fn::RedirectStatus;
    ///
    /// # fn main() -> Result<(), tower_proxy_fn::ConfigError> {
    /// let moved = Redirect::new("/old", "/new")?.status(RedirectStatus::MovedPermanently);
    /// # let _ = moved;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn status(mut self, status: RedirectStatus) -> Self {
        self.status = status;
        self
    }
}

/// A rewrite rule: next.config's `{source, destination, has, missing, locale}`.
///
/// The destination is a path on this origin with `:params`; parameters it does not use in
/// its path are added to the query, as Next.js does for rewrites. Where it runs depends on
/// how it is added: [`Rules::rewrite_before`], [`Rules::rewrite_after`] or
/// [`Rules::rewrite_fallback`].
///
/// [`Rules::rewrite_before`]: super::Rules::rewrite_before
/// [`Rules::rewrite_after`]: super::Rules::rewrite_after
/// [`Rules::rewrite_fallback`]: super::Rules::rewrite_fallback
///
/// ```
/// use tower_proxy_fn::rules::Rewrite;
///
/// # fn main() -> Result<(), tower_proxy_fn::ConfigError> {
/// let rewrite = Rewrite::new("/docs/:path*", "/api/docs/:path*")?;
/// # let _ = rewrite;
/// assert!(Rewrite::new("/x", "https://example.com/x").is_err()); // external: not supported
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Rewrite {
    pub(super) source: RuleSource,
    destination: Destination,
}

impl Rewrite {
    /// A rewrite from `source` to `destination` (a path on this origin).
    pub fn new(
        source: impl Into<MatcherEntry>,
        destination: impl AsRef<str>,
    ) -> Result<Self, ConfigError> {
        Self::compile(source.into(), destination.as_ref(), "rewrite")
    }

    pub(crate) fn compile(
        entry: MatcherEntry,
        destination: &str,
        location: &str,
    ) -> Result<Self, ConfigError> {
        let (source, parsed) = compile_rule(entry, destination, location, false)?;
        Ok(Rewrite {
            source,
            destination: parsed,
        })
    }

    /// The rule under next.config's `basePath` (see `Redirect::under_base_path`).
    pub(crate) fn under_base_path(mut self, base: &str) -> Result<Self, ConfigError> {
        self.source.under_base_path(base)?;
        self.destination.under_base_path(base);
        Ok(self)
    }

    /// The rewritten path and query for a request, if the rule matches.
    pub(super) fn apply<B>(
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
/// # fn main() -> Result<(), tower_proxy_fn::ConfigError> {
/// let rule = HeaderRule::new("/api/:path*", [("x-frame-options", "DENY"), ("x-section", ":path")])?;
/// # let _ = rule;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct HeaderRule {
    pub(super) source: RuleSource,
    pub(super) headers: Vec<(String, String)>,
}

impl HeaderRule {
    /// Headers for the responses to requests `source` matches.
    pub fn new<I, K, V>(source: impl Into<MatcherEntry>, headers: I) -> Result<Self, ConfigError>
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
    ) -> Result<Self, ConfigError> {
        let source = RuleSource::compile(entry, location)?;
        for (i, (key, value)) in headers.iter().enumerate() {
            // A `:param` is only known per request; the rest must be a valid header already.
            if !key.contains(':') && HeaderName::try_from(key.as_str()).is_err() {
                return Err(ConfigError::header(
                    format!("{location}.headers[{i}].key"),
                    "not a valid header name",
                )
                .with_text(key.clone(), None));
            }
            if !value.contains(':') && HeaderValue::try_from(value.as_str()).is_err() {
                return Err(ConfigError::header(
                    format!("{location}.headers[{i}].value"),
                    "not a valid header value",
                )
                .with_text(value.clone(), None));
            }
        }
        Ok(HeaderRule { source, headers })
    }

    /// The rule under next.config's `basePath` (`""` for none).
    pub(crate) fn under_base_path(mut self, base: &str) -> Result<Self, ConfigError> {
        self.source.under_base_path(base)?;
        Ok(self)
    }
}
