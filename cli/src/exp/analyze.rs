//! `vitrine exp analyze`: per experiment and arm, n and the sample-ratio check, debiased means,
//! absolute and relative lifts against the first arm with intervals, CUPED on the store's
//! pre-period covariate, always-valid intervals (`--sequential`), OPE and interleaving estimates.
//! The simulator calls [`layer0`] and [`layer1`] too, so what it checks is what analysts read.

use std::collections::BTreeMap;

use serde::Serialize;
use vitrine::experiment::manifest::{Design, MetricKind, ValidExperiment};

use super::stats::{
    lift, sequential_half_width, srm_p_value, two_sided_p, Estimate, Lift, Moments,
};
use super::sums::{metric_covariance, metric_estimate, ReportSums};

/// A sample-ratio mismatch is flagged below this p-value (as GrowthBook does).
pub const SRM_THRESHOLD: f64 = 0.001;

/// How intervals are computed.
#[derive(Debug, Clone, Copy)]
pub struct AnalysisOptions {
    /// Confidence level (0.95).
    pub level: f64,
    /// Add always-valid intervals, tuned to be tightest at this many units (`None`: off).
    pub sequential_tuning: Option<f64>,
}

impl AnalysisOptions {
    pub fn z(&self) -> f64 {
        super::stats::z_for(self.level)
    }
}

/// A mean with its interval.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MeanCi {
    pub n: f64,
    pub mean: f64,
    pub ci: [f64; 2],
}

impl MeanCi {
    fn of(e: &Estimate, z: f64) -> Self {
        Self {
            n: e.n,
            mean: e.mean,
            ci: e.ci(z),
        }
    }
}

/// The sample-ratio check.
#[derive(Debug, Clone, Serialize)]
pub struct Srm {
    pub counts: BTreeMap<String, f64>,
    pub expected_shares: BTreeMap<String, f64>,
    pub p_value: f64,
    /// `p_value < 0.001`: the arms did not get the traffic the manifest allocates — distrust
    /// every estimate until the cause (lost pings, a bot filter, a redirect) is found.
    pub mismatch: bool,
}

fn srm(exp: &ValidExperiment, counts: &BTreeMap<String, f64>) -> Srm {
    let shares = exp.expected_shares();
    let observed: Vec<f64> = shares
        .iter()
        .map(|(a, _)| counts.get(a).copied().unwrap_or(0.0))
        .collect();
    let expected: Vec<f64> = shares.iter().map(|(_, s)| *s).collect();
    let p = srm_p_value(&observed, &expected);
    Srm {
        counts: counts.clone(),
        expected_shares: shares.into_iter().collect(),
        p_value: p,
        mismatch: p < SRM_THRESHOLD,
    }
}

/// One metric's lift of one arm against the control (the first arm).
#[derive(Debug, Clone, Serialize)]
pub struct MetricLift {
    pub metric: String,
    pub arm: String,
    pub control: String,
    pub lift: Lift,
    /// The always-valid interval of the absolute lift (with `--sequential`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequential_ci: Option<[f64; 2]>,
    /// The CUPED-adjusted lift (with a covariate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cuped: Option<Lift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cuped_sequential_ci: Option<[f64; 2]>,
}

fn sequential_ci(l: &Lift, z: f64, n_total: f64, opts: &AnalysisOptions) -> Option<[f64; 2]> {
    let tuning = opts.sequential_tuning?;
    let var = (l.half_width / z).powi(2);
    let h = sequential_half_width(var, n_total, 1.0 - opts.level, tuning.max(1.0));
    Some([l.absolute - h, l.absolute + h])
}

/// Per-arm moments of the store's layer-0 data (one row per exposed unit).
#[derive(Debug, Clone, Default)]
pub struct Layer0Arm {
    /// y = converted (0/1), x = the covariate.
    pub conversion: Moments,
    /// y = revenue, x = the covariate.
    pub revenue: Moments,
    /// y = repeat purchase (0/1), x = the covariate (only rows with the column).
    pub repeat: Moments,
    /// y = revenue, x = converted: Σy/Σx is the order value of converted units.
    pub aov: Moments,
}

/// Layer 0 of one experiment.
#[derive(Debug, Clone, Serialize)]
pub struct Layer0Analysis {
    pub srm: Srm,
    pub arms: Vec<Layer0ArmResult>,
    pub lifts: Vec<MetricLift>,
    /// The CUPED covariate's pooled correlation with conversion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub covariate_correlation: Option<f64>,
}

/// Layer-0 means of one arm.
#[derive(Debug, Clone, Serialize)]
pub struct Layer0ArmResult {
    pub arm: String,
    pub n: f64,
    pub conversion: MeanCi,
    pub revenue_per_visitor: MeanCi,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aov: Option<MeanCi>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_purchase: Option<MeanCi>,
}

/// Layer 0: the store's exposures and orders joined with the arm label. `with_covariate`: apply
/// CUPED with the moments' x.
pub fn layer0(
    exp: &ValidExperiment,
    data: &BTreeMap<String, Layer0Arm>,
    with_covariate: bool,
    opts: &AnalysisOptions,
) -> Layer0Analysis {
    let z = opts.z();
    let counts: BTreeMap<String, f64> = data
        .iter()
        .map(|(a, m)| (a.clone(), m.conversion.n))
        .collect();
    let arms: Vec<Layer0ArmResult> = exp
        .arms
        .iter()
        .filter_map(|a| data.get(&a.name).map(|m| (a, m)))
        .map(|(a, m)| Layer0ArmResult {
            arm: a.name.clone(),
            n: m.conversion.n,
            conversion: MeanCi::of(&m.conversion.mean(), z),
            revenue_per_visitor: MeanCi::of(&m.revenue.mean(), z),
            aov: (m.aov.sx > 1.0).then(|| MeanCi::of(&m.aov.ratio(), z)),
            repeat_purchase: (m.repeat.n > 1.0).then(|| MeanCi::of(&m.repeat.mean(), z)),
        })
        .collect();
    let mut lifts = Vec::new();
    let control = exp.arms.first().map(|a| a.name.clone()).unwrap_or_default();
    type Pick = fn(&Layer0Arm) -> &Moments;
    let metrics: [(&str, Pick, bool); 4] = [
        ("conversion", |m| &m.conversion, true),
        ("revenue", |m| &m.revenue, true),
        ("repeat_purchase", |m| &m.repeat, true),
        ("aov", |m| &m.aov, false),
    ];
    if let Some(c) = data.get(&control) {
        for (name, pick, cupable) in metrics {
            if pick(c).n < 2.0 || (name == "aov" && pick(c).sx < 2.0) {
                continue;
            }
            let all: Vec<Moments> = data.values().map(|m| *pick(m)).collect();
            let (theta, mx) = Moments::cuped_theta(&all);
            for a in exp.arms.iter().skip(1) {
                let Some(t) = data.get(&a.name) else { continue };
                let (cm, tm) = (pick(c), pick(t));
                if tm.n < 2.0 || (name == "aov" && tm.sx < 2.0) {
                    continue;
                }
                let (ce, te) = if name == "aov" {
                    (cm.ratio(), tm.ratio())
                } else {
                    (cm.mean(), tm.mean())
                };
                let l = lift(&ce, &te, z);
                let n_total = cm.n + tm.n;
                let cuped = (with_covariate && cupable)
                    .then(|| lift(&cm.cuped_mean(theta, mx), &tm.cuped_mean(theta, mx), z));
                lifts.push(MetricLift {
                    metric: name.to_string(),
                    arm: a.name.clone(),
                    control: control.clone(),
                    sequential_ci: sequential_ci(&l, z, n_total, opts),
                    cuped_sequential_ci: cuped
                        .as_ref()
                        .and_then(|cl| sequential_ci(cl, z, n_total, opts)),
                    lift: l,
                    cuped,
                });
            }
        }
    }
    let covariate_correlation = with_covariate.then(|| {
        let mut pooled = Moments::default();
        for m in data.values() {
            pooled.merge(&m.conversion);
        }
        pooled.correlation()
    });
    Layer0Analysis {
        srm: srm(exp, &counts),
        arms,
        lifts,
        covariate_correlation,
    }
}

/// Layer 1 of one experiment.
#[derive(Debug, Clone, Serialize)]
pub struct Layer1Analysis {
    pub srm: Srm,
    pub arms: Vec<Layer1ArmResult>,
    pub lifts: Vec<MetricLift>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ope: Vec<OpeResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interleaving: Option<InterleavingResult>,
}

/// Debiased layer-1 means of one arm.
#[derive(Debug, Clone, Serialize)]
pub struct Layer1ArmResult {
    pub arm: String,
    pub reports: u64,
    pub metrics: BTreeMap<String, MeanCi>,
}

/// Off-policy estimates of the candidate setting from one arm's reports.
#[derive(Debug, Clone, Serialize)]
pub struct OpeResult {
    pub arm: String,
    pub ips: MeanCi,
    pub snips: Option<MeanCi>,
    pub dr: Option<MeanCi>,
}

/// Interleaving: the second arm's share of the wins (ties split), and the test against ½.
#[derive(Debug, Clone, Serialize)]
pub struct InterleavingResult {
    /// The arms, in manifest order: credit is the share won by `arms[1]`.
    pub arms: [String; 2],
    pub credit: MeanCi,
    pub p_value: f64,
}

/// Layer 1: the debiased estimates from the reports' mergeable sums.
pub fn layer1(exp: &ValidExperiment, sums: &ReportSums, opts: &AnalysisOptions) -> Layer1Analysis {
    let z = opts.z();
    let counts: BTreeMap<String, f64> = sums
        .arms
        .iter()
        .map(|(a, s)| (a.clone(), s.reports as f64))
        .collect();
    let labels: Vec<String> = exp.expected_shares().into_iter().map(|(a, _)| a).collect();
    let mut arms = Vec::new();
    let mut estimates: BTreeMap<(String, String), Estimate> = BTreeMap::new();
    for label in &labels {
        let Some(s) = sums.arms.get(label) else {
            continue;
        };
        let mut metrics = BTreeMap::new();
        for m in exp.report_metrics() {
            if let Some(e) = s.metrics.get(&m.name).and_then(|b| metric_estimate(m, b)) {
                metrics.insert(m.name.clone(), MeanCi::of(&e, z));
                estimates.insert((label.clone(), m.name.clone()), e);
            }
        }
        arms.push(Layer1ArmResult {
            arm: label.clone(),
            reports: s.reports,
            metrics,
        });
    }
    let mut lifts = Vec::new();
    if exp.design == Design::AB {
        let control = labels.first().cloned().unwrap_or_default();
        for m in exp.report_metrics() {
            let Some(c) = estimates.get(&(control.clone(), m.name.clone())) else {
                continue;
            };
            for a in labels.iter().skip(1) {
                let Some(t) = estimates.get(&(a.clone(), m.name.clone())) else {
                    continue;
                };
                let l = lift(c, t, z);
                lifts.push(MetricLift {
                    metric: m.name.clone(),
                    arm: a.clone(),
                    control: control.clone(),
                    sequential_ci: sequential_ci(&l, z, c.n + t.n, opts),
                    lift: l,
                    cuped: None,
                    cuped_sequential_ci: None,
                });
            }
        }
    }
    let mut ope = Vec::new();
    let find = |k: MetricKind| exp.metrics.iter().find(|m| m.kind == k);
    if let Some(ips_m) = find(MetricKind::OpeIps) {
        for label in &labels {
            let (Some(s), Some(ips)) = (
                sums.arms.get(label),
                estimates.get(&(label.clone(), ips_m.name.clone())),
            ) else {
                continue;
            };
            let snips = find(MetricKind::OpeWeight).and_then(|w_m| {
                let w = estimates.get(&(label.clone(), w_m.name.clone()))?;
                let cov = metric_covariance(ips_m, w_m, s)?;
                let r = ips.mean / w.mean;
                let (vy, vx) = (ips.var * ips.n, w.var * w.n);
                let var = (vy - 2.0 * r * cov + r * r * vx) / (ips.n * w.mean * w.mean);
                Some(MeanCi::of(
                    &Estimate {
                        n: ips.n,
                        mean: r,
                        var: var.max(0.0),
                    },
                    z,
                ))
            });
            let dr = find(MetricKind::OpeDr)
                .and_then(|d| estimates.get(&(label.clone(), d.name.clone())))
                .map(|e| MeanCi::of(e, z));
            ope.push(OpeResult {
                arm: label.clone(),
                ips: MeanCi::of(ips, z),
                snips,
                dr,
            });
        }
    }
    let interleaving = find(MetricKind::InterleavingCredit).and_then(|m| {
        let e = estimates.get(&(
            vitrine::experiment::manifest::INTERLEAVED.to_string(),
            m.name.clone(),
        ))?;
        Some(InterleavingResult {
            arms: [exp.arms[0].name.clone(), exp.arms[1].name.clone()],
            credit: MeanCi::of(e, z),
            p_value: two_sided_p((e.mean - 0.5) / e.se()),
        })
    });
    Layer1Analysis {
        srm: srm(exp, &counts),
        arms,
        lifts,
        ope,
        interleaving,
    }
}
