// The bench's second baseline: ONNX Runtime Web (npm `onnxruntime-web`, wasm execution provider,
// one thread, no proxy worker) running the tiny graph of ort-model.js, MatMul + TopK over the
// dequantized item matrix, on the same catalog and the same session as the plain-JS baseline.
// The session's events and int8 query come from the JsBaseline it wraps (so both score the very
// same query); ORT does the whole-catalog part: n dot products and the top k.
// `ort` (the onnxruntime-web module) is passed in, so that Node can import this file without it.

import { ITEMS_FILE, POP_WEIGHT, itemMatrix, topKModel } from './ort-model.js';

/** Scores closer than this (absolute) are ties when answers are compared: ORT sums in f32, JS in f64. */
export const TIE_TOLERANCE = 1e-5;

/** Sets ORT's wasm backend up as the bench uses it: files from `wasmPaths`, one thread, no proxy. */
export function configureOrt(ort, { wasmPaths }) {
  ort.env.wasm.wasmPaths = wasmPaths;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
}

/** An InferenceSession of `model` whose external data ITEMS_FILE is `weights` (f32, from memory). */
export function createSession(ort, model, weights) {
  return ort.InferenceSession.create(model, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
    externalData: [{ path: ITEMS_FILE, data: new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength) }],
  });
}

export class OrtBaseline {
  /**
   * The model and item matrix of `js`'s catalog (`prepareMs`: building them in JS) and a session
   * over them (`createMs`: InferenceSession.create). `weights` is kept for more sessions.
   */
  static async create(ort, js) {
    const t0 = performance.now();
    const weights = itemMatrix(js);
    const model = topKModel({ n: js.n, cols: js.d + 1 });
    const t1 = performance.now();
    const session = await createSession(ort, model, weights);
    const t2 = performance.now();
    const rec = new OrtBaseline(ort, session, js, { model, weights });
    rec.prepareMs = t1 - t0;
    rec.createMs = t2 - t1;
    return rec;
  }

  constructor(ort, session, js, { model, weights }) {
    Object.assign(this, { ort, session, js, model, weights });
    this.input = new Float32Array(js.d + 1);
  }

  /** Top `k` of the whole catalog for `js`'s session at `now`, best first (as JsBaseline's). */
  async recommend({ k = 10, now }) {
    const { ort, js, input } = this;
    const query = js.query(now);
    for (let c = 0; c < js.d; c++) input[c] = query ? query.qScale * query.q[c] : 0;
    // The prior's column (POP_WEIGHT · prior): weight 1 with a session; without one the engine
    // ranks by the prior alone, and its score is the prior itself.
    input[js.d] = query ? 1 : 1 / POP_WEIGHT;
    const out = await this.session.run({
      query: new ort.Tensor('float32', input, [1, js.d + 1]),
      k: new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.min(k, js.n))), [1]),
    });
    const indices = out.indices.data;
    return Array.from(out.values.data, (score, r) => ({ id: js.ids[Number(indices[r])], score, rank: r + 1 }));
  }

  /** Releases the session (its wasm memory goes back to ORT's allocator, not to the browser); `weights` stay. */
  async release() {
    await this.session.release();
  }
}

/**
 * Whether `other` gives the same top list as `ref` (both best first): at every rank the same id, or
 * one whose reference score (`scoreOf(id)`) ties the reference's at that rank within `tolerance`.
 * Returns {same: ids in both, of: ref.length, agree, maxScoreDiff: the largest |other's score −
 * scoreOf(id)| over its list, firstMismatch: the first rank that disagrees, or null}.
 */
export function compareTopK(ref, other, scoreOf, tolerance = TIE_TOLERANCE) {
  const refIds = new Set(ref.map((r) => r.id));
  let maxScoreDiff = 0;
  let firstMismatch = null;
  for (let r = 0; r < Math.max(ref.length, other.length); r++) {
    const o = other[r];
    if (o) maxScoreDiff = Math.max(maxScoreDiff, Math.abs(o.score - scoreOf(o.id)));
    const ok = o && ref[r] && (o.id === ref[r].id || Math.abs(scoreOf(o.id) - ref[r].score) <= tolerance);
    if (!ok && firstMismatch === null) firstMismatch = r + 1;
  }
  return {
    same: other.filter((o) => refIds.has(o.id)).length,
    of: ref.length,
    agree: firstMismatch === null,
    maxScoreDiff,
    firstMismatch,
  };
}
