//! The live catalog in the engine: catalog updates ("deltas") that add products, change their
//! category and price, and mark them unavailable in a loaded engine without a new bundle
//! (`docs/catalog.md`). A delta is a small bundle that names its base file ([`delta`] writes and
//! reads one; `Bundle::apply_overlay` applies it).

pub mod delta;
mod report;

pub use delta::{read_delta, write_delta, DeltaItem, DeltaParts, CATALOG_TENSOR};
pub use report::UpdateReport;
