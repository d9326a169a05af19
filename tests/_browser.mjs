// Shared helpers for the browser tests: Chromium launch options, a loopback static server, and
// page instrumentation (errors, requests). Not a test file itself.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { startServer } from '../scripts/serve.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const WWW = path.join(REPO, 'www');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const STRICT_CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'";

export const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const REQUIRED = ['www/pkg/vitrine.js', 'www/pkg/vitrine_bg.wasm', 'www/pkg-exp/vitrine_exp.js', 'www/pkg-exp/vitrine_exp_bg.wasm', 'www/data/store.vtr', 'www/data/catalog.json'];

/** Fails (never skips) when the build outputs the pages need are missing. */
export function preflight() {
  const missing = REQUIRED.filter((f) => !fs.existsSync(path.join(REPO, f)));
  if (missing.length) {
    throw new Error(
      `missing build outputs: ${missing.join(', ')}. Run scripts/demo or scripts/test first ` +
        '(they build the wasm package, the demo data and the model bundle).',
    );
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (run scripts/setup, or set CHROMIUM_PATH).`);
}

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
}

/** Starts the loopback server on `root` (default www/) and registers its shutdown with `t`. */
export async function serve(t, opts = {}) {
  const server = await startServer({ root: WWW, port: 0, ...opts });
  t.after(() => server.close());
  return server;
}

/** Records what could go wrong on a page (or a whole context). */
export function instrument(target) {
  const log = { errors: [], requests: [], aborted: [] };
  const ctx = target.context ? target.context() : target;
  const watch = (page) => {
    page.on('pageerror', (err) => log.errors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => msg.type() === 'error' && log.errors.push(`console.error: ${msg.text()}`));
  };
  if (target.context) watch(target);
  else target.on('page', watch);
  ctx.on('request', (req) => log.requests.push(req));
  // Requests answered 200: see the bundle's case below.
  const answered = new WeakSet();
  ctx.on('requestfailed', (req) => {
    const reason = req.failure()?.errorText;
    // Chromium cancels an image load when the page navigates (a reload) or the shelf replaces the
    // <img> mid-load: normal, and racy in timing. A missing image still fails as an HTTP status.
    if (req.resourceType() === 'image' && reason === 'net::ERR_ABORTED') log.aborted.push(req.url());
    // A fetch whose body the page reads as a stream to its end (the bundle, read as it arrives:
    // www/lib/stream-load.js) is often reported aborted by the DevTools protocol although the page
    // got every byte (microsoft/playwright#42742: "Chromium no-store Fetch stream reaches EOF but
    // request fails with ERR_ABORTED"). The page checks the bundle's length and digest itself, so
    // a download that really broke off fails the load, which the tests see.
    else if (req.resourceType() === 'fetch' && reason === 'net::ERR_ABORTED' && answered.has(req)) log.aborted.push(req.url());
    else log.errors.push(`request failed: ${req.url()} (${reason})`);
  });
  ctx.on('response', (res) => {
    if (res.status() === 200) answered.add(res.request());
    if (res.status() >= 400) log.errors.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  return log;
}

/** Copies www/{lib,pkg,data(catalog, bundle, images)} and extra files into a fresh directory to serve. */
export function makeSite(dir, extra = {}) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  fs.cpSync(path.join(WWW, 'lib'), path.join(dir, 'lib'), { recursive: true });
  fs.cpSync(path.join(WWW, 'pkg'), path.join(dir, 'pkg'), { recursive: true });
  // The experiments wasm package (www/lib/experiments.js imports it only once a manifest is loaded).
  if (fs.existsSync(path.join(WWW, 'pkg-exp'))) fs.cpSync(path.join(WWW, 'pkg-exp'), path.join(dir, 'pkg-exp'), { recursive: true });
  for (const f of ['catalog.json', 'store.vtr']) fs.copyFileSync(path.join(WWW, 'data', f), path.join(dir, 'data', f));
  fs.cpSync(path.join(WWW, 'data', 'img'), path.join(dir, 'data', 'img'), { recursive: true });
  for (const [name, content] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/**
 * Waits for the demo store to load its engine; fails with what the page reported if it could not
 * (or after `timeout` ms).
 */
export async function ready(page, { timeout = 30_000 } = {}) {
  await page.waitForFunction(() => window.vitrineReady === true || window.vitrineError, null, { timeout });
  const err = await page.evaluate(() => window.vitrineError);
  assert.equal(err, undefined, `the page reported: ${err}`);
}

/** Opens product pages (each records a view) and comes back home. */
export async function viewProducts(page, ids) {
  for (const id of ids) {
    const before = await page.evaluate(() => window.vitrineShelfRenders);
    await page.evaluate((id) => (location.hash = `#/p/${id}`), id);
    await page.waitForFunction((n) => window.vitrineShelfRenders > n, before, { timeout: 5_000 });
  }
  await page.evaluate(() => (location.hash = '#/'));
  await page.waitForFunction(() => {
    const home = document.querySelector('#shelf');
    return home.checkVisibility() && home.renderCount > 0 && !home.pending;
  });
}
