//! The local-DP mechanism of a report: every value leaves the device as **one randomized bit**.
//!
//! # Mechanism
//!
//! A value is first mapped to `u ∈ [0, 1]`: a bit is itself (`u ∈ {0, 1}`); a bounded value `x`
//! is clipped to its declared range `[lo, hi]` and scaled, `u = (x − lo) / (hi − lo)`. Then
//!
//! 1. `B ~ Bernoulli(u)` (the value coin: for a bit, `B = u`);
//! 2. randomized response on `B`: output `B` with probability `q`, `1 − B` with probability
//!    `1 − q`, where `q = e^ε / (1 + e^ε)` (rounded **down** onto the grid `k · 2⁻⁵³`, by rounding `1 − q` up).
//!
//! For a bit this is Warner's randomized response; for a bounded value it is 1BitMean (Ding,
//! Kulkarni & Yekhanin, NeurIPS 2017): `P(1 | x) = (1 − q) + u(x)·(2q − 1)`.
//!
//! # Proof (ε-LDP with respect to the whole history)
//!
//! The output depends on the history only through `B`. For either output `o` and any two
//! histories `H, H′` (so any `u, u′ ∈ [0, 1]`): `P(o | H) = (1 − q) + u·(2q − 1)` or its complement
//! is a convex combination of `q` and `1 − q`, hence lies in `[1 − q, q]`, and
//! `P(o | H) / P(o | H′) ≤ q / (1 − q) ≤ e^ε` because `q ≤ e^ε / (1 + e^ε)` by the downward
//! rounding (`1 − q` is raised by a relative 10⁻⁹ for the f64 `exp`, then rounded up). The guarantee holds whatever the
//! value is, however `u` was rounded, and for the empty history (δ = 0). A report of k values
//! with budgets `ε₁ … ε_k` is `(Σ εᵢ)`-LDP by basic composition; the device sends at most one
//! report per experiment, so an experiment costs a device `Σ εᵢ` once.
//!
//! # Sampling (exact)
//!
//! Both coins are exact Bernoulli draws from uniform integers ([`crate::privacy::samplers`]):
//! `u` is rounded to the nearest multiple of 2⁻⁵³ (a bias below 2⁻⁵⁴ in the value, none in the
//! guarantee) and `q` is a multiple of 2⁻⁵³. No floating-point sample is drawn.
//!
//! # Debiasing (the analysis)
//!
//! `E[output] = (1 − q) + E[u]·(2q − 1)`, so over `n` reports with `s` ones,
//! `Ê[u] = (s/n − (1 − q)) / (2q − 1)` is unbiased, with variance `Var(output) / (n (2q − 1)²)`.
//! Sums merge: any set of reports is summarized by `(n, s)` per arm and metric.

use crate::error::PrivacyError;
use crate::experiment::error::ExperimentError;
use crate::numfmt::Num;
use crate::privacy::rng::RandomSource;
use crate::privacy::samplers::bernoulli;

/// The probability grid: multiples of 2⁻⁵³.
const GRID: u128 = 1 << 53;

/// Smallest ε per value (below it, `2q − 1` is too small to estimate anything).
pub const MIN_VALUE_EPSILON: f64 = 0.01;
/// Largest ε per value (beyond it, `q` rounds to 1 on the grid).
pub const MAX_VALUE_EPSILON: f64 = 30.0;

/// Randomized response (1BitMean for bounded values) calibrated to one value's ε.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BitRandomizer {
    /// q = keep_num / 2⁵³: the probability of sending the value coin unchanged.
    keep_num: u128,
    epsilon: f64,
}

impl BitRandomizer {
    /// Calibrates for ε in `[MIN_VALUE_EPSILON, MAX_VALUE_EPSILON]`.
    pub fn new(epsilon: f64) -> Result<Self, ExperimentError> {
        if !(MIN_VALUE_EPSILON..=MAX_VALUE_EPSILON).contains(&epsilon) {
            return Err(ExperimentError::new(
                "epsilon",
                "",
                format!(
                    "ε of a report value must be from {} to {}, got {}",
                    Num(MIN_VALUE_EPSILON),
                    Num(MAX_VALUE_EPSILON),
                    Num(epsilon)
                ),
            ));
        }
        // 1 − q = 1 / (1 + e^ε), raised by a relative 10⁻⁹ (far above the f64 error of exp)
        // and rounded up onto the grid, so q = 1 − that is at most e^ε / (1 + e^ε).
        let flip = 1.0 / (1.0 + epsilon.exp());
        let flip_num = ((flip * (1.0 + 1e-9)) * GRID as f64).ceil() as u128;
        let keep_num = GRID.saturating_sub(flip_num);
        Ok(Self {
            keep_num: keep_num.clamp(GRID / 2 + 1, GRID - 1),
            epsilon,
        })
    }

    /// The configured ε (an upper bound on the true one, [`BitRandomizer::exact_epsilon`]).
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// `q`: the probability that the value coin is sent unchanged.
    pub fn keep_probability(&self) -> f64 {
        self.keep_num as f64 / GRID as f64
    }

    /// The mechanism's true ε, `ln(q / (1 − q))`.
    pub fn exact_epsilon(&self) -> f64 {
        let q = self.keep_probability();
        (q / (1.0 - q)).ln()
    }

    /// Randomized response on a bit.
    pub fn randomize_bit<R: RandomSource + ?Sized>(
        &self,
        bit: bool,
        rng: &mut R,
    ) -> Result<bool, PrivacyError> {
        let keep = bernoulli(rng, self.keep_num, GRID)?;
        Ok(bit == keep)
    }

    /// 1BitMean on `u ∈ [0, 1]` (NaN is refused; values outside are clipped): the value coin
    /// `Bernoulli(u)`, then randomized response.
    pub fn randomize_unit<R: RandomSource + ?Sized>(
        &self,
        u: f64,
        rng: &mut R,
    ) -> Result<bool, PrivacyError> {
        if u.is_nan() {
            return Err(PrivacyError::Internal("report value is NaN".into()));
        }
        let num = (u.clamp(0.0, 1.0) * GRID as f64).round() as u128;
        let coin = bernoulli(rng, num.min(GRID), GRID)?;
        self.randomize_bit(coin, rng)
    }

    /// The unbiased estimate of `E[u]` from `ones` ones among `n` reports (`n > 0`).
    pub fn debias_mean(&self, ones: f64, n: f64) -> f64 {
        let q = self.keep_probability();
        (ones / n - (1.0 - q)) / (2.0 * q - 1.0)
    }

    /// The factor between the standard error of the reported ones' share and that of
    /// [`BitRandomizer::debias_mean`]: `1 / (2q − 1)`.
    pub fn debias_scale(&self) -> f64 {
        1.0 / (2.0 * self.keep_probability() - 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::rng::InsecureSeededRngForTestsOnly as SeededRng;

    #[test]
    fn calibration_meets_epsilon_from_below() {
        for eps in [
            MIN_VALUE_EPSILON,
            0.1,
            0.5,
            1.0,
            2.0,
            8.0,
            MAX_VALUE_EPSILON,
        ] {
            let r = BitRandomizer::new(eps).unwrap();
            let e = r.exact_epsilon();
            assert!(e <= eps, "ε = {eps}: exact {e}");
            assert!(
                e >= eps - 1e-6 || eps == MAX_VALUE_EPSILON,
                "ε = {eps}: only {e}"
            );
        }
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 31.0] {
            let e = BitRandomizer::new(bad).unwrap_err();
            assert_eq!(e.code, "epsilon");
        }
    }

    #[test]
    fn keep_probability_at_epsilon_one() {
        let q = BitRandomizer::new(1.0).unwrap().keep_probability();
        assert!((q - 0.731_058_578_6).abs() < 1e-8, "{q}");
    }

    #[test]
    fn debiased_means_recover_the_value_within_four_sigma() {
        let mut rng = SeededRng::from_seed(31);
        for (eps, u) in [(1.0, 0.03), (2.0, 0.3), (0.5, 0.7), (1.0, 0.0), (4.0, 1.0)] {
            let r = BitRandomizer::new(eps).unwrap();
            let n = 200_000usize;
            let ones = (0..n)
                .filter(|_| r.randomize_unit(u, &mut rng).unwrap())
                .count() as f64;
            let est = r.debias_mean(ones, n as f64);
            let q = r.keep_probability();
            let p1 = (1.0 - q) + u * (2.0 * q - 1.0);
            let sd = (p1 * (1.0 - p1) / n as f64).sqrt() * r.debias_scale();
            assert!((est - u).abs() < 4.0 * sd, "ε={eps} u={u}: {est} ± {sd}");
        }
    }

    #[test]
    fn bits_are_randomized_response() {
        let mut rng = SeededRng::from_seed(32);
        let r = BitRandomizer::new(2.0).unwrap();
        let n = 100_000;
        let kept = (0..n)
            .filter(|_| r.randomize_bit(true, &mut rng).unwrap())
            .count() as f64;
        let q = r.keep_probability();
        let sd = (q * (1.0 - q) / n as f64).sqrt();
        assert!((kept / n as f64 - q).abs() < 4.0 * sd);
        assert!(r.randomize_unit(f64::NAN, &mut rng).is_err());
    }
}
