//! Tensors the writer lays out, and the optional parts added with format version 2 (neighbour
//! lists of both kinds, availability, trending counts) plus the native tools' free tensors.

use std::borrow::Cow;
use std::collections::BTreeMap;

use safetensors::tensor::View;
use safetensors::Dtype;

use super::format::KNOWN_TENSORS;
use super::tables::NeighbourKind;
use crate::error::BundleError;

pub(super) struct Raw {
    pub(super) name: Cow<'static, str>,
    pub(super) dtype: Dtype,
    pub(super) shape: Vec<usize>,
    pub(super) data: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

pub(super) fn f32_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

pub(super) fn shape_err(name: &str, expected: String, found: Vec<usize>) -> BundleError {
    BundleError::Shape {
        name: name.into(),
        expected,
        found,
    }
}

pub(super) fn check_finite(name: &str, values: &[f32]) -> Result<(), BundleError> {
    match values.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(BundleError::Value {
            name: name.into(),
            index: i,
            why: "not finite".into(),
        }),
        None => Ok(()),
    }
}

/// Writes one kind of neighbour lists (CSR; weights quantized to u8 with one scale, the largest
/// weight / 255, recorded under the kind's scale key).
pub(super) fn write_lists(
    kind: NeighbourKind,
    lists: Option<&Vec<Vec<(u32, f32)>>>,
    n: usize,
    tensors: &mut Vec<Raw>,
    meta: &mut BTreeMap<String, String>,
) -> Result<(), BundleError> {
    let Some(lists) = lists else {
        return Ok(());
    };
    let [offsets_name, items_name, weights_name] = kind.tensors();
    if lists.len() != n {
        return Err(shape_err(
            offsets_name,
            format!("one neighbour list per item ({n})"),
            vec![lists.len()],
        ));
    }
    let nnz: usize = lists.iter().map(Vec::len).sum();
    if nnz > u32::MAX as usize {
        return Err(shape_err(
            items_name,
            "at most 2^32 − 1 entries".into(),
            vec![nnz],
        ));
    }
    let mut max_w = 0.0f32;
    let mut k = 0usize;
    for (row, list) in lists.iter().enumerate() {
        for &(item, w) in list {
            if item as usize >= n || item as usize == row || !w.is_finite() || w < 0.0 {
                return Err(BundleError::Value {
                    name: items_name.into(),
                    index: k,
                    why: format!(
                        "row {row}: neighbour ({item}, {w}) must be another item < {n} with a finite weight ≥ 0"
                    ),
                });
            }
            max_w = max_w.max(w);
            k += 1;
        }
    }
    let scale = if max_w > 0.0 { max_w / 255.0 } else { 1.0 };
    let wide = n > usize::from(u16::MAX) + 1;
    let mut offsets = Vec::with_capacity(4 * (n + 1));
    let mut items = Vec::with_capacity(nnz * if wide { 4 } else { 2 });
    let mut weights = Vec::with_capacity(nnz);
    let mut at = 0u32;
    offsets.extend_from_slice(&at.to_le_bytes());
    for list in lists {
        for &(item, w) in list {
            if wide {
                items.extend_from_slice(&item.to_le_bytes());
            } else {
                items.extend_from_slice(&(item as u16).to_le_bytes());
            }
            weights.push((w / scale).round().clamp(0.0, 255.0) as u8);
        }
        at += list.len() as u32;
        offsets.extend_from_slice(&at.to_le_bytes());
    }
    meta.insert(kind.scale_key().into(), format!("{scale:e}"));
    tensors.push(Raw {
        name: offsets_name.into(),
        dtype: Dtype::U32,
        shape: vec![n + 1],
        data: offsets,
    });
    tensors.push(Raw {
        name: items_name.into(),
        dtype: if wide { Dtype::U32 } else { Dtype::U16 },
        shape: vec![nnz],
        data: items,
    });
    tensors.push(Raw {
        name: weights_name.into(),
        dtype: Dtype::U8,
        shape: vec![nnz],
        data: weights,
    });
    Ok(())
}

/// `item_avail`: U8 `[n]`, 1 = may be recommended.
pub(super) fn write_avail(
    avail: Option<&Vec<bool>>,
    n: usize,
    tensors: &mut Vec<Raw>,
) -> Result<(), BundleError> {
    let Some(avail) = avail else {
        return Ok(());
    };
    if avail.len() != n {
        return Err(shape_err("item_avail", format!("[{n}]"), vec![avail.len()]));
    }
    tensors.push(Raw {
        name: "item_avail".into(),
        dtype: Dtype::U8,
        shape: vec![n],
        data: avail.iter().map(|&a| u8::from(a)).collect(),
    });
    Ok(())
}

/// `item_trend`: F32 `[n]`, recency-weighted counts, finite and ≥ 0.
pub(super) fn write_trend(
    trend: Option<&Vec<f32>>,
    n: usize,
    tensors: &mut Vec<Raw>,
) -> Result<(), BundleError> {
    let Some(trend) = trend else {
        return Ok(());
    };
    if trend.len() != n {
        return Err(shape_err("item_trend", format!("[{n}]"), vec![trend.len()]));
    }
    if let Some(i) = trend.iter().position(|x| !x.is_finite() || *x < 0.0) {
        return Err(BundleError::Value {
            name: "item_trend".into(),
            index: i,
            why: "a trending count must be finite and ≥ 0".into(),
        });
    }
    tensors.push(Raw {
        name: "item_trend".into(),
        dtype: Dtype::F32,
        shape: vec![n],
        data: f32_bytes(trend.iter().copied()),
    });
    Ok(())
}

/// The dtype of an [`ExtraTensor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraDtype {
    U8,
    I8,
    F32,
}

/// A tensor the engine does not read but native tools do (the catalog records, the content
/// tower): stored as given, covered by the digest, skipped by the engine's reader.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraTensor {
    /// Not one of the names the engine reads ([`KNOWN_TENSORS`]).
    pub name: String,
    pub dtype: ExtraDtype,
    pub shape: Vec<usize>,
    /// Little-endian, row-major; `dtype size × product(shape)` bytes.
    pub data: Vec<u8>,
}

pub(super) fn write_extra(
    extra: &[ExtraTensor],
    tensors: &mut Vec<Raw>,
) -> Result<(), BundleError> {
    for t in extra {
        if KNOWN_TENSORS.contains(&t.name.as_str())
            || t.name.is_empty()
            || t.name.starts_with("__")
            || tensors.iter().any(|r| r.name == t.name)
        {
            return Err(BundleError::Container(format!(
                "extra tensor '{}' is empty, reserved or written twice",
                t.name
            )));
        }
        let (dtype, size) = match t.dtype {
            ExtraDtype::U8 => (Dtype::U8, 1),
            ExtraDtype::I8 => (Dtype::I8, 1),
            ExtraDtype::F32 => (Dtype::F32, 4),
        };
        let elements = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if elements.and_then(|e| e.checked_mul(size)) != Some(t.data.len()) {
            return Err(shape_err(
                &t.name,
                format!("{} bytes of data", t.data.len()),
                t.shape.clone(),
            ));
        }
        tensors.push(Raw {
            name: t.name.clone().into(),
            dtype,
            shape: t.shape.clone(),
            data: t.data.clone(),
        });
    }
    Ok(())
}
