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
pub mod error;
pub mod interleave;
pub mod ldp;
pub mod manifest;
pub mod ope;
pub mod report;

pub use assign::{assign, experiment_label, DeviceId, Enrollment};
pub use device::{DeviceEvent, DeviceExperiments, MeasurementStatus};
pub use error::ExperimentError;
pub use interleave::{team_draft, InterleavedList, Team};
pub use ldp::BitRandomizer;
pub use manifest::{
    Design, Manifest, MetricKind, ValidArm, ValidExperiment, ValidManifest, ValidMetric,
};
pub use ope::{OpeImpression, OpeTally};
pub use report::{Report, REPORT_VERSION};
