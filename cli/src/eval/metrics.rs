//! The metrics of `vitrine eval`: hit rate, MRR, NDCG, coverage, the best fixed list, and the
//! private shelf's baselines and bound.

use serde::Serialize;

use super::privacy_args::EvalPrivacy;
use crate::events::EventLog;

/// Metrics of one evaluation, as fractions in [0, 1] (printed as %).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metrics {
    pub k: usize,
    /// Next-item predictions scored.
    pub predictions: u64,
    /// Hit rate at k (= recall@k for one relevant item).
    pub hit_rate: f64,
    /// Mean reciprocal rank at k (0 when the item is not in the top k).
    pub mrr: f64,
    /// NDCG at 10 (one relevant item: 1 / log2(rank + 1) within the top 10).
    pub ndcg10: f64,
    /// Share of the catalog that appeared in at least one top-k list.
    pub coverage: f64,
    /// Predictions whose target is unknown to the bundle (counted as misses). Unknown items in a
    /// prefix are skipped, as a storefront's rejected `track()` leaves the session unchanged.
    pub unknown_items: u64,
    pub predictions_per_second: f64,
    /// HR@k of the best fixed list (the k most frequent test targets): an oracle that reads the
    /// test labels, reported because no (ε, δ)-DP recommender can beat `e^ε · this + δ` when any
    /// two histories are neighbours (see docs/PRIVACY.md).
    pub best_fixed_list_hit_rate: f64,
    /// MRR@k of the best fixed list (targets ranked by frequency), likewise.
    pub best_fixed_list_mrr: f64,
    /// The privacy settings (absent: the raw history, as before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy: Option<EvalPrivacy>,
    /// With privacy on: what the bounds and the baselines around the private shelf give.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub bounds: Option<PrivacyBounds>,
}

/// The private shelf's baselines and bound, on the same predictions.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PrivacyBounds {
    /// HR@k / MRR@k of the ranking from what is public alone: the page's events (P) under
    /// `unit: 'device'`, nothing (the popularity order) under `unit: 'history'`.
    pub public_only_hit_rate: f64,
    pub public_only_mrr: f64,
    /// HR@k / MRR@k of the ranking from everything, unprotected (P and D raw).
    pub non_private_hit_rate: f64,
    pub non_private_mrr: f64,
    /// The per-item bound: HR@(k·e^ε) of the public-only ranking. An ε-DP mechanism (with respect
    /// to what is not public) shows an item at most e^ε times as often as it would with that part
    /// empty, where k slots hold at most k items' worth of probability: it cannot show a target
    /// more often than the public-only ranking's top k·e^ε would (see docs/PRIVACY.md).
    pub ceiling_hit_rate: f64,
    /// k·e^ε (rounded down, at most the catalog and the engine's largest k, 10,000).
    pub ceiling_k: usize,
}

/// Accumulates metrics from the rank (1-based) of each true next item.
#[derive(Debug, Default, Clone)]
pub struct Accumulator {
    pub predictions: u64,
    pub hits: u64,
    pub rr_sum: f64,
    pub ndcg_sum: f64,
    pub unknown: u64,
    pub fresh: u64,
    pub cached: u64,
    pub public: u64,
}

/// Ranks (1-based, when listed) of one prediction's target in the public-only and non-private
/// rankings (the private one is the main accumulator's); the public-only one runs to `ceiling_k`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ranks {
    pub public_only: Option<usize>,
    pub non_private: Option<usize>,
}

/// The baselines' and bound's sums.
#[derive(Debug, Default, Clone)]
pub struct BoundsAccumulator {
    pub public_only: Accumulator,
    pub non_private: Accumulator,
    pub ceiling_hits: u64,
}

impl BoundsAccumulator {
    pub fn add(&mut self, ranks: Ranks, k: usize, ceiling_k: usize) {
        self.public_only.add(ranks.public_only, k);
        self.non_private.add(ranks.non_private, k);
        if ranks.public_only.is_some_and(|r| r <= ceiling_k) {
            self.ceiling_hits += 1;
        }
    }

    pub fn merge(mut self, other: Self) -> Self {
        self.public_only = self.public_only.merge(other.public_only);
        self.non_private = self.non_private.merge(other.non_private);
        self.ceiling_hits += other.ceiling_hits;
        self
    }

    pub fn finish(&self, ceiling_k: usize) -> PrivacyBounds {
        let n = self.public_only.predictions.max(1) as f64;
        PrivacyBounds {
            public_only_hit_rate: self.public_only.hits as f64 / n,
            public_only_mrr: self.public_only.rr_sum / n,
            non_private_hit_rate: self.non_private.hits as f64 / n,
            non_private_mrr: self.non_private.rr_sum / n,
            ceiling_hit_rate: self.ceiling_hits as f64 / n,
            ceiling_k,
        }
    }
}

impl Accumulator {
    /// Records one prediction whose true item sits at `rank` (1-based) in the list, if at all.
    pub fn add(&mut self, rank: Option<usize>, k: usize) {
        self.predictions += 1;
        if let Some(r) = rank {
            if r <= k {
                self.hits += 1;
                self.rr_sum += 1.0 / r as f64;
            }
            if r <= 10 {
                self.ndcg_sum += 1.0 / ((r + 1) as f64).log2();
            }
        }
    }

    pub fn merge(mut self, other: Self) -> Self {
        self.predictions += other.predictions;
        self.hits += other.hits;
        self.rr_sum += other.rr_sum;
        self.ndcg_sum += other.ndcg_sum;
        self.unknown += other.unknown;
        self.fresh += other.fresh;
        self.cached += other.cached;
        self.public += other.public;
        self
    }

    pub fn finish(&self, k: usize, coverage: f64, seconds: f64) -> Metrics {
        let n = self.predictions.max(1) as f64;
        Metrics {
            k,
            predictions: self.predictions,
            hit_rate: self.hits as f64 / n,
            mrr: self.rr_sum / n,
            ndcg10: self.ndcg_sum / n,
            coverage,
            unknown_items: self.unknown,
            predictions_per_second: self.predictions as f64 / seconds.max(1e-9),
            best_fixed_list_hit_rate: 0.0,
            best_fixed_list_mrr: 0.0,
            privacy: None,
            bounds: None,
        }
    }
}

/// HR@k and MRR@k of the single best fixed ranking for the protocol's predictions: the targets
/// sorted by how often they are the next item (an oracle on the test labels; the bound of
/// docs/PRIVACY.md). Predictions with unknown items count in the denominator, as misses.
pub fn best_fixed_list(test: &EventLog, rows: &[Option<u32>], k: usize) -> (f64, f64) {
    let mut counts: std::collections::HashMap<u32, u64> = std::collections::HashMap::new();
    let mut predictions = 0u64;
    for session in &test.sessions {
        for (t, event) in session.iter().enumerate() {
            if t > 0 {
                predictions += 1;
                if let Some(r) = rows[event.item as usize] {
                    *counts.entry(r).or_default() += 1;
                }
            }
        }
    }
    let mut c: Vec<u64> = counts.into_values().collect();
    c.sort_unstable_by(|a, b| b.cmp(a));
    let n = predictions.max(1) as f64;
    let hr = c.iter().take(k).sum::<u64>() as f64 / n;
    let mrr = c
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, &x)| x as f64 / (r + 1) as f64)
        .sum::<f64>()
        / n;
    (hr, mrr)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-checked: ranks 1, 2, 4, miss, 25 (beyond k=20) over 5 predictions.
    #[test]
    fn metrics_on_a_hand_checked_example() {
        let mut acc = Accumulator::default();
        for r in [Some(1), Some(2), Some(4), None, Some(25)] {
            acc.add(r, 20);
        }
        let m = acc.finish(20, 0.5, 1.0);
        assert_eq!(m.predictions, 5);
        assert!((m.hit_rate - 3.0 / 5.0).abs() < 1e-12);
        assert!((m.mrr - (1.0 + 0.5 + 0.25) / 5.0).abs() < 1e-12);
        // NDCG@10: 1/log2(2) + 1/log2(3) + 1/log2(5), over 5.
        let ndcg = (1.0 + 1.0 / 3f64.log2() + 1.0 / 5f64.log2()) / 5.0;
        assert!((m.ndcg10 - ndcg).abs() < 1e-12);
    }
}
