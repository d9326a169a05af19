// Big catalogs on demand: a shard set (`vitrine catalog shard`, docs/scale.md) is a manifest
// (`shards.json`) naming a head bundle — the most popular products, which render the first shelf —
// and shards by category, each with its SRI hash. The page loads the head; a shard is fetched only
// when the page asks for one of its categories (`loadShards({categories})`, or a request's
// `filters.categories`): what is fetched depends only on what the page provided, never on the
// device's history (docs/PRIVACY.md, "Shards").

import { VitrineError } from './errors.js';
import { fetchBundle, verifyIntegrity } from './fetch.js';

export const SHARDS_FORMAT = 'vitrine-shards';

/** True when `source` names a shard-set manifest (a URL whose path ends in `.json`). */
export function isShardManifestUrl(source) {
  if (typeof source !== 'string' && !(source instanceof URL)) return false;
  try {
    return new URL(String(source), globalThis.location?.href ?? 'http://localhost/').pathname.endsWith('.json');
  } catch {
    return false;
  }
}

const bad = (why) => new VitrineError('invalid_manifest', `the shard manifest is invalid: ${why}`);
const SRI = /^sha(256|384|512)-[A-Za-z0-9+/]+={0,2}$/;

/** A validated manifest entry: absolute `url`, `integrity`, `items`, `bytes`, `categories`. */
function entry(raw, base, what) {
  if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) throw bad(`${what} must be an object`);
  const { url, integrity, items, bytes } = raw;
  if (typeof url !== 'string' || !url) throw bad(`${what}.url must be a non-empty string`);
  if (typeof integrity !== 'string' || !SRI.test(integrity)) throw bad(`${what}.integrity must be an SRI hash ("sha384-…")`);
  if (!Number.isSafeInteger(items) || items < 1) throw bad(`${what}.items must be a positive integer`);
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw bad(`${what}.bytes must be a positive integer`);
  let abs;
  try {
    abs = new URL(url, base);
  } catch {
    throw bad(`${what}.url is not a URL: ${JSON.stringify(url.slice(0, 200))}`);
  }
  // The files of a set are on the manifest's origin (the CLI writes relative URLs): a manifest
  // cannot send the page, or an isolated frame that allowed the manifest's origin, elsewhere.
  if (abs.origin !== new URL(base).origin) throw bad(`${what}.url must be on the manifest's origin (${new URL(base).origin}), got ${abs.origin}`);
  const categories = raw.categories ?? [];
  if (!Array.isArray(categories) || categories.some((c) => typeof c !== 'string')) throw bad(`${what}.categories must be an array of strings`);
  return { url: abs.href, integrity, items, bytes, categories: [...categories] };
}

/** The shards of one manifest, and which of them this page has applied. */
export class ShardSet {
  #shards;
  /** url -> Promise of the apply (so a shard is fetched once, however many callers ask). */
  #applied = new Map();

  /** @param {object} manifest the parsed `shards.json`; @param {string} base its URL */
  constructor(manifest, base) {
    if (manifest == null || typeof manifest !== 'object' || Array.isArray(manifest)) throw bad('not a JSON object');
    if (manifest.format !== SHARDS_FORMAT) throw bad(`format must be "${SHARDS_FORMAT}", got ${JSON.stringify(manifest.format)}`);
    if (manifest.version !== 1) throw bad(`version ${JSON.stringify(manifest.version)} is not supported (this package reads 1)`);
    if (!Array.isArray(manifest.shards)) throw bad('shards must be an array');
    this.head = entry(manifest.head, base, 'head');
    this.#shards = manifest.shards.map((s, i) => entry(s, base, `shards[${i}]`));
    this.items = Number.isSafeInteger(manifest.items) ? manifest.items : null;
  }

  /** Fetches and validates a manifest. */
  static async fetch(url, { integrity, fetchOptions } = {}) {
    let res;
    try {
      res = await fetch(String(url), { credentials: 'same-origin', ...fetchOptions });
    } catch (err) {
      throw new VitrineError('fetch_failed', `could not fetch the shard manifest ${url}: ${err?.message ?? err}`, { cause: err });
    }
    if (!res.ok) throw new VitrineError('http_error', `could not fetch the shard manifest ${url}: HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (integrity != null) await verifyIntegrity(bytes, integrity);
    let manifest;
    try {
      manifest = JSON.parse(new TextDecoder().decode(bytes));
    } catch (err) {
      throw bad(`not JSON (${err?.message ?? err})`);
    }
    return new ShardSet(manifest, res.url || new URL(String(url), globalThis.location?.href).href);
  }

  /** Every category some shard holds. */
  get categories() {
    return [...new Set(this.#shards.flatMap((s) => s.categories))];
  }

  /** `{total, loaded, items}`: shards in the manifest, shards applied, products in the set. */
  status() {
    return { total: this.#shards.length, loaded: this.#applied.size, items: this.items };
  }

  /**
   * The shards holding any of `categories` (`'all'`: every shard), not yet applied. The choice
   * reads only its argument.
   */
  select(categories) {
    if (categories === 'all') return this.#shards.filter((s) => !this.#applied.has(s.url));
    const wanted = new Set(categories);
    return this.#shards.filter((s) => !this.#applied.has(s.url) && s.categories.some((c) => wanted.has(c)));
  }

  /**
   * Fetches `shard`, checks its integrity and hands its bytes to `apply` — once per shard: a
   * second caller gets the first one's promise. A failed shard may be asked for again.
   */
  load(shard, apply, fetchOptions) {
    const known = this.#applied.get(shard.url);
    if (known) return known;
    const p = (async () => {
      const bytes = await fetchBundle(shard.url, { fetchOptions });
      await verifyIntegrity(bytes, shard.integrity);
      return apply(bytes);
    })();
    this.#applied.set(shard.url, p);
    p.catch(() => this.#applied.delete(shard.url));
    return p;
  }
}
