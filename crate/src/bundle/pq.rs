//! Product-quantized item vectors (compact bundles, format version 3): each item's `d`-dimensional
//! vector is cut into `m` sub-vectors — sub-space `j` holds dimensions `⌊j·d/m⌋ .. ⌊(j+1)·d/m⌋`,
//! so `m` need not divide `d` — each replaced by the index (one byte) of the nearest of `k ≤ 256`
//! centroids of its sub-space. The bundle holds the codes (`item_codes`, U8 `[n, m]`) and the
//! centroids (`pq_codebooks`, F16 or F32 `[k, d]`: row `c` is the `c`-th centroid of every
//! sub-space, side by side).
//!
//! Scoring is asymmetric (ADC): per request, a lookup table of the query's dot product with every
//! centroid (`m × 256` floats, [`Pq::table`]); an item's score is the sum of its `m` entries
//! (`kernels::adc_rows`). Nothing ever rebuilds the full matrix.

use std::ops::Range;

use safetensors::Dtype;

use super::container::{Container, Tensor};
use super::decode::{expect_dtype, floats, shape_error, Valid};
use crate::error::BundleError;
use crate::kernels::scalar::ADC_TABLE;

/// Most centroids per sub-space (codes are one byte).
pub const MAX_CENTROIDS: usize = ADC_TABLE;

/// A compact bundle's codebooks and where its codes are.
#[derive(Debug, Clone, PartialEq)]
pub struct Pq {
    /// Sub-spaces (code bytes per item).
    pub(super) m: usize,
    /// Centroids per sub-space (`1 ≤ k ≤ 256`; every code is `< k`).
    pub(super) k: usize,
    /// The dimension `d`.
    pub(super) dim: usize,
    /// `[k][d]` centroids, decoded to f32.
    pub(super) codebooks: Vec<f32>,
    /// The codes `[n, m]` in the bundle's bytes (unused once `codes_owned` is set).
    pub(super) codes: Range<usize>,
    /// The codes once a catalog update added rows.
    pub(super) codes_owned: Option<Vec<u8>>,
    /// `pq.unit_norm`: the source rows were unit length, so each item's vector is its
    /// reconstruction normalized; then `1 / ‖reconstruction‖` per row (0 for a zero one).
    /// Empty otherwise.
    pub(super) inv_norms: Vec<f32>,
}

impl Pq {
    /// Sub-spaces (code bytes per item).
    pub fn subspaces(&self) -> usize {
        self.m
    }

    /// Centroids per sub-space.
    pub fn centroids(&self) -> usize {
        self.k
    }

    /// The `[k][d]` centroids (row `c`: centroid `c` of every sub-space).
    pub fn codebooks(&self) -> &[f32] {
        &self.codebooks
    }

    /// Whether item vectors are the normalized reconstructions (`pq.unit_norm`).
    pub fn unit_norm(&self) -> bool {
        !self.inv_norms.is_empty()
    }

    /// The factor item `i`'s reconstruction is scaled by: `1 / ‖reconstruction‖` with
    /// `pq.unit_norm`, else 1.
    #[inline]
    pub(super) fn row_factor(&self, i: usize) -> f32 {
        if self.inv_norms.is_empty() {
            1.0
        } else {
            self.inv_norms.get(i).copied().unwrap_or(0.0)
        }
    }

    /// Computes `inv_norms` for `codes` (`[n, m]`), when `unit` (else clears them).
    ///
    /// Each item's squared norm comes from [`Pq::scaled_square_norm`] (the same bits as decoding
    /// the item and summing its squares in order, without the buffer: decoding per item was most
    /// of a compact bundle's load in the wasm, where opt-level `z` leaves `bounds`, `centroid` and
    /// the copy as calls per sub-space; `node --cpu-prof`).
    pub(super) fn set_unit_norm(&mut self, unit: bool, codes: &[u8]) {
        self.inv_norms = if unit && self.m > 0 {
            let n = codes.len() / self.m;
            let mut out = self.square_norms(codes, 0..n, None);
            for s in &mut out {
                *s = inv_norm(s.sqrt());
            }
            out
        } else {
            Vec::new()
        };
    }

    /// [`Pq::scaled_square_norm`] of each row in `rows` of `codes` (`[n, m]`) with factor
    /// `factors[row]` (1 without factors, 0 past them: [`Pq::row_factor`]), the same bits: the sub-space bounds are computed once rather than per row
    /// (two integer divisions per sub-space), and four rows are summed side by side, each in its
    /// own order, so that their additions' latencies overlap. Rows past the codes give 0.
    /// At a million items this pass was half of a compact bundle's load.
    pub(super) fn square_norms(
        &self,
        codes: &[u8],
        rows: std::ops::Range<usize>,
        factors: Option<&[f32]>,
    ) -> Vec<f32> {
        // Not generic over the factor (one copy of this loop in the wasm, not one per caller).
        let factor = |r: usize| factors.map_or(1.0, |f| f.get(r).copied().unwrap_or(0.0));
        let (m, dim) = (self.m, self.dim);
        let mut out = Vec::with_capacity(rows.len());
        if m == 0 {
            out.resize(rows.len(), 0.0);
            return out;
        }
        let n = rows.end.min(codes.len() / m);
        let cb = &self.codebooks;
        let mut r = rows.start;
        // Every index below is in the codebooks: a code is clamped to `k − 1` (codes are `< k`
        // once read, so this changes nothing) and `x < dim`, with `k · dim ≤ cb.len()` checked
        // here; the loads are then unchecked. Index loops, no closures per element: at the
        // wasm's opt-level `z` a closure or `Vec` indexing stays a call.
        if self.k == 0 || cb.len() < self.k * dim {
            r = n.max(r);
        }
        let last = self.k.saturating_sub(1);
        let base = |c: u8| usize::from(c).min(last) * dim;
        while r + 4 <= n {
            let (f0, f1, f2, f3) = (factor(r), factor(r + 1), factor(r + 2), factor(r + 3));
            let (mut s0, mut s1, mut s2, mut s3) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
            let mut j = 0;
            let mut lo = 0;
            while j < m {
                let hi = (j + 1) * dim / m;
                let b0 = base(codes[r * m + j]);
                let b1 = base(codes[(r + 1) * m + j]);
                let b2 = base(codes[(r + 2) * m + j]);
                let b3 = base(codes[(r + 3) * m + j]);
                let mut x = lo;
                while x < hi {
                    // SAFETY: b ≤ (k − 1)·dim and x < hi ≤ dim, so b + x < k·dim ≤ cb.len().
                    let (v0, v1, v2, v3) = unsafe {
                        (
                            *cb.get_unchecked(b0 + x),
                            *cb.get_unchecked(b1 + x),
                            *cb.get_unchecked(b2 + x),
                            *cb.get_unchecked(b3 + x),
                        )
                    };
                    // `v · 1.0 == v` exactly, so multiplying always gives the bits of
                    // `scaled_square_norm`'s `if f == 1.0 { v } else { v · f }`.
                    let (y0, y1, y2, y3) = (v0 * f0, v1 * f1, v2 * f2, v3 * f3);
                    s0 += y0 * y0;
                    s1 += y1 * y1;
                    s2 += y2 * y2;
                    s3 += y3 * y3;
                    x += 1;
                }
                lo = hi;
                j += 1;
            }
            out.extend_from_slice(&[s0, s1, s2, s3]);
            r += 4;
        }
        while r < rows.end {
            out.push(match codes.get(r * m..(r + 1) * m) {
                Some(c) => self.scaled_square_norm(c, factor(r)),
                None => 0.0,
            });
            r += 1;
        }
        out
    }

    /// [`Pq::set_unit_norm`] after rows changed: `inv_norms` grows to the rows of `codes` (`[n,
    /// m]`), and only the rows from `first_new` on and those in `changed` are computed (the rest
    /// keep theirs, the same bits a full pass gives). No-op unless `pq.unit_norm`. A catalog
    /// update then costs its own rows, not the catalog's (at a million items, recomputing every
    /// norm was half of applying one shard).
    pub(super) fn update_unit_norms(&mut self, codes: &[u8], first_new: usize, changed: &[usize]) {
        if self.inv_norms.is_empty() || self.m == 0 {
            return;
        }
        let n = codes.len() / self.m;
        self.inv_norms.resize(n, 0.0);
        let from = first_new.min(n);
        let fresh = self.square_norms(codes, from..n, None);
        for (slot, s) in self.inv_norms[from..].iter_mut().zip(fresh) {
            *slot = inv_norm(s.sqrt());
        }
        for r in changed.iter().copied().filter(|&r| r < from) {
            let norm = self
                .scaled_square_norm(&codes[r * self.m..(r + 1) * self.m], 1.0)
                .sqrt();
            if let Some(slot) = self.inv_norms.get_mut(r) {
                *slot = inv_norm(norm);
            }
        }
    }

    /// `‖f · reconstruction(codes)‖²`, each coordinate scaled (unless `f` is 1) and squared and
    /// the squares summed in dimension order, read straight from the codebooks: the bits of
    /// decoding into a buffer, scaling it and summing `x · x` in order (`Bundle::item_dot(i, i)`).
    pub(super) fn scaled_square_norm(&self, codes: &[u8], f: f32) -> f32 {
        let mut s = 0.0f32;
        let mut j = 0;
        while j < self.m.min(codes.len()) {
            let b = self.bounds(j);
            let row = usize::from(codes[j]) * self.dim;
            let mut x = row + b.start;
            while x < row + b.end {
                let v = self.codebooks.get(x).copied().unwrap_or(0.0);
                let y = if f == 1.0 { v } else { v * f };
                s += y * y;
                x += 1;
            }
            j += 1;
        }
        s
    }

    /// The codes of every row, `[n, m]` row-major, given the bundle's bytes.
    pub(super) fn all_codes<'a>(&'a self, bytes: &'a [u8]) -> &'a [u8] {
        match &self.codes_owned {
            Some(c) => c,
            None => bytes.get(self.codes.clone()).unwrap_or_default(),
        }
    }

    /// The dimensions of sub-space `j`.
    // Always inlined: at the wasm's opt-level `z` a call per sub-space and item was a fifth of a
    // compact bundle's load (`Pq::scaled_square_norm`).
    #[inline(always)]
    pub fn bounds(&self, j: usize) -> std::ops::Range<usize> {
        j * self.dim / self.m..(j + 1) * self.dim / self.m
    }

    fn centroid(&self, j: usize, c: usize) -> &[f32] {
        let b = self.bounds(j);
        let row = c * self.dim;
        self.codebooks
            .get(row + b.start..row + b.end)
            .unwrap_or_default()
    }

    /// The lookup table of `query` (length `d`): `table[j·256 + c] = query_j · centroid(j, c)`
    /// for `c < k`, 0 past `k` (codes never reach it). `Σ_j table[j·256 + code_j]` is then the dot
    /// product of the query with the item's reconstruction.
    pub fn table(&self, query: &[f32]) -> Vec<f32> {
        let mut table = vec![0.0f32; self.m * ADC_TABLE];
        for (j, t) in table.chunks_exact_mut(ADC_TABLE).enumerate() {
            let q = query.get(self.bounds(j)).unwrap_or_default();
            for (c, slot) in t.iter_mut().take(self.k).enumerate() {
                *slot = self.centroid(j, c).iter().zip(q).map(|(a, b)| a * b).sum();
            }
        }
        table
    }

    /// Writes the reconstruction of one item's codes (its centroids, concatenated) into `out`
    /// (length `d`).
    pub fn decode_into(&self, codes: &[u8], out: &mut [f32]) {
        for (j, &c) in codes.iter().enumerate().take(self.m) {
            if let Some(o) = out.get_mut(self.bounds(j)) {
                o.copy_from_slice(self.centroid(j, usize::from(c)));
            }
        }
    }

    /// The codes of a vector (length `d`): per sub-space, the nearest centroid (squared Euclidean
    /// distance; the lowest index on ties).
    pub fn encode(&self, v: &[f32]) -> Vec<u8> {
        (0..self.m)
            .map(|j| {
                let x = v.get(self.bounds(j)).unwrap_or_default();
                let mut best = (f32::INFINITY, 0u8);
                for c in 0..self.k {
                    let dist: f32 = self
                        .centroid(j, c)
                        .iter()
                        .zip(x)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum();
                    if dist < best.0 {
                        best = (dist, c as u8);
                    }
                }
                best.1
            })
            .collect()
    }
}

/// Reads and validates the product-quantized vectors: `pq_codebooks` (F16 or F32 `[k, d]`,
/// finite, `1 ≤ k ≤ 256`, `1 ≤ d ≤ 4096`) and `item_codes` (U8 `[n, m]`, `n ≥ 1`, `1 ≤ m ≤ d`,
/// every code `< k`). Returns the codebooks, `n` and `d`.
pub(super) fn read_pq(
    c: &Container<'_>,
    codes: Tensor<'_>,
    unit_norm: bool,
) -> Result<(Pq, usize, usize), BundleError> {
    let books = c.require("pq_codebooks")?;
    let (k, dim) = match *books.shape {
        [k, d] if (1..=MAX_CENTROIDS).contains(&k) && (1..=super::format::MAX_DIM).contains(&d) => {
            (k, d)
        }
        _ => {
            return Err(shape_error(
                &books,
                "[k, d] with 1 ≤ k ≤ 256 and 1 ≤ d ≤ 4096".into(),
            ))
        }
    };
    let codebooks = floats(&books, &[Dtype::F16, Dtype::F32], &[k, dim], Valid::Finite)?;
    expect_dtype(&codes, &[Dtype::U8])?;
    let (n, m) = match *codes.shape {
        [n, m] if n >= 1 && (1..=dim).contains(&m) => (n, m),
        _ => {
            return Err(shape_error(
                &codes,
                "[n, m] with n ≥ 1 and 1 ≤ m ≤ d (the columns of pq_codebooks)".into(),
            ))
        }
    };
    if let Some(i) = codes.data.iter().position(|&b| usize::from(b) >= k) {
        return Err(BundleError::Value {
            name: codes.name.into(),
            index: i,
            why: format!(
                "code {} is not < {k} (centroids per sub-space)",
                codes.data[i]
            ),
        });
    }
    let mut pq = Pq {
        m,
        k,
        dim,
        codebooks,
        codes: codes.byte_range(),
        codes_owned: None,
        inv_norms: Vec::new(),
    };
    pq.set_unit_norm(unit_norm, codes.data);
    Ok((pq, n, dim))
}

/// `1 / norm`, or 0 for a zero or non-finite norm (the item then scores 0 by similarity).
#[inline]
fn inv_norm(norm: f32) -> f32 {
    if norm > 0.0 && norm.is_finite() {
        1.0 / norm
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The norms read straight from the codebooks are the bits of decoding each item and
    /// summing its squares in order (what `set_unit_norm` did before).
    #[test]
    fn inverse_norms_are_those_of_the_decoded_rows() {
        let (dim, m, k, n) = (10usize, 4usize, 7usize, 50usize);
        let mut x = 0x2545_f491u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x % 2000) as f32 / 1000.0 - 1.0
        };
        let mut pq = Pq {
            m,
            k,
            dim,
            codebooks: (0..k * dim).map(|_| next()).collect(),
            codes: 0..0,
            codes_owned: None,
            inv_norms: Vec::new(),
        };
        let mut codes: Vec<u8> = (0..n * m).map(|i| ((i * 5 + i / 3) % k) as u8).collect();
        // Built in steps as catalog updates do (the first 30 rows, then rows 7 and 12 changed
        // and 20 appended) and at once: the same bits.
        pq.set_unit_norm(true, &codes[..30 * m]);
        for c in &mut codes[7 * m..8 * m] {
            *c = (*c + 1) % k as u8;
        }
        codes[12 * m] = (codes[12 * m] + 3) % k as u8;
        pq.update_unit_norms(&codes, 30, &[7, 12]);
        let stepped = pq.inv_norms.clone();
        pq.set_unit_norm(true, &codes);
        assert_eq!(pq.inv_norms.len(), n);
        assert_eq!(stepped, pq.inv_norms);
        // Batched squares (four rows side by side) against one row at a time, with factors, for
        // ranges that start anywhere and leave a remainder, and rows past the codes.
        // (Two rows past the factors: factor 0, as `row_factor` gives them.)
        let factors: Vec<f32> = (0..n - 2)
            .map(|r| {
                if r % 3 == 0 {
                    1.0
                } else {
                    0.5 + r as f32 / 7.0
                }
            })
            .collect();
        let factor = |r: usize| factors.get(r).copied().unwrap_or(0.0);
        for rows in [0..n, 3..n, 5..12, 49..50, 0..0, 48..53] {
            let got = pq.square_norms(&codes, rows.clone(), Some(&factors));
            assert_eq!(got.len(), rows.len());
            for (r, g) in rows.clone().zip(&got) {
                let want = codes
                    .get(r * m..(r + 1) * m)
                    .map_or(0.0, |c| pq.scaled_square_norm(c, factor(r)));
                assert_eq!(g.to_bits(), want.to_bits(), "rows {rows:?}, row {r}");
            }
        }
        let mut v = vec![0.0f32; dim];
        for (r, c) in codes.chunks_exact(m).enumerate() {
            pq.decode_into(c, &mut v);
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert_eq!(
                pq.row_factor(r).to_bits(),
                (1.0 / norm).to_bits(),
                "row {r}"
            );
        }
    }
}
