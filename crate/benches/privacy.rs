//! The latency cost of privacy, natively, at the Diginetica size (43,097 items × 64 dims, a seeded
//! synthetic bundle): one `recommend` (k = 20) after a new event, without privacy, with a fresh
//! release of each mechanism, and with the cached release (history unchanged); plus the samplers
//! alone with the OS CSPRNG. The browser adds a JS call to `crypto.getRandomValues` per 512 bytes.
//!
//! `cargo bench -p vitrine --bench privacy` (add `-- --quick` for a short run).

mod common;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::common::{diginetica_sized as bundle, id, D};
    use criterion::{BatchSize, Criterion};
    use std::hint::black_box;
    use vitrine::privacy::samplers::discrete_gaussian_vec;
    use vitrine::privacy::{OsRandom, RandomSource};
    use vitrine::ShopperOptions as SessionOptions;
    use vitrine::{Bundle, Engine, RankOptions};

    fn engine(bytes: &[u8], privacy: &str) -> Engine {
        let options: SessionOptions =
            serde_json::from_str(&format!(r#"{{"privacy":{privacy}}}"#)).expect("options");
        let mut e = Engine::from_bundle(
            Bundle::from_bytes(bytes.to_vec()).expect("bundle"),
            &options,
        )
        .expect("engine");
        for (t, i) in [17, 4_242, 9_001, 30_000].iter().enumerate() {
            e.track("view", &id(*i), t as f64).expect("track");
        }
        e
    }

    pub fn benches(c: &mut Criterion) {
        let bytes = bundle();
        let mut g = c.benchmark_group("recommend_k20_43097x64");
        // Each iteration: one new event, then one recommend (a fresh release when private).
        for (name, privacy) in [
            ("not_private", r#"{"epsilon":"Infinity"}"#),
            (
                "exponential_fresh",
                r#"{"epsilon":8,"budget":{"epsilon":10000,"period":"session"}}"#,
            ),
            (
                "gaussian_fresh",
                r#"{"epsilon":8,"mechanism":"gaussian","budget":{"epsilon":10000,"period":"session"}}"#,
            ),
        ] {
            let mut e = engine(&bytes, privacy);
            let opts = e
                .validate(&serde_json::from_str::<RankOptions>(r#"{"k":20,"now":1000}"#).unwrap())
                .expect("options");
            let mut t = 10.0;
            g.bench_function(name, |b| {
                b.iter(|| {
                    t += 1.0;
                    e.track("view", &id(123), t).expect("track");
                    black_box(e.recommend(&opts, 1000.0))
                })
            });
        }
        // History unchanged: the last release again (post-processing only).
        let mut e = engine(&bytes, r#"{"epsilon":8}"#);
        let opts = e
            .validate(&serde_json::from_str::<RankOptions>(r#"{"k":20,"now":1000}"#).unwrap())
            .expect("options");
        e.recommend(&opts, 1000.0);
        g.bench_function("exponential_cached", |b| {
            b.iter(|| black_box(e.recommend(&opts, 1000.0)))
        });
        g.finish();

        let mut g = c.benchmark_group("samplers");
        g.bench_function("os_random_u64_x1000", |b| {
            b.iter(|| {
                let mut rng = OsRandom::new();
                let mut x = 0u64;
                for _ in 0..1000 {
                    x ^= rng.next_u64().expect("entropy");
                }
                black_box(x)
            })
        });
        // σ² of a Gaussian release at ε = 8 (δ = 10⁻⁶) in grid units: (2R)² / 2ρ with ρ ≈ 1.05.
        let sigma2: u128 = 31_900_000;
        g.bench_function("discrete_gaussian_d64_eps8", |b| {
            b.iter_batched(
                || [0i64; D],
                |mut out| {
                    discrete_gaussian_vec(&mut OsRandom::new(), sigma2, &mut out).expect("noise");
                    out
                },
                BatchSize::SmallInput,
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
