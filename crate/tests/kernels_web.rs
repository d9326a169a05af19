//! The wasm `simd128` batched dot product (four rows at a time with a widened query when the
//! dimension is a multiple of 16) equals the scalar reference for every row count and remainder,
//! on random and extreme inputs, in headless Chromium.
#![cfg(target_arch = "wasm32")]

use vitrine::kernels::{dot_i8_rows, scalar};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn batched_rows_match_scalar() {
    let mut state = 0x9e37_79b9_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as i8
    };
    for d in [1usize, 8, 16, 20, 32, 48, 64, 80, 128, 256] {
        for n in 0..=13usize {
            let q: Vec<i8> = (0..d).map(|_| next()).collect();
            let rows: Vec<i8> = (0..n * d).map(|_| next()).collect();
            // One more output slot than rows: it must be left as it was.
            let (mut got, mut want) = (vec![7.0f32; n + 1], vec![7.0f32; n + 1]);
            dot_i8_rows(&q, &rows, &mut got);
            scalar::dot_i8_rows(&q, &rows, &mut want);
            assert_eq!(got, want, "random, d {d}, n {n}");
            for (x, y) in [(127i8, -128i8), (-127, -128), (127, 127), (0, -128)] {
                let (q, rows) = (vec![x; d], vec![y; n * d]);
                dot_i8_rows(&q, &rows, &mut got);
                scalar::dot_i8_rows(&q, &rows, &mut want);
                assert_eq!(got, want, "extremes {x}·{y}, d {d}, n {n}");
            }
        }
    }
}
