//! Experiments that measure causal lift without personal data (`docs/EXPERIMENTS.md`).
//!
//! ```text
//! experiments.json ─► manifest (validated: ValidManifest) ─► assign (hash of salt + device id)
//!                                                          ├─► layer 0: the arm label (the device's own coin)
//! on-device tallies (device) ◄─ shelf clicks, orders, ope, interleave
//!        └─► report (one per device per experiment: every value one randomized bit, ldp)
//! ```
//!
//! Everything here is pure Rust without I/O: the page fetches the manifest, stores the device id
//! and the tallies (with consent) and sends the reports; the engine makes no network call. The
//! collector and the analysis (`vitrine exp collect | analyze | simulate`) live in the CLI and
//! reuse [`ldp`]'s debiasing and [`report`]'s checks, so a report means the same thing on both
//! sides.

pub mod assign;
pub mod device;
pub mod interleave;
pub mod ldp;
pub mod manifest;
pub mod ope;
pub mod report;

pub use assign::{assign, experiment_label, DeviceId, Enrollment};
pub use device::{DeviceEvent, DeviceExperiments, MeasurementStatus};
pub use interleave::{team_draft, InterleavedList, Team};
pub use ldp::BitRandomizer;
pub use manifest::{
    Design, Manifest, MetricKind, ValidArm, ValidExperiment, ValidManifest, ValidMetric,
};
pub use ope::{OpeImpression, OpeTally};
pub use report::{Report, REPORT_VERSION};

use thiserror::Error;

/// Why a manifest, a report or an experiment call was refused: a stable machine-readable `code`
/// (e.g. `unknown_field`, `allocation`, `wrong_epsilon`), the JSON path of the bad field
/// (`experiments[0].arms[1].allocation`; `` for the whole document) and a sentence for people.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message} (at '{path}', code {code})")]
pub struct ExperimentError {
    /// Stable code of the error's kind.
    pub code: &'static str,
    /// JSON path of the field at fault.
    pub path: String,
    /// What was expected and what was found.
    pub message: String,
}

impl ExperimentError {
    /// An error of kind `code` at `path`.
    pub fn new(code: &'static str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<crate::error::PrivacyError> for ExperimentError {
    fn from(e: crate::error::PrivacyError) -> Self {
        Self::new("privacy", "", e.to_string())
    }
}
