// Experiments in the page (www/lib/experiments.js over the wasm `Experiments`), in headless
// Chromium against a real `vitrine exp collect` on loopback:
//  - no manifest (404) → nothing: no request after load, nothing stored, no label, no report, and
//    the experiments wasm (www/pkg-exp/) is never fetched, not by the engine either;
//  - GPC → not even the manifest is fetched: zero requests, never enrolled;
//  - with a manifest the experiments wasm is fetched once, without the engine's wasm;
//  - manifest + consent → one report per device per experiment (across reloads), accepted and
//    stored by the collector, with no item id in it; sent as text/plain, without credentials;
//  - a report whose send failed is re-sent with the same id and stored once;
//  - hostile manifests and stored states → typed errors / a state with no budget left;
//  - privacyStatus() shows the measurement budget; forget() clears tallies, not the spent budget;
//  - an interleaving experiment on a <vitrine-shelf> (its `ranker`): a team draft of both arms'
//    rankings, a click credits the clicked item's team, the report's interleaving_credit bit reaches
//    the collector and `vitrine exp analyze` reads it;
//  - the demo store's two-arm experiment (?experiment=<collector>): its report reaches the
//    collector and `vitrine exp analyze --db` reads it.
//
//   node --test tests/experiments.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';

import { CLI, collector as startCollector } from './_collector.mjs';
import { REPO, preflight, launch, serve, instrument, makeSite, ready } from './_browser.mjs';

const MANIFEST_PATH = path.join(REPO, 'docs', 'experiments.example.json');
const MANIFEST = JSON.parse(fs.readFileSync(MANIFEST_PATH, 'utf8'));
const EXP = MANIFEST.experiments[0].id;
const CATALOG = JSON.parse(fs.readFileSync(path.join(REPO, 'www', 'data', 'catalog.json'), 'utf8'));
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 5, 1, 12);

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
import * as V from './lib/index.js';
window.V = V;
window.now = ${T0};
window.clock = () => window.now;
window.pageReady = true;
</script></head><body></body></html>`;

/** The demo's collector by default (the manifest the tests serve). */
const collector = (t, dir, manifest = MANIFEST_PATH) => startCollector(t, dir, manifest);

/** Requests of the experiments wasm package (its glue and its .wasm). */
const expWasm = (log) => log.requests.map((r) => r.url()).filter((u) => u.includes('/pkg-exp/'));

const rows = (db, sql) => execFileSync('sqlite3', [db, sql], { encoding: 'utf8' }).trim();

async function site(t, dir, { manifest = true, gpc = false } = {}) {
  makeSite(dir, { 'exp.html': PAGE, ...(manifest ? { 'experiments.json': JSON.stringify(MANIFEST) } : {}) });
  const server = await serve(t, { root: dir });
  return server;
}

async function open(context, url) {
  const page = await context.newPage();
  const log = instrument(page);
  await page.goto(new URL('exp.html', url).href);
  await page.waitForFunction(() => window.pageReady === true);
  return { page, log };
}

/** Enrolled, triggered and clicked on the shelf; returns the arm. */
const engage = (page) =>
  page.evaluate(async (exp) => {
    const x = window.x;
    const a = x.assign(exp);
    await x.trigger(exp);
    await x.record(exp, 'shelf_click');
    return a;
  }, EXP);

test('experiments in the page', { timeout: 170_000 }, async (t) => {
  preflight();
  assert.ok(fs.existsSync(CLI), `the CLI is needed for the collector: ${CLI} (scripts/build)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-exp-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const browser = await launch();
  t.after(() => browser.close());
  const { url: reportsUrl, db } = await collector(t, tmp);

  await t.test('no manifest: nothing at all after load', async (t) => {
    const server = await site(t, path.join(tmp, 'none'), { manifest: false });
    const context = await browser.newContext();
    const { page, log } = await open(context, server.url);
    const before = await page.evaluate(async () => {
      window.x = await window.V.Experiments.load('experiments.json', { consent: 'granted', clock: window.clock });
      return { active: window.x.active, reason: window.x.inactiveReason };
    });
    assert.deepEqual(before, { active: false, reason: 'no_manifest' });
    const n = log.requests.length;
    const after = await page.evaluate(
      async ({ exp, reportsUrl }) => {
        const x = window.x;
        const r = {
          assign: x.assign(exp),
          trigger: await x.trigger(exp),
          record: await x.record(exp, 'shelf_click'),
          label: x.experimentLabel(exp),
          order: await x.orderLabel(exp),
          reports: await x.takeReports(),
          flush: await x.flush(reportsUrl),
          status: x.status(),
        };
        window.now += 30 * 86_400_000;
        r.later = await x.takeReports();
        r.storage = Object.keys(localStorage);
        return r;
      },
      { exp: EXP, reportsUrl },
    );
    assert.equal(after.assign.enrolled, false);
    assert.equal(after.trigger, false);
    assert.equal(after.label, null);
    assert.equal(after.order, null);
    assert.deepEqual(after.reports, []);
    assert.deepEqual(after.later, []);
    assert.deepEqual(after.flush, { sent: 0, refused: 0, failed: 0 });
    assert.equal(after.status, null);
    assert.deepEqual(after.storage, [], 'nothing stored');
    assert.deepEqual(log.requests.slice(n).map((r) => r.url()), [], 'no request after load');
    // The engine with these (inactive) experiments: it ranks, and the experiments wasm never came.
    const engine = await page.evaluate(async () => {
      const v = await window.V.Vitrine.load('data/store.vtr', { consent: 'granted', experiments: window.x });
      const recs = await v.recommend({ k: 3 });
      return { n: recs.length, measurement: (await v.privacyStatus()).measurement };
    });
    assert.equal(engine.n, 3);
    assert.equal(engine.measurement, null);
    assert.ok(log.requests.some((r) => r.url().endsWith('/pkg/vitrine_bg.wasm')), 'the engine wasm was fetched');
    assert.deepEqual(expWasm(log), [], 'the experiments wasm is never fetched without a manifest');
    await context.close();
  });

  await t.test('GPC: the manifest is not fetched, zero requests, never enrolled', async (t) => {
    const server = await site(t, path.join(tmp, 'gpc'));
    const context = await browser.newContext();
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true }));
    const { page, log } = await open(context, server.url);
    const n = log.requests.length;
    const r = await page.evaluate(
      async ({ exp, reportsUrl }) => {
        const x = await window.V.Experiments.load('experiments.json', { consent: 'granted', clock: window.clock });
        await x.trigger(exp);
        await x.record(exp, 'shelf_click');
        window.now += 30 * 86_400_000;
        return {
          reason: x.inactiveReason,
          assign: x.assign(exp),
          label: x.experimentLabel(exp),
          reports: await x.takeReports(),
          flush: await x.flush(reportsUrl),
          storage: Object.keys(localStorage),
        };
      },
      { exp: EXP, reportsUrl },
    );
    assert.equal(r.reason, 'gpc');
    assert.equal(r.assign.enrolled, false);
    assert.equal(r.assign.reason, 'gpc');
    assert.equal(r.label, null);
    assert.deepEqual(r.reports, []);
    assert.deepEqual(r.storage, []);
    assert.deepEqual(log.requests.slice(n).map((q) => q.url()), [], 'zero requests');
    assert.deepEqual(expWasm(log), [], 'no experiments wasm');
    await context.close();
  });

  await t.test('with consent: one report per device per experiment, stored once by the collector', async (t) => {
    const server = await site(t, path.join(tmp, 'consent'));
    const context = await browser.newContext();
    const { page, log } = await open(context, server.url);
    const load = () =>
      page.evaluate(async () => {
        window.x = await window.V.Experiments.load('experiments.json', { consent: 'granted', clock: window.clock });
        return window.x.storageIssues;
      });
    assert.deepEqual(await load(), []);
    const fetched = expWasm(log).map((u) => new URL(u).pathname);
    assert.deepEqual(fetched.filter((p) => p.endsWith('.wasm')), ['/pkg-exp/vitrine_exp_bg.wasm'], 'the experiments wasm is fetched once a manifest is loaded');
    assert.deepEqual(fetched.filter((p) => p.endsWith('/vitrine_exp.js')), ['/pkg-exp/vitrine_exp.js'], 'its glue, once');
    assert.ok(!log.requests.some((r) => r.url().endsWith('/pkg/vitrine_bg.wasm')), 'without the engine wasm');
    const a = await engage(page);
    assert.equal(a.enrolled, true);
    assert.ok(['control', 'diverse'].includes(a.arm), a.arm);
    assert.deepEqual(a.settings, MANIFEST.experiments[0].arms[a.armIndex].settings, 'the arm settings to apply');
    const labels = await page.evaluate(async (exp) => [window.x.experimentLabel(exp), await window.x.orderLabel(exp), await window.x.orderLabel(exp)], EXP);
    assert.deepEqual(labels, [`${EXP}:${a.arm}`, `${EXP}:${a.arm}`, null], 'exposure label, then one order label only');
    assert.deepEqual(await page.evaluate(() => window.x.takeReports()), [], 'window still open: no report');

    // The same device after a reload: same arm; then the window closes.
    await page.reload();
    await page.waitForFunction(() => window.pageReady === true);
    await load();
    const again = await page.evaluate((exp) => window.x.assign(exp), EXP);
    assert.equal(again.arm, a.arm, 'the stored device id keeps the arm');
    const n = log.requests.length;
    const reports = await page.evaluate(async () => {
      window.now += 2 * 86_400_000;
      return window.x.takeReports();
    });
    assert.equal(reports.length, 1, 'one report');
    const [report] = reports;
    assert.deepEqual(Object.keys(report).sort(), ['arm', 'epsilon', 'experiment', 'id', 'v', 'values']);
    assert.deepEqual(Object.keys(report.values).sort(), ['shelf_add_to_cart', 'shelf_click']);
    assert.ok(Object.values(report.values).every((b) => b === 0 || b === 1));
    assert.equal(report.arm, a.arm);
    assert.equal(report.epsilon, 2);
    const text = JSON.stringify(report);
    for (const p of CATALOG.products) assert.ok(!text.includes(p.id), `no item id in the report (${p.id})`);
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('vitrine:experiments')));
    assert.equal(stored.outbox.length, 1, 'write-ahead: the report is stored before it is returned');
    assert.equal(stored.state.tallies[EXP].reported, true);
    assert.equal(stored.state.spent_epsilon, 2);
    assert.deepEqual(log.requests.slice(n).map((r) => r.url()), [], 'taking a report sends nothing');

    const sent = await page.evaluate((u) => window.x.flush(u), reportsUrl);
    assert.deepEqual(sent, { sent: 1, refused: 0, failed: 0 });
    const posts = log.requests.slice(n).filter((r) => r.method() === 'POST');
    assert.equal(posts.length, 1);
    const headers = await posts[0].allHeaders();
    assert.match(headers['content-type'], /^text\/plain/);
    assert.equal(headers.cookie, undefined, 'no credentials');
    assert.deepEqual(JSON.parse(posts[0].postData()), report);
    assert.equal(rows(db, `SELECT COUNT(*) FROM reports WHERE id = '${report.id}'`), '1', 'the collector stored it');

    // Never a second report: not later, not after a reload.
    const later = await page.evaluate(async () => {
      window.now += 30 * 86_400_000;
      return window.x.takeReports();
    });
    assert.deepEqual(later, []);
    await page.reload();
    await page.waitForFunction(() => window.pageReady === true);
    await load();
    const afterReload = await page.evaluate(async () => {
      window.now += 60 * 86_400_000;
      return { reports: await window.x.takeReports(), status: window.x.status(), pending: window.x.pendingReports };
    });
    assert.deepEqual(afterReload.reports, []);
    assert.deepEqual(afterReload.status, { budgetEpsilon: 8, spentEpsilon: 2, experiments: 1, reports: 1 });
    assert.equal(afterReload.pending, 0);
    await context.close();
  });

  await t.test('a failed send is retried with the same id and stored once', async (t) => {
    const server = await site(t, path.join(tmp, 'retry'));
    const context = await browser.newContext();
    const { page } = await open(context, server.url);
    await page.evaluate(async () => {
      window.x = await window.V.Experiments.load('experiments.json', { consent: 'granted', clock: window.clock });
    });
    await engage(page);
    const r = await page.evaluate(async (u) => {
      window.now += 2 * 86_400_000;
      const [report] = await window.x.takeReports();
      // A collector that is not there: the report stays in the outbox.
      const down = await window.x.flush('http://127.0.0.1:9/v1/reports');
      const pending = window.x.pendingReports;
      const up = await window.x.flush(u);
      // The page (or a network retry) sends the same report once more: a duplicate.
      const res = await fetch(u, { method: 'POST', body: JSON.stringify(report), headers: { 'content-type': 'text/plain' }, credentials: 'omit' });
      return { report, down, pending, up, again: await res.json(), left: window.x.pendingReports };
    }, reportsUrl);
    assert.deepEqual(r.down, { sent: 0, refused: 0, failed: 1 });
    assert.equal(r.pending, 1);
    assert.deepEqual(r.up, { sent: 1, refused: 0, failed: 0 });
    assert.deepEqual(r.again, { stored: 0, duplicates: 1 });
    assert.equal(r.left, 0);
    assert.equal(rows(db, `SELECT COUNT(*) FROM reports WHERE id = '${r.report.id}'`), '1', 'stored once');
    await context.close();
  });

  await t.test('without consent: an arm per page session, no label, no report, nothing stored', async (t) => {
    const server = await site(t, path.join(tmp, 'pending'));
    const context = await browser.newContext();
    const { page, log } = await open(context, server.url);
    const r = await page.evaluate(async (exp) => {
      const x = await window.V.Experiments.load('experiments.json', { clock: window.clock });
      const a = x.assign(exp);
      await x.trigger(exp);
      await x.record(exp, 'shelf_click');
      window.now += 2 * 86_400_000;
      return { a, label: x.experimentLabel(exp), reports: await x.takeReports(), storage: Object.keys(localStorage) };
    }, EXP);
    assert.equal(r.a.enrolled, true, 'the shopper may see an arm');
    assert.equal(r.label, null);
    assert.deepEqual(r.reports, []);
    assert.deepEqual(r.storage, []);
    assert.ok(log.requests.every((q) => q.method() === 'GET' && q.url().startsWith(server.url)), 'only same-origin GETs');
    await context.close();
  });

  await t.test('hostile manifests and stored states: typed errors, never a refilled budget', async (t) => {
    const server = await site(t, path.join(tmp, 'hostile'));
    const context = await browser.newContext();
    const { page } = await open(context, server.url);
    const codes = await page.evaluate(async (m) => {
      const bad = (f) => {
        const x = structuredClone(m);
        f(x);
        return x;
      };
      const cases = [
        bad((x) => (x.extra = 1)),
        bad((x) => delete x.experiments[0].salt),
        bad((x) => (x.experiments[0].arms[0].allocation = 'half')),
        bad((x) => (x.experiments[0].arms[0].allocation = 0.9)),
        bad((x) => (x.version = 2)),
        bad((x) => (x.experiments[0].namespace.range = [0])),
        bad((x) => (x.experiments[0].metrics[2].epsilon = 1e9)),
        'not an object',
        null,
      ];
      const out = [];
      for (const c of cases) {
        try {
          await window.V.Experiments.fromManifest(c, { storage: 'memory' });
          out.push('accepted');
        } catch (e) {
          out.push(`${e.name}:${e.code}`);
        }
      }
      return out;
    }, MANIFEST);
    assert.deepEqual(codes, [
      'VitrineError:unknown_field',
      'VitrineError:missing_field',
      'VitrineError:invalid_type',
      'VitrineError:allocation',
      'VitrineError:manifest_version',
      'VitrineError:invalid_type',
      'VitrineError:epsilon',
      'VitrineError:invalid_type',
      'VitrineError:missing_field',
    ]);

    const withPath = await page.evaluate(async (m) => {
      const x = structuredClone(m);
      x.experiments[0].arms[1].allocation = 0.75;
      try {
        await window.V.Experiments.fromManifest(x, { storage: 'memory' });
        return null;
      } catch (e) {
        return [e.code, e.path];
      }
    }, MANIFEST);
    assert.deepEqual(withPath, ['allocation', 'experiments[0].arms[1].allocation']);

    // The manifest is checked like the bundle: a wrong integrity hash refuses it before reading.
    const sri = `sha256-${crypto.createHash('sha256').update(JSON.stringify(MANIFEST)).digest('base64')}`;
    const integrity = await page.evaluate(async (sri) => {
      const ok = await window.V.Experiments.load('experiments.json', { integrity: sri, storage: 'memory' });
      let bad;
      try {
        await window.V.Experiments.load('experiments.json', { integrity: 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', storage: 'memory' });
      } catch (e) {
        bad = e.code;
      }
      return { ok: ok.active, bad };
    }, sri);
    assert.deepEqual(integrity, { ok: true, bad: 'integrity' });

    for (const stored of [
      '{not json',
      JSON.stringify({ v: 1, device: 'x'.repeat(32), state: { format: 'vitrine-experiment-state', budget_epsilon: 8, spent_epsilon: -5, tallies: {} }, outbox: [] }),
      JSON.stringify({ v: 1, device: '0'.repeat(32), state: { format: 'vitrine-experiment-state', budget_epsilon: 1e9, spent_epsilon: 0, tallies: { a: 1 } }, outbox: [] }),
      JSON.stringify({ v: 1, device: '0'.repeat(32), state: { format: 'other' , budget_epsilon: 8, spent_epsilon: 0, tallies: {} } }),
    ]) {
      const r = await page.evaluate(
        async ({ stored, exp }) => {
          localStorage.setItem('vitrine:experiments', stored);
          const x = await window.V.Experiments.load('experiments.json', { consent: 'granted', clock: window.clock });
          await x.trigger(exp);
          window.now += 2 * 86_400_000;
          return { issues: x.storageIssues.map((i) => i.code), reports: await x.takeReports(), status: x.status() };
        },
        { stored, exp: EXP },
      );
      assert.deepEqual(r.issues, ['state_corrupt'], stored);
      assert.deepEqual(r.reports, [], 'no budget: no report');
      assert.equal(r.status.budgetEpsilon, 0, 'a damaged store never refills the budget');
    }
    await context.close();
  });

  await t.test('privacyStatus shows the measurement budget; forget keeps what was spent', async (t) => {
    const server = await site(t, path.join(tmp, 'status'));
    const context = await browser.newContext();
    const { page } = await open(context, server.url);
    const r = await page.evaluate(async (exp) => {
      const x = await window.V.Experiments.load('experiments.json', { consent: 'granted', clock: window.clock });
      const v = await window.V.Vitrine.load('data/store.vtr', { consent: 'granted', experiments: x });
      await x.trigger(exp);
      window.now += 2 * 86_400_000;
      await x.takeReports();
      const before = (await v.privacyStatus()).measurement;
      await v.forget();
      const after = (await v.privacyStatus()).measurement;
      return { before, after, same: v.experiments === x };
    }, EXP);
    assert.equal(r.same, true);
    assert.deepEqual(r.before, { budgetEpsilon: 8, spentEpsilon: 2, experiments: 1, reports: 1 });
    assert.deepEqual(r.after, { budgetEpsilon: 8, spentEpsilon: 2, experiments: 0, reports: 0 });
    await context.close();
  });

  await t.test('interleaving: the shelf team-drafts both arms, a click credits its team, the report reaches analyze', async (t) => {
    const dir = path.join(tmp, 'interleave');
    const manifest = {
      format: 'vitrine-experiments',
      version: 1,
      experiments: [
        {
          id: 'rankers',
          salt: 'interleave-test-salt-5d2e9c',
          start: '2026-01-01',
          end: '2030-01-01',
          namespace: { name: 'home', range: [0, 1] },
          design: 'interleaving',
          arms: [{ name: 'plain' }, { name: 'diverse', settings: { options: { diversity: { lambda: 0.3 } } } }],
          metrics: [{ name: 'interleaving_credit', epsilon: 1 }],
          report: { epsilon: 1, window_days: 1 },
        },
      ],
    };
    makeSite(dir, { 'exp.html': PAGE, 'experiments.json': JSON.stringify(manifest) });
    const manifestPath = path.join(dir, 'experiments.json');
    const col = await collector(t, fs.mkdtempSync(path.join(tmp, 'interleave-db-')), manifestPath);
    const server = await serve(t, { root: dir });
    const context = await browser.newContext();
    const { page, log } = await open(context, server.url);
    const r = await page.evaluate(async () => {
      const { defineVitrineShelf } = await import('./lib/shelf.js');
      defineVitrineShelf();
      const x = await window.V.Experiments.load('experiments.json', { consent: 'granted', clock: window.clock });
      // Exact rankings (explicit non-private mode), so the draft can be checked against both arms.
      const v = await window.V.Vitrine.load('data/store.vtr', { consent: 'granted', experiments: x, settings: { privacy: { epsilon: Infinity } } });
      const catalog = await (await fetch('data/catalog.json')).json();
      const a = (await v.recommend({ k: 6 })).map((i) => i.id);
      const b = (await v.recommend({ k: 6, diversity: { lambda: 0.3 } })).map((i) => i.id);
      const shelf = document.createElement('vitrine-shelf');
      shelf.setAttribute('k', '6');
      const credited = [];
      shelf.addEventListener('vitrine:render', () => x.trigger('rankers'));
      shelf.addEventListener('vitrine:click', (e) => {
        e.preventDefault();
        credited.push(x.creditClick('rankers', e.detail.id));
      });
      document.body.append(shelf);
      shelf.catalog = catalog;
      shelf.ranker = x.ranker('rankers');
      shelf.vitrine = v;
      await shelf.ready;
      await new Promise((r) => setTimeout(r, 50)); // the render's trigger
      const items = shelf.items.map((i) => ({ id: i.id, team: i.team, rank: i.rank }));
      const card = [...shelf.shadowRoot.querySelectorAll('.card')].find((c) => shelf.items.find((i) => i.id === c.dataset.id)?.team === 1);
      card.querySelector('.link').click();
      const counted = await Promise.all(credited);
      const assign = x.assign('rankers');
      const tally = JSON.parse(localStorage.getItem('vitrine:experiments')).state.tallies.rankers.interleaving;
      window.now += 2 * 86_400_000;
      const reports = await x.takeReports();
      return { a, b, items, counted, assign, tally, reports };
    });
    assert.equal(r.assign.interleaved, true);
    assert.equal(r.assign.arm, 'interleaved');
    assert.notDeepEqual(r.a, r.b, 'the arms rank differently');
    // A team draft: distinct ids, teams within one pick of each other, each pick its team's best
    // item not yet on the shelf.
    assert.equal(r.items.length, 6);
    assert.equal(new Set(r.items.map((i) => i.id)).size, 6);
    assert.deepEqual(r.items.map((i) => i.rank), [1, 2, 3, 4, 5, 6]);
    const picks = [0, 0];
    r.items.forEach((item, i) => {
      const ranking = item.team === 0 ? r.a : r.b;
      const shown = new Set(r.items.slice(0, i).map((x) => x.id));
      assert.equal(item.id, ranking.find((id) => !shown.has(id)), `pick ${i + 1} is team ${item.team}'s best item left`);
      assert.ok(picks[item.team] <= picks[1 - item.team], `team ${item.team} picks only when it is not ahead`);
      picks[item.team]++;
    });
    assert.deepEqual(r.counted, [true], 'the click counted');
    assert.deepEqual(r.tally, { a: 0, b: 1 }, 'credited to the second arm');
    assert.equal(r.reports.length, 1);
    const [report] = r.reports;
    assert.equal(report.arm, 'interleaved');
    assert.deepEqual(Object.keys(report.values), ['interleaving_credit']);
    assert.ok(report.values.interleaving_credit === 0 || report.values.interleaving_credit === 1);
    for (const p of CATALOG.products) assert.ok(!JSON.stringify(report).includes(p.id), 'no item id in the report');

    const n = log.requests.length;
    const flushed = await page.evaluate(async (u) => {
      // The same Experiments as above is not on window: load it again (the outbox is stored).
      const x = await window.V.Experiments.load('experiments.json', { consent: 'granted', clock: window.clock });
      return { pending: x.pendingReports, sent: await x.flush(u) };
    }, col.url);
    assert.deepEqual(flushed, { pending: 1, sent: { sent: 1, refused: 0, failed: 0 } });
    assert.equal(log.requests.slice(n).filter((q) => q.method() === 'POST').length, 1);
    assert.equal(rows(col.db, `SELECT COUNT(*) FROM reports WHERE experiment = 'rankers' AND arm = 'interleaved'`), '1');
    const analysis = JSON.parse(execFileSync(CLI, ['exp', 'analyze', '--manifest', manifestPath, '--db', col.db, '--json'], { encoding: 'utf8' }));
    const l1 = analysis.experiments[0].layer1;
    assert.deepEqual(l1.arms.map((a) => [a.arm, a.reports]), [['interleaved', 1]]);
    assert.deepEqual(l1.interleaving.arms, ['plain', 'diverse']);
    await context.close();
  });

  await t.test('the demo store runs its experiment; vitrine exp analyze --db reads the report', async (t) => {
    const demo = await collector(t, fs.mkdtempSync(path.join(tmp, 'demo-')));
    fs.copyFileSync(MANIFEST_PATH, path.join(REPO, 'www', 'data', 'experiments.json'));
    const server = await serve(t);
    const context = await browser.newContext();
    const page = await context.newPage();
    const log = instrument(page);
    const url = (days) => `${server.url}?experiment=${encodeURIComponent(demo.url)}&experiment-days=${days}`;
    await page.goto(url(0));
    // On a timeout, say what the page showed and requested (a bare timeout tells nothing).
    const demoReady = () =>
      ready(page).catch(async (err) => {
        const seen = await page.evaluate(() => { const h = document.querySelector('#shelf'); return [document.querySelector('#shelf-note')?.textContent, document.querySelector('#experiment-note')?.textContent, !!window.vitrine, h?.renderCount, h?.pending, window.vitrineShelfRenders, window.vitrineExperimentRuns, location.hash, !!window.vitrineExperiments]; });
        throw new Error(`${err.message}; the page logged: ${log.errors.join(' | ')}; shows ${JSON.stringify(seen)}; requests ${log.requests.map((r) => r.url()).join(' ')}`);
      });
    await demoReady();
    await page.waitForFunction(() => window.vitrineExperimentRuns >= 1);
    assert.match(await page.locator('#experiment-note').textContent(), /nothing leaves this device without consent/);
    await page.locator('#consent-grant').click();
    await page.waitForFunction(() => window.vitrineExperimentRuns >= 2);
    const note = await page.locator('#experiment-note').textContent();
    const arm = /arm “(\w+)”/.exec(note)?.[1];
    assert.ok(['control', 'diverse'].includes(arm), note);
    assert.match(note, new RegExp(`label ${EXP}:${arm}`));
    assert.match(note, /reports sent 0/, 'the window is open: no report yet');
    // The home shelf rendered in this arm: the device is triggered (a reload renders it again).
    await page.reload();
    await demoReady();
    const triggered = await page.evaluate(() => window.vitrineExperiments.status().experiments);
    assert.equal(triggered, 1, 'triggered where the shelf rendered');
    const status = await page.evaluate(async () => (await window.vitrine.privacyStatus()).measurement);
    assert.deepEqual(status, { budgetEpsilon: 8, spentEpsilon: 0, experiments: 1, reports: 0 });

    // Two days later the window (1 day) is over: the one report leaves, once.
    await page.waitForLoadState('networkidle');
    await page.goto(url(2));
    await demoReady();
    await page.waitForFunction(() => window.vitrineExperimentRuns >= 1);
    assert.match(await page.locator('#experiment-note').textContent(), /reports sent 1 \(just now\)/);
    assert.equal(rows(demo.db, `SELECT COUNT(*) FROM reports WHERE experiment = '${EXP}' AND arm = '${arm}'`), '1');
    await page.reload();
    await demoReady();
    await page.waitForFunction(() => window.vitrineExperimentRuns >= 1);
    assert.match(await page.locator('#experiment-note').textContent(), /reports sent 0/, 'never a second report');
    assert.equal(rows(demo.db, 'SELECT COUNT(*) FROM reports'), '1');
    const posts = log.requests.filter((r) => r.method() === 'POST');
    assert.equal(posts.length, 1, 'one request leaves the device: the report');

    const analysis = JSON.parse(execFileSync(CLI, ['exp', 'analyze', '--manifest', MANIFEST_PATH, '--db', demo.db, '--json'], { encoding: 'utf8' }));
    const arms = analysis.experiments[0].layer1.arms;
    assert.deepEqual(arms.map((a) => [a.arm, a.reports]), [[arm, 1]], JSON.stringify(arms));
    await context.close();
  });
});
