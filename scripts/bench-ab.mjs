#!/usr/bin/env node
// Times two builds of the wasm engine against each other in one page (www/bench/ab.html), in
// alternating rounds, on the same seeded synthetic catalogs and requests, and prints a markdown
// table: per job the median of the rounds' medians for each build and the ratio b / a.
//
//   node scripts/bench-ab.mjs --a DIR --b DIR [--sizes 43097] [--rounds 7] [--runs 30] [--out target/bench]
//
// DIR is a wasm-pack output directory (vitrine.js + vitrine_bg.wasm), e.g. a copy of www/pkg from the
// previous commit (`git worktree add` + scripts/build) for --a and www/pkg for --b. The page is served
// on loopback with COOP/COEP (finest timer); the JSON goes to target/bench/ab-<time>.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

import { startServer } from './serve.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `usage: node scripts/bench-ab.mjs --a DIR --b DIR [--sizes N,N…] [--rounds 7] [--runs 30] [--out DIR]

  --a DIR, --b DIR   the two builds (wasm-pack output directories: vitrine.js, vitrine_bg.wasm)
  --sizes N,N…       synthetic catalog sizes (default 43097)
  --rounds N         alternating rounds (default 7)
  --runs N           timed samples per job and round (default 30)
  --out DIR          where the JSON goes (default target/bench)
  -h, --help         this text`;

function cli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      a: { type: 'string' },
      b: { type: 'string' },
      sizes: { type: 'string', default: '43097' },
      rounds: { type: 'string', default: '7' },
      runs: { type: 'string', default: '30' },
      out: { type: 'string', default: 'target/bench' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return { help: true };
  if (!values.a || !values.b) throw new TypeError('--a and --b are required');
  for (const k of ['a', 'b']) {
    if (!fs.existsSync(path.join(values[k], 'vitrine_bg.wasm'))) throw new TypeError(`--${k} ${values[k]}: no vitrine_bg.wasm there`);
  }
  return values;
}

const fmt = (ms) => (ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} µs`);

async function main() {
  let args;
  try {
    args = cli(process.argv.slice(2));
  } catch (e) {
    console.error(`bench-ab: ${e.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const server = await startServer({
    root: path.join(REPO, 'www'),
    port: 0,
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
    mounts: { '/ab/a/': path.resolve(args.a), '/ab/b/': path.resolve(args.b) },
  });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
  });
  const loadBefore = os.loadavg();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}bench/ab.html?sizes=${args.sizes}&rounds=${args.rounds}&runs=${args.runs}`);
    let shown = 0;
    for (;;) {
      const s = await page.evaluate(() => window.vitrineAb && { state: window.vitrineAb.state, progress: window.vitrineAb.progress, error: window.vitrineAb.error });
      for (const line of s?.progress.slice(shown) ?? []) console.error(line);
      shown = s?.progress.length ?? shown;
      if (s?.state === 'error' || errors.length) throw new Error(s?.error ?? errors.join('; '));
      if (s?.state === 'done') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const result = await page.evaluate(() => window.vitrineAb.result);
    result.browser = `Chromium ${browser.version()}`;
    result.a = args.a;
    result.b = args.b;
    result.loadAverage = { before: loadBefore, after: os.loadavg() };
    result.date = new Date().toISOString();
    fs.mkdirSync(args.out, { recursive: true });
    const file = path.join(args.out, `ab-${result.date.replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, JSON.stringify(result, null, 2));
    console.log(`A/B, ${result.browser}, load ${loadBefore.map((x) => x.toFixed(2)).join(' ')} → ${result.loadAverage.after.map((x) => x.toFixed(2)).join(' ')}, ${result.rounds} rounds × ${result.runs} runs`);
    console.log(`a = ${args.a}\nb = ${args.b}\n`);
    for (const c of result.catalogs) {
      console.log(`| ${c.n} × ${c.d} | a (p50 of round p50s) | b | b / a |\n| --- | ---: | ---: | ---: |`);
      for (const r of c.rows) console.log(`| ${r.job} | ${fmt(r.aMs)} | ${fmt(r.bMs)} | ${r.ratio.toFixed(2)} |`);
      if (c.memory) {
        const mb = (x) => `${(x / 1e6).toFixed(1)} MB (${(x / c.bundleBytes).toFixed(2)}× the bundle)`;
        console.log(`| wasm memory after the first load${c === result.catalogs[0] ? '' : ' (high-water: not the first catalog)'} | ${mb(c.memory.a)} | ${mb(c.memory.b)} | ${(c.memory.b / c.memory.a).toFixed(2)} |`);
      }
      console.log();
    }
    console.log(`JSON: ${path.relative(REPO, file)}`);
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((e) => {
  console.error(`bench-ab: ${e.stack ?? e}`);
  process.exit(1);
});
