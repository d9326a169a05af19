// Big catalogs on demand in a real browser (issue 18): `vitrine catalog shard` cuts the demo's
// bundle into a head (the most popular products) and shards by category; the page loads the
// manifest, renders from the head, and fetches a shard only when it asks for one of its
// categories — each checked against the manifest's hash. The network audit: two shoppers with
// different stored histories (full page loads, consent granted) make the same page calls and the
// browser fetches exactly the same files, whatever their histories hold.
//
//   node --test tests/shards.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, preflight, launch, serve, instrument, makeSite } from './_browser.mjs';
import { BIN, trainWithCatalog, vitrine } from './_catalog.mjs';

const SITE = path.join(REPO, 'target', 'test-site-shards');
const HEAD = 120;

test('shards: head first, shards on demand, chosen from page data only', { timeout: 300_000 }, async (t) => {
  preflight();
  assert.ok(fs.existsSync(BIN), `${BIN} is missing: run scripts/build`);
  makeSite(SITE, {
    'harness.html': fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'harness.html')),
    'harness.js': fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'harness.js')),
  });
  const data = path.join(SITE, 'data');
  trainWithCatalog(SITE, 'full.vtr');
  const cut = JSON.parse(
    vitrine('catalog', 'shard', '--bundle', path.join(data, 'full.vtr'), '--head', String(HEAD), '--max-shard-items', '60', '--out-dir', path.join(data, 'set'), '--json'),
  );
  const manifest = JSON.parse(fs.readFileSync(path.join(data, 'set', 'shards.json'), 'utf8'));
  assert.equal(manifest.head.items, HEAD);
  assert.equal(manifest.items, cut.items);
  assert.equal(manifest.shards.reduce((n, s) => n + s.items, HEAD), manifest.items, 'every product once');
  assert.ok(manifest.shards.length >= 3, `${manifest.shards.length} shards`);
  const full = JSON.parse(vitrine('inspect', '--bundle', path.join(data, 'full.vtr'), '--json'));
  assert.equal(manifest.items, full.items);

  // Three shards with distinct categories: X and Y for the two histories, Z for the page's request.
  const once = (c) => manifest.shards.filter((s) => s.categories.includes(c)).length === 1;
  const picks = [];
  for (const s of manifest.shards) {
    const c = s.categories.find(once);
    if (c !== undefined && c !== '') picks.push(c);
  }
  assert.ok(picks.length >= 3, `three categories held by one shard each: ${picks}`);
  const [X, Y, Z] = picks;
  // The products of a category that are not in the head (the head's ids: its records, read by a
  // page below).
  let headIds = null;
  const tailOf = (cat) => {
    const lines = fs.readFileSync(path.join(data, 'catalog-v1.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    return lines.filter((p) => p.category === cat && !headIds.has(p.id)).map((p) => p.id);
  };

  const server = await serve(t, { root: SITE });
  const browser = await launch();
  t.after(() => browser.close());
  const shardOf = (c) => new URL(`data/set/${manifest.shards.find((s) => s.categories.includes(c)).url}`, server.url).href;

  await t.test('the manifest loads the head only; a category filter fetches its shard, checked', async () => {
    const page = await browser.newPage();
    const log = instrument(page);
    await page.goto(`${server.url}harness.html`);
    await page.waitForFunction(() => window.harnessReady === true);
    const r = await page.evaluate(async (Z) => {
      const v = await V.loadExact('data/set/shards.json');
      window.v = v;
      const before = { items: v.itemCount, records: v.catalog.length, shards: v.shards, ids: v.catalog.map((r) => r.id) };
      const home = await v.recommend({ k: 8 });
      const inZ = await v.recommend({ k: 100, filters: { categories: [Z] } });
      return { before, home: home.map((x) => x.id), inZ: inZ.map((x) => x.id), after: { items: v.itemCount, records: v.catalog.length, shards: v.shards } };
    }, Z);
    assert.deepEqual(log.errors, []);
    headIds = new Set(r.before.ids);
    assert.equal(r.before.items, HEAD);
    assert.equal(r.before.records, HEAD);
    assert.equal(r.before.shards.loaded, 0);
    assert.equal(r.before.shards.total, manifest.shards.length);
    assert.equal(r.home.length, 8);
    const zShards = manifest.shards.filter((s) => s.categories.includes(Z));
    const zItems = zShards.reduce((n, s) => n + s.items, 0);
    assert.equal(r.after.items, HEAD + zItems);
    assert.equal(r.after.records, HEAD + zItems, 'the shard carried its records');
    assert.equal(r.after.shards.loaded, zShards.length);
    const zTail = new Set(tailOf(Z));
    assert.ok(r.inZ.some((id) => zTail.has(id)), `a product of the shard is recommended: ${r.inZ}`);
    const vtr = log.requests.map((q) => q.url()).filter((u) => u.endsWith('.vtr') || u.endsWith('.json'));
    assert.deepEqual(vtr, [
      new URL('data/set/shards.json', server.url).href,
      new URL('data/set/head.vtr', server.url).href,
      ...zShards.map((s) => new URL(`data/set/${s.url}`, server.url).href),
    ]);
    // Asked again: nothing more is fetched.
    const n = log.requests.length;
    await page.evaluate((Z) => window.v.loadShards({ categories: [Z] }), Z);
    assert.equal(log.requests.length, n);
    await page.close();
  });

  await t.test('a shelf given the manifest as src renders, in a worker, with its category filter', async () => {
    const page = await browser.newPage();
    const log = instrument(page);
    await page.goto(`${server.url}harness.html`);
    await page.waitForFunction(() => window.harnessReady === true);
    const r = await page.evaluate(async (Z) => {
      const el = document.createElement('vitrine-shelf');
      el.setAttribute('src', 'data/set/shards.json');
      el.setAttribute('worker', '');
      el.setAttribute('k', '6');
      el.setAttribute('options', JSON.stringify({ filters: { categories: [Z] } }));
      document.body.append(el);
      await el.ready;
      for (let i = 0; i < 100 && (el.pending || el.items.length === 0); i++) await new Promise((res) => setTimeout(res, 30));
      const cat = new Map(el.vitrine.catalog.map((c) => [c.id, c.category]));
      return { ids: el.items.map((i) => i.id), cats: el.items.map((i) => cat.get(i.id)), mode: el.vitrine.mode, shards: el.vitrine.shards };
    }, Z);
    assert.deepEqual(log.errors, []);
    assert.equal(r.mode, 'worker');
    assert.equal(r.ids.length, 6);
    assert.ok(r.shards.loaded >= 1, JSON.stringify(r.shards));
    assert.deepEqual(r.cats, r.ids.map(() => Z), `${r.ids}`);
    await page.close();
  });

  await t.test('a shard that does not match its hash is refused and nothing changes', async () => {
    const file = path.join(data, 'set', manifest.shards.find((s) => s.categories.includes(Y)).url);
    const good = fs.readFileSync(file);
    const bad = Buffer.from(good);
    bad[bad.length - 1] ^= 1;
    fs.writeFileSync(file, bad);
    const page = await browser.newPage();
    await page.goto(`${server.url}harness.html`);
    await page.waitForFunction(() => window.harnessReady === true);
    try {
      const r = await page.evaluate(async (cat) => {
        const v = await V.loadExact('data/set/shards.json');
        const err = await v.loadShards({ categories: [cat] }).catch((e) => e);
        return { code: err?.code, items: v.itemCount, loaded: v.shards.loaded };
      }, Y);
      assert.deepEqual(r, { code: 'integrity', items: HEAD, loaded: 0 });
    } finally {
      fs.writeFileSync(file, good);
      await page.close();
    }
  });

  await t.test('network audit: the files fetched do not depend on the stored history', async () => {
    // One shopper per browser context (its own storage): a first page load tracks products of
    // their shards' category (pending: the head does not know them) with consent; a second full
    // page load restores that history and makes the same calls as the other shopper.
    const run = async (cat) => {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      await page.goto(`${server.url}harness.html`);
      await page.waitForFunction(() => window.harnessReady === true);
      const tracked = await page.evaluate(async (ids) => {
        const v = await V.Vitrine.load('data/set/shards.json', { consent: 'granted' });
        const r = [];
        for (const item of ids) r.push((await v.track({ type: 'view', item })).pending);
        await v.flush();
        return r;
      }, tailOf(cat).slice(0, 4));
      assert.deepEqual(tracked, [true, true, true, true], 'shard products are pending on the head');
      const log = instrument(page);
      await page.reload();
      await page.waitForFunction(() => window.harnessReady === true);
      const r = await page.evaluate(
        async ({ Z, head }) => {
          const v = await V.Vitrine.load('data/set/shards.json', { consent: 'granted' });
          // The stored history (D): what the first load tracked, in this origin's storage.
          const restored = Object.values(localStorage).join('\n');
          await v.recommend({ k: 8 });
          await v.similar(head, { k: 4 });
          await v.recommend({ k: 8, filters: { categories: [Z] } });
          await v.recommend({ k: 8 });
          return { restored, items: v.itemCount };
        },
        { Z, head },
      );
      const urls = log.requests.map((q) => q.url()).filter((u) => u.includes('/data/'));
      await ctx.close();
      return { urls, ...r };
    };
    const [head] = headIds;
    const a = await run(X);
    const b = await run(Y);
    assert.ok(tailOf(X).slice(0, 4).every((id) => a.restored.includes(id)), `A's history is stored: ${a.restored.slice(0, 300)}`);
    assert.ok(tailOf(Y).slice(0, 4).every((id) => b.restored.includes(id)), `B's history is stored: ${b.restored.slice(0, 300)}`);
    assert.deepEqual(a.urls, b.urls, 'the same files, in the same order');
    assert.equal(a.items, b.items);
    const shardsFetched = a.urls.filter((u) => u.includes('/shards/'));
    const zUrls = manifest.shards.filter((s) => s.categories.includes(Z)).map((s) => new URL(`data/set/${s.url}`, server.url).href);
    assert.deepEqual(shardsFetched, zUrls, 'only the shard the page asked for');
    assert.ok(!shardsFetched.includes(shardOf(X)) && !shardsFetched.includes(shardOf(Y)), "the histories' shards were not fetched");
  });
});
