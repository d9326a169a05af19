// Unit tests for scripts/serve.mjs: MIME types, 404s, path traversal, loopback-only binding.
//   node --test tests/serve.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startServer, mimeType, resolveInsideRoot, parseCli } from '../scripts/serve.mjs';

let tmp; // temp dir: <tmp>/secret.txt (outside the root) and <tmp>/root/... (served)
let root;
let server;

/** Raw GET that sends the path exactly as given (no client-side normalization of ../). */
function get(urlPath, { method = 'GET', base = server.url } = {}) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: urlPath, method }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-serve-'));
  root = path.join(tmp, 'root');
  fs.mkdirSync(path.join(root, 'pkg'), { recursive: true });
  fs.mkdirSync(path.join(root, 'data'));
  fs.writeFileSync(path.join(tmp, 'secret.txt'), 'TOP SECRET');
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>hi</title>');
  fs.writeFileSync(path.join(root, 'app.js'), 'export {};');
  fs.writeFileSync(path.join(root, 'style.css'), 'body{}');
  fs.writeFileSync(path.join(root, 'pkg', 'vitrine_bg.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  fs.writeFileSync(path.join(root, 'pkg', 'vitrine.js'), 'export default 1;');
  fs.writeFileSync(path.join(root, 'data', 'catalog.json'), '{"products":[]}');
  fs.writeFileSync(path.join(root, 'data', 'store.vtr'), Buffer.from([1, 2, 3]));
  fs.writeFileSync(path.join(root, 'data', 'p1.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  fs.symlinkSync(path.join(tmp, 'secret.txt'), path.join(root, 'link-out.txt'));
  server = await startServer({ root, port: 0 });
});

after(async () => {
  await server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('binds to 127.0.0.1 on a random port when port is 0', () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.equal(server.server.address().address, '127.0.0.1');
  assert.ok(server.port > 0);
});

test('refuses to bind to a non-loopback address', async () => {
  await assert.rejects(startServer({ root, port: 0, host: '0.0.0.0' }), /loopback/);
});

test('serves index.html for /', async () => {
  const res = await get('/');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(res.body.toString(), /<title>hi<\/title>/);
});

test('serves .wasm as application/wasm with the exact bytes', async () => {
  const res = await get('/pkg/vitrine_bg.wasm');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'application/wasm');
  assert.deepEqual([...res.body], [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  assert.equal(res.headers['content-length'], '8');
});

test('MIME types of the other static assets', async () => {
  const cases = {
    '/app.js': 'text/javascript; charset=utf-8',
    '/pkg/vitrine.js': 'text/javascript; charset=utf-8',
    '/style.css': 'text/css; charset=utf-8',
    '/data/catalog.json': 'application/json; charset=utf-8',
    '/data/p1.svg': 'image/svg+xml',
    '/data/store.vtr': 'application/octet-stream',
  };
  for (const [url, type] of Object.entries(cases)) {
    const res = await get(url);
    assert.equal(res.status, 200, url);
    assert.equal(res.headers['content-type'], type, url);
  }
  assert.equal(mimeType('x.mjs'), 'text/javascript; charset=utf-8');
  assert.equal(mimeType('X.WASM'), 'application/wasm');
  assert.equal(mimeType('unknown.bin'), 'application/octet-stream');
});

test('query strings are ignored', async () => {
  const res = await get('/app.js?v=123');
  assert.equal(res.status, 200);
});

test('HEAD returns headers without a body', async () => {
  const res = await get('/pkg/vitrine_bg.wasm', { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-length'], '8');
  assert.equal(res.body.length, 0);
});

test('missing files are 404', async () => {
  assert.equal((await get('/nope.js')).status, 404);
  assert.equal((await get('/data/missing/deeper.json')).status, 404);
});

test('other methods are 405', async () => {
  assert.equal((await get('/index.html', { method: 'POST' })).status, 405);
});

test('path traversal is blocked', async () => {
  const attempts = [
    '/../secret.txt',
    '/data/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E%2Fsecret.txt',
    '/data/..%2f..%2fsecret.txt',
    '/..%5csecret.txt',
    '/%00/secret.txt',
    '/%zz',
    '/link-out.txt', // symlink pointing outside the root
  ];
  for (const url of attempts) {
    const res = await get(url);
    assert.ok([400, 403, 404].includes(res.status), `${url} -> ${res.status}`);
    assert.doesNotMatch(res.body.toString(), /TOP SECRET/, url);
  }
});

test('resolveInsideRoot keeps paths inside the root', () => {
  assert.equal(resolveInsideRoot(root, '/a/b.js'), path.join(root, 'a', 'b.js'));
  assert.equal(resolveInsideRoot(root, '/a/../../../etc/passwd'), path.join(root, 'etc', 'passwd'));
  assert.equal(resolveInsideRoot(root, '/%zz'), null);
  assert.equal(resolveInsideRoot(root, '/a%00b'), null);
});

test('mounts serve another directory under a URL prefix, with the same checks', async (t) => {
  const vendor = path.join(tmp, 'vendor');
  fs.mkdirSync(path.join(vendor, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(vendor, 'lib.mjs'), 'export const x = 1;');
  fs.writeFileSync(path.join(vendor, 'sub', 'core.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  fs.symlinkSync(path.join(tmp, 'secret.txt'), path.join(vendor, 'link-out.txt'));
  const m = await startServer({ root, port: 0, mounts: { '/vendor/lib/': vendor } });
  t.after(() => m.close());
  const at = (p) => fetch(new URL(p, m.url), { redirect: 'manual' });

  const js = await at('/vendor/lib/lib.mjs');
  assert.equal(js.status, 200);
  assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(await js.text(), 'export const x = 1;');
  const wasm = await at('/vendor/lib/sub/core.wasm');
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.equal(Buffer.from(await wasm.arrayBuffer()).length, 8);
  const dir = await at('/vendor/lib/sub');
  assert.equal(dir.status, 301);
  assert.equal(dir.headers.get('location'), '/vendor/lib/sub/');
  assert.equal((await at('/index.html')).status, 200, 'the root is still served');
  assert.equal((await at('/vendor/lib/index.html')).status, 404, 'a mounted path is not looked up in the root');
  const escapes = ['/link-out.txt', '/../../secret.txt', '/%2e%2e/secret.txt', '/sub/..%2f..%2fsecret.txt'];
  for (const p of escapes.map((e) => `/vendor/lib${e}`)) {
    const res = await get(p, { base: m.url }); // sent as written (fetch would normalize the dots)
    assert.ok([400, 403, 404].includes(res.status), `${p} -> ${res.status}`);
    assert.doesNotMatch(res.body.toString(), /TOP SECRET/, p);
  }
});

test('bad mounts are refused', async () => {
  await assert.rejects(startServer({ root, port: 0, mounts: { vendor: root } }), /mount prefix/);
  await assert.rejects(startServer({ root, port: 0, mounts: { '/../': root } }), /mount prefix/);
  await assert.rejects(startServer({ root, port: 0, mounts: { '/a/': root, '/a/b/': root } }), /overlap/);
  await assert.rejects(startServer({ root, port: 0, mounts: { '/a/': path.join(tmp, 'nope') } }), /not found/);
});

test('--header adds headers to every file response (the demo serves the isolated frame with its CSP)', async (t) => {
  const opts = parseCli(['--root', root, '--port', '0', '--header', "Content-Security-Policy: frame-ancestors http://127.0.0.1:8080", '--header', 'X-Test: a: b']);
  assert.deepEqual(opts.headers, { 'Content-Security-Policy': 'frame-ancestors http://127.0.0.1:8080', 'X-Test': 'a: b' });
  assert.deepEqual(parseCli([]).headers, {});
  assert.throws(() => parseCli(['--header', 'no colon']), (err) => err.code === 'ERR_INVALID_ARG_VALUE' && /Name: value/.test(err.message));
  const s = await startServer(opts);
  t.after(() => s.close());
  const res = await fetch(new URL('/index.html', s.url));
  assert.equal(res.headers.get('content-security-policy'), 'frame-ancestors http://127.0.0.1:8080');
  assert.equal(res.headers.get('x-test'), 'a: b');
});
