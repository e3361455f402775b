#!/usr/bin/env bash
# Soak test: the auth_guard example under CONNECTIONS concurrent connections for SECONDS,
# checking that no request fails and that resident memory does not grow.
#
#   bash scripts/soak.sh [SECONDS] [CONNECTIONS] [WARMUP_SECONDS]   (defaults: 60 256 15)
#
# Builds `examples/auth_guard.rs` (release), starts it on a free loopback port, warms it up
# with the same load, records its resident memory (VmRSS in /proc/<pid>/status), drives it
# with wrk and scripts/soak.lua (protected and unprotected paths, with and without
# credentials), records VmRSS again, and prints PASS or FAIL:
#   - zero socket errors (connect, read, write, timeout);
#   - every status is one the mix expects (200, 307, 401), each in its share of the mix
#     (3/6, 2/6, 1/6) to within the requests that can be in flight;
#   - VmRSS at the end within 10% of VmRSS after the warm-up.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
connections=${2:-256}
warmup=${3:-15}
threads=2
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --example auth_guard -q
bin=target/release/examples/auth_guard
port=$((20000 + RANDOM % 20000))
ADDR=127.0.0.1:$port "$bin" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.1
done
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
url="http://127.0.0.1:$port"
rss_start=$(rss_kb)

wrk -t$threads -c"$connections" -d"${warmup}s" --timeout 10s -s scripts/soak.lua "$url" >/dev/null
rss_warm=$(rss_kb)

# VmRSS every 10 s during the run, to tell steady growth from a one-off step.
( while sleep 10; do rss_kb; done ) > "${TMPDIR:-/tmp}/soak-rss.$$" 2>/dev/null &
sampler=$!
out=$(wrk -t$threads -c"$connections" -d"${seconds}s" --timeout 10s --latency -s scripts/soak.lua "$url")
kill $sampler 2>/dev/null || true
sleep 1 # let the last connections close
rss_end=$(rss_kb)
echo "$out"
echo "VmRSS every 10 s during the run (kB): $(tr '\n' ' ' < "${TMPDIR:-/tmp}/soak-rss.$$")"
rm -f "${TMPDIR:-/tmp}/soak-rss.$$"

python3 - "$connections" "$rss_start" "$rss_warm" "$rss_end" "$seconds" <<PY
import re, sys
connections, rss_start, rss_warm, rss_end, seconds = map(int, sys.argv[1:])
out = """$out"""
statuses = {int(s): int(c) for s, c in re.findall(r"^status (\d+) (\d+)$", out, re.M)}
completed = int(re.search(r"^completed (\d+)$", out, re.M).group(1))
errors = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", re.search(r"^errors (.*)$", out, re.M).group(1)))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
share = {200: 3, 307: 2, 401: 1}
failures = []
socket_errors = sum(errors[k] for k in ("connect", "read", "write", "timeout"))
if socket_errors:
    failures.append(f"socket errors: {errors}")
unexpected = {s: c for s, c in statuses.items() if s not in share}
if unexpected:
    failures.append(f"unexpected statuses: {unexpected}")
counted = sum(statuses.values())
for status, parts in share.items():
    want = counted * parts / 6
    if abs(statuses.get(status, 0) - want) > connections + 6:
        failures.append(f"{status}: {statuses.get(status, 0)} answers, expected about {want:.0f}")
growth = (rss_end - rss_warm) / rss_warm
if abs(growth) > 0.10:
    failures.append(f"VmRSS moved {growth:+.1%} after warm-up")
print(f"requests: {completed} in {seconds} s ({rps:.0f}/s), by status: {dict(sorted(statuses.items()))}")
print(f"socket errors: {socket_errors}; non-expected statuses: {sum(unexpected.values())}")
print(f"VmRSS: start {rss_start} kB, after warm-up {rss_warm} kB, end {rss_end} kB ({growth:+.1%})")
print("FAIL: " + "; ".join(failures) if failures else "PASS")
sys.exit(1 if failures else 0)
PY
