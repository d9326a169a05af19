//! Where the noise's randomness comes from.
//!
//! Every release draws from [`OsRandom`]: the operating system's CSPRNG through `getrandom`
//! (`crypto.getRandomValues` in the browser). The engine never keeps a random source between
//! releases, so cloning an engine can never replay noise.
//!
//! [`InsecureSeededRngForTestsOnly`] exists only with the `insecure-seeded-rng-for-tests-only`
//! cargo feature (which the crate's own tests enable through a dev-dependency on itself, and which
//! the wasm package and the CLI never enable): its noise is predictable, so nothing private may be
//! released with it.

use crate::error::PrivacyError;

/// A source of uniformly random 64-bit words for the samplers.
pub trait RandomSource {
    /// The next uniformly random word.
    fn next_u64(&mut self) -> Result<u64, PrivacyError>;
}

/// Bytes fetched from the OS per `getrandom` call (one JS call in the browser).
const OS_BUFFER_BYTES: usize = 512;

/// The operating system's CSPRNG (`getrandom`; `crypto.getRandomValues` in the browser), read in
/// blocks of 512 bytes. Deliberately neither `Clone` nor `Default`-constructed inside long-lived
/// state: create one per release with [`OsRandom::new`] and drop it afterwards.
pub struct OsRandom {
    buf: [u8; OS_BUFFER_BYTES],
    /// Bytes of `buf` already handed out (`OS_BUFFER_BYTES` = empty).
    used: usize,
}

impl OsRandom {
    /// A source with an empty buffer (nothing is read from the OS until the first draw).
    pub fn new() -> Self {
        Self {
            buf: [0; OS_BUFFER_BYTES],
            used: OS_BUFFER_BYTES,
        }
    }
}

impl Default for OsRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for OsRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OsRandom")
    }
}

impl Drop for OsRandom {
    fn drop(&mut self) {
        // Unused bytes would be the next noise; wipe them (best effort: the compiler may elide a
        // store to memory that is never read again).
        self.buf.fill(0);
    }
}

impl RandomSource for OsRandom {
    fn next_u64(&mut self) -> Result<u64, PrivacyError> {
        if self.used + 8 > OS_BUFFER_BYTES {
            getrandom::fill(&mut self.buf).map_err(|e| PrivacyError::Entropy(e.to_string()))?;
            self.used = 0;
        }
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.buf[self.used..self.used + 8]);
        self.buf[self.used..self.used + 8].fill(0);
        self.used += 8;
        Ok(u64::from_le_bytes(word))
    }
}

/// A **predictable** generator (xoshiro256** seeded through SplitMix64) for reproducible tests of
/// the samplers and the audit. Anything released with it is not private. It only exists with the
/// `insecure-seeded-rng-for-tests-only` feature, which no shipped build enables.
#[cfg(any(test, feature = "insecure-seeded-rng-for-tests-only"))]
#[derive(Debug, Clone)]
pub struct InsecureSeededRngForTestsOnly {
    s: [u64; 4],
}

#[cfg(any(test, feature = "insecure-seeded-rng-for-tests-only"))]
impl InsecureSeededRngForTestsOnly {
    /// A generator whose whole output is determined by `seed`.
    pub fn from_seed(seed: u64) -> Self {
        let mut x = seed;
        let mut split = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Self {
            s: [split(), split(), split(), split()],
        }
    }

    fn next(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }
}

#[cfg(any(test, feature = "insecure-seeded-rng-for-tests-only"))]
impl RandomSource for InsecureSeededRngForTestsOnly {
    fn next_u64(&mut self) -> Result<u64, PrivacyError> {
        Ok(self.next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_random_words_differ_and_cross_buffer_refills() {
        let mut rng = OsRandom::new();
        let words: Vec<u64> = (0..200).map(|_| rng.next_u64().unwrap()).collect();
        let mut sorted = words.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), words.len(), "200 OS words should all differ");
        // Roughly half the bits set (200 × 64 bits; 6 standard deviations is ±340).
        let ones: u32 = words.iter().map(|w| w.count_ones()).sum();
        assert!((6400i64 - i64::from(ones)).abs() < 340, "{ones}");
    }

    #[test]
    fn seeded_rng_is_reproducible() {
        let mut a = InsecureSeededRngForTestsOnly::from_seed(7);
        let mut b = InsecureSeededRngForTestsOnly::from_seed(7);
        let mut c = InsecureSeededRngForTestsOnly::from_seed(8);
        let xa: Vec<u64> = (0..10).map(|_| a.next_u64().unwrap()).collect();
        let xb: Vec<u64> = (0..10).map(|_| b.next_u64().unwrap()).collect();
        let xc: Vec<u64> = (0..10).map(|_| c.next_u64().unwrap()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
    }
}
