//! Vitrine: private, on-device product recommendations.
//!
//! A pure Rust core (bundle reader, session log, scoring kernels, ranking, privacy) shared by the
//! native CLI and the browser. A [`Model`] (a bundle and its derived tables) is shared by many
//! [`Shopper`]s; every request goes through one path, `(&Model, &mut Shopper, request)`
//! ([`shopper`]). The `web` module (wasm32 only) is a thin wasm-bindgen layer over [`Engine`] (one
//! model, one shopper); what crosses the boundary is declared once in [`wire`].
//!
//! ```text
//! bytes ─► bundle (validated, zero-copy) ──────────┐
//! events ─► session (bounded log, weights, decay) ─┼─► score (profile · int8 kernels · prior)
//! context ─► context (features → category bias) ──┘        └─► rank (rules, diversity, top-k, why)
//! ```

pub mod wire;

pub mod bundle;
pub mod catalog;
pub mod context;
pub mod engine;
pub mod error;
pub mod experiment;
pub use vitrine_kernels as kernels;
pub mod model;
pub mod numfmt;
pub mod privacy;
pub mod rank;
pub mod score;
pub mod session;
pub mod shopper;
pub mod terms;

/// The wasm-bindgen API: the engine (`web-engine`, default) and/or the experiments
/// (`web-experiments`) package.
#[cfg(all(
    target_arch = "wasm32",
    any(feature = "web-engine", feature = "web-experiments")
))]
pub mod web;

pub use bundle::{Bundle, BundleOptions, BundleParts};
pub use context::{ContextInput, ValidContext};
pub use engine::Engine;
pub use error::{BundleError, PrivacyError, RequestError, StateError, VitrineError};
pub use model::Model;
pub use rank::{
    RankOptions, RankResponse, RankedItem, RankedRow, RecommendRequest, RowResponse,
    ValidRankOptions,
};
pub use session::{Event, EventInput, EventKind, SessionLog};
pub use shopper::{ItemExplanation, Shopper, ShopperOptions, StoredState};

/// The wasm build allocates with talc rather than Rust's default dlmalloc: 2.7 KB less gzipped
/// wasm; `recommend`/`rerank`/`track` measured the same in Chromium, a bundle load without the
/// digest ~5 % slower (docs/benchmarks.md).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
