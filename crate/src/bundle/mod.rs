//! The model bundle: a safetensors file every shopper's browser downloads. This module reads it
//! (validating every length, dtype, shape and value before use) and, natively, writes it.
//! The format is specified in `docs/bundle.md`; in short:
//!
//! | tensor | dtype | shape | |
//! | --- | --- | --- | --- |
//! | `item_ids` | U8 | [bytes] | UTF-8 ids joined by `\n`, row order of every per-item tensor |
//! | `item_emb` | I8 | [n, d] | symmetric per-row int8 embeddings |
//! | `item_scale` | F32 / F16 | [n] | `f32 row i = item_emb[i] · item_scale[i]` |
//! | `item_pop` | F32 / F16 | [n] | popularity ≥ 0 |
//! | `item_cat` + `cat_names` | I32 [n] + U8 | | optional category index (−1 = none) and names |
//! | `item_price` | F32 | [n] | optional price ≥ 0, −1 = unknown |
//! | `nbr_offsets`, `nbr_items`, `nbr_weights` | U32, U16/U32, U8 | [n+1], [nnz], [nnz] | optional CSR neighbour lists |
//! | `session_pos_weights` | F32 | [L] | optional weight per session position (0 = newest) |
//! | `session_readout` | F32 | [d, d] | optional session readout W: the query is `W · profile` |
//! | `head_weights` | F32 | [F] | optional linear ranking head (`head.features`) |
//! | `ctx_weights` | F32 | [C, K] | optional context × category weights (`ctx.features`) |
//!
//! plus `__metadata__`: `format = "vitrine-bundle"`, `format_version = "1"`, `digest =
//! "sha256:<hex>"` (see [`digest`]), optional `required`, scoring keys and free-form keys.
//!
//! The embedding matrix and the neighbour lists are not copied on load: [`Bundle::embeddings`],
//! [`Bundle::row`] and [`Bundle::neighbours`] read the bundle's own bytes.

mod container;
pub mod digest;
mod dtype;
mod id_index;
mod metadata;
mod params;
mod read;
mod writer;

use std::ops::Range;

use ndarray::ArrayView2;

use crate::error::BundleError;

pub use digest::DigestStatus;
pub use metadata::Metadata;
pub use params::{keys as param_keys, EventWeights, ScoringParams, DEFAULT_HALF_LIFE_S};
pub use writer::{
    quantize_rows, write_bundle, BundleParts, CategoryParts, ContextParts, FloatDtype, HeadParts,
};

/// The `format` metadata value every bundle carries.
pub const FORMAT: &str = "vitrine-bundle";
/// The format version this reader and writer implement.
pub const FORMAT_VERSION: &str = "1";
/// Tensors this reader understands. A bundle's `required` key may only name these; any other
/// tensor is skipped (but still covered by the digest).
pub const KNOWN_TENSORS: &[&str] = &[
    "item_ids",
    "item_emb",
    "item_scale",
    "item_pop",
    "item_cat",
    "cat_names",
    "item_price",
    "nbr_offsets",
    "nbr_items",
    "nbr_weights",
    "session_pos_weights",
    "session_readout",
    "head_weights",
    "ctx_weights",
];
/// Largest embedding dimension accepted (keeps per-item work and the int8 dot exact and bounded).
pub const MAX_DIM: usize = limits::MAX_DIM;

/// Reader limits, checked against the header's declared shapes before anything is decoded.
pub mod limits {
    /// Largest header (JSON) accepted, in bytes (safetensors' own limit).
    pub const MAX_HEADER_BYTES: u64 = 100_000_000;
    /// Most items (rows of `item_emb`).
    pub const MAX_ITEMS: usize = 50_000_000;
    /// Largest embedding dimension.
    pub const MAX_DIM: usize = 4096;
    /// Largest tensor rank.
    pub const MAX_RANK: usize = 8;
    /// Most session positions in `session_pos_weights`.
    pub const MAX_SESSION_POSITIONS: usize = 256;
    /// Most ranking-head features.
    pub const MAX_HEAD_FEATURES: usize = 1024;
    /// Most context features (rows of `ctx_weights`).
    pub const MAX_CTX_FEATURES: usize = 4096;
    /// Most categories (`cat_names` entries, columns of `ctx_weights`).
    pub const MAX_CATEGORIES: usize = 1_000_000;
}

/// How to load a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleOptions {
    /// Verify the `digest` metadata key against the contents (default `true`). A bundle without a
    /// digest is rejected ([`BundleError::MissingDigest`]) while this is on. Turn it off only when
    /// the caller has already checked the bytes' integrity (e.g. Subresource Integrity on the
    /// fetch): every other check still runs.
    pub verify_digest: bool,
}

impl Default for BundleOptions {
    fn default() -> Self {
        Self {
            verify_digest: true,
        }
    }
}

crate::wire! {
    /// How the page asks to load a bundle (`{verifyDigest?}`), before defaults.
    #[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LoadOptions {
        /// Verify the bundle's digest (default `true`; see [`BundleOptions::verify_digest`]).
        verify_digest: Option<bool> = "verifyDigest",
    }
}

impl From<LoadOptions> for BundleOptions {
    fn from(o: LoadOptions) -> Self {
        Self {
            verify_digest: o.verify_digest.unwrap_or(true),
        }
    }
}

/// One tensor of the file, as listed by [`Bundle::tensors`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSummary {
    /// Tensor name.
    pub name: String,
    /// Dtype as written in the header (`"I8"`, `"F32"`, …).
    pub dtype: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Size of the data in bytes.
    pub bytes: usize,
    /// Offset of the data in the file.
    pub offset: usize,
    /// Whether this reader understands the tensor (unknown ones are skipped).
    pub known: bool,
}

/// The ranking head: one weight per named feature.
#[derive(Debug, Clone, PartialEq)]
pub struct RankingHead {
    features: Vec<String>,
    weights: Vec<f32>,
}

impl RankingHead {
    /// Feature names (from `head.features`), unique, in weight order.
    pub fn features(&self) -> &[String] {
        &self.features
    }

    /// One finite weight per feature.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }
}

/// Context weights: for each context feature (e.g. `hour=13`) a weight per category.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextWeights {
    features: Vec<String>,
    n_categories: usize,
    /// Row-major `[features.len(), n_categories]`.
    weights: Vec<f32>,
}

impl ContextWeights {
    /// Context feature names (from `ctx.features`), unique, in row order.
    pub fn features(&self) -> &[String] {
        &self.features
    }

    /// Number of columns (= the bundle's category count).
    pub fn n_categories(&self) -> usize {
        self.n_categories
    }

    /// Row of a context feature by name.
    pub fn feature_row(&self, feature: &str) -> Option<&[f32]> {
        let f = self.features.iter().position(|x| x == feature)?;
        self.row(f)
    }

    /// Row `f` (one weight per category), or `None` when out of range.
    pub fn row(&self, f: usize) -> Option<&[f32]> {
        let start = f.checked_mul(self.n_categories)?;
        self.weights
            .get(start..start.checked_add(self.n_categories)?)
    }

    /// Weight of context feature `f` for category `cat`.
    pub fn get(&self, f: usize, cat: u32) -> Option<f32> {
        self.row(f)?.get(cat as usize).copied()
    }

    /// The whole matrix `[C, K]` (always `Some` for a loaded bundle).
    pub fn view(&self) -> Option<ArrayView2<'_, f32>> {
        ArrayView2::from_shape((self.features.len(), self.n_categories), &self.weights).ok()
    }
}

/// Item categories: per-item index (−1 = none) and names.
#[derive(Debug, Clone, PartialEq)]
struct Categories {
    item: Vec<i32>,
    names: Vec<String>,
}

/// Sparse per-item neighbour lists (CSR), borrowed from the bundle's bytes.
#[derive(Debug, Clone, PartialEq)]
struct NeighbourLists {
    /// `n + 1` offsets into the lists, validated: 0, non-decreasing, last = nnz.
    offsets: Vec<u32>,
    /// Byte range of `nbr_items` in the bundle.
    items: Range<usize>,
    /// 2 (U16) or 4 (U32).
    item_width: usize,
    /// Byte range of `nbr_weights` in the bundle.
    weights: Range<usize>,
    /// `nbr.scale`: weight = q · scale.
    scale: f32,
}

/// A validated bundle. Owns its bytes; the embedding matrix and the neighbour lists are borrowed
/// from them.
#[derive(Debug, Clone)]
pub struct Bundle {
    bytes: Vec<u8>,
    emb: Range<usize>,
    n_items: usize,
    dim: usize,
    scale: Vec<f32>,
    pop: Vec<f32>,
    prior: Vec<f32>,
    ids: Vec<String>,
    index: id_index::IdIndex,
    params: ScoringParams,
    metadata: Metadata,
    tensors: Vec<TensorSummary>,
    header_len: usize,
    digest_verified: bool,
    categories: Option<Categories>,
    prices: Option<Vec<f32>>,
    neighbours: Option<NeighbourLists>,
    session_pos_weights: Option<Vec<f32>>,
    session_readout: Option<Vec<f32>>,
    head: Option<RankingHead>,
    ctx: Option<ContextWeights>,
}

/// Iterator over one item's neighbours: `(row, weight)` pairs.
#[derive(Debug, Clone)]
pub struct Neighbours<'a> {
    items: &'a [u8],
    weights: &'a [u8],
    item_width: usize,
    scale: f32,
}

impl Iterator for Neighbours<'_> {
    type Item = (u32, f32);

    fn next(&mut self) -> Option<(u32, f32)> {
        let (&q, rest) = self.weights.split_first()?;
        self.weights = rest;
        let item = if self.item_width == 2 {
            let (b, rest) = self.items.split_first_chunk::<2>()?;
            self.items = rest;
            u32::from(u16::from_le_bytes(*b))
        } else {
            let (b, rest) = self.items.split_first_chunk::<4>()?;
            self.items = rest;
            u32::from_le_bytes(*b)
        };
        Some((item, f32::from(q) * self.scale))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.weights.len()))
    }
}

impl Bundle {
    /// Parses and validates a bundle, verifying its digest. Every failure is a [`BundleError`];
    /// nothing panics.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, BundleError> {
        Self::from_bytes_with(bytes, &BundleOptions::default())
    }

    /// Parses and validates a bundle with explicit options (e.g. to skip the digest when the caller
    /// has checked integrity already).
    pub fn from_bytes_with(bytes: Vec<u8>, options: &BundleOptions) -> Result<Self, BundleError> {
        let parsed = read::read(&bytes, options)?;
        Ok(Self {
            bytes,
            emb: parsed.emb,
            n_items: parsed.n_items,
            dim: parsed.dim,
            prior: popularity_prior(&parsed.pop),
            scale: parsed.scale,
            pop: parsed.pop,
            ids: parsed.ids,
            index: parsed.index,
            params: parsed.params,
            metadata: parsed.metadata,
            tensors: parsed.tensors,
            header_len: parsed.header_len,
            digest_verified: options.verify_digest,
            categories: parsed.categories,
            prices: parsed.prices,
            neighbours: parsed.neighbours,
            session_pos_weights: parsed.session_pos_weights,
            session_readout: parsed.session_readout,
            head: parsed.head,
            ctx: parsed.ctx,
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

    fn emb_bytes(&self) -> &[u8] {
        self.bytes.get(self.emb.clone()).unwrap_or_default()
    }

    /// The int8 embedding matrix `[n, d]`, borrowed from the bundle's bytes (no copy).
    pub fn embeddings(&self) -> Result<ArrayView2<'_, i8>, BundleError> {
        ArrayView2::from_shape(
            (self.n_items, self.dim),
            bytemuck::cast_slice::<u8, i8>(self.emb_bytes()),
        )
        // Cannot fail for a loaded bundle (the reader checked the tensor's size); the error does
        // not format ndarray's (whose Display and Debug would cost ~1 KB of wasm).
        .map_err(|_| BundleError::Shape {
            name: "item_emb".into(),
            expected: "items × dim int8 values".into(),
            found: vec![self.n_items, self.dim],
        })
    }

    /// Row `i` of the int8 embedding matrix (borrowed). Panics if `i >= n_items()`, like slice
    /// indexing; every row index the bundle itself holds (neighbours) is validated to be in range.
    #[inline]
    pub fn row(&self, i: usize) -> &[i8] {
        let start = i * self.dim;
        bytemuck::cast_slice(&self.emb_bytes()[start..start + self.dim])
    }

    /// Per-row quantization scales (decoded to f32 if stored as F16).
    pub fn scales(&self) -> &[f32] {
        &self.scale
    }

    /// Popularity of each item, as stored (decoded to f32 if stored as F16).
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
        self.index.get(&self.ids, id)
    }

    /// Scoring parameters from the metadata.
    pub fn params(&self) -> &ScoringParams {
        &self.params
    }

    /// The bundle's `__metadata__` map.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Row `i` dequantized to f32. Panics if `i >= n_items()`.
    pub fn dequantized_row(&self, i: usize) -> Vec<f32> {
        let s = self.scale[i];
        self.row(i).iter().map(|&q| f32::from(q) * s).collect()
    }

    /// Every tensor of the file, in ascending byte order of name (unknown ones included, with
    /// `known: false`; `offset` gives the file order).
    pub fn tensors(&self) -> &[TensorSummary] {
        &self.tensors
    }

    /// The bundle's bytes, as loaded (the views above borrow from these).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Size of the whole file in bytes.
    pub fn file_len(&self) -> usize {
        self.bytes.len()
    }

    /// Length of the safetensors header JSON in bytes.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Whether the digest was verified on load (false when loaded with `verify_digest: false`).
    pub fn digest_verified(&self) -> bool {
        self.digest_verified
    }

    /// Category of item `i` (an index into [`Bundle::category_names`]); `None` when the bundle
    /// has no categories, the item has none (−1), or `i` is out of range.
    pub fn category(&self, i: usize) -> Option<u32> {
        let cats = self.categories.as_ref()?;
        u32::try_from(*cats.item.get(i)?).ok()
    }

    /// Category names (`cat_names`), or `None` when the bundle has no categories.
    pub fn category_names(&self) -> Option<&[String]> {
        self.categories.as_ref().map(|c| c.names.as_slice())
    }

    /// Number of categories (0 when the bundle has none).
    pub fn n_categories(&self) -> usize {
        self.category_names().map_or(0, <[String]>::len)
    }

    /// Price of item `i`; `None` when the bundle has no prices, the price is unknown (−1), or `i`
    /// is out of range.
    pub fn price(&self, i: usize) -> Option<f32> {
        let p = *self.prices.as_ref()?.get(i)?;
        (p >= 0.0).then_some(p)
    }

    /// Whether the bundle has neighbour lists.
    pub fn has_neighbours(&self) -> bool {
        self.neighbours.is_some()
    }

    /// Item `i`'s neighbours as `(row, weight)` pairs, read from the bundle's bytes; empty when
    /// the bundle has no lists or `i` is out of range. Rows are `< n_items()` and never `i`.
    pub fn neighbours(&self, i: usize) -> Neighbours<'_> {
        let empty = Neighbours {
            items: &[],
            weights: &[],
            item_width: 4,
            scale: 0.0,
        };
        let Some(n) = &self.neighbours else {
            return empty;
        };
        let (Some(&s), Some(&e)) = (n.offsets.get(i), n.offsets.get(i.saturating_add(1))) else {
            return empty;
        };
        let (s, e) = (s as usize, e as usize);
        let items = self
            .bytes
            .get(n.items.clone())
            .and_then(|b| b.get(s * n.item_width..e * n.item_width));
        let weights = self.bytes.get(n.weights.clone()).and_then(|b| b.get(s..e));
        match (items, weights) {
            (Some(items), Some(weights)) => Neighbours {
                items,
                weights,
                item_width: n.item_width,
                scale: n.scale,
            },
            _ => empty,
        }
    }

    /// Total number of neighbour entries (0 without lists).
    pub fn n_neighbour_entries(&self) -> usize {
        self.neighbours
            .as_ref()
            .and_then(|n| n.offsets.last())
            .map_or(0, |&x| x as usize)
    }

    /// Weight of the session event at position `k` from the newest (`k = 0` newest), if the
    /// bundle has `session_pos_weights`.
    pub fn session_pos_weights(&self) -> Option<&[f32]> {
        self.session_pos_weights.as_deref()
    }

    /// The session readout `W` (d × d, row-major), if the bundle has `session_readout`: the
    /// query scored against the items is `W · profile`, normalized.
    pub fn session_readout(&self) -> Option<&[f32]> {
        self.session_readout.as_deref()
    }

    /// The ranking head as (feature names, weights), if present. Which names are meaningful is
    /// up to the scorer.
    pub fn head(&self) -> Option<(&[String], &[f32])> {
        self.head.as_ref().map(|h| (h.features(), h.weights()))
    }

    /// The ranking head, if present.
    pub fn ranking_head(&self) -> Option<&RankingHead> {
        self.head.as_ref()
    }

    /// Context × category weights, if present.
    pub fn ctx_weights(&self) -> Option<&ContextWeights> {
        self.ctx.as_ref()
    }
}

/// The popularity prior in [0, 1] the engine adds to scores: `ln(1 + pop) / ln(1 + max pop)`.
pub fn popularity_prior(pop: &[f32]) -> Vec<f32> {
    let max = pop.iter().copied().fold(0.0f32, f32::max);
    let denom = (1.0 + max).ln();
    if denom <= 0.0 || !denom.is_finite() {
        return vec![0.0; pop.len()];
    }
    pop.iter().map(|&p| (1.0 + p).ln() / denom).collect()
}
