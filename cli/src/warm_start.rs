//! `vitrine train --warm-start B`: continues from an existing bundle on new logs (a daily
//! refresh). Every item of B and of the new log is a row of the model: B's items start from B's
//! vectors (new items from random ones), the session readout and position weights from B's.
//! Training then runs as usual on the new log (validation split, early stopping) at a tenth of
//! the usual learning rate and with twice the negatives, drawn by B's counts plus the log's, so
//! B's items the log does not mention still take part in the softmax (and move as negatives) —
//! a fine-tune on the new items alone leaves them behind. The popularity weight and session terms
//! are B's (chosen on B's larger validation split) unless `--warm-retune`. Afterwards popularity
//! is B's counts plus the new ones; neighbour lists are B's merged with the new log's (weights
//! added, the strongest kept); trending counts come from the new log alone (they are about now).
//! Measured on Diginetica in docs/quality.md ("Warm start").

use std::collections::{HashMap, HashSet};

use anyhow::{bail, Result};
use vitrine::bundle::{Bundle, BundleParts};

use crate::bundle_parts::parts_of;
use crate::events::EventLog;
use crate::model::{Model, WarmInit};

/// The warm start's default learning rate (the usual one is 0.005): chosen on the warm start's
/// validation split on Diginetica (validation MRR@20 19.90 % at 0.0005, 19.88 % at 0.0002,
/// 19.05 % at 0.005).
pub const LEARNING_RATE: f32 = 0.0005;

/// The warm start's default negatives per mini-batch (the usual is 2048), chosen on the warm
/// start's validation split on Diginetica by HR@20 + MRR@20 at the early-stopping epoch:
/// 2048 75.98, 4096 77.08, 8192 76.96, 16384 76.83 (docs/quality.md, "Warm start").
pub const NEGATIVES: usize = 4096;

/// The starting point of a warm start.
pub struct WarmStart {
    /// The model for the new log's items (rows in the log's order), then the bundle's other items.
    pub init: WarmInit,
    /// The bundle's parts, as loaded.
    pub base: BundleParts,
    /// The log's own items (rows `0..log_items`; the bundle's other items follow).
    pub log_items: usize,
    /// Of the log's own items, those found in the bundle.
    pub known: usize,
}

/// Maps the bundle onto the new log's items, after appending to the log's item list the bundle's
/// items it does not mention (no events: they start from their vectors and train as negatives).
pub fn prepare(bundle: &Bundle, log: &mut EventLog, dim: usize, seed: u64) -> Result<WarmStart> {
    if bundle.dim() != dim {
        bail!(
            "--warm-start: the bundle has {} dimensions, --dim is {dim}",
            bundle.dim()
        );
    }
    let (Some(readout), Some(pos)) = (bundle.session_readout(), bundle.session_pos_weights())
    else {
        bail!("--warm-start needs a bundle written by `vitrine train` (session_readout and session_pos_weights)");
    };
    let base = parts_of(bundle)?;
    let in_log = log.items.len();
    let mentioned: HashSet<&str> = log.items.iter().map(String::as_str).collect();
    let others: Vec<String> = base
        .ids
        .iter()
        .filter(|id| !mentioned.contains(id.as_str()))
        .cloned()
        .collect();
    log.items.extend(others);
    let mut rng = <rand::rngs::SmallRng as rand::SeedableRng>::seed_from_u64(seed ^ 0x3a3);
    let std = 1.0 / (dim as f32).sqrt();
    let mut emb = Vec::with_capacity(log.items.len() * dim);
    // B's other items move as negatives, drawn by B's counts. Measured on the warm start's
    // validation split (Diginetica, docs/quality.md): 54.95 % HR@20 so, 53.83 % with them frozen,
    // 52.92 % with them out of the sampler.
    let mut prior_counts = Vec::with_capacity(log.items.len());
    let mut known = 0usize;
    for (i, id) in log.items.iter().enumerate() {
        match bundle.index_of(id) {
            Some(r) => {
                known += usize::from(i < in_log);
                emb.extend(bundle.dequantized_row(r as usize));
                prior_counts.push(base.popularity[r as usize]);
            }
            None => {
                emb.extend(
                    (0..dim).map(|_| (rand::Rng::random::<f32>(&mut rng) * 2.0 - 1.0) * std),
                );
                prior_counts.push(0.0);
            }
        }
    }
    Ok(WarmStart {
        init: WarmInit {
            model: Model {
                dim,
                emb,
                pos_weights: pos.to_vec(),
                readout: readout.to_vec(),
            },
            prior_counts,
        },
        base,
        log_items: in_log,
        known,
    })
}

/// The bundle's items the new log does not mention, appended to the trained parts (rows = the log's
/// items, then these); popularity summed, neighbour lists merged. Returns a report line.
/// With `keep_params`, the bundle's scoring weights replace the ones chosen on the new log.
pub fn merge(parts: &mut BundleParts, warm: &WarmStart, keep_params: bool) -> String {
    let b = &warm.base;
    let kept_params = keep_params && b.params.is_some();
    if kept_params {
        parts.params.clone_from(&b.params);
    }
    let d = parts.dim;
    let mut row_of: HashMap<String, usize> = parts
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), i))
        .collect();
    let mut kept = 0usize;
    // Base row → row in the result.
    let mut map = vec![0usize; b.ids.len()];
    for (r, id) in b.ids.iter().enumerate() {
        match row_of.get(id) {
            Some(&i) => {
                parts.popularity[i] += b.popularity[r];
                map[r] = i;
            }
            None => {
                kept += 1;
                let i = parts.ids.len();
                row_of.insert(id.clone(), i);
                parts.ids.push(id.clone());
                parts
                    .embeddings
                    .extend_from_slice(&b.embeddings[r * d..(r + 1) * d]);
                parts.popularity.push(b.popularity[r]);
                if let Some(t) = &mut parts.trend {
                    t.push(0.0);
                }
                if let Some(l) = &mut parts.neighbours {
                    l.push(Vec::new());
                }
                if let Some(l) = &mut parts.co_purchases {
                    l.push(Vec::new());
                }
                map[r] = i;
            }
        }
    }
    let per_item = parts
        .neighbours
        .as_ref()
        .map_or(0, |l| l.iter().map(Vec::len).max().unwrap_or(0))
        .max(
            b.neighbours
                .as_ref()
                .map_or(0, |l| l.iter().map(Vec::len).max().unwrap_or(0)),
        );
    for (mine, theirs) in [
        (&mut parts.neighbours, &b.neighbours),
        (&mut parts.co_purchases, &b.co_purchases),
    ] {
        let Some(theirs) = theirs else { continue };
        let n = parts.ids.len();
        let lists = mine.get_or_insert_with(|| vec![Vec::new(); n]);
        lists.resize(n, Vec::new());
        for (r, list) in theirs.iter().enumerate() {
            let target = &mut lists[map[r]];
            for &(j, w) in list {
                let j = map[j as usize] as u32;
                match target.iter_mut().find(|x| x.0 == j) {
                    Some(x) => x.1 += w,
                    None => target.push((j, w)),
                }
            }
            target.sort_unstable_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
            target.truncate(per_item.max(1));
        }
    }
    // What the new training did not produce comes from the bundle, by id.
    let n = parts.ids.len();
    let base_row: HashMap<&str, usize> = b
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let of = |i: usize| base_row.get(parts.ids[i].as_str()).copied();
    if parts.categories.is_none() {
        if let Some(c) = &b.categories {
            parts.categories = Some(vitrine::bundle::CategoryParts {
                names: c.names.clone(),
                item: (0..n).map(|i| of(i).and_then(|r| c.item[r])).collect(),
            });
        }
    }
    if parts.prices.is_none() {
        if let Some(p) = &b.prices {
            parts.prices = Some((0..n).map(|i| of(i).and_then(|r| p[r])).collect());
        }
    }
    if parts.availability.is_none() {
        if let Some(a) = &b.availability {
            parts.availability = Some((0..n).map(|i| of(i).is_none_or(|r| a[r])).collect());
        }
    }
    if parts.context.is_none() && parts.categories.is_some() {
        parts.context = b.context.clone();
    }
    for t in &b.extra {
        if !parts.extra.iter().any(|x| x.name == t.name) {
            parts.extra.push(t.clone());
        }
    }
    for (k, v) in &b.metadata {
        if k.starts_with("content.") {
            parts.metadata.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    format!(
        "warm start: {} of the log's {} items came from the bundle, {} new; {} bundle items not in the log trained as negatives{}; scoring weights {}",
        warm.known,
        warm.log_items,
        warm.log_items - warm.known,
        warm.init.model.emb.len() / d.max(1) - warm.log_items + kept,
        if kept > 0 { format!(" ({kept} kept as they were)") } else { String::new() },
        if kept_params { "kept from the bundle" } else { "chosen on this log" }
    )
}
