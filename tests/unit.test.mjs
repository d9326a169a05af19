// Node-only tests of the package's pure parts (no browser): the synchronous SHA-256 against
// node:crypto, the stored-session envelope, catalog records, price formatting, strings, and that
// importing the entry points on a server does nothing browser-specific.
//
//   node --test tests/unit.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { REPO } from './_browser.mjs';
import { sha256, sha256Hex } from '../www/lib/sha256.js';
import { StateStore, memoryAdapter, STORAGE_SCHEMA } from '../www/lib/storage.js';
import { normalizeProduct, indexCatalog, PriceFormatter, categoryLabel } from '../www/lib/catalog.js';
import { resolveStrings, setShelfStrings, checkStrings, fill, DEFAULT_STRINGS } from '../www/lib/strings.js';
import { reasonText } from '../www/lib/reasons.js';

test('sha256 equals node:crypto at every padding boundary and on random and non-ASCII input', () => {
  const lengths = [0, 1, 3, 55, 56, 57, 63, 64, 65, 111, 112, 119, 120, 127, 128, 129, 1000, 65_537];
  for (const len of lengths) {
    const bytes = crypto.randomBytes(len);
    assert.equal(Buffer.from(sha256(bytes)).toString('hex'), crypto.createHash('sha256').update(bytes).digest('hex'), `length ${len}`);
  }
  for (let i = 0; i < 200; i++) {
    const bytes = crypto.randomBytes(crypto.randomInt(0, 300));
    assert.equal(Buffer.from(sha256(bytes)).toString('hex'), crypto.createHash('sha256').update(bytes).digest('hex'));
  }
  const text = 'Grüße, 東京 🛒 {"events":[]}';
  assert.equal(sha256Hex(text), crypto.createHash('sha256').update(text, 'utf8').digest('hex'));
  assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'); // FIPS 180-4 example
});

test('StateStore: a synchronous adapter has the envelope when save() returns; load() checks it', async () => {
  const adapter = memoryAdapter();
  let clock = 1_000;
  const store = new StateStore(adapter, { key: 'k', ttlMs: 100, now: () => clock });
  assert.equal(store.sync, true);
  const pending = store.save('{"format":"x"}');
  const raw = await adapter.get('k'); // written before the promise was awaited
  assert.ok(raw, 'written synchronously');
  assert.equal(await pending, null);
  const env = JSON.parse(raw);
  assert.deepEqual(env, { schema: STORAGE_SCHEMA, savedAt: 1000, expiresAt: 1100, sha256: sha256Hex('{"format":"x"}'), state: '{"format":"x"}' });
  assert.deepEqual(await store.load(), { state: '{"format":"x"}', issue: null });
  await adapter.set('k', JSON.stringify({ ...env, state: '{"format":"y"}' }));
  const tampered = await store.load();
  assert.equal(tampered.issue.kind, 'corrupt');
  assert.equal(await adapter.get('k'), null, 'a bad copy is removed');
  store.save('{}');
  clock = 2_000;
  assert.equal((await store.load()).issue.kind, 'expired');
  const failing = new StateStore({ name: 'x', async get() {}, async set() { throw new Error('disk on fire'); }, async remove() {} });
  assert.equal((await failing.save('{}')).kind, 'write_failed');
});

test('catalog records: the catalog format and the demo fields, checked', () => {
  const p = normalizeProduct({ id: 7, title: 'T', name: 'N', category: 'Home > Kitchen >  Knives ', brand: 'B', price: '10', sale_price: 8, currency: 'eur', availability: 'backorder', badges: ['New', 3, ' '] });
  assert.equal(p.id, '7');
  assert.equal(p.title, 'T', 'title wins over name');
  assert.deepEqual(p.categoryPath, ['Home', 'Kitchen', 'Knives']);
  assert.equal(p.price, 10);
  assert.equal(p.salePrice, 8);
  assert.equal(p.currency, 'EUR');
  assert.equal(p.availability, 'backorder');
  assert.deepEqual(p.badges, ['New']);
  assert.equal(normalizeProduct({ id: 'a', name: 'Demo' }).title, 'Demo');
  assert.equal(normalizeProduct({ id: 'a', price: 5, sale_price: 5 }).salePrice, null, 'a "sale" price that is not lower is ignored');
  assert.equal(normalizeProduct({ id: 'a', price: -1 }).price, null);
  assert.equal(normalizeProduct({ id: 'a', currency: 'euro' }).currency, null);
  assert.equal(normalizeProduct({ id: 'a', availability: 'maybe' }).availability, 'in_stock');
  assert.equal(normalizeProduct({ title: 'no id' }), null);
  const idx = indexCatalog({ products: [{ id: 'a', category: 'c1' }, { id: 'b', availability: 'out_of_stock' }, null], categories: [{ id: 'c1', name: 'Cat One' }] });
  assert.deepEqual([...idx.byId.keys()], ['a', 'b']);
  assert.deepEqual(idx.outOfStock, ['b']);
  assert.equal(categoryLabel(idx.byId.get('a'), idx.categoryNames), 'Cat One');
});

test('PriceFormatter: one format per currency; no currency is a plain number', () => {
  const f = new PriceFormatter('en-US');
  assert.equal(f.format(12.5, 'EUR'), '€12.50');
  assert.equal(f.format(1200, 'JPY'), '¥1,200');
  assert.equal(f.format(3, null), '3.00');
  assert.equal(f.format(null, 'EUR'), null);
  assert.equal(new PriceFormatter('not a locale!').format(1, 'EUR').includes('1'), true, 'a bad locale falls back');
});

test('strings: English defaults, language and region overrides, checked keys', () => {
  assert.equal(resolveStrings(undefined).addToCart, 'Add to cart');
  setShelfStrings('fr', { addToCart: 'Ajouter au panier', label: 'Pour vous' });
  setShelfStrings('fr-CA', { addToCart: 'Ajouter au chariot' });
  assert.equal(resolveStrings('fr-FR').addToCart, 'Ajouter au panier');
  assert.equal(resolveStrings('fr-CA').addToCart, 'Ajouter au chariot');
  assert.equal(resolveStrings('fr-CA').label, 'Pour vous');
  assert.equal(resolveStrings('fr-CA', { label: 'x' }).label, 'x');
  assert.throws(() => checkStrings({ nope: 'x' }, 'w'), /unknown string 'nope'/);
  assert.throws(() => checkStrings({ label: 3 }, 'w'), /must be a string/);
  assert.throws(() => setShelfStrings('', {}), /BCP 47/);
  assert.equal(fill('Add {name} to cart', { name: 'Mug' }), 'Add Mug to cart');
  assert.equal(fill('{unknown}', {}), '{unknown}');
  const why = { events: [{ type: 'purchase', item: 'p1', contribution: 0.4 }, { type: 'view', item: 'p2', contribution: 0.1 }] };
  assert.equal(reasonText(why, () => 'Mug'), 'Because you bought Mug');
  assert.equal(reasonText(why, () => 'Tasse', { ...DEFAULT_STRINGS, reasonBought: 'Weil Sie {name} gekauft haben' }), 'Weil Sie Tasse gekauft haben');
});

test('server-side import of vitrine, vitrine/shelf and the adapters does nothing browser-specific', () => {
  const script = `
    const before = new Set(Object.getOwnPropertyNames(globalThis));
    const index = await import(${JSON.stringify(path.join(REPO, 'www', 'lib', 'index.js'))});
    const shelf = await import(${JSON.stringify(path.join(REPO, 'www', 'lib', 'shelf.js'))});
    const added = Object.getOwnPropertyNames(globalThis).filter((k) => !before.has(k));
    let defineError = null;
    try { shelf.defineVitrineShelf(); } catch (e) { defineError = e.message; }
    let dataLayerError = null;
    try { index.fromDataLayer(null); } catch (e) { dataLayerError = e.message; }
    console.log(JSON.stringify({ added, exports: Object.keys(index).length + Object.keys(shelf).length, defineError, dataLayerError, id: index.newRecommendationId() }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.added, [], 'no globals defined by importing');
  assert.ok(out.exports > 10);
  assert.match(out.defineError, /needs a browser/);
  assert.match(out.dataLayerError, /needs a dataLayer array outside a page/);
  assert.match(out.id, /^[0-9a-f-]{36}$/);
});

test('shard manifests: validated, URLs resolved on the manifest origin, choice by category only', async () => {
  const { ShardSet, isShardManifestUrl } = await import('../www/lib/shards.js');
  const sri = 'sha384-' + 'A'.repeat(64);
  const base = 'https://shop.example/models/set/shards.json';
  const manifest = {
    format: 'vitrine-shards',
    version: 1,
    items: 30,
    head: { url: 'head.vtr', integrity: sri, items: 10, bytes: 100 },
    shards: [
      { url: 'shards/0000.vtr', integrity: sri, items: 10, bytes: 90, categories: ['A', 'B'] },
      { url: 'shards/0001.vtr', integrity: sri, items: 10, bytes: 90, categories: ['B'] },
      { url: 'shards/0002.vtr', integrity: sri, items: 10, bytes: 90, categories: [] },
    ],
  };
  const set = new ShardSet(manifest, base);
  assert.equal(set.head.url, 'https://shop.example/models/set/head.vtr');
  assert.deepEqual(set.categories.sort(), ['A', 'B']);
  assert.deepEqual(set.select(['A']).map((s) => s.url.split('/').pop()), ['0000.vtr']);
  assert.deepEqual(set.select(['B']).map((s) => s.url.split('/').pop()), ['0000.vtr', '0001.vtr']);
  assert.deepEqual(set.select(['C']), []);
  assert.equal(set.select('all').length, 3);
  assert.deepEqual(set.status(), { total: 3, loaded: 0, items: 30 });
  // A shard is fetched once, however many callers ask; a failed one may be asked for again.
  let calls = 0;
  const fakeApply = async () => ({ added: 10 });
  const realFetch = globalThis.fetch;
  globalThis.fetch = async () => {
    calls++;
    throw new Error('offline');
  };
  try {
    const [s0] = set.select(['A']);
    const p1 = set.load(s0, fakeApply);
    const p2 = set.load(s0, fakeApply);
    assert.equal(p1, p2);
    await assert.rejects(p1, (e) => e.code === 'fetch_failed');
    assert.equal(calls, 1);
    await assert.rejects(set.load(s0, fakeApply));
    assert.equal(calls, 2, 'asked again after a failure');
  } finally {
    globalThis.fetch = realFetch;
  }
  // Bad manifests: typed errors.
  const bad = (m) => assert.throws(() => new ShardSet(m, base), (e) => e.code === 'invalid_manifest', JSON.stringify(m).slice(0, 120));
  bad(null);
  bad({ ...manifest, format: 'other' });
  bad({ ...manifest, version: 2 });
  bad({ ...manifest, shards: 'x' });
  bad({ ...manifest, head: { ...manifest.head, integrity: 'md5-x' } });
  bad({ ...manifest, head: { ...manifest.head, items: 0 } });
  bad({ ...manifest, shards: [{ ...manifest.shards[0], url: 'https://elsewhere.example/s.vtr' }] });
  bad({ ...manifest, shards: [{ ...manifest.shards[0], categories: [1] }] });
  assert.ok(isShardManifestUrl('/models/set/shards.json'));
  assert.ok(isShardManifestUrl('https://cdn.example/a/b.json?v=2'));
  assert.ok(!isShardManifestUrl('/models/store.vtr'));
  assert.ok(!isShardManifestUrl(new Uint8Array(3)));
});
