//! `vitrine eval --scenario …`: the next-item protocol for the scenarios, through the engine's own
//! request path. For every test session s and t = 1..|s|−1, the scenario is asked with the prefix
//! s[:t] as the page would ask it and the true s[t] is looked up in its top k:
//!
//! - `bought-together`: `boughtTogether(s[:t])` (a cart: every item in it);
//! - `also-bought`: `boughtTogether([s[t−1]])` (a product page: the last item);
//! - `similar`: `similar(s[:t])`;
//! - `trending`: `trending()` (no input at all);
//! - `cooccurrence-last` (a reference, not the engine): items ranked by how many training
//!   sessions hold them with the last item — full counts, no minimum support — the "co-occurrence
//!   with the last item" baseline of `../shared/data/README.md` (needs `--train`).
//!
//! The scenarios leave the items they are asked about out of their results, and so does the
//! reference (prefix items are never targets on Instacart's baskets; on logs where they are, the
//! figures say so by being lower).

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::ValueEnum;
use rayon::prelude::*;
use vitrine::rank::Related;
use vitrine::{Model, RecommendRequest, Shopper, ShopperOptions};

use super::metrics::{Accumulator, Metrics};
use crate::events::EventLog;

/// A scenario of `vitrine eval --scenario`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Next item, `recommend()` (the default protocol).
    Next,
    BoughtTogether,
    AlsoBought,
    Similar,
    Trending,
    CooccurrenceLast,
}

/// Which predictions count: all, or only those whose target is (or is not) in a set of ids.
#[derive(Debug, Clone, Default)]
pub struct TargetFilter {
    pub ids: Option<std::collections::HashSet<String>>,
    /// True: only targets in `ids`; false: only targets not in it.
    pub inside: bool,
}

impl TargetFilter {
    /// Whether a prediction of target `id` counts.
    pub fn counts(&self, id: &str) -> bool {
        self.ids
            .as_ref()
            .is_none_or(|s| s.contains(id) == self.inside)
    }

    /// Reads one id per line.
    pub fn read(path: &std::path::Path, inside: bool) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Ok(Self {
            ids: Some(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            inside,
        })
    }
}

/// Runs a scenario over `test` with HR@k / MRR@k.
pub fn evaluate(
    model: &Model,
    test: &EventLog,
    k: usize,
    scenario: Scenario,
    train: Option<&EventLog>,
    filter: &TargetFilter,
) -> Result<Metrics> {
    let bundle = model.bundle();
    let list_len = k.max(10);
    let request = RecommendRequest::new(list_len)?;
    let shopper = Shopper::new(model, &ShopperOptions::default())?;
    let baseline = match scenario {
        Scenario::CooccurrenceLast => match train {
            Some(t) => Some(Cooccurrence::count(t)),
            None => bail!("--scenario cooccurrence-last needs --train (the training log)"),
        },
        _ => None,
    };
    let started = Instant::now();
    let acc = test
        .sessions
        .par_iter()
        .map(|session| {
            let mut acc = Accumulator::default();
            let ids: Vec<&str> = session
                .iter()
                .map(|e| test.items[e.item as usize].as_str())
                .collect();
            for t in 1..ids.len() {
                let target = ids[t];
                if !filter.counts(target) {
                    continue;
                }
                let Some(target_row) = bundle.index_of(target) else {
                    acc.add(None, k);
                    acc.unknown += 1;
                    continue;
                };
                let prefix = &ids[..t];
                let rows: Vec<u32> = match scenario {
                    Scenario::CooccurrenceLast => baseline
                        .as_ref()
                        .map(|b| b.rank(prefix, list_len))
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|id| bundle.index_of(&id))
                        .collect(),
                    _ => {
                        let (related, anchors): (Related, &[&str]) = match scenario {
                            Scenario::BoughtTogether => (Related::BoughtTogether, prefix),
                            Scenario::AlsoBought => (Related::BoughtTogether, &prefix[t - 1..]),
                            Scenario::Similar => (Related::Similar, prefix),
                            _ => (Related::Trending, &[]),
                        };
                        shopper
                            .related(model, related, anchors, &request)
                            .rows
                            .iter()
                            .map(|r| r.index)
                            .collect()
                    }
                };
                acc.add(rows.iter().position(|&r| r == target_row).map(|p| p + 1), k);
            }
            acc
        })
        .reduce(Accumulator::default, Accumulator::merge);
    Ok(acc.finish(k, 0.0, started.elapsed().as_secs_f64()))
}

/// Co-occurrence counts of the training log: per item, the items sharing a session with it and in
/// how many sessions.
struct Cooccurrence {
    pairs: HashMap<String, Vec<(String, u32)>>,
}

impl Cooccurrence {
    fn count(log: &EventLog) -> Self {
        let mut counts: HashMap<(u32, u32), u32> = HashMap::new();
        for s in &log.sessions {
            let mut items: Vec<u32> = s.iter().map(|e| e.item).collect();
            items.sort_unstable();
            items.dedup();
            for &a in &items {
                for &b in &items {
                    if a != b {
                        *counts.entry((a, b)).or_default() += 1;
                    }
                }
            }
        }
        let mut pairs: HashMap<String, Vec<(String, u32)>> = HashMap::new();
        for ((a, b), c) in counts {
            pairs
                .entry(log.items[a as usize].clone())
                .or_default()
                .push((log.items[b as usize].clone(), c));
        }
        for list in pairs.values_mut() {
            list.sort_unstable_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        }
        Self { pairs }
    }

    /// The `k` items that co-occur most with the prefix's last item, the prefix left out.
    fn rank(&self, prefix: &[&str], k: usize) -> Vec<String> {
        let Some(last) = prefix.last() else {
            return Vec::new();
        };
        self.pairs
            .get(*last)
            .map(|l| {
                l.iter()
                    .filter(|(id, _)| !prefix.contains(&id.as_str()))
                    .take(k)
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}
