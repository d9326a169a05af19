//! Top-k selection: scored candidates, a bounded heap, and the block-skipping scan every kernel
//! table instantiates with its own block test.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

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
