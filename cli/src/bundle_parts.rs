//! A loaded bundle back into the writer's parts (`BundleParts`), so `vitrine catalog update` and
//! `vitrine train --warm-start` can change a bundle and write it again. Vectors are dequantized
//! (the writer's quantization gives the same int8 rows back), neighbour weights decoded; the
//! tensors the engine does not read (catalog records, content tower) are carried as they are.

use anyhow::{bail, Result};
use vitrine::bundle::{
    param_keys, Bundle, BundleParts, CategoryParts, CompactParts, ContextParts, ExtraDtype,
    ExtraTensor, FloatDtype, HeadParts, NeighbourKind, KNOWN_TENSORS,
};

/// Metadata keys the writer sets itself (never copied; `quant.mean_cosine` is: it describes the
/// original vectors, which the dequantized ones would not).
const WRITER_KEYS: [&str; 14] = [
    "format",
    "ids.coding",
    "pop.log1p_max",
    "pq.unit_norm",
    "trend.log1p_max",
    "format_version",
    "digest",
    "n_items",
    "dim",
    "nbr.scale",
    "cop.scale",
    "head.features",
    "ctx.features",
    "required",
];

/// The parts of `bundle` (every row, as loaded).
pub fn parts_of(bundle: &Bundle) -> Result<BundleParts> {
    let n = bundle.n_items();
    let d = bundle.dim();
    let mut embeddings = Vec::with_capacity(n * d);
    for i in 0..n {
        embeddings.extend(bundle.dequantized_row(i));
    }
    let metadata = bundle
        .metadata()
        .iter()
        .filter(|(k, _)| {
            !WRITER_KEYS.contains(&k.as_str()) && !param_keys::ALL.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let lists = |kind| {
        bundle.has_lists(kind).then(|| {
            (0..n)
                .map(|i| bundle.neighbour_list(kind, i).collect())
                .collect()
        })
    };
    let mut extra = Vec::new();
    for t in bundle.tensors().iter().filter(|t| !t.known) {
        if KNOWN_TENSORS.contains(&t.name.as_str()) {
            continue;
        }
        let dtype = match t.dtype.as_str() {
            "U8" => ExtraDtype::U8,
            "I8" => ExtraDtype::I8,
            "F32" => ExtraDtype::F32,
            other => bail!(
                "tensor '{}' has dtype {other}, which this tool cannot carry over",
                t.name
            ),
        };
        extra.push(ExtraTensor {
            name: t.name.clone(),
            dtype,
            shape: t.shape.clone(),
            data: bundle.bytes()[t.offset..t.offset + t.bytes].to_vec(),
        });
    }
    let scale_dtype = match bundle.tensors().iter().find(|t| t.name == "item_scale") {
        Some(t) if t.dtype == "F16" => FloatDtype::F16,
        _ => FloatDtype::F32,
    };
    Ok(BundleParts {
        // A compact bundle stays compact, with its own codebooks (its reconstructed rows encode to
        // the same codes).
        compact: bundle.pq().map(|pq| CompactParts {
            subspaces: pq.subspaces(),
            centroids: pq.centroids(),
            codebooks: pq.codebooks().to_vec(),
            codes: None,
        }),
        ids: bundle.ids().to_vec(),
        dim: d,
        embeddings,
        popularity: bundle.popularity().to_vec(),
        params: Some(bundle.params().clone()),
        metadata,
        scale_dtype,
        categories: bundle.category_names().map(|names| CategoryParts {
            names: names.to_vec(),
            item: (0..n).map(|i| bundle.category(i)).collect(),
        }),
        prices: bundle
            .tensors()
            .iter()
            .any(|t| t.name == "item_price")
            .then(|| (0..n).map(|i| bundle.price(i)).collect()),
        neighbours: lists(NeighbourKind::CoOccurrence),
        co_purchases: lists(NeighbourKind::CoPurchase),
        availability: (!bundle.unavailable().is_empty()
            || bundle.tensors().iter().any(|t| t.name == "item_avail"))
        .then(|| (0..n).map(|i| bundle.is_available(i)).collect()),
        trend: bundle.trend().map(<[f32]>::to_vec),
        extra,
        session_pos_weights: bundle.session_pos_weights().map(<[f32]>::to_vec),
        session_readout: bundle.session_readout().map(<[f32]>::to_vec),
        head: bundle.head().map(|(f, w)| HeadParts {
            features: f.to_vec(),
            weights: w.to_vec(),
        }),
        context: bundle.ctx_weights().map(|c| ContextParts {
            features: c.features().to_vec(),
            weights: (0..c.features().len())
                .flat_map(|f| c.row(f).unwrap_or(&[]).to_vec())
                .collect(),
        }),
    })
}

/// An extra tensor's bytes by name, if the bundle has it.
pub fn extra_bytes<'a>(bundle: &'a Bundle, name: &str) -> Option<&'a [u8]> {
    bundle
        .tensors()
        .iter()
        .find(|t| t.name == name)
        .map(|t| &bundle.bytes()[t.offset..t.offset + t.bytes])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bundle written from its own parts is the same bundle, byte for byte.
    #[test]
    fn parts_round_trip() {
        let mut parts = BundleParts {
            ids: (0..5).map(|i| format!("p{i}")).collect(),
            dim: 3,
            embeddings: (0..15).map(|x| (x as f32 * 0.37).sin()).collect(),
            popularity: vec![5.0, 4.0, 3.0, 2.0, 1.0],
            categories: Some(CategoryParts {
                names: vec!["a".into(), "b".into()],
                item: vec![Some(0), Some(1), None, Some(0), Some(1)],
            }),
            prices: Some(vec![Some(1.5), None, Some(3.0), Some(4.0), None]),
            neighbours: Some(vec![
                vec![(1, 1.0)],
                vec![(0, 0.5), (2, 0.25)],
                vec![],
                vec![],
                vec![],
            ]),
            co_purchases: Some(vec![vec![], vec![], vec![(3, 1.0)], vec![], vec![]]),
            availability: Some(vec![true, true, false, true, true]),
            trend: Some(vec![0.5, 0.0, 1.0, 2.0, 0.0]),
            session_pos_weights: Some(vec![1.0, 0.5]),
            params: Some(Default::default()),
            ..Default::default()
        };
        parts.metadata.insert("model".into(), "test".into());
        parts.extra.push(ExtraTensor {
            name: "catalog".into(),
            dtype: ExtraDtype::U8,
            shape: vec![2],
            data: b"{}".to_vec(),
        });
        let bytes = vitrine::bundle::write_bundle(&parts).unwrap();
        let b = Bundle::from_bytes(bytes.clone()).unwrap();
        let again = vitrine::bundle::write_bundle(&parts_of(&b).unwrap()).unwrap();
        assert_eq!(bytes, again);
        assert_eq!(extra_bytes(&b, "catalog"), Some(&b"{}"[..]));
    }
}
