//! A bundle loaded as it streams in (`bundle::BundleStream`): any split of the file into chunks,
//! hashed at any pace, gives the same bytes and the canonical digest; short, long, tampered and
//! hostile streams are refused with the errors a whole-file load gives, and as early as the bytes
//! allow.

#![cfg(not(target_arch = "wasm32"))]

mod bundle_fixtures;

use bundle_fixtures::*;
use proptest::prelude::*;
use sha2::{Digest as _, Sha256};
use vitrine::bundle::{digest, write_bundle, BundleOptions, BundleStream, HashOrder};
use vitrine::{Bundle, BundleError};

/// Streams `bytes` in chunks of `chunk` bytes, hashing up to `budget` bytes after each.
fn stream(bytes: &[u8], chunk: usize, budget: usize) -> BundleStream {
    let mut s = BundleStream::new(None);
    for c in bytes.chunks(chunk.max(1)) {
        s.push(c).unwrap();
        s.hash(budget);
    }
    s
}

/// The base tensors in name order: a file whose layout is the digest's order.
fn in_name_order() -> Vec<T> {
    let mut ts = base_tensors();
    ts.sort_by(|a, b| a.name.cmp(&b.name));
    ts
}

/// Bundles laid out in the digest's order, in reverse order, and as our writer lays them out
/// (largest element first), with every part.
fn bundles() -> Vec<Vec<u8>> {
    let mut reversed = in_name_order();
    reversed.reverse();
    vec![
        assemble(&base_meta(), &in_name_order(), true),
        assemble(&base_meta(), &reversed, true),
        write_bundle(&full_parts(3, 4, 8)).unwrap(),
    ]
}

#[test]
fn any_split_gives_the_file_and_its_canonical_digest() {
    for bytes in bundles() {
        let digest = digest::compute(&bytes).unwrap();
        for (chunk, budget) in [
            (1, 1),
            (7, 3),
            (64, 1000),
            (4096, 0),
            (bytes.len(), usize::MAX),
        ] {
            let s = stream(&bytes, chunk, budget);
            assert_eq!(s.declared_len(), Some(bytes.len()));
            let (got, options) = s.finish(BundleOptions::default()).unwrap();
            assert_eq!(got, bytes, "chunk {chunk}");
            assert_eq!(options.computed_digest.as_deref(), Some(digest.as_str()));
            let b = Bundle::from_bytes_with(got, &options).unwrap();
            assert!(b.digest_verified());
        }
    }
}

#[test]
fn hashing_keeps_pace_with_the_bytes_in_the_digests_order() {
    let bytes = assemble(&base_meta(), &in_name_order(), true);
    let data = bytes.len() - header_end(&bytes);
    let mut s = BundleStream::new(Some(bytes.len()));
    let half = header_end(&bytes) + data / 2;
    s.push(&bytes[..half]).unwrap();
    assert_eq!(s.unhashed(), data, "nothing hashed before asked");
    assert_eq!(s.hash(10), 10);
    assert_eq!(
        s.hash(usize::MAX),
        data / 2 - 10,
        "everything that came, in file order"
    );
    assert_eq!(s.hash(usize::MAX), 0, "nothing more until more comes");
    assert_eq!(s.unhashed(), data - data / 2);
    s.push(&bytes[half..]).unwrap();
    assert_eq!(s.hash(usize::MAX), data - data / 2);
    assert_eq!(s.unhashed(), 0);
}

#[test]
fn a_file_in_another_order_is_hashed_as_far_as_its_bytes_allow() {
    let mut reversed = in_name_order();
    reversed.reverse();
    let bytes = assemble(&base_meta(), &reversed, true);
    let data = bytes.len() - header_end(&bytes);
    let mut s = BundleStream::new(None);
    s.push(&bytes[..bytes.len() - 1]).unwrap();
    s.hash(usize::MAX);
    // The digest's first tensor by name is the file's last: nothing after it can be hashed
    // before its last byte is in.
    let first = in_name_order()[0].data.len();
    assert_eq!(s.unhashed(), data - (first - 1));
    s.push(&bytes[bytes.len() - 1..]).unwrap();
    assert_eq!(s.hash(usize::MAX), data - (first - 1));
    assert_eq!(s.unhashed(), 0);
}

#[test]
fn a_tampered_stream_fails_the_digest_check() {
    let mut bytes = base_bundle();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let (got, options) = stream(&bytes, 5, 2)
        .finish(BundleOptions::default())
        .unwrap();
    assert!(matches!(
        Bundle::from_bytes_with(got, &options),
        Err(BundleError::DigestMismatch { .. })
    ));
}

#[test]
fn a_short_stream_is_truncated() {
    let bytes = base_bundle();
    let n = bytes.len() as u64;
    let end = header_end(&bytes) as u64;
    for (cut, expected) in [(0, 8), (5, 8), (20, end), (bytes.len() - 1, n)] {
        let mut s = BundleStream::new(None);
        s.push(&bytes[..cut]).unwrap();
        match s.finish(BundleOptions::default()) {
            Err(BundleError::Truncated { expected: e, found }) => {
                assert_eq!((e, found), (expected, cut as u64), "cut at {cut}")
            }
            other => panic!("cut at {cut}: {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn bytes_beyond_the_declared_length_are_refused_at_the_chunk_that_brings_them() {
    let bytes = base_bundle();
    let mut longer = bytes.clone();
    longer.push(0);
    let mut s = BundleStream::new(None);
    assert!(matches!(s.push(&longer), Err(BundleError::Container(_))));
    let mut s = BundleStream::new(None);
    s.push(&bytes).unwrap();
    assert!(matches!(s.push(&[0]), Err(BundleError::Container(_))));
}

#[test]
fn a_hostile_header_is_refused_before_its_data() {
    // A header length above the limit: refused from the first 8 bytes.
    let mut s = BundleStream::new(None);
    assert!(matches!(
        s.push(&u64::MAX.to_le_bytes()),
        Err(BundleError::TooLarge { .. })
    ));
    // A header that does not parse: refused as soon as it is complete.
    let mut s = BundleStream::new(None);
    let mut bad = 4u64.to_le_bytes().to_vec();
    bad.extend_from_slice(b"{no}");
    assert!(matches!(s.push(&bad), Err(BundleError::Container(_))));
    // A header declaring more data than any memory holds: refused when the header is in, before
    // any of it is allocated.
    let json = format!(
        r#"{{"huge":{{"dtype":"U8","shape":[{n}],"data_offsets":[0,{n}]}}}}"#,
        n = 1u64 << 60
    );
    let mut huge = (json.len() as u64).to_le_bytes().to_vec();
    huge.extend_from_slice(json.as_bytes());
    let mut s = BundleStream::new(None);
    let err = s.push(&huge).unwrap_err();
    // Above a 32-bit address space (wasm32), or an allocation that fails (64-bit).
    assert!(
        matches!(
            err,
            BundleError::TooLarge { .. } | BundleError::OutOfMemory { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn without_a_recorded_digest_the_load_decides() {
    let unsigned = assemble(&base_meta(), &base_tensors(), false);
    let s = stream(&unsigned, 9, usize::MAX);
    assert_eq!(s.unhashed(), 0, "no digest to compute");
    let (got, options) = s.finish(BundleOptions::default()).unwrap();
    assert!(options.computed_digest.is_none());
    assert!(matches!(
        Bundle::from_bytes_with(got.clone(), &options),
        Err(BundleError::MissingDigest)
    ));
    let off = BundleOptions {
        verify_digest: false,
        ..BundleOptions::default()
    };
    let (got, options) = stream(&unsigned, 9, 0).finish(off).unwrap();
    assert!(Bundle::from_bytes_with(got, &options).is_ok());
}

#[test]
fn a_digest_computed_elsewhere_is_kept() {
    let bytes = base_bundle();
    let (_, computed) = page_digest(&bytes);
    let given = BundleOptions {
        computed_digest: Some(computed.clone()),
        ..BundleOptions::default()
    };
    let (_, options) = stream(&bytes, 3, 0).finish(given).unwrap();
    assert_eq!(options.computed_digest, Some(computed));
}

#[test]
fn in_file_order_the_stream_hashes_the_file_as_it_comes() {
    for bytes in bundles() {
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        let end = header_end(&bytes);
        for chunk in [1, 13, 4096, bytes.len()] {
            let mut s = BundleStream::hashing(None, HashOrder::File);
            for c in bytes.chunks(chunk) {
                s.push(c).unwrap();
                s.hash(usize::MAX);
                if s.received() >= end {
                    // Everything that came is hashed: the file's order never waits.
                    assert_eq!(s.unhashed(), bytes.len() - s.received());
                }
                if s.received() < bytes.len() {
                    assert_eq!(s.file_sha256(), None, "not before the last byte");
                }
            }
            assert_eq!(s.file_sha256(), Some(sha), "chunk {chunk}");
            // The load then skips the canonical digest (the caller checked the file's hash).
            let off = BundleOptions {
                verify_digest: false,
                ..BundleOptions::default()
            };
            let (got, options) = s.finish(off).unwrap();
            assert!(options.computed_digest.is_none());
            assert!(Bundle::from_bytes_with(got, &options).is_ok());
        }
    }
    // A stream hashing the canonical digest has no file hash to give.
    let bytes = base_bundle();
    let mut s = stream(&bytes, 64, usize::MAX);
    assert_eq!(s.file_sha256(), None);
}

#[test]
fn a_file_order_stream_asked_to_verify_leaves_the_digest_to_the_load() {
    let bytes = base_bundle();
    let mut s = BundleStream::hashing(None, HashOrder::File);
    s.push(&bytes).unwrap();
    s.hash(usize::MAX);
    let (got, options) = s.finish(BundleOptions::default()).unwrap();
    assert!(
        options.computed_digest.is_none(),
        "the file's hash is not the canonical digest"
    );
    assert!(Bundle::from_bytes_with(got, &options)
        .unwrap()
        .digest_verified());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_chunks_and_budgets_give_the_canonical_digest(
        cuts in proptest::collection::vec(0usize..4000, 0..12),
        budgets in proptest::collection::vec(0usize..300, 1..12),
    ) {
        let bytes = write_bundle(&full_parts(3, 4, 8)).unwrap();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.push(bytes.len());
        cuts.sort_unstable();
        let mut s = BundleStream::new(None);
        let mut at = 0;
        for (i, cut) in cuts.into_iter().enumerate() {
            s.push(&bytes[at..cut]).unwrap();
            at = cut;
            s.hash(budgets[i % budgets.len()]);
        }
        let (got, options) = s.finish(BundleOptions::default()).unwrap();
        prop_assert_eq!(&got, &bytes);
        prop_assert_eq!(options.computed_digest, Some(digest::compute(&bytes).unwrap()));
    }
}

/// `src` written into `dst` (as long as it), returned initialized.
fn copy_into<'a>(src: &[u8], dst: &'a mut [std::mem::MaybeUninit<u8>]) -> &'a mut [u8] {
    assert_eq!(src.len(), dst.len());
    for (d, &b) in dst.iter_mut().zip(src) {
        d.write(b);
    }
    // SAFETY: every byte of `dst` was written above.
    unsafe { &mut *(std::ptr::from_mut(dst) as *mut [u8]) }
}

#[test]
fn push_with_copies_in_place_and_refuses_a_fill_that_does_not_cover_the_chunk() {
    let bytes = base_bundle();
    let half = bytes.len() / 2;
    let mut s = BundleStream::new(None);
    s.push_with(half, |d| copy_into(&bytes[..half], d)).unwrap();
    // A fill that hands back fewer bytes than asked appends nothing.
    let err = s
        .push_with(4, |dst| {
            for d in dst.iter_mut() {
                d.write(0);
            }
            // SAFETY: all four written; only two are returned, which is the error under test.
            unsafe { &mut *(std::ptr::from_mut(&mut dst[..2]) as *mut [u8]) }
        })
        .unwrap_err();
    assert!(matches!(err, BundleError::Container(_)), "{err}");
    s.push_with(bytes.len() - half, |d| copy_into(&bytes[half..], d))
        .unwrap();
    let (got, options) = s.finish(BundleOptions::default()).unwrap();
    assert_eq!(got, bytes);
    assert!(Bundle::from_bytes_with(got, &options)
        .unwrap()
        .digest_verified());
}
