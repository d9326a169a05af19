// The message protocol between a store's page (origin A) and the isolated frame (origin B), shared
// by both sides so that each validates what it sends and what it receives with the same rules.
// Pure: no DOM, no browser API (it runs in Node for the unit tests).
//
// Every message is plain data {vitrine: 1, kind, …fields}. A message is refused (dropped, with an
// error code reported) when it is not plain data (a Date, a Map, a port, a function…), is over the
// size limits, names a kind the receiver does not take, misses a required field, has a field of the
// wrong type, or has a field the kind does not define. Nothing here throws on hostile input.
//
//   page → engine frame:  init {channel, bundle, …}, track {event}, consent {consent}, forget {ref}, flush {ref},
//                         update {ref, delta, integrity?}, shards {ref, categories}
//   page → view frame:    init {channel, catalog?, settings}, settings {settings}
//   frame → page:         ready, sized {height}, error {code, ref?}, choose {action, id},
//                         done {ref, update?, shards?}
//
// What the page can learn from the frame is exactly the frame → page list: no history, no counts of
// it, no ids of shown items, no timings (docs/deployment.md says what else remains observable). An
// update's report counts products of the bundle and the delta, both public: never the shopper's
// pending events it promoted.

import { DEFAULT_STRINGS } from '../strings.js';

export const PROTOCOL_VERSION = 1;

/** Limits every receiver applies before it looks at a message's meaning. */
export const LIMITS = Object.freeze({
  /** Estimated size of one message: UTF-16 code units of strings and keys, 8 per scalar. */
  messageChars: 64 * 1024,
  /** Nesting depth of a message. */
  depth: 12,
  /** Values (objects, arrays, scalars) in one message. */
  nodes: 4096,
  /** Flood gate: messages accepted in a burst, and refilled per second. */
  burst: 300,
  perSecond: 150,
  /** Error reports one side sends the other per second (the rest of a flood is dropped silently). */
  errorsPerSecond: 20,
  /** Cards on one isolated shelf. */
  maxK: 48,
});

/**
 * Every code an `error` message may carry, with the text the page shows a developer. Engine codes
 * (the last group) pass through from the engine in the frame; anything else becomes `engine_error`.
 */
export const ERROR_CODES = Object.freeze({
  bad_origin: 'a message came from an origin the receiver does not accept; it was dropped',
  bad_source: "a message came from a window that is not the frame's parent; it was dropped",
  bad_schema: 'a message did not match the protocol (not plain data, a missing field or a wrong type); it was dropped',
  bad_version: 'a message of another protocol version; it was dropped',
  unknown_kind: 'a message of a kind the receiver does not take; it was dropped',
  unknown_field: 'a message with a field the protocol does not define; it was dropped',
  too_large: 'a message over the size limits; it was dropped',
  rate_limited: 'too many messages at once: the rest of the burst was dropped',
  not_ready: 'a message arrived before init; it was dropped',
  already_initialized: 'a second init; it was dropped',
  origin_not_allowed: "this page's origin is not among the parents the frame's configuration allows",
  not_configured: 'the frame has no valid configuration (the JSON block #vitrine-frame-config in its HTML)',
  source_not_allowed: 'the bundle or catalog URL is on an origin the frame does not fetch from (its configuration\'s "sources")',
  catalog_failed: 'the frame could not load the catalog (its URL failed, or no catalog URL was given and the bundle carries no catalog records)',
  obscured: 'a click on a card that was covered or made transparent (clickjacking?) was not passed to the page',
  engine_unavailable: 'the engine in the frame is not running (see the earlier error)',
  frame_timeout: 'the frame did not answer in time (is the URL right, and does its Content-Security-Policy frame-ancestors allow this page?)',
  // The engine's own codes (README "Errors").
  fetch_failed: 'the frame could not fetch the bundle (or the catalog update)',
  http_error: 'the server answered the frame with an HTTP error for the bundle (or the catalog update)',
  content_type: 'the bundle (or catalog update) URL did not serve a bundle',
  integrity: 'the bundle (or the catalog update) does not match its integrity hash',
  bad_bundle: 'the engine refused the bundle',
  engine_load_failed: 'the WebAssembly engine could not be loaded in the frame',
  worker_failed: "the engine's worker in the frame failed",
  unknown_item: 'an event named an item the bundle does not know',
  unknown_event_type: 'an event of an unknown type',
  invalid_event: 'an invalid event',
  invalid_context: 'an invalid context value in the request options',
  invalid_option: 'an invalid request option or setting',
  invalid_argument: 'an invalid argument',
  update_mismatch: 'the catalog update was made for another bundle than the one the frame loaded; nothing changed',
  bundle: 'the engine refused the catalog update (corrupt, truncated or not a delta); nothing changed',
  invalid_manifest: 'the shard manifest (shards.json) the frame was given is not one',
  engine_error: 'the engine in the frame reported an error',
});

/** The engine codes the frame forwards as they are (they depend on what the page sent, not on the history). */
export const ENGINE_CODES = Object.freeze([
  'fetch_failed', 'http_error', 'content_type', 'integrity', 'bad_bundle', 'engine_load_failed', 'worker_failed',
  'unknown_item', 'unknown_event_type', 'invalid_event', 'invalid_context', 'invalid_option', 'invalid_argument',
  'update_mismatch', 'bundle', 'invalid_manifest',
]);

/** An engine error's code as the page may see it. */
export function engineCode(err) {
  const code = err?.code;
  return ENGINE_CODES.includes(code) ? code : 'engine_error';
}

// ---- plain data and size ------------------------------------------------------------------------

/** True for `{}`-style objects (also from another realm after structured clone) and null-prototype ones. */
export function isPlainObject(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/**
 * Walks `value` and returns null when it is plain data within the limits, else the code to refuse
 * it with: 'too_large' (chars, depth or node count) or 'bad_schema' (something that is not plain
 * data, NaN). It stops at the first limit crossed, so a 1 MB string or a million-element array costs
 * nothing to refuse.
 */
export function measure(value, limits = LIMITS) {
  let chars = 0;
  let nodes = 0;
  const stack = [value, 0];
  try {
    while (stack.length) {
      const depth = stack.pop();
      const v = stack.pop();
      if (++nodes > limits.nodes || depth > limits.depth) return 'too_large';
      if (v === null || typeof v === 'boolean') chars += 4;
      else if (typeof v === 'number') {
        if (Number.isNaN(v)) return 'bad_schema';
        chars += 8;
      } else if (typeof v === 'string') chars += v.length + 2;
      else if (Array.isArray(v)) {
        if (v.length > limits.nodes) return 'too_large';
        chars += 2;
        for (let i = 0; i < v.length; i++) stack.push(v[i], depth + 1);
      } else if (isPlainObject(v)) {
        const keys = Object.keys(v);
        if (keys.length > limits.nodes) return 'too_large';
        chars += 2;
        for (const k of keys) {
          chars += k.length + 3;
          stack.push(v[k], depth + 1);
        }
      } else return 'bad_schema'; // undefined, functions, symbols, bigints, Dates, Maps, buffers…
      if (chars > limits.messageChars) return 'too_large';
    }
  } catch {
    return 'bad_schema'; // a getter or a Proxy that throws (only possible on the sending side)
  }
  return null;
}

// ---- field checks -------------------------------------------------------------------------------

const str = (max, re) => (v) => typeof v === 'string' && v.length <= max && (re ? re.test(v) : true);
const oneOf = (...xs) => (v) => xs.includes(v);
const bool = (v) => typeof v === 'boolean';
const int = (lo, hi) => (v) => Number.isInteger(v) && v >= lo && v <= hi;
const finite = (v) => typeof v === 'number' && Number.isFinite(v);
const nullOr = (check) => (v) => v === null || check(v);
const plain = (v) => isPlainObject(v);

const CHANNEL = str(64, /^[A-Za-z0-9_-]{16,64}$/);
const URL_STRING = str(2048, /^[^\s]+$/);
const REF = int(0, Number.MAX_SAFE_INTEGER);
const ITEM_ID = str(200, /^[^\u0000-\u001f]+$/);
const CONSENT = oneOf('granted', 'denied', 'pending');

/**
 * Checks `obj`'s fields: every `required` one present and valid, every other one in `optional`.
 * A check may be a predicate (false → 'bad_schema') or a function returning a code or null.
 * @returns {string|null} the code to refuse with, or null
 */
function checkFields(obj, required, optional = {}) {
  if (!isPlainObject(obj)) return 'bad_schema';
  for (const key of Object.keys(obj)) if (!Object.hasOwn(required, key) && !Object.hasOwn(optional, key)) return 'unknown_field';
  for (const [key, check] of Object.entries(required)) {
    if (!Object.hasOwn(obj, key)) return 'bad_schema';
    const r = check(obj[key]);
    if (r !== true && r !== null) return typeof r === 'string' ? r : 'bad_schema';
  }
  for (const [key, check] of Object.entries(optional)) {
    if (!Object.hasOwn(obj, key) || obj[key] === undefined) continue;
    const r = check(obj[key]);
    if (r !== true && r !== null) return typeof r === 'string' ? r : 'bad_schema';
  }
  return null;
}

/** A shopper event as `Vitrine.track()` takes it (the engine checks types and ids again). */
export const checkTrackEvent = (e) =>
  checkFields(e, { type: str(40, /^[a-z_]{1,40}$/) }, { item: ITEM_ID, ts: finite, dwellMs: finite, quantity: finite, price: finite, query: str(500) });

// ---- display settings and theming ---------------------------------------------------------------

/** The shelf's parts (cards.js, shelf.js) that `parts` may style. */
export const PART_NAMES = Object.freeze([
  'list', 'empty', 'card', 'link', 'image', 'body', 'badges', 'badge', 'category', 'brand', 'name', 'prices',
  'price', 'sale-price', 'regular-price', 'availability', 'reason', 'add-to-cart',
]);

/** Inherited properties the page's look may pass besides the `--vitrine-*` custom properties. */
export const THEME_PROPERTIES = Object.freeze([
  'font-family', 'font-size', 'font-weight', 'font-style', 'line-height', 'letter-spacing', 'color', 'color-scheme',
]);

/**
 * CSS functions a theme value may use. Anything else (url(), image-set(), attr(), src(), …) could
 * make the frame fetch something or read its own content into a value: refused.
 */
const CSS_FUNCTIONS = new Set([
  'rgb', 'rgba', 'hsl', 'hsla', 'hwb', 'lab', 'lch', 'oklab', 'oklch', 'color', 'color-mix', 'light-dark', 'calc', 'min',
  'max', 'clamp', 'var', 'linear-gradient', 'radial-gradient', 'conic-gradient', 'repeating-linear-gradient',
  'repeating-radial-gradient', 'cubic-bezier', 'steps', 'translate', 'translatex', 'translatey', 'scale', 'rotate',
  'minmax', 'repeat', 'fit-content',
]);

/** True when `v` is a CSS value the frame may set with CSSOM: no rule breakout, no escape, no fetching function. */
export function cssValueOk(v) {
  if (typeof v !== 'string' || v.length > 300) return false;
  if (/[;{}<>\\@\u0000-\u001f]/.test(v) || v.includes('/*')) return false;
  for (const m of v.matchAll(/([A-Za-z_-][A-Za-z0-9_-]*)\s*\(/g)) if (!CSS_FUNCTIONS.has(m[1].toLowerCase())) return false;
  return true;
}

const CUSTOM_PROPERTY = /^--vitrine-[a-z0-9-]{1,40}$/;
const CSS_PROPERTY = /^-?[a-z][a-z-]{0,40}$/;

function checkTheme(theme) {
  if (!isPlainObject(theme)) return 'bad_schema';
  const entries = Object.entries(theme);
  if (entries.length > 64) return 'too_large';
  for (const [k, v] of entries) {
    if (!CUSTOM_PROPERTY.test(k) && !THEME_PROPERTIES.includes(k)) return 'unknown_field';
    if (!cssValueOk(v)) return 'bad_schema';
  }
  return null;
}

function checkParts(parts) {
  if (!isPlainObject(parts)) return 'bad_schema';
  for (const [name, decls] of Object.entries(parts)) {
    if (!PART_NAMES.includes(name)) return 'unknown_field';
    if (!isPlainObject(decls)) return 'bad_schema';
    const entries = Object.entries(decls);
    if (entries.length > 32) return 'too_large';
    for (const [prop, v] of entries) if (!CSS_PROPERTY.test(prop) || !cssValueOk(v)) return 'bad_schema';
  }
  return null;
}

function checkStringsObject(s) {
  if (!isPlainObject(s)) return 'bad_schema';
  for (const [k, v] of Object.entries(s)) {
    if (!Object.hasOwn(DEFAULT_STRINGS, k)) return 'unknown_field';
    if (typeof v !== 'string' || v.length > 500) return 'bad_schema';
  }
  return null;
}

const HREF_TEMPLATE = (v) => typeof v === 'string' && v.length <= 2048 && /^https?:\/\/[^\s]+$/.test(v) && v.includes('{id}');
const ITEMS = (v) => ITEM_ID(v) || (Array.isArray(v) && v.length <= 100 && v.every(ITEM_ID));

/** The shelf's modes (`<vitrine-shelf mode>`); those of ITEM_MODES are about the page's `item`(s). */
export const SHELF_MODES = Object.freeze(['recommend', 'similar', 'bought-together', 'also-bought', 'trending']);
export const ITEM_MODES = Object.freeze(['similar', 'bought-together', 'also-bought']);

/** What the page may say about how the shelf looks and what it asks the engine (README "Isolated mode"). */
export const DISPLAY_FIELDS = Object.freeze({
  k: int(1, LIMITS.maxK),
  mode: oneOf(...SHELF_MODES),
  item: nullOr(ITEMS),
  options: plain,
  placement: str(200),
  label: nullOr(str(300)),
  emptyText: nullOr(str(500)),
  currency: nullOr(str(3, /^[A-Za-z]{3}$/)),
  locale: nullOr(str(35, /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/)),
  layout: oneOf('row', 'grid'),
  reasons: bool,
  addToCart: bool,
  trackClicks: bool,
  hrefTemplate: nullOr(HREF_TEMPLATE),
  strings: nullOr(checkStringsObject),
  theme: checkTheme,
  parts: checkParts,
});

/** @returns {string|null} the code to refuse display settings with, or null */
export const checkDisplaySettings = (s) => checkFields(s, {}, DISPLAY_FIELDS);

/** Display settings with every field present (the frame's defaults for the missing ones). */
export function displayDefaults(s = {}) {
  return {
    k: 8,
    mode: 'recommend',
    item: null,
    options: {},
    placement: '',
    label: null,
    emptyText: null,
    currency: null,
    locale: null,
    layout: 'row',
    reasons: false,
    addToCart: false,
    trackClicks: false,
    hrefTemplate: null,
    strings: null,
    theme: {},
    parts: {},
    ...s,
  };
}

// ---- the messages -------------------------------------------------------------------------------

/** A count of products (an update's report): an integer in [0, 2^31). */
const COUNT = int(0, 2 ** 31 - 1);

/**
 * What the frame says about an applied update: counts of the bundle and the delta (public). Not
 * `promoted`, which counts the shopper's pending events: a frame that sent it would be refused.
 */
export const checkUpdateReport = (r) => checkFields(r, { added: COUNT, updated: COUNT, unavailable: COUNT, items: COUNT });

/**
 * What the frame says about shards it fetched for the page (`shards`): how many files, products
 * added, products now loaded — functions of the manifest and the page's categories only.
 */
export const checkShardsReport = (r) => checkFields(r, { shards: COUNT, added: COUNT, items: COUNT });

/** The categories a page asks shards for: `'all'`, or up to 1,000 names. */
const CATEGORIES = (v) => v === 'all' || (Array.isArray(v) && v.length <= 1000 && v.every(str(1024)));

const STORAGE = (v) => v === false || oneOf('localStorage', 'sessionStorage', 'indexedDB', 'memory')(v);
const VISIT_STORAGE = (v) => v === false || oneOf('sessionStorage', 'memory')(v);

/** page → frame, by the frame's role. */
export const TO_FRAME = Object.freeze({
  engine: {
    init: {
      required: { channel: CHANNEL, bundle: URL_STRING, consent: CONSENT },
      optional: {
        ref: REF,
        integrity: str(1024),
        worker: bool,
        storage: STORAGE,
        visitStorage: VISIT_STORAGE,
        storageKey: str(100, /^[A-Za-z0-9:._-]{1,100}$/),
        ttl: int(1, 400 * 24 * 3600 * 1000),
        saveDelay: int(0, 60_000),
        settings: plain,
      },
    },
    track: { required: { event: checkTrackEvent }, optional: { ref: REF } },
    consent: { required: { consent: CONSENT }, optional: { ref: REF } },
    forget: { required: { ref: REF } },
    flush: { required: { ref: REF } },
    // A catalog update (`vitrine catalog update --delta`): the frame fetches `delta` from its allowed
    // sources, checks `integrity` and applies it; answered by `done {ref, update}` or an error.
    update: { required: { ref: REF, delta: URL_STRING }, optional: { integrity: str(1024) } },
    // A sharded catalog (the frame loaded a `shards.json`): the frame fetches the shards holding
    // these categories, as `loadShards()` does; answered by `done {ref, shards}` or an error.
    shards: { required: { ref: REF, categories: CATEGORIES } },
  },
  view: {
    // Without `catalog`, the view shows the records the bundle carries (from the engine frame).
    init: { required: { channel: CHANNEL, settings: checkDisplaySettings }, optional: { catalog: URL_STRING, ref: REF } },
    settings: { required: { settings: checkDisplaySettings }, optional: { ref: REF } },
  },
});

/** frame → page. */
export const TO_PAGE = Object.freeze({
  ready: { required: {} },
  sized: { required: { height: int(0, 100_000) } },
  error: { required: { code: oneOf(...Object.keys(ERROR_CODES)) }, optional: { ref: REF } },
  choose: { required: { action: oneOf('open', 'add-to-cart'), id: ITEM_ID } },
  done: { required: { ref: REF }, optional: { update: checkUpdateReport, shards: checkShardsReport } },
});

/**
 * Validates one message against `schemas` (TO_FRAME.engine, TO_FRAME.view or TO_PAGE).
 * @returns {{ok: true, message: object} | {ok: false, code: string}}
 */
export function validateMessage(data, schemas, limits = LIMITS) {
  const sizeCode = measure(data, limits);
  if (sizeCode) return { ok: false, code: sizeCode };
  if (!isPlainObject(data)) return { ok: false, code: 'bad_schema' };
  if (data.vitrine !== PROTOCOL_VERSION) return { ok: false, code: data.vitrine === undefined ? 'bad_schema' : 'bad_version' };
  if (typeof data.kind !== 'string') return { ok: false, code: 'bad_schema' };
  const schema = Object.hasOwn(schemas, data.kind) ? schemas[data.kind] : null;
  if (!schema) return { ok: false, code: 'unknown_kind' };
  const code = checkFields(data, { vitrine: () => true, kind: () => true, ...schema.required }, schema.optional);
  return code ? { ok: false, code } : { ok: true, message: data };
}

/** A message of `kind` with `fields`, in the protocol's envelope. */
export const envelope = (kind, fields = {}) => ({ vitrine: PROTOCOL_VERSION, kind, ...fields });

// ---- flood control ------------------------------------------------------------------------------

/** A token bucket: `take()` is true while the sender stays within `burst` plus `perSecond`. */
export class FloodGate {
  #tokens;
  #last;
  constructor({ burst = LIMITS.burst, perSecond = LIMITS.perSecond, now = () => Date.now() } = {}) {
    this.burst = burst;
    this.perSecond = perSecond;
    this.now = now;
    this.#tokens = burst;
    this.#last = now();
  }

  take() {
    const t = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#last) / 1000) * this.perSecond);
    this.#last = t;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

// ---- origins and configuration ------------------------------------------------------------------

/**
 * Parses an origin pattern: an exact origin ("https://www.store.example"), one with any port
 * ("http://127.0.0.1:*"), or any subdomain ("https://*.store.example"). null when it is none of these.
 */
export function parseOriginPattern(pattern) {
  if (typeof pattern !== 'string' || pattern.length > 300) return null;
  const m = /^(https?):\/\/(\*\.)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}|\*))?$/.exec(pattern);
  if (!m) return null;
  return { scheme: m[1], subdomains: !!m[2], host: m[3].toLowerCase(), port: m[4] ?? '' };
}

/** True when `origin` (as in MessageEvent.origin) matches one of `patterns` (see parseOriginPattern). */
export function originAllowed(origin, patterns) {
  let u;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (u.origin !== origin) return false; // "null", or not an origin at all
  const scheme = u.protocol.slice(0, -1);
  const host = u.hostname.toLowerCase();
  for (const p of patterns) {
    const pat = parseOriginPattern(p);
    if (!pat || pat.scheme !== scheme) continue;
    const hostOk = pat.subdomains ? host.endsWith(`.${pat.host}`) : host === pat.host;
    const portOk = pat.port === '*' || pat.port === u.port || (pat.port === '' && u.port === '');
    if (hostOk && portOk) return true;
  }
  return false;
}

/**
 * The frame's configuration, from the JSON block in its HTML: which parents may embed it and talk
 * to it, which origins it fetches the bundle and catalog from, and which it shows images from.
 * @param {string|null|undefined} text the block's text
 * @param {string} frameOrigin the frame's own origin (the default source; images default to the sources and the parents)
 * @returns {{ok: true, config: {parents: string[], sources: string[], images: string[], requireVisible: boolean}} | {ok: false, code: 'not_configured', reason: string}}
 */
export function readFrameConfig(text, frameOrigin) {
  const no = (reason) => ({ ok: false, code: 'not_configured', reason });
  let raw;
  try {
    raw = JSON.parse(String(text ?? ''));
  } catch {
    return no('the configuration block is not JSON');
  }
  if (!isPlainObject(raw)) return no('the configuration is not an object');
  for (const k of Object.keys(raw)) if (!['parents', 'sources', 'images', 'requireVisible'].includes(k)) return no(`unknown configuration key "${k}"`);
  if (raw.requireVisible !== undefined && typeof raw.requireVisible !== 'boolean') return no('"requireVisible" must be true or false');
  const list = (v, name, fallback) => {
    if (v === undefined) return fallback;
    if (!Array.isArray(v) || v.length > 64 || !v.every((p) => parseOriginPattern(p))) {
      throw new Error(`"${name}" must be a list of origins like "https://www.store.example" (or "http://127.0.0.1:*")`);
    }
    return [...v];
  };
  try {
    const parents = list(raw.parents, 'parents', []);
    if (parents.length === 0) return no('"parents" lists no origin: no page may embed the frame');
    const sources = list(raw.sources, 'sources', [frameOrigin]);
    const images = list(raw.images, 'images', [...sources, ...parents]);
    return { ok: true, config: { parents, sources, images, requireVisible: raw.requireVisible ?? true } };
  } catch (err) {
    return no(err.message);
  }
}

/**
 * `url` resolved against `base`, when it is http(s) on an allowed origin; else null.
 * @returns {string|null}
 */
export function resolveAllowed(url, base, patterns) {
  let u;
  try {
    u = new URL(url, base);
  } catch {
    return null;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
  return originAllowed(u.origin, patterns) ? u.href : null;
}

/** A fresh channel name (the page makes one per engine; both frames of the page use it). */
export function newChannel() {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
