//! Compact bundles (format version 3): product-quantized vectors scored by lookup tables, coded
//! ids, log-quantized popularity and trending counts. What a compact bundle holds and how the
//! engine scores it, one rejection per way a compact part can be hostile, catalog updates keeping
//! it compact, and hostile bytes never panicking (proptest).

#![cfg(not(target_arch = "wasm32"))]

mod bundle_fixtures;

use std::collections::BTreeMap;

use bundle_fixtures::*;
use proptest::prelude::*;
use vitrine::bundle::{write_bundle, BundleOptions, BundleParts, CompactParts, ItemQuery};
use vitrine::session::{Event, EventKind};
use vitrine::{Bundle, BundleError, RecommendRequest};

/// Codebooks made of the first `k` rows of the parts (enough to test the format; the CLI trains
/// real ones).
fn codebooks(parts: &BundleParts, m: usize, k: usize) -> CompactParts {
    CompactParts {
        subspaces: m,
        centroids: k,
        codebooks: parts.embeddings[..k * parts.dim].to_vec(),
        codes: None,
    }
}

/// `full_parts` (every optional part) plus trending counts and availability, compact.
fn compact_parts(m: usize, k: usize) -> BundleParts {
    let mut p = full_parts(3, 4, 8);
    let n = p.ids.len();
    p.trend = Some((0..n).map(|i| i as f32 * 0.5).collect());
    p.availability = Some((0..n).map(|i| i != 5).collect());
    p.compact = Some(codebooks(&p, m, k));
    p
}

/// A written bundle back into tensors and metadata, to change by hand.
fn take_apart(bytes: &[u8]) -> (BTreeMap<String, String>, Vec<T>) {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let metadata: BTreeMap<String, String> = meta
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "digest")
        .collect();
    let tensors = st
        .tensors()
        .into_iter()
        .map(|(name, v)| {
            let dtype: &'static str = match v.dtype() {
                safetensors::Dtype::U8 => "U8",
                safetensors::Dtype::I8 => "I8",
                safetensors::Dtype::U16 => "U16",
                safetensors::Dtype::U32 => "U32",
                safetensors::Dtype::I32 => "I32",
                safetensors::Dtype::F16 => "F16",
                _ => "F32",
            };
            t(&name, dtype, v.shape(), v.data().to_vec())
        })
        .collect();
    (metadata, tensors)
}

/// The compact bundle with one tensor replaced (or added, or with `None` data removed) and one
/// metadata key changed, re-signed.
fn edited(tensor: Option<(&str, Option<T>)>, key: Option<(&str, Option<&str>)>) -> Vec<u8> {
    let (mut meta, mut ts) = take_apart(&write_bundle(&compact_parts(4, 6)).unwrap());
    if let Some((name, replacement)) = tensor {
        ts.retain(|t| t.name != name);
        ts.extend(replacement);
    }
    if let Some((k, v)) = key {
        match v {
            Some(v) => meta.insert(k.into(), v.into()),
            None => meta.remove(k),
        };
    }
    assemble(&meta, &ts, true)
}

#[test]
fn a_compact_bundle_holds_codes_coded_ids_and_byte_values() {
    let parts = compact_parts(4, 6);
    let full = write_bundle(&{
        let mut p = parts.clone();
        p.compact = None;
        p
    })
    .unwrap();
    let bytes = write_bundle(&parts).unwrap();
    assert!(bytes.len() < full.len());
    let b = Bundle::from_bytes(bytes).unwrap();
    let f = Bundle::from_bytes(full).unwrap();
    assert_eq!(b.metadata()["format_version"], "3");
    assert_eq!(b.metadata()["ids.coding"], "front");
    assert!(b.is_compact() && !f.is_compact());
    assert_eq!(b.ids(), f.ids());
    assert_eq!((b.n_items(), b.dim()), (12, 8));
    let pq = b.pq().unwrap();
    assert_eq!((pq.subspaces(), pq.centroids()), (4, 6));
    // The first six rows are the centroids themselves (F16-rounded): they reconstruct exactly.
    for i in 0..6 {
        for (x, y) in b.dequantized_row(i).iter().zip(&parts.embeddings[i * 8..]) {
            assert_eq!(*x, half::f16::from_f32(*y).to_f32());
        }
    }
    // One byte of log scale: the prior within 1/510 of the exact one.
    for (p, q) in b.prior().iter().zip(f.prior()) {
        assert!((p - q).abs() <= 1.0 / 510.0 + 1e-6, "{p} vs {q}");
    }
    for (x, y) in b.trend_prior().iter().zip(f.trend_prior()) {
        assert!((x - y).abs() <= 1.0 / 510.0 + 1e-6);
    }
    assert!(!b.is_available(5) && b.is_available(4));
    assert_eq!(
        b.embeddings().unwrap_err(),
        BundleError::MissingTensor("item_emb")
    );
    assert!(b.row(0).is_empty() && b.scales().is_empty());
    // Everything else is the same.
    assert_eq!(b.category_names(), f.category_names());
    assert_eq!(
        b.neighbours(3).collect::<Vec<_>>(),
        f.neighbours(3).collect::<Vec<_>>()
    );
}

#[test]
fn compact_categories_take_the_narrowest_dtype() {
    let dtype_of_item_cat = |parts: &BundleParts| {
        let (_, ts) = take_apart(&write_bundle(parts).unwrap());
        let t = ts.into_iter().find(|t| t.name == "item_cat").unwrap();
        (t.dtype, t.data.len())
    };
    let mut parts = compact_parts(4, 6);
    let n = parts.ids.len();
    let full = Bundle::from_bytes(
        write_bundle(&{
            let mut p = parts.clone();
            p.compact = None;
            p
        })
        .unwrap(),
    )
    .unwrap();
    // Three categories: one byte per item, "none" (every 7th item) as 255.
    assert_eq!(dtype_of_item_cat(&parts), ("U8", n));
    let b = Bundle::from_bytes(write_bundle(&parts).unwrap()).unwrap();
    for i in 0..n {
        assert_eq!(b.category(i), full.category(i), "item {i}");
    }
    assert_eq!(b.category(6), None);
    // 255 names no longer leave room for the U8 "none": two bytes per item.
    let cats = parts.categories.as_mut().unwrap();
    cats.names = (0..255).map(|c| format!("cat {c}")).collect();
    cats.item[0] = Some(254);
    parts.context = None; // its weights are per category
    assert_eq!(dtype_of_item_cat(&parts), ("U16", 2 * n));
    let b = Bundle::from_bytes(write_bundle(&parts).unwrap()).unwrap();
    assert_eq!((b.category(0), b.category(6)), (Some(254), None));
    // Not compact: still I32, readable by version 1 and 2 readers.
    parts.compact = None;
    assert_eq!(dtype_of_item_cat(&parts), ("I32", 4 * n));
}

#[test]
fn numeric_ids_are_delta_coded() {
    let mut p = clustered(2, 3, 4);
    p.ids = ["10", "11", "12", "7", "18446744073709551615", "0"]
        .map(String::from)
        .to_vec();
    p.compact = Some(codebooks(&p, 2, 3));
    let b = Bundle::from_bytes(write_bundle(&p).unwrap()).unwrap();
    assert_eq!(b.metadata()["ids.coding"], "delta");
    assert_eq!(b.ids().to_vec(), p.ids.as_slice());
    assert_eq!(b.index_of("7"), Some(3));
    // Ids in ascending order, dense: one byte each.
    p.ids = (1..=6).map(|i| i.to_string()).collect();
    let b = Bundle::from_bytes(write_bundle(&p).unwrap()).unwrap();
    let ids = b.tensors().iter().find(|t| t.name == "item_ids").unwrap();
    assert_eq!(ids.bytes, 6);
}

#[test]
fn lookup_table_scores_are_dot_products_with_the_reconstructions() {
    let b = Bundle::from_bytes(write_bundle(&compact_parts(3, 5)).unwrap()).unwrap();
    let q: Vec<f32> = (0..8).map(|j| (j as f32 * 0.7).sin()).collect();
    let query = b.query_for(&q);
    assert!(matches!(query, ItemQuery::Table(ref t) if t.len() == 3 * 256));
    let mut all = vec![0.0f32; b.n_items()];
    b.query_dot_all(&query, &mut all);
    for (i, &s) in all.iter().enumerate() {
        let exact: f32 = b
            .dequantized_row(i)
            .iter()
            .zip(&q)
            .map(|(a, b)| a * b)
            .sum();
        assert!((s - exact).abs() < 1e-5, "item {i}: {s} vs {exact}");
        assert_eq!(s.to_bits(), b.query_dot(&query, i as u32).to_bits());
    }
    // Sub-spaces of uneven width (8 = 3 + 3 + 2) reconstruct whole rows.
    assert_eq!(b.pq().unwrap().bounds(2), 5..8);
}

#[test]
fn the_engine_recommends_from_a_compact_bundle() {
    let mut p = compact_parts(4, 12);
    p.availability = None;
    let full = {
        let mut f = p.clone();
        f.compact = None;
        vitrine::Model::new(Bundle::from_bytes(write_bundle(&f).unwrap()).unwrap())
    };
    // Twelve centroids for twelve rows: every row is its own centroid, so the compact ranking
    // is the int8 one up to rounding.
    let compact = vitrine::Model::new(Bundle::from_bytes(write_bundle(&p).unwrap()).unwrap());
    let settings: vitrine::ShopperOptions =
        serde_json::from_str(r#"{"privacy":{"epsilon":"Infinity"}}"#).unwrap();
    let mut top = Vec::new();
    for model in [&full, &compact] {
        let mut shopper = vitrine::Shopper::new(model, &settings).unwrap();
        for item in [4u32, 5] {
            shopper.track_row(Event {
                kind: EventKind::Click,
                item,
                ts_ms: 0.0,
            });
        }
        let recs = shopper.recommend(
            model,
            &RecommendRequest::new(4).unwrap(),
            0.0,
            &mut vitrine::privacy::OsRandom::new(),
        );
        let ids: Vec<String> = recs
            .rows
            .iter()
            .map(|r| model.bundle().ids()[r.index as usize].to_owned())
            .collect();
        top.push(ids);
    }
    assert_eq!(top[0], top[1]);
    assert!(top[1].iter().all(|id| id.starts_with("c1-")), "{top:?}");
}

#[test]
fn a_catalog_update_keeps_a_compact_bundle_compact() {
    let p = compact_parts(4, 6);
    let bytes = write_bundle(&p).unwrap();
    let mut b = Bundle::from_bytes(bytes.clone()).unwrap();
    let digest = b.recorded_digest().unwrap().to_owned();
    // A delta (int8, as `vitrine catalog update --delta` writes it) with one new product whose
    // vector is row 2's and one changed base row.
    let mut delta = clustered(1, 2, 8);
    delta.ids = vec!["new".into(), "c0-i1".into()];
    delta.embeddings[..8].copy_from_slice(&p.embeddings[16..24]);
    delta.metadata.insert("delta.base".into(), digest);
    delta.metadata.insert("delta.n_base".into(), "12".into());
    let delta = Bundle::from_bytes_delta(write_bundle(&delta).unwrap()).unwrap();
    let report = b.apply_overlay(&delta).unwrap();
    assert_eq!((report.added, report.updated), (1, 1));
    assert!(b.is_compact());
    assert_eq!(b.n_items(), 13);
    // Encoded with the bundle's own codebooks: the same codes as row 2.
    assert_eq!(b.codes(12), b.codes(2));
    assert_eq!(b.dequantized_row(12), b.dequantized_row(2));
    // A compact delta made with the same codebooks (what `vitrine catalog shard` writes for a
    // compact head) is taken too: its rows of the file change only their tables; an int8 bundle
    // refuses one (it would have no int8 rows to copy: crate/tests/engine_shards.rs).
    let mut cd = compact_parts(4, 6);
    cd.metadata
        .insert("delta.base".into(), b.recorded_digest().unwrap().to_owned());
    cd.metadata.insert("delta.n_base".into(), "12".into());
    let cd = Bundle::from_bytes_delta(write_bundle(&cd).unwrap()).unwrap();
    let report = b.apply_overlay(&cd).unwrap();
    assert_eq!((report.added, report.updated), (0, 12));
    assert_eq!(b.n_items(), 13);
    let int8 = Bundle::from_bytes(write_bundle(&clustered(3, 4, 8)).unwrap()).unwrap();
    let mut int8 = int8;
    let mut cd = compact_parts(4, 6);
    cd.metadata.insert(
        "delta.base".into(),
        int8.recorded_digest().unwrap().to_owned(),
    );
    cd.metadata.insert("delta.n_base".into(), "12".into());
    let cd = Bundle::from_bytes_delta(write_bundle(&cd).unwrap()).unwrap();
    assert_eq!(
        int8.apply_overlay(&cd),
        Err(BundleError::MissingTensor("item_emb"))
    );
    assert_eq!(int8.n_items(), 12);
}

// ---------------------------------------------------------------- hostile compact parts

fn u8t(name: &str, shape: &[usize], data: Vec<u8>) -> Option<T> {
    Some(t(name, "U8", shape, data))
}

#[test]
fn hostile_compact_parts_are_rejected() {
    let ok = || Bundle::from_bytes(edited(None, None)).unwrap();
    assert!(ok().is_compact());
    // A code past the centroids (k = 6).
    let mut codes = ok().codes(0).to_vec();
    codes.extend(std::iter::repeat_n(0, 11 * 4));
    codes[2] = 6;
    value_err(
        edited(
            Some(("item_codes", u8t("item_codes", &[12, 4], codes.clone()))),
            None,
        ),
        "item_codes",
        2,
    );
    // A narrow category index past the names (3), or a U16 "none" in a U8 tensor's place.
    let mut cats = vec![0u8; 12];
    cats[4] = 3;
    value_err(
        edited(Some(("item_cat", u8t("item_cat", &[12], cats))), None),
        "item_cat",
        4,
    );
    let mut cats = vec![0u8; 24];
    cats[2..4].copy_from_slice(&7u16.to_le_bytes());
    value_err(
        edited(
            Some(("item_cat", Some(t("item_cat", "U16", &[12], cats)))),
            None,
        ),
        "item_cat",
        1,
    );
    // Codes of the wrong shape (another row count, another sub-space count, more than d).
    shape_err(
        edited(
            Some(("item_codes", u8t("item_codes", &[12, 9], vec![0; 108]))),
            None,
        ),
        "item_codes",
    );
    shape_err(
        edited(
            Some(("item_codes", u8t("item_codes", &[0, 4], vec![]))),
            None,
        ),
        "item_codes",
    );
    // Fewer rows than the metadata and the other per-item tensors say.
    assert!(matches!(
        err(edited(Some(("item_codes", u8t("item_codes", &[11, 4], vec![0; 44]))), None)),
        BundleError::Metadata { ref key, .. } if key == "n_items"
    ));
    assert!(matches!(
        err(edited(
            Some((
                "item_codes",
                Some(t("item_codes", "I8", &[12, 4], vec![0; 48]))
            )),
            None
        )),
        BundleError::Dtype { .. }
    ));
    // Codebooks: missing, wrong shape, too many centroids, not finite.
    assert_eq!(
        err(edited(Some(("pq_codebooks", None)), None)),
        BundleError::MissingTensor("pq_codebooks")
    );
    shape_err(
        edited(
            Some((
                "pq_codebooks",
                Some(t("pq_codebooks", "F32", &[6, 8, 1], f32s(&[0.0; 48]))),
            )),
            None,
        ),
        "pq_codebooks",
    );
    shape_err(
        edited(
            Some((
                "pq_codebooks",
                Some(t("pq_codebooks", "F32", &[257, 8], f32s(&[0.0; 257 * 8]))),
            )),
            None,
        ),
        "pq_codebooks",
    );
    let mut books = vec![0.5f32; 48];
    books[13] = f32::NAN;
    value_err(
        edited(
            Some((
                "pq_codebooks",
                Some(t("pq_codebooks", "F32", &[6, 8], f32s(&books))),
            )),
            None,
        ),
        "pq_codebooks",
        13,
    );
    // Codebooks without codes; int8 rows and codes together.
    assert_eq!(
        err(edited(Some(("item_codes", None)), None)),
        BundleError::MissingTensor("item_codes")
    );
    shape_err(
        edited(
            Some(("item_emb", Some(t("item_emb", "I8", &[12, 8], vec![0; 96])))),
            None,
        ),
        "item_emb",
    );
    // Coded ids: an unknown coding, bytes that do not decode, a duplicate.
    assert!(
        matches!(err(edited(None, Some(("ids.coding", Some("gzip"))))), BundleError::Metadata { ref key, .. } if key == "ids.coding")
    );
    assert!(matches!(
        err(edited(None, Some(("ids.coding", Some("delta"))))),
        BundleError::Ids(_)
    ));
    assert!(matches!(
        err(edited(
            Some(("item_ids", u8t("item_ids", &[2], vec![0x80, 0x80]))),
            None
        )),
        BundleError::Ids(_)
    ));
    let twice: Vec<u8> = (0..12).flat_map(|_| [0u8, 1, b'a']).collect();
    assert!(
        matches!(err(edited(Some(("item_ids", u8t("item_ids", &[36], twice))), None)), BundleError::Ids(ref m) if m.contains("duplicate"))
    );
    // One-byte popularity without its scale, or with a scale beyond what f32 holds.
    assert_eq!(
        err(edited(None, Some(("pop.log1p_max", None)))),
        BundleError::MissingMetadata("pop.log1p_max")
    );
    for bad in ["100", "-1", "NaN", "x"] {
        assert!(
            matches!(err(edited(None, Some(("trend.log1p_max", Some(bad))))), BundleError::Metadata { ref key, .. } if key == "trend.log1p_max")
        );
    }
    assert!(matches!(
        err(edited(
            Some(("item_pop", u8t("item_pop", &[11], vec![0; 11]))),
            None
        )),
        BundleError::Shape { .. }
    ));
    // A newer version than this reader knows.
    match err(edited(None, Some(("format_version", Some("4"))))) {
        BundleError::UnsupportedVersion { supported, .. } => assert_eq!(supported, "1, 2 and 3"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_writer_refuses_bad_codebooks() {
    let mut p = compact_parts(4, 6);
    p.compact.as_mut().unwrap().subspaces = 9; // more sub-spaces than dimensions
    assert!(matches!(write_bundle(&p), Err(BundleError::Shape { .. })));
    let mut p = compact_parts(4, 6);
    p.compact.as_mut().unwrap().codebooks[3] = 1e6; // beyond F16
    assert!(matches!(write_bundle(&p), Err(BundleError::Value { .. })));
    let mut p = compact_parts(4, 6);
    p.compact.as_mut().unwrap().codes = Some(vec![6; 48]); // codes past k
    assert!(matches!(write_bundle(&p), Err(BundleError::Value { .. })));
    let mut p = compact_parts(4, 6);
    p.ids[0] = "x".repeat(300); // longer than front coding holds
    assert!(matches!(write_bundle(&p), Err(BundleError::Ids(_))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Random byte edits and truncations of a compact bundle never panic, with and without digest
    /// verification; whatever loads can be used.
    #[test]
    fn mutated_compact_bundles_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = write_bundle(&compact_parts(4, 6)).unwrap();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let keep = cut.index(bytes.len() + 1).max(bytes.len() * 3 / 4);
        bytes.truncate(keep);
        for options in [BundleOptions::default(), BundleOptions { verify_digest: false, ..BundleOptions::default() }] {
            if let Ok(b) = Bundle::from_bytes_with(bytes.clone(), &options) {
                let model = vitrine::Model::new(b);
                let b = model.bundle();
                let settings: vitrine::ShopperOptions =
                    serde_json::from_str(r#"{"privacy":{"epsilon":"Infinity"}}"#).unwrap();
                let mut shopper = vitrine::Shopper::new(&model, &settings).unwrap();
                shopper.track_row(Event { kind: EventKind::Click, item: 0, ts_ms: 0.0 });
                let _ = shopper.recommend(&model, &RecommendRequest::new(5).unwrap(), 0.0, &mut vitrine::privacy::OsRandom::new());
                for i in 0..b.n_items() {
                    let _ = (b.dequantized_row(i), b.codes(i), b.prior()[i]);
                }
            }
        }
    }
}

/// The batched scores (`Scorer::score_all`: kernel, then one `scale_add` pass for the row scales
/// or norms and the popularity prior; `Scorer::score_rows`, a list's rows through the gather
/// kernel) equal the per-item `Scorer::score` bit for bit, for an int8 and a compact bundle, with a
/// catalog size that leaves a remainder after 4-lane steps.
#[test]
fn batched_scores_equal_per_item_scores_bit_for_bit() {
    use vitrine::score::Scorer;
    let int8 = full_parts(3, 5, 8);
    let mut compact = int8.clone();
    compact.compact = Some(codebooks(&compact, 4, 12));
    for parts in [int8, compact] {
        let b = Bundle::from_bytes(write_bundle(&parts).unwrap()).unwrap();
        assert_eq!(b.n_items(), 15);
        let released: Vec<f32> = (0..b.dim()).map(|j| (j as f32 * 1.3).cos()).collect();
        let scorer = Scorer::from_released(&b, &released);
        assert!(scorer.is_personalized());
        let mut all = vec![f32::NAN; b.n_items()];
        scorer.score_all(&mut all);
        for (i, s) in all.iter().enumerate() {
            let one = scorer.score(i as u32);
            assert_eq!(s.to_bits(), one.to_bits(), "item {i}: {s} vs {one}");
        }
        assert!(
            all.iter().any(|&s| s != all[0]),
            "the scores differ between items"
        );
        // A candidate list: any order, repeats; and a scorer without a profile (the prior).
        let rows: Vec<u32> = (0..b.n_items() as u32).rev().chain([3, 3, 0]).collect();
        for scorer in [scorer, Scorer::with_events(&b, &[])] {
            let mut listed = vec![f32::NAN; rows.len()];
            scorer.score_rows(&rows, &mut listed);
            for (&i, s) in rows.iter().zip(&listed) {
                let one = scorer.score(i);
                assert_eq!(s.to_bits(), one.to_bits(), "row {i}: {s} vs {one}");
            }
        }
    }
}
