//! Fixtures shared by the native and the wasm test suites.
#![allow(dead_code)]

use std::collections::BTreeMap;

use vitrine::bundle::{write_bundle, BundleParts};

/// A small catalog with clear structure: `clusters` groups of `per` items (`c{c}-i{i}`), each group
/// pointing in its own direction of a `dim`-dimensional space (with a little deterministic jitter),
/// and popularity falling with the cluster number then the item number (so `c0-i0` is the most
/// popular and every cluster but 0 is unpopular).
pub fn clustered_parts(clusters: usize, per: usize, dim: usize) -> BundleParts {
    assert!(dim >= clusters);
    let mut ids = Vec::new();
    let mut embeddings = Vec::new();
    let mut popularity = Vec::new();
    for c in 0..clusters {
        for i in 0..per {
            ids.push(format!("c{c}-i{i}"));
            for j in 0..dim {
                let base = if j == c { 1.0 } else { 0.0 };
                let jitter = ((c * 31 + i * 17 + j * 7) % 11) as f32 / 110.0;
                embeddings.push(base + jitter);
            }
            popularity.push(((clusters - c) * 1000 - i * 10) as f32);
        }
    }
    BundleParts {
        ids,
        dim,
        embeddings,
        popularity,
        metadata: BTreeMap::new(),
        ..Default::default()
    }
}

/// The bytes of a valid bundle built from [`clustered_parts`].
pub fn clustered_bundle(clusters: usize, per: usize, dim: usize) -> Vec<u8> {
    write_bundle(&clustered_parts(clusters, per, dim)).expect("fixture bundle")
}

/// The cluster number of an id `c{c}-i{i}`.
pub fn cluster_of(id: &str) -> usize {
    id[1..id.find('-').expect("fixture id")]
        .parse()
        .expect("fixture id")
}

/// Builds a safetensors file by hand (header JSON + data), for malformed-bundle tests.
pub fn raw_safetensors(header_json: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(header_json.len() as u64).to_le_bytes());
    out.extend_from_slice(header_json.as_bytes());
    out.extend_from_slice(data);
    out
}

/// An engine with privacy off (`privacy.epsilon = Infinity`): these tests check the ranking and
/// session logic itself, which the private mode only feeds a noisy release (its own tests are in
/// `privacy_engine.rs` and `privacy_audit.rs`).
pub fn not_private(bytes: Vec<u8>) -> vitrine::Engine {
    vitrine::Engine::from_bundle(
        vitrine::Bundle::from_bytes(bytes).expect("fixture bundle"),
        &not_private_options(),
    )
    .expect("fixture engine")
}

/// Session options with privacy off.
pub fn not_private_options() -> vitrine::ShopperOptions {
    vitrine::ShopperOptions {
        privacy: Some(vitrine::privacy::PrivacyOptions {
            epsilon: Some(vitrine::privacy::EpsilonInput(f64::INFINITY)),
            ..Default::default()
        }),
        ..Default::default()
    }
}
