// A bundle loaded while it downloads (www/lib/stream-load.js), in headless Chromium, on the main
// thread and in the worker: no whole-file copy in JavaScript (the response is never read with
// arrayBuffer()), progress to the full size, the same engine as from the bytes, `integrity`
// checked (on the engine's SHA-256 when the bytes come slowly) before the engine loads; a slow server, a
// server that announces no length, and what goes wrong on the way: a tampered bundle (digest
// mismatch), a response cut short (truncated), a connection that breaks (fetch_failed), and a
// hostile header, refused from its first bytes with the download stopped.
//
//   node --test tests/stream-load.test.mjs     (needs the build: scripts/build)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { REPO, WWW, preflight, launch, serve, instrument, makeSite } from './_browser.mjs';

const SITE = path.join(REPO, 'target', 'test-site-stream');
const BUNDLE = fs.readFileSync(path.join(WWW, 'data', 'store.vtr'));
const FIRST_ID = JSON.parse(fs.readFileSync(path.join(WWW, 'data', 'catalog.json'), 'utf8')).products[0].id;
const SRI = `sha256-${crypto.createHash('sha256').update(BUNDLE).digest('base64')}`;
const SRI384 = `sha384-${crypto.createHash('sha384').update(BUNDLE).digest('base64')}`;
const WRONG = `sha256-${crypto.createHash('sha256').update('another file').digest('base64')}`;

/** The bundle with one byte of its last tensor changed: its recorded digest no longer matches. */
const TAMPERED = (() => {
  const b = Buffer.from(BUNDLE);
  b[b.length - 1] ^= 1;
  return b;
})();

/**
 * A loopback server of misbehaving downloads (another origin than the page: CORS allowed).
 * `hostile` records how many bytes it sent and whether the client closed the connection.
 */
async function downloads(t) {
  const hostile = { sent: 0, closed: false };
  const stalled = { closed: false };
  const server = http.createServer(async (req, res) => {
    const head = { 'Access-Control-Allow-Origin': '*', 'Content-Type': 'application/octet-stream' };
    const pause = (ms) => new Promise((r) => setTimeout(r, ms));
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/slow.vtr') {
      // 4 KB every 25 ms (about 0.16 MB/s), with its length announced. The engine finishes the
      // digest itself unless a third of the file arrives while the page is busy: here that is a
      // stall of ~175 ms. (8 KB every 5 ms, then every 20 ms, each failed once on a loaded CI
      // machine: the last chunks reached the page together and the platform's digest took over.)
      res.writeHead(200, { ...head, 'Content-Length': BUNDLE.length });
      for (let at = 0; at < BUNDLE.length; at += 4096) {
        res.write(BUNDLE.subarray(at, at + 4096));
        await pause(25);
      }
      res.end();
    } else if (url.pathname === '/nolength.vtr') {
      res.writeHead(200, head); // chunked: no Content-Length
      for (let at = 0; at < BUNDLE.length; at += 20_000) res.write(BUNDLE.subarray(at, at + 20_000));
      res.end();
    } else if (url.pathname === '/short.vtr') {
      res.writeHead(200, head);
      res.end(BUNDLE.subarray(0, BUNDLE.length - 100));
    } else if (url.pathname === '/broken.vtr') {
      res.writeHead(200, { ...head, 'Content-Length': BUNDLE.length });
      res.write(BUNDLE.subarray(0, BUNDLE.length >> 1));
      await pause(20);
      res.destroy();
    } else if (url.pathname === '/stall.vtr') {
      // The bundle's first 8 KB, then nothing until the client goes away.
      res.writeHead(200, { ...head, 'Content-Length': BUNDLE.length });
      res.on('close', () => (stalled.closed = true));
      res.write(BUNDLE.subarray(0, 8192));
    } else if (url.pathname === '/hostile.vtr') {
      // A header length of 2^40 bytes, then zeros for as long as the client reads.
      res.writeHead(200, head);
      res.on('close', () => (hostile.closed = true));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(1n << 40n);
      res.write(len);
      const zeros = Buffer.alloc(64 * 1024);
      while (!hostile.closed && hostile.sent < 200e6) {
        if (!res.write(zeros)) {
          await new Promise((r) => {
            const go = () => (res.off('drain', go), res.off('close', go), r());
            res.on('drain', go).on('close', go);
          });
        }
        hostile.sent += zeros.length;
      }
      res.end();
    } else {
      res.writeHead(404, head).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
  return { url: `http://127.0.0.1:${server.address().port}/`, hostile, stalled };
}

test('a bundle loaded while it downloads', { timeout: 120_000 }, async (t) => {
  preflight();
  makeSite(SITE, {
    'harness.html': fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'harness.html')),
    'harness.js': fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'harness.js')),
    'data/tampered.vtr': TAMPERED,
  });
  const server = await serve(t, { root: SITE });
  const other = await downloads(t);
  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const log = instrument(page);
  await page.goto(`${server.url}harness.html`);
  await page.waitForFunction(() => window.harnessReady === true, null, { timeout: 10_000 });
  // Counts whole-body reads of any response, and the platform's digests, in the page.
  await page.evaluate(() => {
    window.bodyReads = 0;
    window.subtleDigests = 0;
    const read = Response.prototype.arrayBuffer;
    Response.prototype.arrayBuffer = function (...a) {
      window.bodyReads += 1;
      return read.apply(this, a);
    };
    const digest = crypto.subtle.digest.bind(crypto.subtle);
    crypto.subtle.digest = (...a) => {
      window.subtleDigests += 1;
      return digest(...a);
    };
  });

  /**
   * Loads `src` in the page (`'bytes'`: the demo bundle fetched whole first, the old path);
   * `{ok, similar, itemCount, bodyReads, subtleDigests, phases}` or `{code, message}`.
   */
  const load = (src, opts) =>
    page.evaluate(
      async ([src, opts, id]) => {
        const bytes = src === 'bytes' ? new Uint8Array(await (await fetch('data/store.vtr')).arrayBuffer()) : null;
        window.bodyReads = 0;
        window.subtleDigests = 0;
        const phases = [];
        try {
          const v = await V.loadExact(bytes ?? src, { ...opts, onProgress: (p) => phases.push(p) });
          const similar = (await v.similar(id, { k: 8 })).map((r) => [r.id, r.score]);
          const out = { ok: true, similar, itemCount: v.itemCount, mode: v.mode, bodyReads: window.bodyReads, subtleDigests: window.subtleDigests, phases };
          v.destroy();
          return out;
        } catch (e) {
          return { code: e.code, message: e.message, bodyReads: window.bodyReads };
        }
      },
      [src, opts, FIRST_ID],
    );

  // The reference: the bytes, fetched whole first (the old path).
  const reference = await load('bytes', {});
  assert.ok(reference.ok, reference.message);
  assert.ok(reference.similar.length > 0);

  for (const worker of [false, true]) {
    const mode = worker ? 'worker' : 'main';
    await t.test(`${mode}: streamed, the same engine, progress to the full size, no whole-body read`, async () => {
      for (const src of ['data/store.vtr', `${other.url}slow.vtr`, `${other.url}nolength.vtr`]) {
        const r = await load(src, { worker });
        assert.ok(r.ok, `${src}: ${r.message}`);
        assert.equal(r.mode, mode);
        assert.equal(r.bodyReads, 0, `${src}: the body is read as a stream, not with arrayBuffer()`);
        assert.equal(r.itemCount, reference.itemCount);
        assert.deepEqual(r.similar, reference.similar, src);
        const bundle = r.phases.filter((p) => p.phase === 'bundle');
        assert.equal(bundle.at(-1).loaded, BUNDLE.length, `${src}: progress reaches the full size`);
        assert.equal(bundle.at(-1).total, src.endsWith('nolength.vtr') ? null : BUNDLE.length);
        for (let i = 1; i < bundle.length; i++) assert.ok(bundle[i].loaded >= bundle[i - 1].loaded, 'progress never goes back');
        assert.deepEqual(r.phases.map((p) => p.phase).filter((p, i, all) => p !== all[i - 1]), ['bundle', 'engine', 'ready']);
        // Slowly arriving bytes are hashed by the engine on the way (the worker's own
        // crypto.subtle is not counted here).
        if (src.endsWith('slow.vtr')) assert.equal(r.subtleDigests, 0, 'the engine computed the digest');
      }
    });

    await t.test(`${mode}: with integrity, streamed and checked before the engine loads it`, async () => {
      for (const [src, integrity] of [
        ['data/store.vtr', SRI],
        [`${other.url}slow.vtr`, SRI],
        ['data/store.vtr', `${WRONG} ${SRI384}`],
      ]) {
        const r = await load(src, { worker, integrity });
        assert.ok(r.ok, `${src}: ${r.message}`);
        assert.equal(r.bodyReads, 0, `${src}: streamed`);
        assert.deepEqual(r.similar, reference.similar, src);
        assert.deepEqual(r.phases.map((p) => p.phase).filter((p, i, all) => p !== all[i - 1]), ['bundle', 'verify', 'engine', 'ready']);
        const verify = r.phases.filter((p) => p.phase === 'verify');
        assert.deepEqual(verify.at(-1), { phase: 'verify', loaded: BUNDLE.length, total: BUNDLE.length });
        if (src.endsWith('slow.vtr')) assert.equal(r.subtleDigests, 0, 'the engine computed the SHA-256 on the way');
      }
      const wrong = await load('data/store.vtr', { worker, integrity: WRONG });
      assert.equal(wrong.code, 'integrity');
      assert.match(wrong.message, /does not match its integrity hash/);
      const bad = await load('data/store.vtr', { worker, integrity: 'md5-abc' });
      assert.equal(bad.code, 'invalid_argument');
    });

    await t.test(`${mode}: a tampered, short or broken download is refused with its reason`, async () => {
      const tampered = await load('data/tampered.vtr', { worker });
      assert.equal(tampered.code, 'bad_bundle');
      assert.match(tampered.message, /digest mismatch/);
      const short = await load(`${other.url}short.vtr`, { worker });
      assert.equal(short.code, 'bad_bundle');
      assert.match(short.message, /truncated/);
      const broken = await load(`${other.url}broken.vtr`, { worker });
      assert.equal(broken.code, 'fetch_failed', broken.message);
      assert.match(broken.message, /broke off/);
    });
  }

  await t.test('an engine that cannot start stops the download it was to read', async () => {
    // A fresh page: the engine's wasm is fetched on the first load, here from a wrong URL.
    const fresh = await browser.newPage();
    t.after(() => fresh.close());
    await fresh.goto(`${server.url}harness.html`);
    await fresh.waitForFunction(() => window.harnessReady === true, null, { timeout: 10_000 });
    const r = await fresh.evaluate(async (src) => {
      try {
        await V.Vitrine.load(src, { wasm: new URL('pkg/missing.wasm', location.href) });
        return { ok: true };
      } catch (e) {
        return { code: e.code, message: e.message };
      }
    }, `${other.url}stall.vtr`);
    assert.equal(r.code, 'engine_load_failed', r.message);
    for (let i = 0; i < 50 && !other.stalled.closed; i++) await new Promise((res) => setTimeout(res, 100));
    assert.ok(other.stalled.closed, 'the page closed the download');
  });

  await t.test('a hostile header is refused from its first bytes, and the download stops', async () => {
    const r = await load(`${other.url}hostile.vtr`, {});
    assert.equal(r.code, 'bad_bundle');
    assert.match(r.message, /header length/);
    for (let i = 0; i < 50 && !other.hostile.closed; i++) await new Promise((res) => setTimeout(res, 100));
    assert.ok(other.hostile.closed, 'the page closed the connection');
    assert.ok(other.hostile.sent < 50e6, `the page stopped reading early (${other.hostile.sent} bytes sent)`);
    t.diagnostic(`hostile download: ${other.hostile.sent} bytes sent before the page closed it`);
  });

  // The broken download's console message (once per mode) names no URL.
  const broken = 'console.error: Failed to load resource: net::ERR_CONTENT_LENGTH_MISMATCH';
  assert.equal(log.errors.filter((e) => e === broken).length, 2);
  assert.deepEqual(
    log.errors.filter((e) => e !== broken && !/broken\.vtr|short\.vtr|hostile\.vtr|stall\.vtr/.test(e)),
    [],
    'no other page or network error',
  );
});
