//! The statistics of `vitrine exp analyze` (and of the simulator, which calls the same code):
//! means from mergeable sums, differences with normal intervals, the delta method for ratios and
//! relative lifts, CUPED, the sample-ratio-mismatch test, and the always-valid interval.
//! Distributions come from `statrs`.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// The two-sided normal quantile for a confidence `level` (0.95 → 1.95996…).
pub fn z_for(level: f64) -> f64 {
    Normal::standard().inverse_cdf(0.5 + level / 2.0)
}

/// Two-sided p-value of a z statistic.
pub fn two_sided_p(z: f64) -> f64 {
    if !z.is_finite() {
        return if z.is_nan() { f64::NAN } else { 0.0 };
    }
    2.0 * (1.0 - Normal::standard().cdf(z.abs()))
}

/// An estimate of a mean with the variance of the estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Units (devices, reports, exposed visitors) behind it.
    pub n: f64,
    pub mean: f64,
    /// Variance of `mean` (not of one unit).
    pub var: f64,
}

impl Estimate {
    pub fn se(&self) -> f64 {
        self.var.max(0.0).sqrt()
    }

    /// The interval `mean ± z·se`.
    pub fn ci(&self, z: f64) -> [f64; 2] {
        [self.mean - z * self.se(), self.mean + z * self.se()]
    }
}

/// Mergeable moments of an outcome `y` and a covariate `x` (CUPED): sums over units.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    pub n: f64,
    pub sy: f64,
    pub syy: f64,
    pub sx: f64,
    pub sxx: f64,
    pub sxy: f64,
}

impl Moments {
    pub fn add(&mut self, y: f64, x: f64) {
        self.n += 1.0;
        self.sy += y;
        self.syy += y * y;
        self.sx += x;
        self.sxx += x * x;
        self.sxy += x * y;
    }

    pub fn merge(&mut self, o: &Moments) {
        self.n += o.n;
        self.sy += o.sy;
        self.syy += o.syy;
        self.sx += o.sx;
        self.sxx += o.sxx;
        self.sxy += o.sxy;
    }

    fn var_y(&self) -> f64 {
        sample_var(self.n, self.sy, self.syy)
    }
    fn var_x(&self) -> f64 {
        sample_var(self.n, self.sx, self.sxx)
    }
    fn cov_xy(&self) -> f64 {
        if self.n < 2.0 {
            return 0.0;
        }
        (self.sxy - self.sx * self.sy / self.n) / (self.n - 1.0)
    }

    /// The plain mean of `y`.
    pub fn mean(&self) -> Estimate {
        Estimate {
            n: self.n,
            mean: self.sy / self.n,
            var: self.var_y() / self.n,
        }
    }

    /// The CUPED-adjusted mean `ȳ − θ (x̄ − μₓ)` for a θ and pooled covariate mean μₓ shared by
    /// all arms (Deng, Xu, Kohavi & Walker 2013); its variance `Var(y − θx) / n`.
    pub fn cuped_mean(&self, theta: f64, pooled_x_mean: f64) -> Estimate {
        let var = self.var_y() - 2.0 * theta * self.cov_xy() + theta * theta * self.var_x();
        Estimate {
            n: self.n,
            mean: self.sy / self.n - theta * (self.sx / self.n - pooled_x_mean),
            var: var.max(0.0) / self.n,
        }
    }

    /// θ = Cov(x, y) / Var(x) over the pooled arms (0 when x does not vary), and the pooled x̄.
    pub fn cuped_theta(arms: &[Moments]) -> (f64, f64) {
        let mut pooled = Moments::default();
        for m in arms {
            pooled.merge(m);
        }
        let vx = pooled.var_x();
        let theta = if vx > 0.0 { pooled.cov_xy() / vx } else { 0.0 };
        (theta, pooled.sx / pooled.n)
    }

    /// The sample correlation of x and y.
    pub fn correlation(&self) -> f64 {
        let d = (self.var_x() * self.var_y()).sqrt();
        if d > 0.0 {
            self.cov_xy() / d
        } else {
            0.0
        }
    }

    /// The ratio `Σy / Σx` (e.g. order value per order), by the delta method.
    pub fn ratio(&self) -> Estimate {
        let (mx, my) = (self.sx / self.n, self.sy / self.n);
        let r = my / mx;
        let var =
            (self.var_y() - 2.0 * r * self.cov_xy() + r * r * self.var_x()) / (self.n * mx * mx);
        Estimate {
            n: self.sx,
            mean: r,
            var: var.max(0.0),
        }
    }
}

fn sample_var(n: f64, s: f64, ss: f64) -> f64 {
    if n < 2.0 {
        return 0.0;
    }
    ((ss - s * s / n) / (n - 1.0)).max(0.0)
}

/// The difference between a treatment and the control, absolute and relative.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Lift {
    pub absolute: f64,
    pub ci: [f64; 2],
    pub half_width: f64,
    /// `absolute / control mean`, with its delta-method interval.
    pub relative: f64,
    pub relative_ci: [f64; 2],
    pub p_value: f64,
}

/// Treatment minus control (independent arms) at normal quantile `z`.
pub fn lift(control: &Estimate, treatment: &Estimate, z: f64) -> Lift {
    let absolute = treatment.mean - control.mean;
    let se = (control.var + treatment.var).max(0.0).sqrt();
    let c = control.mean;
    let relative = absolute / c;
    // d(t/c − 1) = dt/c − t dc/c²
    let rel_se = (treatment.var / (c * c) + treatment.mean.powi(2) * control.var / c.powi(4))
        .max(0.0)
        .sqrt();
    Lift {
        absolute,
        ci: [absolute - z * se, absolute + z * se],
        half_width: z * se,
        relative,
        relative_ci: [relative - z * rel_se, relative + z * rel_se],
        p_value: two_sided_p(absolute / se),
    }
}

/// The sample-ratio-mismatch test: Pearson's χ² of the observed counts against the expected
/// shares (normalized), `k − 1` degrees of freedom. `NaN` when it cannot be computed.
pub fn srm_p_value(counts: &[f64], shares: &[f64]) -> f64 {
    let total: f64 = counts.iter().sum();
    let share_total: f64 = shares.iter().sum();
    if counts.len() < 2 || counts.len() != shares.len() || total <= 0.0 || share_total <= 0.0 {
        return f64::NAN;
    }
    let stat: f64 = counts
        .iter()
        .zip(shares)
        .map(|(&o, &s)| {
            let e = total * s / share_total;
            if e > 0.0 {
                (o - e).powi(2) / e
            } else {
                0.0
            }
        })
        .sum();
    match ChiSquared::new((counts.len() - 1) as f64) {
        Ok(chi) => 1.0 - chi.cdf(stat),
        Err(_) => f64::NAN,
    }
}

/// The always-valid (anytime) interval of a difference: the asymptotic confidence sequence of
/// Howard, Ramdas, McAuliffe & Sekhon (2021, eq. 14), as GrowthBook's `gbstats` uses it, with
/// the mixing parameter tuned to be tightest at `tuning_n` units. `var` is the variance of the
/// estimate over `n` units in total; the half-width is valid at every look simultaneously.
pub fn sequential_half_width(var: f64, n: f64, alpha: f64, tuning_n: f64) -> f64 {
    let log_a = alpha.ln();
    let rho2 = (-2.0 * log_a + (-2.0 * log_a + 1.0).ln()) / tuning_n;
    let unit_sd = (var * n).max(0.0).sqrt();
    let nr = n * rho2 + 1.0;
    unit_sd * ((2.0 * nr / (n * n * rho2)) * (nr.sqrt() / alpha).ln()).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_p_values() {
        assert!((z_for(0.95) - 1.959_963_985).abs() < 1e-8);
        assert!((two_sided_p(1.959_963_985) - 0.05).abs() < 1e-8);
    }

    #[test]
    fn lift_of_known_proportions() {
        // 3 % vs 3.15 % at 50,000 each: half-width 0.214 pp.
        let c = Estimate {
            n: 5e4,
            mean: 0.03,
            var: 0.03 * 0.97 / 5e4,
        };
        let t = Estimate {
            n: 5e4,
            mean: 0.0315,
            var: 0.0315 * 0.9685 / 5e4,
        };
        let l = lift(&c, &t, z_for(0.95));
        assert!((l.half_width - 0.00214).abs() < 0.00001, "{}", l.half_width);
        assert!((l.relative - 0.05).abs() < 1e-12);
    }

    #[test]
    fn srm_detects_a_skew_and_not_a_balance() {
        assert!(srm_p_value(&[5000.0, 5000.0], &[0.5, 0.5]) > 0.99);
        assert!(srm_p_value(&[50_000.0, 49_000.0], &[0.5, 0.5]) < 0.01);
        // 2 × (100²/5000) = 4 on 1 df → p = 0.0455.
        assert!((srm_p_value(&[5100.0, 4900.0], &[1.0, 1.0]) - 0.0455).abs() < 1e-3);
        assert!(srm_p_value(&[1.0], &[1.0]).is_nan());
    }

    #[test]
    fn cuped_removes_the_covariates_share_of_the_variance() {
        let mut m = Moments::default();
        for i in 0..1000 {
            let x = f64::from(i % 10);
            let y = x + f64::from((i * 7) % 3);
            m.add(y, x);
        }
        let (theta, mx) = Moments::cuped_theta(&[m]);
        let plain = m.mean();
        let adj = m.cuped_mean(theta, mx);
        let rho = m.correlation();
        assert!((adj.var / plain.var - (1.0 - rho * rho)).abs() < 1e-9);
        assert!((adj.mean - plain.mean).abs() < 1e-12, "one arm: x̄ = μₓ");
    }

    #[test]
    fn sequential_interval_is_wider_than_the_fixed_one_and_shrinks() {
        let var: f64 = 1.0 / 1e4;
        let fixed = z_for(0.95) * var.sqrt();
        let seq = sequential_half_width(var, 1e4, 0.05, 1e4);
        assert!(seq > fixed && seq < 3.0 * fixed, "{seq} vs {fixed}");
        assert!(sequential_half_width(1.0 / 4e4, 4e4, 0.05, 1e4) < seq);
    }
}
