//! `vitrine exp`: collect layer-1 reports over HTTP into SQLite, analyze an experiment from the
//! reports and the store's own orders, simulate experiments with a known truth, and load-test the
//! collector on loopback. See `docs/EXPERIMENTS.md`.

pub mod analyze;
pub mod args;
pub mod collect;
pub mod layer0;
pub mod load;
pub mod manifest_file;
pub mod render;
pub mod run;
pub mod sim_ope;
pub mod sim_rep;
pub mod sim_rng;
pub mod simulate;
pub mod stats;
pub mod store;
pub mod sums;

pub use args::ExpCommand;
pub use run::run;
