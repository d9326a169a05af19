//! The digest plan (`bundle::digest::plan`): hashing its pieces gives the canonical digest, from the
//! header alone, for any layout; and a digest computed that way (`computed_digest`) is checked
//! against the recorded one on load exactly as the engine's own hashing would be.

#![cfg(not(target_arch = "wasm32"))]

mod bundle_fixtures;

use bundle_fixtures::*;
use vitrine::bundle::digest::{self, PlanPiece};
use vitrine::bundle::{write_bundle, BundleOptions, LoadOptions};
use vitrine::{Bundle, BundleError};

fn with_computed(computed: &str) -> BundleOptions {
    BundleOptions {
        computed_digest: Some(computed.into()),
        ..BundleOptions::default()
    }
}

#[test]
fn hashing_the_plan_gives_the_canonical_digest_for_any_layout() {
    let mut reversed = base_tensors();
    reversed.reverse();
    let bundles = [
        base_bundle(),
        assemble(&base_meta(), &reversed, true),
        write_bundle(&full_parts(3, 4, 8)).unwrap(),
    ];
    for bytes in bundles {
        let (recorded, computed) = page_digest(&bytes);
        assert_eq!(computed, digest::compute(&bytes).unwrap());
        assert_eq!(recorded, computed);
    }
}

#[test]
fn the_plan_reads_the_header_only_and_refuses_what_a_load_refuses() {
    let bytes = base_bundle();
    let end = header_end(&bytes);
    let whole = digest::plan(&bytes, bytes.len() as u64).unwrap();
    assert_eq!(
        digest::plan(&bytes[..end], bytes.len() as u64).unwrap(),
        whole
    );
    // Every data range lies after the header and inside the file, and they cover the data.
    let covered: usize = whole
        .pieces
        .iter()
        .map(|p| match p {
            PlanPiece::File(r) => {
                assert!(r.start >= end && r.end <= bytes.len(), "{r:?}");
                r.len()
            }
            PlanPiece::Bytes(_) => 0,
        })
        .sum();
    assert_eq!(covered, bytes.len() - end);
    assert!(matches!(
        digest::plan(&bytes[..end - 1], bytes.len() as u64),
        Err(BundleError::HeaderBeyondFile { .. })
    ));
    assert!(matches!(
        digest::plan(&bytes[..end], bytes.len() as u64 - 1),
        Err(BundleError::Truncated { .. })
    ));
    assert!(matches!(
        digest::plan(&bytes[..4], bytes.len() as u64),
        Err(BundleError::Truncated { .. })
    ));
    let unsigned = assemble(&base_meta(), &base_tensors(), false);
    assert_eq!(
        digest::plan(&unsigned, unsigned.len() as u64),
        Err(BundleError::MissingDigest)
    );
    let mut meta = base_meta();
    meta.insert("digest".into(), "sha256:abc".into());
    let malformed = assemble(&meta, &base_tensors(), false);
    assert!(matches!(
        digest::plan(&malformed, malformed.len() as u64),
        Err(BundleError::Metadata { ref key, .. }) if key == "digest"
    ));
}

#[test]
fn a_computed_digest_is_checked_against_the_recorded_one() {
    let bytes = base_bundle();
    let (_, computed) = page_digest(&bytes);
    let b = Bundle::from_bytes_with(bytes.clone(), &with_computed(&computed)).unwrap();
    assert!(b.digest_verified());
    // A tampered byte: the page's hash of it differs from the record, and the load says so as the
    // engine's own hashing does.
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let (_, of_tampered) = page_digest(&tampered);
    let own = Bundle::from_bytes(tampered.clone()).err().unwrap();
    let given = Bundle::from_bytes_with(tampered, &with_computed(&of_tampered))
        .err()
        .unwrap();
    assert_eq!(given, own);
    assert!(
        matches!(given, BundleError::DigestMismatch { ref computed, .. } if *computed == of_tampered)
    );
}

#[test]
fn a_malformed_computed_digest_is_an_invalid_option() {
    for bad in ["sha256:abc", "md5:00", ""] {
        let o: LoadOptions =
            serde_json::from_value(serde_json::json!({ "computedDigest": bad })).unwrap();
        let e = BundleOptions::try_from(o).unwrap_err();
        assert!(e.to_string().contains("computedDigest"), "{bad}: {e}");
    }
    let ok: LoadOptions = serde_json::from_value(serde_json::json!({
        "computedDigest": format!("sha256:{}", "0".repeat(64)),
        "verifyDigest": false
    }))
    .unwrap();
    let o = BundleOptions::try_from(ok).unwrap();
    assert!(!o.verify_digest);
}
