//! `vitrine eval`: the next-item protocol. For every test session s and every t in 1..|s|, the
//! prefix s[..t] goes through the same session → scores → top-k code the browser runs, and the true
//! next item s[t] is looked up in the result.

use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;
use vitrine::{Bundle, Event, RecommendRequest, SessionLog};

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
}

/// Accumulates metrics from the rank (1-based) of each true next item.
#[derive(Debug, Default, Clone)]
pub struct Accumulator {
    pub predictions: u64,
    pub hits: u64,
    pub rr_sum: f64,
    pub ndcg_sum: f64,
    pub unknown: u64,
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

    fn merge(mut self, other: Self) -> Self {
        self.predictions += other.predictions;
        self.hits += other.hits;
        self.rr_sum += other.rr_sum;
        self.ndcg_sum += other.ndcg_sum;
        self.unknown += other.unknown;
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
        }
    }
}

/// Runs the protocol over `test` with `k` (≥ 10 so NDCG@10 is defined on the same lists).
pub fn evaluate(
    bundle: &Bundle,
    test: &EventLog,
    k: usize,
    exclude_seen: bool,
) -> anyhow::Result<Metrics> {
    let list_len = k.max(10);
    // The standard protocol keeps the prefix's items among the candidates: the storefront
    // defaults (leave out what is in the cart or purchased) are turned off unless asked for.
    let request = RecommendRequest::new(list_len)?
        .exclude_seen(exclude_seen)
        .exclude_in_cart(exclude_seen)
        .exclude_purchased(exclude_seen);
    // Map the test log's interned items to bundle rows once.
    let rows: Vec<Option<u32>> = test.items.iter().map(|id| bundle.index_of(id)).collect();
    let started = Instant::now();
    let (acc, seen) = test
        .sessions
        .par_iter()
        .map(|session| {
            let mut acc = Accumulator::default();
            let mut seen = vec![false; bundle.n_items()];
            let mut log = SessionLog::default();
            for (t, event) in session.iter().enumerate() {
                if t > 0 {
                    match rows[event.item as usize] {
                        Some(target) => {
                            let top = vitrine::recommend(bundle, &log, &request);
                            for s in top.iter().take(k) {
                                seen[s.index as usize] = true;
                            }
                            acc.add(top.iter().position(|s| s.index == target).map(|p| p + 1), k);
                        }
                        None => {
                            acc.add(None, k);
                            acc.unknown += 1;
                        }
                    }
                }
                // An item the bundle does not know is skipped, as a storefront's track() that
                // rejected it would leave the session unchanged.
                if let Some(item) = rows[event.item as usize] {
                    log.push(Event {
                        kind: event.kind,
                        item,
                        ts_ms: event.ts * 1000.0,
                    });
                }
            }
            (acc, seen)
        })
        .reduce(
            || (Accumulator::default(), vec![false; bundle.n_items()]),
            |(a, mut sa), (b, sb)| {
                sa.iter_mut().zip(&sb).for_each(|(x, y)| *x |= *y);
                (a.merge(b), sa)
            },
        );
    let coverage = seen.iter().filter(|&&s| s).count() as f64 / bundle.n_items() as f64;
    Ok(acc.finish(k, coverage, started.elapsed().as_secs_f64()))
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
