//! The privacy flags of `vitrine eval`, turned into the engine's own validated privacy options,
//! and how the report describes them.

use serde::Serialize;
use vitrine::privacy::{
    self, BudgetOptions, Calibrated, CandidatesInput, EpsilonInput, PeriodInput, PrivacyConfig,
    PrivacyOptions,
};
use vitrine::Shopper;

/// `--epsilon`, `--delta`, `--budget-epsilon`, `--unit` of `vitrine eval`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PrivacyArgs {
    /// Make every prediction a differentially private release with this ε (a number, or `inf`
    /// for the explicit non-private path through the same code). Absent: the raw history.
    #[arg(long, value_parser = parse_epsilon)]
    pub epsilon: Option<f64>,
    /// δ of each release (and of the session budget).
    #[arg(long, default_value_t = privacy::DEFAULT_DELTA)]
    pub delta: f64,
    /// A budget of this ε per test session (composed in zCDP); once spent, predictions reuse the
    /// session's last release. Absent: every prediction is a fresh release at --epsilon.
    #[arg(long)]
    pub budget_epsilon: Option<f64>,
    /// What a release protects: `device` (the engine's default: the device-only record — the
    /// user's earlier sessions from --device-history — conditional on the test session, which is
    /// the page's own), `history` (any two whole histories, the test session included) or `event`
    /// (one item event more or less; weaker, Gaussian only, for comparison).
    #[arg(long, value_enum, default_value_t = UnitArg::Device)]
    pub unit: UnitArg,
    /// `--unit device`: the weight of the device release in the profile (the engine's `blend`).
    #[arg(long)]
    pub blend: Option<f64>,
    /// `--unit device`: each stored event's lifetime cap in ε (the engine's `eventCap`).
    #[arg(long)]
    pub event_cap: Option<f64>,
    /// `--unit device`: `record` (a fresh release only when the device-only record changes: once
    /// per test session) or `page` (also at every prediction, within the budget).
    #[arg(long)]
    pub refresh: Option<String>,
    /// The mechanism: `exponential` (one anchor item, pure ε-DP) or `gaussian` (noisy profile).
    #[arg(long, value_enum, default_value_t = MechanismArg::Exponential)]
    pub mechanism: MechanismArg,
    /// The exponential mechanism's top-set size m (default: the engine's rule).
    #[arg(long)]
    pub top_m: Option<usize>,
    /// The exponential mechanism's candidates: the N most popular items (0: the whole catalog;
    /// default: the engine's).
    #[arg(long)]
    pub candidates: Option<usize>,
}

/// `--unit`: what a release protects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum UnitArg {
    /// The device-only record, conditional on what the page provided (the engine's default).
    #[default]
    Device,
    /// Any two whole histories.
    History,
    /// One item event more or less (weaker; Gaussian only, for comparison).
    Event,
}

impl UnitArg {
    /// The engine's name for it (`PrivacyOptions::unit`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::History => "history",
            Self::Event => "event",
        }
    }
}

/// `--mechanism`: how a release is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum MechanismArg {
    /// One anchor item by the exponential mechanism (pure ε-DP).
    #[default]
    Exponential,
    /// A noisy profile (Gaussian mechanism).
    Gaussian,
}

impl MechanismArg {
    /// The engine's name for it (`PrivacyOptions::mechanism`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exponential => "exponential",
            Self::Gaussian => "gaussian",
        }
    }
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
    pub fn options(&self, longest: usize) -> anyhow::Result<PrivacyOptions> {
        let Some(epsilon) = self.epsilon else {
            if self.budget_epsilon.is_some() {
                crate::exit::fail!(Usage, "--budget-epsilon needs --epsilon");
            }
            return Ok(PrivacyOptions {
                epsilon: Some(EpsilonInput(f64::INFINITY)),
                ..Default::default()
            });
        };
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
                    crate::exit::fail!(
                        Usage,
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
            mechanism: Some(self.mechanism.as_str().to_owned()),
            candidates: self
                .candidates
                .map(|n| CandidatesInput((n > 0).then_some(n as f64))),
            unit: Some(self.unit.as_str().to_owned()),
            top_m: self.top_m.map(|m| m as f64),
            observed: None,
            event_cap: self.event_cap,
            blend: self.blend,
            refresh: self.refresh.clone(),
        })
    }

    /// What the report says about the settings a shopper runs with (`None`: the raw history).
    pub fn report(&self, shopper: &Shopper) -> Option<EvalPrivacy> {
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

/// `--epsilon` (clap's value parser: a bad value is a usage error): a number, or `inf` /
/// `Infinity` (any case: what `f64`'s parser accepts).
pub fn parse_epsilon(s: &str) -> Result<f64, String> {
    let s = s.trim();
    s.parse()
        .map_err(|_| format!("expected a number or inf, got '{s}'"))
}
