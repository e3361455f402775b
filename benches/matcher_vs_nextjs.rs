//! Our side of `scripts/matcher-vs-nextjs.sh`: `Matcher::matches` on the configs and path
//! mixes of the cases file that `scripts/matcher-vs-nextjs.js cases` writes, with the same
//! iterations, warm-up and rounds as Next.js's side, so that the two are timed alike.
//!
//! ```sh
//! CASES=cases.json ROUNDS=5 cargo bench --profile release --bench matcher_vs_nextjs
//! ```
//!
//! Prints one line per config and mix: name, mix, how many of its paths match, then the
//! median, lowest and highest ns per call over the rounds.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use http::Request;
use serde::Deserialize;
use tower_proxy_fn::Matcher;

/// One config of the cases file (its `label`, for the script's table, is not read here).
#[derive(Deserialize)]
struct Case {
    name: String,
    patterns: Vec<String>,
    iterations: usize,
    /// Mix name to paths. The order of the lines does not matter: the script joins the two
    /// sides by config and mix.
    mixes: BTreeMap<String, Vec<String>>,
}

fn main() {
    let file = std::env::var("CASES").expect("CASES: the file `matcher-vs-nextjs.js cases` wrote");
    let rounds: usize = std::env::var("ROUNDS").map_or(5, |r| r.parse().expect("ROUNDS"));
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("CASES")).expect("CASES");
    for case in cases {
        let matcher = Matcher::new(&case.patterns).expect("the patterns compile");
        for (mix, paths) in &case.mixes {
            // Built once, outside the timing: Next.js's side is given its parsed URL too.
            let requests: Vec<Request<()>> = paths
                .iter()
                .map(|path| Request::get(path.as_str()).body(()).unwrap())
                .collect();
            let matched = requests.iter().filter(|r| matcher.matches(r)).count();
            let mut times = Vec::with_capacity(rounds);
            let mut sink = 0usize;
            // Round 0 is the warm-up, as on Next.js's side.
            for round in 0..=rounds {
                let start = Instant::now();
                for i in 0..case.iterations {
                    let request = &requests[i % requests.len()];
                    sink += usize::from(matcher.matches(black_box(request)));
                }
                let ns = start.elapsed().as_nanos() as f64 / case.iterations as f64;
                if round > 0 {
                    times.push(ns);
                }
            }
            assert_eq!(
                sink,
                matched * case.iterations * (rounds + 1) / requests.len(),
                "{} {mix}",
                case.name
            );
            times.sort_by(f64::total_cmp);
            println!(
                "{}\t{mix}\t{matched}\t{:.1}\t{:.1}\t{:.1}",
                case.name,
                times[times.len() / 2],
                times[0],
                times[times.len() - 1]
            );
        }
    }
}
