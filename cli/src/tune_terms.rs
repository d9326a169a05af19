//! Chooses the ranking layer's re-consumption and item-to-item weights (`score.repeat_*`,
//! `score.nbr_*`, see `vitrine::terms`) on the validation split, with the early-stopped float
//! model, exactly as the engine adds them: for a prefix (newest first, at most `max_events`
//! events), item `i` scores `cos(q, e_i) + pop_weight · prior_i + rw · Σ base_k · rd^k · [x_k = i]
//! + nw · Σ base_k · nd^k · w(x_k → i)`, with `w` each list normalized to a strongest of 1.
//!
//! Every combination of the grid is scored on the same predictions at once: the dense part is
//! computed once per prefix; the terms touch only the prefix's items and their neighbours
//! ("candidates"), so a combination's rank of the target needs just the candidates' dense scores
//! and the 20 best dense scores of everything else.

use ndarray::{Array2, ArrayView2, Axis};

use crate::model::Model;

/// The values tried for each weight and decay.
#[derive(Debug, Clone)]
pub struct TermGrid {
    pub repeat_weight: Vec<f32>,
    pub repeat_decay: Vec<f32>,
    pub nbr_weight: Vec<f32>,
    pub nbr_decay: Vec<f32>,
}

impl TermGrid {
    /// The default grid (6 × 3 × 6 × 3 = 324 combinations).
    pub fn standard() -> Self {
        Self {
            repeat_weight: vec![0.0, 0.05, 0.1, 0.2, 0.3, 0.5],
            repeat_decay: vec![0.6, 0.85, 0.97],
            nbr_weight: vec![0.0, 0.05, 0.1, 0.2, 0.3, 0.5],
            nbr_decay: vec![0.3, 0.6, 0.9],
        }
    }
}

/// One combination and its validation figures (fractions).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Combo {
    pub repeat_weight: f32,
    pub repeat_decay: f32,
    pub nbr_weight: f32,
    pub nbr_decay: f32,
    pub hr: f64,
    pub mrr: f64,
}

/// One item a prefix's terms may touch: its dense score, and for each decay of the grid its
/// re-consumption sum and its neighbour sum (before the weights).
struct Candidate {
    row: u32,
    dense: f32,
    repeat: Vec<f32>,
    nbr: Vec<f32>,
}

/// HR@k and MRR@k of every combination of `grid` on `sessions` (rows with their event's base
/// weight, oldest first). `lists`: neighbour lists per row, each normalized to a strongest of 1.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    model: &Model,
    sessions: &[Vec<(u32, f32)>],
    prior: &[f32],
    pop_weight: f32,
    lists: &[Vec<(u32, f32)>],
    grid: &TermGrid,
    k: usize,
    max_events: usize,
) -> Vec<Combo> {
    let mut combos = Vec::new();
    for &rw in &grid.repeat_weight {
        for &rd in &grid.repeat_decay {
            for &nw in &grid.nbr_weight {
                for &nd in &grid.nbr_decay {
                    combos.push(Combo {
                        repeat_weight: rw,
                        repeat_decay: rd,
                        nbr_weight: nw,
                        nbr_decay: nd,
                        hr: 0.0,
                        mrr: 0.0,
                    });
                }
            }
        }
    }
    let d = model.dim;
    let e = model.normalized();
    let n_items = e.len() / d;
    let (Ok(emb), Ok(w)) = (
        ArrayView2::from_shape((n_items, d), &e[..]),
        ArrayView2::from_shape((d, d), &model.readout[..]),
    ) else {
        return combos;
    };
    let mut prefixes: Vec<(&[(u32, f32)], u32)> = Vec::new();
    for s in sessions {
        for t in 1..s.len() {
            prefixes.push((&s[t.saturating_sub(max_events)..t], s[t].0));
        }
    }
    let n_pred = prefixes.len().max(1) as f64;
    let mut hits = vec![0u64; combos.len()];
    let mut rr = vec![0f64; combos.len()];
    let mut in_cands = vec![false; n_items];
    for chunk in prefixes.chunks(512) {
        let mut h = Array2::<f32>::zeros((chunk.len(), d));
        for (b, (prefix, _)) in chunk.iter().enumerate() {
            let mut hb = h.row_mut(b);
            for (pos, &(item, _)) in prefix
                .iter()
                .rev()
                .take(model.pos_weights.len())
                .enumerate()
            {
                let wk = model.pos_weights[pos];
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
        for (b, &(prefix, target)) in chunk.iter().enumerate() {
            let row = scores.row(b);
            let dense = |i: u32| row[i as usize] + pop_weight * prior[i as usize];
            let cands = candidates(prefix, lists, grid, &dense);
            for c in &cands {
                in_cands[c.row as usize] = true;
            }
            // The k best dense scores of the items no term touches, descending.
            let mut best: Vec<f32> = Vec::with_capacity(k + 1);
            for i in 0..n_items as u32 {
                if in_cands[i as usize] {
                    continue;
                }
                let s = dense(i);
                if best.len() < k || s > best[best.len() - 1] {
                    let at = best.partition_point(|&x| x >= s);
                    best.insert(at, s);
                    best.truncate(k);
                }
            }
            for c in &cands {
                in_cands[c.row as usize] = false;
            }
            let tc = cands.iter().position(|c| c.row == target);
            for (ci, combo) in combos.iter().enumerate() {
                let (ri, ni) = decay_index(grid, combo);
                let total = |c: &Candidate| {
                    c.dense + combo.repeat_weight * c.repeat[ri] + combo.nbr_weight * c.nbr[ni]
                };
                let target_score = match tc {
                    Some(j) => total(&cands[j]),
                    None => dense(target),
                };
                let mut above = best.iter().filter(|&&x| x > target_score).count();
                if above >= k {
                    continue;
                }
                above += cands
                    .iter()
                    .filter(|c| c.row != target && total(c) > target_score)
                    .count();
                if above < k {
                    hits[ci] += 1;
                    rr[ci] += 1.0 / (above + 1) as f64;
                }
            }
        }
    }
    for (ci, c) in combos.iter_mut().enumerate() {
        c.hr = hits[ci] as f64 / n_pred;
        c.mrr = rr[ci] / n_pred;
    }
    combos
}

fn decay_index(grid: &TermGrid, c: &Combo) -> (usize, usize) {
    let ri = grid
        .repeat_decay
        .iter()
        .position(|&x| x == c.repeat_decay)
        .unwrap_or(0);
    let ni = grid
        .nbr_decay
        .iter()
        .position(|&x| x == c.nbr_decay)
        .unwrap_or(0);
    (ri, ni)
}

/// The items a prefix's terms touch, with their sums per decay.
fn candidates(
    prefix: &[(u32, f32)],
    lists: &[Vec<(u32, f32)>],
    grid: &TermGrid,
    dense: &dyn Fn(u32) -> f32,
) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut at: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    let mut slot = |row: u32, out: &mut Vec<Candidate>| -> usize {
        *at.entry(row).or_insert_with(|| {
            out.push(Candidate {
                row,
                dense: dense(row),
                repeat: vec![0.0; grid.repeat_decay.len()],
                nbr: vec![0.0; grid.nbr_decay.len()],
            });
            out.len() - 1
        })
    };
    for (pos, &(item, base)) in prefix.iter().rev().enumerate() {
        let p = slot(item, &mut out);
        for (j, &rd) in grid.repeat_decay.iter().enumerate() {
            out[p].repeat[j] += base * rd.powi(pos as i32);
        }
        for &(nb, wgt) in lists.get(item as usize).map_or(&[][..], Vec::as_slice) {
            let p = slot(nb, &mut out);
            for (j, &nd) in grid.nbr_decay.iter().enumerate() {
                out[p].nbr[j] += base * nd.powi(pos as i32) * wgt;
            }
        }
    }
    out
}

/// Each list divided by its strongest weight (as the engine reads them).
pub fn normalized(lists: &[Vec<(u32, f32)>]) -> Vec<Vec<(u32, f32)>> {
    lists
        .iter()
        .map(|l| {
            let max = l.iter().map(|x| x.1).fold(0.0f32, f32::max);
            if max > 0.0 {
                l.iter().map(|&(j, w)| (j, w / max)).collect()
            } else {
                Vec::new()
            }
        })
        .collect()
}

/// The best combination by HR@20 + MRR@20 (the popularity weight's objective), ties broken
/// toward smaller weights.
pub fn best(combos: &[Combo]) -> Option<Combo> {
    let mut best: Option<Combo> = None;
    for c in combos {
        let better = best.is_none_or(|b| c.hr + c.mrr > b.hr + b.mrr + 1e-12);
        if better {
            best = Some(*c);
        }
    }
    best
}
