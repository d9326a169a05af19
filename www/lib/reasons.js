// Short human reasons built from an engine explanation (`why`), e.g. "Because you viewed Trail Runner 2".

import { DEFAULT_STRINGS, fill } from './strings.js';

const PHRASE_KEY = {
  view: 'reasonViewed',
  click: 'reasonViewed',
  add_to_cart: 'reasonAdded',
  purchase: 'reasonBought',
};

/**
 * @param {object|null|undefined} why  the engine's explanation ({events, personalized, pinned, …})
 * @param {(id: string) => string|undefined} [nameOf]  product name for an id (falls back to the id)
 * @param {Partial<typeof DEFAULT_STRINGS>} [strings]  the phrases (default: English)
 * @returns {string|null} a sentence, or null when there is nothing honest to say
 */
export function reasonText(why, nameOf = () => undefined, strings = DEFAULT_STRINGS) {
  if (!why || typeof why !== 'object') return null;
  const s = strings === DEFAULT_STRINGS ? strings : { ...DEFAULT_STRINGS, ...strings };
  if (why.pinned) return s.reasonFeatured;
  const events = Array.isArray(why.events) ? why.events : [];
  const best = events
    .filter((e) => e && PHRASE_KEY[e.type] && Number(e.contribution) > 0)
    .sort((a, b) => b.contribution - a.contribution)[0];
  if (best) return fill(s[PHRASE_KEY[best.type]], { name: nameOf(best.item) ?? best.item });
  if (why.personalized === false) return s.reasonPopular;
  return null;
}
