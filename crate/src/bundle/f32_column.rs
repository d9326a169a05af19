//! A per-item f32 vector of the bundle (`item_scale`, `item_pop`), read in place when it can be.
//!
//! A bundle file stores these as little-endian F32, 4-byte aligned (the writer lays tensors out
//! by element size, largest first, and pads the header to 8 bytes). On a little-endian machine
//! whose copy of the file sits at a 4-byte-aligned address, the values are the file's own bytes:
//! keeping a decoded copy cost 4 bytes per item per vector, 8 in all (344 KB at 43k items, 8 MB
//! at a million: a tenth of an int8 bundle's size in memory). Otherwise (F16 or one-byte values,
//! an unaligned buffer, a big-endian machine, values changed by a catalog update) they are
//! decoded into memory, as before. A compact bundle's one-byte popularity ([`LogU8`]) is
//! decoded only when read.

use std::borrow::Cow;
use std::ops::Range;

use safetensors::Dtype;

use super::container::Tensor;
use super::decode::{check_values, floats, Valid};
use crate::error::BundleError;

/// Per-item f32 values: a byte range of the bundle's bytes, or decoded ones.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum F32Column {
    /// `bytes[range]` holds the values (checked when read: little-endian F32, aligned).
    File(Range<usize>),
    /// Decoded or changed values.
    Owned(Vec<f32>),
}

impl Default for F32Column {
    fn default() -> Self {
        Self::Owned(Vec::new())
    }
}

impl F32Column {
    /// Reads tensor `t` (F32 or F16, `n` values, each `valid`): in place when it is F32 at an
    /// aligned address on a little-endian machine, else decoded. `t.range` must index `bytes`,
    /// the buffer the bundle keeps (and never moves: a `Vec`'s heap block stays where it is).
    pub(crate) fn read(t: &Tensor<'_>, n: usize, valid: Valid) -> Result<Self, BundleError> {
        if cfg!(target_endian = "little") && t.dtype == Dtype::F32 && t.shape == [n] {
            if let Ok(values) = bytemuck::try_cast_slice::<u8, f32>(t.data) {
                check_values(t, valid, values.iter().copied())?;
                return Ok(Self::File(t.byte_range()));
            }
        }
        floats(t, &[Dtype::F32, Dtype::F16], &[n], valid).map(Self::Owned)
    }

    /// The values; `bytes` is the bundle's buffer the column was read from.
    #[inline]
    pub(crate) fn values<'a>(&'a self, bytes: &'a [u8]) -> &'a [f32] {
        match self {
            Self::Owned(v) => v,
            // Aligned and in range when read, and the buffer never moves or changes.
            Self::File(r) => bytes
                .get(r.clone())
                .and_then(|b| bytemuck::try_cast_slice(b).ok())
                .unwrap_or_default(),
        }
    }

    /// Whether the values are the file's bytes (no copy).
    #[cfg(test)]
    pub(crate) fn in_place(&self) -> bool {
        matches!(self, Self::File(_))
    }
}

/// Per-item values of a compact bundle stored in one byte each, log-quantized (`item_pop`):
/// `value = exp(q / 255 · L) − 1` with `L = ln(1 + max value)`. Kept as the file's bytes and
/// decoded when asked (4 bytes per item not held: only the catalog tools and catalog updates read
/// popularity; the engine ranks with the prior).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogU8 {
    /// `bytes[range]` holds one byte per item.
    pub range: Range<usize>,
    /// `L`, finite, in `[0, 88]` (checked when read: `exp(88) − 1` is a finite f32).
    pub log1p_max: f32,
}

impl LogU8 {
    /// One value (f64 `exp`, already in the wasm for the privacy mechanisms, rather than f32
    /// `exp_m1`).
    #[inline]
    pub(crate) fn value(q: u8, log1p_max: f32) -> f32 {
        ((f64::from(q) / 255.0 * f64::from(log1p_max)).exp() - 1.0).max(0.0) as f32
    }

    fn decode(&self, bytes: &[u8]) -> Vec<f32> {
        let l = self.log1p_max;
        let data = bytes.get(self.range.clone()).unwrap_or_default();
        data.iter().map(|&q| Self::value(q, l)).collect()
    }
}

/// Per-item values as the bundle holds them: f32 ([`F32Column`]) or one byte each ([`LogU8`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    Floats(F32Column),
    LogU8(LogU8),
}

impl Values {
    /// The values: borrowed when f32, decoded when one byte each.
    pub(crate) fn get<'a>(&'a self, bytes: &'a [u8]) -> Cow<'a, [f32]> {
        match self {
            Self::Floats(c) => Cow::Borrowed(c.values(bytes)),
            Self::LogU8(c) => Cow::Owned(c.decode(bytes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tensor over `bytes[at..at + 4 n]` (F32) or `2 n` (F16).
    fn tensor<'a>(bytes: &'a [u8], at: usize, dtype: Dtype, shape: &'a [usize]) -> Tensor<'a> {
        let len = shape[0] * if dtype == Dtype::F16 { 2 } else { 4 };
        Tensor {
            name: "item_pop",
            dtype,
            shape,
            data: &bytes[at..at + len],
            range: (at, at + len),
        }
    }

    #[test]
    fn aligned_f32_is_read_in_place_and_anything_else_is_decoded() {
        let values = [0.5f32, 3.0, 0.0, 1e6];
        // A `Vec<u32>`'s buffer is 4-byte aligned; the values at byte 4.
        let mut words = vec![0u32; 6];
        let aligned: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
        for (i, v) in values.iter().enumerate() {
            aligned[4 + 4 * i..8 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        let aligned: &[u8] = aligned;
        let shape = [4];
        let column = F32Column::read(
            &tensor(aligned, 4, Dtype::F32, &shape),
            4,
            Valid::NonNegative,
        )
        .unwrap();
        assert_eq!(column, F32Column::File(4..20));
        assert!(column.in_place());
        assert_eq!(column.values(aligned), values);

        // One byte further on (an address ≡ 1 mod 4), the same values are decoded.
        let mut words = vec![0u32; 6];
        let unaligned: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
        unaligned[5..21].copy_from_slice(&aligned[4..20]);
        let column = F32Column::read(
            &tensor(unaligned, 5, Dtype::F32, &shape),
            4,
            Valid::NonNegative,
        )
        .unwrap();
        assert!(!column.in_place());
        assert_eq!(column.values(unaligned), values);

        let halves: Vec<u8> = values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v.min(6e4)).to_le_bytes())
            .collect();
        let column = F32Column::read(
            &tensor(&halves, 0, Dtype::F16, &shape),
            4,
            Valid::NonNegative,
        )
        .unwrap();
        assert!(!column.in_place());
        assert_eq!(column.values(&halves), [0.5, 3.0, 0.0, 60_000.0]);
    }

    #[test]
    fn one_byte_values_are_decoded_when_read() {
        let bytes = [7u8, 0, 255, 128, 9];
        let column = Values::LogU8(LogU8 {
            range: 1..4,
            log1p_max: 2.0,
        });
        let values = column.get(&bytes);
        assert!(matches!(values, Cow::Owned(_)));
        assert_eq!(values[0], 0.0);
        assert!((values[1] - (2.0f32.exp() - 1.0)).abs() < 1e-5);
        assert_eq!(values[2], LogU8::value(128, 2.0));
        let floats = Values::Floats(F32Column::Owned(vec![1.0, 2.0]));
        assert!(matches!(floats.get(&bytes), Cow::Borrowed([1.0, 2.0])));
    }

    #[test]
    fn a_bad_value_is_refused_read_in_place_or_not() {
        let words: Vec<f32> = vec![1.0, -2.0, f32::NAN];
        let bytes: &[u8] = bytemuck::cast_slice(&words);
        let shape = [3];
        let err = F32Column::read(&tensor(bytes, 0, Dtype::F32, &shape), 3, Valid::NonNegative)
            .unwrap_err();
        assert!(matches!(err, BundleError::Value { index: 1, .. }), "{err}");
        let err =
            F32Column::read(&tensor(bytes, 0, Dtype::F32, &shape), 3, Valid::Finite).unwrap_err();
        assert!(matches!(err, BundleError::Value { index: 2, .. }), "{err}");
        // The wrong count is not read in place (the reader checks shapes before).
        let column = F32Column::read(&tensor(bytes, 0, Dtype::F32, &[1]), 3, Valid::NonNegative);
        assert!(column.is_err());
    }
}
