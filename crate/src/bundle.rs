//! The model bundle: a safetensors file every shopper's browser downloads. This module reads it
//! (validating every length, dtype, shape and value before use) and, natively, writes it.
//!
//! Format v1 (see `docs/bundle.md`):
//! - `item_emb`   I8  [n, d]  symmetric per-row int8 quantized item embeddings;
//! - `item_scale` F32 [n]     per-row scale: the f32 vector is `item_emb[i] * item_scale[i]`;
//! - `item_pop`   F32 [n]     popularity (event counts or any non-negative score);
//! - `item_ids`   U8  [bytes] the item ids, UTF-8, joined by `\n` (row order of the tensors above);
//! - `__metadata__`: `format = "vitrine-bundle"`, `format_version = "1"`, optional scoring keys.
//!
//! The embedding matrix is not copied on load: [`Bundle::embeddings`] is a view into the bytes.

use std::collections::{BTreeMap, HashMap};

use ndarray::ArrayView2;
use safetensors::tensor::{Metadata, TensorInfo};
use safetensors::{Dtype, SafeTensors};

use crate::error::BundleError;

/// The `format` metadata value every bundle carries.
pub const FORMAT: &str = "vitrine-bundle";
/// The format version this reader and writer implement.
pub const FORMAT_VERSION: &str = "1";
/// Tensors this reader understands; a bundle may list others in its `required` key only if they are here.
pub const KNOWN_TENSORS: &[&str] = &["item_emb", "item_scale", "item_pop", "item_ids"];
/// Largest embedding dimension accepted (keeps per-item work and the int8 dot exact and bounded).
pub const MAX_DIM: usize = 4096;

/// Scoring parameters carried in the bundle's metadata (defaults when absent).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoringParams {
    /// Weight of the popularity prior added to the session similarity (`score.pop_weight`).
    pub pop_weight: f32,
    /// Per-position recency decay of session events in (0, 1] (`score.recency_decay`): the newest
    /// event weighs 1, the one before `decay`, then `decay²`, …
    pub recency_decay: f32,
    /// Event-type weights (`weight.view`, `weight.click`, …).
    pub event_weights: EventWeights,
}

/// Weight of each event type in the session profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventWeights {
    pub view: f32,
    pub click: f32,
    pub add_to_cart: f32,
    pub remove_from_cart: f32,
    pub purchase: f32,
}

impl Default for EventWeights {
    fn default() -> Self {
        Self {
            view: 1.0,
            click: 1.0,
            add_to_cart: 2.0,
            remove_from_cart: -1.0,
            purchase: 2.0,
        }
    }
}

impl Default for ScoringParams {
    fn default() -> Self {
        Self {
            pop_weight: 0.1,
            recency_decay: 0.7,
            event_weights: EventWeights::default(),
        }
    }
}

/// A validated bundle. Owns its bytes; the embedding matrix is borrowed from them on demand.
#[derive(Debug, Clone)]
pub struct Bundle {
    bytes: Vec<u8>,
    emb_offset: usize,
    n_items: usize,
    dim: usize,
    scale: Vec<f32>,
    pop: Vec<f32>,
    prior: Vec<f32>,
    ids: Vec<String>,
    index: HashMap<String, u32>,
    params: ScoringParams,
    metadata: BTreeMap<String, String>,
}

impl Bundle {
    /// Parses and validates a bundle. Every failure is a [`BundleError`]; nothing panics.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, BundleError> {
        let (header_len, header) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| BundleError::Container(e.to_string()))?;
        let st = Tensors {
            header: &header,
            bytes: &bytes,
            data_start: 8 + header_len,
        };
        let metadata: BTreeMap<String, String> = header
            .metadata()
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        check_format(&metadata)?;

        let (emb, emb_data) = st.get("item_emb")?;
        expect_dtype("item_emb", emb.dtype, Dtype::I8, "I8")?;
        let (n_items, dim) = match *emb.shape.as_slice() {
            [n, d] if (1..=MAX_DIM).contains(&d) => (n, d),
            _ => {
                return Err(BundleError::Shape {
                    name: "item_emb".into(),
                    expected: format!("[n, d] with 1 ≤ d ≤ {MAX_DIM}"),
                    found: emb.shape.clone(),
                })
            }
        };
        if n_items == 0 {
            return Err(BundleError::Shape {
                name: "item_emb".into(),
                expected: "at least one item".into(),
                found: emb.shape.clone(),
            });
        }
        let emb_offset = emb_data.start;

        let scale = read_f32_vector(&st, "item_scale", n_items)?;
        if let Some((i, &s)) = scale
            .iter()
            .enumerate()
            .find(|(_, s)| !s.is_finite() || **s < 0.0)
        {
            return Err(BundleError::Value {
                name: "item_scale".into(),
                index: i,
                why: format!("{s} is not a finite, non-negative scale"),
            });
        }
        let pop = read_f32_vector(&st, "item_pop", n_items)?;
        if let Some((i, &p)) = pop
            .iter()
            .enumerate()
            .find(|(_, p)| !p.is_finite() || **p < 0.0)
        {
            return Err(BundleError::Value {
                name: "item_pop".into(),
                index: i,
                why: format!("{p} is not a finite, non-negative popularity"),
            });
        }
        let ids = read_ids(&st, n_items)?;
        let mut index = HashMap::with_capacity(n_items);
        for (i, id) in ids.iter().enumerate() {
            if index.insert(id.clone(), i as u32).is_some() {
                return Err(BundleError::Ids(format!("duplicate id '{id}' at row {i}")));
            }
        }
        let params = read_params(&metadata)?;
        let prior = popularity_prior(&pop);
        Ok(Self {
            bytes,
            emb_offset,
            n_items,
            dim,
            scale,
            pop,
            prior,
            ids,
            index,
            params,
            metadata,
        })
    }

    /// Number of items (rows).
    pub fn n_items(&self) -> usize {
        self.n_items
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The int8 embedding matrix `[n, d]`, borrowed from the bundle's bytes (no copy).
    pub fn embeddings(&self) -> Result<ArrayView2<'_, i8>, BundleError> {
        let raw = &self.bytes[self.emb_offset..self.emb_offset + self.n_items * self.dim];
        ArrayView2::from_shape(
            (self.n_items, self.dim),
            bytemuck::cast_slice::<u8, i8>(raw),
        )
        .map_err(|e| BundleError::Shape {
            name: "item_emb".into(),
            expected: e.to_string(),
            found: vec![self.n_items, self.dim],
        })
    }

    /// Row `i` of the int8 embedding matrix. `i` must be `< n_items()`.
    #[inline]
    pub fn row(&self, i: usize) -> &[i8] {
        let start = self.emb_offset + i * self.dim;
        bytemuck::cast_slice(&self.bytes[start..start + self.dim])
    }

    /// Per-row quantization scales.
    pub fn scales(&self) -> &[f32] {
        &self.scale
    }

    /// Popularity of each item, as stored.
    pub fn popularity(&self) -> &[f32] {
        &self.pop
    }

    /// Popularity prior in [0, 1]: `ln(1 + pop) / ln(1 + max pop)`.
    pub fn prior(&self) -> &[f32] {
        &self.prior
    }

    /// Item ids in row order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// Row of an item id.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// Scoring parameters from the metadata.
    pub fn params(&self) -> &ScoringParams {
        &self.params
    }

    /// The bundle's `__metadata__` map.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Row `i` dequantized to f32.
    pub fn dequantized_row(&self, i: usize) -> Vec<f32> {
        let s = self.scale[i];
        self.row(i).iter().map(|&q| f32::from(q) * s).collect()
    }
}

fn check_format(metadata: &BTreeMap<String, String>) -> Result<(), BundleError> {
    let format = metadata
        .get("format")
        .ok_or(BundleError::MissingMetadata("format"))?;
    if format != FORMAT {
        return Err(BundleError::WrongFormat {
            expected: FORMAT,
            found: format.clone(),
        });
    }
    let version = metadata
        .get("format_version")
        .ok_or(BundleError::MissingMetadata("format_version"))?;
    if version != FORMAT_VERSION {
        return Err(BundleError::UnsupportedVersion {
            found: version.clone(),
            supported: FORMAT_VERSION,
        });
    }
    if let Some(required) = metadata.get("required") {
        for name in required.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !KNOWN_TENSORS.contains(&name) {
                return Err(BundleError::Metadata {
                    key: "required".into(),
                    value: required.clone(),
                    why: format!(
                        "tensor '{name}' is required by the bundle but unknown to this reader"
                    ),
                });
            }
        }
    }
    Ok(())
}

fn expect_dtype(
    name: &str,
    found: Dtype,
    expected: Dtype,
    expected_name: &'static str,
) -> Result<(), BundleError> {
    if found == expected {
        Ok(())
    } else {
        Err(BundleError::Dtype {
            name: name.into(),
            expected: expected_name,
            found: format!("{found:?}"),
        })
    }
}

/// The tensors of a parsed header, with their byte ranges in the bundle (checked by safetensors
/// against the buffer's length).
struct Tensors<'a> {
    header: &'a Metadata,
    bytes: &'a [u8],
    data_start: usize,
}

impl<'a> Tensors<'a> {
    fn get(
        &self,
        name: &'static str,
    ) -> Result<(&'a TensorInfo, std::ops::Range<usize>), BundleError> {
        let info = self
            .header
            .info(name)
            .ok_or(BundleError::MissingTensor(name))?;
        let (s, e) = info.data_offsets;
        let range = self.data_start + s..self.data_start + e;
        if range.end > self.bytes.len() {
            return Err(BundleError::Container(format!(
                "tensor '{name}' extends beyond the end of the file"
            )));
        }
        Ok((info, range))
    }

    fn data(&self, range: std::ops::Range<usize>) -> &'a [u8] {
        &self.bytes[range]
    }
}

fn read_f32_vector(
    st: &Tensors<'_>,
    name: &'static str,
    n: usize,
) -> Result<Vec<f32>, BundleError> {
    let (t, range) = st.get(name)?;
    expect_dtype(name, t.dtype, Dtype::F32, "F32")?;
    if t.shape != [n] {
        return Err(BundleError::Shape {
            name: name.into(),
            expected: format!("[{n}] (one per item)"),
            found: t.shape.clone(),
        });
    }
    Ok(st
        .data(range)
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn read_ids(st: &Tensors<'_>, n: usize) -> Result<Vec<String>, BundleError> {
    let (t, range) = st.get("item_ids")?;
    expect_dtype("item_ids", t.dtype, Dtype::U8, "U8")?;
    if t.shape.len() != 1 {
        return Err(BundleError::Shape {
            name: "item_ids".into(),
            expected: "[bytes]".into(),
            found: t.shape.clone(),
        });
    }
    let text = std::str::from_utf8(st.data(range))
        .map_err(|e| BundleError::Ids(format!("not UTF-8 ({e})")))?;
    let ids: Vec<String> = text.split('\n').map(str::to_owned).collect();
    if ids.len() != n {
        return Err(BundleError::Ids(format!(
            "{} ids for {n} embedding rows",
            ids.len()
        )));
    }
    if let Some(i) = ids.iter().position(String::is_empty) {
        return Err(BundleError::Ids(format!("empty id at row {i}")));
    }
    Ok(ids)
}

fn read_params(metadata: &BTreeMap<String, String>) -> Result<ScoringParams, BundleError> {
    let mut p = ScoringParams::default();
    let get =
        |key: &str, default: f32, valid: fn(f32) -> bool, why: &str| -> Result<f32, BundleError> {
            match metadata.get(key) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<f32>() {
                    Ok(x) if x.is_finite() && valid(x) => Ok(x),
                    _ => Err(BundleError::Metadata {
                        key: key.into(),
                        value: v.clone(),
                        why: why.into(),
                    }),
                },
            }
        };
    p.pop_weight = get(
        "score.pop_weight",
        p.pop_weight,
        |x| x >= 0.0,
        "expected a finite number ≥ 0",
    )?;
    p.recency_decay = get(
        "score.recency_decay",
        p.recency_decay,
        |x| x > 0.0 && x <= 1.0,
        "expected a number in (0, 1]",
    )?;
    let w = &mut p.event_weights;
    let any = |_: f32| true;
    w.view = get("weight.view", w.view, any, "expected a finite number")?;
    w.click = get("weight.click", w.click, any, "expected a finite number")?;
    w.add_to_cart = get(
        "weight.add_to_cart",
        w.add_to_cart,
        any,
        "expected a finite number",
    )?;
    w.remove_from_cart = get(
        "weight.remove_from_cart",
        w.remove_from_cart,
        any,
        "expected a finite number",
    )?;
    w.purchase = get(
        "weight.purchase",
        w.purchase,
        any,
        "expected a finite number",
    )?;
    Ok(p)
}

fn popularity_prior(pop: &[f32]) -> Vec<f32> {
    let max = pop.iter().copied().fold(0.0f32, f32::max);
    let denom = (1.0 + max).ln();
    if denom <= 0.0 {
        return vec![0.0; pop.len()];
    }
    pop.iter().map(|&p| (1.0 + p).ln() / denom).collect()
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

/// What a writer needs to produce a bundle.
#[derive(Debug, Clone)]
pub struct BundleParts {
    /// Item ids in row order: non-empty, unique, no `\n`.
    pub ids: Vec<String>,
    /// Embedding dimension.
    pub dim: usize,
    /// Row-major f32 embeddings `[ids.len() * dim]`; quantized by the writer.
    pub embeddings: Vec<f32>,
    /// Popularity per item (non-negative).
    pub popularity: Vec<f32>,
    /// Extra metadata (training summary, scoring keys). `format`/`format_version` are set by the writer.
    pub metadata: BTreeMap<String, String>,
}

/// The writer. Compiled on every target (the wasm tests build bundles with it); the wasm binary
/// does not export it, so the linker drops it there.
mod writer {
    use super::*;
    use safetensors::tensor::View;
    use std::borrow::Cow;

    struct Raw {
        dtype: Dtype,
        shape: Vec<usize>,
        data: Vec<u8>,
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

    /// Quantizes and serializes a bundle. The output always passes [`Bundle::from_bytes`].
    pub fn write_bundle(parts: &BundleParts) -> Result<Vec<u8>, BundleError> {
        let n = parts.ids.len();
        let d = parts.dim;
        if d == 0 || d > MAX_DIM {
            return Err(BundleError::Shape {
                name: "item_emb".into(),
                expected: format!("1 ≤ d ≤ {MAX_DIM}"),
                found: vec![n, d],
            });
        }
        if parts.embeddings.len() != n * d {
            return Err(BundleError::Shape {
                name: "item_emb".into(),
                expected: format!("[{n}, {d}]"),
                found: vec![parts.embeddings.len()],
            });
        }
        if parts.popularity.len() != n {
            return Err(BundleError::Shape {
                name: "item_pop".into(),
                expected: format!("[{n}]"),
                found: vec![parts.popularity.len()],
            });
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
        if let Some(i) = parts.embeddings.iter().position(|x| !x.is_finite()) {
            return Err(BundleError::Value {
                name: "item_emb".into(),
                index: i,
                why: "not finite".into(),
            });
        }
        let (q, scales) = quantize_rows(&parts.embeddings, d);
        let tensors = [
            (
                "item_emb",
                Raw {
                    dtype: Dtype::I8,
                    shape: vec![n, d],
                    data: bytemuck::cast_slice(&q).to_vec(),
                },
            ),
            (
                "item_scale",
                Raw {
                    dtype: Dtype::F32,
                    shape: vec![n],
                    data: scales.iter().flat_map(|s| s.to_le_bytes()).collect(),
                },
            ),
            (
                "item_pop",
                Raw {
                    dtype: Dtype::F32,
                    shape: vec![n],
                    data: parts
                        .popularity
                        .iter()
                        .flat_map(|s| s.to_le_bytes())
                        .collect(),
                },
            ),
            (
                "item_ids",
                Raw {
                    dtype: Dtype::U8,
                    shape: vec![parts.ids.join("\n").len()],
                    data: parts.ids.join("\n").into_bytes(),
                },
            ),
        ];
        let mut meta: std::collections::HashMap<String, String> =
            parts.metadata.clone().into_iter().collect();
        meta.insert("format".into(), FORMAT.into());
        meta.insert("format_version".into(), FORMAT_VERSION.into());
        meta.insert("n_items".into(), n.to_string());
        meta.insert("dim".into(), d.to_string());
        let bytes = safetensors::serialize(tensors.iter().map(|(k, v)| (*k, v)), Some(meta))
            .map_err(|e| BundleError::Container(e.to_string()))?;
        // Round-trip check: never hand out a bundle our own reader would reject.
        Bundle::from_bytes(bytes.clone())?;
        Ok(bytes)
    }
}

pub use writer::write_bundle;
