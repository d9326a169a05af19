//! The one correctness checker for kernel tables: every function of a [`Kernels`] table against the
//! scalar reference, on edge inputs (odd lengths, zeros, the int8 extremes, NaN, ±0, ±∞, ties) and
//! deterministic pseudo-random ones. Run over every table of [`super::available`] natively (`cargo
//! test`) and in the browser (`tests/web.rs`), so a new instruction set is checked by adding its
//! table, nothing else.

use super::scalar;
use super::select::{top_k_with, Scored};
use super::table::Kernels;

/// Vector lengths tried: around every SIMD width (16, 32) and a long one.
const LENS: [usize; 16] = [
    0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 129, 4096,
];

/// Row widths tried for the batched kernel (multiples of 16 take the four-row path in simd128).
const DIMS: [usize; 12] = [1, 3, 8, 16, 17, 20, 32, 48, 64, 65, 100, 256];

/// Deterministic xorshift32 bytes.
fn bytes(seed: u32, n: usize) -> Vec<i8> {
    let mut s = seed.max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as i8
        })
        .collect()
}

/// The best `k` of `scores` by a full sort (NaN left out): what top-k must return.
pub fn sorted_prefix(scores: &[f32], k: usize) -> Vec<Scored> {
    let mut all: Vec<Scored> = scores
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_nan())
        .map(|(i, &s)| Scored {
            index: i as u32,
            score: s,
        })
        .collect();
    all.sort_by(|a, b| b.cmp(a));
    all.truncate(k);
    all
}

/// Checks every function of `k` against the scalar table; the first disagreement is the error.
pub fn check(k: &Kernels) -> Result<(), String> {
    let isa = k.isa;
    let fail = |what: String| Err(format!("{isa}: {what}"));
    // dot_i8: extremes, random, uneven lengths.
    for n in LENS {
        for (x, y) in [(127i8, 127i8), (-128, -128), (-128, 127), (0, -128), (0, 0)] {
            let (a, b) = (vec![x; n], vec![y; n]);
            if (k.dot_i8)(&a, &b) != scalar::dot_i8(&a, &b) {
                return fail(format!("dot_i8 of {x}s and {y}s, length {n}"));
            }
        }
        for seed in 1..5u32 {
            let (a, b) = (bytes(seed, n), bytes(seed * 7919, n));
            if (k.dot_i8)(&a, &b) != scalar::dot_i8(&a, &b) {
                return fail(format!("dot_i8 random (seed {seed}), length {n}"));
            }
        }
        let (a, b) = (bytes(3, n + 5), bytes(4, n));
        if (k.dot_i8)(&a, &b) != scalar::dot_i8(&a, &b) {
            return fail(format!("dot_i8 with lengths {} and {n}", n + 5));
        }
    }
    // dot_i8_rows: random and extreme rows, several widths, every row count up to 13 (the
    // four-row paths and their remainders); the slot past the last whole row is left untouched.
    for d in DIMS {
        for rows in (0..=13).chain([37]) {
            for (q, m) in [
                (bytes(d as u32 + rows as u32, d), bytes(99, rows * d)),
                (vec![-128i8; d], vec![-128i8; rows * d]),
                (vec![127i8; d], vec![-128i8; rows * d]),
                (vec![0i8; d], vec![-128i8; rows * d]),
            ] {
                let mut want = vec![7.0f32; rows + 1];
                scalar::dot_i8_rows(&q, &m, &mut want[..rows]);
                let mut got = vec![7.0f32; rows + 1];
                (k.dot_i8_rows)(&q, &m, &mut got[..rows]);
                if got != want {
                    return fail(format!("dot_i8_rows, width {d}, {rows} rows"));
                }
            }
        }
    }
    check_gather(k)?;
    let mut out = [7.0f32; 2];
    (k.dot_i8_rows)(&[], &[], &mut out);
    if out != [0.0, 0.0] {
        return fail("dot_i8_rows with an empty query must write zeros".into());
    }
    check_adc(k)?;
    check_scale_add(k)?;
    // any_ge and top-k selection through it.
    let special = [
        0.0f32,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1.0,
        1.0,
        f32::MIN_POSITIVE,
        -1.0,
        0.5,
    ];
    let scores: Vec<f32> = (0..203)
        .map(|i| {
            special[i % special.len()]
                + if i % 3 == 0 {
                    0.0
                } else {
                    (i % 7) as f32 / 8.0
                }
        })
        .collect();
    for len in [0usize, 1, 3, 4, 5, 15, 16, 17] {
        for start in [0usize, 2, 20, 100] {
            let block = &scores[start..start + len];
            for t in [0.0f32, -0.0, 0.5, 1.0, f32::NEG_INFINITY, f32::INFINITY] {
                if (k.any_ge)(block, t) != scalar::any_ge(block, t) {
                    return fail(format!(
                        "any_ge of {len} scores from {start}, threshold {t}"
                    ));
                }
            }
        }
    }
    let ties = [0.5f32; 50];
    for (name, s) in [
        ("mixed", &scores[..]),
        ("ties", &ties[..]),
        ("NaN", &[f32::NAN; 40][..]),
        ("empty", &[][..]),
    ] {
        for n in [0usize, 1, 2, 5, 16, 17, 40, 199, 250] {
            let want = sorted_prefix(s, n);
            if top_k_with(s, n, k.any_ge) != want || (k.top_k)(s, n) != want {
                return fail(format!("top-k of the {name} scores, k {n}"));
            }
        }
    }
    Ok(())
}

/// `dot_i8_gather` of `k` against the scalar path: rows named in any order and repeated, lists
/// of every length up to 13 (the four-row path and its remainder), with all rows inside or some
/// outside the matrix (those score 0); the slot past `out` is left untouched.
fn check_gather(k: &Kernels) -> Result<(), String> {
    const ROWS: u32 = 9;
    for d in DIMS {
        let random = (
            bytes(d as u32 + 77, d),
            bytes(d as u32 * 3 + 1, ROWS as usize * d),
        );
        let extreme = (vec![-128i8; d], vec![-128i8; ROWS as usize * d]);
        for len in (0..=13u32).chain([37]) {
            let inside: Vec<u32> = (0..len).map(|j| (j * 7 + 3) % ROWS).collect();
            let some_outside: Vec<u32> = (0..len)
                .map(|j| match j % 5 {
                    3 => ROWS + j,
                    4 => u32::MAX - j,
                    _ => (j * 7) % ROWS,
                })
                .collect();
            for idx in [&inside, &some_outside] {
                for (q, m) in [&random, &extreme] {
                    let n = len as usize;
                    let mut want = vec![7.0f32; n + 1];
                    scalar::dot_i8_gather(q, m, idx, &mut want[..n]);
                    let mut got = vec![7.0f32; n + 1];
                    (k.dot_i8_gather)(q, m, idx, &mut got[..n]);
                    if got != want {
                        return Err(format!("{}: dot_i8_gather, width {d}, rows {idx:?}", k.isa));
                    }
                }
            }
        }
    }
    Ok(())
}

/// `scale_add` and the fused `dot_i8_rows_scale_add` of `k` against the scalar path, bit for bit (NaN matching any NaN: wasm does not
/// fix NaN payloads): every combination of the two optional parts, lengths around the 4-lane step,
/// a shorter factor slice (the entries past it stay untouched), and −0.0, infinities, NaN and
/// values whose products round.
fn check_scale_add(k: &Kernels) -> Result<(), String> {
    let same = |a: &[f32], b: &[f32]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    };
    let special = [
        0.0f32,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1.0e-38,
        3.0e38,
    ];
    let values = |seed: u32, n: usize| -> Vec<f32> {
        bytes(seed, n)
            .iter()
            .enumerate()
            .map(|(i, &b)| match i % 13 {
                0..=6 => special[i % 13],
                _ => f32::from(b) / 7.0 + 0.1,
            })
            .collect()
    };
    for n in [0usize, 1, 3, 4, 5, 8, 13, 37] {
        let (out0, mul, add) = (
            values(n as u32 + 1, n),
            values(2 * n as u32 + 3, n),
            values(5, n),
        );
        for (scale, plus) in [
            (Some((&mul[..], 0.37f32)), Some((&add[..], -1.5f32))),
            (Some((&mul[..], -0.0)), None),
            (None, Some((&add[..], 0.5))),
            (None, None),
            (Some((&mul[..n / 2], 3.0)), Some((&add[..], 2.0))),
        ] {
            let mut want = out0.clone();
            scalar::scale_add(&mut want, scale, plus);
            let mut got = out0.clone();
            (k.scale_add)(&mut got, scale, plus);
            if !same(&got, &want) {
                return Err(format!("{}: scale_add of {n} entries", k.isa));
            }
        }
    }
    // The fused dot + pass against the scalar dot then the scalar pass: every row count around
    // the four-row step, widths on and off the 16-byte step, factor slices shorter than the rows.
    for d in DIMS {
        for rows in (0..=13).chain([37]) {
            let (q, m) = (bytes(d as u32 + 11, d), bytes(rows as u32 + 17, rows * d));
            let (mul, add) = (values(rows as u32 + 2, rows), values(rows as u32 + 9, rows));
            for (scale, plus) in [
                (Some((&mul[..], 0.37f32)), Some((&add[..], -1.5f32))),
                (Some((&mul[..], 2.0)), None),
                (None, Some((&add[..], 0.5))),
                (None, None),
                (
                    Some((&mul[..rows / 2], 3.0)),
                    Some((&add[..rows.saturating_sub(5)], 2.0)),
                ),
            ] {
                let mut want = vec![7.0f32; rows + 1];
                scalar::dot_i8_rows(&q, &m, &mut want[..rows]);
                scalar::scale_add(&mut want[..rows], scale, plus);
                let mut got = vec![7.0f32; rows + 1];
                (k.dot_i8_rows_scale_add)(&q, &m, &mut got[..rows], scale, plus);
                if !same(&got, &want) {
                    return Err(format!(
                        "{}: dot_i8_rows_scale_add, width {d}, {rows} rows",
                        k.isa
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Sub-space counts tried for the asymmetric-distance kernel (around the 4- and 8-item steps).
const ADC_SUBSPACES: [usize; 9] = [1, 2, 3, 4, 7, 8, 16, 17, 32];

/// `adc_rows` of `k` against the scalar path, compared bit for bit: random tables (with −0.0, the
/// extremes and tiny values mixed in), every code value, 0 to 13 and 37 rows, codes longer than
/// the rows read (the slot past the last row stays untouched).
fn check_adc(k: &Kernels) -> Result<(), String> {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for m in ADC_SUBSPACES {
        let table: Vec<f32> = bytes(m as u32 * 31, m * scalar::ADC_TABLE)
            .iter()
            .enumerate()
            .map(|(i, &b)| match i % 97 {
                0 => -0.0,
                1 => f32::MAX / 64.0,
                2 => -f32::MIN_POSITIVE,
                _ => f32::from(b) / 37.0,
            })
            .collect();
        for rows in (0..=13).chain([37]) {
            let codes: Vec<u8> = bytes(rows as u32 + 5, rows * m + 3)
                .iter()
                .enumerate()
                .map(|(i, &b)| if i % 11 == 0 { 255 } else { b as u8 })
                .collect();
            let mut want = vec![7.0f32; rows + 1];
            scalar::adc_rows(&table, &codes, &mut want[..rows]);
            let mut got = vec![7.0f32; rows + 1];
            (k.adc_rows)(&table, &codes, &mut got[..rows]);
            if bits(&got) != bits(&want) {
                return Err(format!("{}: adc_rows, {m} sub-spaces, {rows} rows", k.isa));
            }
        }
    }
    let mut out = [7.0f32; 2];
    (k.adc_rows)(&[], &[1, 2], &mut out);
    if out != [0.0, 0.0] {
        return Err(format!(
            "{}: adc_rows with an empty table must write zeros",
            k.isa
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_scalar_gather_is_one_dot_per_listed_row_and_zero_outside() {
        // Rows of 2: [1, 2], [3, 4], [5, 6]; the 3 bytes after the last whole row are no row.
        let rows = [1i8, 2, 3, 4, 5, 6, 7];
        let mut out = [9.0f32; 5];
        scalar::dot_i8_gather(&[1, -1], &rows, &[2, 0, 3, 2], &mut out);
        assert_eq!(out, [-1.0, -1.0, 0.0, -1.0, 9.0]);
        scalar::dot_i8_gather(&[], &rows, &[0, 1], &mut out[..2]);
        assert_eq!(out[..2], [0.0, 0.0]);
    }

    use super::*;
    use crate::{available, TopK};
    use proptest::prelude::*;

    #[test]
    fn every_available_table_agrees_with_scalar() {
        let tables = available();
        assert_eq!(tables[0].isa, "scalar");
        #[cfg(target_arch = "x86_64")]
        assert!(tables.iter().any(|t| t.isa == "sse2"));
        for k in tables {
            check(k).unwrap();
        }
        assert_eq!(scalar::dot_i8(&[-128; 64], &[-128; 64]), 16384 * 64);
    }

    /// A table that is wrong by one on one input must fail the checker (it can see what it looks for).
    #[test]
    fn a_broken_table_fails() {
        fn off_by_one(a: &[i8], b: &[i8]) -> i32 {
            let d = scalar::dot_i8(a, b);
            if a.len() == 17 {
                d + 1
            } else {
                d
            }
        }
        fn never(_: &[f32], _: f32) -> bool {
            false
        }
        let broken = Kernels {
            isa: "broken",
            dot_i8: off_by_one,
            ..crate::SCALAR
        };
        assert!(check(&broken).unwrap_err().contains("length 17"));
        let broken = Kernels {
            isa: "broken",
            any_ge: never,
            ..crate::SCALAR
        };
        assert!(check(&broken).is_err());
        fn adc_reversed(table: &[f32], codes: &[u8], out: &mut [f32]) {
            // The same sums in another order: equal in exact arithmetic, not in f32.
            let m = table.len() / scalar::ADC_TABLE;
            for (o, row) in out.iter_mut().zip(codes.chunks_exact(m.max(1))) {
                *o = (0..m)
                    .rev()
                    .map(|j| table[j * 256 + usize::from(row[j])])
                    .fold(0.0, |a, b| a + b);
            }
        }
        let broken = Kernels {
            isa: "broken",
            adc_rows: adc_reversed,
            ..crate::SCALAR
        };
        assert!(check(&broken).unwrap_err().contains("adc_rows"));
        fn gather_clamped(query: &[i8], rows: &[i8], idx: &[u32], out: &mut [f32]) {
            // A row past the matrix read as its last row instead of scoring 0.
            let last = (rows.len() / query.len().max(1)).saturating_sub(1) as u32;
            let clamped: Vec<u32> = idx.iter().map(|&i| i.min(last)).collect();
            scalar::dot_i8_gather(query, rows, &clamped, out);
        }
        let broken = Kernels {
            isa: "broken",
            dot_i8_gather: gather_clamped,
            ..crate::SCALAR
        };
        assert!(check(&broken).unwrap_err().contains("dot_i8_gather"));
    }

    proptest! {
        #[test]
        fn dot_matches_scalar(pairs in proptest::collection::vec((any::<i8>(), any::<i8>()), 0..300)) {
            let (a, b): (Vec<i8>, Vec<i8>) = pairs.into_iter().unzip();
            for k in available() {
                prop_assert_eq!((k.dot_i8)(&a, &b), scalar::dot_i8(&a, &b), "{}", k.isa);
            }
        }

        #[test]
        fn topk_equals_sort_prefix(scores in proptest::collection::vec(-1000i32..1000, 0..200), k in 0usize..30) {
            let mut top = TopK::new(k);
            for (i, &s) in scores.iter().enumerate() {
                top.push(Scored { index: i as u32, score: s as f32 });
            }
            let scores: Vec<f32> = scores.iter().map(|&s| s as f32).collect();
            prop_assert_eq!(top.into_sorted(), sorted_prefix(&scores, k));
        }

        #[test]
        fn top_k_matches_sort_for_every_table(
            scores in proptest::collection::vec(prop_oneof![
                (-50i32..50).prop_map(|s| s as f32 / 4.0),
                Just(f32::NAN), Just(-0.0f32), Just(f32::INFINITY), Just(f32::NEG_INFINITY),
            ], 0..400),
            k in 0usize..40,
        ) {
            let want = sorted_prefix(&scores, k);
            prop_assert_eq!(&crate::top_k(&scores, k), &want);
            for t in available() {
                prop_assert_eq!(&top_k_with(&scores, k, t.any_ge), &want);
                prop_assert_eq!(&(t.top_k)(&scores, k), &want);
            }
        }
    }

    #[test]
    fn topk_skips_nan() {
        let mut top = TopK::new(3);
        top.push(Scored {
            index: 0,
            score: f32::NAN,
        });
        top.push(Scored {
            index: 1,
            score: 1.0,
        });
        assert_eq!(
            top.into_sorted(),
            vec![Scored {
                index: 1,
                score: 1.0
            }]
        );
        // Only whole rows are written.
        let mut out = [7.0f32; 3];
        crate::dot_i8_rows(&[1, 1], &[1, 1, 2, 2, 3], &mut out);
        assert_eq!(out, [2.0, 4.0, 7.0]);
    }
}
