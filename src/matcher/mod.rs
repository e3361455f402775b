//! The matcher: which requests the proxy function sees.
//!
//! A [`Matcher`] is compiled from Next.js `config.matcher` sources, with the
//! same syntax and meaning as Next.js: path-to-regexp 6.3 paths (`:param`,
//! `:param*`, `:param+`, `:param?`, custom patterns `:id(\d+)`, unnamed
//! groups `(.*)`, `{...}` groups), compiled case-sensitively, with one optional
//! trailing `/`, `#` or `?`; regular expressions keep their JavaScript meaning
//! (`\d` is `[0-9]`, `.` does not match `\n`, look-ahead works); `has` and
//! `missing` conditions on headers, query, cookies and host.
//!
//! To resist bypasses, a path is tested as sent, percent-decoded, and with
//! empty segments (`//`) collapsed; any form that matches counts. A path that
//! did not match as sent and is not valid percent-encoded UTF-8 gives
//! [`Selection::MalformedPath`]; a path longer than [`MAX_PATH_LEN`] gives
//! [`Selection::PathTooLong`] before any expression runs.
//!
//! The matcher fails closed: an entry whose expression cannot be decided (a look-around
//! pattern that reaches fancy-regex's backtracking limit) counts as matching, so the
//! proxy function runs rather than being skipped. `tests/fail_closed.rs`,
//! `tests/bypass.rs` and the `matcher_bounded` fuzz target hold it to that.
//!
//! The module, one concern a file: this file is the front door ([`Matcher`], its
//! constructors, [`Matcher::matches`] and [`Matcher::select`], and the search they share);
//! `selection.rs` holds what a search says ([`Selection`], [`Match`]), `params.rs` the
//! captures ([`Params`]), `entry.rs` one compiled entry, `forms.rs` the spellings of a
//! path that are tested, `path.rs` the path-to-regexp syntax, `condition.rs` the `has` and
//! `missing` conditions, and `js_regex/` the JavaScript regular expressions they all
//! compile to.
//!
//! ```
//! use tower_proxy_fn::matcher::{Matcher, Selection};
//!
//! let matcher = Matcher::new(["/dashboard/:path*", "/api/:version(v1|v2)/:rest*"])?;
//! let request = http::Request::builder().uri("/dashboard/settings").body(())?;
//! assert!(matcher.matches(&request));
//!
//! let request = http::Request::builder().uri("/api/v3/users").body(())?;
//! assert!(!matcher.matches(&request));
//!
//! // A Next.js `config` object, as JSON.
//! let matcher = Matcher::from_json(r#"{
//!     "matcher": [
//!         "/((?!api|_next/static|_next/image|favicon.ico).*)",
//!         { "source": "/api/:path*", "has": [{ "type": "header", "key": "authorization" }] }
//!     ]
//! }"#)?;
//! let request = http::Request::builder().uri("/_next/static/app.js").body(())?;
//! assert!(!matcher.matches(&request));
//! let request = http::Request::builder()
//!     .uri("/api/users")
//!     .header("Authorization", "Bearer x")
//!     .body(())?;
//! match matcher.select(&request) {
//!     Selection::Run(m) => {
//!         assert_eq!(m.source(), "/api/:path*");
//!         assert_eq!(m.params().get("path"), Some("users"));
//!     }
//!     other => panic!("expected a match, got {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod condition;
pub(crate) mod config;
mod entry;
mod forms;
mod js_regex;
mod params;
mod path;
mod selection;

use std::sync::Arc;

use http::Request;

pub use config::{Condition, ConditionKind, MatcherConfig, MatcherEntry};
pub use params::Params;
pub use selection::{Match, Selection};

use crate::config_error::ConfigError;
pub(crate) use crate::request_values::decode_uri_component;
pub(crate) use entry::CompiledEntry;
pub(crate) use js_regex::Undecided;
pub(crate) use selection::{Deferred, LazySelection};

pub(crate) use forms::has_other_forms;
use forms::Forms;
use js_regex::{Program, ProgramSet};
use selection::Found;

/// The longest request path, in bytes, that a matcher tests. A longer one is not tested
/// at all ([`Selection::PathTooLong`]; the layer answers `414 URI Too Long`): with the
/// backtracking limit of a look-around pattern, this bounds the time of one selection
/// (the `matcher_bounded` fuzz target, `tests/fail_closed.rs`).
pub const MAX_PATH_LEN: usize = 8 * 1024;

/// Compiled Next.js `config.matcher`. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct Matcher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Matches every request, without looking at it.
    any: bool,
    entries: Vec<CompiledEntry>,
    /// The plain entries' paths as one automaton, when there are several.
    set: Option<ProgramSet>,
}

impl Matcher {
    /// Compiles path sources (every request whose path matches one of them).
    ///
    /// Errors name the source by index (`matcher[1]`) and position.
    pub fn new<I>(sources: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let entries = sources
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                CompiledEntry::compile(&MatcherEntry::new(s.as_ref()), &format!("matcher[{i}]"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_entries(entries))
    }

    /// Compiles a Next.js `config` object given as JSON, e.g.
    /// `{"matcher": ["/about/:path*", {"source": "/api/:path*", "has": [...]}]}`.
    ///
    /// Errors say where the config is wrong
    /// (`matcher[1].has[0]: unknown key "valeu" (expected ...)`).
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        let single = matches!(
            serde_json::from_str::<serde_json::Value>(json),
            Ok(serde_json::Value::Object(ref o)) if o.get("matcher").is_some_and(|m| m.is_string())
        );
        let config = config::parse_json(json)?;
        if single && let Some([entry]) = config.matcher.as_deref() {
            return Ok(Self::from_entries(vec![CompiledEntry::compile(
                entry, "matcher",
            )?]));
        }
        Self::from_config(config)
    }

    /// Compiles a config object.
    pub fn from_config(config: MatcherConfig) -> Result<Self, ConfigError> {
        let Some(entries) = config.matcher else {
            return Ok(Self::any());
        };
        let entries = entries
            .iter()
            .enumerate()
            .map(|(i, e)| CompiledEntry::compile(e, &format!("matcher[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_entries(entries))
    }

    /// The matcher with every entry that is not `locale: false` also matching under a
    /// locale prefix (`group`; `root_group` for the source `/`, see
    /// `CompiledEntry::localized`); `any` stays `any`.
    pub(crate) fn localized(&self, group: &str, root_group: &str) -> Self {
        if self.inner.any {
            return self.clone();
        }
        let mut entries = Vec::with_capacity(self.inner.entries.len() * 2);
        for entry in &self.inner.entries {
            entries.push(entry.clone());
            entries.extend(entry.localized(group, root_group));
        }
        Self::from_entries(entries)
    }

    /// The matcher under a base path: each entry behind it (see
    /// `CompiledEntry::under_base_path`); `any` becomes every path under it. A path outside
    /// the base path matches nothing.
    pub(crate) fn under_base_path(&self, base: &str) -> Self {
        let everything;
        let entries: &[CompiledEntry] = if self.inner.any {
            everything = [
                CompiledEntry::compile(&MatcherEntry::new("/:path*"), "matcher")
                    .expect("a literal source compiles"),
            ];
            &everything
        } else {
            &self.inner.entries
        };
        Self::from_entries(
            entries
                .iter()
                .flat_map(|e| e.under_base_path(base))
                .collect(),
        )
    }

    /// A matcher that matches every request (a config with no `matcher` key).
    pub fn any() -> Self {
        Matcher {
            inner: Arc::new(Inner {
                any: true,
                entries: Vec::new(),
                set: None,
            }),
        }
    }

    /// The matcher over compiled entries: several plain paths share one set; the rest get
    /// their own prebuilt automaton.
    fn from_entries(mut entries: Vec<CompiledEntry>) -> Self {
        let programs: Vec<&Program> = entries.iter().map(|e| &e.path).collect();
        let set = ProgramSet::build(&programs);
        // Entries outside the set run alone: give them their prebuilt automaton now.
        for (i, entry) in entries.iter_mut().enumerate() {
            if !set.as_ref().is_some_and(|set| set.contains(i)) {
                entry.path.prepare();
            }
        }
        Matcher {
            inner: Arc::new(Inner {
                any: false,
                entries,
                set,
            }),
        }
    }

    /// The sources, in order (none for [`Matcher::any`]).
    pub fn sources(&self) -> impl Iterator<Item = &str> {
        self.inner.entries.iter().map(|e| e.source.as_str())
    }

    /// Whether the request concerns the proxy: `false` only when
    /// [`select`](Self::select) would say [`Selection::Skip`], without building the
    /// captures. A path the matcher cannot rule out (one that does not percent-decode, or
    /// one over [`MAX_PATH_LEN`]) concerns it.
    pub fn matches<B>(&self, request: &Request<B>) -> bool {
        !matches!(self.find(request), Found::Miss)
    }

    /// The full selection for a request: the first entry (in order) whose path
    /// matches one of the forms of the request path and whose conditions
    /// hold, with its captures.
    pub fn select<B>(&self, request: &Request<B>) -> Selection<'_> {
        let raw = request.uri().path();
        let (index, form, decoded) = match self.find(request) {
            Found::Miss => return Selection::Skip,
            Found::Malformed => return Selection::MalformedPath,
            Found::TooLong => return Selection::PathTooLong,
            Found::Any => {
                return Selection::Run(Match {
                    source: "",
                    params: Params::default(),
                })
            }
            Found::HitRaw(i) => (i, std::borrow::Cow::Borrowed(raw), false),
            Found::Hit(i, form, decoded) => (i, std::borrow::Cow::Owned(form), decoded),
        };
        let entry = &self.inner.entries[index];
        // The entry held in `find` (or could not be decided): it runs, with what can be
        // captured.
        let params = entry
            .captures_in(request, &form, decoded)
            .ok()
            .flatten()
            .unwrap_or_default();
        Selection::Run(Match {
            source: &entry.source,
            params,
        })
    }

    /// The selection without the captures (see [`Deferred::params`]).
    #[inline]
    pub(crate) fn select_lazily<B>(&self, request: &Request<B>) -> LazySelection {
        match self.find(request) {
            Found::Miss => LazySelection::Skip,
            found => LazySelection::from_found(found),
        }
    }

    /// The search, in the order that keeps the usual request cheap: the path as sent, then
    /// (only when it has a `%` or a `//`) its other forms, out of line. A request skipped
    /// on its path as sent allocates nothing (`tests/matcher_alloc.rs`).
    #[inline]
    fn find<B>(&self, request: &Request<B>) -> Found {
        if self.inner.any {
            return Found::Any;
        }
        let raw = request.uri().path();
        if raw.len() > MAX_PATH_LEN && !self.inner.entries.is_empty() {
            return Found::TooLong;
        }
        if let Some(i) = self.first_holding(request, raw, true) {
            return Found::HitRaw(i);
        }
        // No entries, nothing to select: not even a 400 for a path that does not decode.
        if self.inner.entries.is_empty() || !has_other_forms(raw) {
            return Found::Miss;
        }
        self.find_in_other_forms(request, raw)
    }

    #[inline(never)]
    fn find_in_other_forms<B>(&self, request: &Request<B>, raw: &str) -> Found {
        let forms = Forms::of(raw);
        for (form, decoded) in forms.iter().skip(1) {
            if let Some(i) = self.first_holding(request, form, false) {
                return Found::Hit(i, form.to_owned(), decoded);
            }
        }
        if forms.malformed {
            Found::Malformed
        } else {
            Found::Miss
        }
    }

    /// The first entry whose path matches `path` and whose conditions hold; `as_sent` when
    /// `path` is the request's own (`Uri::path`), which limits what it can hold.
    #[inline]
    fn first_holding<B>(&self, request: &Request<B>, path: &str, as_sent: bool) -> Option<usize> {
        let inner = &*self.inner;
        if let Some(set) = &inner.set {
            return self.first_holding_in_set(set, request, path);
        }
        inner
            .entries
            .iter()
            .position(|e| e.holds(request, path, as_sent))
    }

    /// [`Matcher::first_holding`] with many entries: one pass of the set over the path.
    #[inline(never)]
    fn first_holding_in_set<B>(
        &self,
        set: &ProgramSet,
        request: &Request<B>,
        path: &str,
    ) -> Option<usize> {
        let entries = &self.inner.entries;
        set.position(path, |i, set_matched| {
            let entry = &entries[i];
            match set_matched {
                Some(matched) => {
                    matched
                        && entry.path.guards_pass(path)
                        && entry.decided(entry.conditions_hold(request))
                }
                None => entry.holds(request, path, false),
            }
        })
    }
}

#[cfg(test)]
mod tests;
