//! The privacy accountant: composes every release against a budget (ε_B, δ) per period.
//!
//! Two kinds of releases exist: the Gaussian mechanism (ρ-zCDP) and the exponential mechanism
//! (pure ε-DP, which is also ε²/2-zCDP — Bun & Steinke 2016, Proposition 1.4). The accountant keeps
//! three sums for the current period — ρ over all releases (pure ones converted), ρ over the
//! Gaussian ones, ε over the pure ones — and a release is allowed when **any** valid composition
//! of the period's releases (including it) stays within (ε_B, δ):
//!
//! ```text
//! zCDP:   ε(Σ ρ_all, δ) ≤ ε_B                       (additive ρ, then CKS conversion)
//! pure:   Σ ε_pure ≤ ε_B        when no Gaussian release   (basic composition, δ = 0)
//! mixed:  Σ ε_pure + ε(Σ ρ_gauss, δ) ≤ ε_B                  (basic composition of the two parts)
//! ```
//!
//! All sums are kept in **integer fixed point** (units of 2⁻³⁰; charges rounded up, budgets
//! rounded down), so no sequence of float additions can round a spend away. Releases are
//! calibrated to values on that grid ([`rho_on_grid`]), so a budget equal to k releases' ε fits
//! exactly k of them.
//!
//! A period starts at the first release after the previous one ended (the caller's clock, in
//! milliseconds; it must not depend on the history). A clock that goes backwards never starts a
//! new period. With no period length, the budget covers the accountant's whole lifetime (until
//! the history it protects is forgotten).

use serde::{Deserialize, Serialize};

use crate::error::PrivacyError;
use crate::numfmt::Num;
use crate::privacy::calibrate;

/// Fixed-point resolution: 2⁻³⁰ (≈ 9.3·10⁻¹⁰) of a unit of ρ or ε. With values ≤ 2²³ a unit count
/// stays below 2⁵³, so `units / 2³⁰` is an exact f64 and conversions round-trip.
const UNITS_PER_ONE: f64 = (1u64 << 30) as f64;
/// Largest ρ or ε the accountant represents (2²³ ≈ 8.4 million; far beyond any useful budget).
const MAX_VALUE: f64 = (1u64 << 23) as f64;

/// `x` rounded down to the accountant's grid (a release calibrated to it costs exactly its
/// units, and is at least as noisy as one calibrated to `x`).
pub fn rho_on_grid(x: f64) -> f64 {
    if x > 0.0 && x <= MAX_VALUE {
        (x * UNITS_PER_ONE).floor() / UNITS_PER_ONE
    } else {
        x
    }
}

/// ε (or ρ) `x` in accountant units, rounded down (a cap: never more than `x`); values beyond the
/// representable range saturate.
pub fn units_down_of(x: f64) -> u64 {
    units_down(x)
}

/// ε (or ρ) `x` in accountant units, rounded up (a charge: never less than `x`); values beyond the
/// representable range saturate.
pub fn units_up_of(x: f64) -> u64 {
    units_up(x, "epsilon").unwrap_or(u64::MAX)
}

/// `x` in accountant units, rounded up (charges).
fn units_up(x: f64, name: &'static str) -> Result<u64, PrivacyError> {
    if !(0.0..=MAX_VALUE).contains(&x) {
        return Err(PrivacyError::InvalidOption {
            name,
            why: format!("the release's privacy cost {} is outside [0, 2^23]", Num(x)),
        });
    }
    Ok((x * UNITS_PER_ONE).ceil() as u64)
}

/// `x` in accountant units, rounded down (budgets).
fn units_down(x: f64) -> u64 {
    if (0.0..=MAX_VALUE).contains(&x) {
        (x * UNITS_PER_ONE).floor() as u64
    } else if x > MAX_VALUE {
        (MAX_VALUE * UNITS_PER_ONE) as u64
    } else {
        0
    }
}

fn to_value(units: u64) -> f64 {
    units as f64 / UNITS_PER_ONE
}

/// The cost of one release, in accountant units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    /// ρ (zCDP) of the release.
    pub rho_units: u64,
    /// ε of a pure ε-DP release (`None`: a Gaussian release, only ρ applies).
    pub pure_epsilon_units: Option<u64>,
}

impl Charge {
    /// A ρ-zCDP (Gaussian) release.
    pub fn zcdp(rho: f64) -> Result<Self, PrivacyError> {
        Ok(Self {
            rho_units: units_up(rho, "epsilon")?,
            pure_epsilon_units: None,
        })
    }

    /// A pure ε-DP release (also ε²/2-zCDP).
    pub fn pure(epsilon: f64) -> Result<Self, PrivacyError> {
        Ok(Self {
            rho_units: units_up(epsilon * epsilon / 2.0, "epsilon")?,
            pure_epsilon_units: Some(units_up(epsilon, "epsilon")?),
        })
    }
}

/// A budget: (ε, δ) per period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Total ε per period (finite, > 0).
    pub epsilon: f64,
    /// δ of the whole period, in (0, 1).
    pub delta: f64,
    /// Period length in milliseconds; `None`: one period for the accountant's lifetime.
    pub period_ms: Option<f64>,
}

crate::wire! {
    /// What the accountant persists (with the session state).
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct AccountantState {
        /// ρ spent in the current period by every release (pure ones as ε²/2), in units of 2⁻³⁰.
        #[serde(default)]
        rho_units: u64 = "rhoUnits",
        /// ρ spent by Gaussian releases, in units of 2⁻³⁰.
        #[serde(default)]
        gaussian_rho_units: u64 = "gaussianRhoUnits",
        /// ε spent by pure ε-DP releases, in units of 2⁻³⁰.
        #[serde(default)]
        pure_epsilon_units: u64 = "pureEpsilonUnits",
        /// When the current period started (ms on the engine's clock); `None` before the first
        /// release.
        period_start_ms: Option<f64> = "periodStartMs",
        /// Fresh releases in the current period.
        #[serde(default)]
        releases: u64 = "releases",
    }
}

impl AccountantState {
    /// Joins another record of the same budget (another tab's, from the shared storage): the later
    /// period wins; within one period every sum is the larger of the two. Spending never goes
    /// down, so a release one tab made is counted by every tab that joins its stored state.
    pub fn join(&mut self, other: &AccountantState) {
        match (self.period_start_ms, other.period_start_ms) {
            (_, None) => {}
            (None, Some(_)) => *self = other.clone(),
            (Some(a), Some(b)) if b > a => *self = other.clone(),
            (Some(a), Some(b)) if b < a => {}
            _ => {
                self.rho_units = self.rho_units.max(other.rho_units);
                self.gaussian_rho_units = self.gaussian_rho_units.max(other.gaussian_rho_units);
                self.pure_epsilon_units = self.pure_epsilon_units.max(other.pure_epsilon_units);
                self.releases = self.releases.max(other.releases);
            }
        }
    }

    /// A stored state's own consistency: a finite period start, Gaussian ρ within the total.
    pub(crate) fn check(&self) -> Result<(), PrivacyError> {
        if let Some(t) = self.period_start_ms {
            if !t.is_finite() {
                return Err(PrivacyError::State(format!(
                    "accountant period start must be finite, got {}",
                    Num(t)
                )));
            }
        }
        if self.gaussian_rho_units > self.rho_units {
            return Err(PrivacyError::State(
                "Gaussian ρ exceeds the total ρ spent".into(),
            ));
        }
        Ok(())
    }
}

/// The accountant for one history.
#[derive(Debug, Clone, PartialEq)]
pub struct Accountant {
    budget: Budget,
    /// ρ_B = the largest ρ with ε(ρ, δ) ≤ ε_B, in units (rounded down); computed when first
    /// needed (a bisection: pure releases that fit by basic composition never need it).
    budget_rho: std::cell::OnceCell<u64>,
    /// ε_B in units (rounded down).
    budget_epsilon_units: u64,
    state: AccountantState,
}

crate::wire! {
    /// Spent / remaining, for `privacyStatus()`.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct BudgetStatus {
        /// ε of the budget (per period).
        epsilon: f64 = "epsilon",
        /// δ of the budget.
        delta: f64 = "delta",
        /// Period length in ms (null: until the history is forgotten).
        period_ms: Option<f64> = "periodMs",
        /// ε spent in the current period: the best of the composition bounds above.
        spent_epsilon: f64 = "spentEpsilon",
        /// δ of that bound (0 when only pure releases were made).
        spent_delta: f64 = "spentDelta",
        /// ε left (`epsilon − spentEpsilon`, at least 0).
        remaining_epsilon: f64 = "remainingEpsilon",
        /// ρ (zCDP) spent in the current period (all releases).
        spent_rho: f64 = "spentRho",
        /// Fresh releases in the current period.
        releases: u64 = "releases",
        /// When the current period ends (ms on the engine's clock), if it is time-bounded and
        /// started.
        period_ends_ms: Option<f64> = "periodEndsMs",
    }
}

impl Accountant {
    /// A fresh accountant (nothing spent).
    pub fn new(budget: Budget) -> Result<Self, PrivacyError> {
        Self::with_state(budget, AccountantState::default())
    }

    /// An accountant resuming from persisted `state`.
    pub fn with_state(budget: Budget, state: AccountantState) -> Result<Self, PrivacyError> {
        if !(budget.epsilon > 0.0 && budget.epsilon <= MAX_VALUE) {
            return Err(PrivacyError::InvalidOption {
                name: "budget.epsilon",
                why: format!("must be a finite number > 0, got {}", Num(budget.epsilon)),
            });
        }
        if !(budget.delta > 0.0 && budget.delta < 1.0) {
            return Err(PrivacyError::InvalidOption {
                name: "delta",
                why: format!("must be in (0, 1), got {}", Num(budget.delta)),
            });
        }
        if let Some(p) = budget.period_ms {
            if !(p > 0.0 && p.is_finite()) {
                return Err(PrivacyError::InvalidOption {
                    name: "budget.period",
                    why: format!(
                        "must be a finite number of milliseconds > 0, got {}",
                        Num(p)
                    ),
                });
            }
        }
        state.check()?;
        Ok(Self {
            budget,
            budget_rho: std::cell::OnceCell::new(),
            budget_epsilon_units: units_down(budget.epsilon),
            state,
        })
    }

    /// The state to persist.
    pub fn state(&self) -> &AccountantState {
        &self.state
    }

    /// Starts a new period if the current one has ended at `now_ms`.
    fn roll(&mut self, now_ms: f64) {
        if let (Some(period), Some(start)) = (self.budget.period_ms, self.state.period_start_ms) {
            if now_ms >= start + period {
                self.state = AccountantState::default();
            }
        }
    }

    /// The best (ε, δ) bound for sums in units; `None` when no bound fits within the budget.
    fn bound(&self, rho: u64, gauss_rho: u64, pure_eps: u64) -> (f64, f64) {
        let delta = self.budget.delta;
        let zcdp = calibrate::epsilon_for(to_value(rho), delta);
        let mut best = (zcdp, if rho == 0 { 0.0 } else { delta });
        if gauss_rho == 0 {
            let pure = to_value(pure_eps);
            if pure <= best.0 {
                best = (pure, 0.0);
            }
        } else if pure_eps > 0 {
            let mixed = to_value(pure_eps) + calibrate::epsilon_for(to_value(gauss_rho), delta);
            if mixed < best.0 {
                best = (mixed, delta);
            }
        }
        best
    }

    /// ρ_B in units.
    fn budget_rho_units(&self) -> u64 {
        *self
            .budget_rho
            .get_or_init(|| units_down(calibrate::rho_for(self.budget.epsilon, self.budget.delta)))
    }

    /// Whether sums in units fit the budget (integer comparisons where the bound allows).
    fn fits(&self, rho: u64, gauss_rho: u64, pure_eps: u64) -> bool {
        if gauss_rho == 0 && pure_eps <= self.budget_epsilon_units {
            return true;
        }
        // ρ_B ≤ ε_B (ε(ρ) ≥ ρ), so a ρ above ε_B cannot fit: skip ρ_B's bisection then (every
        // request once a pure-ε budget is spent would otherwise pay for it).
        if rho <= self.budget_epsilon_units && rho <= self.budget_rho_units() {
            return true;
        }
        if gauss_rho == 0 {
            return false;
        }
        if pure_eps > 0 && pure_eps <= self.budget_epsilon_units {
            // ε(ρ_gauss) ≤ ε_B − Σε_pure  ⟺  ρ_gauss ≤ ρ(ε_B − Σε_pure): rounded down.
            let left = to_value(self.budget_epsilon_units - pure_eps);
            return left > 0.0
                && gauss_rho <= units_down(calibrate::rho_for(left, self.budget.delta));
        }
        false
    }

    /// Charges one release at `now_ms` if the period's budget allows it and returns `true`;
    /// otherwise changes nothing and returns `false`.
    pub fn try_spend(&mut self, charge: Charge, now_ms: f64) -> Result<bool, PrivacyError> {
        if !now_ms.is_finite() {
            return Err(PrivacyError::InvalidOption {
                name: "now",
                why: format!(
                    "the clock must be a finite number of milliseconds, got {}",
                    Num(now_ms)
                ),
            });
        }
        self.roll(now_ms);
        let s = &self.state;
        let sums = (
            s.rho_units.checked_add(charge.rho_units),
            match charge.pure_epsilon_units {
                None => s.gaussian_rho_units.checked_add(charge.rho_units),
                Some(_) => Some(s.gaussian_rho_units),
            },
            s.pure_epsilon_units
                .checked_add(charge.pure_epsilon_units.unwrap_or(0)),
        );
        let (Some(rho), Some(gauss), Some(pure)) = sums else {
            return Ok(false);
        };
        if !self.fits(rho, gauss, pure) {
            return Ok(false);
        }
        self.state.rho_units = rho;
        self.state.gaussian_rho_units = gauss;
        self.state.pure_epsilon_units = pure;
        self.state.releases += 1;
        if self.state.period_start_ms.is_none() {
            self.state.period_start_ms = Some(now_ms);
        }
        Ok(true)
    }

    /// How many more releases of `charge` the current period allows at `now_ms` (counted up to
    /// `cap`).
    pub fn releases_left(&self, charge: Charge, now_ms: f64, cap: u64) -> u64 {
        let mut probe = self.clone();
        let mut n = 0;
        while n < cap && probe.try_spend(charge, now_ms).unwrap_or(false) {
            n += 1;
        }
        n
    }

    /// Spent / remaining at `now_ms`.
    pub fn status(&self, now_ms: f64) -> BudgetStatus {
        let mut s = self.clone();
        if now_ms.is_finite() {
            s.roll(now_ms);
        }
        let st = &s.state;
        let (spent_epsilon, spent_delta) =
            s.bound(st.rho_units, st.gaussian_rho_units, st.pure_epsilon_units);
        BudgetStatus {
            epsilon: s.budget.epsilon,
            delta: s.budget.delta,
            period_ms: s.budget.period_ms,
            spent_epsilon,
            spent_delta,
            remaining_epsilon: (s.budget.epsilon - spent_epsilon).max(0.0),
            spent_rho: to_value(st.rho_units),
            releases: st.releases,
            period_ends_ms: match (s.budget.period_ms, st.period_start_ms) {
                (Some(p), Some(start)) => Some(start + p),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn budget(eps: f64, period_ms: Option<f64>) -> Budget {
        Budget {
            epsilon: eps,
            delta: 1e-6,
            period_ms,
        }
    }

    fn gauss(eps: f64) -> Charge {
        Charge::zcdp(rho_on_grid(calibrate::rho_for(eps, 1e-6))).unwrap()
    }

    #[test]
    fn a_budget_of_one_release_fits_exactly_one() {
        for eps in [0.1, 1.0, 8.0, 1000.0] {
            for charge in [gauss(eps), Charge::pure(rho_on_grid(eps)).unwrap()] {
                let mut acc = Accountant::new(budget(eps, None)).unwrap();
                assert!(acc.try_spend(charge, 0.0).unwrap(), "ε = {eps} {charge:?}");
                assert!(!acc.try_spend(charge, 0.0).unwrap(), "ε = {eps} {charge:?}");
                let st = acc.status(0.0);
                assert!(st.spent_epsilon <= eps + 1e-9, "{st:?}");
            }
        }
    }

    #[test]
    fn k_equal_zcdp_releases_fit_exactly_k_times() {
        // Budget ρ_B; releases of ρ_B / k on the grid: k fit, not k + 1; composed ε = ε(kρ).
        let mut acc = Accountant::new(budget(1.0, None)).unwrap();
        let rho_b = calibrate::rho_for(1.0, 1e-6);
        let per = Charge::zcdp(rho_on_grid(rho_b / 4.0)).unwrap();
        let mut n = 0;
        while acc.try_spend(per, 0.0).unwrap() {
            n += 1;
        }
        assert_eq!(n, 4);
        let st = acc.status(0.0);
        let expect = calibrate::epsilon_for(to_value(per.rho_units * 4), 1e-6);
        assert!((st.spent_epsilon - expect).abs() < 1e-12);
        assert!(st.spent_epsilon <= 1.0 + 1e-9);
    }

    #[test]
    fn pure_releases_compose_by_the_better_bound() {
        // Large ε: basic composition (kε) beats zCDP (ε(kε²/2, δ)); 4 × 8 = 32 fits in 32.
        let mut acc = Accountant::new(budget(32.0, None)).unwrap();
        let per = Charge::pure(8.0).unwrap();
        let mut n = 0;
        while acc.try_spend(per, 0.0).unwrap() {
            n += 1;
        }
        assert_eq!(n, 4);
        let st = acc.status(0.0);
        assert_eq!((st.spent_epsilon, st.spent_delta), (32.0, 0.0));
        // Small ε: zCDP beats kε: more than 50 releases of ε = 0.1 fit in ε_B = 5 (basic
        // composition would stop at 50).
        let mut acc = Accountant::new(budget(5.0, None)).unwrap();
        let per = Charge::pure(0.1).unwrap();
        let mut n = 0;
        while n < 1000 && acc.try_spend(per, 0.0).unwrap() {
            n += 1;
        }
        assert!(n > 50, "{n}");
        let st = acc.status(0.0);
        assert!(
            st.spent_epsilon <= 5.0 + 1e-9 && st.spent_delta == 1e-6,
            "{st:?}"
        );
        // Mixed: one Gaussian release of ε = 1, then pure ε = 2 ones against ε_B = 6: basic
        // composition of the parts allows two (1 + 2 + 2 ≤ 6 with ε(ρ₁) ≤ 1).
        let mut acc = Accountant::new(budget(6.0, None)).unwrap();
        assert!(acc.try_spend(gauss(1.0), 0.0).unwrap());
        let mut n = 0;
        while acc.try_spend(Charge::pure(2.0).unwrap(), 0.0).unwrap() {
            n += 1;
        }
        assert_eq!(n, 2);
        assert!(acc.status(0.0).spent_epsilon <= 6.0 + 1e-9);
    }

    #[test]
    fn periods_reset_and_clocks_going_back_do_not() {
        let day = 86_400_000.0;
        let mut acc = Accountant::new(budget(1.0, Some(day))).unwrap();
        let all = Charge {
            rho_units: acc.budget_rho_units(),
            pure_epsilon_units: None,
        };
        let one = Charge {
            rho_units: 1,
            pure_epsilon_units: None,
        };
        assert!(acc.try_spend(all, 1000.0).unwrap());
        assert!(!acc.try_spend(one, 1000.0 + day - 1.0).unwrap());
        assert!(!acc.try_spend(one, -5.0e12).unwrap(), "clock going back");
        assert_eq!(acc.status(1000.0).period_ends_ms, Some(1000.0 + day));
        assert_eq!(acc.releases_left(one, 1000.0, 10), 0);
        assert_eq!(acc.releases_left(one, 1000.0 + day, 10), 10);
        assert!(acc.try_spend(one, 1000.0 + day).unwrap(), "next period");
        assert_eq!(acc.state().rho_units, 1);
        assert_eq!(acc.state().period_start_ms, Some(1000.0 + day));
        assert!(acc.try_spend(one, f64::NAN).is_err());
    }

    #[test]
    fn rejects_bad_budgets_and_states() {
        for (e, d, p) in [
            (0.0, 1e-6, None),
            (f64::INFINITY, 1e-6, None),
            (1.0, 0.0, None),
            (1.0, 1.0, None),
            (1.0, 1e-6, Some(0.0)),
            (1.0, 1e-6, Some(f64::NAN)),
        ] {
            let b = Budget {
                epsilon: e,
                delta: d,
                period_ms: p,
            };
            assert!(Accountant::new(b).is_err(), "{e} {d} {p:?}");
        }
        let bad = AccountantState {
            rho_units: 1,
            gaussian_rho_units: 2,
            ..AccountantState::default()
        };
        assert!(Accountant::with_state(budget(1.0, None), bad).is_err());
    }

    proptest! {
        /// No sequence of charges (Gaussian or pure, any sizes) and clock readings spends more
        /// than the budget in any period: after every step, some valid composition bound of the
        /// period's accepted releases — recomputed here from the raw charges — is within ε_B.
        #[test]
        fn never_overspends(
            eps in 0.05f64..40.0,
            period in prop::option::of(1.0f64..1e6),
            ops in prop::collection::vec((0.0f64..0.6, any::<bool>(), -1e3f64..1e5), 1..50),
        ) {
            let b = budget(eps, period);
            let mut acc = Accountant::new(b).unwrap();
            let mut clock = 0.0f64;
            let mut start: Option<f64> = None;
            let (mut rho, mut gauss, mut pure) = (0.0f64, 0.0f64, 0.0f64);
            for (frac, is_pure, dt) in ops {
                clock += dt;
                let charge = if is_pure {
                    Charge::pure(frac * eps).unwrap()
                } else {
                    Charge::zcdp(frac * calibrate::rho_for(eps, b.delta)).unwrap()
                };
                if let (Some(p), Some(s)) = (period, start) {
                    if clock >= s + p { rho = 0.0; gauss = 0.0; pure = 0.0; start = None; }
                }
                if acc.try_spend(charge, clock).unwrap() {
                    // The charge in real numbers (units are rounded up: at least the true cost).
                    rho += to_value(charge.rho_units);
                    match charge.pure_epsilon_units {
                        Some(e) => pure += to_value(e),
                        None => gauss += to_value(charge.rho_units),
                    }
                    start.get_or_insert(clock);
                }
                let zcdp = calibrate::epsilon_for(rho, b.delta);
                let basic = if gauss == 0.0 { pure } else { pure + calibrate::epsilon_for(gauss, b.delta) };
                prop_assert!(zcdp.min(basic) <= eps * (1.0 + 1e-9) + 1e-9,
                    "zcdp {zcdp} basic {basic} > {eps}");
                prop_assert!(acc.status(clock).spent_epsilon <= eps * (1.0 + 1e-9) + 1e-9);
            }
        }
    }
}
