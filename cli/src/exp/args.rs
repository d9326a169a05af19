//! The arguments of `vitrine exp collect | analyze | simulate` (`load`'s are in `load.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::load;
use super::simulate;

/// `vitrine exp …`
#[derive(Subcommand)]
pub enum ExpCommand {
    /// Receive reports over HTTP (POST /v1/reports) and store each once in SQLite.
    Collect(CollectArgs),
    /// Estimate every experiment of a manifest from stored reports and the store's orders.
    Analyze(AnalyzeArgs),
    /// Run simulated shoppers with a known effect through the real assignment, report and
    /// analysis code; print bias, coverage, interval width and rejection rate.
    Simulate(SimulateArgs),
    /// Load-test a collector on loopback: valid reports at a fixed rate, retries and hostile
    /// requests; then check the database holds every accepted report exactly once.
    Load(load::LoadArgs),
}

impl ExpCommand {
    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        match self {
            Self::Collect(a) => a.json,
            Self::Analyze(a) => a.json,
            Self::Simulate(a) => a.json,
            Self::Load(a) => a.json,
        }
    }
}

#[derive(Args)]
pub struct CollectArgs {
    /// The experiments manifest (experiments.json; `-`: stdin).
    #[arg(long)]
    pub manifest: PathBuf,
    /// The SQLite file (created if missing).
    #[arg(long)]
    pub db: PathBuf,
    /// Address to listen on (loopback by default; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Allow a non-loopback --listen address (put the collector behind your TLS proxy).
    #[arg(long)]
    pub public: bool,
    /// Print events as JSON Lines on stdout: {"event": "listening", "url": …} once the socket is
    /// bound, {"event": "stopped"} after a clean shutdown (a failure before listening: {"error": …}).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["db", "reports", "orders"]).multiple(true)))]
pub struct AnalyzeArgs {
    /// The experiments manifest (`-`: stdin).
    #[arg(long)]
    pub manifest: PathBuf,
    /// The collector's SQLite file.
    #[arg(long, conflicts_with = "reports")]
    pub db: Option<PathBuf>,
    /// Reports as JSON Lines (one report per line), e.g. exported from a warehouse (`-`: stdin).
    #[arg(long)]
    pub reports: Option<PathBuf>,
    /// The store's layer-0 export: CSV, one row per exposed unit (columns in docs/EXPERIMENTS.md;
    /// `-`: stdin).
    #[arg(long)]
    pub orders: Option<PathBuf>,
    /// A pre-period column of --orders for CUPED (e.g. pre_revenue).
    #[arg(long, requires = "orders")]
    pub covariate: Option<String>,
    /// Only this experiment (default: every experiment of the manifest).
    #[arg(long)]
    pub experiment: Option<String>,
    /// Add always-valid intervals (valid however often you look).
    #[arg(long)]
    pub sequential: bool,
    /// The number of units at which the always-valid interval is tightest (default: the current n).
    #[arg(long)]
    pub sequential_tuning: Option<f64>,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    #[arg(long, help = crate::output::JSON_HELP)]
    pub json: bool,
}

#[derive(Args)]
pub struct SimulateArgs {
    #[arg(long, value_enum)]
    pub scenario: simulate::Scenario,
    /// Shoppers per repetition.
    #[arg(long, default_value_t = 100_000)]
    pub n: usize,
    /// ε of the report (layer-1 scenarios; default 1, shelf-click-ldp 2, ope 3 = 1 per value).
    #[arg(long)]
    pub epsilon: Option<f64>,
    /// Repetitions.
    #[arg(long, default_value_t = 200)]
    pub reps: usize,
    /// Seed of the simulated shoppers (the simulator's seeded generator; nothing here is private).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Looks of aa-sequential.
    #[arg(long, default_value_t = 20)]
    pub looks: usize,
    /// Share of the treatment's exposure pings the srm scenario loses.
    #[arg(long, default_value_t = 0.02)]
    pub loss: f64,
    #[arg(long, help = crate::output::JSON_HELP)]
    pub json: bool,
}
