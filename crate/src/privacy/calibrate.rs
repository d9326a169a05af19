//! Calibration: zero-concentrated DP (zCDP, Bun & Steinke 2016) ↔ (ε, δ)-DP, and the noise a
//! release needs.
//!
//! Every release is accounted in zCDP: the discrete Gaussian mechanism with L2 sensitivity Δ and
//! variance σ² is `ρ = Δ² / (2σ²)`-zCDP (Canonne, Kamath & Steinke 2020, Theorem 14), and
//! ρ-zCDP mechanisms compose by adding their ρ. A ρ-zCDP mechanism is (ε, δ)-DP for
//!
//! ```text
//! δ(ε) = inf_{α>1}  exp((α−1)(αρ − ε)) / (α−1) · (1 − 1/α)^α          (CKS 2020, Corollary 13)
//! ```
//!
//! which is tighter than the classic `ε = ρ + 2√(ρ ln(1/δ))` (also below, as the closed-form
//! upper bound the tests check against). The infimum is over a convex function of α; any α gives
//! a valid δ, so the bisection's inexactness only makes the reported δ (or ε) larger — never
//! smaller — than the true infimum.

/// Bisection steps (each halves an interval of f64s; 200 reaches the resolution of f64).
const STEPS: usize = 200;

/// δ such that a ρ-zCDP mechanism is (ε, δ)-DP (CKS Corollary 13). `ρ ≥ 0`, `ε ≥ 0`.
pub fn delta_for(rho: f64, epsilon: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    if !rho.is_finite() || !epsilon.is_finite() {
        return if epsilon == f64::INFINITY { 0.0 } else { 1.0 };
    }
    // d/dα of the log of the bound: (2α − 1)ρ − ε + ln(1 − 1/α), increasing in α.
    let slope = |a: f64| (2.0 * a - 1.0) * rho - epsilon + (-1.0 / a).ln_1p();
    let (mut lo, mut hi) = (1.0 + 1e-12, (epsilon + 1.0) / (2.0 * rho) + 2.0);
    for _ in 0..STEPS {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if slope(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let a = 0.5 * (lo + hi);
    let log_delta = (a - 1.0) * (a * rho - epsilon) + a * (-1.0 / a).ln_1p() - (a - 1.0).ln();
    log_delta.exp().min(1.0)
}

/// The classic conversion `ε = ρ + 2√(ρ ln(1/δ))` (Bun & Steinke 2016, Proposition 1.3): always
/// at least [`epsilon_for`].
pub fn epsilon_for_classic(rho: f64, delta: f64) -> f64 {
    rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt()
}

/// The smallest ε (up to bisection resolution, rounded up) such that ρ-zCDP implies (ε, δ)-DP,
/// for `δ ∈ (0, 1)`.
pub fn epsilon_for(rho: f64, delta: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    if !rho.is_finite() {
        return f64::INFINITY;
    }
    let (mut lo, mut hi) = (0.0, epsilon_for_classic(rho, delta));
    if delta_for(rho, lo) <= delta {
        return 0.0;
    }
    for _ in 0..STEPS {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if delta_for(rho, mid) <= delta {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// The largest ρ (up to bisection resolution, rounded down) such that ρ-zCDP implies (ε, δ)-DP,
/// for `ε > 0` finite and `δ ∈ (0, 1)`.
pub fn rho_for(epsilon: f64, delta: f64) -> f64 {
    // ε ≥ ρ for every δ < 1 (the bound at α → ∞), so ρ ∈ [0, ε].
    let (mut lo, mut hi) = (0.0, epsilon);
    for _ in 0..STEPS {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if delta_for(mid, epsilon) <= delta {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The integer variance σ² (in the sensitivity's units²) of a discrete Gaussian that makes a
/// release of L2 sensitivity `sensitivity` at most `rho`-zCDP: `σ² = ⌈Δ² / (2ρ)⌉`, nudged up by a
/// relative 10⁻¹² so that f64 rounding can only add noise. At least 1.
pub fn sigma2_for(sensitivity: f64, rho: f64) -> Option<u128> {
    if !(sensitivity > 0.0 && rho > 0.0) {
        return None;
    }
    let s2 = (sensitivity * sensitivity / (2.0 * rho) * (1.0 + 1e-12)).ceil();
    if !s2.is_finite() || s2 >= 2f64.powi(120) {
        return None;
    }
    Some((s2 as u128).max(1))
}

/// ρ of a discrete Gaussian release with sensitivity `sensitivity` and variance `sigma2`.
pub fn rho_of(sensitivity: f64, sigma2: u128) -> f64 {
    sensitivity * sensitivity / (2.0 * sigma2 as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Φ, the standard normal CDF, from erfc (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7).
    fn phi(x: f64) -> f64 {
        let z = x.abs() / std::f64::consts::SQRT_2;
        let t = 1.0 / (1.0 + 0.5 * z);
        let erfc = t
            * (-z * z - 1.265_512_23
                + t * (1.000_023_68
                    + t * (0.374_091_96
                        + t * (0.096_784_18
                            + t * (-0.186_288_06
                                + t * (0.278_868_07
                                    + t * (-1.135_203_98
                                        + t * (1.488_515_87
                                            + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
                .exp();
        if x >= 0.0 {
            1.0 - 0.5 * erfc
        } else {
            0.5 * erfc
        }
    }

    #[test]
    fn known_value_and_classic_bound() {
        // ρ = (1/4)²/2 = 1/32 at δ = 10⁻³: ε ≈ 0.688002455 (the value OpenDP's tests pin).
        let eps = epsilon_for(1.0 / 32.0, 1e-3);
        assert!((eps - 0.688_002_455_487_8).abs() < 1e-9, "{eps}");
        for rho in [1e-4, 0.01, 0.1, 0.5, 1.0, 3.0, 10.0, 100.0] {
            for delta in [1e-3, 1e-6, 1e-9] {
                let e = epsilon_for(rho, delta);
                let classic = epsilon_for_classic(rho, delta);
                assert!(e <= classic + 1e-12, "ρ={rho} δ={delta}: {e} > {classic}");
                assert!(e >= rho, "ρ={rho} δ={delta}: {e} < ρ");
                assert!(delta_for(rho, e) <= delta * (1.0 + 1e-9));
            }
        }
    }

    #[test]
    fn rho_for_inverts_epsilon_for_conservatively() {
        for eps in [0.01, 0.1, 0.5, 1.0, 2.0, 4.0, 8.0, 50.0] {
            for delta in [1e-5, 1e-6, 1e-9] {
                let rho = rho_for(eps, delta);
                assert!(rho > 0.0);
                let back = epsilon_for(rho, delta);
                assert!(back <= eps * (1.0 + 1e-9), "ε={eps}: ρ={rho} gives {back}");
                assert!(
                    back >= eps * (1.0 - 1e-6),
                    "ε={eps}: ρ={rho} gives only {back}"
                );
            }
        }
    }

    /// The zCDP bound is an upper bound on the Gaussian mechanism's exact privacy profile
    /// (Balle & Wang 2018): δ(ε) = Φ(Δ/2σ − εσ/Δ) − e^ε Φ(−Δ/2σ − εσ/Δ), with ρ = Δ²/2σ².
    #[test]
    fn zcdp_delta_dominates_the_exact_gaussian_profile() {
        for ratio in [0.25f64, 0.5, 1.0, 2.0, 4.0] {
            // ratio = Δ/σ
            let rho = ratio * ratio / 2.0;
            for eps in [0.1, 0.5, 1.0, 2.0, 5.0] {
                let exact =
                    phi(ratio / 2.0 - eps / ratio) - eps.exp() * phi(-ratio / 2.0 - eps / ratio);
                let bound = delta_for(rho, eps);
                assert!(
                    bound + 2e-7 >= exact,
                    "Δ/σ={ratio} ε={eps}: {bound} < {exact}"
                );
                // …and not absurdly loose: within a factor of ~3 where δ is not tiny.
                if exact > 1e-4 {
                    assert!(
                        bound < 3.0 * exact + 1e-6,
                        "Δ/σ={ratio} ε={eps}: {bound} ≫ {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn sigma_rounds_up() {
        let s2 = sigma2_for(8192.0, 0.5).unwrap();
        assert!(rho_of(8192.0, s2) <= 0.5);
        assert_eq!(sigma2_for(1.0, 100.0), Some(1));
        assert_eq!(sigma2_for(0.0, 1.0), None);
        assert_eq!(sigma2_for(1.0, 0.0), None);
        assert_eq!(sigma2_for(1e40, 1e-40), None);
    }
}
