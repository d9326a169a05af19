// Where the session lives between page loads, decided by the shopper's consent (README "Consent and
// storage"; the reasoning for the visit store is in the package README, "Before the shopper decides"):
//
//   'granted'                    → the persistent store (localStorage by default), for `ttl`
//   'pending', no GPC            → the visit store: this tab's sessionStorage, gone when the tab closes
//   'denied', or GPC             → nothing is written, and both copies are deleted (GPC with 'pending'
//                                  leaves an older persistent copy alone, as 'pending' always has)
//
// Writes are coalesced: a change schedules one write `saveDelay` ms later; `flush()`, the page
// becoming hidden (`visibilitychange`) and `pagehide` write at once. A write from `pagehide` must be
// synchronous (no promise resolves once the page is gone): the state is exported synchronously (on
// the main thread; in worker mode the worker sends it back with every reply) and the checksum is a
// synchronous SHA-256, so a synchronous adapter (Web Storage) has the session before the page goes.
//
// Rankings are guarded (`guarded()`, docs/PRIVACY.md "The accountant"): a ranking may spend privacy
// budget, so its state is written before the page gets the result (write-ahead: a release the page
// saw is counted on the device). In the persistent store, which every tab of the origin shares, it
// runs under a Web Lock they all take, after joining what the store holds (another tab's spend), and
// every asynchronous write joins the store first too, so that no write lowers the stored spend.

import { effectiveConsent } from './consent.js';

export const DEFAULT_SAVE_DELAY_MS = 500;

export class SessionKeeper {
  #backend;
  #persistent;
  #ledger;
  #ledgerIssueSeen = false;
  #visit;
  #requested;
  #gpc;
  #canExport;
  #canImport;
  #onIssue;
  #saveDelay;
  #timer = 0;
  #dirty = false;
  #hasCopy = false; // the target store holds a copy of this session (restored or written)
  #leaving = false;
  #forgotten = false; // forget() ran and the shopper has done nothing since: nothing may be written
  #writing = Promise.resolve();
  #detach = null;

  /**
   * @param {object} o
   * @param {{mode: string, call: Function, stateSync: () => (string|null), wantState?: boolean}} o.backend
   * @param {import('./storage.js').StateStore|null} o.persistent  store for consented sessions
   * @param {import('./storage.js').StateStore|null} o.visit       store for the current visit (this tab)
   * @param {import('./storage.js').StateStore|null} [o.ledger]    a copy of the persistent state in a
   *   store every tab reads consistently (IndexedDB), for a persistent store that is not: in
   *   Chromium a localStorage write reaches the other tabs' renderers asynchronously, so under the
   *   shared lock another tab may still read the store as it was before this tab's release
   */
  #lockName;
  #canJoin;

  constructor({ backend, persistent, visit, ledger = null, consent, gpc, saveDelay = DEFAULT_SAVE_DELAY_MS, canExport, canImport, canJoin = false, lockName = 'vitrine', onIssue }) {
    if (!(saveDelay >= 0)) throw new TypeError('saveDelay must be a number of milliseconds ≥ 0');
    this.#backend = backend;
    this.#persistent = persistent;
    this.#ledger = persistent ? ledger : null;
    this.#visit = visit;
    this.#requested = consent;
    this.#gpc = gpc;
    this.#saveDelay = saveDelay;
    this.#canExport = canExport;
    this.#canImport = canImport;
    this.#onIssue = onIssue;
    this.#canJoin = canJoin;
    this.#lockName = `vitrine-budget:${lockName}`;
    /** The engine's report for the session restored at load, if any. */
    this.lastImport = undefined;
  }

  /** Which store the session goes to now: the persistent one, this visit's, or none. */
  #target() {
    if (!this.#canExport) return null;
    const eff = effectiveConsent(this.#requested, this.#gpc);
    if (eff === 'granted') return this.#persistent ?? this.#visit;
    if (eff === 'pending' && !this.#gpc) return this.#visit;
    return null;
  }

  /** 'persistent' (kept across visits), 'visit' (this tab, this visit) or 'memory' (this page). */
  get mode() {
    const t = this.#target();
    return t == null ? 'memory' : t === this.#persistent ? 'persistent' : 'visit';
  }

  /** Applies the consent at load (restoring a stored session when allowed) and watches the page. */
  async start() {
    await this.#apply({ restore: true });
    this.#listen();
  }

  async setConsent(consent, gpc) {
    this.#requested = consent;
    this.#gpc = gpc;
    await this.#apply({ restore: false });
  }

  async #apply({ restore }) {
    this.#syncWorkerState();
    const eff = effectiveConsent(this.#requested, this.#gpc);
    if (eff === 'denied' || this.#gpc) {
      this.#cancel();
      await this.#writing;
      // Nothing may stay on the device: the visit copy always goes, the persistent one on 'denied'.
      await this.#clear(this.#visit);
      if (eff === 'denied') await this.#clear(this.#persistent);
      return;
    }
    const target = this.#target();
    if (eff === 'granted' && !this.#canExport) {
      this.#onIssue({ kind: 'unsupported', message: 'this engine build cannot export its state: the session stays in memory' });
      return;
    }
    if (!target) return;
    if (!restore) this.#hasCopy = false; // the target may be another store now: the flush below writes it
    let moveVisit = !restore;
    if (restore) {
      // The visit copy is this visit, newer than a persistent copy from an earlier one.
      const fromVisit = target === this.#persistent && this.#visit ? await this.#restore(this.#visit) : false;
      if (!fromVisit) await this.#restore(target);
      moveVisit = fromVisit;
    }
    if (moveVisit) {
      // A consent given now (or a visit restored into the persistent store) is written at once.
      this.#dirty = true;
      await this.flush();
    }
    if (target === this.#persistent && this.#visit) await this.#clear(this.#visit);
  }

  /** @returns {Promise<boolean>} true when a state was imported */
  async #restore(store) {
    const { state, issue } = await store.load();
    if (issue) this.#onIssue(issue);
    if (state == null) return false;
    if (!this.#canImport) {
      this.#onIssue({ kind: 'unsupported', message: 'this engine build cannot import a stored state' });
      return false;
    }
    try {
      this.lastImport = await this.#backend.call('importState', [state]);
      this.#hasCopy = true;
      return true;
    } catch (err) {
      await store.clear();
      this.#onIssue({ kind: 'rejected', message: `stored session was refused by the engine and discarded: ${err.message}`, code: err.code });
      return false;
    }
  }

  async #clear(store) {
    if (!store) return;
    if (store === this.#persistent && this.#ledger) {
      const issue = await this.#ledger.clear();
      if (issue) this.#onIssue(issue);
    }
    if (store === this.#target()) this.#hasCopy = false;
    const issue = await store.clear();
    if (issue) this.#onIssue(issue);
  }

  /** In worker mode, ask the worker to send the state back with every reply while a store is in use. */
  #syncWorkerState() {
    if ('wantState' in this.#backend) this.#backend.wantState = this.#target() != null;
  }

  /**
   * The engine's state changed: an event, an import, settings (`ranking: false`), or a ranking that
   * may have spent privacy budget (`ranking: true`). A ranking's spend is already stored (or there
   * was nothing to keep): `guarded()` wrote it before the page saw the result, after joining the
   * other tabs' spend. Writing it again here could only put back an older spend from a page that
   * is leaving (a `pagehide` write cannot join first).
   */
  changed({ ranking = false } = {}) {
    this.#syncWorkerState();
    if (!this.#target() || ranking) return;
    this.#forgotten = false;
    this.#dirty = true;
    if (this.#leaving) {
      // The page is going away (a `pagehide` listener of the page tracked something): now or never.
      this.#writeSync();
      return;
    }
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = 0;
        this.flush();
      }, this.#saveDelay);
    }
  }

  #cancel() {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = 0;
  }

  /** Writes a pending change now; resolves when every write so far has finished. */
  flush() {
    this.#cancel();
    if (this.#dirty) {
      this.#dirty = false;
      this.#writing = this.#writing.then(() => this.#lockedIf(this.#shared(), () => this.#write()));
    }
    return this.#writing;
  }

  /** True when the target store is the persistent one, which every tab of the origin shares. */
  #shared() {
    const target = this.#target();
    return target != null && target === this.#persistent;
  }

  /**
   * Writes the engine's state to the target store. In the shared store another tab may have spent
   * privacy budget since this one last read it: its stored accountant is joined into the engine
   * first, so that a write never lowers the spend the store holds (run under the origin's lock).
   */
  async #write() {
    const target = this.#target();
    if (!target) return;
    try {
      if (target === this.#persistent) await this.#join(target);
      // Main thread: the current state. Worker: ask it (the piggybacked copy may be a reply behind).
      const state = this.#backend.mode === 'main' ? this.#backend.stateSync() : await this.#backend.call('exportState', []);
      const issue = await target.save(String(state));
      if (issue) this.#onIssue(issue);
      else this.#hasCopy = true;
      // The ledger's write has committed when this resolves: the next tab to take the lock reads it.
      if (target === this.#persistent && this.#ledger && !issue) {
        const ledgerIssue = await this.#ledger.save(String(state));
        if (ledgerIssue && !this.#ledgerIssueSeen) {
          // Reported once: without it the tabs fall back on the persistent store alone.
          this.#ledgerIssueSeen = true;
          this.#onIssue({ kind: ledgerIssue.kind, message: `the shared privacy ledger (IndexedDB) could not be written: ${ledgerIssue.message}` });
        }
      }
    } catch (err) {
      this.#onIssue({ kind: 'write_failed', message: `session could not be exported: ${err.message}` });
    }
  }

  /**
   * Joins the state `target` holds (another tab's spend) into the engine, and the ledger's copy
   * for the persistent store; true when there was one.
   */
  async #join(target) {
    if (!this.#canJoin) return false;
    const stores = target === this.#persistent && this.#ledger ? [target, this.#ledger] : [target];
    let found = false;
    for (const store of stores) {
      const { state } = await store.load();
      if (state == null) continue;
      found = true;
      try {
        await this.#backend.call('joinStored', [state]);
      } catch {
        /* a copy the engine cannot read: the next write replaces it */
      }
    }
    return found;
  }

  /**
   * Runs `fn` under the Web Lock every tab of the origin shares when `shared` (as is without Web
   * Locks, or when the browser refuses them); the visit store is this tab's alone and needs no lock.
   */
  async #lockedIf(shared, fn) {
    const locks = globalThis.navigator?.locks;
    if (!shared || typeof locks?.request !== 'function') return fn();
    let started = false;
    try {
      return await locks.request(this.#lockName, () => {
        started = true;
        return fn();
      });
    } catch (err) {
      // A context refused storage (a third-party frame where the browser blocks it) is refused Web
      // Locks too: run without the lock, as without Web Locks.
      if (!started) return fn();
      throw err;
    }
  }

  /**
   * Runs a ranking (`run`: the engine call) so that the privacy budget it may spend is on the
   * device before the page sees the result (write-ahead): the state is written after the call,
   * before this resolves. In the persistent store, which every tab of the origin shares, the
   * ranking runs under a Web Lock they all take, after joining the stored state into the engine
   * (another tab's spend, also when this tab started with nothing stored), and it always writes:
   * a tab that joins the store later must see the release (the join keeps the larger spend, it
   * cannot add two) — except after forget(), until the shopper does something (a shelf
   * re-ranking then writes nothing). The visit store is this tab's alone: no lock, no join, and
   * a ranking alone never creates a visit copy. With no store in use (consent denied, or no
   * storage) the call runs as is; without Web Locks (an old browser, an insecure origin) the join
   * and the write still happen, without the lock.
   */
  guarded(run) {
    if (!this.#target()) return run();
    // In the queue of writes (each takes the lock in turn), so that no write waits for the lock
    // this ranking holds, and forget() waits for the ranking's write as for any other.
    const job = this.#writing.then(() => {
      const shared = this.#shared();
      return this.#lockedIf(shared, async () => {
        const target = this.#target();
        if (!target) return run();
        const joined = shared ? await this.#join(target) : false;
        const result = await run();
        if (this.#hasCopy || this.#dirty || joined || (shared && !this.#forgotten)) {
          this.#cancel();
          this.#dirty = false;
          await this.#write();
        }
        return result;
      });
    });
    this.#writing = job.then(
      () => {},
      () => {},
    );
    return job;
  }

  /** Writes the newest state synchronously when the store allows it (from pagehide / visibilitychange). */
  #writeSync() {
    const target = this.#target();
    if (!this.#dirty || !target) return;
    this.#cancel();
    let state = null;
    try {
      state = this.#backend.stateSync();
    } catch {
      /* a destroyed engine */
    }
    if (state == null) {
      this.flush();
      return;
    }
    this.#dirty = false;
    // A synchronous adapter has the bytes when save() returns; any other at least starts writing.
    this.#hasCopy = true;
    const done = target.save(String(state)).then((issue) => issue && this.#onIssue(issue));
    this.#writing = this.#writing.then(() => done);
  }

  #listen() {
    const win = globalThis.window;
    const doc = globalThis.document;
    if (!win?.addEventListener || !doc?.addEventListener) return; // not in a page (a worker, a server)
    const onHide = () => {
      this.#leaving = true;
      this.#writeSync();
    };
    const onShow = () => {
      this.#leaving = false;
    };
    const onVisibility = () => {
      if (doc.visibilityState === 'hidden') this.#writeSync();
    };
    win.addEventListener('pagehide', onHide);
    win.addEventListener('pageshow', onShow);
    doc.addEventListener('visibilitychange', onVisibility);
    this.#detach = () => {
      win.removeEventListener('pagehide', onHide);
      win.removeEventListener('pageshow', onShow);
      doc.removeEventListener('visibilitychange', onVisibility);
    };
  }

  /** Erases both stored copies (whatever the consent). */
  async forget() {
    this.#forgotten = true;
    this.#cancel();
    this.#dirty = false;
    this.#hasCopy = false;
    await this.#writing;
    await this.#clear(this.#persistent);
    await this.#clear(this.#visit);
  }

  /** Writes what it can synchronously, then stops watching the page. */
  destroy() {
    this.#writeSync();
    this.#cancel();
    this.#detach?.();
    this.#detach = null;
  }
}
