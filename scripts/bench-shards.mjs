#!/usr/bin/env node
// Big catalogs on demand (issue 18): what a sharded catalog saves the first shelf. For each
// synthetic catalog size (the browser bench's generator, seeded) and each form (int8, and the
// compact twin from `vitrine compact`), `vitrine catalog shard --head H` cuts a head and shards by
// category; then headless Chromium, in one page, times with the npm package (main thread, no
// storage) the first shelf from the full bundle (`Vitrine.load(full)` + `recommend({k: 8})`)
// against the first shelf from the manifest (`Vitrine.load('shards.json')` + the same call), and a
// category's shards joining later (`loadShards({categories: [c]})`). Medians of --runs, each load
// from loopback HTTP with the cache off.
//
//   node scripts/bench-shards.mjs [--sizes 1000000] [--head 20000] [--runs 5] [--seed 1]
//
// Needs the build (scripts/build: target/release/vitrine, www/pkg). Prints a Markdown table.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';

import { startServer } from './serve.mjs';
import { syntheticCatalog, writeBundle } from '../www/bench/bundle-gen.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = process.env.VITRINE_BIN ?? path.join(REPO, 'target', 'release', 'vitrine');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const { values: opt } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000000' },
    head: { type: 'string', default: '20000' },
    runs: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
  },
});
const sizes = opt.sizes.split(',').map(Number);
const head = Number(opt.head);
const runs = Number(opt.runs);
const seed = Number(opt.seed);
if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run scripts/build`);

const cli = (...args) => JSON.parse(execFileSync(CLI, [...args, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 }));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-bench-shards-'));
const page = `<!doctype html><meta charset="utf-8"><script type="module">
import { Vitrine } from '/lib/index.js';
window.V = Vitrine; window.ready = true;
</script>`;
fs.writeFileSync(path.join(dir, 'page.html'), page);
const rows = [];
try {
  const sets = [];
  for (const n of sizes) {
    const full = path.join(dir, `full-${n}.vtr`);
    fs.writeFileSync(full, await writeBundle(syntheticCatalog({ n, d: 64, seed }), { seed }));
    cli('compact', '--bundle', full, '--out', path.join(dir, `compact-${n}.vtr`));
    for (const form of ['int8', 'compact']) {
      const file = form === 'int8' ? `full-${n}.vtr` : `compact-${n}.vtr`;
      const t0 = performance.now();
      const m = cli('catalog', 'shard', '--bundle', path.join(dir, file), '--head', String(head), '--out-dir', path.join(dir, `set-${form}-${n}`));
      const cutS = (performance.now() - t0) / 1000;
      const shardBytes = m.shards.map((s) => s.bytes);
      // A category of the median-sized shard held by that shard only, for the later fetch.
      const once = (c) => m.shards.filter((t) => t.categories.includes(c)).length === 1;
      const single = m.shards.filter((s) => s.categories.some((c) => c && once(c)));
      const pick = [...single].sort((a, b) => a.bytes - b.bytes)[Math.floor(single.length / 2)];
      const category = pick.categories.find((c) => c && once(c));
      sets.push({ n, form, file, m, cutS, shardBytes, category, fullBytes: fs.statSync(path.join(dir, file)).size });
    }
  }
  const server = await startServer({ root: path.join(REPO, 'www'), port: 0, mounts: { '/shards-bench/': dir }, headers: { 'cache-control': 'no-store' } });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  try {
    const tab = await browser.newPage();
    await tab.goto(`${server.url}shards-bench/page.html`);
    await tab.waitForFunction(() => window.ready === true);
    for (const s of sets) {
      const r = await tab.evaluate(
        async ({ full, manifest, category, runs }) => {
          const opts = { storage: false, consent: 'denied' };
          const first = async (src) => {
            const t0 = performance.now();
            const v = await window.V.load(src, opts);
            const shelf = await v.recommend({ k: 8 });
            const t = performance.now() - t0;
            if (shelf.length !== 8) throw new Error('no shelf');
            return { t, v };
          };
          const out = { full: [], head: [], shard: [] };
          for (let i = 0; i < runs; i++) {
            const a = await first(full);
            out.full.push(a.t);
            a.v.destroy();
            const b = await first(manifest);
            out.head.push(b.t);
            const t0 = performance.now();
            await b.v.loadShards({ categories: [category] });
            await b.v.recommend({ k: 8, filters: { categories: [category] } });
            out.shard.push(performance.now() - t0);
            b.v.destroy();
          }
          return out;
        },
        { full: `/shards-bench/${s.file}`, manifest: `/shards-bench/set-${s.form}-${s.n}/shards.json`, category: s.category, runs },
      );
      const medShard = median(s.shardBytes);
      rows.push(
        `| ${s.n.toLocaleString('en')} | ${s.form} | ${mb(s.fullBytes)} | ${mb(s.m.head.bytes)} (${s.m.head.items.toLocaleString('en')} items) | ${s.m.shards.length} × median ${mb(medShard)} | ${s.cutS.toFixed(1)} s | ${median(r.full).toFixed(0)} ms | ${median(r.head).toFixed(0)} ms | ${(median(r.full) / median(r.head)).toFixed(1)}× | ${median(r.shard).toFixed(0)} ms |`,
      );
      console.error(rows.at(-1));
    }
  } finally {
    await browser.close();
    await server.close?.();
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`Measured ${new Date().toISOString().slice(0, 10)} with \`node scripts/bench-shards.mjs --sizes ${sizes.join(',')} --head ${head} --runs ${runs} --seed ${seed}\` (medians; loopback HTTP, cache off, main thread):

| catalog | form | full bundle | head | shards | cut (\`vitrine catalog shard\`) | first shelf, full | first shelf, head | ratio | one category's shard + its shelf |
| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}`);
process.exit(0);
