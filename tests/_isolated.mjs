// Helpers for the isolated-mode tests (not a test file): Chromium with third-party storage
// partitioning as browsers ship it, two loopback origins, and a site whose frame.html is the
// package's file with only its configuration block filled in (the one edit a store makes).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { REPO, CHROMIUM, LAUNCH_ARGS, makeSite } from './_browser.mjs';
import { startServer } from '../scripts/serve.mjs';

export const FRAME_HTML = path.join(REPO, 'www', 'lib', 'isolated', 'frame.html');
export const FRAME_PATH = 'lib/isolated/frame.html';

/** The frame origin's Content-Security-Policy as docs/deployment.md gives it, for a store at `pageOrigin`. */
export const frameCsp = (pageOrigin) =>
  `frame-ancestors ${pageOrigin}; default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; ` +
  `img-src 'self' ${pageOrigin} data:; connect-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'none'`;

let featuresArg = null;

/**
 * Playwright launches Chromium with ThirdPartyStoragePartitioning disabled (its own choice, see
 * playwright#32230); browsers ship with it on (Chrome since 115), and without it a cross-site
 * frame gets no storage at all. This reads the `--disable-features=…` argument Playwright would
 * pass (from a launchServer's spawn arguments), and launches with the same list minus that one
 * feature. `assertPartitioned` then checks that the browser really partitions.
 */
export async function launchPartitioned() {
  if (!featuresArg) {
    const server = await chromium.launchServer({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
    featuresArg = server.process().spawnargs.find((a) => a.startsWith('--disable-features=')) ?? null;
    await server.close();
  }
  if (!featuresArg) return chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  const kept = featuresArg.slice('--disable-features='.length).split(',').filter((f) => f !== 'ThirdPartyStoragePartitioning');
  return chromium.launch({
    executablePath: CHROMIUM,
    ignoreDefaultArgs: [featuresArg],
    args: [...LAUNCH_ARGS, `--disable-features=${kept.join(',')}`],
  });
}

/** frame.html as shipped, with `config` in its #vitrine-frame-config block (nothing else changed). */
export function configuredFrame(config, html = fs.readFileSync(FRAME_HTML, 'utf8')) {
  const re = /(<script type="application\/json" id="vitrine-frame-config">)[\s\S]*?(<\/script>)/;
  assert.match(html, re, 'frame.html has its configuration block');
  return html.replace(re, `$1\n    ${JSON.stringify(config)}\n  $2`);
}

/**
 * A site (www's lib, pkg, data + `extra` files) served twice: as the store's page on
 * http://127.0.0.1:P (origin A) and as the frame's origin on http://localhost:P2 (origin B, with
 * `frameHeaders`; default: the deployment CSP above). frame.html is configured for `parents` (default: A).
 */
export async function isolatedSite(t, dir, { extra = {}, frameHeaders = (a) => ({ 'Content-Security-Policy': frameCsp(a) }), pageHeaders = {}, parents } = {}) {
  makeSite(dir, extra);
  const pageServer = await startServer({ root: dir, port: 0, headers: pageHeaders });
  t.after(() => pageServer.close());
  const pageOrigin = `http://127.0.0.1:${pageServer.port}`;
  const frameServer = await startServer({ root: dir, port: 0, host: 'localhost', headers: frameHeaders(pageOrigin) });
  t.after(() => frameServer.close());
  const frameOrigin = `http://localhost:${frameServer.port}`;
  fs.writeFileSync(path.join(dir, FRAME_PATH), configuredFrame({ parents: parents ?? [pageOrigin] }));
  return {
    pageOrigin,
    frameOrigin,
    frameUrl: `${frameOrigin}/${FRAME_PATH}`,
    page: (file, query = {}) => `${pageOrigin}/${file}?${new URLSearchParams({ frame: `${frameOrigin}/${FRAME_PATH}`, ...query })}`,
  };
}

/** The frame of `page` whose URL ends in `#role` (the engine frame or the n-th view frame). */
export function frameOf(page, role, n = 0) {
  return page.frames().filter((f) => f.url().endsWith(`#${role}`))[n] ?? null;
}

/** Whether a view frame's real shelf has rendered and has nothing pending. */
export function viewRendered(frame) {
  return frame
    .evaluate(() => {
      const s = document.querySelector('.real vitrine-shelf');
      return !!s && s.renderCount > 0 && !s.pending;
    })
    .catch(() => false);
}

/** Waits until `page` has at least `count` view frames whose real shelf rendered, and returns those. */
export async function renderedViews(page, count = 1, timeout = 20_000) {
  const t0 = Date.now();
  for (;;) {
    const views = page.frames().filter((f) => f.url().endsWith('#view'));
    const ok = await Promise.all(views.map(viewRendered));
    const done = views.filter((_, i) => ok[i]);
    if (done.length >= count) return done;
    if (Date.now() - t0 > timeout) throw new Error(`no ${count} rendered view frame(s) within ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The ids the real shelf of a view frame shows (read with the test's privileges, not the page's). */
export function shownIds(view) {
  return view.evaluate(() => [...document.querySelector('.real vitrine-shelf').shadowRoot.querySelectorAll('.card')].map((c) => c.dataset.id));
}

/** Fails unless a cross-site frame of this browser has storage of its own, keyed by the top-level site. */
export async function assertPartitioned(context, site) {
  const page = await context.newPage();
  await page.goto(`${site.pageOrigin}/${FRAME_PATH.replace('frame.html', '')}`).catch(() => {});
  await page.setContent(`<iframe src="${site.frameOrigin}/data/catalog.json"></iframe>`);
  const frame = page.frames()[1];
  await frame.waitForLoadState();
  const r = await frame.evaluate(() => {
    try {
      localStorage.setItem('vitrine-test:partition', '1');
      return localStorage.getItem('vitrine-test:partition');
    } catch (err) {
      return `denied: ${err.message}`;
    }
  });
  await page.close();
  assert.equal(r, '1', 'Chromium must give a cross-site frame partitioned storage (ThirdPartyStoragePartitioning on)');
}
