// Off-policy evaluation in the page (docs/EXPERIMENTS.md, "Off-policy evaluation"), in headless
// Chromium against a real `vitrine exp collect` on loopback, with the default privacy settings
// (unit 'device', the shelf-cut release) and consent granted:
//  - an A/B arm's ranker asks the engine for its exploration slice (the manifest's `report.ope`)
//    and gets the fresh release's probabilities (`propensity`), on the main thread and in a worker;
//  - the release waits in the stored experiment envelope for a shelf click (its reward), across a
//    full page load, and is tallied when the next release replaces it: the device's clipped sums
//    are exactly the IPS / weight / DR terms of its releases;
//  - the report carries only the three randomized values (no item id, no propensity), the
//    collector stores it and `vitrine exp analyze` reads it.
//
//   node --test tests/experiments-ope.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

import { CLI, collector } from './_collector.mjs';
import { REPO, preflight, launch, serve, instrument, makeSite } from './_browser.mjs';

const CATALOG = JSON.parse(fs.readFileSync(path.join(REPO, 'www', 'data', 'catalog.json'), 'utf8'));
const T0 = Date.UTC(2026, 5, 1, 12);
const EXP = 'ope-shelf';
const OPE = { clip: 10, candidate: { epsilon: 4 }, exploration: { share: 0.3, epsilon: 0.5 }, reward_model: { top: 0.3, rest: 0.1 } };
const MANIFEST = {
  format: 'vitrine-experiments',
  version: 1,
  experiments: [
    {
      id: EXP,
      salt: 'ope-test-salt-3b9f0d51c2',
      start: '2026-01-01',
      end: '2030-01-01',
      // Both arms run the same setting: OPE logs whichever arm the device's coin gave it.
      arms: [
        { name: 'a', allocation: 0.5 },
        { name: 'b', allocation: 0.5 },
      ],
      metrics: [
        { name: 'ope_ips', epsilon: 1 },
        { name: 'ope_weight', epsilon: 1 },
        { name: 'ope_dr', epsilon: 1 },
      ],
      report: { epsilon: 3, window_days: 1, ope: OPE },
    },
  ],
};

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
import * as V from './lib/index.js';
window.V = V;
window.now = Number(sessionStorage.getItem('now') ?? ${T0});
window.clock = () => window.now;
window.pageReady = true;
</script></head><body></body></html>`;

/** One page load: the experiments and the engine loaded, one product viewed, the arm's shelf ranked. */
const pageLoad = (page, { item, worker = false }) =>
  page.evaluate(
    async ({ exp, item, worker }) => {
      const x = await window.V.Experiments.load('experiments.json', { consent: 'granted', clock: window.clock });
      const v = await window.V.Vitrine.load('data/store.vtr', { consent: 'granted', experiments: x, worker });
      await v.track({ type: 'view', item });
      const list = await x.ranker(exp)({ k: 6 }, v);
      await x.trigger(exp);
      const stored = () => JSON.parse(localStorage.getItem('vitrine:experiments'));
      window.x = x;
      return { ids: list.map((i) => i.id), propensity: list.propensity ?? null, warnings: list.warnings, stored: stored() };
    },
    { exp: EXP, item, worker },
  );

test('off-policy evaluation in the page: release probabilities, rewards, the report', { timeout: 120_000 }, async (t) => {
  preflight();
  assert.ok(fs.existsSync(CLI), `the CLI is needed for the collector: ${CLI} (scripts/build)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-ope-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  makeSite(tmp, { 'exp.html': PAGE, 'experiments.json': JSON.stringify(MANIFEST) });
  const manifestPath = path.join(tmp, 'experiments.json');
  const col = await collector(t, fs.mkdtempSync(path.join(tmp, 'db-')), manifestPath);
  const server = await serve(t, { root: tmp });
  const browser = await launch();
  t.after(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = instrument(page);
  await page.goto(new URL('exp.html', server.url).href);
  await page.waitForFunction(() => window.pageReady === true);

  // Page 1: a fresh release (of the empty device record) with its probabilities; a shelf click.
  const first = await pageLoad(page, { item: CATALOG.products[0].id });
  assert.equal(first.ids.length, 6);
  assert.deepEqual(first.warnings, []);
  const p1 = first.propensity;
  assert.ok(p1, 'a fresh release reports its probabilities');
  assert.deepEqual(Object.keys(p1).sort(), ['candidate', 'candidateKeyShown', 'keyShown', 'logging']);
  assert.ok(p1.logging > 0 && p1.logging <= 1 && p1.candidate >= 0 && p1.candidate <= 1);
  assert.deepEqual(first.stored.releases[EXP], { propensity: p1, reward: 0, at: T0 });
  const clicked = await page.evaluate(async (exp) => {
    const counted = await window.x.record(exp, 'shelf_click');
    return { counted, stored: JSON.parse(localStorage.getItem('vitrine:experiments')).releases };
  }, EXP);
  assert.equal(clicked.counted, true);
  assert.equal(clicked.stored[EXP].reward, 1, 'the click is the waiting release reward');

  // Page 2 (a full page load, in a worker): the device record changed, so a fresh release; the
  // first one is tallied with its reward.
  await page.evaluate((now) => sessionStorage.setItem('now', String(now)), T0 + 60_000);
  await page.reload();
  await page.waitForFunction(() => window.pageReady === true);
  const second = await pageLoad(page, { item: CATALOG.products[1].id, worker: true });
  const p2 = second.propensity;
  assert.ok(p2, 'the worker passes the probabilities on');
  assert.deepEqual(second.stored.releases[EXP], { propensity: p2, reward: 0, at: T0 + 60_000 });
  const { top, rest } = OPE.reward_model;
  const term = (p, reward) => {
    const w = Math.min(p.candidate / p.logging, OPE.clip);
    const q = p.keyShown ? top : rest;
    const dm = p.candidateKeyShown * top + (1 - p.candidateKeyShown) * rest;
    return { wr: w * reward, w, dr: dm + w * (reward - q) };
  };
  const close = (a, b, what) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} against ${b}`);
  const t1 = term(p1, 1);
  const tally1 = second.stored.state.tallies[EXP].ope;
  assert.equal(tally1.n, 1);
  close(tally1.sum_wr, t1.wr, 'sum_wr');
  close(tally1.sum_w, t1.w, 'sum_w');
  close(tally1.sum_dr, t1.dr, 'sum_dr');

  // Two days later: the waiting release (no click) is tallied, then the one report is built.
  const n = log.requests.length;
  const done = await page.evaluate(
    async ({ exp, url }) => {
      window.now += 2 * 86_400_000;
      const reports = await window.x.takeReports();
      const stored = JSON.parse(localStorage.getItem('vitrine:experiments'));
      return { reports, tally: stored.state.tallies[exp].ope, releases: stored.releases, sent: await window.x.flush(url) };
    },
    { exp: EXP, url: col.url },
  );
  const t2 = term(p2, 0);
  assert.equal(done.tally.n, 2);
  close(done.tally.sum_wr, t1.wr + t2.wr, 'sum_wr');
  close(done.tally.sum_w, t1.w + t2.w, 'sum_w');
  close(done.tally.sum_dr, t1.dr + t2.dr, 'sum_dr');
  assert.deepEqual(done.releases, {});
  assert.equal(done.reports.length, 1);
  const [report] = done.reports;
  assert.deepEqual(Object.keys(report.values).sort(), ['ope_dr', 'ope_ips', 'ope_weight']);
  const text = JSON.stringify(report);
  assert.ok(!/propensity|logging|keyShown/.test(text), 'no probability leaves the device');
  for (const p of CATALOG.products) assert.ok(!text.includes(`"${p.id}"`), 'no item id in the report');
  assert.deepEqual(done.sent, { sent: 1, refused: 0, failed: 0 });
  assert.equal(log.requests.slice(n).filter((q) => q.method() === 'POST').length, 1, 'one request: the report');
  const stored = execFileSync('sqlite3', [col.db, `SELECT COUNT(*) FROM reports WHERE experiment = '${EXP}'`], { encoding: 'utf8' }).trim();
  assert.equal(stored, '1');
  const analysis = JSON.parse(execFileSync(CLI, ['exp', 'analyze', '--manifest', manifestPath, '--db', col.db, '--json'], { encoding: 'utf8' }));
  const l1 = analysis.experiments[0].layer1;
  assert.equal(l1.ope.length > 0, true, 'analyze reads the OPE sums');

  // Hostile stored releases: a value that is no probability is refused by the wasm (a storage
  // issue, never an exception in the page) and a wrong shape is dropped on reading.
  const hostile = await page.evaluate(async ({ exp, item }) => {
    const e = JSON.parse(localStorage.getItem('vitrine:experiments'));
    e.releases = {
      [exp]: { propensity: { logging: 0, candidate: 2, keyShown: true, candidateKeyShown: 0.5 }, reward: 1, at: window.now },
      other: { propensity: 'x', reward: 7 },
    };
    localStorage.setItem('vitrine:experiments', JSON.stringify(e));
    const x = await window.V.Experiments.load('experiments.json', { consent: 'granted', clock: window.clock });
    const v = await window.V.Vitrine.load('data/store.vtr', { consent: 'granted' });
    await v.track({ type: 'view', item });
    await x.ranker(exp)({ k: 6 }, v); // a fresh release: the stored one is tallied first
    return x.storageIssues;
  }, { exp: EXP, item: CATALOG.products[2].id });
  assert.ok(hostile.some((i) => i.code === 'invalid_value'), JSON.stringify(hostile));
  assert.deepEqual(log.errors, []);
  await context.close();
});
