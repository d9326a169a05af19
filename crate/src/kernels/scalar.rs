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

/// True when some element of `block` is `>= threshold` (NaN never is).
#[inline]
pub fn any_ge(block: &[f32], threshold: f32) -> bool {
    block.iter().any(|&s| s >= threshold)
}
