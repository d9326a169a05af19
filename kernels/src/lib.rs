//! The math kernels: int8 dot products (one pair, or one query against many rows), asymmetric-distance
//! scoring of product-quantized rows (compact bundles, [`adc_rows`]), the affine pass that turns
//! dots into scores ([`scale_add`]) and the block test of top-k selection. Each instruction set provides its kernels through one table
//! ([`Kernels`]); the best table this machine can run is picked once ([`active`]) and every entry
//! point below goes through it. A generic scalar table exists everywhere and is the reference.
//!
//! | table       | where                                    | `dot_i8` / `dot_i8_rows` / `dot_i8_gather` | `adc_rows`                   | `any_ge` (top-k block skip) | `scale_add`          |
//! | ----------- | ---------------------------------------- | ------------------------------- | ---------------------------- | --------------------------- | -------------------- |
//! | `scalar`    | everywhere                               | [`scalar`]                      | [`scalar::adc_rows`]         | [`scalar::any_ge`]          | [`scalar::scale_add`] |
//! | `sse2`      | x86_64 (baseline)                        | SSE2                            | SSE2, 4 items per step       | SSE2                        | scalar (vectorized by the compiler) |
//! | `avx2`      | x86_64 with AVX2 (detected at run time)  | AVX2                            | SSE2 (gathers were slower)   | SSE2                        | scalar (vectorized by the compiler) |
//! | `simd128`   | wasm32 built with `+simd128`             | simd128                         | simd128, 4 items per step    | simd128                     | simd128              |
//!
//! One correctness checker ([`check`]) runs every table this machine has against the scalar one on
//! random and edge inputs: natively in `cargo test`, and in the browser in `tests/web.rs`.

pub mod check;
pub mod scalar;
mod select;
mod table;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod wasm_simd;
#[cfg(target_arch = "x86_64")]
pub mod x86;

pub use select::{sort_rows, top_k_with, Scored, TopK};
pub use table::{Kernels, SCALAR};

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
    let n = rows_to_score(query, rows, out.len());
    (active().dot_i8_rows)(query, rows, &mut out[..n]);
}

/// How many entries of `out` (of length `out_len`) a batched dot writes: one per whole row of
/// `rows` (`d = query.len()` bytes each), all of them with an empty query.
fn rows_to_score(query: &[i8], rows: &[i8], out_len: usize) -> usize {
    match rows.len().checked_div(query.len()) {
        Some(n) => n.min(out_len),
        None => out_len,
    }
}

/// [`dot_i8_rows`] then [`scale_add`] over the rows written (`out[r] = dot_r · (k · mul[r]) + w ·
/// add[r]`), fused into one pass where the table can (simd128): bit-identical to the two calls.
pub fn dot_i8_rows_scale_add(
    query: &[i8],
    rows: &[i8],
    out: &mut [f32],
    scale: Option<(&[f32], f32)>,
    add: Option<(&[f32], f32)>,
) {
    let n = rows_to_score(query, rows, out.len());
    (active().dot_i8_rows_scale_add)(query, rows, &mut out[..n], scale, add);
}

/// `out[j] = dot(query, row idx[j])` as f32 for the rows a list names (`d = query.len()` bytes per
/// row of `rows`; a row not wholly inside `rows` scores 0), for every `j` below the shorter of
/// `idx` and `out`. Equal to [`dot_i8`] per row; batched so that the rows' loads overlap.
pub fn dot_i8_gather(query: &[i8], rows: &[i8], idx: &[u32], out: &mut [f32]) {
    (active().dot_i8_gather)(query, rows, idx, out);
}

/// Asymmetric-distance scoring of product-quantized rows (compact bundles): `out[r] = Σ_j
/// table[j·256 + codes[r·m + j]]` with `m = table.len() / 256`, for every `r < out.len()` (entries
/// past the last whole row of `codes` are left as they are). Each sum is taken in order of `j`, so
/// every table gives the same bits.
pub fn adc_rows(table: &[f32], codes: &[u8], out: &mut [f32]) {
    let m = table.len() / scalar::ADC_TABLE;
    let n = match codes.len().checked_div(m) {
        Some(n) => n.min(out.len()),
        None => out.len(),
    };
    (active().adc_rows)(table, codes, &mut out[..n]);
}

/// The affine pass after a batched dot (through [`active`]): for every `i` below the shortest of
/// `out` and the given slices, `out[i] = out[i] · (k · mul[i])` when `scale = Some((mul, k))`, then
/// `+ w · add[i]` when `add = Some((add, w))`. Bit-identical in every table.
pub fn scale_add(out: &mut [f32], scale: Option<(&[f32], f32)>, add: Option<(&[f32], f32)>) {
    (active().scale_add)(out, scale, add);
}

/// The best `k` entries of `scores` (index = position), best first; NaN entries are skipped (the
/// engine marks excluded items with NaN). O(n + k log k · log n) typical: once the heap is full,
/// blocks of 16 scores none of which reaches the worst kept score are skipped with one SIMD
/// comparison. Equal to a full sort's prefix (see the tests), without the sort.
pub fn top_k(scores: &[f32], k: usize) -> Vec<Scored> {
    (active().top_k)(scores, k)
}
