// Browser end-to-end test of the `auth_guard`, `ab_test` and `sessions` examples in
// headless Chromium, driven by playwright-core. `scripts/browser-e2e.sh` builds and starts
// the examples and passes their base URLs in AUTH_GUARD_URL, AB_TEST_URL and SESSIONS_URL.
//
// Every step asserts what a person would see (the URL in the address bar, the page's text)
// and what the browser keeps (cookies), then takes a screenshot into E2E_OUT. A failed step
// ends its flow; the run exits 1 if any step failed.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const authBase = requiredUrl('AUTH_GUARD_URL');
const abBase = requiredUrl('AB_TEST_URL');
const sessionsBase = requiredUrl('SESSIONS_URL');
const outDir = process.env.E2E_OUT || 'target/e2e';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

// Flags that work on a machine without a network beyond loopback: without the
// background-networking ones Chromium keeps trying to reach Google's hosts. Playwright's
// `launch` gives Chromium a fresh, empty `--user-data-dir` of its own and removes it on close.
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Loopback only, even when a redirect under test goes wrong (`//evil.example`): no host
  // name resolves, so nothing leaves the machine.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

function requiredUrl(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set (the base URL of the running example)`);
    process.exit(2);
  }
  return value.replace(/\/$/, '');
}

class AssertionError extends Error {}

function check(condition, message) {
  if (!condition) throw new AssertionError(message);
}

function equal(actual, expected, what) {
  check(
    actual === expected,
    `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
  );
}

async function cookie(context, base, name) {
  const cookies = await context.cookies(base);
  return cookies.find((c) => c.name === name);
}

async function text(page, selector) {
  return (await page.locator(selector).first().textContent({ timeout: 5000 }))?.trim();
}

// The response of a navigation must come from the server, through one redirect of `status`
// from `from`.
async function redirectedOnce(response, from, status) {
  const previous = response.request().redirectedFrom();
  check(previous !== null, `expected a redirect from ${from}, the page was not redirected`);
  equal(previous.url(), from, 'redirected from');
  const redirect = await previous.response();
  equal(redirect.status(), status, `status of ${from}`);
  return redirect;
}

const results = [];
let shotNumber = 0;

// Runs the steps of one flow in order; after a failed step the rest of the flow is skipped
// (each step builds on the one before).
async function flow(name, page, steps) {
  console.log(`\n== ${name}`);
  let failed = false;
  for (const [title, body] of steps) {
    shotNumber += 1;
    const slug = `${String(shotNumber).padStart(2, '0')}-${title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 60)}`;
    if (failed) {
      results.push({ title, status: 'skipped' });
      console.log(`  SKIP ${title}`);
      continue;
    }
    let error = null;
    try {
      await body();
    } catch (e) {
      error = e;
      failed = true;
    }
    const file = path.join(outDir, `${slug}${error ? '-FAILED' : ''}.png`);
    await screenshot(page(), file).catch((e) => console.log(`  (no screenshot: ${e.message})`));
    if (error) {
      results.push({ title, status: 'failed', file });
      console.log(`  FAIL ${title}\n       ${error.message.split('\n')[0]}\n       ${file}`);
    } else {
      results.push({ title, status: 'passed', file });
      console.log(`  ok   ${title}\n       ${file}`);
    }
  }
}

// Headless Chromium has no address bar, so the screenshot gets one: a strip at the top,
// added after the step's assertions, that shows `location.href`.
async function screenshot(page, file) {
  await page.evaluate(() => {
    const bar = document.createElement('div');
    bar.textContent = `address bar: ${location.href}`;
    bar.setAttribute(
      'style',
      'position:fixed;top:0;left:0;right:0;padding:6px 10px;background:#e8eaed;' +
        'border-bottom:1px solid #999;font:14px monospace;color:#202124;z-index:2147483647',
    );
    document.documentElement.append(bar);
    document.body?.style.setProperty('margin-top', '48px');
  });
  await page.screenshot({ path: file });
}

async function authGuardFlow(browser) {
  const context = await browser.newContext({ viewport: { width: 800, height: 360 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const dashboard = `${authBase}/dashboard`;
  const loginForDashboard = `${authBase}/login?from=%2Fdashboard`;

  // Submits the login form; the POST must redirect to `expectedUrl`. Returns the response
  // of the page it lands on.
  async function logIn(name, expectedUrl) {
    await page.fill('input[name=user]', name);
    const [post] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.click('#login'),
    ]);
    equal(post.status(), 303, 'status of the login POST');
    const location = new URL(post.headers().location ?? '', authBase).href;
    equal(location, expectedUrl, 'where the login POST redirects');
    const response = await post.request().redirectedTo()?.response();
    check(response, `no response from ${expectedUrl}`);
    await page.waitForLoadState();
    equal(page.url(), expectedUrl, 'address bar after logging in');
    return response;
  }

  await flow('auth_guard: log in, log out, no cached dashboard', () => page, [
    [
      'open /dashboard without a session: the login form',
      async () => {
        const response = await page.goto(dashboard);
        equal(page.url(), loginForDashboard, 'address bar');
        const redirect = await redirectedOnce(response, dashboard, 307);
        equal(redirect.headers()['cache-control'], 'no-store', 'cache-control of the redirect');
        equal(await text(page, 'h1'), 'Log in', 'heading');
        equal(await page.inputValue('input[name=from]'), '/dashboard', 'hidden from field');
        check((await cookie(context, authBase, 'session')) === undefined, 'no session cookie yet');
      },
    ],
    [
      'submit the login form: back on the dashboard',
      async () => {
        const response = await logIn('Ann Lee', dashboard);
        equal(response.status(), 200, 'status of the dashboard');
        equal(response.headers()['cache-control'], 'no-store', 'cache-control of the dashboard');
        await redirectedOnce(response, `${authBase}/login`, 303);
        equal(await text(page, 'h1'), 'Welcome, Ann Lee', 'heading');
        const session = await cookie(context, authBase, 'session');
        check(session !== undefined, 'a session cookie after logging in');
        equal(session.value, 'Ann%20Lee', 'session cookie value');
        equal(session.httpOnly, true, 'session cookie HttpOnly');
        equal(session.path, '/', 'session cookie path');
        const scriptSees = await page.evaluate(() => document.cookie);
        check(!scriptSees.includes('session'), `HttpOnly: page script sees "${scriptSees}"`);
      },
    ],
    [
      'log out: the proxy deletes the session cookie',
      async () => {
        const [response] = await Promise.all([
          page.waitForResponse((r) => r.request().isNavigationRequest() && r.status() === 200),
          page.click('#logout'),
        ]);
        await page.waitForLoadState();
        equal(page.url(), `${authBase}/login`, 'address bar');
        const redirect = await redirectedOnce(response, `${authBase}/logout`, 307);
        const setCookie = await redirect.headerValue('set-cookie');
        check(/^session=;.*Max-Age=0/.test(setCookie ?? ''), `set-cookie of /logout: ${setCookie}`);
        equal(await text(page, 'h1'), 'Log in', 'heading');
        check((await cookie(context, authBase, 'session')) === undefined, 'session cookie is gone');
      },
    ],
    [
      'back button after logout: the login form, not the cached dashboard',
      async () => {
        await page.goBack();
        await page.waitForLoadState();
        equal(page.url(), loginForDashboard, 'address bar');
        const body = await text(page, 'body');
        check(!body.includes('Welcome'), `the old dashboard is shown: ${body}`);
        equal(await text(page, 'h1'), 'Log in', 'heading');
      },
    ],
    [
      'open /dashboard again after logout: the login form',
      async () => {
        const response = await page.goto(dashboard);
        equal(page.url(), loginForDashboard, 'address bar');
        await redirectedOnce(response, dashboard, 307);
        equal(await text(page, 'h1'), 'Log in', 'heading');
        check((await cookie(context, authBase, 'session')) === undefined, 'no session cookie');
      },
    ],
    [
      'a deep link keeps its query through the login',
      async () => {
        await page.goto(`${dashboard}?tab=2`);
        equal(page.url(), `${authBase}/login?from=%2Fdashboard%3Ftab%3D2`, 'address bar');
        await logIn('bob', `${dashboard}?tab=2`);
        equal(await text(page, 'h1'), 'Welcome, bob', 'heading');
        equal((await cookie(context, authBase, 'session'))?.value, 'bob', 'session cookie value');
      },
    ],
    [
      'a login with from=//evil.example stays on this site',
      async () => {
        await context.clearCookies();
        for (const from of ['//evil.example/', '/\\evil.example/']) {
          await page.goto(`${authBase}/login?from=${encodeURIComponent(from)}`);
          equal(await page.inputValue('input[name=from]'), from, 'hidden from field');
          await logIn('eve', dashboard);
          equal(await text(page, 'h1'), 'Welcome, eve', 'heading');
        }
      },
    ],
  ]);
  await context.close();
}

async function abTestFlow(browser) {
  const home = `${abBase}/`;
  let context = await browser.newContext({ viewport: { width: 800, height: 300 } });
  let page = await context.newPage();
  let firstVariant;

  // One visit to `/`: served by a rewrite (no redirect, the address bar keeps `/`), and the
  // variant shown is the one in the bucket cookie.
  async function visit() {
    const response = await page.goto(home);
    equal(page.url(), home, 'address bar');
    check(response.request().redirectedFrom() === null, 'no redirect (a rewrite)');
    equal(response.status(), 200, 'status');
    equal(response.headers()['cache-control'], 'private, no-store', 'cache-control');
    equal(await text(page, '#asked'), '/', 'path the handler saw asked for');
    const variant = await text(page, '#variant');
    check(/^Variant [AB]$/.test(variant ?? ''), `heading: ${variant}`);
    const bucket = await cookie(context, abBase, 'bucket');
    check(bucket !== undefined, 'a bucket cookie');
    equal(variant, `Variant ${bucket.value.toUpperCase()}`, 'variant of the bucket cookie');
    return { variant, setCookie: await response.headerValue('set-cookie') };
  }

  async function withBucket(value) {
    await context.close();
    context = await browser.newContext({ viewport: { width: 800, height: 300 } });
    await context.addCookies([{ name: 'bucket', value, url: abBase }]);
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
  }

  await flow('ab_test: a sticky variant behind an unchanged address', () => page, [
    [
      'first visit to /: a variant and a new bucket cookie',
      async () => {
        const { variant, setCookie } = await visit();
        check(/^bucket=[ab];/.test(setCookie ?? ''), `set-cookie: ${setCookie}`);
        firstVariant = variant;
      },
    ],
    [
      'second visit with the bucket cookie: the same variant',
      async () => {
        const { variant, setCookie } = await visit();
        equal(variant, firstVariant, 'variant on the second visit');
        equal(setCookie, null, 'set-cookie on the second visit');
      },
    ],
    ...['a', 'b'].map((bucket) => [
      `bucket=${bucket} twice: Variant ${bucket.toUpperCase()} both times`,
      async () => {
        await withBucket(bucket);
        for (let i = 0; i < 2; i += 1) {
          const { variant, setCookie } = await visit();
          equal(variant, `Variant ${bucket.toUpperCase()}`, `variant on visit ${i + 1}`);
          equal(setCookie, null, `set-cookie on visit ${i + 1}`);
        }
      },
    ]),
    [
      'a tampered bucket=zz is replaced',
      async () => {
        await withBucket('zz');
        const { setCookie } = await visit();
        check(/^bucket=[ab];/.test(setCookie ?? ''), `set-cookie: ${setCookie}`);
      },
    ],
  ]);
  await context.close();
}

// The `sessions` example: tower-sessions behind the proxy guard, with a signed
// "remember me" cookie.
async function sessionsFlow(browser) {
  const context = await browser.newContext({ viewport: { width: 800, height: 360 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const account = `${sessionsBase}/account`;
  await flow('sessions: log in, protected pages, remembered, log out', () => page, [
    [
      'sessions: a protected page sends a visitor to the login form',
      async () => {
        const response = await page.goto(account);
        await redirectedOnce(response, account, 307);
        equal(page.url(), `${sessionsBase}/login?from=%2Faccount`, 'address bar');
      },
    ],
    [
      'sessions: logging in with remember me leads back to the page',
      async () => {
        await page.fill('input[name=user]', 'Ann');
        await page.check('input[name=remember]');
        await Promise.all([page.waitForURL(account), page.click('#login')]);
        equal(await page.textContent('body'), "Ann's account", 'page');
        check(await cookie(context, sessionsBase, 'id'), 'a session cookie');
        const remember = await cookie(context, sessionsBase, 'remember');
        check(remember && remember.value !== 'Ann', `a signed remember-me cookie: ${remember?.value}`);
      },
    ],
    [
      'sessions: without the session cookie the signed remember-me logs the user back in',
      async () => {
        await context.clearCookies({ name: 'id' });
        await page.goto(`${sessionsBase}/dashboard`);
        equal(page.url(), `${sessionsBase}/dashboard`, 'address bar');
        equal(await text(page, 'h1'), 'Welcome, Ann', 'heading');
      },
    ],
    [
      'sessions: logging out forgets the user and the protected page redirects again',
      async () => {
        await Promise.all([page.waitForURL(`${sessionsBase}/login`), page.click('#logout')]);
        check(!(await cookie(context, sessionsBase, 'remember')), 'remember-me cookie deleted');
        const response = await page.goto(`${sessionsBase}/dashboard`);
        await redirectedOnce(response, `${sessionsBase}/dashboard`, 307);
        equal(page.url(), `${sessionsBase}/login?from=%2Fdashboard`, 'address bar');
      },
    ],
  ]);
  await context.close();
}

await mkdir(outDir, { recursive: true });
const browser = await chromium.launch({ executablePath, headless: true, args: chromiumArgs });
console.log(`Chromium ${browser.version()} (${executablePath})`);
try {
  await authGuardFlow(browser);
  await abTestFlow(browser);
  await sessionsFlow(browser);
} finally {
  await browser.close();
}

const count = (status) => results.filter((r) => r.status === status).length;
const [passed, failed, skipped] = ['passed', 'failed', 'skipped'].map(count);
console.log('');
console.log(`e2e: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed || skipped ? 1 : 0);
