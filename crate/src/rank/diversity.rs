//! Diversity: a per-category cap on the top k ([`capped_top_k`]) and Maximal Marginal Relevance
//! ([`mmr`]).

use super::prepare::Prepared;
use crate::bundle::Bundle;
use crate::kernels::Scored;

/// Per-category counts (categories in a response are few: a linear scan beats hashing).
#[derive(Debug, Clone, Default)]
pub(super) struct CategoryCounts(Vec<(u32, usize)>);

impl CategoryCounts {
    pub(super) fn get(&self, cat: u32) -> usize {
        self.0.iter().find(|c| c.0 == cat).map_or(0, |c| c.1)
    }

    pub(super) fn add(&mut self, cat: u32) {
        match self.0.iter_mut().find(|c| c.0 == cat) {
            Some(c) => c.1 += 1,
            None => self.0.push((cat, 1)),
        }
    }
}

/// Best `k` candidates taken best-first, skipping those whose category already holds `cap`
/// (counting `used`); items without a category are not capped. `best(m)` returns the best `m`
/// candidates sorted (or all, when fewer). Exact: greedy over the best `m` equals greedy over all
/// candidates once it fills `k` slots or `best(m)` runs out, and `m` doubles until one happens.
pub(super) fn capped_top_k(
    bundle: &Bundle,
    best: impl Fn(usize) -> Vec<Scored>,
    k: usize,
    cap: usize,
    used: &CategoryCounts,
) -> Vec<Scored> {
    let mut m = k.saturating_mul(4).max(64);
    loop {
        let prefix = best(m);
        let mut counts = used.clone();
        let mut out = Vec::with_capacity(k);
        for c in &prefix {
            if out.len() == k {
                break;
            }
            match bundle.category(c.index as usize) {
                Some(cat) if counts.get(cat) >= cap => {}
                Some(cat) => {
                    counts.add(cat);
                    out.push(*c);
                }
                None => out.push(*c),
            }
        }
        if out.len() == k || prefix.len() < m {
            return out;
        }
        m = m.saturating_mul(2);
    }
}

/// Maximal Marginal Relevance over `pool` (best first): repeatedly picks the candidate maximizing
/// `λ · rel − (1 − λ) · max cos(candidate, picked)`, with `rel` the score min-max normalized over
/// the pool to [0, 1] and cosines from the int8 vectors; respects the category cap.
pub(super) fn mmr(
    p: &Prepared<'_>,
    pool: &[Scored],
    k: usize,
    lambda: f32,
    cap: Option<usize>,
    used: &mut CategoryCounts,
) -> Vec<Scored> {
    let bundle = p.bundle();
    let (lo, hi) = pool
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), c| {
            (lo.min(c.score), hi.max(c.score))
        });
    let span = hi - lo;
    let rel: Vec<f32> = pool
        .iter()
        .map(|c| {
            if span > 0.0 && span.is_finite() {
                (c.score - lo) / span
            } else {
                1.0
            }
        })
        .collect();
    let mut max_sim = vec![f32::NEG_INFINITY; pool.len()];
    let mut taken = vec![false; pool.len()];
    let mut out = Vec::with_capacity(k.min(pool.len()));
    while out.len() < k {
        let mut best: Option<(usize, f32)> = None;
        for (j, c) in pool.iter().enumerate() {
            if taken[j] {
                continue;
            }
            if let (Some(cap), Some(cat)) = (cap, bundle.category(c.index as usize)) {
                if used.get(cat) >= cap {
                    continue;
                }
            }
            let redundancy = if max_sim[j].is_finite() {
                max_sim[j]
            } else {
                0.0
            };
            let value = lambda * rel[j] - (1.0 - lambda) * redundancy;
            if best.is_none_or(|(_, v)| value > v) {
                best = Some((j, value));
            }
        }
        let Some((j, _)) = best else { break };
        taken[j] = true;
        let chosen = pool[j];
        if let Some(cat) = bundle.category(chosen.index as usize) {
            used.add(cat);
        }
        out.push(chosen);
        for (m, c) in pool.iter().enumerate() {
            if !taken[m] {
                max_sim[m] = max_sim[m].max(p.cosine(chosen.index, c.index));
            }
        }
    }
    out
}
