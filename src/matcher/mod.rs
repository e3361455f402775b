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
//! [`Decision::MalformedPath`]; a path longer than [`MAX_PATH_LEN`] gives
//! [`Decision::PathTooLong`] before any expression runs.
//!
//! The matcher fails closed: an entry whose expression cannot be decided (a look-around
//! pattern that reaches fancy-regex's backtracking limit) counts as matching, so the
//! proxy function runs rather than being skipped.
//!
//! ```
//! use tower_proxy_fn::matcher::{Decision, Matcher};
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
//! match matcher.decide(&request) {
//!     Decision::Run(m) => {
//!         assert_eq!(m.source(), "/api/:path*");
//!         assert_eq!(m.params().get("path"), Some("users"));
//!     }
//!     other => panic!("expected a match, got {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod condition;
pub(crate) mod config;
mod js_regex;
mod path;

use std::cell::RefCell;
use std::sync::Arc;

use http::Request;
use regex_automata::{Input, PatternSet};

pub use config::{Condition, ConditionKind, MatcherConfig, MatcherEntry};

use crate::config_error::ConfigError;
pub(crate) use crate::request_values::decode_uri_component;
use condition::CompiledCondition;
use js_regex::Program;
pub(crate) use js_regex::Undecided;

/// The longest source accepted, in characters.
const MAX_SOURCE_LEN: usize = 4096;

/// The longest request path, in bytes, that a matcher tests. A longer one is not tested
/// at all ([`Decision::PathTooLong`]; the layer answers `414 URI Too Long`): with the
/// backtracking limit of a look-around pattern, this bounds the time of one decision.
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
    /// One pass over the plain path regexes.
    set: Option<regex_automata::meta::Regex>,
    /// Entry index -> pattern id in `set`.
    set_ids: Vec<Option<usize>>,
    /// Whether every entry is in `set` (then a set miss is a miss).
    all_in_set: bool,
}

/// Named values captured by a match: path parameters (percent-decoded;
/// unnamed groups are named `"0"`, `"1"`, ...), then captures of `has`
/// conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The value captured under `name` (the first one, if several).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// All captured pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    /// Adds captured pairs after these; [`get`](Self::get) returns the first pair of a name.
    pub fn extend(&mut self, other: Params) {
        self.pairs.extend(other.pairs);
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
    /// How many pairs were captured.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }
    /// Whether a value was captured under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    pub(crate) fn push(&mut self, name: String, value: String) {
        self.pairs.push((name, value));
    }
}

impl IntoIterator for Params {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.pairs.into_iter()
    }
}

/// What the matcher decided for one request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Decision<'m> {
    /// No entry matched: the request goes straight on.
    Skip,
    /// An entry matched.
    Run(Match<'m>),
    /// The path is not valid percent-encoded UTF-8 and did not match as sent.
    MalformedPath,
    /// The path is longer than [`MAX_PATH_LEN`]: it was not tested.
    PathTooLong,
}

/// An entry that matched, with what it captured.
#[derive(Debug)]
pub struct Match<'m> {
    source: &'m str,
    params: Params,
}

impl<'m> Match<'m> {
    /// The source of the entry that matched, as written in the config
    /// (empty for [`Matcher::any`]).
    pub fn source(&self) -> &'m str {
        self.source
    }
    /// The captured parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }
    /// Takes the captured parameters.
    pub fn into_params(self) -> Params {
        self.params
    }
}

/// Whether a path has forms other than itself: a `%` to decode or a `//` to collapse.
///
/// Eight bytes at a time, in words that overlap by one byte so that every pair of
/// neighbours sits in one word: every request the matcher skips pays for this scan.
/// Measured under callgrind (`scripts/profile.sh`) on a 20-byte path: 139 instructions as
/// `contains('%') || contains("//")`, 79 this way.
fn has_other_forms(path: &str) -> bool {
    let bytes = path.as_bytes();
    let len = bytes.len();
    if len < 8 {
        return bytes
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'%' || (b == b'/' && i > 0 && bytes[i - 1] == b'/'));
    }
    let mut at = 0;
    loop {
        // The last word ends at the last byte (and overlaps the one before it more).
        let start = at.min(len - 8);
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[start..start + 8]);
        if percent_or_double_slash(u64::from_le_bytes(word)) {
            return true;
        }
        if start + 8 == len {
            return false;
        }
        at += 7;
    }
}

/// Whether eight bytes (little-endian: byte 0 lowest) hold a `%`, or a `/` followed by `/`.
#[inline(always)]
fn percent_or_double_slash(word: u64) -> bool {
    const LANES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    // Some lane of `x` is zero (the classic test: exact for "any", which is all we ask).
    let has_zero_lane = |x: u64| x.wrapping_sub(LANES) & !x;
    let percent = word ^ (LANES * u64::from(b'%'));
    // Lane i is zero when byte i is `/` and equals byte i + 1 (lane 7 compares with zero).
    let double_slash = (word ^ (LANES * u64::from(b'/'))) | (word ^ (word >> 8));
    (has_zero_lane(percent) | has_zero_lane(double_slash)) & HIGH_BITS != 0
}

/// Collapses runs of `/` into one.
fn collapse_slashes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_slash = false;
    for c in s.chars() {
        if c == '/' {
            if prev_slash {
                continue;
            }
            prev_slash = true;
        } else {
            prev_slash = false;
        }
        out.push(c);
    }
    out
}

/// One compiled entry: a source and its conditions. Reusable for
/// next.config-style redirects and rewrites (captures for `:param`
/// substitution).
#[derive(Debug, Clone)]
pub(crate) struct CompiledEntry {
    source: String,
    path: Program,
    has: Vec<CompiledCondition>,
    missing: Vec<CompiledCondition>,
    /// `locale: false`: never put a locale prefix in front of this source.
    locale_false: bool,
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
        })
    }

    /// The same entry under a locale prefix: `/:nextInternalLocale(en|fr)` in front of the
    /// source (`/` alone adds nothing after the locale), as Next.js's `getMiddlewareMatchers`
    /// does with i18n; `None` for a `locale: false` entry or a prefixed source that does not
    /// compile. The source shown in logs stays the one written.
    pub(crate) fn localized(&self, group: &str) -> Option<Self> {
        if self.locale_false {
            return None;
        }
        let rest = if self.source == "/" { "" } else { &self.source };
        let path = compile_source(&format!("/:nextInternalLocale{group}{rest}"), "").ok()?;
        Some(CompiledEntry {
            source: self.source.clone(),
            path,
            has: self.has.clone(),
            missing: self.missing.clone(),
            locale_false: false,
        })
    }

    /// Whether the entry holds for `path` (a form of the request path; `as_sent` when it is
    /// `Uri::path` itself): the path matches, every `has` holds and no `missing` does.
    ///
    /// An expression that cannot be decided makes the entry hold, whichever side it is on:
    /// the proxy then runs, where "no" would let the request past it.
    fn holds<B>(&self, request: &Request<B>, path: &str, as_sent: bool) -> bool {
        let path_matches = match as_sent {
            true => self.path.is_match_request_path(path),
            false => self.path.is_match(path),
        };
        self.decided(path_matches.and_then(|matched| Ok(matched && self.conditions_hold(request)?)))
    }

    /// Whether every `has` holds and no `missing` does.
    fn conditions_hold<B>(&self, request: &Request<B>) -> Result<bool, Undecided> {
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

    fn decided(&self, outcome: Result<bool, Undecided>) -> bool {
        outcome.unwrap_or_else(|Undecided| self.undecided())
    }

    /// Captures for `path` (a form of the request path; `decoded` tells
    /// whether it is already percent-decoded) plus `has` captures, if the
    /// path matches and the conditions hold.
    fn captures_in<B>(
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

/// The forms of a path to test.
struct Forms<'a> {
    raw: &'a str,
    others: Vec<(String, bool)>,
    malformed: bool,
}

impl<'a> Forms<'a> {
    fn of(raw: &'a str) -> Self {
        let mut others: Vec<(String, bool)> = Vec::new();
        let mut malformed = false;
        let decoded = if raw.contains('%') {
            let d = decode_uri_component(raw);
            malformed = d.is_none();
            d
        } else {
            None
        };
        if let Some(d) = &decoded
            && d != raw
        {
            others.push((d.clone(), true));
        }
        if raw.contains("//") {
            others.push((collapse_slashes(raw), false));
        }
        if let Some(d) = &decoded
            && d.contains("//")
        {
            others.push((collapse_slashes(d), true));
        }
        let mut seen: Vec<(String, bool)> = Vec::with_capacity(others.len());
        for o in others {
            if o.0 != raw && !seen.iter().any(|s| s.0 == o.0) {
                seen.push(o);
            }
        }
        Forms {
            raw,
            others: seen,
            malformed,
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&str, bool)> {
        std::iter::once((self.raw, false)).chain(self.others.iter().map(|(s, d)| (s.as_str(), *d)))
    }
}

thread_local! {
    static PATTERN_SET: RefCell<PatternSet> = RefCell::new(PatternSet::new(0));
}

/// Where a search ended.
enum Found {
    /// Entry index, form and whether the form is decoded.
    Hit(usize, String, bool),
    /// Hit on the raw path (no allocation).
    HitRaw(usize),
    Miss,
    Malformed,
    TooLong,
}

/// A decision whose captures are taken only when the proxy function asks for them: the
/// capture engine costs more than the decision itself, and most functions never read them.
pub(crate) enum LazyDecision {
    Skip,
    Malformed,
    TooLong,
    /// `None` for [`Matcher::any`].
    Run(Option<Deferred>),
}

/// The entry that matched and the form of the path it matched, to take captures from later
/// (from the same matcher: the request holds it, so that a decision clones no `Arc`).
#[derive(Clone, Debug)]
pub(crate) struct Deferred {
    index: usize,
    /// The decoded or collapsed form, when the path as sent did not match.
    form: Option<String>,
    decoded: bool,
}

impl Deferred {
    /// The source of the entry that matched.
    pub(crate) fn source<'m>(&self, matcher: &'m Matcher) -> &'m str {
        matcher
            .inner
            .entries
            .get(self.index)
            .map_or("", |e| e.source.as_str())
    }

    /// The captures, for the request that was decided.
    pub(crate) fn params<B>(&self, matcher: &Matcher, request: &Request<B>) -> Params {
        let Some(entry) = matcher.inner.entries.get(self.index) else {
            return Params::default();
        };
        let path = self.form.as_deref().unwrap_or(request.uri().path());
        // The entry held (or could not be decided, which counts as holding): whatever
        // cannot be captured is left out.
        entry
            .captures_in(request, path, self.decoded)
            .ok()
            .flatten()
            .unwrap_or_default()
    }
}

impl Matcher {
    /// The decision without the captures (see [`Deferred::params`]).
    #[inline]
    pub(crate) fn decide_lazily<B>(&self, request: &Request<B>) -> LazyDecision {
        match self.find(request) {
            Found::Miss => LazyDecision::Skip,
            found => self.lazily(found),
        }
    }

    #[inline(never)]
    fn lazily(&self, found: Found) -> LazyDecision {
        let deferred = |index, form, decoded| Deferred {
            index,
            form,
            decoded,
        };
        match found {
            Found::Miss => LazyDecision::Skip,
            Found::Malformed => LazyDecision::Malformed,
            Found::TooLong => LazyDecision::TooLong,
            Found::HitRaw(usize::MAX) => LazyDecision::Run(None),
            Found::HitRaw(i) => LazyDecision::Run(Some(deferred(i, None, false))),
            Found::Hit(i, form, decoded) => {
                LazyDecision::Run(Some(deferred(i, Some(form), decoded)))
            }
        }
    }

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
    /// locale prefix (`group` is `(en|fr|...)`); `any` stays `any`.
    pub(crate) fn localized(&self, group: &str) -> Self {
        if self.inner.any {
            return self.clone();
        }
        let mut entries = Vec::with_capacity(self.inner.entries.len() * 2);
        for entry in &self.inner.entries {
            entries.push(entry.clone());
            entries.extend(entry.localized(group));
        }
        Self::from_entries(entries)
    }

    /// A matcher that matches every request (a config with no `matcher` key).
    pub fn any() -> Self {
        Matcher {
            inner: Arc::new(Inner {
                any: true,
                entries: Vec::new(),
                set: None,
                set_ids: Vec::new(),
                all_in_set: false,
            }),
        }
    }

    fn from_entries(mut entries: Vec<CompiledEntry>) -> Self {
        let mut sources = Vec::new();
        let mut set_ids = Vec::with_capacity(entries.len());
        for e in &entries {
            match &e.path.plain_source {
                Some(src) if entries.len() > 1 => {
                    set_ids.push(Some(sources.len()));
                    sources.push(src.as_str());
                }
                _ => set_ids.push(None),
            }
        }
        let set = if sources.len() > 1 {
            regex_automata::meta::Regex::builder()
                .configure(
                    regex_automata::meta::Config::new().match_kind(regex_automata::MatchKind::All),
                )
                .build_many(&sources)
                .ok()
        } else {
            None
        };
        if set.is_none() {
            set_ids.iter_mut().for_each(|s| *s = None);
        }
        // Entries outside the set run alone: give them their prebuilt automaton now.
        for (entry, id) in entries.iter_mut().zip(&set_ids) {
            if id.is_none() {
                entry.path.prepare();
            }
        }
        let all_in_set = set.is_some() && set_ids.iter().all(Option::is_some);
        Matcher {
            inner: Arc::new(Inner {
                any: false,
                entries,
                set,
                set_ids,
                all_in_set,
            }),
        }
    }

    /// The sources, in order (none for [`Matcher::any`]).
    pub fn sources(&self) -> impl Iterator<Item = &str> {
        self.inner.entries.iter().map(|e| e.source.as_str())
    }

    /// Whether the request concerns the proxy: `false` only when
    /// [`decide`](Self::decide) would say [`Decision::Skip`], without building the
    /// captures. A path the matcher cannot rule out (one that does not percent-decode, or
    /// one over [`MAX_PATH_LEN`]) concerns it.
    pub fn matches<B>(&self, request: &Request<B>) -> bool {
        !matches!(self.find(request), Found::Miss)
    }

    /// The full decision for a request: the first entry (in order) whose path
    /// matches one of the forms of the request path and whose conditions
    /// hold, with its captures.
    pub fn decide<B>(&self, request: &Request<B>) -> Decision<'_> {
        let raw = request.uri().path();
        let (index, form, decoded) = match self.find(request) {
            Found::Miss => return Decision::Skip,
            Found::Malformed => return Decision::MalformedPath,
            Found::TooLong => return Decision::PathTooLong,
            Found::HitRaw(usize::MAX) => {
                return Decision::Run(Match {
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
        Decision::Run(Match {
            source: &entry.source,
            params,
        })
    }

    /// The search, in the order that keeps the usual request cheap: the path as sent, then
    /// (only when it has a `%` or a `//`) its other forms, out of line.
    #[inline]
    fn find<B>(&self, request: &Request<B>) -> Found {
        if self.inner.any {
            return Found::HitRaw(usize::MAX);
        }
        let raw = request.uri().path();
        if raw.len() > MAX_PATH_LEN && !self.inner.entries.is_empty() {
            return Found::TooLong;
        }
        if let Some(i) = self.first_holding(request, raw, true) {
            return Found::HitRaw(i);
        }
        // No entries, no decision: not even a 400 for a path that does not decode.
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
        if inner.set.is_some() {
            return self.first_holding_in_set(request, path);
        }
        inner
            .entries
            .iter()
            .position(|e| e.holds(request, path, as_sent))
    }

    /// [`Matcher::first_holding`] with many entries: one pass of the set over the path.
    #[inline(never)]
    fn first_holding_in_set<B>(&self, request: &Request<B>, path: &str) -> Option<usize> {
        let inner = &*self.inner;
        let set = inner.set.as_ref()?;
        let input = Input::new(path);
        if inner.all_in_set && !set.is_match(input.clone()) {
            return None;
        }
        let check = |pats: &PatternSet| {
            inner
                .entries
                .iter()
                .enumerate()
                .position(|(i, e)| match inner.set_ids[i] {
                    Some(pid) => {
                        pats.contains(regex_automata::PatternID::new_unchecked(pid))
                            && e.path.guards_pass(path)
                            && e.decided(e.conditions_hold(request))
                    }
                    None => e.holds(request, path, false),
                })
        };
        PATTERN_SET.with(|cell| match cell.try_borrow_mut() {
            Ok(mut pats) => {
                if pats.capacity() < set.pattern_len() {
                    *pats = PatternSet::new(set.pattern_len());
                }
                pats.clear();
                set.which_overlapping_matches(&input, &mut pats);
                check(&pats)
            }
            Err(_) => {
                let mut pats = PatternSet::new(set.pattern_len());
                set.which_overlapping_matches(&input, &mut pats);
                check(&pats)
            }
        })
    }
}

#[cfg(test)]
mod tests;
