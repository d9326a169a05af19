//! The wasm-bindgen API. No logic lives here: each method reads its JS arguments into the core's
//! wire types ([`interop`]), calls the core with the browser's clock (`Date.now()`), and writes
//! the results back. Every error becomes a JS `Error` whose `message` is the core's text and whose
//! `code` names the kind (see [`crate::VitrineError::code`]). Nothing here panics on JS input.
//!
//! Two wasm packages are built from this module (cargo features, `crate/Cargo.toml`):
//! `web-engine` (the default: `Recommender`, www/pkg/) and `web-experiments` (`Experiments`,
//! www/pkg-exp/, fetched only by a page that runs experiments). Neither carries the other's code.

#[cfg(feature = "web-experiments")]
mod experiments;
mod interop;
#[cfg(feature = "web-engine")]
mod js_bytes;
mod js_error;
mod js_read;
mod js_value;
#[cfg(feature = "web-engine")]
mod recommender;
#[cfg(feature = "web-engine")]
mod results;
#[cfg(feature = "web-engine")]
mod stream;

#[cfg(feature = "web-experiments")]
pub use experiments::Experiments;
#[cfg(feature = "web-engine")]
pub use recommender::{boundary, Recommender};
#[cfg(feature = "web-engine")]
pub use stream::WebBundleStream;
