#!/usr/bin/env bash
# Throughput of examples/bench_server.rs in its variants, on loopback, as ratios from one run.
#
#   bash scripts/loadtest.sh [ROUNDS] [SECONDS]     (defaults: 3 rounds of 5 s per variant)
#
# wrk (Debian's package) drives each variant with one thread and 64 connections; variants
# are alternated round by round so that machine noise falls on all of them alike.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-5}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --example bench_server -q
bin=target/release/examples/bench_server
port=$((20000 + RANDOM % 20000))

run() { # variant path -> requests per second
  VARIANT=$1 ADDR=127.0.0.1:$port "$bin" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.1
  done
  local rps
  rps=$(wrk -t1 -c64 -d"${seconds}s" "http://127.0.0.1:$port$2" | awk '/Requests\/sec/ {print $2}')
  kill $pid; wait $pid 2>/dev/null || true
  echo "$rps"
}

declare -A total
variants=(bare:/page proxy:/page from_fn:/page proxy_static:/_next/static/app.js bare_static:/_next/static/app.js redirect:/page from_fn_redirect:/page rewrite:/page bare_target:/target)
for round in $(seq 1 "$rounds"); do
  for entry in "${variants[@]}"; do
    name=${entry%%:*}; path=${entry#*:}
    variant=${name%_static}; variant=${variant%_target}
    rps=$(run "$variant" "$path")
    total[$name]=$(python3 -c "print(${total[$name]:-0} + $rps)")
    echo "round $round $name $path: $rps req/s"
  done
done

avg() { python3 -c "print(round(${total[$1]} / $rounds))"; }
ratio() { python3 -c "print(f'{${total[$1]} / ${total[$2]}:.3f}')"; }
echo
echo "averages over $rounds rounds of ${seconds}s (wrk -t1 -c64), $(nproc) cores, $(date -u +%F):"
for entry in "${variants[@]}"; do name=${entry%%:*}; echo "  $name: $(avg "$name") req/s"; done
echo "ratios:"
echo "  proxy / bare                  = $(ratio proxy bare)   (target >= 0.95)"
echo "  proxy / from_fn               = $(ratio proxy from_fn)   (target >= 1.0)"
echo "  proxy_static / bare_static    = $(ratio proxy_static bare_static)   (unmatched requests)"
echo "  redirect / from_fn_redirect   = $(ratio redirect from_fn_redirect)   (redirect-heavy)"
echo "  rewrite / bare_target         = $(ratio rewrite bare_target)   (rewrite-heavy: /page served as /target)"
