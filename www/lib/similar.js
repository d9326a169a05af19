// similar([ids]) for several items at once (a cart, a wishlist), built from the engine's one-item
// similar(): each known item's `pool` nearest neighbours are fetched (default max(100, 4k)), their
// scores summed per candidate (an item close to several cart items beats one close to a single
// item; a candidate outside an item's pool gets nothing from it), the listed items left out, and the
// top k returned. Until the engine ranks a list natively this is what `similar(ids[])` does; it
// reads no history, so it spends no privacy budget unless every id is unknown (then the engine's
// own fallback for an unknown id, `recommend`, answers).

import { VitrineError } from './errors.js';

const DEFAULT_K = 10;

/**
 * @param {(id: string, options: object) => Promise<Array<{id: string, score: number, why?: object}> & {unknownIds?: string[], warnings?: string[]}>} similarOne
 * @param {string[]} ids
 * @param {object} [options] the engine's request options (`k`, filters, exclusions, …) for every item,
 *   plus `pool`: neighbours per item (default max(100, 4k))
 */
export async function similarToMany(similarOne, ids, options = {}) {
  if (ids.length === 0 || !ids.every((id) => typeof id === 'string' && id)) {
    throw new VitrineError('invalid_argument', 'similar() needs an item id or a non-empty array of item ids');
  }
  if (options == null || typeof options !== 'object') throw new VitrineError('invalid_argument', 'similar() options must be an object');
  const { pool: poolOption, ...request } = options;
  const k = request.k ?? DEFAULT_K;
  const pool = poolOption ?? Math.max(100, 4 * Number(k));
  if (!(Number.isInteger(pool) && pool >= 1)) throw new VitrineError('invalid_argument', `similar() pool must be a whole number ≥ 1, got ${JSON.stringify(poolOption)}`);
  const inputs = [...new Set(ids)];
  const listed = new Set(inputs);
  // Enough neighbours that leaving out the listed items still leaves the pool.
  const per = { ...request, k: Math.min(10_000, Math.max(pool, Number(k)) + inputs.length) };
  const answers = [];
  for (const id of inputs) answers.push({ id, list: await similarOne(id, per) });

  const unknownIds = new Set();
  const warnings = new Set();
  const known = [];
  for (const a of answers) {
    for (const u of a.list.unknownIds ?? []) unknownIds.add(u);
    for (const w of a.list.warnings ?? []) warnings.add(w);
    if (!(a.list.unknownIds ?? []).includes(a.id)) known.push(a);
  }
  let out;
  if (known.length === 0) {
    out = answers[0].list.slice(0, k).map((r, i) => ({ ...r, rank: i + 1 }));
  } else {
    const merged = new Map();
    for (const { list } of known) {
      for (const r of list) {
        if (listed.has(r.id)) continue;
        const m = merged.get(r.id);
        if (m) {
          m.score += r.score;
          m.matches += 1;
        } else merged.set(r.id, { ...r, matches: 1 });
      }
    }
    out = [...merged.values()]
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
      .slice(0, k)
      .map(({ matches, ...r }, i) => ({ ...r, rank: i + 1 }));
  }
  out.unknownIds = [...unknownIds];
  out.warnings = [...warnings];
  return out;
}
