//! `vitrine`: train, pack, inspect, evaluate and query recommendation bundles, and run
//! experiments. Every subcommand takes `--json`; exit codes are in `exit.rs` (and every `--help`);
//! `-` is stdin/stdout wherever a file is read or written (`docs/cli.md`).

mod adam;
mod bundle_parts;
mod catalog;
mod catalog_ctx;
mod catalog_shard;
mod catalog_update;
mod cold_scale;
mod compact;
mod compact_encode;
mod compact_input;
mod compact_tune;
mod content;
mod cooccur;
mod eval;
mod events;
mod events_jsonl;
mod exit;
mod exp;
mod files;
mod inspect;
mod model;
mod output;
mod pack;
mod pack_inputs;
mod progress;
mod quantized_items;
mod train;
mod train_args;
mod train_catalog;
mod train_input;
mod tune_terms;
mod warm_start;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use serde::Serialize;

use crate::exit::{ExitKind, ResultExt};
use crate::train_args::TrainArgs;

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
    /// Train a bundle from an event log (CSV or JSON Lines: session_id,item_id[,ts][,event_type];
    /// GA4's export) or from the compact input prepared on Spark (`--input`).
    Train(TrainArgs),
    /// Evaluate a bundle with the next-item protocol (every prefix of every test session).
    Eval(EvalArgs),
    /// Recommend for a session given on the command line, with the same code the browser runs.
    Recommend(RecommendArgs),
    /// Pack embeddings trained elsewhere (.npy / .safetensors) and item ids into a bundle.
    Pack(pack::PackArgs),
    /// Show what a bundle holds and check its digest.
    Inspect(inspect::InspectArgs),
    /// Compact an existing bundle: product-quantized vectors, coded ids, one-byte popularity
    /// (format version 3, `docs/bundle.md`).
    Compact(compact::CompactArgs),
    /// The live catalog: apply a new catalog to a bundle without retraining (a full bundle and a
    /// delta for loaded pages), or check a catalog file.
    Catalog {
        #[command(subcommand)]
        command: catalog_update::CatalogCommand,
    },
    /// Experiments: collect local-DP reports, analyze lift, simulate with a known truth.
    Exp {
        #[command(subcommand)]
        command: exp::ExpCommand,
    },
}

#[derive(clap::Args)]
struct EvalArgs {
    /// The bundle (.vtr; `-`: stdin).
    #[arg(long)]
    bundle: PathBuf,
    /// Leave the prefix's items out of each ranking (seen, in the cart, purchased: the shelf's
    /// defaults). The standard protocol keeps them (a shopper often returns to an item): report
    /// both when you use this.
    #[arg(long)]
    exclude_seen: bool,
    /// Context columns as KEY=COLUMN pairs (e.g. `weekday=order_dow,hour=order_hour_of_day`):
    /// each test session's requests carry the context read from its first event, as a page would
    /// pass it. Bundles without context weights ignore it.
    #[arg(long, value_delimiter = ',')]
    context: Vec<String>,
    /// Test sessions (CSV with session_id,item_id; rows of a session in order, or a ts column;
    /// `-`: stdin).
    #[arg(long)]
    test: PathBuf,
    /// Cut-off for HR@k, MRR@k and coverage.
    #[arg(long, default_value_t = 20)]
    k: usize,
    #[arg(long, help = output::JSON_HELP)]
    json: bool,
    /// What is asked at each prefix: the next item (`recommend`), or a scenario
    /// (bought-together with the whole prefix, also-bought with its last item, similar of the
    /// prefix, trending), or the count-based reference `cooccurrence-last` (needs --train).
    #[arg(long, value_enum, default_value = "next")]
    scenario: eval::scenarios::Scenario,
    /// The training log, for --scenario cooccurrence-last.
    #[arg(long)]
    train: Option<PathBuf>,
    /// Count only predictions whose target id is listed in this file (one id per line), e.g.
    /// products held out of training (cold start).
    #[arg(long, conflicts_with = "skip_targets")]
    only_targets: Option<PathBuf>,
    /// Count only predictions whose target id is not listed in this file.
    #[arg(long)]
    skip_targets: Option<PathBuf>,
    #[command(flatten)]
    privacy: eval::PrivacyArgs,
    /// `--unit device`: each test session's device-only record is the same user's earlier sessions
    /// in this log (any format `vitrine train` reads), restored as a device restores its storage.
    #[arg(long, requires = "user_column")]
    device_history: Option<PathBuf>,
    /// The column naming each event's user, in the test log and the --device-history log.
    #[arg(long, requires = "device_history")]
    user_column: Option<String>,
}

#[derive(clap::Args)]
struct RecommendArgs {
    /// The bundle (.vtr; `-`: stdin).
    #[arg(long)]
    bundle: PathBuf,
    /// The session's item ids, oldest first, comma-separated; each may be prefixed `type:` (e.g. `add_to_cart:p12`).
    #[arg(long, value_delimiter = ',')]
    items: Vec<String>,
    /// How many results.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Leave out items already in the session (ignored in private mode: it reads the history).
    #[arg(long)]
    exclude_seen: bool,
    /// ε of the private release the ranking comes from (default: the engine's); `inf` for the
    /// explicit non-private ranking of the raw session.
    #[arg(long, value_parser = eval::parse_epsilon)]
    epsilon: Option<f64>,
    #[arg(long, help = output::JSON_HELP)]
    json: bool,
}

impl Command {
    /// Whether `--json` was given.
    fn json(&self) -> bool {
        match self {
            Command::Train(a) => a.json,
            Command::Eval(a) => a.json,
            Command::Recommend(a) => a.json,
            Command::Pack(a) => a.json,
            Command::Inspect(a) => a.json,
            Command::Compact(a) => a.json,
            Command::Exp { command } => command.json(),
            Command::Catalog { command } => command.json(),
        }
    }
}

/// The command line's definition: the derived one, with the exit codes after every help.
fn cli_definition() -> clap::Command {
    fn with_exit_codes(cmd: clap::Command) -> clap::Command {
        cmd.after_help(exit::HELP).mut_subcommands(with_exit_codes)
    }
    with_exit_codes(Cli::command())
}

fn main() -> ExitCode {
    // Before parsing, `--json` is known only from the raw arguments (for clap's own errors).
    let json_asked = std::env::args_os().any(|a| a == "--json");
    let cli = match cli_definition()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print on stdout and exit 0; usage errors exit 2.
            if e.use_stderr() && json_asked {
                let text = e.render().to_string();
                let first = text.lines().next().unwrap_or_default();
                let err = exit::error(ExitKind::Usage, first.trim_start_matches("error: "));
                let _ = output::print_json(&output::error_document(ExitKind::Usage, &err));
            }
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let json = cli.command.json();
    let result = match cli.command {
        Command::Train(args) => run_train(&args),
        Command::Recommend(args) => run_recommend(&args),
        Command::Pack(args) => pack::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Compact(args) => compact::run(&args),
        Command::Eval(args) => run_eval(&args),
        Command::Exp { command } => exp::run(&command),
        Command::Catalog { command } => catalog_update::run(&command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let kind = exit::classify(&e);
            eprintln!("error: {e:#}");
            if json && !output::stdout_written() {
                let _ = output::print_json(&output::error_document(kind, &e));
            }
            ExitCode::from(kind.code())
        }
    }
}

/// What `vitrine train --json` prints.
#[derive(Serialize)]
struct TrainSummary<'a> {
    out: String,
    bytes: usize,
    items: usize,
    dim: usize,
    events: usize,
    sessions: usize,
    bytes_per_item: f64,
    seconds: f64,
    /// Share of the training log's sessions (its end) held out for validation.
    validation_fraction: f64,
    training: &'a train::TrainReport,
}

fn run_train(args: &TrainArgs) -> Result<()> {
    let warm_bundle = match &args.warm_start {
        Some(path) => {
            let bytes = files::read_input(path, "bundle")?;
            Some(
                vitrine::Bundle::from_bytes(bytes)
                    .with_context(|| files::input_name(path))
                    .kind(ExitKind::Input)?,
            )
        }
        None => None,
    };
    let dim = args.dim.unwrap_or(match &warm_bundle {
        Some(b) => b.dim(),
        None if args.compact.compact => compact::COMPACT_DIM,
        None => model::DEFAULT_DIM,
    });
    let params = train::TrainParams {
        model: model::ModelParams {
            dim,
            epochs: args.epochs,
            max_positions: args.max_positions,
            batch: args.batch,
            negatives: args.negatives.unwrap_or(if args.warm_start.is_some() {
                warm_start::NEGATIVES
            } else {
                model::DEFAULT_NEGATIVES
            }),
            scale: args.scale,
            learning_rate: args.learning_rate.unwrap_or(if args.warm_start.is_some() {
                warm_start::LEARNING_RATE
            } else {
                0.005
            }),
            seed: args.seed,
        },
        valid_fraction: args.valid_fraction,
        patience: args.patience,
        refit: !args.no_refit,
        neighbours: cooccur::NeighbourParams {
            per_item: args
                .neighbours
                .unwrap_or(compact::default_neighbours(args.compact.compact)),
            min_support: args.min_pair_support,
            window: Some(args.pair_window),
        },
        session_terms: !args.no_session_terms,
        trend_half_life_s: args.trend_half_life_days * 86_400.0,
    };
    params.validate()?;
    files::stdin_at_most_once(&[
        ("--events", args.source.events()),
        ("--unquantized-test", args.unquantized_test.as_deref()),
    ])?;
    files::stdout_free_for_json(&args.out, "--out", args.json)?;
    let started = std::time::Instant::now();
    let context = catalog_ctx::parse_context_spec(&args.context)?;
    if !context.is_empty() && args.category_column.is_none() && args.catalog.is_none() {
        exit::fail!(
            Usage,
            "--context needs --category-column or --catalog (context weights are per category)"
        );
    }
    let extra: Vec<String> = args
        .category_column
        .iter()
        .cloned()
        .chain(context.iter().map(|(_, c)| c.clone()))
        .collect();
    let train_input::TrainingEvents {
        mut log,
        neighbours,
    } = args.source.load(&extra)?;
    let catalog = match &args.catalog {
        Some(path) => {
            let c = catalog::read(path)?;
            for w in c.warnings(&path.display().to_string()) {
                eprintln!("warning: {w}");
            }
            Some(c)
        }
        None => None,
    };
    if !(args.content_blend >= 0.0 && args.content_blend.is_finite()) {
        anyhow::bail!("--content-blend must be a number ≥ 0");
    }
    let unquantized_test = match &args.unquantized_test {
        Some(path) => Some(events::EventLog::read(path)?),
        None => None,
    };
    let warm = match &warm_bundle {
        Some(bundle) => Some(warm_start::prepare(bundle, &mut log, dim, args.seed)?),
        None => None,
    };
    let progress = progress::Progress::new("train", 0, "batches");
    let mut trained = train::train(
        &log,
        &params,
        unquantized_test.as_ref(),
        neighbours,
        catalog.as_ref().map(|c| (c, args.content_blend)),
        warm.as_ref().map(|w| &w.init),
        &progress,
    )?;
    let from_catalog = catalog
        .as_ref()
        .map(|c| train_catalog::categories(c, &log.items));
    if args.category_column.is_some() || from_catalog.is_some() {
        let categories = match from_catalog {
            Some(c) => c,
            None => catalog_ctx::item_categories(&log, 0),
        };
        if !context.is_empty() {
            // The category column (if any) is extra column 0; the context columns follow it.
            let first = usize::from(args.category_column.is_some());
            let contexts = catalog_ctx::session_contexts(&log, &context, first);
            let ctx =
                catalog_ctx::context_weights(&log, &categories, &contexts, params.model.scale)?;
            trained.report.context = Some(train::ContextReport {
                features: ctx.parts.features.len(),
                categories: categories.names.len(),
                refused_sessions: ctx.refused,
            });
            trained.parts.context = Some(ctx.parts);
        }
        trained.parts.categories = Some(categories);
    }
    if let Some(c) = &catalog {
        let lines = train_catalog::attach(
            &mut trained.parts,
            c,
            args.content_blend,
            trained.cold_scale,
            params.model.seed,
        )?;
        trained.report.notes.extend(lines);
    }
    if let Some(w) = &warm {
        let line = warm_start::merge(&mut trained.parts, w, !args.warm_retune);
        trained.report.notes.push(line);
    }
    let counts = trained.parts.popularity.clone();
    let tune = compact_tune::TuneSessions {
        sessions: &trained.sequences,
        counts: &counts,
        model: Some(&params.model),
    };
    if let Some(r) = args
        .compact
        .apply(&mut trained.parts, Some(&tune))
        .kind(ExitKind::Usage)?
    {
        trained.report.notes.push(r.line());
    }
    let bytes = vitrine::bundle::write_bundle(&trained.parts)
        .context("could not build the bundle")
        .kind(ExitKind::Input)?;
    files::write_output(&args.out, &bytes, "bundle")?;
    let summary = TrainSummary {
        out: files::output_name(&args.out),
        bytes: bytes.len(),
        items: log.items.len(),
        dim: params.model.dim,
        events: log.n_events,
        sessions: log.sessions.len(),
        bytes_per_item: bytes.len() as f64 / log.items.len() as f64,
        seconds: started.elapsed().as_secs_f64(),
        validation_fraction: params.valid_fraction,
        training: &trained.report,
    };
    if args.json {
        return output::print_json(&summary);
    }
    let mut text = String::new();
    for line in trained.report.lines() {
        output::outln!(text, "{line}");
    }
    if params.valid_fraction > 0.0 {
        output::outln!(
            text,
            "(validation = the last {:.0} % of the training log's sessions)",
            100.0 * params.valid_fraction
        );
    }
    output::outln!(
        text,
        "trained {} items × {} dims from {} events in {} sessions in {:.1}s → {} ({} bytes, {:.1} bytes/item)",
        summary.items,
        summary.dim,
        summary.events,
        summary.sessions,
        summary.seconds,
        summary.out,
        summary.bytes,
        summary.bytes_per_item
    );
    if files::is_stdio(&args.out) {
        // Stdout carries the bundle: the report goes to stderr.
        eprint!("{text}");
        Ok(())
    } else {
        output::print_text(&text)
    }
}

fn run_eval(args: &EvalArgs) -> Result<()> {
    files::stdin_at_most_once(&[
        ("--bundle", Some(&args.bundle)),
        ("--test", Some(&args.test)),
    ])?;
    let bytes = files::read_input(&args.bundle, "bundle")?;
    let model =
        vitrine::Model::from_bytes(bytes).with_context(|| files::input_name(&args.bundle))?;
    let context = catalog_ctx::parse_context_spec(&args.context)?;
    let mut columns: Vec<String> = context.iter().map(|(_, c)| c.clone()).collect();
    columns.extend(args.user_column.iter().cloned());
    let test = events::EventLog::read_with(&args.test, &columns)?;
    let contexts = (!context.is_empty()).then(|| catalog_ctx::session_contexts(&test, &context, 0));
    let history = match (&args.device_history, &args.user_column) {
        (Some(path), Some(col)) => Some(eval::DeviceHistory::read(path, col)?),
        _ => None,
    };
    // Each test session's user: its first event's user column (the last extra column).
    let users: Vec<Option<String>> = match &args.user_column {
        None => Vec::new(),
        Some(_) => test
            .sessions
            .iter()
            .map(|s| {
                let e = s.first()?;
                let v = test.extra.get(e.seq as usize)?.last()?;
                (!v.is_empty()).then(|| v.clone())
            })
            .collect(),
    };
    let devices = history.as_ref().map(|h| eval::Devices {
        history: h,
        users: &users,
    });
    let filter = match (&args.only_targets, &args.skip_targets) {
        (Some(p), _) => eval::scenarios::TargetFilter::read(p, true)?,
        (_, Some(p)) => eval::scenarios::TargetFilter::read(p, false)?,
        _ => eval::scenarios::TargetFilter::default(),
    };
    let m = if args.scenario == eval::scenarios::Scenario::Next {
        let progress = progress::Progress::new("eval", test.sessions.len() as u64, "sessions");
        let m = eval::evaluate(
            &model,
            &test,
            args.k,
            &args.privacy,
            args.exclude_seen,
            contexts.as_deref(),
            devices,
            &progress,
            &filter,
        )?;
        progress.finish();
        m
    } else {
        let train = match &args.train {
            Some(p) => Some(events::EventLog::read(p)?),
            None => None,
        };
        eval::scenarios::evaluate(
            &model,
            &test,
            args.k,
            args.scenario,
            train.as_ref(),
            &filter,
        )?
    };
    if args.json {
        output::print_json(&m)
    } else {
        output::print_text(&eval::eval_table(&m))
    }
}

/// One result of `vitrine recommend --json`.
#[derive(Serialize)]
struct Recommended {
    rank: usize,
    id: String,
    score: f32,
}

fn run_recommend(args: &RecommendArgs) -> Result<()> {
    let bytes = files::read_input(&args.bundle, "bundle")?;
    let privacy = args.epsilon.map(|e| vitrine::privacy::PrivacyOptions {
        epsilon: Some(vitrine::privacy::EpsilonInput(e)),
        ..Default::default()
    });
    let bundle =
        vitrine::Bundle::from_bytes(bytes).with_context(|| files::input_name(&args.bundle))?;
    let mut engine = vitrine::Engine::from_bundle(
        bundle,
        &vitrine::ShopperOptions {
            privacy,
            ..Default::default()
        },
    )
    .kind(ExitKind::Usage)?;
    let privacy = match engine.privacy() {
        vitrine::privacy::PrivacyConfig::On(c) => {
            let mechanism = match c.mechanism {
                vitrine::privacy::Mechanism::ExponentialAnchor => "exponential-mechanism",
                vitrine::privacy::Mechanism::GaussianProfile => "Gaussian",
            };
            eprintln!(
                "private: one {mechanism} release of ε = {} (--epsilon inf for the raw session's ranking)",
                c.epsilon
            );
            serde_json::json!({"private": true, "mechanism": c.mechanism.as_str(), "epsilon": c.epsilon})
        }
        vitrine::privacy::PrivacyConfig::Off => {
            eprintln!("not private (--epsilon inf)");
            serde_json::json!({"private": false})
        }
    };
    for (i, spec) in args.items.iter().enumerate() {
        let (kind, item) = spec.split_once(':').unwrap_or(("view", spec));
        engine
            .track(kind, item, i as f64)
            .with_context(|| format!("--items entry {} ('{spec}')", i + 1))
            .kind(ExitKind::Usage)?;
    }
    let request = vitrine::RecommendRequest::new(args.k).kind(ExitKind::Usage)?;
    let request = request.exclude_seen(args.exclude_seen);
    let response = engine.recommend(&request, system_clock_ms());
    for w in &response.warnings {
        eprintln!("warning: {w}");
    }
    let results: Vec<Recommended> = response
        .iter()
        .enumerate()
        .map(|(rank, r)| Recommended {
            rank: rank + 1,
            id: r.id.to_string(),
            score: r.score,
        })
        .collect();
    if args.json {
        return output::print_json(&serde_json::json!({
            "privacy": privacy,
            "warnings": response.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            "results": results,
        }));
    }
    let mut text = String::new();
    for r in &results {
        output::outln!(text, "{:>4}  {:<24} {:.4}", r.rank, r.id, r.score);
    }
    output::print_text(&text)
}

/// The system clock in ms since the Unix epoch (what the engine's privacy accountant runs on).
fn system_clock_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every leaf subcommand has `--json` and every help ends with the exit codes.
    #[test]
    fn every_subcommand_has_json_and_the_exit_codes() {
        fn walk(cmd: &clap::Command, path: &str, leaves: &mut Vec<String>) {
            assert_eq!(
                cmd.get_after_help().map(|h| h.to_string()).as_deref(),
                Some(exit::HELP),
                "{path}"
            );
            let subs: Vec<&clap::Command> = cmd.get_subcommands().collect();
            if subs.is_empty() {
                assert!(
                    cmd.get_arguments()
                        .any(|a| a.get_long() == Some("json") && !a.is_hide_set()),
                    "{path} has no --json"
                );
                leaves.push(path.to_owned());
            }
            for s in subs {
                walk(s, &format!("{path} {}", s.get_name()), leaves);
            }
        }
        let cli = cli_definition();
        cli.clone().debug_assert();
        let mut leaves = Vec::new();
        walk(&cli, "vitrine", &mut leaves);
        assert!(leaves.len() >= 9, "{leaves:?}");
    }
}
