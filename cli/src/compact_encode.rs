//! Score-aware encoding of item vectors against product-quantization codebooks. The plain encoder
//! (the writer's) picks, per sub-space, the nearest centroid: it minimizes `‖r‖²`, the squared
//! error `r = x − x̃` of the reconstruction. What ranking by `q · x` suffers from most is the part
//! of `r` along `x` itself (it shifts the item's score for every query near `x`: the queries that
//! rank it), so this encoder minimizes the anisotropic loss `‖r‖² + (η − 1) · (r · x)² / ‖x‖²`
//! (η > 1 weighs that part more; Guo et al., "Accelerating Large-Scale Inference with Anisotropic
//! Vector Quantization", ICML 2020), by coordinate descent over the sub-spaces starting from the
//! nearest centroids. η = 1 is the plain encoder.

use rayon::prelude::*;
use vitrine::bundle::CompactParts;

/// The codes of every row of `emb` (`[n, d]`) under the anisotropic loss with weight `eta`,
/// `rounds` passes of coordinate descent. Uses the codebooks as the reader will see them (F16).
pub fn encode(emb: &[f32], d: usize, c: &CompactParts, eta: f32, rounds: usize) -> Vec<u8> {
    let (m, k) = (c.subspaces, c.centroids);
    let books: Vec<f32> = c
        .codebooks
        .iter()
        .map(|&x| half::f16::from_f32(x).to_f32())
        .collect();
    let bounds: Vec<(usize, usize)> = (0..m).map(|j| (j * d / m, (j + 1) * d / m)).collect();
    let centroid = |j: usize, code: usize| {
        let (lo, hi) = bounds[j];
        &books[code * d + lo..code * d + hi]
    };
    emb.par_chunks_exact(d)
        .flat_map_iter(|x| {
            // Nearest centroids first.
            let mut codes: Vec<usize> = (0..m)
                .map(|j| {
                    let (lo, hi) = bounds[j];
                    let xs = &x[lo..hi];
                    let mut best = (f32::INFINITY, 0usize);
                    for b in 0..k {
                        let e: f32 = centroid(j, b)
                            .iter()
                            .zip(xs)
                            .map(|(a, v)| (v - a) * (v - a))
                            .sum();
                        if e < best.0 {
                            best = (e, b);
                        }
                    }
                    best.1
                })
                .collect();
            let xx: f32 = x.iter().map(|v| v * v).sum();
            if eta != 1.0 && xx > 0.0 {
                // Per sub-space: ‖r_j‖² and r_j · x_j of the current code.
                let part = |j: usize, code: usize| -> (f32, f32) {
                    let (lo, hi) = bounds[j];
                    centroid(j, code)
                        .iter()
                        .zip(&x[lo..hi])
                        .fold((0.0, 0.0), |(rr, rx), (a, v)| {
                            let r = v - a;
                            (rr + r * r, rx + r * v)
                        })
                };
                let (mut rr, mut rx) = (0.0f32, 0.0f32);
                for (j, &code) in codes.iter().enumerate() {
                    let (a, b) = part(j, code);
                    rr += a;
                    rx += b;
                }
                let loss = |rr: f32, rx: f32| rr + (eta - 1.0) * rx * rx / xx;
                for _ in 0..rounds {
                    let mut changed = false;
                    for (j, code) in codes.iter_mut().enumerate() {
                        let (rr_j, rx_j) = part(j, *code);
                        let (base_rr, base_rx) = (rr - rr_j, rx - rx_j);
                        let mut best = (loss(rr, rx), *code, rr, rx);
                        for b in 0..k {
                            let (p, q) = part(j, b);
                            let l = loss(base_rr + p, base_rx + q);
                            if l < best.0 {
                                best = (l, b, base_rr + p, base_rx + q);
                            }
                        }
                        if best.1 != *code {
                            changed = true;
                            *code = best.1;
                        }
                        (rr, rx) = (best.2, best.3);
                    }
                    if !changed {
                        break;
                    }
                }
            }
            codes.into_iter().map(|c| c as u8)
        })
        .collect()
}
