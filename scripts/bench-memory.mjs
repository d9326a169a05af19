#!/usr/bin/env node
// Wasm memory after loading bundles: for each bundle file, a fresh instance of the engine's wasm
// (Node, the same module the browser runs) loads it with the digest checked, and the script prints
// the instance's memory before and after, and the ratio to the file's size (issue 18's "memory
// after load ≤ 1.5× the bundle"). The browser bench (scripts/bench.mjs) reports the same figure for
// its synthetic int8 catalogs; this one takes any bundle, compact ones included.
//
//   node scripts/bench-memory.mjs [--pkg www/pkg] [--json] BUNDLE…
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { benchMain, loadBuild, parseBenchArgs } from './_bench-node.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `usage: node scripts/bench-memory.mjs [--pkg DIR] [--json] BUNDLE…

  --pkg DIR   the engine build (wasm-pack output: vitrine.js, vitrine_bg.wasm; default www/pkg)
  --json      print JSON instead of a markdown table
  -h, --help  this text`;

/** Reads the command line with util.parseArgs; throws a TypeError on bad usage. */
export function parseCli(argv) {
  const { values, positionals } = parseBenchArgs(argv, {
    pkg: { type: 'string', default: path.join(REPO, 'www', 'pkg') },
  });
  if (!values.help && positionals.length === 0) throw new TypeError('no bundle given');
  return { pkg: path.resolve(values.pkg), json: values.json, help: values.help, bundles: positionals };
}

/**
 * Loads `file` in a fresh instance of the build in `pkg` and returns `{file, bytes, before,
 * after, ratio}` (bytes of the file; wasm memory in bytes before and after the load; after / bytes).
 * Each call gets its own instance (`loadBuild`).
 */
export async function measureLoad(pkg, file, nth = 0) {
  const { glue, wasm } = await loadBuild(pkg, nth);
  const bytes = fs.readFileSync(file);
  const before = wasm.memory.buffer.byteLength;
  const rec = glue.Recommender.fromBytes(bytes, { verifyDigest: true });
  const after = wasm.memory.buffer.byteLength;
  rec.free();
  return { file, bytes: bytes.length, before, after, ratio: after / bytes.length };
}

const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;

export function markdown(rows) {
  const lines = ['| bundle | file | wasm memory before | after load | after ÷ file |', '| --- | ---: | ---: | ---: | ---: |'];
  for (const r of rows) lines.push(`| ${path.basename(r.file)} | ${mb(r.bytes)} | ${mb(r.before)} | ${mb(r.after)} | ${r.ratio.toFixed(2)}× |`);
  return lines.join('\n');
}

/** Every bundle in its own fresh instance, in order. */
async function measureAll(args) {
  const rows = [];
  for (const [i, file] of args.bundles.entries()) rows.push(await measureLoad(args.pkg, file, i));
  return rows;
}

benchMain(import.meta.url, { name: 'bench-memory', usage: USAGE, parseCli, run: measureAll, markdown });
