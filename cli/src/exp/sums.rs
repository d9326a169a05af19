//! Mergeable sums: what every estimate is computed from. Per arm and layer-1 metric, the number of
//! reports and the sum of their randomized bits; per pair of metrics, the sum of their products
//! (for ratio estimates such as SNIPS). Per arm and layer-0 outcome, the moments of
//! [`Moments`]. Sums add: two collectors' tables, or a day's and the next, merge by addition —
//! the warehouse SQL in `docs/EXPERIMENTS.md` computes the same sums with `GROUP BY`.

use std::collections::BTreeMap;

use vitrine::experiment::{Report, ValidMetric};

use super::stats::Estimate;

/// Reports and ones of one metric in one arm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BitSums {
    pub n: u64,
    pub ones: u64,
}

/// The sums of one arm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArmSums {
    pub reports: u64,
    pub metrics: BTreeMap<String, BitSums>,
    /// `Σ bit_a · bit_b` over reports, for metric names `a < b`.
    pub pairs: BTreeMap<(String, String), u64>,
}

/// The sums of one experiment, by arm label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportSums {
    pub arms: BTreeMap<String, ArmSums>,
}

impl ReportSums {
    /// Adds one (already checked) report.
    pub fn add(&mut self, r: &Report) {
        let arm = self.arms.entry(r.arm.clone()).or_default();
        arm.reports += 1;
        for (name, &v) in &r.values {
            let m = arm.metrics.entry(name.clone()).or_default();
            m.n += 1;
            m.ones += u64::from(v);
        }
        let values: Vec<(&String, u8)> = r.values.iter().map(|(k, v)| (k, *v)).collect();
        for (i, (a, va)) in values.iter().enumerate() {
            for (b, vb) in &values[i + 1..] {
                *arm.pairs.entry(((*a).clone(), (*b).clone())).or_insert(0) += u64::from(va & vb);
            }
        }
    }

    /// Adds another set of sums (the merge).
    pub fn merge(&mut self, other: &ReportSums) {
        for (label, o) in &other.arms {
            let arm = self.arms.entry(label.clone()).or_default();
            arm.reports += o.reports;
            for (k, m) in &o.metrics {
                let e = arm.metrics.entry(k.clone()).or_default();
                e.n += m.n;
                e.ones += m.ones;
            }
            for (k, v) in &o.pairs {
                *arm.pairs.entry(k.clone()).or_insert(0) += v;
            }
        }
    }
}

/// The debiased mean of a layer-1 metric in natural units (`lo + (hi − lo) · Ê[u]`) and the
/// variance of that mean; `None` for a layer-0 metric or no reports.
pub fn metric_estimate(metric: &ValidMetric, s: &BitSums) -> Option<Estimate> {
    let (r, lo, hi) = metric.ldp?;
    if s.n == 0 {
        return None;
    }
    let n = s.n as f64;
    let share = s.ones as f64 / n;
    let u = r.debias_mean(s.ones as f64, n);
    let range = hi - lo;
    let unit_var =
        range * range * r.debias_scale().powi(2) * share * (1.0 - share) * n / (n - 1.0).max(1.0);
    Some(Estimate {
        n,
        mean: lo + range * u,
        var: unit_var / n,
    })
}

/// The covariance of two metrics' debiased per-report values in natural units (the randomization
/// of different values is independent, so the bits' covariance scales to the values').
pub fn metric_covariance(a: &ValidMetric, b: &ValidMetric, arm: &ArmSums) -> Option<f64> {
    let ((ra, la, ha), (rb, lb, hb)) = (a.ldp?, b.ldp?);
    let (sa, sb) = (arm.metrics.get(&a.name)?, arm.metrics.get(&b.name)?);
    let key = if a.name < b.name {
        (a.name.clone(), b.name.clone())
    } else {
        (b.name.clone(), a.name.clone())
    };
    let both = *arm.pairs.get(&key)? as f64;
    let n = sa.n.min(sb.n) as f64;
    if n < 2.0 {
        return None;
    }
    let cov_bits = (both - sa.ones as f64 * sb.ones as f64 / n) / (n - 1.0);
    Some(cov_bits * ra.debias_scale() * rb.debias_scale() * (ha - la) * (hb - lb))
}
