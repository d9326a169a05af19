//! `vitrine train --catalog`: the catalog joins the trained model. Categories (the top step of each
//! product's path), prices and availability come from it; the content tower is fitted on the
//! trained vectors (`content.rs`); products with few interactions blend their vector with their
//! content vector; products of the catalog without any event become rows with their content
//! vector; the catalog records are stored in the bundle for the page (`catalog` tensor).

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use vitrine::bundle::{BundleParts, CategoryParts, ExtraDtype, ExtraTensor};
use vitrine::catalog::CATALOG_TENSOR;

use crate::catalog::{Catalog, Product};
use crate::content::ContentTower;

/// Category names (top steps of the catalog's paths, sorted) and, for each of `ids`, its category.
pub fn categories(catalog: &Catalog, ids: &[String]) -> CategoryParts {
    let names: Vec<String> = catalog
        .products
        .iter()
        .filter_map(|p| p.category.first().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let index: HashMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    let by_id = catalog.index();
    let item = ids
        .iter()
        .map(|id| {
            let p = &catalog.products[*by_id.get(id.as_str())?];
            index.get(p.category.first()?.as_str()).copied()
        })
        .collect();
    CategoryParts { names, item }
}

/// Attaches `catalog` to trained `parts` (rows = the log's items; categories already set by
/// [`categories`]). Returns report lines.
pub fn attach(
    parts: &mut BundleParts,
    catalog: &Catalog,
    blend: f32,
    cold_scale: Option<f32>,
    seed: u64,
) -> Result<Vec<String>> {
    let d = parts.dim;
    let n_log = parts.ids.len();
    let by_id = catalog.index();
    let row_of: HashMap<String, usize> = parts
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), i))
        .collect();
    let trained: Vec<Option<(&[f32], f32)>> = catalog
        .products
        .iter()
        .map(|p| {
            row_of
                .get(&p.id)
                .map(|&r| (&parts.embeddings[r * d..(r + 1) * d], parts.popularity[r]))
        })
        .collect();
    let mut tower = ContentTower::fit(&catalog.products, &trained, d, blend, seed);
    if let (Some(t), Some(s)) = (&mut tower, cold_scale) {
        t.cold_scale = s;
    }
    let mut report = vec![format!(
        "catalog: {} products, {} of the log's {n_log} items have a record",
        catalog.products.len(),
        trained.iter().filter(|t| t.is_some()).count()
    )];
    let mut blended = 0usize;
    if let Some(t) = &tower {
        report.push(format!(
            "content tower: {} feature keys, ρ = {:.3} (mean cosine to held-out products' vectors), blend τ = {}, new products' scale {}",
            t.keys.len(),
            t.rho,
            t.blend,
            t.cold_scale
        ));
        for r in 0..n_log {
            if let Some(&k) = by_id.get(parts.ids[r].as_str()) {
                let e = parts.embeddings[r * d..(r + 1) * d].to_vec();
                let v = t.blended(&catalog.products[k], &e, parts.popularity[r]);
                if v != e {
                    blended += 1;
                }
                parts.embeddings[r * d..(r + 1) * d].copy_from_slice(&v);
            }
        }
    } else {
        report.push(
            "content tower: none (no catalog feature is shared by two trained products)".into(),
        );
    }
    // Products without events: rows with their content vector (zero without a tower).
    let cat_index: HashMap<String, u32> = parts
        .categories
        .as_ref()
        .map(|c| {
            c.names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i as u32))
                .collect()
        })
        .unwrap_or_default();
    let mut cold = 0usize;
    let mut cold_with_vector = 0usize;
    for p in &catalog.products {
        if row_of.contains_key(&p.id) {
            continue;
        }
        cold += 1;
        let v = tower.as_ref().and_then(|t| t.vector(p));
        cold_with_vector += usize::from(v.is_some());
        parts.ids.push(p.id.clone());
        parts.embeddings.extend(v.unwrap_or_else(|| vec![0.0; d]));
        parts.popularity.push(0.0);
        if let Some(t) = &mut parts.trend {
            t.push(0.0);
        }
        for lists in [&mut parts.neighbours, &mut parts.co_purchases]
            .into_iter()
            .flatten()
        {
            lists.push(Vec::new());
        }
        if let Some(c) = &mut parts.categories {
            c.item
                .push(p.category.first().and_then(|n| cat_index.get(n).copied()));
        }
    }
    report.push(format!(
        "{blended} sparse items blended with their content vector; {cold} catalog products without events added ({cold_with_vector} with a content vector)"
    ));
    let n = parts.ids.len();
    let product = |r: usize| -> Option<&Product> {
        by_id
            .get(parts.ids[r].as_str())
            .map(|&k| &catalog.products[k])
    };
    let prices: Vec<Option<f32>> = (0..n)
        .map(|r| {
            product(r)
                .and_then(Product::effective_price)
                .map(|x| x as f32)
        })
        .collect();
    if prices.iter().any(Option::is_some) {
        parts.prices = Some(prices);
    }
    let avail: Vec<bool> = (0..n)
        .map(|r| product(r).is_none_or(|p| p.availability.recommendable()))
        .collect();
    if avail.iter().any(|a| !a) {
        report.push(format!(
            "{} products out of stock (never recommended)",
            avail.iter().filter(|a| !**a).count()
        ));
        parts.availability = Some(avail);
    }
    let records = Catalog::to_jsonl((0..n).filter_map(product));
    parts.extra.push(ExtraTensor {
        name: CATALOG_TENSOR.into(),
        dtype: ExtraDtype::U8,
        shape: vec![records.len()],
        data: records,
    });
    if let Some(t) = tower {
        let (tensors, meta) = t.to_parts();
        parts.extra.extend(tensors);
        parts.metadata.extend(meta);
    }
    Ok(report)
}
