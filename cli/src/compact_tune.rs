//! Quantization-aware fine-tuning of a compact bundle (`vitrine train --compact`, `vitrine
//! compact --events LOG`): with every item's codes fixed, the session model is trained again on
//! the training sessions through the codes, so the gradient moves the shared centroids and the
//! session readout (the JPQ recipe for dense retrieval: Zhan et al., "Jointly Optimizing Query
//! Encoder and Product Quantization", CIKM 2021). The codes stay the score-aware encoder's; the
//! bundle's size does not change. Measured on Diginetica in docs/quality.md ("Compact bundles").

use std::time::Instant;

use anyhow::{bail, Result};
use serde::Serialize;
use vitrine::bundle::{BundleParts, CompactParts};

use crate::events::EventLog;
use crate::model::{self, Model, ModelParams};
use crate::progress::Progress;
use crate::quantized_items::QuantizedItems;

/// The sessions to fine-tune on: bundle rows, oldest first, and each row's count (the negative
/// sampler's weights), as `vitrine train` fits them.
pub struct TuneSessions<'a> {
    pub sessions: &'a [Vec<u32>],
    pub counts: &'a [f32],
    /// The training run's model settings (batch, negatives, temperature, seed); `None`: the
    /// `vitrine train` defaults.
    pub model: Option<&'a ModelParams>,
}

/// What fine-tuning did.
#[derive(Debug, Clone, Serialize)]
pub struct TuneReport {
    pub epochs: usize,
    pub learning_rate: f32,
    pub sessions: usize,
    /// Mean training loss of each epoch.
    pub losses: Vec<f64>,
    pub seconds: f64,
}

impl TuneReport {
    pub fn line(&self) -> String {
        let losses: Vec<String> = self.losses.iter().map(|l| format!("{l:.4}")).collect();
        format!(
            "compact: codebooks and readout fine-tuned through the codes on {} sessions, {} epoch(s) at learning rate {} (loss {}) in {:.1}s",
            self.sessions,
            self.epochs,
            self.learning_rate,
            losses.join(" → "),
            self.seconds
        )
    }
}

/// Fine-tunes `c.codebooks` and `parts`' session readout and position weights for `epochs`
/// epochs on `data` (`c.codes` must be set: the score-aware encoder's). Needs a bundle trained
/// by `vitrine train` (unit-length rows, a readout and position weights).
pub fn fine_tune(
    parts: &mut BundleParts,
    c: &mut CompactParts,
    data: &TuneSessions<'_>,
    epochs: usize,
    learning_rate: f32,
    seed: u64,
) -> Result<TuneReport> {
    let (Some(readout), Some(pos_weights)) = (&parts.session_readout, &parts.session_pos_weights)
    else {
        bail!("fine-tuning a compact bundle needs a bundle written by `vitrine train` (session_readout and session_pos_weights)");
    };
    let Some(codes) = &c.codes else {
        bail!("fine-tuning needs the items' codes");
    };
    if !(learning_rate.is_finite() && learning_rate > 0.0) {
        bail!("--pq-tune-learning-rate must be a number > 0");
    }
    let d = parts.dim;
    let n = parts.ids.len();
    if data.counts.len() != n || data.sessions.iter().flatten().any(|&i| i as usize >= n) {
        bail!("the fine-tuning sessions do not index the bundle's {n} items");
    }
    if data.sessions.is_empty() {
        bail!("nothing to fine-tune on: no session has two events of the bundle's items");
    }
    let params = ModelParams {
        dim: d,
        epochs,
        max_positions: pos_weights.len(),
        learning_rate,
        seed,
        ..data.model.cloned().unwrap_or(ModelParams {
            dim: d,
            epochs,
            max_positions: pos_weights.len(),
            batch: model::DEFAULT_BATCH,
            negatives: model::DEFAULT_NEGATIVES,
            scale: model::DEFAULT_SCALE,
            learning_rate,
            seed,
        })
    };
    let start = Model {
        dim: d,
        emb: Vec::new(),
        pos_weights: pos_weights.clone(),
        readout: readout.clone(),
    };
    let started = Instant::now();
    let progress = Progress::new("fine-tune", 0, "batches");
    let mut losses = Vec::new();
    let mut on_epoch = |_: usize, loss: f64, _: &Model| {
        losses.push(loss);
        true
    };
    let on_batch = |epoch: usize, done: usize, per_epoch: usize| {
        if done == 1 {
            progress.reset(
                format!("fine-tune {}/{epochs}", epoch + 1),
                per_epoch as u64,
            );
        }
        progress.inc(1);
    };
    let mut items = QuantizedItems::new(codes, c.subspaces, d, c.codebooks.clone());
    let tuned = model::fine_tune_quantized(
        data.sessions,
        data.counts,
        &params,
        &start,
        &mut items,
        &mut on_epoch,
        &on_batch,
    );
    progress.clear();
    c.codebooks = items.codebooks;
    parts.session_readout = Some(tuned.readout);
    parts.session_pos_weights = Some(tuned.pos_weights);
    Ok(TuneReport {
        epochs,
        learning_rate,
        sessions: data.sessions.len(),
        losses,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The sessions of `log` as rows of a bundle with item ids `ids` (events of other items dropped,
/// removals from the cart too, as `vitrine train` drops them; sessions left with fewer than two
/// events dropped) and each row's count. Also returns the events dropped for an unknown item.
pub fn sessions_of_log(log: &EventLog, ids: &[String]) -> (Vec<Vec<u32>>, Vec<f32>, usize) {
    let row: std::collections::HashMap<&str, u32> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i as u32))
        .collect();
    let of_log: Vec<Option<u32>> = log
        .items
        .iter()
        .map(|id| row.get(id.as_str()).copied())
        .collect();
    let mut counts = vec![0f32; ids.len()];
    let mut unknown = 0;
    let mut sessions = Vec::new();
    for s in &log.sessions {
        let mut rows = Vec::with_capacity(s.len());
        for e in s.iter().filter(|e| crate::cooccur::positive(e)) {
            match of_log[e.item as usize] {
                Some(r) => {
                    counts[r as usize] += 1.0;
                    rows.push(r);
                }
                None => unknown += 1,
            }
        }
        if rows.len() > 1 {
            sessions.push(rows);
        }
    }
    (sessions, counts, unknown)
}
