// Vitrine demo store: loads the generated catalog and the model bundle, runs the recommender in
// this tab (WebAssembly), and re-ranks the "Recommended for you" shelf on every shopper action.
//
// Test hooks: window.vitrineReady (true after the first shelf render), window.vitrineShelfRenders
// (incremented on every shelf render), window.vitrineError (message, if loading failed).

const SHELF_SIZE = 12;
const ENGINE_URL = './pkg/vitrine.js';
const BUNDLE_URL = 'data/store.vtr';
const CATALOG_URL = 'data/catalog.json';

const state = {
  rec: null, // the engine's Recommender
  products: [], // catalog products, in catalog order
  byId: new Map(),
  categories: [], // [{id, name, color}]
  categoryName: new Map(),
  filter: 'all',
  events: [], // what this tab has tracked: {type, item, ts}
  lastShelf: new Set(),
};

const $ = (sel) => document.querySelector(sel);
const priceFormat = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

window.vitrineReady = false;
window.vitrineShelfRenders = 0;

// ---------------------------------------------------------------------------------------------
// Small DOM helper: h('div', {class: 'x', dataset: {id: 1}}, child, 'text')

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...children.filter((c) => c != null));
  return el;
}

// ---------------------------------------------------------------------------------------------
// Loading

async function fetchOk(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`Could not load ${url} (HTTP ${res.status}).`);
  return res;
}

async function loadCatalog() {
  const data = await (await fetchOk(CATALOG_URL)).json();
  const products = Array.isArray(data) ? data : data.products;
  if (!Array.isArray(products) || products.length === 0) throw new Error(`${CATALOG_URL} has no products.`);
  const categories =
    data.categories ?? [...new Set(products.map((p) => p.category))].map((id) => ({ id, name: id }));
  return { products, categories };
}

async function loadEngine() {
  let mod;
  try {
    mod = await import(ENGINE_URL);
    await mod.default(); // fetches and instantiates pkg/vitrine_bg.wasm
  } catch (err) {
    throw new Error(
      `Could not load the recommender engine (${ENGINE_URL}): ${err.message}. ` +
        'Build it first with scripts/demo.',
    );
  }
  const bytes = new Uint8Array(await (await fetchOk(BUNDLE_URL)).arrayBuffer());
  try {
    return mod.Recommender.fromBytes(bytes);
  } catch (err) {
    throw new Error(`The model bundle ${BUNDLE_URL} was rejected: ${err.message ?? err}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

function productCard(p, { lazy = true, score = null, fresh = false, compact = false } = {}) {
  const catName = state.categoryName.get(p.category) ?? p.category;
  return h(
    'article',
    {
      class: `card${fresh ? ' fresh' : ''}`,
      dataset: { id: p.id, category: p.category },
      title: score == null ? null : `score ${score.toFixed(3)}`,
    },
    h(
      'button',
      { class: 'card-main', type: 'button', 'aria-label': `${p.name}, ${priceFormat.format(p.price)}` },
      h('img', { src: p.image, alt: '', width: 240, height: 180, loading: lazy ? 'lazy' : null, decoding: 'async' }),
      h(
        'span',
        { class: 'card-body' },
        h('span', { class: 'card-cat' }, catName),
        h('span', { class: 'card-name' }, p.name),
      ),
    ),
    h(
      'span',
      { class: 'card-foot' },
      h('span', { class: 'price' }, priceFormat.format(p.price)),
      h('button', { class: 'add', type: 'button', 'aria-label': `Add ${p.name} to cart` }, compact ? 'Add' : 'Add to cart'),
    ),
  );
}

function renderShelf() {
  const t0 = performance.now();
  // Items the shopper already interacted with are left out: the shelf is for discovery.
  const recs = state.rec.recommend({ k: SHELF_SIZE, excludeSeen: true });
  const ms = performance.now() - t0;

  const cards = [];
  for (const { id, score } of recs) {
    const p = state.byId.get(id);
    if (!p) continue; // in the model but not in the catalog: nothing to show
    const fresh = state.events.length > 0 && !state.lastShelf.has(id);
    cards.push(productCard(p, { lazy: false, score, fresh, compact: true }));
  }
  state.lastShelf = new Set(recs.map((r) => r.id));
  const shelf = $('#shelf');
  shelf.replaceChildren(...cards);
  shelf.scrollLeft = 0;
  shelf.setAttribute('aria-busy', 'false');

  const n = state.events.length;
  $('#shelf-note').textContent =
    n === 0
      ? `Popular right now. Click any product to personalise — ranked on this device in ${ms.toFixed(1)} ms.`
      : `Based on your ${n} action${n === 1 ? '' : 's'} in this session — ranked on this device in ${ms.toFixed(1)} ms.`;
  window.vitrineShelfRenders += 1;
}

function renderFilters() {
  const buttons = [{ id: 'all', name: 'All' }, ...state.categories].map((c) =>
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
  $('#filters').replaceChildren(...buttons);
}

function renderGrid() {
  const items = state.filter === 'all' ? state.products : state.products.filter((p) => p.category === state.filter);
  $('#grid').replaceChildren(...items.map((p) => productCard(p)));
  const label = state.filter === 'all' ? 'All products' : state.categoryName.get(state.filter);
  $('#catalog-title').textContent = label;
  $('#catalog-count').textContent = `${items.length} products`;
}

const EVENT_LABEL = { view: 'Viewed', click: 'Clicked', add_to_cart: 'Added to cart', purchase: 'Bought' };

function renderSession() {
  const items = [...state.events].reverse().map((e) => {
    const p = state.byId.get(e.item);
    const time = new Date(e.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    return h(
      'li',
      { dataset: { type: e.type, id: e.item } },
      h('span', { class: `ev ev-${e.type}` }, EVENT_LABEL[e.type] ?? e.type),
      h('span', { class: 'ev-name' }, p ? p.name : e.item),
      h('time', { class: 'ev-time' }, time),
    );
  });
  $('#session-list').replaceChildren(...items);
  $('#session-empty').hidden = items.length > 0;
  $('#reset').disabled = items.length === 0;
}

function showError(message) {
  const el = $('#error');
  el.textContent = message;
  el.hidden = false;
  window.vitrineError = message;
  console.error(`[vitrine demo] ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Shopper actions

function track(type, item) {
  const event = { type, item, ts: Date.now() };
  try {
    state.rec.track(event);
  } catch (err) {
    showError(`Could not track ${type} on ${item}: ${err.message ?? err}`);
    return;
  }
  state.events.push(event);
  renderSession();
  renderShelf();
}

function onCardClick(e) {
  const card = e.target.closest('.card');
  if (!card) return;
  track(e.target.closest('.add') ? 'add_to_cart' : 'click', card.dataset.id);
}

function onFilterClick(e) {
  const chip = e.target.closest('[data-filter]');
  if (!chip || chip.dataset.filter === state.filter) return;
  state.filter = chip.dataset.filter;
  renderFilters();
  renderGrid();
}

function onReset() {
  state.rec.reset();
  state.events = [];
  state.lastShelf = new Set();
  renderSession();
  renderShelf();
}

// ---------------------------------------------------------------------------------------------

async function main() {
  // Load both at once; if only the engine fails, the catalog is still shown (without a shelf).
  const [catalog, engine] = await Promise.allSettled([loadCatalog(), loadEngine()]);
  if (catalog.status === 'rejected') throw catalog.reason;
  const { products, categories } = catalog.value;
  state.products = products;
  state.byId = new Map(products.map((p) => [p.id, p]));
  state.categories = categories;
  state.categoryName = new Map(categories.map((c) => [c.id, c.name]));
  $('#filters').addEventListener('click', onFilterClick);
  renderFilters();
  renderGrid();
  if (engine.status === 'rejected') throw engine.reason;

  const rec = engine.value;
  state.rec = rec;
  $('#shelf').addEventListener('click', onCardClick);
  $('#grid').addEventListener('click', onCardClick);
  $('#reset').addEventListener('click', onReset);
  renderSession();
  renderShelf();
  $('#engine-info').textContent =
    `Model: ${rec.itemCount} items · catalog: ${products.length} products in ${categories.length} categories.`;
  window.vitrineReady = true;
}

window.addEventListener('unhandledrejection', (e) => showError(String(e.reason?.message ?? e.reason)));
main().catch((err) => {
  $('#shelf').setAttribute('aria-busy', 'false');
  $('#shelf').classList.add('unavailable');
  $('#shelf-note').textContent = 'Recommendations are unavailable.';
  showError(err.message ?? String(err));
});
