//! `vitrine eval`: the next-item protocol. For every test session s and every t in 1..|s|, the
//! prefix s[..t] goes through the same request path the browser runs — a [`Shopper`] on the shared
//! [`Model`], one per test session, replayed in parallel — and the true next item s[t] is looked up
//! in the result.
//!
//! Privacy settings are the engine's own validated options (`privacy: {…}`), built from the flags:
//! without `--epsilon` the raw history (`epsilon: Infinity`); with `--epsilon E` every prediction
//! ranks a private release, by default a fresh one (the session's budget is set to E per
//! prediction, so it never runs out: the per-release curve); with `--budget-epsilon B` each test
//! session has a budget of B for the whole session, and once it is spent the session's
//! predictions are post-processing of its last release, as in the browser.

use std::time::Instant;

use anyhow::{bail, Context};
use rayon::prelude::*;
use serde::Serialize;
use vitrine::privacy::{
    self, BudgetOptions, Calibrated, CandidatesInput, EpsilonInput, PeriodInput, PrivacyConfig,
    PrivacyOptions, ReleaseSource,
};
use vitrine::{Event, Model, RankOptions, RecommendRequest, Shopper, ShopperOptions};

use crate::events::EventLog;

/// `--epsilon`, `--delta`, `--budget-epsilon`, `--unit` of `vitrine eval`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PrivacyArgs {
    /// Make every prediction a differentially private release with this ε (a number, or `inf`
    /// for the explicit non-private path through the same code). Absent: the raw history.
    #[arg(long)]
    pub epsilon: Option<String>,
    /// δ of each release (and of the session budget).
    #[arg(long, default_value_t = privacy::DEFAULT_DELTA)]
    pub delta: f64,
    /// A budget of this ε per test session (composed in zCDP); once spent, predictions reuse the
    /// session's last release. Absent: every prediction is a fresh release at --epsilon.
    #[arg(long)]
    pub budget_epsilon: Option<f64>,
    /// What a release protects: `history` (any two histories: the engine's unit) or `event`
    /// (one item event more or less; weaker, Gaussian only, for comparison).
    #[arg(long, default_value = "history")]
    pub unit: String,
    /// The mechanism: `exponential` (one anchor item, pure ε-DP) or `gaussian` (noisy profile).
    #[arg(long, default_value = "exponential")]
    pub mechanism: String,
    /// The exponential mechanism's top-set size m (default: the engine's rule).
    #[arg(long)]
    pub top_m: Option<usize>,
    /// The exponential mechanism's candidates: the N most popular items (0: the whole catalog;
    /// default: the engine's).
    #[arg(long)]
    pub candidates: Option<usize>,
}

/// The privacy settings of an evaluation, as reported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvalPrivacy {
    pub epsilon: f64,
    pub delta: f64,
    pub mechanism: &'static str,
    pub unit: &'static str,
    /// The exponential mechanism's candidates, top-set size and top-set probability.
    pub candidates: Option<usize>,
    pub top_m: Option<usize>,
    pub top_p: Option<f64>,
    /// zCDP ρ of one release.
    pub rho: f64,
    /// ε per test session, when a session budget was set.
    pub budget_epsilon: Option<f64>,
    /// Gaussian: noise σ per coordinate relative to the signal's norm R (history unit: the
    /// normalized profile's radius).
    pub sigma_over_radius: Option<f64>,
    pub fresh_releases: u64,
    pub cached_releases: u64,
    pub public_releases: u64,
}

impl PrivacyArgs {
    /// The engine's privacy options for these flags; `longest` is the most predictions one test
    /// session makes (a per-prediction budget must cover them all).
    fn options(&self, longest: usize) -> anyhow::Result<PrivacyOptions> {
        let Some(eps) = &self.epsilon else {
            if self.budget_epsilon.is_some() {
                bail!("--budget-epsilon needs --epsilon");
            }
            return Ok(PrivacyOptions {
                epsilon: Some(EpsilonInput(f64::INFINITY)),
                ..Default::default()
            });
        };
        let epsilon = parse_epsilon(eps)?;
        if !epsilon.is_finite() {
            return Ok(PrivacyOptions {
                epsilon: Some(EpsilonInput(epsilon)),
                ..Default::default()
            });
        }
        let budget = match self.budget_epsilon {
            Some(b) => b,
            None => {
                // A fresh release for every prediction: a session budget of ε per prediction.
                let b = epsilon * longest.max(1) as f64;
                if b > privacy::MAX_EPSILON {
                    bail!(
                        "--epsilon {epsilon} for each of up to {longest} predictions per session needs a budget above the engine's largest ({}): pass --budget-epsilon",
                        privacy::MAX_EPSILON
                    );
                }
                b
            }
        };
        Ok(PrivacyOptions {
            epsilon: Some(EpsilonInput(epsilon)),
            delta: Some(self.delta),
            budget: Some(BudgetOptions {
                epsilon: Some(EpsilonInput(budget)),
                period: Some(PeriodInput(None)),
            }),
            mechanism: Some(self.mechanism.clone()),
            candidates: self
                .candidates
                .map(|n| CandidatesInput((n > 0).then_some(n as f64))),
            unit: Some(self.unit.clone()),
            top_m: self.top_m.map(|m| m as f64),
        })
    }

    /// What the report says about the settings a shopper runs with (`None`: the raw history).
    fn report(&self, shopper: &Shopper) -> Option<EvalPrivacy> {
        let PrivacyConfig::On(c) = shopper.privacy() else {
            return None;
        };
        let mechanism = shopper.mechanism();
        let (candidates, top_m, top_p) = match mechanism {
            Some(Calibrated::Anchor(a)) => (Some(a.candidates()), Some(a.m()), Some(a.p())),
            _ => (None, None, None),
        };
        Some(EvalPrivacy {
            epsilon: c.epsilon,
            delta: c.delta,
            mechanism: c.mechanism.as_str(),
            unit: c.unit.as_str(),
            candidates,
            top_m,
            top_p,
            rho: c.rho,
            budget_epsilon: self.budget_epsilon,
            sigma_over_radius: match mechanism {
                Some(Calibrated::Gaussian(m)) => Some(m.sigma() / privacy::GRID_RADIUS as f64),
                _ => None,
            },
            fresh_releases: 0,
            cached_releases: 0,
            public_releases: 0,
        })
    }
}

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
        }
    }
}

/// Runs the protocol over `test` with `k` (≥ 10 so NDCG@10 is defined on the same lists), through
/// the raw history or, with `privacy.epsilon`, through private releases.
pub fn evaluate(
    model: &Model,
    test: &EventLog,
    k: usize,
    privacy: &PrivacyArgs,
    exclude_seen: bool,
    contexts: Option<&[vitrine::context::ContextInput]>,
    filter: &crate::eval_scenarios::TargetFilter,
) -> anyhow::Result<Metrics> {
    let bundle = model.bundle();
    let list_len = k.max(10);
    // The standard protocol keeps the prefix's items among the candidates: the storefront
    // defaults (leave out what is in the cart or purchased) are turned off unless asked for.
    let request = RecommendRequest::new(list_len)?
        .exclude_seen(exclude_seen)
        .exclude_in_cart(exclude_seen)
        .exclude_purchased(exclude_seen);
    let longest = test.sessions.iter().map(Vec::len).max().unwrap_or(0);
    let settings = ShopperOptions {
        privacy: Some(privacy.options(longest)?),
        ..Default::default()
    };
    // One shopper validates the settings (and calibrates the mechanism on the model, once).
    let first = Shopper::new(model, &settings).context("the privacy settings")?;
    let report = privacy.report(&first);
    // Map the test log's interned items to bundle rows once.
    let rows: Vec<Option<u32>> = test.items.iter().map(|id| bundle.index_of(id)).collect();
    let started = Instant::now();
    let (acc, seen) = test
        .sessions
        .par_iter()
        .enumerate()
        .map(
            |(s_index, session)| -> anyhow::Result<(Accumulator, Vec<bool>)> {
                // With contexts, each session's request carries its own (validated once).
                let request = match contexts.and_then(|c| c.get(s_index)) {
                    None => request.clone(),
                    Some(ctx) => RankOptions {
                        k: Some(list_len as f64),
                        context: Some(ctx.clone()),
                        exclude_seen: Some(exclude_seen),
                        exclude_in_cart: Some(exclude_seen),
                        exclude_purchased: Some(exclude_seen),
                        ..Default::default()
                    }
                    .validate(bundle)
                    .with_context(|| format!("the context of test session {}", s_index + 1))?,
                };
                let mut acc = Accumulator::default();
                let mut seen = vec![false; bundle.n_items()];
                let mut shopper = first.clone();
                let mut rng = privacy::OsRandom::new();
                for (t, event) in session.iter().enumerate() {
                    if t > 0 && filter.counts(&test.items[event.item as usize]) {
                        match rows[event.item as usize] {
                            Some(target) => {
                                // The accountant's clock: the replayed log's own time.
                                let clock = shopper.session().latest_ts_ms().unwrap_or(0.0);
                                let top = shopper.recommend(model, &request, clock, &mut rng);
                                match shopper.last_source() {
                                    Some(ReleaseSource::Fresh) => acc.fresh += 1,
                                    Some(ReleaseSource::Cached) => acc.cached += 1,
                                    Some(ReleaseSource::Public) => acc.public += 1,
                                    Some(ReleaseSource::NotPrivate) | None => {}
                                }
                                for s in top.rows.iter().take(k) {
                                    seen[s.index as usize] = true;
                                }
                                acc.add(
                                    top.rows
                                        .iter()
                                        .position(|s| s.index == target)
                                        .map(|p| p + 1),
                                    k,
                                );
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
                        shopper.track_row(Event {
                            kind: event.kind,
                            item,
                            ts_ms: event.ts * 1000.0,
                        });
                    }
                }
                Ok((acc, seen))
            },
        )
        .try_reduce(
            || (Accumulator::default(), vec![false; bundle.n_items()]),
            |(a, mut sa), (b, sb)| {
                sa.iter_mut().zip(&sb).for_each(|(x, y)| *x |= *y);
                Ok((a.merge(b), sa))
            },
        )?;
    let coverage = seen.iter().filter(|&&s| s).count() as f64 / bundle.n_items() as f64;
    let mut m = acc.finish(k, coverage, started.elapsed().as_secs_f64());
    let (hr, mrr) = best_fixed_list(test, &rows, k);
    m.best_fixed_list_hit_rate = hr;
    m.best_fixed_list_mrr = mrr;
    if let Some(mut report) = report {
        report.fresh_releases = acc.fresh;
        report.cached_releases = acc.cached;
        report.public_releases = acc.public;
        m.privacy = Some(report);
    }
    Ok(m)
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

/// `--epsilon`: a number, or `inf` / `Infinity` (any case: what `f64`'s parser accepts).
pub fn parse_epsilon(s: &str) -> anyhow::Result<f64> {
    let s = s.trim();
    s.parse()
        .with_context(|| format!("--epsilon must be a number or inf, got '{s}'"))
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
