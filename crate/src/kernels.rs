//! The math kernels: int8 dot products and top-k selection. One entry point per operation; the
//! per-ISA code sits behind it (scalar everywhere, `simd128` on wasm when the target enables it).
//! Every SIMD path is tested against the scalar one.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Dot product of two int8 vectors of equal length, accumulated exactly in i32.
///
/// Exact for any length up to 2^17 (|a_i·b_i| ≤ 2^14). Panics never: extra elements of the longer
/// slice are ignored (callers pass equal lengths).
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd128::dot_i8(a, b)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        scalar::dot_i8(a, b)
    }
}

/// Portable reference implementations.
pub mod scalar {
    /// Scalar int8 dot product (the reference every SIMD path is checked against).
    #[inline]
    pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| i32::from(x) * i32::from(y))
            .sum()
    }
}

/// wasm `simd128` kernels.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128 {
    use core::arch::wasm32::*;

    /// int8 dot product, 16 lanes at a time: widen to i16, multiply-add pairs into i32x4.
    #[inline]
    pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        let n = a.len().min(b.len());
        let chunks = n / 16;
        let mut acc = i32x4_splat(0);
        for c in 0..chunks {
            let off = c * 16;
            // SAFETY: off + 16 <= n <= len of both slices; v128_load allows unaligned addresses.
            let (va, vb) = unsafe {
                (
                    v128_load(a.as_ptr().add(off) as *const v128),
                    v128_load(b.as_ptr().add(off) as *const v128),
                )
            };
            let lo = i32x4_dot_i16x8(i16x8_extend_low_i8x16(va), i16x8_extend_low_i8x16(vb));
            let hi = i32x4_dot_i16x8(i16x8_extend_high_i8x16(va), i16x8_extend_high_i8x16(vb));
            acc = i32x4_add(acc, i32x4_add(lo, hi));
        }
        let mut sum = i32x4_extract_lane::<0>(acc)
            + i32x4_extract_lane::<1>(acc)
            + i32x4_extract_lane::<2>(acc)
            + i32x4_extract_lane::<3>(acc);
        for i in chunks * 16..n {
            sum += i32::from(a[i]) * i32::from(b[i]);
        }
        sum
    }
}

/// A scored candidate: `score` is compared with `f32::total_cmp`, ties broken by the lower index
/// so results are deterministic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub index: u32,
    pub score: f32,
}

impl Eq for Scored {}

impl Ord for Scored {
    /// "Greater" means "better": higher score, then lower index.
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

    /// Offers one candidate. NaN scores are never kept.
    #[inline]
    pub fn push(&mut self, cand: Scored) {
        if self.k == 0 || cand.score.is_nan() {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(std::cmp::Reverse(cand));
        } else if let Some(worst) = self.heap.peek() {
            if cand > worst.0 {
                self.heap.pop();
                self.heap.push(std::cmp::Reverse(cand));
            }
        }
    }

    /// The kept candidates, best first.
    pub fn into_sorted(self) -> Vec<Scored> {
        let mut v: Vec<Scored> = self.heap.into_iter().map(|r| r.0).collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dot_matches_scalar_on_edges() {
        for n in [0usize, 1, 15, 16, 17, 31, 64, 65, 129] {
            let max = vec![127i8; n];
            let min = vec![-128i8; n];
            let zeros = vec![0i8; n];
            assert_eq!(dot_i8(&max, &max), scalar::dot_i8(&max, &max));
            assert_eq!(dot_i8(&min, &min), 16384 * n as i32);
            assert_eq!(dot_i8(&min, &max), -16256 * n as i32);
            assert_eq!(dot_i8(&zeros, &max), 0);
        }
    }

    proptest! {
        #[test]
        fn dot_matches_scalar(pairs in proptest::collection::vec((any::<i8>(), any::<i8>()), 0..300)) {
            let (a, b): (Vec<i8>, Vec<i8>) = pairs.into_iter().unzip();
            prop_assert_eq!(dot_i8(&a, &b), scalar::dot_i8(&a, &b));
        }

        #[test]
        fn topk_equals_sort_prefix(scores in proptest::collection::vec(-1000i32..1000, 0..200), k in 0usize..30) {
            let mut top = TopK::new(k);
            for (i, &s) in scores.iter().enumerate() {
                top.push(Scored { index: i as u32, score: s as f32 });
            }
            let got = top.into_sorted();
            let mut all: Vec<Scored> = scores.iter().enumerate()
                .map(|(i, &s)| Scored { index: i as u32, score: s as f32 }).collect();
            all.sort_by(|a, b| b.cmp(a));
            all.truncate(k);
            prop_assert_eq!(got, all);
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
