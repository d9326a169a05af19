//! Bundle loading at the Diginetica size (43,097 items × 64 dims): the digest alone, and parsing +
//! validation with and without digest verification. Natively; the browser figure comes from the
//! wasm bench test in `tests/bundle_web.rs`.
//!
//! `cargo bench -p vitrine --bench bundle`

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use criterion::{black_box, BatchSize, Criterion, Throughput};
    use vitrine::bundle::{digest, write_bundle, BundleOptions, BundleParts};
    use vitrine::Bundle;

    const N: usize = 43_097;
    const D: usize = 64;

    /// A seeded bundle of the Diginetica size (ids like the dataset's numeric item ids).
    pub fn diginetica_sized() -> Vec<u8> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let parts = BundleParts {
            ids: (0..N).map(|i| (100_000 + i * 7).to_string()).collect(),
            dim: D,
            embeddings: (0..N * D).map(|_| next()).collect(),
            popularity: (0..N).map(|i| (N - i) as f32).collect(),
            ..Default::default()
        };
        write_bundle(&parts).expect("bench bundle")
    }

    pub fn benches(c: &mut Criterion) {
        let bytes = diginetica_sized();
        let mut g = c.benchmark_group("bundle_43097x64");
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("digest_only", |b| {
            b.iter(|| digest::compute(black_box(&bytes)).expect("digest"))
        });
        g.bench_function("load_verified", |b| {
            b.iter_batched(
                || bytes.clone(),
                |v| Bundle::from_bytes(v).expect("load"),
                BatchSize::LargeInput,
            )
        });
        let unverified = BundleOptions {
            verify_digest: false,
        };
        g.bench_function("load_unverified", |b| {
            b.iter_batched(
                || bytes.clone(),
                |v| Bundle::from_bytes_with(v, &unverified).expect("load"),
                BatchSize::LargeInput,
            )
        });
        g.finish();
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_group!(benches, native::benches);
#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
