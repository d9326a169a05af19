//! Bundle loading at the Diginetica size (43,097 items × 64 dims): the digest alone, and parsing +
//! validation with and without digest verification. Natively; the browser figure comes from the
//! wasm bench test in `tests/bundle_web.rs`.
//!
//! `cargo bench -p vitrine --bench bundle`

mod common;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::common::diginetica_sized;
    use criterion::{black_box, BatchSize, Criterion, Throughput};
    use vitrine::bundle::{digest, BundleOptions};
    use vitrine::Bundle;

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
            computed_digest: None,
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
