// Where the engine runs: in this thread (`MainThreadBackend`) or in a dedicated module Web Worker
// (`WorkerBackend`). Both expose `start(source) -> info` and `call(method, args) -> Promise`, and both
// run the same `EngineCore`, so results are identical. `source` is the bundle's bytes, or a
// download under way (`{body, sizeHint}`: a response body the engine reads as it arrives, after
// which `catalog` holds the records the bundle carries).

import init, { BundleStream, Recommender } from '../pkg/vitrine.js';
import { EngineCore, fromWire } from './core.js';
import { VitrineError, errorFromWire } from './errors.js';

let glueReady = null;

/** Instantiates the wasm engine once per page (or worker). `wasm` overrides where it comes from. */
export function initGlue(wasm) {
  if (!glueReady) {
    // The literal `new URL('…', import.meta.url)` lets bundlers (Vite, webpack, Rollup) find and
    // emit the .wasm next to the code; plain <script type="module"> pages resolve it as is.
    const source = wasm ?? new URL('../pkg/vitrine_bg.wasm', import.meta.url);
    glueReady = init({ module_or_path: source }).catch((err) => {
      glueReady = null;
      throw new VitrineError(
        'engine_load_failed',
        `could not load the WebAssembly engine (${typeof source === 'string' || source instanceof URL ? source : 'given module'}): ${err?.message ?? err}`,
        { cause: err },
      );
    });
  }
  return glueReady;
}

export class MainThreadBackend {
  constructor({ wasm } = {}) {
    this.wasm = wasm;
    this.mode = 'main';
    this.core = null;
  }

  async start(source, options = {}) {
    await initGlue(this.wasm);
    this.core =
      source instanceof Uint8Array
        ? await EngineCore.create({ Recommender }, source, options)
        : await EngineCore.fromStream({ Recommender, BundleStream }, source.body, { ...options, sizeHint: source.sizeHint });
    /** The bundle's catalog records, when read from a download (else the caller reads its bytes). */
    this.catalog = this.core.catalog;
    return this.core.info();
  }

  async call(method, args = []) {
    if (!this.core) throw new VitrineError('destroyed', 'this Vitrine instance was destroyed');
    const prepared = await this.core.prepare(method, args);
    if (!this.core) throw new VitrineError('destroyed', 'this Vitrine instance was destroyed');
    return fromWire(this.core.call(method, prepared));
  }

  /** The engine's state now, synchronously (for a save from `pagehide`); null when destroyed. */
  stateSync() {
    return this.core ? this.core.call('exportState', []) : null;
  }

  destroy() {
    this.core?.free();
    this.core = null;
  }
}

/** Calls after which the worker also sends the state back (when `wantState`): see stateSync(). */
const CHANGES_STATE = new Set(['track', 'configure', 'importState', 'forget', 'reset', 'recommend', 'rerank', 'similar', 'explain', 'applyUpdate']);

export class WorkerBackend {
  constructor({ wasm, workerUrl } = {}) {
    this.mode = 'worker';
    this.wasm = wasm;
    this.workerUrl = workerUrl;
    this.pending = new Map();
    this.nextId = 1;
    this.worker = null;
    this.dead = null;
    /** Set while a store is in use: replies to state-changing calls carry the exported state. */
    this.wantState = false;
    this.lastState = null;
  }

  #spawn() {
    try {
      // Written out literally so that bundlers recognise and bundle the worker entry.
      this.worker = this.workerUrl
        ? new Worker(this.workerUrl, { type: 'module', name: 'vitrine-engine' })
        : new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'vitrine-engine' });
    } catch (err) {
      throw new VitrineError('worker_failed', `could not start the engine worker: ${err?.message ?? err}`, {
        cause: err,
      });
    }
    this.worker.onmessage = (e) => {
      const { id, ok, value, error, state } = e.data ?? {};
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      if (typeof state === 'string') this.lastState = state;
      if (ok) p.resolve(fromWire(value));
      else p.reject(errorFromWire(error));
    };
    const die = (why) => {
      this.dead = new VitrineError('worker_failed', `the engine worker failed: ${why}`);
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    };
    this.worker.onerror = (e) => {
      e.preventDefault?.();
      die(e.message || 'it could not be loaded (check the worker URL and the Content-Security-Policy worker-src)');
    };
    this.worker.onmessageerror = () => die('a message could not be deserialized');
  }

  #send(msg, transfer = []) {
    if (this.dead) return Promise.reject(this.dead);
    if (!this.worker) return Promise.reject(new VitrineError('destroyed', 'this Vitrine instance was destroyed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...msg }, transfer);
    });
  }

  async start(source, options = {}) {
    this.#spawn();
    const wasm = this.wasm instanceof URL ? this.wasm.href : this.wasm;
    const verifyDigest = options.verifyDigest !== false;
    if (!(source instanceof Uint8Array)) {
      // A download: its body stream is transferred, and the worker reads it as it arrives.
      const { body, sizeHint } = source;
      const integrity = options.integrity ?? null;
      const { catalog, ...info } = await this.#send({ op: 'init', body, sizeHint, wasm, verifyDigest, integrity }, [body]);
      this.catalog = catalog ?? null;
      return info;
    }
    // Copy into a buffer of our own and transfer it (no second copy, the caller's bytes untouched).
    const copy = source.slice();
    return this.#send({ op: 'init', bytes: copy.buffer, wasm, verifyDigest }, [copy.buffer]);
  }

  call(method, args = []) {
    return this.#send({ op: 'call', method, args, withState: this.wantState && CHANGES_STATE.has(method) });
  }

  /**
   * The state as of the last reply (the worker cannot be asked synchronously): what a `pagehide`
   * save writes. The page has every event whose track() has resolved in it.
   */
  stateSync() {
    return this.lastState;
  }

  destroy() {
    this.worker?.terminate();
    this.worker = null;
    const err = new VitrineError('destroyed', 'this Vitrine instance was destroyed');
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
