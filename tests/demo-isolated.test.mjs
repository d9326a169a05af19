// The demo store's isolated switch, as a person would try it: www/ served twice (the store on
// 127.0.0.1, its frame origin on localhost with the CSP scripts/demo sends), ?isolated: the shelves
// are frames from the second origin, follow what the shopper does on the page, open a product on
// click, and "Forget me" reaches the frame. Also: the demo's www/frame.html is the package's
// frame.html with only its configuration (and script path) changed. Screenshots: target/e2e/.
//
//   node --test tests/demo-isolated.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, WWW, preflight, serve, instrument, ready } from './_browser.mjs';
import { launchPartitioned, viewRendered, shownIds, FRAME_HTML } from './_isolated.mjs';
import { startServer } from '../scripts/serve.mjs';

const SHOTS = path.join(REPO, 'target', 'e2e');
const CATALOG = JSON.parse(fs.readFileSync(path.join(WWW, 'data', 'catalog.json'), 'utf8'));
const categoryOf = new Map(CATALOG.products.map((p) => [p.id, p.category]));

test("the demo's frame.html is the package's, with only the configuration and the script path changed", () => {
  const shipped = fs.readFileSync(FRAME_HTML, 'utf8').split('\n');
  const demo = fs.readFileSync(path.join(WWW, 'frame.html'), 'utf8').split('\n');
  // The demo's note sits between the comment's first line and the shipped comment's first line.
  const from = demo.indexOf('<!--') + 1;
  const to = demo.findIndex((l) => l.startsWith("  Vitrine's isolated frame"));
  assert.ok(from > 0 && to > from, 'the demo copy starts with its note');
  const a = shipped;
  const b = [...demo.slice(0, from), ...demo.slice(to)];
  assert.equal(a.length, b.length, 'same lines apart from the demo note');
  const differing = a.map((l, i) => [l, b[i]]).filter(([x, y]) => x !== y);
  assert.deepEqual(differing, [
    ['    { "parents": [] }', '    { "parents": ["http://127.0.0.1:*", "http://localhost:*"] }'],
    ['  <script type="module" src="./frame.js"></script>', '  <script type="module" src="lib/isolated/frame.js"></script>'],
  ]);
});

test('demo store, isolated mode: shelves in frames of a second origin', { timeout: 180_000 }, async (t) => {
  preflight();
  fs.mkdirSync(SHOTS, { recursive: true });
  const store = await serve(t);
  const storeOrigin = new URL(store.url).origin;
  const csp =
    `frame-ancestors ${storeOrigin}; default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; ` +
    `img-src 'self' ${storeOrigin} data:; connect-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'none'`;
  const frames = await startServer({ root: WWW, port: 0, host: 'localhost', headers: { 'Content-Security-Policy': csp } });
  t.after(() => frames.close());
  const frameUrl = `http://localhost:${frames.port}/frame.html`;

  const browser = await launchPartitioned();
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const log = instrument(page);

  const homeFrame = async () => (await page.locator('#shelf iframe').elementHandle()).contentFrame();
  const settled = async (frame) => {
    for (let i = 0; i < 200 && !(await viewRendered(frame)); i++) await page.waitForTimeout(50);
    await page.waitForTimeout(300); // a re-render after the last event
    for (let i = 0; i < 200 && !(await viewRendered(frame)); i++) await page.waitForTimeout(50);
  };

  await t.test('the switch is offered in the ordinary demo', async () => {
    const plain = await context.newPage();
    await plain.goto(store.url);
    await ready(plain);
    const link = plain.locator('#isolation-switch');
    assert.equal(await link.textContent(), 'Try isolated mode');
    assert.match(await link.getAttribute('href'), /^\?isolated(#|$)/);
    await plain.close();
  });

  let initial;
  await t.test('?isolated: the home shelf is a frame from the second origin; the panel says so', async () => {
    // The explicit non-private mode makes the rankings deterministic for the assertions below.
    await page.goto(`${store.url}?${new URLSearchParams({ frame: frameUrl, epsilon: 'Infinity' })}&isolated`);
    await ready(page);
    assert.match(await page.textContent('#isolation'), /On engine, history and shelves in frames from http:\/\/localhost:\d+/);
    assert.match(await page.textContent('#epsilon'), /inside the frame/);
    assert.match(await page.textContent('#engine-info'), /isolated frame/);
    const home = await homeFrame();
    assert.equal(new URL(home.url()).origin, `http://localhost:${frames.port}`);
    await settled(home);
    initial = await shownIds(home);
    assert.equal(initial.length, 12);
    await page.screenshot({ path: path.join(SHOTS, 'demo-isolated-home.png') });
  });

  await t.test('the shelf in the frame follows what the shopper does on the page', async () => {
    const tents = CATALOG.products.filter((p) => p.category === 'tents').map((p) => p.id).slice(0, 4);
    for (const id of tents) {
      await page.evaluate((id) => (location.hash = `#/p/${id}`), id);
      await page.waitForFunction((id) => document.querySelector('#prod-name')?.textContent && location.hash.endsWith(id), id);
      await page.waitForTimeout(150);
    }
    await page.waitForFunction(() => document.querySelectorAll('#session-list li').length === 4); // the panel lists what this page tracked
    await page.locator('.brand').click();
    const home = await homeFrame();
    await settled(home);
    const now = await shownIds(home);
    assert.notDeepEqual(now, initial);
    const tentsShown = now.filter((id) => categoryOf.get(id) === 'tents').length;
    assert.ok(tentsShown >= 4, `tents moved onto the shelf (${tentsShown} of 12)`);
    await page.screenshot({ path: path.join(SHOTS, 'demo-isolated-personalized.png') });
  });

  await t.test('a click on a card in the frame opens the product on the page', async () => {
    const home = await homeFrame();
    const [id] = await shownIds(home);
    await home.locator(`.real vitrine-shelf .card[data-id="${id}"] .link`).click();
    await page.waitForFunction((id) => location.hash === `#/p/${id}`, id);
    await page.waitForSelector('#view-product:not([hidden])');
    assert.equal(await page.textContent('#prod-name'), CATALOG.products.find((p) => p.id === id).name);
    // The product page's similar-items shelf is a frame too.
    const similar = await (await page.locator('#similar-shelf iframe').elementHandle()).contentFrame();
    await settled(similar);
    assert.ok((await shownIds(similar)).length > 0);
    await page.screenshot({ path: path.join(SHOTS, 'demo-isolated-product.png') });
  });

  await t.test('"Forget me" reaches the frame: the shelf is the popularity shelf again', async () => {
    await page.locator('.brand').click();
    await page.locator('#forget').click();
    await page.waitForFunction(() => document.querySelectorAll('#session-list li').length === 0);
    const home = await homeFrame();
    await settled(home);
    assert.deepEqual(await shownIds(home), initial);
  });

  await t.test('nothing failed', () => {
    assert.deepEqual(log.errors, []);
  });
});
