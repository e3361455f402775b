//! Destinations of redirects and rewrites: `:param` substitution into host, path and query.
//!
//! Follows Next.js's `prepareDestination` and `compileNonPath`
//! (vercel/next.js `packages/next/src/shared/lib/router/utils/prepare-destination.ts`):
//!
//! - the parameters are the source's named groups plus the `has` captures (a `has` item
//!   without `value` captures its key; one with named groups captures the groups; a `host`
//!   item without groups captures `host`);
//! - `:name` is replaced in the host name, the path (and `#hash`) and the query values; `:name*`,
//!   `:name+` and `:name?` take the same value (a repeated segment is already `a/b`), an
//!   optional one that has no value becomes empty;
//! - the request's query is kept and the destination's query overrides it key by key
//!   ("query merge order lowest priority to highest: initial URL query values, path segment
//!   values, destination specified query values");
//! - for rewrites only, when no parameter is used in the destination's host or path, every
//!   parameter is added to the query unless the destination's query names it already (Next.js
//!   leaves its internal `nextInternalLocale` out; so do we).

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};

use crate::matcher::Params;

/// The name Next.js gives the locale group it puts in front of localized sources.
pub(crate) const LOCALE_PARAM: &str = "nextInternalLocale";

/// Bytes escaped in a substituted path segment: what may not appear in a path (`/` stays, a
/// repeated parameter spans segments).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

/// A value put into the host keeps only what a host name is made of: anything else (`/`,
/// `@`, `:`, `?`) is escaped, so a captured value cannot end the host early and name
/// another (`evil.example/` in `:sub.example.com`); such a host then fails to parse and
/// the redirect is refused.
const HOST: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.');

/// Node's `querystring.escape` keeps `A-Z a-z 0-9 - _ . ! ~ * ' ( )` and escapes the rest.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// A destination, split once when the rule is built.
#[derive(Clone, Debug)]
pub(crate) struct Destination {
    /// `scheme://` when the destination is absolute.
    scheme: Option<String>,
    /// Host name template (absolute destinations only) and `:port` as written.
    host: String,
    port: String,
    /// Path template (starts with `/`), without query and hash.
    path: String,
    /// Query pairs as written (decoded), values may hold `:params`.
    query: Vec<(String, String)>,
    /// `#hash` template, with its `#`, or empty.
    hash: String,
    /// Parameter names the host or path use: those are not appended to a rewrite's query.
    used_in_path: Vec<String>,
    /// next.config's `basePath` the path starts with (`""` for none): a locale goes after it.
    base_path: String,
}

impl Destination {
    /// Splits a destination; `Err` says what is wrong with it.
    pub(crate) fn parse(destination: &str) -> Result<Self, String> {
        if destination.is_empty() {
            return Err("empty destination".into());
        }
        let (rest, hash) = match destination.find('#') {
            Some(i) => (&destination[..i], destination[i..].to_owned()),
            None => (destination, String::new()),
        };
        let (rest, query) = match rest.find('?') {
            Some(i) => (&rest[..i], parse_query(&rest[i + 1..])),
            None => (rest, Vec::new()),
        };
        let (scheme, host, port, path) = if let Some(after) = rest
            .strip_prefix("https://")
            .map(|a| ("https://", a))
            .or_else(|| rest.strip_prefix("http://").map(|a| ("http://", a)))
        {
            let (scheme, after) = after;
            let (authority, path) = match after.find('/') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, "/"),
            };
            if authority.is_empty() {
                return Err("absolute destination without a host".into());
            }
            let (host, port) = match authority.rfind(':') {
                Some(i) if authority[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
                    (&authority[..i], &authority[i..])
                }
                _ => (authority, ""),
            };
            (
                Some(scheme.to_owned()),
                host.to_owned(),
                port.to_owned(),
                path.to_owned(),
            )
        } else if rest.starts_with('/') {
            (None, String::new(), String::new(), rest.to_owned())
        } else {
            return Err("destination must start with \"/\", \"http://\" or \"https://\"".into());
        };
        let mut used_in_path = param_names(&path);
        used_in_path.extend(param_names(&host));
        used_in_path.extend(param_names(&hash));
        Ok(Destination {
            scheme,
            host,
            port,
            path,
            query,
            hash,
            used_in_path,
            base_path: String::new(),
        })
    }

    /// Marks the path as starting with next.config's `basePath` (the config put it there),
    /// so that a locale goes after it: Next.js's `processRoutes`
    /// (`packages/next/src/lib/load-custom-routes.ts`) writes
    /// `` `${destBasePath}/:nextInternalLocale${destination}` ``. Only for a path on this
    /// origin that starts with `base`.
    pub(crate) fn under_base_path(&mut self, base: &str) {
        let prefixed = self
            .path
            .strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if self.scheme.is_none() && prefixed {
            self.base_path = base.to_owned();
        }
    }

    /// Whether the destination names another origin (`https://...`).
    pub(crate) fn is_absolute(&self) -> bool {
        self.scheme.is_some()
    }

    /// The destination for one match: an absolute URL, or path, query and hash on this
    /// origin. `locale` is put in front of an internal path (localized rules).
    pub(crate) fn build(
        &self,
        params: &Params,
        request_query: Option<&str>,
        append_params: bool,
        locale: Option<&str>,
    ) -> String {
        let mut out = String::new();
        if let Some(scheme) = &self.scheme {
            out.push_str(scheme);
            out.push_str(&substitute(&self.host, params, |v| {
                utf8_percent_encode(v, HOST).to_string()
            }));
            out.push_str(&self.port);
        }
        let path = substitute(&self.path, params, |v| {
            utf8_percent_encode(v, PATH).to_string()
        });
        // A parameter must not turn the path into `//host` (Next.js normalizes repeated
        // slashes in a redirect's path for the same reason).
        let path = match &self.scheme {
            None => super::normalize::repeated_slashes(&path).unwrap_or(path),
            Some(_) => path,
        };
        match locale {
            Some(locale) if self.scheme.is_none() => {
                // The base path is literal (no `:param`) and free of `//`, so the built
                // path still starts with it.
                let rest = path.strip_prefix(self.base_path.as_str()).unwrap_or(&path);
                out.push_str(&path[..path.len() - rest.len()]);
                out.push('/');
                out.push_str(locale);
                if rest != "/" {
                    out.push_str(rest);
                }
            }
            _ => out.push_str(&path),
        }

        let mut own: Vec<(String, String)> = self
            .query
            .iter()
            .map(|(k, v)| (k.clone(), substitute(v, params, |v| v.to_owned())))
            .collect();
        if append_params
            && !params
                .iter()
                .any(|(name, _)| self.used_in_path.iter().any(|u| u == name))
        {
            for (name, value) in params.iter() {
                if name != LOCALE_PARAM && !own.iter().any(|(k, _)| k == name) {
                    own.push((name.to_owned(), value.to_owned()));
                }
            }
        }
        let query = merge_query(request_query.map(parse_query).unwrap_or_default(), own);
        if !query.is_empty() {
            out.push('?');
            for (i, (k, v)) in query.iter().enumerate() {
                if i > 0 {
                    out.push('&');
                }
                out.extend(utf8_percent_encode(k, QUERY));
                out.push('=');
                out.extend(utf8_percent_encode(v, QUERY));
            }
        }
        out.push_str(&substitute(&self.hash, params, |v| v.to_owned()));
        out
    }
}

/// `{...request, ...destination}` on multi-valued keys: a key the destination names takes the
/// destination's values, in the request's position; the destination's other keys follow.
fn merge_query(
    request: Vec<(String, String)>,
    own: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(request.len() + own.len());
    let mut placed: Vec<&str> = Vec::new();
    for (k, v) in &request {
        if own.iter().any(|(o, _)| o == k) {
            if !placed.contains(&k.as_str()) {
                placed.push(k);
                out.extend(own.iter().filter(|(o, _)| o == k).cloned());
            }
        } else {
            out.push((k.clone(), v.clone()));
        }
    }
    for (k, v) in &own {
        if !placed.contains(&k.as_str()) {
            out.push((k.clone(), v.clone()));
        }
    }
    out
}

/// `a=1&b=x%20y` as decoded pairs (`+` is a space, as Node's `querystring` reads it).
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Next.js's param names are letters only (`getSafeParamName`): a `has` item without value
/// captures header `x-user` as `xuser`.
fn safe_name(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphabetic).collect()
}

fn lookup<'p>(params: &'p Params, name: &str) -> Option<&'p str> {
    params.get(name).or_else(|| {
        params
            .iter()
            .find(|(key, _)| safe_name(key) == name)
            .map(|(_, value)| value)
    })
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The `:names` a template uses.
fn param_names(template: &str) -> Vec<String> {
    let bytes = template.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b':' {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && is_name_byte(bytes[end]) {
                end += 1;
            }
            if end > start {
                names.push(template[start..end].to_owned());
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    names
}

/// Replaces every `:name` (with an optional `*`, `+` or `?`) that has a value; an optional
/// one without a value becomes empty; anything else stays as written.
pub(crate) fn substitute(
    template: &str,
    params: &Params,
    encode: impl Fn(&str) -> String,
) -> String {
    if !template.contains(':') {
        return template.to_owned();
    }
    let bytes = template.as_bytes();
    let mut out = String::with_capacity(template.len());
    let mut last = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b':' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while end < bytes.len() && is_name_byte(bytes[end]) {
            end += 1;
        }
        if end == start {
            i += 1;
            continue;
        }
        let modifier = bytes
            .get(end)
            .copied()
            .filter(|b| matches!(b, b'*' | b'+' | b'?'));
        let after = end + usize::from(modifier.is_some());
        match lookup(params, &template[start..end]) {
            Some(value) => {
                out.push_str(&template[last..i]);
                out.push_str(&encode(value));
                last = after;
            }
            None if matches!(modifier, Some(b'*' | b'?')) => {
                out.push_str(&template[last..i]);
                // `/:rest*` without a value: the segment's `/` goes too.
                if out.ends_with('/') && out.len() > 1 {
                    out.pop();
                }
                last = after;
            }
            None => {}
        }
        i = after;
    }
    out.push_str(&template[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let mut p = Params::default();
        for (k, v) in pairs {
            p.push((*k).to_owned(), (*v).to_owned());
        }
        p
    }

    /// A captured value cannot end the host and name another one.
    #[test]
    fn host_values_cannot_name_another_host() {
        let destination = Destination::parse("https://:sub.example.com/x").unwrap();
        for value in [
            "evil.example/",
            "evil.example?",
            "evil.example#",
            "a@evil.example",
            "evil.example:1/",
        ] {
            let built = destination.build(&params(&[("sub", value)]), None, false, None);
            if let Ok(url) = url::Url::parse(&built) {
                assert!(
                    url.host_str().is_some_and(|h| h.ends_with(".example.com")),
                    "{value:?} gave {built}"
                );
            }
        }
        let built = destination.build(&params(&[("sub", "docs")]), None, false, None);
        assert_eq!(built, "https://docs.example.com/x");
    }

    #[test]
    fn substitutes_path_host_and_query() {
        // (name, destination, params, request query, append, expected)
        type Row<'a> = (
            &'a str,
            &'a str,
            &'a [(&'a str, &'a str)],
            Option<&'a str>,
            bool,
            &'a str,
        );
        let rows: &[Row] = &[
            (
                "path",
                "/news/:slug",
                &[("slug", "hello")],
                None,
                false,
                "/news/hello",
            ),
            (
                "repeat",
                "/docs/:path*",
                &[("path", "a/b")],
                None,
                false,
                "/docs/a/b",
            ),
            (
                "optional missing",
                "/docs/:path*",
                &[],
                None,
                false,
                "/docs",
            ),
            (
                "encoded",
                "/n/:slug",
                &[("slug", "a b")],
                None,
                false,
                "/n/a%20b",
            ),
            (
                "query value",
                "/s?q=:term",
                &[("term", "rust")],
                None,
                false,
                "/s?q=rust",
            ),
            // Next.js docs: `/old-blog/:post(\d{1,})` -> `/blog/:post`, query kept.
            (
                "request query kept",
                "/blog/:post",
                &[("post", "1")],
                Some("x=1"),
                true,
                "/blog/1?x=1",
            ),
            (
                "destination query wins",
                "/s?from=rule",
                &[],
                Some("from=user&q=1"),
                false,
                "/s?from=rule&q=1",
            ),
            // prepareDestination: params unused in the path go to a rewrite's query.
            (
                "append",
                "/api",
                &[("slug", "a")],
                None,
                true,
                "/api?slug=a",
            ),
            (
                "no append when used",
                "/api/:slug",
                &[("slug", "a"), ("other", "b")],
                None,
                true,
                "/api/a",
            ),
            (
                "no append for redirects",
                "/api",
                &[("slug", "a")],
                None,
                false,
                "/api",
            ),
            (
                "host",
                "https://:sub.example.com/x",
                &[("sub", "docs")],
                None,
                false,
                "https://docs.example.com/x",
            ),
            (
                "port kept",
                "http://localhost:8080/:p",
                &[("p", "a")],
                None,
                false,
                "http://localhost:8080/a",
            ),
            (
                "has key",
                "/u/:xuser",
                &[("x-user", "ann")],
                None,
                false,
                "/u/ann",
            ),
            ("unknown stays", "/a/:nope", &[], None, false, "/a/:nope"),
            (
                "hash",
                "/a#:frag",
                &[("frag", "top")],
                None,
                false,
                "/a#top",
            ),
            (
                "no open redirect",
                "/:slug",
                &[("slug", "/evil.example")],
                None,
                false,
                "/evil.example",
            ),
        ];
        for (name, dest, p, q, append, want) in rows {
            let d = Destination::parse(dest).unwrap();
            assert_eq!(d.build(&params(p), *q, *append, None), *want, "{name}");
        }
    }

    #[test]
    fn locale_prefix() {
        let d = Destination::parse("/contact").unwrap();
        assert_eq!(
            d.build(&params(&[]), None, false, Some("fr")),
            "/fr/contact"
        );
        let root = Destination::parse("/").unwrap();
        assert_eq!(root.build(&params(&[]), None, false, Some("fr")), "/fr");
    }

    #[test]
    fn locale_after_the_base_path() {
        let mut d = Destination::parse("/docs/contact/:slug").unwrap();
        d.under_base_path("/docs");
        let p = params(&[("slug", "a")]);
        assert_eq!(d.build(&p, None, false, Some("fr")), "/docs/fr/contact/a");
        assert_eq!(d.build(&p, None, false, None), "/docs/contact/a");
        // The destination `/` under the base path is the base path alone.
        let mut root = Destination::parse("/docs").unwrap();
        root.under_base_path("/docs");
        assert_eq!(
            root.build(&params(&[]), None, false, Some("fr")),
            "/docs/fr"
        );
        // Not under it (`basePath: false`, or `/docsx`): the locale goes first.
        let mut other = Destination::parse("/docsx/a").unwrap();
        other.under_base_path("/docs");
        assert_eq!(
            other.build(&params(&[]), None, false, Some("fr")),
            "/fr/docsx/a"
        );
    }

    #[test]
    fn refuses_relative_destinations() {
        assert!(Destination::parse("news").is_err());
        assert!(Destination::parse("").is_err());
        assert!(Destination::parse("https:///x").is_err());
    }
}
