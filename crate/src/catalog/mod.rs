//! The live catalog in the engine: catalog updates ("deltas") that add products, change their
//! category and price, and mark them unavailable in a loaded engine without a new bundle
//! (`docs/catalog.md`). The delta file format and its reader and writer are in [`delta`]; applying
//! one to a bundle is `Bundle::apply_overlay`.

pub mod delta;
mod report;

pub use delta::{
    read_delta, write_delta, DeltaInfo, DeltaParts, DELTA_FORMAT, DELTA_FORMAT_VERSION,
};
pub use report::UpdateReport;
