//! The session model `vitrine train` fits: tied, unit-normalized item embeddings and a
//! position-weighted session readout, trained as a next-item classifier with sampled softmax.
//!
//! For a session prefix with items x₁…x_t (newest last):
//!   h = Σ_k w_k · ê(x_{t−k})   for k < L        (ê = e / ‖e‖, w learned per position from the end)
//!   score(i) = κ · ĥ · ê(i)                       (ĥ = h / ‖h‖; κ a fixed temperature)
//! and the loss is the cross-entropy of the true next item against M negatives drawn ∝ count^0.75
//! per batch (with the log-Q correction, so the logits estimate the full softmax). This is exactly
//! what the engine scores on the device: the bundle stores ê (int8) and w (`session_pos_weights`).

use ndarray::{Array2, ArrayView2, Axis};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::adam::Adam;
use crate::quantized_items::QuantizedItems;

/// The embedding dimension `vitrine train` uses unless told (int8 bundles).
pub const DEFAULT_DIM: usize = 64;

/// `vitrine train`'s default mini-batch (examples).
pub const DEFAULT_BATCH: usize = 256;

/// `vitrine train`'s default sampled negatives per mini-batch (without a warm start).
pub const DEFAULT_NEGATIVES: usize = 2048;

/// `vitrine train`'s default softmax temperature κ.
pub const DEFAULT_SCALE: f32 = 16.0;

/// Hyper-parameters of the session model.
#[derive(Debug, Clone)]
pub struct ModelParams {
    pub dim: usize,
    pub epochs: usize,
    /// Session positions (from the newest) that the readout looks at.
    pub max_positions: usize,
    pub batch: usize,
    pub negatives: usize,
    /// Softmax temperature κ applied to the cosine.
    pub scale: f32,
    pub learning_rate: f32,
    pub seed: u64,
}

/// One training example: the prefix `sessions[s][..t]` predicts `sessions[s][t]`.
#[derive(Debug, Clone, Copy)]
struct Example {
    session: u32,
    t: u32,
}

/// A trained model: raw embeddings (rows not yet normalized) and position weights.
#[derive(Clone)]
pub struct Model {
    pub dim: usize,
    pub emb: Vec<f32>,
    pub pos_weights: Vec<f32>,
    /// The session readout W, d×d row-major: the query is `W ĥ`, normalized.
    pub readout: Vec<f32>,
}

impl Model {
    /// Row-normalized embeddings, as the bundle stores them.
    pub fn normalized(&self) -> Vec<f32> {
        let mut out = self.emb.clone();
        for row in out.chunks_mut(self.dim) {
            let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            if n > 0.0 {
                row.iter_mut().for_each(|x| *x /= n);
            }
        }
        out
    }
}

/// Where a warm start begins: a model and counts for the negative sampler.
pub struct WarmInit {
    /// The starting model: `n_items` rows (the log's items, then the bundle's other items).
    pub model: Model,
    /// Counts added to the log's own for the negative sampler only (the bundle's popularity):
    /// negatives are then drawn as a retrain on the whole history would draw them.
    pub prior_counts: Vec<f32>,
}

/// Called after each epoch with (epoch, mean training loss, model); returns false to stop.
pub type EpochHook<'a> = dyn FnMut(usize, f64, &Model) -> bool + 'a;

/// Called after each mini-batch with (epoch, batches done in the epoch, batches per epoch), for
/// progress; it cannot change the training.
pub type BatchHook<'a> = dyn Fn(usize, usize, usize) + 'a;

/// Fits the model on `sessions` (item rows, oldest first) over `n_items` items, from random
/// vectors or, with `warm` (its model's `dim` and `n_items` rows must match), from a model.
pub fn fit(
    sessions: &[Vec<u32>],
    n_items: usize,
    counts: &[f32],
    p: &ModelParams,
    warm: Option<&WarmInit>,
    on_epoch: &mut EpochHook<'_>,
    on_batch: &BatchHook<'_>,
) -> Model {
    fit_items(sessions, n_items, counts, p, warm, None, on_epoch, on_batch)
}

/// Quantization-aware fine-tuning (as JPQ does for dense retrieval): the same training as
/// [`fit`] from `start`'s readout and position weights, but the item vectors are `items`' codes,
/// fixed, and the gradient moves their centroids. The returned model's rows are the tuned
/// reconstructions; `items.codebooks` holds the tuned centroids.
pub fn fine_tune_quantized(
    sessions: &[Vec<u32>],
    counts: &[f32],
    p: &ModelParams,
    start: &Model,
    items: &mut QuantizedItems<'_>,
    on_epoch: &mut EpochHook<'_>,
    on_batch: &BatchHook<'_>,
) -> Model {
    items.restart(p.learning_rate);
    let warm = WarmInit {
        model: Model {
            emb: items.reconstruct_all(),
            ..start.clone()
        },
        prior_counts: Vec::new(),
    };
    let n_items = warm.model.emb.len() / p.dim.max(1);
    fit_items(
        sessions,
        n_items,
        counts,
        p,
        Some(&warm),
        Some(items),
        on_epoch,
        on_batch,
    )
}

/// [`fit`], with the item vectors free (`items` = `None`) or given by codes.
#[allow(clippy::too_many_arguments)]
fn fit_items(
    sessions: &[Vec<u32>],
    n_items: usize,
    counts: &[f32],
    p: &ModelParams,
    warm: Option<&WarmInit>,
    mut items: Option<&mut QuantizedItems<'_>>,
    on_epoch: &mut EpochHook<'_>,
    on_batch: &BatchHook<'_>,
) -> Model {
    let d = p.dim;
    let mut rng = SmallRng::seed_from_u64(p.seed);
    let std = 1.0 / (d as f32).sqrt();
    let init = warm.map(|w| &w.model);
    let mut model = match init {
        Some(m) if m.dim == d && m.emb.len() == n_items * d => {
            let mut m = m.clone();
            m.pos_weights.resize(p.max_positions, 0.0);
            m
        }
        _ => Model {
            dim: d,
            emb: (0..n_items * d)
                .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * std)
                .collect(),
            pos_weights: (0..p.max_positions)
                .map(|k| 0.7f32.powi(k as i32))
                .collect(),
            readout: (0..d * d)
                .map(|i| if i % (d + 1) == 0 { 1.0 } else { 0.0 })
                .collect(),
        },
    };

    // Negative sampler: cumulative distribution ∝ count^0.75, and log(M·q) per item for the correction.
    let prior = |i: usize| {
        warm.and_then(|w| w.prior_counts.get(i).copied())
            .unwrap_or(0.0)
    };
    let w: Vec<f64> = counts
        .iter()
        .enumerate()
        .map(|(i, &c)| f64::from((c + prior(i)).max(0.0)).powf(0.75) + 1e-12)
        .collect();
    let total: f64 = w.iter().sum();
    let mut cdf = Vec::with_capacity(n_items);
    let mut acc = 0.0;
    for x in &w {
        acc += x / total;
        cdf.push(acc);
    }
    // A catalog no larger than the negative sample is scored in full: an exact softmax.
    let exact = n_items <= p.negatives;
    let n_negs = if exact { n_items } else { p.negatives };
    let log_mq: Vec<f32> = if exact {
        vec![0.0; n_items]
    } else {
        w.iter()
            .map(|x| ((p.negatives as f64) * x / total).ln() as f32)
            .collect()
    };

    let mut examples: Vec<Example> = Vec::new();
    for (s, items) in sessions.iter().enumerate() {
        for t in 1..items.len() {
            examples.push(Example {
                session: s as u32,
                t: t as u32,
            });
        }
    }

    let free_rows = if items.is_some() { 0 } else { n_items };
    let mut adam_emb = Adam::new(free_rows * d, p.learning_rate);
    let mut adam_pos = Adam::new(p.max_positions, p.learning_rate);
    let mut adam_readout = Adam::new(d * d, p.learning_rate);
    let mut grad_emb = vec![0f32; n_items * d];
    let mut touched = vec![false; n_items];
    let mut touched_list: Vec<u32> = Vec::new();
    let mut normed = vec![0f32; n_items * d];
    let mut inv_norm = vec![0f32; n_items];
    let total_batches = (p.epochs * examples.len().div_ceil(p.batch)).max(1);
    let mut step = 0i32;

    for epoch in 0..p.epochs {
        for i in (1..examples.len()).rev() {
            let j = rng.random_range(0..=i);
            examples.swap(i, j);
        }
        let mut loss_sum = 0.0f64;
        let per_epoch = examples.len().div_ceil(p.batch);
        for (b_index, batch) in examples.chunks(p.batch).enumerate() {
            step += 1;
            let lr_mult = 1.0 - 0.9 * (step as f32 / total_batches as f32);
            let b_len = batch.len();
            // Negatives for this batch.
            let negs: Vec<u32> = if exact {
                (0..n_items as u32).collect()
            } else {
                (0..p.negatives)
                    .map(|_| {
                        let u: f64 = rng.random();
                        cdf.partition_point(|&c| c < u).min(n_items - 1) as u32
                    })
                    .collect()
            };
            // Normalize every row this batch reads.
            let mut need: Vec<u32> = negs.clone();
            for ex in batch {
                let items = &sessions[ex.session as usize];
                let t = ex.t as usize;
                need.push(items[t]);
                need.extend_from_slice(&items[t.saturating_sub(p.max_positions)..t]);
            }
            for &i in &need {
                let i = i as usize;
                let out = &mut normed[i * d..(i + 1) * d];
                match items.as_deref() {
                    None => out.copy_from_slice(&model.emb[i * d..(i + 1) * d]),
                    Some(q) => q.reconstruct(i, out),
                }
                let n = out.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                inv_norm[i] = 1.0 / n;
                out.iter_mut().for_each(|x| *x /= n);
            }
            let row = |i: u32| &normed[i as usize * d..(i as usize + 1) * d];

            // Session readout.
            let mut h = Array2::<f32>::zeros((b_len, d));
            for (b, ex) in batch.iter().enumerate() {
                let items = &sessions[ex.session as usize];
                let t = ex.t as usize;
                let mut hb = h.row_mut(b);
                for (k, &item) in items[..t].iter().rev().take(p.max_positions).enumerate() {
                    let wk = model.pos_weights[k];
                    for (x, y) in hb.iter_mut().zip(row(item)) {
                        *x += wk * y;
                    }
                }
            }
            let (h_hat, h_norm) = normalize_rows(h);
            // Readout: q = W ĥ, normalized (W starts as the identity).
            let w_readout =
                ArrayView2::from_shape((d, d), &model.readout[..]).expect("d×d readout");
            let (q_hat, u_norm) = normalize_rows(h_hat.dot(&w_readout.t()));
            let mut e_neg = Array2::<f32>::zeros((n_negs, d));
            for (j, &n) in negs.iter().enumerate() {
                e_neg
                    .row_mut(j)
                    .iter_mut()
                    .zip(row(n))
                    .for_each(|(a, b)| *a = *b);
            }
            // Logits: negatives (B×M, log-Q corrected) and the positive per example.
            let mut logits = q_hat.dot(&e_neg.t());
            logits *= p.scale;
            let mut pos = vec![0f32; b_len];
            for (b, ex) in batch.iter().enumerate() {
                let target = sessions[ex.session as usize][ex.t as usize];
                pos[b] = p.scale
                    * q_hat
                        .row(b)
                        .iter()
                        .zip(row(target))
                        .map(|(a, c)| a * c)
                        .sum::<f32>();
                let mut lr_row = logits.row_mut(b);
                for (j, &n) in negs.iter().enumerate() {
                    lr_row[j] = if n == target {
                        f32::NEG_INFINITY
                    } else {
                        lr_row[j] - log_mq[n as usize]
                    };
                }
            }
            // Softmax over [pos, negatives]; gradients of the logits.
            let mut dpos = vec![0f32; b_len];
            for b in 0..b_len {
                let mut r = logits.row_mut(b);
                let max = r.iter().fold(pos[b], |m, &x| m.max(x));
                let mut z = (pos[b] - max).exp();
                r.mapv_inplace(|x| (x - max).exp());
                z += r.sum();
                r /= z;
                let p_pos = (pos[b] - max).exp() / z;
                loss_sum -= f64::from(p_pos.max(1e-30).ln());
                dpos[b] = p_pos - 1.0;
            }
            let d_logits = logits; // now the softmax probabilities of the negatives = dL/dlogit
                                   // dĤ = κ (dS · E_neg + dpos ê_target); dE_neg = κ dSᵀ · Ĥ.
            let mut d_qhat = d_logits.dot(&e_neg);
            let d_eneg = d_logits.t().dot(&q_hat);
            let mut accumulate =
                |i: u32, g: &mut dyn Iterator<Item = f32>, touched_list: &mut Vec<u32>| {
                    let iu = i as usize;
                    if !touched[iu] {
                        touched[iu] = true;
                        touched_list.push(i);
                    }
                    for (x, gv) in grad_emb[iu * d..(iu + 1) * d].iter_mut().zip(g) {
                        *x += gv;
                    }
                };
            for (j, &n) in negs.iter().enumerate() {
                let r = d_eneg.row(j);
                accumulate(n, &mut r.iter().map(|x| x * p.scale), &mut touched_list);
            }
            let mut d_pos_w = vec![0f32; p.max_positions];
            let mut d_readout = vec![0f32; d * d];
            for (b, ex) in batch.iter().enumerate() {
                let items = &sessions[ex.session as usize];
                let t = ex.t as usize;
                let target = items[t];
                let qb = q_hat.row(b);
                let tgt = row(target).to_vec();
                {
                    let mut dq = d_qhat.row_mut(b);
                    dq *= p.scale;
                    for (x, y) in dq.iter_mut().zip(&tgt) {
                        *x += p.scale * dpos[b] * y;
                    }
                }
                accumulate(
                    target,
                    &mut qb.iter().map(|x| x * p.scale * dpos[b]),
                    &mut touched_list,
                );
                // Through the normalization of u = W ĥ, then W.
                let dq = d_qhat.row(b);
                let proj_q: f32 = qb.dot(&dq);
                let du: Vec<f32> = dq
                    .iter()
                    .zip(qb.iter())
                    .map(|(g, x)| (g - x * proj_q) / u_norm[b])
                    .collect();
                let hb = h_hat.row(b);
                for (r, &du_r) in du.iter().enumerate() {
                    for (c, &h_c) in hb.iter().enumerate() {
                        d_readout[r * d + c] += du_r * h_c;
                    }
                }
                let dh_hat = ndarray::Array1::from(du).dot(&w_readout);
                // Through the normalization of h.
                let proj: f32 = hb.dot(&dh_hat);
                let dh: Vec<f32> = dh_hat
                    .iter()
                    .zip(hb.iter())
                    .map(|(g, x)| (g - x * proj) / h_norm[b])
                    .collect();
                for (k, &item) in items[..t].iter().rev().take(p.max_positions).enumerate() {
                    let r = row(item);
                    d_pos_w[k] += r.iter().zip(&dh).map(|(a, c)| a * c).sum::<f32>();
                    let wk = model.pos_weights[k];
                    accumulate(item, &mut dh.iter().map(|x| x * wk), &mut touched_list);
                }
            }
            // Back through the row normalization, then Adam on the touched rows.
            for &i in &touched_list {
                let iu = i as usize;
                let g = &mut grad_emb[iu * d..(iu + 1) * d];
                let e = &normed[iu * d..(iu + 1) * d];
                let proj: f32 = g.iter().zip(e).map(|(a, b)| a * b).sum();
                for (gj, ej) in g.iter_mut().zip(e) {
                    *gj = (*gj - ej * proj) * inv_norm[iu] / b_len as f32;
                }
                match items.as_deref_mut() {
                    None => adam_emb.step(&mut model.emb, g, iu * d, step, lr_mult),
                    Some(q) => q.add_grad(iu, g),
                }
                g.iter_mut().for_each(|x| *x = 0.0);
                touched[iu] = false;
            }
            touched_list.clear();
            if let Some(q) = items.as_deref_mut() {
                q.step(step, lr_mult);
            }
            d_pos_w.iter_mut().for_each(|x| *x /= b_len as f32);
            adam_pos.step(&mut model.pos_weights, &d_pos_w, 0, step, lr_mult);
            d_readout.iter_mut().for_each(|x| *x /= b_len as f32);
            adam_readout.step(&mut model.readout, &d_readout, 0, step, lr_mult);
            on_batch(epoch, b_index + 1, per_epoch);
        }
        let mean_loss = loss_sum / examples.len().max(1) as f64;
        if let Some(q) = items.as_deref() {
            model.emb = q.reconstruct_all();
        }
        if !on_epoch(epoch, mean_loss, &model) {
            break;
        }
    }
    model
}

/// HR@k and MRR@k of the float model on the next-item protocol over `sessions` (a fast check used
/// for validation during training; reported figures come from `vitrine eval` on the bundle).
/// Items are rows, `None` for an item the model does not know: skipped in a prefix, a miss as a
/// target (as `vitrine eval` counts them). With `prior = Some((prior, w))` the score is the
/// engine's `cos(query, item) + w · prior(item)`.
pub fn evaluate_float(
    model: &Model,
    sessions: &[Vec<Option<u32>>],
    k: usize,
    prior: Option<(&[f32], f32)>,
) -> (f64, f64) {
    match prior {
        None => evaluate_float_weights(model, sessions, k, None, &[0.0])[0],
        Some((prior, w)) => evaluate_float_weights(model, sessions, k, Some(prior), &[w])[0],
    }
}

/// [`evaluate_float`] for each popularity weight of `weights` at once (`prior` added as
/// `score + w · prior`; none when `prior` is `None`): the session queries and their scores over the
/// catalog are computed once, only the ranking is repeated per weight.
pub fn evaluate_float_weights(
    model: &Model,
    sessions: &[Vec<Option<u32>>],
    k: usize,
    prior: Option<&[f32]>,
    weights: &[f32],
) -> Vec<(f64, f64)> {
    let none = vec![(0.0, 0.0); weights.len()];
    let d = model.dim;
    let e = model.normalized();
    let n_items = e.len() / d;
    let Ok(emb) = ndarray::ArrayView2::from_shape((n_items, d), &e[..]) else {
        return none;
    };
    let Ok(w) = ArrayView2::from_shape((d, d), &model.readout[..]) else {
        return none;
    };
    let mut prefixes: Vec<(Vec<u32>, u32)> = Vec::new();
    let mut predictions = 0usize;
    for s in sessions {
        for t in 1..s.len() {
            predictions += 1;
            if let Some(target) = s[t] {
                prefixes.push((s[..t].iter().flatten().copied().collect(), target));
            }
        }
    }
    let mut hits = vec![0u64; weights.len()];
    let mut rr = vec![0f64; weights.len()];
    for chunk in prefixes.chunks(512) {
        let mut h = Array2::<f32>::zeros((chunk.len(), d));
        for (b, (prefix, _)) in chunk.iter().enumerate() {
            let mut hb = h.row_mut(b);
            for (kpos, &item) in prefix
                .iter()
                .rev()
                .take(model.pos_weights.len())
                .enumerate()
            {
                let wk = model.pos_weights[kpos];
                hb.iter_mut()
                    .zip(emb.row(item as usize))
                    .for_each(|(x, y)| *x += wk * y);
            }
        }
        let mut q = h.dot(&w.t());
        for mut r in q.axis_iter_mut(Axis(0)) {
            let n = r.dot(&r).sqrt();
            if n > 1e-12 {
                r /= n;
            }
        }
        let scores = q.dot(&emb.t());
        for (wi, &pw) in weights.iter().enumerate() {
            for (b, (_, target)) in chunk.iter().enumerate() {
                let r = scores.row(b);
                let t = *target as usize;
                let rank = match prior {
                    None => 1 + r.iter().filter(|&&x| x > r[t]).count(),
                    Some(prior) => {
                        let ts = r[t] + pw * prior[t];
                        1 + r
                            .iter()
                            .zip(prior)
                            .filter(|&(&x, &p)| x + pw * p > ts)
                            .count()
                    }
                };
                if rank <= k {
                    hits[wi] += 1;
                    rr[wi] += 1.0 / rank as f64;
                }
            }
        }
    }
    let n = predictions.max(1) as f64;
    hits.iter()
        .zip(&rr)
        .map(|(&h, &r)| (h as f64 / n, r / n))
        .collect()
}

/// Each row divided by its length (floored at 1e-12), and the lengths.
fn normalize_rows(mut a: Array2<f32>) -> (Array2<f32>, Vec<f32>) {
    let norms: Vec<f32> = a
        .axis_iter(Axis(0))
        .map(|r| r.dot(&r).sqrt().max(1e-12))
        .collect();
    for (mut r, &n) in a.axis_iter_mut(Axis(0)).zip(&norms) {
        r /= n;
    }
    (a, norms)
}
