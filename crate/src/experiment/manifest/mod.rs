//! `experiments.json`: the manifest served next to the bundle, read once into a
//! [`ValidManifest`] (every field checked; unknown fields are errors with their JSON path).
//!
//! ```json
//! {"format": "vitrine-experiments", "version": 1, "experiments": [{
//!   "id": "home-shelf-2026-12", "salt": "6f1c0e9a2b7d4c3e", "start": "2026-12-01", "end": "2027-01-01",
//!   "namespace": {"name": "home-shelf", "range": [0, 0.5]},
//!   "arms": [{"name": "control", "allocation": 0.5, "settings": {"privacy": {"epsilon": 8}}},
//!            {"name": "treatment", "allocation": 0.5, "settings": {"bundle": "store-b.vtr"}}],
//!   "metrics": [{"name": "conversion"}, {"name": "shelf_click", "epsilon": 1}],
//!   "report": {"epsilon": 1, "window_days": 14, "repeat_days": 30}}]}
//! ```
//!
//! Dates are UTC days: an experiment enrolls from `start` 00:00 (inclusive) to `end` 00:00
//! (exclusive). Allocations and namespace ranges are fractions on a grid of 10⁻⁴ (the device hashes
//! into 10,000 buckets). The full schema is in `docs/EXPERIMENTS.md`.
//!
//! The manifest as written (`input.rs`: serde types, nothing checked), its validated form
//! (`valid.rs`: what assignment, the device and the reports read) and the checks between them
//! (`validate.rs`: [`ValidManifest::from_json`] and [`Manifest::validate`]).

mod input;
mod valid;
mod validate;

pub use input::{
    ArmInput, ArmSettings, ExperimentInput, ExplorationInput, Manifest, MetricInput,
    NamespaceInput, OpeSettingsInput, ReportSettingsInput, RewardModelInput,
};
pub use valid::{
    Design, MetricKind, OpeSettings, ValidArm, ValidExperiment, ValidManifest, ValidMetric,
    BUCKETS, FORMAT, INTERLEAVED, MAX_ARMS, MAX_EXPERIMENTS, MAX_METRICS, MAX_OPE_CLIP,
    MAX_REPORT_EPSILON, VERSION,
};
pub use validate::parse_date_days;
