// The bench's ONNX Runtime Web baseline outside the browser: the model bytes of
// www/bench/ort-model.js parse in ONNX Runtime (onnxruntime-web's Node build, the same wasm
// execution provider the bench page uses) and its top-k is the plain-JS baseline's on small
// synthetic catalogs; the item matrix layout; and the answer comparison the bench relies on.
//   node --test tests/ort-model.test.mjs

import test from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-web';

import { syntheticCatalog, writeBundle } from '../www/bench/bundle-gen.js';
import { JsBaseline } from '../www/bench/baseline.js';
import { topKModel, onnxModel, itemMatrix, POP_WEIGHT, TOP_K_OUTPUTS } from '../www/bench/ort-model.js';
import { OrtBaseline, compareTopK, configureOrt } from '../www/bench/ort-baseline.js';

configureOrt(ort, { wasmPaths: undefined });

async function catalog(n, seed = 3) {
  return JsBaseline.load(await writeBundle(syntheticCatalog({ n, d: 64, seed }), { seed }));
}

test('topKModel refuses sizes that are not positive integers', () => {
  for (const bad of [{ n: 0, cols: 65 }, { n: 10, cols: 0 }, { n: 1.5, cols: 65 }, { n: '10', cols: 65 }]) {
    assert.throws(() => topKModel(bad), RangeError);
  }
  const small = topKModel({ n: 1_000_000, cols: 65 });
  assert.ok(small.length < 1000, `the matrix is external: the model is ${small.length} bytes`);
});

test('onnxModel refuses element types it does not know', () => {
  const graph = (type) => ({ name: 'g', nodes: [], inputs: [{ name: 'x', type, dims: [1] }], outputs: TOP_K_OUTPUTS });
  assert.ok(onnxModel(graph('int8')).length > 0);
  assert.throws(() => onnxModel(graph('float16')), /unsupported element type 'float16'/);
});

test('itemMatrix: dequantized rows as columns, the weighted prior as the last row', () => {
  const n = 3;
  const d = 2;
  const emb = Int8Array.of(1, -2, 3, 4, -127, 0);
  const scale = Float32Array.of(0.5, 0.25, 2);
  const prior = Float32Array.of(1, 0.5, 0);
  const w = itemMatrix({ n, d, emb, scale, prior });
  assert.equal(w.length, (d + 1) * n);
  const want = [0.5, 0.75, -254, -1, 1, 0, POP_WEIGHT, POP_WEIGHT / 2, 0];
  want.forEach((x, j) => assert.ok(Math.abs(w[j] - x) < 1e-6, `w[${j}] = ${w[j]}, want ${x}`));
});

test('ORT parses the model and its top-k is the plain-JS top-k', { timeout: 60_000 }, async () => {
  for (const [n, k, clicks] of [
    [300, 20, 10], // a session
    [300, 20, 0], // no session: the prior alone
    [2000, 50, 3],
    [1, 20, 1], // k > n: clipped
  ]) {
    const js = await catalog(n);
    const rec = await OrtBaseline.create(ort, js);
    try {
      const now = 1_700_000_000_000;
      js.events = [];
      for (let i = 0; i < clicks; i++) js.track({ item: js.ids[(i * 7919) % n], ts: now - (clicks - i) * 60_000 });
      const want = js.recommend({ k, now });
      const got = await rec.recommend({ k, now });
      assert.equal(got.length, Math.min(k, n));
      const query = js.query(now);
      const cmp = compareTopK(want, got, (id) => js.score(js.row.get(id), query));
      assert.ok(cmp.agree, `n=${n} k=${k} clicks=${clicks}: rank ${cmp.firstMismatch} differs`);
      assert.equal(cmp.same, Math.min(k, n));
      assert.ok(cmp.maxScoreDiff < 1e-5, `scores within f32 rounding: ${cmp.maxScoreDiff}`);
      got.forEach((r, i) => assert.equal(r.rank, i + 1));
    } finally {
      await rec.release();
    }
  }
});

test('compareTopK accepts ties within the tolerance and nothing else', () => {
  const score = { a: 0.9, b: 0.8, c: 0.8 + 1e-7, d: 0.5, e: 0.4 };
  const list = (ids) => ids.map((id, r) => ({ id, score: score[id], rank: r + 1 }));
  const of = (id) => score[id];
  assert.deepEqual(compareTopK(list(['a', 'b', 'd']), list(['a', 'b', 'd']), of), {
    same: 3,
    of: 3,
    agree: true,
    maxScoreDiff: 0,
    firstMismatch: null,
  });
  assert.ok(compareTopK(list(['a', 'c', 'b']), list(['a', 'b', 'c']), of).agree, 'a swapped tie');
  assert.ok(compareTopK(list(['a', 'b']), list(['a', 'c']), of).agree, 'a tie at the boundary');
  const swap = compareTopK(list(['a', 'b', 'd']), list(['b', 'a', 'd']), of);
  assert.equal(swap.agree, false);
  assert.equal(swap.firstMismatch, 1);
  const other = compareTopK(list(['a', 'b', 'd']), list(['a', 'b', 'e']), of);
  assert.deepEqual([other.agree, other.same, other.firstMismatch], [false, 2, 3]);
  assert.equal(compareTopK(list(['a', 'b']), list(['a']), of).agree, false, 'a shorter list');
  const off = compareTopK(list(['a']), [{ id: 'a', score: 0.7, rank: 1 }], of);
  assert.ok(off.agree && Math.abs(off.maxScoreDiff - 0.2) < 1e-12, 'the score error is reported');
});
