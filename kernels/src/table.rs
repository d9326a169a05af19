//! The kernel table type and the portable reference table.

use super::scalar;
use super::select::{top_k_with, Scored};

/// One instruction set's kernels. Every function must return exactly what the scalar table
/// returns for the same inputs (checked by [`super::check::check`]).
#[derive(Debug)]
pub struct Kernels {
    /// The table's name: `scalar`, `sse2`, `avx2` or `simd128`.
    pub isa: &'static str,
    /// Dot product of two int8 vectors, exact in i32 (extra elements of the longer slice ignored).
    pub dot_i8: fn(&[i8], &[i8]) -> i32,
    /// `out[r] = dot(query, rows[r·d .. (r+1)·d])`, `d = query.len()`, for every `r < out.len()`;
    /// callers guarantee `rows.len() ≥ out.len() · d`.
    pub dot_i8_rows: fn(&[i8], &[i8], &mut [f32]),
    /// `out[j] = dot(query, row idx[j])` for the rows a list names (a `rerank`'s candidates), `d =
    /// query.len()`; a row not wholly inside `rows` scores 0 (see [`scalar::dot_i8_gather`]).
    pub dot_i8_gather: DotGather,
    /// Asymmetric-distance scoring of product-quantized rows: `out[r] = Σ_j table[j·256 +
    /// codes[r·m + j]]`, `m = table.len() / 256`, for every `r < out.len()`, each sum taken in
    /// order of `j` (bit-identical to the scalar path); callers guarantee `codes.len() ≥ out.len() · m`.
    pub adc_rows: fn(&[f32], &[u8], &mut [f32]),
    /// Does some element of the block reach the threshold (`>=`; NaN never does)?
    pub any_ge: fn(&[f32], f32) -> bool,
    /// The best `k` scores (see [`top_k`]): [`top_k_with`] with this table's `any_ge` inlined
    /// (one indirect call per selection, not one per block).
    pub top_k: fn(&[f32], usize) -> Vec<Scored>,
    /// The affine pass after a batched dot, `out[i] = out[i] · (k · mul[i]) + w · add[i]` with
    /// either part optional (see [`scalar::scale_add`]; bit-identical to it).
    pub scale_add: ScaleAdd,
    /// [`Kernels::dot_i8_rows`] then [`Kernels::scale_add`] on the rows written, in one pass
    /// where the table can fuse them (bit-identical to the two in a row).
    pub dot_i8_rows_scale_add: DotRowsScaleAdd,
}

/// The signature of [`Kernels::dot_i8_gather`]: `(query, rows, idx, out)`.
pub type DotGather = fn(&[i8], &[i8], &[u32], &mut [f32]);

/// The signature of [`Kernels::scale_add`]: `(out, Some((mul, k)), Some((add, w)))`.
pub type ScaleAdd = fn(&mut [f32], Option<(&[f32], f32)>, Option<(&[f32], f32)>);

/// The signature of [`Kernels::dot_i8_rows_scale_add`]: `(query, rows, out, scale, add)`.
pub type DotRowsScaleAdd =
    fn(&[i8], &[i8], &mut [f32], Option<(&[f32], f32)>, Option<(&[f32], f32)>);

/// The portable reference table.
pub static SCALAR: Kernels = Kernels {
    isa: "scalar",
    dot_i8: scalar::dot_i8,
    dot_i8_rows: scalar::dot_i8_rows,
    dot_i8_gather: scalar::dot_i8_gather,
    adc_rows: scalar::adc_rows,
    any_ge: scalar::any_ge,
    top_k: |scores, k| top_k_with(scores, k, scalar::any_ge),
    scale_add: scalar::scale_add,
    dot_i8_rows_scale_add: |query, rows, out, scale, add| {
        scalar::dot_i8_rows(query, rows, out);
        scalar::scale_add(out, scale, add);
    },
};
