// Loading a bundle while it downloads (issue 18, "loading at the speed of the bytes"). Each chunk
// of the response goes into the engine's memory as it arrives (no whole-file copy in
// JavaScript), and whenever the next chunk is not there yet the engine hashes what has come, so a
// verified load has little left to hash once the last byte is in. Hashing follows the digest's
// order (docs/bundle.md § Digest): tensors by name, while our writer lays them out by element size,
// so the 4-byte tables at the front of the file wait for the 1-byte ones before them in name order
// (docs/benchmarks.md, "Loading while the bytes arrive"). With the page's `integrity`, the engine
// hashes the file as it is instead (SHA-256 in file order, which never waits) and the page checks
// it once the body has ended, before the engine loads the bytes. When the download outran the
// hashing (a cached response), the rest is hashed with the browser's SHA-256 instead where that
// is quicker (digest.js, fetch.js).

import { nativeDigest } from './digest.js';
import { base64, verifyIntegrity } from './fetch.js';

/** Bytes hashed per step while the network is idle (about a millisecond of SHA-256 in wasm). */
const SLICE = 256 * 1024;
/** What SHA-256 in wasm is assumed to do (bytes per ms) until this page has measured it. */
const WASM_HASH_GUESS = 150_000;
/**
 * SHA-256 in wasm runs at about a third of the browser's own (docs/benchmarks.md): the engine
 * finishes the digest itself when less than this share of the file is left to hash; otherwise the
 * browser hashes the whole file instead.
 */
export const WASM_SHARE = 1 / 3;

/** Whether the engine should finish the hashing itself: little is left (`WASM_SHARE`). */
const wasmFinishes = (stream) => stream.unhashed <= stream.received * WASM_SHARE;

const PENDING = Symbol('pending');

/** Whether `promise` has settled, without waiting for it. */
async function settled(promise) {
  const first = await Promise.race([promise, PENDING]).catch(() => null);
  return first !== PENDING;
}

/** Lets the event loop run (the network's tasks included) before going on. */
function yieldTask() {
  if (typeof globalThis.scheduler?.yield === 'function') return globalThis.scheduler.yield();
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

/**
 * Reads `body` (a ReadableStream of Uint8Array chunks: a fetch response's body) into a new
 * `BundleStream` of the engine. Throws the engine's error (`code` `bundle`) as soon as the bytes
 * show the bundle is bad, and the stream's own error when the download breaks off; the download is
 * cancelled either way.
 * @param {{BundleStream: any}} glue the wasm-bindgen module (initialized)
 * @param {ReadableStream<Uint8Array>} body
 * @param {{sizeHint?: number|null, onChunk?: (bytes: number) => void, fileOrder?: boolean}} [options]
 *   `sizeHint`: the response's announced length, reserved up front; `onChunk`: called with each
 *   chunk's length; `fileOrder`: hash the file as it is (for `verifyReceived`), not the bundle's
 *   canonical digest
 * @returns {Promise<any>} the BundleStream, complete (the caller frees it, or loads it)
 */
export async function receiveBundle(glue, body, { sizeHint = null, onChunk, fileOrder = false } = {}) {
  const stream = new glue.BundleStream(sizeHint ?? undefined, fileOrder);
  const reader = body.getReader();
  // Hashing here pays only while the bytes arrive more slowly than it goes: past that, what it
  // did would be done again by the platform's digest at the end (loadReceived).
  let first = null;
  let hashed = 0;
  let hashMs = 0;
  const keepsUp = () => {
    const arriving = stream.received / Math.max(performance.now() - first, 1);
    const hashing = hashed >= SLICE ? hashed / Math.max(hashMs, 0.001) : WASM_HASH_GUESS;
    return arriving < 0.75 * hashing;
  };
  try {
    let next = reader.read();
    for (;;) {
      // No chunk waiting: let the network's tasks run first; if there is still none and the
      // network is slower than the hashing, hash a slice and look again.
      if (first !== null && !(await settled(next))) {
        await yieldTask();
        if (!(await settled(next)) && keepsUp()) {
          const t0 = performance.now();
          const n = stream.hash(SLICE);
          hashMs += performance.now() - t0;
          hashed += n;
          if (n > 0) continue;
        }
      }
      const { done, value } = await next;
      if (done) break;
      first ??= performance.now();
      stream.push(value);
      onChunk?.(value.length);
      next = reader.read();
    }
  } catch (err) {
    reader.cancel(err).catch(() => {});
    stream.free();
    throw err;
  }
  return stream;
}

/**
 * Checks a received `fileOrder` stream against the page's `integrity` (fetch.js's
 * `verifyIntegrity`, same errors): a `sha256-` hash with the SHA-256 the engine computed while the
 * file arrived when little was left to hash (`WASM_SHARE`), anything else with `crypto.subtle`
 * over the file in the engine's memory.
 * @param {any} stream a BundleStream from `receiveBundle(…, {fileOrder: true})`
 * @param {string} integrity
 */
export async function verifyReceived(stream, integrity) {
  const known = {};
  if (/(^|\s)sha256-/.test(String(integrity)) && wasmFinishes(stream)) {
    const sha = stream.fileSha256();
    if (sha) known.sha256 = base64(sha);
  }
  return verifyIntegrity(() => stream.bytesView(), integrity, { known });
}

/**
 * Loads the engine from a received stream (used up): the digest is finished in wasm when little
 * is left to hash (`WASM_SHARE`), else computed with `crypto.subtle` (over the digest's stream,
 * copied out of the engine's memory) and passed as `computedDigest`; the engine checks either
 * against the recorded one.
 * @param {{Recommender: any}} glue
 * @param {any} stream a BundleStream from `receiveBundle`
 * @param {{verifyDigest?: boolean}} [options] `verifyDigest: false`: the page checked the bytes
 * @returns {Promise<any>} the Recommender
 */
export async function loadReceived(glue, stream, { verifyDigest = true } = {}) {
  let options = { verifyDigest };
  if (verifyDigest && !wasmFinishes(stream)) {
    // A view of the engine's memory is valid only until the next call into it: taken afresh.
    const computedDigest = await nativeDigest(glue.Recommender, () => stream.bytesView());
    if (computedDigest) options = { computedDigest };
  }
  return glue.Recommender.fromStream(stream, options);
}
