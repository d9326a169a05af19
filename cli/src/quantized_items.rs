//! Item vectors given by product-quantization codes, as `vitrine train --compact` fine-tunes them
//! ([`crate::compact_tune`]): the codes fixed, the centroids trained.

use crate::adam::Adam;

/// Item vectors given by product-quantization codes: item `i`'s sub-space `j` (dimensions
/// `j·d/m .. (j+1)·d/m`) is that slice of centroid `codes[i·m + j]` of `codebooks` (`[k][d]`,
/// centroid `c` of every sub-space side by side, as `vitrine::bundle::CompactParts` holds them).
/// Training through it ([`model::fine_tune_quantized`]) moves the centroids (shared by every item
/// with that code), never the codes.
pub struct QuantizedItems<'a> {
    codes: &'a [u8],
    subspaces: usize,
    dim: usize,
    /// `[k][dim]`, updated by [`fine_tune_quantized`].
    pub codebooks: Vec<f32>,
    grad: Vec<f32>,
    adam: Adam,
}

impl<'a> QuantizedItems<'a> {
    /// `codes` is `[n][subspaces]` with every code `< codebooks.len() / dim`.
    pub fn new(codes: &'a [u8], subspaces: usize, dim: usize, codebooks: Vec<f32>) -> Self {
        let len = codebooks.len();
        Self {
            codes,
            subspaces,
            dim,
            codebooks,
            grad: vec![0.0; len],
            adam: Adam::new(len, 0.0),
        }
    }

    /// Starts the codebooks' optimizer afresh at learning rate `lr`.
    pub(crate) fn restart(&mut self, lr: f32) {
        self.adam = Adam::new(self.codebooks.len(), lr);
    }

    /// Sub-space `j`'s dimensions, as the compact writer cuts them.
    fn span(&self, j: usize) -> std::ops::Range<usize> {
        j * self.dim / self.subspaces..(j + 1) * self.dim / self.subspaces
    }

    /// Writes item `i`'s vector (its centroids' slices) to `out` (`dim` long).
    pub fn reconstruct(&self, i: usize, out: &mut [f32]) {
        for j in 0..self.subspaces {
            let span = self.span(j);
            let c = usize::from(self.codes[i * self.subspaces + j]) * self.dim;
            out[span.clone()].copy_from_slice(&self.codebooks[c + span.start..c + span.end]);
        }
    }

    /// Every item's vector, `[n][dim]`.
    pub fn reconstruct_all(&self) -> Vec<f32> {
        let n = self.codes.len() / self.subspaces.max(1);
        let mut out = vec![0.0; n * self.dim];
        for (i, row) in out.chunks_exact_mut(self.dim).enumerate() {
            self.reconstruct(i, row);
        }
        out
    }

    /// Adds item `i`'s gradient `g` to its centroids'.
    pub(crate) fn add_grad(&mut self, i: usize, g: &[f32]) {
        for j in 0..self.subspaces {
            let span = self.span(j);
            let c = usize::from(self.codes[i * self.subspaces + j]) * self.dim;
            for (x, y) in self.grad[c + span.start..c + span.end]
                .iter_mut()
                .zip(&g[span])
            {
                *x += y;
            }
        }
    }

    /// One Adam step of the codebooks on the gradient gathered since the last one.
    pub(crate) fn step(&mut self, t: i32, lr_mult: f32) {
        self.adam
            .step(&mut self.codebooks, &self.grad, 0, t, lr_mult);
        self.grad.iter_mut().for_each(|x| *x = 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{fine_tune_quantized, Model, ModelParams};

    /// Fine-tuning through codes moves the centroids, never the codes: the returned rows are the
    /// tuned codebooks' reconstructions, and the loss falls on a learnable log.
    #[test]
    fn fine_tuning_moves_centroids_not_codes() {
        let (n, d, m, k) = (12usize, 8usize, 2usize, 4usize);
        let codes: Vec<u8> = (0..n * m).map(|x| (x * 7 % k) as u8).collect();
        let books: Vec<f32> = (0..k * d)
            .map(|x| ((x * 37 % 11) as f32 - 5.0) / 5.0)
            .collect();
        // Each session walks the items in order: item i predicts item i + 1.
        let sessions: Vec<Vec<u32>> = (0..60)
            .map(|s| (0..5).map(|t| ((s + t) % n) as u32).collect())
            .collect();
        let counts = vec![1.0f32; n];
        let p = ModelParams {
            dim: d,
            epochs: 6,
            max_positions: 3,
            batch: 16,
            negatives: 64,
            scale: 8.0,
            learning_rate: 0.02,
            seed: 3,
        };
        let start = Model {
            dim: d,
            emb: Vec::new(),
            pos_weights: vec![1.0, 0.5, 0.25],
            readout: (0..d * d)
                .map(|i| if i % (d + 1) == 0 { 1.0 } else { 0.0 })
                .collect(),
        };
        let mut items = QuantizedItems::new(&codes, m, d, books.clone());
        let mut losses = Vec::new();
        let tuned = fine_tune_quantized(
            &sessions,
            &counts,
            &p,
            &start,
            &mut items,
            &mut |_, loss, _| {
                losses.push(loss);
                true
            },
            &|_, _, _| {},
        );
        assert_ne!(items.codebooks, books);
        assert_eq!(tuned.emb, items.reconstruct_all());
        assert_eq!(tuned.emb.len(), n * d);
        // Row i is its codes' centroid slices.
        let mut row = vec![0.0; d];
        items.reconstruct(5, &mut row);
        let (c0, c1) = (codes[10] as usize, codes[11] as usize);
        assert_eq!(&row[..4], &items.codebooks[c0 * d..c0 * d + 4]);
        assert_eq!(&row[4..], &items.codebooks[c1 * d + 4..c1 * d + 8]);
        assert!(losses[5] < losses[0], "{losses:?}");
        assert_ne!(tuned.readout, start.readout);
    }
}
