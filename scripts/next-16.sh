# Sourced by the scripts that run Next.js beside us: `next_modules` prints a node_modules
# directory holding next@16.4.6 (with react and react-dom, which `next build` needs),
# installed from npm on first use.
#
# NEXT_CACHE: where it is installed (default ~/.cache/tower-proxy-fn/next-16.4.6); a
# directory that already holds next 16.4.6 in its node_modules is used as it is.

NEXT_VERSION=16.4.6
NEXT_CACHE=${NEXT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tower-proxy-fn/next-$NEXT_VERSION}

next_modules() {
  local version
  version=$(node -p "require('$NEXT_CACHE/node_modules/next/package.json').version" 2>/dev/null || true)
  if [ "$version" != "$NEXT_VERSION" ]; then
    echo "installing next@$NEXT_VERSION into $NEXT_CACHE (npm, at most 5 minutes)" >&2
    mkdir -p "$NEXT_CACHE"
    # A package.json of its own, so that npm does not look for one in a parent directory.
    [ -f "$NEXT_CACHE/package.json" ] || echo '{"private":true}' >"$NEXT_CACHE/package.json"
    timeout 300 npm install --prefix "$NEXT_CACHE" --no-audit --no-fund --loglevel=error \
      "next@$NEXT_VERSION" react@19 react-dom@19 >&2
  fi
  echo "$NEXT_CACHE/node_modules"
}
