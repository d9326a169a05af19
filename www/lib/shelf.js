// <vitrine-shelf>: a drop-in shelf of recommended products.
//
//   import { defineVitrineShelf } from 'vitrine/shelf';
//   defineVitrineShelf();            // registers <vitrine-shelf> (explicit: the package has no side effects)
//
//   <vitrine-shelf src="/store.vtr" catalog="/catalog.json" k="8" placement="home"
//                  options='{"excludeSeen": true}' reasons href-template="/p/{id}"></vitrine-shelf>
//
// Or hand it an instance and a catalog the page already has:
//   shelf.vitrine = await Vitrine.load(…);  shelf.catalog = products;
//
// Renders product cards (image, name, price, link) in the engine's order, re-renders within a frame
// after every track() on its Vitrine, and fires `vitrine:click`, `vitrine:impression`,
// `vitrine:render` and `vitrine:error` (bubbling, composed). It fetches nothing but its `src` and
// `catalog` URLs (and the images the catalog names).

import { Vitrine } from './index.js';
import { reasonText } from './reasons.js';

const STYLE = `
:host {
  --vitrine-card-width: 168px;
  --vitrine-gap: 12px;
  --vitrine-radius: 12px;
  --vitrine-card-bg: #fff;
  --vitrine-card-border: 1px solid #e3e6eb;
  --vitrine-shadow: 0 1px 2px rgba(16, 24, 40, 0.05), 0 1px 3px rgba(16, 24, 40, 0.06);
  --vitrine-shadow-hover: 0 6px 16px rgba(16, 24, 40, 0.1);
  --vitrine-image-bg: #eef0f3;
  --vitrine-muted: #6a7280;
  --vitrine-accent: #4f46e5;
  --vitrine-reason: #4338ca;
  --vitrine-price: inherit;
  display: block;
  font: inherit;
  color: inherit;
}
:host([hidden]) { display: none; }
.list {
  display: grid;
  grid-auto-flow: column;
  grid-auto-columns: var(--vitrine-card-width);
  gap: var(--vitrine-gap);
  overflow-x: auto;
  padding: 4px 2px 10px;
  scroll-snap-type: x proximity;
  scroll-padding-inline: 2px;
}
:host([layout="grid"]) .list {
  grid-auto-flow: row;
  grid-template-columns: repeat(auto-fill, minmax(var(--vitrine-card-width), 1fr));
  overflow: visible;
}
.card {
  scroll-snap-align: start;
  display: flex;
  min-width: 0;
  background: var(--vitrine-card-bg);
  border: var(--vitrine-card-border);
  border-radius: var(--vitrine-radius);
  box-shadow: var(--vitrine-shadow);
  overflow: hidden;
  transition: transform 0.15s ease, box-shadow 0.15s ease;
}
.card:hover { transform: translateY(-2px); box-shadow: var(--vitrine-shadow-hover); }
.card.fresh { animation: fresh 0.4s ease-out; }
@keyframes fresh { from { opacity: 0; transform: translateY(6px); } to { opacity: 1; transform: none; } }
.link {
  display: flex; flex-direction: column; flex: 1; min-width: 0;
  color: inherit; text-decoration: none; font: inherit; text-align: left;
  background: none; border: 0; padding: 0; margin: 0; cursor: pointer;
}
.link:focus-visible { outline: 3px solid var(--vitrine-accent); outline-offset: -3px; border-radius: var(--vitrine-radius); }
.image { display: block; width: 100%; height: auto; aspect-ratio: 4 / 3; object-fit: cover; background: var(--vitrine-image-bg); }
.body { display: flex; flex-direction: column; gap: 2px; padding: 8px 10px 10px; min-width: 0; flex: 1; }
.category { font-size: 0.68rem; text-transform: uppercase; letter-spacing: 0.06em; color: var(--vitrine-muted); font-weight: 600; }
.name {
  font-weight: 600; font-size: 0.86rem; line-height: 1.3; min-height: 2.6em;
  display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden;
}
.price { font-weight: 700; font-variant-numeric: tabular-nums; color: var(--vitrine-price); margin-top: 2px; }
.reason { font-size: 0.72rem; line-height: 1.3; color: var(--vitrine-reason); margin-top: 4px; }
.reason:empty { display: none; }
.placeholder { height: 250px; border-radius: var(--vitrine-radius); background: linear-gradient(90deg, #eef0f3, #f7f8fa, #eef0f3); background-size: 200% 100%; animation: shimmer 1.2s linear infinite; }
@keyframes shimmer { from { background-position: 100% 0; } to { background-position: -100% 0; } }
.empty { margin: 0; padding: 12px 2px; color: var(--vitrine-muted); font-size: 0.88rem; }
@media (prefers-reduced-motion: reduce) { .card, .card.fresh, .placeholder { transition: none; animation: none; } }
`;

let sheet = null;
function styles(root) {
  try {
    sheet ??= new CSSStyleSheet();
    if (!sheet.cssRules.length) sheet.replaceSync(STYLE);
    root.adoptedStyleSheets = [sheet];
  } catch {
    const el = document.createElement('style');
    el.textContent = STYLE;
    root.append(el);
  }
}

// Shelves that name the same bundle URL (and options) share one engine.
const sharedEngines = new Map();
function sharedEngine(src, options) {
  const key = JSON.stringify([new URL(src, document.baseURI).href, options]);
  if (!sharedEngines.has(key)) {
    const p = Vitrine.load(src, options);
    p.catch(() => sharedEngines.delete(key));
    sharedEngines.set(key, p);
  }
  return sharedEngines.get(key);
}

const catalogs = new Map();
function fetchCatalog(url) {
  const href = new URL(url, document.baseURI).href;
  if (!catalogs.has(href)) {
    const p = fetch(href, { credentials: 'same-origin' }).then(async (res) => {
      if (!res.ok) throw new Error(`could not fetch the catalog ${url}: HTTP ${res.status}`);
      return res.json();
    });
    p.catch(() => catalogs.delete(href));
    catalogs.set(href, p);
  }
  return catalogs.get(href);
}

/** Accepts an array of products, {products, categories}, or a Map id -> product. */
function indexCatalog(catalog) {
  const byId = new Map();
  const categoryNames = new Map();
  if (!catalog) return { byId, categoryNames };
  const products = catalog instanceof Map ? [...catalog.values()] : Array.isArray(catalog) ? catalog : catalog.products;
  for (const p of products ?? []) if (p && p.id != null) byId.set(String(p.id), p);
  for (const c of (!Array.isArray(catalog) && catalog.categories) || []) categoryNames.set(c.id, c.name ?? c.id);
  return { byId, categoryNames };
}

const h = (tag, props = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === 'part' || k === 'class' || k.startsWith('aria-') || k.startsWith('data-') || k === 'role') el.setAttribute(k, v);
    else el[k] = v;
  }
  el.append(...children.filter((c) => c != null));
  return el;
};

export class VitrineShelf extends HTMLElement {
  static observedAttributes = [
    'src', 'catalog', 'k', 'placement', 'mode', 'item', 'options', 'reasons', 'href-template', 'label',
    'currency', 'locale', 'worker', 'integrity', 'consent',
  ];

  #root;
  #list;
  #empty;
  #vitrine = null;
  #ownsEngine = false;
  #catalog = null;
  #index = indexCatalog(null);
  #options = {};
  #items = [];
  #shown = new Set();
  #impressed = new Set();
  #pendingImpressions = [];
  #observer = null;
  #frame = 0;
  #token = 0;
  #stale = false; // a render was skipped while hidden
  #inflight = 0;
  #resize = null;
  #connected = false;
  #readyResolve;
  #onChange = () => this.#schedule();

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    styles(this.#root);
    this.#list = h('div', { class: 'list', part: 'list', role: 'list', 'aria-busy': 'true' });
    this.#empty = h('p', { class: 'empty', part: 'empty', hidden: true });
    this.#root.append(this.#list, this.#empty);
    this.#list.addEventListener('click', (e) => this.#onClick(e));
    this.#list.addEventListener('keydown', (e) => this.#onKey(e));
    /** Resolves after the first render. */
    this.ready = new Promise((r) => (this.#readyResolve = r));
    /** Renders so far. */
    this.renderCount = 0;
  }

  // -- properties -------------------------------------------------------------------------------

  /** The Vitrine instance the shelf uses (set it to share the page's own). */
  get vitrine() {
    return this.#vitrine;
  }
  set vitrine(v) {
    if (v === this.#vitrine) return;
    this.#vitrine?.removeEventListener('change', this.#onChange);
    this.#vitrine = v;
    this.#ownsEngine = false;
    if (v && this.#connected) v.addEventListener('change', this.#onChange);
    this.#schedule();
  }

  /** Products to show: an array of {id, name, price, image, url?, category?}, or {products, categories}. */
  get catalog() {
    return this.#catalog;
  }
  set catalog(c) {
    this.#catalog = c;
    this.#index = indexCatalog(c);
    this.#schedule();
  }

  /** Request options merged into every call (the `options` attribute, as an object). */
  get options() {
    return { ...this.#options };
  }
  set options(o) {
    this.#options = o && typeof o === 'object' ? { ...o } : {};
    this.#schedule();
  }

  /** The results last rendered: [{id, score, rank, product, reason}]. */
  get items() {
    return this.#items.map((i) => ({ ...i }));
  }

  get k() {
    const k = Number(this.getAttribute('k') ?? 8);
    return Number.isInteger(k) && k > 0 ? k : 8;
  }
  get placement() {
    return this.getAttribute('placement') ?? this.id ?? '';
  }
  get mode() {
    return this.getAttribute('mode') === 'similar' ? 'similar' : 'recommend';
  }

  /** True while a render is scheduled, running, or deferred until the shelf is visible. */
  get pending() {
    return this.#frame !== 0 || this.#stale || this.#inflight > 0;
  }

  /** Re-renders now (e.g. after the page changed something the shelf cannot see). */
  refresh() {
    return this.#render();
  }

  // -- lifecycle --------------------------------------------------------------------------------

  connectedCallback() {
    this.#connected = true;
    this.#vitrine?.addEventListener('change', this.#onChange);
    this.#list.setAttribute('aria-label', this.getAttribute('label') ?? 'Recommended products');
    // A hidden shelf does not rank (each ranking may spend privacy budget): it catches up when shown.
    if ('ResizeObserver' in globalThis && !this.#resize) {
      this.#resize = new ResizeObserver(() => {
        if (this.#stale && this.#visible()) this.#schedule();
      });
      this.#resize.observe(this);
    }
    if ('IntersectionObserver' in globalThis && !this.#observer) {
      this.#observer = new IntersectionObserver((entries) => this.#onIntersect(entries), { threshold: 0.5 });
    }
    if (!this.#list.childElementCount) this.#placeholders();
    this.#loadFromAttributes();
    this.#schedule();
  }

  disconnectedCallback() {
    this.#connected = false;
    this.#vitrine?.removeEventListener('change', this.#onChange);
    this.#observer?.disconnect();
    this.#observer = null;
    this.#resize?.disconnect();
    this.#resize = null;
    cancelAnimationFrame(this.#frame);
    this.#frame = 0;
  }

  attributeChangedCallback(name, old, value) {
    if (old === value) return;
    if (name === 'options') {
      try {
        this.#options = value ? JSON.parse(value) : {};
      } catch (err) {
        this.#fail(new Error(`<vitrine-shelf> options is not valid JSON: ${err.message}`));
        return;
      }
    }
    if (name === 'label') this.#list.setAttribute('aria-label', value ?? 'Recommended products');
    if (!this.#connected) return;
    if (name === 'src' || name === 'catalog' || name === 'worker' || name === 'integrity' || name === 'consent') {
      this.#loadFromAttributes();
    }
    this.#schedule();
  }

  async #loadFromAttributes() {
    const src = this.getAttribute('src');
    const catalogUrl = this.getAttribute('catalog');
    try {
      const jobs = [];
      if (src && (!this.#vitrine || this.#ownsEngine)) {
        const opts = { worker: this.hasAttribute('worker'), consent: this.getAttribute('consent') ?? 'pending' };
        if (this.hasAttribute('integrity')) opts.integrity = this.getAttribute('integrity');
        jobs.push(
          sharedEngine(src, opts).then((v) => {
            if (this.getAttribute('src') !== src) return;
            this.vitrine = v;
            this.#ownsEngine = true;
          }),
        );
      }
      if (catalogUrl && !this.#catalogFromProperty) {
        jobs.push(
          fetchCatalog(catalogUrl).then((c) => {
            if (this.getAttribute('catalog') !== catalogUrl) return;
            this.#catalog = c;
            this.#index = indexCatalog(c);
          }),
        );
      }
      await Promise.all(jobs);
      this.#schedule();
    } catch (err) {
      this.#fail(err);
    }
  }

  get #catalogFromProperty() {
    return this.#catalog != null && !this.hasAttribute('catalog');
  }

  // -- rendering --------------------------------------------------------------------------------

  #schedule() {
    if (!this.#connected || this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#render();
    });
  }

  #placeholders() {
    this.#list.replaceChildren(...Array.from({ length: Math.min(this.k, 8) }, () => h('div', { class: 'placeholder', 'aria-hidden': 'true' })));
  }

  #visible() {
    if (typeof this.checkVisibility === 'function') return this.checkVisibility();
    return this.getClientRects().length > 0;
  }

  async #render() {
    const vitrine = this.#vitrine;
    if (!vitrine || this.#index.byId.size === 0) return;
    if (!this.#visible()) {
      this.#stale = true;
      return;
    }
    this.#stale = false;
    this.#inflight += 1;
    try {
      await this.#renderNow(vitrine);
    } finally {
      this.#inflight -= 1;
    }
  }

  async #renderNow(vitrine) {
    const token = ++this.#token;
    const t0 = performance.now();
    const opts = { ...this.#options, k: this.k };
    const wantReasons = this.hasAttribute('reasons') && vitrine.supports('explain');
    if (wantReasons) opts.explain = true;
    let results;
    try {
      if (this.mode === 'similar') {
        const item = this.getAttribute('item');
        if (!item) return; // nothing to be similar to yet
        results = await vitrine.similar(item, opts);
      } else {
        results = await vitrine.recommend(opts);
      }
    } catch (err) {
      if (token === this.#token) this.#fail(err);
      return;
    }
    if (token !== this.#token || !this.#connected) return; // a newer render started
    const ms = performance.now() - t0;
    const nameOf = (id) => this.#index.byId.get(id)?.name;
    const items = [];
    for (const r of results) {
      const product = this.#index.byId.get(r.id);
      if (!product) continue; // in the model but not in the catalog: nothing to show
      items.push({ ...r, product, reason: wantReasons ? reasonText(r.why, nameOf) : null });
    }
    // A reason shared by every card ("Popular right now" on a cold start) says nothing per card.
    if (items.length > 1 && items.every((i) => i.reason === items[0].reason && !i.why?.personalized)) {
      for (const i of items) i.reason = null;
    }
    this.#paint(items);
    this.#list.setAttribute('aria-busy', 'false');
    this.renderCount += 1;
    this.#readyResolve?.();
    this.#readyResolve = null;
    this.dispatchEvent(
      new CustomEvent('vitrine:render', {
        bubbles: true,
        composed: true,
        detail: { placement: this.placement, ids: items.map((i) => i.id), ms, warnings: [...(results.warnings ?? [])] },
      }),
    );
  }

  #paint(items) {
    const price = new Intl.NumberFormat(this.getAttribute('locale') ?? (document.documentElement.lang || undefined), {
      style: 'currency',
      currency: this.getAttribute('currency') ?? 'USD',
    });
    const template = this.getAttribute('href-template');
    const hadShelf = this.#shown.size > 0;
    this.#observer?.disconnect();
    const cards = items.map((item, i) => {
      const p = item.product;
      const href = p.url ?? (template ? template.replaceAll('{id}', encodeURIComponent(item.id)) : null);
      const catName = this.#index.categoryNames.get(p.category) ?? p.category;
      const body = h(
        'span',
        { class: 'body', part: 'body' },
        catName ? h('span', { class: 'category', part: 'category' }, String(catName)) : null,
        h('span', { class: 'name', part: 'name' }, String(p.name ?? item.id)),
        p.price != null && Number.isFinite(Number(p.price)) ? h('span', { class: 'price', part: 'price' }, price.format(Number(p.price))) : null,
        item.reason ? h('span', { class: 'reason', part: 'reason' }, item.reason) : null,
      );
      const img = p.image ? h('img', { class: 'image', part: 'image', src: p.image, alt: '', width: 240, height: 180, decoding: 'async' }) : null;
      const link = href
        ? h('a', { class: 'link', part: 'link', href }, img, body)
        : h('button', { class: 'link', part: 'link', type: 'button' }, img, body);
      return h(
        'div',
        {
          class: `card${hadShelf && !this.#shown.has(item.id) ? ' fresh' : ''}`,
          part: 'card',
          role: 'listitem',
          'data-id': item.id,
          'data-category': p.category ?? '',
          'data-rank': String(i + 1),
        },
        link,
      );
    });
    this.#items = items.map(({ product, ...rest }) => ({ ...rest, product }));
    this.#shown = new Set(items.map((i) => i.id));
    this.#impressed = new Set();
    this.#list.replaceChildren(...cards);
    this.#list.scrollLeft = 0;
    const emptyText = this.getAttribute('empty-text');
    this.#empty.hidden = cards.length > 0 || !emptyText;
    this.#empty.textContent = emptyText ?? '';
    for (const c of cards) this.#observer?.observe(c);
  }

  #fail(err) {
    this.#list.replaceChildren();
    this.#list.setAttribute('aria-busy', 'false');
    this.dispatchEvent(
      new CustomEvent('vitrine:error', { bubbles: true, composed: true, detail: { error: err, message: String(err?.message ?? err) } }),
    );
  }

  // -- interaction ------------------------------------------------------------------------------

  #onClick(e) {
    const card = e.target.closest('.card');
    if (!card) return;
    const id = card.dataset.id;
    const item = this.#items.find((i) => i.id === id);
    const ev = new CustomEvent('vitrine:click', {
      bubbles: true,
      composed: true,
      cancelable: true,
      detail: { id, rank: Number(card.dataset.rank), placement: this.placement, product: item?.product },
    });
    if (!this.dispatchEvent(ev)) e.preventDefault();
    if (this.hasAttribute('track-clicks') && this.#vitrine) {
      this.#vitrine.track({ type: 'click', item: id }).catch((err) => this.#fail(err));
    }
  }

  #onKey(e) {
    const links = [...this.#list.querySelectorAll('.link')];
    const i = links.indexOf(this.#root.activeElement);
    if (i < 0) return;
    const to = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: links.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    links[Math.max(0, Math.min(links.length - 1, to))].focus();
  }

  #onIntersect(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const id = entry.target.dataset.id;
      if (this.#impressed.has(id)) continue;
      this.#impressed.add(id);
      this.#pendingImpressions.push({ id, rank: Number(entry.target.dataset.rank) });
    }
    if (!this.#pendingImpressions.length) return;
    const items = this.#pendingImpressions;
    this.#pendingImpressions = [];
    this.dispatchEvent(
      new CustomEvent('vitrine:impression', { bubbles: true, composed: true, detail: { placement: this.placement, items } }),
    );
  }
}

/** Registers the element (default name `vitrine-shelf`). Safe to call more than once. */
export function defineVitrineShelf(name = 'vitrine-shelf') {
  if (!customElements.get(name)) customElements.define(name, class extends VitrineShelf {});
  return customElements.get(name);
}
