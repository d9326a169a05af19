//! Decoding helpers shared by the bundle reader and the catalog delta reader: dtype and shape
//! checks, float tensors with a validity rule, `\n`-joined name lists.

use safetensors::Dtype;

use super::container::Tensor;
use crate::error::BundleError;
use crate::numfmt::Num32;

fn dtype_list(dtypes: &[Dtype]) -> String {
    let mut out = String::new();
    for (i, d) in dtypes.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&super::dtype::name(*d));
    }
    out
}

pub(crate) fn expect_dtype(t: &Tensor<'_>, allowed: &[Dtype]) -> Result<(), BundleError> {
    if allowed.contains(&t.dtype) {
        Ok(())
    } else {
        Err(BundleError::Dtype {
            name: t.name.into(),
            expected: dtype_list(allowed),
            found: super::dtype::name(t.dtype),
        })
    }
}

pub(crate) fn shape_error(t: &Tensor<'_>, expected: String) -> BundleError {
    BundleError::Shape {
        name: t.name.into(),
        expected,
        found: t.shape.to_vec(),
    }
}

pub(crate) fn le<const N: usize>(chunk: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    for (d, s) in a.iter_mut().zip(chunk) {
        *d = *s;
    }
    a
}

/// What a float value must be, besides finite (an enum rather than closures: one copy of the
/// decoding loop in the wasm binary).
#[derive(Clone, Copy)]
pub(crate) enum Valid {
    Finite,
    NonNegative,
    PriceOrUnknown,
}

impl Valid {
    fn ok(self, x: f32) -> bool {
        x.is_finite()
            && match self {
                Valid::Finite => true,
                Valid::NonNegative => x >= 0.0,
                Valid::PriceOrUnknown => x >= 0.0 || x == -1.0,
            }
    }

    fn what(self) -> &'static str {
        match self {
            Valid::Finite => "finite",
            Valid::NonNegative => "finite and ≥ 0",
            Valid::PriceOrUnknown => "a finite price ≥ 0, or −1 for unknown",
        }
    }
}

/// Decodes a float tensor of exactly `shape` to f32, checking every value is `valid`.
pub(crate) fn floats(
    t: &Tensor<'_>,
    allowed: &[Dtype],
    shape: &[usize],
    valid: Valid,
) -> Result<Vec<f32>, BundleError> {
    expect_dtype(t, allowed)?;
    if t.shape != shape {
        return Err(shape_error(t, crate::numfmt::dims(shape)));
    }
    let values: Vec<f32> = match t.dtype {
        Dtype::F16 => t
            .data
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes(le(c)).to_f32())
            .collect(),
        _ => t
            .data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(le(c)))
            .collect(),
    };
    check_values(t, valid, values.iter().copied())?;
    Ok(values)
}

/// Every value of tensor `t` (in order) is `valid`, or the error naming the first that is not.
pub(crate) fn check_values(
    t: &Tensor<'_>,
    valid: Valid,
    values: impl Iterator<Item = f32>,
) -> Result<(), BundleError> {
    for (i, x) in values.enumerate() {
        if !valid.ok(x) {
            return Err(BundleError::Value {
                name: t.name.into(),
                index: i,
                why: format!("{} is not {}", Num32(x), valid.what()),
            });
        }
    }
    Ok(())
}

/// A `\n`-joined UTF-8 list from a 1-D U8 tensor. `count` is the number of entries if known;
/// otherwise at most `limit` are accepted. An empty tensor is an empty list when `count` is not
/// known. Entries must be non-empty.
pub(crate) fn names(
    t: &Tensor<'_>,
    count: Option<usize>,
    limit: usize,
) -> Result<Vec<String>, BundleError> {
    expect_dtype(t, &[Dtype::U8])?;
    if t.shape.len() != 1 {
        return Err(shape_error(t, "[bytes]".into()));
    }
    let text = std::str::from_utf8(t.data).map_err(|e| BundleError::Value {
        name: t.name.into(),
        index: e.valid_up_to(),
        why: "not UTF-8".into(),
    })?;
    if text.is_empty() && count.is_none() {
        return Ok(Vec::new());
    }
    // Count before allocating anything per entry.
    let found = text.bytes().filter(|&b| b == b'\n').count() + 1;
    match count {
        Some(n) if found != n => {
            return Err(BundleError::Value {
                name: t.name.into(),
                index: 0,
                why: format!("{found} entries for {n} rows"),
            })
        }
        None if found > limit => {
            return Err(BundleError::TooLarge {
                what: format!("number of entries in '{}'", t.name),
                found: found as u64,
                limit: limit as u64,
            })
        }
        _ => {}
    }
    let list: Vec<String> = text.split('\n').map(str::to_owned).collect();
    if let Some(i) = list.iter().position(String::is_empty) {
        return Err(BundleError::Value {
            name: t.name.into(),
            index: i,
            why: "empty entry".into(),
        });
    }
    Ok(list)
}
