//! A per-item f32 vector of the bundle (`item_scale`, `item_pop`), read in place when it can be.
//!
//! A bundle file stores these as little-endian F32, 4-byte aligned (the writer lays tensors out
//! by element size, largest first, and pads the header to 8 bytes). On a little-endian machine
//! whose copy of the file sits at a 4-byte-aligned address, the values are the file's own bytes:
//! keeping a decoded copy cost 4 bytes per item per vector, 8 in all (344 KB at 43k items, 8 MB
//! at a million: a tenth of an int8 bundle's size in memory). Otherwise (F16 or one-byte values,
//! an unaligned buffer, a big-endian machine, values changed by a catalog update) they are
//! decoded into memory, as before.

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

    /// The values as a vector of their own.
    pub(crate) fn into_vec(self, bytes: &[u8]) -> Vec<f32> {
        match self {
            Self::Owned(v) => v,
            Self::File(_) => self.values(bytes).to_vec(),
        }
    }

    /// Whether the values are the file's bytes (no copy).
    #[cfg(test)]
    pub(crate) fn in_place(&self) -> bool {
        matches!(self, Self::File(_))
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
        assert_eq!(column.clone().into_vec(aligned), values);

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
