//! Running `vitrine exp …`: the dispatch, and `analyze` and `simulate` from their arguments to
//! their printed reports.

use anyhow::{Context, Result};
use vitrine::experiment::Report;

use crate::exit::{ExitKind, ResultExt};
use crate::files;
use crate::output;

use super::args::{AnalyzeArgs, ExpCommand, SimulateArgs};
use super::collect;
use super::layer0;
use super::load;
use super::manifest_file::read_manifest;
use super::render;
use super::simulate;
use super::store;
use super::sums;

/// Runs `vitrine exp …`.
pub fn run(cmd: &ExpCommand) -> Result<()> {
    match cmd {
        ExpCommand::Collect(a) => collect::run(a),
        ExpCommand::Analyze(a) => run_analyze(a),
        ExpCommand::Simulate(a) => run_simulate(a),
        ExpCommand::Load(a) => load::run(a),
    }
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
        output::print_json(&r)
    } else {
        output::print_text(&render::simulation(&r))
    }
}

fn run_analyze(a: &AnalyzeArgs) -> Result<()> {
    files::stdin_at_most_once(&[
        ("--manifest", Some(&a.manifest)),
        ("--reports", a.reports.as_deref()),
        ("--orders", a.orders.as_deref()),
    ])?;
    if !(a.level > 0.5 && a.level < 1.0) {
        crate::exit::fail!(Usage, "--level must be between 0.5 and 1, got {}", a.level);
    }
    let manifest = read_manifest(&a.manifest)?;
    let experiments: Vec<_> = match &a.experiment {
        Some(id) => vec![manifest
            .experiment(id)
            .with_context(|| format!("no experiment '{id}' in {}", files::input_name(&a.manifest)))
            .kind(ExitKind::Usage)?],
        None => manifest.experiments().iter().collect(),
    };
    // Reports from JSON Lines: every line checked against the manifest like the collector does.
    let mut from_lines: std::collections::BTreeMap<String, sums::ReportSums> = Default::default();
    let mut rejected_lines = 0usize;
    if let Some(path) = &a.reports {
        let text = files::read_input_string(path, "reports")?;
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
    let db =
        a.db.as_deref()
            .map(store::open_for_reading)
            .transpose()
            .kind(ExitKind::Input)?;
    let orders = match &a.orders {
        Some(path) => {
            Some(layer0::read_orders(path, a.covariate.as_deref()).kind(ExitKind::Input)?)
        }
        None => None,
    };
    let mut out = Vec::new();
    for exp in experiments {
        let mut sums = from_lines.remove(&exp.id).unwrap_or_default();
        if let Some(conn) = &db {
            sums.merge(&store::read_sums(conn, &exp.id).kind(ExitKind::Input)?);
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
        let opts = super::analyze::AnalysisOptions {
            level: a.level,
            sequential_tuning: a
                .sequential
                .then(|| a.sequential_tuning.unwrap_or(units.max(1.0))),
        };
        let l0 = orders
            .as_ref()
            .and_then(|o| o.by_experiment(&exp.id))
            .map(|d| super::analyze::layer0(exp, d, a.covariate.is_some(), &opts));
        let l1 = (!sums.arms.is_empty()
            || (a.db.is_some() || a.reports.is_some()) && exp.report_epsilon > 0.0)
            .then(|| super::analyze::layer1(exp, &sums, &opts));
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
        return output::print_json(&doc);
    }
    let mut text = String::new();
    if rejected_lines > 0 {
        crate::output::outln!(
            text,
            "({rejected_lines} report lines did not match the manifest and were skipped)\n"
        );
    }
    for e in &out {
        text.push_str(&render::experiment(e));
    }
    output::print_text(&text)
}
