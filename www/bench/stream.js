// The streamed-load page (scripts/bench-stream.mjs --browser): bundles fetched from a loopback
// server that sends them at a set rate, loaded by the package's two paths in alternating order
// each round, with a plain download of the same URL beside them:
//   download  fetch + arrayBuffer() and nothing else: how long the bytes take to arrive;
//   whole     fetch + arrayBuffer(), then EngineCore.create (platform digest, fromBytes): timed from
//             the request and from the body's end;
//   streamed  fetch, then EngineCore.fromStream on the body (www/lib/stream-load.js): timed from the
//             request (the body's end is not observable here: after it ≈ total − download).
// Results: window.vitrineStream = {state, result, error}.
//
// Query parameters: bundles (URLs, comma-separated), sizes (their byte lengths), rates (MB/s,
// 0 = as fast as the server can), rounds, pkg (the engine's glue, default /pkg/vitrine.js), sri
// (their integrity hashes: both paths check them, and the engine skips its own digest).

import { EngineCore } from '../lib/core.js';
import { verifyIntegrity } from '../lib/fetch.js';

const status = (window.vitrineStream = { state: 'running', progress: [], result: null, error: null });
const params = new URLSearchParams(location.search);
const list = (k) => (params.get(k) ?? '').split(',').filter(Boolean);
const BUNDLES = list('bundles');
const SIZES = list('sizes').map(Number);
const RATES = list('rates').map(Number);
const ROUNDS = Number(params.get('rounds') ?? 5);
/** The bundles' integrity hashes (`sri`), when the loads check them. */
const SRI = list('sri');

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
let nonce = 0;
/** The bundle's URL at `rate` (a fresh query each time: nothing from the HTTP cache). */
const at = (url, rate) => `${url}?rate=${rate}&n=${nonce++}`;

async function timeDownload(url, rate) {
  const t0 = performance.now();
  await (await fetch(at(url, rate))).arrayBuffer();
  return { total: performance.now() - t0 };
}

async function timeWhole(glue, url, rate, integrity) {
  const t0 = performance.now();
  const bytes = new Uint8Array(await (await fetch(at(url, rate))).arrayBuffer());
  const arrived = performance.now();
  if (integrity) await verifyIntegrity(bytes, integrity);
  (await EngineCore.create(glue, bytes, { verifyDigest: !integrity })).free();
  const ready = performance.now();
  return { total: ready - t0, after: ready - arrived };
}

async function timeStreamed(glue, url, rate, size, integrity) {
  const t0 = performance.now();
  const res = await fetch(at(url, rate));
  (await EngineCore.fromStream(glue, res.body, { sizeHint: size, integrity: integrity ?? null })).free();
  return { total: performance.now() - t0 };
}

async function run() {
  const glue = await import(params.get('pkg') ?? '/pkg/vitrine.js');
  await glue.default();
  const rows = [];
  for (const [i, url] of BUNDLES.entries()) {
    // Untimed: the first loads pay for compiling the paths.
    await timeWhole(glue, url, 0, SRI[i]);
    await timeStreamed(glue, url, 0, SIZES[i], SRI[i]);
    for (const rate of RATES) {
      const t = { download: [], whole: [], wholeAfter: [], streamed: [] };
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 ? ['streamed', 'whole', 'download'] : ['download', 'whole', 'streamed'];
        for (const how of order) {
          if (how === 'download') t.download.push((await timeDownload(url, rate)).total);
          if (how === 'whole') {
            const w = await timeWhole(glue, url, rate, SRI[i]);
            t.whole.push(w.total);
            t.wholeAfter.push(w.after);
          }
          if (how === 'streamed') t.streamed.push((await timeStreamed(glue, url, rate, SIZES[i], SRI[i])).total);
        }
      }
      const row = {
        url,
        bytes: SIZES[i],
        rate,
        download: median(t.download),
        whole: median(t.whole),
        wholeAfter: median(t.wholeAfter),
        streamed: median(t.streamed),
      };
      row.streamedAfter = row.streamed - row.download;
      rows.push(row);
      status.progress.push(`${url} at ${rate || 'full speed'}: whole ${row.whole.toFixed(1)} ms, streamed ${row.streamed.toFixed(1)} ms`);
    }
  }
  return rows;
}

run().then(
  (rows) => {
    status.result = rows;
    status.state = 'done';
  },
  (err) => {
    status.error = String(err?.stack ?? err);
    status.state = 'error';
  },
);
