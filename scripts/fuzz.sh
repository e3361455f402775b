#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/, one after the other, each for SECONDS.
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]   (defaults: 600 s; matcher_compile,
#                                                 matcher_match, matcher_bounded, proxy_response, rules)
#
# Needs only stable Rust: cargo-fuzz passes nightly `-Z` flags, which RUSTC_BOOTSTRAP=1
# allows on a stable compiler. The crate forbids unsafe code, so the targets look for
# panics (and failed assertions, with debug assertions on) rather than memory errors:
# they run without a sanitizer (`-s none`), which keeps executions fast.
# The corpus grows in fuzz/corpus/<target> (not in git), seeded from fuzz/seeds/<target>;
# a crash leaves its input in fuzz/artifacts/<target> and fails the script.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(matcher_compile matcher_match matcher_bounded proxy_response rules)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
export RUSTC_BOOTSTRAP=1
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "seeds/$target"
  echo "== $target: ${seconds}s ($(date -u +%FT%TZ))"
  cargo fuzz run -s none "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
  echo "== $target: PASS (no crash in ${seconds}s)"
done
