// The session across full page loads of a multi-page store (tests/fixtures/mpa), in headless
// Chromium: before the shopper decides ('pending') the visit continues from page to page in the
// same tab (sessionStorage) and nowhere else; 'denied' and Global Privacy Control store nothing;
// 'granted' moves the visit into localStorage. Saves happen when the page is hidden or left
// (pagehide), so an event tracked just before a navigation, or from the page's own pagehide
// handler, reaches the next page — on the main thread and in a Web Worker.
//
//   node --test tests/visit.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, preflight, launch, serve, instrument, makeSite } from './_browser.mjs';

const SITE = path.join(REPO, 'target', 'test-site-visit');
const KEY = 'vitrine:session';
const MPA = path.join(REPO, 'tests', 'fixtures', 'mpa');

async function visit(page, url) {
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true || window.failed, null, { timeout: 20_000 });
  assert.equal(await page.evaluate(() => window.failed), undefined);
}

/**
 * Runs `script` in the page (it must navigate to b.html) and waits for the next page's engine.
 * The next document's `load` event, not the URL, marks the new page (b.html may navigate to
 * itself), and the evaluation may lose its context to the navigation before its result arrives:
 * that is the navigation this helper asked for, not an error.
 */
async function navigate(page, script, arg) {
  const loaded = page.waitForEvent('load', { timeout: 20_000 });
  await page.evaluate(script, arg).catch((e) => {
    if (!/Execution context was destroyed/.test(e.message)) throw e;
  });
  await loaded;
  assert.match(page.url(), /\/b\.html/);
  await page.waitForFunction(() => window.ready === true || window.failed, null, { timeout: 20_000 });
  assert.equal(await page.evaluate(() => window.failed), undefined);
}

const storage = (page) =>
  page.evaluate((k) => ({ local: localStorage.getItem(k) != null, session: sessionStorage.getItem(k) != null }), KEY);
const restored = (page) => page.evaluate(() => window.restored);
const mode = (page) => page.evaluate(() => window.v.storageMode);

test('the visit across full page loads of a multi-page store', { timeout: 120_000 }, async (t) => {
  preflight();
  makeSite(SITE, Object.fromEntries(fs.readdirSync(MPA).map((f) => [`mpa/${f}`, fs.readFileSync(path.join(MPA, f))])));
  const server = await serve(t, { root: SITE });
  const browser = await launch();
  t.after(() => browser.close());
  const url = (p, q = '') => `${server.url}mpa/${p}${q}`;
  const errors = [];

  for (const worker of [false, true]) {
    const q = worker ? '?worker' : '';
    await t.test(`pending${worker ? ' (worker)' : ''}: the visit continues on the next page of this tab, not in another tab`, async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const log = instrument(page);
      await visit(page, url('a.html', q));
      assert.deepEqual(await restored(page), []);
      assert.equal(await mode(page), 'visit');
      await page.evaluate(async () => {
        await window.v.recommend({ k: 5 });
        await window.v.flush();
      });
      assert.deepEqual(await storage(page), { local: false, session: false }, 'a ranking before any event stores nothing');
      // Tracked, then the shopper leaves at once: no write has happened yet (saves are coalesced),
      // so only the pagehide save can carry these events over. In worker mode the page waits for
      // track() (the worker answers with the state); on the main thread it does not even wait.
      await navigate(
        page,
        async ({ worker, next }) => {
          const calls = ['p0100', 'p0101', 'p0102'].map((item) => window.v.track({ type: 'view', item }));
          if (worker) await Promise.all(calls);
          window.stored = sessionStorage.getItem('vitrine:session');
          location.href = next;
        },
        { worker, next: `b.html${q}` },
      );
      assert.deepEqual(await restored(page), ['p0100', 'p0101', 'p0102'], 'page b has page a’s events');
      assert.deepEqual(await storage(page), { local: false, session: true }, 'in this tab’s sessionStorage only');
      assert.equal(await mode(page), 'visit');

      // An event tracked by the page's own pagehide handler (time on page) is saved too, on the main
      // thread. (A worker cannot answer once the page is going away: that event is lost, as the
      // README says.)
      await navigate(page, (next) => {
        window.addEventListener('pagehide', () => window.v.track({ type: 'view', item: 'p0200', dwellMs: 4000 }));
        location.href = next;
      }, `b.html${q}`);
      const expected = ['p0100', 'p0101', 'p0102', ...(worker ? [] : ['p0200:4000'])];
      assert.deepEqual(await restored(page), expected);

      // The privacy budget a ranking spent (after the last event) travels with the visit, so a new
      // page load does not start a fresh budget.
      const spent = () => page.evaluate(async () => (await window.v.privacyStatus()).budget.spentEpsilon);
      await page.evaluate(() => window.v.recommend({ k: 5 }));
      const before = await spent();
      assert.ok(before > 0, `the ranking spent ε (${before})`);
      await navigate(page, (next) => (location.href = next), `b.html${q}`);
      assert.equal(await spent(), before, 'the next page has the same ε spent');

      const other = await context.newPage();
      instrument(other);
      await visit(other, url('b.html', q));
      assert.deepEqual(await restored(other), [], 'another tab starts its own visit');
      errors.push(...log.errors);
      await context.close();
    });
  }

  await t.test('denied: nothing is stored, nothing continues; a visit copy is deleted when the shopper says no', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const log = instrument(page);
    await visit(page, url('a.html'));
    await page.evaluate(async () => {
      await window.v.track({ type: 'view', item: 'p0300' });
      await window.v.flush();
    });
    assert.deepEqual(await storage(page), { local: false, session: true });
    await page.evaluate(() => window.v.setConsent('denied'));
    assert.deepEqual(await storage(page), { local: false, session: false }, 'saying no deletes the visit copy');
    assert.equal(await mode(page), 'memory');
    await navigate(page, (next) => {
      window.v.track({ type: 'view', item: 'p0301' });
      location.href = next;
    }, 'b.html?consent=denied');
    assert.deepEqual(await restored(page), []);
    assert.deepEqual(await storage(page), { local: false, session: false });
    errors.push(...log.errors);
    await context.close();
  });

  await t.test('Global Privacy Control: nothing is stored before or after a choice', async () => {
    const context = await browser.newContext();
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true }));
    const page = await context.newPage();
    const log = instrument(page);
    await visit(page, url('a.html'));
    await page.evaluate((k) => sessionStorage.setItem(k, 'left over'), KEY);
    await visit(page, url('a.html'));
    assert.equal(await mode(page), 'memory');
    assert.deepEqual(await storage(page), { local: false, session: false }, 'a visit copy is deleted at load');
    await navigate(page, (next) => {
      window.v.track({ type: 'view', item: 'p0400' });
      location.href = next;
    }, 'b.html');
    assert.deepEqual(await restored(page), []);
    assert.deepEqual(await storage(page), { local: false, session: false });
    errors.push(...log.errors);
    await context.close();
  });

  await t.test('granted: the visit moves into localStorage and reaches other tabs; forget() erases it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const log = instrument(page);
    await visit(page, url('a.html'));
    await navigate(page, (next) => {
      window.v.track({ type: 'view', item: 'p0500' });
      location.href = next;
    }, 'b.html?consent=granted'); // the shopper accepted the banner; the next page loads with 'granted'
    assert.deepEqual(await restored(page), ['p0500']);
    assert.equal(await mode(page), 'persistent');
    assert.deepEqual(await storage(page), { local: true, session: false }, 'moved: localStorage has it, the visit copy is gone');
    const other = await context.newPage();
    instrument(other);
    await visit(other, url('b.html?consent=granted'));
    assert.deepEqual(await restored(other), ['p0500'], 'another tab has it');
    await other.evaluate(async () => {
      await window.v.forget();
      await window.v.recommend({ k: 5 }); // a shelf re-rendering after forget()
      await window.v.flush();
    });
    assert.deepEqual(await storage(other), { local: false, session: false }, 'forget() erased it, and a ranking does not write it back');
    await navigate(other, (next) => (location.href = next), 'b.html?consent=granted');
    assert.deepEqual(await storage(other), { local: false, session: false }, 'nor does leaving the page');
    assert.deepEqual(await restored(other), []);
    errors.push(...log.errors);
    await context.close();
  });

  await t.test('no page errors or console errors', () => {
    assert.deepEqual(errors, []);
  });
});
