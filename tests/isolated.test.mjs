// Isolated mode in Chromium, with two origins: the store's page on http://127.0.0.1:P (origin A)
// hosts the isolated shelf, whose frames come from http://localhost:P2 (origin B, served with the
// deployment's Content-Security-Policy, frame.html as shipped with its configuration block filled).
//
//  - The hostile-script test: two shoppers, one with an earlier visit of 25 events (kept by the
//    frame in origin B's storage, partitioned per top-level site), one with none. In the next
//    visit the page tracks the same two events for both, and a script injected into the page
//    (tests/fixtures/isolated/hostile.js) reads A's storage, walks the DOM and shadow roots, pokes
//    the frames, listens to every message and event, calls the public API, asks the frames for
//    their state, times their replies and reads performance entries. Everything it observed (apart
//    from times) must be identical for both shoppers, and contain no history item and no shown item
//    id; the history is there all along, in the frame's storage. A click on a card reaches the
//    page as one message with that one id; a click on a frame the page made transparent or covered
//    (clickjacking) tells it nothing.
//  - The network audit: the frames fetch only the frame's files, the bundle, the catalog and card
//    images (of shown cards); no request carries a history item; the page's own requests are the
//    same whatever the shopper did before.
//  - Keyboard and screen reader: Tab enters the shelf in the frame, arrows move between cards,
//    Enter opens a product in the page; the frame's accessibility tree is the shelf's.
// Screenshots go to target/e2e/.
//
//   node --test tests/isolated.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, WWW, preflight } from './_browser.mjs';
import { isolatedSite, launchPartitioned, assertPartitioned, renderedViews, shownIds, frameOf } from './_isolated.mjs';

const SITE = path.join(REPO, 'target', 'test-site-isolated');
const SHOTS = path.join(REPO, 'target', 'e2e');
const FIXTURES = path.join(REPO, 'tests', 'fixtures', 'isolated');
const CATALOG = JSON.parse(fs.readFileSync(path.join(WWW, 'data', 'catalog.json'), 'utf8'));
const ALL_IDS = CATALOG.products.map((p) => p.id);
const ofCategory = (c) => CATALOG.products.filter((p) => p.category === c).map((p) => p.id);

/** The earlier visit's history (D for the next visit): 25 views of tents and sleeping bags. */
const HISTORY = [...ofCategory('tents').slice(0, 13), ...ofCategory('sleeping-bags').slice(0, 12)];
/** What the page itself tracks in the visit under test (P), the same for both shoppers. */
const TRACKED = ofCategory('running-shoes').slice(0, 2);

const fixtures = () => Object.fromEntries(['store.html', 'store.js', 'hostile.js'].map((f) => [f, fs.readFileSync(path.join(FIXTURES, f))]));

async function storeReady(page) {
  await page.waitForFunction(() => window.storeReady === true, null, { timeout: 30_000 });
  const err = await page.evaluate(() => window.store.loadError);
  assert.equal(err, null, `the page could not load the isolated Vitrine: ${JSON.stringify(err)}`);
}

/** Every request of `context`, with the frame (main or child) that made it. */
function recordRequests(context, page) {
  const requests = [];
  context.on('request', (req) => {
    let frame = null;
    try {
      frame = req.frame();
    } catch {
      /* a worker's request */
    }
    requests.push({
      url: req.url(),
      method: req.method(),
      headers: req.headers(),
      body: req.postData() ?? '',
      byPage: frame === page.mainFrame(),
    });
  });
  return requests;
}

/** Ids of `ids` that occur in `text` as whole ids. */
const idsIn = (text, ids) => ids.filter((id) => new RegExp(`\\b${id}\\b`).test(text));

/** The observations made comparable: messages per frame in order, events as multisets. */
function comparable(observed) {
  const byFrame = {};
  for (const m of observed.seen.messages) (byFrame[m.from] ??= []).push(m);
  const sorted = (xs) => xs.map((x) => JSON.stringify(x)).sort();
  return { ...observed, seen: { messages: byFrame, events: sorted(observed.seen.events), dispatched: sorted(observed.seen.dispatched) } };
}

const median = (xs) => {
  const v = xs.filter((x) => x != null).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : null;
};

test('isolated mode: a hostile page script, the network, clicks and the keyboard', { timeout: 300_000 }, async (t) => {
  preflight();
  fs.mkdirSync(SHOTS, { recursive: true });
  const site = await isolatedSite(t, SITE, { extra: fixtures() });
  const browser = await launchPartitioned();
  t.after(() => browser.close());

  /** One shopper: an earlier visit that tracked `history` (with consent), then the visit under test. */
  async function shopper(history) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await assertPartitioned(context, site);
    const first = await context.newPage();
    await first.goto(site.page('store.html'));
    await storeReady(first);
    await first.evaluate(async (items) => {
      for (const item of items) await store.v.track({ type: 'view', item });
      await store.v.flush();
    }, history);
    await first.close();

    const page = await context.newPage();
    const requests = recordRequests(context, page);
    const errors = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(site.page('store.html'));
    await storeReady(page);
    const [view] = await renderedViews(page);
    const stored = await frameOf(page, 'engine').evaluate(() => localStorage.getItem('vitrine:session'));
    const { observed, timings } = await page.evaluate((items) => hostile.probe({ trackItems: items }), TRACKED);
    await page.waitForTimeout(300);
    const [viewAfter] = await renderedViews(page);
    const shown = await shownIds(viewAfter);
    return { context, page, view: viewAfter, stored, observed, timings, shown, requests, errors };
  }

  const fresh = await shopper([]);
  const returning = await shopper(HISTORY);

  await t.test('the history exists: the frame keeps it in origin B, partitioned for this store', () => {
    const env = JSON.parse(returning.stored);
    const items = JSON.parse(env.state).events.map((e) => e.item);
    assert.deepEqual(idsIn(items.join(' '), HISTORY).sort(), [...HISTORY].sort(), 'the earlier visit is in the frame storage');
    // With consent a ranking's privacy spend is stored at once (persistence.js guarded()): the
    // state of a shopper without history holds the accountant and no event.
    const freshEvents = fresh.stored == null ? [] : JSON.parse(JSON.parse(fresh.stored).state).events;
    assert.deepEqual(freshEvents, [], 'a shopper without history has no stored event');
    assert.equal(returning.shown.length, 6);
  });

  await t.test('the hostile script obtains no history item, no history count and no shown item id', () => {
    for (const s of [fresh, returning]) {
      const text = JSON.stringify({ observed: s.observed, timings: s.timings });
      assert.deepEqual(idsIn(text, HISTORY.filter((id) => !TRACKED.includes(id))), [], 'no history item');
      const shownNotTracked = s.shown.filter((id) => !TRACKED.includes(id));
      assert.ok(shownNotTracked.length >= 4);
      assert.deepEqual(idsIn(text, shownNotTracked), [], 'no shown item id');
      // Only what the page itself tracked, and not one item id more.
      assert.deepEqual(idsIn(text, ALL_IDS).sort(), [...TRACKED].sort());
      assert.deepEqual(s.errors, [], 'no page error');
    }
    // Everything it learned (apart from times) is the same with 25 stored events as with none.
    assert.deepEqual(comparable(returning.observed), comparable(fresh.observed));
    const o = returning.observed;
    // What it tried, and what it got.
    assert.deepEqual(o.storage.local, {}, "origin A's localStorage holds nothing");
    assert.deepEqual(o.storage.session, {});
    assert.deepEqual(o.storage.idb, {});
    for (const f of o.frames) {
      assert.deepEqual(f.contentDocument, { value: null }, 'frame.contentDocument is null');
      for (const k of ['document', 'localStorage', 'sessionStorage', 'location', 'name', 'history', 'vitrine']) assert.equal(f[k].threw, 'SecurityError', `${k} across origins`);
    }
    for (const m of ['recommend', 'rerank', 'similar', 'explain', 'privacyStatus', 'exportState', 'importState', 'configure']) {
      assert.equal(o.api[m].code, 'isolated', `${m}() is refused`);
      assert.equal(o.ownInstance[m].code, 'isolated', `${m}() of its own instance is refused`);
    }
    assert.deepEqual(o.shelf.items, []);
    assert.equal(o.shelf.recommendationId, null);
    // The frames' answers to its requests: error codes.
    const fromFrames = Object.values(comparable(o).seen.messages).flat().filter((m) => m.from !== 'self').map((m) => m.data);
    const kinds = new Set(fromFrames.map((m) => m.kind));
    assert.deepEqual([...kinds].sort(), ['error', 'ready', 'sized']);
    const codes = new Set(fromFrames.filter((m) => m.kind === 'error').map((m) => m.code));
    for (const c of ['unknown_kind', 'bad_schema', 'already_initialized', 'unknown_field']) assert.ok(codes.has(c), `a refusal with ${c}`);
    // After the page's own track(), the frames said nothing but the answers to its pings.
    assert.ok(o.messagesAfterTrack.every((m) => m.kind === 'error' && m.code === 'unknown_kind'), JSON.stringify(o.messagesAfterTrack));
    t.diagnostic(
      `reply latency to a bad message after track(), median ms (view / engine frame): no history ` +
        `${median(fresh.timings.replyAfterTrack.view)?.toFixed(2)} / ${median(fresh.timings.replyAfterTrack.engine)?.toFixed(2)}, ` +
        `25 events ${median(returning.timings.replyAfterTrack.view)?.toFixed(2)} / ${median(returning.timings.replyAfterTrack.engine)?.toFixed(2)}`,
    );
  });

  await t.test('the network: the frames fetch their files, the bundle, the catalog and shown images; the page is unchanged', () => {
    for (const s of [fresh, returning]) {
      const frame = s.requests.filter((r) => !r.byPage);
      assert.ok(frame.length > 0);
      const kinds = frame.map((r) => {
        const u = new URL(r.url);
        assert.equal(r.method, 'GET', r.url);
        assert.equal(r.body, '', r.url);
        if (u.origin === site.frameOrigin && /^\/lib\/[\w/.-]+\.(js|html)$/.test(u.pathname)) return 'code';
        if (u.origin === site.frameOrigin && /^\/pkg\/(vitrine(_bg\.wasm|\.js)|snippets\/[\w/.-]+\.js)$/.test(u.pathname)) return 'engine';
        if (u.origin === site.frameOrigin && u.pathname === '/data/store.vtr') return 'bundle';
        if (u.origin === site.frameOrigin && u.pathname === '/data/catalog.json') return 'catalog';
        if (u.origin === site.pageOrigin && /^\/data\/img\/p\d{4}\.svg$/.test(u.pathname)) return 'image';
        return `unexpected: ${r.url}`;
      });
      assert.deepEqual(kinds.filter((k) => k.startsWith('unexpected')), []);
      for (const k of ['code', 'engine', 'bundle', 'catalog', 'image']) assert.ok(kinds.includes(k), `the frames fetched a ${k}`);
      // Images only of shown cards (the image server learns what is shown: docs/deployment.md).
      const images = frame.filter((r) => r.url.includes('/data/img/')).map((r) => r.url.match(/p\d{4}/)[0]);
      const shownEver = new Set([...s.shown, ...images]);
      assert.ok(images.every((id) => shownEver.has(id)));
      // No request other than an image names an item, and none names a history item that was not shown.
      for (const r of s.requests) {
        const text = `${r.url} ${JSON.stringify(r.headers)} ${r.body}`;
        if (!r.url.includes('/data/img/')) assert.deepEqual(idsIn(text, ALL_IDS), [], r.url);
      }
    }
    const pageRequests = (s) => s.requests.filter((r) => r.byPage).map((r) => `${r.method} ${r.url.replace(/localhost:\d+|127\.0\.0\.1:\d+/g, 'HOST')}`).sort();
    assert.deepEqual(pageRequests(returning), pageRequests(fresh), "the page's own requests do not depend on the earlier visit");
    assert.deepEqual(pageRequests(fresh).filter((r) => r.includes('/data/') || r.includes('.wasm')), [], 'the page fetches no bundle, catalog, image or engine itself');
  });

  await t.test("a shopper's click on a card reaches the page as one message with that one id", async () => {
    const { page, view, shown } = returning;
    await page.screenshot({ path: path.join(SHOTS, 'isolated-shelf.png') });
    const id = shown[2];
    await view.locator(`.real vitrine-shelf .card[data-id="${id}"] .link`).click();
    await page.waitForFunction(() => window.store.clicks.length > 0);
    await page.waitForTimeout(200);
    const r = await page.evaluate(() => ({
      clicks: window.store.clicks,
      chooses: hostile.seen.messages.filter((m) => m.data?.kind === 'choose'),
      hash: location.hash,
    }));
    assert.deepEqual(r.clicks, [{ id, placement: 'home', label: 'Recommended for you' }]);
    assert.deepEqual(r.chooses.map((m) => m.data), [{ vitrine: 1, kind: 'choose', action: 'open', id }]);
    assert.equal(r.chooses[0].from, 'view');
    assert.equal(r.hash, `#/p/${id}`, 'not cancelled: the page navigated with its href-template');
    // The add-to-cart button says the same, as add-to-cart.
    const other = shown[3];
    await view.locator(`.real vitrine-shelf .card[data-id="${other}"] .add`).click();
    await page.waitForFunction(() => window.store.adds.length > 0);
    assert.deepEqual(await page.evaluate(() => window.store.adds), [{ id: other, placement: 'home', label: 'Recommended for you' }]);
  });

  await t.test('a click the page tricks the shopper into (a transparent or covered frame) tells it nothing', async () => {
    const { page, view, shown } = returning;
    const before = await page.evaluate(() => ({ clicks: window.store.clicks.length, hash: location.hash }));
    const card = (id) => view.locator(`.real vitrine-shelf .card[data-id="${id}"] .link`);
    await page.evaluate(() => (document.querySelector('vitrine-shelf').style.opacity = '0.05'));
    await page.waitForTimeout(300);
    await card(shown[4]).click();
    await page.evaluate(() => {
      document.querySelector('vitrine-shelf').style.opacity = '';
      const decoy = document.createElement('div');
      decoy.id = 'decoy';
      decoy.textContent = 'Win a prize! Click here';
      decoy.style.cssText = 'position: fixed; inset: 0; background: rgba(255, 255, 255, 0.97); pointer-events: none; font-size: 40px';
      document.body.append(decoy);
    });
    await page.waitForTimeout(300);
    await card(shown[5]).click();
    await page.waitForTimeout(300);
    const tricked = await page.evaluate(() => ({ clicks: window.store.clicks.length, hash: location.hash, codes: window.store.shelfErrors }));
    assert.equal(tricked.clicks, before.clicks, 'no click reached the page');
    assert.equal(tricked.hash, before.hash);
    assert.deepEqual(tricked.codes.filter((c) => c === 'obscured'), ['obscured', 'obscured']);
    // Shown as it should be again, the frame takes the shopper's click.
    await page.evaluate(() => document.getElementById('decoy').remove());
    await page.waitForTimeout(300);
    await card(shown[5]).click();
    await page.waitForFunction((n) => window.store.clicks.length > n, before.clicks);
    assert.equal(await page.evaluate(() => location.hash), `#/p/${shown[5]}`);
  });

  await t.test('keyboard and screen reader: Tab into the frame, arrows between cards, Enter opens the product', async () => {
    const { page } = fresh;
    await page.evaluate(() => (location.hash = ''));
    const [view] = await renderedViews(page);
    const shown = await shownIds(view);
    const focused = () =>
      view.evaluate(() => {
        const shelf = document.querySelector('.real vitrine-shelf');
        const el = shelf.shadowRoot.activeElement;
        return document.activeElement === shelf && el ? { id: el.closest('.card')?.dataset.id, cls: el.className } : null;
      });
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('Tab');
    assert.deepEqual(await focused(), { id: shown[0], cls: 'link' }, 'Tab from the page lands on the first card');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    assert.deepEqual(await focused(), { id: shown[2], cls: 'link' });
    await page.keyboard.press('End');
    assert.deepEqual(await focused(), { id: shown.at(-1), cls: 'link' });
    await page.keyboard.press('Home');
    assert.deepEqual(await focused(), { id: shown[0], cls: 'link' });
    await page.keyboard.press('Tab');
    assert.deepEqual(await focused(), { id: shown[0], cls: 'add' }, 'then its add-to-cart button');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('ArrowRight');
    await page.screenshot({ path: path.join(SHOTS, 'isolated-keyboard.png') });
    // From the second card's link, Tab through the rest (a link and an add-to-cart button per card):
    // the focus leaves the frame for the page's next link.
    for (let i = 0; i < 2 * shown.length - 2; i++) await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'A link after the shelf');
    // Back into the frame, Enter on a card: the page opens it.
    for (let i = 0; i < 2 * shown.length - 2; i++) await page.keyboard.press('Shift+Tab');
    const target = await focused();
    assert.equal(target.cls, 'link');
    const before = await page.evaluate(() => window.store.clicks.length);
    await page.keyboard.press('Enter');
    await page.waitForFunction((n) => window.store.clicks.length > n, before);
    assert.equal(await page.evaluate(() => location.hash), `#/p/${target.id}`);
    // What a screen reader gets: a labelled frame holding a labelled list of linked cards.
    assert.equal(await page.locator('vitrine-shelf iframe').getAttribute('title'), 'Recommended for you');
    const tree = await view.locator('body').ariaSnapshot();
    assert.match(tree, /- list "Recommended for you":/);
    assert.equal((tree.match(/- listitem:/g) ?? []).length, shown.length);
    assert.equal((tree.match(/- button "Add .+ to cart"/g) ?? []).length, shown.length);
    t.diagnostic(tree.split('\n').slice(0, 8).join(' | '));
  });
});
