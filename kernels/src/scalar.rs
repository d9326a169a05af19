//! Portable reference kernels: the results every SIMD path is checked against.

/// int8 dot product, accumulated exactly in i32 (extra elements of the longer slice are ignored).
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

/// `out[r] = dot(query, rows[r·d .. (r+1)·d])` with `d = query.len()`, for every `r < out.len()`.
///
/// Callers guarantee `rows.len() >= out.len() · d`.
pub fn dot_i8_rows(query: &[i8], rows: &[i8], out: &mut [f32]) {
    let d = query.len();
    if d == 0 {
        out.iter_mut().for_each(|o| *o = 0.0);
        return;
    }
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(d)) {
        *o = dot_i8(query, row) as f32;
    }
}

/// `out[j] = dot(query, row idx[j])` as f32, the rows `d = query.len()` bytes each in `rows`, for
/// every `j` below the shorter of `idx` and `out`; a row not wholly inside `rows` scores 0.
pub fn dot_i8_gather(query: &[i8], rows: &[i8], idx: &[u32], out: &mut [f32]) {
    gather_with(query, rows, idx, out, dot_i8);
}

/// [`dot_i8_gather`] with a given pair kernel: one call per row (what the x86 tables use, and the
/// rows the simd128 four-row path leaves).
#[inline(always)]
pub(crate) fn gather_with(
    query: &[i8],
    rows: &[i8],
    idx: &[u32],
    out: &mut [f32],
    dot: impl Fn(&[i8], &[i8]) -> i32,
) {
    for (o, &i) in out.iter_mut().zip(idx) {
        *o = gathered_row(rows, query.len(), i).map_or(0.0, |r| dot(query, r) as f32);
    }
}

/// Row `i` of `rows` (`d` bytes each) when it lies wholly inside, and `d > 0`.
#[inline(always)]
pub(crate) fn gathered_row(rows: &[i8], d: usize, i: u32) -> Option<&[i8]> {
    let start = (i as usize).checked_mul(d)?;
    rows.get(start..start.checked_add(d)?).filter(|_| d > 0)
}

/// True when some element of `block` is `>= threshold` (NaN never is).
#[inline]
pub fn any_ge(block: &[f32], threshold: f32) -> bool {
    block.iter().any(|&s| s >= threshold)
}

/// Entries per sub-space in an asymmetric-distance lookup table (one per possible 8-bit code).
pub const ADC_TABLE: usize = 256;

/// One item's asymmetric-distance score: `Σ_j table[j · 256 + codes[j]]`, summed in order of `j`
/// from `0.0` (every SIMD path sums each item in this same order, so results are bit-identical).
#[inline]
pub fn adc_one(table: &[f32], codes: &[u8]) -> f32 {
    // An index loop, not `chunks_exact().zip()`: at the wasm's opt-level `z` the iterators'
    // `next` stayed calls per lookup (see `wasm_simd::adc_rows`).
    let m = (table.len() / ADC_TABLE).min(codes.len());
    let mut s = 0.0f32;
    let mut j = 0;
    while j < m {
        s += table[j * ADC_TABLE + usize::from(codes[j])];
        j += 1;
    }
    s
}

/// `out[r] = adc_one(table, codes[r·m .. (r+1)·m])` with `m = table.len() / 256`, for every
/// `r < out.len()`; callers guarantee `codes.len() ≥ out.len() · m`. With `m = 0` every score is 0.
pub fn adc_rows(table: &[f32], codes: &[u8], out: &mut [f32]) {
    let m = table.len() / ADC_TABLE;
    if m == 0 {
        out.iter_mut().for_each(|o| *o = 0.0);
        return;
    }
    let n = out.len().min(codes.len() / m);
    let mut r = 0;
    while r < n {
        out[r] = adc_one(table, &codes[r * m..(r + 1) * m]);
        r += 1;
    }
}

/// The affine pass after a batched dot: for every `i < n`, `out[i] = out[i] · (k · mul[i])` when
/// `scale = Some((mul, k))`, then `+ w · add[i]` when `add = Some((add, w))`, with `n` the shortest
/// of `out` and the given slices (entries past it are left as they are). Every table computes each
/// element with these operations in this order (two roundings per step, no fused multiply-add),
/// so results are bit-identical.
pub fn scale_add(out: &mut [f32], scale: Option<(&[f32], f32)>, add: Option<(&[f32], f32)>) {
    let n = scale_add_len(out.len(), scale, add);
    let mut i = 0;
    while i < n {
        let mut o = out[i];
        if let Some((mul, k)) = scale {
            o *= k * mul[i];
        }
        if let Some((add, w)) = add {
            o += w * add[i];
        }
        out[i] = o;
        i += 1;
    }
}

/// How many entries [`scale_add`] writes: the shortest of `out` and the given slices.
#[inline]
pub fn scale_add_len(
    out: usize,
    scale: Option<(&[f32], f32)>,
    add: Option<(&[f32], f32)>,
) -> usize {
    out.min(scale.map_or(usize::MAX, |(m, _)| m.len()))
        .min(add.map_or(usize::MAX, |(a, _)| a.len()))
}
