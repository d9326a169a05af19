// Experiments in the page (docs/EXPERIMENTS.md, "In the page"): the manifest next to the bundle,
// the device's arm, the counterfactual trigger, the on-device tallies, the layer-0 labels and the
// one local-DP report per device per experiment. The wasm `Experiments` does every computation
// (assignment, tallies, randomization, the measurement budget); this module fetches, stores and
// sends, and decides nothing about the shopper.
//
//   - No manifest (404) → nothing at all: no id, no storage, no request.
//   - Global Privacy Control → never enrolled, and the manifest is not even fetched.
//   - consent 'granted': the device id and the state are kept in storage; labels and reports may
//     leave the device (the page sends them: experimentLabel(), orderLabel(), flush()).
//   - otherwise: one id per page session, in memory; the shopper may see an arm, but no label is
//     handed out and no report is built (nothing links two visits, nothing leaves).
//
// The computations run in their own wasm package (www/pkg-exp/vitrine_exp_bg.wasm, built from the
// crate's `web-experiments` feature; the engine's wasm has none of it). It is imported dynamically
// once a manifest is in hand (fromManifest): a page without a manifest (404), under GPC, or that
// never calls Experiments.load() never fetches it.

import { VitrineError, fromEngineError } from './errors.js';
import { verifyIntegrity } from './fetch.js';
import { checkConsent, globalPrivacyControl } from './consent.js';
import { resolveAdapter } from './storage.js';

/** Storage key of the experiment envelope `{v, device, state, outbox, releases}`. */
export const EXPERIMENTS_KEY = 'vitrine:experiments';
/** Version of the stored envelope. */
export const EXPERIMENTS_SCHEMA = 1;
/** Events `record()` tallies. */
export const EXPERIMENT_EVENTS = Object.freeze(['shelf_click', 'shelf_add_to_cart', 'purchase', 'interleaving']);

const CONSTRUCT = Symbol('Experiments.construct');

let wasmReady = null;

/**
 * The wasm `Experiments` class, its package fetched and instantiated once per page. `wasm`
 * overrides where the .wasm comes from (default: www/pkg-exp/ next to lib/, via import.meta.url).
 */
export function loadExperimentsWasm(wasm) {
  if (!wasmReady) {
    // Literal URLs, so that bundlers find the glue (a chunk of its own) and emit the .wasm.
    const source = wasm ?? new URL('../pkg-exp/vitrine_exp_bg.wasm', import.meta.url);
    wasmReady = import('../pkg-exp/vitrine_exp.js')
      .then(async (glue) => {
        await glue.default({ module_or_path: source });
        return glue.Experiments;
      })
      .catch((err) => {
        wasmReady = null;
        throw new VitrineError(
          'engine_load_failed',
          `could not load the experiments WebAssembly module (${typeof source === 'string' || source instanceof URL ? source : 'given module'}): ${err?.message ?? err}`,
          { cause: err },
        );
      });
  }
  return wasmReady;
}

/** The engine's error as a VitrineError, keeping its `path` (the JSON path of a manifest field). */
function engineError(err, fallbackCode) {
  const e = fromEngineError(err, fallbackCode);
  if (typeof err?.path === 'string' && err.path !== '') e.path = err.path;
  return e;
}

/** The stored envelope's parts, or `corrupt` (the engine then starts with no budget left). */
function readEnvelope(text) {
  if (text == null) return { device: undefined, state: undefined, outbox: [], releases: new Map() };
  try {
    const e = JSON.parse(text);
    if (e && e.v === EXPERIMENTS_SCHEMA && typeof e.device === 'string' && e.state && typeof e.state === 'object') {
      const outbox = Array.isArray(e.outbox) ? e.outbox.filter((r) => r && typeof r === 'object' && typeof r.id === 'string') : [];
      return { device: e.device, state: e.state, outbox, releases: readReleases(e.releases) };
    }
  } catch {
    /* corrupt below */
  }
  // A damaged store must never refill the budget: a value the engine refuses (state_corrupt).
  return { device: undefined, state: 'corrupt', outbox: [], releases: new Map() };
}

/**
 * The stored releases not yet tallied (experiment id -> `{propensity, reward, at}`), entries of
 * the wrong shape dropped; the wasm checks the values when it tallies them.
 */
function readReleases(stored) {
  const out = new Map();
  if (!stored || typeof stored !== 'object') return out;
  for (const [id, r] of Object.entries(stored)) {
    if (r && typeof r.propensity === 'object' && (r.reward === 0 || r.reward === 1) && Number.isFinite(r.at)) {
      out.set(id, { propensity: r.propensity, reward: r.reward, at: r.at });
    }
  }
  return out;
}

export class Experiments {
  #core;
  #manifest;
  #consent;
  #gpc;
  #store;
  #key;
  #outbox;
  #inactive;
  #clock;
  /** experiment id -> (item id -> team 0/1) of its last interleaved shelf. */
  #teams = new Map();
  /**
   * experiment id -> its last release with `ope` not yet tallied: `{propensity, reward, at}`
   * (reward 1 once its shelf is clicked). Tallied when the next release replaces it or before
   * the experiment's report; stored with the state.
   */
  #releases;

  /** @private use Experiments.load() */
  constructor(token, { core = null, manifest = null, consent, gpc, store = null, key, outbox = [], releases = new Map(), inactive = null, clock }) {
    if (token !== CONSTRUCT) throw new TypeError('use Experiments.load(url, options) to create Experiments');
    this.#core = core;
    this.#manifest = manifest;
    this.#consent = consent;
    this.#gpc = gpc;
    this.#store = store;
    this.#key = key;
    this.#outbox = outbox;
    this.#releases = releases;
    this.#inactive = inactive;
    this.#clock = clock;
    /** Problems with the stored state (`{code, message}`), e.g. a corrupt one that was replaced. */
    this.storageIssues = [];
  }

  /**
   * Fetches `experiments.json` (`url`) and restores this device's experiment state.
   * @param {string|URL} url the manifest, next to the bundle
   * @param {import('./index.d.ts').ExperimentsOptions} [options]
   */
  static async load(url, options = {}) {
    const { integrity, consent = 'pending', storageKey = EXPERIMENTS_KEY, fetchOptions, clock = Date.now } = options;
    checkConsent(consent);
    if (typeof clock !== 'function') throw new VitrineError('invalid_argument', 'clock must be a function returning ms since the epoch');
    const gpc = globalPrivacyControl();
    const base = { consent, gpc, key: storageKey, clock };
    // Under GPC the shopper is never enrolled: not even the manifest is fetched.
    if (gpc) return new Experiments(CONSTRUCT, { ...base, inactive: 'gpc' });

    let res;
    try {
      res = await fetch(String(url), { credentials: 'same-origin', ...fetchOptions });
    } catch (err) {
      throw new VitrineError('fetch_failed', `could not fetch the experiments manifest ${url}: ${err?.message ?? err}`, { cause: err });
    }
    // No manifest: the store runs no experiment. Nothing more happens (no id, no storage, no request).
    if (res.status === 404 || res.status === 410) return new Experiments(CONSTRUCT, { ...base, inactive: 'no_manifest' });
    if (!res.ok) throw new VitrineError('http_error', `the experiments manifest ${url} answered HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (integrity != null) await verifyIntegrity(bytes, integrity);
    let manifest;
    try {
      manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (err) {
      throw new VitrineError('invalid_json', `the experiments manifest ${url} is not JSON: ${err?.message ?? err}`, { cause: err });
    }
    return Experiments.fromManifest(manifest, { ...options, consent, storageKey, clock });
  }

  /**
   * Experiments from a manifest the page already has (parsed JSON), e.g. inlined in the page.
   * Same options as `load` (without `integrity` and `fetchOptions`).
   */
  static async fromManifest(manifest, options = {}) {
    const { consent = 'pending', storage = 'localStorage', storageKey = EXPERIMENTS_KEY, wasm, clock = Date.now } = options;
    checkConsent(consent);
    const gpc = globalPrivacyControl();
    const base = { consent, gpc, key: storageKey, clock };
    if (gpc) return new Experiments(CONSTRUCT, { ...base, inactive: 'gpc' });
    const WasmExperiments = await loadExperimentsWasm(wasm);
    const store = consent === 'granted' && storage !== false && storage != null ? resolveAdapter(storage) : null;
    let stored = readEnvelope(null);
    const issues = [];
    if (store) {
      try {
        stored = readEnvelope(await store.get(storageKey));
      } catch (err) {
        issues.push({ code: 'storage_unavailable', message: String(err?.message ?? err) });
      }
    }
    let core;
    try {
      core = new WasmExperiments(manifest, stored.state, stored.device, gpc);
    } catch (err) {
      throw engineError(err, 'invalid_manifest');
    }
    const exps = new Experiments(CONSTRUCT, { ...base, core, manifest: structuredClone(manifest), store, outbox: stored.outbox, releases: stored.releases });
    exps.storageIssues.push(...issues);
    const issue = core.stateIssue;
    if (issue) exps.storageIssues.push(issue);
    // With consent the id is kept from now on (created now when none was stored).
    if (store) await exps.#persist();
    return exps;
  }

  /** Whether a manifest was loaded and the shopper may be enrolled. */
  get active() {
    return this.#core != null;
  }
  /** Why nothing runs: 'no_manifest', 'gpc', 'destroyed', or null when active. */
  get inactiveReason() {
    return this.#inactive;
  }
  /** The manifest's experiment ids. */
  get ids() {
    return this.#core ? [...this.#core.ids] : [];
  }
  /** Whether labels and reports may leave the device: consent 'granted' and no GPC. */
  get measuring() {
    return this.#core != null && this.#consent === 'granted' && !this.#gpc;
  }
  /** Reports taken but not yet acknowledged by the collector. */
  get pendingReports() {
    return this.#outbox.length;
  }

  #now() {
    return Number(this.#clock());
  }

  #call(fn) {
    try {
      return fn(this.#core);
    } catch (err) {
      throw engineError(err, 'experiment_error');
    }
  }

  async #persist() {
    if (!this.#store || !this.#core) return;
    const envelope = {
      v: EXPERIMENTS_SCHEMA,
      device: this.#core.deviceId,
      state: this.#core.exportState(),
      outbox: this.#outbox,
      releases: Object.fromEntries(this.#releases),
    };
    try {
      await this.#store.set(this.#key, JSON.stringify(envelope));
    } catch (err) {
      this.storageIssues.push({ code: 'write_failed', message: String(err?.message ?? err) });
      throw new VitrineError('write_failed', `could not store the experiment state: ${err?.message ?? err}`, { cause: err });
    }
  }

  /**
   * This device's enrollment in `experiment` now: `{experiment, enrolled, arm?, armIndex?,
   * interleaved, reason?, settings?}` (`settings`: the arm's `{bundle, options, privacy}` from the
   * manifest, to apply). `reason`: 'gpc', 'no_manifest', 'dates', 'namespace', 'unallocated'.
   */
  assign(experiment) {
    if (!this.#core) return { experiment, enrolled: false, interleaved: false, reason: this.#inactive };
    const a = this.#call((c) => c.assign(String(experiment), this.#now()));
    if (typeof a.armIndex === 'number') {
      const exp = this.#manifest.experiments.find((e) => e.id === a.experiment);
      a.settings = structuredClone(exp?.arms?.[a.armIndex]?.settings ?? {});
    }
    return a;
  }

  /**
   * Call wherever the experiment's shelf would render, in every arm (the control too): only
   * triggered devices tally and report. Resolves to whether the device is enrolled and triggered.
   */
  async trigger(experiment) {
    if (!this.#core) return false;
    const on = this.#call((c) => c.trigger(String(experiment), this.#now()));
    if (on) await this.#persist();
    return on;
  }

  /**
   * Tallies an event of a triggered experiment: 'shelf_click', 'shelf_add_to_cart' (an item
   * clicked on the shelf), 'purchase' (`value`: the order's value), 'interleaving' (`value` 0 or
   * 1: the team of the clicked item). Resolves to whether it counted.
   */
  async record(experiment, event, value = 0) {
    if (!this.#core) return false;
    if (!EXPERIMENT_EVENTS.includes(event)) {
      throw new VitrineError('invalid_event', `unknown experiment event ${JSON.stringify(event)} (expected ${EXPERIMENT_EVENTS.join(', ')})`);
    }
    const on = this.#call((c) => c.record(String(experiment), event, Number(value), this.#now()));
    const release = this.#releases.get(String(experiment));
    // A click on the shelf rewards the release it showed (off-policy evaluation).
    if (on && event === 'shelf_click' && release) release.reward = 1;
    if (on) await this.#persist();
    return on;
  }

  /** An order of `value`: tallied as 'purchase' in every triggered experiment. Resolves to how many counted it. */
  async recordOrder(value) {
    if (!this.#core) return 0;
    let n = 0;
    for (const id of this.#core.ids) {
      if (this.#call((c) => c.record(id, 'purchase', Number(value), this.#now()))) n++;
    }
    if (n > 0) await this.#persist();
    return n;
  }

  /**
   * The layer-0 label `"<experiment>:<arm>"` for an exposure ping (the device's own coin, nothing
   * of the history); null when not enrolled or without consent.
   */
  experimentLabel(experiment) {
    if (!this.measuring) return null;
    return this.#call((c) => c.label(String(experiment), this.#now())) ?? null;
  }

  /**
   * A ranker for a `<vitrine-shelf>` (`shelf.ranker = exps.ranker(id)`) that shows this device's
   * side of `experiment` now: not enrolled → the shelf's own call (`recommend` with its options);
   * an arm → the arm's `settings.options` on top; interleaved → both arms ranked
   * (`vitrines[i]` for arm i, default the shelf's instance) and team-drafted by the wasm into one
   * list of `k`, each item with its `team` (0: first arm, 1: second); `creditClick` then credits
   * a click. Both rankings run (with privacy, each is a ranking like any other). With the
   * manifest's `report.ope`, an arm's request carries the engine's `ope` option, and each fresh
   * release's probabilities wait (stored) for a `shelf_click`, its reward, until the next
   * release or the report.
   */
  ranker(experiment, { vitrines } = {}) {
    const id = String(experiment);
    return async (options, vitrine) => {
      const a = this.assign(id);
      const engine = (i) => vitrines?.[i] ?? vitrine;
      if (!a.interleaved) {
        // Off-policy evaluation: the engine's exploration slice, and the release's probabilities.
        const ope = a.enrolled ? this.#call((c) => c.opeOption(id, this.#now())) : null;
        const list = await engine(a.armIndex ?? -1).recommend({ ...options, ...a.settings?.options, ...(ope ? { ope } : {}) });
        if (list.propensity) await this.#logRelease(id, list.propensity);
        return list;
      }
      const arms = this.#manifest.experiments.find((e) => e.id === id).arms;
      const [ra, rb] = await Promise.all(arms.map((arm, i) => engine(i).recommend({ ...options, ...arm.settings?.options })));
      const k = options?.k ?? Math.max(ra.length, rb.length);
      const drafted = this.#call((c) => c.interleave(id, ra.map((r) => r.id), rb.map((r) => r.id), k, this.#now()));
      const rows = new Map([...rb, ...ra].map((r) => [r.id, r]));
      const list = drafted.ids.map((item, i) => ({ ...rows.get(item), rank: i + 1, team: drafted.teams[i] }));
      // A new result set: the first ranking's random id, which no shelf showed.
      list.recommendationId = ra.recommendationId;
      list.unknownIds = [...new Set([...(ra.unknownIds ?? []), ...(rb.unknownIds ?? [])])];
      list.warnings = [...new Set([...(ra.warnings ?? []), ...(rb.warnings ?? [])])];
      this.#teams.set(id, new Map(drafted.ids.map((item, i) => [item, drafted.teams[i]])));
      return list;
    };
  }

  /**
   * A fresh release of `experiment`'s shelf with its probabilities (the engine's `propensity`):
   * the one it replaces is tallied with its reward, and this one waits for a click.
   */
  async #logRelease(id, propensity) {
    this.#tallyRelease(id);
    this.#releases.set(id, { propensity, reward: 0, at: this.#now() });
    await this.#persist();
  }

  /** Tallies `id`'s waiting release (at the time it was shown), if any. */
  #tallyRelease(id) {
    const r = this.#releases.get(id);
    if (!r) return;
    this.#releases.delete(id);
    try {
      this.#core.recordRelease(id, r.propensity, r.reward, r.at);
    } catch (err) {
      // A damaged stored release is dropped, never fatal to the page.
      const e = engineError(err, 'invalid_value');
      this.storageIssues.push({ code: e.code, message: e.message });
    }
  }

  /**
   * A click on item `itemId` of `experiment`'s last interleaved shelf: tallied as 'interleaving'
   * for the item's team. Resolves to whether it counted (false: not interleaved, not on the shelf,
   * not triggered).
   */
  async creditClick(experiment, itemId) {
    const team = this.#teams.get(String(experiment))?.get(String(itemId));
    if (team === undefined) return false;
    return this.record(experiment, 'interleaving', team);
  }

  /** The label for one order of a triggered experiment (once per device; then null). */
  async orderLabel(experiment) {
    if (!this.measuring) return null;
    const label = this.#call((c) => c.orderLabel(String(experiment))) ?? null;
    if (label != null) await this.#persist();
    return label;
  }

  /**
   * The reports due now (one per device per experiment, after its window): each one's ε is
   * charged and the state stored **before** the reports are returned (write-ahead); they also wait
   * in an outbox until `flush()` has them acknowledged. Empty without consent.
   */
  async takeReports() {
    if (!this.measuring) return [];
    const ids = this.#core.ids;
    for (const id of [...this.#releases.keys()]) {
      if (!ids.includes(id)) this.#releases.delete(id); // an experiment the manifest no longer has
      else if (this.#call((c) => c.reportDue(id, this.#now()))) this.#tallyRelease(id);
    }
    const reports = Array.from(this.#call((c) => c.takeReports(this.#now())));
    if (reports.length === 0) return [];
    this.#outbox.push(...reports);
    await this.#persist();
    return reports.map((r) => structuredClone(r));
  }

  /**
   * Sends the outbox to the collector (`vitrine exp collect`): one POST per report, text/plain
   * (no CORS preflight), keepalive, no credentials. A report the collector acknowledged (2xx) or
   * refused for good (4xx) leaves the outbox; on a network error or 5xx it stays, and the next
   * flush sends the same report (same id: the collector stores it once).
   * Resolves to `{sent, refused, failed}`.
   */
  async flush(url) {
    const out = { sent: 0, refused: 0, failed: 0 };
    if (!this.measuring || this.#outbox.length === 0) return out;
    const keep = [];
    for (const report of [...this.#outbox]) {
      let status = 0;
      try {
        const res = await fetch(String(url), {
          method: 'POST',
          body: JSON.stringify(report),
          keepalive: true,
          credentials: 'omit',
          headers: { 'content-type': 'text/plain' },
        });
        status = res.status;
      } catch {
        status = 0;
      }
      if (status >= 200 && status < 300) out.sent++;
      else if (status >= 400 && status < 500 && status !== 408 && status !== 429) out.refused++;
      else {
        out.failed++;
        keep.push(report);
      }
    }
    this.#outbox = keep;
    await this.#persist();
    return out;
  }

  /**
   * The measurement budget: `{budgetEpsilon, spentEpsilon, experiments, reports}` (null without
   * a manifest or under GPC).
   */
  status() {
    return this.#core ? this.#call((c) => c.status()) : null;
  }

  /** Forgets the tallies (not the spent budget: what was sent stays spent) and stores that. */
  async forget() {
    if (!this.#core) return;
    this.#call((c) => c.forget());
    this.#releases.clear();
    await this.#persist();
  }

  /**
   * Changes consent. 'granted' keeps the id and state from now on; 'denied' deletes the stored
   * copy (labels and reports stop; this page keeps its id in memory).
   */
  async setConsent(consent, { storage = 'localStorage' } = {}) {
    checkConsent(consent);
    this.#consent = consent;
    this.#gpc = globalPrivacyControl();
    if (!this.#core) return;
    if (consent === 'granted' && !this.#gpc) {
      this.#store ??= resolveAdapter(storage);
      await this.#persist();
    } else if (consent === 'denied') {
      const store = this.#store ?? resolveAdapter(storage);
      this.#store = null;
      this.#outbox = [];
      await store.remove(this.#key);
    }
  }

  /** Frees the wasm memory; the instance does nothing afterwards. */
  destroy() {
    try {
      this.#core?.free();
    } catch {
      /* already freed */
    }
    this.#core = null;
    this.#inactive = 'destroyed';
  }
}
