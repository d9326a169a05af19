// The engine in a dedicated module Web Worker. Started by `Vitrine.load(…, {worker: true})`; speaks
// a tiny request/response protocol: {id, op: 'init'|'call', …} -> {id, ok, value | error}.

import init, { BundleStream, Recommender } from '../pkg/vitrine.js';
import { EngineCore } from './core.js';
import { VitrineError, errorToWire } from './errors.js';

let core = null;

async function handle(msg) {
  if (msg.op === 'init') {
    try {
      await init({ module_or_path: msg.wasm ?? new URL('../pkg/vitrine_bg.wasm', import.meta.url) });
    } catch (err) {
      throw new VitrineError('engine_load_failed', `could not load the WebAssembly engine in the worker: ${err?.message ?? err}`);
    }
    const verifyDigest = msg.verifyDigest !== false;
    if (msg.body) {
      // A download the page transferred: read as it arrives; the catalog records go back with the facts.
      core = await EngineCore.fromStream({ Recommender, BundleStream }, msg.body, { verifyDigest, integrity: msg.integrity ?? null, sizeHint: msg.sizeHint });
      return { ...core.info(), catalog: core.catalog };
    }
    core = await EngineCore.create({ Recommender }, new Uint8Array(msg.bytes), { verifyDigest });
    return core.info();
  }
  if (msg.op === 'call') {
    if (!core) throw new VitrineError('invalid_argument', 'the engine worker was not initialised');
    const args = await core.prepare(msg.method, msg.args ?? []);
    return core.call(msg.method, args);
  }
  throw new VitrineError('invalid_argument', `unknown worker op ${msg.op}`);
}

/** The exported state, sent back with a reply when the page keeps the session in storage. */
function stateFor(msg) {
  if (!msg.withState || !core) return undefined;
  try {
    return core.call('exportState', []);
  } catch {
    return undefined;
  }
}

self.onmessage = async (e) => {
  const msg = e.data ?? {};
  try {
    const value = await handle(msg);
    self.postMessage({ id: msg.id, ok: true, value, state: stateFor(msg) });
  } catch (err) {
    self.postMessage({ id: msg.id, ok: false, error: errorToWire(err), state: stateFor(msg) });
  }
};
