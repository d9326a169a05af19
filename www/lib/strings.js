// Every string the shelf shows, with English defaults, overridable per locale:
//
//   setShelfStrings('de', { addToCart: 'In den Warenkorb', reasonViewed: 'Weil Sie {name} angesehen haben' });
//   <vitrine-shelf locale="de-AT">            → 'de-AT' strings, then 'de', then English
//   shelf.strings = { addToCart: 'Buy' };     → this shelf only, on top of the above
//
// `{name}` and `{price}` are replaced. Nothing here touches the DOM.

export const DEFAULT_STRINGS = Object.freeze({
  /** aria-label of the list when the element has no `label` attribute. */
  label: 'Recommended products',
  /** Shown when there is nothing to recommend (the `empty-text` attribute wins). Empty: nothing shown. */
  empty: '',
  addToCart: 'Add to cart',
  /** aria-label of a card's add-to-cart button. */
  addToCartLabel: 'Add {name} to cart',
  /** Screen-reader text around a sale price. */
  salePrice: 'Sale price {price}',
  regularPrice: 'Regular price {price}',
  preorder: 'Pre-order',
  backorder: 'Backorder',
  reasonViewed: 'Because you viewed {name}',
  reasonAdded: 'Because you added {name} to your cart',
  reasonBought: 'Because you bought {name}',
  reasonFeatured: 'Featured',
  reasonPopular: 'Popular right now',
});

const registry = new Map();

/** Registers strings for a locale ('de', 'de-CH', 'fr'); keys not given fall back (region → language → English). */
export function setShelfStrings(locale, strings) {
  if (typeof locale !== 'string' || !locale) throw new TypeError('setShelfStrings(locale, strings): locale must be a BCP 47 tag such as "de" or "fr-CA"');
  checkStrings(strings, 'setShelfStrings');
  const key = locale.toLowerCase();
  registry.set(key, { ...(registry.get(key) ?? {}), ...strings });
}

/** Throws a TypeError naming an unknown key or a non-string value. */
export function checkStrings(strings, where) {
  if (!strings || typeof strings !== 'object') throw new TypeError(`${where}: strings must be an object`);
  for (const [k, v] of Object.entries(strings)) {
    if (!(k in DEFAULT_STRINGS)) throw new TypeError(`${where}: unknown string '${k}' (known: ${Object.keys(DEFAULT_STRINGS).join(', ')})`);
    if (typeof v !== 'string') throw new TypeError(`${where}: string '${k}' must be a string`);
  }
  return strings;
}

/** English ← registered language ← registered full tag ← `overrides`. */
export function resolveStrings(locale, overrides) {
  const out = { ...DEFAULT_STRINGS };
  if (locale) {
    const tag = String(locale).toLowerCase();
    const lang = tag.split('-')[0];
    if (lang !== tag) Object.assign(out, registry.get(lang));
    Object.assign(out, registry.get(tag));
  }
  if (overrides) Object.assign(out, overrides);
  return out;
}

/** Replaces `{name}`-style placeholders. */
export function fill(template, values) {
  return String(template).replace(/\{(\w+)\}/g, (m, k) => (values[k] == null ? m : String(values[k])));
}
