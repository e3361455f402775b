//! Matching with a time budget per input: matcher sources (look-around ones included)
//! against paths up to `MAX_PATH_LEN + 1000` bytes.
//!
//! Input (read as lossy UTF-8), one item a line: up to four matcher sources, then a path
//! line `[COUNT ]PREFIX[<TAB>FRAGMENT[<TAB>SUFFIX]]`. The path is `PREFIX`, `FRAGMENT`
//! repeated `COUNT` times (capped so the path stays within `MAX_PATH_LEN + 1000` bytes), then
//! `SUFFIX`; so a short input reaches the lengths where fancy-regex backtracks longest.
//! Example: `/((?!_next|[^?]*\.(?:js(?!on))).*)\n9000 /admin/\t.\t.js`.
//!
//! Properties, on every input whose matcher compiles and whose path makes a request:
//! (a) `matches` is `false` only when `select` says `Skip` (fail closed);
//! (b) a path over `MAX_PATH_LEN` is `PathTooLong` (no expression runs on it);
//! (c) `select` and `matches` each return within `BUDGET`.
//!
//! Why 250 ms: issue 18 measured 8–14 ms per selection (release) for Clerk's matcher on a
//! path of a few thousand dots, where fancy-regex stops at its backtracking limit. A debug
//! or fuzzing build (debug assertions, coverage instrumentation) is several times slower,
//! and this machine's cores are shared with other builds, so the budget is about 20 times
//! the release figure: an input over it is not a scheduling hiccup but a selection whose
//! time grows with the input, which is what the budget is there to catch. Each selection is
//! timed alone, `Instant` to `Instant`, so libFuzzer's own work does not count.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use tower_proxy_fn::matcher::{Selection, MAX_PATH_LEN};
use tower_proxy_fn::Matcher;

const BUDGET: Duration = Duration::from_millis(250);
const MAX_SOURCES: usize = 4;
/// The longest path built: past the limit by enough to cover both sides of it.
const MAX_BUILT: usize = MAX_PATH_LEN + 1000;

/// The path of a path line (see the module docs).
fn build_path(line: &str) -> String {
    let (count, rest) = match line.split_once(' ') {
        Some((digits, rest))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (digits.parse::<usize>().unwrap_or(usize::MAX), rest)
        }
        _ => (0, line),
    };
    let mut parts = rest.splitn(3, '\t');
    let prefix = parts.next().unwrap_or_default();
    let fragment = parts.next().unwrap_or_default();
    let suffix = parts.next().unwrap_or_default();
    let mut path = String::with_capacity(MAX_BUILT + 8);
    if !prefix.starts_with('/') {
        path.push('/');
    }
    path.push_str(prefix);
    if !fragment.is_empty() {
        let room = MAX_BUILT.saturating_sub(path.len() + suffix.len());
        let times = count.min(room / fragment.len());
        for _ in 0..times {
            path.push_str(fragment);
        }
    }
    path.push_str(suffix);
    path
}

fn timed<T>(what: &str, path_len: usize, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(
        took < BUDGET,
        "{what} took {took:?} (budget {BUDGET:?}) on a path of {path_len} bytes"
    );
    out
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines: Vec<&str> = text.split('\n').collect();
    let path_line = lines.pop().unwrap_or_default();
    if lines.is_empty() || lines.len() > MAX_SOURCES {
        return;
    }
    let Ok(matcher) = Matcher::new(&lines) else {
        return;
    };
    let path = build_path(path_line);
    let Ok(request) = http::Request::get(path.as_str()).body(()) else {
        return;
    };
    let raw_len = request.uri().path().len();
    let selection = timed("select", raw_len, || matcher.select(&request));
    let hit = timed("matches", raw_len, || matcher.matches(&request));
    // (a) fail closed: only a selected `Skip` lets a request past the proxy.
    if !hit {
        assert!(
            matches!(selection, Selection::Skip),
            "matches is false but select said {selection:?} on {raw_len} bytes"
        );
    }
    // (b) over the limit, no expression runs.
    if raw_len > MAX_PATH_LEN {
        assert!(
            matches!(selection, Selection::PathTooLong),
            "a path of {raw_len} bytes gave {selection:?}"
        );
        assert!(hit, "a path of {raw_len} bytes is not ruled out");
    }
});
