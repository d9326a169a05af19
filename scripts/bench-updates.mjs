#!/usr/bin/env node
// Joining every shard of a shard set (`vitrine catalog shard --out-dir DIR`): a fresh engine loads
// the head, then applies each shard in the manifest's order through the package's engine core
// (`EngineCore.prepare` + `call('applyUpdate')`, as the page does), with the shard's digest either
// computed by the engine in wasm (`wasm`) or by the platform's SHA-256 (`platform`). Prints, per
// mode, the median over rounds of the per-shard p50 and of the time for all shards. In Node, on
// the wasm the browser runs; what it times is the engine's own work (no fetch).
//
//   node scripts/bench-updates.mjs [--pkg www/pkg] [--rounds 5] [--json] SET_DIR
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { benchMain, loadBuild, median, parseBenchArgs, positiveInteger } from './_bench-node.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `usage: node scripts/bench-updates.mjs [--pkg DIR] [--rounds N] [--json] SET_DIR

  SET_DIR      a shard set: shards.json, its head and shards (vitrine catalog shard --out-dir)
  --pkg DIR    the engine build (wasm-pack output: vitrine.js, vitrine_bg.wasm; default www/pkg)
  --rounds N   rounds per mode, alternating (default 5)
  --json       print JSON instead of a markdown table
  -h, --help   this text`;

/** Reads the command line with util.parseArgs; throws a TypeError on bad usage. */
export function parseCli(argv) {
  const { values, positionals } = parseBenchArgs(argv, {
    pkg: { type: 'string', default: path.join(REPO, 'www', 'pkg') },
    rounds: { type: 'string', default: '5' },
  });
  if (values.help) return { help: true };
  if (positionals.length !== 1) throw new TypeError('expected one shard set directory');
  const rounds = positiveInteger(values.rounds, '--rounds');
  return { pkg: path.resolve(values.pkg), rounds, json: values.json, help: false, set: path.resolve(positionals[0]) };
}

/** The head's and the shards' bytes, in the manifest's order. */
export function readSet(dir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'shards.json'), 'utf8'));
  if (manifest.format !== 'vitrine-shards') throw new Error(`${dir}/shards.json is not a shard manifest`);
  const read = (url) => new Uint8Array(fs.readFileSync(path.join(dir, url)));
  return { head: read(manifest.head.url), shards: manifest.shards.map((s) => read(s.url)) };
}

/**
 * One round: the head loaded, then every shard applied; `{perShardP50, allMs, items}` (ms; the
 * engine's item count at the end).
 */
async function round(glue, EngineCore, set, platform) {
  const core = await EngineCore.create({ Recommender: glue.Recommender }, set.head);
  const times = [];
  try {
    for (const shard of set.shards) {
      const t0 = performance.now();
      const args = platform ? await core.prepare('applyUpdate', [shard]) : [shard];
      core.call('applyUpdate', args);
      times.push(performance.now() - t0);
    }
    return { perShardP50: median(times), allMs: times.reduce((a, b) => a + b, 0), items: core.info().itemCount };
  } finally {
    core.free();
  }
}

/** Both modes, alternating rounds: `{shards, bytes, items, modes: {wasm, platform}}`. */
export async function measure({ pkg, rounds, set: dir }) {
  const { glue } = await loadBuild(pkg);
  const { EngineCore } = await import(pathToFileURL(path.join(REPO, 'www', 'lib', 'core.js')).href);
  const set = readSet(dir);
  const runs = { wasm: [], platform: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of ['wasm', 'platform']) runs[mode].push(await round(glue, EngineCore, set, mode === 'platform'));
  }
  const modes = Object.fromEntries(
    Object.entries(runs).map(([m, rs]) => [m, { perShardP50: median(rs.map((x) => x.perShardP50)), allMs: median(rs.map((x) => x.allMs)) }]),
  );
  return {
    shards: set.shards.length,
    bytes: set.shards.reduce((n, s) => n + s.length, 0),
    items: runs.wasm[0].items,
    modes,
  };
}

export function markdown(r) {
  const lines = [
    `${r.shards} shards, ${(r.bytes / 1e6).toFixed(1)} MB, ${r.items} items once joined`,
    '',
    '| digest | per shard p50 | all shards |',
    '| --- | ---: | ---: |',
  ];
  for (const [m, v] of Object.entries(r.modes)) lines.push(`| ${m} | ${v.perShardP50.toFixed(1)} ms | ${v.allMs.toFixed(0)} ms |`);
  return lines.join('\n');
}

benchMain(import.meta.url, { name: 'bench-updates', usage: USAGE, parseCli, run: measure, markdown });
