// Short human reasons built from an engine explanation (`why`), e.g. "Because you viewed Trail Runner 2".

const PHRASES = {
  view: (n) => `Because you viewed ${n}`,
  click: (n) => `Because you viewed ${n}`,
  add_to_cart: (n) => `Because you added ${n} to your cart`,
  purchase: (n) => `Because you bought ${n}`,
};

/**
 * @param {object|null|undefined} why  the engine's explanation ({events, personalized, pinned, …})
 * @param {(id: string) => string|undefined} [nameOf]  product name for an id (falls back to the id)
 * @returns {string|null} a sentence, or null when there is nothing honest to say
 */
export function reasonText(why, nameOf = () => undefined) {
  if (!why || typeof why !== 'object') return null;
  if (why.pinned) return 'Featured';
  const events = Array.isArray(why.events) ? why.events : [];
  const best = events
    .filter((e) => e && PHRASES[e.type] && Number(e.contribution) > 0)
    .sort((a, b) => b.contribution - a.contribution)[0];
  if (best) return PHRASES[best.type](nameOf(best.item) ?? best.item);
  if (why.personalized === false) return 'Popular right now';
  return null;
}
