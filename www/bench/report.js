// Statistics, budgets and the markdown table of the benchmark. No DOM: the page and the Node
// driver (scripts/bench.mjs) both import it.

/** The latency budgets of issues 3 and 4, in ms, by catalog size and job. */
export const BUDGETS = [
  { n: 43097, job: 'load (verified)', ms: 20, source: 'bundle parse + validate incl. digest (issue 3)' },
  { n: 43097, job: 'recommend top-20', ms: 0.5, source: 'engine (issue 4), p50' },
  { n: 43097, job: 'rerank 200', ms: 0.05, source: 'engine (issue 4), p50' },
  { n: 43097, job: 'track + recommend', ms: 1, source: 'engine (issue 4), p50' },
  { n: 1000000, job: 'recommend top-20', ms: 15, source: 'engine (issue 4), p50' },
];

/** The budget of a job (its `(ε = ∞)` and `, new ids` variants have the same one). */
export function budgetFor(n, job) {
  return BUDGETS.find(
    (b) => b.n === n && (job === b.job || job.startsWith(`${b.job} (ε`) || job.startsWith(`${b.job}, `)),
  );
}

/** Median, p95, mean, min and max of per-call times (ms). */
export function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return {
    p50: q(0.5),
    p95: q(0.95),
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    min: s[0],
    max: s[s.length - 1],
  };
}

/** A duration in ms, printed with about 3 significant digits (µs below 1 ms, s from 1,000 ms). */
export function fmtMs(ms) {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '–';
  if (ms < 0.9995) return `${(ms * 1000).toPrecision(3)} µs`;
  if (ms >= 999.5) return `${(ms / 1000).toPrecision(3)} s`;
  return `${ms.toPrecision(3)} ms`;
}

/** Bytes in decimal units, as the project's docs write sizes (1 KB = 1,000 bytes). */
export function fmtBytes(b) {
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)} MB`;
  if (b >= 1e3) return `${(b / 1e3).toFixed(1)} KB`;
  return `${b} B`;
}

/** The wasm size budget: gzip -9 bytes. */
export const WASM_GZIP_BUDGET = 100_000;

/** `a ÷ b` of two medians as "0.42×", or "–" when either is missing. */
function ratio(a, b) {
  return a && b ? `${(a.p50 / b.p50).toFixed(2)}×` : '–';
}

/**
 * The results table: one row per catalog × job, every wasm figure also as a ratio to plain JS and,
 * where ONNX Runtime Web did the job (the non-private whole-catalog ones), to ORT.
 */
export function markdownTable(catalogs) {
  const rows = [
    '| catalog | job | wasm p50 | wasm p95 | plain JS p50 | plain JS p95 | wasm ÷ JS (p50) | ORT p50 | ORT p95 | wasm ÷ ORT (p50) | budget (p50) |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const c of catalogs) {
    for (const [job, r] of Object.entries(c.jobs)) {
      const b = budgetFor(c.n, job);
      const met = b ? `${r.wasm.p50 <= b.ms ? '✅' : '❌'} ≤ ${fmtMs(b.ms)}` : '';
      rows.push(
        `| ${c.n.toLocaleString('en-US')} × ${c.d} | ${job} | ${fmtMs(r.wasm.p50)} | ${fmtMs(r.wasm.p95)} | ` +
          `${fmtMs(r.js?.p50)} | ${fmtMs(r.js?.p95)} | ${ratio(r.wasm, r.js)} | ` +
          `${fmtMs(r.ort?.p50)} | ${fmtMs(r.ort?.p95)} | ${ratio(r.wasm, r.ort)} | ${met} |`,
      );
    }
  }
  return rows.join('\n');
}

/** Issue 18: non-private `recommend` top-20 at least this many times faster than ORT, at these sizes. */
export const ORT_SPEEDUP_TARGET = { times: 3, sizes: [43097, 1000000], job: 'recommend top-20 (ε = ∞)' };

/**
 * ONNX Runtime Web per catalog: its load (building the f32 item matrix from the bundle's rows, then
 * InferenceSession.create: the first one, and p50/p95 over the timed ones), its wasm memory,
 * whether its top-20 is the plain-JS baseline's, and how many times faster our non-private
 * `recommend` is (ORT p50 ÷ wasm p50; the issue-18 target where it applies). Catalogs run without
 * ORT are left out.
 */
export function markdownOrt(catalogs) {
  const t = ORT_SPEEDUP_TARGET;
  const rows = [
    '| catalog | item matrix (f32) | build it from the bundle | session create (first) | session create p50 | session create p95 | ' +
      `ORT memory after load (before) | ORT top-20 = plain JS (max \\|Δscore\\|) | wasm faster than ORT, recommend (ε = ∞) p50 (target ≥ ${t.times}×) |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  ];
  for (const c of catalogs) {
    const o = c.ort;
    if (!o) continue;
    const a = o.agreement;
    const agree = a ? `${a.agree ? '✅' : '❌'} ${a.same}/${a.of} (${a.maxScoreDiff.toExponential(1)})` : '–';
    const r = c.jobs[t.job] ?? c.jobs['recommend top-20']; // builds without privacy settings
    const speedup = r?.ort ? r.ort.p50 / r.wasm.p50 : null;
    const mark = speedup && t.sizes.includes(c.n) ? (speedup >= t.times ? '✅ ' : '❌ ') : '';
    rows.push(
      `| ${c.n.toLocaleString('en-US')} × ${c.d} | ${fmtBytes(o.itemMatrixBytes)} | ${fmtMs(o.prepareMs)} | ${fmtMs(o.firstCreateMs)} | ` +
        `${fmtMs(o.create.p50)} | ${fmtMs(o.create.p95)} | ${fmtBytes(o.memory.afterLoad)} (${fmtBytes(o.memory.beforeLoad)}) | ${agree} | ` +
        `${speedup ? `${mark}${speedup.toFixed(2)}×` : '–'} |`,
    );
  }
  return rows.join('\n');
}

/** Per-catalog sizes: bundle bytes, bytes per item, wasm memory. */
export function markdownSizes(catalogs) {
  const rows = [
    '| catalog | bundle | bytes / item | wasm memory after load | wasm memory at the end | top-20 overlap with JS (ε = ∞) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const c of catalogs) {
    rows.push(
      `| ${c.n.toLocaleString('en-US')} × ${c.d} | ${fmtBytes(c.bundleBytes)} | ${c.bytesPerItem.toFixed(1)} | ` +
        `${fmtBytes(c.memory.afterLoad)} | ${fmtBytes(c.memory.atEnd)} | ${c.overlap ?? '–'} |`,
    );
  }
  return rows.join('\n');
}

/**
 * The compact twins (issue 18), per catalog: the bundle's size, its load, the non-private
 * `recommend` and `rerank` jobs beside the int8 bundle's (and, for `recommend`, how many times
 * faster than ONNX Runtime Web on the same catalog), and the overlap of its top-20 with the int8
 * bundle's. Catalogs without a twin are left out.
 */
export function markdownCompact(catalogs) {
  const t = ORT_SPEEDUP_TARGET;
  const rec = 'recommend top-20 (ε = ∞)';
  const rows = [
    '| catalog | compact bundle | bytes / item (int8) | load (verified) p50 (int8) | recommend top-20 (ε = ∞) p50 (int8) | ' +
      `compact faster than ORT, recommend p50 (target ≥ ${t.times}×) | rerank 200, new ids (ε = ∞) p50 (int8) | rerank 200 (ε = ∞) p50 (int8) | top-20 overlap with int8 |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const c of catalogs) {
    const x = c.compact;
    if (!x) continue;
    const both = (job) => `${fmtMs(x.jobs[job]?.wasm?.p50)} (${fmtMs(c.jobs[job]?.wasm?.p50)})`;
    const o = x.jobs[rec]?.ort;
    const speedup = o ? o.p50 / x.jobs[rec].wasm.p50 : null;
    const mark = speedup && t.sizes.includes(c.n) ? (speedup >= t.times ? '✅ ' : '❌ ') : '';
    rows.push(
      `| ${c.n.toLocaleString('en-US')} × ${c.d} | ${fmtBytes(x.bundleBytes)} | ${x.bytesPerItem.toFixed(1)} (${c.bytesPerItem.toFixed(1)}) | ` +
        `${both('load (verified)')} | ${both(rec)} | ${speedup ? `${mark}${speedup.toFixed(2)}×` : '–'} | ` +
        `${both('rerank 200, new ids (ε = ∞)')} | ${both('rerank 200 (ε = ∞)')} | ${x.overlap} |`,
    );
  }
  return rows.join('\n');
}
