#!/usr/bin/env bash
# Browser end-to-end test: the `auth_guard`, `ab_test` and `sessions` examples in headless Chromium,
# driven by playwright-core (e2e/browser.mjs). Installs what it needs (Debian's chromium,
# Node.js and npm with apt, playwright-core with npm ci), builds and starts the two examples
# on free loopback ports, runs the browser and stops the servers on exit.
#
#   bash scripts/browser-e2e.sh
#
# Screenshots go to $E2E_OUT (default target/e2e), one per step, listed at the end.
# Exits non-zero if a step fails; exits 0 with a SKIP message only when no Chromium can be
# found or installed. CHROMIUM=/path/to/chromium picks another Chromium binary.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${E2E_OUT:-target/e2e}
case $out in /*) ;; *) out="$root/$out" ;; esac

apt_install() {
  command -v apt-get >/dev/null || return 1
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  if [ -z "${apt_updated:-}" ]; then
    $sudo apt-get update -qq || return 1
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# The browser: Debian's chromium (the only browser this test needs; Playwright's own
# browser downloads are not used).
chromium=${CHROMIUM:-}
if [ -z "$chromium" ]; then
  chromium=$(command -v chromium || command -v chromium-browser || true)
  if [ -z "$chromium" ]; then
    echo "== installing chromium (apt)"
    apt_install chromium || true
    chromium=$(command -v chromium || true)
  fi
  if [ -z "$chromium" ]; then
    echo "SKIP browser e2e: no Chromium here and none could be installed with apt-get" \
      "(install Debian's chromium package or set CHROMIUM=/path/to/chromium)"
    exit 0
  fi
fi
# A browser that is there but does not start is a failure, not a skip.
if ! "$chromium" --version >/dev/null 2>&1; then
  echo "browser e2e: $chromium does not run ($chromium --version failed)"
  exit 1
fi
echo "== browser: $("$chromium" --version 2>/dev/null | head -n1) ($chromium)"

# Node.js (>= 20 for playwright-core) and npm.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "== installing nodejs and npm (apt)"
  apt_install nodejs npm || { echo "browser e2e: Node.js and npm are needed and could not be installed"; exit 1; }
fi
echo "== node $(node --version), npm $(npm --version 2>/dev/null)"
(cd e2e && npm ci --no-audit --no-fund --loglevel=error)

# Same features as .ci/run's `cargo test --all-features` (which builds the examples): nothing is rebuilt.
echo "== cargo build --example auth_guard --example ab_test --example sessions"
cargo build --all-features --example auth_guard --example ab_test --example sessions

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

servers=()
stop_servers() {
  for pid in "${servers[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${servers[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_servers EXIT

mkdir -p "$out"
rm -f "$out"/*.png "$out"/*.log

# start NAME: runs the example on a free port, waits until it accepts connections, and sets
# $url to its base URL.
start() {
  local name=$1 port
  port=$(free_port)
  ADDR="127.0.0.1:$port" "target/debug/examples/$name" >"$out/$name.log" 2>&1 &
  servers+=("$!")
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      url="http://127.0.0.1:$port"
      echo "== $name listening on $url (log: $out/$name.log)"
      return 0
    fi
    kill -0 "${servers[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "browser e2e: $name did not start on port $port:"
  cat "$out/$name.log"
  exit 1
}

start auth_guard
auth_guard_url=$url
start ab_test
ab_test_url=$url
start sessions
sessions_url=$url

status=0
AUTH_GUARD_URL=$auth_guard_url AB_TEST_URL=$ab_test_url SESSIONS_URL=$sessions_url E2E_OUT=$out CHROMIUM=$chromium \
  node e2e/browser.mjs || status=$?

echo
echo "== screenshots in $out"
ls -1 "$out"/*.png 2>/dev/null || echo "(none)"
exit "$status"
