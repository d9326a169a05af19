// Isolated mode in Chromium: bad messages and wrong origins are refused with error codes while the
// shelf keeps working; consent and forget() reach the frame's storage from the page; the frame's
// configuration and headers decide which pages may use it (CSP frame-ancestors, "parents"); a
// cross-origin-isolated store page (COEP) can embed it when the frame sends COEP and CORP.
//
//   page  http://127.0.0.1:P   (origin A: the store)      frame  http://localhost:P2 (origin B, deployment CSP)
//   other http://127.0.0.1:P3  (origin C: not the store)  bare   http://localhost:P4 (origin B', no CSP header)
//
//   node --test tests/isolated-messages.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, preflight } from './_browser.mjs';
import { isolatedSite, launchPartitioned, renderedViews, shownIds, frameOf, frameCsp, FRAME_HTML } from './_isolated.mjs';
import { startServer } from '../scripts/serve.mjs';

const SITE = path.join(REPO, 'target', 'test-site-isolated-messages');
const FIXTURES = path.join(REPO, 'tests', 'fixtures', 'isolated');
const fixtures = () => ({
  ...Object.fromEntries(['store.html', 'store.js', 'sender.html', 'sender.js'].map((f) => [f, fs.readFileSync(path.join(FIXTURES, f))])),
  'hostile.js': 'window.hostile = null; // not used here\n',
  'lib/isolated/frame-shipped.html': fs.readFileSync(FRAME_HTML), // the file exactly as the package ships it
});

async function loaded(page) {
  await page.waitForFunction(() => window.storeLoaded === true, null, { timeout: 30_000 });
  return page.evaluate(() => window.store.loadError);
}

/** Posts messages built in the page (so that Dates, Maps, buffers and ports are real) to a frame. */
function post(page, role, build) {
  return page.evaluate(
    ([role, build]) => {
      const frame = role === 'engine' ? document.querySelector('body > iframe') : document.querySelector('vitrine-shelf').shadowRoot.querySelector('iframe');
      const send = (msg, transfer) => frame.contentWindow.postMessage(msg, '*', transfer ?? []);
      // eslint-disable-next-line no-new-func
      new Function('send', build)(send);
    },
    [role, build],
  );
}

/** Waits until the page has seen `n` error codes from `role`'s frame, and returns them. */
async function codes(page, role, n, timeout = 5_000) {
  const expr = role === 'engine' ? 'window.store.errors' : 'window.store.shelfErrors';
  await page.waitForFunction(([expr, n]) => eval(expr).length >= n, [expr, n], { timeout }).catch(() => {});
  return page.evaluate((expr) => [...eval(expr)], expr);
}

test('isolated mode: bad messages, wrong origins, consent and forget, headers', { timeout: 300_000 }, async (t) => {
  preflight();
  const site = await isolatedSite(t, SITE, { extra: fixtures() });
  const other = await startServer({ root: SITE, port: 0 });
  t.after(() => other.close());
  const otherOrigin = `http://127.0.0.1:${other.port}`;
  const bare = await startServer({ root: SITE, port: 0, host: 'localhost' });
  t.after(() => bare.close());
  const bareFrame = `http://localhost:${bare.port}/lib/isolated/frame.html`;

  const browser = await launchPartitioned();
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  context.on('weberror', (e) => errors.push(e.error().message));

  const page = await context.newPage();
  await page.goto(site.page('store.html'));
  assert.equal(await loaded(page), null);
  await page.waitForFunction(() => window.storeReady === true);
  let [view] = await renderedViews(page);
  const first = await shownIds(view);
  assert.equal(first.length, 6);

  await t.test('wrong schema: each malformed message is refused with its code', async () => {
    await post(
      page,
      'engine',
      `
      send('hello');
      send({ vitrine: 1, kind: 'track' });
      send({ vitrine: 1, kind: 'track', event: { type: 'view', item: 'p0002' }, admin: true });
      send({ vitrine: 1, kind: 'exportState' });
      send({ vitrine: 2, kind: 'track', event: { type: 'view', item: 'p0002' } });
      send({ vitrine: 1, kind: 'track', event: { type: 'view', item: 'p0002', ts: new Date() } });
      send({ vitrine: 1, kind: 'track', event: new Map([['type', 'view']]) });
      send({ vitrine: 1, kind: 'track', event: { type: 'view', item: 'p0002' } }, [new MessageChannel().port1]);
      send({ vitrine: 1, kind: 'init', channel: 'c'.repeat(32), bundle: '/data/store.vtr', consent: 'granted' });
      `,
    );
    const got = await codes(page, 'engine', 9);
    assert.deepEqual(got, ['bad_schema', 'bad_schema', 'unknown_field', 'unknown_kind', 'bad_version', 'bad_schema', 'bad_schema', 'bad_schema', 'already_initialized']);
    await post(page, 'view', `send({ vitrine: 1, kind: 'track', event: { type: 'view', item: 'p0002' } }); send({ vitrine: 1, kind: 'settings', settings: { k: 2, theme: { '--vitrine-card-bg': 'url(https://attacker.example/x)' } } });`);
    assert.deepEqual(await codes(page, 'view', 2), ['unknown_kind', 'bad_schema']);
    // A product the bundle does not know yet is normal input (issue 16): the engine keeps it
    // pending, no error. A valid message the engine refuses: an unknown event type, from the
    // page's own API (with its ref).
    await page.evaluate(async () => {
      await window.store.v.track({ type: 'view', item: 'no-such-item' });
      await window.store.v.track({ type: 'levitate', item: 'p0002' });
    });
    assert.deepEqual((await codes(page, 'engine', 10)).slice(-2), ['already_initialized', 'unknown_event_type']);
    // The page's side refuses what the protocol would refuse, before posting.
    const local = await page.evaluate(async () => {
      const out = [];
      for (const ev of [{ type: 'view', item: 'p1', extra: 1 }, { type: 'view', item: 'x'.repeat(1_000_000) }, { type: 'view', item: 'p1', ts: new Date() }]) {
        try {
          await window.store.v.track(ev);
          out.push('posted');
        } catch (err) {
          out.push(err.code);
        }
      }
      return out;
    });
    assert.deepEqual(local, ['invalid_event', 'invalid_event', 'invalid_event']);
  });

  await t.test('1 MB payloads are refused as too_large', async () => {
    const before = (await codes(page, 'engine', 0)).length;
    await post(
      page,
      'engine',
      `
      send({ vitrine: 1, kind: 'track', event: { type: 'view', item: 'x'.repeat(1 << 20) } });
      send({ vitrine: 1, kind: 'track', event: { type: 'view', item: 'p0002', list: new Array(1 << 20).fill(7) } });
      let deep = {}; for (let i = 0; i < 1000; i++) deep = { deep };
      send({ vitrine: 1, kind: 'track', event: deep });
      send({ vitrine: 1, kind: 'track', event: Object.fromEntries(Array.from({ length: 100000 }, (_, i) => ['k' + i, i])) });
      send('x'.repeat(1 << 20));
      `,
    );
    const got = (await codes(page, 'engine', before + 5)).slice(before);
    assert.deepEqual(got, ['too_large', 'too_large', 'too_large', 'too_large', 'too_large']);
  });

  await t.test('a flood of 10,000 messages is cut off with rate_limited; the shelf keeps working', async () => {
    const before = (await codes(page, 'engine', 0)).length;
    const viewBefore = (await codes(page, 'view', 0)).length;
    await post(page, 'engine', `for (let i = 0; i < 10000; i++) send(i % 2 ? { vitrine: 1, kind: 'track', event: { type: 'view', item: 'p0003' } } : { vitrine: 1, kind: 'nonsense' + i });`);
    await post(page, 'view', `for (let i = 0; i < 10000; i++) send({ vitrine: 1, kind: 'settings', settings: { k: 1 + (i % 4) } });`);
    await page.waitForTimeout(1_500);
    const got = (await codes(page, 'engine', 0)).slice(before);
    assert.ok(got.includes('rate_limited'), 'the flood was cut off');
    assert.ok(got.length <= 100, `error reports are rate-limited too (${got.length})`);
    assert.ok((await codes(page, 'view', 0)).slice(viewBefore).includes('rate_limited'));
    // After the flood: the page's own messages are taken, the view follows the settings, the engine tracks.
    await page.waitForTimeout(2_500);
    await page.evaluate(async () => {
      const shelf = document.querySelector('vitrine-shelf');
      shelf.setAttribute('k', '5');
      for (const item of ['p0201', 'p0202', 'p0203']) await window.store.v.track({ type: 'view', item });
      await window.store.v.flush();
    });
    [view] = await renderedViews(page);
    await view.waitForFunction(() => document.querySelector('.real vitrine-shelf').shadowRoot.querySelectorAll('.card').length === 5);
    // The session's events (the pending view of no-such-item is stored after them).
    const state = await frameOf(page, 'engine').evaluate(() =>
      JSON.parse(JSON.parse(localStorage.getItem('vitrine:session')).state).events.map((e) => e.item).filter((id) => id !== 'no-such-item'),
    );
    assert.deepEqual(state.slice(-3), ['p0201', 'p0202', 'p0203'], 'the engine has the events sent after the flood');
  });

  await t.test('wrong origin: a frame of origin C inside the page is refused; its forged click is ignored', async () => {
    const before = (await codes(page, 'engine', 0)).length;
    const viewBefore = (await codes(page, 'view', 0)).length;
    await page.evaluate((src) => {
      const f = document.createElement('iframe');
      f.src = src;
      document.body.append(f);
    }, `${otherOrigin}/sender.html`);
    await page.waitForTimeout(1_000);
    assert.deepEqual((await codes(page, 'engine', before + 3)).slice(before), ['bad_origin', 'bad_origin', 'bad_origin']);
    // The view frames live in the shelf's shadow root, which keeps them out of window.frames: C
    // reached only the engine frame (and itself), so the views saw nothing to refuse.
    const sender = page.frames().find((f) => f.url().startsWith(otherOrigin));
    assert.equal(await sender.evaluate(() => parent.frames.length), 2);
    assert.deepEqual((await codes(page, 'view', 0)).slice(viewBefore), []);
    assert.deepEqual(await page.evaluate(() => window.store.clicks), [], 'a message pretending to be the frame is not a click');
    // The page's own window pretending to be the frame: ignored too.
    await page.evaluate(() => window.postMessage({ vitrine: 1, kind: 'choose', action: 'open', id: 'p0001' }, '*'));
    await page.waitForTimeout(200);
    assert.deepEqual(await page.evaluate(() => window.store.clicks), []);
    [view] = await renderedViews(page);
    assert.equal((await shownIds(view)).length, 5, "C's settings {k: 2} were not applied");
  });

  await t.test('the engine refuses a bundle, and the view a catalog, from an origin it does not fetch from', async () => {
    const p = await context.newPage();
    await p.goto(site.page('store.html', { bundle: `${otherOrigin}/data/store.vtr` }));
    assert.equal((await loaded(p))?.code, 'source_not_allowed');
    await p.goto(site.page('store.html', { catalog: `${otherOrigin}/data/catalog.json` }));
    assert.equal(await loaded(p), null);
    await p.waitForFunction(() => window.store.shelfErrors.length > 0);
    assert.deepEqual(await p.evaluate(() => window.store.shelfErrors), ['source_not_allowed']);
    await p.close();
  });

  await t.test('a page the frame does not list: refused by frame-ancestors, by "parents", and by the shipped default', async () => {
    const p = await context.newPage();
    // Origin C with the deployment's CSP on the frame: the browser does not even load it.
    await p.goto(`${otherOrigin}/store.html?${new URLSearchParams({ frame: site.frameUrl, timeout: 4000 })}`);
    assert.equal((await loaded(p))?.code, 'frame_timeout');
    // Without the header, the frame's own check ("parents" lists only A).
    await p.goto(`${otherOrigin}/store.html?${new URLSearchParams({ frame: bareFrame, timeout: 10000 })}`);
    assert.equal((await loaded(p))?.code, 'origin_not_allowed');
    // frame.html exactly as shipped lists no parent: it refuses every page.
    await p.goto(site.page('store.html', { frame: `${site.frameOrigin}/lib/isolated/frame-shipped.html`, timeout: 10000 }));
    assert.equal((await loaded(p))?.code, 'not_configured');
    await p.close();
  });

  await t.test('consent and forget() from the page reach the storage in the frame', async () => {
    const p = await context.newPage();
    await p.goto(site.page('store.html', { consent: 'pending' }));
    assert.equal(await loaded(p), null);
    const engine = () => frameOf(p, 'engine');
    const stored = () => engine().evaluate(() => ({ local: localStorage.getItem('vitrine:session') != null, visit: sessionStorage.getItem('vitrine:session') != null }));
    await p.evaluate(async () => {
      await window.store.v.track({ type: 'view', item: 'p0300' });
      await window.store.v.flush();
    });
    assert.deepEqual(await stored(), { local: true, visit: true }, "pending: this visit in the frame's sessionStorage (the earlier tests' persistent copy untouched)");
    await p.evaluate(() => window.store.v.setConsent('granted'));
    await p.evaluate(() => window.store.v.flush());
    assert.deepEqual(await stored(), { local: true, visit: false }, 'granted: moved to the persistent store');
    const erased = await p.evaluate(() => window.store.v.forget());
    assert.equal(erased, null, 'forget() tells the page no count');
    assert.deepEqual(await stored(), { local: false, visit: false }, 'forget: every stored copy erased');
    await p.evaluate(async () => {
      await window.store.v.track({ type: 'view', item: 'p0301' });
      await window.store.v.flush();
    });
    assert.deepEqual(await stored(), { local: true, visit: false });
    await p.evaluate(async () => {
      await window.store.v.setConsent('denied');
      await window.store.v.flush();
    });
    assert.deepEqual(await stored(), { local: false, visit: false }, 'denied: nothing stored');
    assert.equal(await p.evaluate(() => window.store.v.storageMode), 'memory');
    await p.close();
  });

  await t.test('a cross-origin-isolated store page (COEP) embeds the frame when it sends COEP and CORP', async () => {
    const isolatedHeaders = { 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Resource-Policy': 'cross-origin' };
    const coepPage = await startServer({ root: SITE, port: 0, headers: isolatedHeaders });
    t.after(() => coepPage.close());
    const pageOrigin = `http://127.0.0.1:${coepPage.port}`;
    const withCorp = await startServer({
      root: SITE,
      port: 0,
      host: 'localhost',
      headers: { 'Content-Security-Policy': frameCsp(pageOrigin), 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'cross-origin' },
    });
    t.after(() => withCorp.close());
    const p = await context.newPage();
    // Without CORP on the frame: the browser blocks it.
    await p.goto(`${pageOrigin}/store.html?${new URLSearchParams({ frame: bareFrame, timeout: 4000 })}`);
    assert.equal((await loaded(p))?.code, 'frame_timeout');
    // With COEP + CORP (and "parents" listing the page: any loopback port, for this test's own copy).
    fs.writeFileSync(
      path.join(SITE, 'lib/isolated/frame-coep.html'),
      fs.readFileSync(path.join(SITE, 'lib/isolated/frame.html'), 'utf8').replace(/"parents":\s*\[[^\]]*\]/, `"parents": ["${pageOrigin}"]`),
    );
    await p.goto(`${pageOrigin}/store.html?${new URLSearchParams({ frame: `http://localhost:${withCorp.port}/lib/isolated/frame-coep.html` })}`);
    assert.equal(await loaded(p), null);
    await p.waitForFunction(() => window.storeReady === true, null, { timeout: 30_000 });
    assert.equal(await p.evaluate(() => self.crossOriginIsolated), true);
    const [v] = await renderedViews(p);
    assert.equal((await shownIds(v)).length, 6);
    await p.close();
  });

  await t.test('nothing crashed', () => {
    assert.deepEqual(errors, []);
  });
});
