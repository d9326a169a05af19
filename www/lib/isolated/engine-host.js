// Isolated mode: the engine frame (frame.html#engine, origin B). It runs the ordinary `Vitrine`
// class — the same engine, consent policy and storage code as the non-isolated package, here with
// the storage of origin B (partitioned by the browser per top-level store site) — takes the page's
// P signals (track, consent, forget, flush) and catalog updates from the ParentLink, and answers
// the shelves' view frames over a BroadcastChannel of origin B, which the page cannot join.
//
// To the page it says only: `ready` (the engine is loaded), `done {ref}` (a forget, flush or update
// is finished; an update's with its public counts) and error codes; each of these is sent on a
// QUANTUM_MS grid after the request arrived, so that the time the engine took (restoring or scoring
// a longer history takes longer) stays in the frame. The engine runs in a Web Worker by default,
// so this frame's own thread stays free.

import { Vitrine } from '../index.js';
import { toWire } from '../core.js';
import { checkShardsReport, checkUpdateReport, engineCode, isPlainObject, resolveAllowed } from './protocol.js';
import { quantized } from './link.js';

/**
 * Methods a view frame may call (its shelf's modes; `catalog`: the records the bundle carries, for
 * a shelf given no catalog URL), and for `track` the only event type (a click on a card of its shelf).
 */
const VIEW_METHODS = new Set(['recommend', 'similar', 'frequentlyBoughtTogether', 'alsoBought', 'trending', 'track', 'catalog']);

/**
 * The engine side of the BroadcastChannel `vitrine-isolated:<channel>` (origin B only):
 *   view → engine: {op: 'hello', from} | {op: 'call', from, id, method, args}
 *   engine → views: {op: 'up', capabilities} | {op: 'down'} | {op: 'changed', catalog} | {op: 'reply', to, id, ok, value?, recommendationId?, code?}
 */
export function channelName(channel) {
  return `vitrine-isolated:${channel}`;
}

export function startEngine(link, config) {
  let vitrine = null;
  let failed = false;
  let bc = null;
  let queue = Promise.resolve(); // the page's messages, one after another, behind the load

  const later = (fn) => {
    queue = queue.then(fn).catch(() => {});
  };

  const state = () => (vitrine ? { op: 'up', capabilities: vitrine.capabilities } : { op: 'down' });

  async function answer(msg) {
    if (!isPlainObject(msg) || typeof msg.op !== 'string') return;
    if (msg.op === 'hello') {
      if (vitrine || failed) bc.postMessage(state());
      return;
    }
    if (msg.op !== 'call' || typeof msg.from !== 'string' || !Number.isInteger(msg.id)) return;
    const reply = (fields) => bc.postMessage({ op: 'reply', to: msg.from, id: msg.id, ...fields });
    const args = Array.isArray(msg.args) ? msg.args : [];
    if (!vitrine) return reply({ ok: false, code: 'engine_unavailable' });
    if (!VIEW_METHODS.has(msg.method) || (msg.method === 'track' && args[0]?.type !== 'click')) {
      return reply({ ok: false, code: 'invalid_argument' });
    }
    try {
      if (msg.method === 'catalog') return reply({ ok: true, value: vitrine.catalog });
      const out = await vitrine[msg.method](...args.slice(0, 2));
      reply({ ok: true, value: toWire(out), recommendationId: out?.recommendationId ?? null });
    } catch (err) {
      reply({ ok: false, code: engineCode(err) });
    }
  }

  async function init(msg, t0) {
    const bundle = resolveAllowed(msg.bundle, location.href, config.sources);
    bc = new BroadcastChannel(channelName(msg.channel));
    bc.onmessage = (e) => answer(e.data).catch(() => {});
    if (!bundle) {
      failed = true;
      bc.postMessage(state());
      return quantized(t0, () => link.report('source_not_allowed'));
    }
    try {
      vitrine = await Vitrine.load(bundle, {
        integrity: msg.integrity,
        worker: msg.worker ?? true,
        consent: msg.consent,
        storage: msg.storage,
        visitStorage: msg.visitStorage,
        storageKey: msg.storageKey,
        ttl: msg.ttl,
        saveDelay: msg.saveDelay,
        settings: msg.settings,
        // The bundle is public: no cookies or referrer with it.
        fetchOptions: { credentials: 'omit', referrerPolicy: 'no-referrer' },
      });
    } catch (err) {
      failed = true;
      bc.postMessage(state());
      return quantized(t0, () => link.report(engineCode(err)));
    }
    // `catalog`: an update changed the bundle's records (the views fetch them again).
    vitrine.addEventListener('change', (e) => bc.postMessage({ op: 'changed', catalog: e.detail?.reason === 'catalog' }));
    bc.postMessage(state());
    quantized(t0, () => link.post('ready'));
  }

  /**
   * A catalog update from an allowed source, with the page's `integrity`: applied by the ordinary
   * `applyUpdate()` (the shelves' view frames hear of it as a `changed {catalog}`), answered with
   * the report's public counts. `promoted` (pending events of the shopper that now count) is
   * history: it stays here.
   */
  async function applyUpdate(msg, t0, ref) {
    const delta = resolveAllowed(msg.delta, location.href, config.sources);
    if (!delta) return quantized(t0, () => link.report('source_not_allowed', ref));
    const r = await vitrine.applyUpdate(delta, {
      integrity: msg.integrity,
      // The delta is public, like the bundle: no cookies or referrer with it.
      fetchOptions: { credentials: 'omit', referrerPolicy: 'no-referrer' },
    });
    const update = { added: r.added, updated: r.updated, unavailable: r.unavailable, items: r.items };
    // What the page would refuse (and so never answer its promise) is an engine error here.
    if (checkUpdateReport(update)) throw new Error('the engine returned an update report the protocol does not take');
    quantized(t0, () => link.post('done', { ref, update }));
  }

  link.onMessage((msg) => {
    const t0 = performance.now();
    const ref = msg.ref ?? null;
    const fail = (err) => quantized(t0, () => link.report(engineCode(err), ref));
    if (msg.kind === 'init') {
      later(() => init(msg, t0)); // absent options are undefined: Vitrine.load's defaults apply
      return;
    }
    later(async () => {
      if (!vitrine) return quantized(t0, () => link.report('engine_unavailable', ref));
      try {
        if (msg.kind === 'track') await vitrine.track(msg.event);
        else if (msg.kind === 'consent') await vitrine.setConsent(msg.consent);
        else if (msg.kind === 'forget') {
          await vitrine.forget();
          quantized(t0, () => link.post('done', { ref }));
        } else if (msg.kind === 'flush') {
          await vitrine.flush();
          quantized(t0, () => link.post('done', { ref }));
        } else if (msg.kind === 'update') {
          await applyUpdate(msg, t0, ref);
        } else if (msg.kind === 'shards') {
          // The manifest's shards, fetched as the bundle was (no cookies, no referrer); the
          // report's counts depend on the manifest and the page's categories only.
          const r = await vitrine.loadShards(msg.categories === 'all' ? 'all' : { categories: msg.categories });
          const shards = { shards: r.shards.length, added: r.added, items: r.items };
          if (checkShardsReport(shards)) throw new Error('the engine returned a shards report the protocol does not take');
          quantized(t0, () => link.post('done', { ref, shards }));
        }
      } catch (err) {
        fail(err);
      }
    });
  });
}
