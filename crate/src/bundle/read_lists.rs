//! Sparse per-item neighbour lists in CSR form, read and validated: the co-occurrence lists
//! (`nbr_*`, for item-to-item and the session's neighbour term) and the co-purchase lists
//! (`cop_*`, for frequently-bought-together). One layout, one reader, one iterator.

use safetensors::Dtype;

use super::container::Container;
use super::decode::{expect_dtype, le, shape_error};
use super::metadata::{metadata_f32, Metadata};
use super::tables::{NeighbourKind, NeighbourLists};
use crate::error::BundleError;

/// Reads one kind of lists: all three tensors and the scale key, or none of them.
pub(super) fn read_lists(
    c: &Container<'_>,
    metadata: &Metadata,
    n: usize,
    kind: NeighbourKind,
) -> Result<Option<NeighbourLists>, BundleError> {
    let [offsets_name, items_name, weights_name] = kind.tensors();
    let (offsets_t, items_t, weights_t) = match (
        c.get(offsets_name)?,
        c.get(items_name)?,
        c.get(weights_name)?,
    ) {
        (None, None, None) => return Ok(None),
        (Some(o), Some(i), Some(w)) => (o, i, w),
        (None, _, _) => return Err(BundleError::MissingTensor(offsets_name)),
        (_, None, _) => return Err(BundleError::MissingTensor(items_name)),
        (_, _, None) => return Err(BundleError::MissingTensor(weights_name)),
    };
    let scale = metadata_f32(
        metadata,
        kind.scale_key(),
        |x| x > 0.0,
        "expected a finite number > 0",
    )?
    .ok_or(BundleError::MissingMetadata(kind.scale_key()))?;
    expect_dtype(&offsets_t, &[Dtype::U32])?;
    if offsets_t.shape != [n + 1] {
        return Err(shape_error(&offsets_t, format!("[{}] (items + 1)", n + 1)));
    }
    expect_dtype(&items_t, &[Dtype::U16, Dtype::U32])?;
    let nnz = match *items_t.shape {
        [nnz] => nnz,
        _ => return Err(shape_error(&items_t, "[nnz]".into())),
    };
    expect_dtype(&weights_t, &[Dtype::U8])?;
    if weights_t.shape != [nnz] {
        return Err(shape_error(
            &weights_t,
            format!("[{nnz}] (as {items_name})"),
        ));
    }
    let offsets: Vec<u32> = offsets_t
        .data
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(le(b)))
        .collect();
    let bad_offset = |index: usize, why: String| BundleError::Value {
        name: offsets_name.into(),
        index,
        why,
    };
    if offsets.first() != Some(&0) {
        return Err(bad_offset(0, "the first offset must be 0".into()));
    }
    if let Some(i) = offsets.windows(2).position(|w| w.first() > w.get(1)) {
        return Err(bad_offset(i + 1, "offsets must not decrease".into()));
    }
    if offsets.last().map(|&x| x as usize) != Some(nnz) {
        return Err(bad_offset(
            n,
            format!("the last offset must equal nnz = {nnz}"),
        ));
    }
    let item_width = if items_t.dtype == Dtype::U16 { 2 } else { 4 };
    let item_at = |k: usize| -> u32 {
        let b = items_t
            .data
            .get(k * item_width..(k + 1) * item_width)
            .unwrap_or(&[]);
        if item_width == 2 {
            u32::from(u16::from_le_bytes(le(b)))
        } else {
            u32::from_le_bytes(le(b))
        }
    };
    for (row, w) in offsets.windows(2).enumerate() {
        let (s, e) = match *w {
            [s, e] => (s as usize, e as usize),
            _ => continue,
        };
        for k in s..e {
            let item = item_at(k) as usize;
            if item >= n || item == row {
                return Err(BundleError::Value {
                    name: items_name.into(),
                    index: k,
                    why: if item == row {
                        format!("row {row} lists itself as a neighbour")
                    } else {
                        format!("{item} is not an item row (< {n})")
                    },
                });
            }
        }
    }
    Ok(Some(NeighbourLists {
        offsets,
        items: items_t.byte_range(),
        item_width,
        weights: weights_t.byte_range(),
        scale,
    }))
}
