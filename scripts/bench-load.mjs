#!/usr/bin/env node
// Bundle loads, old build beside new in one Node process: each round loads every bundle with
// build A then build B (`Recommender.fromBytes`, the digest checked in wasm and not checked), and
// the script prints per bundle the median over rounds and the ratio B / A. The browser bench
// (scripts/bench-ab.mjs) does the same for its synthetic int8 catalogs in Chromium; this one takes
// any bundle file, compact ones included, on the same wasm the browser runs.
//
//   node scripts/bench-load.mjs --a DIR --b DIR [--rounds 7] [--json] BUNDLE…
import fs from 'node:fs';
import path from 'node:path';

import { benchMain, loadBuild, median, parseBenchArgs, positiveInteger } from './_bench-node.mjs';

const USAGE = `usage: node scripts/bench-load.mjs --a DIR --b DIR [--rounds N] [--json] BUNDLE…

  --a DIR, --b DIR   the two builds (wasm-pack output: vitrine.js, vitrine_bg.wasm)
  --rounds N         rounds, each loading every bundle with A then B (default 7)
  --json             print JSON instead of a markdown table
  -h, --help         this text`;

/** Reads the command line with util.parseArgs; throws a TypeError on bad usage. */
export function parseCli(argv) {
  const { values, positionals } = parseBenchArgs(argv, {
    a: { type: 'string' },
    b: { type: 'string' },
    rounds: { type: 'string', default: '7' },
  });
  if (values.help) return { help: true };
  if (!values.a || !values.b) throw new TypeError('--a and --b are required');
  if (positionals.length === 0) throw new TypeError('no bundle given');
  const rounds = positiveInteger(values.rounds, '--rounds');
  return { a: path.resolve(values.a), b: path.resolve(values.b), rounds, json: values.json, help: false, bundles: positionals };
}

/** Times one load (ms); throws what the engine throws. */
function load(Recommender, bytes, verifyDigest) {
  const t0 = performance.now();
  Recommender.fromBytes(bytes, { verifyDigest }).free();
  return performance.now() - t0;
}

/** `[{file, bytes, verified: {a, b, ratio}, unverified: {a, b, ratio}}]`, medians in ms. */
export async function measure({ a, b, rounds, bundles }) {
  const builds = { a: (await loadBuild(a, 'a')).glue.Recommender, b: (await loadBuild(b, 'b')).glue.Recommender };
  const files = bundles.map((f) => ({ file: f, bytes: new Uint8Array(fs.readFileSync(f)) }));
  const times = files.map(() => ({ verified: { a: [], b: [] }, unverified: { a: [], b: [] } }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, f] of files.entries()) {
      for (const side of ['a', 'b']) {
        times[i].verified[side].push(load(builds[side], f.bytes, true));
        times[i].unverified[side].push(load(builds[side], f.bytes, false));
      }
    }
  }
  return files.map((f, i) => {
    const row = { file: f.file, bytes: f.bytes.length };
    for (const mode of ['verified', 'unverified']) {
      const [ma, mb] = [median(times[i][mode].a), median(times[i][mode].b)];
      row[mode] = { a: ma, b: mb, ratio: mb / ma };
    }
    return row;
  });
}

export function markdown(rows) {
  const lines = [
    '| bundle | file | load (verified) a | b | b / a | load (digest not checked) a | b | b / a |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const ms = (x) => `${x.toFixed(1)} ms`;
  for (const r of rows) {
    const [v, u] = [r.verified, r.unverified];
    lines.push(`| ${path.basename(r.file)} | ${(r.bytes / 1e6).toFixed(1)} MB | ${ms(v.a)} | ${ms(v.b)} | ${v.ratio.toFixed(2)} | ${ms(u.a)} | ${ms(u.b)} | ${u.ratio.toFixed(2)} |`);
  }
  return lines.join('\n');
}

benchMain(import.meta.url, { name: 'bench-load', usage: USAGE, parseCli, run: measure, markdown });
