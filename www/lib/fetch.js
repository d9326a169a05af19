// Fetching the bundle: progress, content-type and HTTP checks, and Subresource-Integrity-style
// verification with crypto.subtle before any byte reaches the engine.

import { VitrineError } from './errors.js';

// Servers answer a missing file with an HTML page surprisingly often (SPA fallbacks, CDNs' error
// pages): those types are refused with a message saying so. Anything else (octet-stream, no type,
// a custom application/* type) is accepted and left to the engine's own validation.
const NOT_A_BUNDLE = /^(text\/|application\/(json|javascript|ecmascript|xml|xhtml\+xml)\b|image\/|audio\/|video\/)/i;

/**
 * Checks `bytes` against an SRI string: "sha256-<base64>" (several, space-separated: any may match).
 * @param {Uint8Array | (() => Uint8Array)} bytes the file, or a function returning it afresh (a
 *   view of the engine's memory, taken again for each digest)
 * @param {string} integrity
 * @param {{known?: Record<string, string>}} [options] `known`: digests already computed elsewhere
 *   (algorithm → base64, e.g. `{sha256}` hashed by the engine while the file arrived)
 */
export async function verifyIntegrity(bytes, integrity, { known = {} } = {}) {
  const read = typeof bytes === 'function' ? bytes : () => bytes;
  const wanted = String(integrity).trim().split(/\s+/).filter(Boolean);
  if (wanted.length === 0) throw new VitrineError('invalid_argument', 'integrity is empty');
  const algos = { sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' };
  const digests = new Map();
  for (const w of wanted) {
    const m = /^(sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})(\?.*)?$/.exec(w);
    if (!m) {
      throw new VitrineError('invalid_argument', `integrity must look like "sha256-<base64>", got "${w}"`);
    }
    if (!digests.has(m[1]) && typeof known[m[1]] === 'string') digests.set(m[1], known[m[1]]);
    if (!digests.has(m[1])) {
      if (!globalThis.crypto?.subtle) {
        throw new VitrineError('integrity', 'cannot check integrity: crypto.subtle is unavailable (the page is not a secure context)');
      }
      digests.set(m[1], base64(new Uint8Array(await crypto.subtle.digest(algos[m[1]], read()))));
    }
    if (digests.get(m[1]) === m[2]) return true;
  }
  const [algo] = digests.keys();
  throw new VitrineError(
    'integrity',
    `the bundle does not match its integrity hash (expected ${wanted.join(' ')}, got ${algo}-${digests.get(algo)})`,
  );
}

/** `bytes` in base64 (as SRI writes digests). */
export function base64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * Starts the download of `url` and checks the response (HTTP status, content type) before any
 * byte of the body is read.
 * @returns {Promise<{res: Response, total: number|null}>} `total`: the announced length (null when
 *   unknown or the body is encoded)
 */
export async function openBundle(url, { fetchOptions } = {}) {
  let res;
  try {
    res = await fetch(url, { credentials: 'same-origin', ...fetchOptions });
  } catch (err) {
    throw new VitrineError('fetch_failed', `could not fetch the bundle ${url}: ${err?.message ?? err}`, { cause: err });
  }
  if (!res.ok) {
    throw new VitrineError('http_error', `could not fetch the bundle ${url}: HTTP ${res.status} ${res.statusText}`.trim());
  }
  const type = res.headers.get('content-type') ?? '';
  if (NOT_A_BUNDLE.test(type)) {
    throw new VitrineError(
      'content_type',
      `${url} is served as "${type}", not as a model bundle (expected application/octet-stream): ` +
        'is the URL right? A server often answers a missing file with an HTML page.',
    );
  }
  const header = Number(res.headers.get('content-length'));
  const total = Number.isFinite(header) && header > 0 && !res.headers.get('content-encoding') ? header : null;
  return { res, total };
}

/**
 * The body of a checked response as a stream that calls onProgress({phase: 'bundle', loaded,
 * total}) as chunks pass and `onEnd(loaded)` once the body has ended (the body itself when there
 * is no listener).
 * @returns {ReadableStream<Uint8Array>}
 */
export function watchedBody({ res, total }, onProgress, onEnd) {
  onProgress?.({ phase: 'bundle', loaded: 0, total });
  if (!onProgress) return res.body;
  let loaded = 0;
  return res.body.pipeThrough(
    new TransformStream({
      transform(chunk, out) {
        loaded += chunk.length;
        onProgress({ phase: 'bundle', loaded, total });
        out.enqueue(chunk);
      },
      flush() {
        onEnd?.(loaded);
      },
    }),
  );
}

/** Whether this browser can transfer a ReadableStream to a worker (not every Safari can). */
export function canTransferStreams() {
  try {
    const { port1, port2 } = new MessageChannel();
    const probe = new ReadableStream();
    port1.postMessage(probe, [probe]);
    port1.close();
    port2.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Fetches `url` into bytes, calling onProgress({phase: 'bundle', loaded, total}) as chunks arrive.
 * @returns {Promise<Uint8Array>}
 */
export async function fetchBundle(url, { onProgress, fetchOptions } = {}) {
  const { res, total } = await openBundle(url, { fetchOptions });
  onProgress?.({ phase: 'bundle', loaded: 0, total });
  // The bytes come from arrayBuffer(); progress from a clone's stream. (Reading the response's own
  // stream to its end, as a streamed load does, makes the DevTools protocol report the request as
  // aborted about half the time although the page gets every byte: microsoft/playwright#42742;
  // tests/_browser.mjs records that case apart.)
  const watch = onProgress && res.body?.getReader ? res.clone().body.getReader() : null;
  const progress = (async () => {
    if (!watch) return;
    let loaded = 0;
    for (;;) {
      const { done, value } = await watch.read();
      if (done) return;
      loaded += value.length;
      onProgress({ phase: 'bundle', loaded, total });
    }
  })().catch(() => {});
  let bytes;
  try {
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (err) {
    throw new VitrineError('fetch_failed', `the download of ${url} broke off: ${err?.message ?? err}`, { cause: err });
  }
  await progress;
  if (!watch) onProgress?.({ phase: 'bundle', loaded: bytes.length, total: bytes.length });
  return bytes;
}
