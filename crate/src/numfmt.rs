//! Numbers in messages: [`Num`] and [`Num32`] print a float as Rust's `{}` does (the shortest
//! decimal that reads back as the same value, never in exponent form; `NaN`, `inf`, `-inf`)
//! without core's float formatting (Grisu/Dragon and their tables: ~10 KB of gzipped wasm).
//! Every error and warning that shows a float goes through these.
//!
//! [`parse_f64`] and [`parse_f32`] read a decimal as `str::parse` does (sign, digits, `.`,
//! exponent, `inf`/`infinity`/`nan` in any case), without core's float parser and its tables, for
//! the few numbers that arrive as text (bundle metadata, privacy options).
//!
//! Exactness: for magnitudes from about 1e-22 to 1e37 the digits are found with one correctly
//! rounded multiplication or division by an exact power of ten, so the result is the shortest
//! round-trip decimal; beyond that range the last digits may differ from `{}` (still a faithful
//! approximation). Messages only: nothing parses these strings back.

use std::fmt;

/// An `f64` shown as `{}` shows it.
#[derive(Clone, Copy, PartialEq)]
pub struct Num(pub f64);

/// An `f32` shown as `{}` shows it (the shortest decimal that reads back as the same `f32`).
#[derive(Clone, Copy, PartialEq)]
pub struct Num32(pub f32);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_float(self.0, false))
    }
}

impl fmt::Display for Num32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_float(f64::from(self.0), true))
    }
}

/// 10^k, exact for k ≤ 22.
fn pow10(k: u32) -> f64 {
    let mut p = 1.0f64;
    for _ in 0..k {
        p *= 10.0;
    }
    p
}

/// A double-double: `hi + lo` with |lo| ≤ ulp(hi) / 2 (about 106 bits).
#[derive(Clone, Copy)]
struct Dd(f64, f64);

/// Veltkamp split of `a` into two halves of 26 bits.
fn split(a: f64) -> (f64, f64) {
    let c = 134_217_729.0 * a;
    let hi = c - (c - a);
    (hi, a - hi)
}

/// `a × b` exactly, as a double-double (Dekker).
fn two_prod(a: f64, b: f64) -> Dd {
    let p = a * b;
    let ((ah, al), (bh, bl)) = (split(a), split(b));
    Dd(p, ((ah * bh - p) + ah * bl + al * bh) + al * bl)
}

fn renorm(hi: f64, lo: f64) -> Dd {
    let s = hi + lo;
    Dd(s, lo - (s - hi))
}

impl Dd {
    /// × 10^k (|k| ≤ 22 per step, where 10^k is exact).
    fn scale10(self, k: i32) -> Dd {
        let mut x = self;
        let mut k = k;
        while k != 0 {
            let step = k.clamp(-22, 22);
            let d = pow10(step.unsigned_abs());
            x = if step > 0 {
                let p = two_prod(x.0, d);
                renorm(p.0, p.1 + x.1 * d)
            } else {
                let q = x.0 / d;
                let p = two_prod(q, d);
                renorm(q, (((x.0 - p.0) - p.1) + x.1) / d)
            };
            k -= step;
        }
        x
    }

    /// The nearest integer (ties up, as `{}` rounds) of a non-negative value below 2^63.
    fn round(self) -> u64 {
        // `hi` may have no fraction bits left (above 2^52): the rest of the value is in `lo`.
        let r = self.0.floor();
        (r as u64).wrapping_add(((self.0 - r) + self.1 + 0.5).floor() as i64 as u64)
    }
}

/// `n` as a double-double (exact).
fn dd_from(n: u64) -> Dd {
    let hi = n as f64;
    renorm(hi, (i128::from(n) - hi as i128) as f64)
}

/// The shortest digits that read back as `x` (as an `f32` when `single`), in plain decimal
/// notation. Not generic, and not inlined: one copy serves both types.
#[inline(never)]
fn format_float(x: f64, single: bool) -> String {
    let (max_digits, exact_ints) = if single {
        (9, 16_777_216.0)
    } else {
        (17, 9_007_199_254_740_992.0)
    };
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let a = x.abs();
    if a == 0.0 {
        return format!("{sign}0");
    }
    if a < exact_ints && a.fract() == 0.0 {
        return format!("{sign}{}", a as u64);
    }
    // Decimal exponent: 10^e ≤ a < 10^(e+1) (the estimate is corrected below).
    if !(1e-250..1e250).contains(&a) {
        // The double-double steps below could overflow: 17 digits by plain scaling, unchecked.
        let (mut m, mut e) = (a, 0);
        while m >= 10.0 {
            m /= 10.0;
            e += 1;
        }
        while m < 1.0 {
            m *= 10.0;
            e -= 1;
        }
        return plain(sign, (m * 1e16).round() as u64, e);
    }
    let binary_exp = ((a.to_bits() >> 52) as i32 - 1023).max(-1074);
    let mut e = (f64::from(binary_exp) * std::f64::consts::LOG10_2).floor() as i32;
    // Correct the estimate so that 1 ≤ a × 10^−e < 10 (compared in double-double: a is never a
    // power of ten here, but may be within an f64 rounding of one).
    for _ in 0..4 {
        let m = Dd(a, 0.0).scale10(-e);
        if m.0 > 10.0 || (m.0 == 10.0 && m.1 >= 0.0) {
            e += 1;
        } else if m.0 < 1.0 || (m.0 == 1.0 && m.1 < 0.0) {
            e -= 1;
        } else {
            break;
        }
    }
    let mut best = (0u64, e);
    for p in 1..=max_digits {
        // `p` significant digits: the integer nearest a × 10^(p − 1 − e); when it rounds up to
        // 10^p (9.99… → 10.0…) the candidate is 10^(e+1). Either way `e` stays the decade of `a`
        // for the next `p`.
        let n = Dd(a, 0.0).scale10(p - 1 - e).round();
        let limit = 10u64.pow(p as u32);
        let (n, e_p) = if n >= limit {
            (limit / 10, e + 1)
        } else {
            (n, e)
        };
        best = (n, e_p);
        let v = dd_from(n).scale10(-(p - 1 - e_p));
        if reads_back(v, a, single) {
            break;
        }
    }
    plain(sign, best.0, best.1)
}

/// Whether the decimal `v` (a double-double) reads back as `a` (> 0, finite): as an `f64`, or
/// when `single` as an `f32`. The `f32` test compares `v` with the halfway points to `a`'s
/// neighbours directly: rounding `v` to `f64` first and then to `f32` can land on the other side of
/// a halfway point (double rounding).
fn reads_back(v: Dd, a: f64, single: bool) -> bool {
    if !single {
        return v.0 + v.1 == a;
    }
    let bits = (a as f32).to_bits();
    let up = f64::from(f32::from_bits(bits + 1));
    let down = f64::from(f32::from_bits(bits - 1));
    // Exact: v is within a factor of 2 of a (Sterbenz), and the gaps are halved powers of two.
    let d = (v.0 - a) + v.1;
    let (gap, d) = if d >= 0.0 {
        ((up - a) / 2.0, d)
    } else {
        ((a - down) / 2.0, -d)
    };
    d < gap || (d == gap && bits & 1 == 0)
}

/// `digits` (the first one worth 10^exp) in plain decimal notation.
fn plain(sign: &str, digits: u64, exp: i32) -> String {
    let mut s = digits.to_string();
    // Trailing zeros of the digits are not significant (the padding below restores the integer
    // part's).
    while s.len() > 1 && s.ends_with('0') {
        s.pop();
    }
    let n = s.len() as i32;
    let body = if exp < 0 {
        format!("0.{}{s}", "0".repeat((-exp - 1) as usize))
    } else if exp + 1 >= n {
        format!("{s}{}", "0".repeat((exp + 1 - n) as usize))
    } else {
        // `get`, not `split_at`: no panicking str slice (see context.rs) in the wasm.
        let k = (exp + 1) as usize;
        format!(
            "{}.{}",
            s.get(..k).unwrap_or_default(),
            s.get(k..).unwrap_or_default()
        )
    };
    format!("{sign}{body}")
}

/// A decimal number in `s` as `s.parse::<f64>()` reads it, or `None` where that fails. Values
/// with at most 19 significant digits and magnitudes from 1e-290 to 1e290 are correctly rounded
/// (computed in double-double from an exact integer and exact powers of ten); beyond, within an
/// ulp.
pub fn parse_f64(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        Some(b'+') => (false, s.get(1..).unwrap_or_default()),
        _ => (false, s),
    };
    let sign = |x: f64| if neg { -x } else { x };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(sign(f64::INFINITY));
    }
    if body.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    let b = body.as_bytes();
    let mut i = 0;
    let (mut mantissa, mut digits, mut exp10) = (0u64, 0u32, 0i64);
    let mut any = false;
    let mut frac = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {
                any = true;
                if digits < 19 {
                    if mantissa > 0 || c != b'0' {
                        mantissa = mantissa * 10 + u64::from(c - b'0');
                        digits += u32::from(mantissa > 0);
                    }
                    if frac {
                        exp10 -= 1;
                    }
                } else if !frac {
                    // Digits past the 19th are dropped (their place value kept).
                    exp10 += 1;
                }
            }
            b'.' if !frac => frac = true,
            _ => break,
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if let Some(&(b'e' | b'E')) = b.get(i) {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e = 0i64;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            e = (e * 10 + i64::from(c - b'0')).min(1 << 40);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp10 += if eneg { -e } else { e };
    }
    if i != b.len() {
        return None;
    }
    if mantissa == 0 {
        return Some(sign(0.0));
    }
    // The value is mantissa × 10^exp10, with 10^(digits − 1) ≤ mantissa < 10^digits.
    let magnitude = exp10 + i64::from(digits) - 1;
    if magnitude > 308 {
        return Some(sign(f64::INFINITY));
    }
    if magnitude < -330 {
        return Some(sign(0.0));
    }
    let v = if magnitude > 290 {
        // Stay clear of the double-double's overflow: the last step in plain f64 (within an ulp).
        let d = dd_from(mantissa).scale10((exp10 - 20) as i32);
        (d.0 + d.1) * 1e20
    } else if magnitude < -290 {
        // Subnormal territory: the last step in plain f64 (within an ulp).
        let d = dd_from(mantissa).scale10((exp10 + 40) as i32);
        (d.0 + d.1) / 1e40
    } else {
        let d = dd_from(mantissa).scale10(exp10 as i32);
        d.0 + d.1
    };
    Some(sign(v))
}

/// A decimal number in `s` as `s.parse::<f32>()` reads it (see [`parse_f64`]; rounded once more,
/// from the double-double's `f64`, which differs from direct rounding only within 2^-53 of an
/// `f32` tie).
pub fn parse_f32(s: &str) -> Option<f32> {
    parse_f64(s).map(|x| x as f32)
}

/// A list of dimensions as `[a, b, …]` (what `{:?}` prints for a `Vec<usize>`, without bringing
/// core's `Debug` machinery for slices and integers into the wasm).
pub fn dims(v: &[usize]) -> String {
    let parts: Vec<String> = v.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prints_what_display_prints() {
        for x in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.5,
            25.5,
            -0.25,
            1e-3,
            1e-9,
            123456.789,
            1e15,
            1e16,
            1e21,
            9007199254740993.0,
            0.3,
            2.0 / 3.0,
            1.0 / 3.0,
            f64::MIN_POSITIVE,
            1e-300,
            1e300,
            86_400.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let ours = Num(x).to_string();
            if (1e-22..1e37).contains(&x.abs()) || x == 0.0 || !x.is_finite() {
                assert_eq!(ours, x.to_string(), "{x:e}");
            } else {
                // Out of the exact range: a faithful approximation.
                let back: f64 = ours.parse().unwrap();
                assert!(((back - x) / x).abs() < 1e-12, "{x:e} → {ours}");
            }
        }
        for x in [
            0.1f32,
            0.7,
            1.5,
            3.4028235e38,
            1e-7,
            16.0,
            -2.5e-3,
            f32::NAN,
        ] {
            let ours = Num32(x).to_string();
            if x.abs() < 1e37 || x.is_nan() {
                assert_eq!(ours, x.to_string(), "{x:e}");
            }
        }
    }

    #[test]
    fn parses_what_str_parse_parses() {
        for t in [
            "0",
            "-0",
            "+0",
            "1",
            "-1",
            "0.1",
            ".5",
            "5.",
            "1e5",
            "1E-3",
            "+2.5e+2",
            "00012.500",
            "86400",
            "1e-7",
            "0.30000000000000004",
            "1.7976931348623157e308",
            "2.2250738585072014e-308",
            "5e-324",
            "1e309",
            "-1e400",
            "1e-400",
            "123456789012345678901234567890",
            "0.000000000000000000000000001234",
            "inf",
            "-Infinity",
            "INF",
            "NaN",
            "nan",
            "",
            ".",
            "-",
            "+",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "1,5",
            " 1",
            "1 ",
            "0x10",
            "infinit",
            "1_000",
            "--1",
        ] {
            let want = t.parse::<f64>().ok();
            let got = parse_f64(t);
            match (got, want) {
                (Some(g), Some(w)) if w.is_nan() => assert!(g.is_nan(), "{t}"),
                // Beyond 1e290: within an ulp.
                (Some(g), Some(w)) if w.abs() > 1e290 && w.is_finite() => {
                    assert!(g.to_bits().abs_diff(w.to_bits()) <= 1, "{t}: {g} vs {w}")
                }
                (Some(g), Some(w)) => assert_eq!(g.to_bits(), w.to_bits(), "{t}: {g} vs {w}"),
                (g, w) => assert_eq!(g.is_some(), w.is_some(), "{t}: {g:?} vs {w:?}"),
            }
            assert_eq!(
                parse_f32(t)
                    .map(f32::to_bits)
                    .filter(|_| !t.to_ascii_lowercase().contains("nan")),
                t.parse::<f32>()
                    .ok()
                    .map(f32::to_bits)
                    .filter(|_| !t.to_ascii_lowercase().contains("nan")),
                "{t} as f32"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn parse_matches_str_parse(m in 0u64..10_000_000_000_000_000, e in -270i32..270, neg in any::<bool>()) {
            let t = format!("{}{m}e{e}", if neg { "-" } else { "" });
            prop_assert_eq!(parse_f64(&t).map(f64::to_bits), t.parse::<f64>().ok().map(f64::to_bits), "{}", t);
            prop_assert_eq!(parse_f32(&t).map(f32::to_bits), t.parse::<f32>().ok().map(f32::to_bits), "{}", t);
        }

        #[test]
        fn parse_reads_back_what_display_prints(bits in 0x05e0_0000_0000_0000u64..0x7a00_0000_0000_0000) {
            let x = f64::from_bits(bits);
            prop_assume!(x.is_finite() && (x == 0.0 || (1e-280..1e280).contains(&x.abs())));
            prop_assert_eq!(parse_f64(&x.to_string()).map(f64::to_bits), Some(x.to_bits()));
        }

        #[test]
        fn f64_in_range_matches_display(m in 1u64..(1 << 53), e in -70i32..120) {
            let x = m as f64 * 2f64.powi(e - 52);
            prop_assume!((1e-22..1e37).contains(&x));
            prop_assert_eq!(Num(x).to_string(), x.to_string());
            prop_assert_eq!(Num(-x).to_string(), (-x).to_string());
        }

        #[test]
        fn f32_in_range_matches_display(bits in 0x1b00_0000u32..0x7b00_0000) {
            let x = f32::from_bits(bits);
            prop_assume!(x.is_finite() && (x == 0.0 || (1e-22..1e37).contains(&x.abs())));
            prop_assert_eq!(Num32(x).to_string(), x.to_string());
        }

        #[test]
        fn decimals_in_messages_match_display(n in -1_000_000i64..1_000_000, d in 0u32..8) {
            let x = n as f64 / 10f64.powi(d as i32);
            prop_assert_eq!(Num(x).to_string(), x.to_string());
        }
    }
}
