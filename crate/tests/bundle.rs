//! Bundle format v1: the writer's output, hand-assembled bundles (as a third party following
//! `docs/bundle.md` would write them), and one test per way a hostile or corrupt file is rejected.

#![cfg(not(target_arch = "wasm32"))]

mod bundle_fixtures;

type Meta = std::collections::BTreeMap<String, String>;

use bundle_fixtures::*;
use proptest::prelude::*;
use vitrine::bundle::{
    self, digest, write_bundle, BundleOptions, BundleParts, DigestStatus, FloatDtype,
};
use vitrine::session::{Event, EventKind};
use vitrine::{Bundle, BundleError, RecommendRequest};

const UNVERIFIED: BundleOptions = BundleOptions {
    verify_digest: false,
};

fn err(bytes: Vec<u8>) -> BundleError {
    Bundle::from_bytes(bytes).expect_err("bundle should be rejected")
}

fn value_err(bytes: Vec<u8>, tensor: &str, at: usize) {
    match err(bytes) {
        BundleError::Value {
            ref name, index, ..
        } if name == tensor && index == at => {}
        other => panic!("expected a Value error for {tensor}[{at}], got {other:?}"),
    }
}

fn shape_err(bytes: Vec<u8>, tensor: &str) {
    match err(bytes) {
        BundleError::Shape { ref name, .. } if name == tensor => {}
        other => panic!("expected a Shape error for {tensor}, got {other:?}"),
    }
}

// ---------------------------------------------------------------- valid bundles

#[test]
fn writer_round_trip_keeps_values_and_quantizes_within_half_a_step() {
    let parts = clustered(3, 4, 8);
    let b = Bundle::from_bytes(write_bundle(&parts).unwrap()).unwrap();
    assert_eq!((b.n_items(), b.dim()), (12, 8));
    assert_eq!(b.ids(), parts.ids.as_slice());
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
    assert_eq!(b.ids(), ["a", "b", "c"]);
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
    let e = err(with_meta("format_version", Some("3")));
    assert!(matches!(e, BundleError::UnsupportedVersion { ref found, .. } if found == "3"));
    assert!(e.to_string().contains("'3'"), "{e}");
    assert!(e.to_string().contains("1 and 2"), "{e}");
    // Version 2 (availability, trending, co-purchase lists, the repeat and neighbour terms) and
    // version 1 both load.
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

/// Uses everything a loaded bundle offers, as the engine would.
fn exercise(b: &Bundle) {
    let model = vitrine::Model::new(b.clone());
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
        hand_made in any::<bool>(),
    ) {
        let mut bytes = if hand_made { base_bundle() } else { write_bundle(&full_parts(3, 4, 8)).unwrap() };
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let keep = cut.index(bytes.len() + 1).max(bytes.len() * 3 / 4);
        bytes.truncate(keep);
        let _ = digest::check(&bytes);
        if let Ok(b) = Bundle::from_bytes(bytes.clone()) {
            exercise(&b);
        }
        if let Ok(b) = Bundle::from_bytes_with(bytes, &UNVERIFIED) {
            exercise(&b);
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
            exercise(&b);
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
