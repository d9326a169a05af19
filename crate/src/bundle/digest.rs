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
pub use super::format::DIGEST_PREFIX;
/// Domain-separation string that starts the hashed stream.
const DOMAIN: &[u8] = b"vitrine-bundle-digest-v1\n";

/// What is hashed for one tensor.
pub(crate) struct TensorRef<'a> {
    pub name: &'a str,
    pub dtype: Dtype,
    pub shape: &'a [usize],
    pub data: &'a [u8],
}

/// One piece of the hashed stream: literal bytes, or tensor `i`'s data.
enum Piece<'b> {
    Bytes(&'b [u8]),
    Data(usize),
}

/// Emits the hashed stream (module docs) piece by piece: `tensors` (name, dtype, shape, data
/// length in bytes) in ascending byte order of name; `Piece::Data(i)` stands for the `i`-th
/// tensor's data. The one definition of the stream: the digest and the plan use it.
fn canonical<'t>(
    metadata: &Metadata,
    tensors: impl Iterator<Item = (&'t str, Dtype, &'t [usize], usize)>,
    mut put: impl FnMut(Piece<'_>),
) {
    fn lp(put: &mut dyn FnMut(Piece<'_>), bytes: &[u8]) {
        put(Piece::Bytes(&(bytes.len() as u64).to_le_bytes()));
        put(Piece::Bytes(bytes));
    }
    put(Piece::Bytes(DOMAIN));
    let keys: Vec<(&String, &String)> = metadata.iter().filter(|(k, _)| *k != DIGEST_KEY).collect();
    put(Piece::Bytes(&(keys.len() as u64).to_le_bytes()));
    // Metadata iterates in ascending byte order of the keys.
    for (k, v) in keys {
        lp(&mut put, k.as_bytes());
        lp(&mut put, v.as_bytes());
    }
    let tensors: Vec<_> = tensors.collect();
    put(Piece::Bytes(&(tensors.len() as u64).to_le_bytes()));
    for (i, (name, dtype, shape, data_len)) in tensors.into_iter().enumerate() {
        lp(&mut put, name.as_bytes());
        lp(&mut put, super::dtype::name(dtype).as_bytes());
        put(Piece::Bytes(&(shape.len() as u64).to_le_bytes()));
        for &d in shape {
            put(Piece::Bytes(&(d as u64).to_le_bytes()));
        }
        put(Piece::Bytes(&(data_len as u64).to_le_bytes()));
        put(Piece::Data(i));
    }
}

/// The digest string (`sha256:<hex>`) of metadata + tensors. `metadata`'s `digest` key, if any,
/// is ignored; `tensors` must be in ascending byte order of name (the container keeps them so;
/// the writer sorts).
pub(crate) fn digest_of(metadata: &Metadata, tensors: &[TensorRef<'_>]) -> String {
    let mut h = Sha256::new();
    let described = tensors
        .iter()
        .map(|t| (t.name, t.dtype, t.shape, t.data.len()));
    canonical(metadata, described, |piece| match piece {
        Piece::Bytes(b) => h.update(b),
        Piece::Data(i) => h.update(tensors.get(i).map_or(&[][..], |t| t.data)),
    });
    hex_digest(&h.finalize())
}

/// `sha256:` + the lowercase hex of a 32-byte hash.
pub(crate) fn hex_digest(hash: &[u8]) -> String {
    let mut out = String::with_capacity(DIGEST_PREFIX.len() + 64);
    out.push_str(DIGEST_PREFIX);
    for &b in hash {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// One piece of a [`DigestPlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanPiece {
    /// These bytes, as they are.
    Bytes(Vec<u8>),
    /// The file's bytes in this range.
    File(std::ops::Range<usize>),
}

/// How to compute a bundle's digest elsewhere (the browser's native SHA-256): SHA-256 over the
/// pieces in order, as `sha256:` + lowercase hex, equals the canonical digest. Made from the
/// header alone, so that the caller need not hand the whole file over first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestPlan {
    /// The digest the bundle records (well-formed: checked).
    pub recorded: String,
    /// The hashed stream: literal pieces and ranges of the file.
    pub pieces: Vec<PlanPiece>,
}

/// The plan for the file whose first bytes are `prefix` (8 + the header length at least) and
/// whose length is `file_len`. Errors: the container's ([`container::parse`]), then
/// [`BundleError::MissingDigest`] / [`BundleError::Metadata`] for a missing or malformed digest.
pub fn plan(prefix: &[u8], file_len: u64) -> Result<DigestPlan, BundleError> {
    plan_of(&container::parse_layout(prefix, file_len)?)
}

/// The plan for a parsed header ([`plan`]'s digest errors).
pub(crate) fn plan_of(layout: &container::HeaderLayout) -> Result<DigestPlan, BundleError> {
    let recorded = layout
        .metadata()
        .get(DIGEST_KEY)
        .ok_or(BundleError::MissingDigest)?
        .clone();
    check_syntax(&recorded)?;
    let tensors: Vec<_> = layout.tensors().collect();
    let ranges: Vec<_> = tensors.iter().map(|t| t.3.clone()).collect();
    let described = tensors.iter().map(|(n, d, s, r)| (*n, *d, *s, r.len()));
    let mut pieces = Vec::new();
    let mut literal = Vec::new();
    canonical(layout.metadata(), described, |piece| match piece {
        Piece::Bytes(b) => literal.extend_from_slice(b),
        Piece::Data(i) => {
            pieces.push(PlanPiece::Bytes(std::mem::take(&mut literal)));
            pieces.push(PlanPiece::File(ranges.get(i).cloned().unwrap_or(0..0)));
        }
    });
    pieces.push(PlanPiece::Bytes(literal));
    pieces.retain(|p| !matches!(p, PlanPiece::Bytes(b) if b.is_empty()));
    Ok(DigestPlan { recorded, pieces })
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
/// [`BundleError::DigestMismatch`] when it differs. `computed`: the digest the caller computed
/// from these bytes (with a [`plan`]), compared instead of hashing them again here.
pub(crate) fn verify(c: &Container<'_>, computed: Option<&str>) -> Result<(), BundleError> {
    let recorded = c
        .metadata()
        .get(DIGEST_KEY)
        .ok_or(BundleError::MissingDigest)?;
    check_syntax(recorded)?;
    let computed = match computed {
        Some(given) => given.to_owned(),
        None => digest_of_container(c)?,
    };
    if *recorded != computed {
        return Err(BundleError::DigestMismatch {
            recorded: recorded.clone(),
            computed,
        });
    }
    Ok(())
}

fn check_syntax(value: &str) -> Result<(), BundleError> {
    if super::format::is_digest(value) {
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
