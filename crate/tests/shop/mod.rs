//! A small store for the engine tests (native and wasm): 4 categories of 6 items, clustered
//! vectors, prices, context weights and neighbour lists.
#![allow(dead_code)]

use std::collections::BTreeMap;

use vitrine::bundle::{write_bundle, BundleParts, CategoryParts, ContextParts};

#[path = "../common/mod.rs"]
pub mod common;
/// Engines with privacy off, as in the other fixtures.
#[allow(unused_imports)]
pub use common::{not_private, not_private_options};

/// Category names, one per cluster.
pub const CATEGORIES: [&str; 4] = ["shoes", "bags", "hats", "socks"];
/// Items per category.
pub const PER: usize = 6;
/// Context features with weights: `hour=13` lifts socks, `device=mobile` lifts hats,
/// `custom:segment=vip` lifts bags; `weekday=6` weighs nothing.
pub const CTX_FEATURES: [&str; 4] = [
    "hour=13",
    "device=mobile",
    "custom:segment=vip",
    "weekday=6",
];

/// Item id `{category}-{i}`: e.g. `shoes-0`.
pub fn id(cat: usize, i: usize) -> String {
    format!("{}-{i}", CATEGORIES[cat])
}

/// Category index of an id.
pub fn cat_of(id: &str) -> usize {
    let name = id.split('-').next().unwrap_or("");
    CATEGORIES.iter().position(|c| *c == name).expect("shop id")
}

/// The parts of the shop bundle. Popularity falls with the category then the item (so `shoes-0`
/// is the most popular item). Prices: `10 · (i + 1)` in every category, except `bags-5` whose
/// price is unknown. `socks-5` has no category. Neighbours: `shoes-0` lists `hats-3` (weight 5)
/// and `bags-2` (weight 1).
pub fn shop_parts() -> BundleParts {
    let dim = 8;
    let mut ids = Vec::new();
    let mut embeddings = Vec::new();
    let mut popularity = Vec::new();
    let mut cats = Vec::new();
    let mut prices = Vec::new();
    for c in 0..CATEGORIES.len() {
        for i in 0..PER {
            ids.push(id(c, i));
            for j in 0..dim {
                let base = if j == c { 1.0 } else { 0.0 };
                // A second direction inside each category: items 0-2 lean on dim 4+c%4... keep it
                // small so categories stay apart.
                let sub = if j == 4 + (i % 2) { 0.3 } else { 0.0 };
                let jitter = ((c * 31 + i * 17 + j * 7) % 11) as f32 / 200.0;
                embeddings.push(base + sub + jitter);
            }
            popularity.push(((CATEGORIES.len() - c) * 1000 - i * 10) as f32);
            cats.push(if c == 3 && i == 5 {
                None
            } else {
                Some(c as u32)
            });
            prices.push(if c == 1 && i == 5 {
                None
            } else {
                Some(10.0 * (i as f32 + 1.0))
            });
        }
    }
    let n = ids.len();
    let mut neighbours = vec![Vec::new(); n];
    neighbours[0] = vec![((2 * PER + 3) as u32, 5.0), ((PER + 2) as u32, 1.0)];
    let k = CATEGORIES.len();
    let mut ctx = vec![0.0f32; CTX_FEATURES.len() * k];
    ctx[3] = 2.0; // hour=13 → socks
    ctx[k + 2] = 2.0; // device=mobile → hats
    ctx[2 * k + 1] = 2.0; // custom:segment=vip → bags
    BundleParts {
        ids,
        dim,
        embeddings,
        popularity,
        metadata: BTreeMap::new(),
        categories: Some(CategoryParts {
            names: CATEGORIES.iter().map(|s| s.to_string()).collect(),
            item: cats,
        }),
        prices: Some(prices),
        neighbours: Some(neighbours),
        context: Some(ContextParts {
            features: CTX_FEATURES.iter().map(|s| s.to_string()).collect(),
            weights: ctx,
        }),
        ..Default::default()
    }
}

/// The shop bundle's bytes.
pub fn shop_bundle() -> Vec<u8> {
    write_bundle(&shop_parts()).expect("shop bundle")
}

/// The shop without categories, prices, context weights or neighbours.
pub fn plain_shop_bundle() -> Vec<u8> {
    let parts = shop_parts();
    write_bundle(&BundleParts {
        ids: parts.ids,
        dim: parts.dim,
        embeddings: parts.embeddings,
        popularity: parts.popularity,
        ..Default::default()
    })
    .expect("plain shop bundle")
}
