// The in-browser benchmark (scripts/bench drives it in headless Chromium; open
// /bench/?n=43097 in any browser to run it by hand). For each synthetic catalog it times, in this
// page, the wasm engine and the plain-JS baseline (baseline.js) on the same jobs, and ONNX Runtime
// Web (ort-baseline.js: MatMul + TopK, wasm execution provider, one thread) on the non-private
// whole-catalog jobs (`recommend`, `track + recommend`), after checking that its top-20 is the
// plain-JS baseline's (the page fails otherwise):
//   load (verified) / load (no digest check)  the package's load (EngineCore.create: the digest
//                                             with the browser's SHA-256, checked by the engine)
//                                             / Recommender.fromBytes(…, {verifyDigest: false})
//                                             vs JsBaseline.load; `load (verified, hashed in wasm)`:
//                                             Recommender.fromBytes(bytes), the engine hashing
//   recommend top-20                          over the whole catalog, a 10-click session
//   rerank 200                                200 candidate ids of the catalog, the same each call
//                                             (the engine remembers ids it has reranked)
//   rerank 200, new ids                       each call a list of 200 ids the engine has not seen
//   track + recommend                         one click logged, then top-20
//   restore + track + recommend               a page load: the stored session (the 10 clicks)
//                                             imported, the page's own click, then top-20
// The engine runs private with today's defaults (`unit: 'device'`: the exponential mechanism,
// ε = 1 per release of the device-only record D, the events restored from storage; the page's own
// events, P, are ranked exactly) and, for the jobs that read the session, again with
// `privacy: {epsilon: Infinity}` (the explicit non-private mode the baseline mirrors). In the private
// mode the 10 clicks are the device record (exported, then imported: what a page load restores), so
// the first ranking after each import is a fresh release and the others reuse it: `recommend`,
// `rerank` and `track + recommend` (a page event does not change D) measure the cached release,
// `restore + track + recommend` a fresh one every call (the budget is raised to ε = 10,000 so that it never
// runs out; the imported state carries the same accountant every time).
// Every job: `warmup` untimed calls, then `runs` samples; calls are batched so that one sample
// lasts ≥ 50 timer ticks (performance.now() is coarse outside cross-origin isolation); a sample is
// the batch's mean per call. Results: window.vitrineBench = {state, result, error}.
//
// Query parameters: sizes=10000,43097 (or n=43097), runs=50, warmup=5, seed=1, d=64, ort=1 (0: no
// ONNX Runtime Web; it is loaded from /vendor/onnxruntime-web/, which scripts/bench serves from
// node_modules), compact=0 (1: also time the catalog's compact twin, /bench-data/compact-<n>.vtr,
// which `scripts/bench.mjs --compact` writes with `vitrine compact`: load, and the non-private
// `recommend` and `rerank` jobs, beside the int8 bundle's and ORT's).

import init, { Recommender } from '../pkg/vitrine.js';
import { syntheticCatalog, writeBundle, prng } from './bundle-gen.js';
import { JsBaseline } from './baseline.js';
import { EngineCore } from '../lib/core.js';
import { watchWasmMemories } from './wasm-memory.js';
import { stats, markdownTable, markdownSizes, markdownOrt, markdownCompact } from './report.js';
import { timerResolution, measure as measureWith, measureFresh as measureFreshWith } from './measure.js';

const status = window.vitrineBench = { state: 'running', progress: [], result: null, error: null };
const out = document.getElementById('out');
const log = (line) => {
  status.progress.push(line);
  if (out) out.textContent = status.progress.join('\n');
};

const params = new URLSearchParams(location.search);
const num = (k, def) => (params.has(k) ? Number(params.get(k)) : def);
const SIZES = (params.get('sizes') ?? params.get('n') ?? '10000,43097,100000,1000000').split(',').map(Number);
const RUNS = num('runs', 50);
const WARMUP = num('warmup', 5);
const SEED = num('seed', 1);
const DIM = num('d', 64);
const WITH_ORT = num('ort', 1) !== 0;
const WITH_COMPACT = num('compact', 0) !== 0;
/** Where ONNX Runtime Web's files are served (the import map of index.html points there too). */
const ORT_URL = '/vendor/onnxruntime-web/';
const SESSION = 10; // clicks before `recommend`
const measure = (fn, o) => measureWith(fn, { runs: RUNS, warmup: WARMUP, ...o });
const measureFresh = (fn, lists, o) => measureFreshWith(fn, lists, { runs: RUNS, ...o });
const K = 20;
const RERANK = 200;
// Event times (ms): an hour ago, so that privacyStatus() (as of Date.now()) sees this budget period;
// rankings depend only on the times' differences, so runs repeat.
const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

/** Whether this engine build has privacy settings (`configure({privacy})`). */
function supportsPrivacy(rec) {
  try {
    rec.configure({ privacy: { epsilon: Infinity } });
    rec.configure({});
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads ONNX Runtime Web and starts its wasm runtime with a one-item session, so that catalogs'
 * session figures do not include it. Returns {ort, lib (ort-baseline.js), memory (its wasm memory,
 * watched), info}. Imported here, not at the top, so that `ort=0` needs none of its files.
 */
async function startOrt() {
  const memory = watchWasmMemories();
  let ort, lib, model;
  try {
    [ort, lib, model] = await Promise.all([
      import('onnxruntime-web/wasm'),
      import('./ort-baseline.js'),
      import('./ort-model.js'),
    ]);
  } catch (err) {
    throw new Error(
      `ONNX Runtime Web did not load from ${ORT_URL} (${err.message}): scripts/bench serves it from ` +
        'node_modules; add ?ort=0 to run without it',
    );
  }
  lib.configureOrt(ort, { wasmPaths: new URL(ORT_URL, location.href).href });
  const t0 = performance.now();
  const one = await lib.createSession(ort, model.topKModel({ n: 1, cols: DIM + 1 }), new Float32Array(DIM + 1));
  const runtimeInitMs = performance.now() - t0;
  await one.release();
  const info = {
    version: ort.env.versions?.web ?? 'unknown',
    executionProvider: 'wasm',
    numThreads: ort.env.wasm.numThreads,
    proxy: ort.env.wasm.proxy,
    runtimeInitMs,
    memoryAfterInit: memory.bytes(),
    memoriesWatched: memory.count,
  };
  log(`ONNX Runtime Web ${info.version}: runtime started in ${runtimeInitMs.toFixed(0)} ms`);
  return { ort, lib, memory, info };
}

/**
 * ONNX Runtime Web on a catalog the plain-JS baseline `js` has loaded: its load (the item matrix
 * built from the bundle's rows, in this page: nothing is downloaded, and the first session), the
 * check that its top-20 for `session` is the baseline's (throws if not), `recommend` and `track +
 * recommend` timed as the other sides are, then `runs` more sessions created and released.
 */
async function benchOrt({ ort, lib, memory }, js, { n, session, now, stream, res }) {
  log('  ONNX Runtime Web');
  const beforeLoad = memory.bytes();
  const rec = await lib.OrtBaseline.create(ort, js);
  const afterLoad = memory.bytes();

  js.events = [];
  for (const e of session) js.track(e);
  const query = js.query(now);
  const agreement = lib.compareTopK(js.recommend({ k: K, now }), await rec.recommend({ k: K, now }), (id) =>
    js.score(js.row.get(id), query),
  );
  if (!agreement.agree) {
    throw new Error(`ONNX Runtime Web's top-${K} is not the plain-JS baseline's (rank ${agreement.firstMismatch} differs)`);
  }
  const recommend = await measure(() => rec.recommend({ k: K, now }), { res, isAsync: true });
  let i = 0;
  const trackRecommend = await measure(() => {
    const ts = now + ++i * 1000;
    js.track({ item: stream[i % stream.length], ts });
    return rec.recommend({ k: K, now: ts });
  }, { res, isAsync: true });
  await rec.release();
  // The timed creates last: each leaves work (ORT's freed memory, garbage) that slowed whatever
  // was timed next in this page (our private `recommend` at 43k: 260 → 690 µs), so nothing is.
  const weights = rec.weights;
  rec.weights = null;
  const create = await measure(async () => (await lib.createSession(ort, rec.model, weights)).release(), {
    res,
    isAsync: true,
  });
  const result = {
    prepareMs: rec.prepareMs,
    firstCreateMs: rec.createMs,
    create,
    itemMatrixBytes: 4 * (js.d + 1) * n,
    modelBytes: rec.model.length,
    memory: { beforeLoad, afterLoad, atEnd: memory.bytes() },
    agreement,
  };
  return { result, recommend, trackRecommend };
}

/**
 * The compact twin of catalog `n` (fetched: the bundle the driver compacted from the same
 * synthetic catalog): its verified load and the non-private `recommend` and `rerank` jobs, timed
 * as the int8 bundle's are, and the overlap of its top-20 with the int8 bundle's.
 */
async function benchCompact(n, { session, now, fresh, candidates, res, int8Top }) {
  const url = `/bench-data/compact-${n}.vtr`;
  const got = await fetch(url);
  if (!got.ok) throw new Error(`${url}: HTTP ${got.status} (scripts/bench.mjs --compact writes it)`);
  const bytes = new Uint8Array(await got.arrayBuffer());
  log(`  compact twin: ${bytes.length} bytes (${(bytes.length / n).toFixed(1)} bytes / item)`);
  const jobs = {};
  jobs['load (verified)'] = { wasm: await measure(async () => (await EngineCore.create({ Recommender }, bytes)).free(), { res, isAsync: true }) };
  jobs['load (verified, hashed in wasm)'] = { wasm: await measure(() => Recommender.fromBytes(bytes).free(), { res }) };
  const rec = Recommender.fromBytes(bytes);
  rec.configure({ privacy: { epsilon: Infinity } });
  for (const e of session) rec.track(e);
  const top = rec.recommend({ k: K, now });
  jobs[`recommend top-${K} (ε = ∞)`] = { wasm: await measure(() => rec.recommend({ k: K, now }), { res }) };
  jobs[`rerank ${RERANK}, new ids (ε = ∞)`] = { wasm: measureFresh((list) => rec.rerank(list, { now }), fresh, { res }) };
  jobs[`rerank ${RERANK} (ε = ∞)`] = { wasm: await measure(() => rec.rerank(candidates, { now }), { res }) };
  rec.free();
  const overlap = `${top.filter((r) => int8Top.has(r.id)).length}/${K}`;
  return { bundleBytes: bytes.length, bytesPerItem: bytes.length / n, overlap, jobs };
}

async function benchCatalog(n, wasm, res, ortRuntime) {
  const t0 = performance.now();
  const catalog = syntheticCatalog({ n, d: DIM, seed: SEED });
  const bytes = await writeBundle(catalog, { seed: SEED });
  const genMs = performance.now() - t0;
  log(`catalog ${n} × ${DIM}: ${bytes.length} bytes, generated in ${genMs.toFixed(0)} ms`);
  const rand = prng(SEED + n);
  const pick = () => catalog.ids[rand() % n];
  const session = Array.from({ length: SESSION }, (_, i) => ({ type: 'click', item: pick(), ts: T0 + i * 60_000 }));
  const pageEvent = { type: 'click', item: pick(), ts: T0 + SESSION * 60_000 };
  const now = T0 + (SESSION + 1) * 60_000;
  const candidates = Array.from({ length: RERANK }, pick);
  // Disjoint lists of RERANK ids (a seeded shuffle of the catalog), for the "new ids" jobs: the
  // even ones for the private mode, the odd ones for ε = ∞.
  const shuffle = prng(SEED + n + 1);
  const shuffled = [...catalog.ids];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = shuffle() % (i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  const freshLists = [[], []];
  for (let c = 0; (c + 1) * RERANK <= n; c++) freshLists[c % 2].push(shuffled.slice(c * RERANK, (c + 1) * RERANK));
  const stream = Array.from({ length: 512 }, pick);

  const memory = { initial: wasm.memory.buffer.byteLength };
  const rec = Recommender.fromBytes(bytes);
  memory.afterLoad = wasm.memory.buffer.byteLength;
  const kernel = rec.kernel;
  const privacy = supportsPrivacy(rec);
  const canSkipDigest = Recommender.fromBytes.length >= 2;
  const jobs = {};

  log('  load');
  jobs['load (verified)'] = {
    wasm: await measure(async () => (await EngineCore.create({ Recommender }, bytes)).free(), { res, isAsync: true }),
    js: await measure(() => JsBaseline.load(bytes, { verifyDigest: true }), { res, isAsync: true }),
  };
  jobs['load (verified, hashed in wasm)'] = {
    wasm: await measure(() => Recommender.fromBytes(bytes).free(), { res }),
    js: await measure(() => JsBaseline.load(bytes, { verifyDigest: true }), { res, isAsync: true }),
  };
  if (canSkipDigest) {
    jobs['load (no digest check)'] = {
      wasm: await measure(() => Recommender.fromBytes(bytes, { verifyDigest: false }).free(), { res }),
      js: await measure(() => JsBaseline.load(bytes, { verifyDigest: false }), { res, isAsync: true }),
    };
  }
  const js = await JsBaseline.load(bytes);

  // Private (today's defaults: unit 'device', the exponential mechanism, ε 1 per release), with the
  // budget raised so that the timed fresh releases never run out; then the explicit non-private
  // mode, which the baseline mirrors.
  const modes = privacy
    ? [['', { privacy: { budget: { epsilon: 10000 } } }], [' (ε = ∞)', { privacy: { epsilon: Infinity } }]]
    : [['', {}]];
  let privacyAtEnd = null;
  let overlap = null;
  let int8Top = null; // the int8 bundle's non-private top-20, for the compact twin's overlap
  for (const [suffix, settings] of modes) {
    log(`  requests${suffix || ' (private)'}`);
    rec.reset();
    rec.configure(settings);
    js.events = [];
    for (const e of session) {
      rec.track(e);
      js.track(e);
    }
    // What a page load restores: the session as stored. Imported, its events are the device
    // record D (in private mode the one thing a release reads).
    const stored = rec.exportState();
    rec.importState(stored);
    // And the page's own event (P, ranked exactly in private mode), on both sides.
    rec.track(pageEvent);
    js.track(pageEvent);
    const status = privacy && !suffix ? rec.privacyStatus() : null;
    if (status && status.unit !== 'device') throw new Error(`the private rows must use the default unit 'device', got ${status.unit}`);
    const wasmTop = rec.recommend({ k: K, now });
    if (status) {
      const first = rec.privacyStatus();
      if (first.lastSource !== 'fresh') throw new Error(`the first ranking after a restore made no fresh release (${first.lastSource})`);
    }
    if (suffix || !privacy) {
      int8Top = new Set(wasmTop.map((r) => r.id));
      const jsTop = new Set(js.recommend({ k: K, now }).map((r) => r.id));
      overlap = `${wasmTop.filter((r) => jsTop.has(r.id)).length}/${K}`;
    }
    jobs[`recommend top-${K}${suffix}`] = {
      wasm: await measure(() => rec.recommend({ k: K, now }), { res }),
      js: await measure(() => js.recommend({ k: K, now }), { res }),
    };
    const fresh = freshLists[suffix ? 1 : 0];
    jobs[`rerank ${RERANK}, new ids${suffix}`] = {
      wasm: measureFresh((list) => rec.rerank(list, { now }), fresh, { res }),
      js: measureFresh((list) => js.rerank(list, { now }), fresh, { res }),
    };
    jobs[`rerank ${RERANK}${suffix}`] = {
      wasm: await measure(() => rec.rerank(candidates, { now }), { res }),
      js: await measure(() => js.rerank(candidates, { now }), { res }),
    };
    let i = 0;
    let j = 0;
    const releasesBefore = privacy && !suffix ? rec.privacyStatus().budget?.releases ?? 0 : 0;
    jobs[`track + recommend${suffix}`] = {
      wasm: await measure(() => {
        const ts = now + ++i * 1000;
        rec.track({ type: 'click', item: stream[i % stream.length], ts });
        return rec.recommend({ k: K, now: ts });
      }, { res }),
      js: await measure(() => {
        const ts = now + ++j * 1000;
        js.track({ item: stream[j % stream.length], ts });
        return js.recommend({ k: K, now: ts });
      }, { res }),
    };
    let releasesDuringTrackRecommend = null;
    if (privacy && !suffix) releasesDuringTrackRecommend = (rec.privacyStatus().budget?.releases ?? 0) - releasesBefore;
    // A page load: the stored session imported, the page's click, then top-20 (the baseline parses
    // the same JSON and replays its events). Private: a fresh release every call.
    let freshCount = 0;
    let calls = 0;
    jobs[`restore + track + recommend${suffix}`] = {
      wasm: await measure(() => {
        rec.importState(stored);
        rec.track(pageEvent);
        return rec.recommend({ k: K, now });
      }, { res }),
      js: await measure(() => {
        js.events = [];
        for (const e of JSON.parse(stored).events) js.track({ item: e.item, ts: e.ts });
        js.track(pageEvent);
        return js.recommend({ k: K, now });
      }, { res }),
    };
    if (privacy && !suffix) {
      // Not timed: that every restore + recommend is a fresh release.
      for (let n = 0; n < 5; n++) {
        rec.importState(stored);
        rec.track(pageEvent);
        rec.recommend({ k: K, now });
        calls += 1;
        if (rec.privacyStatus().lastSource === 'fresh') freshCount += 1;
      }
      const st = rec.privacyStatus();
      privacyAtEnd = { ...st, releasesDuringTrackRecommend, restoreFresh: `${freshCount}/${calls}` };
    }
  }
  rec.free();
  memory.atEnd = wasm.memory.buffer.byteLength;

  // The compact twin: the session the int8 bundle ranked (restored, then the page's click), and
  // the lists of new ids the int8 bundle's non-private rows used (new to this engine as well).
  const compact = WITH_COMPACT
    ? await benchCompact(n, { session: [...session, pageEvent], now, fresh: freshLists[1], candidates, res, int8Top })
    : null;

  // ONNX Runtime Web last, so that its sessions (and the garbage of its timed creates) are not
  // around while the engine and the plain-JS baseline are timed; its jobs go into the non-private rows.
  let ortResult = null;
  if (ortRuntime) {
    const suffix = privacy ? ' (ε = ∞)' : '';
    const ort = await benchOrt(ortRuntime, js, { n, session: [...session, pageEvent], now, stream, res });
    ortResult = ort.result;
    jobs[`recommend top-${K}${suffix}`].ort = ort.recommend;
    jobs[`track + recommend${suffix}`].ort = ort.trackRecommend;
    if (compact) compact.jobs[`recommend top-${K} (ε = ∞)`].ort = ort.recommend;
  }
  return {
    n,
    d: DIM,
    bundleBytes: bytes.length,
    bytesPerItem: bytes.length / n,
    generateMs: genMs,
    kernel,
    memory,
    overlap,
    privacy: privacyAtEnd,
    ort: ortResult,
    jobs,
    compact,
  };
}

async function main() {
  const wasm = await init();
  const res = timerResolution();
  log(`performance.now() resolution: ${(res.median * 1000).toFixed(1)} µs (cross-origin isolated: ${self.crossOriginIsolated})`);
  const ortRuntime = WITH_ORT ? await startOrt() : null;
  const catalogs = [];
  for (const n of SIZES) catalogs.push(await benchCatalog(n, wasm, res.median, ortRuntime));
  const result = {
    date: new Date().toISOString(),
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    crossOriginIsolated: self.crossOriginIsolated,
    timerResolutionUs: { median: res.median * 1000, min: res.min * 1000 },
    runs: RUNS,
    warmup: WARMUP,
    seed: SEED,
    ort: ortRuntime?.info ?? null,
    catalogs,
  };
  log(
    '\n' + markdownTable(catalogs) + '\n\n' + markdownSizes(catalogs) +
      (ortRuntime ? '\n\n' + markdownOrt(catalogs) : '') +
      (WITH_COMPACT ? '\n\n' + markdownCompact(catalogs) : ''),
  );
  status.result = result;
  status.state = 'done';
}

main().catch((err) => {
  status.error = String(err?.stack ?? err);
  status.state = 'error';
  log(`error: ${status.error}`);
});
