//! The checks from the manifest as written ([`Manifest`]) to its valid form
//! ([`ValidManifest`]): every rule of `docs/EXPERIMENTS.md`, each failure an [`ExperimentError`]
//! with a stable `code` and the JSON path of the field at fault.

use std::collections::BTreeMap;

use crate::experiment::error::{json_error, ExperimentError};
use crate::experiment::ldp::BitRandomizer;
use crate::experiment::manifest::input::{
    ExperimentInput, Manifest, OpeSettingsInput, ReportSettingsInput,
};
use crate::experiment::manifest::valid::{
    Design, MetricKind, OpeSettings, ValidArm, ValidExperiment, ValidManifest, ValidMetric,
    BUCKETS, DAY_MS, FORMAT, INTERLEAVED, MAX_ARMS, MAX_EXPERIMENTS, MAX_METRICS, MAX_OPE_CLIP,
    MAX_REPORT_EPSILON, VERSION,
};
use crate::numfmt::Num;

impl ValidManifest {
    /// Parses and validates manifest JSON.
    pub fn from_json(text: &str) -> Result<Self, ExperimentError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let manifest: Manifest = serde_path_to_error::deserialize(de).map_err(json_error)?;
        manifest.validate()
    }
}

fn err(code: &'static str, path: &str, message: String) -> ExperimentError {
    ExperimentError::new(code, path, message)
}

/// A fraction on the 10⁻⁴ grid as a bucket count.
fn buckets_of(x: f64, path: &str, what: &str) -> Result<u32, ExperimentError> {
    let scaled = x * f64::from(BUCKETS);
    if !(0.0..=1.0).contains(&x) || (scaled - scaled.round()).abs() > 1e-6 {
        return Err(err(
            "allocation",
            path,
            format!(
                "{what} must be a fraction from 0 to 1 in steps of 0.0001, got {}",
                Num(x)
            ),
        ));
    }
    Ok(scaled.round() as u32)
}

/// `[A-Za-z0-9_.-]{1,64}`.
fn check_name(s: &str, path: &str, what: &str, lower_only: bool) -> Result<(), ExperimentError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || b == b'_'
                || b == b'-'
                || (!lower_only && (b.is_ascii_uppercase() || b == b'.'))
        });
    if ok {
        Ok(())
    } else {
        let allowed = if lower_only {
            "a-z 0-9 _ -"
        } else {
            "A-Z a-z 0-9 _ . -"
        };
        Err(err(
            "invalid_name",
            path,
            format!("{what} must be 1 to 64 characters of {allowed}, got '{s}'"),
        ))
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian).
pub fn parse_date_days(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
        return None;
    }
    // Days from civil (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

impl Manifest {
    /// Checks every field (see the module docs) and builds the valid form.
    pub fn validate(&self) -> Result<ValidManifest, ExperimentError> {
        if self.format != FORMAT {
            return Err(err(
                "manifest_format",
                "format",
                format!("format must be '{FORMAT}', got '{}'", self.format),
            ));
        }
        if self.version != u64::from(VERSION) {
            return Err(err(
                "manifest_version",
                "version",
                format!(
                    "version {} is not supported (this reader understands {VERSION})",
                    self.version
                ),
            ));
        }
        if self.experiments.len() > MAX_EXPERIMENTS {
            return Err(err(
                "too_many",
                "experiments",
                format!(
                    "at most {MAX_EXPERIMENTS} experiments, got {}",
                    self.experiments.len()
                ),
            ));
        }
        let mut experiments: Vec<ValidExperiment> = Vec::with_capacity(self.experiments.len());
        for (i, e) in self.experiments.iter().enumerate() {
            let path = format!("experiments[{i}]");
            let valid = e.validate(&path)?;
            if experiments.iter().any(|x| x.id == valid.id) {
                return Err(err(
                    "duplicate_id",
                    &format!("{path}.id"),
                    format!("experiment id '{}' is used twice", valid.id),
                ));
            }
            if let Some((ns, (lo, hi))) = &valid.namespace {
                let clash = experiments.iter().find(|x| {
                    x.namespace
                        .as_ref()
                        .is_some_and(|(n2, (lo2, hi2))| n2 == ns && lo < hi2 && lo2 < hi)
                        && x.start_ms < valid.end_ms
                        && valid.start_ms < x.end_ms
                });
                if let Some(other) = clash {
                    return Err(err(
                        "namespace_overlap",
                        &format!("{path}.namespace.range"),
                        format!(
                            "namespace '{ns}': this range overlaps experiment '{}' while both run",
                            other.id
                        ),
                    ));
                }
            }
            experiments.push(valid);
        }
        Ok(ValidManifest { experiments })
    }
}

impl ExperimentInput {
    fn validate(&self, path: &str) -> Result<ValidExperiment, ExperimentError> {
        check_name(&self.id, &format!("{path}.id"), "an experiment id", false)?;
        if self.salt.len() < 16
            || self.salt.len() > 128
            || !self.salt.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(err(
                "salt",
                &format!("{path}.salt"),
                "salt must be 16 to 128 printable ASCII characters without spaces (a fresh random string per experiment)".into(),
            ));
        }
        let date = |s: &str, field: &str| {
            parse_date_days(s).ok_or_else(|| {
                err(
                    "date",
                    &format!("{path}.{field}"),
                    format!("{field} must be a date YYYY-MM-DD, got '{s}'"),
                )
            })
        };
        let (start, end) = (date(&self.start, "start")?, date(&self.end, "end")?);
        if end <= start {
            return Err(err(
                "date",
                &format!("{path}.end"),
                format!("end ({}) must be after start ({})", self.end, self.start),
            ));
        }
        let design = match self.design.as_deref() {
            None | Some("ab") => Design::AB,
            Some("interleaving") => Design::Interleaving,
            Some(other) => {
                return Err(err(
                    "design",
                    &format!("{path}.design"),
                    format!("design must be 'ab' or 'interleaving', got '{other}'"),
                ))
            }
        };
        let namespace = match &self.namespace {
            None => None,
            Some(ns) => {
                let p = format!("{path}.namespace");
                check_name(&ns.name, &format!("{p}.name"), "a namespace name", false)?;
                let lo = buckets_of(ns.range[0], &format!("{p}.range[0]"), "range start")?;
                let hi = buckets_of(ns.range[1], &format!("{p}.range[1]"), "range end")?;
                if lo >= hi {
                    return Err(err(
                        "allocation",
                        &format!("{p}.range"),
                        "range must be [start, end] with start < end".into(),
                    ));
                }
                Some((ns.name.clone(), (lo, hi)))
            }
        };
        let arms = self.validate_arms(path, design)?;
        let report = self.report.clone().unwrap_or(ReportSettingsInput {
            epsilon: None,
            window_days: None,
            repeat_days: None,
            ope: None,
        });
        let days = |x: Option<f64>, default: f64, field: &str| {
            let d = x.unwrap_or(default);
            if (1.0..=365.0).contains(&d) {
                Ok(d)
            } else {
                Err(err(
                    "report",
                    &format!("{path}.report.{field}"),
                    format!("{field} must be from 1 to 365 days, got {}", Num(d)),
                ))
            }
        };
        let window_days = days(report.window_days, 14.0, "window_days")?;
        let repeat_days = days(report.repeat_days, 30.0, "repeat_days")?;
        let ope = match &report.ope {
            None => None,
            Some(o) => Some(o.validate(&format!("{path}.report.ope"))?),
        };
        let metrics = self.validate_metrics(path, design, ope.as_ref())?;
        let sum: f64 = metrics
            .iter()
            .filter_map(|m| m.ldp.map(|(r, _, _)| r.epsilon()))
            .sum();
        let report_epsilon = match report.epsilon {
            None if sum == 0.0 => 0.0,
            None => {
                return Err(err(
                    "epsilon_sum",
                    &format!("{path}.report.epsilon"),
                    format!("report.epsilon is required: the layer-1 metrics' ε add up to {}", Num(sum)),
                ))
            }
            Some(e) if (e - sum).abs() <= 1e-9 * e.max(1.0) && e <= MAX_REPORT_EPSILON => e,
            Some(e) => {
                return Err(err(
                    "epsilon_sum",
                    &format!("{path}.report.epsilon"),
                    format!(
                        "report.epsilon ({}) must equal the sum of the layer-1 metrics' ε ({}) and be at most {}",
                        Num(e),
                        Num(sum),
                        Num(MAX_REPORT_EPSILON)
                    ),
                ))
            }
        };
        Ok(ValidExperiment {
            id: self.id.clone(),
            salt: self.salt.clone(),
            start_ms: start as f64 * DAY_MS,
            end_ms: end as f64 * DAY_MS,
            design,
            namespace,
            arms,
            metrics,
            report_epsilon,
            window_ms: window_days * DAY_MS,
            repeat_days,
            ope,
        })
    }

    fn validate_arms(&self, path: &str, design: Design) -> Result<Vec<ValidArm>, ExperimentError> {
        let n = self.arms.len();
        let ok_count = match design {
            Design::AB => (2..=MAX_ARMS).contains(&n),
            Design::Interleaving => n == 2,
        };
        if !ok_count {
            return Err(err(
                "arms",
                &format!("{path}.arms"),
                match design {
                    Design::AB => format!("an A/B experiment needs 2 to {MAX_ARMS} arms, got {n}"),
                    Design::Interleaving => {
                        format!("an interleaving experiment needs exactly 2 arms, got {n}")
                    }
                },
            ));
        }
        let mut arms: Vec<ValidArm> = Vec::with_capacity(n);
        let mut next = 0u32;
        for (j, a) in self.arms.iter().enumerate() {
            let p = format!("{path}.arms[{j}]");
            check_name(&a.name, &format!("{p}.name"), "an arm name", true)?;
            if a.name == INTERLEAVED || arms.iter().any(|x| x.name == a.name) {
                return Err(err(
                    "duplicate_arm",
                    &format!("{p}.name"),
                    format!("arm name '{}' is used twice or reserved", a.name),
                ));
            }
            if let Some(privacy) = &a.settings.privacy {
                privacy
                    .validate()
                    .map_err(|e| err("privacy", &format!("{p}.settings.privacy"), e.to_string()))?;
            }
            let buckets =
                match (design, a.allocation) {
                    (Design::AB, Some(x)) => {
                        let b = buckets_of(x, &format!("{p}.allocation"), "allocation")?;
                        if b == 0 || next + b > BUCKETS {
                            return Err(err(
                                "allocation",
                                &format!("{p}.allocation"),
                                "allocations must be > 0 and add up to at most 1".into(),
                            ));
                        }
                        next += b;
                        (next - b, next)
                    }
                    (Design::AB, None) => {
                        return Err(err(
                            "allocation",
                            &format!("{p}.allocation"),
                            "an A/B arm needs an allocation".into(),
                        ))
                    }
                    (Design::Interleaving, None) => (0, 0),
                    (Design::Interleaving, Some(_)) => return Err(err(
                        "allocation",
                        &format!("{p}.allocation"),
                        "an interleaving arm has no allocation (every enrolled device sees both)"
                            .into(),
                    )),
                };
            arms.push(ValidArm {
                name: a.name.clone(),
                buckets,
                settings: a.settings.clone(),
            });
        }
        Ok(arms)
    }

    fn validate_metrics(
        &self,
        path: &str,
        design: Design,
        ope: Option<&OpeSettings>,
    ) -> Result<Vec<ValidMetric>, ExperimentError> {
        if self.metrics.is_empty() || self.metrics.len() > MAX_METRICS {
            return Err(err(
                "metrics",
                &format!("{path}.metrics"),
                format!("1 to {MAX_METRICS} metrics, got {}", self.metrics.len()),
            ));
        }
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        let mut out = Vec::with_capacity(self.metrics.len());
        for (j, m) in self.metrics.iter().enumerate() {
            let p = format!("{path}.metrics[{j}]");
            let kind = MetricKind::parse(&m.name).ok_or_else(|| {
                let names: Vec<&str> = MetricKind::ALL.iter().map(|(n, _)| *n).collect();
                err(
                    "unknown_metric",
                    &format!("{p}.name"),
                    format!(
                        "unknown metric '{}' (expected one of: {})",
                        m.name,
                        names.join(", ")
                    ),
                )
            })?;
            if seen.insert(m.name.as_str(), ()).is_some() {
                return Err(err(
                    "duplicate_metric",
                    &format!("{p}.name"),
                    format!("metric '{}' is listed twice", m.name),
                ));
            }
            let is_ope = matches!(
                kind,
                MetricKind::OpeIps | MetricKind::OpeWeight | MetricKind::OpeDr
            );
            if is_ope && ope.is_none() {
                return Err(err(
                    "metric_needs",
                    &format!("{p}.name"),
                    format!("metric '{}' needs report.ope", m.name),
                ));
            }
            if kind == MetricKind::InterleavingCredit && design != Design::Interleaving {
                return Err(err(
                    "metric_needs",
                    &format!("{p}.name"),
                    "metric 'interleaving_credit' needs design 'interleaving'".into(),
                ));
            }
            let ldp = if kind.layer() == 0 {
                if m.epsilon.is_some() || m.min.is_some() || m.max.is_some() {
                    return Err(err(
                        "metric_field",
                        &p,
                        format!(
                            "'{}' is a layer-0 metric (the store's orders): it takes no epsilon, min or max",
                            m.name
                        ),
                    ));
                }
                None
            } else {
                let eps = m.epsilon.ok_or_else(|| {
                    err(
                        "epsilon",
                        &format!("{p}.epsilon"),
                        format!("layer-1 metric '{}' needs an epsilon", m.name),
                    )
                })?;
                let r = BitRandomizer::new(eps).map_err(|e| ExperimentError {
                    path: format!("{p}.epsilon"),
                    ..e
                })?;
                let (lo, hi) = if kind.is_bit() || is_ope {
                    if m.min.is_some() || m.max.is_some() {
                        return Err(err(
                            "metric_field",
                            &p,
                            format!(
                                "'{}' has a fixed range (a bit, or the OPE clip): no min or max",
                                m.name
                            ),
                        ));
                    }
                    match (kind, ope) {
                        // DM ∈ [0, 1] and w·(r − q̂) with w ∈ [0, clip], r ∈ [0, 1] and q̂
                        // within the reward model's two values.
                        (MetricKind::OpeDr, Some(o)) => (
                            -o.clip * o.reward_top.max(o.reward_rest),
                            1.0 + o.clip * (1.0 - o.reward_top.min(o.reward_rest)),
                        ),
                        (MetricKind::OpeIps | MetricKind::OpeWeight, Some(o)) => (0.0, o.clip),
                        _ => (0.0, 1.0),
                    }
                } else {
                    let lo = m.min.unwrap_or(0.0);
                    let hi = m.max.ok_or_else(|| {
                        err(
                            "metric_field",
                            &format!("{p}.max"),
                            format!(
                                "bounded metric '{}' needs a max (values are clipped to it)",
                                m.name
                            ),
                        )
                    })?;
                    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                        return Err(err(
                            "metric_field",
                            &format!("{p}.max"),
                            format!(
                                "min ({}) must be below max ({}), both finite",
                                Num(lo),
                                Num(hi)
                            ),
                        ));
                    }
                    (lo, hi)
                };
                Some((r, lo, hi))
            };
            out.push(ValidMetric {
                name: m.name.clone(),
                kind,
                ldp,
            });
        }
        Ok(out)
    }
}

impl OpeSettingsInput {
    fn validate(&self, path: &str) -> Result<OpeSettings, ExperimentError> {
        if !(1.0..=MAX_OPE_CLIP).contains(&self.clip) {
            return Err(err(
                "ope",
                &format!("{path}.clip"),
                format!(
                    "clip must be from 1 to {}, got {}",
                    Num(MAX_OPE_CLIP),
                    Num(self.clip)
                ),
            ));
        }
        let candidate = self
            .candidate
            .validate()
            .map_err(|e| err("privacy", &format!("{path}.candidate"), e.to_string()))?;
        // The weights need the candidate's probability of each release: a private candidate.
        let crate::privacy::PrivacyConfig::On(candidate_private) = candidate else {
            return Err(err(
                "ope",
                &format!("{path}.candidate"),
                "the candidate must be private (a finite epsilon): a ranking without randomness gives most releases a probability of 0".to_string(),
            ));
        };
        let x = &self.exploration;
        if !(x.share > 0.0 && x.share < 1.0) {
            return Err(err(
                "ope",
                &format!("{path}.exploration.share"),
                format!("share must be in (0, 1), got {}", Num(x.share)),
            ));
        }
        if !(x.epsilon > 0.0 && x.epsilon <= 20.0) {
            return Err(err(
                "ope",
                &format!("{path}.exploration.epsilon"),
                format!("epsilon must be in (0, 20], got {}", Num(x.epsilon)),
            ));
        }
        let r = &self.reward_model;
        for (v, f) in [(r.top, "top"), (r.rest, "rest")] {
            if !(0.0..=1.0).contains(&v) {
                return Err(err(
                    "ope",
                    &format!("{path}.reward_model.{f}"),
                    format!("a click rate from 0 to 1, got {}", Num(v)),
                ));
            }
        }
        Ok(OpeSettings {
            clip: self.clip,
            candidate: self.candidate.clone(),
            candidate_epsilon: candidate_private.epsilon,
            exploration_share: x.share,
            exploration_epsilon: x.epsilon,
            reward_top: r.top,
            reward_rest: r.rest,
        })
    }
}
