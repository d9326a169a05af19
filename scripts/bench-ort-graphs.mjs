#!/usr/bin/env node
// Which ONNX graph gives ONNX Runtime Web its fastest top-k for our score? The browser bench uses
// one (www/bench/ort-model.js: the prior folded into the f32 item matrix as an extra row); this
// times it against the alternatives on the same synthetic catalogs and session, after checking
// that each gives the plain-JS baseline's top-20:
//   fold   MatMul(query[1, 65], items[65, n]) → TopK                     (the bench's)
//   add    MatMul(query[1, 64], items[64, n]) → Add(0.1 · prior[n]) → TopK
//   gemm   Gemm(query[1, 65], items[n, 65], transB = 1) → TopK         (rows as in the bundle)
//   int8   MatMulInteger(q int8[1, 64], items int8[64, n]) → Cast → Mul(scale[n]) → Mul(q_scale)
//          → Add(0.1 · prior[n]) → TopK                                   (the int8 rows, 1/4 the bytes)
// In Node, with onnxruntime-web's Node build: the same wasm binary and execution provider as the
// page (one thread), another V8. Markdown on stdout.
//
//   node scripts/bench-ort-graphs.mjs [--sizes 43097,1000000] [--runs 30] [--warmup 5] [--seed 1]

import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';

import { syntheticCatalog, writeBundle } from '../www/bench/bundle-gen.js';
import { JsBaseline } from '../www/bench/baseline.js';
import { onnxModel, itemMatrix, topKModel, POP_WEIGHT, TOP_K_NODE, TOP_K_OUTPUTS, ITEMS_FILE } from '../www/bench/ort-model.js';
import { compareTopK, configureOrt } from '../www/bench/ort-baseline.js';
import { stats, fmtMs } from '../www/bench/report.js';

const K = 20;
const f32 = (n) => ({ type: 'float32', dims: [n] });
const bytes = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const kInput = { name: 'k', type: 'int64', dims: [1] };

/** The graphs: each {model, data (externalData), feeds(query), what}. */
function graphs(js, query) {
  const { n, d } = js;
  const w = itemMatrix(js); // [d + 1, n]
  const dense = new Float32Array(d + 1);
  for (let c = 0; c < d; c++) dense[c] = query.qScale * query.q[c];
  dense[d] = 1;
  const k = new ort.Tensor('int64', BigInt64Array.of(BigInt(K)), [1]);
  const rows = new Float32Array(n * (d + 1)); // [n, d + 1]
  for (let i = 0; i < n; i++) for (let c = 0; c <= d; c++) rows[i * (d + 1) + c] = w[c * n + i];
  const int8 = new Int8Array(d * n); // [d, n]
  for (let i = 0; i < n; i++) for (let c = 0; c < d; c++) int8[c * n + i] = js.emb[i * d + c];
  const prior = w.subarray(d * n);
  const ext = (name, type, dims, location, length) => ({ name, type, dims, location, length });
  return {
    fold: {
      model: topKModel({ n, cols: d + 1 }),
      data: [{ path: ITEMS_FILE, data: bytes(w) }],
      feeds: { query: new ort.Tensor('float32', dense, [1, d + 1]), k },
    },
    add: {
      model: onnxModel({
        name: 'add',
        nodes: [
          { op: 'MatMul', inputs: ['query', 'items'], outputs: ['dots'] },
          { op: 'Add', inputs: ['dots', 'prior'], outputs: ['scores'] },
          TOP_K_NODE,
        ],
        initializers: [ext('items', 'float32', [d, n], 'w', 4 * d * n), ext('prior', 'float32', [n], 'p', 4 * n)],
        inputs: [{ name: 'query', type: 'float32', dims: [1, d] }, kInput],
        outputs: TOP_K_OUTPUTS,
      }),
      data: [
        { path: 'w', data: bytes(w.slice(0, d * n)) },
        { path: 'p', data: bytes(prior.slice()) },
      ],
      feeds: { query: new ort.Tensor('float32', dense.slice(0, d), [1, d]), k },
    },
    gemm: {
      model: onnxModel({
        name: 'gemm',
        nodes: [{ op: 'Gemm', inputs: ['query', 'items'], outputs: ['scores'], attributes: { transB: 1 } }, TOP_K_NODE],
        initializers: [ext('items', 'float32', [n, d + 1], 'r', rows.byteLength)],
        inputs: [{ name: 'query', type: 'float32', dims: [1, d + 1] }, kInput],
        outputs: TOP_K_OUTPUTS,
      }),
      data: [{ path: 'r', data: bytes(rows) }],
      feeds: { query: new ort.Tensor('float32', dense, [1, d + 1]), k },
    },
    int8: {
      model: onnxModel({
        name: 'int8',
        nodes: [
          { op: 'MatMulInteger', inputs: ['query', 'items'], outputs: ['dots'] },
          { op: 'Cast', inputs: ['dots'], outputs: ['dots_f'], attributes: { to: 1 } },
          { op: 'Mul', inputs: ['dots_f', 'scale'], outputs: ['scaled'] },
          { op: 'Mul', inputs: ['scaled', 'q_scale'], outputs: ['sim'] },
          { op: 'Add', inputs: ['sim', 'prior'], outputs: ['scores'] },
          TOP_K_NODE,
        ],
        initializers: [
          ext('items', 'int8', [d, n], 'i8', d * n),
          ext('scale', 'float32', [n], 's', 4 * n),
          ext('prior', 'float32', [n], 'p', 4 * n),
        ],
        inputs: [{ name: 'query', type: 'int8', dims: [1, d] }, { name: 'q_scale', ...f32(1) }, kInput],
        outputs: TOP_K_OUTPUTS,
      }),
      data: [
        { path: 'i8', data: bytes(int8) },
        { path: 's', data: bytes(Float32Array.from(js.scale)) },
        { path: 'p', data: bytes(prior.slice()) },
      ],
      feeds: {
        query: new ort.Tensor('int8', query.q, [1, d]),
        q_scale: new ort.Tensor('float32', Float32Array.of(query.qScale), [1]),
        k,
      },
    },
  };
}

async function main() {
  const { values: o } = parseArgs({
    options: {
      sizes: { type: 'string', default: '43097,1000000' },
      runs: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '5' },
      seed: { type: 'string', default: '1' },
    },
  });
  const sizes = o.sizes.split(',').map(Number);
  const [runs, warmup, seed] = [o.runs, o.warmup, o.seed].map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 300) || !(runs >= 1) || !(warmup >= 0)) {
    throw new Error('--sizes: whole numbers ≥ 300; --runs ≥ 1; --warmup ≥ 0');
  }
  configureOrt(ort, { wasmPaths: undefined });
  // Start the runtime (compile its wasm) with a one-item session, so that no create below includes it.
  await (await ort.InferenceSession.create(topKModel({ n: 1, cols: 2 }), {
    executionProviders: ['wasm'],
    externalData: [{ path: ITEMS_FILE, data: new Uint8Array(8) }],
  })).release();
  console.log(`ONNX Runtime Web ${ort.env.versions.web} (Node ${process.version}, wasm, 1 thread); ${runs} runs after ${warmup}\n`);
  console.log('| catalog | graph | run p50 | run p95 | session create | top-20 = plain JS |');
  console.log('| ---: | --- | ---: | ---: | ---: | --- |');
  for (const n of sizes) {
    const js = await JsBaseline.load(await writeBundle(syntheticCatalog({ n, d: 64, seed }), { seed }));
    const now = 1_700_000_000_000;
    for (let i = 0; i < 10; i++) js.track({ item: js.ids[(i * 7919 + seed) % n], ts: now - (10 - i) * 60_000 });
    const query = js.query(now);
    const want = js.recommend({ k: K, now });
    for (const [name, g] of Object.entries(graphs(js, query))) {
      const t0 = performance.now();
      const session = await ort.InferenceSession.create(g.model, { executionProviders: ['wasm'], externalData: g.data });
      const createMs = performance.now() - t0;
      const out = await session.run(g.feeds);
      const got = Array.from(out.values.data, (score, r) => ({ id: js.ids[Number(out.indices.data[r])], score }));
      const cmp = compareTopK(want, got, (id) => js.score(js.row.get(id), query));
      for (let i = 0; i < warmup; i++) await session.run(g.feeds);
      const samples = [];
      for (let r = 0; r < runs; r++) {
        const t = performance.now();
        await session.run(g.feeds);
        samples.push(performance.now() - t);
      }
      const s = stats(samples);
      console.log(
        `| ${n.toLocaleString('en-US')} × 64 | ${name} | ${fmtMs(s.p50)} | ${fmtMs(s.p95)} | ${fmtMs(createMs)} | ` +
          `${cmp.agree ? '✅' : '❌'} ${cmp.same}/${cmp.of} |`,
      );
      await session.release();
    }
  }
  console.log(`\n(prior weight ${POP_WEIGHT}; scores compared within 1e-5)`);
}

main().catch((err) => {
  console.error(`bench-ort-graphs: error: ${err.message}`);
  process.exit(1);
});
