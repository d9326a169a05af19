//! The privacy state a shopper carries: the accountant and the last release ([`PrivacyState`]),
//! its stored form ([`PrivacySnapshot`]), one release step ([`PrivacyState::release`]) and what
//! `privacyStatus()` reports.

use serde::{Deserialize, Serialize};

use super::accountant::{Accountant, AccountantState, BudgetStatus};
use super::mechanism::{Calibrated, Release};
use super::options::{Mechanism, PrivacyConfig};
use super::rng::RandomSource;
use crate::bundle::Bundle;
use crate::error::PrivacyError;
use crate::score::SessionSignal;

/// Where the profile behind a response came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ReleaseSource {
    /// A new noisy release, charged to the budget.
    Fresh,
    /// The budget is spent: the last release again (post-processing, no charge).
    Cached,
    /// The budget is spent and nothing was released yet: the popularity order (no history read).
    Public,
    /// Privacy is off: the raw history.
    NotPrivate,
}

impl ReleaseSource {
    /// The wire name (`fresh`, `cached`, `public`, `notPrivate`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Cached => "cached",
            Self::Public => "public",
            Self::NotPrivate => "notPrivate",
        }
    }
}

impl crate::wire::WireValue for ReleaseSource {}

crate::wire! {
    /// What `privacyStatus()` reports.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct PrivacyStatus {
        /// False only with `epsilon: Infinity`.
        private: bool = "private",
        /// `exponential`, `gaussian`, or `none` when not private.
        mechanism: &'static str = "mechanism",
        /// What one release protects (`history`: the whole local history).
        unit: &'static str = "unit",
        /// ε of one release (null when not private).
        epsilon: Option<f64> = "epsilon",
        /// δ of one release (0 for the exponential mechanism; null when not private).
        delta: Option<f64> = "delta",
        /// The budget, spent and remaining in the current period (null when not private).
        budget: Option<BudgetStatus> = "budget",
        /// Fresh releases the remaining budget allows (counted up to 10,000).
        releases_left: Option<u64> = "releasesLeft",
        /// Where the last response's profile came from (null before the first).
        last_source: Option<ReleaseSource> = "lastSource",
    }
}

/// The accountant plus the last release, persisted with the session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrivacyState {
    accountant: AccountantState,
    /// The last release, for post-processing once the budget is spent.
    last_release: Option<Release>,
    last_source: Option<ReleaseSource>,
}

crate::wire! {
    omit_empty;
    /// The stored form of [`PrivacyState`] (inside the exported session state). The anchor is
    /// stored by item id, so a stored state survives a new bundle.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct PrivacySnapshot {
        /// What was spent in the current period.
        accountant: AccountantState = "accountant",
        /// The last Gaussian release (grid units).
        last_profile: Option<Vec<f32>> = "lastProfile",
        /// The last exponential-mechanism release (an item id).
        last_anchor: Option<String> = "lastAnchor",
        /// The last shelf-cut release (`unit: 'device'`): the item ids it leaves out.
        #[serde(default)]
        last_left_out: Option<Vec<String>> = "lastLeftOut",
        /// The last release was made for the stored history exactly as stored (nothing tracked
        /// since): a restored session reuses it instead of spending a new release. Trusting a
        /// false `true` only reuses an old release (post-processing); a false `false` only spends
        /// budget.
        #[serde(default)]
        current: bool = "current",
    }
}

/// The outcome of [`PrivacyState::release`]: what to score with, and its source.
#[derive(Debug, Clone, PartialEq)]
pub enum Released<'a> {
    /// A released noisy profile (grid units): fresh or cached.
    Profile(&'a [f32], ReleaseSource),
    /// A released anchor item row: fresh or cached.
    Anchor(u32, ReleaseSource),
    /// A released shelf cut (`Release::LeftOut`): fresh or cached.
    LeftOut(ReleaseSource),
    /// Nothing may be read from the history: score by the public prior.
    Public,
    /// Privacy is off: score with the raw history.
    NotPrivate,
}

impl PrivacyState {
    /// Restores a stored state against `bundle`. A last release that does not fit the bundle (a
    /// profile of another dimension, an anchor id it does not know) is dropped: it cannot be
    /// scored here. The accountant is always kept.
    pub fn from_snapshot(snapshot: PrivacySnapshot, bundle: &Bundle) -> Result<Self, PrivacyError> {
        snapshot.accountant.check()?;
        let profile = snapshot
            .last_profile
            .filter(|v| v.len() == bundle.dim() && v.iter().all(|x| x.is_finite()))
            .map(Release::Profile);
        let anchor = snapshot
            .last_anchor
            .and_then(|id| bundle.index_of(&id))
            .map(Release::Anchor);
        // Ids the bundle no longer knows are left out of a stored cut (it stays post-processing).
        let left_out = snapshot.last_left_out.map(|ids| {
            let mut rows: Vec<u32> = ids.iter().filter_map(|id| bundle.index_of(id)).collect();
            crate::kernels::sort_rows(&mut rows);
            rows.dedup();
            Release::LeftOut(rows)
        });
        Ok(Self {
            accountant: snapshot.accountant,
            last_release: left_out.or(anchor).or(profile),
            last_source: None,
        })
    }

    /// Joins the accountant of a stored state (another tab's, see [`AccountantState::join`]);
    /// the last release stays this one's.
    pub fn join_accountant(&mut self, other: &AccountantState) -> Result<(), PrivacyError> {
        other.check()?;
        self.accountant.join(other);
        Ok(())
    }

    /// The stored form.
    pub fn snapshot(&self, bundle: &Bundle) -> PrivacySnapshot {
        let (mut last_profile, mut last_anchor, mut last_left_out) = (None, None, None);
        match &self.last_release {
            Some(Release::Profile(p)) => last_profile = Some(p.clone()),
            Some(Release::Anchor(j)) => {
                last_anchor = bundle.ids().get(*j as usize).map(str::to_owned)
            }
            Some(Release::LeftOut(rows)) => {
                last_left_out = Some(
                    rows.iter()
                        .filter_map(|&r| bundle.ids().get(r as usize).map(str::to_owned))
                        .collect(),
                )
            }
            None => {}
        }
        PrivacySnapshot {
            accountant: self.accountant.clone(),
            last_profile,
            last_anchor,
            last_left_out,
            current: false,
        }
    }

    /// Forgets everything (with the history it protected).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Makes one release for a request at `clock_ms`: a fresh one if the period's budget allows
    /// it (`signal` computes what the model reads from the history, [`SessionSignal`] or a bare
    /// profile; it is called only then), else the last release, else nothing
    /// ([`Released::Public`]).
    pub fn release<R: RandomSource + ?Sized, S: Into<SessionSignal>>(
        &mut self,
        config: &PrivacyConfig,
        mechanism: Option<&Calibrated>,
        clock_ms: f64,
        bundle: &Bundle,
        signal: impl FnOnce() -> S,
        rng: &mut R,
    ) -> Result<Released<'_>, PrivacyError> {
        self.release_with(
            config,
            mechanism,
            clock_ms,
            |m, rng| m.release(bundle, &signal().into(), rng),
            rng,
        )
    }

    /// [`PrivacyState::release`] with the draw given: `draw(mechanism, rng)` runs only when the
    /// budget allows a fresh release, after the charge.
    pub fn release_with<R: RandomSource + ?Sized>(
        &mut self,
        config: &PrivacyConfig,
        mechanism: Option<&Calibrated>,
        clock_ms: f64,
        draw: impl FnOnce(&Calibrated, &mut R) -> Result<Release, PrivacyError>,
        rng: &mut R,
    ) -> Result<Released<'_>, PrivacyError> {
        let PrivacyConfig::On(cfg) = config else {
            self.last_source = Some(ReleaseSource::NotPrivate);
            return Ok(Released::NotPrivate);
        };
        let mechanism = mechanism.ok_or_else(|| {
            PrivacyError::Internal("private mode without a calibrated mechanism".into())
        })?;
        let mut accountant = Accountant::with_state(cfg.budget, self.accountant.clone())?;
        if accountant.try_spend(mechanism.charge()?, clock_ms)? {
            // Charged before sampling: a failure below leaves the charge (conservative).
            self.accountant = accountant.state().clone();
            let release = draw(mechanism, rng)?;
            self.last_release = Some(release);
            self.last_source = Some(ReleaseSource::Fresh);
        } else if self.last_release.is_some() {
            self.last_source = Some(ReleaseSource::Cached);
        } else {
            self.last_source = Some(ReleaseSource::Public);
            return Ok(Released::Public);
        }
        let source = self.last_source.unwrap_or(ReleaseSource::Cached);
        Ok(match &self.last_release {
            Some(Release::Profile(p)) => Released::Profile(p, source),
            Some(Release::Anchor(j)) => Released::Anchor(*j, source),
            Some(Release::LeftOut(_)) => Released::LeftOut(source),
            None => Released::Public,
        })
    }

    /// Serves the last release again without asking the accountant (the history has not changed
    /// since it was made): post-processing, no charge. `false` when there is none.
    pub fn reuse(&mut self) -> bool {
        if self.last_release.is_some() {
            self.last_source = Some(ReleaseSource::Cached);
            true
        } else {
            false
        }
    }

    /// Where the last response's profile came from (`None` before the first).
    pub fn last_source(&self) -> Option<ReleaseSource> {
        self.last_source
    }

    /// The last release, without charging anything (for explanations of the shelf on screen).
    pub fn last_release(&self) -> Option<&Release> {
        self.last_release.as_ref()
    }

    /// Spent / remaining at `clock_ms`.
    pub fn status(
        &self,
        config: &PrivacyConfig,
        mechanism: Option<&Calibrated>,
        clock_ms: f64,
    ) -> PrivacyStatus {
        match config {
            PrivacyConfig::Off => PrivacyStatus {
                private: false,
                mechanism: "none",
                unit: "none",
                epsilon: None,
                delta: None,
                budget: None,
                releases_left: None,
                last_source: self.last_source,
            },
            PrivacyConfig::On(cfg) => {
                let acc = Accountant::with_state(cfg.budget, self.accountant.clone()).ok();
                let releases_left = match (&acc, mechanism.map(Calibrated::charge)) {
                    (Some(a), Some(Ok(charge))) => Some(a.releases_left(charge, clock_ms, 10_000)),
                    _ => None,
                };
                PrivacyStatus {
                    private: true,
                    mechanism: cfg.mechanism.as_str(),
                    unit: cfg.unit.as_str(),
                    epsilon: Some(cfg.epsilon),
                    delta: match cfg.mechanism {
                        Mechanism::GaussianProfile => Some(cfg.delta),
                        Mechanism::ExponentialAnchor => Some(0.0),
                    },
                    budget: acc.map(|a| a.status(clock_ms)),
                    releases_left,
                    last_source: self.last_source,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::options::{PrivacyOptions, DEFAULT_CANDIDATES};
    use crate::privacy::profile::ProfileBounds;
    use crate::privacy::rng::InsecureSeededRngForTestsOnly as SeededRng;

    fn parse(json: &str) -> Result<PrivacyConfig, String> {
        let o: PrivacyOptions = serde_json::from_str(json).map_err(|e| e.to_string())?;
        o.validate().map_err(|e| e.to_string())
    }

    /// A 6-item, 8-dimensional bundle (ids i0…i5).
    fn bundle() -> Bundle {
        let parts = crate::bundle::BundleParts {
            ids: (0..6).map(|i| format!("i{i}")).collect(),
            dim: 8,
            embeddings: (0..48).map(|x| ((x * 7 % 11) as f32) - 5.0).collect(),
            popularity: (0..6).map(|i| (6 - i) as f32).collect(),
            ..Default::default()
        };
        Bundle::from_bytes(crate::bundle::write_bundle(&parts).unwrap()).unwrap()
    }

    #[test]
    fn spent_budget_serves_the_cached_release_then_public() {
        let b = bundle();
        let bounds = ProfileBounds::of(&crate::session::SignalPolicy::default(), 100);
        for mech in ["gaussian", "exponential"] {
            let config = parse(&format!(
                r#"{{"epsilon":1,"budget":{{"epsilon":2,"period":1000}},"mechanism":"{mech}"}}"#
            ))
            .unwrap();
            let m = config.mechanism(&b, &bounds).unwrap().unwrap();
            let mut rng = SeededRng::from_seed(1);
            let mut state = PrivacyState::default();
            let h = vec![1.0f32; 8];
            let mut fresh = 0;
            loop {
                match state
                    .release(&config, Some(&m), 10.0, &b, || h.clone(), &mut rng)
                    .unwrap()
                {
                    Released::Profile(_, ReleaseSource::Fresh)
                    | Released::Anchor(_, ReleaseSource::Fresh) => fresh += 1,
                    Released::Profile(_, ReleaseSource::Cached)
                    | Released::Anchor(_, ReleaseSource::Cached) => break,
                    other => panic!("{other:?}"),
                }
            }
            assert!(fresh >= 2, "{mech}: {fresh}");
            let before = state.last_release().cloned();
            let st = state.status(&config, Some(&m), 10.0);
            assert_eq!(st.releases_left, Some(0));
            assert!(st.budget.unwrap().spent_epsilon <= 2.0 + 1e-9);
            // A cached release never calls the profile closure, and repeats the last one.
            let r = state
                .release(
                    &config,
                    Some(&m),
                    20.0,
                    &b,
                    || -> Vec<f32> { panic!("read the history") },
                    &mut rng,
                )
                .unwrap();
            assert!(matches!(
                r,
                Released::Profile(_, ReleaseSource::Cached)
                    | Released::Anchor(_, ReleaseSource::Cached)
            ));
            assert_eq!(state.last_release().cloned(), before);
            // A new period: fresh again.
            let r = state
                .release(&config, Some(&m), 1010.0, &b, || h.clone(), &mut rng)
                .unwrap();
            assert!(matches!(
                r,
                Released::Profile(_, ReleaseSource::Fresh)
                    | Released::Anchor(_, ReleaseSource::Fresh)
            ));
            // Snapshots round-trip (as JSON).
            let snap = state.snapshot(&b);
            let json = serde_json::to_string(&snap).unwrap();
            let back =
                PrivacyState::from_snapshot(serde_json::from_str(&json).unwrap(), &b).unwrap();
            assert_eq!(back.snapshot(&b), snap);
            // A forgotten history starts over with nothing to cache: before any release, a
            // budget too small for one gives the public order.
            state.clear();
            let tiny = parse(&format!(
                r#"{{"epsilon":0.5,"budget":{{"epsilon":0.5,"period":"session"}},"mechanism":"{mech}"}}"#
            ))
            .unwrap();
            let r = state.release(
                &tiny,
                Some(&m),
                0.0,
                &b,
                || -> Vec<f32> { panic!("read the history") },
                &mut rng,
            );
            assert_eq!(r.unwrap(), Released::Public, "{mech}");
        }
    }

    /// The automatic pool: the most popular items below ε = ln(items − 1), the whole catalog
    /// from there; an explicit pool is always kept.
    #[test]
    fn automatic_candidate_pool_follows_epsilon() {
        let parts = crate::bundle::BundleParts {
            ids: (0..50).map(|i| format!("i{i}")).collect(),
            dim: 4,
            embeddings: (0..200).map(|x| ((x * 7 % 11) as f32) - 5.0).collect(),
            popularity: (0..50).map(|i| (50 - i) as f32).collect(),
            ..Default::default()
        };
        let b = Bundle::from_bytes(crate::bundle::write_bundle(&parts).unwrap()).unwrap();
        let bounds = ProfileBounds::of(&crate::session::SignalPolicy::default(), 100);
        let pool = |json: &str, auto: bool| {
            let Ok(PrivacyConfig::On(mut c)) = parse(json) else {
                panic!("{json}")
            };
            c.candidates = Some(10);
            c.auto_candidates = auto;
            match PrivacyConfig::On(c).mechanism(&b, &bounds).unwrap() {
                Some(Calibrated::Anchor(a)) => a.candidates(),
                other => panic!("{other:?}"),
            }
        };
        // ln(49) ≈ 3.89.
        assert_eq!(pool(r#"{"epsilon":3.8}"#, true), 10);
        assert_eq!(pool(r#"{"epsilon":3.9}"#, true), 50);
        assert_eq!(pool(r#"{"epsilon":3.9}"#, false), 10);
        let Ok(PrivacyConfig::On(c)) = parse(r#"{"candidates":20}"#) else {
            panic!()
        };
        assert!(!c.auto_candidates);
        let Ok(PrivacyConfig::On(c)) = parse(r#"{"unit":"history"}"#) else {
            panic!()
        };
        assert!(c.auto_candidates && c.candidates == DEFAULT_CANDIDATES);
        // Under the device unit the pool is the page's own ranking's best items.
        let Ok(PrivacyConfig::On(c)) = parse(r#"{}"#) else {
            panic!()
        };
        assert_eq!(
            c.candidates,
            Some(crate::privacy::DEFAULT_DEVICE_CANDIDATES)
        );
    }

    #[test]
    fn off_reads_the_history() {
        let b = bundle();
        let mut state = PrivacyState::default();
        let mut rng = SeededRng::from_seed(1);
        let r = state
            .release(&PrivacyConfig::Off, None, 0.0, &b, Vec::new, &mut rng)
            .unwrap();
        assert_eq!(r, Released::NotPrivate);
        assert!(!state.status(&PrivacyConfig::Off, None, 0.0).private);
    }
}
