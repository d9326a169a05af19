// Isolated mode with a bundle that carries its catalog (issue 16) and the shelf's scenario modes
// (issue 17): <vitrine-shelf isolated> without a catalog URL shows the bundle's own records (the
// view frame gets them from the engine frame), and the trending, bought-together, also-bought and
// similar shelves rank in the frame exactly as the same engine does outside it. A view frame
// refuses a mode the protocol does not define.
//
//   node --test tests/isolated-modes.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, preflight } from './_browser.mjs';
import { isolatedSite, launchPartitioned, viewRendered } from './_isolated.mjs';
import { trainWithCatalog } from './_catalog.mjs';

const SITE = path.join(REPO, 'target', 'test-site-isolated-modes');
const ITEM = 'p0046';
const CART = ['p0046', 'p0076'];

const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Isolated shelves of every mode</title>
  <link rel="icon" href="data:,">
  <script type="module" src="modes.js"></script>
</head>
<body>
  <vitrine-shelf id="home" k="6"></vitrine-shelf>
  <vitrine-shelf id="trending" mode="trending" k="6"></vitrine-shelf>
  <vitrine-shelf id="fbt" mode="bought-together" k="6"></vitrine-shelf>
  <vitrine-shelf id="also" mode="also-bought" item="${ITEM}" k="6"></vitrine-shelf>
  <vitrine-shelf id="similar" mode="similar" item="${ITEM}" k="6"></vitrine-shelf>
</body>
</html>
`;

// One isolated engine for every shelf; no catalog anywhere on the page. The cart is a property
// (an array) on the bought-together shelf. Also a non-isolated engine on the same bundle, to
// compare with (its answers to these modes read no history: they are deterministic).
const PAGE_JS = `
import { Vitrine } from './lib/index.js';
import { defineVitrineShelf } from './lib/shelf.js';

defineVitrineShelf();
const frame = new URLSearchParams(location.search).get('frame');
window.shelfErrors = [];
async function main() {
  const v = await Vitrine.load(new URL('/data/cat.vtr', frame).href, { isolation: { frame }, consent: 'granted' });
  const shelves = [...document.querySelectorAll('vitrine-shelf')];
  for (const s of shelves) {
    s.addEventListener('vitrine:error', (e) => window.shelfErrors.push([s.id, e.detail.error?.code ?? e.detail.message]));
    if (s.id === 'fbt') s.similarTo = ${JSON.stringify(CART)};
    s.vitrine = v;
  }
  window.local = await Vitrine.load('/data/cat.vtr', { storage: false });
  await Promise.all(shelves.map((s) => s.ready));
  window.ready = true;
}
main().catch((e) => (window.failed = String(e?.message ?? e)));
`;

test('isolated shelves: the bundle\'s catalog and every mode', { timeout: 180_000 }, async (t) => {
  preflight();
  const site = await isolatedSite(t, SITE, { extra: { 'modes.html': PAGE_HTML, 'modes.js': PAGE_JS } });
  trainWithCatalog(SITE, 'cat.vtr');
  const records = fs
    .readFileSync(path.join(SITE, 'data', 'catalog-v1.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const titles = new Map(records.map((r) => [r.id, r.title]));

  const browser = await launchPartitioned();
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1300, height: 2400 } });
  const page = await context.newPage();
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  const pageErrors = [];
  context.on('weberror', (e) => pageErrors.push(e.error().message));
  await page.goto(site.page('modes.html'));
  await page.waitForFunction(() => window.ready === true || window.failed, null, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => window.failed), undefined);

  const viewOf = async (id) => (await page.locator(`#${id} iframe`).elementHandle()).contentFrame();
  const shown = async (id) => {
    const view = await viewOf(id);
    for (let i = 0; i < 200 && !(await viewRendered(view)); i++) await page.waitForTimeout(50);
    return view.evaluate(() =>
      [...document.querySelector('.real vitrine-shelf').shadowRoot.querySelectorAll('.card')].map((c) => ({ id: c.dataset.id, text: c.textContent })),
    );
  };

  await t.test('without a catalog URL the frame shows the records the bundle carries', async () => {
    const home = await shown('home');
    assert.equal(home.length, 6);
    for (const card of home) assert.ok(card.text.includes(titles.get(card.id)), `${card.id}: its title from the bundle (${card.text})`);
    assert.ok(!requests.some((u) => u.includes('catalog.json')), 'no catalog file is fetched');
  });

  await t.test('trending, bought-together (a cart), also-bought and similar rank in the frame as the engine does', async () => {
    const expected = await page.evaluate(
      async ([item, cart]) => {
        const ids = (l) => l.map((x) => x.id);
        const v = window.local;
        return {
          trending: ids(await v.trending({ k: 6 })),
          fbt: ids(await v.frequentlyBoughtTogether(cart, { k: 6 })),
          also: ids(await v.alsoBought(item, { k: 6 })),
          similar: ids(await v.similar(item, { k: 6 })),
        };
      },
      [ITEM, CART],
    );
    for (const [id, want] of Object.entries(expected)) {
      assert.equal(want.length, 6, `${id}: the engine has six`);
      const cards = await shown(id);
      assert.deepEqual(cards.map((c) => c.id), want, `${id} shelf`);
      for (const c of cards) assert.ok(c.text.includes(titles.get(c.id)));
    }
    assert.ok(!expected.fbt.some((x) => CART.includes(x)), 'the cart is left out');
    assert.notDeepEqual(expected.trending, expected.similar, 'the modes differ');
  });

  await t.test('a mode or an item the protocol does not define is refused; the shelf keeps working', async () => {
    // A hostile or buggy page script posts settings straight to a view frame.
    await page.evaluate(() => {
      const frame = document.querySelector('#trending').shadowRoot.querySelector('iframe');
      frame.contentWindow.postMessage({ vitrine: 1, kind: 'settings', settings: { mode: 'exportState' } }, '*');
      frame.contentWindow.postMessage({ vitrine: 1, kind: 'settings', settings: { mode: 'trending', item: ['p1\u0000'] } }, '*');
    });
    await page.waitForFunction(() => window.shelfErrors.filter(([s]) => s === 'trending').length >= 2, null, { timeout: 5_000 });
    assert.deepEqual(
      await page.evaluate(() => window.shelfErrors),
      [
        ['trending', 'bad_schema'],
        ['trending', 'bad_schema'],
      ],
    );
    assert.equal((await shown('trending')).length, 6, 'the shelf keeps working');
    assert.deepEqual(pageErrors, []);
  });
});
