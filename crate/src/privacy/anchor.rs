//! The exponential mechanism over items with a top-m utility ("anchor" mechanism): releases one
//! item, the *anchor*, and the shelf is post-processing of it (the anchor first, then the items
//! closest to it).
//!
//! # Mechanism
//!
//! The candidates are a fixed, public set C of n items: the whole catalog, or its n most popular
//! items by the bundle's (public) popularity — the mechanism's price grows with ln(n / m), so a
//! smaller pool makes each ε go further, at the cost of never *anchoring* on an item outside it
//! (such items can still appear on the shelf as the anchor's neighbours). Let `S(H)` be the m best
//! candidates under the **non-private** score of history H (the model's ranking; ties broken by
//! row, so `S` is a deterministic function of H with exactly m elements for every H, including
//! the empty history, whose ranking is the popularity order). Output candidate j with probability
//!
//! ```text
//! P(j | H) = p / m              if j ∈ S(H)
//!          = (1 − p) / (n − m)  if j ∈ C \ S(H)        (and 0 outside C, for every H)
//! ```
//!
//! This is the exponential mechanism with utility `u_j(H) = 1[j ∈ S(H)]` (sensitivity 1 for any
//! two histories) — equivalently Gumbel-max over `ε·u_j` — whose normalizer `m·e^ε + (n − m)` is
//! the same for every H, so the usual factor 2 disappears: for any H, H′ and any j,
//!
//! ```text
//! P(j | H) / P(j | H′) ≤ (p / m) / ((1 − p) / (n − m)) = e^ε   when   p = m·e^ε / (m·e^ε + n − m).
//! ```
//!
//! That is pure ε-DP with respect to the whole history (δ = 0), whatever S is — the guarantee does
//! not depend on the model, the signal policy, the float arithmetic of the scores, or the session
//! caps. Among all ε-DP mechanisms that output one item as a function of its rank in the model's
//! ranking, a two-level distribution is optimal for any utility decreasing in rank (a linear
//! program whose box constraints `c ≤ P(rank r) ≤ e^ε·c` make the optimum two-level), and m sets
//! where the step is.
//!
//! # Sampling (exact)
//!
//! `p` is rounded *down* to a multiple of 2⁻⁵³ (after a relative 10⁻⁹ safety margin for the f64
//! `exp`/`ln`), so the mechanism's true ε is at most the configured one. Then: one exact
//! Bernoulli(p) from uniform integers, and a uniform index in `S` or in its complement (exact
//! rejection sampling). No floating-point value is ever sampled, so there is nothing for a
//! floating-point attack to read.
//!
//! # Accounting
//!
//! ε-DP composes additively (k releases: kε, δ = 0), and ε-DP implies ε²/2-zCDP (Bun & Steinke
//! 2016, Proposition 1.4); the accountant uses whichever bound is smaller (see `accountant`).

use crate::bundle::Bundle;
use crate::error::PrivacyError;
use crate::kernels::{sort_rows, top_k, Scored, TopK};
use crate::numfmt::Num;
use crate::privacy::rng::RandomSource;
use crate::privacy::samplers::{bernoulli, uniform_below};
use crate::score::{Scorer, SessionSignal};

/// The precision of `p`: a multiple of 2⁻⁵³.
const P_DENOMINATOR: u128 = 1 << 53;

/// A calibrated top-m exponential mechanism over `n` candidate items.
#[derive(Debug, Clone, PartialEq)]
pub struct AnchorMechanism {
    /// Items in the catalog.
    n_items: usize,
    /// The candidate rows, ascending (`None`: every row).
    pool: Option<Vec<u32>>,
    /// Number of candidates.
    n: usize,
    m: usize,
    /// p = p_num / 2⁵³: the probability of answering from the top-m set.
    p_num: u128,
    /// The configured ε (an upper bound on the true one).
    epsilon: f64,
}

impl AnchorMechanism {
    /// Calibrates for `n` items, ε and a top set of `m` items (`1 ≤ m < n`; `None`: the default
    /// [`AnchorMechanism::default_m`]).
    pub fn calibrate(n: usize, epsilon: f64, m: Option<usize>) -> Result<Self, PrivacyError> {
        Self::calibrate_pool(n, None, epsilon, m)
    }

    /// Calibrates with the `candidates` most popular items of `bundle` as the pool (ties by row;
    /// `None` or ≥ the catalog: every item).
    pub fn for_bundle(
        bundle: &Bundle,
        candidates: Option<usize>,
        epsilon: f64,
        m: Option<usize>,
    ) -> Result<Self, PrivacyError> {
        let n_items = bundle.n_items();
        let pool = match candidates {
            Some(c) if c < n_items => {
                let mut rows: Vec<u32> = top_k(bundle.prior(), c)
                    .into_iter()
                    .map(|s| s.index)
                    .collect();
                sort_rows(&mut rows);
                Some(rows)
            }
            _ => None,
        };
        Self::calibrate_pool(n_items, pool, epsilon, m)
    }

    /// Calibrates with an explicit, sorted candidate pool (it must not depend on what the release
    /// protects: under `unit: 'device'` it comes from the page's own events).
    pub fn for_pool(
        n_items: usize,
        pool: Vec<u32>,
        epsilon: f64,
        m: Option<usize>,
    ) -> Result<Self, PrivacyError> {
        Self::calibrate_pool(n_items, Some(pool), epsilon, m)
    }

    fn calibrate_pool(
        n_items: usize,
        pool: Option<Vec<u32>>,
        epsilon: f64,
        m: Option<usize>,
    ) -> Result<Self, PrivacyError> {
        let n = pool.as_ref().map_or(n_items, Vec::len);
        if n < 2 {
            return Err(PrivacyError::InvalidOption {
                name: "privacy",
                why: format!(
                    "the exponential mechanism needs at least 2 items, the bundle has {n}"
                ),
            });
        }
        if !(epsilon > 0.0 && epsilon.is_finite()) {
            return Err(PrivacyError::InvalidOption {
                name: "epsilon",
                why: format!("must be finite and > 0, got {}", Num(epsilon)),
            });
        }
        let m = m.unwrap_or_else(|| Self::default_m(n, epsilon));
        if m == 0 || m >= n {
            return Err(PrivacyError::InvalidOption {
                name: "privacy.topM",
                why: format!("must be from 1 to {} (items − 1), got {m}", n - 1),
            });
        }
        // p_max = 1 / (1 + (n − m) / (m e^ε)), computed in logs; shaved by 10⁻⁹ (far above the
        // f64 error of exp/ln) and rounded down to the 2⁻⁵³ grid.
        let log_odds = epsilon + (m as f64).ln() - ((n - m) as f64).ln();
        let p_max = 1.0 / (1.0 + (-log_odds).exp());
        let p_num = ((p_max * (1.0 - 1e-9)) * P_DENOMINATOR as f64).floor() as u128;
        let p_num = p_num.min(P_DENOMINATOR - 1);
        Ok(Self {
            n_items,
            pool,
            n,
            m,
            p_num,
            epsilon,
        })
    }

    /// The default size of the top set: the m that maximizes the probability mass on the model's
    /// best items without spreading it thinner than needed — the smallest m whose top-set
    /// probability p reaches 1/2, i.e. `m = ⌈n / (e^ε + 1)⌉` (at least 1, at most n/2).
    /// Measured against other choices in `docs/PRIVACY.md`.
    pub fn default_m(n: usize, epsilon: f64) -> usize {
        let m = (n as f64 / (epsilon.exp() + 1.0)).ceil();
        if m.is_finite() {
            (m as usize).clamp(1, (n / 2).max(1))
        } else {
            1
        }
    }

    /// The size of the top set.
    pub fn m(&self) -> usize {
        self.m
    }

    /// The number of candidates.
    pub fn candidates(&self) -> usize {
        self.n
    }

    /// The probability of answering from the top set.
    pub fn p(&self) -> f64 {
        self.p_num as f64 / P_DENOMINATOR as f64
    }

    /// The configured ε.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The mechanism's exact ε: `ln(p(n − m) / ((1 − p) m))` (≤ [`AnchorMechanism::epsilon`]).
    pub fn exact_epsilon(&self) -> f64 {
        let p = self.p();
        (p / (1.0 - p)).ln() + ((self.n - self.m) as f64).ln() - (self.m as f64).ln()
    }

    /// The top set S(H) for a history's signal: the m best rows under the model's (non-private)
    /// score — the embedding score plus the sparse re-consumption and item-to-item terms — ties
    /// broken by row (sorted ascending).
    pub fn top_set(
        &self,
        bundle: &Bundle,
        signal: &SessionSignal,
    ) -> Result<Vec<u32>, PrivacyError> {
        if bundle.n_items() != self.n_items {
            return Err(PrivacyError::Internal(format!(
                "catalog has {} items, the mechanism was calibrated for {}",
                bundle.n_items(),
                self.n_items
            )));
        }
        let scorer = Scorer::from_signal(bundle, signal);
        // A NaN score would never enter a top-k and leave the set short: it ranks last instead.
        let finite = |s: f32| if s.is_nan() { f32::NEG_INFINITY } else { s };
        let best = match &self.pool {
            // Only candidates compete: score just them (a few thousand dot products).
            Some(pool) => {
                let mut top = TopK::new(self.m);
                for &r in pool {
                    top.push(Scored {
                        index: r,
                        score: finite(scorer.score(r)),
                    });
                }
                top.into_sorted()
            }
            None => {
                let mut scores = vec![0.0f32; self.n_items];
                scorer.score_all(&mut scores);
                scores.iter_mut().for_each(|s| *s = finite(*s));
                top_k(&scores, self.m)
            }
        };
        let mut set: Vec<u32> = best.into_iter().map(|s| s.index).collect();
        sort_rows(&mut set);
        set.dedup();
        if set.len() != self.m {
            return Err(PrivacyError::Internal(format!(
                "top set has {} items, expected {}",
                set.len(),
                self.m
            )));
        }
        Ok(set)
    }

    /// One release: an item row.
    pub fn release<R: RandomSource + ?Sized>(
        &self,
        bundle: &Bundle,
        signal: &SessionSignal,
        rng: &mut R,
    ) -> Result<u32, PrivacyError> {
        let set = self.top_set(bundle, signal)?;
        self.sample(&set, rng)
    }

    /// Samples from the two-level distribution around a top set (sorted, m distinct rows < n).
    pub fn sample<R: RandomSource + ?Sized>(
        &self,
        set: &[u32],
        rng: &mut R,
    ) -> Result<u32, PrivacyError> {
        if bernoulli(rng, self.p_num, P_DENOMINATOR)? {
            let i = uniform_below(rng, set.len() as u128)? as usize;
            return set
                .get(i)
                .copied()
                .ok_or_else(|| PrivacyError::Internal("empty top set".into()));
        }
        // The r-th candidate (0-based, ascending) not in the set.
        let r = uniform_below(rng, (self.n - set.len()) as u128)? as u64;
        match &self.pool {
            None => {
                let mut j = r;
                for &s in set {
                    if u64::from(s) <= j {
                        j += 1;
                    } else {
                        break;
                    }
                }
                u32::try_from(j).map_err(|_| PrivacyError::Internal("row beyond u32".into()))
            }
            Some(pool) => pool
                .iter()
                .filter(|row| set.binary_search(row).is_err())
                .nth(r as usize)
                .copied()
                .ok_or_else(|| PrivacyError::Internal("candidate index out of range".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::rng::InsecureSeededRngForTestsOnly as SeededRng;

    #[test]
    fn calibration_meets_epsilon_from_below() {
        for (n, m, eps) in [
            (2usize, 1usize, 0.1f64),
            (10, 3, 1.0),
            (43_097, 20, 8.0),
            (43_097, 1, 12.0),
            (1000, 999, 0.5),
        ] {
            let a = AnchorMechanism::calibrate(n, eps, Some(m)).unwrap();
            let e = a.exact_epsilon();
            assert!(e <= eps + 1e-12, "n={n} m={m} ε={eps}: {e}");
            assert!(e >= eps - 1e-5, "n={n} m={m} ε={eps}: only {e}");
        }
        assert!(AnchorMechanism::calibrate(1, 1.0, None).is_err());
        assert!(AnchorMechanism::calibrate(10, 1.0, Some(10)).is_err());
        assert!(AnchorMechanism::calibrate(10, 1.0, Some(0)).is_err());
        assert!(AnchorMechanism::calibrate(10, f64::INFINITY, None).is_err());
        assert_eq!(AnchorMechanism::default_m(43_097, 8.0), 15);
        assert_eq!(AnchorMechanism::default_m(43_097, 20.0), 1);
        assert_eq!(AnchorMechanism::default_m(43_097, 0.1), 20_472);
    }

    /// With a pool, every output is a candidate, with the two-level probabilities.
    #[test]
    fn pool_outputs_only_candidates() {
        let a = AnchorMechanism::calibrate_pool(20, Some(vec![1, 4, 6, 9, 13, 17]), 1.0, Some(2))
            .unwrap();
        assert_eq!(a.candidates(), 6);
        let set = [4u32, 13];
        let mut rng = SeededRng::from_seed(6);
        let mut counts = [0u64; 20];
        for _ in 0..30_000 {
            counts[a.sample(&set, &mut rng).unwrap() as usize] += 1;
        }
        for (j, &c) in counts.iter().enumerate() {
            let candidate = [1, 4, 6, 9, 13, 17].contains(&j);
            assert_eq!(c > 0, candidate, "row {j}: {c}");
        }
        let p = a.p();
        let expect_in = p / 2.0 * 30_000.0;
        assert!((counts[4] as f64 - expect_in).abs() < 5.0 * expect_in.sqrt());
        let expect_out = (1.0 - p) / 4.0 * 30_000.0;
        assert!((counts[9] as f64 - expect_out).abs() < 5.0 * expect_out.sqrt());
    }

    /// χ² of the sampler against the two-level distribution (n = 12, m = 3, ε = 1).
    #[test]
    fn sampler_matches_the_two_level_distribution() {
        let a = AnchorMechanism::calibrate(12, 1.0, Some(3)).unwrap();
        let set = [2u32, 5, 11];
        let mut rng = SeededRng::from_seed(5);
        let draws = 60_000u64;
        let mut counts = [0u64; 12];
        for _ in 0..draws {
            counts[a.sample(&set, &mut rng).unwrap() as usize] += 1;
        }
        let p = a.p();
        let mut stat = 0.0;
        for (j, &c) in counts.iter().enumerate() {
            let pj = if set.contains(&(j as u32)) {
                p / 3.0
            } else {
                (1.0 - p) / 9.0
            };
            let e = pj * draws as f64;
            stat += (c as f64 - e).powi(2) / e;
        }
        // χ²(11 dof) at 10⁻³: 31.26.
        assert!(stat < 31.26, "χ² = {stat}");
    }
}
