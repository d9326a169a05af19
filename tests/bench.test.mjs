// The benchmark page must keep working (it is not run timed here: no assertion is about speed).
// Runs www/bench/ through scripts/bench.mjs on a tiny catalog with a few iterations and checks
// that the result is well formed: every job timed for the engine and the plain-JS baseline, the
// sizes and memory figures present, and the baseline's top-20 agreeing with the engine's.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, CHROMIUM } from './_browser.mjs';
import { runBench, markdownReport } from '../scripts/bench.mjs';

test('the bench page runs and reports every job for wasm and plain JS', { timeout: 180_000 }, async () => {
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
  for (const j of ['load (verified)', 'recommend top-20', 'rerank 200', 'rerank 200, new ids', 'track + recommend']) {
    assert.ok(jobs.includes(j), `job '${j}' in ${jobs.join(', ')}`);
  }
  for (const [job, t] of Object.entries(c.jobs)) {
    for (const side of ['wasm', 'js']) {
      const s = t[side];
      assert.ok(s, `${job}: ${side} timed`);
      assert.equal(s.runs, 3);
      assert.ok(s.batch >= 1);
      for (const k of ['p50', 'p95', 'mean', 'min', 'max']) {
        assert.ok(Number.isFinite(s[k]) && s[k] >= 0, `${job} ${side}.${k} = ${s[k]}`);
      }
      assert.ok(s.p50 <= s.p95 && s.min <= s.p50 && s.p95 <= s.max, `${job} ${side}: ordered stats`);
    }
  }
  // The baseline does the same job: with privacy off its top-20 is the engine's (ties aside).
  const [same, of] = c.overlap.split('/').map(Number);
  assert.equal(of, 20);
  assert.ok(same >= 18, `overlap ${c.overlap}`);

  const md = markdownReport(r);
  assert.match(md, /\| catalog \| job \| wasm p50 \|/);
  assert.match(md, /vitrine_bg\.wasm/);
  assert.match(md, /1,500 × 64 \| rerank 200 \|/);
});
