//! The on-device half of off-policy evaluation: the engine's randomized releases know their exact
//! probabilities, so a device can log, for each shelf it showed, the probability of what it
//! showed under the setting that ran (the logging policy) and under a candidate setting (the
//! target policy), and the reward it saw (a click on that shelf). It keeps only three running
//! means, clipped, and reports them as layer-1 values:
//!
//! - `ope_ips`:    mean of `w · r`, with `w = min(π₁ / π₀, clip)`  — range `[0, clip]`;
//! - `ope_weight`: mean of `w`                                    — range `[0, clip]`;
//! - `ope_dr`:     mean of `DM + w · (r − q̂)` — range `[−clip·q̂max, 1 + clip·(1 − q̂min)]`,
//!
//! where `q̂` is the public reward model's prediction for the shown action (one of its two values,
//! `q̂min ≤ q̂ ≤ q̂max`) and `DM = Σₐ π₁(a) q̂(a)` its expectation under the candidate. Across devices these are plain means: IPS is the mean of
//! `ope_ips`, SNIPS the ratio of the means of `ope_ips` and `ope_weight`, DR the mean of
//! `ope_dr` (Dudík, Langford & Li 2011; the estimators of Open Bandit Pipeline, in per-device form).
//!
//! **Exploration slice.** A share `η` of releases is drawn at a low ε (nearly uniform), so the
//! logging probability of every action is at least `η` times its probability at that ε, and the
//! weights stay bounded without clipping for candidates that are not far more concentrated than
//! the exploration release. The logged `π₀` is the mixture `(1 − η)·π_main + η·π_explore`.

use serde::{Deserialize, Serialize};

use crate::experiment::error::ExperimentError;
use crate::experiment::manifest::OpeSettings;
use crate::numfmt::Num;
use crate::privacy::Propensity;

/// The probability that the exponential ("anchor") mechanism with top-set probability `p`, a top
/// set of `m` items and `n` candidates releases a given item: `p / m` inside the top set,
/// `(1 − p) / (n − m)` outside (see `privacy::anchor`).
pub fn anchor_probability(p: f64, m: usize, n: usize, in_top: bool) -> f64 {
    if in_top {
        p / m.max(1) as f64
    } else if n > m {
        (1.0 - p) / (n - m) as f64
    } else {
        0.0
    }
}

/// The logging probability with an exploration slice of share `share`.
pub fn with_exploration(main: f64, explore: f64, share: f64) -> f64 {
    (1.0 - share) * main + share * explore
}

/// One shelf shown on the device, as logged for off-policy evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpeImpression {
    /// Probability of the shown action under the setting that ran (> 0).
    pub logging_p: f64,
    /// Probability of the same action under the candidate setting.
    pub target_p: f64,
    /// The reward observed, in `[0, 1]` (1 = the shelf was clicked).
    pub reward: f64,
    /// The reward model's prediction for the shown action, in `[0, 1]`.
    pub predicted: f64,
    /// The reward model's expectation under the candidate, `Σₐ π₁(a) q̂(a)`, in `[0, 1]`.
    pub candidate_predicted: f64,
}

impl OpeImpression {
    /// The impression of one release as the engine reported it (the `ope` request option's
    /// `propensity`), with the reward seen (1: its shelf was clicked, 0: not) and the manifest's
    /// public reward model: `q̂` is `top` when the release showed the key item and `rest`
    /// otherwise, and `DM = p₁·top + (1 − p₁)·rest` with `p₁` the candidate's probability of
    /// showing it. Values outside their ranges (hostile input) are `invalid_value`.
    pub fn of_release(
        p: &Propensity,
        reward: f64,
        settings: &OpeSettings,
    ) -> Result<Self, ExperimentError> {
        let checks = [
            ("logging", p.logging, p.logging > 0.0 && p.logging <= 1.0),
            ("candidate", p.candidate, (0.0..=1.0).contains(&p.candidate)),
            (
                "candidateKeyShown",
                p.candidate_key_shown,
                (0.0..=1.0).contains(&p.candidate_key_shown),
            ),
            ("reward", reward, (0.0..=1.0).contains(&reward)),
        ];
        for (name, v, ok) in checks {
            if !ok {
                return Err(ExperimentError::new(
                    "invalid_value",
                    name,
                    format!("{name} must be a probability (logging > 0), got {}", Num(v)),
                ));
            }
        }
        let (top, rest) = (settings.reward_top, settings.reward_rest);
        Ok(Self {
            logging_p: p.logging,
            target_p: p.candidate,
            reward,
            predicted: if p.key_shown { top } else { rest },
            candidate_predicted: p.candidate_key_shown * top + (1.0 - p.candidate_key_shown) * rest,
        })
    }
}

crate::wire! {
    /// A device's running OPE sums (kept on the device; never sent as such).
    #[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
    pub struct OpeTally {
        n: u32 = "n",
        sum_wr: f64 = "sum_wr",
        sum_w: f64 = "sum_w",
        sum_dr: f64 = "sum_dr",
    }
}

impl OpeTally {
    /// Adds one impression with weights clipped to `[0, clip]`. An impression with a logging
    /// probability that is not positive, or non-finite inputs, is ignored (returns `false`).
    pub fn record(&mut self, imp: &OpeImpression, clip: f64) -> bool {
        let finite = [
            imp.logging_p,
            imp.target_p,
            imp.reward,
            imp.predicted,
            imp.candidate_predicted,
        ]
        .iter()
        .all(|x| x.is_finite());
        if !finite || imp.logging_p <= 0.0 || imp.target_p < 0.0 {
            return false;
        }
        let w = (imp.target_p / imp.logging_p).min(clip);
        let r = imp.reward.clamp(0.0, 1.0);
        let q = imp.predicted.clamp(0.0, 1.0);
        self.n = self.n.saturating_add(1);
        self.sum_wr += w * r;
        self.sum_w += w;
        self.sum_dr += imp.candidate_predicted.clamp(0.0, 1.0) + w * (r - q);
        true
    }

    /// The device's values `(ope_ips, ope_weight, ope_dr)`: means over its impressions
    /// (`None` before any impression).
    pub fn means(&self) -> Option<(f64, f64, f64)> {
        (self.n > 0).then(|| {
            let n = f64::from(self.n);
            (self.sum_wr / n, self.sum_w / n, self.sum_dr / n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_sum_to_one() {
        let (p, m, n) = (0.6, 5, 50);
        let total = m as f64 * anchor_probability(p, m, n, true)
            + (n - m) as f64 * anchor_probability(p, m, n, false);
        assert!((total - 1.0).abs() < 1e-12);
        let mixed = with_exploration(0.2, 0.02, 0.1);
        assert!((mixed - (0.18 + 0.002)).abs() < 1e-12);
    }

    #[test]
    fn a_release_becomes_an_impression_with_the_reward_model() {
        let settings = OpeSettings {
            clip: 10.0,
            candidate: Default::default(),
            candidate_epsilon: 4.0,
            exploration_share: 0.3,
            exploration_epsilon: 0.5,
            reward_top: 0.3,
            reward_rest: 0.1,
        };
        let p = Propensity {
            logging: 0.2,
            candidate: 0.5,
            key_shown: true,
            candidate_key_shown: 0.9,
        };
        let imp = OpeImpression::of_release(&p, 1.0, &settings).unwrap();
        assert_eq!((imp.logging_p, imp.target_p, imp.reward), (0.2, 0.5, 1.0));
        assert_eq!(imp.predicted, 0.3, "the key shown: the model's top rate");
        assert!((imp.candidate_predicted - (0.9 * 0.3 + 0.1 * 0.1)).abs() < 1e-12);
        let hidden = Propensity {
            key_shown: false,
            ..p
        };
        assert_eq!(
            OpeImpression::of_release(&hidden, 0.0, &settings)
                .unwrap()
                .predicted,
            0.1
        );
        for bad in [
            Propensity { logging: 0.0, ..p },
            Propensity { logging: 1.5, ..p },
            Propensity {
                candidate: -0.1,
                ..p
            },
            Propensity {
                candidate_key_shown: f64::NAN,
                ..p
            },
        ] {
            let e = OpeImpression::of_release(&bad, 1.0, &settings).unwrap_err();
            assert_eq!(e.code, "invalid_value");
        }
        assert!(OpeImpression::of_release(&p, 2.0, &settings).is_err());
    }

    #[test]
    fn tally_clips_and_averages() {
        let mut t = OpeTally::default();
        assert_eq!(t.means(), None);
        let imp = OpeImpression {
            logging_p: 0.01,
            target_p: 0.5,
            reward: 1.0,
            predicted: 0.2,
            candidate_predicted: 0.3,
        };
        assert!(t.record(&imp, 10.0));
        assert!(t.record(
            &OpeImpression {
                reward: 0.0,
                target_p: 0.02,
                ..imp
            },
            10.0
        ));
        assert!(!t.record(
            &OpeImpression {
                logging_p: 0.0,
                ..imp
            },
            10.0
        ));
        assert!(!t.record(
            &OpeImpression {
                reward: f64::NAN,
                ..imp
            },
            10.0
        ));
        let (ips, w, dr) = t.means().unwrap();
        assert_eq!(t.n, 2);
        assert!(
            (ips - 5.0).abs() < 1e-12,
            "clipped weight 10 × reward 1, then 2 × 0"
        );
        assert!((w - 6.0).abs() < 1e-12);
        assert!((dr - (0.3 + 10.0 * 0.8 + 0.3 + 2.0 * -0.2) / 2.0).abs() < 1e-12);
    }
}
