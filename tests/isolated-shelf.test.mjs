// <vitrine-shelf isolated> in Chromium: shelves from attributes alone (src + frame-src, one engine
// frame for the page), the page's look passed to the frame (custom properties, font and colour,
// ::part() declarations, strings per locale) and a refused theme value that would fetch, and a
// frame that resizes to its content — a height that depends on the settings and the width only;
// and a browser that refuses the cross-site frame any storage (the session then lives in memory).
//
//   node --test tests/isolated-shelf.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, preflight, launch } from './_browser.mjs';
import { isolatedSite, launchPartitioned, viewRendered, renderedViews, shownIds, frameOf } from './_isolated.mjs';

const SITE = path.join(REPO, 'target', 'test-site-isolated-shelf');
const SHOTS = path.join(REPO, 'target', 'e2e');
const FIXTURES = path.join(REPO, 'tests', 'fixtures', 'isolated');

test('<vitrine-shelf isolated>: attributes, theming, sizing', { timeout: 180_000 }, async (t) => {
  preflight();
  fs.mkdirSync(SHOTS, { recursive: true });
  const site = await isolatedSite(t, SITE, {
    extra: Object.fromEntries(['standalone.html', 'standalone.js', 'standalone.css'].map((f) => [f, fs.readFileSync(path.join(FIXTURES, f))])),
  });
  const browser = await launchPartitioned();
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  await page.goto(site.page('standalone.html'));
  await page.waitForFunction(() => window.shelvesReady === true, null, { timeout: 30_000 });
  const viewOf = async (id) => (await page.locator(`#${id} iframe`).elementHandle()).contentFrame();
  const settled = async (frame) => {
    for (let i = 0; i < 200 && !(await viewRendered(frame)); i++) await page.waitForTimeout(50);
  };
  const a = await viewOf('a');
  const b = await viewOf('b');
  await settled(a);
  await settled(b);

  await t.test('two shelves from attributes share one engine frame; each is a view frame of its own', async () => {
    assert.equal(page.frames().filter((f) => f.url().endsWith('#engine')).length, 1);
    assert.equal(page.frames().filter((f) => f.url().endsWith('#view')).length, 2);
    const [va, vb] = await page.evaluate(async () => Promise.all(['#a', '#b'].map(async (s) => (await document.querySelector(s).vitrineReady).isolated)));
    assert.equal(va, true);
    assert.equal(vb, true);
    assert.ok(frameOf(page, 'engine'));
  });

  await t.test("the page's look reaches the frame: custom properties, inherited font and colour, parts, strings", async () => {
    const look = (frame) =>
      frame.evaluate(() => {
        const shelf = document.querySelector('.real vitrine-shelf');
        const card = shelf.shadowRoot.querySelector('.card');
        const cs = getComputedStyle(card);
        return {
          bg: cs.backgroundColor,
          radius: cs.borderRadius,
          font: getComputedStyle(document.documentElement).fontFamily,
          color: getComputedStyle(shelf).color,
          add: shelf.shadowRoot.querySelector('.add')?.textContent ?? null,
          label: shelf.shadowRoot.querySelector('.list').getAttribute('aria-label'),
          lang: document.documentElement.lang,
          layout: shelf.getAttribute('layout'),
        };
      });
    const la = await look(a);
    assert.equal(la.bg, 'rgb(255, 250, 230)', '--vitrine-card-bg set on the element in the page');
    assert.match(la.font, /DejaVu Serif/);
    assert.equal(la.color, 'rgb(20, 30, 40)');
    assert.equal(la.label, 'Für Sie');
    assert.equal(la.lang, 'de');
    const lb = await look(b);
    assert.equal(lb.radius, '0px', 'parts: card');
    assert.equal(lb.bg, 'rgb(255, 255, 255)', "the other shelf keeps the default");
    assert.equal(lb.layout, 'grid');
    // add-to-cart with the page's German strings (setShelfStrings('de', …) in the page).
    await page.evaluate(() => document.querySelector('#a').setAttribute('add-to-cart', ''));
    await a.waitForFunction(() => document.querySelector('.real vitrine-shelf').shadowRoot.querySelector('.add'));
    assert.equal((await look(a)).add, 'In den Warenkorb');
    await page.screenshot({ path: path.join(SHOTS, 'isolated-themed.png'), fullPage: true });
  });

  await t.test('a theme value that would fetch is refused in the page, and nothing is fetched', async () => {
    await page.evaluate(() => {
      const a = document.querySelector('#a');
      a.style.setProperty('--vitrine-image-bg', 'url(https://attacker.example/leak.png)');
      a.refresh();
    });
    await page.waitForFunction(() => window.events.some((e) => e.type === 'vitrine:error'));
    const errors = await page.evaluate(() => window.events.filter((e) => e.type === 'vitrine:error'));
    assert.deepEqual(errors, [{ type: 'vitrine:error', shelf: 'a', code: 'invalid_argument', detail: undefined }]);
    await page.waitForTimeout(300);
    assert.deepEqual(requests.filter((u) => u.includes('attacker')), []);
  });

  await t.test('the frame resizes to its content: k, layout and width decide the height, nothing else', async () => {
    const height = (id) => page.evaluate((id) => document.querySelector(`#${id}`).shadowRoot.querySelector('iframe').getBoundingClientRect().height, id);
    const card = () => b.evaluate(() => document.querySelector('.probe vitrine-shelf').shadowRoot.querySelector('.card').getBoundingClientRect().height);
    const cardHeight = await card();
    const rowA = await height('a');
    const grid = await height('b');
    assert.ok(cardHeight > 150, `a card is ${cardHeight} px`);
    assert.ok(grid >= 2 * cardHeight && grid < 3 * cardHeight, `k=8 in a grid 1,170 px wide: two rows (${grid} px)`);
    await page.setViewportSize({ width: 600, height: 900 });
    await page.waitForFunction((h) => document.querySelector('#b').shadowRoot.querySelector('iframe').getBoundingClientRect().height > h, grid, { timeout: 5_000 });
    assert.ok((await height('b')) >= 3 * cardHeight, 'narrower: more rows, a taller frame');
    assert.equal(await height('a'), rowA, 'a row does not grow with a narrower page');
    await page.evaluate(() => document.querySelector('#b').setAttribute('layout', 'row'));
    await page.waitForFunction((h) => document.querySelector('#b').shadowRoot.querySelector('iframe').getBoundingClientRect().height < h, 1.5 * cardHeight, { timeout: 5_000 });
    // The real cards are laid out in the probe's height, whatever they show.
    const fits = await b.evaluate(() => {
      const real = document.querySelector('.real');
      return { real: real.getBoundingClientRect().height, probe: document.querySelector('.probe').getBoundingClientRect().height, doc: document.documentElement.scrollHeight };
    });
    assert.equal(fits.real, Math.ceil(fits.probe));
    assert.ok(fits.doc <= Math.ceil(fits.probe) + 1);
  });
});

test('a browser that gives the frame no storage: the shelf still works, the session lasts the page', { timeout: 120_000 }, async (t) => {
  preflight();
  const site = await isolatedSite(t, `${SITE}-nostorage`, {
    extra: Object.fromEntries(['store.html', 'store.js'].map((f) => [f, fs.readFileSync(path.join(FIXTURES, f))])),
  });
  fs.writeFileSync(`${SITE}-nostorage/hostile.js`, '');
  // Playwright's own launch turns storage partitioning off: Chromium then refuses a cross-site
  // frame its storage altogether (as browsers that block third-party storage do).
  const browser = await launch();
  t.after(() => browser.close());
  const page = await (await browser.newContext()).newPage();
  await page.goto(site.page('store.html', { epsilon: 'Infinity' }));
  await page.waitForFunction(() => window.storeReady === true, null, { timeout: 30_000 });
  const denied = await frameOf(page, 'engine').evaluate(() => {
    try {
      return localStorage.length >= 0 && 'allowed';
    } catch (err) {
      return err.name;
    }
  });
  assert.equal(denied, 'SecurityError', 'this browser gives the frame no storage');
  const [view] = await renderedViews(page);
  const before = await shownIds(view);
  await page.evaluate(async () => {
    for (const item of ['p0100', 'p0101', 'p0102']) await window.store.v.track({ type: 'view', item });
    await window.store.v.flush();
  });
  await page.waitForTimeout(300);
  const [after] = await renderedViews(page);
  assert.notDeepEqual(await shownIds(after), before, 'the shelf follows the shopper in memory');
  assert.deepEqual(await page.evaluate(() => [window.store.loadError, window.store.errors, window.store.shelfErrors]), [null, [], []], 'and the page is told nothing about storage');
});
