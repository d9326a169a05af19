//! Bundle format: one test per way a hostile or corrupt tensor is rejected (missing, dtype,
//! shape, NaN/Inf, ids,
//! categories, neighbour lists, head and context names), the writer refusing bad parts, and
//! hostile bytes never panicking (proptest). Valid bundles, the container, metadata and the
//! digest are in `bundle.rs`.

#![cfg(not(target_arch = "wasm32"))]

mod bundle_fixtures;

use bundle_fixtures::*;
use proptest::prelude::*;
use vitrine::bundle::{self, digest, write_bundle, BundleOptions, FloatDtype};
use vitrine::session::{Event, EventKind};
use vitrine::{Bundle, BundleError, RecommendRequest};

const UNVERIFIED: BundleOptions = BundleOptions {
    verify_digest: false,
    computed_digest: None,
};

// ---------------------------------------------------------------- required tensors

#[test]
fn missing_required_tensors_are_named() {
    for name in ["item_ids", "item_emb", "item_scale", "item_pop"] {
        assert_eq!(
            err(without_tensors(&[name])),
            BundleError::MissingTensor(match name {
                "item_ids" => "item_ids",
                "item_emb" => "item_emb",
                "item_scale" => "item_scale",
                _ => "item_pop",
            })
        );
    }
}

#[test]
fn dtype_mismatches_are_named() {
    let e = err(with_tensor(t("item_emb", "U8", &[3, 2], vec![0; 6])));
    assert!(
        matches!(e, BundleError::Dtype { ref name, ref expected, ref found } if name == "item_emb" && expected == "I8" && found == "U8"),
        "{e:?}"
    );
    let e = err(with_tensor(t("item_scale", "I32", &[3], vec![0; 12])));
    assert!(
        matches!(e, BundleError::Dtype { ref name, .. } if name == "item_scale"),
        "{e:?}"
    );
    let e = err(with_tensor(t("item_pop", "F64", &[3], vec![0; 24])));
    assert!(
        matches!(e, BundleError::Dtype { ref name, .. } if name == "item_pop"),
        "{e:?}"
    );
    let e = err(with_tensor(t("item_ids", "I8", &[5], b"a\nb\nc".to_vec())));
    assert!(
        matches!(e, BundleError::Dtype { ref name, .. } if name == "item_ids"),
        "{e:?}"
    );
    let e = err(with_tensor(t("item_cat", "I64", &[3], vec![0; 24])));
    assert!(
        matches!(e, BundleError::Dtype { ref name, .. } if name == "item_cat"),
        "{e:?}"
    );
    let e = err(with_tensor(t("nbr_items", "I16", &[3], vec![0; 6])));
    assert!(
        matches!(e, BundleError::Dtype { ref name, .. } if name == "nbr_items"),
        "{e:?}"
    );
    let e = err(with_tensor(t("item_price", "F16", &[3], vec![0; 6])));
    assert!(
        matches!(e, BundleError::Dtype { ref name, .. } if name == "item_price"),
        "{e:?}"
    );
}

#[test]
fn shape_mismatches_between_tensors_are_named() {
    shape_err(
        with_tensor(t("item_emb", "I8", &[6], vec![0; 6])),
        "item_emb",
    );
    shape_err(
        with_tensor(t("item_emb", "I8", &[3, 0], vec![])),
        "item_emb",
    );
    shape_err(
        with_tensor(t("item_scale", "F32", &[2], f32s(&[1.0, 1.0]))),
        "item_scale",
    );
    shape_err(
        with_tensor(t("item_pop", "F32", &[3, 1], f32s(&[1.0; 3]))),
        "item_pop",
    );
    shape_err(
        with_tensor(t("item_cat", "I32", &[4], i32s(&[0; 4]))),
        "item_cat",
    );
    shape_err(
        with_tensor(t("item_price", "F32", &[2], f32s(&[0.0; 2]))),
        "item_price",
    );
    shape_err(
        with_tensor(t("nbr_offsets", "U32", &[3], u32s(&[0, 2, 3]))),
        "nbr_offsets",
    );
    shape_err(
        with_tensor(t("nbr_weights", "U8", &[2], vec![1, 2])),
        "nbr_weights",
    );
    shape_err(
        with_tensor(t("session_pos_weights", "F32", &[0], vec![])),
        "session_pos_weights",
    );
    shape_err(
        with_tensor(t("head_weights", "F32", &[0], vec![])),
        "head_weights",
    );
    shape_err(
        with_tensor(t("ctx_weights", "F32", &[2, 3], f32s(&[0.0; 6]))),
        "ctx_weights",
    );
    shape_err(
        with_tensor(t("ctx_weights", "F32", &[4], f32s(&[0.0; 4]))),
        "ctx_weights",
    );
    // Empty catalog.
    let mut ts = base_tensors();
    ts.truncate(4);
    ts[0] = t("item_ids", "U8", &[0], vec![]);
    ts[1] = t("item_emb", "I8", &[0, 2], vec![]);
    ts[2] = t("item_scale", "F32", &[0], vec![]);
    ts[3] = t("item_pop", "F32", &[0], vec![]);
    let meta: std::collections::BTreeMap<String, String> = base_meta()
        .into_iter()
        .filter(|(k, _)| k.starts_with("format"))
        .collect();
    shape_err(assemble(&meta, &ts, true), "item_emb");
}

// ---------------------------------------------------------------- values

#[test]
fn nan_and_inf_are_rejected_with_tensor_and_index() {
    value_err(
        with_tensor(t("item_scale", "F32", &[3], f32s(&[0.1, f32::NAN, 0.1]))),
        "item_scale",
        1,
    );
    value_err(
        with_tensor(t(
            "item_scale",
            "F32",
            &[3],
            f32s(&[0.1, 0.1, f32::INFINITY]),
        )),
        "item_scale",
        2,
    );
    value_err(
        with_tensor(t("item_scale", "F32", &[3], f32s(&[-0.1, 0.1, 0.1]))),
        "item_scale",
        0,
    );
    let nan16 = half::f16::NAN.to_le_bytes();
    value_err(
        with_tensor(t(
            "item_scale",
            "F16",
            &[3],
            [[0, 0], nan16, [0, 0]].concat(),
        )),
        "item_scale",
        1,
    );
    value_err(
        with_tensor(t(
            "item_pop",
            "F32",
            &[3],
            f32s(&[f32::NEG_INFINITY, 0.0, 0.0]),
        )),
        "item_pop",
        0,
    );
    value_err(
        with_tensor(t("item_pop", "F32", &[3], f32s(&[1.0, -2.0, 0.0]))),
        "item_pop",
        1,
    );
    value_err(
        with_tensor(t("item_price", "F32", &[3], f32s(&[1.0, 2.0, f32::NAN]))),
        "item_price",
        2,
    );
    value_err(
        with_tensor(t("item_price", "F32", &[3], f32s(&[1.0, -0.5, 0.0]))),
        "item_price",
        1,
    );
    value_err(
        with_tensor(t(
            "session_pos_weights",
            "F32",
            &[2],
            f32s(&[1.0, f32::INFINITY]),
        )),
        "session_pos_weights",
        1,
    );
    value_err(
        with_tensor(t("head_weights", "F32", &[2], f32s(&[f32::NAN, 1.0]))),
        "head_weights",
        0,
    );
    value_err(
        with_tensor(t(
            "ctx_weights",
            "F32",
            &[2, 2],
            f32s(&[0.0, 0.0, 0.0, f32::NAN]),
        )),
        "ctx_weights",
        3,
    );
    let e = err(with_tensor(t(
        "item_scale",
        "F32",
        &[3],
        f32s(&[0.1, f32::NAN, 0.1]),
    )));
    assert!(
        e.to_string().contains("item_scale") && e.to_string().contains("index 1"),
        "{e}"
    );
}

#[test]
fn bad_ids_are_rejected() {
    let ids = |blob: &[u8]| with_tensor(t("item_ids", "U8", &[blob.len()], blob.to_vec()));
    assert!(matches!(err(ids(b"a\n\xff\xfe\nc")), BundleError::Ids(m) if m.contains("UTF-8")));
    assert!(
        matches!(err(ids(b"a\nb\na")), BundleError::Ids(m) if m.contains("duplicate id 'a' at rows 0 and 2"))
    );
    assert!(matches!(err(ids(b"a\n\nc")), BundleError::Ids(m) if m.contains("empty id at row 1")));
    assert!(matches!(err(ids(b"a\nb")), BundleError::Ids(m) if m.contains("2 entries for 3 rows")));
    assert!(
        matches!(err(ids(b"a\nb\nc\n")), BundleError::Ids(_)),
        "trailing newline = 4 ids"
    );
    assert!(matches!(err(ids(b"")), BundleError::Ids(_)));
    // And the writer refuses them up front.
    let mut parts = clustered(2, 2, 4);
    parts.ids[3] = parts.ids[0].clone();
    assert!(matches!(write_bundle(&parts), Err(BundleError::Ids(m)) if m.contains("duplicate")));
    parts.ids[3] = "x\ny".into();
    assert!(matches!(write_bundle(&parts), Err(BundleError::Ids(_))));
}

#[test]
fn categories_are_checked() {
    value_err(
        with_tensor(t("item_cat", "I32", &[3], i32s(&[0, 2, 1]))),
        "item_cat",
        1,
    );
    value_err(
        with_tensor(t("item_cat", "I32", &[3], i32s(&[0, -2, 1]))),
        "item_cat",
        1,
    );
    value_err(
        with_tensor(t("cat_names", "U8", &[11], b"shoes\nshoes".to_vec())),
        "cat_names",
        1,
    );
    value_err(
        with_tensor(t("cat_names", "U8", &[6], b"shoes\n".to_vec())),
        "cat_names",
        1,
    );
    value_err(
        with_tensor(t("cat_names", "U8", &[2], b"\xc3\x28".to_vec())),
        "cat_names",
        0,
    );
    assert_eq!(
        err(without_tensors(&["cat_names", "ctx_weights"])),
        BundleError::MissingTensor("cat_names")
    );
    assert_eq!(
        err(without_tensors(&["item_cat", "ctx_weights"])),
        BundleError::MissingTensor("item_cat")
    );
    // Context weights need categories.
    assert_eq!(
        err(without_tensors(&["item_cat", "cat_names"])),
        BundleError::MissingTensor("item_cat")
    );
    // No categories at all is fine (ctx removed too).
    let mut meta = base_meta();
    meta.remove("ctx.features");
    let ts: Vec<T> = base_tensors()
        .into_iter()
        .filter(|t| !["item_cat", "cat_names", "ctx_weights"].contains(&t.name.as_str()))
        .collect();
    assert!(Bundle::from_bytes(assemble(&meta, &ts, true)).is_ok());
}

#[test]
fn neighbour_lists_keep_the_csr_invariants() {
    value_err(
        with_tensor(t("nbr_offsets", "U32", &[4], u32s(&[1, 2, 3, 3]))),
        "nbr_offsets",
        0,
    );
    value_err(
        with_tensor(t("nbr_offsets", "U32", &[4], u32s(&[0, 2, 1, 3]))),
        "nbr_offsets",
        2,
    );
    value_err(
        with_tensor(t("nbr_offsets", "U32", &[4], u32s(&[0, 1, 2, 2]))),
        "nbr_offsets",
        3,
    );
    value_err(
        with_tensor(t("nbr_offsets", "U32", &[4], u32s(&[0, 2, 3, 9]))),
        "nbr_offsets",
        3,
    );
    value_err(
        with_tensor(t("nbr_items", "U16", &[3], u16s(&[1, 3, 0]))),
        "nbr_items",
        1,
    );
    value_err(
        with_tensor(t("nbr_items", "U32", &[3], u32s(&[1, 2, u32::MAX]))),
        "nbr_items",
        2,
    );
    let e = err(with_tensor(t("nbr_items", "U16", &[3], u16s(&[1, 2, 1]))));
    assert!(
        matches!(e, BundleError::Value { ref why, index: 2, .. } if why.contains("itself")),
        "{e:?}"
    );
    assert_eq!(
        err(without_tensors(&["nbr_weights"])),
        BundleError::MissingTensor("nbr_weights")
    );
    assert_eq!(
        err(without_tensors(&["nbr_offsets"])),
        BundleError::MissingTensor("nbr_offsets")
    );
    assert_eq!(
        err(with_meta("nbr.scale", None)),
        BundleError::MissingMetadata("nbr.scale")
    );
    for bad in ["0", "-1", "NaN", "inf", "x"] {
        assert!(
            matches!(err(with_meta("nbr.scale", Some(bad))), BundleError::Metadata { ref key, .. } if key == "nbr.scale"),
            "{bad}"
        );
    }
}

#[test]
fn head_and_context_names_are_checked() {
    for (key, value) in [
        ("head.features", Some("sim")),
        ("head.features", Some("sim,pop,extra")),
        ("head.features", Some("sim,sim")),
        ("head.features", Some("sim,")),
        ("ctx.features", Some("hour=13")),
        ("ctx.features", Some("a,a")),
    ] {
        assert!(
            matches!(err(with_meta(key, value)), BundleError::Metadata { key: ref k, .. } if k == key),
            "{key}={value:?}"
        );
    }
    assert_eq!(
        err(with_meta("head.features", None)),
        BundleError::MissingMetadata("head.features")
    );
    assert_eq!(
        err(with_meta("ctx.features", None)),
        BundleError::MissingMetadata("ctx.features")
    );
    let mut meta = base_meta();
    meta.remove("nbr.scale");
    let ts: Vec<T> = base_tensors()
        .into_iter()
        .filter(|t| t.name != "head_weights")
        .collect();
    assert_eq!(
        err(assemble(&base_meta(), &ts, true)),
        BundleError::MissingTensor("head_weights")
    );
}

// ---------------------------------------------------------------- the writer refuses bad parts

#[test]
fn writer_rejects_invalid_parts() {
    let mut p = full_parts(2, 3, 4);
    p.embeddings[5] = f32::NAN;
    assert!(
        matches!(write_bundle(&p), Err(BundleError::Value { ref name, index: 5, .. }) if name == "item_emb")
    );
    let mut p = full_parts(2, 3, 4);
    p.neighbours.as_mut().unwrap()[1].push((1, 1.0));
    assert!(
        matches!(write_bundle(&p), Err(BundleError::Value { ref name, .. }) if name == "nbr_items")
    );
    let mut p = full_parts(2, 3, 4);
    p.categories.as_mut().unwrap().item[0] = Some(9);
    assert!(
        matches!(write_bundle(&p), Err(BundleError::Value { ref name, .. }) if name == "item_cat")
    );
    let mut p = full_parts(2, 3, 4);
    p.categories = None;
    assert_eq!(
        write_bundle(&p).unwrap_err(),
        BundleError::MissingTensor("item_cat")
    );
    let mut p = full_parts(2, 3, 4);
    p.head.as_mut().unwrap().features[1] = "a,b".into();
    assert!(write_bundle(&p).is_err());
    let mut p = full_parts(2, 3, 4);
    p.metadata.insert("required".into(), "hologram".into());
    assert_eq!(
        write_bundle(&p).unwrap_err(),
        BundleError::UnknownRequired("hologram".into())
    );
    let mut p = clustered(1, 2, 2);
    p.scale_dtype = FloatDtype::F16;
    p.embeddings[0] = 1e9;
    assert!(
        matches!(write_bundle(&p), Err(BundleError::Value { ref name, .. }) if name == "item_scale")
    );
}

// ---------------------------------------------------------------- hostile bytes never panic

/// `full_parts` as a compact bundle (format version 3): codes, codebooks, coded ids, one-byte
/// popularity.
fn compact_full_parts() -> bundle::BundleParts {
    let mut p = full_parts(3, 4, 8);
    p.compact = Some(bundle::CompactParts {
        subspaces: 3,
        centroids: 6,
        codebooks: p.embeddings[..48].to_vec(),
        codes: None,
    });
    p
}

/// Uses everything a loaded bundle offers, as the engine would.
fn exercise(b: Bundle) {
    let model = vitrine::Model::new(b);
    let b = model.bundle();
    let settings: vitrine::ShopperOptions =
        serde_json::from_str(r#"{"privacy":{"epsilon":"Infinity"}}"#).expect("settings");
    let mut shopper = vitrine::Shopper::new(&model, &settings).expect("settings");
    for item in [0u32, (b.n_items() - 1) as u32] {
        shopper.track_row(Event {
            kind: EventKind::Click,
            item,
            ts_ms: 0.0,
        });
    }
    let _ = shopper.recommend(
        &model,
        &RecommendRequest::new(5).unwrap(),
        0.0,
        &mut vitrine::privacy::OsRandom::new(),
    );
    for i in 0..b.n_items().min(64) {
        let _ = (b.category(i), b.price(i), b.dequantized_row(i));
        for (j, w) in b.neighbours(i) {
            assert!((j as usize) < b.n_items() && j as usize != i && w.is_finite());
        }
    }
    if let Some(ctx) = b.ctx_weights() {
        let _ = ctx.view();
        let _ = ctx.get(0, 0);
    }
    let _ = (
        b.head(),
        b.session_pos_weights(),
        b.tensors(),
        b.embeddings(),
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    /// Random byte edits and truncations of a valid bundle with every optional part never panic,
    /// with and without digest verification (without, the edits reach the tensor checks).
    #[test]
    fn mutated_bundles_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        which in 0u8..3,
    ) {
        let mut bytes = match which {
            0 => base_bundle(),
            1 => write_bundle(&full_parts(3, 4, 8)).unwrap(),
            _ => write_bundle(&compact_full_parts()).unwrap(),
        };
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let keep = cut.index(bytes.len() + 1).max(bytes.len() * 3 / 4);
        bytes.truncate(keep);
        let _ = digest::check(&bytes);
        if let Ok(b) = Bundle::from_bytes(bytes.clone()) {
            exercise(b);
        }
        if let Ok(b) = Bundle::from_bytes_with(bytes, &UNVERIFIED) {
            exercise(b);
        }
    }

    /// Edits confined to the header JSON (the most structured part) never panic either.
    #[test]
    fn mutated_headers_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut bytes = base_bundle();
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        for (at, value) in edits {
            let i = 8 + at.index(header_len);
            bytes[i] = value;
        }
        if let Ok(b) = Bundle::from_bytes_with(bytes, &UNVERIFIED) {
            exercise(b);
        }
    }
}

/// Writes the fuzzer's seed corpus (`fuzz/seeds/bundle/`): `cargo test -p vitrine --test bundle -- --ignored`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/bundle");
    std::fs::create_dir_all(&dir).unwrap();
    let mut f16 = clustered(2, 3, 4);
    f16.scale_dtype = FloatDtype::F16;
    let seeds = [
        ("hand-made-all-parts", base_bundle()),
        ("unsigned", assemble(&base_meta(), &base_tensors(), false)),
        (
            "writer-all-parts",
            write_bundle(&full_parts(3, 4, 8)).unwrap(),
        ),
        ("writer-minimal", write_bundle(&clustered(2, 2, 4)).unwrap()),
        ("writer-f16", write_bundle(&f16).unwrap()),
        (
            "writer-compact",
            write_bundle(&compact_full_parts()).unwrap(),
        ),
    ];
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn limits_are_documented_values() {
    assert_eq!(bundle::limits::MAX_ITEMS, 50_000_000);
    assert_eq!(bundle::limits::MAX_DIM, 4096);
    assert_eq!(bundle::limits::MAX_HEADER_BYTES, 100_000_000);
    assert_eq!(bundle::MAX_DIM, bundle::limits::MAX_DIM);
}
