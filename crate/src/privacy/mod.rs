//! Differential privacy for everything the engine shows: the mechanism (Gaussian noise on the
//! normalized session profile, [`profile`]), exact samplers ([`samplers`]) fed only by the OS
//! CSPRNG ([`rng`]), calibration between (ε, δ) and zCDP ([`calibrate`]), and the accountant that
//! composes releases against a budget per period ([`accountant`]).
//!
//! The guarantee (see `docs/PRIVACY.md`): with privacy on, every ranking the engine returns is a
//! function of the bundle, the request and the *released* noisy profile only. Each fresh release
//! is ρ-zCDP with respect to the whole local history (any two histories are neighbours); releases
//! compose in ρ against the budget of the current period, and once it is spent the engine serves
//! post-processing of the last release (or, before any release, the public popularity order) —
//! never a fresh un-noised profile.

pub mod accountant;
pub mod anchor;
pub mod calibrate;
pub mod profile;
pub mod rng;
pub mod samplers;

use serde::{Deserialize, Deserializer, Serialize};

use crate::bundle::Bundle;
use crate::error::PrivacyError;
use crate::numfmt::{parse_f64, Num};
use crate::score::raw_profile;
use crate::session::{SessionLog, SignalPolicy};
pub use accountant::{Accountant, AccountantState, Budget, BudgetStatus, Charge};
pub use anchor::AnchorMechanism;
pub use profile::{PrivacyUnit, ProfileBounds, ProfileMechanism, GRID_RADIUS};
#[cfg(any(test, feature = "insecure-seeded-rng-for-tests-only"))]
pub use rng::InsecureSeededRngForTestsOnly;
pub use rng::{OsRandom, RandomSource};

/// Default ε of one release.
pub const DEFAULT_EPSILON: f64 = 8.0;
/// Default δ (of one release, and of a period's budget).
pub const DEFAULT_DELTA: f64 = 1e-6;
/// Default ε of a period's budget.
pub const DEFAULT_BUDGET_EPSILON: f64 = 32.0;
/// Default budget period: one day, in milliseconds.
pub const DEFAULT_PERIOD_MS: f64 = 86_400_000.0;
/// Default candidate pool of the exponential mechanism: the 4,000 most popular items (the whole
/// catalog when it is smaller), while ε < ln(items − 1) — past that, the whole catalog (its top
/// item alone already has p ≥ ½, and a pool only hides good anchors). Chosen on Diginetica's
/// validation split (docs/PRIVACY.md): 4,000 was the best or about a point from it from ε = 4
/// to 8; at ε = 12 it tied the whole catalog, at 16 the whole catalog won by 9 points.
pub const DEFAULT_CANDIDATES: Option<usize> = Some(4000);
/// Largest `candidates` accepted.
pub const MAX_CANDIDATES: usize = 50_000_000;
/// Smallest ε accepted for a release (smaller needs more noise than the sampler's range).
pub const MIN_EPSILON: f64 = 1e-3;
/// Largest finite ε accepted (beyond this, use `Infinity` and say so).
pub const MAX_EPSILON: f64 = 1e4;

/// The mechanism a release uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mechanism {
    /// The exponential mechanism over items with a top-m utility: releases one anchor item
    /// (pure ε-DP, [`anchor`]); the shelf is the anchor and the items closest to it.
    #[default]
    ExponentialAnchor,
    /// Discrete Gaussian noise on the normalized pre-readout session profile ((ε, δ)-DP via
    /// zCDP, [`profile`]).
    GaussianProfile,
}

impl Mechanism {
    /// The wire name (`exponential`, `gaussian`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExponentialAnchor => "exponential",
            Self::GaussianProfile => "gaussian",
        }
    }

    /// Parses the wire name.
    pub fn parse(name: &str) -> Result<Self, PrivacyError> {
        match name {
            "exponential" => Ok(Self::ExponentialAnchor),
            "gaussian" => Ok(Self::GaussianProfile),
            other => Err(PrivacyError::InvalidOption {
                name: "privacy.mechanism",
                why: format!("unknown mechanism '{other}' (expected 'exponential' or 'gaussian')"),
            }),
        }
    }
}

/// ε as the page gives it: a number, or `"Infinity"` (JSON has no infinity; the wasm layer turns
/// JS `Infinity` into that string) for the explicit non-private mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpsilonInput(pub f64);

/// What the options that take a number or a keyword (`"Infinity"`, `"session"`, `"all"`) read.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for EpsilonInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Number(x) => Ok(Self(x)),
            NumberOrText::Text(s) if s == "Infinity" => Ok(Self(f64::INFINITY)),
            NumberOrText::Text(s) => Ok(Self(parse_f64(s.trim()).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "epsilon must be a number or \"Infinity\", got \"{s}\""
                ))
            })?)),
        }
    }
}

/// `{epsilon?, period?}`: the budget per period. `period` is milliseconds or `"session"` (one
/// period until the history is forgotten).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetOptions {
    #[serde(default)]
    pub epsilon: Option<EpsilonInput>,
    #[serde(default)]
    pub period: Option<PeriodInput>,
}

/// A budget period: milliseconds, or `"session"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeriodInput(pub Option<f64>);

impl<'de> Deserialize<'de> for PeriodInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Number(x) => Ok(Self(Some(x))),
            NumberOrText::Text(s) if s == "session" => Ok(Self(None)),
            NumberOrText::Text(s) => Err(serde::de::Error::custom(format!(
                "budget.period must be milliseconds or \"session\", got \"{s}\""
            ))),
        }
    }
}

/// `privacy: {epsilon?, delta?, budget?: {epsilon?, period?}, mechanism?}` as the page passes it.
/// Every field is optional (absent: the defaults above); unknown fields are errors.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyOptions {
    /// ε of one release (`"Infinity"`: no noise, **not private**).
    #[serde(default)]
    pub epsilon: Option<EpsilonInput>,
    /// δ of one release and of the period's budget.
    #[serde(default)]
    pub delta: Option<f64>,
    /// The budget per period.
    #[serde(default)]
    pub budget: Option<BudgetOptions>,
    /// `exponential` (default) or `gaussian`.
    #[serde(default)]
    pub mechanism: Option<String>,
    /// The exponential mechanism's candidates: the N most popular items (a whole number ≥ 2), or
    /// `"all"`. Default [`DEFAULT_CANDIDATES`].
    #[serde(default)]
    pub candidates: Option<CandidatesInput>,
}

/// `candidates`: a number of items, or `"all"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandidatesInput(pub Option<f64>);

impl<'de> Deserialize<'de> for CandidatesInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Number(x) => Ok(Self(Some(x))),
            NumberOrText::Text(s) if s == "all" => Ok(Self(None)),
            NumberOrText::Text(s) => Err(serde::de::Error::custom(format!(
                "candidates must be a number of items or \"all\", got \"{s}\""
            ))),
        }
    }
}

/// Validated privacy settings.
#[derive(Debug, Clone, PartialEq)]
pub enum PrivacyConfig {
    /// `epsilon: Infinity`: rankings read the raw history. Not private.
    Off,
    /// Private releases.
    On(PrivateConfig),
}

/// Validated settings of the private mode.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivateConfig {
    /// ε of one release.
    pub epsilon: f64,
    /// δ of one release and of the budget.
    pub delta: f64,
    /// ρ (zCDP) of one Gaussian release: the largest ρ on the accountant's grid whose (ε, δ)
    /// conversion is within the options (the exponential mechanism is pure ε-DP and ignores it).
    pub rho: f64,
    /// The budget per period.
    pub budget: Budget,
    pub mechanism: Mechanism,
    pub unit: PrivacyUnit,
    /// Size of the exponential mechanism's top set (`None`: [`AnchorMechanism::default_m`]).
    pub top_m: Option<usize>,
    /// The exponential mechanism's candidates: the most popular items (`None`: the whole
    /// catalog).
    pub candidates: Option<usize>,
    /// `candidates` was not given: [`DEFAULT_CANDIDATES`] below ε = ln(items − 1), the whole
    /// catalog from there.
    pub auto_candidates: bool,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        // The defaults are valid by construction (checked by a test).
        PrivacyOptions::default()
            .validate()
            .unwrap_or(PrivacyConfig::Off)
    }
}

fn invalid(name: &'static str, why: impl Into<String>) -> PrivacyError {
    PrivacyError::InvalidOption {
        name,
        why: why.into(),
    }
}

impl PrivacyOptions {
    /// Checks every field; fills in the defaults.
    pub fn validate(&self) -> Result<PrivacyConfig, PrivacyError> {
        let epsilon = self.epsilon.map_or(DEFAULT_EPSILON, |e| e.0);
        // On the accountant's grid (rounded down), so that a budget of k releases fits k.
        let epsilon = accountant::rho_on_grid(epsilon);
        let mechanism = match &self.mechanism {
            None => Mechanism::default(),
            Some(m) => Mechanism::parse(m)?,
        };
        if epsilon == f64::INFINITY {
            if self.budget.is_some() || self.delta.is_some() || self.candidates.is_some() {
                return Err(invalid(
                    "privacy",
                    "epsilon: Infinity turns privacy off; a budget, delta or candidates makes no sense with it",
                ));
            }
            return Ok(PrivacyConfig::Off);
        }
        if !(MIN_EPSILON..=MAX_EPSILON).contains(&epsilon) {
            return Err(invalid(
                "privacy.epsilon",
                format!(
                    "must be a number from {} to {}, or \"Infinity\" (not private), got {}",
                    Num(MIN_EPSILON),
                    Num(MAX_EPSILON),
                    Num(epsilon)
                ),
            ));
        }
        let delta = self.delta.unwrap_or(DEFAULT_DELTA);
        if !(delta > 0.0 && delta < 1e-2) {
            return Err(invalid(
                "privacy.delta",
                format!("must be in (0, 0.01), got {}", Num(delta)),
            ));
        }
        let budget = self.budget.clone().unwrap_or_default();
        let budget_epsilon = match budget.epsilon {
            None => DEFAULT_BUDGET_EPSILON.max(epsilon),
            Some(e) if e.0.is_finite() && e.0 >= epsilon && e.0 <= MAX_EPSILON => e.0,
            Some(e) => {
                return Err(invalid(
                    "privacy.budget.epsilon",
                    format!(
                        "must be a finite number from the release's epsilon ({}) to {}, got {}",
                        Num(epsilon),
                        Num(MAX_EPSILON),
                        Num(e.0)
                    ),
                ))
            }
        };
        let period_ms = match budget.period {
            None => Some(DEFAULT_PERIOD_MS),
            Some(PeriodInput(None)) => None,
            Some(PeriodInput(Some(p))) if p >= 1.0 && p.is_finite() => Some(p),
            Some(PeriodInput(Some(p))) => {
                return Err(invalid(
                    "privacy.budget.period",
                    format!(
                        "must be at least 1 millisecond, or \"session\", got {}",
                        Num(p)
                    ),
                ))
            }
        };
        let candidates = match self.candidates {
            None => DEFAULT_CANDIDATES,
            Some(CandidatesInput(None)) => None,
            Some(CandidatesInput(Some(c)))
                if c.fract() == 0.0 && (2.0..=MAX_CANDIDATES as f64).contains(&c) =>
            {
                Some(c as usize)
            }
            Some(CandidatesInput(Some(c))) => {
                return Err(invalid(
                    "privacy.candidates",
                    format!(
                        "must be a whole number from 2 to {MAX_CANDIDATES}, or \"all\", got {}",
                        Num(c)
                    ),
                ))
            }
        };
        let rho = accountant::rho_on_grid(calibrate::rho_for(epsilon, delta));
        Ok(PrivacyConfig::On(PrivateConfig {
            epsilon,
            delta,
            rho,
            budget: Budget {
                epsilon: budget_epsilon,
                delta,
                period_ms,
            },
            mechanism,
            unit: PrivacyUnit::History,
            top_m: None,
            candidates,
            auto_candidates: self.candidates.is_none(),
        }))
    }
}

/// A mechanism calibrated for one bundle.
#[derive(Debug, Clone, PartialEq)]
pub enum Calibrated {
    Gaussian(ProfileMechanism),
    Anchor(AnchorMechanism),
}

impl Calibrated {
    /// What one release costs.
    pub fn charge(&self) -> Result<Charge, PrivacyError> {
        match self {
            Self::Gaussian(m) => Charge::zcdp(m.rho()),
            Self::Anchor(a) => Charge::pure(a.epsilon()),
        }
    }

    /// One release from the raw pre-readout profile.
    pub fn release<R: RandomSource + ?Sized>(
        &self,
        bundle: &Bundle,
        profile: &[f32],
        rng: &mut R,
    ) -> Result<Release, PrivacyError> {
        match self {
            Self::Gaussian(m) => m.release(profile, rng).map(Release::Profile),
            Self::Anchor(a) => a.release(bundle, profile, rng).map(Release::Anchor),
        }
    }
}

impl PrivacyConfig {
    /// The mechanism calibrated for `bundle` with profile `bounds` (`None` when privacy is off).
    pub fn mechanism(
        &self,
        bundle: &Bundle,
        bounds: &ProfileBounds,
    ) -> Result<Option<Calibrated>, PrivacyError> {
        match self {
            PrivacyConfig::Off => Ok(None),
            PrivacyConfig::On(c) => match c.mechanism {
                Mechanism::GaussianProfile => {
                    ProfileMechanism::calibrate(bundle.dim(), bounds, c.unit, c.rho)
                        .map(|m| Some(Calibrated::Gaussian(m)))
                }
                Mechanism::ExponentialAnchor => {
                    let whole = (bundle.n_items().max(2) - 1) as f64;
                    let pool = if c.auto_candidates && c.epsilon >= whole.ln() {
                        None
                    } else {
                        c.candidates
                    };
                    AnchorMechanism::for_bundle(bundle, pool, c.epsilon, c.top_m)
                        .map(|a| Some(Calibrated::Anchor(a)))
                }
            },
        }
    }
}

/// One release of `session`'s profile: the engine's path and `vitrine eval`'s. The profile is
/// weighted as of `profile_now_ms` (the request's time; it may come from the history, since it is
/// only used inside the mechanism); the accountant runs on `clock_ms`, which must not depend on
/// the history.
#[allow(clippy::too_many_arguments)]
pub fn release_session<'s, R: RandomSource + ?Sized>(
    state: &'s mut PrivacyState,
    config: &PrivacyConfig,
    mechanism: Option<&Calibrated>,
    bundle: &Bundle,
    session: &SessionLog,
    signals: &SignalPolicy,
    profile_now_ms: f64,
    clock_ms: f64,
    rng: &mut R,
) -> Result<Released<'s>, PrivacyError> {
    state.release(
        config,
        mechanism,
        clock_ms,
        bundle,
        || raw_profile(bundle, &session.effective_weights(signals, profile_now_ms)),
        rng,
    )
}

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

/// What `privacyStatus()` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivacyStatus {
    /// False only with `epsilon: Infinity`.
    pub private: bool,
    /// `gaussian`, or `none` when not private.
    pub mechanism: &'static str,
    /// What one release protects (`history`: the whole local history).
    pub unit: &'static str,
    /// ε of one release (null when not private).
    pub epsilon: Option<f64>,
    /// δ of one release (0 for the exponential mechanism; null when not private).
    pub delta: Option<f64>,
    /// The budget, spent and remaining in the current period (null when not private).
    pub budget: Option<BudgetStatus>,
    /// Fresh releases the remaining budget allows (counted up to 10,000).
    pub releases_left: Option<u64>,
    /// Where the last response's profile came from (null before the first).
    pub last_source: Option<ReleaseSource>,
}

/// One release: what the mechanism output.
#[derive(Debug, Clone, PartialEq)]
pub enum Release {
    /// A noisy pre-readout profile in grid units (Gaussian mechanism).
    Profile(Vec<f32>),
    /// An anchor item row (exponential mechanism).
    Anchor(u32),
}

/// The accountant plus the last release, persisted with the session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrivacyState {
    accountant: AccountantState,
    /// The last release, for post-processing once the budget is spent.
    last_release: Option<Release>,
    last_source: Option<ReleaseSource>,
}

/// The stored form of [`PrivacyState`] (inside the exported session state). The anchor is stored
/// by item id, so a stored state survives a new bundle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PrivacySnapshot {
    pub accountant: AccountantState,
    /// The last Gaussian release (grid units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_profile: Option<Vec<f32>>,
    /// The last exponential-mechanism release (an item id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_anchor: Option<String>,
    /// The last release was made for the stored history exactly as stored (nothing tracked
    /// since): a restored session reuses it instead of spending a new release. Trusting a false
    /// `true` only reuses an old release (post-processing); a false `false` only spends budget.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub current: bool,
}

/// The outcome of [`PrivacyState::release`]: what to score with, and its source.
#[derive(Debug, Clone, PartialEq)]
pub enum Released<'a> {
    /// A released noisy profile (grid units): fresh or cached.
    Profile(&'a [f32], ReleaseSource),
    /// A released anchor item row: fresh or cached.
    Anchor(u32, ReleaseSource),
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
        Ok(Self {
            accountant: snapshot.accountant,
            last_release: anchor.or(profile),
            last_source: None,
        })
    }

    /// The stored form.
    pub fn snapshot(&self, bundle: &Bundle) -> PrivacySnapshot {
        let (last_profile, last_anchor) = match &self.last_release {
            Some(Release::Profile(p)) => (Some(p.clone()), None),
            Some(Release::Anchor(j)) => (None, bundle.ids().get(*j as usize).cloned()),
            None => (None, None),
        };
        PrivacySnapshot {
            accountant: self.accountant.clone(),
            last_profile,
            last_anchor,
            current: false,
        }
    }

    /// Forgets everything (with the history it protected).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Makes one release for a request at `clock_ms`: a fresh one if the period's budget allows
    /// it (`profile` computes the raw pre-readout profile; it is called only then), else the last
    /// release, else nothing ([`Released::Public`]).
    pub fn release<R: RandomSource + ?Sized>(
        &mut self,
        config: &PrivacyConfig,
        mechanism: Option<&Calibrated>,
        clock_ms: f64,
        bundle: &Bundle,
        profile: impl FnOnce() -> Vec<f32>,
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
            let release = mechanism.release(bundle, &profile(), rng)?;
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
    fn defaults_are_valid_and_private() {
        let PrivacyConfig::On(c) = PrivacyConfig::default() else {
            panic!("the default must be private");
        };
        assert_eq!(c.epsilon, accountant::rho_on_grid(DEFAULT_EPSILON));
        assert_eq!(c.delta, DEFAULT_DELTA);
        assert_eq!(c.budget.epsilon, DEFAULT_BUDGET_EPSILON);
        assert_eq!(c.budget.period_ms, Some(DEFAULT_PERIOD_MS));
        assert_eq!(c.unit, PrivacyUnit::History);
        assert_eq!(c.mechanism, Mechanism::default());
        assert!(calibrate::epsilon_for(c.rho, c.delta) <= c.epsilon + 1e-9);
    }

    #[test]
    fn options_parse_and_reject() {
        assert_eq!(parse(r#"{"epsilon":"Infinity"}"#), Ok(PrivacyConfig::Off));
        let Ok(PrivacyConfig::On(c)) = parse(
            r#"{"epsilon":1,"delta":1e-7,"budget":{"epsilon":4,"period":"session"},"mechanism":"gaussian","candidates":"all"}"#,
        ) else {
            panic!()
        };
        assert_eq!(c.candidates, None);
        let Ok(PrivacyConfig::On(d)) = parse(r#"{"candidates":500}"#) else {
            panic!()
        };
        assert_eq!(d.candidates, Some(500));
        assert_eq!((c.epsilon, c.delta, c.budget.epsilon), (1.0, 1e-7, 4.0));
        assert_eq!(c.budget.period_ms, None);
        assert_eq!(c.mechanism, Mechanism::GaussianProfile);
        for bad in [
            r#"{"epsilon":0}"#,
            r#"{"epsilon":-1}"#,
            r#"{"epsilon":"NaN"}"#,
            r#"{"epsilon":"lots"}"#,
            r#"{"epsilon":1,"delta":0}"#,
            r#"{"epsilon":1,"delta":0.5}"#,
            r#"{"epsilon":2,"budget":{"epsilon":1}}"#,
            r#"{"epsilon":1,"budget":{"period":0}}"#,
            r#"{"epsilon":1,"budget":{"period":"week"}}"#,
            r#"{"epsilon":1,"mechanism":"laplace"}"#,
            r#"{"epsilon":"Infinity","budget":{"epsilon":1}}"#,
            r#"{"epsilon":1,"colour":"red"}"#,
            r#"{"candidates":1}"#,
            r#"{"candidates":10.5}"#,
            r#"{"candidates":"many"}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    /// Both mechanisms: fresh releases while the budget lasts, then the cached one (without
    /// reading the history), a new period, snapshots, and forgetting.
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
                    || panic!("read the history"),
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
                || panic!("read the history"),
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
        let Ok(PrivacyConfig::On(c)) = parse(r#"{}"#) else {
            panic!()
        };
        assert!(c.auto_candidates && c.candidates == DEFAULT_CANDIDATES);
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
