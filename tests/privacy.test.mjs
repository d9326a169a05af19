// The demo store's privacy promises, end to end in headless Chromium:
//  - with consent the session survives a reload; before a choice (pending) the visit survives a
//    reload in the same tab only; after 'denied' nothing does;
//  - "Forget me" erases memory and storage; Global Privacy Control is honoured;
//  - network audit: after load, every request is a static asset, the bundle or the catalog, and
//    none carries session data (URLs, headers, bodies);
//  - the store works under a strict Content-Security-Policy, on the main thread and in a worker.
//
//   node --test tests/privacy.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { WWW, STRICT_CSP, preflight, launch, serve, instrument, ready, viewProducts } from './_browser.mjs';

const CATALOG = JSON.parse(fs.readFileSync(path.join(WWW, 'data', 'catalog.json'), 'utf8'));
const KEY = 'vitrine:session';

async function open(context, url) {
  const page = await context.newPage();
  const log = instrument(page);
  await page.goto(url);
  await ready(page);
  return { page, log };
}

const remembered = (page) => page.$$eval('#session-list li', (els) => els.map((e) => e.dataset.id));
const stored = (page) => page.evaluate((k) => localStorage.getItem(k), KEY);

test('the demo store keeps its privacy promises', { timeout: 170_000 }, async (t) => {
  preflight();
  const server = await serve(t);
  const browser = await launch();
  t.after(() => browser.close());
  const ids = CATALOG.products.filter((p) => p.category === 'tents').slice(0, 3).map((p) => p.id);

  await t.test('with consent the session survives a reload; "Forget me" erases it', async () => {
    const context = await browser.newContext();
    const { page, log } = await open(context, server.url);
    assert.equal(await page.locator('#consent').isVisible(), true, 'the consent banner asks');
    await page.locator('#consent-grant').click();
    await page.waitForFunction(() => window.vitrine.storageMode === 'persistent');
    await viewProducts(page, ids);
    await page.evaluate(() => window.vitrine.flush());
    assert.ok(await stored(page), 'the session is in localStorage');
    const spent = () =>
      page.evaluate(async () => (window.vitrine.supports('privacyStatus') ? (await window.vitrine.privacyStatus()).budget?.spentEpsilon : null));
    const spentBefore = await spent();

    await page.waitForLoadState('networkidle'); // a reload would abort image loads in flight
    await page.reload();
    await ready(page);
    assert.equal(await page.locator('#consent').isVisible(), false, 'the choice is remembered');
    assert.deepEqual(await remembered(page), [...ids].reverse(), 'the panel lists the restored events');
    const restored = await page.evaluate(async () => JSON.parse(await window.vitrine.exportState()).events.map((e) => e.item));
    assert.deepEqual(restored, ids, 'the engine has the restored session');
    if (spentBefore != null) {
      assert.ok((await spent()) >= spentBefore, `the privacy accountant survived the reload (ε spent ${spentBefore} -> ${await spent()})`);
    }

    await page.locator('#forget').click();
    await page.waitForFunction(() => document.querySelectorAll('#session-list li').length === 0);
    assert.equal(await stored(page), null, 'Forget me removed the stored session');
    await page.waitForLoadState('networkidle'); // a reload would abort image loads in flight
    await page.reload();
    await ready(page);
    assert.deepEqual(await remembered(page), [], 'nothing comes back after a reload');
    assert.deepEqual(log.errors, []);
    await context.close();
  });

  await t.test('before the shopper decides (pending) the visit survives a reload in this tab, and only there', async () => {
    const context = await browser.newContext();
    const { page, log } = await open(context, server.url);
    assert.equal(await page.evaluate(() => window.vitrine.storageMode), 'visit');
    await viewProducts(page, ids);
    await page.evaluate(() => window.vitrine.flush());
    assert.equal(await stored(page), null, 'nothing in localStorage');
    assert.ok(await page.evaluate((k) => sessionStorage.getItem(k), KEY), "the visit is in this tab's sessionStorage");
    await page.waitForLoadState('networkidle'); // a reload would abort image loads in flight
    await page.reload();
    await ready(page);
    assert.deepEqual(await remembered(page), [...ids].reverse(), 'the reloaded page continues the visit');
    const other = await open(context, server.url);
    assert.deepEqual(await remembered(other.page), [], 'another tab starts empty');
    assert.deepEqual([...log.errors, ...other.log.errors], []);
    await context.close();
  });

  await t.test('without consent (denied) nothing survives a reload', async () => {
    const context = await browser.newContext();
    const { page, log } = await open(context, server.url);
    await page.locator('#consent-deny').click();
    await viewProducts(page, ids);
    assert.deepEqual(await remembered(page), [...ids].reverse(), 'personalization works in memory');
    await page.evaluate(() => window.vitrine.flush());
    assert.equal(await stored(page), null, 'nothing is stored');
    assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), KEY), null, 'not even for the visit');
    await page.waitForLoadState('networkidle'); // a reload would abort image loads in flight
    await page.reload();
    await ready(page);
    assert.deepEqual(await remembered(page), []);
    assert.equal(await page.evaluate(() => window.vitrine.storageMode), 'memory');
    assert.deepEqual(log.errors, []);
    await context.close();
  });

  await t.test('Global Privacy Control: no banner, nothing stored even with a stored "granted" choice', async () => {
    const context = await browser.newContext();
    await context.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true });
    });
    const page0 = await context.newPage();
    await page0.goto(server.url);
    await page0.evaluate(() => localStorage.setItem('vitrine-demo:consent', 'granted'));
    await page0.close();
    const { page, log } = await open(context, server.url);
    assert.equal(await page.locator('#consent').isVisible(), false);
    assert.match(await page.textContent('#storage-mode'), /Global Privacy Control/);
    await viewProducts(page, ids);
    await page.evaluate(() => window.vitrine.flush());
    assert.equal(await stored(page), null, 'nothing is stored under GPC');
    assert.deepEqual(await remembered(page), [...ids].reverse(), 'in-memory personalization still works');
    await page.waitForLoadState('networkidle'); // a reload would abort image loads in flight
    await page.reload();
    await ready(page);
    assert.deepEqual(await remembered(page), []);
    assert.deepEqual(log.errors, []);
    await context.close();
  });

  await t.test('network audit: after load only static assets, the bundle and the catalog; no session data', async (st) => {
    const context = await browser.newContext();
    const { page, log } = await open(context, server.url);
    const origin = new URL(server.url).origin;
    const afterLoad = log.requests.length;
    // Everything a shopper does: consent, browse, categories, cart, checkout, transparency, forget.
    await page.locator('#consent-grant').click();
    await viewProducts(page, ids);
    await page.locator(`#cat-nav a[data-cat="tents"]`).click();
    await page.waitForSelector('#view-category:not([hidden]) #cat-grid .card');
    await page.locator('#cat-grid .card .add').first().click();
    await page.locator('.cart-link').click();
    await page.waitForSelector('#view-cart:not([hidden]) .cart-line');
    await page.locator('#checkout').click();
    await page.waitForSelector('#order-done:not([hidden])');
    await page.locator('#privacy-link').click();
    await page.waitForSelector('#view-privacy:not([hidden]) #rank-after li');
    const state = await page.evaluate(() => window.vitrine.exportState());
    await page.locator('#forget').click();
    await page.waitForLoadState('networkidle');

    const all = log.requests;
    const after = all.slice(afterLoad);
    assert.ok(after.length > 0, 'the audit saw requests after load (images, the baseline bundle)');
    const allowed = (p) =>
      p === '/data/store.vtr' ||
      p === '/data/catalog.json' ||
      /^\/data\/img\/p\d{4}\.svg$/.test(p) ||
      /^\/(lib|pkg)\/[\w./-]+\.(js|wasm)$/.test(p) ||
      ['/', '/index.html', '/app.js', '/demo-experiment.js', '/style.css'].includes(p);
    const events = JSON.parse(state).events;
    assert.ok(events.length >= 5, 'the session had data to leak');
    const secrets = ['add_to_cart', 'purchase', 'vitrine-session', ...events.map((e) => String(e.ts))];
    for (const req of all) {
      const url = new URL(req.url());
      assert.equal(url.origin, origin, `${req.url()} stays on the local server`);
      assert.ok(allowed(url.pathname), `${url.pathname} is a static asset, the bundle or the catalog`);
      assert.equal(req.method(), 'GET', `${req.url()} is a GET`);
      assert.equal(url.search, '', `${req.url()} has no query string`);
      assert.equal(req.postData(), null, `${req.url()} has no body`);
      const headers = await req.allHeaders();
      assert.equal(headers.cookie, undefined, `${req.url()} sends no cookie`);
      const text = `${req.url()} ${JSON.stringify(headers)}`;
      for (const s of secrets) assert.ok(!text.includes(s), `${req.url()} does not carry "${s}"`);
      const standard = /^(accept|accept-encoding|accept-language|user-agent|referer|origin|sec-[\w-]+|connection|host|cache-control|pragma|upgrade-insecure-requests|range|if-[\w-]+)$/;
      const odd = Object.keys(headers).filter((h) => !standard.test(h) && !h.startsWith(':'));
      assert.deepEqual(odd, [], `${req.url()} carries only standard headers`);
    }
    // The bundle and catalog requests are the same bytes whatever the session: no per-shopper URL.
    const paths = after.map((r) => new URL(r.url()).pathname);
    st.diagnostic(`${all.length} requests (${after.length} after load), kinds: ${[...new Set(paths.map((p) => p.replace(/p\d{4}/, 'pNNNN')))].join(', ')}`);
    assert.deepEqual(log.errors, []);
    await context.close();
  });
});

test('the demo store works under a strict Content-Security-Policy (main thread and worker)', { timeout: 90_000 }, async (t) => {
  preflight();
  const server = await serve(t, { headers: { 'Content-Security-Policy': STRICT_CSP } });
  const browser = await launch();
  t.after(() => browser.close());
  for (const variant of ['', '?worker']) {
    await t.test(`CSP ${STRICT_CSP.split(';')[1].trim()}${variant ? ' (worker)' : ''}`, async () => {
      const context = await browser.newContext();
      await context.addInitScript(() => {
        window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
      });
      const page = await context.newPage();
      const log = instrument(page);
      const res = await page.goto(server.url + variant);
      assert.match(res.headers()['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval'/);
      const scriptSrc = STRICT_CSP.split(';').map((d) => d.trim().split(/\s+/)).find((d) => d[0] === 'script-src');
      assert.deepEqual(scriptSrc, ['script-src', "'self'", "'wasm-unsafe-eval'"], 'no unsafe-eval, no unsafe-inline');
      await ready(page);
      assert.equal(await page.evaluate(() => window.vitrine.mode), variant ? 'worker' : 'main');
      assert.equal(await page.locator('#shelf .card').count(), 12);
      const before = await page.evaluate(() => window.vitrineShelfRenders);
      await page.evaluate(() => (location.hash = '#/p/p0101'));
      await page.waitForFunction((n) => window.vitrineShelfRenders > n, before);
      assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
      assert.deepEqual(log.errors, []);
      await context.close();
    });
  }
});
