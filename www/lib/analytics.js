// Analytics adapters, both ways. Nothing here sends anything anywhere: it reads events the page's
// own analytics layer already has, and writes shelf events into it; what the page's tags do with
// them is the page's business.
//
//   In:  fromDataLayer(vitrine)          GA4 dataLayer / gtag() ecommerce events → vitrine.track()
//        segmentPlugin(vitrine)          a Segment analytics.js plugin: Ecommerce spec v2 events → track()
//   Out: shelfEventsToDataLayer()        shelf impressions / clicks → GA4 view_item_list / select_item
//        shelfEventsToSegment(analytics) shelf impressions / clicks → Product List Viewed / Product Clicked
//
// Items in GA4 `items[]` and Segment `products[]` become one track() each. Every shelf event carries
// the result set's random `recommendationId` (as `recommendation_id`), and `item_list_id` / `list_id`
// is the shelf's placement.

import { normalizeProduct } from './catalog.js';
import { VERSION } from './version.js';

/** GA4 recommended ecommerce events → engine event types. */
export const GA4_EVENTS = Object.freeze({
  view_item: 'view',
  select_item: 'click',
  add_to_cart: 'add_to_cart',
  remove_from_cart: 'remove_from_cart',
  purchase: 'purchase',
  search: 'search',
});

/** Segment Ecommerce spec (v2) events → engine event types. */
export const SEGMENT_EVENTS = Object.freeze({
  'Product Viewed': 'view',
  'Product Clicked': 'click',
  'Product Added': 'add_to_cart',
  'Product Removed': 'remove_from_cart',
  'Order Completed': 'purchase',
  'Products Searched': 'search',
});

const finite = (v) => (v == null || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v));

/** Turns one analytics event into engine events (several for a list of items). */
function toTrackEvents(type, items, params, itemId) {
  if (type === 'search') {
    const query = params?.search_term ?? params?.query;
    return typeof query === 'string' && query.trim() ? [{ type, query: query.trim() }] : [];
  }
  const out = [];
  for (const it of items) {
    if (!it || typeof it !== 'object') continue;
    const id = itemId(it);
    if (id == null || id === '') continue;
    const e = { type, item: String(id) };
    const quantity = finite(it.quantity);
    const price = finite(it.price);
    if (quantity !== undefined && quantity > 0) e.quantity = quantity;
    if (price !== undefined && price >= 0) e.price = price;
    out.push(e);
  }
  return out;
}

/**
 * A serial queue of track() calls against a Vitrine (or a promise of one): events keep their order.
 * An event of a product the bundle does not know yet is normal input: the engine keeps it pending
 * until a catalog update knows the id (counted in `pending`, not an error). A refused event (a bad
 * field…) is counted in `skipped` and reported, never thrown into the page.
 */
function tracker(vitrineOrPromise, onError) {
  const stats = { tracked: 0, pending: 0, skipped: 0 };
  let chain = Promise.resolve(vitrineOrPromise);
  const report = (err, source) => {
    stats.skipped += 1;
    try {
      onError?.(err, source);
    } catch {
      /* a listener's error must not break tracking */
    }
  };
  const push = (events, source) => {
    if (!events.length) return;
    chain = chain.then(async (v) => {
      for (const e of events) {
        try {
          const r = await v.track({ ...e, ts: Date.now() });
          if (r?.pending === true) stats.pending += 1;
          else stats.tracked += 1;
        } catch (err) {
          report(err, source);
        }
      }
      return v;
    });
    chain.catch(() => {}); // a failed load is reported by whoever loaded
  };
  return { stats, push, idle: () => chain.then(() => undefined, () => undefined) };
}

const attached = new WeakMap(); // dataLayer -> Map(vitrine -> handle)

/**
 * Feeds a GA4 `dataLayer` into `vitrine.track()`: the entries already there, and every later push.
 * Object pushes (`{event: 'view_item', ecommerce: {items}}`, as Google Tag Manager expects) and
 * `gtag('event', 'view_item', {items})` calls (which push an `arguments` object) are both read.
 *
 * @param {import('./index.js').Vitrine | Promise<import('./index.js').Vitrine>} vitrine
 * @param {{dataLayer?: unknown[], itemId?: (item: object) => string|null|undefined, onError?: (err: Error, entry: unknown) => void}} [options]
 * @returns {{stop(): void, idle(): Promise<void>, readonly tracked: number, readonly pending: number, readonly skipped: number}}
 */
export function fromDataLayer(vitrine, { dataLayer, itemId = (it) => it.item_id ?? it.id, onError } = {}) {
  let layer = dataLayer;
  if (!layer) {
    if (!globalThis.window) throw new TypeError('fromDataLayer() needs a dataLayer array outside a page');
    layer = globalThis.window.dataLayer ??= [];
  }
  if (!Array.isArray(layer)) throw new TypeError('fromDataLayer(): dataLayer must be an array');
  const byVitrine = attached.get(layer) ?? new Map();
  attached.set(layer, byVitrine);
  if (byVitrine.has(vitrine)) return byVitrine.get(vitrine); // attached twice: events once

  const t = tracker(vitrine, onError);
  const read = (entry) => {
    let name;
    let params;
    if (entry && typeof entry === 'object' && !Array.isArray(entry) && typeof entry.length !== 'number') {
      name = entry.event;
      params = entry.ecommerce;
    } else if (entry && typeof entry.length === 'number' && entry[0] === 'event') {
      name = entry[1]; // gtag('event', name, params)
      params = entry[2];
    }
    const type = typeof name === 'string' ? GA4_EVENTS[name] : undefined;
    if (!type) return;
    const items = Array.isArray(params?.items) ? params.items : [];
    t.push(toTrackEvents(type, items, params, itemId), entry);
  };
  for (const entry of [...layer]) read(entry);

  const original = layer.push;
  let active = true;
  const wrapped = function push(...entries) {
    const r = original.apply(this, entries);
    if (active) for (const e of entries) read(e);
    return r;
  };
  layer.push = wrapped;
  const handle = {
    stop() {
      active = false;
      if (layer.push === wrapped) layer.push = original;
      byVitrine.delete(vitrine);
    },
    idle: t.idle,
    get tracked() {
      return t.stats.tracked;
    },
    get pending() {
      return t.stats.pending;
    },
    get skipped() {
      return t.stats.skipped;
    },
  };
  byVitrine.set(vitrine, handle);
  return handle;
}

/**
 * A Segment analytics.js (analytics-next) plugin: `analytics.register(segmentPlugin(vitrine))`.
 * Product Viewed / Clicked / Added / Removed (`product_id`, else `sku`) and Order Completed
 * (`products[]`) become track() calls; Products Searched a search.
 */
export function segmentPlugin(vitrine, { itemId = (p) => p.product_id ?? p.sku ?? p.id, onError } = {}) {
  const t = tracker(vitrine, onError);
  return {
    name: 'Vitrine',
    type: 'destination',
    version: VERSION,
    isLoaded: () => true,
    load: () => Promise.resolve(),
    track(ctx) {
      const ev = ctx?.event ?? {};
      const type = SEGMENT_EVENTS[ev.event];
      if (type) {
        const props = ev.properties ?? {};
        const items = type === 'purchase' ? (Array.isArray(props.products) ? props.products : []) : [props];
        t.push(toTrackEvents(type, items, props, itemId), ev);
      }
      return ctx;
    },
    /** Resolves when every event seen so far has reached the engine. */
    idle: t.idle,
    get tracked() {
      return t.stats.tracked;
    },
    get pending() {
      return t.stats.pending;
    },
    get skipped() {
      return t.stats.skipped;
    },
  };
}

// ---- out: shelf events ------------------------------------------------------------------------

function ga4Item(entry, detail, currency) {
  const p = normalizeProduct({ id: entry.id, ...(entry.product ?? {}) });
  const item = { item_id: entry.id, item_name: p?.title ?? entry.id, index: entry.rank - 1, item_list_id: detail.placement };
  if (detail.label) item.item_list_name = detail.label;
  if (p?.brand) item.item_brand = p.brand;
  // GA4 takes a category path as item_category, item_category2 … item_category5.
  p?.categoryPath.slice(0, 5).forEach((c, i) => (item[i ? `item_category${i + 1}` : 'item_category'] = c));
  const price = p?.salePrice ?? p?.price;
  if (price != null) item.price = price;
  if (p?.salePrice != null && p.price != null) item.discount = Number((p.price - p.salePrice).toFixed(2));
  const cur = p?.currency ?? currency;
  if (cur) item.currency = cur;
  return item;
}

function segmentProduct(entry, detail, currency) {
  const p = normalizeProduct({ id: entry.id, ...(entry.product ?? {}) });
  const out = { product_id: entry.id, name: p?.title ?? entry.id, position: entry.rank };
  if (p?.brand) out.brand = p.brand;
  if (p?.category) out.category = p.categoryPath.join(' > ') || p.category;
  const price = p?.salePrice ?? p?.price;
  if (price != null) out.price = price;
  const cur = p?.currency ?? currency;
  if (cur) out.currency = cur;
  if (p?.url) out.url = p.url;
  if (p?.image) out.image_url = p.image;
  return out;
}

function listen(target, handlers) {
  const t = target ?? globalThis.document;
  if (!t?.addEventListener) throw new TypeError('shelf events need a target (an element or the document)');
  for (const [type, fn] of Object.entries(handlers)) t.addEventListener(type, fn);
  return { stop: () => Object.entries(handlers).forEach(([type, fn]) => t.removeEventListener(type, fn)) };
}

/**
 * Pushes the shelves' impressions and clicks into a GA4 dataLayer: `view_item_list` and
 * `select_item` with `item_list_id` = the shelf's placement and `recommendation_id` = the result
 * set's random id (each push preceded by `{ecommerce: null}`, as Google Tag Manager recommends).
 * @param {{target?: EventTarget, dataLayer?: unknown[], currency?: string}} [options] `target`:
 *   where to listen (default: the document, i.e. every shelf); `currency`: for items without one
 */
export function shelfEventsToDataLayer({ target, dataLayer, currency } = {}) {
  const layer = dataLayer ?? (globalThis.window ? (globalThis.window.dataLayer ??= []) : null);
  if (!Array.isArray(layer)) throw new TypeError('shelfEventsToDataLayer(): dataLayer must be an array');
  const send = (event, d, entries) => {
    layer.push({ ecommerce: null });
    layer.push({
      event,
      recommendation_id: d.recommendationId,
      ecommerce: {
        item_list_id: d.placement,
        ...(d.label ? { item_list_name: d.label } : {}),
        items: entries.map((e) => ga4Item(e, d, currency)),
      },
    });
  };
  return listen(target, {
    'vitrine:impression': (e) => send('view_item_list', e.detail, e.detail.items),
    'vitrine:click': (e) => send('select_item', e.detail, [e.detail]),
  });
}

/**
 * Sends the shelves' impressions and clicks to Segment: `Product List Viewed` (`list_id` = the
 * placement, `products[]`) and `Product Clicked`, both with `recommendation_id`.
 * @param {{track(event: string, properties: object): unknown}} analytics the page's analytics.js
 */
export function shelfEventsToSegment(analytics, { target, currency } = {}) {
  if (typeof analytics?.track !== 'function') throw new TypeError('shelfEventsToSegment(analytics): analytics.track is not a function');
  return listen(target, {
    'vitrine:impression': (e) => {
      const d = e.detail;
      analytics.track('Product List Viewed', {
        list_id: d.placement,
        ...(d.label ? { category: d.label } : {}),
        recommendation_id: d.recommendationId,
        products: d.items.map((i) => segmentProduct(i, d, currency)),
      });
    },
    'vitrine:click': (e) => {
      const d = e.detail;
      analytics.track('Product Clicked', { ...segmentProduct(d, d, currency), list_id: d.placement, recommendation_id: d.recommendationId });
    },
  });
}
