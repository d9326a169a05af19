//! Bundle format: the writer's output, hand-assembled bundles (as a third party following
//! `docs/bundle.md` would write them), and one test per way a hostile or corrupt file is rejected.

#![cfg(not(target_arch = "wasm32"))]

mod bundle_fixtures;

type Meta = std::collections::BTreeMap<String, String>;

use bundle_fixtures::*;
use vitrine::bundle::{
    self, digest, write_bundle, BundleOptions, BundleParts, DigestStatus, FloatDtype,
};
use vitrine::{Bundle, BundleError};

const UNVERIFIED: BundleOptions = BundleOptions {
    verify_digest: false,
    computed_digest: None,
};

// ---------------------------------------------------------------- valid bundles

#[test]
fn writer_round_trip_keeps_values_and_quantizes_within_half_a_step() {
    let parts = clustered(3, 4, 8);
    let b = Bundle::from_bytes(write_bundle(&parts).unwrap()).unwrap();
    assert_eq!((b.n_items(), b.dim()), (12, 8));
    assert_eq!(b.ids().to_vec(), parts.ids.as_slice());
    assert_eq!(b.popularity(), parts.popularity.as_slice());
    assert_eq!(b.embeddings().unwrap().shape(), &[12, 8]);
    assert_eq!(b.metadata()["format"], "vitrine-bundle");
    assert_eq!(b.metadata()["format_version"], "1");
    assert!(b.metadata()["digest"].starts_with("sha256:"));
    assert!(b.digest_verified());
    for i in 0..12 {
        let step = b.scales()[i];
        for (x, y) in b
            .dequantized_row(i)
            .iter()
            .zip(&parts.embeddings[i * 8..][..8])
        {
            assert!((x - y).abs() <= step / 2.0 + 1e-6, "row {i}: {x} vs {y}");
        }
    }
    let cos: f64 = b.metadata()["quant.mean_cosine"].parse().unwrap();
    assert!(cos > 0.999 && cos <= 1.0, "{cos}");
    assert_eq!(b.index_of("c2-i3"), Some(11));
    assert_eq!(b.index_of("nope"), None);
    // No optional parts: the accessors say so.
    assert_eq!(b.category(0), None);
    assert_eq!(b.category_names(), None);
    assert_eq!(b.price(0), None);
    assert!(!b.has_neighbours());
    assert_eq!(b.neighbours(0).count(), 0);
    assert_eq!(b.session_pos_weights(), None);
    assert_eq!(b.head(), None);
    assert!(b.ctx_weights().is_none());
}

#[test]
fn writer_round_trip_with_every_optional_part() {
    let parts = full_parts(3, 5, 8);
    let bytes = write_bundle(&parts).unwrap();
    let b = Bundle::from_bytes(bytes.clone()).unwrap();
    let cats = parts.categories.as_ref().unwrap();
    assert_eq!(b.category_names().unwrap(), cats.names.as_slice());
    for i in 0..b.n_items() {
        assert_eq!(b.category(i), cats.item[i], "item {i}");
        assert_eq!(b.price(i), parts.prices.as_ref().unwrap()[i], "item {i}");
        let expected = &parts.neighbours.as_ref().unwrap()[i];
        let got: Vec<(u32, f32)> = b.neighbours(i).collect();
        assert_eq!(got.len(), expected.len());
        let scale: f32 = b.metadata()["nbr.scale"].parse().unwrap();
        for ((gi, gw), (ei, ew)) in got.iter().zip(expected) {
            assert_eq!(gi, ei);
            assert!((gw - ew).abs() <= scale / 2.0 + 1e-6, "{gw} vs {ew}");
        }
    }
    assert_eq!(b.n_neighbour_entries(), 15 * 4);
    assert_eq!(
        b.session_pos_weights(),
        parts.session_pos_weights.as_deref()
    );
    let (names, weights) = b.head().unwrap();
    assert_eq!(names, ["sim", "pop", "nbr"]);
    assert_eq!(weights, [1.0, 0.1, 0.5]);
    let ctx = b.ctx_weights().unwrap();
    assert_eq!(ctx.features(), ["hour=13", "device=mobile"]);
    assert_eq!(ctx.n_categories(), 3);
    assert_eq!(
        ctx.feature_row("device=mobile").unwrap(),
        &parts.context.as_ref().unwrap().weights[3..6]
    );
    assert_eq!(
        ctx.get(0, 2),
        Some(parts.context.as_ref().unwrap().weights[2])
    );
    assert_eq!(ctx.get(5, 0), None);
    assert_eq!(ctx.view().unwrap().shape(), &[2, 3]);
    // Out-of-range item indices are `None` / empty, never a panic.
    assert_eq!(b.category(1000), None);
    assert_eq!(b.price(usize::MAX), None);
    assert_eq!(b.neighbours(usize::MAX).count(), 0);
    // The writer's digest is the spec's.
    assert_eq!(
        digest::check(&bytes).unwrap(),
        DigestStatus::Valid(b.metadata()["digest"].clone())
    );
}

#[test]
fn embeddings_and_neighbours_are_borrowed_not_copied() {
    let b = Bundle::from_bytes(write_bundle(&full_parts(2, 4, 16)).unwrap()).unwrap();
    let bytes = b.bytes().as_ptr_range();
    let emb = b.embeddings().unwrap();
    assert!(bytes.contains(&(emb.as_ptr() as *const u8)));
    assert!(bytes.contains(&(b.row(7).as_ptr() as *const u8)));
    let e = emb.as_slice().unwrap();
    assert!(bytes.contains(&(e.last().unwrap() as *const i8 as *const u8)));
}

#[test]
fn hand_assembled_bundle_with_every_part_reads() {
    let b = Bundle::from_bytes(base_bundle()).unwrap();
    assert_eq!(b.ids().to_vec(), ["a", "b", "c"]);
    assert_eq!(b.row(2), [90, 90]);
    assert_eq!(b.category(0), Some(0));
    assert_eq!(b.category(1), None);
    assert_eq!(b.category(2), Some(1));
    assert_eq!(b.category_names().unwrap(), ["shoes", "hats"]);
    assert_eq!(b.price(0), Some(19.5));
    assert_eq!(b.price(1), None);
    assert_eq!(b.price(2), Some(0.0));
    let n0: Vec<(u32, f32)> = b.neighbours(0).collect();
    assert_eq!(n0, [(1, 255.0 * 0.01), (2, 10.0 * 0.01)]);
    assert_eq!(b.neighbours(1).collect::<Vec<_>>(), [(0, 128.0 * 0.01)]);
    assert_eq!(b.neighbours(2).count(), 0);
    assert_eq!(b.session_pos_weights(), Some(&[1.0, 0.5][..]));
    assert_eq!(b.head().unwrap().0, ["sim", "pop"]);
    assert_eq!(b.ctx_weights().unwrap().row(1).unwrap(), [0.3, 0.4]);
    assert!(b.tensors().iter().all(|t| t.known));
    assert_eq!(b.tensors().len(), 13);
}

#[test]
fn f16_scales_and_popularity_and_u32_neighbours_are_accepted() {
    let h = |v: &[f32]| -> Vec<u8> {
        v.iter()
            .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
            .collect()
    };
    let mut ts = base_tensors();
    ts[2] = t("item_scale", "F16", &[3], h(&[0.01, 0.02, 0.5]));
    ts[3] = t("item_pop", "F16", &[3], h(&[10.0, 0.0, 3.5]));
    ts[8] = t("nbr_items", "U32", &[3], u32s(&[1, 2, 0]));
    let b = Bundle::from_bytes(assemble(&base_meta(), &ts, true)).unwrap();
    assert_eq!(b.scales()[2], 0.5);
    assert_eq!(b.popularity()[0], 10.0);
    assert_eq!(b.neighbours(0).map(|x| x.0).collect::<Vec<_>>(), [1, 2]);
    // And the writer can emit F16 scales.
    let mut parts = clustered(2, 3, 4);
    parts.scale_dtype = FloatDtype::F16;
    let b = Bundle::from_bytes(write_bundle(&parts).unwrap()).unwrap();
    assert!(b
        .tensors()
        .iter()
        .any(|t| t.name == "item_scale" && t.dtype == "F16"));
}

#[test]
fn unknown_optional_tensors_are_skipped_but_listed() {
    let b = Bundle::from_bytes(with_tensor(t("future_thing", "F64", &[2], vec![0; 16]))).unwrap();
    let extra = b
        .tensors()
        .iter()
        .find(|t| t.name == "future_thing")
        .unwrap();
    assert!(!extra.known);
    assert_eq!((extra.dtype.as_str(), extra.bytes), ("F64", 16));
    // Listing a known, present tensor as required is fine.
    assert!(Bundle::from_bytes(with_meta("required", Some("item_cat, nbr_items"))).is_ok());
}

// ---------------------------------------------------------------- the container

#[test]
fn garbage_is_a_container_error() {
    assert!(matches!(
        err(b"hello, I am not a bundle".to_vec()),
        BundleError::HeaderBeyondFile { .. } | BundleError::TooLarge { .. }
    ));
    let mut not_json = 5u64.to_le_bytes().to_vec();
    not_json.extend_from_slice(b"{{{{{");
    assert!(matches!(err(not_json), BundleError::Container(_)));
    let mut not_utf8 = 2u64.to_le_bytes().to_vec();
    not_utf8.extend_from_slice(&[0xff, 0xfe]);
    assert!(matches!(err(not_utf8), BundleError::Container(_)));
}

#[test]
fn truncated_files_are_truncated_errors() {
    assert_eq!(
        err(Vec::new()),
        BundleError::Truncated {
            expected: 8,
            found: 0
        }
    );
    assert!(matches!(err(vec![1, 2, 3]), BundleError::Truncated { .. }));
    let good = base_bundle();
    let header_len = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    // Cut inside the header: the header length now points beyond the file.
    for cut in [9, 20, header_len] {
        assert!(
            matches!(
                err(good[..cut].to_vec()),
                BundleError::HeaderBeyondFile { .. }
            ),
            "cut at {cut}"
        );
    }
    // Cut inside the data.
    for cut in [8 + header_len, good.len() - 1] {
        match err(good[..cut].to_vec()) {
            BundleError::Truncated { expected, found } => {
                assert_eq!((expected, found), (good.len() as u64, cut as u64));
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // Bytes after the last tensor.
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(err(long), BundleError::Container(m) if m.contains("after the last tensor")));
}

#[test]
fn header_length_beyond_the_file_or_the_limit() {
    let good = base_bundle();
    let mut beyond = good.clone();
    beyond[..8].copy_from_slice(&(good.len() as u64).to_le_bytes());
    assert_eq!(
        err(beyond),
        BundleError::HeaderBeyondFile {
            header_len: good.len() as u64,
            file_len: good.len() as u64
        }
    );
    for huge in [u64::MAX, u64::MAX / 2, 100_000_001] {
        let mut b = good.clone();
        b[..8].copy_from_slice(&huge.to_le_bytes());
        assert!(
            matches!(err(b), BundleError::TooLarge { ref what, found, .. } if what == "header length" && found == huge),
            "{huge}"
        );
    }
}

#[test]
fn huge_declared_sizes_are_rejected_before_allocating() {
    // Headers that claim gigabytes of data (offsets consistent with the shapes) in a tiny file.
    let claim = |name: &str, dtype: &str, shape: &[usize], bytes: usize| {
        let header = serde_json::json!({
            "__metadata__": {"format": "vitrine-bundle", "format_version": "1"},
            name: {"dtype": dtype, "shape": shape, "data_offsets": [0, bytes]},
        })
        .to_string();
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&[0; 64]);
        out
    };
    let e = err(claim("item_emb", "I8", &[60_000_000, 64], 60_000_000 * 64));
    assert!(
        matches!(e, BundleError::TooLarge { ref what, found: 60_000_000, limit: 50_000_000 } if what.contains("item count")),
        "{e:?}"
    );
    let e = err(claim("item_emb", "I8", &[10, 5000], 50_000));
    assert!(
        matches!(
            e,
            BundleError::TooLarge {
                found: 5000,
                limit: 4096,
                ..
            }
        ),
        "{e:?}"
    );
    let e = err(claim("session_pos_weights", "F32", &[300], 1200));
    assert!(
        matches!(e, BundleError::TooLarge { found: 300, .. }),
        "{e:?}"
    );
    let e = err(claim("ctx_weights", "F32", &[5000, 1], 20_000));
    assert!(
        matches!(e, BundleError::TooLarge { found: 5000, .. }),
        "{e:?}"
    );
    let e = err(claim("x", "U8", &[1; 9], 1));
    assert!(
        matches!(
            e,
            BundleError::TooLarge {
                found: 9,
                limit: 8,
                ..
            }
        ),
        "{e:?}"
    );
    // Within the limits but not in the file: truncated (nothing was allocated for it).
    let e = err(claim("item_emb", "I8", &[40_000_000, 64], 40_000_000 * 64));
    assert!(
        matches!(e, BundleError::Truncated { expected, .. } if expected > 2_000_000_000),
        "{e:?}"
    );
    // Shapes whose byte size overflows are a container error, not a panic.
    let e = err(claim("item_emb", "I8", &[usize::MAX, 2], 0));
    assert!(
        matches!(e, BundleError::TooLarge { .. } | BundleError::Container(_)),
        "{e:?}"
    );
    let e = err(claim("other", "F32", &[usize::MAX / 2, 4], 0));
    assert!(matches!(e, BundleError::Container(_)), "{e:?}");
}

#[test]
fn offsets_that_overlap_or_leave_holes_are_container_errors() {
    let header = r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&[0; 3]);
    assert!(matches!(err(bytes), BundleError::Container(_)));
    let header = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&[0; 4]);
    assert!(
        matches!(err(bytes), BundleError::Container(_)),
        "size ≠ dtype × shape"
    );
}

#[test]
fn duplicate_tensor_names_and_malformed_entries_are_container_errors() {
    let raw = |header: &str, data: &[u8]| {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    };
    let e = err(raw(
        r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#,
        &[0, 0],
    ));
    assert!(
        matches!(e, BundleError::Container(ref m) if m.contains("declared twice")),
        "{e:?}"
    );
    let e = err(raw(r#"{"__metadata__":{"format":1}}"#, &[]));
    assert!(matches!(e, BundleError::Container(_)), "{e:?}");
    let e = err(raw(
        r#"{"a":{"dtype":"U9","shape":[1],"data_offsets":[0,1]}}"#,
        &[0],
    ));
    assert!(matches!(e, BundleError::Container(_)), "{e:?}");
    let e = err(raw(
        r#"{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}"#,
        &[0],
    ));
    assert!(matches!(e, BundleError::Container(_)), "{e:?}");
    let e = err(raw(r#"[1, 2]"#, &[]));
    assert!(matches!(e, BundleError::Container(_)), "{e:?}");
    // Extra fields in an entry are ignored, as safetensors does.
    let mut meta = base_meta();
    meta.insert("digest".into(), spec_digest(&meta, &base_tensors()));
    let signed = assemble(&meta, &base_tensors(), false);
    let header_len = u64::from_le_bytes(signed[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&signed[8..8 + header_len]).unwrap();
    let header = header.replacen(r#""dtype":"U8","#, r#""dtype":"U8","note":"x","#, 1);
    assert!(Bundle::from_bytes(raw(&header, &signed[8 + header_len..])).is_ok());
}

#[test]
fn session_readout_is_d_by_d_and_finite() {
    let mut ts = base_tensors();
    ts.push(t(
        "session_readout",
        "F32",
        &[2, 2],
        f32s(&[1.0, 0.0, 0.0, 1.0]),
    ));
    let b = Bundle::from_bytes(assemble(&base_meta(), &ts, true)).unwrap();
    assert_eq!(b.session_readout(), Some(&[1.0, 0.0, 0.0, 1.0][..]));
    shape_err(
        with_tensor(t("session_readout", "F32", &[2, 3], f32s(&[0.0; 6]))),
        "session_readout",
    );
    value_err(
        with_tensor(t(
            "session_readout",
            "F32",
            &[2, 2],
            f32s(&[0.0, f32::NAN, 0.0, 0.0]),
        )),
        "session_readout",
        1,
    );
}

// ---------------------------------------------------------------- metadata

#[test]
fn wrong_format_or_version_is_rejected() {
    assert!(matches!(
        err(with_meta("format", Some("something-else"))),
        BundleError::WrongFormat { .. }
    ));
    let e = err(with_meta("format_version", Some("4")));
    assert!(matches!(e, BundleError::UnsupportedVersion { ref found, .. } if found == "4"));
    assert!(e.to_string().contains("'4'"), "{e}");
    assert!(e.to_string().contains("1, 2 and 3"), "{e}");
    // Version 3 (compact bundles: `bundle_compact.rs`), version 2 (availability, trending,
    // co-purchase lists, the repeat and neighbour terms) and version 1 all load.
    assert!(Bundle::from_bytes(with_meta("format_version", Some("3"))).is_ok());
    assert!(Bundle::from_bytes(with_meta("format_version", Some("2"))).is_ok());
    assert!(Bundle::from_bytes(with_meta("format_version", Some("1"))).is_ok());
    assert_eq!(
        err(with_meta("format", None)),
        BundleError::MissingMetadata("format")
    );
    assert_eq!(
        err(with_meta("format_version", None)),
        BundleError::MissingMetadata("format_version")
    );
    // A safetensors file with no metadata at all.
    assert_eq!(
        err(assemble(&Default::default(), &base_tensors(), false)),
        BundleError::MissingMetadata("format")
    );
}

#[test]
fn unknown_required_tensors_are_rejected() {
    assert_eq!(
        err(with_meta("required", Some("item_cat,item_video"))),
        BundleError::UnknownRequired("item_video".into())
    );
    // Known but absent.
    let mut meta = base_meta();
    meta.insert("required".into(), "item_price".into());
    let ts: Vec<T> = base_tensors()
        .into_iter()
        .filter(|t| t.name != "item_price")
        .collect();
    assert_eq!(
        err(assemble(&meta, &ts, true)),
        BundleError::MissingTensor("item_price")
    );
}

#[test]
fn informational_counts_must_agree() {
    assert!(Bundle::from_bytes(with_meta("n_items", Some("3"))).is_ok());
    assert!(
        matches!(err(with_meta("n_items", Some("4"))), BundleError::Metadata { ref key, .. } if key == "n_items")
    );
    assert!(
        matches!(err(with_meta("dim", Some("x"))), BundleError::Metadata { ref key, .. } if key == "dim")
    );
}

#[test]
fn bad_scoring_keys_are_rejected() {
    for (k, v) in [
        ("score.pop_weight", "-1"),
        ("score.recency_decay", "0"),
        ("score.recency_decay", "NaN"),
        ("weight.click", "inf"),
        ("weight.view", "lots"),
        ("score.half_life_s", "soon"),
        ("score.half_life_s", "0"),
    ] {
        assert!(
            matches!(err(with_meta(k, Some(v))), BundleError::Metadata { ref key, .. } if key == k),
            "{k}={v}"
        );
    }
}

/// Scoring parameters go through `BundleParts::params` (every key written, read back the same);
/// the same keys in free-form metadata are refused by the writer.
#[test]
fn scoring_params_round_trip_and_have_one_owner() {
    let params = bundle::ScoringParams {
        pop_weight: 0.37,
        recency_decay: 0.55,
        half_life_s: f64::INFINITY,
        event_weights: bundle::EventWeights {
            view: 0.5,
            click: 1.5,
            add_to_cart: 3.0,
            remove_from_cart: -2.0,
            purchase: 4.0,
        },
        repeat_weight: 0.25,
        repeat_decay: 0.9,
        nbr_weight: 0.125,
        nbr_decay: 0.5,
    };
    let mut parts = BundleParts {
        params: Some(params.clone()),
        ..clustered(2, 3, 4)
    };
    let b = Bundle::from_bytes(write_bundle(&parts).unwrap()).unwrap();
    assert_eq!(b.params(), &params);
    for key in bundle::param_keys::ALL {
        assert!(b.metadata().get(key).is_some(), "{key} written");
    }
    parts
        .metadata
        .insert("score.half_life_s".into(), "60".into());
    assert!(matches!(
        write_bundle(&parts),
        Err(BundleError::Metadata { ref key, .. }) if key == "score.half_life_s"
    ));
}

// ---------------------------------------------------------------- the digest

#[test]
fn digest_detects_any_change() {
    let good = base_bundle();
    let header_len = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    // Every single data byte.
    for at in 8 + header_len..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        match Bundle::from_bytes(bad) {
            Err(BundleError::DigestMismatch { .. }) => {}
            other => panic!("byte {at}: {:?}", other.map(|_| ())),
        }
    }
    // A metadata value, a tensor's dtype or shape (with the digest left as it was).
    let tampered = |edit: &dyn Fn(&mut Vec<T>, &mut Meta)| {
        let mut ts = base_tensors();
        let mut meta = base_meta();
        meta.insert("digest".into(), spec_digest(&meta, &ts));
        edit(&mut ts, &mut meta);
        assemble(&meta, &ts, false)
    };
    let e = err(tampered(&|_, m| {
        m.insert("score.pop_weight".into(), "5".into());
    }));
    assert!(matches!(e, BundleError::DigestMismatch { .. }), "{e:?}");
    let e = err(tampered(&|ts, _| ts[3].dtype = "I32"));
    assert!(matches!(e, BundleError::DigestMismatch { .. }), "{e:?}");
    let e = err(tampered(&|ts, _| ts[1].shape = vec![2, 3]));
    assert!(matches!(e, BundleError::DigestMismatch { .. }), "{e:?}");
    let e = err(tampered(&|ts, _| ts[0].name = "item_idz".into()));
    assert!(matches!(e, BundleError::DigestMismatch { .. }), "{e:?}");
    // Laying the same tensors out in another order keeps the digest (it is canonical).
    let mut ts = base_tensors();
    ts.reverse();
    assert!(Bundle::from_bytes(assemble(&base_meta(), &ts, true)).is_ok());
    assert_eq!(
        digest::compute(&assemble(&base_meta(), &ts, false)).unwrap(),
        spec_digest(&base_meta(), &base_tensors())
    );
}

#[test]
fn missing_or_malformed_digest() {
    let unsigned = assemble(&base_meta(), &base_tensors(), false);
    assert_eq!(err(unsigned.clone()), BundleError::MissingDigest);
    let b = Bundle::from_bytes_with(unsigned.clone(), &UNVERIFIED).unwrap();
    assert!(!b.digest_verified());
    assert!(matches!(
        digest::check(&unsigned).unwrap(),
        DigestStatus::Missing { .. }
    ));
    for bad in [
        "sha256:abc",
        "md5:00",
        "SHA256:0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let mut meta = base_meta();
        meta.insert("digest".into(), bad.into());
        let e = err(assemble(&meta, &base_tensors(), false));
        assert!(
            matches!(e, BundleError::Metadata { ref key, .. } if key == "digest"),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn skipping_verification_loads_a_tampered_but_otherwise_valid_bundle() {
    let mut bytes = base_bundle();
    let last = bytes.len() - 1; // a ctx weight byte
    bytes[last] ^= 0x01;
    assert!(matches!(
        err(bytes.clone()),
        BundleError::DigestMismatch { .. }
    ));
    assert!(matches!(
        digest::check(&bytes).unwrap(),
        DigestStatus::Mismatch { .. }
    ));
    assert!(Bundle::from_bytes_with(bytes, &UNVERIFIED).is_ok());
}
