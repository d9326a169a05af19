//! Scoring and ranking: the one function that turns (bundle, session, request) into a top-k.
//! The CLI's `eval` and the browser both call [`recommend`].

use crate::bundle::Bundle;
use crate::error::RequestError;
use crate::kernels::{Scored, TopK};
use crate::score::Scorer;
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

/// Ranks the whole catalog for `session`: `similarity(profile, item) + pop_weight · prior(item)`,
/// or the popularity prior alone when the session is empty. Returns the best `k`, best first.
pub fn recommend(bundle: &Bundle, session: &SessionLog, request: &RecommendRequest) -> Vec<Scored> {
    let scorer = Scorer::new(bundle, session);
    let mut top = TopK::new(request.k);
    for i in 0..bundle.n_items() as u32 {
        if request.exclude_seen && session.contains(i) {
            continue;
        }
        top.push(Scored {
            index: i,
            score: scorer.score(i),
        });
    }
    top.into_sorted()
}
