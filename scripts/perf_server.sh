#!/usr/bin/env bash
# Where a real server's time per request goes: examples/bench_server.rs under wrk, sampled
# by `perf record`, for two variants, and the difference per request by function.
#
#   bash scripts/perf_server.sh [A:PATH] [B:PATH] [SECONDS] [ROUNDS]
#   (defaults: proxy:/_next/static/app.js proxy:/page 4 1, i.e. what a matched request adds
#   over an unmatched one in the same binary)
#
# BIN_A / BIN_B set another build of bench_server for one side (before/after a change:
# `cp target/perf/release/examples/bench_server /tmp/before` first).
#
# With several rounds, A and B alternate (A B, B A, ...) and each figure is the median over
# the rounds: a shared machine slows one recording now and then, everywhere at once.
#
# The server runs on one core with one tokio worker and wrk on the other, as in
# scripts/loadtest.sh. The build keeps line tables (for symbols) in target/perf. Figures are
# nanoseconds of server CPU per request: samples x sampling period / requests. `perf` uses
# the `cpu-clock` software event, which works where hardware counters are not exposed.
set -euo pipefail
cd "$(dirname "$0")/.."
a=${1:-proxy:/_next/static/app.js}
b=${2:-proxy:/page}
seconds=${3:-4}
rounds=${4:-1}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }
CARGO_TARGET_DIR=target/perf CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
  cargo build --release --example bench_server -q
bin=target/perf/release/examples/bench_server
out=target/perf/samples
mkdir -p "$out"
frequency=4999

record() { # name variant path binary -> requests, into $out/name.{data,requests}
  local port=$((20000 + RANDOM % 20000))
  VARIANT=$2 ADDR=127.0.0.1:$port TOKIO_WORKER_THREADS=1 taskset -c 0 "$4" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.1
  done
  taskset -c 1 wrk -t1 -c64 -d1s "http://127.0.0.1:$port$3" >/dev/null # warm-up
  perf record -q -e cpu-clock -F "$frequency" -p "$pid" -o "$out/$1.data" -- sleep "$seconds" \
    >/dev/null 2>&1 &
  local recorder=$!
  taskset -c 1 wrk -t1 -c64 -d"${seconds}s" "http://127.0.0.1:$port$3" |
    awk '/ requests in /{print $1}' >"$out/$1.requests"
  wait "$recorder" || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

rm -f "$out"/[ab][0-9]*.*
for round in $(seq 1 "$rounds"); do
  order="a b"; [ $((round % 2)) -eq 0 ] && order="b a"
  for side in $order; do
    spec=${!side}
    binary=$bin; [ "$side" = a ] && binary=${BIN_A:-$bin}; [ "$side" = b ] && binary=${BIN_B:-$bin}
    record "$side$round" "${spec%%:*}" "${spec#*:}" "$binary"
    perf report -i "$out/$side$round.data" --no-children -n --sort sym -q 2>/dev/null \
      >"$out/$side$round.txt"
  done
done
# The last round's recordings keep the plain names, for `perf annotate -i .../b.data`.
cp "$out/a$rounds.data" "$out/a.data"; cp "$out/b$rounds.data" "$out/b.data"
echo "server CPU per request, ns: B = $b minus A = $a, median of $rounds round(s)" \
  "($(nproc) cores, $(date -u +'%F %H:%M') UTC)"
python3 - "$out" "$frequency" "$rounds" <<'EOF'
import re, statistics, sys
from collections import defaultdict
out, frequency, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load_one(side):
    requests = int(open(f"{out}/{side}.requests").read())
    ns = 1e9 / frequency / requests
    by = defaultdict(float)
    for line in open(f"{out}/{side}.txt"):
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+\[(.)\]\s+(.*)", line)
        if m:
            name = "[kernel]" if m.group(2) == "k" else m.group(3).strip()
            by[name] += int(m.group(1)) * ns
    return by
def load(side):
    runs = [load_one(f"{side}{r}") for r in range(1, rounds + 1)]
    names = set().union(*runs)
    return {k: statistics.median(run.get(k, 0.0) for run in runs) for k in names}
a, b = load("a"), load("b")
user = lambda d: sum(v for k, v in d.items() if k != "[kernel]")
print(f"  total {sum(a.values()):.0f} -> {sum(b.values()):.0f}; user space {user(a):.0f} -> {user(b):.0f}"
      f" ({user(b) - user(a):+.0f}); kernel {a['[kernel]']:.0f} -> {b['[kernel]']:.0f}")
print("  user space by function (B - A, A, B), largest differences:")
rows = sorted((b.get(k, 0) - a.get(k, 0), k) for k in set(a) | set(b) if k != "[kernel]")
for diff, name in sorted(rows, key=lambda r: -abs(r[0]))[:25]:
    print(f"  {diff:+7.1f} {a.get(name, 0):7.1f} {b.get(name, 0):7.1f}  {name[:110]}")
EOF
