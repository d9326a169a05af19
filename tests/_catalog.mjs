// Helpers for the live-catalog tests (not a test file): the demo catalog written in the catalog
// format (docs/catalog.md, JSON Lines), and the CLI to train a bundle that carries it and to write
// catalog updates (deltas) for it.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, WWW } from './_browser.mjs';

export const BIN = path.join(REPO, 'target', 'release', 'vitrine');

/** The demo catalog as JSON Lines, optionally without some ids or with some out of stock. */
export function catalogJsonl(file, { without = [], outOfStock = [] } = {}) {
  const demo = JSON.parse(fs.readFileSync(path.join(WWW, 'data', 'catalog.json'), 'utf8'));
  const names = new Map(demo.categories.map((c) => [c.id, c.name]));
  const lines = demo.products
    .filter((p) => !without.includes(p.id))
    .map((p) =>
      JSON.stringify({
        id: p.id,
        title: p.name,
        category: names.get(p.category) ?? p.category,
        price: p.price,
        currency: 'EUR',
        image: p.image,
        ...(outOfStock.includes(p.id) ? { availability: 'out_of_stock' } : {}),
      }),
    );
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

/** Runs the CLI (target/release/vitrine, from scripts/build). */
export function vitrine(...args) {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: run scripts/build`);
  return execFileSync(BIN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
}

/**
 * Trains `dir/data/<name>` from the demo events without the events of `without`, carrying the
 * demo catalog (without those ids): a bundle whose shelves need no catalog file.
 */
export function trainWithCatalog(dir, name, { without = [] } = {}) {
  const data = path.join(dir, 'data');
  const events = fs.readFileSync(path.join(WWW, 'data', 'events.csv'), 'utf8').split('\n');
  fs.writeFileSync(path.join(data, 'events.csv'), events.filter((l) => !without.some((id) => l.includes(`,${id},`))).join('\n'));
  catalogJsonl(path.join(data, 'catalog-v1.jsonl'), { without });
  vitrine('train', '--events', path.join(data, 'events.csv'), '--catalog', path.join(data, 'catalog-v1.jsonl'), '--out', path.join(data, name), '--epochs', '3');
}
