// Issue 13's acceptance tests for the privacy accountant, in headless Chromium, through full page
// loads of a multi-page store (tests/fixtures/accounting: one product page = one page load = one
// engine, consent granted, one `track` and one <vitrine-shelf>), on the main thread and in a Web
// Worker:
//  - a day of page loads in one tab, with the track before and after the shelf's first render;
//  - the same in two tabs of one origin, loading at the same time (one budget per origin: the
//    Web Lock and the stored accountant each tab joins before a release);
//  - the same with requests (and events) dated days ahead of the clock: the period follows the
//    engine's clock, not the page's `now`.
// Every case counts the fresh releases from what privacyStatus() says right after each render
// (`lastSource: 'fresh'`) and checks, after every page load, that the count never exceeds the
// budget (ε_B / ε releases) and that the spend, as privacyStatus() reports it AND as the state
// stored in localStorage holds it, is ε × that count: a release the page saw is on the device
// (write-ahead), and no release escapes the accountant.
//
//   node --test tests/accounting.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, preflight, launch, serve, instrument, makeSite } from './_browser.mjs';

const SITE = path.join(REPO, 'target', 'test-site-accounting');
const FIXTURE = path.join(REPO, 'tests', 'fixtures', 'accounting');
const KEY = 'vitrine:session';
const DAY_MS = 86_400_000;
/** Units of the accountant's integer sums (docs/PRIVACY.md "The accountant"): 2⁻³⁰. */
const UNIT = 2 ** -30;
/** Page loads in one tab: the issue's 8 (the default budget: 8 releases of ε 1), and 2 more past it. */
const LOADS = 10;
/** Page loads in each of two tabs. */
const LOADS_PER_TAB = 8;

/** Products the pages show: distinct, known to the demo bundle. */
const item = (i) => `p${String(100 + 7 * i).padStart(4, '0')}`;

/** Loads one product page in `page` and waits for its engine, track and shelf. */
async function load(page, url) {
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true || window.failed, null, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => window.failed), undefined, 'the page loaded');
  return page.evaluate(() => window.log);
}

/** The accountant in the state stored in localStorage (through the storage envelope), or null. */
const stored = (page) =>
  page.evaluate((key) => {
    const raw = localStorage.getItem(key);
    if (raw == null) return null;
    const state = JSON.parse(JSON.parse(raw).state);
    return state.privacy?.accountant ?? {};
  }, KEY);

/**
 * The checks after every page load. `fresh`: fresh releases seen so far (all tabs); `status`: the
 * last privacyStatus() of the page just loaded; `acc`: the stored accountant.
 */
function checkAccounting({ fresh, status, acc, epsilon, budget, what, sameTab = true }) {
  const maxReleases = Math.floor(budget / epsilon);
  assert.ok(fresh <= maxReleases, `${what}: ${fresh} fresh releases, the budget allows ${maxReleases}`);
  assert.ok(status.spentEpsilon <= budget + 1e-9, `${what}: privacyStatus() spent ε ${status.spentEpsilon} ≤ ${budget}`);
  // The page's own view of the budget: what its tab has joined and spent.
  if (sameTab) {
    assert.ok(Math.abs(status.spentEpsilon - epsilon * fresh) < 1e-9, `${what}: privacyStatus() spent ε ${status.spentEpsilon} = ε ${epsilon} × ${fresh} fresh`);
    assert.equal(status.releases, fresh, `${what}: privacyStatus() counts ${status.releases} releases, ${fresh} were fresh`);
  }
  assert.ok(acc, `${what}: a state is stored`);
  const storedSpent = (acc.pureEpsilonUnits ?? 0) * UNIT;
  assert.ok(Math.abs(storedSpent - epsilon * fresh) < 1e-6, `${what}: stored spend ε ${storedSpent} = ε ${epsilon} × ${fresh} fresh releases`);
  assert.equal(acc.releases ?? 0, fresh, `${what}: the stored accountant counts ${acc.releases} releases, ${fresh} were fresh`);
  assert.equal(acc.gaussianRhoUnits ?? 0, 0, `${what}: no Gaussian release`);
}

/** What privacyStatus() said after each render of one page load: [fresh count, last status]. */
function tally(log, order) {
  const expected = order === 'track-first' ? 1 : 2;
  assert.equal(log.statuses.length, log.renders, 'one status per render');
  assert.ok(log.renders >= expected, `${log.renders} renders (at least ${expected})`);
  const sources = log.statuses.map((s) => s.lastSource);
  for (const s of sources) assert.ok(['fresh', 'cached', 'public'].includes(s), `lastSource ${s}`);
  return { fresh: sources.filter((s) => s === 'fresh').length, status: log.statuses.at(-1), sources };
}

test('the privacy accountant across full page loads (issue 13)', { timeout: 600_000 }, async (t) => {
  preflight();
  makeSite(SITE, Object.fromEntries(fs.readdirSync(FIXTURE).map((f) => [f, fs.readFileSync(path.join(FIXTURE, f))])));
  const server = await serve(t, { root: SITE });
  const browser = await launch();
  t.after(() => browser.close());
  const url = ({ item: id, order, worker, aheadMs = 0 }) =>
    `${server.url}product.html?item=${id}&order=${order}${aheadMs ? `&aheadMs=${aheadMs}` : ''}${worker ? '&worker' : ''}`;
  const errors = [];

  for (const worker of [false, true]) {
    const mode = worker ? 'worker' : 'main thread';
    for (const order of ['track-first', 'render-first']) {
      await t.test(`${mode}, ${order}: ${LOADS} page loads in one day, one track and one shelf each`, async (st) => {
        const context = await browser.newContext();
        const page = await context.newPage();
        const log = instrument(page);
        let fresh = 0;
        const seen = [];
        for (let i = 0; i < LOADS; i++) {
          const r = tally(await load(page, url({ item: item(i), order, worker })), order);
          fresh += r.fresh;
          seen.push(r.sources.join('+'));
          const status = await page.evaluate(() => window.v.privacyStatus());
          checkAccounting({ fresh, status: r.status, acc: await stored(page), epsilon: status.epsilon, budget: status.budget.epsilon, what: `load ${i + 1}` });
        }
        st.diagnostic(`sources per load: ${seen.join(', ')}; ${fresh} fresh`);
        // A day of loads with new device history each time spends the whole budget, then stops.
        const status = await page.evaluate(() => window.v.privacyStatus());
        assert.equal(fresh, status.budget.epsilon / status.epsilon, 'every load made a fresh release until the budget ran out');
        assert.equal(status.releasesLeft, 0);
        assert.deepEqual(seen.slice(-2).map((s) => s.includes('fresh')), [false, false], 'no fresh release past the budget');
        // The budget's copy in IndexedDB (the ledger the tabs read consistently) goes with forget().
        const ledger = () =>
          page.evaluate(
            () =>
              new Promise((resolve, reject) => {
                const req = indexedDB.open('vitrine-ledger', 1);
                req.onupgradeneeded = () => req.result.createObjectStore('state');
                req.onsuccess = () => {
                  const get = req.result.transaction('state').objectStore('state').get('vitrine:session');
                  get.onsuccess = () => {
                    resolve(get.result === undefined ? null : JSON.parse(JSON.parse(get.result).state).privacy.accountant.releases);
                    req.result.close();
                  };
                };
                req.onerror = () => reject(req.error);
              }),
          );
        assert.equal(await ledger(), fresh, 'the ledger holds the spend');
        await page.evaluate(() => window.v.forget());
        assert.equal(await ledger(), null, 'forget() erased the ledger');
        assert.equal(await stored(page), null, 'forget() erased the stored state');
        errors.push(...log.errors);
        await context.close();
      });
    }

    await t.test(`${mode}: two tabs of one origin load at the same time, ${LOADS_PER_TAB} page loads each`, async (st) => {
      const context = await browser.newContext();
      const tabs = [await context.newPage(), await context.newPage()];
      const log = instrument(context);
      // Tab 0 tracks before its shelf renders, tab 1 after.
      const orders = ['track-first', 'render-first'];
      let fresh = 0;
      const seen = [[], []];
      for (let i = 0; i < LOADS_PER_TAB; i++) {
        const logs = await Promise.all(tabs.map((p, k) => load(p, url({ item: item(2 * i + k), order: orders[k], worker }))));
        for (const [k, l] of logs.entries()) {
          const r = tally(l, orders[k]);
          fresh += r.fresh;
          seen[k].push(r.sources.join('+'));
        }
        for (const [k, p] of tabs.entries()) {
          const status = await p.evaluate(() => window.v.privacyStatus());
          checkAccounting({ fresh, status: status.budget, acc: await stored(p), epsilon: status.epsilon, budget: status.budget.epsilon, what: `round ${i + 1}, tab ${k}`, sameTab: false });
        }
      }
      st.diagnostic(`tab 0: ${seen[0].join(', ')}; tab 1: ${seen[1].join(', ')}; ${fresh} fresh`);
      const [a, b] = await Promise.all(tabs.map((p) => p.evaluate(() => window.v.privacyStatus())));
      assert.equal(fresh, a.budget.epsilon / a.epsilon, 'the two tabs together spent the one budget');
      // A ranking joins the stored accountant first: each tab's own view is the origin's.
      for (const s of [a, b]) assert.equal(s.budget.releases, fresh);
      errors.push(...log.errors);
      await context.close();
    });

    await t.test(`${mode}: requests dated days ahead do not open a new budget period`, async (st) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const log = instrument(page);
      const t0 = Date.now();
      let fresh = 0;
      const seen = [];
      for (let i = 0; i < LOADS; i++) {
        // Load i dates its requests and its event i + 1 days ahead: were the period to follow the
        // page's `now`, every load would open a new one and release again.
        const order = i % 2 ? 'render-first' : 'track-first';
        const r = tally(await load(page, url({ item: item(i), order, worker, aheadMs: (i + 1) * DAY_MS })), order);
        fresh += r.fresh;
        seen.push(r.sources.join('+'));
        const status = await page.evaluate(() => window.v.privacyStatus());
        const acc = await stored(page);
        checkAccounting({ fresh, status: r.status, acc, epsilon: status.epsilon, budget: status.budget.epsilon, what: `load ${i + 1} (${i + 1} days ahead)` });
        // The period started on the engine's clock, at the first release, and ends a day later.
        assert.ok(acc.periodStartMs >= t0 && acc.periodStartMs <= Date.now(), `period start ${acc.periodStartMs} is on the clock (${t0}…${Date.now()})`);
        assert.equal(status.budget.periodEndsMs, acc.periodStartMs + DAY_MS);
      }
      st.diagnostic(`sources per load: ${seen.join(', ')}; ${fresh} fresh`);
      const status = await page.evaluate(() => window.v.privacyStatus());
      assert.equal(fresh, status.budget.epsilon / status.epsilon);
      assert.equal(status.releasesLeft, 0, 'the budget is spent for the rest of the real day');
      errors.push(...log.errors);
      await context.close();
    });
  }

  await t.test('no page errors or console errors', () => {
    assert.deepEqual(errors, []);
  });
});
