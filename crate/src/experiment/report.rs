//! The report: what leaves a device for one experiment, once.
//!
//! ```json
//! {"v": 1, "experiment": "home-shelf-2026-12", "arm": "treatment",
//!  "id": "9f0c…32 hex…", "epsilon": 1.5, "values": {"shelf_click": 1, "order_value": 0}}
//! ```
//!
//! `values` holds one randomized bit per layer-1 metric of the manifest ([`crate::experiment::ldp`]),
//! nothing else: no item id, no timestamp, no device id. `id` is 128 fresh random bits, used only
//! to make retries idempotent (it links to nothing). Per arm and metric, the count of reports and
//! the sum of their bits are the mergeable sums every estimate is computed from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::PrivacyError;
use crate::experiment::assign::{is_hex128, random_hex128};
use crate::experiment::error::json_error;
use crate::experiment::error::ExperimentError;
use crate::experiment::manifest::{ValidExperiment, ValidManifest};
use crate::numfmt::Num;
use crate::privacy::rng::RandomSource;

/// The report schema version.
pub const REPORT_VERSION: u32 = 1;
/// Largest accepted report, in bytes of JSON (a report with 16 metrics is about 500).
pub const MAX_REPORT_BYTES: usize = 4096;

crate::wire! {
    /// One device's report for one experiment (the wasm layer writes it as a JS value with the
    /// same field names).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Report {
        /// Schema version ([`REPORT_VERSION`]).
        v: u32 = "v",
        /// The experiment's id.
        experiment: String = "experiment",
        /// The arm label (`interleaved` in interleaving experiments).
        arm: String = "arm",
        /// 32 lowercase hex digits, random per report: the collector stores a report once per id.
        id: String = "id",
        /// ε of the whole report (the manifest's `report.epsilon`).
        epsilon: f64 = "epsilon",
        /// One randomized bit (0 or 1) per layer-1 metric, by metric name.
        values: BTreeMap<String, u8> = "values",
    }
}

/// The raw (un-randomized) values a device tallied, by metric name: bits as 0/1, bounded values in
/// their natural units (clipped to the manifest's range when the report is built).
pub type RawValues = BTreeMap<String, f64>;

impl Report {
    /// Builds the report of `exp` for a device in arm `arm` from its raw values: every layer-1
    /// metric of the manifest must have a value (a missing one is an error, never a silent 0).
    /// The browser passes its CSPRNG (`OsRandom`); the simulator its seeded generator.
    pub fn build<R: RandomSource + ?Sized>(
        exp: &ValidExperiment,
        arm: &str,
        raw: &RawValues,
        rng: &mut R,
    ) -> Result<Self, ExperimentError> {
        if !exp.has_arm_label(arm) {
            return Err(ExperimentError::new(
                "unknown_arm",
                "arm",
                format!("experiment '{}' has no arm '{arm}'", exp.id),
            ));
        }
        let mut values = BTreeMap::new();
        for m in exp.report_metrics() {
            let Some((randomizer, lo, hi)) = m.ldp else {
                continue;
            };
            let x = *raw.get(&m.name).ok_or_else(|| {
                ExperimentError::new(
                    "missing_value",
                    format!("values.{}", m.name),
                    format!("no value for metric '{}'", m.name),
                )
            })?;
            if x.is_nan() {
                return Err(ExperimentError::new(
                    "invalid_value",
                    format!("values.{}", m.name),
                    "a metric value is NaN",
                ));
            }
            // `max`/`min`, not `clamp`: `clamp` carries a panic message formatting both bounds (core's
            // float formatting, ~10 KB of gzipped wasm, measured); lo < hi is checked by the manifest.
            let u = (x.max(lo).min(hi) - lo) / (hi - lo);
            let bit = randomizer.randomize_unit(u, rng)?;
            values.insert(m.name.clone(), u8::from(bit));
        }
        let id = random_hex128(rng).map_err(|e: PrivacyError| ExperimentError::from(e))?;
        Ok(Self {
            v: REPORT_VERSION,
            experiment: exp.id.clone(),
            arm: arm.to_string(),
            id,
            epsilon: exp.report_epsilon,
            values,
        })
    }

    /// Parses report JSON (at most [`MAX_REPORT_BYTES`]); unknown fields are errors.
    pub fn from_json(text: &str) -> Result<Self, ExperimentError> {
        if text.len() > MAX_REPORT_BYTES {
            return Err(ExperimentError::new(
                "too_large",
                "",
                format!(
                    "a report is at most {MAX_REPORT_BYTES} bytes, got {}",
                    text.len()
                ),
            ));
        }
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(json_error)
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and a string-keyed map always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks the report against the manifest: known experiment and arm, the manifest's ε
    /// exactly, exactly its layer-1 metrics, every value 0 or 1, a well-formed id.
    pub fn check<'m>(
        &self,
        manifest: &'m ValidManifest,
    ) -> Result<&'m ValidExperiment, ExperimentError> {
        let e = |code, path: &str, message: String| ExperimentError::new(code, path, message);
        if self.v != REPORT_VERSION {
            return Err(e(
                "report_version",
                "v",
                format!(
                    "report version {} (this collector reads {REPORT_VERSION})",
                    self.v
                ),
            ));
        }
        let exp = manifest.experiment(&self.experiment).ok_or_else(|| {
            e(
                "unknown_experiment",
                "experiment",
                format!(
                    "no experiment '{}' in the manifest",
                    truncate(&self.experiment)
                ),
            )
        })?;
        if !exp.has_arm_label(&self.arm) {
            return Err(e(
                "unknown_arm",
                "arm",
                format!(
                    "experiment '{}' has no arm '{}'",
                    exp.id,
                    truncate(&self.arm)
                ),
            ));
        }
        if !is_hex128(&self.id) {
            return Err(e(
                "invalid_id",
                "id",
                "id must be 32 lowercase hex digits".into(),
            ));
        }
        if self.epsilon != exp.report_epsilon {
            return Err(e(
                "wrong_epsilon",
                "epsilon",
                format!(
                    "experiment '{}' reports at ε = {}, this report says {}",
                    exp.id,
                    Num(exp.report_epsilon),
                    Num(self.epsilon)
                ),
            ));
        }
        for m in exp.report_metrics() {
            if !self.values.contains_key(&m.name) {
                return Err(e(
                    "missing_value",
                    &format!("values.{}", m.name),
                    format!("no value for metric '{}'", m.name),
                ));
            }
        }
        for (name, &v) in &self.values {
            if exp.metric(name).and_then(|m| m.ldp).is_none() {
                return Err(e(
                    "unknown_metric",
                    "values",
                    format!(
                        "experiment '{}' reports no metric '{}'",
                        exp.id,
                        truncate(name)
                    ),
                ));
            }
            if v > 1 {
                return Err(e(
                    "invalid_value",
                    &format!("values.{name}"),
                    format!("a report value is a randomized bit, 0 or 1, got {v}"),
                ));
            }
        }
        Ok(exp)
    }
}

/// At most 64 characters of a hostile string, for an error message.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::rng::InsecureSeededRngForTestsOnly as SeededRng;

    const MANIFEST: &str = r#"{"format":"vitrine-experiments","version":1,"experiments":[{
        "id":"e1","salt":"0123456789abcdef","start":"2026-01-01","end":"2026-02-01",
        "arms":[{"name":"a","allocation":0.5},{"name":"b","allocation":0.5}],
        "metrics":[{"name":"conversion"},{"name":"shelf_click","epsilon":1},
                   {"name":"order_value","max":200,"epsilon":0.5}],
        "report":{"epsilon":1.5}}]}"#;

    fn raw(click: f64, value: f64) -> RawValues {
        [
            ("shelf_click".to_string(), click),
            ("order_value".to_string(), value),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn a_report_holds_bits_and_round_trips() {
        let m = ValidManifest::from_json(MANIFEST).unwrap();
        let exp = &m.experiments()[0];
        let mut rng = SeededRng::from_seed(5);
        let r = Report::build(exp, "b", &raw(1.0, 1e9), &mut rng).unwrap();
        assert_eq!(r.values.len(), 2, "layer-0 metrics are not in the report");
        assert!(r.values.values().all(|&v| v <= 1));
        assert_eq!(r.epsilon, 1.5);
        let json = r.to_json();
        let back = Report::from_json(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.check(&m).unwrap().id, "e1");
        let other = Report::build(exp, "b", &raw(1.0, 1e9), &mut rng).unwrap();
        assert_ne!(other.id, r.id, "a fresh id per report");
    }

    #[test]
    fn build_refuses_missing_values_and_unknown_arms() {
        let m = ValidManifest::from_json(MANIFEST).unwrap();
        let exp = &m.experiments()[0];
        let mut rng = SeededRng::from_seed(6);
        let mut partial = raw(1.0, 3.0);
        partial.remove("order_value");
        assert_eq!(
            Report::build(exp, "a", &partial, &mut rng)
                .unwrap_err()
                .code,
            "missing_value"
        );
        assert_eq!(
            Report::build(exp, "zzz", &raw(0.0, 0.0), &mut rng)
                .unwrap_err()
                .code,
            "unknown_arm"
        );
        assert_eq!(
            Report::build(exp, "a", &raw(f64::NAN, 0.0), &mut rng)
                .unwrap_err()
                .code,
            "invalid_value"
        );
    }

    #[test]
    fn check_refuses_what_the_manifest_does_not_say() {
        let m = ValidManifest::from_json(MANIFEST).unwrap();
        let good = r#"{"v":1,"experiment":"e1","arm":"a","id":"00112233445566778899aabbccddeeff","epsilon":1.5,"values":{"shelf_click":1,"order_value":0}}"#;
        Report::from_json(good).unwrap().check(&m).unwrap();
        let cases = [
            (good.replace("\"e1\"", "\"e2\""), "unknown_experiment"),
            (
                good.replace("\"arm\":\"a\"", "\"arm\":\"c\""),
                "unknown_arm",
            ),
            (good.replace("1.5", "1.0"), "wrong_epsilon"),
            (
                good.replace("\"order_value\":0", "\"order_value\":2"),
                "invalid_value",
            ),
            (good.replace(",\"order_value\":0", ""), "missing_value"),
            (
                good.replace("\"order_value\":0", "\"order_value\":0,\"x\":1"),
                "unknown_metric",
            ),
            (good.replace("00112233", "0011223g"), "invalid_id"),
            (good.replace("\"v\":1", "\"v\":2"), "report_version"),
        ];
        for (text, code) in cases {
            let r = Report::from_json(&text).unwrap();
            assert_eq!(r.check(&m).unwrap_err().code, code, "{text}");
        }
        let parse = [
            (
                good.replace("\"v\":1,", "\"v\":1,\"item\":\"p1\","),
                "unknown_field",
            ),
            (
                good.replace("\"order_value\":0", "\"order_value\":-1"),
                "invalid_type",
            ),
            (good.replace(",\"epsilon\":1.5", ""), "missing_field"),
            ("{\"v\":".to_string(), "invalid_json"),
            (" ".repeat(MAX_REPORT_BYTES + 1), "too_large"),
        ];
        for (text, code) in parse {
            assert_eq!(Report::from_json(&text).unwrap_err().code, code, "{text}");
        }
    }
}
