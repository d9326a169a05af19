//! The writer's compact parts (format version 3): product-quantization codes and codebooks
//! instead of int8 rows, coded ids, and popularity and trending counts log-quantized to one byte.

use std::collections::BTreeMap;

use safetensors::Dtype;

use super::id_code;
use super::pq::{Pq, MAX_CENTROIDS};
use super::write_parts::{check_finite, shape_err, Raw};
use crate::error::BundleError;

/// Product-quantization codebooks for a compact bundle: `subspaces` sub-spaces (sub-space `j`
/// holds dimensions `⌊j·dim/m⌋ .. ⌊(j+1)·dim/m⌋`), `centroids` centroids each (written as F16;
/// items are encoded to the nearest centroid of the F16 values the reader will see).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompactParts {
    /// Sub-spaces `m` (code bytes per item), 1 to the dimension.
    pub subspaces: usize,
    /// Centroids per sub-space `k`, 1 to 256.
    pub centroids: usize,
    /// `[k][dim]` centroids, finite (row `c`: centroid `c` of every sub-space, side by side).
    pub codebooks: Vec<f32>,
    /// The items' codes `[n, subspaces]`, each `< centroids`, when the caller encoded them (a
    /// score-aware encoder); `None`: the writer encodes each row to its nearest centroids.
    pub codes: Option<Vec<u8>>,
}

/// The per-item inputs of a compact bundle (the writer's parts, borrowed).
pub(super) struct Rows<'a> {
    pub ids: &'a [String],
    pub dim: usize,
    /// `[n, dim]` row-major.
    pub embeddings: &'a [f32],
    pub popularity: &'a [f32],
}

/// How far from 1 a row's length may be for the rows to count as unit length (`pq.unit_norm`):
/// int8 rows of unit vectors dequantize to lengths within ~0.3 % of 1.
const UNIT_TOLERANCE: f32 = 0.01;

/// The compact vectors, ids and popularity: `item_codes`, `pq_codebooks`, coded `item_ids` (and
/// `ids.coding`), `item_pop` as F32 (log-quantized later by [`quantize_values`]), and
/// `quant.mean_cosine` between the source rows and their reconstructions.
pub(super) fn compact_vectors(
    rows: Rows<'_>,
    c: &CompactParts,
    meta: &mut BTreeMap<String, String>,
) -> Result<Vec<Raw>, BundleError> {
    let parts = rows;
    let (n, d) = (parts.ids.len(), parts.dim);
    let (m, k) = (c.subspaces, c.centroids);
    if !(1..=d).contains(&m) || !(1..=MAX_CENTROIDS).contains(&k) || c.codebooks.len() != d * k {
        return Err(shape_err(
            "pq_codebooks",
            format!("[k, {d}] with 1 ≤ k ≤ {MAX_CENTROIDS}, for 1 to {d} sub-spaces"),
            vec![m, k, c.codebooks.len()],
        ));
    }
    check_finite("pq_codebooks", &c.codebooks)?;
    let mut books = Vec::with_capacity(2 * c.codebooks.len());
    let mut rounded = Vec::with_capacity(c.codebooks.len());
    for (i, &x) in c.codebooks.iter().enumerate() {
        let h = half::f16::from_f32(x);
        if !h.is_finite() {
            return Err(BundleError::Value {
                name: "pq_codebooks".into(),
                index: i,
                why: format!("{x} does not fit in F16"),
            });
        }
        rounded.push(h.to_f32());
        books.extend_from_slice(&h.to_le_bytes());
    }
    let pq = Pq {
        m,
        k,
        dim: d,
        codebooks: rounded,
        codes: 0..0,
        codes_owned: None,
        inv_norms: Vec::new(),
    };
    // Unit-length source rows (what `train` and `pack` write): the reader normalizes each
    // reconstruction, which removes the error of its length.
    let unit = parts.embeddings.chunks_exact(d).all(|row| {
        let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        n == 0.0 || (n - 1.0).abs() <= UNIT_TOLERANCE
    });
    if let Some(given) = &c.codes {
        if given.len() != n * m {
            return Err(shape_err(
                "item_codes",
                format!("[{n}, {m}]"),
                vec![given.len()],
            ));
        }
        if let Some(i) = given.iter().position(|&b| usize::from(b) >= k) {
            return Err(BundleError::Value {
                name: "item_codes".into(),
                index: i,
                why: format!("code not < {k}"),
            });
        }
    }
    let mut codes = Vec::with_capacity(n * m);
    let mut recon = vec![0.0f32; d];
    let mut cosines = 0.0f64;
    for (i, row) in parts.embeddings.chunks_exact(d).enumerate() {
        let code = match &c.codes {
            Some(given) => given[i * m..(i + 1) * m].to_vec(),
            None => pq.encode(row),
        };
        pq.decode_into(&code, &mut recon);
        cosines += cosine(row, &recon);
        codes.extend_from_slice(&code);
    }
    if unit {
        meta.insert("pq.unit_norm".into(), "true".into());
    }
    meta.entry("quant.mean_cosine".into())
        .or_insert_with(|| format!("{:.6}", cosines / n.max(1) as f64));
    let (coding, ids) = id_code::encode(parts.ids).ok_or_else(|| {
        BundleError::Ids(format!(
            "a compact bundle holds ids of at most {} bytes",
            id_code::MAX_FRONT_ID_BYTES
        ))
    })?;
    meta.insert("ids.coding".into(), coding.name().into());
    Ok(vec![
        Raw {
            name: "item_ids".into(),
            dtype: Dtype::U8,
            shape: vec![ids.len()],
            data: ids,
        },
        Raw {
            name: "item_codes".into(),
            dtype: Dtype::U8,
            shape: vec![n, m],
            data: codes,
        },
        Raw {
            name: "pq_codebooks".into(),
            dtype: Dtype::F16,
            shape: vec![k, d],
            data: books,
        },
        Raw {
            name: "item_pop".into(),
            dtype: Dtype::F32,
            shape: vec![n],
            data: super::write_parts::f32_bytes(parts.popularity.iter().copied()),
        },
    ])
}

/// Cosine of two rows (1 when both are zero, 0 when one is).
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut a2, mut b2) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        a2 += x * x;
        b2 += y * y;
    }
    match (a2 == 0.0, b2 == 0.0) {
        (true, true) => 1.0,
        (true, false) | (false, true) => 0.0,
        _ => dot / (a2.sqrt() * b2.sqrt()),
    }
}

/// Rewrites `item_pop` and `item_trend` (F32, finite, ≥ 0) as U8 log-quantized values:
/// `q = round(ln(1 + v) / L · 255)` with `L = ln(1 + max v)` recorded as `pop.log1p_max` /
/// `trend.log1p_max` (the reader's inverse is `exp(q / 255 · L) − 1`). The popularity prior the
/// engine derives, `ln(1 + pop) / L`, is then `q / 255` up to rounding.
pub(super) fn quantize_values(
    tensors: &mut [Raw],
    meta: &mut BTreeMap<String, String>,
) -> Result<(), BundleError> {
    for (name, key) in [
        ("item_pop", "pop.log1p_max"),
        ("item_trend", "trend.log1p_max"),
    ] {
        let Some(t) = tensors.iter_mut().find(|t| t.name == name) else {
            continue;
        };
        let values: Vec<f32> = t
            .data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let max = values.iter().copied().fold(0.0f32, f32::max);
        let l = max.ln_1p();
        if !(0.0..=88.0).contains(&l) {
            return Err(BundleError::Value {
                name: name.into(),
                index: 0,
                why: format!("largest value {max} is beyond what one byte of log scale holds"),
            });
        }
        t.data = values
            .iter()
            .map(|&v| {
                if l > 0.0 {
                    (v.ln_1p() / l * 255.0).round().clamp(0.0, 255.0) as u8
                } else {
                    0
                }
            })
            .collect();
        t.dtype = Dtype::U8;
        meta.insert(key.into(), crate::numfmt::Num32(l).to_string());
    }
    Ok(())
}
