// The live catalog in isolated mode (issue 16), in Chromium with two origins (the store's page on
// http://127.0.0.1:P, the frame on http://localhost:P2 with the deployment CSP): the page tracks a
// product the bundle does not know (kept pending in the frame, not an error), then calls
// `applyUpdate()` on its IsolatedVitrine; the frame fetches the delta, applies it to its engine, and
// the product appears in similar() and on the frame's shelves, with the record the delta carried.
// An out-of-stock update takes a product off every shelf. A delta of another bundle, a corrupt one,
// a wrong integrity hash and a source the frame does not allow are refused with the codes the
// non-isolated path gives, and change nothing; malformed arguments and messages are refused by the
// protocol; a reloaded engine frame gets the last update again.
//
// The frames are read with the test's privileges (Playwright evaluates in origin B), never through
// the page: a view frame's BroadcastChannel asks the engine frame what the shelves would.
//
//   node --test tests/isolated-catalog.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, preflight } from './_browser.mjs';
import { isolatedSite, launchPartitioned, viewRendered, frameOf } from './_isolated.mjs';
import { BIN, catalogJsonl, trainWithCatalog, vitrine } from './_catalog.mjs';

const SITE = path.join(REPO, 'target', 'test-site-isolated-catalog');
const NEW = 'p0540'; // left out of the training log and the first catalog: a product added later
/** The site's data/ folder, as the frame (lib/isolated/frame.html) names it. */
const DATA = '../../data';

const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Isolated shelves and a live catalog</title>
  <link rel="icon" href="data:,">
  <script type="module" src="live.js"></script>
</head>
<body></body>
</html>
`;

// The store's page: one isolated engine (the bundle carries its catalog: no catalog URL anywhere),
// shelves added by the test, and a non-isolated engine on the same bundle to compare error codes.
const PAGE_JS = `
import { Vitrine } from './lib/index.js';
import { defineVitrineShelf } from './lib/shelf.js';

defineVitrineShelf();
window.V = Vitrine;
const frame = new URLSearchParams(location.search).get('frame');
window.shelfErrors = [];
window.changes = [];
window.addShelf = async (attrs) => {
  const el = document.createElement('vitrine-shelf');
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.addEventListener('vitrine:error', (e) => window.shelfErrors.push([el.id, e.detail.error?.code ?? e.detail.message]));
  el.vitrine = window.v;
  document.body.append(el);
  await el.ready;
};
/** Runs applyUpdate on \`v\` and returns its report, or the error's name and code. */
window.outcome = async (v, ...args) => {
  try {
    return { report: await v.applyUpdate(...args) };
  } catch (e) {
    return { name: e.name, code: e.code, message: e.message };
  }
};
async function main() {
  window.v = await Vitrine.load(new URL('/data/cat.vtr', frame).href, { isolation: { frame }, consent: 'granted' });
  window.v.addEventListener('change', (e) => window.changes.push(e.detail));
  window.ready = true;
}
main().catch((e) => (window.failed = String(e?.message ?? e)));
`;

const sri = (file) => `sha384-${crypto.createHash('sha384').update(fs.readFileSync(file)).digest('base64')}`;

test('isolated mode: a live catalog', { timeout: 300_000 }, async (t) => {
  preflight();
  assert.ok(fs.existsSync(BIN), `${BIN} is missing: run scripts/build`);
  const site = await isolatedSite(t, SITE, { extra: { 'live.html': PAGE_HTML, 'live.js': PAGE_JS } });
  const data = path.join(SITE, 'data');
  // Train without NEW (its events and its record); delta v2 adds it (cumulative deltas against cat.vtr).
  trainWithCatalog(SITE, 'cat.vtr', { without: [NEW] });
  catalogJsonl(path.join(data, 'catalog-v2.jsonl'));
  const update = (name, bundle, catalog) =>
    vitrine('catalog', 'update', '--bundle', path.join(data, bundle), '--catalog', path.join(data, catalog), '--out', path.join(data, `${name}.vtr`), '--delta', path.join(data, `${name}.delta`));
  update('update-v2', 'cat.vtr', 'catalog-v2.jsonl');
  // A delta of another bundle (the demo's store.vtr), and two corrupt copies of v2.
  update('other', 'store.vtr', 'catalog-v2.jsonl');
  const v2 = fs.readFileSync(path.join(data, 'update-v2.delta'));
  const flipped = Buffer.from(v2);
  flipped[Math.floor(flipped.length / 2)] ^= 0xff;
  fs.writeFileSync(path.join(data, 'flipped.delta'), flipped);
  fs.writeFileSync(path.join(data, 'truncated.delta'), v2.subarray(0, Math.floor(v2.length / 3)));
  const title = JSON.parse(fs.readFileSync(path.join(data, 'catalog-v2.jsonl'), 'utf8').split('\n').find((l) => l.includes(`"${NEW}"`))).title;

  const browser = await launchPartitioned();
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1300, height: 2400 } });
  // Test instrumentation in origin B's frames: the channel name the page gave them (so that the test
  // can ask the engine frame, over the same BroadcastChannel, what the view frames ask it).
  await context.addInitScript(() => {
    addEventListener('message', (e) => {
      if (e.data?.kind === 'init' && typeof e.data.channel === 'string') window.vitrineTestChannel = e.data.channel;
    });
  });
  const pageErrors = [];
  context.on('weberror', (e) => pageErrors.push(e.error().message));
  const page = await context.newPage();
  await page.goto(site.page('live.html'));
  await page.waitForFunction(() => window.ready === true || window.failed, null, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => window.failed), undefined);

  const viewOf = async (id) => (await page.locator(`#${id} iframe`).elementHandle()).contentFrame();
  const addShelf = async (attrs) => {
    await page.evaluate((a) => window.addShelf(a), attrs);
    const view = await viewOf(attrs.id);
    for (let i = 0; i < 200 && !(await viewRendered(view)); i++) await page.waitForTimeout(50);
    return view;
  };
  const cards = async (id) =>
    (await viewOf(id)).evaluate(() =>
      [...document.querySelector('.real vitrine-shelf').shadowRoot.querySelectorAll('.card')].map((c) => ({ id: c.dataset.id, text: c.textContent })),
    );
  const shown = async (id) => (await cards(id)).map((c) => c.id);
  const renders = async (id) => (await viewOf(id)).evaluate(() => document.querySelector('.real vitrine-shelf').renderCount);
  /** Asks the engine frame over origin B's BroadcastChannel, from a view frame (rejects on a refusal or after 3 s). */
  const engine = async (method, args = []) =>
    (await viewOf('trend')).evaluate(
      ([method, args]) =>
        new Promise((resolve, reject) => {
          const bc = new BroadcastChannel(`vitrine-isolated:${window.vitrineTestChannel}`);
          const from = `test-${Math.random()}`;
          const timer = setTimeout(() => (bc.close(), reject(new Error('no answer'))), 3_000);
          bc.onmessage = (e) => {
            if (e.data?.op !== 'reply' || e.data.to !== from) return;
            clearTimeout(timer);
            bc.close();
            if (e.data.ok) resolve(e.data.value);
            else reject(new Error(e.data.code));
          };
          bc.postMessage({ op: 'call', from, id: 1, method, args });
        }),
      [method, args],
    );
  /** A result list's ids (on the channel, a list with extra fields is {$list, unknownIds, warnings}). */
  const ids = (value) => (Array.isArray(value) ? value : value.$list).map((x) => x.id);
  let simHost = null;
  /** Waits until `check()` is true (polling every 50 ms), failing with `what` after `ms`. */
  const until = async (check, what, ms = 15_000) => {
    const t0 = Date.now();
    while (!(await check())) {
      if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}`);
      await page.waitForTimeout(50);
    }
  };

  await t.test('a product the bundle does not know is tracked: kept pending in the frame, not an error', async () => {
    await addShelf({ id: 'trend', mode: 'trending', k: '10' });
    assert.equal((await shown('trend')).length, 10);
    await page.evaluate(async (id) => {
      await window.v.track({ type: 'view', item: id });
      await window.v.flush();
    }, NEW);
    assert.deepEqual(await page.evaluate(() => window.v.errors), [], 'an unknown id is not an error');
    const records = await engine('catalog');
    assert.equal(records.length, 539);
    assert.ok(!records.some((r) => r.id === NEW));
    const sim = await engine('similar', [NEW, { k: 5 }]);
    assert.deepEqual(sim.unknownIds, [NEW], 'the engine does not know it yet');
    assert.ok(sim.warnings.some((w) => w.includes('not in the bundle')));
    // Stored with the session, in origin B's storage; the page's own storage holds nothing.
    const stored = await frameOf(page, 'engine').evaluate(() => localStorage.getItem('vitrine:session'));
    assert.ok(stored?.includes(NEW), 'the frame stored the pending event');
    assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  });

  await t.test('applyUpdate(): the frame fetches the delta; the product appears in similar() and on an open shelf with its record', async () => {
    // A product page whose similar shelf will list it (found by the same delta on a non-isolated engine).
    const host = await page.evaluate(async (id) => {
      const local = await window.V.load('/data/cat.vtr', { storage: false });
      await local.applyUpdate('/data/update-v2.delta');
      let found = null;
      for (const x of await local.similar(id, { k: 8 })) {
        if ((await local.similar(x.id, { k: 20 })).some((y) => y.id === id)) {
          found = x.id;
          break;
        }
      }
      local.destroy();
      return found;
    }, NEW);
    assert.ok(host, `no product lists ${NEW} among its 20 most similar`);
    simHost = host;
    await addShelf({ id: 'sim', mode: 'similar', item: host, k: '20' });
    const before = await shown('sim');
    assert.equal(before.length, 20);
    assert.ok(!before.includes(NEW), 'not before the update');

    const r = await page.evaluate(([url, integrity]) => window.outcome(window.v, url, { integrity }), [`${DATA}/update-v2.delta`, sri(path.join(data, 'update-v2.delta'))]);
    assert.ok(r.report, JSON.stringify(r));
    assert.deepEqual(Object.keys(r.report).sort(), ['added', 'items', 'promoted', 'unavailable', 'updated']);
    assert.equal(r.report.added, 1);
    assert.equal(r.report.unavailable, 0);
    assert.equal(r.report.items, 540);
    assert.ok(Number.isInteger(r.report.updated));
    assert.equal(r.report.promoted, null, 'the pending events it promoted are history: the frame does not say');
    const change = await page.evaluate(() => window.changes.filter((c) => c.reason === 'catalog'));
    assert.deepEqual(change, [{ reason: 'catalog', update: r.report }]);
    // The engine frame: the record joined its catalog, the product is ranked and has neighbours.
    const record = (await engine('catalog')).find((x) => x.id === NEW);
    assert.equal(record?.title, title);
    const sim = await engine('similar', [NEW, { k: 8 }]);
    assert.ok(!sim.unknownIds?.length, 'now known');
    assert.equal(ids(sim).length, 8);
    assert.ok(ids(await engine('similar', [host, { k: 20 }])).includes(NEW));
    assert.ok(ids(await engine('recommend', [{ k: 540 }])).includes(NEW), 'recommend() ranks it');
    // The open shelf re-renders with it, and its card shows the record the delta carried.
    await until(async () => (await shown('sim')).includes(NEW), `${NEW} on the open similar shelf`);
    const card = (await cards('sim')).find((c) => c.id === NEW);
    assert.ok(card.text.includes(title), `its card, with the title the delta carried (${card.text})`);
  });

  await t.test('the report is the same for a shopper with no pending event: it says nothing about the history', async () => {
    const fresh = await browser.newContext({ viewport: { width: 1300, height: 800 } });
    try {
      const other = await fresh.newPage();
      await other.goto(site.page('live.html'));
      await other.waitForFunction(() => window.ready === true || window.failed, null, { timeout: 30_000 });
      const r = await other.evaluate((url) => window.outcome(window.v, url), `${DATA}/update-v2.delta`);
      const mine = await page.evaluate(() => window.changes.find((c) => c.reason === 'catalog').update);
      assert.deepEqual(r.report, mine);
    } finally {
      await fresh.close();
    }
  });

  let gone = null;
  await t.test('an out-of-stock update removes a product from every shelf', async () => {
    await addShelf({ id: 'home', k: '6' });
    await addShelf({ id: 'fbt', mode: 'bought-together', item: NEW, k: '10' });
    gone = (await shown('trend'))[0];
    const host = ids(await engine('similar', [gone, { k: 1 }]))[0];
    await addShelf({ id: 'sim2', mode: 'similar', item: host, k: '10' });
    assert.ok((await shown('sim2')).includes(gone), 'the similar shelf shows it before');
    const shelves = ['trend', 'sim', 'home', 'fbt', 'sim2'];
    const before = Object.fromEntries(await Promise.all(shelves.map(async (s) => [s, await renders(s)])));
    catalogJsonl(path.join(data, 'catalog-v3.jsonl'), { outOfStock: [gone] });
    update('update-v3', 'cat.vtr', 'catalog-v3.jsonl');
    const r = await page.evaluate((url) => window.outcome(window.v, url), `${DATA}/update-v3.delta`);
    assert.equal(r.report?.unavailable, 1, JSON.stringify(r));
    assert.equal(r.report.added, 0, 'already added by the previous update');
    assert.equal(r.report.items, 540);
    // Every shelf re-renders without it, filled from the other products.
    await until(async () => {
      for (const s of shelves) {
        const view = await viewOf(s);
        if ((await renders(s)) <= before[s] || !(await viewRendered(view))) return false;
        const list = await shown(s);
        if (list.length === 0 || list.includes(gone)) return false;
      }
      return true;
    }, `${gone} left every shelf`);
    for (const [method, args] of [['recommend', [{ k: 540 }]], ['trending', [{ k: 540 }]], ['similar', [gone, { k: 540 }]], ['frequentlyBoughtTogether', [[gone], { k: 540 }]]]) {
      assert.ok(!ids(await engine(method, args)).includes(gone), `${method}() leaves it out`);
    }
    assert.equal((await engine('catalog')).find((x) => x.id === gone)?.availability, 'out_of_stock');
  });

  /** What the engine frame and the shelves hold: equal before and after a refused update. */
  const snapshot = async () => ({
    records: (await engine('catalog')).map((x) => `${x.id}:${x.availability ?? ''}`).join(','),
    trending: ids(await engine('trending', [{ k: 20 }])),
    similar: ids(await engine('similar', [NEW, { k: 20 }])),
    shelves: await Promise.all(['trend', 'sim', 'home', 'fbt', 'sim2'].map(shown)),
  });

  await t.test('another bundle\'s delta, a corrupt one, a wrong hash, a disallowed source: refused with the non-isolated codes; nothing changes', async () => {
    const before = await snapshot();
    const errorsBefore = await page.evaluate(() => window.v.errors.length);
    const wrongHash = sri(path.join(data, 'other.delta'));
    const cases = [
      ['other.delta', {}, 'update_mismatch'],
      ['flipped.delta', {}, 'bundle'],
      ['truncated.delta', {}, 'bundle'],
      ['update-v3.delta', { integrity: wrongHash }, 'integrity'],
    ];
    const got = await page.evaluate(
      async ([cases, data]) => {
        // The same deltas, applied without isolation to the same bundle, for the codes to compare with.
        const local = await window.V.load('/data/cat.vtr', { storage: false });
        const out = [];
        for (const [file, opts] of cases) {
          out.push({ isolated: await window.outcome(window.v, `${data}/${file}`, opts), local: await window.outcome(local, `/data/${file}`, opts) });
        }
        local.destroy();
        return out;
      },
      [cases, DATA],
    );
    for (const [i, [file, , code]] of cases.entries()) {
      assert.equal(got[i].isolated.code, code, `${file}: ${JSON.stringify(got[i].isolated)}`);
      assert.equal(got[i].isolated.name, 'VitrineError');
      assert.equal(got[i].local.code, code, `${file} without isolation: ${JSON.stringify(got[i].local)}`);
    }
    // A delta on an origin the frame does not fetch from (the page's own).
    const foreign = await page.evaluate(() => window.outcome(window.v, `${location.origin}/data/update-v3.delta`));
    assert.equal(foreign.code, 'source_not_allowed');
    const errors = await page.evaluate((n) => window.v.errors.slice(n).map((e) => e.code), errorsBefore);
    assert.deepEqual(errors, ['update_mismatch', 'bundle', 'bundle', 'integrity', 'source_not_allowed'], 'also as error events');
    assert.deepEqual(await snapshot(), before, 'the engine, its catalog and the shelves are unchanged');
    assert.deepEqual(await page.evaluate(() => window.changes.filter((c) => c.reason === 'catalog').length), 2, 'no change event for a refused update');
  });

  await t.test('malformed arguments and messages are refused by the protocol; nothing changes', async () => {
    const before = await snapshot();
    const args = await page.evaluate(async (data) => {
      const v = window.v;
      const url = `${data}/update-v3.delta`;
      return [
        await window.outcome(v, new Uint8Array(8)),
        await window.outcome(v, new ArrayBuffer(8)),
        await window.outcome(v, 42),
        await window.outcome(v, url, { fetchOptions: { credentials: 'include' } }),
        await window.outcome(v, url, { integrity: 5 }),
        await window.outcome(v, url, { integrity: 'x'.repeat(2000) }),
        await window.outcome(v, `${url}?${'x'.repeat(3000)}`),
        await window.outcome(v, 'javascript:alert(1)'),
      ];
    }, DATA);
    for (const [i, r] of args.entries()) assert.equal(r.code, 'invalid_argument', `argument case ${i}: ${JSON.stringify(r)}`);
    assert.match(args[0].message, /pass its URL/);
    assert.match(args[6].message, /did not match the protocol/);
    // A page script posts update messages straight to the frames.
    const n = await page.evaluate(() => window.v.errors.length);
    await page.evaluate(() => {
      const engineFrame = document.querySelector('body > iframe');
      const viewFrame = document.querySelector('#trend').shadowRoot.querySelector('iframe');
      const send = (w, msg, transfer = []) => w.contentWindow.postMessage(msg, '*', transfer);
      send(engineFrame, { vitrine: 1, kind: 'update', ref: 9001, delta: 42 });
      const buffer = new ArrayBuffer(64);
      send(engineFrame, { vitrine: 1, kind: 'update', ref: 9002, delta: buffer }, [buffer]);
      send(engineFrame, { vitrine: 1, kind: 'update', ref: 9003, delta: '../../data/update-v2.delta', bytes: [1, 2, 3] });
      send(engineFrame, { vitrine: 1, kind: 'update', ref: 9004, delta: 'x'.repeat(200_000) });
      send(engineFrame, { vitrine: 1, kind: 'update', delta: '../../data/update-v2.delta' });
      send(viewFrame, { vitrine: 1, kind: 'update', ref: 9005, delta: '../../data/update-v2.delta' });
    });
    await page.waitForFunction((n) => window.v.errors.length >= n + 5, n, { timeout: 5_000 });
    const engineErrors = await page.evaluate((n) => window.v.errors.slice(n).map((e) => [e.code, e.ref ?? null]), n);
    assert.deepEqual(engineErrors, [
      ['bad_schema', 9001],
      ['bad_schema', 9002],
      ['unknown_field', 9003],
      ['too_large', 9004],
      ['bad_schema', null],
    ]);
    await page.waitForFunction(() => window.shelfErrors.length >= 1, null, { timeout: 5_000 });
    assert.deepEqual(await page.evaluate(() => window.shelfErrors), [['trend', 'unknown_kind']]);
    assert.deepEqual(await snapshot(), before);
  });

  await t.test('a reloaded engine frame gets the last update again', async () => {
    await frameOf(page, 'engine').evaluate(() => (window.beforeReload = true));
    // Moving the frame in the document reloads it (a new document, a new engine from the bundle).
    await page.evaluate(() => {
      const f = document.querySelector('body > iframe');
      f.remove();
      document.body.append(f);
    });
    await until(async () => (await frameOf(page, 'engine')?.evaluate(() => document.readyState === 'complete' && !window.beforeReload).catch(() => false)) === true, 'the engine frame reloaded');
    await until(async () => {
      const records = await engine('catalog').catch(() => null);
      return records?.some((x) => x.id === NEW) && records.find((x) => x.id === gone)?.availability === 'out_of_stock';
    }, 'the reloaded engine has the update');
    assert.ok(ids(await engine('similar', [simHost, { k: 20 }])).includes(NEW));
    await addShelf({ id: 'after', mode: 'similar', item: NEW, k: '10' });
    const list = await shown('after');
    assert.equal(list.length, 10, 'a shelf about the added product, from the reloaded engine');
    assert.ok(!list.includes(gone));
  });

  assert.deepEqual(pageErrors, []);
});
