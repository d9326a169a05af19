//! wasm `simd128` kernels (compiled in when the target enables `simd128`, as `.cargo/config.toml`
//! does for wasm32).

use core::arch::wasm32::*;

use super::select::top_k_with;
use super::table::Kernels;

/// The simd128 table (a build with `+simd128` always has it: wasm has no run-time detection).
pub static SIMD128: Kernels = Kernels {
    isa: "simd128",
    dot_i8,
    dot_i8_rows,
    dot_i8_gather,
    adc_rows,
    any_ge,
    top_k: |scores, k| top_k_with(scores, k, any_ge),
    scale_add,
    dot_i8_rows_scale_add,
};

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

/// `out[r] = dot(query, row r)` (see [`super::scalar::dot_i8_rows`]). When `d` is a multiple of
/// 16 (every bundle `vitrine train` writes), the query is widened to i16 once, and rows go four at
/// a time with one transposing reduction per four rows and one 4-lane store: ~1.6× fewer
/// instructions per row than calling [`dot_i8`] per row. Exact, like every path.
pub fn dot_i8_rows(query: &[i8], rows: &[i8], out: &mut [f32]) {
    dot_i8_rows_scale_add(query, rows, out, None, None);
}

/// [`dot_i8_rows`] with [`scale_add`]'s pass fused into its four-row stores (the same operations
/// in the same order: bit-identical to the two in a row); rows the fused stores did not cover get
/// the separate pass. Saves a pass over the scores (4 % of a 43k `recommend`, 7 % at 1M).
pub fn dot_i8_rows_scale_add(
    query: &[i8],
    rows: &[i8],
    out: &mut [f32],
    scale: Option<(&[f32], f32)>,
    add: Option<(&[f32], f32)>,
) {
    let d = query.len();
    if d == 0 {
        out.iter_mut().for_each(|o| *o = 0.0);
        return scale_add(out, scale, add);
    }
    let n = out.len().min(rows.len() / d);
    // Rows below `fused` got the pass in their four-row store.
    let ne = super::scalar::scale_add_len(n, scale, add);
    let mut fused = 0;
    let mut r = 0;
    if d % 16 == 0 {
        let q = widened_query(query);
        let base = rows.as_ptr();
        while r + 4 <= n {
            // SAFETY: row r + 3 ends at (r + 4) · d ≤ n · d ≤ rows.len().
            let sums = unsafe { dot4(&q, [0, 1, 2, 3].map(|i| base.add((r + i) * d))) };
            let mut v = f32x4_convert_i32x4(sums);
            if r + 4 <= ne {
                // SAFETY: r + 4 ≤ ne, the length of every given slice at most.
                v = unsafe { scale_add4(v, r, scale, add) };
                fused = r + 4;
            }
            if let Some(o) = out.get_mut(r..r + 4) {
                // SAFETY: `o` holds 4 f32; v128_store accepts unaligned addresses.
                unsafe { v128_store(o.as_mut_ptr().cast::<v128>(), v) };
            }
            r += 4;
        }
    }
    for (o, row) in out[r..n].iter_mut().zip(rows[r * d..].chunks_exact(d)) {
        *o = dot_i8(query, row) as f32;
    }
    if fused < ne {
        scale_add(
            &mut out[fused..ne],
            scale.map(|(m, k)| (&m[fused..], k)),
            add.map(|(a, w)| (&a[fused..], w)),
        );
    }
}

/// `query` (a multiple of 16 bytes) widened to i16 once: two vectors per 16 bytes.
fn widened_query(query: &[i8]) -> Vec<v128> {
    query
        .chunks_exact(16)
        .flat_map(|c| {
            // SAFETY: `c` holds 16 bytes; v128_load accepts unaligned addresses.
            let v = unsafe { v128_load(c.as_ptr().cast::<v128>()) };
            [i16x8_extend_low_i8x16(v), i16x8_extend_high_i8x16(v)]
        })
        .collect()
}

/// The dots of four rows with the widened query `q` (from [`widened_query`]), lane `i` for the
/// row at `row[i]`: widen to i16, multiply-add pairs into i32x4, one transposing reduction.
///
/// # Safety
/// Each `row[i]` must point at `8 · q.len()` readable bytes (one row).
#[inline(always)]
unsafe fn dot4(q: &[v128], row: [*const i8; 4]) -> v128 {
    let mut acc = [i32x4_splat(0); 4];
    for (j, pair) in q.chunks_exact(2).enumerate() {
        let (q_lo, q_hi) = (pair[0], pair[1]);
        for (a, &p) in acc.iter_mut().zip(&row) {
            // SAFETY: 16 j + 16 ≤ 8 · q.len(), the row's length (the caller's guarantee).
            let v = unsafe { v128_load(p.add(16 * j).cast::<v128>()) };
            let lo = i32x4_dot_i16x8(i16x8_extend_low_i8x16(v), q_lo);
            let hi = i32x4_dot_i16x8(i16x8_extend_high_i8x16(v), q_hi);
            *a = i32x4_add(*a, i32x4_add(lo, hi));
        }
    }
    // Transpose-add: lane i of the result is the total of acc[i].
    let t0 = i32x4_add(
        i32x4_shuffle::<0, 4, 1, 5>(acc[0], acc[1]),
        i32x4_shuffle::<2, 6, 3, 7>(acc[0], acc[1]),
    );
    let t1 = i32x4_add(
        i32x4_shuffle::<0, 4, 1, 5>(acc[2], acc[3]),
        i32x4_shuffle::<2, 6, 3, 7>(acc[2], acc[3]),
    );
    i32x4_add(
        i32x4_shuffle::<0, 1, 4, 5>(t0, t1),
        i32x4_shuffle::<2, 3, 6, 7>(t0, t1),
    )
}

/// `out[j] = dot(query, row idx[j])` (see [`super::scalar::dot_i8_gather`]). When `d` is a
/// multiple of 16, four listed rows at a time through [`dot4`]: their loads are independent, so
/// the cache misses of rows new to the cache overlap (a `rerank` of ids the page has not ranked
/// before). Exact, like every path.
pub fn dot_i8_gather(query: &[i8], rows: &[i8], idx: &[u32], out: &mut [f32]) {
    let d = query.len();
    let n = idx.len().min(out.len());
    let mut j = 0;
    if d % 16 == 0 && d > 0 {
        let q = widened_query(query);
        while j + 4 <= n {
            let four: [Option<&[i8]>; 4] =
                [0, 1, 2, 3].map(|i| super::scalar::gathered_row(rows, d, idx[j + i]));
            if let [Some(a), Some(b), Some(c), Some(e)] = four {
                // SAFETY: each is a whole row of d = 8 · q.len() bytes.
                let sums = unsafe { dot4(&q, [a, b, c, e].map(<[i8]>::as_ptr)) };
                // SAFETY: j + 4 ≤ n ≤ out.len(); v128_store accepts unaligned addresses.
                unsafe {
                    v128_store(
                        out.as_mut_ptr().add(j).cast::<v128>(),
                        f32x4_convert_i32x4(sums),
                    )
                };
            } else {
                let (i4, o4) = (&idx[j..j + 4], &mut out[j..j + 4]);
                super::scalar::gather_with(query, rows, i4, o4, dot_i8);
            }
            j += 4;
        }
    }
    super::scalar::gather_with(query, rows, &idx[j..n], &mut out[j..n], dot_i8);
}

/// True when some element of `block` is `>= threshold` (NaN never is), 4 lanes at a time.
/// Always inlined: at opt-level `z` it stayed a call per 16-score block of the selection (5 % of
/// a 43k `recommend` under `node --cpu-prof`).
#[inline(always)]
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

/// The affine pass after a batched dot (see [`super::scalar::scale_add`]), 4 lanes at a time with
/// the scalar path's operations in its order (bit-identical). At the wasm's opt-level `z` the
/// compiler does not vectorize loops, so the scalar form cost a pass of 1 ns per item.
pub fn scale_add(out: &mut [f32], scale: Option<(&[f32], f32)>, add: Option<(&[f32], f32)>) {
    let n = super::scalar::scale_add_len(out.len(), scale, add);
    let o = out.as_mut_ptr();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 ≤ n, and n is at most the length of `out` and of every given slice;
        // v128_load / v128_store accept unaligned addresses.
        unsafe {
            let v = scale_add4(v128_load(o.add(i).cast::<v128>()), i, scale, add);
            v128_store(o.add(i).cast::<v128>(), v);
        }
        i += 4;
    }
    super::scalar::scale_add(
        &mut out[i..n],
        scale.map(|(m, k)| (&m[i..], k)),
        add.map(|(a, w)| (&a[i..], w)),
    );
}

/// [`scale_add`] of four entries `v`, those at `at..at + 4` of the factor slices: `v · (k ·
/// mul) + w · add`, either part optional, in the scalar path's order.
///
/// # Safety
/// `at + 4` must be at most the length of every given slice.
#[inline(always)]
unsafe fn scale_add4(
    mut v: v128,
    at: usize,
    scale: Option<(&[f32], f32)>,
    add: Option<(&[f32], f32)>,
) -> v128 {
    if let Some((mul, k)) = scale {
        // SAFETY: at + 4 ≤ mul.len() (the caller's contract); unaligned loads are fine.
        let m = unsafe { v128_load(mul.as_ptr().add(at).cast::<v128>()) };
        v = f32x4_mul(v, f32x4_mul(f32x4_splat(k), m));
    }
    if let Some((add, w)) = add {
        // SAFETY: at + 4 ≤ add.len() (the caller's contract).
        let a = unsafe { v128_load(add.as_ptr().add(at).cast::<v128>()) };
        v = f32x4_add(v, f32x4_mul(f32x4_splat(w), a));
    }
    v
}

/// Asymmetric-distance scores (see [`super::scalar::adc_rows`]): four items per step, one lane
/// each (wasm has no gather: the table entries are loaded one by one, the sums are vector adds),
/// every lane summing in the scalar order (bit-identical).
///
/// Written with index loops and raw loads, not iterators and closures: the wasm is built at
/// opt-level `z`, which left the closure and `Enumerate`/`ChunksExact::next` as calls per table
/// lookup (72 % of a compact `recommend` under `node --cpu-prof`, 16× the int8 kernel's time).
pub fn adc_rows(table: &[f32], codes: &[u8], out: &mut [f32]) {
    const T: usize = super::scalar::ADC_TABLE;
    let m = table.len() / T;
    if m == 0 {
        return super::scalar::adc_rows(table, codes, out);
    }
    let n = out.len().min(codes.len() / m);
    let (t, c) = (table.as_ptr(), codes.as_ptr());
    let mut r = 0;
    while r + 4 <= n {
        let mut acc = f32x4_splat(0.0);
        let mut j = 0;
        while j < m {
            // SAFETY: r + 4 ≤ n ≤ codes.len() / m, so every `(r + i)·m + j` (i < 4, j < m) is
            // below codes.len(); a code is below 256 = T and j < m, so `j·T + code` is below
            // m·T ≤ table.len().
            let v = unsafe {
                let tj = t.add(j * T);
                let cj = c.add(r * m + j);
                f32x4(
                    *tj.add(usize::from(*cj)),
                    *tj.add(usize::from(*cj.add(m))),
                    *tj.add(usize::from(*cj.add(2 * m))),
                    *tj.add(usize::from(*cj.add(3 * m))),
                )
            };
            acc = f32x4_add(acc, v);
            j += 1;
        }
        if let Some(o) = out.get_mut(r..r + 4) {
            // SAFETY: `o` holds 4 f32; v128_store accepts unaligned addresses.
            unsafe { v128_store(o.as_mut_ptr().cast::<v128>(), acc) };
        }
        r += 4;
    }
    super::scalar::adc_rows(table, &codes[r * m..], &mut out[r..n]);
}
