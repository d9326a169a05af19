//! Training: item popularity plus item2vec (skip-gram with negative sampling over sessions).
//!
//! Each session is a sentence of item ids; an item's vector is trained to predict the items that
//! occur within `window` positions of it. Vectors are L2-normalized, then int8-quantized by the
//! bundle writer.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use vitrine::BundleParts;

use crate::events::EventLog;

/// Hyper-parameters of `vitrine train`.
#[derive(Debug, Clone)]
pub struct TrainParams {
    pub dim: usize,
    pub epochs: usize,
    pub window: usize,
    pub negatives: usize,
    pub learning_rate: f32,
    pub seed: u64,
}

impl TrainParams {
    /// Checks ranges once; the trainer can then trust them.
    pub fn validate(&self) -> Result<()> {
        if !(1..=vitrine::bundle::MAX_DIM).contains(&self.dim) {
            bail!(
                "--dim must be between 1 and {}, got {}",
                vitrine::bundle::MAX_DIM,
                self.dim
            );
        }
        if self.epochs == 0 || self.window == 0 || self.negatives == 0 {
            bail!("--epochs, --window and --negatives must be at least 1");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            bail!(
                "--learning-rate must be in (0, 1], got {}",
                self.learning_rate
            );
        }
        Ok(())
    }
}

/// A trained model, ready to be written as a bundle.
pub struct Trained {
    pub parts: BundleParts,
    pub pairs_trained: u64,
}

const NEG_TABLE_SIZE: usize = 1 << 20;

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x.clamp(-30.0, 30.0)).exp())
}

/// Trains popularity and item2vec embeddings on `log`.
pub fn train(log: &EventLog, params: &TrainParams) -> Result<Trained> {
    params.validate()?;
    let n = log.items.len();
    let d = params.dim;
    let mut counts = vec![0f32; n];
    // A removal from the cart is not evidence of interest: it counts neither for popularity nor
    // as co-occurrence.
    let positive = |e: &&crate::events::LogEvent| e.kind != vitrine::EventKind::RemoveFromCart;
    for s in &log.sessions {
        for e in s.iter().filter(positive) {
            counts[e.item as usize] += 1.0;
        }
    }

    // Negative-sampling table: items drawn with probability ∝ count^0.75.
    let weights: Vec<f64> = counts.iter().map(|&c| f64::from(c).powf(0.75)).collect();
    let total: f64 = weights.iter().sum();
    let mut table = Vec::with_capacity(NEG_TABLE_SIZE);
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w / total;
        while (table.len() as f64) < acc * NEG_TABLE_SIZE as f64 && table.len() < NEG_TABLE_SIZE {
            table.push(i as u32);
        }
    }
    while table.len() < NEG_TABLE_SIZE {
        table.push((n - 1) as u32);
    }

    let mut rng = SmallRng::seed_from_u64(params.seed);
    let mut w_in: Vec<f32> = (0..n * d)
        .map(|_| (rng.random::<f32>() - 0.5) / d as f32)
        .collect();
    let mut w_out = vec![0f32; n * d];
    let sentences: Vec<Vec<u32>> = log
        .sessions
        .iter()
        .map(|s| s.iter().filter(positive).map(|e| e.item).collect())
        .filter(|s: &Vec<u32>| s.len() > 1)
        .collect();
    let total_steps = (params.epochs * sentences.iter().map(Vec::len).sum::<usize>()).max(1) as f32;
    let mut step = 0f32;
    let mut neu = vec![0f32; d];
    let mut pairs: u64 = 0;
    let mut order: Vec<usize> = (0..sentences.len()).collect();
    for _epoch in 0..params.epochs {
        // Shuffle session order each epoch (Fisher–Yates).
        for i in (1..order.len()).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        for &si in &order {
            let s = &sentences[si];
            for (pos, &center) in s.iter().enumerate() {
                let lr = (params.learning_rate * (1.0 - step / total_steps))
                    .max(params.learning_rate * 1e-4);
                step += 1.0;
                let lo = pos.saturating_sub(params.window);
                let hi = (pos + params.window + 1).min(s.len());
                for (cpos, &context) in s.iter().enumerate().take(hi).skip(lo) {
                    if cpos == pos || context == center {
                        continue;
                    }
                    pairs += 1;
                    let cin = center as usize * d;
                    neu.iter_mut().for_each(|x| *x = 0.0);
                    for k in 0..=params.negatives {
                        let (target, label) = if k == 0 {
                            (context as usize, 1.0)
                        } else {
                            let t = table[rng.random_range(0..NEG_TABLE_SIZE)] as usize;
                            if t == context as usize {
                                continue;
                            }
                            (t, 0.0)
                        };
                        let tout = target * d;
                        let dot: f32 = w_in[cin..cin + d]
                            .iter()
                            .zip(&w_out[tout..tout + d])
                            .map(|(a, b)| a * b)
                            .sum();
                        let g = (label - sigmoid(dot)) * lr;
                        for j in 0..d {
                            neu[j] += g * w_out[tout + j];
                            w_out[tout + j] += g * w_in[cin + j];
                        }
                    }
                    for j in 0..d {
                        w_in[cin + j] += neu[j];
                    }
                }
            }
        }
    }

    // Unit-normalize so that the engine's dot product is a cosine.
    for row in w_in.chunks_mut(d) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|x| *x /= norm);
        }
    }

    let mut metadata = BTreeMap::new();
    metadata.insert("model".into(), "item2vec-sgns".into());
    metadata.insert("train.sessions".into(), log.sessions.len().to_string());
    metadata.insert("train.events".into(), log.n_events.to_string());
    metadata.insert("train.epochs".into(), params.epochs.to_string());
    metadata.insert("train.window".into(), params.window.to_string());
    metadata.insert("train.negatives".into(), params.negatives.to_string());
    metadata.insert("train.seed".into(), params.seed.to_string());
    Ok(Trained {
        parts: BundleParts {
            ids: log.items.clone(),
            dim: d,
            embeddings: w_in,
            popularity: counts,
            metadata,
            ..Default::default()
        },
        pairs_trained: pairs,
    })
}
