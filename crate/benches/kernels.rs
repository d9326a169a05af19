//! Criterion benches for the kernels (native only): every ISA path of the dot product, the
//! batched scoring of a whole catalog (int8 rows, and compact codes through lookup tables), and
//! top-k selection. Seeded data; names state the sizes.
//!
//! `cargo bench -p vitrine --bench kernels` (add `-- --quick` for a short run; a filter such as
//! `dot_i8/d64` picks a group).

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
    use std::hint::black_box;
    use vitrine::kernels::{self, scalar};

    /// Deterministic xorshift bytes.
    fn bytes(seed: u32, n: usize) -> Vec<i8> {
        let mut s = seed.max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                s as i8
            })
            .collect()
    }

    /// Scores in [0, 1) with a seeded, roughly uniform spread.
    fn scores(n: usize) -> Vec<f32> {
        bytes(42, n * 2)
            .chunks(2)
            .map(|c| (f32::from(c[0] as u8) * 256.0 + f32::from(c[1] as u8)) / 65536.0)
            .collect()
    }

    fn dot(c: &mut Criterion) {
        for d in [64usize, 256] {
            let mut g = c.benchmark_group(format!("dot_i8/d{d}"));
            g.throughput(Throughput::Elements(d as u64));
            let (a, b) = (bytes(1, d), bytes(2, d));
            for k in kernels::available() {
                g.bench_function(k.isa, |bn| {
                    bn.iter(|| (k.dot_i8)(black_box(&a), black_box(&b)))
                });
            }
            g.bench_function("dispatch", |bn| {
                bn.iter(|| kernels::dot_i8(black_box(&a), black_box(&b)))
            });
            g.finish();
        }
    }

    /// One query against a whole catalog (the `recommend` hot loop): 43,097 × 64 (Diginetica's
    /// size) and 1,000,000 × 64.
    fn rows(c: &mut Criterion) {
        let d = 64;
        for n in [43_097usize, 1_000_000] {
            let mut g = c.benchmark_group(format!("dot_i8_rows/n{n}_d{d}"));
            g.throughput(Throughput::Elements(n as u64));
            if n > 100_000 {
                g.sample_size(10);
            }
            let q = bytes(3, d);
            let m = bytes(4, n * d);
            let mut out = vec![0.0f32; n];
            for k in kernels::available() {
                g.bench_function(k.isa, |bn| {
                    bn.iter(|| (k.dot_i8_rows)(black_box(&q), black_box(&m), &mut out))
                });
            }
            g.bench_function("dispatch", |bn| {
                bn.iter(|| kernels::dot_i8_rows(black_box(&q), black_box(&m), &mut out))
            });
            g.finish();
        }
    }

    /// Asymmetric-distance scoring of a compact catalog (20 code bytes per item, Diginetica's
    /// default) against one lookup table, per ISA: the compact counterpart of `dot_i8_rows`.
    fn adc(c: &mut Criterion) {
        let m = 20;
        for n in [43_097usize, 1_000_000] {
            let mut g = c.benchmark_group(format!("adc_rows/n{n}_m{m}"));
            g.throughput(Throughput::Elements(n as u64));
            if n > 100_000 {
                g.sample_size(10);
            }
            let table: Vec<f32> = bytes(5, m * scalar::ADC_TABLE)
                .iter()
                .map(|&b| f32::from(b) / 128.0)
                .collect();
            let codes: Vec<u8> = bytes(6, n * m).iter().map(|&b| b as u8).collect();
            let mut out = vec![0.0f32; n];
            for k in kernels::available() {
                g.bench_function(k.isa, |bn| {
                    bn.iter(|| (k.adc_rows)(black_box(&table), black_box(&codes), &mut out))
                });
            }
            g.finish();
        }
    }

    /// Top-20 of a catalog's scores: the heap with the scalar block test, with the SIMD one, and a
    /// full sort for reference.
    fn top_k(c: &mut Criterion) {
        for n in [43_097usize, 1_000_000] {
            let mut g = c.benchmark_group(format!("top_k/n{n}_k20"));
            g.throughput(Throughput::Elements(n as u64));
            if n > 100_000 {
                g.sample_size(10);
            }
            let s = scores(n);
            g.bench_with_input(BenchmarkId::new("heap_scalar_skip", n), &s, |bn, s| {
                bn.iter(|| kernels::top_k_with(black_box(s), 20, scalar::any_ge))
            });
            g.bench_with_input(BenchmarkId::new("heap_simd_skip", n), &s, |bn, s| {
                bn.iter(|| kernels::top_k(black_box(s), 20))
            });
            g.bench_with_input(BenchmarkId::new("full_sort_reference", n), &s, |bn, s| {
                bn.iter(|| {
                    let mut v: Vec<(u32, f32)> =
                        s.iter().enumerate().map(|(i, &x)| (i as u32, x)).collect();
                    v.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
                    v.truncate(20);
                    v
                })
            });
            g.finish();
        }
    }

    criterion_group!(benches, dot, rows, adc, top_k);
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
