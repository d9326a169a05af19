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
use crate::error::VitrineError;
use crate::model::Model;
use crate::privacy::{PrivacyConfig, RandomSource, Release, ReleaseSource, Released};
use crate::rank::{Explanation, ProfileSource, RankEnv, Related, RowResponse, ValidRankOptions};
use crate::score::SessionSignal;

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
    Raw,
    LastRelease,
    Public,
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
        if self.privacy == PrivacyConfig::Off {
            return (Source::Raw, warnings);
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

    /// What a request ranks against.
    fn env<'a>(&'a self, model: &'a Model, source: Source) -> RankEnv<'a> {
        let profile = match (source, self.privacy_state.last_release()) {
            (Source::Raw, _) => ProfileSource::Raw,
            (Source::LastRelease, Some(Release::Profile(p))) => ProfileSource::Released(p),
            (Source::LastRelease, Some(Release::Anchor(j))) => ProfileSource::Anchor(*j),
            (Source::LastRelease, None) | (Source::Public, _) => ProfileSource::Public,
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
