// The engine side of the package: one wasm `Recommender` and the calls it supports. The same code
// runs on the main thread and inside the Web Worker, so both modes return identical results.
// No logic beyond conversion lives here: the wasm engine does the work.

import { VitrineError, fromEngineError, unsupported } from './errors.js';
import { nativeDigest } from './digest.js';
import { catalogRecords } from './bundle-catalog.js';
import { loadReceived, receiveBundle, verifyReceived } from './stream-load.js';

/** Methods the JS API forwards to the wasm engine when the engine build has them. */
export const ENGINE_METHODS = Object.freeze([
  'track',
  'recommend',
  'rerank',
  'similar',
  'explain',
  'privacyStatus',
  'exportState',
  'importState',
  'forget',
  'reset',
  'configure',
  'joinStored',
  'applyUpdate',
  'boughtTogether',
  'trending',
]);

const GETTERS = ['itemCount', 'sessionLength', 'categories', 'contextFeatures', 'kernel', 'pendingEvents'];

/**
 * Results cross postMessage as `{list, unknownIds, warnings, propensity?}` (arrays lose extra
 * properties).
 */
export function toWire(value) {
  if (Array.isArray(value)) {
    const wire = {
      $list: Array.from(value),
      unknownIds: Array.isArray(value.unknownIds) ? [...value.unknownIds] : [],
      warnings: Array.isArray(value.warnings) ? [...value.warnings] : [],
    };
    if (value.propensity) wire.propensity = { ...value.propensity };
    return wire;
  }
  return value;
}

/** The inverse of `toWire`: an array of results with `unknownIds`, `warnings` (and `propensity`). */
export function fromWire(value) {
  if (value && typeof value === 'object' && Array.isArray(value.$list)) {
    const list = value.$list;
    list.unknownIds = value.unknownIds;
    list.warnings = value.warnings;
    if (value.propensity) list.propensity = value.propensity;
    return list;
  }
  return value;
}

/** The engine's refusal of a bundle, as the package reports it. */
function rejected(err) {
  return new VitrineError('bad_bundle', `the model bundle was rejected: ${fromEngineError(err).message}`, { cause: err });
}

export class EngineCore {
  /**
   * Loads the engine; the bundle's digest, when it is to be verified, is computed with the
   * browser's SHA-256 where it can be (digest.js) and checked by the engine.
   * @param {{Recommender: any}} glue the wasm-bindgen module (already initialized)
   * @param {Uint8Array} bytes the bundle
   * @param {{verifyDigest?: boolean}} [options] `verifyDigest: false` skips the bundle's own SHA-256
   *   (only when the page has checked the bytes already: `integrity`)
   * @returns {Promise<EngineCore>}
   */
  static async create(glue, bytes, { verifyDigest = true } = {}) {
    const computedDigest = verifyDigest ? await nativeDigest(glue.Recommender, bytes) : null;
    return new EngineCore(glue, bytes, { verifyDigest, computedDigest });
  }

  /**
   * Loads the engine from a download as it arrives (stream-load.js): the chunks go into the
   * engine's memory and are hashed while the next one is awaited; no copy of the whole file is
   * kept in JavaScript. The bundle's catalog records (bundle-catalog.js) are read on the way and
   * kept as `catalog`, for a page whose engine runs in a worker.
   * @param {{Recommender: any, BundleStream: any}} glue the wasm-bindgen module (initialized)
   * @param {ReadableStream<Uint8Array>} body the response's body
   * @param {{verifyDigest?: boolean, integrity?: string|null, sizeHint?: number|null,
   *   onChunk?: (bytes: number) => void}} [options] `verifyDigest` as `create`; `integrity`: the
   *   page's SRI hash, checked before the engine loads the bytes (which then skips its own digest;
   *   the stream hashes the file as it comes for it); `sizeHint`: the announced length;
   *   `onChunk`: called with each chunk's length
   * @returns {Promise<EngineCore>}
   */
  static async fromStream(glue, body, { verifyDigest = true, integrity = null, sizeHint = null, onChunk } = {}) {
    let stream;
    try {
      stream = await receiveBundle(glue, body, { sizeHint, onChunk, fileOrder: integrity != null });
    } catch (err) {
      if (typeof err?.code === 'string') throw rejected(err);
      throw new VitrineError('fetch_failed', `the download of the bundle broke off: ${err?.message ?? err}`, { cause: err });
    }
    if (integrity != null) {
      try {
        await verifyReceived(stream, integrity);
      } catch (err) {
        stream.free();
        throw err;
      }
    }
    const catalog = catalogRecords(stream.bytesView());
    let rec;
    try {
      rec = await loadReceived(glue, stream, { verifyDigest: integrity == null && verifyDigest });
    } catch (err) {
      throw rejected(err);
    }
    const core = new EngineCore(glue, null, { loaded: rec });
    core.catalog = catalog;
    return core;
  }

  /**
   * @param {{Recommender: any}} glue the wasm-bindgen module (already initialized)
   * @param {Uint8Array|null} bytes the bundle (null with `loaded`)
   * @param {{verifyDigest?: boolean, computedDigest?: string|null}} [options] `verifyDigest: false`
   *   skips the bundle's own SHA-256 (only when the page has checked the bytes already:
   *   `integrity`); `computedDigest`: the digest computed from these bytes, which the engine checks
   *   against the recorded one instead of hashing them (see `EngineCore.create`); `loaded`: a
   *   Recommender already loaded (`fromStream`)
   */
  constructor(glue, bytes, { verifyDigest = true, computedDigest = null, loaded = null } = {}) {
    this.glue = glue;
    /** The bundle's catalog records when the core read them (`fromStream`), else null. */
    this.catalog = null;
    try {
      if (loaded) this.rec = loaded;
      else if (!verifyDigest) this.rec = glue.Recommender.fromBytes(bytes, { verifyDigest: false });
      else if (computedDigest) this.rec = glue.Recommender.fromBytes(bytes, { computedDigest });
      else this.rec = glue.Recommender.fromBytes(bytes);
    } catch (err) {
      throw rejected(err);
    }
    this.capabilities = ENGINE_METHODS.filter((m) => typeof this.rec[m] === 'function');
  }

  /** Static facts plus what this build supports. */
  info() {
    const info = { capabilities: this.capabilities };
    for (const g of GETTERS) {
      try {
        const v = this.rec[g];
        if (v !== undefined && typeof v !== 'function') info[g] = Array.isArray(v) ? [...v] : v;
      } catch {
        /* a getter this build does not have */
      }
    }
    return info;
  }

  /**
   * The arguments of `method` with what is better computed outside the engine added: for
   * `applyUpdate(bytes)` (a catalog update or a shard), the delta's digest with the browser's
   * SHA-256 (`{computedDigest}`, digest.js), which the engine checks against the one the delta
   * records instead of hashing every byte in wasm. Anything else, or no `crypto.subtle`: as given.
   * @param {string} method
   * @param {unknown[]} args
   * @returns {Promise<unknown[]>}
   */
  async prepare(method, args) {
    if (method !== 'applyUpdate' || args.length !== 1 || !(args[0] instanceof Uint8Array)) return args;
    const computedDigest = await nativeDigest(this.glue.Recommender, args[0]);
    return computedDigest ? [args[0], { computedDigest }] : args;
  }

  /** Calls `method(...args)` on the engine; returns a structured-clone-safe value. */
  call(method, args) {
    if (method === 'info') return this.info();
    if (!ENGINE_METHODS.includes(method)) {
      throw new VitrineError('invalid_argument', `unknown engine method ${method}`);
    }
    if (!this.capabilities.includes(method)) throw unsupported(method);
    let out;
    try {
      out = this.rec[method](...args);
    } catch (err) {
      throw fromEngineError(err);
    }
    return toWire(out);
  }

  free() {
    try {
      this.rec.free();
    } catch {
      /* already freed */
    }
  }
}
