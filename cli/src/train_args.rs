//! The arguments of `vitrine train` (what `run_train` in main.rs reads).

use std::path::PathBuf;

use crate::compact;
use crate::model;
use crate::output;
use crate::train_input;

/// Arguments of `vitrine train`.
#[derive(clap::Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub source: train_input::TrainInputArgs,
    /// Where to write the bundle (.vtr; `-`: stdout). Written atomically: nothing is left behind
    /// on error.
    #[arg(long)]
    pub out: PathBuf,
    /// Embedding dimension [default: 64; 48 with --compact; a --warm-start bundle's own].
    #[arg(long)]
    pub dim: Option<usize>,
    /// Passes over the training sessions (at most; early stopping on validation MRR).
    #[arg(long, default_value_t = 8)]
    pub epochs: usize,
    /// Session positions (from the newest event) the model reads.
    #[arg(long, default_value_t = 10)]
    pub max_positions: usize,
    /// Examples per mini-batch.
    #[arg(long, default_value_t = model::DEFAULT_BATCH)]
    pub batch: usize,
    /// Sampled negatives per mini-batch. Default 2048; 4096 with --warm-start (chosen on the warm
    /// start's validation split: a fine-tune is short, so a finer softmax is affordable).
    #[arg(long)]
    pub negatives: Option<usize>,
    /// Softmax temperature on the cosine.
    #[arg(long, default_value_t = model::DEFAULT_SCALE)]
    pub scale: f32,
    /// Adam learning rate (decays linearly to a tenth). Default 0.005; 0.0005 with --warm-start
    /// (chosen on the warm start's validation split: a fine-tune at the full rate forgets).
    #[arg(long)]
    pub learning_rate: Option<f32>,
    /// Share of sessions cut from the end of the log for validation.
    #[arg(long, default_value_t = 0.1)]
    pub valid_fraction: f64,
    /// Epochs without a better validation MRR before stopping.
    #[arg(long, default_value_t = 2)]
    pub patience: usize,
    /// Ship the model fitted on the training part only. By default, after early stopping on the
    /// validation split, training runs again on all sessions for the chosen number of epochs, so
    /// the shipped model has seen the most recent sessions too.
    #[arg(long)]
    pub no_refit: bool,
    /// Random seed: the same log, flags and seed give the same bundle.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// After training, also score the unquantized model on this test log (to report the cost of
    /// int8 quantization against `vitrine eval` on the bundle). Never used for tuning. `-`: stdin.
    #[arg(long)]
    pub unquantized_test: Option<PathBuf>,
    /// Column of the event log holding each event's item category (e.g. `department_id`): the
    /// bundle gets `item_cat` (each item's most frequent value), for filters, diversity, context.
    #[arg(long)]
    pub category_column: Option<String>,
    /// Context columns as KEY=COLUMN pairs (e.g. `weekday=order_dow,hour=order_hour_of_day`),
    /// read from each session's first event: the bundle gets context × category weights
    /// (smoothed log-lifts). Needs --category-column.
    #[arg(long, value_delimiter = ',')]
    pub context: Vec<String>,
    /// Co-occurrence neighbours kept per item for the bundle (`nbr_*`: `similar()` and the
    /// ranking's item-to-item term); 0: none. Default 10, or 0 with `--compact`: the lists are
    /// not compacted (13.8 bytes per item on Diginetica, more than half a compact bundle).
    #[arg(long)]
    pub neighbours: Option<usize>,
    /// Sessions two items must share to be neighbours (public aggregates only: a pair seen in
    /// fewer sessions never reaches the bundle).
    #[arg(long, default_value_t = 3)]
    pub min_pair_support: u32,
    /// Positions apart two items of a session may be to count as a pair.
    #[arg(long, default_value_t = 5)]
    pub pair_window: usize,
    /// Do not add the re-consumption and item-to-item terms to the ranking (by default their
    /// weights are chosen on the validation split; 0 when they do not help).
    #[arg(long)]
    pub no_session_terms: bool,
    /// Half-life of the recency-weighted counts behind `trending()`, in days (the log's `ts` in
    /// seconds).
    #[arg(long, default_value_t = 7.0)]
    pub trend_half_life_days: f64,
    /// The store's catalog (JSON Lines or CSV, docs/catalog.md): categories, prices and
    /// availability, a content tower for products with few or no events, and the records the
    /// shelf shows, all stored in the bundle. Exclusive with --category-column.
    #[arg(long, conflicts_with = "category_column")]
    pub catalog: Option<PathBuf>,
    /// τ of the blend between a product's trained vector and its content vector: a product with
    /// c events gets `c / (c + τ)` of its own (0: no blend).
    #[arg(long, default_value_t = 2.0)]
    pub content_blend: f32,
    /// Continue from this bundle on new logs (a daily refresh): every item starts from its vector
    /// (the bundle's items the log does not mention train as negatives), popularity adds up,
    /// neighbour lists merge, the bundle's scoring weights are kept (see --warm-retune).
    #[arg(long)]
    pub warm_start: Option<PathBuf>,
    /// With --warm-start: choose the popularity weight and session terms on the new log's
    /// validation split instead of keeping the bundle's (chosen on its larger split).
    #[arg(long, requires = "warm_start")]
    pub warm_retune: bool,
    #[command(flatten)]
    pub compact: compact::CompactFlag,
    #[arg(long, help = output::JSON_HELP)]
    pub json: bool,
}
