//! One pass per phase: the sources of a phase's rules (headers, redirects, `beforeFiles`,
//! the 404 rewrites) as one multi-pattern automaton, built when the rules are prepared.
//!
//! Testing each rule's expression in turn made a request that no rule concerns cost a pass
//! per rule. The filter answers "can any of these match this path?" in one pass; only the
//! rules it cannot rule out are tested as before (conditions, captures, the other forms of
//! the path), so it changes the cost, never the answer:
//!
//! - it is only consulted for a path as sent with no other form to test (no `%`, no `//`)
//!   and within [`MAX_PATH_LEN`](crate::matcher::MAX_PATH_LEN); any other path runs every
//!   rule, as before;
//! - a source outside the `regex` crate's syntax (look-around left for fancy-regex) is not
//!   in the set, and its rule is always tested;
//! - a source whose look-aheads were lifted into guards is in the set without its guards,
//!   so the set matches at least the paths the rule does.
//!
//! `filter::tests::the_filter_rules_out_only_rules_that_do_not_match` holds it to that.

use std::sync::Arc;

use http::Request;
use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::{Anchored, Input, MatchKind};

use crate::matcher::{has_other_forms, MAX_PATH_LEN};

use super::rule::RuleSource;

/// Size limit for a phase's automaton; a larger set runs on `regex-automata`'s meta engine.
const DFA_SIZE_LIMIT: usize = 1 << 20;

/// The prefilter of one phase. The default filters nothing (every rule is tested).
#[derive(Clone, Debug, Default)]
pub(super) struct PhaseFilter {
    set: Option<Arc<SetEngine>>,
    /// Per rule: whether every expression of its source is in the set.
    in_set: Vec<bool>,
    /// Whether every rule is in the set: then a miss of the set is a miss of the phase.
    complete: bool,
}

// One per phase, built once and never moved per request: boxing the automaton would only
// add a pointer to follow on every lookup.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum SetEngine {
    /// A prebuilt automaton: no per-call cache lookup, which is most of the cost on the
    /// short paths requests have.
    Dfa(Box<dense::DFA<Vec<u32>>>),
    /// For sets whose automaton would be too large, or that are not all anchored.
    Meta(regex_automata::meta::Regex),
}

impl SetEngine {
    /// Whether any pattern matches `path`; `true` when the engine gave up.
    fn may_match(&self, path: &str) -> bool {
        match self {
            SetEngine::Dfa(dfa) => dfa
                .try_search_fwd(&Input::new(path).anchored(Anchored::Yes).earliest(true))
                .map_or(true, |m| m.is_some()),
            SetEngine::Meta(regex) => regex.is_match(Input::new(path).earliest(true)),
        }
    }
}

impl PhaseFilter {
    /// The filter over the rules' sources, in rule order.
    pub(super) fn build<'a>(sources: impl Iterator<Item = &'a RuleSource>) -> Self {
        let mut patterns: Vec<&str> = Vec::new();
        let mut in_set = Vec::new();
        for source in sources {
            match source.plain_path_sources() {
                Some(list) => {
                    patterns.extend(list.iter().flatten());
                    in_set.push(true);
                }
                None => in_set.push(false),
            }
        }
        let set = (!patterns.is_empty())
            .then(|| build_engine(&patterns))
            .flatten();
        let complete = set.is_some() && in_set.iter().all(|&b| b);
        if set.is_none() {
            in_set.iter_mut().for_each(|b| *b = false);
        }
        PhaseFilter {
            set: set.map(Arc::new),
            in_set,
            complete,
        }
    }

    /// The filter's answer for a request's path.
    #[inline]
    pub(super) fn scan<B>(&self, request: &Request<B>) -> Scan<'_> {
        let path = request.uri().path();
        let missed = match &self.set {
            Some(set) => {
                path.len() <= MAX_PATH_LEN && !has_other_forms(path) && !set.may_match(path)
            }
            None => false,
        };
        Scan {
            filter: self,
            missed,
        }
    }
}

/// What a [`PhaseFilter`] says about one path.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scan<'f> {
    filter: &'f PhaseFilter,
    /// The set ran and no pattern matched.
    missed: bool,
}

impl Scan<'_> {
    /// Whether rule `index` of the phase may match: `false` only when the set proved it
    /// cannot.
    #[inline]
    pub(super) fn may_match(&self, index: usize) -> bool {
        !(self.missed && self.filter.in_set.get(index).is_some_and(|&b| b))
    }

    /// Whether no rule of the phase can match.
    #[inline]
    pub(super) fn none(&self) -> bool {
        self.missed && self.filter.complete
    }
}

/// The automaton of `patterns`: a dense DFA when they are all anchored and it stays under
/// [`DFA_SIZE_LIMIT`], else the meta engine; `None` if neither builds (each rule is then
/// tested alone, as without a filter).
fn build_engine(patterns: &[&str]) -> Option<SetEngine> {
    if patterns.iter().all(|p| p.starts_with('^')) {
        let config = dense::Config::new()
            .start_kind(StartKind::Anchored)
            .match_kind(MatchKind::All)
            .dfa_size_limit(Some(DFA_SIZE_LIMIT))
            .determinize_size_limit(Some(DFA_SIZE_LIMIT));
        if let Ok(dfa) = dense::Builder::new().configure(config).build_many(patterns) {
            return Some(SetEngine::Dfa(Box::new(dfa)));
        }
    }
    regex_automata::meta::Regex::builder()
        .configure(regex_automata::meta::Config::new().match_kind(MatchKind::All))
        .build_many(patterns)
        .ok()
        .map(SetEngine::Meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::MatcherEntry;
    use crate::rules::Locales;

    /// Sources of every shape: plain, with parameters and custom patterns, with a lifted
    /// look-ahead (guards), with look-behind (fancy-regex, outside the set), unanchored
    /// groups, and case-insensitive locale prefixes.
    const SOURCES: &[&str] = &[
        "/about",
        "/blog/:slug",
        "/docs/:path*",
        "/api/:version(v1|v2)/:rest+",
        "/((?!_next/|api/).*)/edit",
        "/:path((?<=/x).*)",
        "/(.*)\\.php",
        "/",
        "/files/:name.:ext?",
    ];

    const PATHS: &[&str] = &[
        "/",
        "/about",
        "/about/",
        "/About",
        "/blog",
        "/blog/a",
        "/blog/a/b",
        "/docs",
        "/docs/a/b",
        "/api/v1/x",
        "/api/v3/x",
        "/api/v1/",
        "/posts/1/edit",
        "/_next/x/edit",
        "/x",
        "/xy",
        "/index.php",
        "/files/a.txt",
        "/files/a",
        "/fr/about",
        "/FR/blog/a",
        "/de/about",
        "/fr",
        "/é",
        "/blog/é",
        "/a%2Fb",
        "/docs//a",
    ];

    fn sources(localized: bool) -> Vec<RuleSource> {
        let locales = Locales::new(["en", "fr"], "en");
        SOURCES
            .iter()
            .map(|s| {
                let mut source = RuleSource::compile(MatcherEntry::new(*s), "rule").unwrap();
                if localized {
                    source.localize(&locales);
                }
                source
            })
            .collect()
    }

    #[test]
    fn the_filter_rules_out_only_rules_that_do_not_match() {
        let locales = Locales::new(["en", "fr"], "en");
        for localized in [false, true] {
            let sources = sources(localized);
            let filter = PhaseFilter::build(sources.iter());
            assert!(filter.set.is_some(), "the set builds");
            // The look-behind source is not in the set, so the phase is never "none".
            assert!(!filter.complete);
            let mut ruled_out = 0;
            for path in PATHS {
                let request = Request::get(*path).body(()).unwrap();
                let scan = filter.scan(&request);
                for (i, source) in sources.iter().enumerate() {
                    let hit = source
                        .captures(&request, localized.then_some(&locales))
                        .unwrap();
                    if !scan.may_match(i) {
                        ruled_out += 1;
                        assert!(
                            hit.is_none(),
                            "{path}: {} ruled out but matches",
                            SOURCES[i]
                        );
                    }
                }
            }
            // And it does rule out: the set answers for the whole phase, so a path that
            // no source in it matches rules out every rule in it.
            let blog = Request::get("/blog").body(()).unwrap();
            let scan = filter.scan(&blog);
            assert!((0..SOURCES.len()).all(|i| scan.may_match(i) != filter.in_set[i]));
            assert!(ruled_out > 0);
        }
    }

    #[test]
    fn a_phase_of_plain_rules_is_ruled_out_in_one_pass() {
        let sources: Vec<_> = sources(true).into_iter().take(4).collect();
        let filter = PhaseFilter::build(sources.iter());
        assert!(filter.complete);
        let scan = |path: &str| filter.scan(&Request::get(path).body(()).unwrap()).none();
        assert!(scan("/_next/static/app.js"));
        assert!(!scan("/fr/about"));
        // Other forms of the path are left to the rules themselves.
        assert!(!scan("/_next/static/app%2Ejs"));
        assert!(!scan("/_next//static/app.js"));
    }
}
