#!/usr/bin/env bash
# Our matcher against Next.js 16.4.6's, in one run, on the same configs and paths (issue 23).
#
#   bash scripts/matcher-vs-nextjs.sh                 (5 rounds per side; about a minute)
#   ROUNDS=1 SCALE=0.1 bash scripts/matcher-vs-nextjs.sh   (a quick check that it works)
#
# The cases (four configs, two path mixes each, iterations per run) come from
# scripts/matcher-vs-nextjs.js; benches/matcher_vs_nextjs.rs times `Matcher::matches` on
# them, the same .js file times Next.js's `getMiddlewareRouteMatcher`, called as its router
# calls it. Each side runs every case for one round not recorded (warm-up: V8 compiles the
# hot loop), then ROUNDS rounds of the same number of iterations; the table has the medians.
# SCALE multiplies the iterations (default 1). Next.js is installed from npm on first use
# (scripts/next-16.sh). Needs node (20 or later) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
scale=${SCALE:-1}
command -v node >/dev/null || { echo "matcher-vs-nextjs: needs node" >&2; exit 2; }
# shellcheck source=scripts/next-16.sh
source scripts/next-16.sh
modules=$(next_modules)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node scripts/matcher-vs-nextjs.js cases "$scale" >"$work/cases.json"

# The release profile (not `bench`, which adds debug info): the build the other release
# scripts share.
bin=$(cargo bench --profile release --bench matcher_vs_nextjs --no-run --message-format=json |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "matcher_vs_nextjs" and m.get("executable"):
        print(m["executable"])' || true)
[ -n "$bin" ] || { echo "matcher-vs-nextjs: the bench did not build" >&2; exit 1; }

# One side after the other, each alone on the machine, both single-threaded.
echo "ours: $rounds rounds" >&2
CASES="$work/cases.json" ROUNDS=$rounds timeout 600 "$bin" >"$work/ours.tsv"
echo "Next.js $NEXT_VERSION: $rounds rounds" >&2
NODE_PATH=$modules timeout 900 node scripts/matcher-vs-nextjs.js bench "$work/cases.json" "$rounds" >"$work/next.tsv"

echo
echo "Matcher decisions, ns per call (median of $rounds rounds), $(nproc) cores," \
  "node $(node --version), $(date -u +'%F %H:%M') UTC:"
python3 - "$work/cases.json" "$work/ours.tsv" "$work/next.tsv" <<'EOF'
import json, sys
cases = json.load(open(sys.argv[1]))
def read(path):
    return {(f[0], f[1]): f[2:] for f in (line.split("\t") for line in open(path).read().splitlines())}
ours, nextjs = read(sys.argv[2]), read(sys.argv[3])
mixes = {"issue": "the issue's 8 paths", "all_match": "every path matches"}
print("| config | paths | matching | iterations | ours | Next.js | ratio |")
print("|---|---|---|---|---|---|---|")
worst = None
for case in cases:
    for mix in case["mixes"]:
        key = (case["name"], mix)
        (o_matched, o_ns, *_), (n_matched, n_ns, *_) = ours[key], nextjs[key]
        # Both sides count the paths of the mix that match: a difference would mean they
        # do not answer the same question, and the ratio would mean nothing.
        if o_matched != n_matched:
            sys.exit(f"{key}: {o_matched} paths match ours, {n_matched} Next.js's")
        ratio = float(n_ns) / float(o_ns)
        worst = ratio if worst is None else min(worst, ratio)
        label = case["label"].replace("|", "\\|")
        print(f"| {label} | {mixes.get(mix, mix)} | {o_matched}/{len(case['mixes'][mix])} "
              f"| {case['iterations']:,} | {float(o_ns):,.1f} ns | {float(n_ns):,.1f} ns | {ratio:,.1f}× |")
print(f"\nlowest ratio: {worst:,.1f}× (issue 23's goal: ≥ 25× everywhere)")
EOF
