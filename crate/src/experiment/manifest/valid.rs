//! The validated manifest: what assignment, the device's tallies and the reports read. Built only
//! by `validate.rs`, so every value here has passed the manifest's checks.

use crate::experiment::ldp::BitRandomizer;
use crate::experiment::manifest::input::ArmSettings;
use crate::privacy::PrivacyOptions;

/// The `format` every manifest names.
pub const FORMAT: &str = "vitrine-experiments";
/// The manifest schema version this reader understands.
pub const VERSION: u32 = 1;
/// Buckets of the device hash: allocations are multiples of 1 / `BUCKETS`.
pub const BUCKETS: u32 = 10_000;
/// Most experiments in one manifest.
pub const MAX_EXPERIMENTS: usize = 64;
/// Most arms of one experiment.
pub const MAX_ARMS: usize = 16;
/// Most metrics of one experiment.
pub const MAX_METRICS: usize = 16;
/// Largest ε of one report (all its values together).
pub const MAX_REPORT_EPSILON: f64 = 16.0;
/// Largest importance-weight clip.
pub const MAX_OPE_CLIP: f64 = 1000.0;
/// One day, ms.
pub(super) const DAY_MS: f64 = 86_400_000.0;

/// How an experiment compares its arms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Design {
    /// Each device sees one arm.
    AB,
    /// Each device's shelf interleaves both arms' rankings (team draft); reports carry the arm
    /// label [`INTERLEAVED`].
    Interleaving,
}

/// The arm label of devices in an interleaving experiment.
pub const INTERLEAVED: &str = "interleaved";

/// What a metric measures (the closed list the device knows how to tally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Layer 0 (the store's own orders joined with the arm label): converted or not.
    Conversion,
    /// Layer 0: revenue per exposed unit.
    Revenue,
    /// Layer 0: order value of the converted units.
    OrderValue0,
    /// Layer 0: another order within `repeat_days`.
    RepeatPurchase,
    /// Layer 1 bit: clicked an item on the experiment's shelf in the window.
    ShelfClick,
    /// Layer 1 bit: added to the cart an item clicked on the shelf.
    ShelfAddToCart,
    /// Layer 1 bit: purchased anything in the window.
    Purchase,
    /// Layer 1 bounded: number of shelf clicks in the window.
    ShelfClicks,
    /// Layer 1 bounded: total order value in the window.
    OrderValue,
    /// Layer 1 bounded: the device's mean clipped importance-weighted reward.
    OpeIps,
    /// Layer 1 bounded: the device's mean clipped importance weight (SNIPS denominator).
    OpeWeight,
    /// Layer 1 bounded: the device's mean doubly robust term.
    OpeDr,
    /// Layer 1 bit: the interleaving winner (1 = second arm, 0 = first, a fair coin on ties).
    InterleavingCredit,
}

impl MetricKind {
    /// Every metric name, in the manifest's spelling.
    pub const ALL: [(&'static str, MetricKind); 13] = [
        ("conversion", Self::Conversion),
        ("revenue", Self::Revenue),
        ("aov", Self::OrderValue0),
        ("repeat_purchase", Self::RepeatPurchase),
        ("shelf_click", Self::ShelfClick),
        ("shelf_add_to_cart", Self::ShelfAddToCart),
        ("purchase", Self::Purchase),
        ("shelf_clicks", Self::ShelfClicks),
        ("order_value", Self::OrderValue),
        ("ope_ips", Self::OpeIps),
        ("ope_weight", Self::OpeWeight),
        ("ope_dr", Self::OpeDr),
        ("interleaving_credit", Self::InterleavingCredit),
    ];

    /// Parses a metric name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    /// 0: measured by the store from its orders and the arm label; 1: a local-DP report value.
    pub fn layer(self) -> u8 {
        match self {
            Self::Conversion | Self::Revenue | Self::OrderValue0 | Self::RepeatPurchase => 0,
            _ => 1,
        }
    }

    /// A bit (randomized response) rather than a bounded value (1BitMean).
    pub fn is_bit(self) -> bool {
        matches!(
            self,
            Self::ShelfClick | Self::ShelfAddToCart | Self::Purchase | Self::InterleavingCredit
        )
    }
}

/// A validated metric.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidMetric {
    pub name: String,
    pub kind: MetricKind,
    /// Layer 1: the randomizer and the clipping range `[lo, hi]` (`[0, 1]` for bits).
    pub ldp: Option<(BitRandomizer, f64, f64)>,
}

/// A validated arm: its bucket range `[lo, hi)` out of [`BUCKETS`] (A/B designs).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidArm {
    pub name: String,
    pub buckets: (u32, u32),
    pub settings: ArmSettings,
}

/// Validated `report.ope`.
#[derive(Debug, Clone, PartialEq)]
pub struct OpeSettings {
    pub clip: f64,
    pub candidate: PrivacyOptions,
    /// The candidate's ε of one release (it is private: validated).
    pub candidate_epsilon: f64,
    pub exploration_share: f64,
    pub exploration_epsilon: f64,
    pub reward_top: f64,
    pub reward_rest: f64,
}

/// A validated experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidExperiment {
    pub id: String,
    pub salt: String,
    /// Enrollment opens (inclusive), ms since the Unix epoch, UTC.
    pub start_ms: f64,
    /// Enrollment closes (exclusive).
    pub end_ms: f64,
    pub design: Design,
    /// The namespace and its bucket range `[lo, hi)` (`None`: its own, all buckets).
    pub namespace: Option<(String, (u32, u32))>,
    pub arms: Vec<ValidArm>,
    pub metrics: Vec<ValidMetric>,
    /// ε of one report (0 when the experiment has no layer-1 metric).
    pub report_epsilon: f64,
    /// A device's report covers this long after its first trigger, ms.
    pub window_ms: f64,
    pub repeat_days: f64,
    pub ope: Option<OpeSettings>,
}

impl ValidExperiment {
    /// The layer-1 metrics, in manifest order.
    pub fn report_metrics(&self) -> impl Iterator<Item = &ValidMetric> {
        self.metrics.iter().filter(|m| m.ldp.is_some())
    }

    /// The metric called `name`.
    pub fn metric(&self, name: &str) -> Option<&ValidMetric> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// Whether `arm` is a label a report of this experiment may carry.
    pub fn has_arm_label(&self, arm: &str) -> bool {
        match self.design {
            Design::AB => self.arms.iter().any(|a| a.name == arm),
            Design::Interleaving => arm == INTERLEAVED,
        }
    }

    /// The arm labels reports carry and each one's expected share of the enrolled units
    /// (for the sample-ratio check).
    pub fn expected_shares(&self) -> Vec<(String, f64)> {
        match self.design {
            Design::Interleaving => vec![(INTERLEAVED.to_string(), 1.0)],
            Design::AB => {
                let total: u32 = self.arms.iter().map(|a| a.buckets.1 - a.buckets.0).sum();
                self.arms
                    .iter()
                    .map(|a| {
                        let w = f64::from(a.buckets.1 - a.buckets.0) / f64::from(total.max(1));
                        (a.name.clone(), w)
                    })
                    .collect()
            }
        }
    }
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidManifest {
    pub(super) experiments: Vec<ValidExperiment>,
}

impl ValidManifest {
    /// The experiments, in manifest order.
    pub fn experiments(&self) -> &[ValidExperiment] {
        &self.experiments
    }

    /// The experiment called `id`.
    pub fn experiment(&self, id: &str) -> Option<&ValidExperiment> {
        self.experiments.iter().find(|e| e.id == id)
    }
}
