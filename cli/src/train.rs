//! Training: item popularity plus the session model (`model.rs`), tuned on a validation split cut
//! from the end of the log.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;
use vitrine::BundleParts;

use crate::cooccur::{self, NeighbourParams};
use crate::events::EventLog;
use crate::model::{self, ModelParams};
use crate::progress::Progress;
use crate::tune_terms::{self, TermGrid};

/// Hyper-parameters of `vitrine train`.
#[derive(Debug, Clone)]
pub struct TrainParams {
    pub model: ModelParams,
    /// Share of sessions, from the end of the log, held out for validation (0 = none).
    pub valid_fraction: f64,
    /// Stop after this many epochs without a better validation MRR.
    pub patience: usize,
    /// After early stopping, train again on every session for the chosen number of epochs.
    pub refit: bool,
    /// Co-occurrence neighbour lists for the bundle (`per_item = 0`: none, and no item-to-item
    /// term).
    pub neighbours: NeighbourParams,
    /// Choose the re-consumption and item-to-item weights on the validation split (off: both 0).
    pub session_terms: bool,
    /// Half-life of the trending counts, in the log's `ts` units (seconds).
    pub trend_half_life_s: f64,
}

impl TrainParams {
    /// Checks ranges once; the trainer can then trust them.
    pub fn validate(&self) -> Result<()> {
        let m = &self.model;
        if !(1..=vitrine::bundle::MAX_DIM).contains(&m.dim) {
            crate::exit::fail!(
                Usage,
                "--dim must be between 1 and {}, got {}",
                vitrine::bundle::MAX_DIM,
                m.dim
            );
        }
        if m.epochs == 0
            || m.batch == 0
            || m.negatives == 0
            || m.max_positions == 0
            || m.max_positions > 256
        {
            crate::exit::fail!(
                Usage,
                "--epochs, --batch and --negatives must be at least 1, --max-positions between 1 and 256");
        }
        if !(m.learning_rate > 0.0 && m.learning_rate <= 1.0) {
            crate::exit::fail!(
                Usage,
                "--learning-rate must be in (0, 1], got {}",
                m.learning_rate
            );
        }
        if !(m.scale > 0.0 && m.scale.is_finite()) {
            crate::exit::fail!(Usage, "--scale must be a positive number, got {}", m.scale);
        }
        if self.neighbours.min_support == 0 || self.neighbours.window == Some(0) {
            crate::exit::fail!(
                Usage,
                "--min-pair-support and --pair-window must be at least 1"
            );
        }
        if !(self.trend_half_life_s > 0.0 && self.trend_half_life_s.is_finite()) {
            crate::exit::fail!(Usage, "--trend-half-life-days must be a positive number");
        }
        if !(0.0..0.9).contains(&self.valid_fraction) {
            crate::exit::fail!(
                Usage,
                "--valid-fraction must be in [0, 0.9), got {}",
                self.valid_fraction
            );
        }
        Ok(())
    }
}

/// A trained model, ready to be written as a bundle.
pub struct Trained {
    pub parts: BundleParts,
    pub report: TrainReport,
    /// With a catalog: the content scale the cold-start simulation chose.
    pub cold_scale: Option<f32>,
    /// Every training session as item rows (what `--compact` fine-tunes on).
    pub sequences: Vec<Vec<u32>>,
}

/// One epoch's figures (HR@20 and MRR@20 on the validation split, as fractions).
#[derive(Debug, Clone, Serialize)]
pub struct EpochReport {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss.
    pub loss: f64,
    /// Since this run (fit or refit) started.
    pub seconds: f64,
    pub validation_hr20: Option<f64>,
    pub validation_mrr20: Option<f64>,
}

/// A popularity weight tried on the validation split.
#[derive(Debug, Clone, Serialize)]
pub struct PopularityTrial {
    pub weight: f32,
    pub validation_hr20: f64,
    pub validation_mrr20: f64,
}

/// What training did and measured (`vitrine train --json` prints it; text mode prints
/// [`TrainReport::lines`]).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrainReport {
    pub epochs: Vec<EpochReport>,
    pub popularity_trials: Vec<PopularityTrial>,
    /// The chosen popularity weight (0 without a validation split).
    pub popularity_weight: f32,
    /// With refit: the epochs run again on every session.
    pub refit_epochs: Vec<EpochReport>,
    /// Sessions of the refit (absent: no refit).
    pub refit_sessions: Option<usize>,
    /// The best validation MRR@20 and its (1-based) epoch.
    pub best_validation_mrr20: Option<f64>,
    pub best_epoch: Option<usize>,
    /// `--unquantized-test`: HR@20 and MRR@20 of the float model.
    pub unquantized_test_hr20: Option<f64>,
    pub unquantized_test_mrr20: Option<f64>,
    pub validation_sessions: usize,
    /// `--context`: the context weights' size and the sessions whose context the engine refused.
    pub context: Option<ContextReport>,
    /// What else training chose and built (session terms, content scale, neighbour lists,
    /// warm start), one line each.
    pub notes: Vec<String>,
}

/// The context weights trained with `--context`.
#[derive(Debug, Clone, Serialize)]
pub struct ContextReport {
    pub features: usize,
    pub categories: usize,
    pub refused_sessions: usize,
}

impl TrainReport {
    /// The report as text lines (the epochs are printed on stderr as they finish).
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.popularity_trials {
            out.push(format!(
                "popularity weight {}: validation HR@20 {:.2} % MRR@20 {:.2} %",
                t.weight,
                100.0 * t.validation_hr20,
                100.0 * t.validation_mrr20
            ));
        }
        if !self.popularity_trials.is_empty() {
            out.push(format!(
                "chosen popularity weight: {}",
                self.popularity_weight
            ));
        }
        if let Some(n) = self.refit_sessions {
            out.push(format!(
                "refit on all {n} sessions for {} epochs",
                self.refit_epochs.len()
            ));
        }
        if let (Some(mrr), Some(epoch)) = (self.best_validation_mrr20, self.best_epoch) {
            out.push(format!(
                "best validation MRR@20 {:.2} % at epoch {epoch}",
                100.0 * mrr
            ));
        }
        if let (Some(hr), Some(mrr)) = (self.unquantized_test_hr20, self.unquantized_test_mrr20) {
            out.push(format!(
                "unquantized model on the test log: HR@20 {:.2} % MRR@20 {:.2} %",
                100.0 * hr,
                100.0 * mrr
            ));
        }
        if let Some(c) = &self.context {
            out.push(format!(
                "context weights: {} features × {} categories ({} sessions' context refused by the engine)",
                c.features, c.categories, c.refused_sessions
            ));
        }
        out.extend(self.notes.iter().cloned());
        out
    }
}

impl EpochReport {
    /// The line printed on stderr when the epoch ends (`prefix`: "epoch" or "refit epoch").
    fn line(&self, prefix: &str) -> String {
        let mut line = format!(
            "{prefix} {:>2}: loss {:.4} ({:.0}s)",
            self.epoch, self.loss, self.seconds
        );
        if let (Some(hr), Some(mrr)) = (self.validation_hr20, self.validation_mrr20) {
            line += &format!(
                ", validation HR@20 {:.2} % MRR@20 {:.2} %",
                100.0 * hr,
                100.0 * mrr
            );
        }
        line
    }
}

/// Popularity weights tried on the validation split.
const POP_WEIGHT_GRID: [f32; 7] = [0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5];

/// Trains popularity and the session model on `log`, showing the batches of each epoch on
/// `progress` and printing each epoch's line on stderr as it ends. `given_lists`: neighbour lists
/// prepared elsewhere (Spark's, `--with-neighbours`), written instead of the ones computed here.
pub fn train(
    log: &EventLog,
    params: &TrainParams,
    unquantized_test: Option<&EventLog>,
    given_lists: Option<Vec<Vec<(u32, f32)>>>,
    catalog: Option<(&crate::catalog::Catalog, f32)>,
    init: Option<&model::WarmInit>,
    progress: &Progress,
) -> Result<Trained> {
    params.validate()?;
    let n = log.items.len();
    // A removal from the cart is not evidence of interest: it counts neither for popularity nor
    // in the training sequences.
    let positive = |e: &&crate::events::LogEvent| e.kind != vitrine::EventKind::RemoveFromCart;
    let mut counts = vec![0f32; n];
    for s in &log.sessions {
        for e in s.iter().filter(positive) {
            counts[e.item as usize] += 1.0;
        }
    }
    // Sessions in the order they started (first event's ts, then file order), so that the
    // validation split is the end of the log in time.
    let mut by_start: Vec<&Vec<crate::events::LogEvent>> =
        log.sessions.iter().filter(|s| !s.is_empty()).collect();
    by_start.sort_by(|a, b| a[0].ts.total_cmp(&b[0].ts).then(a[0].seq.cmp(&b[0].seq)));
    // Each positive event with its type weight (what the engine's session terms start from).
    let kind_weights = vitrine::bundle::EventWeights::default();
    let weighted: Vec<Vec<(u32, f32)>> = by_start
        .into_iter()
        .map(|s| {
            s.iter()
                .filter(positive)
                .map(|e| (e.item, e.kind.weight(&kind_weights)))
                .collect()
        })
        .filter(|s: &Vec<(u32, f32)>| s.len() > 1)
        .collect();
    let sequences: Vec<Vec<u32>> = weighted
        .iter()
        .map(|s| s.iter().map(|e| e.0).collect())
        .collect();
    let n_valid = (sequences.len() as f64 * params.valid_fraction).round() as usize;
    let (fit_part, valid_part) = sequences.split_at(sequences.len() - n_valid);
    let valid_weighted = &weighted[sequences.len() - n_valid..];
    let valid_rows: Vec<Vec<Option<u32>>> = valid_part
        .iter()
        .map(|s| s.iter().map(|&i| Some(i)).collect())
        .collect();

    let mut report = TrainReport {
        validation_sessions: n_valid,
        ..Default::default()
    };
    let mut best: Option<(f64, usize)> = None;
    let mut since_best = 0;
    let mut best_model: Option<model::Model> = None;
    // Each epoch's batches on the progress bar: `phase i/total`.
    let batches = |phase: &'static str, total: usize| {
        move |epoch: usize, done: usize, per_epoch: usize| {
            if done == 1 {
                progress.reset(format!("{phase} {}/{total}", epoch + 1), per_epoch as u64);
            }
            progress.inc(1);
        }
    };
    let started = std::time::Instant::now();
    let mut hook = |epoch: usize, loss: f64, m: &model::Model| -> bool {
        let mut line = EpochReport {
            epoch: epoch + 1,
            loss,
            seconds: started.elapsed().as_secs_f64(),
            validation_hr20: None,
            validation_mrr20: None,
        };
        let mut go_on = true;
        if !valid_part.is_empty() {
            progress.set_message("validating");
            let (hr, mrr) = model::evaluate_float(m, &valid_rows, 20, None);
            progress.set_message("");
            line.validation_hr20 = Some(hr);
            line.validation_mrr20 = Some(mrr);
            if best.is_none_or(|(b, _)| mrr > b) {
                best = Some((mrr, epoch + 1));
                best_model = Some(m.clone());
                since_best = 0;
            } else {
                since_best += 1;
                go_on = since_best < params.patience;
            }
        }
        progress.println(line.line("epoch"));
        report.epochs.push(line);
        go_on
    };
    let last = model::fit(
        fit_part,
        n,
        &counts,
        &params.model,
        init,
        &mut hook,
        &batches("epoch", params.model.epochs),
    );
    // Early stopping: the epoch with the best validation MRR; then, with --refit, the same
    // schedule again on every session (the held-out sessions are the most recent ones).
    let mut trained = best_model.unwrap_or(last);
    // The popularity blend `cos + w · prior`: w tuned on the validation split (HR@20 + MRR@20)
    // with the early-stopped model (before any refit has seen those sessions) and a prior from
    // the fitted part only.
    let mut pop_weight = 0.0f32;
    let mut scoring = vitrine::bundle::ScoringParams::default();
    let mut cold_scale = None;
    if !valid_rows.is_empty() {
        progress.set_message("tuning the popularity weight");
        let mut fit_counts = vec![0f32; n];
        for s in fit_part {
            for &i in s {
                fit_counts[i as usize] += 1.0;
            }
        }
        let fit_prior = vitrine::bundle::popularity_prior(&fit_counts);
        let mut best_objective = f64::NEG_INFINITY;
        let grid = model::evaluate_float_weights(
            &trained,
            &valid_rows,
            20,
            Some(&fit_prior),
            &POP_WEIGHT_GRID,
        );
        for (&w, &(hr, mrr)) in POP_WEIGHT_GRID.iter().zip(&grid) {
            report.popularity_trials.push(PopularityTrial {
                weight: w,
                validation_hr20: hr,
                validation_mrr20: mrr,
            });
            if hr + mrr > best_objective {
                best_objective = hr + mrr;
                pop_weight = w;
            }
        }
        report.popularity_weight = pop_weight;
        progress.set_message("");
        if params.session_terms {
            let (rw, rd, nw, nd) = tune_session_terms(
                &trained,
                fit_part,
                valid_weighted,
                &fit_prior,
                pop_weight,
                n,
                &params.neighbours,
                &mut report.notes,
            );
            scoring.repeat_weight = rw;
            scoring.repeat_decay = rd;
            scoring.nbr_weight = nw;
            scoring.nbr_decay = nd;
        }
        if let Some((cat, blend)) = catalog {
            let by_id = cat.index();
            let products: Vec<Option<&crate::catalog::Product>> = log
                .items
                .iter()
                .map(|id| by_id.get(id.as_str()).map(|&k| &cat.products[k]))
                .collect();
            if let Some((s, lines)) = crate::cold_scale::choose(
                &trained,
                valid_weighted,
                &fit_prior,
                pop_weight,
                &products,
                &fit_counts,
                blend,
                params.model.seed,
            ) {
                report.notes.extend(lines);
                cold_scale = Some(s);
            }
        }
    }
    if let (true, Some((_, epochs))) = (params.refit, best) {
        let refit_params = ModelParams {
            epochs,
            ..params.model.clone()
        };
        let started = std::time::Instant::now();
        let mut refit_epochs = Vec::new();
        let mut quiet = |epoch: usize, loss: f64, _: &model::Model| {
            let line = EpochReport {
                epoch: epoch + 1,
                loss,
                seconds: started.elapsed().as_secs_f64(),
                validation_hr20: None,
                validation_mrr20: None,
            };
            progress.println(line.line("refit epoch"));
            refit_epochs.push(line);
            true
        };
        trained = model::fit(
            &sequences,
            n,
            &counts,
            &refit_params,
            init,
            &mut quiet,
            &batches("refit", epochs),
        );
        report.refit_epochs = refit_epochs;
        report.refit_sessions = Some(sequences.len());
    }
    if let Some((mrr, epoch)) = best {
        report.best_validation_mrr20 = Some(mrr);
        report.best_epoch = Some(epoch);
    }

    if let Some(test) = unquantized_test {
        progress.set_message("scoring the unquantized model");
        // The test log's items on the training vocabulary (None: unknown, as `vitrine eval` has it).
        let index: std::collections::HashMap<&str, u32> = log
            .items
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i as u32))
            .collect();
        let test_rows: Vec<Vec<Option<u32>>> = test
            .sessions
            .iter()
            .map(|s| {
                s.iter()
                    .filter(positive)
                    .map(|e| index.get(test.items[e.item as usize].as_str()).copied())
                    .collect()
            })
            .collect();
        let prior = vitrine::bundle::popularity_prior(&counts);
        let (hr, mrr) = model::evaluate_float(&trained, &test_rows, 20, Some((&prior, pop_weight)));
        report.unquantized_test_hr20 = Some(hr);
        report.unquantized_test_mrr20 = Some(mrr);
    }
    progress.clear();

    let lists = match given_lists {
        Some(l) => Some(l),
        None if params.neighbours.per_item > 0 => {
            Some(cooccur::neighbours(&sequences, n, &params.neighbours))
        }
        None => None,
    };
    if let Some(l) = &lists {
        report.notes.push(format!(
            "co-occurrence neighbours: {} entries for {} items",
            l.iter().map(Vec::len).sum::<usize>(),
            l.iter().filter(|x| !x.is_empty()).count()
        ));
    }
    let co_purchases = cooccur::co_purchases(log, &params.neighbours);
    if let Some(l) = &co_purchases {
        report.notes.push(format!(
            "co-purchase neighbours: {} entries for {} items",
            l.iter().map(Vec::len).sum::<usize>(),
            l.iter().filter(|x| !x.is_empty()).count()
        ));
    }
    if lists.is_none() {
        scoring.nbr_weight = 0.0;
    }
    let trend = cooccur::trend(log, params.trend_half_life_s);

    let mut metadata = BTreeMap::new();
    metadata.insert("model".into(), "session-softmax".into());
    if trend.is_some() {
        metadata.insert(
            "trend.half_life_s".into(),
            format!("{}", params.trend_half_life_s),
        );
    }
    if lists.is_some() {
        let p = &params.neighbours;
        metadata.insert(
            "nbr.params".into(),
            format!(
                "per_item={},min_support={},window={}",
                p.per_item,
                p.min_support,
                p.window.map_or("none".into(), |w| w.to_string())
            ),
        );
    }
    metadata.insert("train.sessions".into(), log.sessions.len().to_string());
    metadata.insert("train.events".into(), log.n_events.to_string());
    metadata.insert("train.validation_sessions".into(), n_valid.to_string());
    metadata.insert("train.seed".into(), params.model.seed.to_string());
    Ok(Trained {
        parts: BundleParts {
            ids: log.items.clone(),
            dim: params.model.dim,
            embeddings: trained.normalized(),
            popularity: counts,
            metadata,
            params: Some(vitrine::bundle::ScoringParams {
                pop_weight,
                ..scoring
            }),
            neighbours: lists,
            co_purchases,
            trend,
            session_pos_weights: Some(trained.pos_weights.clone()),
            session_readout: Some(trained.readout.clone()),
            ..Default::default()
        },
        report,
        cold_scale,
        sequences,
    })
}

/// Chooses the re-consumption and item-to-item weights on the validation split with the
/// early-stopped model (neighbour lists from the fitted part only) and reports what each
/// component adds. Returns (repeat weight, repeat decay, neighbour weight, neighbour decay).
#[allow(clippy::too_many_arguments)]
fn tune_session_terms(
    model: &model::Model,
    fit_part: &[Vec<u32>],
    valid: &[Vec<(u32, f32)>],
    fit_prior: &[f32],
    pop_weight: f32,
    n: usize,
    nbr: &NeighbourParams,
    report: &mut Vec<String>,
) -> (f32, f32, f32, f32) {
    let started = std::time::Instant::now();
    let lists = tune_terms::normalized(&cooccur::neighbours(fit_part, n, nbr));
    let mut grid = TermGrid::standard();
    if nbr.per_item == 0 {
        grid.nbr_weight = vec![0.0];
    }
    let combos = tune_terms::evaluate(
        model,
        valid,
        fit_prior,
        pop_weight,
        &lists,
        &grid,
        20,
        vitrine::session::DEFAULT_MAX_EVENTS,
    );
    let pick = |f: &dyn Fn(&tune_terms::Combo) -> bool| {
        let subset: Vec<tune_terms::Combo> = combos.iter().copied().filter(|c| f(c)).collect();
        tune_terms::best(&subset)
    };
    let rows = [
        (
            "embedding + popularity",
            pick(&|c| c.repeat_weight == 0.0 && c.nbr_weight == 0.0),
        ),
        ("+ re-consumption", pick(&|c| c.nbr_weight == 0.0)),
        ("+ item-to-item", pick(&|c| c.repeat_weight == 0.0)),
        ("+ both", pick(&|_| true)),
    ];
    for (name, c) in &rows {
        if let Some(c) = c {
            report.push(format!(
                "session terms {name}: validation HR@20 {:.2} % MRR@20 {:.2} % (repeat {} × {}^k, neighbours {} × {}^k)",
                100.0 * c.hr,
                100.0 * c.mrr,
                c.repeat_weight,
                c.repeat_decay,
                c.nbr_weight,
                c.nbr_decay
            ));
        }
    }
    report.push(format!(
        "session terms chosen on {} combinations in {:.0}s",
        combos.len(),
        started.elapsed().as_secs_f64()
    ));
    match rows[3].1 {
        Some(c) => (c.repeat_weight, c.repeat_decay, c.nbr_weight, c.nbr_decay),
        None => (0.0, 0.8, 0.0, 0.8),
    }
}
