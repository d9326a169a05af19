//! `vitrine exp`: collect layer-1 reports over HTTP into SQLite, analyze an experiment from the
//! reports and the store's own orders, simulate experiments with a known truth, and load-test the
//! collector on loopback. See `docs/EXPERIMENTS.md`.

pub mod analyze;
pub mod collect;
pub mod layer0;
pub mod load;
pub mod render;
pub mod sim_rng;
pub mod simulate;
pub mod stats;
pub mod store;
pub mod sums;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use vitrine::experiment::{Report, ValidManifest};

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

#[derive(Args)]
pub struct CollectArgs {
    /// The experiments manifest (experiments.json).
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
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["db", "reports", "orders"]).multiple(true)))]
pub struct AnalyzeArgs {
    /// The experiments manifest.
    #[arg(long)]
    pub manifest: PathBuf,
    /// The collector's SQLite file.
    #[arg(long, conflicts_with = "reports")]
    pub db: Option<PathBuf>,
    /// Reports as JSON Lines (one report per line), e.g. exported from a warehouse.
    #[arg(long)]
    pub reports: Option<PathBuf>,
    /// The store's layer-0 export: CSV, one row per exposed unit (columns in docs/EXPERIMENTS.md).
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
    /// Print JSON instead of tables.
    #[arg(long)]
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
    /// Print JSON (the default is a short table).
    #[arg(long)]
    pub json: bool,
}

/// Runs `vitrine exp …`.
pub fn run(cmd: &ExpCommand) -> Result<()> {
    match cmd {
        ExpCommand::Collect(a) => collect::run(a),
        ExpCommand::Analyze(a) => run_analyze(a),
        ExpCommand::Simulate(a) => run_simulate(a),
        ExpCommand::Load(a) => load::run(a),
    }
}

/// Reads and validates a manifest file.
pub fn read_manifest(path: &Path) -> Result<ValidManifest> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read manifest {}", path.display()))?;
    ValidManifest::from_json(&text)
        .with_context(|| format!("manifest {} is invalid", path.display()))
}

fn run_simulate(a: &SimulateArgs) -> Result<()> {
    let r = simulate::simulate(&simulate::SimulationParams {
        scenario: a.scenario,
        n: a.n,
        epsilon: a.epsilon,
        reps: a.reps,
        seed: a.seed,
        looks: a.looks,
        srm_loss: a.loss,
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", render::simulation(&r));
    }
    Ok(())
}

fn run_analyze(a: &AnalyzeArgs) -> Result<()> {
    if !(a.level > 0.5 && a.level < 1.0) {
        anyhow::bail!("--level must be between 0.5 and 1, got {}", a.level);
    }
    let manifest = read_manifest(&a.manifest)?;
    let experiments: Vec<_> = match &a.experiment {
        Some(id) => vec![manifest
            .experiment(id)
            .with_context(|| format!("no experiment '{id}' in {}", a.manifest.display()))?],
        None => manifest.experiments().iter().collect(),
    };
    // Reports from JSON Lines: every line checked against the manifest like the collector does.
    let mut from_lines: std::collections::BTreeMap<String, sums::ReportSums> = Default::default();
    let mut rejected_lines = 0usize;
    if let Some(path) = &a.reports {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut seen = std::collections::HashSet::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match Report::from_json(line).and_then(|r| r.check(&manifest).map(|_| r)) {
                Ok(r) if seen.insert(r.id.clone()) => {
                    from_lines.entry(r.experiment.clone()).or_default().add(&r)
                }
                Ok(_) => {} // a retry of a report already counted
                Err(_) => rejected_lines += 1,
            }
        }
    }
    let db = a.db.as_deref().map(store::open_for_reading).transpose()?;
    let orders = match &a.orders {
        Some(path) => Some(layer0::read_orders(path, a.covariate.as_deref())?),
        None => None,
    };
    let mut out = Vec::new();
    for exp in experiments {
        let mut sums = from_lines.remove(&exp.id).unwrap_or_default();
        if let Some(conn) = &db {
            sums.merge(&store::read_sums(conn, &exp.id)?);
        }
        let units: f64 = sums
            .arms
            .values()
            .map(|s| s.reports as f64)
            .sum::<f64>()
            .max(
                orders
                    .as_ref()
                    .and_then(|o| o.by_experiment(&exp.id))
                    .map_or(0.0, |d| d.values().map(|m| m.conversion.n).sum()),
            );
        let opts = analyze::AnalysisOptions {
            level: a.level,
            sequential_tuning: a
                .sequential
                .then(|| a.sequential_tuning.unwrap_or(units.max(1.0))),
        };
        let l0 = orders
            .as_ref()
            .and_then(|o| o.by_experiment(&exp.id))
            .map(|d| analyze::layer0(exp, d, a.covariate.is_some(), &opts));
        let l1 = (!sums.arms.is_empty()
            || (a.db.is_some() || a.reports.is_some()) && exp.report_epsilon > 0.0)
            .then(|| analyze::layer1(exp, &sums, &opts));
        out.push(render::ExperimentReport {
            experiment: exp.id.clone(),
            level: a.level,
            layer0: l0,
            layer1: l1,
        });
    }
    if a.json {
        let doc =
            serde_json::json!({ "experiments": out, "rejected_report_lines": rejected_lines });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        if rejected_lines > 0 {
            println!(
                "({rejected_lines} report lines did not match the manifest and were skipped)\n"
            );
        }
        for e in &out {
            print!("{}", render::experiment(e));
        }
    }
    Ok(())
}
