//! `experiments.json` as written: the serde types of the manifest, before any check (unknown
//! fields are refused here; every other rule is in `validate.rs`).

use serde::Deserialize;

use crate::privacy::PrivacyOptions;
use crate::rank::RankOptions;

/// The manifest as written (before validation).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub experiments: Vec<ExperimentInput>,
}

/// One experiment as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentInput {
    pub id: String,
    pub salt: String,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub design: Option<String>,
    #[serde(default)]
    pub namespace: Option<NamespaceInput>,
    pub arms: Vec<ArmInput>,
    pub metrics: Vec<MetricInput>,
    #[serde(default)]
    pub report: Option<ReportSettingsInput>,
}

/// `{name, range: [lo, hi]}`: experiments of one namespace take disjoint ranges of its buckets,
/// so a device is in at most one of them (mutually exclusive tests).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceInput {
    pub name: String,
    pub range: [f64; 2],
}

/// One arm as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmInput {
    pub name: String,
    /// Share of the (namespace's) devices in this arm (A/B designs; absent for interleaving).
    #[serde(default)]
    pub allocation: Option<f64>,
    #[serde(default)]
    pub settings: ArmSettings,
}

/// What an arm changes: another bundle, shelf options, privacy settings (all optional).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmSettings {
    /// The bundle's URL, relative to the manifest.
    #[serde(default)]
    pub bundle: Option<String>,
    /// Shelf options (the engine's `RankOptions`).
    #[serde(default)]
    pub options: Option<RankOptions>,
    /// Privacy settings (the engine's `PrivacyOptions`), checked here.
    #[serde(default)]
    pub privacy: Option<PrivacyOptions>,
}

/// One metric as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricInput {
    pub name: String,
    #[serde(default)]
    pub epsilon: Option<f64>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
}

/// `report` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSettingsInput {
    /// ε of the one report (must equal the sum of the layer-1 metrics' ε).
    #[serde(default)]
    pub epsilon: Option<f64>,
    /// Days after the device's first trigger that its report covers (default 14).
    #[serde(default)]
    pub window_days: Option<f64>,
    /// Days after an order within which another order counts as a repeat purchase (default 30).
    #[serde(default)]
    pub repeat_days: Option<f64>,
    #[serde(default)]
    pub ope: Option<OpeSettingsInput>,
}

/// `report.ope` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeSettingsInput {
    /// Importance weights are clipped to `[0, clip]`.
    pub clip: f64,
    /// The candidate setting to evaluate: privacy options of its release.
    pub candidate: PrivacyOptions,
    /// `{share, epsilon}`: that share of releases is drawn at a low ε, so every item keeps a
    /// propensity bounded away from 0.
    pub exploration: ExplorationInput,
    /// The public reward model of the doubly robust estimate: click rate of a shelf whose anchor
    /// is in the model's top set, and of one whose anchor is not.
    pub reward_model: RewardModelInput,
}

/// `report.ope.exploration` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplorationInput {
    pub share: f64,
    pub epsilon: f64,
}

/// `report.ope.reward_model` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardModelInput {
    pub top: f64,
    pub rest: f64,
}
