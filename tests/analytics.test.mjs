// Analytics adapters in headless Chromium, on a store page whose only shopper signal is a GA4
// dataLayer (tests/fixtures/ga4: Tag Manager style pushes and gtag() calls, no track() anywhere):
// the events reach the engine (items[] expanded, pushed before and after the adapter attached; an
// id the bundle does not know yet is kept pending by the engine and counted, not an error — issue
// 16), the shelf is personalized by them, and the shelf's impressions
// and clicks come back into the dataLayer as view_item_list / select_item with the result set's
// recommendation_id.
//
//   node --test tests/analytics.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, WWW, preflight, launch, serve, instrument, makeSite } from './_browser.mjs';

const SITE = path.join(REPO, 'target', 'test-site-ga4');
const GA4 = path.join(REPO, 'tests', 'fixtures', 'ga4');
const CATALOG = JSON.parse(fs.readFileSync(path.join(WWW, 'data', 'catalog.json'), 'utf8'));
const CATEGORY = new Map(CATALOG.products.map((p) => [p.id, p.category]));
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function open(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
  const page = await context.newPage();
  const log = instrument(page);
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true || window.failed, null, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => window.failed), undefined);
  return { context, page, log };
}

const shelfIds = (page) => page.evaluate(() => document.querySelector('vitrine-shelf').items.map((i) => i.id));
const dataLayerEvents = (page, name) =>
  page.evaluate((name) => window.dataLayer.filter((e) => e && !('length' in e) && e.event === name).map((e) => JSON.parse(JSON.stringify(e))), name);

test('a store with only a GA4 dataLayer', { timeout: 120_000 }, async (t) => {
  preflight();
  // At the site's root, so that the catalog's relative image URLs (data/img/…) resolve.
  makeSite(SITE, Object.fromEntries(fs.readdirSync(GA4).map((f) => [f === 'index.html' ? 'ga4.html' : f, fs.readFileSync(path.join(GA4, f))])));
  const server = await serve(t, { root: SITE });
  const browser = await launch();
  t.after(() => browser.close());
  const tents = CATALOG.products.filter((p) => p.category === 'tents').map((p) => p.id);
  const share = (ids) => ids.filter((id) => CATEGORY.get(id) === 'tents').length;

  const cold = await open(browser, `${server.url}ga4.html`);
  const coldIds = await shelfIds(cold.page);
  assert.deepEqual(cold.log.errors, []);
  await cold.context.close();

  const { context, page, log } = await open(browser, `${server.url}ga4.html?viewed=${tents.slice(0, 3).join(',')}&gtag=${tents[3]}&unknown=zzz`);

  await t.test('events pushed before the adapter attached reach the engine; an unknown id is kept pending, not an error', async () => {
    const r = await page.evaluate(async () => ({
      tracked: window.adapter.tracked,
      pending: window.adapter.pending,
      skipped: window.adapter.skipped,
      errors: window.adapterErrors ?? [],
      events: JSON.parse(await window.vitrine.exportState()).events.map((e) => [e.type, e.item]),
    }));
    assert.equal(r.tracked, 4);
    assert.equal(r.pending, 1, 'the view of zzz is kept until a catalog update knows it');
    assert.equal(r.skipped, 0);
    assert.deepEqual(r.errors, []);
    // The stored state lists the session's events, then the pending ones.
    assert.deepEqual(r.events, [...tents.slice(0, 4).map((id) => ['view', id]), ['view', 'zzz']], 'object pushes and the gtag() call, in order');
  });

  await t.test('the shelf is personalized by the dataLayer alone', async (st) => {
    const warm = await shelfIds(page);
    st.diagnostic(`tents on the shelf: cold ${share(coldIds)}/8, after four GA4 view_item events ${share(warm)}/8`);
    assert.equal(warm.length, 8);
    assert.ok(share(warm) >= 4, `at least half the shelf is tents (${share(warm)}/8)`);
    assert.ok(share(warm) > share(coldIds), 'more tents than the cold-start shelf');
    const engine = await page.evaluate(async () => (await window.vitrine.recommend({ k: 8, explain: true })).map((r) => [r.id, r.why.personalized]));
    assert.deepEqual(warm, engine.map(([id]) => id), 'the shelf shows the engine’s ranking');
    assert.ok(engine.some(([, personalized]) => personalized), 'the engine says the ranking is personalized');
  });

  await t.test('impressions come back as view_item_list with item_list_id = placement and the shelf’s recommendation_id', async () => {
    await page.waitForFunction(() => window.dataLayer.some((e) => e?.event === 'view_item_list'));
    const lists = await dataLayerEvents(page, 'view_item_list');
    const { id, ids } = await page.evaluate(() => {
      const s = document.querySelector('vitrine-shelf');
      return { id: s.recommendationId, ids: s.items.map((i) => i.id) };
    });
    assert.match(id, UUID_V4);
    const last = lists.at(-1);
    assert.equal(last.recommendation_id, id);
    assert.equal(last.ecommerce.item_list_id, 'home');
    assert.equal(last.ecommerce.item_list_name, 'Recommended for you');
    const shown = lists.filter((l) => l.recommendation_id === id).flatMap((l) => l.ecommerce.items);
    assert.deepEqual(shown.map((i) => i.item_id).sort(), [...ids].sort(), 'every card once (the viewport shows all eight)');
    for (const item of shown) {
      assert.equal(item.index, ids.indexOf(item.item_id), 'index = 0-based position');
      assert.equal(item.item_list_id, 'home');
      assert.equal(typeof item.item_name, 'string');
      assert.equal(typeof item.price, 'number');
    }
    const raw = await page.evaluate(() => window.dataLayer.map((e) => (e && 'event' in e ? e.event : e && 'ecommerce' in e ? 'clear' : null)));
    const at = raw.lastIndexOf('view_item_list');
    assert.equal(raw[at - 1], 'clear', '{ecommerce: null} before each ecommerce push');
  });

  await t.test('a click comes back as select_item with the recommendation_id of the shelf that showed it', async () => {
    const r = await page.evaluate(async () => {
      const shelf = document.querySelector('vitrine-shelf');
      const shownId = shelf.recommendationId;
      const card = shelf.shadowRoot.querySelectorAll('.card')[2];
      card.querySelector('.link').click();
      await window.adapter.idle();
      // The session's events (the pending view of zzz is listed after them).
      const events = JSON.parse(await window.vitrine.exportState()).events.filter((e) => e.item !== 'zzz');
      return { shownId, clicked: card.dataset.id, last: events.at(-1) };
    });
    const selects = await dataLayerEvents(page, 'select_item');
    assert.equal(selects.length, 1);
    assert.equal(selects[0].recommendation_id, r.shownId);
    assert.equal(selects[0].ecommerce.item_list_id, 'home');
    assert.deepEqual(selects[0].ecommerce.items.map((i) => [i.item_id, i.index]), [[r.clicked, 2]]);
    assert.deepEqual([r.last.type, r.last.item], ['click', r.clicked], 'and the select_item itself reaches the engine as a click');
  });

  await t.test('later pushes: add_to_cart, remove_from_cart, purchase (items[] expanded), search, gtag() style', async () => {
    const r = await page.evaluate(async () => {
      const known = async () => JSON.parse(await window.vitrine.exportState()).events.filter((e) => e.item !== 'zzz'); // not the pending view
      const before = (await known()).length;
      const n = window.dataLayer.push({ event: 'add_to_cart', ecommerce: { items: [{ item_id: 'p0046', quantity: 2, price: 199 }] } });
      window.dataLayer.push({ event: 'remove_from_cart', ecommerce: { items: [{ item_id: 'p0046', quantity: 1 }] } });
      window.gtag('event', 'purchase', { transaction_id: 'T1', items: [{ item_id: 'p0076', quantity: 1, price: 50 }, { item_id: 'p0086', quantity: 3 }] });
      window.gtag('event', 'search', { search_term: ' two person tent ' });
      window.dataLayer.push({ event: 'view_item_list', ecommerce: { items: [{ item_id: 'p0001' }] } }); // not an interest signal
      await window.adapter.idle();
      const events = (await known()).slice(before);
      return { pushReturn: n, length: window.dataLayer.length, events: events.map(({ ts, ...e }) => e) };
    });
    assert.equal(typeof r.pushReturn, 'number', 'push still returns what Array.prototype.push returns');
    assert.deepEqual(r.events, [
      { type: 'add_to_cart', item: 'p0046', quantity: 2, price: 199 },
      { type: 'remove_from_cart', item: 'p0046', quantity: 1 },
      { type: 'purchase', item: 'p0076', quantity: 1, price: 50 },
      { type: 'purchase', item: 'p0086', quantity: 3 },
      { type: 'search', query: 'two person tent' },
    ]);
  });

  await t.test('attaching twice tracks each event once; stop() restores push', async () => {
    const r = await page.evaluate(async () => {
      const { fromDataLayer } = await import('./lib/index.js');
      const again = fromDataLayer(window.vitrine);
      const same = again === window.adapter;
      const before = JSON.parse(await window.vitrine.exportState()).events.length;
      window.dataLayer.push({ event: 'view_item', ecommerce: { items: [{ item_id: 'p0002' }] } });
      await window.adapter.idle();
      const once = JSON.parse(await window.vitrine.exportState()).events.length - before;
      window.adapter.stop();
      window.dataLayer.push({ event: 'view_item', ecommerce: { items: [{ item_id: 'p0003' }] } });
      await new Promise((r) => setTimeout(r, 50));
      const after = JSON.parse(await window.vitrine.exportState()).events.length - before;
      return { same, once, after, native: window.dataLayer.push === Array.prototype.push };
    });
    assert.deepEqual(r, { same: true, once: 1, after: 1, native: true });
  });

  await t.test('no page errors, console errors or requests off the page’s origin', () => {
    assert.deepEqual(log.errors, []);
    const origin = new URL(server.url).origin;
    assert.deepEqual(log.requests.map((q) => q.url()).filter((u) => !u.startsWith(origin) && !u.startsWith('data:')), []);
  });
  await context.close();
});
