// Vitrine demo store: a small shop (home, categories, products, cart) built on the `vitrine` package
// in lib/ — the same files the npm package ships. The engine runs in this tab (or in a Web Worker
// with ?worker), shelves are <vitrine-shelf> elements, and the side panel shows exactly what the
// device remembers.
//
// ?isolated switches to the isolated mode (README "Isolated mode"): the engine, its storage and every
// shelf live in frames from a second origin (scripts/demo serves it on http://localhost:PORT+1, or
// ?frame=URL), and this page only sends them what it tracks and gets back the product you click.
//
// ?experiment=<collector URL> runs the two-arm experiment of data/experiments.json
// (docs/EXPERIMENTS.md): the home shelf takes the device's arm, shelf clicks, add-to-cart from the
// shelf and orders are tallied on the device, and with consent the one local-DP report is sent to
// that `vitrine exp collect` once its window is over. ?experiment-days=N moves the experiment's
// clock N days ahead (a demo aid, so a person can watch a report leave without waiting a day).
//
// Test hooks: window.vitrineReady (true once the engine is loaded and the current page rendered),
// window.vitrineShelfRenders (renders of any shelf; hidden shelves render when shown), window.vitrineError (message, if
// loading failed), window.vitrine (the Vitrine instance).

import { Vitrine, Experiments, globalPrivacyControl } from './lib/index.js';
import { defineVitrineShelf } from './lib/shelf.js';
import { experimentOptions, runExperiment, wireExperiment } from './demo-experiment.js';

defineVitrineShelf();

const BUNDLE_URL = 'data/store.vtr';
const CATALOG_URL = 'data/catalog.json';
const CONSENT_KEY = 'vitrine-demo:consent'; // the store's own record of the shopper's choice (like a CMP's)
const params = new URLSearchParams(location.search);
const WORKER = params.has('worker');
// ?epsilon=Infinity: the engine's explicit NON-private mode (rankings read the raw history), for
// comparison and deterministic tests; the panel says so. Default: the engine's private defaults.
const NOT_PRIVATE = params.get('epsilon') === 'Infinity';
const ISOLATED = params.has('isolated');
const EXPERIMENT_COLLECTOR = params.get('experiment');
const EXPERIMENT_DAYS = Number(params.get('experiment-days') ?? 0) || 0;
const EXPERIMENTS_URL = 'data/experiments.json';
const FRAME_URL = params.get('frame') ?? `${location.protocol}//localhost:${Number(location.port || 80) + 1}/frame.html`;

const state = {
  v: null, // the Vitrine instance
  baseline: null, // a second instance with no history, for "before personalization"
  products: [],
  byId: new Map(),
  categories: [],
  catById: new Map(),
  cart: new Map(), // id -> quantity (the store's cart; not Vitrine's memory)
  filter: 'all',
  route: { view: 'home' },
  localLog: [], // what this page tracked (shown when the engine cannot export its state)
};

const $ = (sel) => document.querySelector(sel);
const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const gpc = globalPrivacyControl();

window.vitrineReady = false;
window.vitrineShelfRenders = 0;

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style') el.style.cssText = v; // CSSOM: allowed under a strict style-src
    else el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...children.filter((c) => c != null));
  return el;
}

/** What the page tells the engine about this visit (used on the device only). */
function requestContext() {
  const now = new Date();
  return {
    hour: now.getHours(),
    weekday: now.getDay(),
    device: matchMedia('(pointer: coarse)').matches ? 'mobile' : 'desktop',
    locale: navigator.language || 'en-US',
  };
}

// ---------------------------------------------------------------------------------------------
// Consent (the store's banner; the package enforces the policy, including Global Privacy Control)

function storedConsent() {
  try {
    const c = localStorage.getItem(CONSENT_KEY);
    return c === 'granted' || c === 'denied' ? c : 'pending';
  } catch {
    return 'pending';
  }
}

function renderConsentBanner() {
  const banner = $('#consent');
  if (gpc || !state.v || state.v.consent !== 'pending') {
    banner.hidden = true;
    return;
  }
  $('#consent-text').innerHTML = '';
  $('#consent-text').append(
    h('strong', {}, 'Keep your recommendations next time? '),
    'Vitrine can remember what you browse in this browser’s storage for 30 days. ',
    'It is never sent anywhere — you can see it and erase it at any time.',
  );
  banner.hidden = false;
}

async function chooseConsent(choice) {
  try {
    localStorage.setItem(CONSENT_KEY, choice);
  } catch {
    /* the choice then lasts for this visit */
  }
  await state.v.setConsent(choice);
  await state.experiments?.setConsent(choice);
  await runExperiment(state.experiments, EXPERIMENT_COLLECTOR, $('#experiment-note'));
  renderConsentBanner();
  renderPanel();
}

// ---------------------------------------------------------------------------------------------
// Cards and grids

function productCard(p) {
  return h(
    'article',
    { class: 'card', dataset: { id: p.id, category: p.category } },
    h(
      'a',
      { class: 'card-main', href: `#/p/${p.id}`, 'aria-label': `${p.name}, ${money.format(p.price)}` },
      // `loading` before `src`, or a cached image is fetched at once: all 540 on every load after the first.
      h('img', { loading: 'lazy', decoding: 'async', src: p.image, alt: '', width: 240, height: 180 }),
      h(
        'span',
        { class: 'card-body' },
        h('span', { class: 'card-cat' }, state.catById.get(p.category)?.name ?? p.category),
        h('span', { class: 'card-name' }, p.name),
      ),
    ),
    h(
      'span',
      { class: 'card-foot' },
      h('span', { class: 'price' }, money.format(p.price)),
      h('button', { class: 'add', type: 'button', 'aria-label': `Add ${p.name} to cart` }, 'Add'),
    ),
  );
}

function renderFilters() {
  const chips = [{ id: 'all', name: 'All' }, ...state.categories].map((c) =>
    h(
      'button',
      {
        class: 'chip',
        type: 'button',
        dataset: { filter: c.id },
        'aria-pressed': String(state.filter === c.id),
        style: c.color ? `--chip-color: ${c.color}` : null,
      },
      c.name,
    ),
  );
  $('#filters').replaceChildren(...chips);
}

function renderHomeGrid() {
  const items = state.filter === 'all' ? state.products : state.products.filter((p) => p.category === state.filter);
  $('#grid').replaceChildren(...items.map(productCard));
  $('#catalog-title').textContent = state.filter === 'all' ? 'All products' : state.catById.get(state.filter).name;
  $('#catalog-count').textContent = `${items.length} products`;
}

function renderCatNav() {
  $('#cat-nav').replaceChildren(
    ...state.categories.map((c) =>
      h('a', { href: `#/c/${c.id}`, dataset: { cat: c.id }, style: `--chip-color: ${c.color}` }, c.name),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Views

const VIEWS = ['home', 'category', 'product', 'cart', 'privacy'];

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'c' && state.catById.has(parts[1])) return { view: 'category', id: parts[1] };
  if (parts[0] === 'p' && state.byId.has(parts[1])) return { view: 'product', id: parts[1] };
  if (parts[0] === 'cart') return { view: 'cart' };
  if (parts[0] === 'privacy') return { view: 'privacy' };
  return { view: 'home' };
}

async function showRoute({ initial = false } = {}) {
  const route = parseRoute();
  const changed = route.view !== state.route.view || route.id !== state.route.id;
  state.route = route;
  for (const v of VIEWS) $(`#view-${v}`).hidden = v !== route.view;
  for (const a of document.querySelectorAll('#cat-nav a')) {
    if (route.view === 'category' && a.dataset.cat === route.id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (route.view === 'category') await renderCategory(route.id);
  if (route.view === 'product') await renderProduct(route.id, changed);
  if (route.view === 'cart') renderCart();
  if (route.view === 'privacy') await renderPrivacy();
  document.title = `${viewTitle(route)} — Vitrine demo store`;
  if (!initial && changed) {
    window.scrollTo(0, 0);
    $('#main').focus({ preventScroll: true });
  }
}

function viewTitle(route) {
  if (route.view === 'category') return state.catById.get(route.id).name;
  if (route.view === 'product') return state.byId.get(route.id).name;
  if (route.view === 'cart') return 'Cart';
  if (route.view === 'privacy') return 'What this device knows';
  return 'Home';
}

async function renderCategory(id) {
  const cat = state.catById.get(id);
  $('#cat-title').textContent = cat.name;
  $('#cat-crumb').textContent = cat.name;
  let items = state.products.filter((p) => p.category === id);
  $('#cat-count').textContent = `${items.length} products`;
  const sort = $('#cat-sort').value;
  let note = '';
  if (sort === 'personal' && ISOLATED) {
    note = 'Isolated mode: only the frame sees your history, so this page cannot reorder by it — catalog order.';
  } else if (sort === 'personal' && state.v?.supports('rerank')) {
    const t0 = performance.now();
    const ranked = await state.v.rerank(
      items.map((p) => p.id),
      { context: requestContext() },
    );
    const ms = performance.now() - t0;
    const order = new Map(ranked.map((r, i) => [r.id, i]));
    items = [...items].sort((a, b) => (order.get(a.id) ?? 1e9) - (order.get(b.id) ?? 1e9));
    const n = sessionSize();
    note = n
      ? `Reordered for you on this device with rerank() in ${ms.toFixed(1)} ms.`
      : `Most popular first (you have no history yet) — rerank() on this device in ${ms.toFixed(1)} ms.`;
  } else if (sort === 'price-asc') items = [...items].sort((a, b) => a.price - b.price);
  else if (sort === 'price-desc') items = [...items].sort((a, b) => b.price - a.price);
  $('#cat-note').textContent = note;
  $('#cat-grid').replaceChildren(...items.map(productCard));
}

const DESCRIPTIONS = {
  view: 'A generated product for the Vitrine demo.',
};

async function renderProduct(id, arrived) {
  const p = state.byId.get(id);
  const cat = state.catById.get(p.category);
  $('#prod-img').src = p.image;
  $('#prod-img').alt = p.name;
  $('#prod-cat').textContent = cat?.name ?? p.category;
  $('#prod-name').textContent = p.name;
  $('#prod-price').textContent = money.format(p.price);
  $('#prod-desc').textContent = `${DESCRIPTIONS.view} Part of our ${cat?.name ?? ''} range; complements ${
    state.catById.get(cat?.complement)?.name ?? 'the rest of the store'
  }.`;
  $('#prod-crumb').textContent = cat?.name ?? p.category;
  $('#prod-crumb').href = `#/c/${p.category}`;
  $('#prod-added').textContent = '';
  $('#prod-add').dataset.id = id;
  const similar = $('#similar-shelf');
  similar.setAttribute('item', id);
  similar.options = { context: requestContext() };
  $('#product-shelf').options = { context: requestContext(), exclude: [id], excludeSeen: true };
  if (arrived) await track('view', id);
}

function renderCart() {
  const lines = [...state.cart].map(([id, qty]) => {
    const p = state.byId.get(id);
    return h(
      'div',
      { class: 'cart-line', dataset: { id } },
      h('img', { src: p.image, alt: '', width: 96, height: 72 }),
      h('a', { href: `#/p/${id}`, class: 'cart-name' }, p.name),
      h('span', { class: 'muted' }, `× ${qty}`),
      h('span', { class: 'price' }, money.format(p.price * qty)),
      h('button', { class: 'btn btn-small', type: 'button', dataset: { remove: id }, 'aria-label': `Remove ${p.name}` }, 'Remove'),
    );
  });
  $('#cart-lines').replaceChildren(...lines);
  $('#cart-empty').hidden = lines.length > 0;
  $('#cart-total-row').hidden = lines.length === 0;
  const total = [...state.cart].reduce((s, [id, q]) => s + state.byId.get(id).price * q, 0);
  $('#cart-total').textContent = money.format(total);
  $('#cart-count').textContent = String([...state.cart.values()].reduce((a, b) => a + b, 0));
}

async function renderPrivacy() {
  const v = state.v;
  if (!v) return;
  if (ISOLATED) {
    const where = `Isolated mode: the history, the ranking and its privacy budget are kept by frames from ${v.frameOrigin}. This page cannot read them — that is the point.`;
    $('#rank-before').replaceChildren(h('li', { class: 'muted' }, 'Not visible to this page.'));
    $('#rank-after').replaceChildren(h('li', { class: 'muted' }, 'Not visible to this page: the shelves show it, inside their frames.'));
    $('#state-json').textContent = '(held in the frame; exportState() is not available to the page in isolated mode)';
    $('#state-where').textContent = where;
    return;
  }
  const opts = { k: 10, excludeSeen: true, context: requestContext() };
  if (!state.baseline) {
    // The baseline never sees an event, so it has nothing to protect: it ranks without noise
    // (a private engine would otherwise spend budget and randomize even an empty history).
    state.baseline = Vitrine.load(BUNDLE_URL, { storage: false, worker: WORKER }).then(async (b) => {
      if (b.supports('privacyStatus')) await b.configure({ privacy: { epsilon: Infinity } });
      return b;
    });
  }
  const [before, after] = await Promise.all([state.baseline.then((b) => b.recommend(opts)), v.recommend(opts)]);
  const beforeRank = new Map(before.map((r, i) => [r.id, i]));
  const afterRank = new Map(after.map((r, i) => [r.id, i]));
  const item = (r, i, other, isAfter) => {
    const p = state.byId.get(r.id);
    let move = null;
    if (isAfter) {
      const was = other.get(r.id);
      move =
        was === undefined
          ? h('span', { class: 'move new' }, 'new')
          : was > i
            ? h('span', { class: 'move up' }, `▲ ${was - i}`)
            : was < i
              ? h('span', { class: 'move down' }, `▼ ${i - was}`)
              : h('span', { class: 'move same' }, '=');
    } else if (!other.has(r.id)) {
      move = h('span', { class: 'move gone' }, 'dropped');
    }
    return h(
      'li',
      { dataset: { id: r.id, category: p?.category ?? '' } },
      h('img', { src: p?.image ?? '', alt: '', width: 48, height: 36 }),
      h('span', { class: 'rank-name' }, p?.name ?? r.id, h('span', { class: 'muted tiny' }, ` ${state.catById.get(p?.category)?.name ?? ''}`)),
      move,
    );
  };
  $('#rank-before').replaceChildren(...before.map((r, i) => item(r, i, afterRank, false)));
  $('#rank-after').replaceChildren(...after.map((r, i) => item(r, i, beforeRank, true)));
  const json = v.supports('exportState') ? await v.exportState() : null;
  $('#state-json').textContent = json ? JSON.stringify(JSON.parse(json), null, 2) : '(this engine build cannot export its state)';
  $('#state-where').textContent =
    v.storageMode === 'persistent'
      ? 'Saved in this browser’s localStorage (key “vitrine:session”, expires after 30 days unused). Nothing else is stored.'
      : v.storageMode === 'visit'
        ? 'Kept for this visit in this tab’s sessionStorage: it is gone when you close the tab, and no other tab sees it.'
        : 'Kept in this page’s memory only: it is gone when you leave or reload the page.';
}

// ---------------------------------------------------------------------------------------------
// The transparency panel

const EVENT_LABEL = {
  view: 'Viewed',
  click: 'Clicked',
  add_to_cart: 'Added to cart',
  remove_from_cart: 'Removed',
  purchase: 'Bought',
  search: 'Searched',
};

let panelFrame = 0;
function schedulePanel() {
  if (panelFrame) return;
  panelFrame = requestAnimationFrame(() => {
    panelFrame = 0;
    renderPanel();
  });
}

let sessionCount = 0;
const sessionSize = () => sessionCount;

async function rememberedEvents() {
  const v = state.v;
  if (ISOLATED) return state.localLog; // the frame's own history is not ours to read: what this page tracked
  if (v.supports('exportState')) {
    try {
      const parsed = JSON.parse(await v.exportState());
      if (Array.isArray(parsed.events)) return parsed.events;
    } catch {
      /* fall through */
    }
  }
  return state.localLog;
}

async function renderPanel() {
  const v = state.v;
  if (!v) return;
  const events = await rememberedEvents();
  sessionCount = events.length;
  const items = [...events].reverse().map((e) => {
    const p = state.byId.get(e.item);
    const time = new Date(e.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    return h(
      'li',
      { dataset: { type: e.type, id: e.item ?? '' } },
      h('span', { class: `ev ev-${e.type}` }, EVENT_LABEL[e.type] ?? e.type),
      h('span', { class: 'ev-name' }, p ? p.name : (e.item ?? e.query ?? '')),
      h('time', { class: 'ev-time', datetime: new Date(e.ts).toISOString() }, time),
    );
  });
  $('#session-list').replaceChildren(...items);
  $('#session-empty').hidden = items.length > 0;
  $('#session-empty').textContent = ISOLATED ? 'Nothing tracked on this page yet (earlier visits are in the frame).' : 'Nothing yet — open a product.';
  $('#forget').disabled = !ISOLATED && items.length === 0 && v.storageMode !== 'persistent';
  renderIsolation();

  const mode = $('#storage-mode');
  mode.replaceChildren();
  if (v.storageMode === 'persistent') mode.append(h('span', { class: 'pill pill-on' }, 'Saved on this device'), ' for 30 days');
  else if (gpc) mode.append(h('span', { class: 'pill' }, 'Memory only'), ' — your browser sends Global Privacy Control, so nothing is stored');
  else if (v.consent === 'denied') mode.append(h('span', { class: 'pill' }, 'Memory only'), ' — you chose not to store anything');
  else if (v.storageMode === 'visit') mode.append(h('span', { class: 'pill' }, 'This visit only'), ' — kept in this tab until you choose or close it');
  else mode.append(h('span', { class: 'pill' }, 'Memory only'), ' until you choose');

  const eps = $('#epsilon');
  if (ISOLATED) {
    eps.textContent = 'spent and kept inside the frame (not visible to this page)';
  } else if (v.supports('privacyStatus')) {
    try {
      const s = await v.privacyStatus();
      eps.textContent = formatPrivacy(s);
    } catch (err) {
      eps.textContent = `unavailable (${err.message})`;
    }
  } else {
    eps.textContent = 'not reported by this engine build';
  }
  const ctx = requestContext();
  const used = v.info.contextFeatures?.length ? 'shapes scores' : 'the model has no context weights: ignored';
  $('#context-used').textContent = `${String(ctx.hour).padStart(2, '0')}:00, ${
    ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][ctx.weekday]
  }, ${ctx.device}, ${ctx.locale} (${used})`;
}

/** The isolation switch: what is where, and a link to the other mode. */
function renderIsolation() {
  const other = new URLSearchParams(location.search);
  if (ISOLATED) other.delete('isolated');
  else other.set('isolated', '');
  const href = `?${other.toString().replace(/isolated=(&|$)/, 'isolated$1')}${location.hash}`;
  const el = $('#isolation');
  el.replaceChildren(
    ...(ISOLATED
      ? [h('span', { class: 'pill pill-on' }, 'On'), ` engine, history and shelves in frames from ${state.v.frameOrigin}; this page cannot read them. `, h('a', { href, id: 'isolation-switch' }, 'Turn off')]
      : [h('span', { class: 'pill' }, 'Off'), ' this page’s scripts could read the stored history. ', h('a', { href, id: 'isolation-switch' }, 'Try isolated mode')]),
  );
}

/** privacyStatus() → "ε 1.20 of 4 spent, 2.80 left (gaussian)"; shapes of other builds are shown as JSON. */
function formatPrivacy(s) {
  const num = (x) => (x === Infinity || x === 'Infinity' || x == null ? '∞' : Number(x).toFixed(2).replace(/\.?0+$/, ''));
  if (s.private === false) return 'off: ε = ∞, this build ranks with the raw history (not private)';
  const b = s.budget;
  if (b && typeof b === 'object') {
    const left = s.releasesLeft != null ? `; ${s.releasesLeft} fresh ranking${s.releasesLeft === 1 ? '' : 's'} left` : '';
    return `ε ${num(b.spentEpsilon)} of ${num(b.epsilon)} spent, ${num(b.remainingEpsilon)} left (${s.mechanism ?? 'private'})${left}`;
  }
  if (s.epsilon != null) return `ε ${num(s.epsilon)} per ranking (${s.mechanism ?? 'private'})`;
  return JSON.stringify(s);
}

// ---------------------------------------------------------------------------------------------
// Shopper actions

async function track(type, item, extra = {}) {
  const event = { type, item, ts: Date.now(), ...extra };
  try {
    await state.v.track(event);
    state.localLog.push(event);
    if (ISOLATED) schedulePanel(); // the panel lists what this page tracked (it cannot read the frame)
  } catch (err) {
    showError(`Could not track ${type} on ${item}: ${err.message ?? err}`);
  }
}

async function addToCart(id) {
  state.cart.set(id, (state.cart.get(id) ?? 0) + 1);
  renderCart();
  await track('add_to_cart', id, { quantity: 1 });
}

function showError(message) {
  const el = $('#error');
  el.textContent = message;
  el.hidden = false;
  window.vitrineError = message;
  console.error(`[vitrine demo] ${message}`);
}

function onGridClick(e) {
  const add = e.target.closest('.add');
  if (!add) return;
  const card = add.closest('.card');
  addToCart(card.dataset.id);
  add.textContent = 'Added ✓';
  setTimeout(() => (add.textContent = 'Add'), 1200);
}

async function loadCatalog() {
  const res = await fetch(CATALOG_URL);
  if (!res.ok) throw new Error(`Could not load ${CATALOG_URL} (HTTP ${res.status}).`);
  const data = await res.json();
  if (!Array.isArray(data.products) || data.products.length === 0) throw new Error(`${CATALOG_URL} has no products.`);
  return data;
}

function onProgress({ phase, loaded, total }) {
  const bar = $('#load-progress');
  const pct = phase === 'bundle' && total ? Math.round((80 * loaded) / total) : phase === 'ready' ? 100 : 85;
  bar.setAttribute('aria-valuenow', String(pct));
  bar.firstElementChild.style.width = `${pct}%`;
  if (phase === 'ready') bar.hidden = true;
}

async function main() {
  const consent = gpc ? 'denied' : storedConsent();
  const options = ISOLATED
    ? // The frame fetches the bundle (relative to the frame's URL) and keeps the storage.
      { isolation: { frame: FRAME_URL }, worker: WORKER || undefined, consent, ...(NOT_PRIVATE ? { settings: { privacy: { epsilon: Infinity } } } : {}) }
    : { worker: WORKER, consent, onProgress, onStorageIssue: (issue) => console.warn(`[vitrine demo] storage: ${issue.message}`) };
  if (EXPERIMENT_COLLECTOR && !ISOLATED) {
    const clock = () => Date.now() + EXPERIMENT_DAYS * 86_400_000;
    state.experiments = await Experiments.load(EXPERIMENTS_URL, { consent, clock });
    window.vitrineExperiments = state.experiments;
    options.experiments = state.experiments;
  }
  const [catalogResult, engineResult] = await Promise.allSettled([loadCatalog(), Vitrine.load(BUNDLE_URL, options)]);
  if (ISOLATED) onProgress({ phase: 'ready', loaded: 1, total: 1 });
  if (catalogResult.status === 'rejected') throw catalogResult.reason;
  const catalog = catalogResult.value;
  state.products = catalog.products;
  state.byId = new Map(catalog.products.map((p) => [p.id, p]));
  state.categories = catalog.categories;
  state.catById = new Map(catalog.categories.map((c) => [c.id, c]));
  renderCatNav();
  renderFilters();
  renderHomeGrid();
  $('#filters').addEventListener('click', (e) => {
    const chip = e.target.closest('[data-filter]');
    if (!chip || chip.dataset.filter === state.filter) return;
    state.filter = chip.dataset.filter;
    renderFilters();
    renderHomeGrid();
  });
  for (const grid of ['#grid', '#cat-grid']) $(grid).addEventListener('click', onGridClick);
  if (engineResult.status === 'rejected') throw engineResult.reason;

  const v = engineResult.value;
  state.v = v;
  window.vitrine = v;
  if (NOT_PRIVATE && !ISOLATED && v.supports('privacyStatus')) await v.configure({ privacy: { epsilon: Infinity } });
  if (ISOLATED) {
    v.addEventListener('error', (e) => console.warn(`[vitrine demo] isolated frame: ${e.detail.code}: ${e.detail.message}`));
    $('#shelf-note').textContent = `Ranked and drawn by a frame from ${v.frameOrigin}: this page does not know what it shows.`;
  }

  const shelves = ['#shelf', '#similar-shelf', '#product-shelf', '#cart-shelf'].map((s) => $(s));
  const home = $('#shelf');
  // One assignment of the options (the arm's included): a second one at once would restart the render.
  home.options = { excludeSeen: true, context: requestContext(), ...experimentOptions(state.experiments) };
  wireExperiment(state.experiments, home);
  $('#cart-shelf').options = { context: requestContext() };
  home.addEventListener('vitrine:render', async (e) => {
    if (ISOLATED) return; // (an isolated shelf sends no render events)
    const n = sessionSize();
    const ms = 'ranked on this device';
    let note =
      n === 0 ? `Popular right now. Open any product to personalise — ${ms}.` : `Based on what you did here — ${ms}.`;
    if (n > 0 && v.supports('privacyStatus')) {
      const s = await v.privacyStatus();
      const spent = s.releasesLeft === 0;
      if (spent && s.lastSource === 'cached') note = `Today's privacy budget is spent: this is your last private ranking — ${ms}.`;
      else if (spent && s.lastSource === 'public') note = `Today's privacy budget is spent: popular items — ${ms}.`;
      else if (s.private) note = `Based on what you did here, through a differentially private release (ε ${s.epsilon}) — ${ms}.`;
    }
    $('#shelf-note').textContent = note;
  });
  for (const s of shelves) {
    // Isolated: the frame loads the catalog itself (its URL is relative to the frame's).
    s.catalog = ISOLATED ? CATALOG_URL : catalog;
    s.vitrine = v;
    s.addEventListener('vitrine:click', (e) => track('click', e.detail.id));
    s.addEventListener('vitrine:add-to-cart', (e) => addToCart(e.detail.id));
    s.addEventListener('vitrine:render', () => {
      window.vitrineShelfRenders += 1;
      schedulePanel(); // a ranking may have spent privacy budget
    });
    s.addEventListener('vitrine:error', (e) => console.warn(`[vitrine demo] ${s.id}: ${e.detail.message}`));
  }

  v.addEventListener('change', async () => {
    await renderPanel();
    if (state.route.view === 'category') renderCategory(state.route.id);
    if (state.route.view === 'privacy') renderPrivacy();
  });
  v.addEventListener('consentchange', () => renderPanel());

  $('#prod-add').addEventListener('click', async (e) => {
    await addToCart(e.currentTarget.dataset.id);
    $('#prod-added').textContent = 'Added to your cart.';
  });
  $('#cart-lines').addEventListener('click', async (e) => {
    const id = e.target.closest('[data-remove]')?.dataset.remove;
    if (!id) return;
    state.cart.delete(id);
    renderCart();
    await track('remove_from_cart', id);
  });
  $('#checkout').addEventListener('click', async () => {
    const lines = [...state.cart];
    state.cart.clear();
    renderCart();
    for (const [id, quantity] of lines) await track('purchase', id, { quantity });
    $('#order-done').hidden = false;
    $('#order-done').textContent = `Thanks! ${lines.length} item${lines.length === 1 ? '' : 's'} “bought” (demo — nothing was sent anywhere).`;
    const x = state.experiments;
    if (x?.active) {
      const value = lines.reduce((sum, [id, q]) => sum + (state.byId.get(id)?.price ?? 0) * q, 0);
      await x.recordOrder(value);
      const label = await x.orderLabel(x.ids[0]);
      if (label) $('#order-done').textContent += ` The store would attach the arm label “${label}” to this order (layer 0).`;
      await runExperiment(state.experiments, EXPERIMENT_COLLECTOR, $('#experiment-note'));
    }
  });
  $('#cat-sort').addEventListener('change', () => renderCategory(state.route.id));
  $('#forget').addEventListener('click', async () => {
    await v.forget();
    state.localLog = [];
    await renderPanel();
  });
  $('#consent-grant').addEventListener('click', () => chooseConsent('granted'));
  $('#consent-deny').addEventListener('click', () => chooseConsent('denied'));

  window.addEventListener('hashchange', () => showRoute().catch((err) => showError(err.message)));
  renderConsentBanner();
  renderCart();
  await renderPanel();
  await showRoute({ initial: true });
  if (state.route.view === 'home') await home.ready;
  await runExperiment(state.experiments, EXPERIMENT_COLLECTOR, $('#experiment-note'));
  $('#engine-info').textContent = ISOLATED
    ? `Engine: in an isolated frame from ${v.frameOrigin} · catalog: ${state.products.length} products.`
    : `Model: ${v.itemCount} items · engine: ${v.mode === 'worker' ? 'Web Worker' : 'main thread'}` +
      `${v.info.kernel ? `, ${v.info.kernel}` : ''} · catalog: ${state.products.length} products.`;
  window.vitrineReady = true;
}

window.addEventListener('unhandledrejection', (e) => showError(String(e.reason?.message ?? e.reason)));
main().catch((err) => {
  $('#shelf-note').textContent = 'Recommendations are unavailable.';
  $('#load-progress').hidden = true;
  showError(err.message ?? String(err));
});
