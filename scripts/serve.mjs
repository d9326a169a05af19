#!/usr/bin/env node
// A tiny, dependency-free static file server for the demo store and the browser tests.
//
//   node scripts/serve.mjs --root www --port 8080 [--host 127.0.0.1]
//
// Binds to loopback only, serves GET/HEAD for files under --root with the right MIME types
// (notably application/wasm, which WebAssembly.instantiateStreaming requires), and refuses any
// path that would leave the root (../, encoded variants, symlinks pointing outside).
//
// Tests import it:  const { url, close } = await startServer({ root: 'www', port: 0 });
// `mounts` serve other directories under a URL prefix, with the same checks (the bench serves ONNX
// Runtime Web's files from node_modules this way: { '/vendor/onnxruntime-web/': 'node_modules/…' }).

import http from 'node:http';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.vtr': 'application/octet-stream',
};

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

/** MIME type for a file name; unknown extensions are served as opaque bytes. */
export function mimeType(file) {
  return MIME_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Maps a request URL path to a file inside `root`, or returns null if it would escape the root.
 * `root` must be an absolute, real (symlink-free) path.
 */
export function resolveInsideRoot(root, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null; // malformed percent-encoding
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const file = path.resolve(root, '.' + path.posix.normalize('/' + decoded));
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  return file;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** The directory and path inside it that serve `urlPath`: the first mount whose prefix it starts with, else the root. */
function pick(root, mounts, urlPath) {
  for (const m of mounts) if (urlPath.startsWith(m.prefix)) return [m.root, '/' + urlPath.slice(m.prefix.length)];
  return [root, urlPath];
}

async function handle(baseRoot, req, res, extraHeaders = {}, mounts = []) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
  }
  const requested = (req.url ?? '/').split(/[?#]/, 1)[0];
  const [root, urlPath] = pick(baseRoot, mounts, requested);
  // Reject traversal attempts outright, even when they would normalize back inside the root.
  const rawSegments = urlPath.split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return '\0';
    }
  });
  if (rawSegments.some((s) => s === '..' || s.includes('/') || s.includes('\\') || s.includes('\0'))) {
    return send(res, 403, 'Forbidden\n');
  }
  let file = resolveInsideRoot(root, urlPath);
  if (!file) return send(res, 403, 'Forbidden\n');

  let stat;
  try {
    // Follow symlinks, then re-check that the real target is still inside the root.
    file = await fsp.realpath(file);
    if (file !== root && !file.startsWith(root + path.sep)) return send(res, 403, 'Forbidden\n');
    stat = await fsp.stat(file);
    if (stat.isDirectory()) {
      if (!urlPath.endsWith('/')) {
        return send(res, 301, 'Moved\n', { Location: requested + '/' });
      }
      file = path.join(file, 'index.html');
      stat = await fsp.stat(file);
    }
  } catch {
    return send(res, 404, 'Not Found\n');
  }
  if (!stat.isFile()) return send(res, 404, 'Not Found\n');

  res.writeHead(200, {
    'Content-Type': mimeType(file),
    'Content-Length': stat.size,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...extraHeaders,
  });
  if (req.method === 'HEAD') return res.end();
  fs.createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

/** A directory's real path, or a clear error naming `what`. */
async function realDir(dir, what) {
  const real = await fsp.realpath(path.resolve(dir)).catch(() => {
    throw new Error(`${what} directory not found: ${dir}`);
  });
  if (!(await fsp.stat(real)).isDirectory()) throw new Error(`${what} is not a directory: ${dir}`);
  return real;
}

/**
 * Starts the server. `port: 0` picks a free port. `headers` are added to every file response
 * (tests use it to serve a Content-Security-Policy). `mounts` maps URL prefixes ('/x/', starting
 * and ending with '/', not overlapping) to directories served under them instead of the root.
 * @returns {Promise<{url: string, port: number, host: string, server: http.Server, close: () => Promise<void>}>}
 */
export async function startServer({ root = 'www', port = 8080, host = '127.0.0.1', headers = {}, mounts = {} } = {}) {
  if (!LOOPBACK_HOSTS.has(host)) {
    throw new Error(`refusing to bind to ${host}: this server only listens on loopback (127.0.0.1)`);
  }
  const realRoot = await realDir(root, 'root');
  const mounted = [];
  for (const [prefix, dir] of Object.entries(mounts)) {
    if (!/^\/([^/]+\/)+$/.test(prefix) || prefix.split('/').some((s) => s === '.' || s === '..')) {
      throw new Error(`mount prefix must look like '/name/' (got '${prefix}')`);
    }
    if (mounted.some((m) => m.prefix.startsWith(prefix) || prefix.startsWith(m.prefix))) {
      throw new Error(`mount prefixes overlap: '${prefix}'`);
    }
    mounted.push({ prefix, root: await realDir(dir, `mount ${prefix}`) });
  }

  const server = http.createServer((req, res) => {
    handle(realRoot, req, res, headers, mounted).catch((err) => {
      if (!res.headersSent) send(res, 500, 'Internal Server Error\n');
      else res.destroy(err);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host === 'localhost' ? '127.0.0.1' : host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const hostForUrl = addr.family === 'IPv6' || addr.family === 6 ? `[${addr.address}]` : addr.address;
  const url = `http://${hostForUrl}:${addr.port}/`;
  const close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections?.();
    });
  return { url, port: addr.port, host: addr.address, server, close };
}

const USAGE = `usage: node scripts/serve.mjs [--root DIR] [--port N] [--host 127.0.0.1] [--header 'Name: value']…

Serves DIR (default www) on a loopback address only.
  --root DIR       directory to serve (default www)
  --port N         port, 0 for a free one (default 8080)
  --host ADDR      loopback address to bind (default 127.0.0.1; others are refused)
  --header 'N: V'  a header added to every file response (repeatable; e.g. a Content-Security-Policy)
  -h, --help       this text`;

/** Reads the command line with util.parseArgs; throws a TypeError with `code` on bad usage. */
export function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      root: { type: 'string', default: 'www' },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      header: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const port = Number(values.port);
  if (!values.help && (!/^\d+$/.test(values.port) || port > 65535)) {
    throw Object.assign(new TypeError(`--port must be 0..65535, got '${values.port}'`), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  const headers = {};
  for (const h of values.header) {
    const m = /^([A-Za-z0-9-]+):\s*(.+)$/.exec(h);
    if (!m) throw Object.assign(new TypeError(`--header must look like 'Name: value', got '${h}'`), { code: 'ERR_INVALID_ARG_VALUE' });
    headers[m[1]] = m[2];
  }
  return { root: values.root, port, host: values.host, headers, help: values.help };
}

async function main() {
  let opts;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error(`serve: ${err.message}\n${USAGE.split('\n')[0]} (--help for more)`);
    process.exit(2);
  }
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const { url, close } = await startServer(opts);
  const shown = opts.root.replace(/\/+$/, '') + '/';
  console.log(`Serving ${shown} at ${url}`);
  const stop = () => close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

// Run the CLI only when executed directly (not when imported by tests).
const invokedDirectly = (() => {
  try {
    return process.argv[1] && fs.realpathSync(process.argv[1]) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();
if (invokedDirectly) {
  main().catch((err) => {
    const msg = err.code === 'EADDRINUSE' ? `port already in use (${err.message})` : err.message;
    console.error(`serve: error: ${msg}`);
    process.exit(1);
  });
}
