//! The core, natively: bundle round trip and validation, and the engine's behaviour.

mod common;

use common::*;
use proptest::prelude::*;
use vitrine::{Bundle, BundleError, Engine, RecommendRequest, RequestError, VitrineError};

#[test]
fn written_bundle_reads_back_with_its_values() {
    let parts = clustered_parts(3, 4, 8);
    let bytes = vitrine::bundle::write_bundle(&parts).unwrap();
    let b = Bundle::from_bytes(bytes).unwrap();
    assert_eq!(b.n_items(), 12);
    assert_eq!(b.dim(), 8);
    assert_eq!(b.ids(), parts.ids.as_slice());
    assert_eq!(b.popularity(), parts.popularity.as_slice());
    assert_eq!(b.embeddings().unwrap().shape(), &[12, 8]);
    assert_eq!(
        b.metadata().get("format").map(String::as_str),
        Some("vitrine-bundle")
    );
    // Quantization error per element is at most half a step of the row's scale.
    for i in 0..12 {
        let row = b.dequantized_row(i);
        let step = b.scales()[i];
        for (x, y) in row.iter().zip(&parts.embeddings[i * 8..(i + 1) * 8]) {
            assert!((x - y).abs() <= step / 2.0 + 1e-6, "row {i}: {x} vs {y}");
        }
    }
    assert_eq!(b.index_of("c2-i3"), Some(11));
    assert_eq!(b.index_of("nope"), None);
}

fn bundle_err(bytes: Vec<u8>) -> BundleError {
    Bundle::from_bytes(bytes).expect_err("bundle should be rejected")
}

#[test]
fn garbage_and_truncation_are_container_errors() {
    assert!(matches!(
        bundle_err(b"hello, I am not a bundle".to_vec()),
        BundleError::Container(_)
    ));
    assert!(matches!(bundle_err(Vec::new()), BundleError::Container(_)));
    let good = clustered_bundle(2, 3, 4);
    for cut in [1, 8, 20, good.len() / 2, good.len() - 1] {
        assert!(
            matches!(bundle_err(good[..cut].to_vec()), BundleError::Container(_)),
            "cut at {cut}"
        );
    }
    // A header length far beyond the file.
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    assert!(matches!(bundle_err(huge), BundleError::Container(_)));
}

#[test]
fn wrong_format_or_version_is_rejected() {
    let header = r#"{"__metadata__":{"format":"something-else","format_version":"1"}}"#;
    assert!(matches!(
        bundle_err(raw_safetensors(header, &[])),
        BundleError::WrongFormat { .. }
    ));
    let header = r#"{"__metadata__":{"format":"vitrine-bundle","format_version":"99"}}"#;
    let err = bundle_err(raw_safetensors(header, &[]));
    assert!(matches!(err, BundleError::UnsupportedVersion { .. }));
    assert!(err.to_string().contains("99"), "{err}");
    let header = r#"{"__metadata__":{"format_version":"1"}}"#;
    assert_eq!(
        bundle_err(raw_safetensors(header, &[])),
        BundleError::MissingMetadata("format")
    );
}

const META: &str = r#""__metadata__":{"format":"vitrine-bundle","format_version":"1"}"#;

#[test]
fn missing_tensor_and_wrong_dtype_are_named() {
    let header = format!("{{{META}}}");
    assert_eq!(
        bundle_err(raw_safetensors(&header, &[])),
        BundleError::MissingTensor("item_emb")
    );
    let header =
        format!(r#"{{{META},"item_emb":{{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}}}}"#);
    let err = bundle_err(raw_safetensors(&header, &[0; 4]));
    assert!(
        matches!(err, BundleError::Dtype { ref name, .. } if name == "item_emb"),
        "{err}"
    );
}

/// A one-item bundle by hand, with the given scale bytes, popularity and ids.
fn one_item(scale: f32, pop: f32, ids: &[u8]) -> Vec<u8> {
    let header = format!(
        r#"{{{META},"item_emb":{{"dtype":"I8","shape":[1,2],"data_offsets":[0,2]}},"item_scale":{{"dtype":"F32","shape":[1],"data_offsets":[2,6]}},"item_pop":{{"dtype":"F32","shape":[1],"data_offsets":[6,10]}},"item_ids":{{"dtype":"U8","shape":[{}],"data_offsets":[10,{}]}}}}"#,
        ids.len(),
        10 + ids.len()
    );
    let mut data = vec![1u8, 2];
    data.extend_from_slice(&scale.to_le_bytes());
    data.extend_from_slice(&pop.to_le_bytes());
    data.extend_from_slice(ids);
    raw_safetensors(&header, &data)
}

#[test]
fn invalid_values_and_ids_are_rejected() {
    assert!(Bundle::from_bytes(one_item(0.5, 3.0, b"a")).is_ok());
    assert!(
        matches!(bundle_err(one_item(f32::NAN, 3.0, b"a")), BundleError::Value { ref name, .. } if name == "item_scale")
    );
    assert!(matches!(
        bundle_err(one_item(f32::INFINITY, 3.0, b"a")),
        BundleError::Value { .. }
    ));
    assert!(
        matches!(bundle_err(one_item(0.5, -1.0, b"a")), BundleError::Value { ref name, .. } if name == "item_pop")
    );
    assert!(matches!(
        bundle_err(one_item(0.5, 1.0, &[0xff, 0xfe])),
        BundleError::Ids(_)
    ));
    assert!(
        matches!(bundle_err(one_item(0.5, 1.0, b"a\nb")), BundleError::Ids(_)),
        "two ids for one row"
    );
    assert!(matches!(
        bundle_err(one_item(0.5, 1.0, b"")),
        BundleError::Ids(_)
    ));
}

#[test]
fn duplicate_ids_are_rejected() {
    let mut parts = clustered_parts(2, 2, 4);
    parts.ids[3] = parts.ids[0].clone();
    let err = vitrine::bundle::write_bundle(&parts).unwrap_err();
    assert!(
        matches!(err, BundleError::Ids(ref m) if m.contains("duplicate")),
        "{err}"
    );
}

#[test]
fn empty_session_ranks_by_popularity() {
    let engine = Engine::from_bytes(clustered_bundle(4, 5, 8)).unwrap();
    let recs = engine.recommend(&RecommendRequest::new(5).unwrap());
    let ids: Vec<&str> = recs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["c0-i0", "c0-i1", "c0-i2", "c0-i3", "c0-i4"]);
    assert!(recs.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn session_moves_recommendations_toward_its_cluster() {
    let mut engine = Engine::from_bytes(clustered_bundle(4, 5, 8)).unwrap();
    engine.track("click", "c3-i4", 1.0).unwrap();
    engine.track("view", "c3-i2", 2.0).unwrap();
    let recs = engine.recommend(&RecommendRequest::new(5).unwrap());
    assert!(recs.iter().all(|r| cluster_of(&r.id) == 3), "{recs:?}");
    // The most recent event dominates.
    engine.track("add_to_cart", "c1-i0", 3.0).unwrap();
    let top = &engine.recommend(&RecommendRequest::new(1).unwrap())[0];
    assert_eq!(cluster_of(&top.id), 1, "{top:?}");
}

#[test]
fn exclude_seen_drops_session_items() {
    let mut engine = Engine::from_bytes(clustered_bundle(2, 3, 4)).unwrap();
    engine.track("view", "c1-i0", 1.0).unwrap();
    let all = engine.recommend(&RecommendRequest::new(6).unwrap());
    assert!(all.iter().any(|r| r.id == "c1-i0"));
    let unseen = engine.recommend(&RecommendRequest::new(6).unwrap().exclude_seen(true));
    assert_eq!(unseen.len(), 5);
    assert!(unseen.iter().all(|r| r.id != "c1-i0"));
}

#[test]
fn bad_requests_are_typed_errors_and_leave_the_session_alone() {
    let mut engine = Engine::from_bytes(clustered_bundle(2, 3, 4)).unwrap();
    assert_eq!(
        engine.track("view", "no-such-item", 1.0),
        Err(VitrineError::Request(RequestError::UnknownItem(
            "no-such-item".into()
        )))
    );
    assert!(matches!(
        engine.track("teleport", "c0-i0", 1.0),
        Err(VitrineError::Request(RequestError::UnknownEventType(_)))
    ));
    assert!(engine.track("view", "c0-i0", f64::NAN).is_err());
    assert!(engine.session().is_empty());
    assert!(RecommendRequest::new(0).is_err());
    assert!(RecommendRequest::new(vitrine::rank::MAX_K + 1).is_err());
    // k larger than the catalog returns the whole catalog.
    assert_eq!(
        engine.recommend(&RecommendRequest::new(100).unwrap()).len(),
        6
    );
    engine.track("view", "c0-i0", 1.0).unwrap();
    engine.reset();
    assert!(engine.session().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Random mutations and truncations of a valid bundle never panic.
    #[test]
    fn mutated_bundles_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8), cut in any::<prop::sample::Index>()) {
        let mut bytes = clustered_bundle(3, 4, 8);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep);
        if let Ok(mut engine) = Engine::from_bytes(bytes) {
            let first = engine.bundle().ids()[0].clone();
            let _ = engine.track("view", &first, 0.0);
            let _ = engine.recommend(&RecommendRequest::new(5).unwrap());
        }
    }
}
