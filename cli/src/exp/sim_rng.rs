//! The simulator's and the load generator's **seeded, predictable** random source. It exists so
//! that `vitrine exp simulate --seed X` is reproducible; nothing it randomizes is private. The
//! browser's reports use the OS CSPRNG (`vitrine::privacy::OsRandom`); this type is never used
//! outside `vitrine exp simulate` and `vitrine exp load`.

use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};
use vitrine::error::PrivacyError;
use vitrine::privacy::RandomSource;

/// A seeded generator (rand's `SmallRng`, xoshiro256++) for simulated shoppers. Not private.
pub struct SimulatorSeededRng(SmallRng);

impl SimulatorSeededRng {
    /// The generator of stream `stream` under `seed` (one stream per simulated repetition).
    pub fn new(seed: u64, stream: u64) -> Self {
        let mixed = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
            ^ stream.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        Self(SmallRng::seed_from_u64(mixed))
    }

    /// `true` with probability `p` (a simulated shopper's behaviour, not a privacy coin).
    pub fn chance(&mut self, p: f64) -> bool {
        self.0.random::<f64>() < p
    }

    /// A uniform integer in `[0, n)`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0.random_range(0..n.max(1))
    }

    /// A uniform float in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.0.random::<f64>()
    }
}

impl RandomSource for SimulatorSeededRng {
    fn next_u64(&mut self) -> Result<u64, PrivacyError> {
        Ok(self.0.next_u64())
    }
}
