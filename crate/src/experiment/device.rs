//! What the device keeps per experiment (with consent, next to the session state): its arm, the
//! counterfactual trigger, the tallies of its layer-1 metrics, whether the one order label and
//! the one report were used — and the **measurement budget**: the total ε of all reports the
//! device may ever send (per origin), shown in `privacyStatus()`.
//!
//! Counterfactual logging: [`DeviceExperiments::record_trigger`] is called wherever the
//! experiment's shelf *would* render, in every arm (control included), and only triggered devices
//! tally and report, so both arms are compared on the same population.
//!
//! Write-ahead: [`DeviceExperiments::take_report`] marks the experiment reported and charges the
//! budget *before* it returns the report; the page persists the state, then sends the report.
//! A lost send is never retried with a fresh report (only the same report, same id).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::experiment::error::ExperimentError;
use crate::experiment::interleave::{InterleavingTally, Team};
use crate::experiment::manifest::{MetricKind, ValidExperiment};
use crate::experiment::ope::{OpeImpression, OpeTally};
use crate::experiment::report::{RawValues, Report};
use crate::numfmt::Num;
use crate::privacy::rng::RandomSource;

/// The stored state's `format`.
pub const STATE_FORMAT: &str = "vitrine-experiment-state";
/// Default measurement budget: the total ε of the reports a device sends, ever, per origin.
pub const DEFAULT_MEASUREMENT_EPSILON: f64 = 8.0;
/// Most experiments a device keeps a tally for.
pub const MAX_TALLIES: usize = 64;

crate::wire! {
    /// One experiment's tally on the device.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ExperimentTally {
        /// The arm label (`interleaved` for interleaving experiments).
        arm: String = "arm",
        /// When the shelf first would have rendered (ms since the epoch); the window starts here.
        first_trigger_ms: f64 = "first_trigger_ms",
        triggers: u32 = "triggers",
        shelf_clicks: u32 = "shelf_clicks",
        shelf_add_to_cart: u32 = "shelf_add_to_cart",
        purchases: u32 = "purchases",
        order_value: f64 = "order_value",
        ope: OpeTally = "ope",
        interleaving: InterleavingTally = "interleaving",
        /// The one order label was handed out.
        order_labelled: bool = "order_labelled",
        /// The one report was built (and its ε charged).
        reported: bool = "reported",
    }
}

/// A device-side event of an experiment's shelf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DeviceEvent {
    /// A click on an item of the experiment's shelf.
    ShelfClick,
    /// An add-to-cart of an item clicked on the shelf.
    ShelfAddToCart,
    /// An order of this value (the store's currency units).
    Purchase(f64),
    /// A shelf shown, logged for off-policy evaluation (the manifest's `report.ope.clip` applies).
    Ope(OpeImpression),
    /// A click on an interleaved shelf, credited to a team.
    Interleaving(Team),
}

/// What `privacyStatus()` shows about measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasurementStatus {
    /// Total ε the device may spend on reports.
    pub budget_epsilon: f64,
    /// ε spent on reports so far.
    pub spent_epsilon: f64,
    /// Experiments the device was triggered in.
    pub experiments: usize,
    /// Reports built.
    pub reports: usize,
}

crate::wire! {
    /// The device's experiment state (serializable for storage; the wasm layer reads and writes
    /// it as JS values with the same field names).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct DeviceExperiments {
        format: String = "format",
        budget_epsilon: f64 = "budget_epsilon",
        spent_epsilon: f64 = "spent_epsilon",
        tallies: BTreeMap<String, ExperimentTally> = "tallies",
    }
}

impl Default for DeviceExperiments {
    fn default() -> Self {
        Self::new(DEFAULT_MEASUREMENT_EPSILON)
    }
}

impl DeviceExperiments {
    /// An empty state with a measurement budget of `budget_epsilon` (≥ 0).
    pub fn new(budget_epsilon: f64) -> Self {
        Self {
            format: STATE_FORMAT.to_string(),
            budget_epsilon: if budget_epsilon.is_finite() {
                budget_epsilon.max(0.0)
            } else {
                0.0
            },
            spent_epsilon: 0.0,
            tallies: BTreeMap::new(),
        }
    }

    /// Restores a stored state. A corrupt one is an error (`state_corrupt`); the caller then
    /// starts a new state with no budget left (`DeviceExperiments::new(0.0)`) unless it knows
    /// that nothing was sent, so a damaged store can never refill the budget.
    pub fn from_json(text: &str) -> Result<Self, ExperimentError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let s: Self =
            serde_path_to_error::deserialize(de).map_err(crate::experiment::error::json_error)?;
        s.checked()
    }

    /// The state if its values are sound (`state_corrupt` otherwise): what every reader of a
    /// stored state calls after reading it (natively [`DeviceExperiments::from_json`]).
    pub fn checked(self) -> Result<Self, ExperimentError> {
        let s = self;
        let ok = s.format == STATE_FORMAT
            && s.budget_epsilon.is_finite()
            && s.budget_epsilon >= 0.0
            && s.spent_epsilon.is_finite()
            && s.spent_epsilon >= 0.0
            && s.tallies.len() <= MAX_TALLIES;
        if !ok {
            return Err(ExperimentError::new(
                "state_corrupt",
                "",
                "stored experiment state is not a valid vitrine-experiment-state",
            ));
        }
        Ok(s)
    }

    /// The state as JSON, for storage.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Records that `exp`'s shelf would render here now, for a device in arm `arm` (every arm
    /// calls it). The first trigger starts the report window. Returns `false` when the device
    /// keeps no more tallies ([`MAX_TALLIES`]).
    pub fn record_trigger(&mut self, exp: &ValidExperiment, arm: &str, now_ms: f64) -> bool {
        if let Some(t) = self.tallies.get_mut(&exp.id) {
            t.triggers = t.triggers.saturating_add(1);
            return true;
        }
        if self.tallies.len() >= MAX_TALLIES || !now_ms.is_finite() {
            return false;
        }
        self.tallies.insert(
            exp.id.clone(),
            ExperimentTally {
                arm: arm.to_string(),
                first_trigger_ms: now_ms,
                triggers: 1,
                shelf_clicks: 0,
                shelf_add_to_cart: 0,
                purchases: 0,
                order_value: 0.0,
                ope: OpeTally::default(),
                interleaving: InterleavingTally::default(),
                order_labelled: false,
                reported: false,
            },
        );
        true
    }

    /// Tallies an event for a triggered, not yet reported experiment inside its window
    /// (returns whether it counted).
    pub fn record(&mut self, exp: &ValidExperiment, event: DeviceEvent, now_ms: f64) -> bool {
        let Some(t) = self.tallies.get_mut(&exp.id) else {
            return false;
        };
        if t.reported
            || !(now_ms >= t.first_trigger_ms && now_ms < t.first_trigger_ms + exp.window_ms)
        {
            return false;
        }
        match event {
            DeviceEvent::ShelfClick => t.shelf_clicks = t.shelf_clicks.saturating_add(1),
            DeviceEvent::ShelfAddToCart => {
                t.shelf_add_to_cart = t.shelf_add_to_cart.saturating_add(1)
            }
            DeviceEvent::Purchase(v) => {
                if !(v.is_finite() && v >= 0.0) {
                    return false;
                }
                t.purchases = t.purchases.saturating_add(1);
                t.order_value += v;
            }
            DeviceEvent::Ope(imp) => {
                let clip = exp.ope.as_ref().map_or(1.0, |o| o.clip);
                return exp.ope.is_some() && t.ope.record(&imp, clip);
            }
            DeviceEvent::Interleaving(team) => t.interleaving.credit(team),
        }
        true
    }

    /// The layer-0 label for one order (`"<experiment>:<arm>"`), handed out at most once per
    /// experiment; `None` afterwards or when the device was not triggered.
    pub fn order_label(&mut self, exp: &ValidExperiment) -> Option<String> {
        let t = self.tallies.get_mut(&exp.id)?;
        if t.order_labelled {
            return None;
        }
        t.order_labelled = true;
        Some(format!("{}:{}", exp.id, t.arm))
    }

    /// The raw values of `exp`'s layer-1 metrics from the tally (devices without OPE impressions
    /// report the neutral values `0, 0, DM = 0`).
    pub fn raw_values(&self, exp: &ValidExperiment) -> Option<RawValues> {
        let t = self.tallies.get(&exp.id)?;
        let (ips, w, dr) = t.ope.means().unwrap_or((0.0, 0.0, 0.0));
        let bit = |x: u32| if x > 0 { 1.0 } else { 0.0 };
        Some(
            exp.report_metrics()
                .map(|m| {
                    let v = match m.kind {
                        MetricKind::ShelfClick => bit(t.shelf_clicks),
                        MetricKind::ShelfAddToCart => bit(t.shelf_add_to_cart),
                        MetricKind::Purchase => bit(t.purchases),
                        MetricKind::ShelfClicks => f64::from(t.shelf_clicks),
                        MetricKind::OrderValue => t.order_value,
                        MetricKind::OpeIps => ips,
                        MetricKind::OpeWeight => w,
                        MetricKind::OpeDr => dr,
                        MetricKind::InterleavingCredit => t.interleaving.outcome(),
                        // Layer-0 metrics are never report metrics.
                        _ => 0.0,
                    };
                    (m.name.clone(), v)
                })
                .collect(),
        )
    }

    /// Whether `exp`'s report is due: triggered, not reported, and its window (or the
    /// experiment) is over.
    pub fn report_due(&self, exp: &ValidExperiment, now_ms: f64) -> bool {
        self.tallies.get(&exp.id).is_some_and(|t| {
            !t.reported
                && exp.report_epsilon > 0.0
                && (now_ms >= t.first_trigger_ms + exp.window_ms || now_ms >= exp.end_ms)
        })
    }

    /// Builds `exp`'s one report when it is due (`Ok(None)` when not), charging its ε to the
    /// measurement budget first (error `measurement_budget` when it does not fit: nothing is
    /// built and the experiment stays unreported).
    pub fn take_report<R: RandomSource + ?Sized>(
        &mut self,
        exp: &ValidExperiment,
        now_ms: f64,
        rng: &mut R,
    ) -> Result<Option<Report>, ExperimentError> {
        if !self.report_due(exp, now_ms) {
            return Ok(None);
        }
        if self.spent_epsilon + exp.report_epsilon > self.budget_epsilon + 1e-12 {
            return Err(ExperimentError::new(
                "measurement_budget",
                "",
                format!(
                    "the report of '{}' (ε = {}) does not fit the measurement budget ({} of {} spent)",
                    exp.id,
                    Num(exp.report_epsilon),
                    Num(self.spent_epsilon),
                    Num(self.budget_epsilon)
                ),
            ));
        }
        let (Some(raw), Some(arm)) = (
            self.raw_values(exp),
            self.tallies.get(&exp.id).map(|t| t.arm.clone()),
        ) else {
            return Ok(None);
        };
        let report = Report::build(exp, &arm, &raw, rng)?;
        self.spent_epsilon += exp.report_epsilon;
        if let Some(t) = self.tallies.get_mut(&exp.id) {
            t.reported = true;
        }
        Ok(Some(report))
    }

    /// What `privacyStatus()` shows.
    pub fn status(&self) -> MeasurementStatus {
        MeasurementStatus {
            budget_epsilon: self.budget_epsilon,
            spent_epsilon: self.spent_epsilon,
            experiments: self.tallies.len(),
            reports: self.tallies.values().filter(|t| t.reported).count(),
        }
    }

    /// Forgets the tallies (not the spent budget: what was sent stays spent).
    pub fn forget(&mut self) {
        self.tallies.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::manifest::ValidManifest;
    use crate::privacy::rng::InsecureSeededRngForTestsOnly as SeededRng;

    fn manifest() -> ValidManifest {
        ValidManifest::from_json(
            r#"{"format":"vitrine-experiments","version":1,"experiments":[{
            "id":"e1","salt":"0123456789abcdef","start":"2026-01-01","end":"2026-02-01",
            "arms":[{"name":"a","allocation":0.5},{"name":"b","allocation":0.5}],
            "metrics":[{"name":"shelf_click","epsilon":2},{"name":"order_value","max":100,"epsilon":1}],
            "report":{"epsilon":3,"window_days":7}}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn one_report_per_experiment_after_the_window_charged_first() {
        let m = manifest();
        let e = &m.experiments()[0];
        let mut d = DeviceExperiments::new(5.0);
        let t0 = e.start_ms + 1000.0;
        let mut rng = SeededRng::from_seed(10);
        assert!(
            !d.record(e, DeviceEvent::ShelfClick, t0),
            "not triggered yet"
        );
        assert!(d.record_trigger(e, "b", t0));
        assert!(d.record(e, DeviceEvent::ShelfClick, t0 + 1.0));
        assert!(d.record(e, DeviceEvent::Purchase(40.0), t0 + 2.0));
        assert!(!d.record(e, DeviceEvent::Purchase(f64::NAN), t0 + 2.0));
        let raw = d.raw_values(e).unwrap();
        assert_eq!(raw["shelf_click"], 1.0);
        assert_eq!(raw["order_value"], 40.0);
        assert_eq!(
            d.take_report(e, t0 + 10.0, &mut rng).unwrap(),
            None,
            "window open"
        );
        let day = 86_400_000.0;
        assert!(
            !d.record(e, DeviceEvent::ShelfClick, t0 + 8.0 * day),
            "after the window"
        );
        let r = d.take_report(e, t0 + 8.0 * day, &mut rng).unwrap().unwrap();
        assert_eq!((r.arm.as_str(), r.epsilon), ("b", 3.0));
        assert_eq!(d.status().spent_epsilon, 3.0);
        assert_eq!(
            d.take_report(e, t0 + 9.0 * day, &mut rng).unwrap(),
            None,
            "only once"
        );
        // State round trip keeps the spent budget and the reported flag.
        let back = DeviceExperiments::from_json(&d.to_json()).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.status().reports, 1);
    }

    #[test]
    fn budget_refuses_and_labels_are_single_use() {
        let m = manifest();
        let e = &m.experiments()[0];
        let mut d = DeviceExperiments::new(2.0);
        let mut rng = SeededRng::from_seed(11);
        d.record_trigger(e, "a", e.start_ms);
        assert_eq!(d.order_label(e).as_deref(), Some("e1:a"));
        assert_eq!(d.order_label(e), None);
        let err = d.take_report(e, e.end_ms, &mut rng).unwrap_err();
        assert_eq!(err.code, "measurement_budget");
        assert_eq!(d.status().spent_epsilon, 0.0);
        assert!(DeviceExperiments::from_json("{}").is_err());
        assert!(DeviceExperiments::from_json(
            &d.to_json()
                .replace("\"spent_epsilon\":0.0", "\"spent_epsilon\":-1.0")
        )
        .is_err());
    }
}
