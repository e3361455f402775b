#!/usr/bin/env bash
# What an external rewrite costs, in one run, on loopback (issue 23): wrk at 64 connections
# against the same JSON upstream (`{"ok":true}`) through
#   - ours: `ProxyLayer::with_external`, every request rewritten to the upstream;
#   - bare: hyper-util's pooled client doing the same forwarding by hand;
#   - next: Next.js 16.4.6's own external rewrite (`NextResponse.rewrite(new URL(...))` in a
#     `proxy.js`), `next build` then `next start`.
# Then our server alone at 256 connections for MEM_SECONDS, its memory (VmRSS) sampled every
# second, and the connections it still holds to the upstream when the load has ended.
#
#   bash scripts/forward-vs-peers.sh                          (about 5 minutes)
#   ROUNDS=1 DURATION=2 MEM_SECONDS=5 IDLE_WAIT=2 bash scripts/forward-vs-peers.sh  (a check)
#
# ROUNDS (default 5) rounds of DURATION seconds (default 5) per variant, the variants in
# another order every round, so that drift on the machine falls on all alike; the ratio
# ours / bare is taken within each round, and the median printed. `DURATION`, not
# `SECONDS`: bash gives that name a meaning of its own.
# IDLE_WAIT (default 10): how long after the load to count the connections again. The pool
# keeps idle connections for reuse, and closes them after 4 s idle
# (`Upstreams::with_pool`'s defaults).
# PIN=0: no pinning (by default the forwarder runs on core 0, the upstream and wrk on core 1,
# one tokio worker each, so that the forwarders never compete with wrk for a core).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
duration=${DURATION:-5}
mem_seconds=${MEM_SECONDS:-60}
idle_wait=${IDLE_WAIT:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v node >/dev/null || { echo "forward-vs-peers: needs node" >&2; exit 2; }
# shellcheck source=scripts/next-16.sh
source scripts/next-16.sh
modules=$(next_modules)

if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
  proxy_cpu=(taskset -c 0); other_cpu=(taskset -c 1); workers=1
  setup="forwarder on core 0 (one tokio worker), upstream and wrk on core 1"
else
  proxy_cpu=(); other_cpu=(); workers=$(nproc)
  setup="all sharing the $(nproc) cores"
fi

work=$(mktemp -d)
groups=()
# Every server is started in a session of its own (setsid), so that killing its group also
# ends what it started (`next start` runs its server in a child process).
cleanup() {
  for pid in "${groups[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  for pid in "${groups[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --features external --example bench_forward -q
bin=target/release/examples/bench_forward

# name command...: starts a server whose first output line is `listening on
# host:port`, waits for it (10 s at most) and sets `addr`.
start() {
  local name=$1; shift
  setsid "$@" >"$work/$name.out" 2>"$work/$name.err" &
  groups+=($!)
  for _ in $(seq 1 100); do
    # The file may not exist yet: the server's shell creates it.
    addr=$(awk '/^listening on / {print $3; exit}' "$work/$name.out" 2>/dev/null || true)
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  echo "forward-vs-peers: $name did not start:" >&2; cat "$work/$name.err" >&2; exit 1
}
start upstream env VARIANT=upstream ADDR=127.0.0.1:0 TOKIO_WORKER_THREADS="$workers" "${other_cpu[@]}" "$bin"
upstream=$addr
start ours env VARIANT=ours UPSTREAM="$upstream" ADDR=127.0.0.1:0 TOKIO_WORKER_THREADS="$workers" "${proxy_cpu[@]}" "$bin"
ours=$addr ours_pid=${groups[-1]}
start bare env VARIANT=bare UPSTREAM="$upstream" ADDR=127.0.0.1:0 TOKIO_WORKER_THREADS="$workers" "${proxy_cpu[@]}" "$bin"
bare=$addr

# The Next.js app: a proxy.js that rewrites every request to the upstream, the same path
# and query, as our proxy function does. The upstream is read at run time (proxy.js runs in
# Node.js in Next.js 16), so one build serves any port. It lives beside node_modules:
# Turbopack compiles nothing outside the directory of the nearest lockfile.
app="$NEXT_CACHE/forward-app"
mkdir -p "$app/app"
echo '{"private":true}' >"$app/package.json"
cat >"$app/proxy.js" <<'EOF'
import { NextResponse } from 'next/server';

export function proxy(request) {
  const { pathname, search } = request.nextUrl;
  return NextResponse.rewrite(new URL(pathname + search, process.env.UPSTREAM_ORIGIN));
}
EOF
# A page, since `next build` wants one; never asked for (the proxy rewrites every path).
echo 'export default function Layout({ children }) { return <html><body>{children}</body></html>; }' >"$app/app/layout.js"
echo 'export default function Page() { return <p>home</p>; }' >"$app/app/page.js"
sum=$(cat "$app/proxy.js" "$app/app/"*.js | sha256sum | cut -c1-16)
if [ "$(cat "$app/.next/bench-sum" 2>/dev/null)" != "$sum" ]; then
  echo "next build (at most 10 minutes)" >&2
  (cd "$app" && NEXT_TELEMETRY_DISABLED=1 timeout 600 node "$modules/next/dist/bin/next" build >"$work/next-build.log" 2>&1) ||
    { cat "$work/next-build.log" >&2; exit 1; }
  echo "$sum" >"$app/.next/bench-sum"
fi
next_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid env UPSTREAM_ORIGIN="http://$upstream" NEXT_TELEMETRY_DISABLED=1 "${proxy_cpu[@]}" \
  node "$modules/next/dist/bin/next" start "$app" -H 127.0.0.1 -p "$next_port" >"$work/next.out" 2>&1 &
groups+=($!)
next=127.0.0.1:$next_port
for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "http://$next/" && break; sleep 0.2; done

# Each forwarder must answer the upstream's body before it is measured.
for variant in ours bare next; do
  body=$(curl -s --max-time 5 "http://${!variant}/check?x=1" || true)
  [ "$body" = '{"ok":true}' ] || { echo "forward-vs-peers: $variant answered '$body'" >&2; cat "$work/$variant".* >&2; exit 1; }
done

# variant connections seconds -> requests per second; fails on socket errors or non-2xx,
# except wrk's timeouts of Next.js (a request over 2 s), which are counted in the table.
load() {
  local out
  out=$(timeout $(($3 + 30)) "${other_cpu[@]}" wrk -t1 -c"$2" -d"${3}s" "http://${!1}/page")
  if [ "$1" = next ] && grep -qE 'Socket errors: connect 0, read 0, write 0, timeout [0-9]+$' <<<"$out"; then
    awk '/Socket errors/ {print $NF}' <<<"$out" >>"$work/next_timeouts"
    out=$(grep -v 'Socket errors' <<<"$out")
  fi
  if grep -qE 'Socket errors|Non-2xx' <<<"$out"; then
    echo "forward-vs-peers: $1 failed requests:" >&2; echo "$out" >&2; exit 1
  fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}

variants=(ours bare next)
for variant in "${variants[@]}"; do load "$variant" 64 1 >/dev/null; done # warm-up
results=$work/results
for round in $(seq 1 "$rounds"); do
  # Rotate the order, so that no variant always follows the same one.
  shift_by=$(((round - 1) % ${#variants[@]}))
  order=("${variants[@]:shift_by}" "${variants[@]:0:shift_by}")
  for variant in "${order[@]}"; do
    rps=$(load "$variant" 64 "$duration")
    echo "$round $variant $rps" >>"$results"
    echo "round $round $variant: $rps req/s" >&2
  done
done

# Memory of our server under 256 connections: a sample a second while wrk runs.
rss() { awk '/^VmRSS/ {print $2}' "/proc/$ours_pid/status"; }
echo "memory: ours at 256 connections for ${mem_seconds}s" >&2
load ours 256 "$mem_seconds" >"$work/mem_rps" &
loader=$!
samples=()
for _ in $(seq 1 "$mem_seconds"); do sleep 1; samples+=("$(rss)"); done
wait "$loader"

# Connections our server still holds to the upstream (idle in its pool), one second after
# the load and IDLE_WAIT seconds later; and the clients still connected to it.
upstream_port=${upstream##*:}
held() { ss -Htnp state established "( dport = :$upstream_port )" | grep -c "pid=$ours_pid," || true; }
clients() { ss -Htn state established "( dport = :${ours##*:} )" | wc -l; }
sleep 1
held_after=$(held) clients_after=$(clients)
sleep "$idle_wait"
held_later=$(held)

echo
echo "$rounds rounds of ${duration}s per variant, wrk -t1 -c64 against /page; $setup;" \
  "$(nproc) cores; $(date -u +'%F %H:%M') UTC:"
python3 - "$results" <<'EOF'
import statistics, sys
from collections import defaultdict
rps = defaultdict(dict)
for line in open(sys.argv[1]):
    round_, variant, value = line.split()
    rps[variant][round_] = float(value)
names = {"ours": "ours: `ProxyLayer::with_external`", "bare": "bare hyper-util forwarder",
         "next": "Next.js 16.4.6, `proxy.js` rewrite"}
print("| forwarder | req/s (median) | lowest–highest |")
print("|---|---|---|")
for variant in ("ours", "bare", "next"):
    values = list(rps[variant].values())
    print(f"| {names[variant]} | {statistics.median(values):,.0f} | {min(values):,.0f}–{max(values):,.0f} |")
def ratio(a, b):
    return statistics.median(rps[a][r] / rps[b][r] for r in rps[a])
print(f"\nours / bare: {ratio('ours', 'bare'):.3f} (median of the per-round ratios; goal ≥ 0.9);"
      f" ours / Next.js: {ratio('ours', 'next'):.2f}")
EOF
[ -s "$work/next_timeouts" ] &&
  echo "Next.js: $(paste -sd+ "$work/next_timeouts" | bc) requests timed out (over 2 s) in wrk"
printf 'memory of ours, %s s at 256 connections (%s req/s): VmRSS start %s kB, end %s kB, max %s kB\n' \
  "$mem_seconds" "$(cat "$work/mem_rps")" "${samples[0]}" "${samples[-1]}" \
  "$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)"
echo "connections from ours to the upstream after the load: $held_after after 1 s," \
  "$held_later after $((idle_wait + 1)) s (clients still connected after 1 s: $clients_after)"
