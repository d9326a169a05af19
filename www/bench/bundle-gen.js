// Synthetic, seeded Vitrine bundles for the benchmark, written in plain JS from docs/bundle.md:
// a safetensors container (u64 header length, JSON header, tensors back to back) whose
// `__metadata__.digest` is the canonical SHA-256 of the spec, computed with crypto.subtle.
// Nothing here is real data: ids, vectors, popularity and categories come from a seeded PRNG.

/** mulberry32: a small seeded PRNG; returns a function giving uint32s. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const enc = new TextEncoder();

function u64(view, at, x) {
  view.setBigUint64(at, BigInt(x), true);
  return at + 8;
}

/**
 * The catalog: `n` items of dimension `d`, like a trained bundle (unit-length rows quantized per
 * row, Zipf-like popularity, `nCat` categories). Ids look like Diginetica's numeric item ids.
 */
export function syntheticCatalog({ n, d = 64, seed = 1, nCat = 64 }) {
  const rand = prng(seed);
  const ids = new Array(n);
  for (let i = 0; i < n; i++) ids[i] = String(100000 + i * 7);
  const emb = new Int8Array(n * d);
  // Sums of 4 uniform bytes: roughly normal coordinates, clipped to the int8 range.
  for (let k = 0; k < emb.length; k++) {
    const r = rand();
    const v = (r & 0xff) + ((r >>> 8) & 0xff) + ((r >>> 16) & 0xff) + (r >>> 24) - 510;
    emb[k] = Math.max(-127, Math.min(127, v >> 1));
  }
  const scale = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = i * d; k < (i + 1) * d; k++) s += emb[k] * emb[k];
    scale[i] = s > 0 ? 1 / Math.sqrt(s) : 0; // dequantized rows have unit length
  }
  const pop = new Float32Array(n);
  for (let i = 0; i < n; i++) pop[i] = Math.floor(100000 / (1 + (rand() % n))); // Zipf-like
  const cat = new Int32Array(n);
  for (let i = 0; i < n; i++) cat[i] = rand() % nCat;
  const catNames = Array.from({ length: nCat }, (_, c) => `cat-${String(c).padStart(2, '0')}`);
  return { n, d, ids, emb, scale, pop, cat, catNames };
}

/** Bytes per element of the dtypes written here. */
const ELEMENT_BYTES = { F32: 4, I32: 4, I8: 1, U8: 1 };

/** The tensors of a catalog as `{name: {dtype, shape, data: Uint8Array}}`. */
function tensorsOf(c) {
  const bytes = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return {
    item_scale: { dtype: 'F32', shape: [c.n], data: bytes(c.scale) },
    item_pop: { dtype: 'F32', shape: [c.n], data: bytes(c.pop) },
    item_cat: { dtype: 'I32', shape: [c.n], data: bytes(c.cat) },
    item_emb: { dtype: 'I8', shape: [c.n, c.d], data: bytes(c.emb) },
    item_ids: null, // filled below (its shape is its byte length)
    cat_names: null,
  };
}

/** The `digest` value of docs/bundle.md ("sha256:" + hex) for these tensors and metadata. */
export async function bundleDigest(tensors, metadata) {
  const keys = Object.keys(metadata).filter((k) => k !== 'digest').sort();
  const names = Object.keys(tensors).sort();
  const kv = keys.map((k) => [enc.encode(k), enc.encode(metadata[k])]);
  const nm = names.map((n) => [enc.encode(n), enc.encode(tensors[n].dtype)]);
  const prefix = enc.encode('vitrine-bundle-digest-v1\n');
  let size = prefix.length + 8 + 8;
  for (const [k, v] of kv) size += 16 + k.length + v.length;
  names.forEach((n, i) => {
    const t = tensors[n];
    size += 16 + nm[i][0].length + nm[i][1].length + 8 + 8 * t.shape.length + 8 + t.data.length;
  });
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  let at = 0;
  const put = (b) => {
    buf.set(b, at);
    at += b.length;
  };
  const lp = (b) => {
    at = u64(view, at, b.length);
    put(b);
  };
  put(prefix);
  at = u64(view, at, kv.length);
  for (const [k, v] of kv) {
    lp(k);
    lp(v);
  }
  at = u64(view, at, names.length);
  names.forEach((n, i) => {
    const t = tensors[n];
    lp(nm[i][0]);
    lp(nm[i][1]);
    at = u64(view, at, t.shape.length);
    for (const s of t.shape) at = u64(view, at, s);
    lp(t.data);
  });
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  return 'sha256:' + Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The bundle bytes of a catalog (see docs/bundle.md). */
export async function writeBundle(c, { seed = 1 } = {}) {
  const tensors = tensorsOf(c);
  const idBytes = enc.encode(c.ids.join('\n'));
  const catBytes = enc.encode(c.catNames.join('\n'));
  tensors.item_ids = { dtype: 'U8', shape: [idBytes.length], data: idBytes };
  tensors.cat_names = { dtype: 'U8', shape: [catBytes.length], data: catBytes };
  const metadata = {
    format: 'vitrine-bundle',
    format_version: '1',
    n_items: String(c.n),
    dim: String(c.d),
    model: `synthetic benchmark catalog (seed ${seed}), not real data`,
  };
  metadata.digest = await bundleDigest(tensors, metadata);
  const header = { __metadata__: metadata };
  // Laid out as the Rust writer does (crate/src/bundle/writer.rs): larger elements first, so that
  // every tensor stays aligned to its element size (the reader does not need it), then by name,
  // which is the digest's order within each size.
  const order = Object.entries(tensors).sort(
    ([a, x], [b, y]) => ELEMENT_BYTES[y.dtype] - ELEMENT_BYTES[x.dtype] || (a < b ? -1 : a > b ? 1 : 0),
  );
  let offset = 0;
  for (const [name, t] of order) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // pad as Python's safetensors does
  const head = enc.encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const [, t] of order) {
    out.set(t.data, at);
    at += t.data.length;
  }
  return out;
}
