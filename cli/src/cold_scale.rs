//! Chooses how strongly a new product's content vector competes with trained products (the
//! bundle's `content.cold_scale`): a cold-start simulation on the validation split with the
//! early-stopped model. A seeded tenth of the catalog's trained products is made "new": the
//! content tower is fitted without them, their vectors become `s · t̂(product)` and their
//! popularity 0; the validation sessions are scored (the profile from the items' directions, as
//! the engine builds it) for each `s` of a grid. The scale kept is the one that recommends the
//! "new" products best (HR@20 on predictions whose target is one of them) while costing the other
//! predictions at most [`MAX_WARM_DROP`] of HR@20 — a new product should reach the shelves it
//! belongs on without pushing trained ones off the others.

use ndarray::{Array2, ArrayView2, Axis};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::catalog::Product;
use crate::content::ContentTower;
use crate::model::Model;

/// Scales tried.
const GRID: [f32; 20] = [
    0.0, 0.5, 0.6, 0.7, 0.72, 0.74, 0.76, 0.78, 0.8, 0.82, 0.84, 0.86, 0.88, 0.9, 0.92, 0.94, 0.96,
    0.98, 1.0, 1.05,
];
/// The most HR@20 (a fraction) the other predictions may lose: half a point, the bound issue 16
/// sets for a catalog update against a full retrain.
pub const MAX_WARM_DROP: f64 = 0.005;

/// The chosen scale and report lines.
#[allow(clippy::too_many_arguments)]
pub fn choose(
    model: &Model,
    valid: &[Vec<(u32, f32)>],
    prior: &[f32],
    pop_weight: f32,
    products: &[Option<&Product>],
    counts: &[f32],
    blend: f32,
    seed: u64,
) -> Option<(f32, Vec<String>)> {
    let d = model.dim;
    let e = model.normalized();
    let n = e.len() / d;
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5ca1e);
    let held: Vec<bool> = (0..n)
        .map(|i| products[i].is_some() && rng.random::<f32>() < 0.1)
        .collect();
    // The tower without the held-out products.
    let owned: Vec<Product> = products.iter().flatten().map(|p| (*p).clone()).collect();
    let rows: Vec<usize> = (0..n).filter(|&i| products[i].is_some()).collect();
    let trained: Vec<Option<(&[f32], f32)>> = rows
        .iter()
        .map(|&i| (!held[i]).then(|| (&e[i * d..(i + 1) * d], counts[i])))
        .collect();
    let tower = ContentTower::fit(&owned, &trained, d, blend, seed)?;
    // Item directions (what the profile reads) and the held-out ones' content directions.
    let mut dirs = e.clone();
    let mut is_cold = vec![false; n];
    for (k, &i) in rows.iter().enumerate() {
        if !held[i] {
            continue;
        }
        let t = tower.vector(&owned[k]).map(|v| {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter()
                .map(|x| x / norm.max(1e-12))
                .collect::<Vec<f32>>()
        });
        dirs[i * d..(i + 1) * d].copy_from_slice(&t.clone().unwrap_or_else(|| vec![0.0; d]));
        is_cold[i] = t.is_some();
    }
    let mut prior = prior.to_vec();
    for i in 0..n {
        if held[i] {
            prior[i] = 0.0;
        }
    }
    let (Ok(emb), Ok(w)) = (
        ArrayView2::from_shape((n, d), &dirs[..]),
        ArrayView2::from_shape((d, d), &model.readout[..]),
    ) else {
        return None;
    };
    let mut prefixes: Vec<(Vec<u32>, u32)> = Vec::new();
    for s in valid {
        for t in 1..s.len() {
            prefixes.push((s[..t].iter().map(|x| x.0).collect(), s[t].0));
        }
    }
    // hits[s] for the held-out targets and for the others.
    let (mut cold_hits, mut warm_hits) = (vec![0u64; GRID.len()], vec![0u64; GRID.len()]);
    let (mut cold_n, mut warm_n) = (0u64, 0u64);
    for chunk in prefixes.chunks(512) {
        let mut h = Array2::<f32>::zeros((chunk.len(), d));
        for (b, (prefix, _)) in chunk.iter().enumerate() {
            let mut hb = h.row_mut(b);
            for (k, &item) in prefix
                .iter()
                .rev()
                .take(model.pos_weights.len())
                .enumerate()
            {
                let wk = model.pos_weights[k];
                hb.iter_mut()
                    .zip(emb.row(item as usize))
                    .for_each(|(x, y)| *x += wk * y);
            }
        }
        let mut q = h.dot(&w.t());
        for mut r in q.axis_iter_mut(Axis(0)) {
            let norm = r.dot(&r).sqrt();
            if norm > 1e-12 {
                r /= norm;
            }
        }
        let scores = q.dot(&emb.t());
        for (b, &(_, target)) in chunk.iter().enumerate() {
            let r = scores.row(b);
            let t = target as usize;
            let cold_target = held[t];
            if cold_target {
                cold_n += 1;
            } else {
                warm_n += 1;
            }
            for (gi, &s) in GRID.iter().enumerate() {
                let score = |i: usize| {
                    let sim = if is_cold[i] {
                        s * r[i]
                    } else if held[i] {
                        0.0
                    } else {
                        r[i]
                    };
                    sim + pop_weight * prior[i]
                };
                let st = score(t);
                let rank = 1 + (0..n).filter(|&i| score(i) > st).count();
                if rank <= 20 {
                    if cold_target {
                        cold_hits[gi] += 1;
                    } else {
                        warm_hits[gi] += 1;
                    }
                }
            }
        }
    }
    let rate = |h: u64, n: u64| h as f64 / n.max(1) as f64;
    let warm0 = rate(warm_hits[0], warm_n);
    let mut best = 0usize;
    for gi in 0..GRID.len() {
        let ok = warm0 - rate(warm_hits[gi], warm_n) <= MAX_WARM_DROP + 1e-9;
        if ok && rate(cold_hits[gi], cold_n) > rate(cold_hits[best], cold_n) {
            best = gi;
        }
    }
    let mut report = vec![format!(
        "cold-start simulation on validation ({} products made new, {cold_n} of {} predictions target them):",
        held.iter().filter(|h| **h).count(),
        cold_n + warm_n
    )];
    for (gi, &s) in GRID.iter().enumerate() {
        report.push(format!(
            "  content scale {s}: new products HR@20 {:.2} %, others HR@20 {:.2} %{}",
            100.0 * rate(cold_hits[gi], cold_n),
            100.0 * rate(warm_hits[gi], warm_n),
            if gi == best { "  ← chosen" } else { "" }
        ));
    }
    Some((GRID[best], report))
}
