#!/usr/bin/env node
// A bundle's load while it downloads, against reading it whole first, in one Node process on the
// wasm the browser runs (issue 18, "loading at the speed of the bytes"). Each bundle arrives as a
// stream of chunks at a set rate (a socket buffer of 1 MB: chunks wait while the reader is busy),
// and is loaded by the package's two paths, in alternating order each round:
//   whole     the body read to its end into one buffer (what `arrayBuffer()` gives), then
//             `EngineCore.create` (the digest with the platform's SHA-256, then `fromBytes`);
//   streamed  `EngineCore.fromStream`: chunks into the engine's memory as they come, hashed while
//             the next one is awaited (www/lib/stream-load.js).
// Printed per bundle and rate: the median time from the download's end (the last byte's due time;
// at rate 0, as fast as the reader takes them, the start) to the engine being ready, and the ratio.
// With --browser the same comparison runs in headless Chromium (www/bench/stream.html), on real
// fetches from a loopback server that sends each bundle at the rate; there the body's end is not
// observable for the streamed path, so the page also times a plain download of the same URL and
// the streamed load's time after the download is its total minus that.
//
//   node scripts/bench-stream.mjs [--pkg www/pkg] [--rates 12.5,50,0] [--rounds 5] [--browser] [--json] BUNDLE…
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { benchMain, loadBuild, median, parseBenchArgs, positiveInteger } from './_bench-node.mjs';
import { startServer } from './serve.mjs';
import { verifyIntegrity } from '../www/lib/fetch.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `usage: node scripts/bench-stream.mjs [--pkg DIR] [--rates LIST] [--rounds N] [--json] BUNDLE…

  --pkg DIR      the engine build (wasm-pack output: vitrine.js, vitrine_bg.wasm; default www/pkg)
  --rates LIST   download rates in MB/s, comma-separated; 0 = as fast as the reader takes the
                 chunks (a cached response) (default 12.5,50,0)
  --rounds N     rounds per bundle and rate, each timing both paths (default 5)
  --browser      in headless Chromium (CHROMIUM_PATH, default /usr/bin/chromium) on real fetches
  --integrity    load with the file's sha256 integrity hash (whole: the page checks the bytes
                 with crypto.subtle, the engine skips its digest; streamed: the engine hashes
                 the file as it comes, the page checks once the body ends)
  --json         print JSON instead of a markdown table
  -h, --help     this text`;

/** Chunk size of the simulated download (what Chromium hands a reader is of this order). */
const CHUNK = 64 * 1024;
/** Chunks the simulated socket holds while the reader is busy (1 MB). */
const BUFFERED = 16;

/** Reads the command line with util.parseArgs; throws a TypeError on bad usage. */
export function parseCli(argv) {
  const { values, positionals } = parseBenchArgs(argv, {
    pkg: { type: 'string', default: path.join(REPO, 'www', 'pkg') },
    rates: { type: 'string', default: '12.5,50,0' },
    rounds: { type: 'string', default: '5' },
    browser: { type: 'boolean', default: false },
    integrity: { type: 'boolean', default: false },
  });
  if (values.help) return { help: true };
  if (positionals.length === 0) throw new TypeError('no bundle given');
  const rates = values.rates.split(',').map((r) => {
    const x = Number(r);
    if (r.trim() === '' || !Number.isFinite(x) || x < 0) throw new TypeError(`--rates must list numbers ≥ 0 (MB/s), not ${values.rates}`);
    return x;
  });
  const rounds = positiveInteger(values.rounds, '--rounds');
  return { pkg: path.resolve(values.pkg), rates, rounds, browser: values.browser, integrity: values.integrity, json: values.json, help: false, bundles: positionals };
}

/**
 * `bytes` as a ReadableStream delivering CHUNK-sized chunks at `rate` MB/s from `start` (ms,
 * performance.now()); 0: at once. `end` is the time the last byte is due.
 */
function download(bytes, rate, start) {
  const end = rate > 0 ? start + bytes.length / (rate * 1e3) : start;
  let at = 0;
  const body = new ReadableStream(
    {
      async pull(c) {
        if (at >= bytes.length) return c.close();
        const next = Math.min(at + CHUNK, bytes.length);
        const due = rate > 0 ? start + next / (rate * 1e3) : 0;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        c.enqueue(bytes.slice(at, next));
        at = next;
      },
    },
    { highWaterMark: BUFFERED },
  );
  return { body, end };
}

/** The body read to its end into one buffer, as `Response.arrayBuffer()` gives it. */
async function readWhole(body) {
  const parts = [];
  let n = 0;
  for (const reader = body.getReader(); ; ) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The file's `sha256-<base64>` integrity hash. */
const sriOf = (bytes) => `sha256-${crypto.createHash('sha256').update(bytes).digest('base64')}`;

/**
 * One load by `how` ('whole' | 'streamed'), checked against `integrity` when given: ms from the
 * download's end to the engine ready.
 */
async function once(EngineCore, glue, bytes, rate, how, integrity = null) {
  const start = performance.now();
  const { body, end } = download(bytes, rate, start);
  let core;
  if (how === 'streamed') core = await EngineCore.fromStream(glue, body, { sizeHint: bytes.length, integrity });
  else if (integrity == null) core = await EngineCore.create(glue, await readWhole(body));
  else {
    const whole = await readWhole(body);
    await verifyIntegrity(whole, integrity);
    core = await EngineCore.create(glue, whole, { verifyDigest: false });
  }
  const ready = performance.now();
  core.free();
  return ready - end;
}

/** `[{file, bytes, rate, whole, streamed, ratio}]`: medians in ms after the download's end. */
export async function measure({ pkg, rates, rounds, integrity, bundles }) {
  const { glue } = await loadBuild(pkg);
  const { EngineCore } = await import('../www/lib/core.js');
  const rows = [];
  for (const file of bundles) {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const sri = integrity ? sriOf(bytes) : null;
    // Untimed: the first loads pay for compiling the paths and the platform's first digest.
    for (const how of ['whole', 'streamed']) await once(EngineCore, glue, bytes, 0, how, sri);
    for (const rate of rates) {
      const times = { whole: [], streamed: [] };
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 ? ['streamed', 'whole'] : ['whole', 'streamed'];
        for (const how of order) times[how].push(await once(EngineCore, glue, bytes, rate, how, sri));
      }
      const [whole, streamed] = [median(times.whole), median(times.streamed)];
      rows.push({ file, bytes: bytes.length, rate, integrity, whole, streamed, ratio: streamed / whole });
    }
  }
  return rows;
}

/**
 * A loopback server sending each of `files` at `/<index>?rate=R` (MB/s; 0: as fast as the socket
 * takes it) in CHUNK-sized writes on the rate's schedule, to any origin (CORS).
 */
async function throttledServer(files) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const bytes = files[Number(url.pathname.slice(1))];
    const head = { 'Access-Control-Allow-Origin': '*', 'Content-Type': 'application/octet-stream', 'Cache-Control': 'no-store' };
    if (!bytes) return res.writeHead(404, head).end();
    const rate = Number(url.searchParams.get('rate') ?? 0);
    res.writeHead(200, { ...head, 'Content-Length': bytes.length });
    const start = performance.now();
    for (let at = 0; at < bytes.length && !res.destroyed; at += CHUNK) {
      const end = Math.min(at + CHUNK, bytes.length);
      const wait = rate > 0 ? start + end / (rate * 1e3) - performance.now() : 0;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (!res.write(bytes.subarray(at, end))) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))) };
}

/** The comparison in headless Chromium (www/bench/stream.html): rows as `measure`'s, plus totals. */
export async function measureInBrowser({ pkg, rates, rounds, integrity, bundles }) {
  const files = bundles.map((f) => fs.readFileSync(f));
  const site = await startServer({ root: path.join(REPO, 'www'), port: 0, mounts: { '/pkg-stream/': pkg } });
  const source = await throttledServer(files);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const q = new URLSearchParams({
      bundles: files.map((_, i) => `${source.url}${i}`).join(','),
      sizes: files.map((b) => b.length).join(','),
      rates: rates.join(','),
      rounds: String(rounds),
      pkg: '/pkg-stream/vitrine.js',
    });
    if (integrity) q.set('sri', files.map(sriOf).join(','));
    await page.goto(`${site.url}bench/stream.html?${q}`);
    for (;;) {
      const s = await page.evaluate(() => window.vitrineStream && { state: window.vitrineStream.state, error: window.vitrineStream.error });
      if (s?.state === 'error' || errors.length) throw new Error(s?.error ?? errors.join('; '));
      if (s?.state === 'done') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const rows = await page.evaluate(() => window.vitrineStream.result);
    return rows.map((r, i) => ({
      file: bundles[Math.floor(i / rates.length)],
      bytes: r.bytes,
      rate: r.rate,
      integrity,
      whole: r.wholeAfter,
      streamed: r.streamedAfter,
      ratio: r.streamedAfter / r.wholeAfter,
      totals: { download: r.download, whole: r.whole, streamed: r.streamed },
      browser: `Chromium ${browser.version()}`,
    }));
  } finally {
    await browser.close();
    await source.close();
    await site.close();
  }
}

/** The browser's rows: every time from the request, as measured; the whole path's time after the body's end. */
function markdownBrowser(rows) {
  const lines = [
    `${rows[0].browser}; times from the request to the engine ready (download: to the body's end, nothing else)`,
    '',
    '| bundle | file | rate | download | whole | of which after the body | streamed | streamed − whole |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const ms = (x) => `${x.toFixed(1)} ms`;
  for (const r of rows) {
    const rate = r.rate > 0 ? `${r.rate} MB/s` : 'full speed';
    const t = r.totals;
    lines.push(`| ${path.basename(r.file)} | ${(r.bytes / 1e6).toFixed(1)} MB | ${rate} | ${ms(t.download)} | ${ms(t.whole)} | ${ms(r.whole)} | ${ms(t.streamed)} | ${ms(t.streamed - t.whole)} |`);
  }
  return lines.join('\n');
}

export function markdown(rows) {
  if (rows[0]?.totals) return markdownBrowser(rows);
  const lines = [
    '| bundle | file | rate | download | ready after the download: whole | streamed | streamed / whole |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const ms = (x) => `${x.toFixed(1)} ms`;
  for (const r of rows) {
    const rate = r.rate > 0 ? `${r.rate} MB/s` : 'at once';
    const dl = r.totals ? ms(r.totals.download) : r.rate > 0 ? ms(r.bytes / (r.rate * 1e3)) : '0';
    lines.push(`| ${path.basename(r.file)} | ${(r.bytes / 1e6).toFixed(1)} MB | ${rate} | ${dl} | ${ms(r.whole)} | ${ms(r.streamed)} | ${r.ratio.toFixed(2)} |`);
  }
  return lines.join('\n');
}

const run = (args) => (args.browser ? measureInBrowser(args) : measure(args));

benchMain(import.meta.url, { name: 'bench-stream', usage: USAGE, parseCli, run, markdown });
