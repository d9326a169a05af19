//! Writing a catalog delta: a small bundle (read by the same reader, digest and all) whose
//! metadata names the bundle file it applies to, and whose rows are the products that differ from
//! it (see `bundle::overlay` for the semantics). Natively only (`vitrine catalog update`, tests).

use std::collections::BTreeMap;

use crate::bundle::{
    write_bundle, Bundle, BundleParts, CategoryParts, ExtraDtype, ExtraTensor, DELTA_BASE_KEY,
    DELTA_N_BASE_KEY,
};
use crate::error::BundleError;

/// One product a delta lists.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaItem {
    pub id: String,
    /// The vector of a new product (`dim` values); `None` for a product of the base file (its
    /// trained vector stays; the delta stores zeros).
    pub embedding: Option<Vec<f32>>,
    /// Popularity (new products: 0 unless known).
    pub popularity: f32,
    pub category: Option<String>,
    pub price: Option<f32>,
    /// False: never recommended (out of stock, or no longer sold).
    pub available: bool,
}

/// What [`write_delta`] needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeltaParts {
    /// The digest the base bundle file records, and its rows.
    pub base_digest: String,
    pub n_base: usize,
    pub dim: usize,
    /// At least one product (a bundle has at least one row).
    pub items: Vec<DeltaItem>,
    /// The listed products' catalog records (JSON Lines), for the page; empty: none.
    pub catalog: Vec<u8>,
}

/// The name of the catalog records tensor (in bundles and deltas).
pub const CATALOG_TENSOR: &str = "catalog";

/// Serializes a delta (reproducibly, with its digest).
pub fn write_delta(parts: &DeltaParts) -> Result<Vec<u8>, BundleError> {
    let d = parts.dim;
    let mut embeddings = Vec::with_capacity(parts.items.len() * d);
    for (i, item) in parts.items.iter().enumerate() {
        match &item.embedding {
            Some(v) if v.len() == d => embeddings.extend_from_slice(v),
            Some(_) => {
                return Err(BundleError::Value {
                    name: "item_emb".into(),
                    index: i,
                    why: format!("expected {d} values"),
                })
            }
            None => embeddings.extend(std::iter::repeat_n(0.0, d)),
        }
    }
    let mut names: Vec<String> = Vec::new();
    let mut item_cat = Vec::with_capacity(parts.items.len());
    for item in &parts.items {
        item_cat.push(
            item.category
                .as_ref()
                .map(|c| match names.iter().position(|n| n == c) {
                    Some(i) => i as u32,
                    None => {
                        names.push(c.clone());
                        (names.len() - 1) as u32
                    }
                }),
        );
    }
    let mut metadata = BTreeMap::new();
    metadata.insert(DELTA_BASE_KEY.into(), parts.base_digest.clone());
    metadata.insert(DELTA_N_BASE_KEY.into(), parts.n_base.to_string());
    let bundle = BundleParts {
        ids: parts.items.iter().map(|i| i.id.clone()).collect(),
        dim: d,
        embeddings,
        popularity: parts.items.iter().map(|i| i.popularity).collect(),
        metadata,
        categories: (!names.is_empty()).then_some(CategoryParts {
            names,
            item: item_cat,
        }),
        prices: parts
            .items
            .iter()
            .any(|i| i.price.is_some())
            .then(|| parts.items.iter().map(|i| i.price).collect()),
        availability: parts
            .items
            .iter()
            .any(|i| !i.available)
            .then(|| parts.items.iter().map(|i| i.available).collect()),
        extra: if parts.catalog.is_empty() {
            Vec::new()
        } else {
            vec![ExtraTensor {
                name: CATALOG_TENSOR.into(),
                dtype: ExtraDtype::U8,
                shape: vec![parts.catalog.len()],
                data: parts.catalog.clone(),
            }]
        },
        ..Default::default()
    };
    write_bundle(&bundle)
}

/// Reads a delta (a bundle that names its base), digest verified.
pub fn read_delta(bytes: Vec<u8>) -> Result<Bundle, BundleError> {
    let b = Bundle::from_bytes_delta(bytes)?;
    if !b.is_delta() {
        return Err(BundleError::MissingMetadata(DELTA_BASE_KEY));
    }
    Ok(b)
}
