//! The one request path: `(&Model, &mut Shopper, options, clock, randomness)` → response.
//!
//! Privacy (see `docs/PRIVACY.md`): unless the settings say `epsilon: Infinity`, every ranking that
//! depends on the session (`recommend`, `rerank`, `explain`) reads only a differentially private
//! release of it. A fresh release is made when the history changed since the last one (a
//! successful `track`, an import, a `forget`, new settings) and the period's budget allows it;
//! otherwise the last release is reused (post-processing, no charge), or — before the first
//! release, with no budget — the popularity order. `similar` reads no history at all in private
//! mode.
//!
//! Time: the request's `now` option (or the session's newest event) is when the profile's weights
//! are computed; `clock_ms`, which the caller reads from its own clock, is what the accountant's
//! periods run on. A page-supplied `now` therefore changes decay but never opens a budget period.

use serde::Serialize;

use super::lifecycle::Shopper;
use crate::bundle::Bundle;
use crate::error::{PrivacyError, VitrineError};
use crate::kernels::{sort_rows, top_k, Scored, TopK};
use crate::model::Model;
use crate::privacy::{
    accountant, AnchorMechanism, Calibrated, PrivacyConfig, PrivacyUnit, RandomSource, Release,
    ReleaseSource, Released, DEFAULT_DEVICE_CANDIDATES, DEFAULT_DEVICE_TOP_M,
};
use crate::rank::{Explanation, ProfileSource, RankEnv, Related, RowResponse, ValidRankOptions};
use crate::score::{raw_profile_padded, DeviceSignal, Scorer, SessionSignal};
use crate::session::{Select, SessionLog, SignalPolicy};

/// The explanation of one item's score (what `explain(id)` returns).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemExplanation {
    /// The item id.
    pub id: String,
    /// Its score under the request's options.
    pub score: f32,
    /// Why.
    #[serde(flatten)]
    pub why: Explanation,
}

/// What a request's profile comes from, decided before the ranking borrows the shopper.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// The raw history (privacy off).
    Raw,
    /// The last release of the whole history (`unit: 'history'`).
    LastRelease,
    /// Nothing about the history (`unit: 'history'`, no release yet and no budget).
    Public,
    /// The page's events exactly, plus the last release of the device-only record if any
    /// (`unit: 'device'`).
    Page { with_release: bool },
}

impl Shopper {
    /// Makes (or reuses) the release a session-dependent request ranks with; returns where its
    /// profile comes from and a warning when the request asked for something privacy forbids.
    fn prepare<R: RandomSource + ?Sized>(
        &mut self,
        model: &Model,
        options: &ValidRankOptions,
        clock_ms: f64,
        rng: &mut R,
    ) -> (Source, Vec<String>) {
        let mut warnings = Vec::new();
        let device_unit = match &self.privacy {
            PrivacyConfig::Off => return (Source::Raw, warnings),
            PrivacyConfig::On(c) => {
                (c.unit == PrivacyUnit::Device).then_some((c.epsilon, c.event_cap))
            }
        };
        if let Some((epsilon, event_cap)) = device_unit {
            return self.prepare_device(model, options, (epsilon, event_cap), clock_ms, rng);
        }
        let asked = options.session_exclusions_requested();
        if !asked.is_empty() {
            warnings.push(format!(
                "{} ignored: it reads the raw history, and privacy is on (pass the ids in `exclude` instead)",
                asked.join(", ")
            ));
        }
        if self.released_version == Some(self.history_version) && self.privacy_state.reuse() {
            return (Source::LastRelease, warnings);
        }
        // The profile is weighted as of the request's time (it may come from the history: it is
        // only read inside the mechanism); the accountant runs on the caller's clock.
        let profile_now = options
            .request_time_ms()
            .or_else(|| self.session.latest_ts_ms())
            .unwrap_or(0.0);
        let (session, signals) = (&self.session, &self.config.signals);
        let result = self.privacy_state.release(
            &self.privacy,
            self.mechanism.as_deref(),
            clock_ms,
            model.bundle(),
            || {
                SessionSignal::of(
                    model.bundle(),
                    &session.effective_weights(signals, profile_now),
                )
            },
            rng,
        );
        match result {
            Ok(
                Released::Profile(_, ReleaseSource::Fresh)
                | Released::Anchor(_, ReleaseSource::Fresh),
            ) => {
                self.released_version = Some(self.history_version);
                (Source::LastRelease, warnings)
            }
            Ok(Released::Profile(..) | Released::Anchor(..)) => (Source::LastRelease, warnings),
            Ok(Released::Public) => (Source::Public, warnings),
            Ok(Released::NotPrivate) => (Source::Raw, warnings),
            Err(e) => {
                // Never fall back to the raw history: rank without it, and say why.
                warnings.push(format!(
                    "privacy: no release ({e}); showing the public order"
                ));
                (Source::Public, warnings)
            }
        }
    }

    /// [`Shopper::prepare`] under `unit: 'device'`: a fresh release of the device-only record D
    /// when D changed since the last one and the budget allows, else the last one, else none; the
    /// page's events are ranked exactly in any case.
    fn prepare_device<R: RandomSource + ?Sized>(
        &mut self,
        model: &Model,
        options: &ValidRankOptions,
        (epsilon, event_cap): (f64, f64),
        clock_ms: f64,
        rng: &mut R,
    ) -> (Source, Vec<String>) {
        let mut warnings = Vec::new();
        let has_last = self.privacy_state.last_release().is_some();
        let cap_units = accountant::units_down_of(event_cap);
        let device = Select::Device { cap_units };
        // A release is made whether or not the device record is empty: skipping it for an empty
        // record would tell the page that the record is empty.
        if self.released_device_version == Some(self.device_version) {
            // Nothing new to release: the last release (post-processing), or none.
            let reused = self.privacy_state.reuse();
            return (
                Source::Page {
                    with_release: reused,
                },
                warnings,
            );
        }
        let profile_now = options
            .request_time_ms()
            .or_else(|| self.session.latest_ts_ms())
            .unwrap_or(0.0);
        let (session, signals, max_events) =
            (&self.session, &self.config.signals, self.config.max_events);
        let (pool_size, top_m) = match &self.privacy {
            PrivacyConfig::On(c) => (
                c.candidates.unwrap_or(DEFAULT_DEVICE_CANDIDATES),
                c.top_m.unwrap_or(DEFAULT_DEVICE_TOP_M),
            ),
            PrivacyConfig::Off => (DEFAULT_DEVICE_CANDIDATES, DEFAULT_DEVICE_TOP_M),
        };
        let bundle = model.bundle();
        let draw = |mechanism: &Calibrated, rng: &mut R| -> Result<Release, PrivacyError> {
            match mechanism {
                // The device-only profile, noised (the page's profile is added afterwards,
                // exactly: post-processing).
                Calibrated::Gaussian(g) => {
                    let weighted = session.effective_weights_of(signals, profile_now, device);
                    g.release(&raw_profile_padded(bundle, &weighted, max_events), rng)
                        .map(Release::Profile)
                }
                Calibrated::Anchor(a) => {
                    let (pool, page_scores) =
                        page_pool(bundle, session, signals, profile_now, pool_size);
                    let device_items = session.seen_items_of(profile_now, device);
                    anchor_in_pool(
                        bundle,
                        pool,
                        &page_scores,
                        &device_items,
                        a.epsilon(),
                        top_m,
                        rng,
                    )
                    .map(Release::Anchor)
                }
            }
        };
        let result = self.privacy_state.release_with(
            &self.privacy,
            self.mechanism.as_deref(),
            clock_ms,
            draw,
            rng,
        );
        match result {
            Ok(
                Released::Profile(_, ReleaseSource::Fresh)
                | Released::Anchor(_, ReleaseSource::Fresh),
            ) => {
                self.released_version = Some(self.history_version);
                self.released_device_version = Some(self.device_version);
                // Every stored event this release read carries its ε towards its lifetime cap.
                self.session
                    .charge(device, accountant::units_up_of(epsilon));
                (Source::Page { with_release: true }, warnings)
            }
            Ok(Released::Profile(..) | Released::Anchor(..)) => {
                (Source::Page { with_release: true }, warnings)
            }
            Ok(Released::Public | Released::NotPrivate) => (
                Source::Page {
                    with_release: false,
                },
                warnings,
            ),
            Err(e) => {
                // Never fall back to the raw device record: rank the page's events alone.
                warnings.push(format!(
                    "privacy: no release ({e}); ranking the page's own events only"
                ));
                (
                    Source::Page {
                        with_release: has_last,
                    },
                    warnings,
                )
            }
        }
    }

    /// What a request ranks against.
    fn env<'a>(&'a self, model: &'a Model, source: Source) -> RankEnv<'a> {
        let profile = match (source, self.privacy_state.last_release()) {
            (Source::Raw, _) => ProfileSource::Raw,
            (Source::LastRelease, Some(Release::Profile(p))) => ProfileSource::Released(p),
            (Source::LastRelease, Some(Release::Anchor(j))) => ProfileSource::Anchor(*j),
            (Source::LastRelease, None) | (Source::Public, _) => ProfileSource::Public,
            (Source::Page { with_release }, last) => ProfileSource::Page {
                device: match last.filter(|_| with_release) {
                    Some(Release::Profile(p)) => DeviceSignal::Profile(p),
                    Some(Release::Anchor(j)) => DeviceSignal::Anchor(*j),
                    None => DeviceSignal::None,
                },
                blend: match &self.privacy {
                    PrivacyConfig::On(c) => c.blend,
                    PrivacyConfig::Off => 0.0,
                },
            },
        };
        RankEnv {
            bundle: model.bundle(),
            session: &self.session,
            signals: &self.config.signals,
            norms: model.norms(),
            profile,
        }
    }

    /// The top k of the catalog for this shopper and context, as rows (ids attached by
    /// [`RowResponse::into_response`]). Private mode: ranks a release (may spend budget).
    pub fn recommend<R: RandomSource + ?Sized>(
        &mut self,
        model: &Model,
        options: &ValidRankOptions,
        clock_ms: f64,
        rng: &mut R,
    ) -> RowResponse {
        let (source, warnings) = self.prepare(model, options, clock_ms, rng);
        let mut r = self.env(model, source).recommend_rows(options);
        r.warnings.extend(warnings);
        r
    }

    /// The page's candidates, reordered for this shopper and context, each row with its position
    /// in `candidates` (may spend budget).
    pub fn rerank<S: AsRef<str>, R: RandomSource + ?Sized>(
        &mut self,
        model: &Model,
        candidates: &[S],
        options: &ValidRankOptions,
        clock_ms: f64,
        rng: &mut R,
    ) -> Result<RowResponse, VitrineError> {
        let (source, warnings) = self.prepare(model, options, clock_ms, rng);
        let mut r = self.env(model, source).rerank_rows(candidates, options)?;
        r.warnings.extend(warnings);
        Ok(r)
    }

    /// Items like `item_id` (item-to-item). In private mode it reads nothing from the history (the
    /// session-based exclusions are off) and spends nothing.
    pub fn similar(&self, model: &Model, item_id: &str, options: &ValidRankOptions) -> RowResponse {
        self.related(model, Related::Similar, &[item_id], options)
    }

    /// A scenario around the page's `ids` (`similar` of a list, bought-together, trending): a
    /// function of those ids and the bundle's public aggregates. In private mode it reads nothing
    /// from the history (the session-based exclusions are off) and spends nothing.
    pub fn related<S: AsRef<str>>(
        &self,
        model: &Model,
        related: Related,
        ids: &[S],
        options: &ValidRankOptions,
    ) -> RowResponse {
        let source = if self.privacy == PrivacyConfig::Off {
            Source::Raw
        } else {
            Source::Public
        };
        self.env(model, source).related_rows(related, ids, options)
    }

    /// Why `item_id` gets its score in a `recommend` with these options. In private mode the
    /// explanation reads only the release (its `events` list is empty: naming history items
    /// would reveal them).
    pub fn explain<R: RandomSource + ?Sized>(
        &mut self,
        model: &Model,
        item_id: &str,
        options: &ValidRankOptions,
        clock_ms: f64,
        rng: &mut R,
    ) -> Result<ItemExplanation, VitrineError> {
        let (source, _) = self.prepare(model, options, clock_ms, rng);
        let (score, why) = self.env(model, source).explain(item_id, options)?;
        Ok(ItemExplanation {
            id: item_id.to_owned(),
            score,
            why,
        })
    }
}

/// The exponential mechanism's candidates under `unit: 'device'`: the `n` best items of the ranking
/// from the page's own events (public given what the page provided), sorted by row, with their
/// scores in that ranking.
fn page_pool(
    bundle: &Bundle,
    session: &SessionLog,
    signals: &SignalPolicy,
    now_ms: f64,
    n: usize,
) -> (Vec<u32>, Vec<f32>) {
    let weighted = session.effective_weights_of(signals, now_ms, Select::Page);
    let scorer = Scorer::blended(
        bundle,
        &SessionSignal::of(bundle, &weighted),
        DeviceSignal::None,
        0.0,
    );
    let mut scores = vec![0.0f32; bundle.n_items()];
    scorer.score_all(&mut scores);
    let mut pool: Vec<u32> = top_k(&scores, n.max(2))
        .into_iter()
        .map(|s| s.index)
        .collect();
    sort_rows(&mut pool);
    (pool, scores)
}

/// One anchor from `pool` by the two-level exponential mechanism whose top set is the `m` pool
/// items with an event in the device record (`device_items`, sorted), best first by the page's
/// ranking, filled up to `m` by the page's ranking when fewer: for fixed page events the top set is
/// a function of the device record alone, of a fixed size, and the guarantee is
/// `privacy::anchor`'s with the pool in place of the catalog.
fn anchor_in_pool<R: RandomSource + ?Sized>(
    bundle: &Bundle,
    pool: Vec<u32>,
    page_scores: &[f32],
    device_items: &[u32],
    epsilon: f64,
    m: usize,
    rng: &mut R,
) -> Result<u32, PrivacyError> {
    let mut top = TopK::new(m);
    for &r in &pool {
        let s = page_scores
            .get(r as usize)
            .copied()
            .unwrap_or(f32::NEG_INFINITY);
        let s = if s.is_nan() { f32::NEG_INFINITY } else { s };
        // The device's items first (a shift above every score), then the page's order.
        let in_device = device_items.binary_search(&r).is_ok();
        top.push(Scored {
            index: r,
            score: if in_device { s.atan() + 10.0 } else { s.atan() },
        });
    }
    let mut set: Vec<u32> = top.into_sorted().into_iter().map(|s| s.index).collect();
    sort_rows(&mut set);
    let m = set.len().min(pool.len().saturating_sub(1)).max(1);
    set.truncate(m);
    let mechanism = AnchorMechanism::for_pool(bundle.n_items(), pool, epsilon, Some(m))?;
    mechanism.sample(&set, rng)
}
