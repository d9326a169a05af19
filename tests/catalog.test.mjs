// The live catalog in a real browser (issue 16): a bundle trained with `vitrine train --catalog`
// carries its catalog (the shelves need no catalog file); the page tracks a product the bundle
// does not know (no error: it is kept pending); a delta from `vitrine catalog update` adds it, and
// it then appears in similar() and on a shelf, with the record the delta carried; a second delta
// marks a product out of stock and it leaves every shelf (recommend, similar, bought-together,
// trending).
//
//   node --test tests/catalog.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, preflight, launch, serve, instrument, makeSite } from './_browser.mjs';
import { BIN, catalogJsonl, trainWithCatalog, vitrine } from './_catalog.mjs';

const SITE = path.join(REPO, 'target', 'test-site-catalog');
const NEW = 'p0540'; // removed from the training log and the first catalog: a product added later

test('live catalog: unknown product, delta, out of stock', { timeout: 300_000 }, async (t) => {
  preflight();
  assert.ok(fs.existsSync(BIN), `${BIN} is missing: run scripts/build`);
  makeSite(SITE, {
    'harness.html': fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'harness.html')),
    'harness.js': fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'harness.js')),
  });
  const data = path.join(SITE, 'data');
  // Train without NEW (its events and its record), then two cumulative deltas against that bundle.
  trainWithCatalog(SITE, 'cat.vtr', { without: [NEW] });
  catalogJsonl(path.join(data, 'catalog-v2.jsonl'));
  vitrine('catalog', 'update', '--bundle', path.join(data, 'cat.vtr'), '--catalog', path.join(data, 'catalog-v2.jsonl'), '--out', path.join(data, 'cat-v2.vtr'), '--delta', path.join(data, 'update-v2.delta'));

  const server = await serve(t, { root: SITE });
  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const log = instrument(page);
  await page.goto(`${server.url}harness.html`);
  await page.waitForFunction(() => window.harnessReady === true);
  await page.evaluate(() => {
    window.shelf = async (attrs) => {
      const el = document.createElement('vitrine-shelf');
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
      el.vitrine = window.v;
      document.body.append(el);
      await el.ready;
      return el;
    };
    window.settle = async (shelves) => {
      for (let i = 0; i < 100 && shelves.some((s) => s.pending); i++) await new Promise((r) => setTimeout(r, 30));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    };
    window.shown = (el) => el.items.map((i) => i.id);
  });

  await t.test('the bundle carries its catalog: a shelf without a catalog file shows its records', async () => {
    const r = await page.evaluate(async () => {
      window.v = await V.loadExact('data/cat.vtr');
      const home = await window.shelf({ k: '6' });
      window.home = home;
      return { records: window.v.catalog.length, ids: window.shown(home), titles: [...home.shadowRoot.querySelectorAll('.card')].map((c) => c.textContent) };
    });
    assert.equal(r.records, 539);
    assert.equal(r.ids.length, 6);
    assert.ok(r.titles.every((t) => t.length > 0));
  });

  await t.test('tracking a product the bundle does not know is kept pending, not an error', async () => {
    const r = await page.evaluate(async (id) => {
      await window.v.track({ type: 'view', item: id });
      const sim = await window.v.similar(id, { k: 5 });
      return { state: JSON.parse(await window.v.exportState()).events.map((e) => e.item), unknown: sim.unknownIds, warnings: sim.warnings };
    }, NEW);
    assert.deepEqual(r.state, [NEW], 'stored with the session');
    assert.deepEqual(r.unknown, [NEW]);
    assert.ok(r.warnings.some((w) => w.includes('not in the bundle')));
  });

  await t.test('a delta adds it: it counts, appears in similar() and on a shelf with its record', async () => {
    const r = await page.evaluate(async (id) => {
      const before = window.v.itemCount;
      const report = await window.v.applyUpdate('data/update-v2.delta');
      const own = await window.v.similar(id, { k: 8 });
      // The products most like the new one list it among theirs.
      let host = null;
      for (const x of own.slice(0, 8)) {
        const list = await window.v.similar(x.id, { k: 20 });
        if (list.some((y) => y.id === id)) {
          host = x.id;
          break;
        }
      }
      const el = host ? await window.shelf({ mode: 'similar', item: host, k: '20' }) : null;
      if (el) await window.settle([el]);
      const card = el ? [...el.shadowRoot.querySelectorAll('.card')].find((c) => c.dataset.id === id) : null;
      const recs = await window.v.recommend({ k: 540 });
      return {
        before,
        after: window.v.itemCount,
        report,
        ownIds: own.map((x) => x.id),
        unknown: own.unknownIds,
        host,
        card: card?.textContent ?? null,
        inCatalog: window.v.catalog.some((c) => c.id === id),
        events: JSON.parse(await window.v.exportState()).events.map((e) => e.item),
        ranked: recs.some((x) => x.id === id),
      };
    }, NEW);
    assert.equal(r.report.added, 1);
    assert.equal(r.report.promoted, 1, 'the pending view now counts');
    assert.equal(r.after, r.before + 1);
    assert.deepEqual(r.unknown, []);
    assert.equal(r.ownIds.length, 8);
    assert.ok(r.host, `no product among ${r.ownIds} lists ${NEW} in its similar()`);
    assert.ok(r.card && r.card.length > 0, 'its card, with the record the delta carried');
    assert.ok(r.inCatalog);
    assert.ok(r.ranked, 'recommend() ranks it');
  });

  await t.test('an out-of-stock update removes a product from every shelf', async () => {
    const r = await page.evaluate(async (id) => {
      const cart = [id];
      const shelves = [
        window.home,
        await window.shelf({ mode: 'trending', k: '10' }),
        await window.shelf({ mode: 'bought-together', item: id, k: '10' }),
      ];
      await window.settle(shelves);
      // The product to take out of stock: the first on the trending shelf.
      const gone = window.shown(shelves[1])[0];
      // A product page whose similar shelf shows it: the product most like it. (A similar shelf
      // with nothing to be similar to does not render, so its `ready` waits for an item.)
      const host = (await window.v.similar(gone, { k: 1 }))[0].id;
      shelves.push(await window.shelf({ mode: 'similar', item: host, k: '10' }));
      await window.settle(shelves);
      const before = shelves.map(window.shown);
      window.gone = gone;
      return { gone, before, cart };
    }, NEW);
    assert.ok(r.before[1].includes(r.gone));
    assert.ok(r.before[3].includes(r.gone), 'the similar shelf shows it before');
    // Delta v3: the catalog with `gone` out of stock (cumulative: NEW still added).
    catalogJsonl(path.join(data, 'catalog-v3.jsonl'), { outOfStock: [r.gone] });
    vitrine('catalog', 'update', '--bundle', path.join(data, 'cat.vtr'), '--catalog', path.join(data, 'catalog-v3.jsonl'), '--out', path.join(data, 'cat-v3.vtr'), '--delta', path.join(data, 'update-v3.delta'));
    const after = await page.evaluate(async () => {
      const report = await window.v.applyUpdate('data/update-v3.delta');
      const shelves = [...document.querySelectorAll('vitrine-shelf')];
      await window.settle(shelves);
      const direct = [
        await window.v.recommend({ k: 540 }),
        await window.v.trending({ k: 540 }),
        await window.v.similar(window.gone, { k: 540 }),
        await window.v.frequentlyBoughtTogether([window.gone], { k: 540 }),
      ].map((l) => l.map((x) => x.id));
      const pinned = await window.v.recommend({ k: 3, pins: [{ item: window.gone, rank: 1 }] });
      // (An array's extra properties do not cross page.evaluate: the warnings are passed on their own.)
      return { report, shelves: shelves.map(window.shown), direct, pinned: { ids: pinned.map((x) => x.id), warnings: pinned.warnings } };
    });
    assert.equal(after.report.unavailable, 1);
    assert.equal(after.report.added, 0, 'already added by the previous update');
    for (const ids of after.shelves) assert.ok(!ids.includes(r.gone), `${r.gone} still on a shelf: ${ids}`);
    for (const ids of after.direct) assert.ok(!ids.includes(r.gone));
    assert.ok(after.shelves.every((ids) => ids.length > 0), 'the shelves filled from the other products');
    assert.ok(!after.pinned.ids.includes(r.gone), 'not even pinned');
    assert.ok(after.pinned.warnings.some((w) => w.includes('not available')));
  });

  await t.test('a delta of another bundle is refused and changes nothing', async () => {
    const r = await page.evaluate(async () => {
      const w = await V.loadExact('data/store.vtr');
      const before = { items: w.itemCount, records: w.catalog.length, top: (await w.recommend({ k: 10 })).map((x) => x.id) };
      try {
        await w.applyUpdate('data/update-v2.delta');
        return null;
      } catch (e) {
        const after = { items: w.itemCount, records: w.catalog.length, top: (await w.recommend({ k: 10 })).map((x) => x.id) };
        return { code: e.code, name: e.name, message: e.message, before, after };
      }
    });
    assert.equal(r?.code, 'update_mismatch', JSON.stringify(r));
    assert.equal(r.name, 'VitrineError');
    assert.deepEqual(r.after, r.before, 'the engine and its catalog are unchanged');
  });

  assert.deepEqual(log.errors, []);
});
