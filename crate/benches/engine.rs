//! The engine's requests natively, at the Diginetica size (43,097 items × 64 dims) with a
//! 10-click session: `recommend` top-20 and `rerank` of 200 candidate ids, non-private
//! (`epsilon: Infinity`) and private (a fresh release per request). The browser figures, with the
//! wasm/JS boundary included, come from `scripts/bench`; the difference between the two is the
//! cost of the boundary.
//!
//! `cargo bench -p vitrine --bench engine`

mod common;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::common::{diginetica_sized, id, N};
    use criterion::{black_box, Criterion};
    use vitrine::rank::RankOptions;
    use vitrine::Engine;
    use vitrine::ShopperOptions as SessionOptions;

    const T0: f64 = 1.7e12;

    fn engine(privacy: &str) -> Engine {
        let mut e = Engine::from_bytes(diginetica_sized()).expect("load");
        let options: SessionOptions =
            serde_json::from_str(&format!(r#"{{"privacy": {privacy}}}"#)).expect("options");
        e.configure(&options).expect("configure");
        for i in 0..10 {
            let id = id(i * 4_099 % N);
            e.track("click", &id, T0 + i as f64 * 60_000.0)
                .expect("track");
        }
        e
    }

    pub fn benches(c: &mut Criterion) {
        let candidates: Vec<String> = (0..200).map(|i| id(i * 211 % N)).collect();
        let now = T0 + 600_000.0;
        for (name, privacy) in [
            ("eps_inf", r#"{"epsilon": "Infinity"}"#),
            ("private", r#"{"budget": {"epsilon": 10000}}"#),
        ] {
            let mut e = engine(privacy);
            let mut g = c.benchmark_group(format!("engine_43097x64_{name}"));
            let top20 = e
                .validate(&RankOptions {
                    k: Some(20.0),
                    now: Some(now),
                    ..Default::default()
                })
                .expect("options");
            let all = e
                .validate(&RankOptions {
                    now: Some(now),
                    ..Default::default()
                })
                .expect("options");
            g.bench_function("recommend_top20", |b| {
                b.iter(|| e.recommend(black_box(&top20), 0.0))
            });
            let explained = e
                .validate(&RankOptions {
                    k: Some(20.0),
                    explain: Some(true),
                    now: Some(now),
                    ..Default::default()
                })
                .expect("options");
            g.bench_function("recommend_top20_explain", |b| {
                b.iter(|| e.recommend(black_box(&explained), 0.0))
            });
            g.bench_function("rerank_200", |b| {
                b.iter(|| e.rerank(black_box(&candidates), &all, 0.0).expect("rerank"))
            });
            // A fresh release per request: a new event invalidates the last one.
            let mut t = now;
            g.bench_function("track_recommend_top20", |b| {
                b.iter(|| {
                    t += 1.0;
                    e.track("click", &candidates[0], t).expect("track");
                    e.recommend(black_box(&top20), 0.0)
                })
            });
            g.finish();
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_group!(benches, native::benches);
#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
