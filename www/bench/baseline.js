// The benchmark's baseline: the same jobs as the wasm engine, done the obvious way in plain JS
// (an int8 dot-product loop over Int8Array views and a bounded min-heap for top-k). It mirrors the
// engine's non-private scoring (docs/engine.md: click weight × 0.7^position × half-life decay,
// unit-normalized profile quantized to int8, score = q_scale · scale_i · (q · v_i) + 0.1 · prior_i),
// so its top-20 can be compared with the engine's (`overlap` in the results). It validates what the
// engine's reader validates for these bundles, but it is not a product: no options, no rules.

import { bundleDigest } from './bundle-gen.js';

const dec = new TextDecoder('utf-8', { fatal: true });
const POP_WEIGHT = 0.1;
const RECENCY = 0.7;
const HALF_LIFE_MS = 86_400_000;
const MAX_EVENTS = 100;
const DTYPE_BYTES = { U8: 1, I8: 1, I32: 4, U32: 4, F32: 4, F16: 2, U16: 2 };

function fail(why) {
  throw new Error(`baseline: not a valid bundle: ${why}`);
}

/** A typed-array view of a tensor (a copy when the bytes are not aligned for the type). */
function view(Type, bytes, [s, e]) {
  const at = bytes.byteOffset + s;
  if (at % Type.BYTES_PER_ELEMENT === 0) return new Type(bytes.buffer, at, (e - s) / Type.BYTES_PER_ELEMENT);
  return new Type(bytes.slice(s, e).buffer);
}

export class JsBaseline {
  /** Parses and validates a bundle; `verifyDigest` recomputes the SHA-256 (crypto.subtle). */
  static async load(bytes, { verifyDigest = true } = {}) {
    if (bytes.length < 8) fail('truncated');
    const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
    if (8 + headerLen > bytes.length) fail('header beyond the file');
    const header = JSON.parse(dec.decode(bytes.subarray(8, 8 + headerLen)));
    const meta = header.__metadata__ ?? {};
    if (meta.format !== 'vitrine-bundle' || meta.format_version !== '1') fail('format');
    const data = bytes.subarray(8 + headerLen);
    const entries = Object.entries(header).filter(([k]) => k !== '__metadata__');
    let end = 0;
    for (const [name, t] of [...entries].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0])) {
      const [s, e] = t.data_offsets;
      const size = t.shape.reduce((a, b) => a * b, DTYPE_BYTES[t.dtype] ?? fail(`dtype of ${name}`));
      if (s !== end || e - s !== size) fail(`offsets of ${name}`);
      end = e;
    }
    if (end !== data.length) fail('data length');
    const t = Object.fromEntries(entries);
    for (const name of ['item_ids', 'item_emb', 'item_scale', 'item_pop']) if (!t[name]) fail(`missing ${name}`);
    if (verifyDigest) {
      const tensors = Object.fromEntries(
        entries.map(([name, e]) => [name, { dtype: e.dtype, shape: e.shape, data: data.subarray(...e.data_offsets) }]),
      );
      if ((await bundleDigest(tensors, meta)) !== meta.digest) fail('digest mismatch');
    }
    const [n, d] = t.item_emb.shape;
    if (t.item_emb.dtype !== 'I8' || t.item_scale.dtype !== 'F32' || t.item_pop.dtype !== 'F32') fail('dtypes');
    const emb = view(Int8Array, data, t.item_emb.data_offsets);
    const scale = view(Float32Array, data, t.item_scale.data_offsets);
    const pop = view(Float32Array, data, t.item_pop.data_offsets);
    if (scale.length !== n || pop.length !== n) fail('shapes');
    let maxPop = 0;
    for (let i = 0; i < n; i++) {
      if (!(scale[i] >= 0 && scale[i] < Infinity)) fail(`item_scale[${i}]`);
      if (!(pop[i] >= 0 && pop[i] < Infinity)) fail(`item_pop[${i}]`);
      if (pop[i] > maxPop) maxPop = pop[i];
    }
    if (t.item_cat) {
      const cat = view(Int32Array, data, t.item_cat.data_offsets);
      const nCat = dec.decode(data.subarray(...t.cat_names.data_offsets)).split('\n').length;
      for (let i = 0; i < n; i++) if (cat[i] < -1 || cat[i] >= nCat) fail(`item_cat[${i}]`);
    }
    const ids = dec.decode(data.subarray(...t.item_ids.data_offsets)).split('\n');
    if (ids.length !== n) fail('id count');
    const row = new Map();
    for (let i = 0; i < n; i++) {
      if (!ids[i] || row.has(ids[i])) fail(`id ${i}`);
      row.set(ids[i], i);
    }
    const prior = new Float32Array(n);
    const denom = Math.log1p(maxPop);
    for (let i = 0; i < n; i++) prior[i] = denom > 0 ? Math.log1p(pop[i]) / denom : 0;
    return new JsBaseline({ n, d, ids, row, emb, scale, prior });
  }

  constructor(b) {
    Object.assign(this, b);
    this.events = [];
  }

  /** Logs a click (the only event type the bench tracks); unknown ids throw. */
  track({ item, ts }) {
    const i = this.row.get(item);
    if (i === undefined) throw new Error(`unknown item id '${item}'`);
    this.events.push({ item: i, ts });
    if (this.events.length > MAX_EVENTS) this.events.shift();
  }

  /** The int8 query (and its scale) of the session at `now`, or null without events. */
  query(now) {
    const { d, emb } = this;
    const profile = new Float64Array(d);
    const m = this.events.length;
    for (let p = 0; p < m; p++) {
      const e = this.events[m - 1 - p]; // position 0 = newest
      const w = RECENCY ** p * 0.5 ** (Math.max(0, now - e.ts) / HALF_LIFE_MS);
      let norm = 0;
      for (let k = 0; k < d; k++) norm += emb[e.item * d + k] ** 2;
      if (norm === 0) continue;
      norm = Math.sqrt(norm);
      for (let k = 0; k < d; k++) profile[k] += (w * emb[e.item * d + k]) / norm;
    }
    let norm = 0;
    for (let k = 0; k < d; k++) norm += profile[k] ** 2;
    if (!(norm > 1e-24)) return null;
    norm = Math.sqrt(norm);
    let max = 0;
    for (let k = 0; k < d; k++) max = Math.max(max, Math.abs(profile[k] / norm));
    const qScale = max / 127;
    const q = new Int8Array(d);
    for (let k = 0; k < d; k++) q[k] = Math.max(-127, Math.min(127, Math.round(profile[k] / norm / qScale)));
    return { q, qScale };
  }

  score(i, query) {
    if (!query) return this.prior[i];
    const { d, emb } = this;
    const { q } = query;
    let s = 0;
    for (let k = 0, o = i * d; k < d; k++, o++) s += q[k] * emb[o];
    return query.qScale * this.scale[i] * s + POP_WEIGHT * this.prior[i];
  }

  result(pairs) {
    return pairs.map(([score, i], r) => ({ id: this.ids[i], score, rank: r + 1 }));
  }

  /** Top `k` of the whole catalog, best first: a min-heap of the k best seen so far. */
  recommend({ k = 10, now }) {
    const query = this.query(now);
    const hs = new Float64Array(k);
    const hi = new Int32Array(k);
    let size = 0;
    for (let i = 0; i < this.n; i++) {
      const s = this.score(i, query);
      if (size < k) {
        // sift up
        let c = size++;
        while (c > 0) {
          const p = (c - 1) >> 1;
          if (hs[p] <= s) break;
          hs[c] = hs[p];
          hi[c] = hi[p];
          c = p;
        }
        hs[c] = s;
        hi[c] = i;
      } else if (s > hs[0]) {
        // replace the root, sift down
        let c = 0;
        for (;;) {
          let m = 2 * c + 1;
          if (m >= k) break;
          if (m + 1 < k && hs[m + 1] < hs[m]) m++;
          if (hs[m] >= s) break;
          hs[c] = hs[m];
          hi[c] = hi[m];
          c = m;
        }
        hs[c] = s;
        hi[c] = i;
      }
    }
    const pairs = [];
    for (let j = 0; j < size; j++) pairs.push([hs[j], hi[j]]);
    pairs.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    return this.result(pairs);
  }

  /** The candidates that exist, best first (unknown ids listed in `unknownIds`). */
  rerank(candidates, { now }) {
    const query = this.query(now);
    const pairs = [];
    const unknownIds = [];
    for (const id of candidates) {
      const i = this.row.get(id);
      if (i === undefined) unknownIds.push(id);
      else pairs.push([this.score(i, query), i]);
    }
    pairs.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const out = this.result(pairs);
    out.unknownIds = unknownIds;
    return out;
  }
}
