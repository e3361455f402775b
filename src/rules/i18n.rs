//! Locales: the list and the default (next.config's `i18n`), negotiation, and the
//! locale-prefix redirect.

use std::fmt;
use std::sync::Arc;

use crate::config_error::ConfigError;
use crate::request::ProxyRequest;
use crate::response::ProxyResponse;

/// The cookie Next.js reads the user's chosen locale from ("Next.js supports overriding the
/// accept-language header with a `NEXT_LOCALE=the-locale` cookie", Next.js docs,
/// Internationalization, "Leveraging the NEXT_LOCALE cookie").
pub const DEFAULT_LOCALE_COOKIE: &str = "NEXT_LOCALE";

/// The locales of a site and its default: next.config's `i18n: {locales, defaultLocale}`.
///
/// Give them to [`Rules::i18n`](super::Rules::i18n) so that rules match with a locale
/// prefix, and use them in a proxy function to pick a locale and redirect to it:
///
/// ```
/// use tower_proxy_fn::rules::Locales;
/// use tower_proxy_fn::{ProxyRequest, ProxyResponse};
///
/// let locales = Locales::new(["en", "fr", "ja"], "en");
/// let request = ProxyRequest::from_request(
///     http::Request::get("/products?page=2")
///         .header("accept-language", "fr;q=0.5, ja-JP")
///         .body(())
///         .unwrap(),
/// );
/// assert_eq!(locales.negotiate(&request), "ja");
/// let redirect = locales.redirect_to_locale(&request).unwrap();
/// assert_eq!(redirect.redirect_url(), Some("/ja/products?page=2"));
/// ```
#[derive(Clone)]
pub struct Locales {
    inner: Arc<Inner>,
}

struct Inner {
    locales: Vec<String>,
    default: String,
    cookie: String,
}

impl Locales {
    /// The locales and the default one.
    ///
    /// # Panics
    ///
    /// When the list is empty, a locale is not a language tag (letters, digits and `-`), or
    /// the default is not in the list: use [`Locales::try_new`] for data read at run time.
    #[track_caller]
    pub fn new<I, S>(locales: I, default: &str) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        match Self::try_new(locales, default) {
            Ok(locales) => locales,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`Locales::new`] that returns an error instead of panicking.
    pub fn try_new<I, S>(locales: I, default: &str) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::checked(
            locales.into_iter().map(Into::into).collect(),
            default.to_owned(),
            "i18n",
        )
    }

    pub(crate) fn checked(
        locales: Vec<String>,
        default: String,
        location: &str,
    ) -> Result<Self, ConfigError> {
        if locales.is_empty() {
            return Err(error(format!("{location}.locales"), "no locales"));
        }
        for (i, locale) in locales.iter().enumerate() {
            let tag = !locale.is_empty()
                && locale
                    .split('-')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
            if !tag {
                return Err(error(
                    format!("{location}.locales[{i}]"),
                    format!("{locale:?} is not a language tag (letters, digits and '-')"),
                ));
            }
        }
        if !locales.contains(&default) {
            return Err(error(
                format!("{location}.defaultLocale"),
                format!("{default:?} is not one of the locales {locales:?}"),
            ));
        }
        Ok(Locales {
            inner: Arc::new(Inner {
                locales,
                default,
                cookie: DEFAULT_LOCALE_COOKIE.to_owned(),
            }),
        })
    }

    /// Reads the user's choice from another cookie than `NEXT_LOCALE`.
    #[must_use]
    pub fn cookie_name(self, name: impl Into<String>) -> Self {
        Locales {
            inner: Arc::new(Inner {
                locales: self.inner.locales.clone(),
                default: self.inner.default.clone(),
                cookie: name.into(),
            }),
        }
    }

    /// The locales, in their configured order.
    pub fn locales(&self) -> &[String] {
        &self.inner.locales
    }

    /// The default locale.
    pub fn default_locale(&self) -> &str {
        &self.inner.default
    }

    /// The configured locale equal to `tag`, ignoring ASCII case.
    pub fn find(&self, tag: &str) -> Option<&str> {
        self.inner
            .locales
            .iter()
            .find(|l| l.eq_ignore_ascii_case(tag))
            .map(String::as_str)
    }

    /// The locale a path starts with (`/fr/about` gives `fr`), compared without case as
    /// Next.js's `normalizeLocalePath` does.
    pub fn locale_of_path(&self, path: &str) -> Option<&str> {
        let first = path.strip_prefix('/')?.split('/').next()?;
        self.find(first)
    }

    /// The locale for a request: the locale cookie if it names a configured locale, then
    /// the best match of `Accept-Language` ([`from_accept_language`](Self::from_accept_language)),
    /// then the default.
    pub fn negotiate(&self, request: &ProxyRequest) -> &str {
        if let Some(locale) = request
            .cookies()
            .get(&self.inner.cookie)
            .and_then(|c| self.find(c))
        {
            return locale;
        }
        request
            .header("accept-language")
            .and_then(|h| self.from_accept_language(h))
            .unwrap_or(&self.inner.default)
    }

    /// The configured locale an `Accept-Language` header prefers, if any.
    ///
    /// As Next.js's `acceptLanguage` (vercel/next.js `packages/next/src/server/accept-header.ts`):
    /// ranges are ordered by q-value (`q=0` means "not this one"); at equal q, one that names
    /// a configured locale comes in the configured order, then header order; `*` takes the
    /// first configured locale the header does not name; a configured `en-US` also answers
    /// a range `en`. Beyond Next.js, a range with a region that matches nothing falls back to
    /// its language (`ja-JP` gives `ja`), RFC 4647's "lookup" (section 3.4). A malformed
    /// item is skipped.
    ///
    /// ```
    /// use tower_proxy_fn::rules::Locales;
    ///
    /// let locales = Locales::new(["en", "fr", "ja"], "en");
    /// assert_eq!(locales.from_accept_language("fr;q=0.5, ja-JP"), Some("ja"));
    /// assert_eq!(locales.from_accept_language("de, fr;q=0"), None);
    /// ```
    pub fn from_accept_language(&self, header: &str) -> Option<&str> {
        // Configured locales and their prefixes (`en-us` -> `en`), lower-cased, with the
        // configured locale they stand for and a rank.
        let mut known: Vec<(String, usize)> = Vec::new();
        for (index, locale) in self.inner.locales.iter().enumerate() {
            let lower = locale.to_ascii_lowercase();
            let mut parts: Vec<&str> = lower.split('-').collect();
            if !known.iter().any(|(k, _)| *k == lower) {
                known.push((lower.clone(), index));
            }
            while parts.len() > 1 {
                parts.pop();
                let prefix = parts.join("-");
                if !known.iter().any(|(k, _)| *k == prefix) {
                    known.push((prefix, index));
                }
            }
        }
        let rank_of = |token: &str| known.iter().position(|(k, _)| k == token);

        struct Range {
            token: String,
            q: f32,
            pos: usize,
            pref: Option<usize>,
        }
        let mut ranges: Vec<Range> = Vec::new();
        for (pos, item) in header.split(',').enumerate() {
            let item: String = item.chars().filter(|c| *c != ' ' && *c != '\t').collect();
            if item.is_empty() {
                continue;
            }
            let mut params = item.split(';');
            let token = params.next().unwrap_or("").to_ascii_lowercase();
            if token.is_empty() {
                continue;
            }
            let mut q = 1.0;
            let mut malformed = false;
            for param in params {
                match param.split_once('=') {
                    Some(("q" | "Q", value)) => match value.parse::<f32>() {
                        Ok(v) if (0.0..=1.0).contains(&v) => q = v,
                        _ => malformed = true,
                    },
                    _ => malformed = true,
                }
            }
            if malformed || q == 0.0 {
                continue;
            }
            ranges.push(Range {
                pref: rank_of(&token),
                token,
                q,
                pos,
            });
        }
        ranges.sort_by(|a, b| {
            b.q.total_cmp(&a.q)
                .then_with(|| match (a.pref, b.pref) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
                .then_with(|| a.pos.cmp(&b.pos))
        });
        for range in &ranges {
            if range.token == "*" {
                let named = |locale: &str| {
                    ranges
                        .iter()
                        .any(|r| r.token == locale.to_ascii_lowercase())
                };
                if let Some(locale) = self.inner.locales.iter().find(|l| !named(l)) {
                    return Some(locale);
                }
                continue;
            }
            // Exact, then the range with its subtags removed one by one.
            let mut candidate = range.token.as_str();
            loop {
                if let Some(i) = rank_of(candidate) {
                    return Some(&self.inner.locales[known[i].1]);
                }
                match candidate.rfind('-') {
                    Some(i) => candidate = &candidate[..i],
                    None => break,
                }
            }
        }
        None
    }

    /// The seed article's i18n middleware: a path that does not start with a locale is
    /// redirected (307) to the same path under the negotiated locale, query kept
    /// (`/products?page=2` to `/ja/products?page=2`); `None` when the path has a locale.
    pub fn redirect_to_locale(&self, request: &ProxyRequest) -> Option<ProxyResponse> {
        if self.locale_of_path(request.path()).is_some() {
            return None;
        }
        let locale = self.negotiate(request);
        let path = request.path();
        // The article writes `/${locale}${pathname}`: `/` becomes `/fr/`.
        let mut target = format!("/{locale}{path}");
        if let Some(query) = request.query_string() {
            target.push('?');
            target.push_str(query);
        }
        Some(ProxyResponse::redirect(target))
    }

    /// The locale group the proxy matcher's entries get in front under i18n:
    /// `((?!_next/)[^/.]{1,})`, any first segment without a dot that is not `_next/`, in any
    /// case. That is Next.js's own: `getMiddlewareMatchers` (vercel/next.js
    /// `packages/next/src/build/analysis/get-page-static-info.ts`, 16.4.6) writes
    /// `` source = `/:nextInternalLocale((?!_next/)[^/.]{1,})${isRoot ? '' : source}` ``,
    /// not the list of locales. A list would let a spelling it does not name (`/FR/`, or a
    /// locale the application's router accepts but the config does not list) reach a route
    /// such as `/{locale}/dashboard` without the proxy deciding on it.
    pub(crate) fn source_group(&self) -> String {
        "((?!_next/)[^/.]{1,})".to_owned()
    }

    /// The locale group in front of a rule's source: the configured locales, each letter
    /// matching either case (`fr` gives `[fF][rR]`), so that a rule sees the locales
    /// [`locale_of_path`](Self::locale_of_path) sees.
    ///
    /// Next.js writes the list (`processRoutes` in `packages/next/src/lib/load-custom-routes.ts`:
    /// `` `/:nextInternalLocale(${config.i18n.locales.map(escapeStringRegexp).join('|')})` ``)
    /// and matches custom routes without case (`buildCustomRoute` in
    /// `packages/next/src/server/lib/router-utils/filesystem.ts` passes
    /// `sensitive: experimental.caseSensitiveRoutes`, `false` by default), while
    /// `normalizeLocalePath` (`packages/next/src/shared/lib/i18n/normalize-locale-path.ts`)
    /// compares `segment.toLowerCase()` with the lower-cased locales. Our sources are
    /// case-sensitive, so only the locale group ignores case: one case rule for the locale,
    /// in matching and in detection. The captured spelling is mapped back to the configured
    /// one with [`find`](Self::find).
    pub(crate) fn rule_group(&self) -> String {
        let alternatives: Vec<String> = self
            .inner
            .locales
            .iter()
            .map(|locale| {
                locale
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphabetic() {
                            format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                        } else {
                            regex::escape(c.encode_utf8(&mut [0; 4]))
                        }
                    })
                    .collect()
            })
            .collect();
        format!("({})", alternatives.join("|"))
    }
}

fn error(location: String, message: impl Into<String>) -> ConfigError {
    ConfigError::locale(location, message)
}

impl fmt::Debug for Locales {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Locales")
            .field("locales", &self.inner.locales)
            .field("default", &self.inner.default)
            .field("cookie", &self.inner.cookie)
            .finish()
    }
}
