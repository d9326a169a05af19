// Catalog records as the shelf shows them. One reader for the catalog format (JSON Lines / CSV rows
// turned into objects, see the repository's catalog docs) and for the demo catalog's older fields:
//
//   id            string (required)
//   title | name  the product's name (`title` wins)
//   category      an id from `categories`, or a path "Home > Kitchen > Knives" (the card shows the leaf)
//   brand         string
//   price         number ≥ 0, in `currency`
//   currency      ISO 4217 code ("EUR", "JPY"); else the shelf's `currency` attribute; else none
//   sale_price    number ≥ 0, shown as the price (the regular one struck through) when below `price`
//   image, url    strings
//   availability  in_stock | out_of_stock | preorder | backorder (absent: in_stock); out_of_stock
//                 items are never shown
//   badges        array of strings ("New", "Bestseller")
//
// Nothing here touches the DOM: it runs anywhere (also on a server).

export const AVAILABILITY = Object.freeze(['in_stock', 'out_of_stock', 'preorder', 'backorder']);

const num = (v) => {
  if (v == null || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : null;
};
const str = (v) => (v == null || v === '' ? null : String(v));

/** An ISO 4217 code ("EUR"), upper-cased, or null for anything else. */
export function currencyCode(v) {
  const s = str(v)?.trim().toUpperCase();
  return s && /^[A-Z]{3}$/.test(s) ? s : null;
}

/**
 * One catalog record in the shelf's shape, or null when it has no id.
 * @returns {{id: string, title: string, category: string|null, categoryPath: string[], brand: string|null,
 *   price: number|null, salePrice: number|null, currency: string|null, image: string|null, url: string|null,
 *   availability: string, badges: string[], raw: object} | null}
 */
export function normalizeProduct(raw) {
  if (!raw || typeof raw !== 'object' || raw.id == null || raw.id === '') return null;
  const id = String(raw.id);
  const category = str(raw.category);
  const categoryPath = category ? category.split('>').map((s) => s.trim()).filter(Boolean) : [];
  const price = num(raw.price);
  const sale = num(raw.sale_price);
  const availability = AVAILABILITY.includes(raw.availability) ? raw.availability : 'in_stock';
  const badges = Array.isArray(raw.badges) ? raw.badges.filter((b) => typeof b === 'string' && b.trim()).map((b) => b.trim()) : [];
  return {
    id,
    title: str(raw.title) ?? str(raw.name) ?? id,
    category,
    categoryPath,
    brand: str(raw.brand),
    price,
    // A sale price is a price below the regular one; anything else is ignored.
    salePrice: sale != null && (price == null || sale < price) ? sale : null,
    currency: currencyCode(raw.currency),
    image: str(raw.image),
    url: str(raw.url),
    availability,
    badges,
    raw,
  };
}

/**
 * Indexes a catalog: an array of records, `{products, categories}`, or a Map id -> record.
 * @returns {{byId: Map<string, ReturnType<typeof normalizeProduct>>, categoryNames: Map<string, string>, outOfStock: string[]}}
 */
export function indexCatalog(catalog) {
  const byId = new Map();
  const categoryNames = new Map();
  const outOfStock = [];
  if (!catalog) return { byId, categoryNames, outOfStock };
  const records = catalog instanceof Map ? [...catalog.values()] : Array.isArray(catalog) ? catalog : catalog.products;
  for (const raw of Array.isArray(records) ? records : []) {
    const p = normalizeProduct(raw);
    if (!p) continue;
    byId.set(p.id, p);
    if (p.availability === 'out_of_stock') outOfStock.push(p.id);
  }
  const cats = !Array.isArray(catalog) && !(catalog instanceof Map) ? catalog.categories : null;
  for (const c of Array.isArray(cats) ? cats : []) if (c && c.id != null) categoryNames.set(String(c.id), String(c.name ?? c.id));
  return { byId, categoryNames, outOfStock };
}

/** The category a card shows: the name from `categories`, else the last step of a path. */
export function categoryLabel(product, categoryNames) {
  if (!product.category) return null;
  return categoryNames.get(product.category) ?? product.categoryPath.at(-1) ?? product.category;
}

/**
 * Formats prices with one `Intl.NumberFormat` per (locale, currency), cached. A price without a
 * currency (neither on the item nor on the shelf) is a plain number: the shelf does not guess one.
 */
export class PriceFormatter {
  #cache = new Map();
  /** @param {string|undefined} locale BCP 47 tag (undefined: the runtime's default) */
  constructor(locale) {
    this.locale = locale;
  }

  /** @returns {string|null} */
  format(amount, currency) {
    if (amount == null || !Number.isFinite(amount)) return null;
    const key = currency ?? '';
    let f = this.#cache.get(key);
    if (!f) {
      try {
        f = currency
          ? new Intl.NumberFormat(this.locale, { style: 'currency', currency })
          : new Intl.NumberFormat(this.locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      } catch {
        // A locale tag Intl refuses: the runtime's default locale, same currency.
        f = currency ? new Intl.NumberFormat(undefined, { style: 'currency', currency }) : new Intl.NumberFormat();
      }
      this.#cache.set(key, f);
    }
    return f.format(amount);
  }
}
