// The benchmark page must keep working (it is not run timed here: no assertion is about speed).
// Runs www/bench/ through scripts/bench.mjs on a tiny catalog with a few iterations and checks
// that the result is well formed: every job timed for the engine and the plain-JS baseline, the
// sizes and memory figures present, the baseline's top-20 agreeing with the engine's, and ONNX
// Runtime Web (served from node_modules) loaded, timed, and giving the plain-JS top-20.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, CHROMIUM } from './_browser.mjs';
import { runBench, markdownReport } from '../scripts/bench.mjs';
import { fmtMs } from '../www/bench/report.js';

const ORT_VERSION = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).devDependencies['onnxruntime-web'];
const ORT_JOBS = ['recommend top-20 (ε = ∞)', 'track + recommend (ε = ∞)'];

/** Asserts `s` is a well-formed timing of `runs` samples. */
function assertStats(s, runs, what) {
  assert.ok(s, `${what} timed`);
  assert.equal(s.runs, runs, what);
  assert.ok(s.batch >= 1);
  for (const k of ['p50', 'p95', 'mean', 'min', 'max']) {
    assert.ok(Number.isFinite(s[k]) && s[k] >= 0, `${what}.${k} = ${s[k]}`);
  }
  assert.ok(s.p50 <= s.p95 && s.min <= s.p50 && s.p95 <= s.max, `${what}: ordered stats`);
}

test('the bench page runs and reports every job for wasm, plain JS and ONNX Runtime Web', { timeout: 180_000 }, async () => {
  for (const f of ['www/pkg/vitrine.js', 'www/pkg/vitrine_bg.wasm']) {
    assert.ok(fs.existsSync(path.join(REPO, f)), `missing ${f}: run scripts/build first`);
  }
  assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}`);
  const r = await runBench({ sizes: [1500], runs: 3, warmup: 1 });

  assert.match(r.browser, /^Chromium \d+/);
  assert.ok(r.machine.nproc >= 1 && r.machine.cpu);
  assert.ok(r.timerResolutionUs.median > 0);
  for (const part of ['wasm', 'glue']) {
    for (const k of ['raw', 'gzip', 'brotli']) assert.ok(r.package[part][k] > 0, `${part}.${k}`);
  }
  assert.equal(r.catalogs.length, 1);
  const c = r.catalogs[0];
  assert.equal(c.n, 1500);
  assert.equal(c.d, 64);
  assert.ok(c.bytesPerItem > 64, 'a bundle holds at least the int8 row per item');
  assert.ok(c.memory.afterLoad > 0 && c.memory.atEnd >= c.memory.afterLoad);
  assert.match(c.kernel, /^(simd128|scalar)$/);

  const jobs = Object.keys(c.jobs);
  for (const j of ['load (verified)', 'recommend top-20', 'rerank 200', 'rerank 200, new ids', 'track + recommend', 'restore + track + recommend']) {
    assert.ok(jobs.includes(j), `job '${j}' in ${jobs.join(', ')}`);
  }
  for (const [job, t] of Object.entries(c.jobs)) {
    for (const side of ['wasm', 'js']) assertStats(t[side], 3, `${job} ${side}`);
    // ORT does the non-private whole-catalog jobs, and only those.
    if (ORT_JOBS.includes(job)) assertStats(t.ort, 3, `${job} ort`);
    else assert.equal(t.ort, undefined, `${job}: no ORT figure`);
  }
  // The private rows run today's default unit ('device'): a restored session makes one fresh
  // release per page load (every restore + track + recommend), a page's own event none.
  assert.equal(c.privacy.unit, 'device');
  assert.equal(c.privacy.restoreFresh, '5/5', 'every restore + track + recommend made a fresh release');
  assert.equal(c.privacy.releasesDuringTrackRecommend, 0, 'a tracked page event makes no release');

  // The baseline does the same job: with privacy off its top-20 is the engine's (ties aside).
  const [same, of] = c.overlap.split('/').map(Number);
  assert.equal(of, 20);
  assert.ok(same >= 18, `overlap ${c.overlap}`);

  // ONNX Runtime Web: the version pinned in package.json, wasm, one thread, no proxy; its files
  // fetched from node_modules (the .mjs and the .wasm) and sized; a session created and timed;
  // and its top-20 the plain-JS baseline's (the page fails otherwise: checked here too).
  assert.equal(r.ort.version, ORT_VERSION);
  assert.deepEqual([r.ort.executionProvider, r.ort.numThreads, r.ort.proxy], ['wasm', 1, false]);
  assert.ok(r.ort.runtimeInitMs > 0 && r.ort.memoryAfterInit > 0 && r.ort.memoriesWatched === 1);
  const files = r.ort.download.files.map((f) => f.file);
  assert.ok(files.some((f) => f.endsWith('.wasm')) && files.some((f) => f.endsWith('.mjs')), files.join(', '));
  for (const f of r.ort.download.files) {
    assert.ok(fs.statSync(path.join(REPO, 'node_modules/onnxruntime-web/dist', f.file)).size === f.raw, f.file);
    assert.ok(f.gzip > 0 && f.gzip < f.raw, f.file);
  }
  assert.equal(r.ort.download.total.raw, r.ort.download.files.reduce((a, f) => a + f.raw, 0));
  const o = c.ort;
  assert.equal(o.itemMatrixBytes, 4 * 65 * 1500);
  assert.ok(o.modelBytes > 0 && o.modelBytes < 1000, `model ${o.modelBytes} bytes: the matrix is external data`);
  assert.ok(o.prepareMs >= 0 && o.firstCreateMs > 0);
  assertStats(o.create, 3, 'ORT session create');
  assert.ok(o.memory.afterLoad >= o.memory.beforeLoad && o.memory.beforeLoad > 0);
  assert.ok(o.memory.atEnd >= o.memory.afterLoad);
  assert.deepEqual([o.agreement.agree, o.agreement.same, o.agreement.of], [true, 20, 20]);
  assert.ok(o.agreement.maxScoreDiff < 1e-5, `ORT's f32 scores: ${o.agreement.maxScoreDiff}`);

  const md = markdownReport(r);
  assert.match(md, /\| catalog \| job \| wasm p50 \|.*\| ORT p50 \|/);
  assert.match(md, /vitrine_bg\.wasm/);
  assert.match(md, /1,500 × 64 \| rerank 200 \|/);
  assert.match(md, new RegExp(`onnxruntime-web ${ORT_VERSION.replace(/\./g, '\\.')}: ort-wasm-simd-threaded\\.wasm \\|`));
  assert.match(md, /\| 1,500 × 64 \| 390\.0 KB \|.*✅ 20\/20 \(.*\) \| \d+\.\d\d× \|$/m, 'ORT table: agreement, speed-up (no target at 1,500)');
});

test('the bench page runs without ONNX Runtime Web when asked (ort=0)', { timeout: 60_000 }, async () => {
  const r = await runBench({ sizes: [300], runs: 1, warmup: 0, ort: false });
  assert.equal(r.ort, null);
  assert.equal(r.catalogs[0].ort, null);
  for (const t of Object.values(r.catalogs[0].jobs)) assert.equal(t.ort, undefined);
  assert.doesNotMatch(markdownReport(r), /onnxruntime-web|ONNX Runtime/);
});

test('with --compact the page times each catalog\'s compact twin beside the int8 bundle and ORT', { timeout: 120_000 }, async () => {
  const r = await runBench({ sizes: [1500], runs: 2, warmup: 0, compact: true });
  // The twin the driver wrote is the page's catalog, compacted: same items, fewer bytes.
  assert.equal(r.compacted[1500].items, 1500);
  const c = r.catalogs[0];
  const x = c.compact;
  assert.ok(x, 'the compact twin was timed');
  assert.equal(x.bundleBytes, r.compacted[1500].bytes, 'the page loaded the file vitrine compact wrote');
  assert.ok(x.bytesPerItem < c.bytesPerItem, `${x.bytesPerItem} bytes per item against ${c.bytesPerItem}`);
  assert.match(x.overlap, /^\d+\/20$/);
  for (const job of ['load (verified)', 'recommend top-20 (ε = ∞)', 'rerank 200, new ids (ε = ∞)', 'rerank 200 (ε = ∞)']) {
    assertStats(x.jobs[job].wasm, 2, `compact ${job}`);
  }
  assertStats(x.jobs['recommend top-20 (ε = ∞)'].ort, 2, 'ORT beside the compact recommend');
  const md = markdownReport(r);
  assert.match(md, /\| 1,500 × 64 \| [\d.]+ KB \| [\d.]+ \([\d.]+\) \|.*\| \d+\/20 \|$/m, md);
});

test('durations print with 3 significant digits in µs, ms or s', () => {
  const shown = [0.0123, 0.9994, 0.9996, 12.34, 999.4, 999.6, 1300, undefined, NaN].map(fmtMs);
  assert.deepEqual(shown, ['12.3 µs', '999 µs', '1.00 ms', '12.3 ms', '999 ms', '1.00 s', '1.30 s', '–', '–']);
});
