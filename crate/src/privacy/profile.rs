//! The Gaussian profile mechanism: the session profile, clipped (or normalized) onto an integer
//! grid, plus discrete Gaussian noise. Everything after it — the readout, the ranking, rules,
//! diversity, explanations — is post-processing of the released vector.
//!
//! # The profile
//!
//! For the live item events of a history, newest first (position k = 0, 1, …), with item unit
//! vectors `ê_k` (‖ê_k‖ = 1, or 0 for an all-zero row), the pre-readout profile is
//!
//! ```text
//! h(H) = Σ_k c_k · w_k · ê_k        c_k = τ(type_k) · decay(age_k) · dwell_k
//! ```
//!
//! where `w_k` is the position weight (the bundle's learned `session_pos_weights`, 0 beyond its
//! length; or `recency_decay^k`), `τ` the per-type weight (the bundle's, or the page's override),
//! `decay ∈ (0, 1]` the half-life decay at the request's time and `dwell ∈ [0.2, 1]` the dwell
//! factor. So `|c_k| ≤ T := max_type |τ|`, and only positions `k < L = min(len(w), max_events)`
//! count. The ranking reads only the direction of `W·h` (the readout W is linear and the query is
//! normalized), so scaling `h` changes nothing downstream.
//!
//! # Unit `History` (user level: any two histories are neighbours)
//!
//! The released vector is `z = round(R′ · h/‖h‖)` (0 when h = 0) with `R′ = R − √d/2 − 1` and
//! `R` = [`GRID_RADIUS`]: rounding moves each coordinate by at most ½, so `‖z‖ ≤ R′ + √d/2 < R`,
//! and the code re-checks `Σ z_j² ≤ R²` in exact integer arithmetic before any noise is drawn
//! (failing closed otherwise). For **any** two histories H, H′ (nothing is assumed about their
//! lengths, types, timestamps, page weight overrides, or the float arithmetic that produced h):
//!
//! ```text
//! ‖z(H) − z(H′)‖₂ ≤ ‖z(H)‖ + ‖z(H′)‖ ≤ 2R          ⇒   Δ_history = 2R   (grid units)
//! ```
//!
//! Normalizing (rather than clipping at some C) costs the ranking nothing — it only reads the
//! direction — and gives every non-empty history the full signal norm R′ against noise calibrated
//! to 2R: a signal-to-sensitivity ratio of ½, the best any unit-ball embedding achieves.
//!
//! # Unit `Event` (one item event added or removed)
//!
//! Neighbours: H′ is H with one item event inserted (or removed) among its live events, the
//! request time, the other events and their details unchanged. Inserting event x at position j
//! shifts the older events by one position:
//!
//! ```text
//! h(H′) − h(H) = c_x w_j ê_x + Σ_{k ≥ j} c_k (w_{k+1} − w_k) ê_k         (w_k = 0 for k ≥ L)
//! ‖h(H′) − h(H)‖ ≤ T · ( |w_j| + Σ_{k=j}^{L−1} |w_{k+1} − w_k| )
//!                ≤ S := T · max_j ( |w_j| + Σ_{k ≥ j} |w_{k+1} − w_k| )
//! ```
//!
//! (an eviction caused by the insertion is the oldest event moving to position ≥ L, already
//! counted). Also `‖h‖ ≤ B := T · Σ_{k<L} |w_k|`. The released vector is `round(s·h)` with
//! `s = R′/B`, projected onto the ball of radius R′ first (projection onto a convex set is
//! 1-Lipschitz, so clipping never increases sensitivity; it only matters for float error).
//! Rounding adds at most 1 per coordinate to a difference (√d in L2, as OpenDP's
//! `get_rounding_distance` proves), and the f32 evaluation of h another ≤ 10⁻⁴·B (we add one grid
//! unit for it):
//!
//! ```text
//! Δ_event = min(2R, S·s·(1 + 10⁻⁴) + √d + 1)   (grid units)
//! ```
//!
//! Caveat, and why the engine offers only `History`: the event-level bound assumes the request's
//! time is fixed and that one event changes nothing else in the log. The engine's log also prunes
//! by age relative to the newest timestamp and evicts by count, and searches take slots — one
//! tracked event can change more than one term. The user-level bound assumes nothing, and with
//! normalization it is also the better one for ranking (see `docs/PRIVACY.md`).
//!
//! # Noise
//!
//! `z̃ = z + Y`, `Y_j ~ N_ℤ(0, σ²)` i.i.d. (exact sampler, `samplers::discrete_gaussian`), with the
//! integer `σ² = ⌈Δ²/(2ρ)⌉`: ρ-zCDP (Canonne, Kamath & Steinke 2020, Theorem 14 for the
//! multivariate discrete Gaussian) for the ρ the accountant charges.

use crate::error::PrivacyError;
use crate::numfmt::Num;
use crate::privacy::calibrate;
use crate::privacy::rng::RandomSource;
use crate::privacy::samplers::{discrete_gaussian_vec, MAX_SIGMA2};
use crate::session::{EventKind, SignalPolicy};

/// Radius R of the integer ball released profiles live in, in grid units (2¹²).
pub const GRID_RADIUS: i64 = 1 << 12;

/// Which histories are neighbours (what one release protects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrivacyUnit {
    /// Any two device-only records (the stored history the page did not provide in this page's
    /// lifetime), conditional on what the page provided: the engine's default. For the profile
    /// mechanism it is [`PrivacyUnit::History`] applied to the device-only profile.
    Device,
    /// Any two whole histories (the page's events included).
    History,
    /// Histories differing in one item event (weaker; for measurements, see the module docs).
    Event,
}

impl PrivacyUnit {
    /// `history` or `event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::History => "history",
            Self::Event => "event",
        }
    }
}

/// Bounds on the pre-readout profile under a signal policy (profile units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfileBounds {
    /// `T`: the largest |type weight|.
    pub max_type_weight: f64,
    /// `B = T · Σ_{k<L} |w_k|`: no profile is longer.
    pub max_norm: f64,
    /// `S = T · max_j (|w_j| + Σ_{k≥j} |w_{k+1} − w_k|)`: one event more or less moves the
    /// profile at most this far.
    pub event_sensitivity: f64,
}

impl ProfileBounds {
    /// The bounds for `policy` with a log of at most `max_events` entries.
    pub fn of(policy: &SignalPolicy, max_events: usize) -> Self {
        let t = EventKind::ALL
            .iter()
            .map(|k| f64::from(k.weight(&policy.weights)).abs())
            .fold(0.0, f64::max);
        let w: Vec<f64> = match &policy.position_weights {
            Some(w) => w.iter().take(max_events).map(|&x| f64::from(x)).collect(),
            None => {
                let decay = f64::from(policy.recency_decay);
                let mut out = Vec::with_capacity(max_events.min(10_000));
                let mut x = 1.0f64;
                for _ in 0..max_events {
                    out.push(x);
                    x *= decay;
                    if x == 0.0 {
                        break;
                    }
                }
                out
            }
        };
        let max_norm = t * w.iter().map(|x| x.abs()).sum::<f64>();
        // tail[j] = Σ_{k ≥ j} |w_{k+1} − w_k| with w_L = 0, computed from the end.
        let mut tail = 0.0f64;
        let mut best = 0.0f64;
        for j in (0..w.len()).rev() {
            let next = w.get(j + 1).copied().unwrap_or(0.0);
            tail += (next - w[j]).abs();
            best = best.max(w[j].abs() + tail);
        }
        Self {
            max_type_weight: t,
            max_norm,
            event_sensitivity: t * best,
        }
    }
}

/// A calibrated Gaussian profile mechanism for one bundle dimension, unit and ρ.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileMechanism {
    unit: PrivacyUnit,
    dim: usize,
    /// Profile units → grid units (`Event` only).
    scale: f64,
    /// R′ = R − √d/2 − 1: the radius before rounding, in grid units.
    inner_radius: f64,
    /// L2 sensitivity in grid units.
    sensitivity: f64,
    /// Noise variance in grid units².
    sigma2: u128,
    /// The ρ charged per release (≥ the mechanism's actual Δ²/2σ²).
    rho: f64,
}

impl ProfileMechanism {
    /// Calibrates the noise for releases of `rho`-zCDP over profiles of dimension `dim`.
    pub fn calibrate(
        dim: usize,
        bounds: &ProfileBounds,
        unit: PrivacyUnit,
        rho: f64,
    ) -> Result<Self, PrivacyError> {
        if dim == 0 {
            return Err(PrivacyError::InvalidOption {
                name: "privacy",
                why: "the bundle has no embedding dimensions to protect".into(),
            });
        }
        if !(rho > 0.0 && rho.is_finite()) {
            return Err(PrivacyError::InvalidOption {
                name: "epsilon",
                why: format!(
                    "the per-release zCDP cost must be finite and > 0, got ρ = {}",
                    Num(rho)
                ),
            });
        }
        let r = GRID_RADIUS as f64;
        let half_diag = (dim as f64).sqrt() / 2.0;
        let inner_radius = r - half_diag - 1.0;
        if inner_radius < r / 2.0 {
            return Err(PrivacyError::InvalidOption {
                name: "privacy",
                why: format!("embedding dimension {dim} is too large for the privacy grid"),
            });
        }
        let (scale, sensitivity) = match unit {
            PrivacyUnit::History | PrivacyUnit::Device => (1.0, 2.0 * r),
            PrivacyUnit::Event => {
                if !(bounds.max_norm > 0.0 && bounds.max_norm.is_finite()) {
                    return Err(PrivacyError::InvalidOption {
                        name: "privacy",
                        why: "the signal policy gives every event a zero weight".into(),
                    });
                }
                let s = inner_radius / bounds.max_norm;
                let delta = bounds.event_sensitivity * s * (1.0 + 1e-4) + 2.0 * half_diag + 1.0;
                (s, delta.min(2.0 * r))
            }
        };
        let sigma2 = calibrate::sigma2_for(sensitivity, rho)
            .filter(|&s2| s2 <= MAX_SIGMA2)
            .ok_or_else(|| PrivacyError::InvalidOption {
                name: "epsilon",
                why: "too small: the noise it needs exceeds the sampler's range (use ε ≥ 0.001)"
                    .into(),
            })?;
        Ok(Self {
            unit,
            dim,
            scale,
            inner_radius,
            sensitivity,
            sigma2,
            rho,
        })
    }

    /// The ρ (zCDP) charged per release.
    pub fn rho(&self) -> f64 {
        self.rho
    }

    /// The ρ the noise actually gives (Δ²/2σ² ≤ [`ProfileMechanism::rho`]).
    pub fn actual_rho(&self) -> f64 {
        calibrate::rho_of(self.sensitivity, self.sigma2)
    }

    /// L2 sensitivity in grid units.
    pub fn sensitivity(&self) -> f64 {
        self.sensitivity
    }

    /// Noise standard deviation per coordinate, in grid units.
    pub fn sigma(&self) -> f64 {
        (self.sigma2 as f64).sqrt()
    }

    /// Noise variance per coordinate, in grid units².
    pub fn sigma2(&self) -> u128 {
        self.sigma2
    }

    /// The profile on the integer grid, inside the ball of radius [`GRID_RADIUS`] (checked
    /// exactly). Deterministic: the noise is added by [`ProfileMechanism::release`].
    pub fn embed(&self, profile: &[f32]) -> Result<Vec<i64>, PrivacyError> {
        if profile.len() != self.dim {
            return Err(PrivacyError::Internal(format!(
                "profile has {} dimensions, the mechanism was calibrated for {}",
                profile.len(),
                self.dim
            )));
        }
        let h: Vec<f64> = profile
            .iter()
            .map(|&x| if x.is_finite() { f64::from(x) } else { 0.0 })
            .collect();
        let norm = h.iter().map(|x| x * x).sum::<f64>().sqrt();
        let factor = match self.unit {
            PrivacyUnit::History | PrivacyUnit::Device if norm > 0.0 => self.inner_radius / norm,
            PrivacyUnit::History | PrivacyUnit::Device => 0.0,
            PrivacyUnit::Event => {
                let scaled = norm * self.scale;
                if scaled > self.inner_radius {
                    self.inner_radius / norm
                } else {
                    self.scale
                }
            }
        };
        let z: Vec<i64> = h.iter().map(|x| (x * factor).round() as i64).collect();
        let r2 = i128::from(GRID_RADIUS) * i128::from(GRID_RADIUS);
        let n2: i128 = z.iter().map(|&x| i128::from(x) * i128::from(x)).sum();
        if n2 > r2 {
            // Unreachable by the argument in the module docs; never release if it were.
            return Err(PrivacyError::Internal(
                "embedded profile outside the grid ball".into(),
            ));
        }
        Ok(z)
    }

    /// One release: the embedded profile plus discrete Gaussian noise, in grid units (as f32 for
    /// the readout; the rounding to f32 is post-processing).
    pub fn release<R: RandomSource + ?Sized>(
        &self,
        profile: &[f32],
        rng: &mut R,
    ) -> Result<Vec<f32>, PrivacyError> {
        let z = self.embed(profile)?;
        let mut noise = vec![0i64; self.dim];
        discrete_gaussian_vec(rng, self.sigma2, &mut noise)?;
        Ok(z.iter()
            .zip(&noise)
            .map(|(&a, &b)| a.saturating_add(b) as f32)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::EventWeights;
    use crate::privacy::rng::InsecureSeededRngForTestsOnly as SeededRng;
    use proptest::prelude::*;

    fn policy(pos: Option<Vec<f32>>, weights: EventWeights) -> SignalPolicy {
        SignalPolicy {
            weights,
            position_weights: pos,
            ..SignalPolicy::default()
        }
    }

    #[test]
    fn bounds_closed_forms() {
        // Geometric decay 0.5 over 3 positions, views only (T = 1): w = 1, .5, .25.
        let w = EventWeights {
            view: 1.0,
            click: 1.0,
            add_to_cart: 1.0,
            remove_from_cart: -1.0,
            purchase: 1.0,
        };
        let mut p = policy(None, w);
        p.recency_decay = 0.5;
        let b = ProfileBounds::of(&p, 3);
        assert!((b.max_norm - 1.75).abs() < 1e-12);
        // Monotone decreasing to 0: |w_0| + Σ|Δw| = 1 + (0.5 + 0.25 + 0.25) = 2.
        assert!((b.event_sensitivity - 2.0).abs() < 1e-12);
        // Default type weights: T = 2 doubles both.
        let b2 = ProfileBounds::of(
            &policy(Some(vec![1.0, 0.5, 0.25]), EventWeights::default()),
            100,
        );
        assert!((b2.max_type_weight - 2.0).abs() < 1e-12);
        assert!((b2.max_norm - 3.5).abs() < 1e-12);
        assert!((b2.event_sensitivity - 4.0).abs() < 1e-12);
        // A non-monotone learned vector: w = [0.2, 1.0, 0.1]: j = 0 gives 0.2 + 0.8 + 0.9 + 0.1.
        let b3 = ProfileBounds::of(&policy(Some(vec![0.2, 1.0, 0.1]), w), 100);
        assert!((b3.event_sensitivity - 2.0).abs() < 1e-9, "{b3:?}");
    }

    /// An independent check of the derivation: random weight vectors and histories (unit
    /// vectors in 4-d, any types and per-event factors ≤ 1), one event inserted anywhere.
    #[test]
    fn event_sensitivity_holds_on_random_neighbours() {
        let config = ProptestConfig::with_cases(300);
        proptest!(config, |(
            w in prop::collection::vec(-2.0f64..2.0, 1..8),
            t in 0.1f64..3.0,
            events in prop::collection::vec((prop::collection::vec(-1.0f64..1.0, 4), -1.0f64..1.0), 0..12),
            extra in (prop::collection::vec(-1.0f64..1.0, 4), -1.0f64..1.0),
            at in 0usize..13,
        )| {
            let unit = |v: &[f64]| {
                let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                v.iter().map(|x| if n > 0.0 { x / n } else { 0.0 }).collect::<Vec<f64>>()
            };
            // Newest first; coefficient c in [−T, T].
            let h = |evs: &[(Vec<f64>, f64)]| {
                let mut out = vec![0.0f64; 4];
                for (k, (v, c)) in evs.iter().enumerate() {
                    let wk = w.get(k).copied().unwrap_or(0.0);
                    for (o, x) in out.iter_mut().zip(unit(v)) {
                        *o += c * t * wk * x;
                    }
                }
                out
            };
            let mut longer = events.clone();
            longer.insert(at.min(events.len()), extra);
            let (a, b) = (h(&events), h(&longer));
            let diff = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
            let wf: Vec<f32> = w.iter().map(|&x| x as f32).collect();
            let tw = t as f32;
            let pol = policy(Some(wf), EventWeights { view: tw, click: tw, add_to_cart: tw, remove_from_cart: -tw, purchase: tw });
            let bounds = ProfileBounds::of(&pol, 100);
            prop_assert!(diff <= bounds.event_sensitivity * (1.0 + 1e-5) + 1e-9, "{diff} > {bounds:?}");
            let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
            prop_assert!(na <= bounds.max_norm * (1.0 + 1e-5) + 1e-9);
        });
    }

    #[test]
    fn embedding_stays_in_the_ball_and_keeps_direction() {
        let bounds = ProfileBounds::of(&SignalPolicy::default(), 100);
        for unit in [PrivacyUnit::History, PrivacyUnit::Event] {
            let m = ProfileMechanism::calibrate(64, &bounds, unit, 1.0).unwrap();
            for scale in [1e-30f32, 1e-3, 1.0, 3.0, 1e6, 1e30] {
                let h: Vec<f32> = (0..64).map(|j| scale * ((j as f32) - 31.5)).collect();
                let z = m.embed(&h).unwrap();
                let n2: i128 = z.iter().map(|&x| i128::from(x) * i128::from(x)).sum();
                assert!(n2 <= i128::from(GRID_RADIUS).pow(2), "{unit:?} {scale}");
                if unit == PrivacyUnit::History {
                    // Normalized: the full radius (minus the rounding margin).
                    assert!(
                        (n2 as f64).sqrt() > GRID_RADIUS as f64 - 10.0,
                        "{scale}: {n2}"
                    );
                }
            }
            assert!(m.embed(&[0.0; 64]).unwrap().iter().all(|&x| x == 0));
            assert!(m.embed(&[f32::NAN; 64]).unwrap().iter().all(|&x| x == 0));
            assert!(m.embed(&[1.0; 63]).is_err());
        }
    }

    #[test]
    fn calibration_matches_the_closed_form() {
        let bounds = ProfileBounds::of(&SignalPolicy::default(), 100);
        let m = ProfileMechanism::calibrate(64, &bounds, PrivacyUnit::History, 0.5).unwrap();
        assert_eq!(m.sensitivity(), 2.0 * GRID_RADIUS as f64);
        // σ² = ⌈(2R)² / (2ρ)⌉ = 8192², plus the 10⁻¹² nudge that makes f64 rounding add noise.
        assert!((8192u128 * 8192..=8192 * 8192 + 1).contains(&m.sigma2()));
        assert!(m.actual_rho() <= m.rho());
        assert!(ProfileMechanism::calibrate(64, &bounds, PrivacyUnit::History, 1e-12).is_err());
        assert!(ProfileMechanism::calibrate(64, &bounds, PrivacyUnit::History, 0.0).is_err());
        assert!(ProfileMechanism::calibrate(0, &bounds, PrivacyUnit::History, 1.0).is_err());
    }

    #[test]
    fn release_adds_noise_of_the_calibrated_size() {
        let bounds = ProfileBounds::of(&SignalPolicy::default(), 100);
        let m = ProfileMechanism::calibrate(64, &bounds, PrivacyUnit::History, 8.0).unwrap();
        let mut rng = SeededRng::from_seed(3);
        let h: Vec<f32> = (0..64).map(|j| if j == 0 { 1.0 } else { 0.0 }).collect();
        let z = m.embed(&h).unwrap();
        let n = 200;
        let mut sq = 0.0f64;
        for _ in 0..n {
            let r = m.release(&h, &mut rng).unwrap();
            sq += r
                .iter()
                .zip(&z)
                .map(|(&a, &b)| (f64::from(a) - b as f64).powi(2))
                .sum::<f64>();
        }
        let var = sq / (n as f64 * 64.0);
        let want = m.sigma2() as f64;
        assert!((var / want - 1.0).abs() < 0.05, "{var} vs {want}");
    }
}
