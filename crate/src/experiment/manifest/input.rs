//! `experiments.json` as written: the types of the manifest, before any check (unknown fields are
//! refused here; every other rule is in `validate.rs`). Each one is declared with
//! [`crate::wire!`], so serde reads the JSON natively and the wasm layer reads the page's parsed
//! JSON with its JS-value reader (no JSON parser in the wasm).

use crate::privacy::PrivacyOptions;
use crate::rank::RankOptions;

crate::wire! {
    /// The manifest as written (before validation).
    #[derive(Debug, Clone, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Manifest {
        format: String = "format",
        version: u64 = "version",
        experiments: Vec<ExperimentInput> = "experiments",
    }
}

crate::wire! {
    /// One experiment as written.
    #[derive(Debug, Clone, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ExperimentInput {
        id: String = "id",
        salt: String = "salt",
        start: String = "start",
        end: String = "end",
        #[serde(default)]
        design: Option<String> = "design",
        #[serde(default)]
        namespace: Option<NamespaceInput> = "namespace",
        arms: Vec<ArmInput> = "arms",
        metrics: Vec<MetricInput> = "metrics",
        #[serde(default)]
        report: Option<ReportSettingsInput> = "report",
    }
}

crate::wire! {
    /// `{name, range: [lo, hi]}`: experiments of one namespace take disjoint ranges of its buckets,
    /// so a device is in at most one of them (mutually exclusive tests).
    #[derive(Debug, Clone, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct NamespaceInput {
        name: String = "name",
        range: [f64; 2] = "range",
    }
}

crate::wire! {
    /// One arm as written.
    #[derive(Debug, Clone, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ArmInput {
        name: String = "name",
        /// Share of the (namespace's) devices in this arm (A/B designs; absent for interleaving).
        #[serde(default)]
        allocation: Option<f64> = "allocation",
        #[serde(default)]
        settings: ArmSettings = "settings",
    }
}

crate::wire! {
    /// What an arm changes: another bundle, shelf options, privacy settings (all optional).
    #[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ArmSettings {
        /// The bundle's URL, relative to the manifest.
        #[serde(default)]
        bundle: Option<String> = "bundle",
        /// Shelf options (the engine's `RankOptions`).
        #[serde(default)]
        options: Option<RankOptions> = "options",
        /// Privacy settings (the engine's `PrivacyOptions`), checked here.
        #[serde(default)]
        privacy: Option<PrivacyOptions> = "privacy",
    }
}

crate::wire! {
    /// One metric as written.
    #[derive(Debug, Clone, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct MetricInput {
        name: String = "name",
        #[serde(default)]
        epsilon: Option<f64> = "epsilon",
        #[serde(default)]
        min: Option<f64> = "min",
        #[serde(default)]
        max: Option<f64> = "max",
    }
}

crate::wire! {
    /// `report` as written.
    #[derive(Debug, Clone, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ReportSettingsInput {
        /// ε of the one report (must equal the sum of the layer-1 metrics' ε).
        #[serde(default)]
        epsilon: Option<f64> = "epsilon",
        /// Days after the device's first trigger that its report covers (default 14).
        #[serde(default)]
        window_days: Option<f64> = "window_days",
        /// Days after an order within which another order counts as a repeat purchase (default 30).
        #[serde(default)]
        repeat_days: Option<f64> = "repeat_days",
        #[serde(default)]
        ope: Option<OpeSettingsInput> = "ope",
    }
}

crate::wire! {
    /// `report.ope` as written.
    #[derive(Debug, Clone, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct OpeSettingsInput {
        /// Importance weights are clipped to `[0, clip]`.
        clip: f64 = "clip",
        /// The candidate setting to evaluate: privacy options of its release.
        candidate: PrivacyOptions = "candidate",
        /// `{share, epsilon}`: that share of releases is drawn at a low ε, so every item keeps a
        /// propensity bounded away from 0.
        exploration: ExplorationInput = "exploration",
        /// The public reward model of the doubly robust estimate: click rate of a shelf whose
        /// anchor is in the model's top set, and of one whose anchor is not.
        reward_model: RewardModelInput = "reward_model",
    }
}

crate::wire! {
    /// `report.ope.exploration` as written.
    #[derive(Debug, Clone, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ExplorationInput {
        share: f64 = "share",
        epsilon: f64 = "epsilon",
    }
}

crate::wire! {
    /// `report.ope.reward_model` as written.
    #[derive(Debug, Clone, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RewardModelInput {
        top: f64 = "top",
        rest: f64 = "rest",
    }
}
