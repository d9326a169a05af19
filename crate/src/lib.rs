//! Vitrine: private, on-device product recommendations.
//!
//! A pure Rust core (bundle reader, session log, scoring kernels, ranking) shared by the native CLI
//! and the browser; the `web` module (wasm32 only) is a thin wasm-bindgen layer over [`Engine`].
//!
//! ```text
//! bytes ─► bundle ─┐
//! events ─► session ┼─► rank::recommend (profile · int8 kernels · popularity prior · top-k) ─► ids + scores
//! ```

pub mod bundle;
pub mod engine;
pub mod error;
pub mod kernels;
pub mod rank;
pub mod score;
pub mod session;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use bundle::{Bundle, BundleOptions, BundleParts};
pub use engine::{Engine, Recommendation};
pub use error::{BundleError, RequestError, VitrineError};
pub use rank::{recommend, RecommendRequest};
pub use session::{Event, EventKind, SessionLog};
