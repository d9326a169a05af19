//! The decoded parts of a bundle that are not the embedding matrix: the tensor list, the ranking
//! head, context weights, categories and neighbour lists.

use super::category_column::CategoryColumn;
use std::ops::Range;

use ndarray::ArrayView2;

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
    pub(super) features: Vec<String>,
    pub(super) weights: Vec<f32>,
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
    pub(super) features: Vec<String>,
    pub(super) n_categories: usize,
    /// Row-major `[features.len(), n_categories]`.
    pub(super) weights: Vec<f32>,
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

/// Item categories: per-item index (narrow, see [`CategoryColumn`]) and names.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Categories {
    pub(super) item: CategoryColumn,
    pub(super) names: Vec<String>,
}

/// Which neighbour lists: both kinds have the same layout (CSR over item rows, quantized weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighbourKind {
    /// `nbr_*`: items seen near each other in sessions (item-to-item, the session neighbour term).
    CoOccurrence,
    /// `cop_*`: items bought (added to a cart or purchased) in the same session
    /// (frequently-bought-together).
    CoPurchase,
}

impl NeighbourKind {
    /// The offsets, items and weights tensors.
    pub const fn tensors(self) -> [&'static str; 3] {
        match self {
            Self::CoOccurrence => ["nbr_offsets", "nbr_items", "nbr_weights"],
            Self::CoPurchase => ["cop_offsets", "cop_items", "cop_weights"],
        }
    }

    /// The metadata key of the weights' scale.
    pub const fn scale_key(self) -> &'static str {
        match self {
            Self::CoOccurrence => "nbr.scale",
            Self::CoPurchase => "cop.scale",
        }
    }
}

/// Sparse per-item neighbour lists (CSR), borrowed from the bundle's bytes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NeighbourLists {
    /// `n + 1` offsets into the lists, validated: 0, non-decreasing, last = nnz.
    pub(super) offsets: Vec<u32>,
    /// Byte range of `nbr_items` in the bundle.
    pub(super) items: Range<usize>,
    /// 2 (U16) or 4 (U32).
    pub(super) item_width: usize,
    /// Byte range of `nbr_weights` in the bundle.
    pub(super) weights: Range<usize>,
    /// `nbr.scale`: weight = q · scale.
    pub(super) scale: f32,
}
