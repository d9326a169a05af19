//! The format's constants, the reader's limits, and how to load a bundle.

/// The `format` metadata value every bundle carries.
pub const FORMAT: &str = "vitrine-bundle";
/// The newest format version this reader and writer implement: compact bundles (product-quantized
/// vectors, coded ids, log-quantized per-item values). The writer writes it only for a compact
/// bundle; [`FORMAT_VERSION_2`] when a bundle uses a part version 1 readers would misread
/// (availability, trending, co-purchase lists, the repeat and neighbour scoring terms); otherwise
/// [`FORMAT_VERSION_1`], so bundles that need nothing new still load in older engines.
pub const FORMAT_VERSION: &str = "3";
/// The second format version (availability, trending, co-purchase lists, session terms).
pub const FORMAT_VERSION_2: &str = "2";
/// The first format version (still read, and still written for bundles without newer parts).
pub const FORMAT_VERSION_1: &str = "1";
/// The versions this reader accepts, for messages.
pub const SUPPORTED_VERSIONS: &str = "1, 2 and 3";
/// Tensors this reader understands. A bundle's `required` key may only name these; any other
/// tensor is skipped (but still covered by the digest).
pub const KNOWN_TENSORS: &[&str] = &[
    "item_ids",
    "item_emb",
    "item_scale",
    "item_pop",
    "item_cat",
    "cat_names",
    "item_price",
    "nbr_offsets",
    "nbr_items",
    "nbr_weights",
    "session_pos_weights",
    "session_readout",
    "head_weights",
    "ctx_weights",
    "item_avail",
    "item_trend",
    "cop_offsets",
    "cop_items",
    "cop_weights",
    "item_codes",
    "pq_codebooks",
];
/// The metadata key naming the digest of the bundle file a catalog update (a delta, see
/// `bundle::overlay`) applies to.
pub const DELTA_BASE_KEY: &str = "delta.base";
/// The metadata key holding that file's number of rows.
pub const DELTA_N_BASE_KEY: &str = "delta.n_base";
/// The metadata key of a delta that is a **shard** of a big catalog (value [`DELTA_KIND_SHARD`]):
/// its rows join the loaded bundle (head and the shards applied before stay), where a catalog
/// update replaces the previous one. Absent: a catalog update.
pub const DELTA_KIND_KEY: &str = "delta.kind";
/// The value of [`DELTA_KIND_KEY`] for a shard (written by `vitrine catalog shard`).
pub const DELTA_KIND_SHARD: &str = "shard";
/// `item_cat`'s "no category" in a compact bundle with fewer than 255 categories, whose
/// `item_cat` is U8 (1 byte per item instead of 4). Older bundles' I32 `item_cat` uses −1.
pub const CATEGORY_NONE_U8: u8 = u8::MAX;
/// `item_cat`'s "no category" in a compact bundle with 255 to 65,534 categories (U16).
pub const CATEGORY_NONE_U16: u16 = u16::MAX;
/// Largest embedding dimension accepted (keeps per-item work and the int8 dot exact and bounded).
pub const MAX_DIM: usize = limits::MAX_DIM;

/// Reader limits, checked against the header's declared shapes before anything is decoded.
pub mod limits {
    /// Largest header (JSON) accepted, in bytes (safetensors' own limit).
    pub const MAX_HEADER_BYTES: u64 = 100_000_000;
    /// Most items (rows of `item_emb`).
    pub const MAX_ITEMS: usize = 50_000_000;
    /// Largest embedding dimension.
    pub const MAX_DIM: usize = 4096;
    /// Largest tensor rank.
    pub const MAX_RANK: usize = 8;
    /// Most session positions in `session_pos_weights`.
    pub const MAX_SESSION_POSITIONS: usize = 256;
    /// Most ranking-head features.
    pub const MAX_HEAD_FEATURES: usize = 1024;
    /// Most context features (rows of `ctx_weights`).
    pub const MAX_CTX_FEATURES: usize = 4096;
    /// Most categories (`cat_names` entries, columns of `ctx_weights`).
    pub const MAX_CATEGORIES: usize = 1_000_000;
}

/// The prefix of a digest value (the `digest` metadata key, bundle::digest); 64 lowercase hex
/// digits follow.
pub const DIGEST_PREFIX: &str = "sha256:";

/// Whether `value` is a well-formed digest: `sha256:` + 64 lowercase hex digits.
pub fn is_digest(value: &str) -> bool {
    value.strip_prefix(DIGEST_PREFIX).is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// How to load a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleOptions {
    /// Verify the `digest` metadata key against the contents (default `true`). A bundle without a
    /// digest is rejected ([`BundleError::MissingDigest`]) while this is on. Turn it off only when
    /// the caller has already checked the bytes' integrity (e.g. Subresource Integrity on the
    /// fetch): every other check still runs.
    pub verify_digest: bool,
    /// The canonical digest the caller computed from these very bytes (following
    /// [`super::digest::plan`], e.g. with the browser's native SHA-256), compared with the recorded
    /// one instead of hashing the bytes again (used only while `verify_digest` is on).
    pub computed_digest: Option<String>,
}

impl Default for BundleOptions {
    fn default() -> Self {
        Self {
            verify_digest: true,
            computed_digest: None,
        }
    }
}

crate::wire! {
    /// How the page asks to load a bundle (`{verifyDigest?, computedDigest?}`), before defaults.
    #[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LoadOptions {
        /// Verify the bundle's digest (default `true`; see [`BundleOptions::verify_digest`]).
        verify_digest: Option<bool> = "verifyDigest",
        /// The digest the page computed (see [`BundleOptions::computed_digest`]).
        computed_digest: Option<String> = "computedDigest",
    }
}

impl TryFrom<LoadOptions> for BundleOptions {
    type Error = crate::error::RequestError;

    /// Defaults applied; a `computedDigest` that is not `sha256:` + 64 lowercase hex digits is an
    /// invalid option.
    fn try_from(o: LoadOptions) -> Result<Self, Self::Error> {
        if let Some(d) = &o.computed_digest {
            if !is_digest(d) {
                return Err(crate::error::RequestError::InvalidOption {
                    name: "computedDigest",
                    why: "expected 'sha256:' followed by 64 lowercase hex digits".into(),
                });
            }
        }
        Ok(Self {
            verify_digest: o.verify_digest.unwrap_or(true),
            computed_digest: o.computed_digest,
        })
    }
}
