//! x86_64 kernels: AVX2 (detected at run time) with an SSE2 fallback (SSE2 is part of the x86_64
//! baseline, so that path needs no detection).

use core::arch::x86_64::*;

use super::scalar::ADC_TABLE;
use super::select::top_k_with;
use super::table::Kernels;

/// SSE2 (every x86_64 CPU).
pub static SSE2: Kernels = Kernels {
    isa: "sse2",
    dot_i8: dot_i8_sse2,
    dot_i8_rows: dot_i8_rows_sse2,
    dot_i8_gather: |query, rows, idx, out| {
        super::scalar::gather_with(query, rows, idx, out, dot_i8_sse2);
    },
    adc_rows: adc_rows_sse2,
    any_ge: any_ge_sse2,
    top_k: |scores, k| top_k_with(scores, k, any_ge_sse2),
    // Natively (opt-level 3) the compiler vectorizes the scalar loop.
    scale_add: super::scalar::scale_add,
    dot_i8_rows_scale_add: |query, rows, out, scale, add| {
        dot_i8_rows_sse2(query, rows, out);
        super::scalar::scale_add(out, scale, add);
    },
};

/// AVX2. Only reachable through [`super::available`] and [`super::active`], which hand it out
/// after [`has_avx2`] said yes: its functions may then run AVX2 instructions (the invariant the
/// `unsafe` blocks below rely on).
pub(super) static AVX2: Kernels = Kernels {
    isa: "avx2",
    dot_i8: dot_i8_avx2,
    dot_i8_rows: dot_i8_rows_avx2,
    dot_i8_gather: |query, rows, idx, out| {
        super::scalar::gather_with(query, rows, idx, out, dot_i8_avx2);
    },
    // AVX2 gathers (8 items per step) measured slower than this on a Xeon with AVX-512
    // (`cargo bench --bench kernels adc_rows`: 268 µs vs 176 µs for 43,097 × 20 codes).
    adc_rows: adc_rows_sse2,
    any_ge: any_ge_sse2,
    top_k: |scores, k| top_k_with(scores, k, any_ge_sse2),
    // Natively (opt-level 3) the compiler vectorizes the scalar loop.
    scale_add: super::scalar::scale_add,
    dot_i8_rows_scale_add: |query, rows, out, scale, add| {
        dot_i8_rows_avx2(query, rows, out);
        super::scalar::scale_add(out, scale, add);
    },
};

/// True when this CPU can run the AVX2 kernels.
#[inline]
pub fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// int8 dot product with SSE2 (16 lanes per step: sign-extend to i16, multiply-add pairs into i32).
#[inline]
pub fn dot_i8_sse2(a: &[i8], b: &[i8]) -> i32 {
    // SAFETY: SSE2 is part of the x86_64 baseline.
    unsafe { dot_sse2(a, b) }
}

#[target_feature(enable = "sse2")]
#[inline]
unsafe fn dot_sse2(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let mut acc = _mm_setzero_si128();
    let mut i = 0;
    while i + 16 <= n {
        // i + 16 <= n <= both lengths; loadu accepts unaligned addresses.
        let va = _mm_loadu_si128(a.as_ptr().add(i).cast::<__m128i>());
        let vb = _mm_loadu_si128(b.as_ptr().add(i).cast::<__m128i>());
        // Interleaving a vector with itself then shifting right arithmetically by 8 sign-extends
        // each byte to 16 bits.
        let a_lo = _mm_srai_epi16::<8>(_mm_unpacklo_epi8(va, va));
        let a_hi = _mm_srai_epi16::<8>(_mm_unpackhi_epi8(va, va));
        let b_lo = _mm_srai_epi16::<8>(_mm_unpacklo_epi8(vb, vb));
        let b_hi = _mm_srai_epi16::<8>(_mm_unpackhi_epi8(vb, vb));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(a_lo, b_lo));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(a_hi, b_hi));
        i += 16;
    }
    hsum_128(acc) + super::scalar::dot_i8(&a[i..n], &b[i..n])
}

#[target_feature(enable = "sse2")]
#[inline]
unsafe fn hsum_128(v: __m128i) -> i32 {
    let hi = _mm_shuffle_epi32::<0b01_00_11_10>(v);
    let s = _mm_add_epi32(v, hi);
    let hi = _mm_shuffle_epi32::<0b10_11_00_01>(s);
    _mm_cvtsi128_si32(_mm_add_epi32(s, hi))
}

/// `out[r] = dot(query, row r)` with SSE2 (see [`super::scalar::dot_i8_rows`]).
pub fn dot_i8_rows_sse2(query: &[i8], rows: &[i8], out: &mut [f32]) {
    // SAFETY: SSE2 is part of the x86_64 baseline.
    unsafe { rows_sse2(query, rows, out) }
}

#[target_feature(enable = "sse2")]
unsafe fn rows_sse2(query: &[i8], rows: &[i8], out: &mut [f32]) {
    let d = query.len();
    if d == 0 {
        out.iter_mut().for_each(|o| *o = 0.0);
        return;
    }
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(d)) {
        *o = dot_sse2(query, row) as f32;
    }
}

/// int8 dot product with AVX2 (only through [`AVX2`]).
#[inline]
fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    // SAFETY: reachable only through the AVX2 table, handed out after AVX2 was detected.
    unsafe { dot_avx2(a, b) }
}

/// `out[r] = dot(query, row r)` with AVX2 (only through [`AVX2`]).
fn dot_i8_rows_avx2(query: &[i8], rows: &[i8], out: &mut [f32]) {
    // SAFETY: reachable only through the AVX2 table, handed out after AVX2 was detected.
    unsafe { rows_avx2(query, rows, out) }
}

#[target_feature(enable = "avx2")]
unsafe fn rows_avx2(query: &[i8], rows: &[i8], out: &mut [f32]) {
    let d = query.len();
    if d == 0 {
        out.iter_mut().for_each(|o| *o = 0.0);
        return;
    }
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(d)) {
        *o = dot_avx2(query, row) as f32;
    }
}

/// 32 lanes per step: two 16-byte loads per operand, each sign-extended to 16 × i16
/// (`vpmovsxbw`), multiplied and pairwise added into 8 × i32 (`vpmaddwd`). Exact: a pair sum is at
/// most 2 · 128² = 32,768.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn dot_avx2(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let mut i = 0;
    while i + 32 <= n {
        let a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i).cast::<__m128i>()));
        let b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i).cast::<__m128i>()));
        let a1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i + 16).cast::<__m128i>()));
        let b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i + 16).cast::<__m128i>()));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(a0, b0));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(a1, b1));
        i += 32;
    }
    if i + 16 <= n {
        let a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i).cast::<__m128i>()));
        let b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i).cast::<__m128i>()));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(a0, b0));
        i += 16;
    }
    let acc = _mm256_add_epi32(acc0, acc1);
    let v = _mm_add_epi32(
        _mm256_castsi256_si128(acc),
        _mm256_extracti128_si256::<1>(acc),
    );
    hsum_128(v) + super::scalar::dot_i8(&a[i..n], &b[i..n])
}

/// True when some element of `block` is `>= threshold` (NaN never is); SSE2, 4 lanes at a time.
#[inline]
pub fn any_ge_sse2(block: &[f32], threshold: f32) -> bool {
    // SAFETY: SSE2 is part of the x86_64 baseline.
    unsafe { any_ge_sse(block, threshold) }
}

#[target_feature(enable = "sse2")]
#[inline]
unsafe fn any_ge_sse(block: &[f32], threshold: f32) -> bool {
    let t = _mm_set1_ps(threshold);
    let mut i = 0;
    let mut mask = 0;
    while i + 4 <= block.len() {
        // i + 4 <= len; loadu accepts unaligned addresses.
        let v = _mm_loadu_ps(block.as_ptr().add(i));
        mask |= _mm_movemask_ps(_mm_cmpge_ps(v, t));
        i += 4;
    }
    mask != 0 || super::scalar::any_ge(&block[i..], threshold)
}

/// Asymmetric-distance scores with SSE2 (see [`super::scalar::adc_rows`]): four items per step,
/// one lane each, every lane summing its table entries in the scalar order (bit-identical).
pub fn adc_rows_sse2(table: &[f32], codes: &[u8], out: &mut [f32]) {
    // SAFETY: SSE2 is part of the x86_64 baseline.
    unsafe { adc_sse2(table, codes, out) }
}

#[target_feature(enable = "sse2")]
unsafe fn adc_sse2(table: &[f32], codes: &[u8], out: &mut [f32]) {
    let m = table.len() / ADC_TABLE;
    if m == 0 {
        return super::scalar::adc_rows(table, codes, out);
    }
    let n = out.len().min(codes.len() / m);
    let (t, c) = (table.as_ptr(), codes.as_ptr());
    let mut r = 0;
    while r + 4 <= n {
        let mut acc = _mm_setzero_ps();
        for j in 0..m {
            // (r + i)·m + j < n·m ≤ codes.len(); j·256 + code < m·256 ≤ table.len().
            let e = |i: usize| *t.add(j * ADC_TABLE + usize::from(*c.add((r + i) * m + j)));
            acc = _mm_add_ps(acc, _mm_setr_ps(e(0), e(1), e(2), e(3)));
        }
        // r + 4 ≤ n ≤ out.len(); storeu accepts unaligned addresses.
        _mm_storeu_ps(out.as_mut_ptr().add(r), acc);
        r += 4;
    }
    super::scalar::adc_rows(table, &codes[r * m..], &mut out[r..n]);
}
