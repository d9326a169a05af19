//! The model bundle: a safetensors file every shopper's browser downloads. This module reads it
//! (validating every length, dtype, shape and value before use) and, natively, writes it.
//! The format is specified in `docs/bundle.md`; in short:
//!
//! | tensor | dtype | shape | |
//! | --- | --- | --- | --- |
//! | `item_ids` | U8 | [bytes] | UTF-8 ids joined by `\n`, row order of every per-item tensor |
//! | `item_emb` | I8 | [n, d] | symmetric per-row int8 embeddings |
//! | `item_scale` | F32 / F16 | [n] | `f32 row i = item_emb[i] · item_scale[i]` |
//! | `item_pop` | F32 / F16 | [n] | popularity ≥ 0 |
//! | `item_cat` + `cat_names` | I32 [n] + U8 | | optional category index (−1 = none) and names; version 3: U8/U16 `item_cat` (all ones = none) |
//! | `item_price` | F32 | [n] | optional price ≥ 0, −1 = unknown |
//! | `nbr_offsets`, `nbr_items`, `nbr_weights` | U32, U16/U32, U8 | [n+1], [nnz], [nnz] | optional CSR neighbour lists |
//! | `session_pos_weights` | F32 | [L] | optional weight per session position (0 = newest) |
//! | `session_readout` | F32 | [d, d] | optional session readout W: the query is `W · profile` |
//! | `head_weights` | F32 | [F] | optional linear ranking head (`head.features`) |
//! | `ctx_weights` | F32 | [C, K] | optional context × category weights (`ctx.features`) |
//! | `item_avail` | U8 | [n] | version 2: 1 = may be recommended (named in `required`) |
//! | `item_trend` | F32 | [n] | version 2: recency-weighted counts ≥ 0 (`trending()`) |
//! | `cop_offsets`, `cop_items`, `cop_weights` | as `nbr_*` | | version 2: co-purchase lists (`cop.scale`) |
//! | `item_codes` + `pq_codebooks` | U8 [n, m] + F16/F32 [k, d] | | version 3 (compact): product-quantized vectors instead of `item_emb`/`item_scale` ([`pq`]) |
//! | `item_ids` coded, `item_pop`/`item_trend` U8 | | | version 3: `ids.coding` ([`id_code`]), one byte of log scale (`pop.log1p_max`) |
//!
//! plus `__metadata__`: `format = "vitrine-bundle"`, `format_version = "1"`, `"2"` or `"3"` (2 only
//! when a version-2 part or the repeat / item-to-item terms are present, 3 for a compact bundle), `digest =
//! "sha256:<hex>"` (see [`digest`]), optional `required`, scoring keys and free-form keys.
//!
//! The embedding matrix (or a compact bundle's codes) and the neighbour lists are not copied on
//! load: [`Bundle::embeddings`], [`Bundle::row`], [`Bundle::codes`] and [`Bundle::neighbours`] read
//! the bundle's own bytes. Scoring goes through an [`ItemQuery`] (int8 query, or a lookup table).

mod category_column;
mod container;
mod decode;
pub mod digest;
mod dtype;
mod f32_column;
mod format;
pub mod id_code;
mod id_index;
mod id_list;
mod loaded;
mod metadata;
mod overlay;
mod params;
pub mod pq;
mod read;
mod read_lists;
mod stream;
mod tables;
mod vectors;
mod write_compact;
mod write_parts;
mod writer;

pub use digest::DigestStatus;
pub use format::{
    limits, BundleOptions, LoadOptions, DELTA_BASE_KEY, DELTA_KIND_KEY, DELTA_KIND_SHARD,
    DELTA_N_BASE_KEY, FORMAT, FORMAT_VERSION, FORMAT_VERSION_1, FORMAT_VERSION_2, KNOWN_TENSORS,
    MAX_DIM,
};
pub use id_code::{IdCoding, MAX_FRONT_ID_BYTES};
pub(crate) use id_index::hash as hash_id;
pub use id_list::IdList;
pub use loaded::{popularity_prior, Bundle, Neighbours};
pub use metadata::Metadata;
pub use overlay::{OverlayReport, VectorsChanged};
pub use params::{keys as param_keys, EventWeights, ScoringParams, DEFAULT_HALF_LIFE_S};
pub use pq::{Pq, MAX_CENTROIDS};
pub use stream::{BundleStream, HashOrder};
pub use tables::{ContextWeights, NeighbourKind, RankingHead, TensorSummary};
pub use vectors::ItemQuery;
pub use write_parts::{ExtraDtype, ExtraTensor};
pub use writer::{
    quantize_rows, write_bundle, BundleParts, CategoryParts, CompactParts, ContextParts,
    FloatDtype, HeadParts,
};
