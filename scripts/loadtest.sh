#!/usr/bin/env bash
# Throughput of examples/bench_server.rs in its variants, on loopback, as ratios from one run.
#
#   bash scripts/loadtest.sh [ROUNDS] [SECONDS]     (defaults: 12 rounds of 2 s per variant)
#   PIN=0 bash scripts/loadtest.sh ...             (server and wrk share the cores instead)
#   VARIANTS="bare proxy from_fn bare_header" bash scripts/loadtest.sh 40 2
#                                                  (only these: more rounds in the same time)
#   BEFORE=/tmp/before VARIANTS="bare proxy" bash scripts/loadtest.sh 150 1
#                                                  (adds `before`: the `proxy` variant of
#                                                  another build, e.g. the last commit's,
#                                                  copied from target/release/examples)
#
# Each variant's server stays up for a block of rounds (BLOCK, default 10; idle while another
# is measured), then all are started anew. The servers run on one core with one tokio
# worker, wrk (Debian's package) on the other with one thread and 64 connections, so that
# the two do not trade cores. Variants are alternated round by round (in reverse every
# other round), so that drift on the machine falls on all of them alike, and each ratio is
# taken within a round: the script prints the median of the per-round ratios and their
# spread, for throughput and for the server's CPU time per request, with a 95% bootstrap
# interval for each median (resampling whole blocks).
# (On a machine with one core, both share it.)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-12}
seconds=${2:-2}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --example bench_server -q
bin=target/release/examples/bench_server
if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
  server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); workers=1
  setup="server on one core with one tokio worker, wrk on another"
else
  server_cpu=(); client_cpu=(); workers=$(nproc)
  setup="server ($(nproc) tokio workers) and wrk sharing the cores"
fi

variants=(bare:/page proxy:/page from_fn:/page bare_header:/page proxy_static:/_next/static/app.js bare_static:/_next/static/app.js redirect:/page from_fn_redirect:/page rewrite:/page bare_target:/target)
if [ -n "${VARIANTS:-}" ]; then
  chosen=()
  for entry in "${variants[@]}"; do
    [[ " $VARIANTS " == *" ${entry%%:*} "* ]] && chosen+=("$entry")
  done
  [ ${#chosen[@]} -gt 0 ] || { echo "VARIANTS=$VARIANTS names none of: ${variants[*]%%:*}" >&2; exit 2; }
  variants=("${chosen[@]}")
fi
[ -z "${BEFORE:-}" ] || variants+=(before:/page)

# One server per variant of bench_server, kept up for a block of rounds (idle while another
# is measured): no start-up inside a measured window. Every block starts new servers,
# because a process carries effects of its own through all its rounds (where the binary and
# its heap land in memory, ASLR): with one process per variant for the whole run, those
# would weigh on every round alike and the interval would not show them. The interval below
# resamples whole blocks for that reason. `proxy_static` is the `proxy` server asked for a
# static path, and so on.
block=${BLOCK:-10}
declare -A port_of pid_of
servers() { for entry in "${variants[@]}"; do local v=${entry%%:*}; v=${v%_static}; echo "${v%_target}"; done | sort -u; }
stop_servers() { for pid in "${pid_of[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; }
trap stop_servers EXIT
start_servers() {
  stop_servers
  for variant in $(servers); do
    local port=$((20000 + RANDOM % 20000)) exe=$bin as=$variant
    [ "$variant" != before ] || { exe=$BEFORE; as=proxy; }
    VARIANT=$as ADDR=127.0.0.1:$port TOKIO_WORKER_THREADS=$workers "${server_cpu[@]}" "$exe" >/dev/null 2>&1 &
    pid_of[$variant]=$!; port_of[$variant]=$port
    for _ in $(seq 1 50); do
      (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
      sleep 0.1
    done
  done
}

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; } # user, system: clock ticks
# variant path seconds -> "requests-per-second server-CPU-us-per-request user-space-us-per-request"
run() {
  local pid=${pid_of[$1]} out user0 system0 user1 system1
  read -r user0 system0 < <(cpu_ticks "$pid")
  out=$("${client_cpu[@]}" wrk -t1 -c64 -d"${3}s" "http://127.0.0.1:${port_of[$1]}$2")
  read -r user1 system1 < <(cpu_ticks "$pid")
  echo "$out" | awk -v user=$((user1 - user0)) -v cpu=$((user1 - user0 + system1 - system0)) \
    -v ticks="$ticks" '
    / requests in / {requests = $1}
    /Requests\/sec/ {rps = $2}
    END {printf "%s %.3f %.3f\n", rps, cpu / ticks * 1e6 / requests, user / ticks * 1e6 / requests}'
}
warm_up() { # not recorded
  for entry in "${variants[@]}"; do
    local name=${entry%%:*} variant
    variant=${name%_static}; variant=${variant%_target}
    run "$variant" "${entry#*:}" 1 >/dev/null
  done
}

results=$(mktemp)
for round in $(seq 1 "$rounds"); do
  if [ $(((round - 1) % block)) -eq 0 ]; then start_servers; warm_up; fi
  # Every other round runs the variants in reverse, so that no variant always goes first.
  order=("${variants[@]}")
  if [ $((round % 2)) -eq 0 ]; then
    order=(); for ((i = ${#variants[@]} - 1; i >= 0; i--)); do order+=("${variants[i]}"); done
  fi
  for entry in "${order[@]}"; do
    name=${entry%%:*}; path=${entry#*:}
    variant=${name%_static}; variant=${variant%_target}
    read -r rps cpu user < <(run "$variant" "$path" "$seconds")
    echo "$round $name $rps $cpu $user $(((round - 1) / block))" >>"$results"
    echo "round $round $name $path: $rps req/s, $cpu us of server CPU per request ($user in user space)"
  done
done

echo
echo "$rounds rounds of ${seconds}s per variant, new servers every $block rounds (wrk -t1 -c64; $setup)," \
  "$(nproc) cores, $(date -u +'%F %H:%M') UTC:"
python3 - "$results" <<'EOF'
import random, statistics, sys
from collections import defaultdict
rps, cpu, user = defaultdict(dict), defaultdict(dict), defaultdict(dict)
blocks = defaultdict(list)  # block -> its rounds
for line in open(sys.argv[1]):
    round_, name, value, micros, user_micros, block = line.split()
    rps[name][round_] = float(value)
    cpu[name][round_] = float(micros)
    user[name][round_] = float(user_micros)
    if round_ not in blocks[block]:
        blocks[block].append(round_)
# The kernel's share (loopback TCP) is most of a request's CPU here and the noisiest part;
# user space is where the variants differ, so its medians are printed too.
for name, by_round in rps.items():
    print(f"  {name}: mean {statistics.mean(by_round.values()):.0f} req/s, "
          f"median {statistics.median(cpu[name].values()):.2f} us server CPU per request, "
          f"{statistics.median(user[name].values()):.2f} us of it in user space")
pairs = [
    ("proxy", "bare", "target >= 0.95"),
    ("proxy", "from_fn", "target >= 1.0"),
    ("proxy", "before", "this build's layer against BEFORE's"),
    ("before", "bare", "BEFORE's layer"),
    ("bare_header", "bare", "the header alone, set by the handlers: no middleware"),
    ("proxy", "bare_header", "the layer alone: both send the header"),
    ("proxy_static", "bare_static", "unmatched requests"),
    ("redirect", "from_fn_redirect", "redirect-heavy"),
    ("rewrite", "bare_target", "rewrite-heavy: /page served as /target"),
]
pairs = [p for p in pairs if p[0] in rps and p[1] in rps]
rng = random.Random(7)
def interval(by_round):
    # 95% bootstrap interval of the median: whole blocks resampled with replacement (the
    # rounds of one block share their servers), then the median of their rounds.
    groups = [[by_round[r] for r in rounds] for rounds in blocks.values()]
    def resampled():
        return [v for group in rng.choices(groups, k=len(groups)) for v in group]
    medians = sorted(statistics.median(resampled()) for _ in range(2000))
    return medians[50], medians[1949]
print("throughput ratios (median of the per-round ratios, 95% interval of that median,")
print("[lowest, highest] round; mean over mean):")
for a, b, target in pairs:
    per_round = {r: rps[a][r] / rps[b][r] for r in rps[a]}
    of_means = statistics.mean(rps[a].values()) / statistics.mean(rps[b].values())
    low, high = interval(per_round)
    per_round = list(per_round.values())
    label = f"{a} / {b}"
    print(f"  {label:<30} = {statistics.median(per_round):.3f} ({low:.3f}-{high:.3f}) "
          f"[{min(per_round):.3f}, {max(per_round):.3f}]; {of_means:.3f}   ({target})")
print("the same from server CPU per request (B's CPU / A's: the throughput one core sustains;")
print("less sensitive to what else the machine runs):")
for a, b, target in pairs:
    per_round = {r: cpu[b][r] / cpu[a][r] for r in cpu[a]}
    low, high = interval(per_round)
    per_round = list(per_round.values())
    label = f"{a} / {b}"
    print(f"  {label:<30} = {statistics.median(per_round):.3f} ({low:.3f}-{high:.3f}) "
          f"[{min(per_round):.3f}, {max(per_round):.3f}]   ({target})")
print("user-space CPU per request, A minus B in ns (median of per-round differences, 95% interval):")
for a, b, target in pairs:
    per_round = {r: (user[a][r] - user[b][r]) * 1000 for r in user[a]}
    low, high = interval(per_round)
    per_round = list(per_round.values())
    label = f"{a} - {b}"
    print(f"  {label:<30} = {statistics.median(per_round):+.0f} ({low:+.0f} to {high:+.0f})")
EOF
rm -f "$results"
