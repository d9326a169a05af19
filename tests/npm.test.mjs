// The packed npm tarball (scripts/pack-npm):
//  - installed in an empty folder, every entry imports in Node (server-side rendering) without
//    touching a browser API, and React stays an optional peer (not installed);
//  - installed into a scratch project, it recommends from a plain page (<script type="module"> + an
//    import map) and from a Vite 7 build, on the main thread and in a Web Worker, with identical
//    results, and its types check under a strict TypeScript;
//  - its single-file CDN build (dist/vitrine.js) works from another origin, as from a CDN;
//  - with ?exp the page loads an experiments manifest: the experiments wasm (pkg-exp/) is fetched
//    then, and only then (plain, Vite and CDN pages; Vite emits it as an asset of its own).
//
//   node --test tests/npm.test.mjs     (needs the build: scripts/build; installs vite@7, typescript@5,
//                                       react@19… from the npm registry into target/npm-scratch once)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, WWW, preflight, launch, serve, instrument } from './_browser.mjs';
import { SCRATCH, NPM_FLAGS, run, pack, scratch, demoData } from './_npm.mjs';

const EMPTY = path.join(REPO, 'target', 'npm-empty');

const APP_JS = `
import { Vitrine, Experiments } from 'vitrine';
import { defineVitrineShelf } from 'vitrine/shelf';

defineVitrineShelf();

/** With ?exp: the page's experiments (the manifest, then the experiments wasm). */
async function experiments() {
  const x = await Experiments.load(new URL('experiments.json', document.baseURI).href, { storage: false });
  const a = x.assign(x.ids[0]);
  return { active: x.active, enrolled: a.enrolled, arm: a.arm ?? null };
}

async function main() {
  const params = new URLSearchParams(location.search);
  const worker = params.has('worker');
  const exp = params.has('exp') ? await experiments() : null;
  const v = await Vitrine.load(new URL('store.vtr', document.baseURI).href, { worker });
  // Rankings are compared across page loads: the engine's explicit non-private mode makes them exact.
  if (v.supports('privacyStatus')) await v.configure({ privacy: { epsilon: Infinity } });
  const cold = await v.recommend({ k: 5 });
  for (const item of ['p0100', 'p0101', 'p0102']) await v.track({ type: 'view', item, ts: 1700000000000 });
  const warm = await v.recommend({ k: 8, now: 1700000060000 });
  const shelf = document.querySelector('vitrine-shelf');
  shelf.vitrine = v;
  shelf.catalog = await (await fetch(new URL('catalog.json', document.baseURI))).json();
  await shelf.ready;
  window.result = { exp, mode: v.mode, cold: cold.map((r) => r.id), warm: warm.map((r) => r.id), cards: shelf.items.length };
}
main().catch((e) => (window.result = { error: String(e.message ?? e) }));
`;

const TYPES_TS = `
import { Vitrine, Experiments, VitrineError, reasonText, memoryAdapter, fromDataLayer, shelfEventsToDataLayer, segmentPlugin, type IsolatedVitrine, type Recommendations, type StorageAdapter } from 'vitrine';
import { defineVitrineShelf, setShelfStrings, type VitrineShelf, type ShelfProduct } from 'vitrine/shelf';

export async function check(): Promise<string[]> {
  const adapter: StorageAdapter = memoryAdapter();
  const v = await Vitrine.load('/store.vtr', {
    integrity: 'sha256-abc', worker: true, consent: 'pending', storage: adapter, ttl: 1000,
    onProgress: (p) => console.log(p.phase, p.loaded, p.total ?? 0),
    onStorageIssue: (i) => console.log(i.kind, i.message),
  });
  await v.track({ type: 'view', item: 'p1', dwellMs: 3000 });
  const recs: Recommendations = await v.recommend({ k: 12, excludeSeen: true, explain: true, context: { hour: 13, device: 'mobile' } });
  const ids: string[] = recs.map((r) => r.id).concat(recs.unknownIds, recs.warnings);
  const reranked = await v.rerank(ids, { diversity: { maxPerCategory: 2 } });
  const similar = await v.similar('p1', { k: 4 });
  const why = await v.explain('p1');
  const reason: string | null = reasonText(why, (id) => id.toUpperCase());
  const state: string = await v.exportState();
  await v.importState(state);
  const erased: number | null = await v.forget();
  await v.setConsent('granted');
  const mode: 'persistent' | 'visit' | 'memory' = v.storageMode;
  const cart = await v.similar(['p1', 'p2'], { k: 4 });
  const rid: string = cart.recommendationId;
  const ga4 = fromDataLayer(v, { dataLayer: [], itemId: (i) => String(i.sku), onError: (e) => console.log(e.message) });
  await ga4.idle();
  console.log(ga4.tracked, ga4.pending, ga4.skipped, segmentPlugin(v).name, rid);
  // The live catalog and the scenarios (issues 16, 17).
  const kept: boolean = (await v.track({ type: 'view', item: 'new-product' })).pending;
  const fbt: Recommendations = await v.frequentlyBoughtTogether(['p1', 'p2'], { k: 4 });
  const also: Recommendations = await v.alsoBought('p1');
  const hot: Recommendations = await v.trending({ k: 8 });
  const report = await v.applyUpdate('/store-today.delta', { integrity: 'sha384-abc' });
  const counts: number[] = [report.added, report.updated, report.unavailable, report.items, report.promoted];
  const titles = v.catalog.map((r) => r.id + String(r.title ?? ''));
  console.log(kept, fbt.recommendationId, also.length, hot.warnings, counts, titles);
  shelfEventsToDataLayer({ currency: 'EUR' }).stop();
  setShelfStrings('de', { addToCart: 'In den Warenkorb' });
  const product: ShelfProduct = { id: 'p1', title: 'One', price: 1, currency: 'EUR', sale_price: 0.5, availability: 'preorder', badges: ['New'] };
  v.addEventListener('storageissue', (e) => console.log(e.detail.kind));
  v.addEventListener('change', (e) => console.log(e.detail.reason));
  if (v.supports('privacyStatus')) console.log((await v.privacyStatus()).budget?.remainingEpsilon);
  try { await v.track({ type: 'view', item: 'x' }); } catch (e) { if (e instanceof VitrineError) console.log(e.code); }
  defineVitrineShelf();
  const shelf = document.createElement('vitrine-shelf');
  const same: VitrineShelf = shelf;
  same.vitrine = v;
  same.catalog = [{ id: 'p1', name: 'One', price: 1 }, product];
  same.similarTo = ['p1', 'p2'];
  same.mode = 'bought-together';
  shelf.addEventListener('vitrine:click', (e) => console.log(e.detail.id, e.detail.rank, e.detail.recommendationId));
  shelf.addEventListener('vitrine:add-to-cart', (e) => console.log(e.detail.product?.id));
  const fromShelf: Vitrine | IsolatedVitrine = await shelf.vitrineReady;
  // Isolated mode: the engine in a frame of another origin; the page tracks, the frame ranks and shows.
  const iso: IsolatedVitrine = await Vitrine.load('store.vtr', { isolation: { frame: 'https://reco.example/frame.html', timeout: 5000 }, consent: 'pending', worker: true });
  const isolatedFlag: true = iso.isolated;
  await iso.track({ type: 'view', item: 'p1' });
  const nothing: null = await iso.forget();
  const isoReport = await iso.applyUpdate('store-today.delta', { integrity: 'sha384-abc' });
  const isoCounts: number[] = [isoReport.added, isoReport.updated, isoReport.unavailable, isoReport.items];
  const notTold: null = isoReport.promoted;
  console.log(isoCounts, notTold, iso.supports('applyUpdate'));
  iso.addEventListener('error', (e) => console.log(e.detail.code, e.detail.ref, isolatedFlag, nothing));
  shelf.setAttribute('frame-src', iso.frameUrl);
  same.parts = { card: { 'border-radius': '4px' } };
  same.vitrine = iso;
  shelf.addEventListener('vitrine:click', (e) => console.log(e.detail.rank ?? 'isolated: no rank'));
  await shelf.ready;
  // Experiments (their wasm is fetched only once a manifest is loaded).
  const x: Experiments = await Experiments.load('/experiments.json', { consent: 'granted', storage: false, wasm: new URL('/vitrine_exp_bg.wasm', 'https://shop.example') });
  const arm: string | undefined = x.assign('demo-home-shelf').arm;
  console.log(arm, x.active, x.measuring, await x.creditClick('demo-home-shelf', 'p1'));
  same.ranker = x.ranker('demo-home-shelf', { vitrines: [v, v] });
  const team: 0 | 1 | undefined = (await x.ranker('demo-home-shelf')({ k: 4 }, v))[0]?.team;
  console.log(team, same.ranker === null);
  return [...reranked.map((r) => r.id), ...similar.map((r) => String(r.rank)), reason ?? '', mode, String(erased), String(v.itemCount), String(fromShelf.itemCount)];
}
`;

const page = (head) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vitrine scratch</title><link rel="icon" href="data:,">
${head}
</head><body><vitrine-shelf k="4" href-template="#{id}"></vitrine-shelf></body></html>
`;

async function resultOf(browser, url) {
  const context = await browser.newContext();
  const p = await context.newPage();
  const log = instrument(p);
  await p.goto(url);
  await p.waitForFunction(() => window.result, null, { timeout: 30_000 });
  const result = await p.evaluate(() => window.result);
  await context.close();
  return { result, errors: log.errors, urls: log.requests.map((r) => r.url()) };
}

test('installed in an empty folder, every entry imports in Node without a browser', { timeout: 300_000 }, async (t) => {
  preflight();
  const tarball = pack();
  fs.rmSync(EMPTY, { recursive: true, force: true });
  fs.mkdirSync(EMPTY, { recursive: true });
  fs.writeFileSync(path.join(EMPTY, 'package.json'), JSON.stringify({ name: 'empty', private: true }));
  run('npm', ['install', ...NPM_FLAGS, tarball], { cwd: EMPTY });
  assert.ok(!fs.existsSync(path.join(EMPTY, 'node_modules', 'react')), 'React is an optional peer: not installed');
  // The issue's own command (an import that fails is an unhandled rejection: exit code 1).
  run(process.execPath, ['-e', "import('vitrine'); import('vitrine/shelf'); import('vitrine/react')"], { cwd: EMPTY });
  const out = run(process.execPath, ['--input-type=module', '-e', `
    const before = new Set(Object.getOwnPropertyNames(globalThis));
    const [main, shelf, react] = await Promise.all([import('vitrine'), import('vitrine/shelf'), import('vitrine/react')]);
    const added = Object.getOwnPropertyNames(globalThis).filter((k) => !before.has(k));
    let reactError = null;
    try { react.useVitrine('/store.vtr'); } catch (e) { reactError = e.message; }
    console.log(JSON.stringify({ added, main: Object.keys(main), shelf: Object.keys(shelf), react: Object.keys(react), reactError }));
  `], { cwd: EMPTY });
  const r = JSON.parse(out);
  t.diagnostic(`exports: ${r.main.length} + ${r.shelf.length} + ${r.react.length}`);
  assert.deepEqual(r.added, [], 'importing defines no globals');
  for (const name of ['Vitrine', 'fromDataLayer', 'segmentPlugin', 'shelfEventsToDataLayer', 'shelfEventsToSegment']) assert.ok(r.main.includes(name), name);
  assert.ok(r.shelf.includes('defineVitrineShelf'));
  assert.deepEqual(r.react.sort(), ['VitrineShelf', 'useRecommendations', 'useVitrine']);
  assert.match(r.reactError, /needs React 18 or newer/);
});

test('the npm tarball installs and recommends (plain page and Vite build)', { timeout: 300_000 }, async (t) => {
  preflight();

  const tarball = pack();
  assert.ok(fs.existsSync(tarball), `pack-npm wrote ${tarball}`);
  const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
  const size = fs.statSync(tarball).size;
  t.diagnostic(`${path.basename(tarball)}: ${size} bytes, ${files.length} files`);
  for (const f of files) {
    assert.match(f, /^package\/(package\.json|README\.md|LICENSE.*|lib\/[\w-]+\.(js|d\.ts)|lib\/isolated\/([\w-]+\.js|frame\.html)|dist\/(vitrine|worker)\.js|pkg\/(vitrine\.js|vitrine\.d\.ts|vitrine_bg\.wasm|snippets\/.+\.js)|pkg-exp\/(vitrine_exp\.js|vitrine_exp\.d\.ts|vitrine_exp_bg\.wasm|snippets\/.+\.js))$/, `unexpected file in the tarball: ${f}`);
  }
  for (const f of ['package/lib/index.js', 'package/lib/shelf.js', 'package/lib/react.js', 'package/lib/react.d.ts', 'package/lib/worker.js', 'package/lib/index.d.ts', 'package/lib/isolated/frame.html', 'package/lib/isolated/frame.js', 'package/lib/isolated/client.js', 'package/dist/vitrine.js', 'package/dist/worker.js', 'package/pkg/vitrine_bg.wasm', 'package/pkg-exp/vitrine_exp.js', 'package/pkg-exp/vitrine_exp_bg.wasm']) {
    assert.ok(files.includes(f), `tarball has ${f}`);
  }
  assert.ok(size < 400_000, `tarball stays small (${size} bytes)`);

  scratch();
  const installed = JSON.parse(fs.readFileSync(path.join(SCRATCH, 'node_modules', 'vitrine', 'package.json'), 'utf8'));
  assert.equal(installed.name, 'vitrine');
  assert.equal(installed.type, 'module');
  assert.equal(installed.sideEffects, false);
  assert.deepEqual(installed.peerDependenciesMeta, { react: { optional: true } });
  const version = await import(path.join(REPO, 'www', 'lib', 'version.js'));
  assert.equal(installed.version, version.VERSION, 'lib/version.js says the package version');

  // The shipped types describe the whole API: a strict TypeScript program using it type-checks.
  fs.mkdirSync(path.join(SCRATCH, 'types'), { recursive: true });
  fs.writeFileSync(path.join(SCRATCH, 'types', 'check.ts'), TYPES_TS);
  run(process.execPath, [
    path.join(SCRATCH, 'node_modules', 'typescript', 'bin', 'tsc'),
    '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--lib', 'es2022,dom,dom.iterable', '--skipLibCheck', 'false', path.join('types', 'check.ts'),
  ]);

  // Data the pages load: the demo bundle and a catalog without images.
  for (const dir of ['plain', 'app/public']) {
    demoData(path.join(SCRATCH, dir), WWW);
    fs.copyFileSync(path.join(REPO, 'docs', 'experiments.example.json'), path.join(SCRATCH, dir, 'experiments.json'));
  }

  // A plain page: an import map points the bare specifiers at node_modules.
  fs.writeFileSync(path.join(SCRATCH, 'plain', 'app.js'), APP_JS);
  fs.writeFileSync(
    path.join(SCRATCH, 'plain', 'index.html'),
    page(`<script type="importmap">{"imports": {"vitrine": "/node_modules/vitrine/lib/index.js", "vitrine/shelf": "/node_modules/vitrine/lib/shelf.js"}}</script>
<script type="module" src="app.js"></script>`),
  );

  // A Vite app, built for production.
  fs.writeFileSync(path.join(SCRATCH, 'app', 'main.js'), APP_JS);
  fs.writeFileSync(path.join(SCRATCH, 'app', 'index.html'), page('<script type="module" src="./main.js"></script>'));
  fs.rmSync(path.join(SCRATCH, 'app', 'dist'), { recursive: true, force: true });
  const out = run(process.execPath, [path.join(SCRATCH, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', 'app', '--logLevel', 'warn'], {
    env: { ...process.env, NO_COLOR: '1' },
  });
  const assets = fs.readdirSync(path.join(SCRATCH, 'app', 'dist', 'assets'));
  t.diagnostic(`vite build: ${assets.join(', ')}${out.trim() ? `\n${out.trim()}` : ''}`);
  assert.ok(assets.some((f) => f.endsWith('.wasm')), 'Vite emitted the engine .wasm as an asset');
  assert.ok(assets.some((f) => /^worker.*\.js$/.test(f)), 'Vite bundled the worker');
  assert.ok(assets.some((f) => /^vitrine_exp_bg.*\.wasm$/.test(f)), 'Vite emitted the experiments .wasm as an asset of its own');
  assert.ok(assets.some((f) => /^vitrine_exp-.*\.js$/.test(f)), 'Vite made the experiments glue a chunk of its own (a dynamic import)');

  const plainServer = await serve(t, { root: SCRATCH });
  const viteServer = await serve(t, { root: path.join(SCRATCH, 'app', 'dist') });

  // The CDN build from another origin, as from a CDN: the package's files served as they are, with
  // CORS. The page's own origin has only the bundle, the catalog and (for worker mode, which a
  // browser starts only from the page's origin) a copy of dist/worker.js.
  const cdnServer = await serve(t, { root: path.join(SCRATCH, 'node_modules', 'vitrine'), headers: { 'Access-Control-Allow-Origin': '*' } });
  const cdnSite = path.join(SCRATCH, 'cdn-site');
  demoData(cdnSite, WWW);
  fs.copyFileSync(path.join(REPO, 'docs', 'experiments.example.json'), path.join(cdnSite, 'experiments.json'));
  fs.mkdirSync(path.join(cdnSite, 'vendor'), { recursive: true });
  fs.copyFileSync(path.join(SCRATCH, 'node_modules', 'vitrine', 'dist', 'worker.js'), path.join(cdnSite, 'vendor', 'worker.js'));
  const cdnApp = APP_JS.replace(
    "import { Vitrine, Experiments } from 'vitrine';\nimport { defineVitrineShelf } from 'vitrine/shelf';",
    `import { Vitrine, Experiments, defineVitrineShelf } from '${cdnServer.url}dist/vitrine.js';`,
  ).replace(
    'await Vitrine.load(new URL(\'store.vtr\', document.baseURI).href, { worker });',
    `await Vitrine.load(new URL('store.vtr', document.baseURI).href, worker ? { worker, workerUrl: new URL('vendor/worker.js', document.baseURI), wasm: '${cdnServer.url}pkg/vitrine_bg.wasm' } : {});`,
  );
  assert.notEqual(cdnApp, APP_JS);
  assert.ok(cdnApp.includes('dist/vitrine.js') && cdnApp.includes('workerUrl'), 'the CDN page imports the CDN build');
  fs.writeFileSync(path.join(cdnSite, 'app.js'), cdnApp);
  fs.writeFileSync(path.join(cdnSite, 'index.html'), page('<script type="module" src="app.js"></script>'));
  const siteServer = await serve(t, { root: cdnSite });

  const browser = await launch();
  t.after(() => browser.close());

  const results = {};
  for (const [name, url] of [
    ['plain', `${plainServer.url}plain/`],
    ['plain worker', `${plainServer.url}plain/?worker`],
    ['vite', viteServer.url],
    ['vite worker', `${viteServer.url}?worker`],
    ['cdn', siteServer.url],
    ['cdn worker', `${siteServer.url}?worker`],
    ['plain exp', `${plainServer.url}plain/?exp`],
    ['vite exp', `${viteServer.url}?exp`],
    ['cdn exp', `${siteServer.url}?exp`],
  ]) {
    const { result, errors, urls } = await resultOf(browser, url);
    assert.equal(result.error, undefined, `${name}: ${result.error}`);
    assert.deepEqual(errors, [], name);
    const expWasm = urls.filter((u) => /vitrine_exp_bg[^/]*\.wasm$/.test(new URL(u).pathname));
    if (name.endsWith('exp')) {
      assert.equal(result.exp.active, true, name);
      assert.equal(result.exp.enrolled, true, name);
      assert.ok(['control', 'diverse'].includes(result.exp.arm), `${name}: ${result.exp.arm}`);
      assert.equal(expWasm.length, 1, `${name}: the experiments wasm is fetched once (${urls.join(' ')})`);
    } else {
      assert.equal(result.exp, null, name);
      assert.deepEqual(expWasm, [], `${name}: no experiments wasm without a manifest`);
      assert.ok(!urls.some((u) => /vitrine_exp/.test(u)), `${name}: nor its glue`);
    }
    assert.equal(result.mode, name.endsWith('worker') ? 'worker' : 'main', name);
    assert.equal(result.cold.length, 5, name);
    assert.equal(result.warm.length, 8, name);
    assert.equal(result.cards, 4, `${name}: the shelf rendered`);
    results[name] = { cold: result.cold, warm: result.warm };
  }
  for (const name of ['plain worker', 'vite', 'vite worker', 'cdn', 'cdn worker', 'plain exp', 'vite exp', 'cdn exp']) assert.deepEqual(results[name], results.plain, `${name} = plain`);
  assert.notDeepEqual(results.plain.warm.slice(0, 5), results.plain.cold, 'tracking changed the recommendations');
});
