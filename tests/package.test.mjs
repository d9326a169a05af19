// The `vitrine` package (www/lib) in headless Chromium: loading (integrity, progress, errors), the
// engine API, worker mode = main-thread mode, storage (consent, TTL, schema, corrupt/tampered state,
// quota, IndexedDB), Global Privacy Control, and the <vitrine-shelf> widget (order, ARIA, keyboard,
// events, theming, updates within a frame, reasons, network).
//
//   node --test tests/package.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, WWW, preflight, launch, serve, instrument, makeSite } from './_browser.mjs';

const SITE = path.join(REPO, 'target', 'test-site');
const BUNDLE = fs.readFileSync(path.join(WWW, 'data', 'store.vtr'));
const CATALOG = JSON.parse(fs.readFileSync(path.join(WWW, 'data', 'catalog.json'), 'utf8'));
const SRI = `sha256-${crypto.createHash('sha256').update(BUNDLE).digest('base64')}`;
const HAS_PRIVACY = fs.readFileSync(path.join(WWW, 'pkg', 'vitrine.js'), 'utf8').includes('privacyStatus');

async function harness(context, server) {
  const page = await context.newPage();
  const log = instrument(page);
  await page.goto(`${server.url}harness.html`);
  await page.waitForFunction(() => window.harnessReady === true, null, { timeout: 10_000 });
  return { page, log };
}

test('the vitrine package in Chromium', { timeout: 150_000 }, async (t) => {
  preflight();
  makeSite(SITE, {
    'harness.html': fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'harness.html')),
    'harness.js': fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'harness.js')),
    'data/garbage.vtr': Buffer.from('this is not a bundle, just some bytes'),
    'data/page.html': '<!doctype html><title>Not found</title>',
  });
  const server = await serve(t, { root: SITE });
  const browser = await launch();
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const { page, log } = await harness(context, server);

  await t.test('load: progress events, integrity, itemCount and capabilities', async () => {
    const r = await page.evaluate(async (sri) => {
      const phases = [];
      const v = await V.Vitrine.load('data/store.vtr', { integrity: sri, onProgress: (p) => phases.push(p) });
      return { phases, itemCount: v.itemCount, caps: v.capabilities, mode: v.mode, consent: v.consent, storageMode: v.storageMode };
    }, SRI);
    assert.equal(r.itemCount, CATALOG.products.length);
    assert.equal(r.mode, 'main');
    assert.equal(r.consent, 'pending');
    assert.equal(r.storageMode, 'memory');
    for (const m of ['track', 'recommend']) assert.ok(r.caps.includes(m), `engine supports ${m}`);
    const names = [...new Set(r.phases.map((p) => p.phase))];
    assert.deepEqual(names, ['bundle', 'verify', 'engine', 'ready']);
    const bundle = r.phases.filter((p) => p.phase === 'bundle');
    assert.equal(bundle.at(-1).loaded, BUNDLE.length, 'bundle progress reaches the full size');
    assert.equal(bundle.at(-1).total, BUNDLE.length);
  });

  await t.test('load: clear errors for a failed fetch, HTTP error, wrong type, bad bundle, integrity', async () => {
    const r = await page.evaluate(async (sri) => {
      const attempt = async (src, opts) => {
        try {
          await V.Vitrine.load(src, opts);
          return { ok: true };
        } catch (e) {
          return { name: e.name, code: e.code, message: e.message, isError: e instanceof V.VitrineError };
        }
      };
      const bytes = new Uint8Array(await (await fetch('data/store.vtr')).arrayBuffer());
      // The same bundle with one embedding byte changed: its recorded digest no longer matches.
      const altered = bytes.slice();
      const headerLen = Number(new DataView(altered.buffer).getBigUint64(0, true));
      const header = JSON.parse(new TextDecoder().decode(altered.subarray(8, 8 + headerLen)));
      altered[8 + headerLen + header.item_emb.data_offsets[0]] ^= 1;
      const sriOf = async (b) =>
        'sha256-' + btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest('SHA-256', b))));
      return {
        alteredNoIntegrity: await attempt(altered.slice()),
        alteredWithIntegrity: await attempt(altered.slice(), { integrity: await sriOf(altered) }),
        alteredInWorker: await attempt(altered.slice(), { integrity: await sriOf(altered), worker: true }),
        alteredNoIntegrityInWorker: await attempt(altered.slice(), { worker: true }),
        refused: await attempt('http://127.0.0.1:9/store.vtr'),
        missing: await attempt('data/missing.vtr'),
        html: await attempt('data/page.html'),
        garbage: await attempt('data/garbage.vtr'),
        integrity: await attempt('data/store.vtr', { integrity: 'sha256-' + btoa('x'.repeat(32)) }),
        badIntegrity: await attempt('data/store.vtr', { integrity: 'md5-abc' }),
        bytesOk: await attempt(bytes, { integrity: sri }),
        notABundle: await attempt(42),
        badConsent: await attempt(bytes, { consent: 'maybe' }),
      };
    }, SRI);
    assert.equal(r.refused.code, 'fetch_failed');
    assert.match(r.refused.message, /could not fetch the bundle/);
    assert.equal(r.missing.code, 'http_error');
    assert.match(r.missing.message, /HTTP 404/);
    assert.equal(r.html.code, 'content_type');
    assert.match(r.html.message, /text\/html/);
    assert.equal(r.garbage.code, 'bad_bundle');
    assert.match(r.garbage.message, /bundle was rejected/);
    assert.equal(r.integrity.code, 'integrity');
    assert.match(r.integrity.message, /does not match/);
    assert.equal(r.badIntegrity.code, 'invalid_argument');
    assert.deepEqual(r.bytesOk, { ok: true });
    // The engine checks the bundle's own digest unless the page's integrity hash vouched for
    // these exact bytes (then it skips the second SHA-256, on the main thread and in a worker).
    for (const k of ['alteredNoIntegrity', 'alteredNoIntegrityInWorker']) {
      assert.equal(r[k].code, 'bad_bundle', k);
      assert.match(r[k].message, /digest/, k);
    }
    assert.deepEqual(r.alteredWithIntegrity, { ok: true });
    assert.deepEqual(r.alteredInWorker, { ok: true });
    assert.equal(r.notABundle.code, 'invalid_argument');
    assert.match(r.badConsent.message, /consent must be/);
    for (const k of ['refused', 'missing', 'html', 'garbage', 'integrity']) {
      assert.equal(r[k].name, 'VitrineError', k);
      assert.ok(r[k].isError, `${k} is a VitrineError`);
    }
    // The failed fetches above are expected; forget them so the final error check stays meaningful.
    log.errors.length = 0;
  });

  await t.test('cold start shows popular items; personalization moves toward what the shopper did', async () => {
    const target = 'coffee-beans';
    const picks = CATALOG.products.filter((p) => p.category === target).slice(0, 3).map((p) => p.id);
    const r = await page.evaluate(async (picks) => {
      const v = await V.loadExact('data/store.vtr');
      const cold = await v.recommend({ k: 12 });
      for (const item of picks) await v.track({ type: 'view', item });
      const warm = await v.recommend({ k: 12, excludeSeen: true });
      return { cold: cold.map((x) => x.id), warm: warm.map((x) => x.id), unknownIds: warm.unknownIds, warnings: warm.warnings };
    }, picks);
    const cat = new Map(CATALOG.products.map((p) => [p.id, p.category]));
    const share = (ids) => ids.filter((id) => cat.get(id) === target).length;
    assert.equal(r.cold.length, 12);
    assert.deepEqual(r.unknownIds, []);
    assert.ok(Array.isArray(r.warnings));
    assert.ok(share(r.warm) >= 6, `at least half the shelf is ${target} after three views (got ${share(r.warm)})`);
    assert.ok(share(r.warm) > share(r.cold));
    // Cold start is the popularity ranking: the events log of the demo data says which items are popular.
    const counts = new Map();
    const csv = fs.readFileSync(path.join(WWW, 'data', 'events.csv'), 'utf8').split('\n').slice(1);
    for (const line of csv) {
      const id = line.split(',')[1];
      if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const rankByCount = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([id]) => id);
    const top60 = new Set(rankByCount.slice(0, 60));
    const popular = r.cold.filter((id) => top60.has(id)).length;
    assert.ok(popular >= 9, `cold-start shelf is mostly among the 60 most frequent items (${popular}/12)`);
  });

  await t.test('rerank, similar and explain go through to the engine', async () => {
    const ids = CATALOG.products.slice(0, 20).map((p) => p.id);
    const r = await page.evaluate(async ({ ids, item }) => {
      const v = await V.loadExact('data/store.vtr');
      await v.track({ type: 'view', item });
      const reranked = await v.rerank([...ids, 'no-such-item']);
      const similar = await v.similar(item, { k: 5 });
      const why = await v.explain(reranked[0].id);
      // A product the bundle does not know yet is normal input (issue 16): kept pending, no error.
      const unknownTrack = await v.track({ type: 'view', item: 'nope' });
      const knownTrack = await v.track({ type: 'view', item });
      const errs = {};
      for (const [name, fn] of [
        ['rerank', () => v.rerank('p0001')],
        ['track', () => v.track({ type: 'levitate', item })],
      ]) {
        try {
          await fn();
        } catch (e) {
          errs[name] = { code: e.code, message: e.message };
        }
      }
      // Hostile lists are errors, and the engine keeps answering: a sparse array of length
      // 2³² − 1 (it panicked the engine before) and a getter that throws (it went through the wasm).
      const hostile = {};
      for (const [name, make] of [
        ['sparse', () => Object.assign([], { length: 2 ** 32 - 1 })],
        ['throwing', () => Object.defineProperty(['x'], 0, { get() { throw new Error('boom'); } })],
      ]) {
        try {
          await v.rerank(make());
          hostile[name] = 'resolved';
        } catch (e) {
          hostile[name] = { code: e.code, message: e.message };
        }
      }
      const afterHostile = (await v.rerank(ids.slice(0, 3))).map((x) => x.id);
      return { reranked: reranked.map((x) => x.id), unknown: reranked.unknownIds, similar: similar.map((x) => x.id), why, errs, unknownTrack, knownTrack, hostile, afterHostile };
    }, { ids, item: ids[3] });
    assert.deepEqual([...r.reranked].sort(), [...ids].sort(), 'rerank returns exactly the known candidates');
    assert.deepEqual(r.unknown, ['no-such-item']);
    assert.equal(r.similar.length, 5);
    assert.ok(!r.similar.includes(ids[3]));
    assert.equal(typeof r.why.personalized, 'boolean');
    assert.equal(r.errs.rerank.code, 'invalid_argument');
    assert.equal(r.errs.track.code, 'unknown_event_type');
    assert.deepEqual(r.unknownTrack, { pending: true });
    assert.deepEqual(r.knownTrack, { pending: false });
    assert.equal(r.hostile.sparse.code, 'invalid_option', JSON.stringify(r.hostile));
    assert.match(r.hostile.sparse.message, /at most 1000000 items, got 4294967295/);
    assert.equal(r.hostile.throwing.code, 'invalid_option', JSON.stringify(r.hostile));
    assert.match(r.hostile.throwing.message, /reading it threw: boom/);
    assert.deepEqual([...r.afterHostile].sort(), ids.slice(0, 3).sort());
  });

  await t.test('configure() reaches the engine and re-renders (change event)', async () => {
    const r = await page.evaluate(async () => {
      const v = await V.Vitrine.load('data/store.vtr', { settings: { maxEvents: 5 } });
      const changes = [];
      v.addEventListener('change', (e) => changes.push(e.detail.reason));
      await v.configure({ maxEvents: 2 });
      for (const item of ['p0001', 'p0002', 'p0003']) await v.track({ type: 'view', item });
      const kept = JSON.parse(await v.exportState()).events.map((e) => e.item);
      let bad;
      try {
        await v.configure({ maxEvnts: 2 });
      } catch (e) {
        bad = e.code;
      }
      return { kept, changes, bad };
    });
    assert.deepEqual(r.kept, ['p0002', 'p0003'], 'maxEvents: 2 keeps the newest two');
    assert.deepEqual(r.changes, ['configure', 'track', 'track', 'track']);
    assert.equal(r.bad, 'invalid_option');
  });

  await t.test('worker mode gives the same results as main-thread mode', async () => {
    const picks = ['p0010', 'p0200', 'p0201', 'p0333'];
    const r = await page.evaluate(async (picks) => {
      const run = async (worker) => {
        const v = await V.loadExact('data/store.vtr', { worker });
        const out = { mode: v.mode, caps: v.capabilities };
        out.cold = await v.recommend({ k: 20 });
        for (const [i, item] of picks.entries()) await v.track({ type: i % 2 ? 'click' : 'view', item, ts: 1_700_000_000_000 + i * 60_000 });
        const opts = { k: 20, now: 1_700_000_400_000, explain: v.supports('explain') };
        out.warm = await v.recommend(opts);
        out.warmMeta = { unknownIds: out.warm.unknownIds, warnings: out.warm.warnings };
        if (v.supports('rerank')) out.rerank = await v.rerank(['p0001', 'p0002', 'p0300', 'zzz'], { now: opts.now });
        if (v.supports('similar')) out.similar = await v.similar('p0200', { k: 10, now: opts.now });
        if (v.supports('exportState')) out.state = await v.exportState();
        try {
          await v.track({ type: 'teleport', item: 'p0001' });
        } catch (e) {
          out.error = { name: e.name, code: e.code, message: e.message };
        }
        out.forgot = await v.forget();
        out.after = await v.recommend({ k: 20 });
        v.destroy();
        return JSON.parse(JSON.stringify(out));
      };
      return { main: await run(false), worker: await run(true) };
    }, picks);
    assert.equal(r.main.mode, 'main');
    assert.equal(r.worker.mode, 'worker');
    const { mode: _m, ...main } = r.main;
    const { mode: _w, ...worker } = r.worker;
    assert.deepEqual(worker, main);
    assert.equal(main.warm.length, 20);
    assert.equal(main.error.code, 'unknown_event_type');
    assert.deepEqual(main.after, main.cold, 'forget() brings back the cold-start ranking');
  });

  await t.test('methods the engine build lacks throw a clear "not supported" error', async () => {
    const r = await page.evaluate(async () => {
      const v = await V.Vitrine.load('data/store.vtr');
      const missing = ['privacyStatus', 'rerank', 'similar', 'explain', 'exportState'].filter((m) => !v.supports(m));
      const errors = [];
      for (const m of missing) {
        try {
          await v[m](m === 'rerank' ? [] : 'p0001');
          errors.push({ m, ok: true });
        } catch (e) {
          errors.push({ m, code: e.code, message: e.message });
        }
      }
      return { missing, errors };
    });
    for (const e of r.errors) {
      assert.equal(e.code, 'unsupported', e.m);
      assert.match(e.message, /not supported by this engine build/);
    }
    t.diagnostic(`not in this engine build: ${r.missing.join(', ') || 'none'}`);
  });

  // Enabled by the build itself: a TODO until the engine's wasm API has privacyStatus() (issue 6).
  await t.test('private by default: privacyStatus() reports ε spent and left, and spending grows', { todo: HAS_PRIVACY ? false : 'the engine build has no privacyStatus() yet (issue 6)' }, async () => {
    const r = await page.evaluate(async () => {
      const v = await V.Vitrine.load('data/store.vtr');
      if (!v.supports('privacyStatus')) return null;
      const before = await v.privacyStatus();
      await v.track({ type: 'view', item: 'p0001' });
      const recs = await v.recommend({ k: 5 });
      const after = await v.privacyStatus();
      const state = JSON.parse(await v.exportState());
      return { before, after, n: recs.length, stateKeys: Object.keys(state) };
    });
    assert.ok(r, 'the engine build has privacyStatus()');
    assert.equal(r.after.private, true, 'rankings are private unless the page opts out');
    assert.equal(r.n, 5);
    assert.equal(typeof r.after.budget?.spentEpsilon, 'number', 'ε spent is reported');
    assert.equal(typeof r.after.budget?.remainingEpsilon, 'number', 'ε left is reported');
    assert.ok(r.after.budget.spentEpsilon > (r.before.budget?.spentEpsilon ?? 0), 'a ranking of a changed history spends ε');
    assert.ok(r.after.budget.remainingEpsilon < r.after.budget.epsilon);
  });

  await t.test('storage: nothing stored until consent; granted survives a "reload"; denied deletes', async () => {
    const r = await page.evaluate(async () => {
      localStorage.clear();
      const key = 'vitrine:session';
      const a = await V.loadExact('data/store.vtr'); // pending
      await a.track({ type: 'view', item: 'p0100' });
      await a.flush();
      const pendingStored = localStorage.getItem(key);
      await a.setConsent('granted');
      await a.track({ type: 'view', item: 'p0101' });
      await a.flush();
      const env = JSON.parse(localStorage.getItem(key));
      const exported = await a.exportState();
      const b = await V.loadExact('data/store.vtr', { consent: 'granted' }); // the next page load
      const restored = await b.exportState();
      const same = JSON.stringify(await a.recommend({ k: 10, now: 1e13 })) === JSON.stringify(await b.recommend({ k: 10, now: 1e13 }));
      const c = await V.Vitrine.load('data/store.vtr', { consent: 'pending' });
      const pendingRestored = JSON.parse(await c.exportState()).events.length;
      // Without privacy (settings apply before the stored state is read) the import is counted.
      const exact = await V.Vitrine.load('data/store.vtr', { consent: 'granted', settings: { privacy: { epsilon: Infinity } } });
      const exactImport = exact.lastImport;
      exact.destroy();
      await b.setConsent('denied');
      const afterDeny = localStorage.getItem(key);
      return { pendingStored, env, exported, restored, same, pendingRestored, afterDeny, mode: b.storageMode, lastImport: b.lastImport, exactImport };
    });
    assert.equal(r.pendingStored, null, 'nothing is written while consent is pending');
    assert.equal(r.env.schema, 1);
    assert.equal(typeof r.env.sha256, 'string');
    assert.ok(r.env.expiresAt > r.env.savedAt);
    assert.equal(r.env.state, r.exported, 'the stored state is exactly the engine export');
    assert.equal(JSON.parse(r.env.state).events.length, 2, 'the in-memory session is saved when consent is granted');
    assert.equal(r.restored, r.exported, 'a new instance with consent restores the session');
    assert.ok(r.same, 'and recommends the same');
    assert.equal(r.lastImport, null, 'in private mode the import count is not told: it is the stored record size');
    assert.equal(r.exactImport.imported, 2, 'without privacy the import is counted');
    assert.equal(r.pendingRestored, 0, 'without consent nothing is read back');
    assert.equal(r.afterDeny, null, 'denying consent deletes the stored session');
    assert.equal(r.mode, 'memory');
  });

  await t.test('storage: expired, corrupt, tampered, foreign-schema and refused states start fresh and are reported', async () => {
    const r = await page.evaluate(async () => {
      const key = 'vitrine:session';
      const load = async (opts = {}) => {
        const seen = [];
        const v = await V.Vitrine.load('data/store.vtr', { consent: 'granted', onStorageIssue: (i) => seen.push(i.kind), ...opts });
        const events = JSON.parse(await v.exportState()).events.length;
        const works = (await v.recommend({ k: 3 })).length === 3;
        const left = localStorage.getItem(key);
        v.destroy(); // the page goes away before the next "page load" (its last write happens now)
        // What is left: nothing, or (with consent, the ranking's privacy spend is written at once:
        // persistence.js guarded()) a new valid state with no events; never the bad copy.
        let kept = 'nothing';
        if (left != null) {
          try {
            const env = JSON.parse(left);
            const state = JSON.parse(env.state);
            kept = env.schema === 1 && state.format === 'vitrine-session' && state.events.length === 0 ? 'a new empty state' : left;
          } catch {
            kept = left;
          }
        }
        return { seen, events, works, kept };
      };
      localStorage.clear();
      const a = await V.Vitrine.load('data/store.vtr', { consent: 'granted', ttl: 50 });
      await a.track({ type: 'view', item: 'p0007' });
      await a.flush();
      a.destroy();
      await new Promise((r) => setTimeout(r, 80));
      const expired = await load();

      localStorage.setItem(key, '{not json');
      const garbage = await load();

      const b = await V.Vitrine.load('data/store.vtr', { consent: 'granted' });
      await b.track({ type: 'view', item: 'p0007' });
      await b.flush();
      b.destroy();
      const env = JSON.parse(localStorage.getItem(key));
      localStorage.setItem(key, JSON.stringify({ ...env, state: env.state.replace('p0007', 'p0008') }));
      const tampered = await load();

      localStorage.setItem(key, JSON.stringify({ ...env, schema: 99 }));
      const schema = await load();

      // A state whose checksum is right but which the engine refuses (another format).
      const foreign = JSON.stringify({ format: 'something-else', version: 1, events: [] });
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(foreign)));
      const hex = [...digest].map((x) => x.toString(16).padStart(2, '0')).join('');
      localStorage.setItem(key, JSON.stringify({ ...env, state: foreign, sha256: hex }));
      const refused = await load();
      return { expired, garbage, tampered, schema, refused };
    });
    assert.deepEqual(r.expired.seen, ['expired']);
    assert.deepEqual(r.garbage.seen, ['corrupt']);
    assert.deepEqual(r.tampered.seen, ['corrupt']);
    assert.deepEqual(r.schema.seen, ['schema']);
    assert.deepEqual(r.refused.seen, ['rejected']);
    for (const [k, v] of Object.entries(r)) {
      assert.equal(v.events, 0, `${k}: starts with an empty session`);
      assert.ok(v.works, `${k}: still recommends`);
      assert.ok(['nothing', 'a new empty state'].includes(v.kept), `${k}: the bad copy was removed (left: ${v.kept})`);
    }
  });

  await t.test('storage: a quota error keeps the session in memory and is reported; IndexedDB and custom adapters work', async () => {
    const r = await page.evaluate(async () => {
      const full = {
        name: 'full',
        async get() {
          return null;
        },
        async set() {
          throw new DOMException('the quota has been exceeded', 'QuotaExceededError');
        },
        async remove() {},
      };
      const issues = [];
      const v = await V.Vitrine.load('data/store.vtr', { consent: 'granted', storage: full });
      v.addEventListener('storageissue', (e) => issues.push(e.detail.kind));
      await v.track({ type: 'view', item: 'p0050' });
      await v.flush();
      const inMemory = JSON.parse(await v.exportState()).events.length;

      const a = await V.Vitrine.load('data/store.vtr', { consent: 'granted', storage: 'indexedDB', storageKey: 'idb-test' });
      await a.track({ type: 'add_to_cart', item: 'p0051' });
      await a.flush();
      const b = await V.Vitrine.load('data/store.vtr', { consent: 'granted', storage: 'indexedDB', storageKey: 'idb-test' });
      const idbEvents = JSON.parse(await b.exportState()).events.map((e) => e.item);
      await b.forget();
      const c = await V.Vitrine.load('data/store.vtr', { consent: 'granted', storage: 'indexedDB', storageKey: 'idb-test' });
      const afterForget = JSON.parse(await c.exportState()).events.length;
      let badAdapter;
      try {
        await V.Vitrine.load('data/store.vtr', { storage: { get() {} } });
      } catch (e) {
        badAdapter = e.message;
      }
      return { issues, inMemory, idbEvents, afterForget, badAdapter };
    });
    assert.deepEqual(r.issues, ['quota']);
    assert.equal(r.inMemory, 1);
    assert.deepEqual(r.idbEvents, ['p0051']);
    assert.equal(r.afterForget, 0, 'forget() erased the IndexedDB copy');
    assert.match(r.badAdapter, /missing set/);
  });

  await t.test('<vitrine-shelf>: engine order, ARIA, keyboard, events, theming, reasons, updates within a frame', async () => {
    const r = await page.evaluate(async () => {
      document.querySelector('#root').innerHTML = `
        <style>
          #s1 { --vitrine-card-width: 150px; }
          #s1::part(card) { border-color: rgb(1, 2, 3); }
        </style>
        <vitrine-shelf id="s1" src="data/store.vtr" catalog="data/catalog.json" k="6" placement="test"
          reasons href-template="#/p/{id}" label="Picked for you" options='{"excludeSeen": true}'></vitrine-shelf>`;
      const shelf = document.querySelector('#s1');
      const clicks = [];
      const impressions = [];
      shelf.addEventListener('vitrine:click', (e) => {
        clicks.push(e.detail);
        e.preventDefault();
      });
      shelf.addEventListener('vitrine:impression', (e) => impressions.push(...e.detail.items.map((i) => i.id)));
      await shelf.ready;
      const v = shelf.vitrine;
      if (v.supports('privacyStatus')) {
        // Deterministic rankings and explanations quoting the raw history: the explicit non-private mode.
        await v.configure({ privacy: { epsilon: Infinity } });
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      }
      const root = shelf.shadowRoot;
      const ids = () => [...root.querySelectorAll('.card')].map((c) => c.dataset.id);
      const engine = (await v.recommend({ k: 6, excludeSeen: true })).map((x) => x.id);
      const first = ids();
      const list = root.querySelector('[part="list"]');
      const aria = {
        list: list.getAttribute('role'),
        label: list.getAttribute('aria-label'),
        items: [...root.querySelectorAll('.card')].every((c) => c.getAttribute('role') === 'listitem'),
        links: [...root.querySelectorAll('.card a')].map((a) => a.getAttribute('href')),
      };
      const card = root.querySelector('.card');
      const style = getComputedStyle(card);
      const theme = { border: style.borderTopColor, width: card.getBoundingClientRect().width };

      // Keyboard: focus the first link, ArrowRight moves to the next, End to the last.
      root.querySelector('.card a').focus();
      list.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
      const afterRight = root.activeElement.closest('.card').dataset.id;
      list.dispatchEvent(new KeyboardEvent('keydown', { key: 'End', bubbles: true }));
      const afterEnd = root.activeElement.closest('.card').dataset.id;
      root.activeElement.click();
      await new Promise((r) => setTimeout(r, 50));

      // A track() shows on the shelf by the next frame.
      const before = shelf.renderCount;
      const product = (await (await fetch('data/catalog.json')).json()).products.find((p) => p.category === 'tents');
      await v.track({ type: 'view', item: product.id });
      await new Promise((r) => requestAnimationFrame(r));
      const renderedInFrame = shelf.renderCount > before;
      const reasons = [...root.querySelectorAll('[part="reason"]')].map((e) => e.textContent);
      return { engine, first, aria, theme, afterRight, afterEnd, clicks, impressions, renderedInFrame, reasons, name: product.name, hash: location.hash };
    });
    assert.deepEqual(r.first, r.engine, 'cards in the engine order');
    assert.equal(r.aria.list, 'list');
    assert.equal(r.aria.label, 'Picked for you');
    assert.ok(r.aria.items);
    assert.deepEqual(r.aria.links, r.engine.map((id) => `#/p/${id}`));
    assert.equal(r.theme.border, 'rgb(1, 2, 3)', '::part(card) styles the card');
    assert.equal(Math.round(r.theme.width), 150, '--vitrine-card-width sets the card width');
    assert.equal(r.afterRight, r.engine[1]);
    assert.equal(r.afterEnd, r.engine[5]);
    assert.equal(r.clicks.length, 1);
    assert.equal(r.clicks[0].id, r.engine[5]);
    assert.equal(r.clicks[0].rank, 6);
    assert.equal(r.clicks[0].placement, 'test');
    assert.equal(r.hash, '', 'preventDefault() on vitrine:click stops the navigation');
    assert.ok(r.impressions.length >= 1, 'impressions were reported');
    assert.ok(r.renderedInFrame, 'the shelf re-rendered within a frame of track()');
    assert.ok(
      r.reasons.some((t) => t === `Because you viewed ${r.name}`),
      `a card says "Because you viewed ${r.name}" (got ${JSON.stringify(r.reasons)})`,
    );
  });

  await t.test('<vitrine-shelf> does not rank while hidden, and catches up when shown', async () => {
    const r = await page.evaluate(async () => {
      const v = await V.Vitrine.load('data/store.vtr');
      const catalog = await (await fetch('data/catalog.json')).json();
      document.querySelector('#root').innerHTML = '<div id="box" hidden><vitrine-shelf k="5"></vitrine-shelf></div>';
      const shelf = document.querySelector('#box vitrine-shelf');
      shelf.catalog = catalog;
      shelf.vitrine = v;
      const frames = (n) => new Promise((res) => {
        const step = () => (n-- <= 0 ? res() : requestAnimationFrame(step));
        step();
      });
      await frames(3);
      await v.track({ type: 'view', item: 'p0200' });
      await frames(3);
      const hidden = { renders: shelf.renderCount, pending: shelf.pending };
      document.querySelector('#box').hidden = false;
      await shelf.ready;
      await frames(2);
      const shown = { renders: shelf.renderCount, pending: shelf.pending, cards: shelf.shadowRoot.querySelectorAll('.card').length };
      return { hidden, shown };
    });
    assert.deepEqual(r.hidden, { renders: 0, pending: true });
    assert.deepEqual(r.shown, { renders: 1, pending: false, cards: 5 });
  });

  await t.test('<vitrine-shelf> makes no requests beyond its src, catalog and images', async () => {
    const p2 = await context.newPage();
    const l2 = instrument(p2);
    await p2.goto(`${server.url}harness.html`);
    await p2.waitForFunction(() => window.harnessReady === true);
    const start = l2.requests.length;
    await p2.evaluate(async () => {
      document.querySelector('#root').innerHTML =
        '<vitrine-shelf src="data/store.vtr" catalog="data/catalog.json" k="4"></vitrine-shelf>';
      await document.querySelector('vitrine-shelf').ready;
    });
    await p2.waitForLoadState('networkidle');
    const urls = l2.requests.slice(start).map((q) => new URL(q.url()).pathname);
    const other = urls.filter((u) => !['/data/store.vtr', '/data/catalog.json', '/pkg/vitrine_bg.wasm'].includes(u) && !/^\/data\/img\/p\d{4}\.svg$/.test(u));
    assert.deepEqual(other, []);
    assert.ok(urls.includes('/data/store.vtr') && urls.includes('/data/catalog.json'));
    await p2.close();
    assert.deepEqual(l2.errors, []);
  });

  await t.test('no page errors or console errors', () => {
    assert.deepEqual(log.errors, []);
  });
});

test('Global Privacy Control: granted consent stores nothing and removes a stored copy', { timeout: 60_000 }, async (t) => {
  preflight();
  const server = await serve(t, { root: SITE });
  const browser = await launch();
  t.after(() => browser.close());
  const context = await browser.newContext();
  await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true }));
  const { page, log } = await harness(context, server);
  const r = await page.evaluate(async () => {
    localStorage.setItem('vitrine:session', 'left over from before');
    const v = await V.loadExact('data/store.vtr', { consent: 'granted' });
    const removed = localStorage.getItem('vitrine:session') === null;
    await v.track({ type: 'view', item: 'p0003' });
    await v.flush();
    await v.setConsent('granted');
    await v.track({ type: 'view', item: 'p0004' });
    await v.flush();
    return {
      gpc: v.globalPrivacyControl,
      consent: v.consent,
      mode: v.storageMode,
      removed,
      keys: Object.keys(localStorage),
      inMemory: JSON.parse(await v.exportState()).events.length,
      personalized: (await v.recommend({ k: 5, explain: true })).some((x) => x.why?.personalized),
    };
  });
  assert.equal(r.gpc, true);
  assert.equal(r.consent, 'granted');
  assert.equal(r.mode, 'memory', 'GPC turns granted into memory-only');
  assert.ok(r.removed, 'a stored session is deleted');
  assert.deepEqual(r.keys, [], 'nothing is written');
  assert.equal(r.inMemory, 2, 'in-memory personalization still works');
  assert.ok(r.personalized);
  assert.deepEqual(log.errors, []);
});
