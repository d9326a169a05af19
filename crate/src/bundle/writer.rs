//! The writer: quantizes embeddings, lays out every tensor, computes the digest and serializes.
//! Compiled on every target (the wasm tests build bundles with it); the wasm binary does not export
//! it, so the linker drops it there.

use std::collections::BTreeMap;

use safetensors::Dtype;

use super::digest::{self, TensorRef};
use super::format::{
    limits, CATEGORY_NONE_U16, CATEGORY_NONE_U8, FORMAT, FORMAT_VERSION, FORMAT_VERSION_1,
    FORMAT_VERSION_2,
};
use super::loaded::Bundle;
use super::metadata::Metadata;
use super::params::{keys as param_keys, ScoringParams};
use super::tables::NeighbourKind;
pub use super::write_compact::CompactParts;
use super::write_compact::{compact_vectors, quantize_values, Rows};
use super::write_parts::{
    check_finite, f32_bytes, shape_err, write_avail, write_extra, write_lists, write_trend,
    ExtraTensor, Raw,
};
use crate::error::BundleError;

/// Dtype of a per-item float vector (`item_scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FloatDtype {
    /// 4 bytes per item (default).
    #[default]
    F32,
    /// 2 bytes per item (IEEE half precision; the writer rejects scales above 65504).
    F16,
}

/// Item categories: one optional category per item, as an index into `names`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CategoryParts {
    /// Category names: non-empty, unique, no `\n`.
    pub names: Vec<String>,
    /// One entry per item: `Some(index into names)` or `None`.
    pub item: Vec<Option<u32>>,
}

/// A linear ranking head: one weight per named feature.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeadParts {
    /// Feature names: non-empty, unique, no `,`.
    pub features: Vec<String>,
    /// One finite weight per feature.
    pub weights: Vec<f32>,
}

/// Context × category weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextParts {
    /// Context feature names (e.g. `hour=13`): non-empty, unique, no `,`.
    pub features: Vec<String>,
    /// Row-major `[features.len(), number of categories]`, finite.
    pub weights: Vec<f32>,
}

/// What a writer needs to produce a bundle. Optional parts default to absent, so callers can write
/// `BundleParts { ids, dim, embeddings, popularity, ..Default::default() }`.
#[derive(Debug, Clone, Default)]
pub struct BundleParts {
    /// Item ids in row order: non-empty, unique, no `\n`.
    pub ids: Vec<String>,
    /// Embedding dimension.
    pub dim: usize,
    /// Row-major f32 embeddings `[ids.len() * dim]`, finite; quantized by the writer.
    pub embeddings: Vec<f32>,
    /// Popularity per item (finite, non-negative).
    pub popularity: Vec<f32>,
    /// How the engine scores ([`ScoringParams`]; absent: the engine's defaults). Written as its
    /// metadata keys ([`super::param_keys`]); those keys may not also appear in `metadata`.
    pub params: Option<ScoringParams>,
    /// Extra metadata (training summary, `required`, free-form keys). The writer sets `format`,
    /// `format_version`, `digest`, `n_items`, `dim`, `quant.mean_cosine` (unless given) and the
    /// keys of the optional parts (`nbr.scale`, `head.features`, `ctx.features`) itself.
    pub metadata: BTreeMap<String, String>,
    /// Dtype of `item_scale` (F32 by default).
    pub scale_dtype: FloatDtype,
    /// Optional item categories (`item_cat` + `cat_names`).
    pub categories: Option<CategoryParts>,
    /// Optional prices, one per item (`None` = unknown; known prices finite and ≥ 0).
    pub prices: Option<Vec<Option<f32>>>,
    /// Optional neighbour lists, one per item: `(row, weight)` with row < n, ≠ the item, weight
    /// finite ≥ 0. Weights are quantized to u8 with one scale (`nbr.scale` = max weight / 255).
    pub neighbours: Option<Vec<Vec<(u32, f32)>>>,
    /// Optional weight per session position (0 = newest), 1 to 256 finite values.
    pub session_pos_weights: Option<Vec<f32>>,
    /// Optional co-purchase lists (`cop_*`, same rules as `neighbours`): items added to a cart or
    /// purchased in the same session, for frequently-bought-together.
    pub co_purchases: Option<Vec<Vec<(u32, f32)>>>,
    /// Optional availability per item (`item_avail`; false: never recommended).
    pub availability: Option<Vec<bool>>,
    /// Optional recency-weighted counts per item (`item_trend`, finite ≥ 0), for `trending()`.
    pub trend: Option<Vec<f32>>,
    /// Tensors for native tools (catalog records, content tower), skipped by the engine.
    pub extra: Vec<ExtraTensor>,
    /// Optional session readout `W`, d × d row-major (`session_readout`).
    pub session_readout: Option<Vec<f32>>,
    /// Optional ranking head.
    pub head: Option<HeadParts>,
    /// Optional context weights (requires `categories`).
    pub context: Option<ContextParts>,
    /// Write a compact bundle (format version 3) with these product-quantization codebooks:
    /// codes instead of int8 rows, coded ids, log-quantized popularity and trending counts.
    pub compact: Option<CompactParts>,
}

/// Symmetric per-row int8 quantization: returns the int8 rows and one scale per row such that
/// `row[j] ≈ q[j] * scale`. A zero row gets scale 0.
pub fn quantize_rows(values: &[f32], dim: usize) -> (Vec<i8>, Vec<f32>) {
    let mut q = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(values.len() / dim.max(1));
    for row in values.chunks(dim.max(1)) {
        let max = row.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
        let scale = if max > 0.0 && max.is_finite() {
            max / 127.0
        } else {
            0.0
        };
        scales.push(scale);
        for &x in row {
            let v = if scale > 0.0 {
                (x / scale).round().clamp(-127.0, 127.0)
            } else {
                0.0
            };
            q.push(v as i8);
        }
    }
    (q, scales)
}

/// Mean over rows of the cosine between each source row and its int8 reconstruction
/// (`q · scale`); a zero row counts as 1. This is what `quant.mean_cosine` records.
pub fn mean_cosine(source: &[f32], q: &[i8], scales: &[f32], dim: usize) -> f64 {
    let dim = dim.max(1);
    let mut total = 0.0f64;
    let mut rows = 0usize;
    for ((src, qrow), &s) in source.chunks(dim).zip(q.chunks(dim)).zip(scales) {
        let (mut dot, mut a2, mut b2) = (0.0f64, 0.0f64, 0.0f64);
        for (&x, &y) in src.iter().zip(qrow) {
            let y = f64::from(y) * f64::from(s);
            let x = f64::from(x);
            dot += x * y;
            a2 += x * x;
            b2 += y * y;
        }
        total += if a2 == 0.0 && b2 == 0.0 {
            1.0
        } else if a2 == 0.0 || b2 == 0.0 {
            0.0
        } else {
            dot / (a2.sqrt() * b2.sqrt())
        };
        rows += 1;
    }
    if rows == 0 {
        1.0
    } else {
        total / rows as f64
    }
}

/// Names joined by `sep`: each non-empty, unique, without `sep`.
fn join_names(what: &str, names: &[String], sep: char) -> Result<String, BundleError> {
    let mut seen = std::collections::HashSet::new();
    for (i, n) in names.iter().enumerate() {
        if n.is_empty() || n.contains(sep) || n.trim() != n || !seen.insert(n) {
            return Err(BundleError::Value {
                name: what.into(),
                index: i,
                why: format!(
                    "name '{n}' is empty, repeated, has surrounding spaces or contains {sep:?}"
                ),
            });
        }
    }
    Ok(names.join(&sep.to_string()))
}

/// Quantizes and serializes a bundle, with its digest. The output always passes
/// [`Bundle::from_bytes`] (the writer checks by reading it back).
pub fn write_bundle(parts: &BundleParts) -> Result<Vec<u8>, BundleError> {
    let n = parts.ids.len();
    let d = parts.dim;
    if n == 0 || n > limits::MAX_ITEMS {
        return Err(shape_err(
            "item_emb",
            format!("1 to {} items", limits::MAX_ITEMS),
            vec![n, d],
        ));
    }
    if d == 0 || d > limits::MAX_DIM {
        return Err(shape_err(
            "item_emb",
            format!("1 ≤ d ≤ {}", limits::MAX_DIM),
            vec![n, d],
        ));
    }
    if parts.embeddings.len() != n * d {
        return Err(shape_err(
            "item_emb",
            format!("[{n}, {d}] = {} values", n * d),
            vec![parts.embeddings.len()],
        ));
    }
    if parts.popularity.len() != n {
        return Err(shape_err(
            "item_pop",
            format!("[{n}]"),
            vec![parts.popularity.len()],
        ));
    }
    if let Some(i) = parts
        .ids
        .iter()
        .position(|id| id.is_empty() || id.contains('\n'))
    {
        return Err(BundleError::Ids(format!(
            "id at row {i} is empty or contains a newline"
        )));
    }
    check_finite("item_emb", &parts.embeddings)?;
    check_finite("item_pop", &parts.popularity)?;
    if let Some(i) = parts.popularity.iter().position(|&p| p < 0.0) {
        return Err(BundleError::Value {
            name: "item_pop".into(),
            index: i,
            why: "negative popularity".into(),
        });
    }

    let mut meta: BTreeMap<String, String> = parts.metadata.clone();
    if let Some(key) = param_keys::ALL.iter().find(|k| meta.contains_key(**k)) {
        return Err(BundleError::Metadata {
            key: (*key).into(),
            value: meta[*key].clone(),
            why: "scoring parameters go through BundleParts::params, not free-form metadata".into(),
        });
    }
    if let Some(params) = &parts.params {
        params.write(&mut meta);
    }
    let mut tensors = match &parts.compact {
        Some(c) => compact_vectors(
            Rows {
                ids: &parts.ids,
                dim: d,
                embeddings: &parts.embeddings,
                popularity: &parts.popularity,
            },
            c,
            &mut meta,
        )?,
        None => {
            let (q, mut scales) = quantize_rows(&parts.embeddings, d);
            let scale_data = match parts.scale_dtype {
                FloatDtype::F32 => f32_bytes(scales.iter().copied()),
                FloatDtype::F16 => {
                    let mut out = Vec::with_capacity(2 * n);
                    for (i, s) in scales.iter_mut().enumerate() {
                        let h = half::f16::from_f32(*s);
                        if !h.is_finite() {
                            return Err(BundleError::Value {
                                name: "item_scale".into(),
                                index: i,
                                why: format!("scale {s} does not fit in F16"),
                            });
                        }
                        *s = h.to_f32();
                        out.extend_from_slice(&h.to_le_bytes());
                    }
                    out
                }
            };
            meta.entry("quant.mean_cosine".into()).or_insert_with(|| {
                format!("{:.6}", mean_cosine(&parts.embeddings, &q, &scales, d))
            });

            let ids_blob = parts.ids.join("\n").into_bytes();
            vec![
                Raw {
                    name: "item_ids".into(),
                    dtype: Dtype::U8,
                    shape: vec![ids_blob.len()],
                    data: ids_blob,
                },
                Raw {
                    name: "item_emb".into(),
                    dtype: Dtype::I8,
                    shape: vec![n, d],
                    data: bytemuck::cast_slice(&q).to_vec(),
                },
                Raw {
                    name: "item_scale".into(),
                    dtype: match parts.scale_dtype {
                        FloatDtype::F32 => Dtype::F32,
                        FloatDtype::F16 => Dtype::F16,
                    },
                    shape: vec![n],
                    data: scale_data,
                },
                Raw {
                    name: "item_pop".into(),
                    dtype: Dtype::F32,
                    shape: vec![n],
                    data: f32_bytes(parts.popularity.iter().copied()),
                },
            ]
        }
    };
    let n_categories = write_categories(parts, n, &mut tensors)?;
    write_prices(parts, n, &mut tensors)?;
    write_lists(
        NeighbourKind::CoOccurrence,
        parts.neighbours.as_ref(),
        n,
        &mut tensors,
        &mut meta,
    )?;
    write_lists(
        NeighbourKind::CoPurchase,
        parts.co_purchases.as_ref(),
        n,
        &mut tensors,
        &mut meta,
    )?;
    write_avail(parts.availability.as_ref(), n, &mut tensors)?;
    write_trend(parts.trend.as_ref(), n, &mut tensors)?;
    write_extra(&parts.extra, &mut tensors)?;
    if parts.compact.is_some() {
        quantize_values(&mut tensors, &mut meta)?;
    }
    if let Some(w) = &parts.session_pos_weights {
        if w.is_empty() || w.len() > limits::MAX_SESSION_POSITIONS {
            return Err(shape_err(
                "session_pos_weights",
                format!("1 to {} values", limits::MAX_SESSION_POSITIONS),
                vec![w.len()],
            ));
        }
        check_finite("session_pos_weights", w)?;
        tensors.push(Raw {
            name: "session_pos_weights".into(),
            dtype: Dtype::F32,
            shape: vec![w.len()],
            data: f32_bytes(w.iter().copied()),
        });
    }
    if let Some(w) = &parts.session_readout {
        if w.len() != d * d {
            return Err(shape_err(
                "session_readout",
                format!("[{d}, {d}]"),
                vec![w.len()],
            ));
        }
        check_finite("session_readout", w)?;
        tensors.push(Raw {
            name: "session_readout".into(),
            dtype: Dtype::F32,
            shape: vec![d, d],
            data: f32_bytes(w.iter().copied()),
        });
    }
    if let Some(h) = &parts.head {
        if h.weights.len() != h.features.len()
            || h.weights.is_empty()
            || h.weights.len() > limits::MAX_HEAD_FEATURES
        {
            return Err(shape_err(
                "head_weights",
                format!(
                    "one weight per feature ({}), 1 to {}",
                    h.features.len(),
                    limits::MAX_HEAD_FEATURES
                ),
                vec![h.weights.len()],
            ));
        }
        check_finite("head_weights", &h.weights)?;
        meta.insert(
            "head.features".into(),
            join_names("head.features", &h.features, ',')?,
        );
        tensors.push(Raw {
            name: "head_weights".into(),
            dtype: Dtype::F32,
            shape: vec![h.weights.len()],
            data: f32_bytes(h.weights.iter().copied()),
        });
    }
    if let Some(ctx) = &parts.context {
        let k = n_categories.ok_or(BundleError::MissingTensor("item_cat"))?;
        let c = ctx.features.len();
        if c == 0 || c > limits::MAX_CTX_FEATURES || ctx.weights.len() != c * k {
            return Err(shape_err(
                "ctx_weights",
                format!(
                    "[{c}, {k}] (features × categories), 1 to {} features",
                    limits::MAX_CTX_FEATURES
                ),
                vec![ctx.weights.len()],
            ));
        }
        check_finite("ctx_weights", &ctx.weights)?;
        meta.insert(
            "ctx.features".into(),
            join_names("ctx.features", &ctx.features, ',')?,
        );
        tensors.push(Raw {
            name: "ctx_weights".into(),
            dtype: Dtype::F32,
            shape: vec![c, k],
            data: f32_bytes(ctx.weights.iter().copied()),
        });
    }

    meta.insert("format".into(), FORMAT.into());
    // Version 2 only when a version-1 reader would misread the bundle (it would recommend
    // unavailable items, or score without the new terms); its `required` names what it needs.
    let needs_v2 = parts.availability.is_some()
        || parts.trend.is_some()
        || parts.co_purchases.is_some()
        || parts
            .params
            .as_ref()
            .is_some_and(ScoringParams::needs_version_2);
    meta.insert(
        "format_version".into(),
        if parts.compact.is_some() {
            FORMAT_VERSION
        } else if needs_v2 {
            FORMAT_VERSION_2
        } else {
            FORMAT_VERSION_1
        }
        .into(),
    );
    if parts.availability.is_some() {
        let required = meta
            .get("required")
            .map_or(String::new(), |r| format!("{r},"));
        meta.insert("required".into(), format!("{required}item_avail"));
    }
    meta.insert("n_items".into(), n.to_string());
    meta.insert("dim".into(), d.to_string());
    meta.remove(digest::DIGEST_KEY);
    let mut refs: Vec<TensorRef<'_>> = tensors
        .iter()
        .map(|t| TensorRef {
            name: &t.name,
            dtype: t.dtype,
            shape: &t.shape,
            data: &t.data,
        })
        .collect();
    refs.sort_by(|a, b| a.name.cmp(b.name));
    let digest = digest::digest_of(&Metadata::from(meta.clone()), &refs);
    meta.insert(digest::DIGEST_KEY.into(), digest);

    let bytes = serialize_deterministic(&meta, &tensors)?;
    // Round-trip check: never hand out a bundle our own reader would reject.
    Bundle::from_bytes_delta(bytes.clone())?;
    Ok(bytes)
}

/// Lays out a safetensors file byte for byte reproducibly: header keys sorted (`__metadata__`
/// first, its keys sorted), tensor data ordered by element size (largest first, so every tensor
/// stays aligned to its element size) then name, header padded with spaces to a multiple of 8.
/// The same parts always give the same bytes.
fn serialize_deterministic(
    meta: &BTreeMap<String, String>,
    tensors: &[Raw],
) -> Result<Vec<u8>, BundleError> {
    let mut order: Vec<&Raw> = tensors.iter().collect();
    order.sort_by(|a, b| {
        b.dtype
            .bitsize()
            .cmp(&a.dtype.bitsize())
            .then(a.name.cmp(&b.name))
    });
    let mut header = serde_json::Map::new();
    header.insert(
        "__metadata__".into(),
        serde_json::to_value(meta).map_err(|e| BundleError::Container(e.to_string()))?,
    );
    let mut offset = 0usize;
    for t in &order {
        let end = offset + t.data.len();
        header.insert(
            t.name.to_string(),
            serde_json::json!({
                "dtype": serde_json::to_value(t.dtype).map_err(|e| BundleError::Container(e.to_string()))?,
                "shape": t.shape,
                "data_offsets": [offset, end],
            }),
        );
        offset = end;
    }
    let mut header = serde_json::to_vec(&serde_json::Value::Object(header))
        .map_err(|e| BundleError::Container(e.to_string()))?;
    while header.len() % 8 != 0 {
        header.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    for t in &order {
        out.extend_from_slice(&t.data);
    }
    Ok(out)
}

fn write_categories(
    parts: &BundleParts,
    n: usize,
    tensors: &mut Vec<Raw>,
) -> Result<Option<usize>, BundleError> {
    let Some(cats) = &parts.categories else {
        return Ok(None);
    };
    let k = cats.names.len();
    if k > limits::MAX_CATEGORIES || k > i32::MAX as usize {
        return Err(shape_err(
            "cat_names",
            format!("at most {} categories", limits::MAX_CATEGORIES),
            vec![k],
        ));
    }
    if cats.item.len() != n {
        return Err(shape_err(
            "item_cat",
            format!("[{n}]"),
            vec![cats.item.len()],
        ));
    }
    let names = join_names("cat_names", &cats.names, '\n')?.into_bytes();
    // A compact bundle (format 3, which older readers refuse anyway) stores the narrowest
    // dtype that holds every index and its "none" value: U8 below 255 categories.
    let dtype = match &parts.compact {
        Some(_) if k < usize::from(CATEGORY_NONE_U8) => Dtype::U8,
        Some(_) if k < usize::from(CATEGORY_NONE_U16) => Dtype::U16,
        _ => Dtype::I32,
    };
    let mut data = Vec::with_capacity(dtype.bitsize() / 8 * n);
    for (i, c) in cats.item.iter().enumerate() {
        let v = match *c {
            None => None,
            Some(c) if (c as usize) < k => Some(c),
            Some(c) => {
                return Err(BundleError::Value {
                    name: "item_cat".into(),
                    index: i,
                    why: format!("category {c} is not < {k} (the number of names)"),
                })
            }
        };
        // In range: `k` is below the dtype's "none" (narrow) or below i32::MAX (checked above).
        match dtype {
            Dtype::U8 => data.push(v.map_or(CATEGORY_NONE_U8, |c| c as u8)),
            Dtype::U16 => {
                data.extend_from_slice(&v.map_or(CATEGORY_NONE_U16, |c| c as u16).to_le_bytes())
            }
            _ => data.extend_from_slice(&v.map_or(-1, |c| c as i32).to_le_bytes()),
        }
    }
    tensors.push(Raw {
        name: "item_cat".into(),
        dtype,
        shape: vec![n],
        data,
    });
    tensors.push(Raw {
        name: "cat_names".into(),
        dtype: Dtype::U8,
        shape: vec![names.len()],
        data: names,
    });
    Ok(Some(k))
}

fn write_prices(parts: &BundleParts, n: usize, tensors: &mut Vec<Raw>) -> Result<(), BundleError> {
    let Some(prices) = &parts.prices else {
        return Ok(());
    };
    if prices.len() != n {
        return Err(shape_err(
            "item_price",
            format!("[{n}]"),
            vec![prices.len()],
        ));
    }
    if let Some(i) = prices
        .iter()
        .position(|p| p.is_some_and(|p| !p.is_finite() || p < 0.0))
    {
        return Err(BundleError::Value {
            name: "item_price".into(),
            index: i,
            why: "a known price must be finite and ≥ 0".into(),
        });
    }
    tensors.push(Raw {
        name: "item_price".into(),
        dtype: Dtype::F32,
        shape: vec![n],
        data: f32_bytes(prices.iter().map(|p| p.unwrap_or(-1.0))),
    });
    Ok(())
}
