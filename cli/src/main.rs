//! `vitrine`: train, and (soon) pack, inspect and evaluate recommendation bundles.

mod events;
mod inspect;
mod pack;
mod train;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "vitrine",
    version,
    about = "Private, on-device product recommendations: build and check model bundles."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a bundle from an event log (CSV with header: session_id,item_id[,ts][,event_type]).
    Train(TrainArgs),
    /// Recommend for a session given on the command line, with the same code the browser runs.
    Recommend(RecommendArgs),
    /// Pack embeddings trained elsewhere (.npy / .safetensors) and item ids into a bundle.
    Pack(pack::PackArgs),
    /// Show what a bundle holds and check its digest.
    Inspect(inspect::InspectArgs),
}

#[derive(clap::Args)]
struct RecommendArgs {
    /// The bundle (.vtr).
    #[arg(long)]
    bundle: PathBuf,
    /// The session's item ids, oldest first, comma-separated; each may be prefixed `type:` (e.g. `add_to_cart:p12`).
    #[arg(long, value_delimiter = ',')]
    items: Vec<String>,
    /// How many results.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Leave out items already in the session.
    #[arg(long)]
    exclude_seen: bool,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Event log (CSV).
    #[arg(long)]
    events: PathBuf,
    /// Where to write the bundle (.vtr). Written atomically: nothing is left behind on error.
    #[arg(long)]
    out: PathBuf,
    /// Embedding dimension.
    #[arg(long, default_value_t = 32)]
    dim: usize,
    /// Passes over the sessions.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Context window (positions on each side) within a session.
    #[arg(long, default_value_t = 3)]
    window: usize,
    /// Negative samples per positive pair.
    #[arg(long, default_value_t = 5)]
    negatives: usize,
    /// Initial learning rate (decays linearly).
    #[arg(long, default_value_t = 0.025)]
    learning_rate: f32,
    /// Random seed: the same log, flags and seed give the same bundle.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => run_train(&args),
        Command::Recommend(args) => run_recommend(&args),
        Command::Pack(args) => pack::run(&args),
        Command::Inspect(args) => inspect::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_train(args: &TrainArgs) -> Result<()> {
    let params = train::TrainParams {
        dim: args.dim,
        epochs: args.epochs,
        window: args.window,
        negatives: args.negatives,
        learning_rate: args.learning_rate,
        seed: args.seed,
    };
    params.validate()?;
    let started = std::time::Instant::now();
    let log = events::EventLog::read(&args.events)?;
    let trained = train::train(&log, &params)?;
    let bytes =
        vitrine::bundle::write_bundle(&trained.parts).context("could not build the bundle")?;
    write_atomically(&args.out, &bytes)?;
    println!(
        "trained {} items × {} dims from {} events in {} sessions ({} pairs) in {:.1}s → {} ({} bytes, {:.1} bytes/item)",
        log.items.len(),
        params.dim,
        log.n_events,
        log.sessions.len(),
        trained.pairs_trained,
        started.elapsed().as_secs_f64(),
        args.out.display(),
        bytes.len(),
        bytes.len() as f64 / log.items.len() as f64
    );
    Ok(())
}

fn run_recommend(args: &RecommendArgs) -> Result<()> {
    let bytes = std::fs::read(&args.bundle)
        .with_context(|| format!("cannot read bundle {}", args.bundle.display()))?;
    let mut engine =
        vitrine::Engine::from_bytes(bytes).with_context(|| format!("{}", args.bundle.display()))?;
    for (i, spec) in args.items.iter().enumerate() {
        let (kind, item) = spec.split_once(':').unwrap_or(("view", spec));
        engine
            .track(kind, item, i as f64)
            .with_context(|| format!("--items entry {} ('{spec}')", i + 1))?;
    }
    let request = vitrine::RecommendRequest::new(args.k)?.exclude_seen(args.exclude_seen);
    for (rank, r) in engine.recommend(&request).iter().enumerate() {
        println!("{:>4}  {:<24} {:.4}", rank + 1, r.id, r.score);
    }
    Ok(())
}

/// Writes to a temporary file beside `path`, then renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.sync_all().ok();
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move the bundle into place at {}", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
