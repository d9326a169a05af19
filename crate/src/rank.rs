//! Scoring and ranking: the one function that turns (bundle, session, request) into a top-k.
//! The CLI's `eval` and the browser both call [`recommend`].

use crate::bundle::Bundle;
use crate::error::RequestError;
use crate::kernels::{dot_i8, Scored, TopK};
use crate::session::SessionLog;

/// Largest `k` a request may ask for.
pub const MAX_K: usize = 10_000;

/// A validated recommendation request.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendRequest {
    k: usize,
    exclude_seen: bool,
}

impl RecommendRequest {
    /// A request for the top `k` (1 ≤ k ≤ [`MAX_K`]).
    pub fn new(k: usize) -> Result<Self, RequestError> {
        if k == 0 || k > MAX_K {
            return Err(RequestError::InvalidOption {
                name: "k",
                why: format!("must be between 1 and {MAX_K}, got {k}"),
            });
        }
        Ok(Self {
            k,
            exclude_seen: false,
        })
    }

    /// Drop items that already occur in the session from the results (off by default).
    pub fn exclude_seen(mut self, yes: bool) -> Self {
        self.exclude_seen = yes;
        self
    }

    /// How many results are asked for.
    pub fn k(&self) -> usize {
        self.k
    }
}

/// The session profile: the recency- and type-weighted sum of the session's unit-normalized item
/// vectors, normalized to unit length. `None` when the session is empty or its weights cancel out.
pub fn session_profile(bundle: &Bundle, session: &SessionLog) -> Option<Vec<f32>> {
    let params = bundle.params();
    let mut profile = vec![0.0f32; bundle.dim()];
    let mut recency = 1.0f32;
    for event in session.events().rev() {
        let w = event.kind.weight(&params.event_weights) * recency;
        recency *= params.recency_decay;
        let v = bundle.dequantized_row(event.item as usize);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 && w != 0.0 {
            for (p, x) in profile.iter_mut().zip(&v) {
                *p += w * x / norm;
            }
        }
    }
    let norm = profile.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 1e-12 && norm.is_finite() {
        profile.iter_mut().for_each(|p| *p /= norm);
        Some(profile)
    } else {
        None
    }
}

/// Ranks the whole catalog for `session`: `similarity(profile, item) + pop_weight · prior(item)`,
/// or the popularity prior alone when the session is empty. Returns the best `k`, best first.
pub fn recommend(bundle: &Bundle, session: &SessionLog, request: &RecommendRequest) -> Vec<Scored> {
    let prior = bundle.prior();
    let mut top = TopK::new(request.k);
    let skip = |i: usize| request.exclude_seen && session.contains(i as u32);
    match session_profile(bundle, session) {
        None => {
            for (i, &p) in prior.iter().enumerate() {
                if !skip(i) {
                    top.push(Scored {
                        index: i as u32,
                        score: p,
                    });
                }
            }
        }
        Some(profile) => {
            let (q, q_scale) = quantize_query(&profile);
            let pop_weight = bundle.params().pop_weight;
            let scales = bundle.scales();
            for i in 0..bundle.n_items() {
                if skip(i) {
                    continue;
                }
                let sim = q_scale * scales[i] * dot_i8(&q, bundle.row(i)) as f32;
                top.push(Scored {
                    index: i as u32,
                    score: sim + pop_weight * prior[i],
                });
            }
        }
    }
    top.into_sorted()
}

/// Quantizes a query vector to int8 with one scale (symmetric).
fn quantize_query(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    if max <= 0.0 || !max.is_finite() {
        return (vec![0; v.len()], 0.0);
    }
    let scale = max / 127.0;
    (
        v.iter()
            .map(|&x| (x / scale).round().clamp(-127.0, 127.0) as i8)
            .collect(),
        scale,
    )
}
