//! What every scenario of `vitrine exp simulate` shares: a simulated device's enrollment and one
//! repetition's outcome.

use anyhow::Result;
use vitrine::experiment::assign::{arm_of, DeviceId, Enrollment};
use vitrine::experiment::ValidExperiment;

use super::sim_rng::SimulatorSeededRng;

/// One repetition's outcome.
pub(super) struct Rep {
    pub(super) estimate: f64,
    pub(super) ci: [f64; 2],
    /// Rejected the null (the scenario's meaning).
    pub(super) rejected: bool,
    pub(super) extra: Vec<(&'static str, f64)>,
}

/// A simulated device: a fresh id through the real hash.
pub(super) fn enroll(exp: &ValidExperiment, rng: &mut SimulatorSeededRng) -> Result<Enrollment> {
    let id = DeviceId::generate(rng)?;
    Ok(arm_of(exp, &id))
}
