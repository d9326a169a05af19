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
use crate::error::{PrivacyError, VitrineError};
use crate::kernels::sort_rows;
use crate::model::Model;
use crate::numfmt::Num;
use crate::privacy::{
    accountant, Calibrated, PrivacyConfig, PrivacyUnit, Propensity, RandomSource, Release,
    ReleaseSource, Released, WindowMechanism, DEFAULT_DEVICE_CANDIDATES, DEFAULT_DEVICE_TOP_M,
};
use crate::rank::{Explanation, ProfileSource, RankEnv, Related, RowResponse, ValidRankOptions};
use crate::score::{raw_profile_padded, DeviceSignal, SessionSignal};
use crate::session::Select;

/// The warning when the `ope` option cannot be served: exact probabilities exist only for the
/// shelf-cut release (`unit: 'device'`, the exponential mechanism).
const OPE_IGNORED: &str =
    "ope ignored: release probabilities are reported for the shelf cut of unit 'device' only";

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
    /// profile comes from, a warning when the request asked for something privacy forbids, and
    /// with the `ope` option the probabilities of a fresh shelf-cut release.
    fn prepare<R: RandomSource + ?Sized>(
        &mut self,
        model: &Model,
        options: &ValidRankOptions,
        clock_ms: f64,
        rng: &mut R,
    ) -> (Source, Vec<String>, Option<Propensity>) {
        let mut warnings = Vec::new();
        let device_unit = match &self.privacy {
            PrivacyConfig::Off => {
                if options.ope().is_some() {
                    warnings.push(OPE_IGNORED.to_owned());
                }
                return (Source::Raw, warnings, None);
            }
            PrivacyConfig::On(c) => {
                (c.unit == PrivacyUnit::Device).then_some((c.epsilon, c.event_cap))
            }
        };
        if let Some((epsilon, event_cap)) = device_unit {
            return self.prepare_device(model, options, (epsilon, event_cap), clock_ms, rng);
        }
        if options.ope().is_some() {
            warnings.push(OPE_IGNORED.to_owned());
        }
        let asked = options.session_exclusions_requested();
        if !asked.is_empty() {
            warnings.push(format!(
                "{} ignored: it reads the raw history, and privacy is on (pass the ids in `exclude` instead)",
                asked.join(", ")
            ));
        }
        if self.released_version == Some(self.history_version) && self.privacy_state.reuse() {
            return (Source::LastRelease, warnings, None);
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
                | Released::Anchor(_, ReleaseSource::Fresh)
                | Released::LeftOut(ReleaseSource::Fresh),
            ) => {
                self.released_version = Some(self.history_version);
                (Source::LastRelease, warnings, None)
            }
            Ok(Released::Profile(..) | Released::Anchor(..) | Released::LeftOut(..)) => {
                (Source::LastRelease, warnings, None)
            }
            Ok(Released::Public) => (Source::Public, warnings, None),
            Ok(Released::NotPrivate) => (Source::Raw, warnings, None),
            Err(e) => {
                // Never fall back to the raw history: rank without it, and say why.
                warnings.push(format!(
                    "privacy: no release ({e}); showing the public order"
                ));
                (Source::Public, warnings, None)
            }
        }
    }

    /// [`Shopper::prepare`] under `unit: 'device'`: a fresh release of the device-only record D
    /// when D changed since the last one (or, with `refresh: 'page'`, the page's events did) and
    /// the budget allows, else the last one, else none; the page's events are ranked exactly in
    /// any case.
    fn prepare_device<R: RandomSource + ?Sized>(
        &mut self,
        model: &Model,
        options: &ValidRankOptions,
        (epsilon, event_cap): (f64, f64),
        clock_ms: f64,
        rng: &mut R,
    ) -> (Source, Vec<String>, Option<Propensity>) {
        let mut warnings = Vec::new();
        let has_last = self.privacy_state.last_release().is_some();
        let cap_units = accountant::units_down_of(event_cap);
        let device = Select::Device { cap_units };
        let (window, slots, refresh_on_page) = match &self.privacy {
            PrivacyConfig::On(c) => (
                c.candidates.unwrap_or(DEFAULT_DEVICE_CANDIDATES),
                c.top_m.unwrap_or(DEFAULT_DEVICE_TOP_M),
                c.refresh_on_page,
            ),
            PrivacyConfig::Off => (DEFAULT_DEVICE_CANDIDATES, DEFAULT_DEVICE_TOP_M, false),
        };
        // A release is made whether or not the device record is empty: skipping it for an empty
        // record would tell the page that the record is empty.
        let current = self.released_device_version == Some(self.device_version)
            && (!refresh_on_page || self.released_version == Some(self.history_version));
        if current {
            // Nothing new to release: the last release (post-processing), or none.
            let reused = self.privacy_state.reuse();
            return (
                Source::Page {
                    with_release: reused,
                },
                warnings,
                None,
            );
        }
        let profile_now = options
            .request_time_ms()
            .or_else(|| self.session.latest_ts_ms())
            .unwrap_or(0.0);
        // The shelf-cut mechanism's window: ranks a+1 … a+W of the page's own shelf (a function
        // of what the page provided only).
        let k = options.k.unwrap_or(crate::rank::DEFAULT_K);
        let slots = slots.min(k);
        let cut = k - slots;
        let page_rows: Vec<u32> = match self.mechanism.as_deref() {
            Some(Calibrated::Anchor(_)) => {
                let mut wide = options.clone();
                wide.k = Some(cut + window);
                let top = self
                    .env(
                        model,
                        Source::Page {
                            with_release: false,
                        },
                    )
                    .recommend_rows(&wide);
                top.rows.iter().skip(cut).map(|r| r.index).collect()
            }
            _ => Vec::new(),
        };
        // Off-policy evaluation: exact probabilities exist for the shelf cut only, and the
        // exploration slice may not spend more than the release's own ε.
        let ope = match (options.ope(), self.mechanism.as_deref()) {
            (Some(o), Some(Calibrated::Anchor(_))) if o.epsilon <= epsilon => Some(o),
            (Some(o), Some(Calibrated::Anchor(_))) => {
                warnings.push(format!(
                    "ope ignored: its exploration ε ({}) is above the release's ε ({})",
                    Num(o.epsilon),
                    Num(epsilon)
                ));
                None
            }
            (Some(_), _) => {
                warnings.push(OPE_IGNORED.to_owned());
                None
            }
            (None, _) => None,
        };
        let mut propensity = None;
        let (session, signals, max_events) =
            (&self.session, &self.config.signals, self.config.max_events);
        let bundle = model.bundle();
        let propensity_out = &mut propensity;
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
                    let counts = session.item_counts_of(profile_now, device);
                    // The exploration slice draws at its own ε (a coin independent of D).
                    let at = match ope {
                        Some(o) if o.explores(rng)? => o.epsilon,
                        _ => a.epsilon(),
                    };
                    let (rows, key_shown) = cut_release(&page_rows, slots, &counts, at, rng)?;
                    *propensity_out = match (ope, key_shown) {
                        (Some(o), Some(shown)) => {
                            Some(o.propensity(page_rows.len(), slots, a.epsilon(), shown)?)
                        }
                        // A window too short to choose from: one outcome under every setting.
                        (Some(_), None) => Some(Propensity {
                            logging: 1.0,
                            candidate: 1.0,
                            key_shown: false,
                            candidate_key_shown: 0.0,
                        }),
                        (None, _) => None,
                    };
                    Ok(Release::LeftOut(rows))
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
                | Released::Anchor(_, ReleaseSource::Fresh)
                | Released::LeftOut(ReleaseSource::Fresh),
            ) => {
                self.released_version = Some(self.history_version);
                self.released_device_version = Some(self.device_version);
                // Every stored event this release read carries its ε towards its lifetime cap.
                self.session
                    .charge(device, accountant::units_up_of(epsilon));
                (Source::Page { with_release: true }, warnings, propensity)
            }
            Ok(Released::Profile(..) | Released::Anchor(..) | Released::LeftOut(..)) => {
                (Source::Page { with_release: true }, warnings, None)
            }
            Ok(Released::Public | Released::NotPrivate) => (
                Source::Page {
                    with_release: false,
                },
                warnings,
                None,
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
                    None,
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
            (Source::LastRelease, None | Some(Release::LeftOut(_))) | (Source::Public, _) => {
                ProfileSource::Public
            }
            (Source::Page { with_release }, last) => ProfileSource::Page {
                device: match last.filter(|_| with_release) {
                    Some(Release::Profile(p)) => DeviceSignal::Profile(p),
                    Some(Release::Anchor(j)) => DeviceSignal::Anchor(*j),
                    Some(Release::LeftOut(rows)) => DeviceSignal::LeftOut {
                        rows,
                        slots: match &self.privacy {
                            PrivacyConfig::On(c) => c.top_m.unwrap_or(DEFAULT_DEVICE_TOP_M),
                            PrivacyConfig::Off => DEFAULT_DEVICE_TOP_M,
                        },
                    },
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
        let (source, warnings, propensity) = self.prepare(model, options, clock_ms, rng);
        let mut r = self.env(model, source).recommend_rows(options);
        r.warnings.extend(warnings);
        r.propensity = propensity;
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
        let (source, warnings, propensity) = self.prepare(model, options, clock_ms, rng);
        let mut r = self.env(model, source).rerank_rows(candidates, options)?;
        r.warnings.extend(warnings);
        r.propensity = propensity;
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
        let (source, _, _) = self.prepare(model, options, clock_ms, rng);
        let (score, why) = self.env(model, source).explain(item_id, options)?;
        Ok(ItemExplanation {
            id: item_id.to_owned(),
            score,
            why,
        })
    }
}

/// One release of the shelf-cut mechanism ([`WindowMechanism`]): of the page ranking's `window`
/// rows (its ranks just below the shelf's first k − `slots`), the ones the shelf leaves out. The
/// key is the window row the device record has the most live events of (`counts`, by row), ties
/// by the page's rank, or the window's first row when it has none: for fixed page events a
/// function of the device record alone. A window too short to choose from releases nothing (the
/// same for every device record). Also returns whether the shelf shows the key (`None`: nothing
/// was chosen).
fn cut_release<R: RandomSource + ?Sized>(
    window: &[u32],
    slots: usize,
    counts: &[(u32, u32)],
    epsilon: f64,
    rng: &mut R,
) -> Result<(Vec<u32>, Option<bool>), PrivacyError> {
    if slots == 0 || window.len() <= slots {
        return Ok((Vec::new(), None));
    }
    let count = |r: u32| {
        counts
            .binary_search_by_key(&r, |c| c.0)
            .map_or(0, |i| counts[i].1)
    };
    let mut key = 0;
    for (i, &r) in window.iter().enumerate() {
        if count(r) > count(window[key]) {
            key = i;
        }
    }
    let mechanism = WindowMechanism::calibrate(window.len(), slots, epsilon)?;
    let left_out = mechanism.left_out(key, rng)?;
    let key_shown = !left_out.contains(&key);
    let mut rows: Vec<u32> = left_out
        .into_iter()
        .filter_map(|i| window.get(i).copied())
        .collect();
    sort_rows(&mut rows);
    Ok((rows, Some(key_shown)))
}
