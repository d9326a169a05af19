#!/usr/bin/env node
// Generates the demo store's data: a product catalog, one SVG image per product, and a log of
// simulated shopper sessions with real structure for a recommender to learn.
//
//   node www/gen-demo-data.mjs --out www/data [--seed 42] [--sessions 8000]
//
// Everything is derived from the seed (own PRNG, fixed clock), so the same seed always produces
// byte-identical files. All of it is made up: no real products, no real shoppers.
//
// The simulated shoppers have:
//   - a primary category (sometimes a second one) they mostly browse in,
//   - a price band (budget / mid / premium) whose items they prefer,
//   - a habit of jumping to the COMPLEMENT of what they are looking at (tents -> sleeping bags, ...),
//   - popularity skew: within a category, item weights follow a Zipf law over a hidden ranking.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

/** mulberry32: tiny, fast, good-enough 32-bit PRNG. Returns floats in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Small helper bundle around one PRNG stream. */
function makeRandom(seed) {
  const next = mulberry32(seed);
  const r = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), // inclusive
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
    shuffle(arr) {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [arr[i], arr[j]] = [arr[j], arr[i]];
      }
      return arr;
    },
  };
  return r;
}

/** Precomputed cumulative weights for fast repeated weighted sampling. */
class WeightedTable {
  constructor(items, weights) {
    this.items = items;
    this.cum = [];
    let total = 0;
    for (const w of weights) this.cum.push((total += w));
    this.total = total;
  }
  sample(rng) {
    const x = rng.next() * this.total;
    let lo = 0;
    let hi = this.cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cum[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo];
  }
}

// ---------------------------------------------------------------------------------------------
// The (made-up) store

const PER_CATEGORY = 45;
const BANDS = ['budget', 'mid', 'premium'];
const BAND_SHARE = [0.4, 0.35, 0.25]; // share of a category's products in each band
const SHOPPER_BAND_SHARE = [0.45, 0.35, 0.2]; // share of shoppers preferring each band
// How much a shopper prefers items by distance between item band and shopper band.
const BAND_AFFINITY = [4, 1.2, 0.3];

// Categories come in complement pairs; `hue` drives the colours of the generated images.
// `series` x `kinds` (x optional model numbers) gives each category enough distinct names.
const CATEGORIES = [
  {
    id: 'running-shoes', name: 'Running Shoes', hue: 8, icon: 'shoe', price: [45, 220],
    series: ['Trail', 'Road', 'Tempo', 'Cloud', 'Velocity', 'Stride', 'Apex', 'Glide', 'Terra', 'Swift'],
    kinds: ['Runner', 'Racer', 'Trainer', 'Flyer', 'Cruiser'], versions: true,
  },
  {
    id: 'running-apparel', name: 'Running Apparel', hue: 24, icon: 'shirt', price: [8, 90],
    series: ['Merino', 'Breeze', 'Compression', 'Tempo', 'Featherlight', 'Reflective', 'Thermal', 'Cushioned'],
    kinds: ['Running Socks', 'Crew Socks', 'Split Shorts', 'Tech Tee', 'Half-Zip', 'Tights', 'Singlet'],
  },
  {
    id: 'tents', name: 'Tents', hue: 140, icon: 'tent', price: [60, 650],
    series: ['Alpine', 'Ridge', 'Basecamp', 'Summit', 'Meadow', 'Canyon', 'Nomad', 'Pioneer'],
    kinds: ['1P Tent', '2P Tent', '3P Tent', 'Dome Tent', 'Tunnel Tent', 'Ultralight Tent'],
  },
  {
    id: 'sleeping-bags', name: 'Sleeping Bags', hue: 165, icon: 'sleepingbag', price: [35, 480],
    series: ['Glacier', 'Ember', 'Nightfall', 'Cocoon', 'Polar', 'Driftwood', 'Aurora', 'Hearth'],
    kinds: ['Down Bag', 'Synthetic Bag', 'Mummy Bag', 'Quilt', 'Liner', '3-Season Bag'],
  },
  {
    id: 'coffee-makers', name: 'Coffee Makers', hue: 28, icon: 'coffeemaker', price: [25, 900],
    series: ['Barista', 'Morning', 'Crema', 'Roastery', 'Daybreak', 'Copper', 'Brewline', 'Espresso'],
    kinds: ['Drip Brewer', 'Espresso Machine', 'French Press', 'Pour-Over Kit', 'Moka Pot', 'Cold Brewer'],
  },
  {
    id: 'coffee-beans', name: 'Coffee Beans', hue: 35, icon: 'beans', price: [7, 38],
    series: ['Ethiopia', 'Colombia', 'Sumatra', 'Guatemala', 'Kenya', 'Brazil', 'House', 'Decaf'],
    kinds: ['Light Roast', 'Medium Roast', 'Dark Roast', 'Espresso Blend', 'Single Origin', 'Filter Roast'],
  },
  {
    id: 'rain-jackets', name: 'Rain Jackets', hue: 205, icon: 'jacket', price: [40, 420],
    series: ['Storm', 'Drizzle', 'Monsoon', 'Cascade', 'Squall', 'Harbor', 'Torrent', 'Mistral'],
    kinds: ['Rain Shell', 'Hardshell', 'Packable Jacket', 'Parka', 'Anorak', 'Poncho'],
  },
  {
    id: 'backpacks', name: 'Backpacks', hue: 225, icon: 'backpack', price: [25, 320],
    series: ['Daytrip', 'Trekker', 'Commuter', 'Voyager', 'Ranger', 'Scout', 'Transit', 'Highline'],
    kinds: ['20L Pack', '30L Pack', '45L Pack', 'Daypack', 'Roll-Top Pack', 'Hip Pack'],
  },
  {
    id: 'cookware', name: 'Cookware', hue: 350, icon: 'pan', price: [15, 280],
    series: ['Cast Iron', 'Tri-Ply', 'Carbon Steel', 'Ceramic', 'Copper Core', 'Enamel', 'Nonstick', 'Chef'],
    kinds: ['Skillet', 'Saucepan', 'Dutch Oven', 'Wok', 'Stockpot', 'Grill Pan'],
  },
  {
    id: 'kitchen-knives', name: 'Kitchen Knives', hue: 265, icon: 'knife', price: [12, 260],
    series: ['Damascus', 'Forged', 'Santoku', 'Nakiri', 'Stainless', 'Carbon', 'Walnut', 'Pro'],
    kinds: ["Chef's Knife", 'Paring Knife', 'Bread Knife', 'Utility Knife', 'Knife Set', 'Honing Rod'],
  },
  {
    id: 'yoga-mats', name: 'Yoga Mats', hue: 290, icon: 'mat', price: [15, 140],
    series: ['Lotus', 'Balance', 'Flow', 'Grounded', 'Sun Salute', 'Cork', 'Studio', 'Travel'],
    kinds: ['Yoga Mat', 'Grip Mat', 'Foldable Mat', 'Thick Mat', 'Mat Towel', 'Cork Block'],
  },
  {
    id: 'water-bottles', name: 'Water Bottles', hue: 188, icon: 'bottle', price: [8, 55],
    series: ['Hydro', 'Summit', 'Clearwater', 'Insulated', 'Squeeze', 'Glacier', 'Everyday', 'Trail'],
    kinds: ['500ml Bottle', '750ml Bottle', '1L Bottle', 'Flask', 'Tumbler', 'Soft Flask'],
  },
];

// Complement pairs: browsing one makes a jump to the other likely.
const COMPLEMENTS = [
  ['running-shoes', 'running-apparel'],
  ['tents', 'sleeping-bags'],
  ['coffee-makers', 'coffee-beans'],
  ['rain-jackets', 'backpacks'],
  ['cookware', 'kitchen-knives'],
  ['yoga-mats', 'water-bottles'],
];

// Session simulation knobs.
const DEFAULT_SESSIONS = 8000;
const SESSION_LEN = [3, 15];
const P_SECOND_CATEGORY = 0.2; // shoppers with two primary categories
const P_USE_SECOND = 0.35; // ...how often such a shopper looks at the second one
const P_COMPLEMENT = 0.12; // jump from the current category to its complement
const P_RANDOM_CATEGORY = 0.04; // wander anywhere
const P_CLICK = 0.35; // after a view: click the same item
const P_CART = 0.3; // after a click: add to cart
const P_PURCHASE = 0.45; // after add to cart: buy
const ZIPF_S = 1.05; // popularity skew within a category
const CLOCK_START = Date.UTC(2024, 4, 1) / 1000; // 2024-05-01, unix seconds
const CLOCK_DAYS = 60;

// ---------------------------------------------------------------------------------------------
// Catalog

/** Log-uniform price inside the band's third of the category's (log) price range, as x.99. */
function priceFor(rng, [lo, hi], band) {
  const l0 = Math.log(lo);
  const span = (Math.log(hi) - l0) / 3;
  const x = Math.exp(l0 + span * (band + rng.next()));
  return Math.max(1, Math.round(x)) - 0.01;
}

/** Distinct names for a category: {name: 'Trail Runner 2', short: 'Trail 2'} (short goes on the image). */
function productNames(rng, cat, count) {
  const pairs = [];
  for (const s of cat.series) for (const k of cat.kinds) pairs.push([s, k]);
  rng.shuffle(pairs);
  if (pairs.length < count) throw new Error(`not enough names for ${cat.id}`);
  return pairs.slice(0, count).map(([s, k]) => {
    const v = cat.versions ? ` ${rng.int(1, 5)}` : '';
    return { name: `${s} ${k}${v}`, short: `${s}${v}` };
  });
}

function buildCatalog(rng) {
  const drafts = [];
  for (const cat of CATEGORIES) {
    const names = productNames(rng, cat, PER_CATEGORY);
    // Band by position so every category has the same band mix; hidden popularity rank shuffled.
    const popRank = rng.shuffle([...Array(PER_CATEGORY).keys()]);
    names.forEach(({ name, short }, i) => {
      const band = i < BAND_SHARE[0] * PER_CATEGORY ? 0 : i < (BAND_SHARE[0] + BAND_SHARE[1]) * PER_CATEGORY ? 1 : 2;
      drafts.push({ name, short, cat, band, price: priceFor(rng, cat.price, band), popRank: popRank[i] });
    });
  }
  // Mix categories so the "All" grid and the ids look like a real store's, then number them.
  rng.shuffle(drafts);
  drafts.forEach((d, i) => {
    d.id = `p${String(i + 1).padStart(4, '0')}`;
  });
  return drafts;
}

// ---------------------------------------------------------------------------------------------
// Images: one small self-contained SVG per product

// Icons drawn on a 100x100 box. C = main colour, D = dark shade, L = light tint.
const ICONS = {
  shoe: (C, D, L) => `
    <path d="M8 72 Q6 54 20 52 L40 50 Q50 32 62 34 L70 44 Q86 52 94 62 Q98 70 94 74 L10 76 Z" fill="${C}"/>
    <rect x="6" y="72" width="90" height="9" rx="4.5" fill="${D}"/>
    <path d="M46 48 L54 54 M52 42 L60 48 M58 38 L64 44" stroke="${L}" stroke-width="3" stroke-linecap="round"/>`,
  shirt: (C, D, L) => `
    <path d="M32 14 L44 9 Q50 18 56 9 L68 14 L90 32 L78 46 L70 40 L70 92 L30 92 L30 40 L22 46 L10 32 Z" fill="${C}"/>
    <path d="M30 70 H70" stroke="${L}" stroke-width="4"/>
    <path d="M44 9 Q50 18 56 9" stroke="${D}" stroke-width="3" fill="none"/>`,
  tent: (C, D, L) => `
    <path d="M50 10 L94 86 L6 86 Z" fill="${C}"/>
    <path d="M50 40 L66 86 L34 86 Z" fill="${D}"/>
    <path d="M50 10 L50 40" stroke="${L}" stroke-width="2.5"/>
    <path d="M2 88 H98" stroke="${D}" stroke-width="3" stroke-linecap="round"/>`,
  sleepingbag: (C, D, L) => `
    <rect x="27" y="6" width="46" height="88" rx="23" fill="${C}"/>
    <circle cx="50" cy="26" r="12" fill="${L}"/>
    <path d="M33 50 H67 M31 64 H69 M33 78 H67" stroke="${D}" stroke-width="3" stroke-linecap="round"/>`,
  coffeemaker: (C, D, L) => `
    <rect x="22" y="8" width="58" height="20" rx="5" fill="${D}"/>
    <rect x="62" y="26" width="18" height="64" fill="${D}"/>
    <path d="M28 46 H60 L57 84 Q56 90 50 90 H38 Q32 90 31 84 Z" fill="${C}"/>
    <path d="M33 62 H55" stroke="${L}" stroke-width="3"/>
    <rect x="18" y="88" width="66" height="7" rx="3.5" fill="${D}"/>`,
  beans: (C, D, L) => `
    <g transform="rotate(-28 36 48)"><ellipse cx="36" cy="48" rx="17" ry="26" fill="${C}"/>
    <path d="M36 24 Q28 48 36 72" stroke="${L}" stroke-width="3.5" fill="none"/></g>
    <g transform="rotate(24 66 56)"><ellipse cx="66" cy="56" rx="17" ry="26" fill="${D}"/>
    <path d="M66 32 Q58 56 66 80" stroke="${L}" stroke-width="3.5" fill="none"/></g>`,
  jacket: (C, D, L) => `
    <path d="M36 12 Q50 2 64 12 L68 20 L86 30 L93 82 L79 84 L74 48 L74 94 L26 94 L26 48 L21 84 L7 82 L14 30 L32 20 Z" fill="${C}"/>
    <path d="M50 18 V94" stroke="${D}" stroke-width="3"/>
    <path d="M38 12 Q50 24 62 12" stroke="${D}" stroke-width="3" fill="none"/>
    <path d="M34 60 H44 M56 60 H66" stroke="${L}" stroke-width="3" stroke-linecap="round"/>`,
  backpack: (C, D, L) => `
    <path d="M38 20 V13 Q50 3 62 13 V20" stroke="${D}" stroke-width="6" fill="none"/>
    <rect x="22" y="18" width="56" height="76" rx="17" fill="${C}"/>
    <rect x="31" y="56" width="38" height="28" rx="7" fill="${D}"/>
    <path d="M38 66 H62" stroke="${L}" stroke-width="3" stroke-linecap="round"/>`,
  pan: (C, D, L) => `
    <circle cx="40" cy="54" r="32" fill="${D}"/>
    <circle cx="40" cy="54" r="24" fill="${C}"/>
    <ellipse cx="32" cy="46" rx="8" ry="5" fill="${L}" opacity="0.7"/>
    <rect x="68" y="48" width="30" height="12" rx="6" fill="${D}"/>`,
  knife: (C, D, L) => `
    <g transform="rotate(-24 50 50)">
    <path d="M4 60 Q24 36 64 40 L64 60 Z" fill="#eef1f5" stroke="${D}" stroke-width="2.5" stroke-linejoin="round"/>
    <rect x="62" y="40" width="34" height="20" rx="6" fill="${C}"/>
    <circle cx="72" cy="50" r="2.5" fill="${L}"/><circle cx="86" cy="50" r="2.5" fill="${L}"/></g>`,
  mat: (C, D, L) => `
    <rect x="6" y="66" width="66" height="14" rx="3" fill="${C}"/>
    <circle cx="74" cy="58" r="22" fill="${D}"/>
    <circle cx="74" cy="58" r="14" fill="${C}"/>
    <circle cx="74" cy="58" r="6" fill="${L}"/>`,
  bottle: (C, D, L) => `
    <rect x="39" y="4" width="22" height="13" rx="4" fill="${D}"/>
    <path d="M37 17 H63 L65 28 Q74 34 74 46 V88 Q74 95 67 95 H33 Q26 95 26 88 V46 Q26 34 35 28 Z" fill="${C}"/>
    <rect x="26" y="52" width="48" height="20" fill="${L}" opacity="0.65"/>`,
};

const escapeXml = (s) => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);

function productSvg(p, variant) {
  const h = p.cat.hue + (variant - 1.5) * 9;
  const C = `hsl(${h} 62% 52%)`;
  const D = `hsl(${h} 55% 32%)`;
  const L = `hsl(${h} 80% 90%)`;
  const bg = `hsl(${p.cat.hue} 55% 95%)`;
  const fontSize = p.short.length > 12 ? 15 : 18;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 180" width="240" height="180" role="img" aria-label="${escapeXml(p.name)}">
<rect width="240" height="180" fill="${bg}"/>
<circle cx="${36 + variant * 52}" cy="${20 + (variant % 2) * 14}" r="${34 + variant * 6}" fill="${L}" opacity="0.8"/>
<g transform="translate(62 6) scale(1.16)">${ICONS[p.cat.icon](C, D, L)}</g>
<text x="120" y="162" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="${fontSize}" font-weight="700" letter-spacing="1.5" fill="${D}" text-anchor="middle">${escapeXml(p.short.toUpperCase())}</text>
</svg>
`;
}

// ---------------------------------------------------------------------------------------------
// Sessions

function buildSamplers(products) {
  const byCat = new Map(CATEGORIES.map((c) => [c.id, []]));
  for (const p of products) byCat.get(p.cat.id).push(p);
  // samplers[cat][shopperBand] -> weighted table over the category's products
  const samplers = new Map();
  for (const [catId, items] of byCat) {
    samplers.set(
      catId,
      BANDS.map((_, sb) =>
        new WeightedTable(
          items,
          items.map((p) => BAND_AFFINITY[Math.abs(p.band - sb)] / Math.pow(p.popRank + 1, ZIPF_S)),
        ),
      ),
    );
  }
  return samplers;
}

function simulateSessions(rng, products, nSessions) {
  const samplers = buildSamplers(products);
  const complementOf = new Map();
  for (const [a, b] of COMPLEMENTS) complementOf.set(a, b).set(b, a);
  // Some categories draw more shoppers than others (mild skew, fixed by the seed).
  const catOrder = rng.shuffle(CATEGORIES.map((c) => c.id));
  const primaryTable = new WeightedTable(catOrder, catOrder.map((_, i) => 1 / Math.pow(i + 1, 0.5)));
  const bandTable = new WeightedTable([0, 1, 2], SHOPPER_BAND_SHARE);

  const rows = [];
  for (let s = 1; s <= nSessions; s++) {
    const sid = `s${String(s).padStart(5, '0')}`;
    const primary = primaryTable.sample(rng);
    let second = null;
    if (rng.chance(P_SECOND_CATEGORY)) {
      do second = primaryTable.sample(rng);
      while (second === primary);
    }
    const band = bandTable.sample(rng);
    const len = rng.int(...SESSION_LEN);
    let ts = CLOCK_START + Math.floor(rng.next() * CLOCK_DAYS * 86400);
    let current = primary;
    const emit = (item, type) => {
      rows.push({ sid, item: item.id, ts, type });
      ts += rng.int(3, 90);
    };
    let n = 0;
    while (n < len) {
      // Where does the shopper look next?
      const r = rng.next();
      if (r < P_COMPLEMENT) current = complementOf.get(current);
      else if (r < P_COMPLEMENT + P_RANDOM_CATEGORY) current = rng.pick(CATEGORIES).id;
      else current = second && rng.chance(P_USE_SECOND) ? second : primary;

      const item = samplers.get(current)[band].sample(rng);
      emit(item, 'view');
      n++;
      // Funnel on the same item, as long as the session has room.
      if (n < len && rng.chance(P_CLICK)) {
        emit(item, 'click');
        n++;
        if (n < len && rng.chance(P_CART)) {
          emit(item, 'add_to_cart');
          n++;
          if (n < len && rng.chance(P_PURCHASE)) {
            emit(item, 'purchase');
            n++;
          }
        }
      }
    }
  }
  // A real event log is in time order, with sessions interleaved.
  rows.sort((a, b) => a.ts - b.ts || (a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0));
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Main

const USAGE = `usage: node www/gen-demo-data.mjs [--out DIR] [--seed N] [--sessions N]

Writes the seeded demo store (catalog.json, events.csv, img/) into DIR. Demo data: made up.
  --out DIR       output directory (default www/data)
  --seed N        seed, a whole number ≥ 0 (default 42)
  --sessions N    simulated shopper sessions (default ${DEFAULT_SESSIONS})
  -h, --help      this text`;

/** Reads the command line with util.parseArgs; throws a TypeError on bad usage. */
function parseCli(argv) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      out: { type: 'string', default: path.join(here, 'data') },
      seed: { type: 'string', default: '42' },
      sessions: { type: 'string', default: String(DEFAULT_SESSIONS) },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const opts = { out: values.out, seed: Number(values.seed), sessions: Number(values.sessions), help: values.help };
  if (opts.help) return opts;
  if (!/^\d+$/.test(values.seed)) throw new TypeError('--seed must be a non-negative integer');
  if (!/^\d+$/.test(values.sessions) || opts.sessions < 1) throw new TypeError('--sessions must be a positive integer');
  return opts;
}

function main() {
  let opts;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error(`gen-demo-data: ${err.message}\n${USAGE.split('\n')[0]} (--help for more)`);
    process.exit(2);
  }
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  // Independent streams, so changing e.g. the session count doesn't change the catalog.
  const catalogRng = makeRandom(opts.seed);
  const sessionRng = makeRandom((opts.seed ^ 0x9e3779b9) >>> 0);

  const products = buildCatalog(catalogRng);
  const rows = simulateSessions(sessionRng, products, opts.sessions);

  const imgDir = path.join(opts.out, 'img');
  fs.mkdirSync(imgDir, { recursive: true });

  const sorted = [...products].sort((a, b) => (a.id < b.id ? -1 : 1));
  const catalog = {
    demo: true,
    note: `Generated demo data (seed ${opts.seed}) — not real products`,
    seed: opts.seed,
    categories: CATEGORIES.map((c) => ({
      id: c.id,
      name: c.name,
      color: `hsl(${c.hue} 62% 45%)`,
      complement: COMPLEMENTS.flat()[COMPLEMENTS.flat().indexOf(c.id) ^ 1],
    })),
    products: sorted.map((p) => ({
      id: p.id,
      name: p.name,
      category: p.cat.id,
      price: p.price,
      image: `data/img/${p.id}.svg`,
    })),
  };
  fs.writeFileSync(path.join(opts.out, 'catalog.json'), JSON.stringify(catalog, null, 1) + '\n');

  for (const p of sorted) {
    const variant = Number(p.id.slice(1)) % 4;
    fs.writeFileSync(path.join(imgDir, `${p.id}.svg`), productSvg(p, variant));
  }

  const csv = ['session_id,item_id,ts,event_type'];
  for (const r of rows) csv.push(`${r.sid},${r.item},${r.ts},${r.type}`);
  fs.writeFileSync(path.join(opts.out, 'events.csv'), csv.join('\n') + '\n');

  const seen = new Map();
  for (const r of rows) seen.set(r.item, (seen.get(r.item) ?? 0) + 1);
  const minPerItem = Math.min(...products.map((p) => seen.get(p.id) ?? 0));
  console.log(
    `gen-demo-data: seed ${opts.seed}: ${products.length} products in ${CATEGORIES.length} categories, ` +
      `${opts.sessions} sessions, ${rows.length} events (min ${minPerItem} per product) -> ${opts.out}`,
  );
}

try {
  main();
} catch (err) {
  console.error(`gen-demo-data: error: ${err.message}`);
  process.exit(1);
}
