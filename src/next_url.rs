//! [`NextUrl`]: the request's URL as Next.js's `request.nextUrl` reads it, with the base
//! path and the locale taken apart from the pathname, and [`SearchParams`].
//!
//! The semantics are Next.js 16.4.6's: `NextURL` (`packages/next/src/server/web/next-url.ts`)
//! analyzes the pathname with `getNextPathnameInfo`
//! (`packages/next/src/shared/lib/router/utils/get-next-pathname-info.ts`) and builds it
//! back with `formatNextPathnameInfo` (`format-next-pathname-info.ts` beside it, which
//! calls `addLocale` in `add-locale.ts`).

use std::fmt;
use std::sync::OnceLock;

use url::form_urlencoded;
use url::Url;

use crate::request::ProxyRequest;
use crate::rules::Locales;
use crate::settings::NextConfig;

/// Whether `path` is `prefix` or lies under it (`pathHasPrefix`: `/docs` and `/docs/a`,
/// not `/docsx`).
pub(crate) fn path_has_prefix(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl ProxyRequest {
    /// The request's URL as Next.js's `request.nextUrl` reads it: a [`NextUrl`] to read and
    /// edit (it is a copy, as `request.nextUrl.clone()` is), then to hand to
    /// [`ProxyResponse::rewrite`](crate::ProxyResponse::rewrite) or
    /// [`redirect`](crate::ProxyResponse::redirect).
    ///
    /// Its [`pathname`](NextUrl::pathname) has neither the base path
    /// ([`ProxyLayer::with_base_path`](crate::ProxyLayer::with_base_path)) nor the locale
    /// (with [`Rules::i18n`](crate::rules::Rules::i18n) given to
    /// [`ProxyLayer::with_rules`](crate::ProxyLayer::with_rules)); its origin is
    /// [`url`](Self::url)'s.
    ///
    /// ```
    /// use tower_proxy_fn::{ProxyRequest, ProxyResponse};
    ///
    /// async fn proxy(req: ProxyRequest) -> ProxyResponse {
    ///     let mut url = req.next_url();
    ///     if url.pathname() == "/search" {
    ///         url.set_pathname("/api/search");
    ///         url.search_params_mut().set("from", "proxy");
    ///         return ProxyResponse::rewrite(url);
    ///     }
    ///     ProxyResponse::next()
    /// }
    /// # let _ = tower_proxy_fn::ProxyLayer::new(proxy);
    /// ```
    pub fn next_url(&self) -> NextUrl {
        NextUrl::from_config(self.url().clone(), &self.head.settings.next_config)
    }
}

/// The error of [`NextUrl::set_locale`] for a locale the configuration does not list (Next.js
/// throws `TypeError: The NextURL configuration includes no locale "de"`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownLocale {
    /// The locale asked for.
    pub locale: String,
}

impl fmt::Display for UnknownLocale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the NextUrl configuration includes no locale {:?}",
            self.locale
        )
    }
}

impl std::error::Error for UnknownLocale {}

/// A request URL with Next.js's `nextUrl` semantics; from [`ProxyRequest::next_url`].
///
/// - [`pathname`](Self::pathname) is the path without the base path and the locale;
/// - [`locale`](Self::locale) is the locale the path starts with, else the default one
///   (`""` without i18n); [`default_locale`](Self::default_locale);
/// - [`base_path`](Self::base_path) is the base path when the path is under it, else `""`;
/// - [`search_params`](Self::search_params) works like `URLSearchParams`.
///
/// Its text ([`href`](Self::href), also its [`AsRef<str>`] and [`Display`](fmt::Display), so
/// `ProxyResponse::rewrite(url)` and `redirect(url)` take it) puts them back together by
/// Next.js's rules: the base path first, then the locale, except the default one, an `/api`
/// path, or a path that already starts with it; a trailing `/` stays if the request had one.
///
/// ```
/// use tower_proxy_fn::next_url::NextUrl;
/// use tower_proxy_fn::rules::Locales;
///
/// let locales = Locales::new(["en", "fr"], "en");
/// let url = "http://example.com/docs/fr/products?page=2".parse().unwrap();
/// let mut next = NextUrl::new(url, "/docs", Some(&locales));
/// assert_eq!(next.pathname(), "/products");
/// assert_eq!(next.locale(), "fr");
/// assert_eq!(next.base_path(), "/docs");
/// assert_eq!(next.search_params().get("page"), Some("2"));
///
/// next.set_locale("en").unwrap(); // the default: no prefix
/// next.set_pathname("/cart");
/// assert_eq!(next.href(), "http://example.com/docs/cart?page=2");
/// ```
///
/// A rewrite built from it goes to the path with the locale prefix as written here: where
/// Next.js forces the default locale into a rewrite's path (its pages live under a locale
/// internally), an axum router has the routes the application gave it.
#[derive(Clone, Debug)]
pub struct NextUrl {
    /// Scheme, authority and fragment; the path and query live in the fields below.
    url: Url,
    pathname: String,
    base_path: String,
    locale: Option<String>,
    locales: Option<Locales>,
    /// Whether the request's path ended with `/` (`getNextPathnameInfo`'s `trailingSlash`).
    trailing_slash: bool,
    search: SearchParams,
    /// The text ([`href`](Self::href)), built on first use after an edit: every `&mut self`
    /// method empties it, so that no edit can leave it stale.
    text: OnceLock<String>,
}

impl NextUrl {
    /// Analyzes `url` as Next.js does for an application with this base path (`""` for
    /// none) and these locales.
    pub fn new(url: Url, base_path: &str, locales: Option<&Locales>) -> Self {
        Self::analyze(url, base_path, locales.cloned())
    }

    pub(crate) fn from_config(url: Url, config: &NextConfig) -> Self {
        Self::analyze(url, &config.base_path, config.locales.clone())
    }

    fn analyze(mut url: Url, base_path: &str, locales: Option<Locales>) -> Self {
        let full = url.path().to_owned();
        // `pathname !== '/' ? pathname.endsWith('/') : trailingSlash` (next.config's
        // `trailingSlash`, false by default: the layer's rules remove a trailing slash
        // before the proxy runs unless told to add one).
        let trailing_slash = full != "/" && full.ends_with('/');
        let mut pathname = full.as_str();
        let mut found_base = "";
        if !base_path.is_empty() && path_has_prefix(pathname, base_path) {
            // `removePathPrefix`: what is left, or `/`.
            pathname = &pathname[base_path.len()..];
            found_base = base_path;
        }
        let mut pathname = if pathname.is_empty() { "/" } else { pathname }.to_owned();
        let mut locale = None;
        if let Some(locales) = &locales {
            // `normalizeLocalePath`: the first segment, compared without case, names the
            // locale in its configured spelling.
            if let Some(found) = locales.locale_of_path(&pathname) {
                let rest = &pathname[1 + found.len()..];
                let rest = if rest.is_empty() { "/" } else { rest };
                locale = Some(found.to_owned());
                pathname = rest.to_owned();
            } else {
                locale = Some(locales.default_locale().to_owned());
            }
        }
        let search = SearchParams::parse(url.query().unwrap_or(""));
        url.set_query(None);
        url.set_path("/");
        NextUrl {
            url,
            pathname,
            base_path: found_base.to_owned(),
            locale,
            locales,
            trailing_slash,
            search,
            text: OnceLock::new(),
        }
    }

    /// Empties the cached text before an edit.
    fn edited(&mut self) -> &mut Self {
        self.text = OnceLock::new();
        self
    }

    /// The path without the base path and the locale (`/products` for `/docs/fr/products`).
    pub fn pathname(&self) -> &str {
        &self.pathname
    }

    /// Replaces the pathname, normalized as a URL's (`url.pathname = '/x'`): a missing
    /// leading `/` is added, dot segments are resolved, characters a path cannot hold are
    /// percent-encoded.
    pub fn set_pathname(&mut self, pathname: &str) {
        self.edited();
        let mut scratch = self.url.clone();
        scratch.set_path(pathname);
        self.pathname = scratch.path().to_owned();
    }

    /// The locale: the one the path starts with, else the default; `""` without i18n.
    pub fn locale(&self) -> &str {
        self.locale.as_deref().unwrap_or("")
    }

    /// Sets the locale the URL's text is built with (`url.locale = 'fr'`).
    ///
    /// # Errors
    ///
    /// [`UnknownLocale`] when `locale` is not one of the configured locales (compared with
    /// case, as Next.js's `locales.includes`), or there is no i18n configuration.
    pub fn set_locale(&mut self, locale: &str) -> Result<(), UnknownLocale> {
        match &self.locales {
            Some(locales) if locales.locales().iter().any(|l| l == locale) => {
                self.text = OnceLock::new();
                self.locale = Some(locale.to_owned());
                Ok(())
            }
            _ => Err(UnknownLocale {
                locale: locale.to_owned(),
            }),
        }
    }

    /// The default locale; `None` without i18n.
    pub fn default_locale(&self) -> Option<&str> {
        self.locales.as_ref().map(Locales::default_locale)
    }

    /// The base path the request's path is under (`/docs`), or `""`.
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// Sets the base path the URL's text starts with (`url.basePath = '/v2'`); a missing
    /// leading `/` is added, as Next.js's setter does.
    pub fn set_base_path(&mut self, base_path: &str) {
        self.edited().base_path = if base_path.starts_with('/') || base_path.is_empty() {
            base_path.to_owned()
        } else {
            format!("/{base_path}")
        };
    }

    /// The query parameters (`url.searchParams`).
    pub fn search_params(&self) -> &SearchParams {
        &self.search
    }

    /// The query parameters, to edit.
    pub fn search_params_mut(&mut self) -> &mut SearchParams {
        &mut self.edited().search
    }

    /// The query with its `?`, or `""` when it is empty (`url.search`).
    pub fn search(&self) -> String {
        let query = self.search.to_string();
        if query.is_empty() {
            query
        } else {
            format!("?{query}")
        }
    }

    /// Replaces the query (`url.search = '?a=1'`; `""` removes it).
    pub fn set_search(&mut self, search: &str) {
        self.edited().search = SearchParams::parse(search.strip_prefix('?').unwrap_or(search));
    }

    /// The path as Next.js's `formatNextPathnameInfo` builds it: locale (unless the
    /// default, an `/api` path, or already there), then the base path, then the trailing
    /// `/` as the request had it.
    pub fn formatted_pathname(&self) -> String {
        let default = self.default_locale();
        let mut path = add_locale(&self.pathname, self.locale.as_deref(), default);
        if !self.trailing_slash {
            path = remove_trailing_slash(path);
        }
        path = add_path_prefix(path, &self.base_path);
        if self.trailing_slash {
            if !path.ends_with('/') {
                path.push('/');
            }
            path
        } else {
            remove_trailing_slash(path)
        }
    }

    /// The path, query and fragment, without the origin (`/docs/fr/cart?page=2`).
    pub fn path_and_query(&self) -> String {
        let mut out = self.formatted_pathname();
        out.push_str(&self.search());
        if let Some(fragment) = self.url.fragment() {
            out.push('#');
            out.push_str(fragment);
        }
        out
    }

    /// The whole URL (`url.href`): origin, then [`path_and_query`](Self::path_and_query).
    /// It is what the response builders take: `ProxyResponse::redirect(url)`.
    pub fn href(&self) -> &str {
        self.text.get_or_init(|| {
            let mut out = self.url.origin().ascii_serialization();
            out.push_str(&self.path_and_query());
            out
        })
    }

    /// The URL as a [`Url`].
    pub fn to_url(&self) -> Url {
        // The text of a parsed URL with a path built from parsed pieces parses again.
        Url::parse(self.href()).unwrap_or_else(|_| self.url.clone())
    }
}

impl AsRef<str> for NextUrl {
    fn as_ref(&self) -> &str {
        self.href()
    }
}

impl fmt::Display for NextUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.href())
    }
}

impl From<NextUrl> for String {
    fn from(url: NextUrl) -> String {
        url.href().to_owned()
    }
}

/// `addLocale`: `/{locale}` in front of `path`, unless there is no locale, it is the
/// default, the path is under `/api`, or it already starts with the locale (without case).
fn add_locale(path: &str, locale: Option<&str>, default: Option<&str>) -> String {
    let Some(locale) = locale.filter(|l| !l.is_empty() && Some(*l) != default) else {
        return path.to_owned();
    };
    let lower = path.to_ascii_lowercase();
    if path_has_prefix(&lower, "/api")
        || path_has_prefix(&lower, &format!("/{}", locale.to_ascii_lowercase()))
    {
        return path.to_owned();
    }
    add_path_prefix(path.to_owned(), &format!("/{locale}"))
}

/// `addPathPrefix`: `prefix` in front of an absolute path.
fn add_path_prefix(path: String, prefix: &str) -> String {
    if !path.starts_with('/') || prefix.is_empty() {
        return path;
    }
    format!("{prefix}{path}")
}

/// `removeTrailingSlash`: one trailing `/` off, `/` stays.
fn remove_trailing_slash(mut path: String) -> String {
    if path.len() > 1 && path.ends_with('/') {
        path.pop();
    }
    path
}

/// The query parameters of a [`NextUrl`], with `URLSearchParams`'s methods: the pairs in
/// their order, repeated names kept.
///
/// Until it is edited, its text is the query as the request sent it; after an edit, the
/// pairs serialized as `application/x-www-form-urlencoded` (a space becomes `+`), as
/// `URLSearchParams` writes them back into its URL.
///
/// ```
/// use tower_proxy_fn::next_url::SearchParams;
///
/// let mut params = SearchParams::parse("tag=a&q=x%20y&tag=b");
/// assert_eq!(params.get("tag"), Some("a"));
/// assert_eq!(params.get_all("tag"), ["a", "b"]);
/// params.set("tag", "c"); // the first `tag` takes the value, the others go
/// params.append("page", "2");
/// params.delete("q");
/// assert_eq!(params.to_string(), "tag=c&page=2");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchParams {
    pairs: Vec<(String, String)>,
    /// The query as sent, while the pairs are unedited.
    raw: Option<String>,
}

impl SearchParams {
    /// Parses a query string (without its `?`), as `new URLSearchParams(query)` does.
    pub fn parse(query: &str) -> Self {
        SearchParams {
            pairs: form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            raw: Some(query.to_owned()),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// Gives `name` this one value: the first pair named so takes it in place, the others
    /// are removed; appended when there is none.
    pub fn set(&mut self, name: &str, value: &str) {
        self.raw = None;
        let mut seen = false;
        self.pairs.retain_mut(|(k, v)| {
            if k != name {
                return true;
            }
            if seen {
                return false;
            }
            seen = true;
            *v = value.to_owned();
            true
        });
        if !seen {
            self.pairs.push((name.to_owned(), value.to_owned()));
        }
    }

    /// Adds a pair at the end.
    pub fn append(&mut self, name: &str, value: &str) {
        self.raw = None;
        self.pairs.push((name.to_owned(), value.to_owned()));
    }

    /// Removes every pair named `name`.
    pub fn delete(&mut self, name: &str) {
        self.raw = None;
        self.pairs.retain(|(k, _)| k != name);
    }

    /// The pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl fmt::Display for SearchParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(raw) = &self.raw {
            return f.write_str(raw);
        }
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        serializer.extend_pairs(&self.pairs);
        f.write_str(&serializer.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyzed(url: &str, base: &str, locales: Option<&Locales>) -> NextUrl {
        NextUrl::new(url.parse().unwrap(), base, locales)
    }

    #[test]
    fn formats_by_nextjs_rules() {
        let locales = Locales::new(["en", "fr", "nl-NL"], "en");
        /// (name, url, base path, set locale, set pathname, expected href's path)
        type Row<'a> = (
            &'a str,
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            &'a str,
        );
        let rows: &[Row<'_>] = &[
            (
                "default locale has no prefix",
                "http://h/fr/a",
                "",
                Some("en"),
                None,
                "/a",
            ),
            (
                "other locale gets one",
                "http://h/a",
                "",
                Some("fr"),
                None,
                "/fr/a",
            ),
            (
                "detected locale kept",
                "http://h/nl-nl/a",
                "",
                None,
                None,
                "/nl-NL/a",
            ),
            (
                "api path gets none",
                "http://h/a",
                "",
                Some("fr"),
                Some("/api/x"),
                "/api/x",
            ),
            (
                "path with the locale",
                "http://h/a",
                "",
                Some("fr"),
                Some("/FR/x"),
                "/FR/x",
            ),
            ("root under a locale", "http://h/fr", "", None, None, "/fr"),
            (
                "trailing slash kept",
                "http://h/fr/",
                "",
                None,
                Some("/b"),
                "/fr/b/",
            ),
            (
                "base path first",
                "http://h/docs/fr/a",
                "/docs",
                None,
                None,
                "/docs/fr/a",
            ),
            (
                "base path root",
                "http://h/docs",
                "/docs",
                None,
                None,
                "/docs",
            ),
            (
                "outside the base path",
                "http://h/other",
                "/docs",
                None,
                None,
                "/other",
            ),
        ];
        for (name, url, base, locale, pathname, expected) in rows {
            let mut next = analyzed(url, base, Some(&locales));
            if let Some(locale) = locale {
                next.set_locale(locale).unwrap();
            }
            if let Some(pathname) = pathname {
                next.set_pathname(pathname);
            }
            assert_eq!(next.path_and_query(), *expected, "{name}");
        }
    }

    #[test]
    fn without_i18n_there_is_no_locale() {
        let mut next = analyzed("http://h/fr/a", "", None);
        assert_eq!((next.pathname(), next.locale()), ("/fr/a", ""));
        assert_eq!(next.default_locale(), None);
        assert!(next.set_locale("fr").is_err());
    }

    #[test]
    fn set_locale_refuses_an_unlisted_locale() {
        let locales = Locales::new(["en", "fr"], "en");
        let mut next = analyzed("http://h/a", "", Some(&locales));
        let error = next.set_locale("FR").unwrap_err();
        assert_eq!(error.locale, "FR");
        assert_eq!(next.locale(), "en");
    }

    #[test]
    fn the_query_stays_as_sent_until_edited() {
        let mut next = analyzed("http://h/s?q=a%20b&x", "", None);
        assert_eq!(next.search(), "?q=a%20b&x");
        next.search_params_mut().append("y", "1 2");
        assert_eq!(next.search(), "?q=a+b&x=&y=1+2");
        next.set_search("");
        assert_eq!(next.href(), "http://h/s");
    }

    #[test]
    fn set_pathname_normalizes_as_a_url_does() {
        let mut next = analyzed("http://h/", "", None);
        next.set_pathname("a/../b c");
        assert_eq!(next.pathname(), "/b%20c");
    }
}
