// Node tests of the isolated mode's message protocol (www/lib/isolated/protocol.js), the rules both
// sides apply: plain data within size limits, one schema per kind with unknown fields refused,
// theme values that cannot fetch or break out of a declaration, the flood gate, origin patterns and
// the frame's configuration. The browser tests (isolated*.test.mjs) check the same rules end to end.
//
//   node --test tests/isolated-protocol.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  ERROR_CODES, FloodGate, LIMITS, PROTOCOL_VERSION, TO_FRAME, TO_PAGE, checkDisplaySettings, cssValueOk, envelope,
  measure, originAllowed, readFrameConfig, resolveAllowed, validateMessage, displayDefaults, engineCode, newChannel, checkUpdateReport,
} from '../www/lib/isolated/protocol.js';

const CHANNEL = 'a'.repeat(32);
const code = (msg, schemas) => {
  const r = validateMessage(msg, schemas);
  return r.ok ? null : r.code;
};

test('measure: plain data passes; a 1 MB string, a million-element array, deep nesting and wide objects are too large', () => {
  assert.equal(measure({ a: [1, 'x', true, null, { b: -Infinity }] }), null);
  assert.equal(measure('x'.repeat(1_000_000)), 'too_large');
  assert.equal(measure(new Array(1_000_000).fill(0)), 'too_large');
  assert.equal(measure(Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]))), 'too_large');
  let deep = 1;
  for (let i = 0; i < 100; i++) deep = { deep };
  assert.equal(measure(deep), 'too_large');
  // Just under the limit passes, just over does not.
  assert.equal(measure('x'.repeat(LIMITS.messageChars - 2)), null);
  assert.equal(measure('x'.repeat(LIMITS.messageChars - 1)), 'too_large');
});

test('measure: anything that is not plain data is refused as bad_schema', () => {
  for (const v of [undefined, () => 1, Symbol('s'), 1n, NaN, new Date(), new Map(), new Set(), new ArrayBuffer(8), new Uint8Array(2), /re/, new Error('e')]) {
    assert.equal(measure({ v }), 'bad_schema', String(v));
  }
  assert.equal(measure([1, , 3]), 'bad_schema', 'a hole is undefined'); // eslint-disable-line no-sparse-arrays
  class Klass {}
  assert.equal(measure(new Klass()), 'bad_schema');
  assert.equal(measure(Object.create(null)), null, 'null-prototype objects are plain');
  const throwing = new Proxy({}, { ownKeys() { throw new Error('no'); } });
  assert.equal(measure(throwing), 'bad_schema');
});

test('every message the page and the frame send validates on the other side', () => {
  const engine = TO_FRAME.engine;
  const view = TO_FRAME.view;
  assert.equal(code(envelope('init', { channel: CHANNEL, bundle: 'https://reco.example/store.vtr', consent: 'pending' }), engine), null);
  assert.equal(
    code(envelope('init', { channel: CHANNEL, bundle: 'b.vtr', consent: 'granted', ref: 1, integrity: 'sha256-x', worker: false, storage: false, visitStorage: 'memory', storageKey: 'k:1', ttl: 1000, saveDelay: 0, settings: { privacy: { epsilon: Infinity } } }), engine),
    null,
  );
  assert.equal(code(envelope('track', { event: { type: 'view', item: 'p1', ts: 1, quantity: 2, price: 3, dwellMs: 4 } }), engine), null);
  assert.equal(code(envelope('track', { event: { type: 'search', query: 'tent' }, ref: 7 }), engine), null);
  assert.equal(code(envelope('consent', { consent: 'denied' }), engine), null);
  assert.equal(code(envelope('forget', { ref: 3 }), engine), null);
  assert.equal(code(envelope('flush', { ref: 4 }), engine), null);
  assert.equal(code(envelope('init', { channel: CHANNEL, catalog: '/catalog.json', settings: displayDefaults() }), view), null);
  assert.equal(code(envelope('init', { channel: CHANNEL, settings: displayDefaults() }), view), null, 'no catalog URL: the bundle\'s records');
  assert.equal(code(envelope('settings', { settings: { k: 4, layout: 'grid' } }), view), null);
  for (const m of [
    envelope('ready'),
    envelope('sized', { height: 312 }),
    envelope('error', { code: 'too_large' }),
    envelope('error', { code: 'unknown_item', ref: 9 }),
    envelope('choose', { action: 'open', id: 'p0012' }),
    envelope('choose', { action: 'add-to-cart', id: 'p0012' }),
    envelope('done', { ref: 2 }),
  ]) assert.equal(code(m, TO_PAGE), null, JSON.stringify(m));
});

test('refusals carry the right code: schema, unknown field, unknown kind, version, roles', () => {
  const engine = TO_FRAME.engine;
  assert.equal(code('hello', engine), 'bad_schema');
  assert.equal(code(null, engine), 'bad_schema');
  assert.equal(code([PROTOCOL_VERSION, 'track'], engine), 'bad_schema');
  assert.equal(code({ kind: 'track', event: { type: 'view' } }, engine), 'bad_schema', 'no version field');
  assert.equal(code({ vitrine: 2, kind: 'track', event: { type: 'view' } }, engine), 'bad_version');
  assert.equal(code(envelope('exportState'), engine), 'unknown_kind');
  assert.equal(code(envelope('constructor'), engine), 'unknown_kind', 'no prototype lookups');
  assert.equal(code(envelope('__proto__'), engine), 'unknown_kind');
  assert.equal(code(envelope('settings', { settings: {} }), engine), 'unknown_kind', 'a view kind sent to the engine frame');
  assert.equal(code(envelope('track', { event: { type: 'view' }, extra: 1 }), engine), 'unknown_field');
  assert.equal(code(envelope('track', { event: { type: 'view', item: 'p1', color: 'red' } }), engine), 'unknown_field');
  assert.equal(code(envelope('track', {}), engine), 'bad_schema');
  assert.equal(code(envelope('track', { event: { type: 7 } }), engine), 'bad_schema');
  assert.equal(code(envelope('track', { event: { type: 'view', ts: Infinity } }), engine), 'bad_schema');
  assert.equal(code(envelope('consent', { consent: 'yes' }), engine), 'bad_schema');
  assert.equal(code(envelope('forget'), engine), 'bad_schema', 'forget needs a ref');
  assert.equal(code(envelope('init', { channel: 'short', bundle: 'b', consent: 'pending' }), engine), 'bad_schema');
  assert.equal(code(envelope('init', { channel: CHANNEL, catalog: 'a b', settings: {} }), TO_FRAME.view), 'bad_schema', 'a catalog URL, when given, is checked');
  assert.equal(code(envelope('init', { channel: CHANNEL, catalog: '/c.json' }), TO_FRAME.view), 'bad_schema', 'settings are required');
  assert.equal(code(envelope('init', { channel: CHANNEL, bundle: 'b', consent: 'pending', storage: { get() {} } }), engine), 'bad_schema');
  const own = envelope('track', { event: { type: 'view' } });
  Object.defineProperty(own, '__proto__', { value: {}, enumerable: true });
  assert.equal(code(own, engine), 'unknown_field', 'an own __proto__ key is just an unknown field');
  assert.equal(code(envelope('track', { event: { type: 'view', toString: 'x' } }), engine), 'unknown_field', 'no inherited names');
  assert.equal(checkDisplaySettings({ strings: { constructor: 'x' } }), 'unknown_field');
  assert.equal(code(envelope('track', { event: { type: 'view', item: 'x'.repeat(2_000_000) } }), engine), 'too_large');
  // The page refuses what a frame may not say.
  assert.equal(code(envelope('choose', { action: 'open', id: 'p1', rank: 2 }), TO_PAGE), 'unknown_field');
  assert.equal(code(envelope('choose', { action: 'impression', id: 'p1' }), TO_PAGE), 'bad_schema');
  assert.equal(code(envelope('error', { code: 'history_has_12_items' }), TO_PAGE), 'bad_schema');
  assert.equal(code(envelope('sized', { height: -1 }), TO_PAGE), 'bad_schema');
  assert.equal(code(envelope('sized', { height: 300, items: 4 }), TO_PAGE), 'unknown_field');
  assert.equal(code(envelope('state', { json: '{}' }), TO_PAGE), 'unknown_kind');
  for (const c of ['bad_schema', 'unknown_field', 'unknown_kind', 'too_large', 'bad_version', 'rate_limited']) assert.ok(ERROR_CODES[c]);
});

test('display settings: ranges, enums, strings, href templates', () => {
  assert.equal(checkDisplaySettings(displayDefaults()), null);
  assert.equal(checkDisplaySettings({ k: 0 }), 'bad_schema');
  assert.equal(checkDisplaySettings({ k: LIMITS.maxK + 1 }), 'bad_schema');
  assert.equal(checkDisplaySettings({ k: 2.5 }), 'bad_schema');
  assert.equal(checkDisplaySettings({ layout: 'carousel' }), 'bad_schema');
  assert.equal(checkDisplaySettings({ itemz: 'p1' }), 'unknown_field');
  assert.equal(checkDisplaySettings({ mode: 'similar', item: ['p1', 'p2'] }), null);
  // The shelf's modes (issues 16, 17): all of them, and nothing else.
  assert.equal(checkDisplaySettings({ mode: 'bought-together', item: ['p1', 'p2'] }), null);
  assert.equal(checkDisplaySettings({ mode: 'also-bought', item: 'p1' }), null);
  assert.equal(checkDisplaySettings({ mode: 'trending' }), null);
  for (const bad of ['Trending', 'boughtTogether', 'exportState', '', 'similar ', 7, null]) assert.equal(checkDisplaySettings({ mode: bad }), 'bad_schema', String(bad));
  assert.equal(checkDisplaySettings({ mode: 'bought-together', item: 'p\u0000' }), 'bad_schema', 'ids are checked in every mode');
  assert.equal(checkDisplaySettings({ item: Array(101).fill('p1') }), 'bad_schema');
  assert.equal(checkDisplaySettings({ strings: { addToCart: 'Kaufen' } }), null);
  assert.equal(checkDisplaySettings({ strings: { shout: 'x' } }), 'unknown_field');
  assert.equal(checkDisplaySettings({ hrefTemplate: 'https://shop.example/p/{id}' }), null);
  assert.equal(checkDisplaySettings({ hrefTemplate: 'javascript:alert({id})' }), 'bad_schema');
  assert.equal(checkDisplaySettings({ hrefTemplate: '/p/{id}' }), 'bad_schema', 'absolute only: the page resolves it');
  assert.equal(checkDisplaySettings({ hrefTemplate: 'https://shop.example/p/' }), 'bad_schema', 'needs {id}');
  assert.equal(checkDisplaySettings({ locale: 'de-AT' }), null);
  assert.equal(checkDisplaySettings({ locale: 'de AT' }), 'bad_schema');
  assert.equal(checkDisplaySettings({ currency: 'EURO' }), 'bad_schema');
});

test('theme and parts: only values that cannot fetch, read content or break out of a declaration', () => {
  for (const ok of ['#4f46e5', 'rgb(10 20 30 / 50%)', '0 1px 2px rgba(16, 24, 40, 0.05)', 'calc(100% - 2px)', 'var(--x, 4px)',
    'color-mix(in srgb, red 30%, blue)', '"Inter", system-ui, sans-serif', '1px solid #e3e6eb', 'linear-gradient(90deg, #eee, #fff)']) {
    assert.ok(cssValueOk(ok), ok);
  }
  for (const bad of ['url(https://evil.example/x)', 'URL(x)', 'url (x)', 'image-set("a.png" 1x)', 'attr(data-id)', 'src("x")',
    'red; background: url(x)', 'red } a { color: blue', '\\75 rl(x)', 'u/**/rl(x)', '@import "x"', 'expression(alert(1))',
    'x'.repeat(301), 'red\nblue', 'cross-fade(a, b)', 'element(#id)', '<b>']) {
    assert.ok(!cssValueOk(bad), bad);
  }
  assert.equal(checkDisplaySettings({ theme: { '--vitrine-accent': '#000', 'font-family': 'serif', color: 'rgb(0 0 0)' } }), null);
  assert.equal(checkDisplaySettings({ theme: { '--vitrine-card-bg': 'url(https://evil.example/?p0012)' } }), 'bad_schema');
  assert.equal(checkDisplaySettings({ theme: { '--other-lib': 'red' } }), 'unknown_field');
  assert.equal(checkDisplaySettings({ theme: { 'background-image': 'none' } }), 'unknown_field');
  assert.equal(checkDisplaySettings({ parts: { card: { 'border-radius': '4px', 'box-shadow': 'none' } } }), null);
  assert.equal(checkDisplaySettings({ parts: { 'card[data-id="p1"]': { color: 'red' } } }), 'unknown_field');
  assert.equal(checkDisplaySettings({ parts: { card: { 'background-image': 'url(x)' } } }), 'bad_schema');
  assert.equal(checkDisplaySettings({ parts: { card: { 'color; x': 'red' } } }), 'bad_schema');
});

test('FloodGate: a burst, then one message per refill', () => {
  let now = 0;
  const gate = new FloodGate({ burst: 5, perSecond: 10, now: () => now });
  const taken = Array.from({ length: 8 }, () => gate.take());
  assert.deepEqual(taken, [true, true, true, true, true, false, false, false]);
  now += 100; // 10/s: one token back
  assert.equal(gate.take(), true);
  assert.equal(gate.take(), false);
  now += 10_000;
  assert.equal(Array.from({ length: 6 }, () => gate.take()).filter(Boolean).length, 5, 'never more than the burst');
  // A flood of 10,000 at one instant: the default gate lets LIMITS.burst through.
  const flood = new FloodGate({ now: () => 0 });
  assert.equal(Array.from({ length: 10_000 }, () => flood.take()).filter(Boolean).length, LIMITS.burst);
});

test('origin patterns: exact, any port, subdomains; no tricks', () => {
  const p = ['https://www.store.example', 'http://127.0.0.1:*', 'https://*.shop.example'];
  assert.ok(originAllowed('https://www.store.example', p));
  assert.ok(!originAllowed('https://www.store.example:8443', p), 'an exact origin has its port');
  assert.ok(!originAllowed('http://www.store.example', p), 'scheme');
  assert.ok(!originAllowed('https://evil.www.store.example', p));
  assert.ok(!originAllowed('https://www.store.example.evil', p));
  assert.ok(originAllowed('http://127.0.0.1:8080', p));
  assert.ok(originAllowed('http://127.0.0.1', p));
  assert.ok(!originAllowed('http://localhost:8080', p));
  assert.ok(originAllowed('https://eu.shop.example', p));
  assert.ok(!originAllowed('https://shop.example', p), 'the apex is not a subdomain');
  assert.ok(!originAllowed('https://evilshop.example', p));
  for (const o of ['null', '', 'file://', 'https://www.store.example/', 'https://user@www.store.example', 'javascript:alert(1)']) assert.ok(!originAllowed(o, p), o);
});

test('the frame configuration: parents required, sources and images default sensibly, nothing unknown', () => {
  const B = 'https://reco.store.example';
  assert.deepEqual(readFrameConfig('{"parents": ["https://www.store.example"]}', B), {
    ok: true,
    config: { parents: ['https://www.store.example'], sources: [B], images: [B, 'https://www.store.example'], requireVisible: true },
  });
  assert.equal(readFrameConfig('{"parents": ["https://a.example"], "requireVisible": false}', B).config.requireVisible, false);
  for (const [text, why] of [
    ['{ "parents": [] }', /no origin/],
    ['', /not JSON/],
    ['[]', /not an object/],
    ['{"parents": ["*"]}', /parents/],
    ['{"parents": ["https://a.example/path"]}', /parents/],
    ['{"parents": ["https://a.example"], "debug": true}', /unknown configuration key "debug"/],
    ['{"parents": ["https://a.example"], "sources": "https://b.example"}', /sources/],
    ['{"parents": ["https://a.example"], "requireVisible": "yes"}', /requireVisible/],
  ]) {
    const r = readFrameConfig(text, B);
    assert.equal(r.ok, false, text);
    assert.equal(r.code, 'not_configured');
    assert.match(r.reason, why);
  }
  assert.equal(resolveAllowed('data/store.vtr', `${B}/v/frame.html`, [B]), `${B}/v/data/store.vtr`);
  assert.equal(resolveAllowed('https://evil.example/store.vtr', `${B}/`, [B]), null);
  assert.equal(resolveAllowed('javascript:alert(1)', `${B}/`, [B]), null);
  assert.equal(resolveAllowed('data:,x', `${B}/`, [B]), null);
});

test('engine codes pass through; anything else becomes engine_error; channels are random', () => {
  assert.equal(engineCode({ code: 'unknown_item' }), 'unknown_item');
  assert.equal(engineCode({ code: 'state_corrupt' }), 'engine_error', 'a storage problem says something about the history: not forwarded');
  assert.equal(engineCode(new Error('x')), 'engine_error');
  assert.equal(engineCode(undefined), 'engine_error');
  const a = newChannel();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, newChannel());
});

test('catalog updates: the page names a delta URL, the frame answers with public counts only', () => {
  const engine = TO_FRAME.engine;
  const delta = 'https://reco.example/data/today.delta';
  assert.equal(code(envelope('update', { ref: 5, delta }), engine), null);
  assert.equal(code(envelope('update', { ref: 6, delta, integrity: 'sha384-abc' }), engine), null);
  const counts = { added: 1, updated: 0, unavailable: 2, items: 540 };
  assert.equal(code(envelope('done', { ref: 5, update: counts }), TO_PAGE), null);
  assert.equal(checkUpdateReport(counts), null);
  // The page's refusals: wrong types, missing fields, bytes instead of a URL, sizes, unknown fields.
  assert.equal(code(envelope('update', { delta }), engine), 'bad_schema', 'an update needs a ref');
  assert.equal(code(envelope('update', { ref: 1 }), engine), 'bad_schema', 'and a delta URL');
  assert.equal(code(envelope('update', { ref: 1, delta: 42 }), engine), 'bad_schema');
  assert.equal(code(envelope('update', { ref: 1, delta: 'a b.delta' }), engine), 'bad_schema');
  assert.equal(code(envelope('update', { ref: 1, delta: `https://reco.example/${'x'.repeat(2100)}` }), engine), 'bad_schema', 'a URL over 2,048 characters');
  assert.equal(code(envelope('update', { ref: 1, delta: new ArrayBuffer(16) }), engine), 'bad_schema', 'bytes are not plain data');
  assert.equal(code(envelope('update', { ref: 1, delta: new Uint8Array(16) }), engine), 'bad_schema');
  assert.equal(code(envelope('update', { ref: 1, delta, bytes: [1, 2, 3] }), engine), 'unknown_field');
  assert.equal(code(envelope('update', { ref: 1, delta, fetchOptions: { credentials: 'include' } }), engine), 'unknown_field');
  assert.equal(code(envelope('update', { ref: 1, delta, integrity: 7 }), engine), 'bad_schema');
  assert.equal(code(envelope('update', { ref: 1, delta, integrity: 's'.repeat(1025) }), engine), 'bad_schema');
  assert.equal(code(envelope('update', { ref: 1, delta: 'x'.repeat(LIMITS.messageChars) }), engine), 'too_large');
  assert.equal(code(envelope('update', { ref: -1, delta }), engine), 'bad_schema');
  assert.equal(code(envelope('update', { ref: 1, delta }), TO_FRAME.view), 'unknown_kind', 'a view frame takes no update');
  // The frame may not say more than the counts: `promoted` is the shopper's history.
  assert.equal(code(envelope('done', { ref: 5, update: { ...counts, promoted: 1 } }), TO_PAGE), 'unknown_field');
  assert.equal(code(envelope('done', { ref: 5, update: { added: 1, updated: 0, unavailable: 0 } }), TO_PAGE), 'bad_schema');
  assert.equal(code(envelope('done', { ref: 5, update: { ...counts, added: -1 } }), TO_PAGE), 'bad_schema');
  assert.equal(code(envelope('done', { ref: 5, update: { ...counts, items: 1.5 } }), TO_PAGE), 'bad_schema');
  assert.equal(code(envelope('done', { ref: 5, update: [1, 0, 0, 540] }), TO_PAGE), 'bad_schema');
  // The engine's update errors depend on the delta only: they reach the page.
  assert.equal(engineCode({ code: 'update_mismatch' }), 'update_mismatch');
  assert.equal(engineCode({ code: 'bundle' }), 'bundle');
  assert.equal(engineCode({ code: 'integrity' }), 'integrity');
  assert.equal(engineCode({ code: 'privacy' }), 'engine_error');
  for (const c of ['update_mismatch', 'bundle']) assert.ok(ERROR_CODES[c]);
  assert.equal(code(envelope('error', { code: 'update_mismatch', ref: 5 }), TO_PAGE), null);
});

test('shards: the page names categories (or all); the frame answers with three counts and nothing else', () => {
  const shards = (categories) => ({ vitrine: PROTOCOL_VERSION, kind: 'shards', ref: 1, categories });
  assert.equal(code(shards(['Shoes', 'Bags']), TO_FRAME.engine), null);
  assert.equal(code(shards('all'), TO_FRAME.engine), null);
  assert.equal(code(shards([]), TO_FRAME.engine), null);
  for (const bad of ['Shoes', [1], ['x'.repeat(1025)], new Array(1001).fill('a'), null]) {
    assert.equal(code(shards(bad), TO_FRAME.engine), 'bad_schema', JSON.stringify(bad)?.slice(0, 40));
  }
  assert.equal(code({ vitrine: PROTOCOL_VERSION, kind: 'shards', ref: 1 }, TO_FRAME.engine), 'bad_schema');
  assert.equal(code(shards(['a']), TO_FRAME.view), 'unknown_kind', 'view frames take no shards');
  const done = (s) => ({ vitrine: PROTOCOL_VERSION, kind: 'done', ref: 1, shards: s });
  assert.equal(code(done({ shards: 1, added: 30, items: 150 }), TO_PAGE), null);
  // Anything more (e.g. which products or pending events) is refused.
  assert.notEqual(code(done({ shards: 1, added: 30, items: 150, promoted: 2 }), TO_PAGE), null);
  assert.notEqual(code(done({ shards: 1, added: -1, items: 150 }), TO_PAGE), null);
  assert.equal(engineCode({ code: 'invalid_manifest' }), 'invalid_manifest');
});
