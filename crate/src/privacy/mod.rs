//! Differential privacy for everything the engine shows: the mechanism (Gaussian noise on the
//! normalized session profile, [`profile`]), exact samplers ([`samplers`]) fed only by the OS
//! CSPRNG ([`rng`]), calibration between (ε, δ) and zCDP ([`calibrate`]), and the accountant that
//! composes releases against a budget per period ([`accountant`]).
//!
//! The guarantee (see `docs/PRIVACY.md`): with privacy on, every ranking the engine returns is a
//! function of the bundle, the request and the *released* noisy profile only. Each fresh release
//! is ρ-zCDP with respect to the whole local history (any two histories are neighbours); releases
//! compose in ρ against the budget of the current period, and once it is spent the engine serves
//! post-processing of the last release (or, before any release, the public popularity order) —
//! never a fresh un-noised profile.

pub mod accountant;
pub mod anchor;
pub mod calibrate;
mod mechanism;
mod options;
pub mod profile;
pub mod rng;
pub mod samplers;
mod state;
pub mod window;

pub use accountant::{Accountant, AccountantState, Budget, BudgetStatus, Charge};
pub use anchor::AnchorMechanism;
pub use mechanism::{Calibrated, Release};
pub use options::{
    BudgetOptions, CandidatesInput, EpsilonInput, Mechanism, PeriodInput, PrivacyConfig,
    PrivacyOptions, PrivateConfig, DEFAULT_BLEND, DEFAULT_BUDGET_EPSILON, DEFAULT_CANDIDATES,
    DEFAULT_DELTA, DEFAULT_DEVICE_BUDGET_EPSILON, DEFAULT_DEVICE_CANDIDATES,
    DEFAULT_DEVICE_EPSILON, DEFAULT_DEVICE_TOP_M, DEFAULT_EPSILON, DEFAULT_EVENT_CAP,
    DEFAULT_PERIOD_MS, MAX_CANDIDATES, MAX_EPSILON, MIN_EPSILON,
};
pub use profile::{PrivacyUnit, ProfileBounds, ProfileMechanism, GRID_RADIUS};
#[cfg(any(test, feature = "insecure-seeded-rng-for-tests-only"))]
pub use rng::InsecureSeededRngForTestsOnly;
pub use rng::{OsRandom, RandomSource};
pub use state::{PrivacySnapshot, PrivacyState, PrivacyStatus, ReleaseSource, Released};
pub use window::{Propensity, ValidOpe, WindowMechanism};
