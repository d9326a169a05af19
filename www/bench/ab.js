// The A/B page: two builds of the engine (/ab/a/vitrine.js, /ab/b/vitrine.js — e.g. the previous
// commit's and this one's, served by scripts/bench-ab) in one page, on the same seeded synthetic
// catalog, the same session and the same requests. Each round times every job on both builds, in
// an order that alternates from round to round, so that a drift of the machine (another process,
// thermal, GC) falls on both. Per job and build: the median over rounds of each round's median, and
// the ratio b / a. The plain-JS baseline's load is timed in every build's turn too (a reference for
// `load` from the same rounds). Results: window.vitrineAb = {state, result, error}.
//
// Query parameters: sizes=43097 (comma-separated), rounds=7, runs=30, warmup=5, seed=1, d=64.

import { syntheticCatalog, writeBundle, prng } from './bundle-gen.js';
import { stats } from './report.js';
import { EngineCore } from '../lib/core.js';
import { JsBaseline } from './baseline.js';
import { timerResolution, measure, measureFresh } from './measure.js';

const status = (window.vitrineAb = { state: 'running', progress: [], result: null, error: null });
const out = document.getElementById('out');
const log = (line) => {
  status.progress.push(line);
  if (out) out.textContent = status.progress.join('\n');
};
const params = new URLSearchParams(location.search);
const num = (k, def) => (params.has(k) ? Number(params.get(k)) : def);
const SIZES = (params.get('sizes') ?? '43097').split(',').map(Number);
const ROUNDS = num('rounds', 7);
const RUNS = num('runs', 30);
const WARMUP = num('warmup', 5);
const SEED = num('seed', 1);
const DIM = num('d', 64);
const K = 20;
const RERANK = 200;
const SESSION = 10;
const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

/** Each build's wasm memory (to read its size after the first load). */
const memories = {};

async function loadBuild(name) {
  const mod = await import(`/ab/${name}/vitrine.js`);
  const exports = await mod.default({ module_or_path: `/ab/${name}/vitrine_bg.wasm` });
  memories[name] = exports.memory;
  return mod.Recommender;
}

/** One build's engine on the catalog, with the session tracked and privacy off (ε = ∞). */
function engine(Recommender, bytes, session) {
  const rec = Recommender.fromBytes(bytes);
  rec.configure({ privacy: { epsilon: Infinity } });
  for (const e of session) rec.track(e);
  return rec;
}

/** The jobs, for one build: name → () => Promise<stats>. */
function jobs(Recommender, bytes, { session, now, candidates, fresh, stream, res }) {
  const o = { res, runs: RUNS, warmup: WARMUP };
  return {
    // The package's load: the digest with the browser's SHA-256 where the build has `digestPlan`
    // (a build without it hashes in wasm, as `fromBytes(bytes)` does).
    'load (verified)': () => measure(async () => (await EngineCore.create({ Recommender }, bytes)).free(), { ...o, isAsync: true }),
    'load (verified, hashed in wasm)': () => measure(() => Recommender.fromBytes(bytes).free(), o),
    // Not the build's: the plain-JS baseline's load (bench/baseline.js, the same checks), timed in
    // every build's turn so that the builds' loads have a reference from the same rounds.
    'load, plain-JS baseline (either column)': () => measure(() => JsBaseline.load(bytes, { verifyDigest: true }), { ...o, isAsync: true }),
    [`recommend top-${K} (ε = ∞)`]: async () => {
      const rec = engine(Recommender, bytes, session);
      const r = await measure(() => rec.recommend({ k: K, now }), o);
      rec.free();
      return r;
    },
    [`rerank ${RERANK} (ε = ∞)`]: async () => {
      const rec = engine(Recommender, bytes, session);
      const r = await measure(() => rec.rerank(candidates, { now }), o);
      rec.free();
      return r;
    },
    [`rerank ${RERANK}, new ids (ε = ∞)`]: async () => {
      const rec = engine(Recommender, bytes, session);
      const r = measureFresh((list) => rec.rerank(list, { now }), fresh, { res, runs: RUNS });
      rec.free();
      return r;
    },
    [`track + recommend (ε = ∞)`]: async () => {
      const rec = engine(Recommender, bytes, session);
      let i = 0;
      const r = await measure(() => {
        const ts = now + ++i * 1000;
        rec.track({ type: 'click', item: stream[i % stream.length], ts });
        return rec.recommend({ k: K, now: ts });
      }, o);
      rec.free();
      return r;
    },
  };
}

async function main() {
  const res = timerResolution().median;
  const builds = { a: await loadBuild('a'), b: await loadBuild('b') };
  const result = { userAgent: navigator.userAgent, timerResolutionMs: res, rounds: ROUNDS, runs: RUNS, catalogs: [] };
  for (const n of SIZES) {
    const catalog = syntheticCatalog({ n, d: DIM, seed: SEED });
    const bytes = await writeBundle(catalog, { seed: SEED });
    const rand = prng(SEED + n);
    const pick = () => catalog.ids[rand() % n];
    const session = Array.from({ length: SESSION }, (_, i) => ({ type: 'click', item: pick(), ts: T0 + i * 60_000 }));
    const now = T0 + SESSION * 60_000;
    const candidates = Array.from({ length: RERANK }, pick);
    const stream = Array.from({ length: 512 }, pick);
    // Fresh id lists: a seeded shuffle cut into lists of RERANK; each round and build takes its own.
    const shuffle = prng(SEED + n + 1);
    const ids = [...catalog.ids];
    for (let i = ids.length - 1; i > 0; i--) {
      const j = shuffle() % (i + 1);
      [ids[i], ids[j]] = [ids[j], ids[i]];
    }
    const lists = [];
    for (let c = 0; (c + 1) * RERANK <= n; c++) lists.push(ids.slice(c * RERANK, (c + 1) * RERANK));
    const perBuild = Math.floor(lists.length / (2 * ROUNDS));
    // The two builds must answer alike (same top-20) for the comparison to mean anything. Each
    // build's wasm memory is read after this load: its size after the first load of the page's
    // first catalog (wasm memory only grows: for a later catalog it is the high-water mark).
    const top = {};
    const memory = {};
    for (const b of ['a', 'b']) {
      const rec = engine(builds[b], bytes, session);
      memory[b] = memories[b].buffer.byteLength;
      top[b] = rec.recommend({ k: K, now }).map((r) => r.id).join(',');
      rec.free();
    }
    if (top.a !== top.b) throw new Error(`the two builds rank catalog ${n} differently`);
    const medians = {};
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
      for (const b of order) {
        const slot = (round * 2 + (b === 'a' ? 0 : 1)) * perBuild;
        const js = jobs(builds[b], bytes, {
          session, now, candidates, stream, res,
          fresh: lists.slice(slot, slot + perBuild),
        });
        for (const [name, run] of Object.entries(js)) {
          const s = await run();
          ((medians[name] ??= { a: [], b: [] })[b]).push(s.p50);
        }
      }
      log(`catalog ${n}: round ${round + 1}/${ROUNDS}`);
    }
    const rows = Object.entries(medians).map(([job, m]) => {
      const a = stats(m.a).p50;
      const b = stats(m.b).p50;
      return { job, aMs: a, bMs: b, ratio: b / a, aRounds: m.a, bRounds: m.b };
    });
    result.catalogs.push({ n, d: DIM, bundleBytes: bytes.length, memory, rows });
  }
  status.result = result;
  status.state = 'done';
  log('done');
}

main().catch((err) => {
  status.error = String(err?.stack ?? err);
  status.state = 'error';
  log(`error: ${status.error}`);
});
