//! Engine choice: which engine runs a parsed expression, and running it.
//!
//! - A tree without look-around or back-references runs on the `regex` crate
//!   ([`Engine::Plain`]); when it will run alone, [`Program::prepare`] also builds a dense
//!   DFA from `regex-automata`, which skips the `regex` crate's per-call cache lookup.
//! - A tree whose only look-arounds are look-aheads at a fixed offset is lifted (see
//!   [`lift`](super::lift)) and also runs on `regex`, with guards.
//! - Anything else runs on `fancy-regex` ([`Engine::Fancy`]), whose backtracking limit
//!   can leave a match [`Undecided`].
//! - Many plain programs of one matcher run as one `regex-automata` set
//!   ([`ProgramSet`]): one pass over the path says which of them match.

use std::cell::RefCell;
use std::sync::Arc;

use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::{Anchored, Input, PatternID, PatternSet};

use super::ast::JsRegex;
use super::emit::to_rust;
use super::lift::{lift_lookaheads, Guard, GuardSkip};

/// A match the engine could not decide: fancy-regex gave up at its backtracking limit.
///
/// Never read as "no match": each caller decides in the direction that keeps the proxy
/// running (see `CompiledEntry::holds`; `tests/fail_closed.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Undecided;

/// The engine running a compiled expression.
#[derive(Debug, Clone)]
enum Engine {
    /// The `regex` crate: no look-around left (none, or lifted into guards).
    Plain(regex::Regex),
    /// fancy-regex, for look-around and back-references; it may give up
    /// ([`Undecided`]).
    Fancy(Box<fancy_regex::Regex>),
}

/// A compiled JavaScript regular expression.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    engine: Engine,
    /// A fully built DFA for an anchored plain pattern: `is_match` without the regex
    /// engine's per-call cache lookup, which is most of the cost on short paths.
    /// Built by [`Program::prepare`] for the patterns that run alone (not in a set).
    dfa: Option<Arc<Prepared>>,
    /// Whether [`Program::prepare`] ran (a pattern over the DFA's size limit has no DFA,
    /// and is not tried again for every clone).
    prepared: bool,
    /// [`Prepared::accepts_ascii_paths`], kept here: the test that decides the usual
    /// request then reads no memory outside the entry.
    accepts_ascii_paths: bool,
    guards: Vec<Guard>,
    /// The guards' first bytes, when a path can pass them all on its one byte.
    guard_skip: Option<GuardSkip>,
    /// Group names (group 1 first).
    pub(crate) groups: Vec<Option<String>>,
    /// The Rust source of the plain engine (for a [`ProgramSet`]), if plain.
    pub(crate) plain_source: Option<String>,
}

/// Size limit for compiled regexes: a hostile config gets an error, not unbounded memory
/// (`js_regex::tests::an_expression_over_the_size_limit_does_not_compile`).
const SIZE_LIMIT: usize = 8 << 20;

/// The most backtracking steps fancy-regex takes on one match before it gives up
/// ([`Undecided`]): with [`MAX_PATH_LEN`](crate::matcher::MAX_PATH_LEN), this bounds the
/// time of one match (the `matcher_bounded` fuzz target; `tests/fail_closed.rs`).
const BACKTRACK_LIMIT: usize = 100_000;

/// Size limit for a prebuilt DFA; a pattern whose DFA is larger runs on the regex engine.
const DFA_SIZE_LIMIT: usize = 256 << 10;

/// A prebuilt automaton, and what it tells about paths in general.
#[derive(Debug)]
struct Prepared {
    dfa: dense::DFA<Vec<u32>>,
    /// Whether every `/` followed by the ASCII a request path can hold matches (`/(.*)` once
    /// the look-aheads are lifted): then a request's own ASCII path needs no automaton run
    /// (`matcher::tests::paths_accepted_without_the_automaton_match_as_with_it`).
    accepts_ascii_paths: bool,
}

/// Whether `dfa` matches `/` followed by any string of the ASCII bytes a request path can
/// hold (`!` to `~`, and DEL, which some `http` 1.x releases let through): every state
/// reachable that way must match at the end of input. A DFA is finite, so the walk ends.
fn accepts_ascii_paths(dfa: &dense::DFA<Vec<u32>>) -> bool {
    let config = regex_automata::util::start::Config::new().anchored(Anchored::Yes);
    let Ok(start) = dfa.start_state(&config) else {
        return false;
    };
    let first = dfa.next_state(start, b'/');
    let mut seen = vec![first];
    let mut todo = vec![first];
    while let Some(state) = todo.pop() {
        if !dfa.is_match_state(dfa.next_eoi_state(state)) {
            return false;
        }
        for byte in b'!'..=0x7f {
            let next = dfa.next_state(state, byte);
            if !seen.contains(&next) {
                if seen.len() >= 64 {
                    return false;
                }
                seen.push(next);
                todo.push(next);
            }
        }
    }
    true
}

fn compile_dfa(source: &str) -> Option<Arc<Prepared>> {
    if !source.starts_with('^') {
        return None;
    }
    let config = dense::Config::new()
        .start_kind(StartKind::Anchored)
        .dfa_size_limit(Some(DFA_SIZE_LIMIT))
        .determinize_size_limit(Some(DFA_SIZE_LIMIT));
    let dfa = dense::Builder::new().configure(config).build(source).ok()?;
    let accepts_ascii_paths = accepts_ascii_paths(&dfa);
    Some(Arc::new(Prepared {
        dfa,
        accepts_ascii_paths,
    }))
}

fn compile_plain(source: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(source)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

impl Program {
    /// Compiles a parsed expression on the engine it needs. Errors are engine errors (size
    /// limits, constructs the engines refuse), as a message.
    pub(crate) fn compile(re: &JsRegex) -> Result<Program, String> {
        let groups = re.groups.clone();
        // No look-around and no back-reference: the `regex` crate, as is.
        if !re.ast.needs_fancy() {
            let src = to_rust(&re.ast, false);
            let regex = compile_plain(&src)?;
            return Ok(Program::plain(regex, src, Vec::new(), groups));
        }
        // Look-aheads at a fixed offset only: lifted into guards, the rest on `regex`.
        if let Some((rest, lifted)) = lift_lookaheads(&re.ast)
            && !rest.needs_fancy()
        {
            let src = to_rust(&rest, false);
            let regex = compile_plain(&src)?;
            let mut guards = Vec::with_capacity(lifted.len());
            for (offset, must_match, body) in lifted {
                let gsrc = format!("^(?:{})", to_rust(&body, false));
                guards.push(Guard::new(offset, must_match, compile_plain(&gsrc)?, &body));
            }
            return Ok(Program::plain(regex, src, guards, groups));
        }
        // The rest: fancy-regex, whose backtracking limit bounds the time of one match.
        let src = to_rust(&re.ast, true);
        let regex = fancy_regex::RegexBuilder::new(&src)
            .delegate_size_limit(SIZE_LIMIT)
            .delegate_dfa_size_limit(SIZE_LIMIT)
            .backtrack_limit(BACKTRACK_LIMIT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Program {
            engine: Engine::Fancy(Box::new(regex)),
            dfa: None,
            prepared: false,
            accepts_ascii_paths: false,
            guards: Vec::new(),
            guard_skip: None,
            groups,
            plain_source: None,
        })
    }

    /// A program on the `regex` crate, with its lifted look-aheads (if any).
    fn plain(
        regex: regex::Regex,
        src: String,
        guards: Vec<Guard>,
        groups: Vec<Option<String>>,
    ) -> Program {
        Program {
            engine: Engine::Plain(regex),
            dfa: None,
            prepared: false,
            accepts_ascii_paths: false,
            guard_skip: GuardSkip::of(&guards),
            guards,
            groups,
            plain_source: Some(src),
        }
    }

    /// The lifted look-aheads.
    #[cfg(test)]
    pub(super) fn guards(&self) -> &[Guard] {
        &self.guards
    }

    /// The one-byte shortcut past the guards, if any.
    #[cfg(test)]
    pub(super) fn guard_skip(&self) -> Option<GuardSkip> {
        self.guard_skip
    }

    /// Whether the program runs without fancy-regex.
    #[cfg(test)]
    pub(crate) fn is_plain(&self) -> bool {
        matches!(self.engine, Engine::Plain(_))
    }

    /// Builds the DFA that `is_match` uses, for a pattern that will run on its own (a set
    /// of many patterns does not need one per pattern, and building them costs time).
    pub(crate) fn prepare(&mut self) {
        if self.prepared {
            return;
        }
        self.prepared = true;
        if let (Engine::Plain(_), Some(src)) = (&self.engine, &self.plain_source) {
            self.dfa = compile_dfa(src);
            self.accepts_ascii_paths = self.dfa.as_ref().is_some_and(|p| p.accepts_ascii_paths);
        }
    }

    /// Checks the lifted look-aheads (after the main regex matched).
    #[inline]
    pub(crate) fn guards_pass(&self, hay: &str) -> bool {
        if let Some(skip) = &self.guard_skip
            && skip.passes(hay)
        {
            return true;
        }
        self.guards.iter().all(|g| g.passes(hay))
    }

    /// [`Program::is_match`] for a request's path as sent (`Uri::path`): an ASCII one (which
    /// holds no space or control character but DEL) skips the automaton when the pattern
    /// accepts all of those.
    #[inline]
    pub(crate) fn is_match_request_path(&self, path: &str) -> Result<bool, Undecided> {
        self.is_match_with(path, true)
    }

    /// Whether the prebuilt automaton accepts every ASCII request path.
    #[cfg(test)]
    pub(crate) fn accepts_ascii_paths(&self) -> bool {
        self.accepts_ascii_paths
    }

    /// Whether the expression matches somewhere in `hay`.
    pub(crate) fn is_match(&self, hay: &str) -> Result<bool, Undecided> {
        self.is_match_with(hay, false)
    }

    #[inline]
    fn is_match_with(&self, hay: &str, request_path: bool) -> Result<bool, Undecided> {
        match &self.engine {
            // The lifted look-aheads first: they are literal prefix tests that reject the
            // excluded paths (`/_next/static/...`) before the automaton reads a byte.
            Engine::Plain(r) => Ok({
                self.guards_pass(hay)
                    && match &self.dfa {
                        Some(_)
                            if request_path
                                && self.accepts_ascii_paths
                                && hay.starts_with('/')
                                && hay.is_ascii() =>
                        {
                            true
                        }
                        Some(prepared) => prepared
                            .dfa
                            .try_search_fwd(&Input::new(hay).anchored(Anchored::Yes))
                            .map_or_else(|_| r.is_match(hay), |m| m.is_some()),
                        None => r.is_match(hay),
                    }
            }),
            // The only error fancy-regex gives at match time is its backtracking limit
            // (guarded by `tests/fail_closed.rs`).
            Engine::Fancy(r) => r.is_match(hay).map_err(|_| Undecided),
        }
    }

    /// The groups of the first match: `None` when no match, else one slot
    /// per group (group 1 first).
    pub(crate) fn captures<'h>(
        &self,
        hay: &'h str,
    ) -> Result<Option<Vec<Option<&'h str>>>, Undecided> {
        let groups = 1..=self.groups.len();
        match &self.engine {
            Engine::Plain(r) => Ok(r
                .captures(hay)
                .filter(|_| self.guards_pass(hay))
                .map(|caps| groups.map(|i| caps.get(i).map(|m| m.as_str())).collect())),
            Engine::Fancy(r) => Ok(r
                .captures(hay)
                .map_err(|_| Undecided)?
                .map(|caps| groups.map(|i| caps.get(i).map(|m| m.as_str())).collect())),
        }
    }
}

thread_local! {
    /// The set's answer buffer, reused so that a search allocates nothing once warm
    /// (`tests/matcher_alloc.rs`).
    static PATTERN_SET: RefCell<PatternSet> = RefCell::new(PatternSet::new(0));
}

/// Size limit for a set's prebuilt DFA (all its patterns in one); a larger set runs on the
/// meta regex engine.
const SET_DFA_SIZE_LIMIT: usize = 4 << 20;

/// The engine of a [`ProgramSet`].
#[derive(Debug)]
enum SetEngine {
    /// Every pattern in one prebuilt dense DFA, anchored at the start: one walk over the
    /// path's bytes, no cache to fetch per call, and an early stop where no pattern can
    /// match any more (most paths a matcher skips stop within a few bytes).
    Dense(Box<dense::DFA<Vec<u32>>>),
    /// The meta regex engine, for sets whose DFA is too large or not start-anchored.
    Meta(regex_automata::meta::Regex),
}

/// The plain programs of a matcher as one `regex-automata` automaton: one pass over a path
/// says which of them match, instead of one pass per program.
#[derive(Debug)]
pub(crate) struct ProgramSet {
    engine: SetEngine,
    /// Program index -> pattern id in the set; `None` for a program that runs alone.
    ids: Vec<Option<usize>>,
    /// Pattern id in the set -> program index (ids grow with the index, so this is sorted).
    programs: Vec<usize>,
    /// Whether every program is in the set (then a miss of the set is a miss of all).
    complete: bool,
}

/// A dense DFA over all of `sources`, reporting every pattern that matches, if it is
/// start-anchored (every source begins with `^`) and stays under the size limit.
fn compile_set_dfa(sources: &[&str]) -> Option<dense::DFA<Vec<u32>>> {
    let config = dense::Config::new()
        .start_kind(StartKind::Anchored)
        .match_kind(regex_automata::MatchKind::All)
        .dfa_size_limit(Some(SET_DFA_SIZE_LIMIT))
        .determinize_size_limit(Some(SET_DFA_SIZE_LIMIT));
    let dfa = dense::Builder::new()
        .configure(config)
        .build_many(sources)
        .ok()?;
    // An anchored walk would miss a match that starts later in the path.
    dfa.is_always_start_anchored().then_some(dfa)
}

/// Walks `dfa` over `path` from its anchored start, calling `on_match` with each match
/// state met (including the one after the end); `false` if none was.
#[inline]
fn walk_dense(
    dfa: &dense::DFA<Vec<u32>>,
    path: &str,
    mut on_match: impl FnMut(regex_automata::util::primitives::StateID),
) -> bool {
    let config = regex_automata::util::start::Config::new().anchored(Anchored::Yes);
    let Ok(mut state) = dfa.start_state(&config) else {
        return false;
    };
    let mut matched = false;
    for &byte in path.as_bytes() {
        state = dfa.next_state(state, byte);
        if dfa.is_special_state(state) {
            if dfa.is_dead_state(state) {
                return matched;
            }
            // A match state here is a match that ended one byte back (a pattern without
            // `$`): it counts, as it does for `regex::Regex::is_match`.
            if dfa.is_match_state(state) {
                matched = true;
                on_match(state);
            }
        }
    }
    state = dfa.next_eoi_state(state);
    if dfa.is_match_state(state) {
        matched = true;
        on_match(state);
    }
    matched
}

/// The pattern ids a walk met, without allocating; `overflow` when there were more than
/// it holds (the search then collects them in a [`PatternSet`]).
#[derive(Default)]
struct Found {
    ids: [usize; 8],
    len: usize,
    overflow: bool,
}

impl Found {
    fn insert(&mut self, pid: usize) {
        if self.ids[..self.len].contains(&pid) {
            return;
        }
        match self.ids.get_mut(self.len) {
            Some(slot) => {
                *slot = pid;
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }

    /// The ids met, in order.
    fn sorted(&mut self) -> &[usize] {
        let ids = &mut self.ids[..self.len];
        ids.sort_unstable();
        ids
    }
}

impl ProgramSet {
    /// The set of the plain programs among `programs`, if there are at least two of them
    /// and they build together; `None` otherwise (each program then runs alone).
    pub(crate) fn build(programs: &[&Program]) -> Option<Self> {
        let mut sources = Vec::new();
        let mut ids = Vec::with_capacity(programs.len());
        let mut indices = Vec::new();
        for (i, program) in programs.iter().enumerate() {
            match &program.plain_source {
                Some(src) if programs.len() > 1 => {
                    ids.push(Some(sources.len()));
                    sources.push(src.as_str());
                    indices.push(i);
                }
                _ => ids.push(None),
            }
        }
        if sources.len() < 2 {
            return None;
        }
        let engine = match compile_set_dfa(&sources) {
            Some(dfa) => SetEngine::Dense(Box::new(dfa)),
            None => SetEngine::Meta(
                regex_automata::meta::Regex::builder()
                    .configure(
                        regex_automata::meta::Config::new()
                            .match_kind(regex_automata::MatchKind::All),
                    )
                    .build_many(&sources)
                    .ok()?,
            ),
        };
        let complete = ids.iter().all(Option::is_some);
        Some(ProgramSet {
            engine,
            ids,
            programs: indices,
            complete,
        })
    }

    /// Whether program `index` runs in the set (else it runs alone).
    pub(crate) fn contains(&self, index: usize) -> bool {
        self.ids.get(index).is_some_and(Option::is_some)
    }

    /// Whether the set runs on a prebuilt DFA.
    #[cfg(test)]
    pub(crate) fn is_dense(&self) -> bool {
        matches!(self.engine, SetEngine::Dense(_))
    }

    /// The first program index (in order) that `check` accepts. `check` gets the index and,
    /// for a program in the set, whether the set matched it (`None`: the program runs
    /// alone, and `check` must run it).
    #[inline]
    pub(crate) fn position(
        &self,
        path: &str,
        check: impl Fn(usize, Option<bool>) -> bool,
    ) -> Option<usize> {
        if let SetEngine::Dense(dfa) = &self.engine {
            // The patterns met, on the stack: a path usually matches one or two.
            let mut found = Found::default();
            let matched = walk_dense(dfa, path, |state| {
                for k in 0..dfa.match_len(state) {
                    found.insert(dfa.match_pattern(state, k).as_usize());
                }
            });
            if !matched && self.complete {
                return None;
            }
            if !found.overflow {
                let found = found.sorted();
                if self.complete {
                    // Only the matched patterns, in program order (pattern ids follow it).
                    return found
                        .iter()
                        .map(|&pid| self.programs[pid])
                        .find(|&i| check(i, Some(true)));
                }
                return (0..self.ids.len())
                    .position(|i| check(i, self.ids[i].map(|pid| found.contains(&pid))));
            }
        }
        self.position_with_pattern_set(path, check)
    }

    /// [`ProgramSet::position`] with every match collected into the thread's pattern set.
    fn position_with_pattern_set(
        &self,
        path: &str,
        check: impl Fn(usize, Option<bool>) -> bool,
    ) -> Option<usize> {
        let fill = |pats: &mut PatternSet| match &self.engine {
            SetEngine::Dense(dfa) => {
                walk_dense(dfa, path, |state| {
                    for k in 0..dfa.match_len(state) {
                        let _ = pats.try_insert(dfa.match_pattern(state, k));
                    }
                });
            }
            SetEngine::Meta(regex) => {
                let input = Input::new(path);
                if !self.complete || regex.is_match(input.clone()) {
                    regex.which_overlapping_matches(&input, pats);
                }
            }
        };
        let first = |pats: &PatternSet| {
            (0..self.ids.len()).position(|i| {
                check(
                    i,
                    self.ids[i].map(|pid| pats.contains(PatternID::new_unchecked(pid))),
                )
            })
        };
        let len = self.programs.len();
        PATTERN_SET.with(|cell| match cell.try_borrow_mut() {
            Ok(mut pats) => {
                if pats.capacity() < len {
                    *pats = PatternSet::new(len);
                }
                pats.clear();
                fill(&mut pats);
                if self.complete && pats.is_empty() {
                    return None;
                }
                first(&pats)
            }
            // Already borrowed: a search from inside `check` (none does today) gets its own.
            Err(_) => {
                let mut pats = PatternSet::new(len);
                fill(&mut pats);
                first(&pats)
            }
        })
    }
}
