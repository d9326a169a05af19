//! The shelf-cut mechanism of `unit: 'device'`: which of the items around the cut of the page's
//! own ranking the shelf shows, tilted towards one item of the device-only record.
//!
//! # Mechanism
//!
//! Fix what the page provided, P. The page's ranking from P alone is then public, and so is its
//! *window*: the W items at ranks a+1 … a+W, where the shelf of k items shows the a = k − h best
//! items of P unconditionally and h of the window. Let `key(D)` be one window item chosen from the
//! device-only record D by any deterministic rule (the engine: the window item D has the most live
//! events of, ties by P's rank; the window's first item when D has none of them). Release the set
//! T of h window items with
//!
//! ```text
//! P(T | D) = p / C(W−1, h−1)        if key(D) ∈ T
//!          = (1 − p) / C(W−1, h)    otherwise          p = h·e^ε / (h·e^ε + W − h)
//! ```
//!
//! i.e. the key is in the shelf with probability p, and the rest of T is a uniform subset of the
//! other W − 1 items. This is the exponential mechanism over h-subsets with the utility
//! `1[key(D) ∈ T]` (equivalently `P(T) ∝ e^{ε·1[key ∈ T]}`): its normalizer
//! `C(W−1, h−1)·e^ε + C(W−1, h)` is the same for every D, so for any D, D′ and any T,
//!
//! ```text
//! P(T | D) / P(T | D′) ≤ (p / C(W−1, h−1)) / ((1 − p) / C(W−1, h)) = p (W − h) / ((1 − p) h) = e^ε,
//! ```
//!
//! and the reverse ratio is at most `(1 − p) h / (p (W − h)) ≤ 1` since p ≥ h/W. **Pure ε-DP with
//! respect to the whole of D, conditional on P** (δ = 0), whatever the key rule, the model or the
//! float arithmetic of P's ranking (P's ranking is a function of P only).
//!
//! The shelf is post-processing of (P, T): P's top a, then P's ranking without the W − h window
//! items T left out. A later request (P grown, D unchanged) applies the same release to its own
//! ranking: the left-out items are pushed below the shelf's cut wherever they rank beyond P's
//! top a — still a function of (P, T) alone.
//!
//! Why this shape: a released item can only be shown e^ε times more often than when D does not
//! point at it (the per-item bound), so a D item can reach the shelf with a useful probability only
//! where the page's own ranking already shows it often. The cut is that place: its items are shown
//! with probability h/W without D, and the key with `h·e^ε / (h·e^ε + W − h)` (0.73 at ε = 1 for
//! W = 2h), while the shelf's first a items are never touched, so the shelf cannot fall far below
//! P's own. Measured against alternatives in `docs/PRIVACY.md`.
//!
//! # Sampling (exact)
//!
//! `p` is rounded *down* to a multiple of 2⁻⁵³ after a relative 10⁻⁹ safety margin (as in
//! `privacy::anchor`), so the true ε is at most the configured one; one exact Bernoulli(p) and a
//! uniform subset by a partial Fisher–Yates shuffle on exact uniform integers.

use serde::Serialize;

use crate::error::PrivacyError;
use crate::privacy::rng::RandomSource;
use crate::privacy::samplers::{bernoulli, uniform_below};

/// The precision of `p`: a multiple of 2⁻⁵³.
const P_DENOMINATOR: u128 = 1 << 53;

crate::wire! {
    /// The probabilities of one fresh shelf-cut release, for off-policy evaluation on the device
    /// (`experiment::ope`): what the request's `ope` option asks for. They depend on the
    /// device-only record (whether the released set shows its key item), so they are device-only
    /// data like the record itself: the page hands them to the experiments module, whose only
    /// output is a report randomized on the device (docs/EXPERIMENTS.md, "Off-policy evaluation").
    #[derive(Debug, Clone, Copy, PartialEq, Serialize)]
    pub struct Propensity {
        /// Probability of the released set under the setting that ran, exploration slice
        /// included: `(1 − η)·π_ε(T) + η·π_explore(T)`, in `(0, 1]`.
        logging: f64 = "logging",
        /// Probability of the same set under the candidate ε, in `[0, 1]`.
        candidate: f64 = "candidate",
        /// Whether the set shows the key item (the device record's pick from the window).
        key_shown: bool = "keyShown",
        /// Probability that the candidate's release shows the key item, in `[0, 1]`.
        candidate_key_shown: f64 = "candidateKeyShown",
    }
}

/// A validated `ope` request option (`rank::OpeOption`): a share of fresh releases drawn at a
/// lower ε (the exploration slice), and the candidate ε whose probabilities are reported. The
/// exploration coin is independent of the device record and the slice's ε is at most the
/// release's own, so the mixture is still ε-DP at the charged ε (a mixture of ε-DP mechanisms,
/// chosen by a coin independent of the data, is ε-DP).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidOpe {
    /// Share of fresh releases drawn at `epsilon`, in [0, 1).
    pub share: f64,
    /// The exploration slice's ε (finite, > 0).
    pub epsilon: f64,
    /// The candidate's ε (finite, > 0).
    pub candidate_epsilon: f64,
}

impl ValidOpe {
    /// Whether this release is in the exploration slice: an exact Bernoulli(share), with `share`
    /// rounded down to a multiple of 2⁻⁵³.
    pub fn explores<R: RandomSource + ?Sized>(&self, rng: &mut R) -> Result<bool, PrivacyError> {
        let num = self.share_num();
        if num == 0 {
            return Ok(false);
        }
        bernoulli(rng, num, P_DENOMINATOR)
    }

    /// The share as the sampler draws it: `share` rounded down to a multiple of 2⁻⁵³ (below 1).
    fn share_num(&self) -> u128 {
        ((self.share * P_DENOMINATOR as f64).floor() as u128).min(P_DENOMINATOR - 1)
    }

    /// The probabilities of a release of `slots` of a `window`-item cut at the release's own
    /// `epsilon` (with this exploration slice), according to whether it showed the key. The
    /// logging probability uses the same rounded share as [`ValidOpe::explores`].
    pub fn propensity(
        &self,
        window: usize,
        slots: usize,
        epsilon: f64,
        key_shown: bool,
    ) -> Result<Propensity, PrivacyError> {
        let main = WindowMechanism::calibrate(window, slots, epsilon)?;
        let explore = WindowMechanism::calibrate(window, slots, self.epsilon)?;
        let candidate = WindowMechanism::calibrate(window, slots, self.candidate_epsilon)?;
        let share = self.share_num() as f64 / P_DENOMINATOR as f64;
        Ok(Propensity {
            logging: (1.0 - share) * main.set_probability(key_shown)
                + share * explore.set_probability(key_shown),
            candidate: candidate.set_probability(key_shown),
            key_shown,
            candidate_key_shown: candidate.p(),
        })
    }
}

/// `C(n, k)` as a float (exact for the window sizes the engine allows; relative error ~k·2⁻⁵³).
fn choose(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    let k = k.min(n - k);
    (1..=k).fold(1.0, |c, i| c * (n - k + i) as f64 / i as f64)
}

/// A calibrated shelf-cut mechanism: h of W window items, ε.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowMechanism {
    window: usize,
    slots: usize,
    /// p = p_num / 2⁵³: the probability that the key is shown.
    p_num: u128,
}

impl WindowMechanism {
    /// Calibrates for a window of `window` items of which the shelf shows `slots`
    /// (`1 ≤ slots < window`), at ε.
    pub fn calibrate(window: usize, slots: usize, epsilon: f64) -> Result<Self, PrivacyError> {
        if slots == 0 || slots >= window {
            return Err(PrivacyError::InvalidOption {
                name: "privacy.topM",
                why: format!(
                    "the shelf shows from 1 to {} of the window's {window} items, got {slots}",
                    window.saturating_sub(1)
                ),
            });
        }
        if !(epsilon > 0.0 && epsilon.is_finite()) {
            return Err(PrivacyError::InvalidOption {
                name: "epsilon",
                why: "must be finite and > 0".into(),
            });
        }
        // p = 1 / (1 + (W − h) / (h e^ε)), in logs; shaved and rounded down to the grid.
        let log_odds = epsilon + (slots as f64).ln() - ((window - slots) as f64).ln();
        let p = 1.0 / (1.0 + (-log_odds).exp());
        let p_num = ((p * (1.0 - 1e-9)) * P_DENOMINATOR as f64).floor() as u128;
        Ok(Self {
            window,
            slots,
            p_num: p_num.min(P_DENOMINATOR - 1),
        })
    }

    /// The probability that the key is shown.
    pub fn p(&self) -> f64 {
        self.p_num as f64 / P_DENOMINATOR as f64
    }

    /// The mechanism's exact ε: `ln(p (W − h) / ((1 − p) h))`.
    pub fn exact_epsilon(&self) -> f64 {
        let p = self.p();
        (p / (1.0 - p)).ln() + ((self.window - self.slots) as f64).ln() - (self.slots as f64).ln()
    }

    /// The probability of one released set (`window − slots` items left out): `p / C(W−1, h−1)`
    /// when it shows the key, `(1 − p) / C(W−1, h)` otherwise.
    pub fn set_probability(&self, key_shown: bool) -> f64 {
        let others = self.window - 1;
        if key_shown {
            self.p() / choose(others, self.slots - 1)
        } else {
            (1.0 - self.p()) / choose(others, self.slots)
        }
    }

    /// One release: the positions (0-based, ascending) of the `window − slots` window items the
    /// shelf leaves out, given the key's position (`key < window`).
    pub fn left_out<R: RandomSource + ?Sized>(
        &self,
        key: usize,
        rng: &mut R,
    ) -> Result<Vec<usize>, PrivacyError> {
        if key >= self.window {
            return Err(PrivacyError::Internal("key outside the window".into()));
        }
        let shown_key = bernoulli(rng, self.p_num, P_DENOMINATOR)?;
        // The others, and how many of them are shown.
        let mut others: Vec<usize> = (0..self.window).filter(|&i| i != key).collect();
        let shown = self.slots - usize::from(shown_key);
        // Partial Fisher–Yates: the first `shown` entries become a uniform subset.
        for i in 0..shown {
            let j = i + uniform_below(rng, (others.len() - i) as u128)? as usize;
            others.swap(i, j);
        }
        // The rest, ascending, read off a mask (no sort: pdqsort for `usize` is ~4 KB of wasm).
        let mut left = vec![true; self.window];
        for &i in others.iter().take(shown) {
            left[i] = false;
        }
        left[key] = !shown_key;
        Ok((0..self.window).filter(|&i| left[i]).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::rng::InsecureSeededRngForTestsOnly as SeededRng;

    #[test]
    fn set_probabilities_sum_to_one() {
        for (w, h, eps) in [
            (2usize, 1usize, 0.5f64),
            (10, 5, 1.0),
            (20, 10, 2.0),
            (7, 3, 4.0),
        ] {
            let m = WindowMechanism::calibrate(w, h, eps).unwrap();
            // C(W−1, h−1) sets show the key, C(W−1, h) do not.
            let total = choose(w - 1, h - 1) * m.set_probability(true)
                + choose(w - 1, h) * m.set_probability(false);
            assert!((total - 1.0).abs() < 1e-12, "W={w} h={h}: {total}");
        }
        assert_eq!(choose(9, 4), 126.0);
        assert_eq!(choose(5, 0), 1.0);
        assert_eq!(choose(5, 5), 1.0);
    }

    #[test]
    fn calibration_meets_epsilon_from_below() {
        for (w, h, eps) in [
            (2usize, 1usize, 0.1f64),
            (10, 5, 1.0),
            (6, 2, 2.0),
            (40, 1, 8.0),
        ] {
            let m = WindowMechanism::calibrate(w, h, eps).unwrap();
            let e = m.exact_epsilon();
            assert!(
                e <= eps + 1e-12 && e >= eps - 1e-5,
                "W={w} h={h} ε={eps}: {e}"
            );
        }
        assert!(WindowMechanism::calibrate(5, 5, 1.0).is_err());
        assert!(WindowMechanism::calibrate(5, 0, 1.0).is_err());
        assert!(WindowMechanism::calibrate(5, 2, f64::NAN).is_err());
    }

    /// χ² of the released subsets against the closed form (W = 5, h = 2, ε = 1: 10 subsets).
    #[test]
    fn subsets_follow_the_closed_form() {
        let m = WindowMechanism::calibrate(5, 2, 1.0).unwrap();
        let mut rng = SeededRng::from_seed(9);
        let draws = 50_000u64;
        let mut counts = std::collections::HashMap::<Vec<usize>, u64>::new();
        for _ in 0..draws {
            let out = m.left_out(3, &mut rng).unwrap();
            assert_eq!(out.len(), 3);
            assert!(out.windows(2).all(|w| w[0] < w[1]), "ascending: {out:?}");
            *counts.entry(out).or_default() += 1;
        }
        assert_eq!(counts.len(), 10);
        let p = m.p();
        let mut stat = 0.0;
        for (out, &c) in &counts {
            let pt = if out.contains(&3) {
                (1.0 - p) / 6.0 // C(4, 2) subsets without the key
            } else {
                p / 4.0 // C(4, 1)
            };
            let e = pt * draws as f64;
            stat += (c as f64 - e).powi(2) / e;
        }
        // χ²(9 dof) at 10⁻³: 27.88.
        assert!(stat < 27.88, "χ² = {stat}");
    }
}
