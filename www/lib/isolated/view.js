// Isolated mode: a view frame (frame.html#view, origin B) renders one shelf with the ordinary
// <vitrine-shelf> and card code. Its rankings come from the engine frame of the same page over a
// BroadcastChannel of origin B (EngineProxy); its catalog from an allowed source, or (no catalog
// URL) the records the bundle carries, from the engine frame; its look from the page's settings
// (custom properties, inherited font and colour, ::part() declarations).
//
// What the page learns from a view frame: `ready`, `sized {height}` and the id of a card the
// shopper clicked (`choose`). The height is that of a probe shelf of k synthetic cards built from
// the catalog's longest fields, never of the real cards, so it does not depend on what is shown or
// how many results there are; the real shelf is laid out in exactly that height.

import { defineVitrineShelf } from '../shelf.js';
import { fromWire } from '../core.js';
import { ENGINE_CODES, cssValueOk, displayDefaults, isPlainObject, newChannel, resolveAllowed } from './protocol.js';
import { channelName } from './engine-host.js';

/** The frame document's own rules: no margins, the probe laid out but never seen, reasons on two lines. */
const FRAME_STYLE = `
html, body { margin: 0; padding: 0; background: transparent; overflow: hidden; }
.stage { position: relative; }
.real { overflow: hidden; }
.probe { position: absolute; top: 0; left: 0; right: 0; visibility: hidden; pointer-events: none; }
vitrine-shelf::part(reason) { display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; min-height: 2.6em; }
vitrine-shelf::part(category), vitrine-shelf::part(brand) { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
`;

const BLANK_IMAGE = 'data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7';

/**
 * Whether the shopper could see what they clicked: IntersectionObserver v2 (`trackVisibility`,
 * Chromium) says the shelf is visible only when nothing covers any of it and no opacity, filter or
 * transform of the page's elements alters the frame. A page that hides the frame under a decoy or
 * makes it transparent to trick a click (clickjacking) gets no id from that click. The whole shelf
 * is watched, not each card: a card's own hover shadow over its neighbour counts as covering it.
 * Where the browser cannot tell (no trackVisibility), every click counts.
 */
class VisibilityGuard {
  #visible = false;
  #supported;

  constructor(whole) {
    this.#supported = typeof IntersectionObserverEntry !== 'undefined' && 'isVisible' in IntersectionObserverEntry.prototype;
    if (!this.#supported) return;
    new IntersectionObserver(
      (entries) => {
        for (const e of entries) this.#visible = e.isVisible;
      },
      { trackVisibility: true, delay: 100, threshold: [0] },
    ).observe(whole);
  }

  /** True when a click may count: the whole shelf was last seen unobscured (or the browser cannot tell). */
  allows() {
    return !this.#supported || this.#visible;
  }
}

/** `<vitrine-shelf>`'s engine, as seen from a view frame: calls go to the engine frame and back. */
class EngineProxy extends EventTarget {
  #bc;
  #id = newChannel();
  #next = 1;
  #pending = new Map();
  #capabilities = [];
  #up;
  #settleUp;

  constructor(channel) {
    super();
    this.#up = new Promise((resolve, reject) => (this.#settleUp = { resolve, reject }));
    this.#up.catch(() => {});
    this.#bc = new BroadcastChannel(channelName(channel));
    this.#bc.onmessage = (e) => this.#receive(e.data);
    this.#bc.postMessage({ op: 'hello', from: this.#id });
  }

  /** Resolves when the engine frame is up (its capabilities known); rejects when it failed. */
  get up() {
    return this.#up;
  }

  #receive(m) {
    if (!isPlainObject(m)) return;
    if (m.op === 'up') {
      this.#capabilities = Array.isArray(m.capabilities) ? m.capabilities.filter((c) => typeof c === 'string') : [];
      this.#settleUp.resolve();
    } else if (m.op === 'down') {
      this.#settleUp.reject(Object.assign(new Error('the engine frame is not running'), { code: 'engine_unavailable' }));
    } else if (m.op === 'changed') {
      this.dispatchEvent(new CustomEvent('change', { detail: { reason: m.catalog === true ? 'catalog' : 'engine' } }));
    } else if (m.op === 'reply' && m.to === this.#id && this.#pending.has(m.id)) {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (!m.ok) return p.reject(Object.assign(new Error(`the engine refused the request (${m.code})`), { code: m.code }));
      const value = fromWire(m.value);
      if (Array.isArray(value)) value.recommendationId = typeof m.recommendationId === 'string' ? m.recommendationId : null;
      p.resolve(value);
    }
  }

  async #call(method, args) {
    await this.#up;
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#bc.postMessage({ op: 'call', from: this.#id, id, method, args });
    });
  }

  supports(method) {
    if (method === 'explain') return this.#capabilities.includes('explain');
    return ['recommend', 'similar', 'frequentlyBoughtTogether', 'alsoBought', 'trending', 'track'].includes(method);
  }
  recommend(options) {
    return this.#call('recommend', [options]);
  }
  similar(item, options) {
    return this.#call('similar', [item, options]);
  }
  frequentlyBoughtTogether(ids, options) {
    return this.#call('frequentlyBoughtTogether', [ids, options]);
  }
  alsoBought(id, options) {
    return this.#call('alsoBought', [id, options]);
  }
  trending(options) {
    return this.#call('trending', [options]);
  }
  /** The records the engine frame's bundle carries (with its applied updates'). */
  catalog() {
    return this.#call('catalog', []);
  }
  track(event) {
    return this.#call('track', [event]);
  }
}

/** The probe's engine: k synthetic results, half "featured", half "popular" (so reasons are kept). */
function probeEngine() {
  const results = (k) =>
    Array.from({ length: k }, (_, i) => ({
      id: `probe-${i}`,
      score: 1,
      rank: i + 1,
      why: { pinned: i % 2 === 1, personalized: false, events: [], contributions: [], context: [] },
    }));
  return Object.assign(new EventTarget(), {
    supports: () => true,
    recommend: async (o) => results(o.k),
    similar: async (_, o) => results(o.k),
    frequentlyBoughtTogether: async (_, o) => results(o.k),
    alsoBought: async (_, o) => results(o.k),
    trending: async (o) => results(o.k),
  });
}

/** k copies of a product with the catalog's longest fields: the tallest card this catalog can make. */
function probeCatalog(products, k) {
  const longest = (pick) => products.reduce((best, p) => {
    const v = pick(p);
    return typeof v === 'string' && v.length > best.length ? v : best;
  }, '');
  const badges = products.reduce((best, p) => {
    const b = Array.isArray(p.badges) ? p.badges.filter((x) => typeof x === 'string') : [];
    return b.join('').length > best.join('').length ? b : best;
  }, []);
  const prices = products.map((p) => Number(p.price)).filter(Number.isFinite);
  const top = prices.length ? Math.max(...prices) : 0;
  const sale = products.some((p) => p.sale_price != null);
  const avail = products.find((p) => p.availability === 'backorder' || p.availability === 'preorder')?.availability;
  const product = {
    title: `${longest((p) => p.title ?? p.name)} ${'W'.repeat(60)}`,
    category: longest((p) => p.category) || undefined,
    brand: longest((p) => p.brand) || undefined,
    price: top,
    sale_price: sale ? top * 0.9 : undefined,
    currency: products.find((p) => typeof p.currency === 'string')?.currency,
    image: products.some((p) => p.image) ? BLANK_IMAGE : undefined,
    availability: avail,
    badges,
  };
  return Array.from({ length: k }, (_, i) => ({ ...product, id: `probe-${i}` }));
}

/**
 * The catalog as the frame may show it: images only from allowed origins, links only http(s).
 * Relative image and product URLs mean what they mean on the store's pages at the root of its site
 * (`base`: the parent's origin), where the same catalog feeds the non-isolated shelf.
 */
function sanitizeCatalog(data, config, base) {
  const list = Array.isArray(data) ? data : Array.isArray(data?.products) ? data.products : [];
  const products = [];
  for (const raw of list) {
    if (!isPlainObject(raw)) continue;
    const p = { ...raw };
    if (p.image != null) {
      const img = resolveAllowed(String(p.image), base, config.images);
      if (img) p.image = img;
      else delete p.image;
    }
    if (p.url != null) {
      let u = null;
      try {
        u = new URL(String(p.url), base);
      } catch {
        /* not a URL */
      }
      if (u && (u.protocol === 'https:' || u.protocol === 'http:')) p.url = u.href;
      else delete p.url;
    }
    products.push(p);
  }
  const categories = Array.isArray(data?.categories) ? data.categories.filter(isPlainObject) : [];
  return { products, categories };
}

const ATTRIBUTES = {
  k: (s) => String(s.k),
  placement: (s) => s.placement,
  mode: (s) => s.mode,
  label: (s) => s.label,
  'empty-text': (s) => s.emptyText,
  currency: (s) => s.currency,
  locale: (s) => s.locale,
  layout: (s) => s.layout,
  reasons: (s) => (s.reasons ? '' : null),
  'add-to-cart': (s) => (s.addToCart ? '' : null),
  'href-template': (s) => s.hrefTemplate,
};

/** Applies display settings to a shelf element (the probe gets the same look, not the requests). */
function applySettings(shelf, s, { probe }) {
  for (const [name, value] of Object.entries(ATTRIBUTES)) {
    const v = probe && name === 'mode' ? 'recommend' : value(s);
    if (v == null) shelf.removeAttribute(name);
    else shelf.setAttribute(name, v);
  }
  if (!probe && s.trackClicks) shelf.setAttribute('track-clicks', '');
  else shelf.removeAttribute('track-clicks');
  shelf.strings = s.strings;
  if (!probe) {
    shelf.options = s.options;
    shelf.similarTo = s.item;
  }
  for (const name of [...shelf.style]) if (name.startsWith('--vitrine-')) shelf.style.removeProperty(name);
  for (const [name, value] of Object.entries(s.theme)) if (name.startsWith('--vitrine-') && cssValueOk(value)) shelf.style.setProperty(name, value);
}

/** The document's look: inherited properties on <html>, ::part() declarations as CSSOM rules. */
function applyLook(s, partsSheet) {
  const root = document.documentElement;
  root.lang = s.locale ?? 'en';
  for (const [name, value] of Object.entries(s.theme)) if (!name.startsWith('--') && cssValueOk(value)) root.style.setProperty(name, value);
  partsSheet.replaceSync('');
  for (const [part, decls] of Object.entries(s.parts)) {
    const i = partsSheet.insertRule(`vitrine-shelf::part(${part}) {}`, partsSheet.cssRules.length);
    // setProperty parses one value: no selector or rule can be smuggled in.
    for (const [prop, value] of Object.entries(decls)) if (cssValueOk(value)) partsSheet.cssRules[i].style.setProperty(prop, value);
  }
  document.title = s.label ?? 'Recommended products';
}

export function startView(link, config) {
  let guard = null;
  defineVitrineShelf();
  const base = new CSSStyleSheet();
  base.replaceSync(FRAME_STYLE);
  const partsSheet = new CSSStyleSheet();
  document.adoptedStyleSheets = [base, partsSheet];

  let shelves = null;
  let settings = null;
  let lastClick = null;
  let height = -1;
  document.addEventListener('click', (e) => (lastClick = e), true);

  const choose = (action) => (e) => {
    const click = lastClick;
    lastClick = null;
    // A modified click (new tab, new window) is the browser's to handle, from the card's link.
    if (action === 'open' && click && (click.ctrlKey || click.metaKey || click.shiftKey || click.altKey || click.button !== 0)) return;
    e.preventDefault(); // never navigate this frame
    if (!click?.isTrusted) return; // only the shopper's own click says anything to the page
    if (config.requireVisible && !guard?.allows()) return link.report('obscured');
    link.post('choose', { action, id: e.detail.id });
  };

  function build(catalog, s, proxy) {
    const stage = document.createElement('div');
    stage.className = 'stage';
    const probeWrap = document.createElement('div');
    probeWrap.className = 'probe';
    probeWrap.setAttribute('aria-hidden', 'true');
    probeWrap.inert = true;
    const realWrap = document.createElement('div');
    realWrap.className = 'real';
    const probe = document.createElement('vitrine-shelf');
    const real = document.createElement('vitrine-shelf');
    probeWrap.append(probe);
    realWrap.append(real);
    stage.append(probeWrap, realWrap);
    document.body.replaceChildren(stage);
    applySettings(probe, s, { probe: true });
    applySettings(real, s, { probe: false });
    probe.catalog = { products: probeCatalog(catalog.products, s.k), categories: catalog.categories };
    probe.vitrine = probeEngine();
    real.catalog = catalog;
    proxy.up.then(
      () => (real.vitrine = proxy), // once the engine's capabilities (explain: reasons) are known
      () => link.report('engine_unavailable'),
    );
    guard = new VisibilityGuard(realWrap);
    real.addEventListener('vitrine:click', choose('open'));
    real.addEventListener('vitrine:add-to-cart', choose('add-to-cart'));
    real.addEventListener('vitrine:error', (e) => {
      const code = e.detail?.error?.code;
      link.report(ENGINE_CODES.includes(code) || code === 'engine_unavailable' ? code : 'engine_error');
    });
    // The frame's height is the probe's: a function of the settings, the width and the catalog only.
    const measureProbe = () => {
      const h = Math.ceil(probeWrap.getBoundingClientRect().height);
      if (h === height || h === 0) return;
      height = h;
      realWrap.style.height = `${h}px`;
      link.post('sized', { height: h });
    };
    probe.ready.then(() => new ResizeObserver(measureProbe).observe(probeWrap));
    return { probe, real, catalog };
  }

  link.onMessage(async (msg) => {
    if (msg.kind === 'settings') {
      if (!shelves) return void (settings = displayDefaults(msg.settings)); // init still loading the catalog
      settings = displayDefaults(msg.settings);
      applyLook(settings, partsSheet);
      applySettings(shelves.probe, settings, { probe: true });
      applySettings(shelves.real, settings, { probe: false });
      shelves.probe.catalog = { products: probeCatalog(shelves.catalog.products, settings.k), categories: shelves.catalog.categories };
      return;
    }
    // init
    link.channel = msg.channel;
    settings = displayDefaults(msg.settings);
    const proxy = new EngineProxy(link.channel);
    let data;
    if (msg.catalog != null) {
      const catalogUrl = resolveAllowed(msg.catalog, location.href, config.sources);
      if (!catalogUrl) return link.report('source_not_allowed');
      try {
        const res = await fetch(catalogUrl, { credentials: 'omit', referrerPolicy: 'no-referrer' });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        data = await res.json();
      } catch {
        return link.report('catalog_failed');
      }
    } else {
      // No catalog URL: the records the bundle carries, from the engine frame (origin B only).
      try {
        await proxy.up;
      } catch {
        return link.report('engine_unavailable');
      }
      data = await proxy.catalog().catch(() => null);
      if (!Array.isArray(data) || data.length === 0) return link.report('catalog_failed');
      // A catalog update in the engine frame brings new records: shown from then on.
      proxy.addEventListener('change', async (e) => {
        if (e.detail?.reason !== 'catalog' || !shelves) return;
        const fresh = await proxy.catalog().catch(() => null);
        if (!Array.isArray(fresh) || fresh.length === 0) return;
        shelves.catalog = sanitizeCatalog(fresh, config, `${link.parentOrigin}/`);
        shelves.real.catalog = shelves.catalog;
        shelves.probe.catalog = { products: probeCatalog(shelves.catalog.products, settings.k), categories: shelves.catalog.categories };
      });
    }
    const catalog = sanitizeCatalog(data, config, `${link.parentOrigin}/`);
    applyLook(settings, partsSheet);
    shelves = build(catalog, settings, proxy);
    link.post('ready');
  });
}
