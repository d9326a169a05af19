//! A validated, loaded bundle ([`Bundle`]) and its accessors.

use std::borrow::Cow;
use std::ops::Range;

use ndarray::ArrayView2;

use super::category_column::CategoryColumn;
use super::f32_column::{F32Column, Values};
use super::format::BundleOptions;
use super::id_index;
use super::metadata::Metadata;
use super::params::ScoringParams;
use super::pq::Pq;
use super::read;
use super::tables::{
    Categories, ContextWeights, NeighbourKind, NeighbourLists, RankingHead, TensorSummary,
};
use crate::error::BundleError;

/// A validated bundle. Owns its bytes; the embedding matrix and the neighbour lists are borrowed
/// from them.
#[derive(Debug)]
pub struct Bundle {
    pub(super) bytes: Vec<u8>,
    pub(super) emb: Range<usize>,
    /// The embedding matrix once a catalog update added rows (`None`: read in place from
    /// `bytes[emb]`).
    pub(super) emb_owned: Option<Vec<i8>>,
    /// A compact bundle's product-quantized vectors (then `emb` is empty and `scale` too).
    pub(super) pq: Option<Pq>,
    pub(super) n_items: usize,
    /// Rows that came from the file (rows past it were added by catalog updates).
    pub(super) n_base: usize,
    pub(super) dim: usize,
    /// Per-row int8 scales (empty for a compact bundle) and popularity: in place in `bytes` when
    /// the file allows ([`F32Column`]); a compact bundle's one-byte popularity decoded when read.
    pub(super) scale: F32Column,
    pub(super) pop: Values,
    pub(super) prior: Vec<f32>,
    pub(super) ids: super::id_list::IdList,
    pub(super) index: id_index::IdIndex,
    pub(super) params: ScoringParams,
    pub(super) metadata: Metadata,
    pub(super) tensors: Vec<TensorSummary>,
    pub(super) header_len: usize,
    pub(super) digest_verified: bool,
    pub(super) categories: Option<Categories>,
    pub(super) prices: Option<Vec<f32>>,
    pub(super) neighbours: Option<NeighbourLists>,
    pub(super) co_purchases: Option<NeighbourLists>,
    /// Per row: may it be recommended (`item_avail`, then catalog updates). `None`: all may.
    pub(super) avail: Option<Vec<bool>>,
    /// The file's own availability, categories and prices of its rows, kept from the first catalog
    /// update on: every update is relative to the file (`bundle::overlay`), so a row it does not
    /// list returns to these.
    pub(super) file_rows: Option<Box<FileRows>>,
    /// The rows that may not be recommended, ascending (derived from `avail`).
    pub(super) unavailable: Vec<u32>,
    /// Recency-weighted counts (`item_trend`) and their prior in [0, 1].
    pub(super) trend: Option<Vec<f32>>,
    pub(super) trend_prior: Option<Vec<f32>>,
    pub(super) session_pos_weights: Option<Vec<f32>>,
    pub(super) session_readout: Option<Vec<f32>>,
    pub(super) head: Option<RankingHead>,
    pub(super) ctx: Option<ContextWeights>,
}

/// The bundle file's own per-row data that a catalog update may override (rows `0..n_base`):
/// what a row the current update does not list returns to.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FileRows {
    /// `item_avail` of the file (`None`: every row available).
    pub(super) avail: Option<Vec<bool>>,
    /// `item_cat` of the file (`None`: no categories).
    pub(super) categories: Option<CategoryColumn>,
    /// `item_price` of the file (`None`: no prices).
    pub(super) prices: Option<Vec<f32>>,
    /// Whether the overlays applied are shards (additive) rather than catalog updates
    /// (cumulative): the two never mix on one loaded bundle.
    pub(super) shards: bool,
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
        let b = Self::read_any(bytes, options)?;
        match b.metadata.get(super::format::DELTA_BASE_KEY) {
            Some(base) => Err(BundleError::Metadata {
                key: super::format::DELTA_BASE_KEY.into(),
                value: base.chars().take(80).collect(),
                why: "this file is a catalog update: apply it to the bundle it names (applyUpdate)"
                    .into(),
            }),
            None => Ok(b),
        }
    }

    /// Reads a catalog update (a bundle naming its base, see `bundle::overlay`), or any bundle;
    /// digest verified.
    pub fn from_bytes_delta(bytes: Vec<u8>) -> Result<Self, BundleError> {
        Self::from_bytes_any_with(bytes, &BundleOptions::default())
    }

    /// Reads a bundle or a catalog update ([`Bundle::is_delta`] tells which) with explicit
    /// options: for tools that report on either (`vitrine inspect`).
    pub fn from_bytes_any_with(
        bytes: Vec<u8>,
        options: &BundleOptions,
    ) -> Result<Self, BundleError> {
        Self::read_any(bytes, options)
    }

    fn read_any(bytes: Vec<u8>, options: &BundleOptions) -> Result<Self, BundleError> {
        let parsed = read::read(&bytes, options)?;
        let unavailable = unavailable_rows(parsed.avail.as_deref());
        let mut prior = parsed.pop.get(&bytes).into_owned();
        prior_in_place(&mut prior);
        Ok(Self {
            bytes,
            emb: parsed.emb,
            emb_owned: None,
            pq: parsed.pq,
            n_items: parsed.n_items,
            n_base: parsed.n_items,
            dim: parsed.dim,
            prior,
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
            co_purchases: parsed.co_purchases,
            avail: parsed.avail,
            file_rows: None,
            unavailable,
            trend_prior: parsed.trend.as_deref().map(popularity_prior),
            trend: parsed.trend,
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
        match &self.emb_owned {
            Some(rows) => bytemuck::cast_slice(rows),
            None => self.bytes.get(self.emb.clone()).unwrap_or_default(),
        }
    }

    /// The int8 embedding matrix `[n, d]`, borrowed from the bundle's bytes (no copy). A compact
    /// bundle has none (an error: use [`Bundle::dequantized_row`] or an `ItemQuery`).
    pub fn embeddings(&self) -> Result<ArrayView2<'_, i8>, BundleError> {
        if self.pq.is_some() {
            return Err(BundleError::MissingTensor("item_emb"));
        }
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
    /// Empty for a compact bundle (it has no int8 rows: see [`Bundle::is_compact`]).
    #[inline]
    pub fn row(&self, i: usize) -> &[i8] {
        if self.pq.is_some() {
            return &[];
        }
        let start = i * self.dim;
        bytemuck::cast_slice(&self.emb_bytes()[start..start + self.dim])
    }

    /// Per-row quantization scales (decoded to f32 if stored as F16); empty for a compact bundle.
    pub fn scales(&self) -> &[f32] {
        self.scale.values(&self.bytes)
    }

    /// Popularity of each item, as stored: borrowed when the file holds it as F32, decoded from F16
    /// or a compact bundle's one byte per item (a vector of its own: read it once, not per item).
    pub fn popularity(&self) -> Cow<'_, [f32]> {
        self.pop.get(&self.bytes)
    }

    /// Popularity prior in [0, 1]: `ln(1 + pop) / ln(1 + max pop)`.
    pub fn prior(&self) -> &[f32] {
        &self.prior
    }

    /// Item ids in row order.
    pub fn ids(&self) -> &super::id_list::IdList {
        &self.ids
    }

    /// Row of an item id.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.index.get(&self.ids, id)
    }

    /// [`Bundle::index_of`] of each of `ids`, in order; batched so that the lookups' cache misses
    /// overlap (a page's candidate list).
    pub fn indices_of<S: AsRef<str>>(&self, ids: &[S]) -> Vec<Option<u32>> {
        self.index.get_many(&self.ids, ids)
    }

    /// Scoring parameters from the metadata.
    pub fn params(&self) -> &ScoringParams {
        &self.params
    }

    /// The bundle's `__metadata__` map.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Row `i` dequantized to f32 (a compact bundle's: the reconstruction from its codes). Panics
    /// if `i >= n_items()`.
    pub fn dequantized_row(&self, i: usize) -> Vec<f32> {
        if let Some(pq) = &self.pq {
            let mut v = vec![0.0f32; self.dim];
            pq.decode_into(self.codes(i), &mut v);
            let f = pq.row_factor(i);
            if f != 1.0 {
                v.iter_mut().for_each(|x| *x *= f);
            }
            return v;
        }
        let s = self.scales()[i];
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
        self.categories.as_ref()?.item.get(i)
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
        self.neighbour_list(NeighbourKind::CoOccurrence, i)
    }

    /// Whether the bundle has lists of this kind.
    pub fn has_lists(&self, kind: NeighbourKind) -> bool {
        self.lists(kind).is_some()
    }

    fn lists(&self, kind: NeighbourKind) -> Option<&NeighbourLists> {
        match kind {
            NeighbourKind::CoOccurrence => self.neighbours.as_ref(),
            NeighbourKind::CoPurchase => self.co_purchases.as_ref(),
        }
    }

    /// Item `i`'s list of one kind (see [`Bundle::neighbours`]).
    pub fn neighbour_list(&self, kind: NeighbourKind, i: usize) -> Neighbours<'_> {
        let empty = Neighbours {
            items: &[],
            weights: &[],
            item_width: 4,
            scale: 0.0,
        };
        let Some(n) = self.lists(kind) else {
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

    /// Whether item `i` may be recommended (in stock, still sold): `item_avail` and catalog
    /// updates. Unavailable items are never a result (pins included); they still count in a
    /// shopper's history.
    pub fn is_available(&self, i: usize) -> bool {
        self.avail
            .as_ref()
            .is_none_or(|a| a.get(i).copied().unwrap_or(false))
    }

    /// The rows that may not be recommended, ascending.
    pub fn unavailable(&self) -> &[u32] {
        &self.unavailable
    }

    /// Recency-weighted counts (`item_trend`), if the bundle has them.
    pub fn trend(&self) -> Option<&[f32]> {
        self.trend.as_deref()
    }

    /// What `trending()` ranks by, in [0, 1]: `ln(1 + trend) / ln(1 + max trend)`, or the
    /// popularity prior for a bundle without `item_trend`.
    pub fn trend_prior(&self) -> &[f32] {
        self.trend_prior.as_deref().unwrap_or(&self.prior)
    }

    /// Rows that came from the bundle file (rows from `n_base()` on were added by catalog
    /// updates).
    pub fn n_base(&self) -> usize {
        self.n_base
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
    let mut prior = pop.to_vec();
    prior_in_place(&mut prior);
    prior
}

/// [`popularity_prior`] in place: `values` holds popularity, then the prior (the same bits).
pub(super) fn prior_in_place(values: &mut [f32]) {
    let max = values.iter().copied().fold(0.0f32, f32::max);
    let denom = (1.0 + max).ln();
    if denom <= 0.0 || !denom.is_finite() {
        values.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    values.iter_mut().for_each(|v| *v = (1.0 + *v).ln() / denom);
}

/// The rows an availability vector marks unavailable, ascending.
pub(super) fn unavailable_rows(avail: Option<&[bool]>) -> Vec<u32> {
    avail.map_or_else(Vec::new, |a| {
        a.iter()
            .enumerate()
            .filter(|(_, &ok)| !ok)
            .map(|(i, _)| i as u32)
            .collect()
    })
}
