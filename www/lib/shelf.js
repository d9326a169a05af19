// <vitrine-shelf>: a drop-in shelf of recommended products.
//
//   import { defineVitrineShelf } from 'vitrine/shelf';
//   defineVitrineShelf();            // registers <vitrine-shelf> (explicit: the package has no side effects)
//
//   <vitrine-shelf src="/store.vtr" catalog="/catalog.json" k="8" placement="home"
//                  options='{"excludeSeen": true}' reasons add-to-cart href-template="/p/{id}"></vitrine-shelf>
//
// Without `catalog`, the shelf shows the records the bundle itself carries (`vitrine train
// --catalog`, and every update `vitrine.applyUpdate()` applied): one file, nothing to keep in step.
// `mode`: recommend (default), similar, bought-together, also-bought (with `item` / similarTo),
// trending.
// Or hand it an instance and a catalog the page already has:
//   shelf.vitrine = await Vitrine.load(…);  shelf.catalog = products;
//
// Importing this module does nothing browser-specific (it can be imported during server-side
// rendering): the element class is created by defineVitrineShelf(), in the browser.
//
// Renders product cards in the engine's order, re-renders within a frame after every track() on
// its Vitrine (keeping the cards that did not change, and the keyboard focus), and fires
// `vitrine:click`, `vitrine:add-to-cart`, `vitrine:impression`, `vitrine:render` and `vitrine:error`
// (bubbling, composed). It fetches nothing but its `src` and `catalog` URLs (and the images the
// catalog names, lazily).

import { reasonText } from './reasons.js';
import { indexCatalog, PriceFormatter, currencyCode } from './catalog.js';
import { cardView, buildCard, counterpart } from './cards.js';
import { resolveStrings, checkStrings } from './strings.js';
import { adoptStyle } from './shelf-style.js';
import { attachIsolatedShelf, sharedIsolated } from './isolated/client.js';
import { SHELF_MODES } from './isolated/protocol.js';
import { sharedEngine, fetchCatalog } from './shelf-sources.js';

export { setShelfStrings, DEFAULT_STRINGS } from './strings.js';


const OBSERVED = [
  'src', 'catalog', 'k', 'placement', 'mode', 'item', 'options', 'reasons', 'href-template', 'label',
  'currency', 'locale', 'worker', 'integrity', 'consent', 'add-to-cart', 'template', 'strings', 'empty-text',
  'isolated', 'frame-src', 'parts', 'layout', 'track-clicks',
];
/** Attributes only an isolated shelf reads when they change (the frame needs them as settings). */
const ISOLATED_ONLY = new Set(['isolated', 'frame-src', 'parts', 'layout', 'track-clicks']);

const templateVersions = new WeakMap(); // <template> -> a number that changes when it is replaced
let nextTemplateVersion = 1;

let ShelfClass = null;

/** Creates the element class (once, in the browser). */
function createShelfClass() {
  if (ShelfClass) return ShelfClass;
  if (typeof HTMLElement === 'undefined') {
    throw new TypeError('<vitrine-shelf> needs a browser (HTMLElement): call defineVitrineShelf() in the page, not on the server');
  }

  class VitrineShelf extends HTMLElement {
    static observedAttributes = OBSERVED;

    #root;
    #list;
    #empty;
    #vitrine = null;
    #ownsEngine = false;
    #catalog = null;
    #index = indexCatalog(null);
    #options = {};
    #strings = null;
    #similarTo = null;
    #items = [];
    #shownKeys = null;
    #cardKeys = new WeakMap();
    #recommendationId = null;
    #impressed = new Set();
    #pendingImpressions = [];
    #observer = null;
    #frame = 0;
    #token = 0;
    #stale = false; // a render was skipped while hidden
    #inflight = 0;
    #resize = null;
    #connected = false;
    #templateStyles = null;
    #iso = null; // the frame, while the shelf renders isolated (README "Isolated mode")
    #parts = null;
    #loadQueued = false;
    #readyResolve;
    #readyReject;
    #ranker = null;
    #vitrineResolve;
    #bundleCatalogOf = null; // the Vitrine whose own catalog #index holds (no catalog given)
    #onChange = (e) => {
      if (e?.detail?.reason === 'catalog') this.#bundleCatalogOf = null; // an update brought records
      this.#schedule();
    };

    constructor() {
      super();
      this.#root = this.attachShadow({ mode: 'open' });
      adoptStyle(this.#root);
      this.#list = document.createElement('div');
      this.#list.className = 'list';
      for (const [k, v] of [['part', 'list'], ['role', 'list'], ['aria-busy', 'true']]) this.#list.setAttribute(k, v);
      this.#empty = document.createElement('p');
      this.#empty.className = 'empty';
      this.#empty.setAttribute('part', 'empty');
      this.#empty.hidden = true;
      this.#root.append(this.#list, this.#empty);
      this.#list.addEventListener('click', (e) => this.#onClick(e));
      this.#list.addEventListener('keydown', (e) => this.#onKey(e));
      /** Settles once: the first render, or the error of a first attempt that failed (its vitrine:error). */
      this.ready = new Promise((resolve, reject) => ((this.#readyResolve = resolve), (this.#readyReject = reject)));
      this.ready.catch(() => {}); // a page that never awaits it sees no unhandled rejection
      /** Resolves to the shelf's Vitrine instance once it has one (loaded from `src`, or set). */
      this.vitrineReady = new Promise((r) => (this.#vitrineResolve = r));
      /** Renders so far. */
      this.renderCount = 0;
    }

    // -- properties -----------------------------------------------------------------------------

    /** The Vitrine instance the shelf uses (set it to share the page's own). */
    get vitrine() {
      return this.#vitrine;
    }
    set vitrine(v) {
      if (v === this.#vitrine) return;
      this.#vitrine?.removeEventListener('change', this.#onChange);
      this.#vitrine = v;
      this.#ownsEngine = false;
      if (v) this.#vitrineResolve?.(v);
      if (v && this.#connected) v.addEventListener('change', this.#onChange);
      this.#schedule();
    }

    /** Products to show: an array of catalog records, {products, categories}, or a Map id -> record (a string: a URL, as the attribute). */
    get catalog() {
      return this.#catalog;
    }
    set catalog(c) {
      if (typeof c === 'string') {
        this.setAttribute('catalog', c);
        return;
      }
      this.#catalog = c;
      this.#index = indexCatalog(c);
      this.#schedule();
    }

    /** `(options, vitrine) => Promise<results>`: ranks instead of the mode's call (e.g. `experiments.ranker(id)`); not isolated. */
    get ranker() {
      return this.#ranker;
    }
    set ranker(f) {
      this.#ranker = typeof f === 'function' ? f : null;
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

    /** This shelf's strings on top of the locale's (see setShelfStrings); the `strings` attribute as an object. */
    get strings() {
      return this.#strings ? { ...this.#strings } : null;
    }
    set strings(s) {
      try {
        this.#strings = s == null ? null : { ...checkStrings(s, '<vitrine-shelf> strings') };
      } catch (err) {
        this.#fail(err);
        return;
      }
      this.#repaint();
      this.#iso?.update();
    }

    /** In `mode="similar"`, `"bought-together"`, `"also-bought"`: the item(s) the shelf is about (overrides the `item` attribute); an array for a cart. */
    get similarTo() {
      return this.#similarTo ?? this.getAttribute('item');
    }
    set similarTo(ids) {
      this.#similarTo = ids == null ? null : Array.isArray(ids) ? [...ids] : String(ids);
      this.#schedule();
    }

    /** Isolated mode: CSS declarations per part, `{card: {'border-radius': '4px'}}` (the `parts` attribute as an object). */
    get parts() {
      return this.#parts;
    }
    set parts(p) {
      this.#parts = p == null ? null : { ...p };
      this.#schedule();
    }

    /** The results last rendered: [{id, score, rank, product, reason}]. */
    get items() {
      return this.#items.map(({ productView, ...i }) => i);
    }

    /** The random id of the result set on display (repeated by its click and impression events). */
    get recommendationId() {
      return this.#recommendationId;
    }

    get k() {
      const k = Number(this.getAttribute('k') ?? 8);
      return Number.isInteger(k) && k > 0 ? k : 8;
    }
    set k(v) {
      this.setAttribute('k', String(v));
    }
    get placement() {
      return this.getAttribute('placement') ?? this.id ?? '';
    }
    set placement(v) {
      this.setAttribute('placement', String(v));
    }
    /** `recommend` (default), `similar`, `bought-together`, `also-bought` or `trending`. */
    get mode() {
      const m = this.getAttribute('mode');
      return SHELF_MODES.includes(m) ? m : 'recommend';
    }
    set mode(v) {
      this.setAttribute('mode', String(v));
    }

    /** True while a render is scheduled, running, or deferred until the shelf is visible. */
    get pending() {
      return this.#frame !== 0 || this.#stale || this.#inflight > 0;
    }

    /** Re-renders now (e.g. after the page changed something the shelf cannot see). */
    refresh() {
      if (this.#iso) return this.#iso.update({ force: true });
      return this.#render();
    }

    /** True when the shelf renders in an isolated frame: the `isolated` attribute, or an isolated Vitrine. */
    #isolated() {
      return this.hasAttribute('isolated') || this.#vitrine?.isolated === true;
    }

    /** Attaches or detaches the isolated frame as the mode and connection require; true when isolated. */
    #syncIsolation() {
      const want = this.#connected && this.#isolated();
      if (want && !this.#iso) {
        this.#iso = attachIsolatedShelf(this, this.#root, {
          vitrine: () => this.#vitrine,
          onReady: () => this.#settleReady(),
          onError: (err) => this.#fail(err),
        });
        this.#list.hidden = true;
        this.#empty.hidden = true;
      } else if (!want && this.#iso) {
        this.#iso.destroy();
        this.#iso = null;
        this.#list.hidden = false;
      }
      return want;
    }

    // -- lifecycle ------------------------------------------------------------------------------

    connectedCallback() {
      // Properties the page set before the element was defined sit on the instance and hide the
      // class's accessors: hand them to the accessors.
      for (const prop of ['vitrine', 'catalog', 'options', 'strings', 'similarTo', 'k', 'placement', 'mode', 'parts', 'ranker']) {
        if (Object.hasOwn(this, prop)) {
          const value = this[prop];
          delete this[prop];
          this[prop] = value;
        }
      }
      this.#connected = true;
      this.#vitrine?.addEventListener('change', this.#onChange);
      this.#list.setAttribute('aria-label', this.getAttribute('label') ?? this.#resolvedStrings().label);
      // A hidden shelf does not rank (each ranking may spend privacy budget): it catches up when shown.
      if ('ResizeObserver' in globalThis && !this.#resize) {
        this.#resize = new ResizeObserver(() => {
          if (this.#stale && this.#visible()) this.#schedule();
        });
        this.#resize.observe(this);
      }
      if ('IntersectionObserver' in globalThis && !this.#observer) {
        this.#observer = new IntersectionObserver((entries) => this.#onIntersect(entries), { threshold: 0.5 });
        for (const c of this.#list.querySelectorAll('.card')) this.#observer.observe(c);
      }
      if (!this.#list.childElementCount) this.#placeholders();
      this.#loadSoon();
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
      this.#syncIsolation();
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
      if (name === 'strings') {
        try {
          this.#strings = value ? { ...checkStrings(JSON.parse(value), '<vitrine-shelf> strings') } : null;
        } catch (err) {
          this.#fail(new Error(`<vitrine-shelf> strings: ${err.message}`));
          return;
        }
      }
      if (name === 'label' || name === 'strings' || name === 'locale') {
        this.#list.setAttribute('aria-label', this.getAttribute('label') ?? this.#resolvedStrings().label);
      }
      if (!this.#connected) return;
      if (ISOLATED_ONLY.has(name) && !this.#isolated() && name !== 'isolated') return;
      if (name === 'src' || name === 'frame-src' || name === 'isolated' || name === 'catalog' || name === 'worker' || name === 'integrity' || name === 'consent') {
        this.#loadSoon();
      }
      this.#schedule();
    }

    /**
     * Loads what the attributes name after the current task's property assignments (so that
     * `shelf.catalog = url; shelf.vitrine = isolatedInstance` never fetches the catalog here).
     */
    #loadSoon() {
      if (this.#loadQueued) return;
      this.#loadQueued = true;
      queueMicrotask(() => {
        this.#loadQueued = false;
        this.#loadFromAttributes();
      });
    }

    async #loadFromAttributes() {
      const src = this.getAttribute('src');
      const catalogUrl = this.getAttribute('catalog');
      if (this.#isolated()) {
        // The frame loads the bundle and the catalog itself; here only the isolated engine is made.
        const frame = this.getAttribute('frame-src');
        if (!src || (this.#vitrine && !this.#ownsEngine)) return;
        if (!frame) return this.#fail(new Error('<vitrine-shelf isolated src> needs frame-src (the isolated frame\'s URL)'));
        const opts = { worker: this.hasAttribute('worker'), consent: this.getAttribute('consent') ?? 'pending' };
        if (this.hasAttribute('integrity')) opts.integrity = this.getAttribute('integrity');
        try {
          const v = await sharedIsolated(src, frame, opts);
          if (this.getAttribute('src') !== src || this.getAttribute('frame-src') !== frame) return;
          this.vitrine = v;
          this.#ownsEngine = true;
        } catch (err) {
          this.#fail(err);
        }
        return;
      }
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
        if (catalogUrl && !(this.#catalog != null && !this.hasAttribute('catalog'))) {
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

    // -- rendering ------------------------------------------------------------------------------

    #schedule() {
      if (this.#syncIsolation()) return this.#iso.update();
      if (!this.#connected || this.#frame) return;
      this.#frame = requestAnimationFrame(() => {
        this.#frame = 0;
        this.#render();
      });
    }

    #placeholders() {
      const n = Math.min(this.k, 8);
      this.#list.replaceChildren(
        ...Array.from({ length: n }, () => {
          const p = document.createElement('div');
          p.className = 'placeholder';
          p.setAttribute('aria-hidden', 'true');
          return p;
        }),
      );
    }

    #visible() {
      if (typeof this.checkVisibility === 'function') return this.checkVisibility();
      return this.getClientRects().length > 0;
    }

    #locale() {
      return this.getAttribute('locale') ?? (document.documentElement.lang || undefined);
    }

    #resolvedStrings() {
      return resolveStrings(this.#locale(), this.#strings);
    }

    async #render() {
      const vitrine = this.#vitrine;
      // No catalog given: the records the bundle itself carries (and its updates').
      if (vitrine && this.#catalog == null && !this.hasAttribute('catalog') && this.#bundleCatalogOf !== vitrine) {
        this.#index = indexCatalog(vitrine.catalog ?? []);
        this.#bundleCatalogOf = vitrine;
      }
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
      const opts = { ...this.#options, k: this.k };
      // Out-of-stock products are never shown: the engine fills the shelf from the others.
      if (this.#index.outOfStock.length) opts.exclude = [...(Array.isArray(opts.exclude) ? opts.exclude : []), ...this.#index.outOfStock];
      const wantReasons = this.hasAttribute('reasons') && vitrine.supports('explain');
      if (wantReasons) opts.explain = true;
      let results;
      try {
        const mode = this.mode;
        if (this.#ranker) {
          results = await this.#ranker(opts, vitrine);
        } else if (mode === 'trending') {
          results = await vitrine.trending(opts);
        } else if (mode === 'recommend') {
          results = await vitrine.recommend(opts);
        } else {
          const item = this.similarTo;
          if (!item || (Array.isArray(item) && item.length === 0)) return; // nothing to be about yet
          const ids = Array.isArray(item) ? item : [item];
          results =
            mode === 'similar'
              ? await vitrine.similar(item, opts)
              : mode === 'also-bought'
                ? await vitrine.alsoBought(ids[ids.length - 1], opts)
                : await vitrine.frequentlyBoughtTogether(ids, opts);
        }
      } catch (err) {
        if (token === this.#token) this.#fail(err);
        return;
      }
      if (token !== this.#token || !this.#connected) return; // a newer render started
      const strings = this.#resolvedStrings();
      const nameOf = (id) => this.#index.byId.get(id)?.title;
      const items = [];
      for (const r of results) {
        const product = this.#index.byId.get(r.id);
        if (!product || product.availability === 'out_of_stock') continue; // nothing (honest) to show
        items.push({ ...r, product, reason: wantReasons ? reasonText(r.why, nameOf, strings) : null });
      }
      // A reason shared by every card ("Popular right now" on a cold start) says nothing per card.
      if (items.length > 1 && items.every((i) => i.reason === items[0].reason && !i.why?.personalized)) {
        for (const i of items) i.reason = null;
      }
      this.#paint(items, results.recommendationId ?? null, strings);
      this.#list.setAttribute('aria-busy', 'false');
      this.renderCount += 1;
      this.#settleReady();
      this.dispatchEvent(
        new CustomEvent('vitrine:render', {
          bubbles: true,
          composed: true,
          detail: {
            placement: this.placement,
            ids: items.map((i) => i.id),
            warnings: [...(results.warnings ?? [])],
            recommendationId: this.#recommendationId,
          },
        }),
      );
    }

    /** Re-paints the current items (strings, locale or template changed); no new ranking. */
    #repaint() {
      if (this.#shownKeys == null) return;
      this.#paint(this.#items.map((i) => ({ ...i, product: this.#index.byId.get(i.id) ?? i.productView })), this.#recommendationId, this.#resolvedStrings());
    }

    #template() {
      const id = this.getAttribute('template');
      const t = id ? document.getElementById(id) : this.querySelector(':scope > template');
      if (!(t instanceof HTMLTemplateElement)) return null;
      if (!templateVersions.has(t)) templateVersions.set(t, nextTemplateVersion++);
      if (this.#templateStyles?.template !== t) {
        // The template's <style> elements style its cards inside the shadow root (once per shelf).
        this.#templateStyles?.nodes.forEach((n) => n.remove());
        const nodes = [...t.content.querySelectorAll('style')].map((s) => s.cloneNode(true));
        this.#root.append(...nodes);
        this.#templateStyles = { template: t, nodes };
      }
      return t;
    }

    #paint(items, recommendationId, strings) {
      const template = this.#template();
      const ctx = {
        strings,
        prices: new PriceFormatter(this.#locale()),
        currency: currencyCode(this.getAttribute('currency')),
        categoryNames: this.#index.categoryNames,
        hrefTemplate: this.getAttribute('href-template'),
        addToCart: this.hasAttribute('add-to-cart'),
      };
      const views = items.map((item) => cardView(item, ctx));
      const tv = template ? templateVersions.get(template) : 0;
      const keys = views.map((v) => JSON.stringify([tv, v]));
      const emptyText = this.getAttribute('empty-text') ?? strings.empty;
      this.#empty.hidden = views.length > 0 || !emptyText;
      this.#empty.textContent = emptyText ?? '';
      this.#items = items.map((item) => ({ ...item, product: item.product.raw, productView: item.product }));
      const same = this.#shownKeys != null && keys.length === this.#shownKeys.length && keys.every((k, i) => k === this.#shownKeys[i]);
      if (same) return; // the shelf shows exactly this already: its result set (and id) stay
      const hadShelf = this.#shownKeys != null && this.#shownKeys.length > 0;
      this.#shownKeys = keys;
      this.#recommendationId = recommendationId;
      this.#impressed = new Set();

      // Keyed update: a card whose view did not change is kept as it is (with the focus inside it).
      const list = this.#list;
      const active = this.#root.activeElement;
      const activeCard = active?.closest?.('.card') ?? null;
      const focusIndex = activeCard ? [...list.children].indexOf(activeCard) : -1;
      const old = new Map([...list.children].filter((c) => c.dataset.id).map((c) => [c.dataset.id, c]));
      const cards = views.map((view, i) => {
        const prev = old.get(view.id);
        if (prev && this.#cardKeys.get(prev) === keys[i]) {
          prev.dataset.rank = String(i + 1);
          prev.classList.remove('fresh');
          return prev;
        }
        const card = buildCard(view, i + 1, template, hadShelf && !prev);
        this.#cardKeys.set(card, keys[i]);
        return card;
      });
      this.#observer?.disconnect();
      if (activeCard && cards.includes(activeCard)) {
        // Move every other card around the focused one: moving it would drop the focus.
        for (const c of [...list.children]) if (c !== activeCard) c.remove();
        const at = cards.indexOf(activeCard);
        activeCard.before(...cards.slice(0, at));
        activeCard.after(...cards.slice(at + 1));
      } else {
        list.replaceChildren(...cards);
        if (activeCard && cards.length) {
          // The focused card was rebuilt (or left the shelf): focus its successor in place.
          const next = cards.find((c) => c.dataset.id === activeCard.dataset.id) ?? cards[Math.min(focusIndex, cards.length - 1)];
          counterpart(next, active)?.focus({ preventScroll: true });
        } else {
          list.scrollLeft = 0;
        }
      }
      for (const c of cards) this.#observer?.observe(c);
    }

    /** Settles `ready` (once): fulfilled without `err`, rejected with it. */
    #settleReady(err) {
      if (err === undefined) this.#readyResolve?.();
      else this.#readyReject?.(err);
      this.#readyResolve = this.#readyReject = null;
    }

    #fail(err) {
      this.#settleReady(err ?? new Error('<vitrine-shelf> failed'));
      this.#list.replaceChildren();
      this.#shownKeys = null;
      this.#list.setAttribute('aria-busy', 'false');
      this.dispatchEvent(
        new CustomEvent('vitrine:error', { bubbles: true, composed: true, detail: { error: err, message: String(err?.message ?? err) } }),
      );
    }

    // -- interaction ----------------------------------------------------------------------------

    #detailFor(card) {
      const id = card.dataset.id;
      const item = this.#items.find((i) => i.id === id);
      return {
        id,
        rank: Number(card.dataset.rank),
        placement: this.placement,
        label: this.getAttribute('label') ?? undefined,
        product: item?.product,
        recommendationId: this.#recommendationId,
      };
    }

    #onClick(e) {
      const card = e.target.closest('.card');
      if (!card) return;
      if (e.target.closest('.add')) {
        this.dispatchEvent(new CustomEvent('vitrine:add-to-cart', { bubbles: true, composed: true, detail: this.#detailFor(card) }));
        return;
      }
      // A click on the card's link (or anywhere on a template card without one).
      if (!e.target.closest('.link') && card.querySelector('.link')) return;
      const ev = new CustomEvent('vitrine:click', { bubbles: true, composed: true, cancelable: true, detail: this.#detailFor(card) });
      if (!this.dispatchEvent(ev)) e.preventDefault();
      if (this.hasAttribute('track-clicks') && this.#vitrine) {
        this.#vitrine.track({ type: 'click', item: card.dataset.id }).catch((err) => this.#fail(err));
      }
    }

    #onKey(e) {
      const cards = [...this.#list.querySelectorAll('.card')];
      const i = cards.indexOf(this.#root.activeElement?.closest?.('.card'));
      if (i < 0) return;
      const to = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: cards.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      const card = cards[Math.max(0, Math.min(cards.length - 1, to))];
      (card.querySelector('.link') ?? card.querySelector('a, button'))?.focus();
    }

    #onIntersect(entries) {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        const id = entry.target.dataset.id;
        if (!id || this.#impressed.has(id)) continue;
        this.#impressed.add(id);
        const item = this.#items.find((i) => i.id === id);
        this.#pendingImpressions.push({ id, rank: Number(entry.target.dataset.rank), product: item?.product });
      }
      if (!this.#pendingImpressions.length) return;
      const items = this.#pendingImpressions;
      this.#pendingImpressions = [];
      this.dispatchEvent(
        new CustomEvent('vitrine:impression', {
          bubbles: true,
          composed: true,
          detail: { placement: this.placement, label: this.getAttribute('label') ?? undefined, recommendationId: this.#recommendationId, items },
        }),
      );
    }
  }

  ShelfClass = VitrineShelf;
  return ShelfClass;
}

/**
 * Registers the element (default name `vitrine-shelf`) and returns its class. Safe to call more
 * than once; needs a browser (it is where the class is created, so importing this module is not).
 */
export function defineVitrineShelf(name = 'vitrine-shelf') {
  if (typeof customElements === 'undefined') {
    throw new TypeError('defineVitrineShelf() needs a browser (customElements): call it in the page, not on the server');
  }
  const Base = createShelfClass();
  if (!customElements.get(name)) customElements.define(name, class extends Base {});
  return customElements.get(name);
}
