//! What the native benches share: a seeded synthetic bundle of the Diginetica size (43,097 items
//! × 64 dims), ids like the dataset's numeric item ids.

#![cfg(not(target_arch = "wasm32"))]

use vitrine::bundle::{write_bundle, BundleParts};

/// Items in the bench bundle.
pub const N: usize = 43_097;
/// Embedding dimensions.
pub const D: usize = 64;

/// The id of row `i` of [`diginetica_sized`].
pub fn id(i: usize) -> String {
    (100_000 + i * 7).to_string()
}

/// The bench bundle's bytes: uniform noise embeddings (xorshift, fixed seed), popularity
/// decreasing with the row.
pub fn diginetica_sized() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let parts = BundleParts {
        ids: (0..N).map(id).collect(),
        dim: D,
        embeddings: (0..N * D).map(|_| next()).collect(),
        popularity: (0..N).map(|i| (N - i) as f32).collect(),
        ..Default::default()
    };
    write_bundle(&parts).expect("bench bundle")
}
