// Where the shopper's session is kept: across visits once they consent (localStorage by default),
// and for the current visit in this tab before they decide (sessionStorage; see persistence.js).
// Adapters are tiny async key/value stores; `StateStore` wraps the engine's exported state in a
// versioned, checksummed, expiring envelope.
//
// Adapter interface (bring your own for other stores):
//   { name: string, sync?: boolean, get(key): Promise<string|null>, set(key, value: string): Promise<void>,
//     remove(key): Promise<void> }
// `sync: true` promises that set() and remove() have done their work when they return (Web Storage
// does): such stores are written from a `pagehide` handler, when no promise may resolve any more.
// `set` may throw a DOMException named 'QuotaExceededError' (or any error): the session then stays
// in memory and a 'storageissue' event says why.

import { sha256Hex } from './sha256.js';

/** Version of the envelope below (not of the engine's state, which carries its own version). */
export const STORAGE_SCHEMA = 1;
/** Default time to live of a stored session: 30 days. */
export const DEFAULT_TTL_MS = 30 * 24 * 3600 * 1000;
export const DEFAULT_KEY = 'vitrine:session';

/** An in-memory adapter (for tests, or for pages that manage persistence themselves). */
export function memoryAdapter() {
  const map = new Map();
  return {
    name: 'memory',
    sync: true,
    async get(key) {
      return map.has(key) ? map.get(key) : null;
    },
    async set(key, value) {
      map.set(key, String(value));
    },
    async remove(key) {
      map.delete(key);
    },
  };
}

/** A Web Storage area (`localStorage`, `sessionStorage`) as an adapter; its writes are synchronous. */
function webStorageAdapter(name, pick) {
  const area = () => {
    const s = pick();
    if (!s) throw new Error(`${name} is not available here`);
    return s;
  };
  return {
    name,
    sync: true,
    async get(key) {
      return area().getItem(key);
    },
    async set(key, value) {
      area().setItem(key, value);
    },
    async remove(key) {
      area().removeItem(key);
    },
  };
}

/** `window.localStorage` (synchronous underneath; small sessions only, which ours are). */
export function localStorageAdapter({ storage } = {}) {
  return webStorageAdapter('localStorage', () => storage ?? globalThis.localStorage);
}

/** `window.sessionStorage`: this tab only, gone when the tab closes (the visit store). */
export function sessionStorageAdapter({ storage } = {}) {
  return webStorageAdapter('sessionStorage', () => storage ?? globalThis.sessionStorage);
}

/** IndexedDB: one object store holding string values. */
export function indexedDBAdapter({ dbName = 'vitrine', storeName = 'state', indexedDB } = {}) {
  let dbp = null;
  const open = () => {
    if (!dbp) {
      dbp = new Promise((resolve, reject) => {
        const idb = indexedDB ?? globalThis.indexedDB;
        if (!idb) return reject(new Error('IndexedDB is not available here'));
        const req = idb.open(dbName, 1);
        req.onupgradeneeded = () => req.result.createObjectStore(storeName);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
        req.onblocked = () => reject(new Error('IndexedDB open is blocked by another tab'));
      }).catch((err) => {
        dbp = null;
        throw err;
      });
    }
    return dbp;
  };
  const tx = async (mode, fn) => {
    const db = await open();
    return new Promise((resolve, reject) => {
      const t = db.transaction(storeName, mode);
      const req = fn(t.objectStore(storeName));
      t.oncomplete = () => resolve(req?.result);
      t.onerror = () => reject(t.error ?? req?.error);
      t.onabort = () => reject(t.error ?? new Error('IndexedDB transaction aborted'));
    });
  };
  return {
    name: 'indexedDB',
    async get(key) {
      const v = await tx('readonly', (s) => s.get(key));
      return v === undefined ? null : v;
    },
    async set(key, value) {
      await tx('readwrite', (s) => s.put(String(value), key));
    },
    async remove(key) {
      await tx('readwrite', (s) => s.delete(key));
    },
  };
}

/** Picks an adapter from a `storage` option: 'localStorage' | 'sessionStorage' | 'indexedDB' | 'memory' | an adapter. */
export function resolveAdapter(option = 'localStorage') {
  if (option && typeof option === 'object') {
    for (const m of ['get', 'set', 'remove']) {
      if (typeof option[m] !== 'function') throw new TypeError(`storage adapter is missing ${m}()`);
    }
    return option;
  }
  if (option === 'localStorage') return localStorageAdapter();
  if (option === 'sessionStorage') return sessionStorageAdapter();
  if (option === 'indexedDB') return indexedDBAdapter();
  if (option === 'memory') return memoryAdapter();
  throw new TypeError(`unknown storage '${option}' (expected 'localStorage', 'sessionStorage', 'indexedDB', 'memory' or an adapter)`);
}

const isQuota = (err) =>
  err?.name === 'QuotaExceededError' || err?.name === 'NS_ERROR_DOM_QUOTA_REACHED' || err?.code === 22;

/** A problem with stored state. `kind`: corrupt | expired | schema | quota | unavailable | write_failed | rejected. */
export class StorageIssue {
  constructor(kind, message, cause) {
    this.kind = kind;
    this.message = message;
    if (cause !== undefined) this.cause = cause;
  }
}

/**
 * Envelope: {"schema":1,"savedAt":ms,"expiresAt":ms,"sha256":hex,"state":"<engine state JSON>"}.
 * The checksum catches corruption and casual edits; the engine validates the state itself again on
 * import (a determined person can edit their own device's storage: that is their right, and the
 * engine bounds what any state can do).
 */
export class StateStore {
  constructor(adapter, { key = DEFAULT_KEY, ttlMs = DEFAULT_TTL_MS, now = () => Date.now() } = {}) {
    if (!(ttlMs > 0)) throw new TypeError('ttl must be a positive number of milliseconds');
    this.adapter = adapter;
    this.key = key;
    this.ttlMs = ttlMs;
    this.now = now;
  }

  /** @returns {Promise<{state: string|null, issue: StorageIssue|null}>} never throws */
  async load() {
    let raw;
    try {
      raw = await this.adapter.get(this.key);
    } catch (err) {
      return { state: null, issue: new StorageIssue('unavailable', `stored session could not be read: ${err?.message ?? err}`, err) };
    }
    if (raw == null) return { state: null, issue: null };
    const bad = async (kind, message) => {
      await this.clear(); // start fresh; never trip over it again
      return { state: null, issue: new StorageIssue(kind, message) };
    };
    let env;
    try {
      env = JSON.parse(raw);
    } catch {
      return bad('corrupt', 'stored session is not valid JSON; it was discarded');
    }
    if (!env || typeof env !== 'object' || typeof env.schema !== 'number') {
      return bad('corrupt', 'stored session has no schema version; it was discarded');
    }
    if (env.schema !== STORAGE_SCHEMA) {
      return bad('schema', `stored session has schema ${env.schema}, this package reads ${STORAGE_SCHEMA}; it was discarded`);
    }
    if (typeof env.state !== 'string' || typeof env.sha256 !== 'string' || typeof env.expiresAt !== 'number') {
      return bad('corrupt', 'stored session is missing fields; it was discarded');
    }
    if (env.expiresAt <= this.now()) return bad('expired', 'stored session expired; it was discarded');
    if (sha256Hex(env.state) !== env.sha256) {
      return bad('corrupt', 'stored session failed its checksum (corrupt or edited); it was discarded');
    }
    return { state: env.state, issue: null };
  }

  /** True when writes complete synchronously (see the adapter interface above). */
  get sync() {
    return this.adapter.sync === true;
  }

  /** The envelope for `state`, built synchronously (the checksum is a synchronous SHA-256). */
  envelope(state) {
    const savedAt = this.now();
    return JSON.stringify({ schema: STORAGE_SCHEMA, savedAt, expiresAt: savedAt + this.ttlMs, sha256: sha256Hex(state), state });
  }

  /**
   * Writes `state`. With a synchronous adapter the write has happened when this returns (the
   * promise only reports the outcome), so it can be called from a `pagehide` handler.
   * @returns {Promise<StorageIssue|null>} never rejects
   */
  save(state) {
    let pending;
    try {
      pending = Promise.resolve(this.adapter.set(this.key, this.envelope(state)));
    } catch (err) {
      pending = Promise.reject(err);
    }
    return pending.then(
      () => null,
      async (err) => {
        if (isQuota(err)) {
          await this.clear();
          return new StorageIssue('quota', 'storage quota exceeded: the session stays in memory only', err);
        }
        return new StorageIssue('write_failed', `session could not be stored: ${err?.message ?? err}`, err);
      },
    );
  }

  /** Removes the stored session. @returns {Promise<StorageIssue|null>} never throws */
  async clear() {
    try {
      await this.adapter.remove(this.key);
      return null;
    } catch (err) {
      return new StorageIssue('unavailable', `stored session could not be removed: ${err?.message ?? err}`, err);
    }
  }
}
