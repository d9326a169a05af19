//! The next-item protocol: for every test session s and every t in 1..|s|, the prefix s[..t] goes
//! through the same request path the browser runs — a [`Shopper`] on the shared [`Model`], one per
//! test session, replayed in parallel — and the true next item s[t] is looked up in the result.
//!
//! With privacy on, the same predictions are also ranked from what is public alone (the test
//! session's events under `unit: 'device'`, nothing under `unit: 'history'`) and from everything
//! unprotected, for the baselines and the per-item bound ([`PrivacyBounds`]).

use std::time::Instant;

use anyhow::Context;
use rayon::prelude::*;
use vitrine::privacy::{EpsilonInput, PrivacyConfig, PrivacyOptions, PrivacyUnit, ReleaseSource};
use vitrine::{Event, Model, RankOptions, RecommendRequest, RowResponse, Shopper, ShopperOptions};

use super::device_history::DeviceHistory;
use super::metrics::{
    best_fixed_list, Accumulator, BoundsAccumulator, Metrics, PrivacyBounds, Ranks,
};
use super::privacy_args::PrivacyArgs;
use crate::events::EventLog;
use crate::progress::Progress;

/// Each test session's device-only record: the history and each session's user.
pub struct Devices<'a> {
    pub history: &'a DeviceHistory,
    /// The user of each test session (`None`: no history).
    pub users: &'a [Option<String>],
}

/// Runs the protocol over `test` with `k` (≥ 10 so NDCG@10 is defined on the same lists), through
/// the raw history or, with `privacy.epsilon`, through private releases; counts each test session
/// done on `progress`.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    model: &Model,
    test: &EventLog,
    k: usize,
    privacy: &PrivacyArgs,
    exclude_seen: bool,
    contexts: Option<&[vitrine::context::ContextInput]>,
    devices: Option<Devices<'_>>,
    progress: &Progress,
    filter: &super::scenarios::TargetFilter,
) -> anyhow::Result<Metrics> {
    let bundle = model.bundle();
    let list_len = k.max(10);
    let longest = test.sessions.iter().map(Vec::len).max().unwrap_or(0);
    let settings = ShopperOptions {
        privacy: Some(privacy.options(longest)?),
        ..Default::default()
    };
    // One shopper validates the settings (and calibrates the mechanism on the model, once); every
    // test session's shopper is a clone of it, sharing the calibrated mechanism.
    let first = Shopper::new(model, &settings).context("the privacy settings")?;
    let report = privacy.report(&first);
    let unit = match first.privacy() {
        PrivacyConfig::On(c) => Some(c.unit),
        PrivacyConfig::Off => None,
    };
    // The baselines and the bound, with privacy on: k·e^ε slots of the public-only ranking.
    let ceiling_k = match first.privacy() {
        PrivacyConfig::On(c) => ((k as f64) * c.epsilon.exp())
            .floor()
            .min(bundle.n_items().min(vitrine::rank::MAX_K) as f64)
            as usize,
        PrivacyConfig::Off => 0,
    };
    let raw_first = Shopper::new(
        model,
        &ShopperOptions {
            privacy: Some(PrivacyOptions {
                epsilon: Some(EpsilonInput(f64::INFINITY)),
                ..Default::default()
            }),
            ..Default::default()
        },
    )?;
    let request_for = |len: usize, ctx: Option<&vitrine::context::ContextInput>| {
        RankOptions {
            k: Some(len as f64),
            context: ctx.cloned(),
            exclude_seen: Some(exclude_seen),
            exclude_in_cart: Some(exclude_seen),
            exclude_purchased: Some(exclude_seen),
            ..Default::default()
        }
        .validate(bundle)
    };
    // Map the test log's interned items to bundle rows once.
    let rows: Vec<Option<u32>> = test.items.iter().map(|id| bundle.index_of(id)).collect();
    let started = Instant::now();
    let (acc, bounds, seen) = test
        .sessions
        .par_iter()
        .enumerate()
        .map(
            |(s_index, session)| -> anyhow::Result<(Accumulator, BoundsAccumulator, Vec<bool>)> {
                let ctx = contexts.and_then(|c| c.get(s_index));
                let with_ctx = |r: anyhow::Result<_>| {
                    r.with_context(|| format!("the context of test session {}", s_index + 1))
                };
                let request = match ctx {
                    None => RecommendRequest::new(list_len)?
                        .exclude_seen(exclude_seen)
                        .exclude_in_cart(exclude_seen)
                        .exclude_purchased(exclude_seen),
                    Some(c) => with_ctx(request_for(list_len, Some(c)).map_err(Into::into))?,
                };
                let wide = with_ctx(request_for(ceiling_k.max(1), ctx).map_err(Into::into))?;
                let mut acc = Accumulator::default();
                let mut bounds = BoundsAccumulator::default();
                let mut seen = vec![false; bundle.n_items()];
                let mut shopper = first.clone();
                let mut raw = raw_first.clone();
                // The public-only ranking: the page's events alone (device unit), or nothing.
                let mut public = first.clone();
                let mut rng = vitrine::privacy::OsRandom::new();
                if let (Some(d), Some(first_event)) = (&devices, session.first()) {
                    if let Some(Some(user)) = d.users.get(s_index) {
                        let history = d.history.events_before(model, user, first_event.ts);
                        shopper.restore_rows(&history);
                        raw.restore_rows(&history);
                    }
                }
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
                                let rank = rank_of(&top, target);
                                acc.add(rank, k);
                                if unit.is_some() {
                                    let public_top =
                                        public.recommend(model, &wide, clock, &mut rng);
                                    let raw_top = raw.recommend(model, &request, clock, &mut rng);
                                    let ranks = Ranks {
                                        public_only: rank_of(&public_top, target),
                                        non_private: rank_of(&raw_top, target),
                                    };
                                    bounds.add(ranks, k, ceiling_k);
                                }
                            }
                            None => {
                                acc.add(None, k);
                                acc.unknown += 1;
                                if unit.is_some() {
                                    bounds.add(Ranks::default(), k, ceiling_k);
                                }
                            }
                        }
                    }
                    // An item the bundle does not know is skipped, as a storefront's track() that
                    // rejected it would leave the session unchanged.
                    if let Some(item) = rows[event.item as usize] {
                        let e = Event {
                            kind: event.kind,
                            item,
                            ts_ms: event.ts * 1000.0,
                        };
                        shopper.track_row(e);
                        raw.track_row(e);
                        if unit == Some(PrivacyUnit::Device) {
                            public.track_row(e);
                        }
                    }
                }
                progress.inc(1);
                Ok((acc, bounds, seen))
            },
        )
        .try_reduce(
            || {
                (
                    Accumulator::default(),
                    BoundsAccumulator::default(),
                    vec![false; bundle.n_items()],
                )
            },
            |(a, ba, mut sa), (b, bb, sb)| {
                sa.iter_mut().zip(&sb).for_each(|(x, y)| *x |= *y);
                Ok((a.merge(b), ba.merge(bb), sa))
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
        let b: PrivacyBounds = bounds.finish(ceiling_k);
        m.bounds = Some(b);
    }
    Ok(m)
}

/// The 1-based rank of `target` in a response, if listed.
fn rank_of(top: &RowResponse, target: u32) -> Option<usize> {
    top.rows
        .iter()
        .position(|s| s.index == target)
        .map(|p| p + 1)
}
