//! wasm `simd128` kernels (compiled in when the target enables `simd128`, as `.cargo/config.toml`
//! does for wasm32).

use core::arch::wasm32::*;

/// int8 dot product, 16 lanes per step: widen to i16, multiply-add pairs into i32x4.
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let mut acc = i32x4_splat(0);
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n <= both lengths; v128_load accepts unaligned addresses.
        let (va, vb) = unsafe {
            (
                v128_load(a.as_ptr().add(i).cast::<v128>()),
                v128_load(b.as_ptr().add(i).cast::<v128>()),
            )
        };
        let lo = i32x4_dot_i16x8(i16x8_extend_low_i8x16(va), i16x8_extend_low_i8x16(vb));
        let hi = i32x4_dot_i16x8(i16x8_extend_high_i8x16(va), i16x8_extend_high_i8x16(vb));
        acc = i32x4_add(acc, i32x4_add(lo, hi));
        i += 16;
    }
    i32x4_extract_lane::<0>(acc)
        + i32x4_extract_lane::<1>(acc)
        + i32x4_extract_lane::<2>(acc)
        + i32x4_extract_lane::<3>(acc)
        + super::scalar::dot_i8(&a[i..n], &b[i..n])
}

/// `out[r] = dot(query, row r)` (see [`super::scalar::dot_i8_rows`]).
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

/// True when some element of `block` is `>= threshold` (NaN never is), 4 lanes at a time.
#[inline]
pub fn any_ge(block: &[f32], threshold: f32) -> bool {
    let t = f32x4_splat(threshold);
    let mut i = 0;
    let mut any = i32x4_splat(0);
    while i + 4 <= block.len() {
        // SAFETY: i + 4 <= len; v128_load accepts unaligned addresses.
        let v = unsafe { v128_load(block.as_ptr().add(i).cast::<v128>()) };
        any = v128_or(any, f32x4_ge(v, t));
        i += 4;
    }
    v128_any_true(any) || super::scalar::any_ge(&block[i..], threshold)
}
