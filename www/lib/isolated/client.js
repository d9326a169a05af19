// Isolated mode, the page's side: the engine, its storage and the rendered shelves live in frames
// served from a second origin the store controls (origin B); this page only sends them P signals
// (events, consent, display settings) and catalog updates, and receives ready / sized / error codes,
// an update's public counts and the id of a card the shopper chose. README "Isolated mode" and
// docs/deployment.md describe the whole arrangement.
//
//   const vitrine = await Vitrine.load('store.vtr', { isolation: { frame: 'https://reco.store.example/frame.html' } });
//   await vitrine.track({ type: 'view', item: 'p0012' });
//   shelf.vitrine = vitrine;              // <vitrine-shelf> then renders inside a frame of its own
//
// One hidden engine frame per instance holds the engine (the ordinary Vitrine class, in origin B);
// each shelf is a view frame that asks that engine for its rankings over a BroadcastChannel of
// origin B, which this page cannot join. Importing this module touches no browser API.

import { VitrineError } from '../errors.js';
import { checkConsent, globalPrivacyControl, effectiveConsent } from '../consent.js';
import { STYLE } from '../shelf-style.js';
import { resolveStrings } from '../strings.js';
import {
  ERROR_CODES, LIMITS, TO_FRAME, TO_PAGE, DISPLAY_FIELDS, ITEM_MODES, THEME_PROPERTIES, FloodGate, checkDisplaySettings,
  checkTrackEvent, cssValueOk, envelope, measure, newChannel, validateMessage,
} from './protocol.js';

/** How long load() waits for the engine frame (overridable: `isolation.timeout`). */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * What the frames may do: run scripts in their own origin (storage needs allow-same-origin; the
 * frame is cross-origin, so it cannot reach this page either way), open a product in a new tab,
 * and navigate this page only on a real click.
 */
export const FRAME_SANDBOX = 'allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation';

/** Codes that end a load before the engine frame is ready. */
const LOAD_FAILURES = new Set([
  'origin_not_allowed', 'not_configured', 'source_not_allowed', 'fetch_failed', 'http_error', 'content_type',
  'integrity', 'bad_bundle', 'engine_load_failed', 'worker_failed', 'invalid_option', 'invalid_argument', 'engine_error',
]);

const CONSTRUCT = Symbol('IsolatedVitrine.construct');

const errorFor = (code, ref) =>
  Object.assign(new VitrineError(code, `isolated frame: ${ERROR_CODES[code] ?? code}`), ref != null ? { ref } : {});

function httpUrl(value, base, what) {
  let u;
  try {
    u = new URL(String(value), base);
  } catch {
    throw new VitrineError('invalid_argument', `${what} is not a URL: ${JSON.stringify(String(value))}`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new VitrineError('invalid_argument', `${what} must be an http(s) URL, got ${u.protocol}`);
  return u;
}

/**
 * One frame of origin B on this page: the iframe, the messages to it (validated before they are
 * posted, to its origin only) and from it (only from its window and its origin, validated, within
 * a flood limit; anything else is dropped with an error code, never thrown).
 */
class FrameLink {
  #onMessage;
  #onProblem;
  #gate = new FloodGate();
  #problems = new FloodGate({ burst: LIMITS.errorsPerSecond, perSecond: LIMITS.errorsPerSecond });
  #listener = (e) => this.#receive(e);

  constructor(url, role, { title, hidden = false, onMessage, onProblem, onLoad }) {
    this.role = role;
    this.url = new URL(url);
    this.url.hash = role;
    this.origin = this.url.origin;
    this.#onMessage = onMessage;
    this.#onProblem = (code) => this.#problems.take() && onProblem(code); // a flood reports a few, not thousands
    const f = document.createElement('iframe');
    f.setAttribute('sandbox', FRAME_SANDBOX);
    f.setAttribute('referrerpolicy', 'no-referrer');
    f.setAttribute('title', title);
    f.setAttribute('part', `${role}-frame`);
    if (hidden) {
      f.hidden = true;
      f.setAttribute('aria-hidden', 'true');
      f.tabIndex = -1;
    }
    f.addEventListener('load', () => onLoad?.());
    f.src = this.url.href;
    this.iframe = f;
    globalThis.addEventListener('message', this.#listener);
  }

  #receive(e) {
    if (!e.source || e.source !== this.iframe.contentWindow) return; // another window's message: not ours to judge
    try {
      if (e.origin !== this.origin) return this.#onProblem('bad_origin');
      if (!this.#gate.take()) return this.#onProblem('rate_limited');
      if (e.ports?.length) return this.#onProblem('bad_schema');
      const v = validateMessage(e.data, TO_PAGE);
      if (!v.ok) return this.#onProblem(v.code);
      this.#onMessage(v.message);
    } catch {
      this.#onProblem('bad_schema'); // never break the page
    }
  }

  /** Posts `kind` to the frame's origin; a message the protocol would refuse throws here instead. */
  post(kind, fields = {}) {
    const msg = envelope(kind, fields);
    const v = validateMessage(msg, TO_FRAME[this.role]);
    if (!v.ok) throw new VitrineError('invalid_argument', `${kind}: ${ERROR_CODES[v.code]}`);
    this.iframe.contentWindow?.postMessage(msg, this.origin);
  }

  destroy() {
    globalThis.removeEventListener('message', this.#listener);
    this.iframe.remove();
  }
}

/**
 * A Vitrine whose engine runs in an isolated frame. It takes what the page knows (track, consent,
 * forget) and never gives back anything about the history: the rankings are shown by
 * `<vitrine-shelf>` inside frames of their own. `recommend()` and the other reading methods reject with
 * `VitrineError` code `isolated`.
 */
export class IsolatedVitrine extends EventTarget {
  #link;
  #init;
  #frameUrl;
  #consent;
  #gpc;
  #destroyed = false;
  #refs = new Map();
  #nextRef = 1;
  #ready;
  #settle;
  #views = new Set();
  /** The last catalog update the frame applied ({delta, integrity?}): sent again if the frame reloads. */
  #lastUpdate = null;
  /** The shards' categories the page asked for (`'all'`, a list, or null), sent again on a reload. */
  #askedShards = null;
  /** Error codes the frames reported so far (also dispatched as 'error' events). */
  errors = [];

  /** @private use Vitrine.load(url, {isolation: {frame}}) */
  constructor(token, { frameUrl, init, timeout }) {
    super();
    if (token !== CONSTRUCT) throw new TypeError('use Vitrine.load(url, {isolation: {frame}}) to create an isolated Vitrine');
    this.#frameUrl = frameUrl;
    this.#init = init;
    this.#consent = init.consent;
    this.#gpc = globalPrivacyControl();
    this.#ready = new Promise((resolve, reject) => (this.#settle = { resolve, reject }));
    this.#ready.catch(() => {});
    const timer = setTimeout(() => this.#fail('frame_timeout'), timeout);
    this.#ready.finally(() => clearTimeout(timer)).catch(() => {});
    this.#link = new FrameLink(frameUrl, 'engine', {
      title: 'Vitrine engine (isolated)',
      hidden: true,
      onLoad: () => this.#restart(), // at first, and again after a reload of the frame
      onMessage: (m) => this.#message(m),
      onProblem: (code) => this.#report(code),
    });
    (document.body ?? document.documentElement).append(this.#link.iframe);
  }

  /** Loads an isolated instance: see Vitrine.load's `isolation` option. */
  static async load(source, options = {}) {
    if (typeof document === 'undefined') throw new VitrineError('invalid_argument', 'isolated mode needs a page (document): call Vitrine.load in the browser');
    const { isolation, integrity, worker, consent = 'pending', storage, visitStorage, storageKey, ttl, saveDelay, settings, ...rest } = options;
    const refused = Object.keys(rest).filter((k) => rest[k] !== undefined);
    if (refused.length) {
      throw new VitrineError(
        'invalid_argument',
        `${refused.join(', ')} cannot be used in isolated mode: the engine, its storage and its progress stay in the frame ` +
          '(options: integrity, worker, consent, storage, visitStorage, storageKey, ttl, saveDelay, settings)',
      );
    }
    if (!isolation || typeof isolation !== 'object' || isolation.frame == null) {
      throw new VitrineError('invalid_argument', "isolation needs the frame's URL: {isolation: {frame: 'https://reco.store.example/frame.html'}}");
    }
    checkConsent(consent);
    if (typeof source !== 'string' && !(source instanceof URL)) {
      throw new VitrineError('invalid_argument', "in isolated mode the frame fetches the bundle: pass its URL (relative URLs are relative to the frame's)");
    }
    const frameUrl = httpUrl(isolation.frame, document.baseURI, 'isolation.frame');
    frameUrl.hash = '';
    if (frameUrl.origin === globalThis.location?.origin) {
      throw new VitrineError('invalid_argument', `isolation.frame must be on another origin than this page (${frameUrl.origin}): the same origin can read the frame`);
    }
    const timeout = isolation.timeout ?? DEFAULT_TIMEOUT_MS;
    if (!(Number.isFinite(timeout) && timeout > 0)) throw new VitrineError('invalid_argument', 'isolation.timeout must be a positive number of milliseconds');
    const init = { channel: newChannel(), bundle: httpUrl(source, frameUrl, 'the bundle URL').href, consent };
    for (const [k, v] of Object.entries({ integrity, worker, storage, visitStorage, storageKey, ttl, saveDelay, settings })) if (v !== undefined) init[k] = v;
    const check = validateMessage(envelope('init', init), TO_FRAME.engine);
    if (!check.ok) throw new VitrineError('invalid_argument', `isolated mode: the load options were refused (${ERROR_CODES[check.code]})`);
    const v = new IsolatedVitrine(CONSTRUCT, { frameUrl: frameUrl.href, init, timeout });
    try {
      await v.#ready;
    } catch (err) {
      v.destroy();
      throw err;
    }
    return v;
  }

  /**
   * Sends `init` (the current consent) and, after a reload of the frame, the last catalog update
   * (deltas are cumulative: the last one brings the catalog where it was).
   */
  #restart() {
    this.#post('init', this.#init);
    if (this.#lastUpdate) this.#post('update', { ...this.#lastUpdate, ref: this.#nextRef++ });
    if (this.#askedShards) this.#post('shards', { categories: this.#askedShards, ref: this.#nextRef++ });
  }

  #message(m) {
    if (m.kind === 'ready') this.#settle.resolve();
    else if (m.kind === 'done') {
      this.#refs.get(m.ref)?.resolve(m);
      this.#refs.delete(m.ref);
    } else if (m.kind === 'error') {
      if (LOAD_FAILURES.has(m.code)) this.#settle.reject(errorFor(m.code));
      this.#report(m.code, m.ref);
    } else this.#report('unknown_kind'); // sized, choose: not from the engine frame
  }

  #fail(code) {
    this.#settle.reject(errorFor(code));
  }

  #report(code, ref) {
    const detail = { code, message: ERROR_CODES[code] ?? code, ...(ref != null ? { ref } : {}) };
    if (this.errors.length < 1000) this.errors.push(detail);
    this.#refs.get(ref)?.reject(errorFor(code, ref));
    this.#refs.delete(ref);
    this.dispatchEvent(new CustomEvent('error', { detail }));
  }

  #alive() {
    if (this.#destroyed) throw new VitrineError('destroyed', 'this Vitrine instance was destroyed');
  }

  #post(kind, fields) {
    this.#link.post(kind, fields);
  }

  /**
   * Posts a message that the frame answers with `done {ref}` (or an error with that ref); resolves
   * to the answer's `update`, if any. A message the protocol refuses rejects (invalid_argument).
   */
  #roundTrip(kind, fields = {}) {
    this.#alive();
    const ref = this.#nextRef++;
    return new Promise((resolve, reject) => {
      this.#post(kind, { ...fields, ref });
      this.#refs.set(ref, { resolve, reject });
    });
  }

  // -- facts --------------------------------------------------------------------------------------

  /** True: the engine and the history are in the frame. */
  get isolated() {
    return true;
  }
  /** 'isolated'. */
  get mode() {
    return 'isolated';
  }
  /** The frame's URL and origin. */
  get frameUrl() {
    return this.#frameUrl;
  }
  get frameOrigin() {
    return new URL(this.#frameUrl).origin;
  }
  /** The page cannot know the bundle's facts from here: null. */
  get itemCount() {
    return null;
  }
  get capabilities() {
    return ['track', 'forget', 'applyUpdate', 'loadShards'];
  }
  get info() {
    return { isolated: true, frameOrigin: this.frameOrigin, capabilities: this.capabilities };
  }
  supports(method) {
    return this.capabilities.includes(method);
  }
  get consent() {
    return this.#consent;
  }
  get globalPrivacyControl() {
    return this.#gpc;
  }
  /**
   * Where the frame keeps the session under the consent the page set (the frame falls back to its
   * memory when the browser refuses it storage; the page is not told, as that would say whether a
   * history was stored).
   */
  get storageMode() {
    const eff = effectiveConsent(this.#consent, this.#gpc);
    if (eff === 'granted' && this.#init.storage !== false) return 'persistent';
    if (eff === 'pending' && !this.#gpc && this.#init.storage !== false && this.#init.visitStorage !== false) return 'visit';
    return 'memory';
  }

  // -- what the page tells the frame --------------------------------------------------------------

  /** Sends an event to the engine in the frame. Resolves once it is posted; an engine refusal arrives as an 'error' event. */
  async track(event) {
    this.#alive();
    const code = measure(event) ?? checkTrackEvent(event);
    if (code) throw new VitrineError('invalid_event', `track(): ${ERROR_CODES[code]} (${JSON.stringify(event)?.slice(0, 200)})`);
    this.#post('track', { event: { ...event }, ref: this.#nextRef++ });
    this.dispatchEvent(new CustomEvent('change', { detail: { reason: 'track', event } }));
  }

  /** Changes consent in the frame ('denied' deletes its stored copies there). */
  async setConsent(consent) {
    checkConsent(consent);
    this.#alive();
    const previous = this.#consent;
    this.#consent = consent;
    this.#init = { ...this.#init, consent }; // a reloaded frame starts with the current choice
    this.#gpc = globalPrivacyControl();
    this.#post('consent', { consent });
    this.dispatchEvent(
      new CustomEvent('consentchange', { detail: { consent, previous, storageMode: this.storageMode, globalPrivacyControl: this.#gpc } }),
    );
  }

  /** Erases the session in the frame's memory and storage. Resolves to null: the page is told no count. */
  async forget() {
    await this.#roundTrip('forget');
    this.dispatchEvent(new CustomEvent('change', { detail: { reason: 'forget' } }));
    return null;
  }

  /** Resolves when the frame has handled every earlier message and written its storage. */
  async flush() {
    await this.#roundTrip('flush');
  }

  /**
   * Applies a catalog update (the delta `vitrine catalog update --delta` writes for the bundle the
   * frame loaded) in the frame: its engine and every shelf's view take it, as `applyUpdate()` does
   * without isolation. The frame fetches the delta, like the bundle: `source` is its URL (relative
   * to the frame's, on one of the frame's `sources`), `integrity` an SRI hash the frame checks
   * first. Resolves to `{added, updated, unavailable, items, promoted: null}`: `promoted` counts
   * the shopper's pending events, which stay in the frame. A delta of another bundle rejects with
   * code `update_mismatch`, a corrupt one with `bundle`, a hash mismatch with `integrity`;
   * nothing changes then.
   */
  async applyUpdate(source, options = {}) {
    this.#alive();
    if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
      throw new VitrineError('invalid_argument', "applyUpdate(): in isolated mode the frame fetches the delta, like the bundle: pass its URL (relative to the frame's)");
    }
    if (typeof source !== 'string' && !(source instanceof URL)) throw new VitrineError('invalid_argument', "applyUpdate() needs the delta's URL");
    if (options == null || typeof options !== 'object' || Array.isArray(options)) throw new VitrineError('invalid_argument', 'applyUpdate(): options must be an object ({integrity})');
    const { integrity, ...rest } = options;
    const refused = Object.keys(rest).filter((k) => rest[k] !== undefined);
    if (refused.length) {
      throw new VitrineError('invalid_argument', `applyUpdate(): ${refused.join(', ')} cannot be used in isolated mode: the frame fetches the delta itself (options: integrity)`);
    }
    if (integrity !== undefined && typeof integrity !== 'string') throw new VitrineError('invalid_argument', 'applyUpdate(): integrity must be an SRI string ("sha384-…")');
    const fields = { delta: httpUrl(source, this.#frameUrl, 'the delta URL').href, ...(integrity !== undefined ? { integrity } : {}) };
    const update = (await this.#roundTrip('update', fields))?.update;
    if (!update) throw errorFor('engine_error');
    this.#lastUpdate = fields;
    const report = { ...update, promoted: null };
    this.dispatchEvent(new CustomEvent('change', { detail: { reason: 'catalog', update: { ...report } } }));
    return report;
  }

  /**
   * A sharded catalog (the frame was given a `shards.json` manifest): the frame fetches the shards
   * holding `categories` (or every shard: `'all'`) and adds them, as `loadShards()` does without
   * isolation. Resolves to `{shards, added, items}`: files fetched, products added, products
   * loaded (the manifest's and the page's categories', nothing of the history). After a reload
   * the frame is sent the categories again.
   */
  async loadShards(which = 'all') {
    this.#alive();
    const categories = which === 'all' ? 'all' : which?.categories;
    if (categories !== 'all' && !(Array.isArray(categories) && categories.every((c) => typeof c === 'string'))) {
      throw new VitrineError('invalid_argument', "loadShards() takes 'all' or {categories: [string, …]}");
    }
    const shards = (await this.#roundTrip('shards', { categories }))?.shards;
    if (!shards) throw errorFor('engine_error');
    const before = this.#askedShards;
    this.#askedShards = categories === 'all' || before === 'all' ? 'all' : [...new Set([...(before ?? []), ...categories])];
    if (shards.shards > 0) this.dispatchEvent(new CustomEvent('change', { detail: { reason: 'catalog', shards: { ...shards } } }));
    return { ...shards };
  }

  // -- what stays in the frame --------------------------------------------------------------------

  #isolatedOnly(method) {
    return Promise.reject(
      new VitrineError('isolated', `${method}() is not available in isolated mode: the history and the rankings stay in the frame. Show them with <vitrine-shelf>.`),
    );
  }
  recommend() {
    return this.#isolatedOnly('recommend');
  }
  rerank() {
    return this.#isolatedOnly('rerank');
  }
  similar() {
    return this.#isolatedOnly('similar');
  }
  frequentlyBoughtTogether() {
    return this.#isolatedOnly('frequentlyBoughtTogether');
  }
  alsoBought() {
    return this.#isolatedOnly('alsoBought');
  }
  trending() {
    return this.#isolatedOnly('trending');
  }
  explain() {
    return this.#isolatedOnly('explain');
  }
  privacyStatus() {
    return this.#isolatedOnly('privacyStatus');
  }
  exportState() {
    return this.#isolatedOnly('exportState');
  }
  importState() {
    return this.#isolatedOnly('importState');
  }
  configure() {
    return this.#isolatedOnly('configure');
  }

  /** A view frame for a shelf (used by <vitrine-shelf>; see attachIsolatedShelf). */
  createShelfFrame(opts) {
    this.#alive();
    const view = new ShelfFrame(this, this.#init.channel, this.#frameUrl, {
      ...opts,
      onClose: () => this.#views.delete(view),
    });
    this.#views.add(view);
    return view;
  }

  /** Removes the engine frame and every shelf frame. */
  destroy() {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const v of [...this.#views]) v.destroy();
    this.#link.destroy();
    const err = new VitrineError('destroyed', 'this Vitrine instance was destroyed');
    for (const p of this.#refs.values()) p.reject(err);
    this.#refs.clear();
    this.#settle.reject(err);
  }
}

/** One shelf's view frame. */
class ShelfFrame {
  #link;
  #init;
  #onClose;
  #readyResolve;

  constructor(vitrine, channel, frameUrl, { catalog, settings, title, onChoose, onSized, onProblem, onClose }) {
    this.vitrine = vitrine;
    this.#onClose = onClose;
    // Without a catalog URL the frame shows the records the bundle carries.
    this.#init = { channel, settings, ...(catalog ? { catalog: httpUrl(catalog, frameUrl, 'the catalog URL').href } : {}) };
    this.ready = new Promise((r) => (this.#readyResolve = r));
    this.#link = new FrameLink(frameUrl, 'view', {
      title,
      onLoad: () => this.#link.post('init', this.#init),
      onMessage: (m) => {
        if (m.kind === 'sized') {
          this.#link.iframe.style.height = `${m.height}px`; // CSSOM: fine under a strict style-src
          onSized?.(m.height);
          this.#readyResolve();
        } else if (m.kind === 'choose') onChoose(m.action, m.id);
        else if (m.kind === 'error') onProblem(m.code);
        else if (m.kind !== 'ready') onProblem('unknown_kind');
      },
      onProblem,
    });
    const s = this.#link.iframe.style;
    s.display = 'block';
    s.width = '100%';
    s.border = '0';
    s.height = '280px';
    s.colorScheme = 'normal';
  }

  get element() {
    return this.#link.iframe;
  }

  update(settings, title) {
    this.#init = { ...this.#init, settings };
    if (title) this.#link.iframe.title = title;
    this.#link.post('settings', { settings });
  }

  destroy() {
    this.#link.destroy();
    this.#onClose();
  }
}

// ---- <vitrine-shelf isolated> ---------------------------------------------------------------------

/** The shelf's custom properties (from its stylesheet), read on the element and passed to the frame. */
const THEME_VARIABLES = [...new Set(STYLE.match(/--vitrine-[a-z0-9-]+/g))];

/** `template` as an absolute URL with `{id}` kept (the frame builds card links from it). */
function absoluteTemplate(template) {
  if (!template) return null;
  const mark = '__vitrine_id__';
  return httpUrl(template.replaceAll('{id}', mark), document.baseURI, 'href-template').href.replaceAll(mark, '{id}');
}

function parseJsonAttribute(el, name) {
  const raw = el.getAttribute(name);
  if (!raw) return null;
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new VitrineError('invalid_argument', `<vitrine-shelf> ${name} is not valid JSON: ${err.message}`);
  }
}

/**
 * What the frame needs to draw `host` as the page would have: its attributes and properties, and
 * its look (the `--vitrine-*` custom properties and the font and colour it inherits, as computed
 * on the element; `parts` for ::part() rules, which cannot cross into the frame by themselves).
 */
export function shelfSettings(host) {
  const theme = {};
  const cs = getComputedStyle(host);
  const refusedTheme = [];
  for (const name of [...THEME_VARIABLES, ...THEME_PROPERTIES]) {
    const v = cs.getPropertyValue(name).trim();
    if (!v) continue;
    if (cssValueOk(v)) theme[name] = v;
    else refusedTheme.push(name);
  }
  const locale = host.getAttribute('locale') ?? (document.documentElement.lang || null);
  const settings = {
    k: Math.min(host.k, LIMITS.maxK),
    mode: host.mode,
    item: ITEM_MODES.includes(host.mode) ? (host.similarTo ?? null) : null,
    options: host.options,
    placement: host.placement,
    label: host.getAttribute('label'),
    emptyText: host.getAttribute('empty-text'),
    currency: host.getAttribute('currency'),
    locale,
    layout: host.getAttribute('layout') === 'grid' ? 'grid' : 'row',
    reasons: host.hasAttribute('reasons'),
    addToCart: host.hasAttribute('add-to-cart'),
    trackClicks: host.hasAttribute('track-clicks'),
    hrefTemplate: absoluteTemplate(host.getAttribute('href-template')),
    // The page's strings for this locale (setShelfStrings) and this shelf's: the frame has neither registry.
    strings: resolveStrings(locale, host.strings),
    theme,
    parts: host.parts ?? parseJsonAttribute(host, 'parts') ?? {},
  };
  for (const [field, check] of Object.entries(DISPLAY_FIELDS)) {
    const r = check(settings[field]);
    if (r !== true && r !== null) {
      throw new VitrineError('invalid_argument', `<vitrine-shelf isolated>: ${field} was refused (${ERROR_CODES[typeof r === 'string' ? r : 'bad_schema']})`);
    }
  }
  const code = measure(settings) ?? checkDisplaySettings(settings);
  if (code) throw new VitrineError('invalid_argument', `<vitrine-shelf isolated>: the settings were refused (${ERROR_CODES[code]})`);
  return { settings, refusedTheme };
}

/**
 * Renders `host` (a <vitrine-shelf>) in a view frame inside `root`, its shadow root. The frame
 * reports only its height (content-independent) and the shopper's choices, which become the
 * element's `vitrine:click` (cancelable: not cancelled and with href-template, the page navigates)
 * and `vitrine:add-to-cart` events with `{id, placement, label}`; problems become `vitrine:error`.
 * @returns {{update: (opts?: {force?: boolean}) => void, destroy: () => void}}
 */
export function attachIsolatedShelf(host, root, { vitrine, onReady, onError }) {
  let frame = null;
  let last = null;
  let scheduled = false;
  let destroyed = false;
  const warned = new Set();

  const fire = (type, detail, cancelable = false) =>
    host.dispatchEvent(new CustomEvent(type, { bubbles: true, composed: true, cancelable, detail }));

  const choose = (action, id) => {
    const detail = { id, placement: host.placement, label: host.getAttribute('label') ?? undefined };
    if (action === 'add-to-cart') return void fire('vitrine:add-to-cart', detail);
    const go = fire('vitrine:click', detail, true);
    const template = host.getAttribute('href-template');
    if (go && template) globalThis.location.assign(absoluteTemplate(template).replaceAll('{id}', encodeURIComponent(id)));
  };

  const sync = (force) => {
    if (destroyed) return;
    const v = vitrine();
    if (!v) return; // still loading (src + frame-src), or not set yet
    if (!v.isolated) return onError(new VitrineError('isolated', '<vitrine-shelf isolated> needs an isolated Vitrine: Vitrine.load(url, {isolation: {frame}}), or src and frame-src'));
    const catalog = typeof host.catalog === 'string' ? host.catalog : host.getAttribute('catalog');
    if (host.catalog != null && typeof host.catalog !== 'string' && !host.hasAttribute('catalog')) {
      return onError(new VitrineError('isolated', "<vitrine-shelf isolated>: the frame loads the catalog itself: give its URL (relative to the frame's), not the data"));
    }
    // No catalog URL: the frame shows the records the bundle carries (docs/catalog.md).
    let settings;
    try {
      let refusedTheme;
      ({ settings, refusedTheme } = shelfSettings(host));
      for (const name of refusedTheme) {
        if (warned.has(name)) continue;
        warned.add(name);
        onError(new VitrineError('invalid_argument', `<vitrine-shelf isolated>: the value of ${name} was not passed to the frame (url(), attr() and other fetching functions are refused)`));
      }
    } catch (err) {
      return onError(err);
    }
    const title = settings.label ?? 'Recommended products';
    const key = JSON.stringify([catalog, settings]);
    if (!frame || frame.vitrine !== v || frame.catalog !== catalog) {
      frame?.destroy();
      try {
        frame = v.createShelfFrame({
          catalog,
          settings,
          title,
          onChoose: choose,
          onSized: () => onReady(),
          onProblem: (code) => onError(errorFor(code)),
        });
      } catch (err) {
        frame = null;
        return onError(err);
      }
      frame.catalog = catalog;
      root.append(frame.element);
    } else if (force || key !== last) {
      frame.update(settings, title);
    }
    last = key;
  };

  return {
    update({ force = false } = {}) {
      if (scheduled && !force) return;
      scheduled = true;
      queueMicrotask(() => {
        scheduled = false;
        sync(force);
      });
    },
    destroy() {
      destroyed = true;
      frame?.destroy();
      frame = null;
    },
  };
}

// Shelves that name the same frame, bundle and options share one isolated engine.
const shared = new Map();

/** The isolated instance for `<vitrine-shelf isolated src frame-src>` (one per frame, bundle and options). */
export function sharedIsolated(src, frame, options) {
  const key = JSON.stringify([new URL(frame, document.baseURI).href, src, options]);
  if (!shared.has(key)) {
    const p = IsolatedVitrine.load(src, { ...options, isolation: { frame } });
    p.catch(() => shared.delete(key));
    shared.set(key, p);
  }
  return shared.get(key);
}
