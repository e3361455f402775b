//! A compiled matcher entry: one source with its `has` and `missing` conditions.
//!
//! The same entry serves `config.matcher` and next.config redirects, rewrites and headers
//! (`rules`), which also take its captures for `:param` substitution.

use http::Request;

use super::condition::CompiledCondition;
use super::config::{Condition, MatcherEntry};
use super::forms::Forms;
use super::js_regex::{Program, Undecided};
use super::{path, Params, MAX_PATH_LEN};
use crate::config_error::ConfigError;
use crate::request_values::decode_uri_component;

/// The longest source accepted, in characters.
const MAX_SOURCE_LEN: usize = 4096;

/// One compiled entry: a source and its conditions. Reusable for
/// next.config-style redirects and rewrites (captures for `:param`
/// substitution).
#[derive(Debug, Clone)]
pub(crate) struct CompiledEntry {
    pub(super) source: String,
    pub(super) path: Program,
    has: Vec<CompiledCondition>,
    missing: Vec<CompiledCondition>,
    /// `locale: false`: never put a locale prefix in front of this source.
    locale_false: bool,
    /// The base path compiled in front of the source (`""` for none).
    base_path: String,
}

impl CompiledEntry {
    /// Compiles an entry; `location` names it in errors (`matcher[2]`).
    pub(crate) fn compile(entry: &MatcherEntry, location: &str) -> Result<Self, ConfigError> {
        if entry.locale == Some(true) {
            return Err(ConfigError::schema(
                format!("{location}.locale"),
                "`locale: true` is not supported (no locale prefix is added); use false or omit it",
            ));
        }
        let path = compile_source(&entry.source, location)?;
        let conds = |items: &[Condition], what: &str| -> Result<Vec<_>, ConfigError> {
            items
                .iter()
                .enumerate()
                .map(|(j, c)| CompiledCondition::compile(c, &format!("{location}.{what}[{j}]")))
                .collect()
        };
        Ok(CompiledEntry {
            source: entry.source.clone(),
            path,
            has: conds(&entry.has, "has")?,
            missing: conds(&entry.missing, "missing")?,
            locale_false: entry.locale == Some(false),
            base_path: String::new(),
        })
    }

    /// The same entry under a locale prefix: `/:nextInternalLocale(en|fr)` in front of the
    /// source (`/` alone adds nothing after the locale), as Next.js's `getMiddlewareMatchers`
    /// does with i18n; `None` for a `locale: false` entry or a prefixed source that does not
    /// compile. The source shown in logs stays the one written.
    ///
    /// `/` takes `root_group` (the configured locales) instead: Next.js tests its matcher on
    /// the locale-prefixed path (`/en/about` for `/about`), so its `/:nextInternalLocale(..)`
    /// sees one segment only for `/`, `/en`, `/fr`; ours tests the path as sent, where any
    /// segment would make `/` select `/about` (recorded in the i18n scenario app, `x-m: root`;
    /// `tests/i18n.rs`).
    pub(crate) fn localized(&self, group: &str, root_group: &str) -> Option<Self> {
        if self.locale_false {
            return None;
        }
        let (group, rest) = if self.source == "/" {
            (root_group, "")
        } else {
            (group, self.source.as_str())
        };
        let base = &self.base_path;
        let path = compile_source(&format!("{base}/:nextInternalLocale{group}{rest}"), "").ok()?;
        Some(CompiledEntry {
            source: self.source.clone(),
            path,
            has: self.has.clone(),
            missing: self.missing.clone(),
            locale_false: false,
            base_path: base.clone(),
        })
    }

    /// The entry under a base path (`/docs`, checked by `ProxyLayer::with_base_path`): the
    /// base path in front of the source, as Next.js's `getMiddlewareMatchers` writes
    /// `` source = `${nextConfig.basePath}${source}` ``; and, when the source matches `/`,
    /// the base path alone too, which the prefixed source misses (`/docs/((?!api).*)` does
    /// not match `/docs`; see `tests/base_path.rs`).
    pub(crate) fn under_base_path(&self, base: &str) -> Vec<Self> {
        let with = |source: &str| {
            let path = compile_source(source, "basePath")
                .expect("a base path of plain segments in front of a compiled source compiles");
            CompiledEntry {
                source: self.source.clone(),
                path,
                has: self.has.clone(),
                missing: self.missing.clone(),
                locale_false: self.locale_false,
                base_path: base.to_owned(),
            }
        };
        let mut entries = vec![with(&format!("{base}{}", self.source))];
        // Fail closed: a root test that cannot be decided keeps the root entry.
        if self.path.is_match("/").unwrap_or(true) {
            entries.push(with(base));
        }
        entries
    }

    /// A rule's source under next.config's `basePath`, as Next.js's `processRoutes`
    /// (`packages/next/src/lib/load-custom-routes.ts`) writes it: the base path in front,
    /// `/` becoming the base path alone, and with i18n the locale group after the base path
    /// ([`localized`](Self::localized) reads `base_path`: `/docs/:nextInternalLocale(..)/x`).
    /// The source shown in logs stays the one written.
    /// `location` names the source in an error (a source near the length limit can go
    /// over it with the base path).
    pub(crate) fn rule_under_base_path(
        &self,
        base: &str,
        location: &str,
    ) -> Result<Self, ConfigError> {
        let rest = if self.source == "/" {
            ""
        } else {
            self.source.as_str()
        };
        let path = compile_source(&format!("{base}{rest}"), location)?;
        Ok(CompiledEntry {
            source: self.source.clone(),
            path,
            has: self.has.clone(),
            missing: self.missing.clone(),
            locale_false: self.locale_false,
            base_path: base.to_owned(),
        })
    }

    /// Whether the entry holds for `path` (a form of the request path; `as_sent` when it is
    /// `Uri::path` itself): the path matches, every `has` holds and no `missing` does.
    ///
    /// An expression that cannot be decided makes the entry hold, whichever side it is on:
    /// the proxy then runs, where "no" would let the request past it
    /// (`tests/fail_closed.rs`, `a_look_around_pattern_at_its_backtracking_limit_still_runs_the_proxy`).
    pub(super) fn holds<B>(&self, request: &Request<B>, path: &str, as_sent: bool) -> bool {
        let path_matches = match as_sent {
            true => self.path.is_match_request_path(path),
            false => self.path.is_match(path),
        };
        self.decided(path_matches.and_then(|matched| Ok(matched && self.conditions_hold(request)?)))
    }

    /// Whether every `has` holds and no `missing` does.
    pub(super) fn conditions_hold<B>(&self, request: &Request<B>) -> Result<bool, Undecided> {
        for condition in &self.has {
            if !condition.holds(request, None)? {
                return Ok(false);
            }
        }
        for condition in &self.missing {
            if condition.holds(request, None)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The answer of [`holds`](Self::holds) for an outcome: an undecided one is a "yes",
    /// logged.
    #[cold]
    fn undecided(&self) -> bool {
        tracing::warn!(
            source = %self.source,
            "matcher entry could not be decided (regular expression backtracking limit): \
             counted as a match, so the proxy runs"
        );
        true
    }

    /// An outcome as a yes or no, failing closed: undecided is a "yes".
    pub(super) fn decided(&self, outcome: Result<bool, Undecided>) -> bool {
        outcome.unwrap_or_else(|Undecided| self.undecided())
    }

    /// Captures for `path` (a form of the request path; `decoded` tells
    /// whether it is already percent-decoded) plus `has` captures, if the
    /// path matches and the conditions hold.
    pub(super) fn captures_in<B>(
        &self,
        request: &Request<B>,
        path: &str,
        decoded: bool,
    ) -> Result<Option<Params>, Undecided> {
        let Some(caps) = self.path.captures(path)? else {
            return Ok(None);
        };
        let mut params = Params::default();
        for (name, value) in self.path.groups.iter().zip(caps) {
            if let (Some(name), Some(value)) = (name, value) {
                let value = if decoded {
                    value.to_owned()
                } else {
                    decode_uri_component(value).unwrap_or_else(|| value.to_owned())
                };
                params.push(name.clone(), value);
            }
        }
        for c in &self.has {
            if !c.holds(request, Some(&mut params))? {
                return Ok(None);
            }
        }
        for c in &self.missing {
            if c.holds(request, None)? {
                return Ok(None);
            }
        }
        Ok(Some(params))
    }

    /// The captures of this entry for a request, trying the path as sent,
    /// decoded and with `//` collapsed; `Ok(None)` if it does not hold, `Err` if that
    /// cannot be decided (or the path is over [`MAX_PATH_LEN`]).
    pub(crate) fn captures<B>(&self, request: &Request<B>) -> Result<Option<Params>, Undecided> {
        let raw = request.uri().path();
        if raw.len() > MAX_PATH_LEN {
            return Err(Undecided);
        }
        for (form, decoded) in Forms::of(raw).iter() {
            // `is_match` first: the capture engine allocates even when nothing matches.
            if self.path.is_match(form)?
                && let Some(params) = self.captures_in(request, form, decoded)?
            {
                return Ok(Some(params));
            }
        }
        Ok(None)
    }

    /// The path's expression in the `regex` crate's syntax, when it runs on that engine:
    /// the rules put these in one prefilter per phase (`rules::filter`). Look-aheads lifted
    /// into guards are left out, so a match of this source is necessary, not sufficient.
    pub(crate) fn plain_path_source(&self) -> Option<&str> {
        self.path.plain_source.as_deref()
    }

    /// Builds the path's automaton now, for an entry that runs on its own (a rule).
    pub(crate) fn prepare(&mut self) {
        self.path.prepare();
    }
}

/// Checks and compiles one source.
fn compile_source(source: &str, location: &str) -> Result<Program, ConfigError> {
    let fail = |msg: String, pos: Option<usize>| {
        ConfigError::pattern(location, msg).with_text(source, pos)
    };
    if source.is_empty() {
        return Err(ConfigError::pattern(location, "empty source"));
    }
    if !source.starts_with('/') {
        return Err(fail("source must start with \"/\"".into(), Some(0)));
    }
    let len = source.chars().count();
    if len > MAX_SOURCE_LEN {
        return Err(ConfigError::pattern(
            location,
            format!("source is {len} characters long, over the limit of {MAX_SOURCE_LEN}"),
        ));
    }
    let compiled = path::compile(source)
        .map_err(|e| fail(format!("invalid source: {}", e.message), Some(e.pos)))?;
    Program::compile(&compiled.regex)
        .map_err(|e| fail(format!("source does not compile: {e}"), None))
}
