//! The bundle's canonical digest (`digest` metadata key): SHA-256 over the metadata (every key but
//! `digest`), each tensor's name, dtype and shape, and all tensor data, in an order that does not
//! depend on how a writer laid out the file. Specified in `docs/bundle.md` § Digest; the Python
//! example there computes the same value with `hashlib`.
//!
//! ```text
//! lp(b)  = u64le(len(b)) ‖ b
//! digest = "sha256:" ‖ hex(SHA-256(
//!     "vitrine-bundle-digest-v1\n"
//!     ‖ u64le(#metadata keys other than "digest")
//!     ‖ for each such key k in ascending byte order:     lp(utf8 k) ‖ lp(utf8 value)
//!     ‖ u64le(#tensors)
//!     ‖ for each tensor in ascending byte order of name:  lp(utf8 name) ‖ lp(dtype, e.g. "F32")
//!                                                        ‖ u64le(rank) ‖ u64le(dim)… ‖ lp(data bytes)
//! ))
//! ```

use super::metadata::Metadata;

use safetensors::Dtype;
use sha2::{Digest as _, Sha256};

use super::container::{self, Container};
use crate::error::BundleError;

/// The metadata key holding the digest.
pub const DIGEST_KEY: &str = "digest";
/// The prefix of the digest value; 64 lowercase hex digits follow.
pub const DIGEST_PREFIX: &str = "sha256:";
/// Domain-separation string that starts the hashed stream.
const DOMAIN: &[u8] = b"vitrine-bundle-digest-v1\n";

/// What is hashed for one tensor.
pub(crate) struct TensorRef<'a> {
    pub name: &'a str,
    pub dtype: Dtype,
    pub shape: &'a [usize],
    pub data: &'a [u8],
}

fn lp(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// The digest string (`sha256:<hex>`) of metadata + tensors. `metadata`'s `digest` key, if any,
/// is ignored; `tensors` must be in ascending byte order of name (the container keeps them so;
/// the writer sorts).
pub(crate) fn digest_of(metadata: &Metadata, tensors: &[TensorRef<'_>]) -> String {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    let keys: Vec<(&String, &String)> = metadata.iter().filter(|(k, _)| *k != DIGEST_KEY).collect();
    h.update((keys.len() as u64).to_le_bytes());
    // Metadata iterates in ascending byte order of the keys.
    for (k, v) in keys {
        lp(&mut h, k.as_bytes());
        lp(&mut h, v.as_bytes());
    }
    h.update((tensors.len() as u64).to_le_bytes());
    for t in tensors {
        lp(&mut h, t.name.as_bytes());
        lp(&mut h, super::dtype::name(t.dtype).as_bytes());
        h.update((t.shape.len() as u64).to_le_bytes());
        for &d in t.shape {
            h.update((d as u64).to_le_bytes());
        }
        lp(&mut h, t.data);
    }
    let hash = h.finalize();
    let mut out = String::with_capacity(DIGEST_PREFIX.len() + 64);
    out.push_str(DIGEST_PREFIX);
    for b in hash {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The digest of a parsed container.
pub(crate) fn digest_of_container(c: &Container<'_>) -> Result<String, BundleError> {
    let tensors = c
        .tensors()
        .map(|t| {
            t.map(|t| TensorRef {
                name: t.name,
                dtype: t.dtype,
                shape: t.shape,
                data: t.data,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(digest_of(c.metadata(), &tensors))
}

/// Checks the recorded digest against the contents: [`BundleError::MissingDigest`] when there is
/// none, [`BundleError::Metadata`] when it is not `sha256:` + 64 lowercase hex digits,
/// [`BundleError::DigestMismatch`] when it differs.
pub(crate) fn verify(c: &Container<'_>) -> Result<(), BundleError> {
    let recorded = c
        .metadata()
        .get(DIGEST_KEY)
        .ok_or(BundleError::MissingDigest)?;
    check_syntax(recorded)?;
    let computed = digest_of_container(c)?;
    if *recorded != computed {
        return Err(BundleError::DigestMismatch {
            recorded: recorded.clone(),
            computed,
        });
    }
    Ok(())
}

fn check_syntax(value: &str) -> Result<(), BundleError> {
    let ok = value
        .strip_prefix(DIGEST_PREFIX)
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| HEX.contains(&b)));
    if ok {
        Ok(())
    } else {
        Err(BundleError::Metadata {
            key: DIGEST_KEY.into(),
            value: value.chars().take(80).collect(),
            why: "expected 'sha256:' followed by 64 lowercase hex digits".into(),
        })
    }
}

/// What a bundle's digest says about its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestStatus {
    /// The recorded digest matches the contents.
    Valid(String),
    /// No `digest` key; `computed` is what it would be.
    Missing { computed: String },
    /// The recorded digest is malformed or differs from the contents.
    Mismatch { recorded: String, computed: String },
}

/// Checks the digest of a bundle's bytes without validating anything else (for tools such as
/// `vitrine inspect`). Fails only when the container itself cannot be parsed.
pub fn check(bytes: &[u8]) -> Result<DigestStatus, BundleError> {
    let c = container::parse(bytes)?;
    let computed = digest_of_container(&c)?;
    Ok(match c.metadata().get(DIGEST_KEY) {
        None => DigestStatus::Missing { computed },
        Some(r) if *r == computed => DigestStatus::Valid(computed),
        Some(r) => DigestStatus::Mismatch {
            recorded: r.clone(),
            computed,
        },
    })
}

/// Computes the canonical digest (`sha256:<hex>`) of a bundle's bytes, whatever its `digest` key
/// says. Fails only when the container itself cannot be parsed.
pub fn compute(bytes: &[u8]) -> Result<String, BundleError> {
    digest_of_container(&container::parse(bytes)?)
}
