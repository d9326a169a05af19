//! Mechanisms calibrated for one bundle and one set of privacy settings ([`Calibrated`]): what one
//! release costs and how it is drawn.

use super::accountant::Charge;
use super::anchor::AnchorMechanism;
use super::options::{Mechanism, PrivacyConfig};
use super::profile::{ProfileBounds, ProfileMechanism};
use super::rng::RandomSource;
use crate::bundle::Bundle;
use crate::error::PrivacyError;
use crate::score::SessionSignal;

/// A mechanism calibrated for one bundle.
#[derive(Debug, Clone, PartialEq)]
pub enum Calibrated {
    Gaussian(ProfileMechanism),
    Anchor(AnchorMechanism),
}

impl Calibrated {
    /// What one release costs.
    pub fn charge(&self) -> Result<Charge, PrivacyError> {
        match self {
            Self::Gaussian(m) => Charge::zcdp(m.rho()),
            Self::Anchor(a) => Charge::pure(a.epsilon()),
        }
    }

    /// One release from what the model reads from the history: the Gaussian mechanism noises
    /// the pre-readout profile (the sparse terms cannot be released by it and play no part); the
    /// exponential mechanism's utility is the model's whole ranking, terms included.
    pub fn release<R: RandomSource + ?Sized>(
        &self,
        bundle: &Bundle,
        signal: &SessionSignal,
        rng: &mut R,
    ) -> Result<Release, PrivacyError> {
        match self {
            Self::Gaussian(m) => m.release(&signal.profile, rng).map(Release::Profile),
            Self::Anchor(a) => a.release(bundle, signal, rng).map(Release::Anchor),
        }
    }
}

impl PrivacyConfig {
    /// The mechanism calibrated for `bundle` with profile `bounds` (`None` when privacy is off).
    pub fn mechanism(
        &self,
        bundle: &Bundle,
        bounds: &ProfileBounds,
    ) -> Result<Option<Calibrated>, PrivacyError> {
        match self {
            PrivacyConfig::Off => Ok(None),
            PrivacyConfig::On(c) => match c.mechanism {
                Mechanism::GaussianProfile => {
                    ProfileMechanism::calibrate(bundle.dim(), bounds, c.unit, c.rho)
                        .map(|m| Some(Calibrated::Gaussian(m)))
                }
                Mechanism::ExponentialAnchor => {
                    let whole = (bundle.n_items().max(2) - 1) as f64;
                    let pool = if c.auto_candidates && c.epsilon >= whole.ln() {
                        None
                    } else {
                        c.candidates
                    };
                    AnchorMechanism::for_bundle(bundle, pool, c.epsilon, c.top_m)
                        .map(|a| Some(Calibrated::Anchor(a)))
                }
            },
        }
    }
}

/// One release: what the mechanism output.
#[derive(Debug, Clone, PartialEq)]
pub enum Release {
    /// A noisy pre-readout profile in grid units (Gaussian mechanism).
    Profile(Vec<f32>),
    /// An anchor item row (exponential mechanism).
    Anchor(u32),
    /// The window items the shelf leaves out below its cut (`unit: 'device'`, the shelf-cut
    /// mechanism, [`super::window`]), rows ascending.
    LeftOut(Vec<u32>),
}
