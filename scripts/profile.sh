#!/usr/bin/env bash
# Instructions per request for each case of benches/profile.rs, counted by callgrind:
# repeatable on a shared machine, unlike times.
#
#   bash scripts/profile.sh            (then: callgrind_annotate target/profile/<case>.out)
#
# Each case runs twice (1,000 and 11,000 requests); the difference / 10,000 is the cost of
# one request, without the start-up and the matcher's compilation.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
bin=$(cargo bench --bench profile --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "profile" and m.get("executable"):
        print(m["executable"])')
mkdir -p target/profile
count() { # case requests -> instructions
  valgrind --tool=callgrind --callgrind-out-file="target/profile/$1.$2.out" "$bin" "$1" "$2" 2>&1 |
    awk '/Collected :/ {print $4}'
}
declare -A per
for case in bare unmatched next from_fn rewrite redirect router_bare router_header router_next router_from_fn; do
  small=$(count "$case" 1000)
  large=$(count "$case" 11000)
  per[$case]=$(( (large - small) / 10000 ))
  cp "target/profile/$case.11000.out" "target/profile/$case.out"
done
echo "instructions per request (callgrind, $(date -u +%F), $(nproc) cores):"
for case in bare unmatched next from_fn rewrite redirect; do
  echo "  $case: ${per[$case]} (over bare: $(( per[$case] - per[bare] )))"
done
for case in router_bare router_header router_next router_from_fn; do
  echo "  $case: ${per[$case]} (over router_bare: $(( per[$case] - per[router_bare] )))"
done
# Moves too large for the compiler to inline become `memcpy` calls: count them per request.
echo "memcpy calls per request (moves of values over 128 bytes, mostly):"
python3 - bare unmatched next from_fn rewrite redirect router_bare router_next router_from_fn <<'PY'
import re, subprocess, sys
def calls(path):
    out = subprocess.run(["callgrind_annotate", "--tree=caller", path],
                         capture_output=True, text=True).stdout
    for block in out.split("\n\n"):
        if re.search(r"\*\s+\S*:__memcpy\w*", block):
            return sum(int(n.replace(",", "")) for n in re.findall(r"<.*\(([\d,]+)x\)", block))
    return 0
print("  " + ", ".join(
    f"{case}: {(calls(f'target/profile/{case}.11000.out') - calls(f'target/profile/{case}.1000.out')) / 10000:.0f}"
    for case in sys.argv[1:]))
PY
