// Next.js's side of scripts/matcher-vs-nextjs.sh, and the cases both sides run.
//
//   node scripts/matcher-vs-nextjs.js cases [SCALE] > cases.json   (iterations × SCALE)
//   NODE_PATH=<dir>/node_modules node scripts/matcher-vs-nextjs.js bench cases.json ROUNDS
//
// `bench` prints one line per config and path mix: name, mix, how many of its paths match,
// then the median, lowest and highest ns per call over ROUNDS runs (after one run not recorded, to let V8 compile).
// benches/matcher_vs_nextjs.rs reads the same cases.json and prints the same lines.
'use strict';

// The four configs of issue 23. `iterations` is per run, the same on both sides; it is
// sized so that Next.js's side of a run takes a fraction of a second (its cost grows with
// the number of patterns) and is a multiple of 8, so that every path of a mix is asked as
// often as any other.
function cases(scale) {
  const issuePaths = [
    '/', '/about', '/about/a/b', '/api/x', '/_next/static/chunk.js',
    '/dashboard/settings/profile', '/user/123', '/favicon.ico',
  ];
  const range = (n) => Array.from({ length: n }, (_, i) => i);
  return [
    {
      name: 'lookahead',
      label: '`/((?!api|_next/static|_next/image|favicon.ico).*)`',
      patterns: ['/((?!api|_next/static|_next/image|favicon.ico).*)'],
      iterations: 400000,
      mixes: {
        issue: issuePaths,
        // Every path but the excluded prefixes.
        all_match: ['/', '/about', '/about/a/b', '/dashboard/settings/profile', '/user/123',
          '/blog/2024/hello', '/shop/shoes/red', '/docs'],
      },
    },
    {
      name: 'two',
      label: '`["/about/:path*", "/dashboard/:path*"]`',
      patterns: ['/about/:path*', '/dashboard/:path*'],
      iterations: 200000,
      mixes: {
        issue: issuePaths,
        // Both patterns, with zero, one and several segments after the prefix.
        all_match: ['/about', '/about/a/b', '/dashboard', '/dashboard/settings/profile',
          '/about/team', '/dashboard/x', '/about/a/b/c/d', '/dashboard/'],
      },
    },
    {
      name: 'fifty',
      label: '50 × `/sectionN/:path*`',
      patterns: range(50).map((i) => `/section${i}/:path*`),
      iterations: 16000,
      mixes: {
        issue: issuePaths,
        // Patterns from the first to the last, so that a first-match scan pays its average.
        all_match: ['/section0', '/section7/a/b', '/section13/x', '/section21/a/b/c',
          '/section28', '/section35/x/y', '/section42/z', '/section49/a/b'],
      },
    },
    {
      name: 'five_hundred',
      label: '500 × `/sN/:id(\\d+)/:rest*`',
      patterns: range(500).map((i) => `/s${i}/:id(\\d+)/:rest*`),
      iterations: 1600,
      mixes: {
        issue: issuePaths,
        all_match: ['/s0/1', '/s71/42/a', '/s142/7/a/b', '/s213/123', '/s284/9/x/y/z',
          '/s355/1000/a', '/s426/5', '/s499/123/a/b'],
      },
    },
  ].map((c) => ({ ...c, iterations: Math.max(8, Math.round((c.iterations * scale) / 8) * 8) }));
}

function bench(file, rounds) {
  const fs = require('fs');
  // Next.js 16.4.6's own functions: the matchers it builds from `config.matcher` at build
  // time, and the route matcher its server builds from them.
  const { getMiddlewareMatchers } = require('next/dist/build/analysis/get-page-static-info');
  const { getMiddlewareRouteMatcher } = require(
    'next/dist/shared/lib/router/utils/middleware-route-matcher');
  for (const c of JSON.parse(fs.readFileSync(file, 'utf8'))) {
    const match = getMiddlewareRouteMatcher(getMiddlewareMatchers(c.patterns, {}));
    for (const [mix, paths] of Object.entries(c.mixes)) {
      // Requests as Next.js's server has them when it calls the matcher: the parsed URL's
      // pathname and query, and the request (read only by `has`/`missing`, unused here).
      const requests = paths.map((pathname) => ({ pathname, req: { headers: {} }, query: {} }));
      const times = [];
      let sink = 0;
      for (let round = 0; round <= rounds; round++) {
        const start = process.hrtime.bigint();
        for (let i = 0; i < c.iterations; i++) {
          const r = requests[i % requests.length];
          // As in Next.js's router (packages/next/src/server/lib/router-utils/resolve-routes.ts,
          // the `route.name === 'middleware'` branch): the raw pathname first, then, when it
          // did not match, the decoded one.
          let decoded = r.pathname;
          try {
            decoded = decodeURIComponent(decoded);
          } catch {
            // As there: a pathname that does not decode is matched as it is.
          }
          if (match(r.pathname, r.req, r.query) || match(decoded, r.req, r.query)) sink++;
        }
        const ns = Number(process.hrtime.bigint() - start) / c.iterations;
        if (round > 0) times.push(ns); // round 0 is the warm-up
      }
      // How many paths of the mix match: the shell script checks that both sides agree.
      const matched = requests.filter((r) => match(r.pathname, r.req, r.query)
        || match(decodeURIComponent(r.pathname), r.req, r.query)).length;
      if (sink !== (matched * c.iterations * (rounds + 1)) / requests.length) {
        throw new Error(`${c.name} ${mix}: ${sink} matches`);
      }
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)];
      console.log([c.name, mix, String(matched), median, times[0], times[times.length - 1]]
        .map((v) => (typeof v === 'number' ? v.toFixed(1) : v)).join('\t'));
    }
  }
}

const [mode, file, rounds] = process.argv.slice(2);
if (mode === 'cases') {
  console.log(JSON.stringify(cases(Number(file || 1)), null, 1));
} else if (mode === 'bench') {
  bench(file, Number(rounds || 5));
} else {
  console.error('usage: matcher-vs-nextjs.js cases [SCALE] | bench CASES.json [ROUNDS]');
  process.exit(2);
}
