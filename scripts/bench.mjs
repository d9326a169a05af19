#!/usr/bin/env node
// Runs the in-browser benchmark (www/bench/) in headless Chromium, one fresh page per catalog (so
// each catalog's wasm memory figure starts from a new instance), and prints markdown tables:
// the environment, the package sizes (ours, and the ONNX Runtime Web files the pages fetched),
// latencies with their ratio to the plain-JS and ONNX Runtime Web baselines and the budgets,
// memory, and ORT's load. Writes the JSON to target/bench/browser-<time>.json and
// target/bench/browser-latest.json. Usually started by scripts/bench (which builds first).
//
//   node scripts/bench.mjs [--sizes 10000,43097,100000,1000000] [--runs 50] [--warmup 5] [--seed 1]
//                          [--compact] [--out target/bench] [--quiet]
//
// --compact (issue 18) also times a compact twin of each catalog: the same synthetic catalog
// written here by the page's own generator, then `vitrine compact` (product quantization, format
// version 3; needs target/release/vitrine), served to the page under /bench-data/.
//
// The page is served on 127.0.0.1 with COOP/COEP headers (cross-origin isolated), which gives
// performance.now() its finest resolution; the measured resolution is reported either way.
// ONNX Runtime Web and pbf (which writes its model) are served from node_modules under /vendor/
// (www/bench/index.html maps their module names there): nothing comes from another origin.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';

import { startServer } from './serve.mjs';
import { markdownTable, markdownSizes, markdownOrt, markdownCompact, fmtBytes, BUDGETS, budgetFor, WASM_GZIP_BUDGET } from '../www/bench/report.js';
import { syntheticCatalog, writeBundle } from '../www/bench/bundle-gen.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CLI = process.env.VITRINE_BIN ?? path.join(REPO, 'target', 'release', 'vitrine');
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
/** URL prefix -> directory of the npm packages the bench page loads (see www/bench/index.html). */
const ORT_PREFIX = '/vendor/onnxruntime-web/';
const MOUNTS = { [ORT_PREFIX]: path.join(REPO, 'node_modules/onnxruntime-web/dist'), '/vendor/pbf/': path.join(REPO, 'node_modules/pbf') };

const USAGE = `usage: node scripts/bench.mjs [--sizes N,N…] [--runs 50] [--warmup 5] [--seed 1] [--out DIR] [--quiet]

  --sizes N,N…   synthetic catalog sizes, items (default 10000,43097,100000,1000000; each ≥ 300)
  --runs N       timed runs per job (default 50)
  --warmup N     untimed runs first (default 5)
  --seed N       seed of the synthetic catalogs (default 1)
  --compact      also time each catalog's compact twin (vitrine compact; needs target/release/vitrine)
  --out DIR      where the JSON goes (default target/bench)
  --quiet        no progress lines on stderr
  -h, --help     this text`;

/** Reads the command line with util.parseArgs; throws a TypeError on bad usage. */
export function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      sizes: { type: 'string', default: '10000,43097,100000,1000000' },
      runs: { type: 'string', default: '50' },
      warmup: { type: 'string', default: '5' },
      seed: { type: 'string', default: '1' },
      compact: { type: 'boolean', default: false },
      out: { type: 'string', default: 'target/bench' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const o = { ...values, runs: Number(values.runs), warmup: Number(values.warmup), seed: Number(values.seed) };
  if (o.help) return o;
  o.sizes = o.sizes.split(',').map(Number);
  if (o.sizes.some((n) => !Number.isInteger(n) || n < 300)) throw new TypeError('--sizes: whole numbers ≥ 300');
  if (!Number.isInteger(o.runs) || o.runs < 1 || !Number.isInteger(o.warmup) || o.warmup < 0) throw new TypeError('--runs: a whole number ≥ 1, --warmup: ≥ 0');
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new TypeError('--seed: a whole number ≥ 0');
  return o;
}

/**
 * Sizes of the ONNX Runtime Web files a page fetched (`names`, in dist/): raw and gzip -9. Not
 * brotli: quality 11 of its 14.8 MB wasm takes ~50 s here (docs/benchmarks.md gives it once).
 */
export function ortSizes(names, dist = MOUNTS[ORT_PREFIX]) {
  const version = JSON.parse(fs.readFileSync(path.join(dist, '..', 'package.json'), 'utf8')).version;
  const files = [...names].sort().map((file) => {
    const b = fs.readFileSync(path.join(dist, file));
    return { file, raw: b.length, gzip: zlib.gzipSync(b, { level: 9 }).length };
  });
  const total = { raw: files.reduce((a, f) => a + f.raw, 0), gzip: files.reduce((a, f) => a + f.gzip, 0) };
  return { package: 'onnxruntime-web', version, files, total };
}

/** Sizes of the shipped files: the wasm raw / gzip -9 / brotli 11, and the JS glue. */
export function packageSizes(pkg = path.join(REPO, 'www/pkg')) {
  const wasm = fs.readFileSync(path.join(pkg, 'vitrine_bg.wasm'));
  const glue = fs.readFileSync(path.join(pkg, 'vitrine.js'));
  const gz = (b) => zlib.gzipSync(b, { level: 9 }).length;
  const br = (b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  return {
    wasm: { raw: wasm.length, gzip: gz(wasm), brotli: br(wasm) },
    glue: { raw: glue.length, gzip: gz(glue), brotli: br(glue) },
  };
}

/**
 * Writes the compact twin of each synthetic catalog into `dir` as `compact-<n>.vtr`: the catalog
 * built by the page's own generator with the same seed (the same bytes the page builds), then
 * `vitrine compact` with its defaults. Returns `{n: compact --json}`.
 */
export async function compactCatalogs(sizes, { seed, d = 64, dir, cli = CLI }) {
  if (!fs.existsSync(cli)) throw new Error(`--compact needs the CLI: ${cli} (scripts/build, or VITRINE_BIN)`);
  const out = {};
  for (const n of sizes) {
    const src = path.join(dir, `synthetic-${n}.vtr`);
    fs.writeFileSync(src, await writeBundle(syntheticCatalog({ n, d, seed }), { seed }));
    const json = execFileSync(cli, ['compact', '--bundle', src, '--out', path.join(dir, `compact-${n}.vtr`), '--json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    out[n] = JSON.parse(json);
    fs.rmSync(src);
  }
  return out;
}

function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1] ?? cpu;
  } catch {
    /* not Linux */
  }
  return { cpu, nproc: os.cpus().length, memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1), platform: `${os.platform()} ${os.release()}` };
}

/** Runs the bench page for each size; returns the merged result. `onLine` gets progress lines. */
export async function runBench({ sizes, runs, warmup, seed = 1, ort = true, compact = false, onLine = () => {}, root = path.join(REPO, 'www') }) {
  const compactDir = compact ? fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-bench-compact-')) : null;
  try {
    return await runPages({ sizes, runs, warmup, seed, ort, onLine, root, compactDir });
  } finally {
    if (compactDir) fs.rmSync(compactDir, { recursive: true, force: true });
  }
}

async function runPages({ sizes, runs, warmup, seed, ort, onLine, root, compactDir }) {
  let compacted = null;
  if (compactDir) {
    onLine(`compacting the catalogs (${sizes.join(', ')} items) with ${path.relative(REPO, CLI)}`);
    compacted = await compactCatalogs(sizes, { seed, dir: compactDir });
  }
  const mounts = compactDir ? { ...MOUNTS, '/bench-data/': compactDir } : MOUNTS;
  const server = await startServer({ root, port: 0, headers: ISOLATION, mounts });
  const ortFetched = new Set(); // ORT's files, by name in dist/, as the pages requested them
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
  });
  const loadBefore = os.loadavg();
  const pages = [];
  try {
    for (const n of sizes) {
      const page = await browser.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('requestfinished', (req) => {
        const p = new URL(req.url()).pathname;
        if (p.startsWith(ORT_PREFIX)) ortFetched.add(p.slice(ORT_PREFIX.length));
      });
      await page.goto(`${server.url}bench/?n=${n}&runs=${runs}&warmup=${warmup}&seed=${seed}${ort ? '' : '&ort=0'}${compactDir ? '&compact=1' : ''}`);
      let shown = 0;
      for (;;) {
        const s = await page.evaluate(() => {
          const b = window.vitrineBench;
          return b && { state: b.state, progress: b.progress, error: b.error };
        });
        for (const line of s?.progress.slice(shown) ?? []) if (!line.startsWith('\n')) onLine(line);
        shown = s?.progress.length ?? shown;
        if (s?.state === 'error') throw new Error(`bench page failed for ${n}: ${s.error}`);
        if (errors.length) throw new Error(`bench page error for ${n}: ${errors.join('; ')}`);
        if (s?.state === 'done') break;
        await new Promise((r) => setTimeout(r, 250));
      }
      pages.push(await page.evaluate(() => window.vitrineBench.result));
      await page.close();
    }
    const first = pages[0];
    return {
      date: first.date,
      browser: `Chromium ${browser.version()}`,
      userAgent: first.userAgent,
      machine: machine(),
      loadAverage: { before: loadBefore, after: os.loadavg() },
      crossOriginIsolated: first.crossOriginIsolated,
      timerResolutionUs: first.timerResolutionUs,
      runs,
      warmup,
      seed,
      package: packageSizes(path.join(root, 'pkg')),
      ort: ort ? { ...first.ort, download: ortSizes(ortFetched) } : null,
      budgets: BUDGETS,
      catalogs: pages.flatMap((p) => p.catalogs),
      compacted,
    };
  } finally {
    await browser.close();
    await server.close();
  }
}

/** The whole report as markdown. */
export function markdownReport(r) {
  const la = (l) => l.map((x) => x.toFixed(2)).join(' ');
  const p = r.package;
  const wasmMet = p.wasm.gzip <= WASM_GZIP_BUDGET;
  const lines = [
    `${r.date.slice(0, 10)} · ${r.browser} (headless) · ${r.machine.cpu}, ${r.machine.nproc} cores · load average ${la(r.loadAverage.before)} → ${la(r.loadAverage.after)}`,
    `performance.now() resolution ${r.timerResolutionUs.median.toFixed(1)} µs (cross-origin isolated: ${r.crossOriginIsolated}); ${r.runs} runs after ${r.warmup} warm-up calls per job`,
    '',
    '| file | raw | gzip -9 | brotli 11 | budget |',
    '| --- | ---: | ---: | ---: | --- |',
    `| vitrine_bg.wasm | ${fmtBytes(p.wasm.raw)} | ${fmtBytes(p.wasm.gzip)} | ${fmtBytes(p.wasm.brotli)} | ${wasmMet ? '✅' : '❌'} ≤ ${fmtBytes(WASM_GZIP_BUDGET)} gzip |`,
    `| vitrine.js (glue) | ${fmtBytes(p.glue.raw)} | ${fmtBytes(p.glue.gzip)} | ${fmtBytes(p.glue.brotli)} | |`,
  ];
  const o = r.ort;
  if (o) {
    const dl = o.download;
    for (const f of dl.files) lines.push(`| ${dl.package} ${dl.version}: ${f.file} | ${fmtBytes(f.raw)} | ${fmtBytes(f.gzip)} | – | |`);
    lines.push(`| ${dl.package} ${dl.version}: all it fetched | ${fmtBytes(dl.total.raw)} | ${fmtBytes(dl.total.gzip)} | – | |`);
  }
  lines.push('', markdownTable(r.catalogs), '', markdownSizes(r.catalogs));
  if (r.catalogs.some((c) => c.compact)) lines.push('', markdownCompact(r.catalogs));
  if (o) {
    lines.push(
      '',
      `ONNX Runtime Web ${o.version}: ${o.executionProvider} execution provider, ${o.numThreads} thread, proxy ${o.proxy ? 'on' : 'off'}; ` +
        `runtime start (first, one-item session) ${o.runtimeInitMs.toFixed(0)} ms, its wasm memory then ${fmtBytes(o.memoryAfterInit)}`,
      '',
      markdownOrt(r.catalogs),
    );
  }
  const missing = BUDGETS.filter((b) => !r.catalogs.some((c) => c.n === b.n && Object.keys(c.jobs).some((j) => budgetFor(c.n, j) === b)));
  if (missing.length) lines.push('', `(budgets not measured in this run: ${missing.map((b) => `${b.job} at ${b.n}`).join(', ')})`);
  return lines.join('\n');
}

async function main() {
  let o;
  try {
    o = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${err.message}\n${USAGE.split('\n')[0]} (--help for more)`);
    process.exit(2);
  }
  if (o.help) {
    console.log(USAGE);
    return;
  }
  const result = await runBench({ ...o, onLine: (l) => o.quiet || console.error(`bench: ${l}`) });
  const dir = path.resolve(REPO, o.out);
  fs.mkdirSync(dir, { recursive: true });
  const stamp = result.date.replace(/[:.]/g, '-').slice(0, 19);
  const json = JSON.stringify(result, null, 2) + '\n';
  fs.writeFileSync(path.join(dir, `browser-${stamp}.json`), json);
  fs.writeFileSync(path.join(dir, 'browser-latest.json'), json);
  console.log(markdownReport(result));
  console.error(`bench: wrote ${path.relative(REPO, path.join(dir, `browser-${stamp}.json`))} (and browser-latest.json)`);
}

const direct = process.argv[1] && fs.realpathSync(process.argv[1]) === fs.realpathSync(fileURLToPath(import.meta.url));
if (direct) {
  main().catch((err) => {
    console.error(`bench: error: ${err.message}`);
    process.exit(1);
  });
}
