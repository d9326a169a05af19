// The bundle's digest with the browser's own SHA-256. The engine can hash the bundle itself, but
// SHA-256 in wasm is several times slower than `crypto.subtle` (native code), and on load it runs
// over every byte (docs/benchmarks.md, "Load: the digest with the browser's SHA-256…"). The engine owns the
// format: `Recommender.digestPlan(header, fileLength)` says, from the header alone, which bytes are
// hashed in which order; this module follows the plan and the engine then checks the result
// against the digest the bundle records (`fromBytes(bytes, {computedDigest})`), with the same
// error as its own hashing would give.

/**
 * The canonical digest of `bytes` ("sha256:<hex>"), or null when it cannot be computed here (no
 * `crypto.subtle`, an engine build without `digestPlan`, a header the engine refuses: the
 * engine's own load then hashes, or names the problem).
 * @param {{digestPlan?: Function}} Recommender the wasm-bindgen class
 * @param {Uint8Array | (() => Uint8Array)} bytes the whole bundle, or a function returning it
 *   afresh (a view of the engine's memory, which a call into the engine may invalidate: it is
 *   taken again after `digestPlan`, and read before anything else runs)
 * @returns {Promise<string|null>}
 */
export async function nativeDigest(Recommender, bytes) {
  const read = typeof bytes === 'function' ? bytes : () => bytes;
  const first = read();
  if (typeof Recommender?.digestPlan !== 'function' || !globalThis.crypto?.subtle || first.length < 8) return null;
  let plan;
  try {
    const declared = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
    const end = declared > BigInt(first.length - 8) ? first.length : Number(declared) + 8;
    plan = Recommender.digestPlan(first.slice(0, end), first.length);
  } catch {
    return null;
  }
  let hash;
  try {
    const whole = read();
    const parts = plan.pieces.map((p) => (p instanceof Uint8Array ? p : whole.subarray(p[0], p[1])));
    // A copy of the whole file: on a device short of memory this may fail (the engine then hashes).
    const stream = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      stream.set(p, at);
      at += p.length;
    }
    hash = new Uint8Array(await crypto.subtle.digest('SHA-256', stream));
  } catch {
    return null;
  }
  let hex = 'sha256:';
  for (const b of hash) hex += b.toString(16).padStart(2, '0');
  return hex;
}
