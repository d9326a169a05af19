#!/usr/bin/env node
// The single-file ESM build for a <script type="module"> from a CDN (esbuild, minified):
//
//   dist/vitrine.js   everything in 'vitrine' and 'vitrine/shelf' (not 'vitrine/react': React apps
//                     have a bundler) in one file
//   dist/worker.js    the engine's Web Worker, for {worker: true}
//
// Both keep the package's layout: they find the engine at ../pkg/vitrine_bg.wasm and the worker at
// ./worker.js next to themselves (new URL(…, import.meta.url)), so the published package works
// from any CDN that serves its files as they are. The experiments wasm package stays out of the
// bundle: vitrine.js imports ../pkg-exp/vitrine_exp.js dynamically (only when a page loads an
// experiments manifest), from the package as served. Used by scripts/pack-npm.
//
//   node scripts/build-cdn.mjs [--out DIR]     (default target/npm/stage/dist)

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LIB = path.join(REPO, 'www', 'lib');
const USAGE = `usage: node scripts/build-cdn.mjs [--out DIR]

Bundles www/lib into DIR/vitrine.js and DIR/worker.js (ESM, minified) for a CDN.
  --out DIR     output directory (default target/npm/stage/dist)
  -h, --help    this text`;

/** Builds both files into `out`; returns their sizes in bytes ({file: {raw, gzip}}). */
export async function buildCdn(out) {
  fs.mkdirSync(out, { recursive: true });
  // The experiments glue is fetched at run time, relative to the bundle (dist/ and lib/ are siblings).
  const experimentsOutside = {
    name: 'experiments-outside',
    setup(build) {
      build.onResolve({ filter: /\/pkg-exp\/vitrine_exp\.js$/ }, (args) => ({ path: args.path, external: true }));
    },
  };
  const common = { plugins: [experimentsOutside], bundle: true, format: 'esm', minify: true, target: 'es2022', legalComments: 'none', logLevel: 'warning', write: true };
  await esbuild.build({
    ...common,
    stdin: {
      contents: "export * from './index.js';\nexport * from './shelf.js';\n",
      resolveDir: LIB,
      sourcefile: 'vitrine-cdn.js',
      loader: 'js',
    },
    outfile: path.join(out, 'vitrine.js'),
  });
  await esbuild.build({ ...common, entryPoints: [path.join(LIB, 'worker.js')], outfile: path.join(out, 'worker.js') });
  const sizes = {};
  for (const f of ['vitrine.js', 'worker.js']) {
    const bytes = fs.readFileSync(path.join(out, f));
    // The bundles must still find the engine and the worker relative to themselves.
    const text = bytes.toString('utf8');
    if (!text.includes('../pkg/vitrine_bg.wasm')) throw new Error(`${f}: the engine's URL (../pkg/vitrine_bg.wasm) is missing from the bundle`);
    if (f === 'vitrine.js' && !text.includes('./worker.js')) throw new Error('vitrine.js: the worker URL (./worker.js) is missing from the bundle');
    if (f === 'vitrine.js' && !(text.includes('../pkg-exp/vitrine_exp.js') && text.includes('../pkg-exp/vitrine_exp_bg.wasm'))) {
      throw new Error('vitrine.js: the experiments package URLs (../pkg-exp/) are missing from the bundle');
    }
    if (text.includes('experiments_free')) throw new Error(`${f}: the experiments wasm glue was bundled (it must stay a dynamic import)`);
    sizes[f] = { raw: bytes.length, gzip: zlib.gzipSync(bytes, { level: 9 }).length };
  }
  return sizes;
}

async function main() {
  let values;
  try {
    ({ values } = parseArgs({ args: process.argv.slice(2), strict: true, allowPositionals: false, options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    console.error(`build-cdn: ${err.message}\n${USAGE.split('\n')[0]} (--help for more)`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const out = path.resolve(values.out ?? path.join(REPO, 'target', 'npm', 'stage', 'dist'));
  const sizes = await buildCdn(out);
  for (const [f, s] of Object.entries(sizes)) console.error(`build-cdn: ${path.relative(REPO, path.join(out, f))}: ${s.raw} bytes, ${s.gzip} gzip -9`);
}

const direct = process.argv[1] && fs.realpathSync(process.argv[1]) === fs.realpathSync(fileURLToPath(import.meta.url));
if (direct) {
  main().catch((err) => {
    console.error(`build-cdn: error: ${err.message}`);
    process.exit(1);
  });
}
