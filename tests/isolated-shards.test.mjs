// A sharded catalog in isolated mode (issue 18), in Chromium with two origins (the store's page on
// http://127.0.0.1:P, the frame on http://localhost:P2 with the deployment CSP): the page gives the
// frame a `shards.json`; the frame loads the head, a shelf whose options filter on a category makes
// the frame fetch that category's shard, and `loadShards()` on the IsolatedVitrine makes it fetch
// another one, answered with counts only. The frame fetches shards as it fetches the bundle
// (without cookies or referrer), and a reloaded engine frame is sent the categories again.
//
//   node --test tests/isolated-shards.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, preflight } from './_browser.mjs';
import { isolatedSite, launchPartitioned, viewRendered, frameOf } from './_isolated.mjs';
import { BIN, trainWithCatalog, vitrine } from './_catalog.mjs';

const SITE = path.join(REPO, 'target', 'test-site-isolated-shards');
const HEAD = 120;

const PAGE_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Isolated shelves, sharded catalog</title><link rel="icon" href="data:,">
<script type="module" src="live.js"></script></head>
<body></body>
</html>
`;

const PAGE_JS = `
import { Vitrine } from './lib/index.js';
import { defineVitrineShelf } from './lib/shelf.js';

defineVitrineShelf();
const frame = new URLSearchParams(location.search).get('frame');
window.addShelf = async (attrs) => {
  const el = document.createElement('vitrine-shelf');
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.vitrine = window.v;
  document.body.append(el);
  await el.ready;
};
async function main() {
  window.v = await Vitrine.load(new URL('/data/set/shards.json', frame).href, { isolation: { frame }, consent: 'granted' });
  window.ready = true;
}
main().catch((e) => (window.failed = String(e?.message ?? e)));
`;

test('isolated mode: a sharded catalog', { timeout: 300_000 }, async (t) => {
  preflight();
  assert.ok(fs.existsSync(BIN), `${BIN} is missing: run scripts/build`);
  const site = await isolatedSite(t, SITE, { extra: { 'live.html': PAGE_HTML, 'live.js': PAGE_JS } });
  const data = path.join(SITE, 'data');
  trainWithCatalog(SITE, 'cat.vtr');
  vitrine('catalog', 'shard', '--bundle', path.join(data, 'cat.vtr'), '--head', String(HEAD), '--max-shard-items', '60', '--out-dir', path.join(data, 'set'));
  const manifest = JSON.parse(fs.readFileSync(path.join(data, 'set', 'shards.json'), 'utf8'));
  const once = (c) => c && manifest.shards.filter((s) => s.categories.includes(c)).length === 1;
  const picks = manifest.shards.map((s) => s.categories.find(once)).filter((c) => c !== undefined);
  assert.ok(picks.length >= 2, `${picks}`);
  const [Z, Y] = picks;
  const shardOf = (c) => manifest.shards.find((s) => s.categories.includes(c));
  const urlOf = (c) => `${site.frameOrigin}/data/set/${shardOf(c).url}`;

  const browser = await launchPartitioned();
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1300, height: 1600 } });
  // A cookie on the frame's origin set from the outside: SameSite keeps it from a cross-site
  // frame anyway (the one the frame sets itself, below, is the one that tells).
  await context.addCookies([{ name: 'session', value: 'secret', url: site.frameOrigin }]);
  const shardRequests = [];
  context.on('request', (req) => {
    // allHeaders(): headers() leaves out the cookie and other security-related headers.
    // A request the test does not check may still be pending when the context closes: its
    // headers' promise then rejects, which must not surface as an unhandled rejection. A checked
    // request reads as null and fails its assertion below.
    if (req.url().includes('/data/set/')) shardRequests.push({ url: req.url(), headers: req.allHeaders().catch(() => null) });
  });
  const page = await context.newPage();
  await page.goto(site.page('live.html'));
  await page.waitForFunction(() => window.ready === true || window.failed, null, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => window.failed), undefined);
  const viewOf = async (id) => (await page.locator(`#${id} iframe`).elementHandle()).contentFrame();
  const cards = async (id) =>
    (await viewOf(id)).evaluate(() => [...document.querySelector('.real vitrine-shelf').shadowRoot.querySelectorAll('.card')].map((c) => c.dataset.id));
  const categoryOf = new Map(
    fs.readFileSync(path.join(data, 'catalog-v1.jsonl'), 'utf8').trim().split('\n').map((l) => {
      const p = JSON.parse(l);
      return [p.id, p.category];
    }),
  );

  await t.test('the frame loads the head; a shelf filtering on a category makes it fetch that shard', async () => {
    assert.deepEqual(
      shardRequests.map((r) => r.url),
      [`${site.frameOrigin}/data/set/shards.json`, `${site.frameOrigin}/data/set/head.vtr`],
    );
    await page.evaluate((Z) => window.addShelf({ id: 'z', k: '30', options: JSON.stringify({ filters: { categories: [Z] } }) }), Z);
    const view = await viewOf('z');
    for (let i = 0; i < 200 && !(await viewRendered(view)); i++) await page.waitForTimeout(50);
    const ids = await cards('z');
    assert.ok(ids.length > 0);
    assert.ok(ids.every((id) => categoryOf.get(id) === Z), `${ids}`);
    assert.ok(shardRequests.some((r) => r.url === urlOf(Z)), 'the shard of the category was fetched');
  });

  await t.test('loadShards() on the page: the frame fetches the shard and answers with counts', async () => {
    // A cookie the frame itself holds (its partition): a fetch with credentials would carry it.
    await frameOf(page, 'engine').evaluate(() => (document.cookie = 'session=secret; SameSite=None; Secure; Partitioned; path=/'));
    assert.ok((await frameOf(page, 'engine').evaluate(() => document.cookie)).includes('secret'), 'the frame holds the cookie');
    const r = await page.evaluate((Y) => window.v.loadShards({ categories: [Y] }), Y);
    assert.deepEqual(Object.keys(r).sort(), ['added', 'items', 'shards']);
    assert.equal(r.shards, 1);
    assert.equal(r.added, shardOf(Y).items);
    assert.equal(r.items, HEAD + shardOf(Z).items + shardOf(Y).items);
    // Asked again: nothing more.
    const again = await page.evaluate((Y) => window.v.loadShards({ categories: [Y] }), Y);
    assert.deepEqual(again, { shards: 0, added: 0, items: r.items });
    const bad = await page.evaluate(() => window.v.loadShards({ categories: 'x' }).catch((e) => e.code));
    assert.equal(bad, 'invalid_argument');
    assert.deepEqual(await page.evaluate(() => window.v.errors), []);
  });

  await t.test('shards go without cookies or referrer; the page stores nothing', async () => {
    const shards = shardRequests.filter((r) => r.url.includes('/shards/'));
    assert.deepEqual(shards.map((r) => r.url).sort(), [urlOf(Z), urlOf(Y)].sort());
    for (const r of shards) {
      r.headers = await r.headers;
      assert.ok(r.headers, `${r.url}: its headers could be read`);
      assert.ok(!r.headers.referer, `${r.url}: Referer ${r.headers.referer}`);
      assert.ok(!(r.headers.cookie ?? '').includes('secret'), r.url);
    }
    assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  });

  await t.test('a reloaded engine frame is sent the categories again', async () => {
    const before = shardRequests.length;
    await frameOf(page, 'engine').evaluate(() => location.reload());
    const until = async (check, ms = 20_000) => {
      const t0 = Date.now();
      while (!check()) {
        if (Date.now() - t0 > ms) throw new Error('timed out');
        await page.waitForTimeout(50);
      }
    };
    await until(() => shardRequests.slice(before).filter((r) => r.url.includes('/shards/')).length >= 1);
    const again = shardRequests.slice(before).map((r) => r.url);
    assert.ok(again.includes(urlOf(Y)), `${again}`);
  });
});
