//! The math kernels: int8 dot products (one pair, or one query against many rows) and the block
//! test of top-k selection. Each instruction set provides its kernels through one table
//! ([`Kernels`]); the best table this machine can run is picked once ([`active`]) and every entry
//! point below goes through it. A generic scalar table exists everywhere and is the reference.
//!
//! | table       | where                                    | `dot_i8` / `dot_i8_rows`        | `any_ge` (top-k block skip) |
//! | ----------- | ---------------------------------------- | ------------------------------- | --------------------------- |
//! | `scalar`    | everywhere                               | [`scalar`]                      | [`scalar::any_ge`]          |
//! | `sse2`      | x86_64 (baseline)                        | SSE2                            | SSE2                        |
//! | `avx2`      | x86_64 with AVX2 (detected at run time)  | AVX2                            | SSE2                        |
//! | `simd128`   | wasm32 built with `+simd128`             | simd128                         | simd128                     |
//!
//! One correctness checker ([`check`]) runs every table this machine has against the scalar one on
//! random and edge inputs: natively in `cargo test`, and in the browser in `tests/web.rs`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

pub mod check;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod wasm_simd;
#[cfg(target_arch = "x86_64")]
pub mod x86;

/// One instruction set's kernels. Every function must return exactly what the scalar table
/// returns for the same inputs (checked by [`check::check`]).
#[derive(Debug)]
pub struct Kernels {
    /// The table's name: `scalar`, `sse2`, `avx2` or `simd128`.
    pub isa: &'static str,
    /// Dot product of two int8 vectors, exact in i32 (extra elements of the longer slice ignored).
    pub dot_i8: fn(&[i8], &[i8]) -> i32,
    /// `out[r] = dot(query, rows[r·d .. (r+1)·d])`, `d = query.len()`, for every `r < out.len()`;
    /// callers guarantee `rows.len() ≥ out.len() · d`.
    pub dot_i8_rows: fn(&[i8], &[i8], &mut [f32]),
    /// Does some element of the block reach the threshold (`>=`; NaN never does)?
    pub any_ge: fn(&[f32], f32) -> bool,
    /// The best `k` scores (see [`top_k`]): [`top_k_with`] with this table's `any_ge` inlined
    /// (one indirect call per selection, not one per block).
    pub top_k: fn(&[f32], usize) -> Vec<Scored>,
}

/// The portable reference table.
pub static SCALAR: Kernels = Kernels {
    isa: "scalar",
    dot_i8: scalar::dot_i8,
    dot_i8_rows: scalar::dot_i8_rows,
    any_ge: scalar::any_ge,
    top_k: |scores, k| top_k_with(scores, k, scalar::any_ge),
};

/// Every table this machine can run, the scalar reference first and the best last.
pub fn available() -> Vec<&'static Kernels> {
    #[allow(unused_mut)]
    let mut v = vec![&SCALAR];
    #[cfg(target_arch = "x86_64")]
    {
        v.push(&x86::SSE2);
        if x86::has_avx2() {
            v.push(&x86::AVX2);
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    v.push(&wasm_simd::SIMD128);
    v
}

/// The best table this machine can run, chosen once. In wasm the choice is made at compile time
/// (a build either has `simd128` or not), so calls through it are direct.
#[inline]
pub fn active() -> &'static Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        static BEST: std::sync::OnceLock<&'static Kernels> = std::sync::OnceLock::new();
        BEST.get_or_init(|| {
            if x86::has_avx2() {
                &x86::AVX2
            } else {
                &x86::SSE2
            }
        })
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        &wasm_simd::SIMD128
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        &SCALAR
    }
}

/// Which table [`active`] picked: `avx2`, `sse2`, `simd128` or `scalar`.
pub fn active_isa() -> &'static str {
    active().isa
}

/// Dot product of two int8 vectors, accumulated exactly in i32 (through [`active`]).
///
/// Exact for any length up to 2^17 (|a_i·b_i| ≤ 2^14). Never panics: extra elements of the longer
/// slice are ignored (callers pass equal lengths).
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    (active().dot_i8)(a, b)
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
    (active().dot_i8_rows)(query, rows, &mut out[..n]);
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
    (active().top_k)(scores, k)
}

/// [`top_k`] with a given block test (`any_ge(block, t)`: does some element reach `t`?). Public so
/// the tests and benches can run every ISA's block test; the result never depends on which.
pub fn top_k_with<F: Fn(&[f32], f32) -> bool>(scores: &[f32], k: usize, any_ge: F) -> Vec<Scored> {
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
