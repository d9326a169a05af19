//! The math kernels: int8 dot products (one pair, or one query against many rows) and top-k
//! selection. One entry point per operation; the per-ISA code sits behind it:
//!
//! | kernel          | scalar (everywhere) | x86_64                                  | wasm32                        |
//! | --------------- | ------------------- | --------------------------------------- | ----------------------------- |
//! | [`dot_i8`]      | [`scalar::dot_i8`]  | AVX2 (detected at run time), else SSE2  | `simd128` (when enabled)      |
//! | [`dot_i8_rows`] | [`scalar::dot_i8_rows`] | AVX2 (detected once per call), else SSE2 | `simd128`                 |
//! | [`top_k`]       | bounded heap + [`scalar::any_ge`] block skip | SSE2 block skip | `simd128` block skip         |
//!
//! Every SIMD path is tested against the scalar one on random and edge inputs (here natively, and in
//! `tests/web.rs` under wasm).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod wasm_simd;
#[cfg(target_arch = "x86_64")]
pub mod x86;

/// Which instruction set [`dot_i8`] and [`dot_i8_rows`] use on this machine: `avx2`, `sse2`,
/// `simd128` or `scalar`.
pub fn active_isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if x86::has_avx2() {
            "avx2"
        } else {
            "sse2"
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        "simd128"
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        "scalar"
    }
}

/// Dot product of two int8 vectors, accumulated exactly in i32.
///
/// Exact for any length up to 2^17 (|a_i·b_i| ≤ 2^14). Never panics: extra elements of the longer
/// slice are ignored (callers pass equal lengths).
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        match x86::dot_i8_avx2(a, b) {
            Some(d) => d,
            None => x86::dot_i8_sse2(a, b),
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        wasm_simd::dot_i8(a, b)
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        scalar::dot_i8(a, b)
    }
}

/// Batched scoring: `out[r] = dot(query, rows[r·d .. (r+1)·d])` as f32, `d = query.len()`, for every
/// `r < out.len()` (entries past the last whole row of `rows` are left as they are; with an empty
/// query every dot is 0).
///
/// The dot is exact in i32; its f32 value is exact while |dot| < 2^24 (any d ≤ 1024).
pub fn dot_i8_rows(query: &[i8], rows: &[i8], out: &mut [f32]) {
    let n = match rows.len().checked_div(query.len()) {
        Some(n) => n.min(out.len()),
        None => out.len(),
    };
    let out = &mut out[..n];
    #[cfg(target_arch = "x86_64")]
    {
        if !x86::dot_i8_rows_avx2(query, rows, out) {
            x86::dot_i8_rows_sse2(query, rows, out);
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        wasm_simd::dot_i8_rows(query, rows, out);
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        scalar::dot_i8_rows(query, rows, out);
    }
}

/// A scored candidate. Ordering ("greater" = better): higher score, then lower index, so results
/// are deterministic. Scores are compared with `f32::total_cmp`; NaN never enters a [`TopK`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Row of the item in the bundle.
    pub index: u32,
    /// Its score (higher is better).
    pub score: f32,
}

impl Eq for Scored {}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.index.cmp(&self.index))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Keeps the best `k` of a stream of candidates in a bounded min-heap: O(n log k), no full sort.
#[derive(Debug)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<std::cmp::Reverse<Scored>>,
}

impl TopK {
    /// A selector for the best `k` candidates.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.saturating_add(1).min(1 << 16)),
        }
    }

    /// True once `k` candidates are kept (later ones must beat [`TopK::worst`]).
    #[inline]
    pub fn is_full(&self) -> bool {
        self.heap.len() >= self.k
    }

    /// The worst kept candidate, when any.
    #[inline]
    pub fn worst(&self) -> Option<Scored> {
        self.heap.peek().map(|r| r.0)
    }

    /// Number of candidates kept.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Offers one candidate. NaN scores are never kept.
    #[inline]
    pub fn push(&mut self, cand: Scored) {
        if self.k == 0 || cand.score.is_nan() {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(std::cmp::Reverse(cand));
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if cand > worst.0 {
                worst.0 = cand;
            }
        }
    }

    /// The kept candidates, best first (the heap's own heapsort: O(k log k), and no extra sort
    /// code in the wasm).
    pub fn into_sorted(self) -> Vec<Scored> {
        // Ascending `Reverse<Scored>` is descending `Scored`: best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.0)
            .collect()
    }
}

/// Sorts row numbers ascending, in place: a heapsort through `BinaryHeap` (O(n log n), no extra
/// allocation). Every `Vec<u32>` of rows the engine sorts (exclusions, boosts, candidates) goes
/// through here rather than `sort_unstable`, whose pdqsort is ~4 KB of wasm; these lists are short.
pub fn sort_rows(rows: &mut Vec<u32>) {
    *rows = BinaryHeap::from(std::mem::take(rows)).into_sorted_vec();
}

/// The best `k` entries of `scores` (index = position), best first; NaN entries are skipped (the
/// engine marks excluded items with NaN). O(n + k log k · log n) typical: once the heap is full,
/// blocks of 16 scores none of which reaches the worst kept score are skipped with one SIMD
/// comparison. Equal to a full sort's prefix (see the tests), without the sort.
pub fn top_k(scores: &[f32], k: usize) -> Vec<Scored> {
    #[cfg(target_arch = "x86_64")]
    let any_ge = x86::any_ge_sse2;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let any_ge = wasm_simd::any_ge;
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    let any_ge = scalar::any_ge;
    top_k_with(scores, k, any_ge)
}

/// [`top_k`] with a given block test (`any_ge(block, t)`: does some element reach `t`?). Public so
/// the tests and benches can run every ISA's block test; the result never depends on which.
pub fn top_k_with(scores: &[f32], k: usize, any_ge: fn(&[f32], f32) -> bool) -> Vec<Scored> {
    const BLOCK: usize = 16;
    let mut top = TopK::new(k);
    if k == 0 {
        return Vec::new();
    }
    let mut i = 0;
    while i < scores.len() && !top.is_full() {
        top.push(Scored {
            index: i as u32,
            score: scores[i],
        });
        i += 1;
    }
    while i + BLOCK <= scores.len() {
        let block = &scores[i..i + BLOCK];
        // Later candidates have higher indices, so only a score ≥ the worst kept can win
        // (≥ rather than >, so that -0.0 vs 0.0 is settled by the exact comparison in `push`).
        let threshold = top.worst().map_or(f32::NEG_INFINITY, |w| w.score);
        if any_ge(block, threshold) {
            for (j, &s) in block.iter().enumerate() {
                top.push(Scored {
                    index: (i + j) as u32,
                    score: s,
                });
            }
        }
        i += BLOCK;
    }
    for (j, &s) in scores[i..].iter().enumerate() {
        top.push(Scored {
            index: (i + j) as u32,
            score: s,
        });
    }
    top.into_sorted()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Deterministic xorshift bytes for the random cases.
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

    const LENS: [usize; 16] = [
        0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 129, 4096,
    ];

    /// A dot path (`None` when this CPU cannot run it).
    type DotPath = fn(&[i8], &[i8]) -> Option<i32>;

    /// Every dot path this machine has, by name.
    fn dot_paths() -> Vec<(&'static str, DotPath)> {
        #[allow(unused_mut)]
        let mut v: Vec<(&'static str, DotPath)> = vec![("dispatch", |a, b| Some(dot_i8(a, b)))];
        #[cfg(target_arch = "x86_64")]
        {
            v.push(("sse2", |a, b| Some(x86::dot_i8_sse2(a, b))));
            v.push(("avx2", x86::dot_i8_avx2));
        }
        v
    }

    #[test]
    fn every_dot_path_matches_scalar_on_edges_and_random_inputs() {
        for (name, dot) in dot_paths() {
            for n in LENS {
                for (x, y) in [(127i8, 127i8), (-128, -128), (-128, 127), (0, -128), (0, 0)] {
                    let (a, b) = (vec![x; n], vec![y; n]);
                    if let Some(got) = dot(&a, &b) {
                        assert_eq!(got, scalar::dot_i8(&a, &b), "{name}: {x}·{y}, len {n}");
                    }
                }
                for seed in 1..5 {
                    let (a, b) = (bytes(seed, n), bytes(seed * 7919, n));
                    if let Some(got) = dot(&a, &b) {
                        assert_eq!(got, scalar::dot_i8(&a, &b), "{name}: random, len {n}");
                    }
                }
                // Unequal lengths: the extra elements are ignored.
                let (a, b) = (bytes(3, n + 5), bytes(4, n));
                if let Some(got) = dot(&a, &b) {
                    assert_eq!(got, scalar::dot_i8(&a, &b), "{name}: uneven, len {n}");
                }
            }
        }
        assert_eq!(scalar::dot_i8(&[-128; 64], &[-128; 64]), 16384 * 64);
    }

    #[test]
    fn batched_rows_match_scalar() {
        for d in [1usize, 3, 16, 17, 64, 65, 100] {
            let rows = 37;
            let q = bytes(d as u32, d);
            let m = bytes(99, rows * d);
            let mut want = vec![0.0f32; rows];
            scalar::dot_i8_rows(&q, &m, &mut want);
            for (r, w) in want.iter().enumerate() {
                assert_eq!(*w, scalar::dot_i8(&q, &m[r * d..(r + 1) * d]) as f32);
            }
            let mut got = vec![f32::NAN; rows];
            dot_i8_rows(&q, &m, &mut got);
            assert_eq!(got, want, "dispatch, d {d}");
            #[cfg(target_arch = "x86_64")]
            {
                let mut got = vec![f32::NAN; rows];
                x86::dot_i8_rows_sse2(&q, &m, &mut got);
                assert_eq!(got, want, "sse2, d {d}");
                let mut got = vec![f32::NAN; rows];
                if x86::dot_i8_rows_avx2(&q, &m, &mut got) {
                    assert_eq!(got, want, "avx2, d {d}");
                }
            }
            // Extremes.
            let q = vec![-128i8; d];
            let m = vec![-128i8; rows * d];
            let mut got = vec![0.0f32; rows];
            dot_i8_rows(&q, &m, &mut got);
            assert!(got.iter().all(|&g| g == (16384 * d) as f32));
        }
        // Short matrix: only whole rows are written.
        let mut out = [7.0f32; 3];
        dot_i8_rows(&[1, 1], &[1, 1, 2, 2, 3], &mut out);
        assert_eq!(out, [2.0, 4.0, 7.0]);
        // Empty query: every dot is 0.
        let mut out = [7.0f32; 2];
        dot_i8_rows(&[], &[], &mut out);
        assert_eq!(out, [0.0, 0.0]);
    }

    fn sorted_prefix(scores: &[f32], k: usize) -> Vec<Scored> {
        let mut all: Vec<Scored> = scores
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_nan())
            .map(|(i, &s)| Scored {
                index: i as u32,
                score: s,
            })
            .collect();
        all.sort_by(|a, b| b.cmp(a));
        all.truncate(k);
        all
    }

    /// Every block test this machine has.
    fn block_tests() -> Vec<fn(&[f32], f32) -> bool> {
        #[allow(unused_mut)]
        let mut v: Vec<fn(&[f32], f32) -> bool> = vec![scalar::any_ge];
        #[cfg(target_arch = "x86_64")]
        v.push(x86::any_ge_sse2);
        v
    }

    #[test]
    fn top_k_edges() {
        let special = [
            0.0f32,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1.0,
            1.0,
            f32::MIN_POSITIVE,
            -1.0,
        ];
        let mut scores = Vec::new();
        for i in 0..200 {
            scores.push(special[i % special.len()]);
        }
        for any_ge in block_tests() {
            for k in [0, 1, 2, 5, 16, 17, 199, 200, 500] {
                assert_eq!(
                    top_k_with(&scores, k, any_ge),
                    sorted_prefix(&scores, k),
                    "k {k}"
                );
            }
            assert!(top_k_with(&[], 3, any_ge).is_empty());
            assert!(top_k_with(&[f32::NAN; 40], 3, any_ge).is_empty());
            // Ties keep the lower index.
            let ties = vec![0.5f32; 50];
            let got: Vec<u32> = top_k_with(&ties, 3, any_ge)
                .iter()
                .map(|s| s.index)
                .collect();
            assert_eq!(got, [0, 1, 2]);
        }
        for block in [&[][..], &[1.0][..], &[0.0; 5][..], &[-1.0; 16][..]] {
            for t in [0.0f32, -0.0, 0.5, f32::NEG_INFINITY] {
                let want = scalar::any_ge(block, t);
                for any_ge in block_tests() {
                    assert_eq!(any_ge(block, t), want, "{block:?} ≥ {t}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn dot_matches_scalar(pairs in proptest::collection::vec((any::<i8>(), any::<i8>()), 0..300)) {
            let (a, b): (Vec<i8>, Vec<i8>) = pairs.into_iter().unzip();
            for (name, dot) in dot_paths() {
                if let Some(got) = dot(&a, &b) {
                    prop_assert_eq!(got, scalar::dot_i8(&a, &b), "{}", name);
                }
            }
        }

        #[test]
        fn topk_equals_sort_prefix(scores in proptest::collection::vec(-1000i32..1000, 0..200), k in 0usize..30) {
            let mut top = TopK::new(k);
            for (i, &s) in scores.iter().enumerate() {
                top.push(Scored { index: i as u32, score: s as f32 });
            }
            let scores: Vec<f32> = scores.iter().map(|&s| s as f32).collect();
            prop_assert_eq!(top.into_sorted(), sorted_prefix(&scores, k));
        }

        #[test]
        fn top_k_matches_sort_for_every_block_test(
            scores in proptest::collection::vec(prop_oneof![
                (-50i32..50).prop_map(|s| s as f32 / 4.0),
                Just(f32::NAN), Just(-0.0f32), Just(f32::INFINITY), Just(f32::NEG_INFINITY),
            ], 0..400),
            k in 0usize..40,
        ) {
            let want = sorted_prefix(&scores, k);
            prop_assert_eq!(&top_k(&scores, k), &want);
            for any_ge in block_tests() {
                prop_assert_eq!(&top_k_with(&scores, k, any_ge), &want);
            }
        }
    }

    #[test]
    fn topk_skips_nan() {
        let mut top = TopK::new(3);
        top.push(Scored {
            index: 0,
            score: f32::NAN,
        });
        top.push(Scored {
            index: 1,
            score: 1.0,
        });
        assert_eq!(
            top.into_sorted(),
            vec![Scored {
                index: 1,
                score: 1.0
            }]
        );
    }
}
