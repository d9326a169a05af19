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
import { canTransferStreams, fetchBundle, openBundle, verifyIntegrity, watchedBody } from './fetch.js';
import { StateStore, resolveAdapter, indexedDBAdapter, DEFAULT_KEY, DEFAULT_TTL_MS } from './storage.js';
import { checkConsent, globalPrivacyControl } from './consent.js';
import { SessionKeeper, DEFAULT_SAVE_DELAY_MS } from './persistence.js';
import { IsolatedVitrine } from './isolated/client.js';
import { catalogRecords } from './bundle-catalog.js';
import { ShardSet, isShardManifestUrl } from './shards.js';

export { VitrineError } from './errors.js';
export { reasonText } from './reasons.js';
export { memoryAdapter, localStorageAdapter, sessionStorageAdapter, indexedDBAdapter, STORAGE_SCHEMA } from './storage.js';
export { globalPrivacyControl } from './consent.js';
export { Experiments, EXPERIMENTS_KEY, EXPERIMENTS_SCHEMA, EXPERIMENT_EVENTS } from './experiments.js';
export { fromDataLayer, segmentPlugin, shelfEventsToDataLayer, shelfEventsToSegment } from './analytics.js';

export { VERSION } from './version.js';
export { IsolatedVitrine } from './isolated/client.js';

const CONSTRUCT = Symbol('Vitrine.construct');

/**
 * A fresh random id for one result set: 122 random bits from the browser's CSPRNG (a UUID v4),
 * derived from nothing about the shopper, so it cannot link two result sets or a shopper. Analytics
 * events about a shelf (impressions, clicks) repeat it, like Algolia's queryID or Recombee's recommId.
 */
export function newRecommendationId() {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Methods whose call may change the engine's exportable state (events, settings, privacy spent). */
const STATEFUL = new Set(['track', 'configure', 'importState', 'recommend', 'rerank', 'similar', 'explain', 'applyUpdate']);
/** Of those, the rankings: they change only the privacy accountant. */
const RANKINGS = new Set(['recommend', 'rerank', 'similar', 'explain']);

/** True when this context may use IndexedDB (reading `indexedDB` throws where storage is refused). */
function hasIndexedDB() {
  try {
    return globalThis.indexedDB != null;
  } catch {
    return false;
  }
}

const toBytes = (src) => {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  return null;
};

export class Vitrine extends EventTarget {
  #backend;
  #info;
  #keeper;
  #requested = 'pending';
  #gpc = false;
  #destroyed = false;
  #listeners;
  #catalog;
  #experiments;
  #shards;
  /** The `fetchOptions` given to load (shards are fetched as the bundle was). */
  #fetchOptions;

  /** @private use Vitrine.load() */
  constructor(token, backend, info, opts) {
    super();
    if (token !== CONSTRUCT) throw new TypeError('use Vitrine.load(urlOrBytes, options) to create a Vitrine');
    this.#backend = backend;
    this.#info = info;
    this.#listeners = opts.listeners;
    /** id -> catalog record: the bundle's own records, then every applied update's. */
    this.#catalog = new Map((opts.catalog ?? []).map((r) => [String(r.id), r]));
    /** Storage problems seen so far (also dispatched as 'storageissue' events). */
    this.storageIssues = [];
    this.#requested = opts.consent;
    this.#gpc = opts.gpc;
    this.#experiments = opts.experiments ?? null;
    this.#shards = opts.shards ?? null;
    this.#fetchOptions = opts.fetchOptions;
    this.#keeper = new SessionKeeper({
      backend,
      persistent: opts.store,
      visit: opts.visit,
      ledger: opts.ledger,
      consent: opts.consent,
      gpc: opts.gpc,
      saveDelay: opts.saveDelay,
      canExport: info.capabilities.includes('exportState'),
      canImport: info.capabilities.includes('importState'),
      canJoin: info.capabilities.includes('joinStored'),
      lockName: opts.storageKey,
      onIssue: (issue) => this.#issue(issue),
    });
  }

  /**
   * Loads the engine and a model bundle. With `isolation: {frame}` the engine runs in a frame of
   * that URL's origin instead and this resolves to an IsolatedVitrine (README "Isolated mode").
   * @param {string|URL|ArrayBuffer|ArrayBufferView} source the bundle's URL or bytes
   * @param {import('./index.d.ts').LoadOptions} [options]
   */
  static async load(source, options = {}) {
    // Isolated mode: the engine, its storage and the shelves in frames of a second origin (isolated/).
    if (options?.isolation != null) return IsolatedVitrine.load(source, options);
    const {
      integrity,
      worker = false,
      consent = 'pending',
      storage = 'localStorage',
      visitStorage = storage === false || storage == null ? false : 'sessionStorage',
      saveDelay = DEFAULT_SAVE_DELAY_MS,
      storageKey = DEFAULT_KEY,
      ttl = DEFAULT_TTL_MS,
      wasm,
      workerUrl,
      settings,
      fetchOptions,
      onProgress,
      onStorageIssue,
      experiments,
    } = options;
    checkConsent(consent);
    if (!(typeof saveDelay === 'number' && saveDelay >= 0)) {
      throw new VitrineError('invalid_argument', `saveDelay must be a number of milliseconds ≥ 0, got ${JSON.stringify(saveDelay)}`);
    }
    const progress = (p) => {
      try {
        onProgress?.(p);
      } catch {
        /* a listener's error must not break loading */
      }
    };

    // A shard set (a `.json` manifest, docs/scale.md): load its head, checked against the
    // manifest's hash (itself checked against `integrity`, when given).
    let shards = null;
    let headIntegrity = integrity;
    if (isShardManifestUrl(source)) {
      shards = await ShardSet.fetch(source, { integrity, fetchOptions });
      source = shards.head.url;
      headIntegrity = shards.head.integrity;
    }
    let bytes = toBytes(source);
    // A download the engine reads as it arrives ({body, sizeHint}) unless, with a worker, the
    // browser cannot hand it the stream. Its `integrity` is checked once the body has ended,
    // before the engine loads the bytes (on the SHA-256 the engine computed on the way, when it
    // could keep up); the progress then goes bundle → verify → engine → ready as before.
    let download = null;
    let received = 0;
    if (!bytes) {
      if (typeof source !== 'string' && !(source instanceof URL)) {
        throw new VitrineError('invalid_argument', 'Vitrine.load() needs a bundle URL or its bytes (ArrayBuffer / Uint8Array)');
      }
      if (!worker || canTransferStreams()) {
        const opened = await openBundle(String(source), { fetchOptions });
        const ended = (n) => {
          received = n;
          if (headIntegrity != null) progress({ phase: 'verify', loaded: 0, total: n });
          else progress({ phase: 'engine', loaded: 0, total: 1 });
        };
        if (opened.res.body) download = { body: watchedBody(opened, progress, ended), sizeHint: opened.total };
        else bytes = new Uint8Array(await opened.res.arrayBuffer());
      } else {
        bytes = await fetchBundle(String(source), { onProgress: progress, fetchOptions });
      }
    } else {
      progress({ phase: 'bundle', loaded: bytes.length, total: bytes.length });
    }
    if (headIntegrity != null && bytes) {
      progress({ phase: 'verify', loaded: 0, total: bytes.length });
      await verifyIntegrity(bytes, headIntegrity);
      progress({ phase: 'verify', loaded: bytes.length, total: bytes.length });
    }

    if (!download) progress({ phase: 'engine', loaded: 0, total: 1 });
    const backend = worker ? new WorkerBackend({ wasm, workerUrl }) : new MainThreadBackend({ wasm });
    let info;
    try {
      // Bytes that matched the page's `integrity` hash need no second check of the same bytes:
      // the engine skips its own SHA-256 (most of the load time) but still validates the rest.
      info = await backend.start(download ?? bytes, {
        verifyDigest: headIntegrity == null,
        integrity: download ? headIntegrity : null,
      });
      if (download && headIntegrity != null) {
        progress({ phase: 'verify', loaded: received, total: received });
        progress({ phase: 'engine', loaded: 0, total: 1 });
      }
      if (settings != null) {
        if (!info.capabilities.includes('configure')) throw unsupported('configure');
        await backend.call('configure', [settings]);
      }
    } catch (err) {
      backend.destroy();
      // A download the engine never read (its wasm or worker failed first) is stopped; one it read
      // or was handed is locked or gone, and this does nothing.
      download?.body.cancel(err).catch(() => {});
      throw err instanceof VitrineError ? err : new VitrineError('engine_load_failed', String(err?.message ?? err), { cause: err });
    }
    progress({ phase: 'engine', loaded: 1, total: 1 });

    const storeOf = (option) =>
      option === false || option == null ? null : new StateStore(resolveAdapter(option), { key: storageKey, ttlMs: ttl });
    const v = new Vitrine(CONSTRUCT, backend, info, {
      store: storeOf(storage),
      visit: storeOf(visitStorage),
      // localStorage is not read consistently across tabs (a write reaches the others later): the
      // privacy budget they share is also kept in IndexedDB, which is (persistence.js, "ledger").
      ledger:
        storage === 'localStorage' && hasIndexedDB()
          ? new StateStore(indexedDBAdapter({ dbName: 'vitrine-ledger' }), { key: storageKey, ttlMs: ttl })
          : null,
      storageKey,
      consent,
      saveDelay,
      gpc: globalPrivacyControl(),
      listeners: { onStorageIssue },
      experiments,
      shards,
      fetchOptions,
      // The records the bundle carries (checked by the engine's digest, or by `integrity`).
      catalog: bytes ? catalogRecords(bytes) : (backend.catalog ?? []),
    });
    await v.#keeper.start();
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
  /**
   * The catalog records the bundle carries (docs/catalog.md), with every applied update's: what
   * `<vitrine-shelf>` shows when it is given no other catalog. An array of records.
   */
  get catalog() {
    return [...this.#catalog.values()];
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
  /**
   * Where the session is kept: 'persistent' (on this device across visits, with consent), 'visit'
   * (this tab until it closes, before the shopper decides) or 'memory' (this page only).
   */
  get storageMode() {
    return this.#keeper.mode;
  }

  /** The engine's report for the session restored at load, if any. */
  get lastImport() {
    return this.#keeper.lastImport;
  }

  /** Changes consent. 'granted' saves the session from now on; 'denied' deletes every stored copy. */
  async setConsent(consent) {
    checkConsent(consent);
    this.#alive();
    const before = this.#requested;
    this.#requested = consent;
    this.#gpc = globalPrivacyControl();
    await this.#keeper.setConsent(consent, this.#gpc);
    this.#emit('consentchange', { consent, previous: before, storageMode: this.storageMode, globalPrivacyControl: this.#gpc });
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

  /** Writes a pending change to storage now; resolves when every write so far has finished. */
  flush() {
    return this.#keeper.flush();
  }

  // -- engine calls -----------------------------------------------------------------------------

  #alive() {
    if (this.#destroyed) throw new VitrineError('destroyed', 'this Vitrine instance was destroyed');
  }

  async #call(method, args) {
    this.#alive();
    if (!this.supports(method)) throw unsupported(method);
    try {
      if (RANKINGS.has(method)) return await this.#keeper.guarded(() => this.#backend.call(method, args));
      return await this.#backend.call(method, args);
    } finally {
      // A ranking may have spent privacy budget (part of the state), an event changed the history.
      if (STATEFUL.has(method) && !this.#destroyed) this.#keeper.changed({ ranking: RANKINGS.has(method) });
    }
  }

  /** A result set, stamped with a fresh recommendationId. */
  async #results(method, args) {
    // A sharded catalog: the shards of the categories the request filters on join first (the
    // page's own argument chooses them, nothing else).
    const wanted = this.#shards && args.find((a) => Array.isArray(a?.filters?.categories))?.filters.categories;
    if (wanted) await this.loadShards({ categories: wanted.filter((c) => typeof c === 'string') });
    const list = await this.#call(method, args);
    if (Array.isArray(list)) list.recommendationId = newRecommendationId();
    return list;
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #changed(reason, detail = {}) {
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

  /**
   * Records a shopper event: {type: 'view'|'click'|'add_to_cart'|'remove_from_cart'|'purchase'|…, item, ts?}.
   * Resolves to `{pending}`: true when the bundle does not know the item yet — the event is kept
   * (bounded) and counts once a catalog update (`applyUpdate`) knows the id; not an error.
   */
  async track(event) {
    const pending = await this.#call('track', [event]);
    this.#changed('track', { event });
    return { pending: pending === true };
  }

  /**
   * The top k of the catalog for this shopper: [{id, score, rank?, why?}], best first, with
   * `unknownIds`, `warnings` and a fresh random `recommendationId`.
   */
  recommend(options = { k: 10 }) {
    return this.#results('recommend', [options]);
  }

  /** The page's own candidates, reordered for this shopper (same result shape as recommend). */
  rerank(ids, options) {
    if (!Array.isArray(ids)) return Promise.reject(new VitrineError('invalid_argument', 'rerank() needs an array of item ids'));
    return this.#results('rerank', options === undefined ? [ids] : [ids, options]);
  }

  /**
   * Items like `id` (product pages), or like a list of ids (a cart: the items closest to all of
   * them, the list itself left out). Reads no history; spends no privacy budget.
   */
  similar(idOrIds, options) {
    if (Array.isArray(idOrIds) && idOrIds.length === 0) return Promise.reject(new VitrineError('invalid_argument', 'similar() needs an item id or a non-empty array of item ids'));
    return this.#results('similar', options === undefined ? [idOrIds] : [idOrIds, options]);
  }

  /**
   * Items frequently bought with `ids` (a cart), from the bundle's co-purchase lists; the ids left
   * out. Reads no history; spends no privacy budget.
   */
  frequentlyBoughtTogether(ids, options) {
    if (!Array.isArray(ids) || ids.length === 0) return Promise.reject(new VitrineError('invalid_argument', 'frequentlyBoughtTogether() needs a non-empty array of item ids'));
    return this.#results('boughtTogether', options === undefined ? [ids] : [ids, options]);
  }

  /** "Customers who bought this also bought": the co-purchase neighbours of one product. */
  alsoBought(id, options) {
    if (typeof id !== 'string' || !id) return Promise.reject(new VitrineError('invalid_argument', 'alsoBought() needs an item id'));
    return this.#results('boughtTogether', options === undefined ? [id] : [id, options]);
  }

  /** What is popular lately (the bundle's recency-weighted counts). Reads no history. */
  trending(options) {
    return this.#results('trending', options === undefined ? [] : [options]);
  }

  /**
   * Applies a catalog update (the delta `vitrine catalog update --delta` writes for the bundle this
   * page loaded): new products join (and pending events of them count), changed ones change,
   * unavailable ones leave every shelf. `source`: the delta's URL or bytes; `integrity`: an SRI
   * hash to check first (the engine checks the delta's own digest in any case). Resolves to
   * `{added, updated, unavailable, items, promoted}`; shelves re-render.
   */
  async applyUpdate(source, { integrity, fetchOptions } = {}) {
    this.#alive();
    let bytes = toBytes(source);
    if (!bytes) {
      if (typeof source !== 'string' && !(source instanceof URL)) {
        throw new VitrineError('invalid_argument', 'applyUpdate() needs the delta\'s URL or its bytes');
      }
      bytes = await fetchBundle(String(source), { fetchOptions });
    }
    if (integrity != null) await verifyIntegrity(bytes, integrity);
    const report = await this.#call('applyUpdate', [bytes]);
    for (const r of catalogRecords(bytes)) this.#catalog.set(String(r.id), r);
    if (report && typeof report.items === 'number') this.#info.itemCount = report.items;
    this.#changed('catalog', { update: report });
    return report;
  }

  /**
   * A sharded catalog (loaded from a `shards.json` manifest): `{total, loaded, items, categories}`
   * — shards in the set, shards fetched or being fetched, products in the whole set, categories the
   * shards hold. `null` for a single bundle.
   */
  get shards() {
    return this.#shards ? { ...this.#shards.status(), categories: this.#shards.categories } : null;
  }

  /**
   * Fetches the shards holding `categories` (or every shard: `'all'`) that this page has not
   * fetched yet, checks each against the manifest's hash and adds its products to the engine
   * (their pending events count, shelves re-render). Which shards are fetched depends only on the
   * argument, never on the shopper's history. Resolves to `{shards, added, items}`. A request with
   * `filters.categories` calls this first.
   */
  async loadShards(which = 'all') {
    this.#alive();
    if (!this.#shards) throw new VitrineError('invalid_argument', 'loadShards(): this Vitrine was not loaded from a shard manifest (shards.json)');
    const categories = which === 'all' ? 'all' : which?.categories;
    if (categories !== 'all' && !(Array.isArray(categories) && categories.every((c) => typeof c === 'string'))) {
      throw new VitrineError('invalid_argument', "loadShards() takes 'all' or {categories: [string, …]}");
    }
    const picked = this.#shards.select(categories);
    const reports = await Promise.all(
      picked.map((s) =>
        this.#shards.load(s, async (bytes) => {
          const report = await this.#call('applyUpdate', [bytes]);
          for (const r of catalogRecords(bytes)) this.#catalog.set(String(r.id), r);
          if (report && typeof report.items === 'number') this.#info.itemCount = Math.max(this.#info.itemCount, report.items);
          return report;
        }, this.#fetchOptions),
      ),
    );
    const added = reports.reduce((n, r) => n + (r?.added ?? 0), 0);
    if (picked.length) this.#changed('catalog', { shards: picked.map((s) => s.url) });
    return { shards: picked.map((s) => s.url), added, items: this.#info.itemCount };
  }

  /** Why item `id` gets its score under these options. */
  explain(id, options) {
    return this.#call('explain', options === undefined ? [id] : [id, options]);
  }

  /**
   * Differential-privacy accounting: ε spent and left, mechanism; with `experiments` given to
   * `load`, also `measurement`: the measurement budget of the experiment reports
   * (`{budgetEpsilon, spentEpsilon, experiments, reports}`, null without a manifest or under GPC).
   */
  async privacyStatus() {
    const status = await this.#call('privacyStatus', []);
    if (this.#experiments && status && typeof status === 'object') status.measurement = this.#experiments.status();
    return status;
  }

  /** The `Experiments` given to `load` (or null). */
  get experiments() {
    return this.#experiments;
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
    // Deleting is always allowed: "forget me" erases every stored copy whatever the consent state.
    await this.#keeper.forget();
    // The experiment tallies go too (the spent measurement budget stays spent).
    await this.#experiments?.forget();
    this.#emit('change', { reason: 'forget' });
    return typeof erased === 'number' ? erased : null;
  }

  /** Stops the engine (terminates the worker) and frees its memory. */
  destroy() {
    if (this.#destroyed) return;
    this.#keeper.destroy(); // a last synchronous save of a pending change
    this.#destroyed = true;
    this.#backend.destroy();
  }
}
