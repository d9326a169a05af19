// Vitrine: private, on-device product recommendations. The public API of the npm package.
//
//   import { Vitrine } from 'vitrine';
//   const vitrine = await Vitrine.load('/store.vtr', { consent: 'pending' });
//   await vitrine.track({ type: 'view', item: 'p0012' });
//   const shelf = await vitrine.recommend({ k: 12 });
//
// Every method is async and behaves the same on the main thread and with {worker: true}.

import { MainThreadBackend, WorkerBackend } from './backend.js';
import { VitrineError, unsupported } from './errors.js';
import { fetchBundle, verifyIntegrity } from './fetch.js';
import { StateStore, resolveAdapter, DEFAULT_KEY, DEFAULT_TTL_MS } from './storage.js';
import { checkConsent, effectiveConsent, globalPrivacyControl } from './consent.js';

export { VitrineError } from './errors.js';
export { reasonText } from './reasons.js';
export { memoryAdapter, localStorageAdapter, indexedDBAdapter, STORAGE_SCHEMA } from './storage.js';
export { globalPrivacyControl } from './consent.js';

export const VERSION = '0.1.0';

const CONSTRUCT = Symbol('Vitrine.construct');

const toBytes = (src) => {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  return null;
};

export class Vitrine extends EventTarget {
  #backend;
  #info;
  #store = null;
  #requested = 'pending';
  #gpc = false;
  #saving = Promise.resolve();
  #saveQueued = false;
  #destroyed = false;
  #listeners;

  /** @private use Vitrine.load() */
  constructor(token, backend, info, opts) {
    super();
    if (token !== CONSTRUCT) throw new TypeError('use Vitrine.load(urlOrBytes, options) to create a Vitrine');
    this.#backend = backend;
    this.#info = info;
    this.#listeners = opts.listeners;
    /** Storage problems seen so far (also dispatched as 'storageissue' events). */
    this.storageIssues = [];
    this.#store = opts.store;
    this.#requested = opts.consent;
    this.#gpc = opts.gpc;
  }

  /**
   * Loads the engine and a model bundle.
   * @param {string|URL|ArrayBuffer|ArrayBufferView} source the bundle's URL or bytes
   * @param {import('./index.d.ts').LoadOptions} [options]
   */
  static async load(source, options = {}) {
    const {
      integrity,
      worker = false,
      consent = 'pending',
      storage = 'localStorage',
      storageKey = DEFAULT_KEY,
      ttl = DEFAULT_TTL_MS,
      wasm,
      workerUrl,
      settings,
      fetchOptions,
      onProgress,
      onStorageIssue,
    } = options;
    checkConsent(consent);
    const progress = (p) => {
      try {
        onProgress?.(p);
      } catch {
        /* a listener's error must not break loading */
      }
    };

    let bytes = toBytes(source);
    if (!bytes) {
      if (typeof source !== 'string' && !(source instanceof URL)) {
        throw new VitrineError('invalid_argument', 'Vitrine.load() needs a bundle URL or its bytes (ArrayBuffer / Uint8Array)');
      }
      bytes = await fetchBundle(String(source), { onProgress: progress, fetchOptions });
    } else {
      progress({ phase: 'bundle', loaded: bytes.length, total: bytes.length });
    }
    if (integrity != null) {
      progress({ phase: 'verify', loaded: 0, total: bytes.length });
      await verifyIntegrity(bytes, integrity);
      progress({ phase: 'verify', loaded: bytes.length, total: bytes.length });
    }

    progress({ phase: 'engine', loaded: 0, total: 1 });
    const backend = worker ? new WorkerBackend({ wasm, workerUrl }) : new MainThreadBackend({ wasm });
    let info;
    try {
      // Bytes that matched the page's `integrity` hash need no second check of the same bytes:
      // the engine skips its own SHA-256 (most of the load time) but still validates the rest.
      info = await backend.start(bytes, { verifyDigest: integrity == null });
      if (settings != null) {
        if (!info.capabilities.includes('configure')) throw unsupported('configure');
        await backend.call('configure', [settings]);
      }
    } catch (err) {
      backend.destroy();
      throw err instanceof VitrineError ? err : new VitrineError('engine_load_failed', String(err?.message ?? err), { cause: err });
    }
    progress({ phase: 'engine', loaded: 1, total: 1 });

    const store = storage === false || storage == null ? null : new StateStore(resolveAdapter(storage), { key: storageKey, ttlMs: ttl });
    const v = new Vitrine(CONSTRUCT, backend, info, {
      store,
      consent,
      gpc: globalPrivacyControl(),
      listeners: { onStorageIssue },
    });
    await v.#applyConsent({ restore: true });
    progress({ phase: 'ready', loaded: 1, total: 1 });
    return v;
  }

  // -- facts ------------------------------------------------------------------------------------

  /** 'main' or 'worker'. */
  get mode() {
    return this.#backend.mode;
  }
  /** Number of items in the bundle. */
  get itemCount() {
    return this.#info.itemCount;
  }
  /** Engine methods this build supports, e.g. ['track', 'recommend', …]. */
  get capabilities() {
    return [...this.#info.capabilities];
  }
  /** Static facts about the engine and bundle (itemCount, categories, kernel, … when the build has them). */
  get info() {
    return structuredClone(this.#info);
  }
  /** True when the engine build has `method`. */
  supports(method) {
    return this.#info.capabilities.includes(method);
  }

  // -- consent ----------------------------------------------------------------------------------

  /** The consent the page set ('granted' | 'denied' | 'pending'). */
  get consent() {
    return this.#requested;
  }
  /** True when the browser sends Global Privacy Control. */
  get globalPrivacyControl() {
    return this.#gpc;
  }
  /** What storage does: 'persistent' (saved on this device) or 'memory' (gone when the page closes). */
  get storageMode() {
    return this.#store && effectiveConsent(this.#requested, this.#gpc) === 'granted' && this.supports('exportState')
      ? 'persistent'
      : 'memory';
  }

  /** Changes consent. 'granted' saves the session from now on; 'denied' deletes any stored copy. */
  async setConsent(consent) {
    checkConsent(consent);
    this.#alive();
    const before = this.#requested;
    this.#requested = consent;
    this.#gpc = globalPrivacyControl();
    await this.#applyConsent({ restore: false });
    this.#emit('consentchange', { consent, previous: before, storageMode: this.storageMode, globalPrivacyControl: this.#gpc });
  }

  async #applyConsent({ restore }) {
    if (!this.#store) return;
    const eff = effectiveConsent(this.#requested, this.#gpc);
    if (eff === 'denied') {
      await this.#saving;
      const issue = await this.#store.clear();
      if (issue) this.#issue(issue);
    } else if (eff === 'granted') {
      if (!this.supports('exportState')) {
        this.#issue({ kind: 'unsupported', message: 'this engine build cannot export its state: the session stays in memory' });
        return;
      }
      if (restore) await this.#restore();
      else this.#queueSave();
    }
  }

  async #restore() {
    const { state, issue } = await this.#store.load();
    if (issue) this.#issue(issue);
    if (state == null) return;
    if (!this.supports('importState')) {
      this.#issue({ kind: 'unsupported', message: 'this engine build cannot import a stored state' });
      return;
    }
    try {
      const report = await this.#backend.call('importState', [state]);
      this.lastImport = report;
    } catch (err) {
      await this.#store.clear();
      this.#issue({ kind: 'rejected', message: `stored session was refused by the engine and discarded: ${err.message}`, code: err.code });
    }
  }

  #issue(issue) {
    const plain = { kind: issue.kind, message: issue.message, ...(issue.code ? { code: issue.code } : {}) };
    this.storageIssues.push(plain);
    try {
      this.#listeners.onStorageIssue?.(plain);
    } catch {
      /* never break the page */
    }
    this.#emit('storageissue', plain);
  }

  #queueSave() {
    if (this.storageMode !== 'persistent' || this.#saveQueued) return;
    this.#saveQueued = true;
    this.#saving = this.#saving.then(async () => {
      this.#saveQueued = false;
      if (this.storageMode !== 'persistent' || this.#destroyed) return;
      try {
        const state = await this.#backend.call('exportState', []);
        const issue = await this.#store.save(String(state));
        if (issue) this.#issue(issue);
      } catch (err) {
        this.#issue({ kind: 'write_failed', message: `session could not be exported: ${err.message}` });
      }
    });
  }

  /** Resolves when every pending write to storage has finished. */
  flush() {
    return this.#saving;
  }

  // -- engine calls -----------------------------------------------------------------------------

  #alive() {
    if (this.#destroyed) throw new VitrineError('destroyed', 'this Vitrine instance was destroyed');
  }

  async #call(method, args) {
    this.#alive();
    if (!this.supports(method)) throw unsupported(method);
    return this.#backend.call(method, args);
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #changed(reason, detail = {}) {
    this.#queueSave();
    this.#emit('change', { reason, ...detail });
  }

  /**
   * Session and privacy settings (`{maxEvents, halfLifeS, weights, privacy: {epsilon, delta, budget}, …}`,
   * see the engine's docs). Shelves re-render with the new settings.
   */
  async configure(settings) {
    await this.#call('configure', [settings]);
    this.#changed('configure');
  }

  /** Records a shopper event: {type: 'view'|'click'|'add_to_cart'|'remove_from_cart'|'purchase'|…, item, ts?}. */
  async track(event) {
    await this.#call('track', [event]);
    this.#changed('track', { event });
  }

  /** The top k of the catalog for this shopper: [{id, score, rank?, why?}], best first (+ unknownIds, warnings). */
  recommend(options = { k: 10 }) {
    return this.#call('recommend', [options]);
  }

  /** The page's own candidates, reordered for this shopper. */
  rerank(ids, options) {
    if (!Array.isArray(ids)) return Promise.reject(new VitrineError('invalid_argument', 'rerank() needs an array of item ids'));
    return this.#call('rerank', options === undefined ? [ids] : [ids, options]);
  }

  /** Items like `id` (product pages). */
  similar(id, options) {
    return this.#call('similar', options === undefined ? [id] : [id, options]);
  }

  /** Why item `id` gets its score under these options. */
  explain(id, options) {
    return this.#call('explain', options === undefined ? [id] : [id, options]);
  }

  /** Differential-privacy accounting: ε spent and left, mechanism. */
  privacyStatus() {
    return this.#call('privacyStatus', []);
  }

  /** The session as the engine's versioned JSON string (what storage holds). */
  exportState() {
    return this.#call('exportState', []);
  }

  /** Replaces the session with an exported one; returns the engine's import report. */
  async importState(json) {
    const report = await this.#call('importState', [json]);
    this.#changed('import');
    return report;
  }

  /** Erases the session in memory and on this device. Returns how many entries were erased (when the engine says). */
  async forget() {
    this.#alive();
    let erased = null;
    if (this.supports('forget')) erased = await this.#backend.call('forget', []);
    else if (this.supports('reset')) await this.#backend.call('reset', []);
    else throw unsupported('forget');
    await this.#saving;
    // Deleting is always allowed: "forget me" erases a stored copy whatever the consent state.
    if (this.#store) {
      const issue = await this.#store.clear();
      if (issue) this.#issue(issue);
    }
    this.#emit('change', { reason: 'forget' });
    return typeof erased === 'number' ? erased : null;
  }

  /** Stops the engine (terminates the worker) and frees its memory. */
  destroy() {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#backend.destroy();
  }
}
