//! Privacy settings: what the page passes (`privacy: {…}`), their validation into a
//! [`PrivacyConfig`], and the defaults.

use serde::{Deserialize, Deserializer};

use super::accountant::{self, Budget};
use super::calibrate;
use super::profile::PrivacyUnit;
use crate::error::PrivacyError;
use crate::numfmt::{parse_f64, Num};
use crate::wire::NumberOrText;

/// Default ε of one release under `unit: 'history'` (every output protects the whole history).
pub const DEFAULT_EPSILON: f64 = 8.0;
/// Default ε_D of one release under `unit: 'device'` (the default unit: only the device-only record
/// is protected; what the page provided is ranked exactly).
pub const DEFAULT_DEVICE_EPSILON: f64 = 1.0;
/// Default ε_D of a period's budget under `unit: 'device'`.
pub const DEFAULT_DEVICE_BUDGET_EPSILON: f64 = 8.0;
/// Default lifetime cap per stored event (ε): once the releases that read an event reach it, the
/// event is retired from every later release.
pub const DEFAULT_EVENT_CAP: f64 = 16.0;
/// Default weight of a device release of the profile (`gaussian`) in the page's profile.
pub const DEFAULT_BLEND: f64 = 0.0;
/// Default window of the shelf-cut mechanism under `unit: 'device'` (`candidates`): the W items of
/// the page's own ranking around the shelf's cut (public given what the page provided). With
/// [`DEFAULT_DEVICE_TOP_M`] = 1 the release only chooses the shelf's last item among the page
/// ranking's next 3: chosen on Instacart's validation split (the grid from W = 2 to 16 was within
/// 0.3 points of HR@20 at ε 1–2) for costing the least where the device record is empty
/// (Diginetica: −0.02 points, against −0.17 for W = 8, h = 4). See docs/PRIVACY.md.
pub const DEFAULT_DEVICE_CANDIDATES: usize = 3;
/// Default number of the window's items the shelf shows under `unit: 'device'` (`topM`).
pub const DEFAULT_DEVICE_TOP_M: usize = 1;
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

/// ε as the page gives it: a number, or `"Infinity"` (JSON has no infinity; JS `Infinity` reads as
/// the same) for the explicit non-private mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpsilonInput(pub f64);

impl EpsilonInput {
    /// Reads a number, or `"Infinity"` (or any number text, e.g. `"8"`).
    pub fn from_wire(v: NumberOrText) -> Result<Self, String> {
        match v {
            NumberOrText::Number(x) => Ok(Self(x)),
            NumberOrText::Text(s) if s == "Infinity" => Ok(Self(f64::INFINITY)),
            NumberOrText::Text(s) => parse_f64(s.trim())
                .map(Self)
                .ok_or_else(|| format!("epsilon must be a number or \"Infinity\", got \"{s}\"")),
        }
    }
}

/// A budget period: milliseconds, or `"session"` (`None`: until the history is forgotten).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeriodInput(pub Option<f64>);

impl PeriodInput {
    /// Reads a number of milliseconds, or `"session"`.
    pub fn from_wire(v: NumberOrText) -> Result<Self, String> {
        match v {
            NumberOrText::Number(x) => Ok(Self(Some(x))),
            NumberOrText::Text(s) if s == "session" => Ok(Self(None)),
            NumberOrText::Text(s) => Err(format!(
                "budget.period must be milliseconds or \"session\", got \"{s}\""
            )),
        }
    }
}

/// `candidates`: a number of items, or `"all"` (`None`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandidatesInput(pub Option<f64>);

impl CandidatesInput {
    /// Reads a number of items, or `"all"`.
    pub fn from_wire(v: NumberOrText) -> Result<Self, String> {
        match v {
            NumberOrText::Number(x) => Ok(Self(Some(x))),
            NumberOrText::Text(s) if s == "all" => Ok(Self(None)),
            NumberOrText::Text(s) => Err(format!(
                "candidates must be a number of items or \"all\", got \"{s}\""
            )),
        }
    }
}

/// serde reads the keyword types through their `from_wire`, as every other reader does.
macro_rules! deserialize_via_from_wire {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::from_wire(NumberOrText::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    )*};
}
deserialize_via_from_wire!(EpsilonInput, PeriodInput, CandidatesInput);

crate::wire! {
    /// `{epsilon?, period?}`: the budget per period. `period` is milliseconds or `"session"` (one
    /// period until the history is forgotten).
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct BudgetOptions {
        /// ε per period (finite, at least the release's ε).
        epsilon: Option<EpsilonInput> = "epsilon",
        /// Milliseconds, or `"session"`.
        period: Option<PeriodInput> = "period",
    }
}

crate::wire! {
    /// `privacy: {epsilon?, delta?, budget?: {epsilon?, period?}, mechanism?, candidates?, unit?,
    /// topM?}` as the page passes it. Every field is optional (absent: the defaults above); unknown
    /// fields are errors.
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct PrivacyOptions {
        /// ε of one release (`"Infinity"`: no noise, **not private**).
        epsilon: Option<EpsilonInput> = "epsilon",
        /// δ of one release and of the period's budget.
        delta: Option<f64> = "delta",
        /// The budget per period.
        budget: Option<BudgetOptions> = "budget",
        /// `exponential` (default) or `gaussian`.
        mechanism: Option<String> = "mechanism",
        /// The exponential mechanism's candidates: the N most popular items (a whole number ≥ 2),
        /// or `"all"`. Default [`DEFAULT_CANDIDATES`].
        candidates: Option<CandidatesInput> = "candidates",
        /// What one release protects: `device` (the default: the device-only record, any two of
        /// them, conditional on what the page provided), `history` (any two whole histories, the
        /// page's events included) or `event` (one item event more or less: weaker, `gaussian`
        /// only, for measurements).
        unit: Option<String> = "unit",
        /// Event classes the store's server observed, which count as provided by the page under
        /// `unit: 'device'`: `["visit"]` (the restored events of the current visit). Default none.
        observed: Option<Vec<String>> = "observed",
        /// `unit: 'device'`: the lifetime cap of one stored event, in ε (default
        /// [`DEFAULT_EVENT_CAP`]): an event read by releases totalling this is retired from later
        /// releases.
        event_cap: Option<f64> = "eventCap",
        /// `unit: 'device'`: the weight of the device release in the profile, relative to the
        /// page's events (≥ 0; default [`DEFAULT_BLEND`]).
        blend: Option<f64> = "blend",
        /// The exponential mechanism's top-set size m (a whole number ≥ 1; default: the smallest m
        /// whose top-set probability reaches ½).
        top_m: Option<f64> = "topM",
        /// `unit: 'device'`: when a fresh release is made — `record` (default: only when the
        /// device-only record changed) or `page` (also when the page's own events changed, within
        /// the period's budget).
        refresh: Option<String> = "refresh",
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
    /// `unit: 'device'`: the restored events of the current visit count as the page's.
    pub observed_visit: bool,
    /// `unit: 'device'`: the lifetime cap of one stored event, in ε.
    pub event_cap: f64,
    /// `unit: 'device'`: the weight of the device release in the profile.
    pub blend: f32,
    /// Size of the exponential mechanism's top set (`None`: [`AnchorMechanism::default_m`]).
    pub top_m: Option<usize>,
    /// The exponential mechanism's candidates: the most popular items (`None`: the whole
    /// catalog).
    pub candidates: Option<usize>,
    /// `unit: 'device'`: a fresh release also when the page's events changed (`refresh: 'page'`).
    pub refresh_on_page: bool,
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
        let device = matches!(self.unit.as_deref(), None | Some("device"));
        let default_epsilon = if device {
            DEFAULT_DEVICE_EPSILON
        } else {
            DEFAULT_EPSILON
        };
        let epsilon = self.epsilon.map_or(default_epsilon, |e| e.0);
        // On the accountant's grid (rounded down), so that a budget of k releases fits k.
        let epsilon = accountant::rho_on_grid(epsilon);
        let mechanism = match &self.mechanism {
            None => Mechanism::default(),
            Some(m) => Mechanism::parse(m)?,
        };
        if epsilon == f64::INFINITY {
            if self.budget.is_some()
                || self.delta.is_some()
                || self.candidates.is_some()
                || self.unit.is_some()
                || self.top_m.is_some()
                || self.observed.is_some()
                || self.event_cap.is_some()
                || self.blend.is_some()
                || self.refresh.is_some()
            {
                return Err(invalid(
                    "privacy",
                    "epsilon: Infinity turns privacy off; a budget, delta, candidates, unit, topM, observed, eventCap, blend or refresh makes no sense with it",
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
            None if device => DEFAULT_DEVICE_BUDGET_EPSILON.max(epsilon),
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
            None if device => Some(DEFAULT_DEVICE_CANDIDATES),
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
        let unit = match self.unit.as_deref() {
            None | Some("device") => PrivacyUnit::Device,
            Some("history") => PrivacyUnit::History,
            Some("event") if mechanism == Mechanism::GaussianProfile => PrivacyUnit::Event,
            Some("event") => {
                return Err(invalid(
                    "privacy.unit",
                    "'event' is defined for the gaussian mechanism only",
                ))
            }
            Some(other) => {
                return Err(invalid(
                    "privacy.unit",
                    format!("expected 'device', 'history' or 'event', got '{other}'"),
                ))
            }
        };
        let mut observed_visit = false;
        for class in self.observed.iter().flatten() {
            match class.as_str() {
                "visit" if unit == PrivacyUnit::Device => observed_visit = true,
                "visit" => {
                    return Err(invalid(
                        "privacy.observed",
                        "observed event classes apply to unit 'device' only",
                    ))
                }
                other => {
                    return Err(invalid(
                        "privacy.observed",
                        format!("unknown event class '{other}' (expected 'visit')"),
                    ))
                }
            }
        }
        let event_cap = match self.event_cap {
            None => DEFAULT_EVENT_CAP.max(epsilon),
            Some(c) if c.is_finite() && c >= epsilon && c <= MAX_EPSILON => c,
            Some(c) => {
                return Err(invalid(
                    "privacy.eventCap",
                    format!(
                        "must be a finite number from the release's epsilon ({}) to {}, got {}",
                        Num(epsilon),
                        Num(MAX_EPSILON),
                        Num(c)
                    ),
                ))
            }
        };
        let blend = match self.blend {
            None => DEFAULT_BLEND,
            Some(b) if b.is_finite() && (0.0..=1000.0).contains(&b) => b,
            Some(b) => {
                return Err(invalid(
                    "privacy.blend",
                    format!("must be a number from 0 to 1000, got {}", Num(b)),
                ))
            }
        };
        if unit != PrivacyUnit::Device && (self.event_cap.is_some() || self.blend.is_some()) {
            return Err(invalid(
                "privacy",
                "eventCap and blend apply to unit 'device' only",
            ));
        }
        let top_m = match self.top_m {
            None => None,
            Some(m) if m.fract() == 0.0 && (1.0..=MAX_CANDIDATES as f64).contains(&m) => {
                Some(m as usize)
            }
            Some(m) => {
                return Err(invalid(
                    "privacy.topM",
                    format!(
                        "must be a whole number from 1 to {MAX_CANDIDATES}, got {}",
                        Num(m)
                    ),
                ))
            }
        };
        let refresh_on_page = match self.refresh.as_deref() {
            None | Some("record") => false,
            Some("page") if unit == PrivacyUnit::Device => true,
            Some(other) => {
                return Err(invalid(
                    "privacy.refresh",
                    format!("expected 'record' or 'page' (unit 'device' only), got '{other}'"),
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
            unit,
            observed_visit,
            event_cap,
            blend: blend as f32,
            top_m,
            candidates,
            refresh_on_page,
            auto_candidates: self.candidates.is_none(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<PrivacyConfig, String> {
        let o: PrivacyOptions = serde_json::from_str(json).map_err(|e| e.to_string())?;
        o.validate().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_valid_and_private() {
        let PrivacyConfig::On(c) = PrivacyConfig::default() else {
            panic!("the default must be private");
        };
        assert_eq!(c.unit, PrivacyUnit::Device);
        assert_eq!(c.epsilon, accountant::rho_on_grid(DEFAULT_DEVICE_EPSILON));
        assert_eq!(c.delta, DEFAULT_DELTA);
        assert_eq!(c.budget.epsilon, DEFAULT_DEVICE_BUDGET_EPSILON);
        assert_eq!(c.budget.period_ms, Some(DEFAULT_PERIOD_MS));
        assert_eq!(c.event_cap, DEFAULT_EVENT_CAP);
        assert!(!c.observed_visit);
        assert_eq!(c.mechanism, Mechanism::default());
        assert!(calibrate::epsilon_for(c.rho, c.delta) <= c.epsilon + 1e-9);
        // The whole-history unit keeps its own defaults.
        let Ok(PrivacyConfig::On(h)) = parse(r#"{"unit":"history"}"#) else {
            panic!()
        };
        assert_eq!(h.epsilon, accountant::rho_on_grid(DEFAULT_EPSILON));
        assert_eq!(h.budget.epsilon, DEFAULT_BUDGET_EPSILON);
    }

    #[test]
    fn device_unit_options_are_validated() {
        let Ok(PrivacyConfig::On(c)) =
            parse(r#"{"epsilon":2,"observed":["visit"],"eventCap":20,"blend":0.5}"#)
        else {
            panic!()
        };
        assert!(c.observed_visit);
        assert_eq!((c.event_cap, c.blend), (20.0, 0.5));
        for bad in [
            r#"{"observed":["cart"]}"#,
            r#"{"unit":"history","observed":["visit"]}"#,
            r#"{"unit":"history","blend":1}"#,
            r#"{"epsilon":4,"eventCap":2}"#,
            r#"{"blend":-1}"#,
            r#"{"epsilon":"Infinity","observed":["visit"]}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
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
    fn unit_and_top_m_are_validated_options() {
        let Ok(PrivacyConfig::On(c)) = parse(r#"{"mechanism":"gaussian","unit":"event"}"#) else {
            panic!()
        };
        assert_eq!(c.unit, PrivacyUnit::Event);
        let Ok(PrivacyConfig::On(c)) = parse(r#"{"topM":25}"#) else {
            panic!()
        };
        assert_eq!(c.top_m, Some(25));
        for bad in [
            r#"{"unit":"event"}"#,
            r#"{"unit":"page"}"#,
            r#"{"topM":0}"#,
            r#"{"topM":2.5}"#,
            r#"{"epsilon":"Infinity","topM":3}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
