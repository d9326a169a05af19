//! The Adam optimizer (Kingma & Ba 2015) over flat `f32` parameter blocks, as the session model
//! and the quantized items train them.

/// Adam state for a dense parameter block updated row by row.
pub(crate) struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    lr: f32,
}

const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPS: f32 = 1e-8;

impl Adam {
    pub(crate) fn new(len: usize, lr: f32) -> Self {
        Self {
            m: vec![0.0; len],
            v: vec![0.0; len],
            lr,
        }
    }

    /// Updates `param[range]` with `grad` (lazy Adam: only touched rows advance their moments).
    pub(crate) fn step(
        &mut self,
        param: &mut [f32],
        grad: &[f32],
        offset: usize,
        t: i32,
        lr_mult: f32,
    ) {
        let bc1 = 1.0 - BETA1.powi(t);
        let bc2 = 1.0 - BETA2.powi(t);
        let lr = self.lr * lr_mult * bc2.sqrt() / bc1;
        for (j, &g) in grad.iter().enumerate() {
            let m = &mut self.m[offset + j];
            let v = &mut self.v[offset + j];
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            param[offset + j] -= lr * *m / (v.sqrt() + EPS);
        }
    }
}
