//! The ranking layer's sparse session terms, added to the embedding score of the few items they
//! touch:
//!
//! - **re-consumption**: an item the session already holds gains
//!   `repeat_weight · Σ base(e) · repeat_decay^position(e)` over its events `e`;
//! - **item-to-item**: item `i` gains `nbr_weight · Σ base(e) · nbr_decay^position(e) · w(e → i)`
//!   over the session's events, with `w` the co-occurrence neighbour weight of the event's item
//!   (`nbr_*`, public aggregates), normalized so each list's strongest neighbour weighs 1.
//!
//! `base(e)` is the event's type weight × time decay × dwell factor
//! ([`WeightedEvent::base`]); positions count item events from the newest (0). The weights and
//! decays are the bundle's (`score.repeat_*`, `score.nbr_*`), chosen on the validation split by
//! `vitrine train`; a bundle without them has no terms. The terms read the raw history: in
//! private mode they only enter the private mechanism's utility (see `privacy::anchor`).

use crate::bundle::Bundle;
use crate::kernels::sort_rows;
use crate::session::WeightedEvent;

/// Sparse additive terms per item row, summed over the session's events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionTerms {
    /// `(row, re-consumption term, item-to-item term)`, ascending by row, one entry per row.
    entries: Vec<(u32, f32, f32)>,
}

impl SessionTerms {
    /// The terms of `events` (newest first, as [`crate::SessionLog::effective_weights`] returns
    /// them) under the bundle's parameters.
    pub fn of(bundle: &Bundle, events: &[WeightedEvent]) -> Self {
        let p = bundle.params();
        let (repeat, nbr) = (p.repeat_weight > 0.0, p.nbr_weight > 0.0);
        if !(repeat || nbr) || events.is_empty() {
            return Self::default();
        }
        let mut raw: Vec<(u32, f32, f32)> = Vec::new();
        let (mut rd, mut nd) = (1.0f32, 1.0f32);
        for e in events {
            let w = e.base;
            if w != 0.0 && w.is_finite() {
                if repeat {
                    raw.push((e.event.item, p.repeat_weight * w * rd, 0.0));
                }
                if nbr {
                    let list = bundle.neighbours(e.event.item as usize);
                    let max = list.clone().map(|n| n.1).fold(0.0f32, f32::max);
                    if max > 0.0 {
                        let scale = p.nbr_weight * w * nd / max;
                        raw.extend(list.map(|(j, x)| (j, 0.0, scale * x)));
                    }
                }
            }
            rd *= p.repeat_decay;
            nd *= p.nbr_decay;
        }
        // Distinct rows through the engine's one row sort, then the sums by binary search (no
        // sort instantiation for tuples in the wasm).
        let mut rows: Vec<u32> = raw.iter().map(|e| e.0).collect();
        sort_rows(&mut rows);
        rows.dedup();
        let mut entries: Vec<(u32, f32, f32)> = rows.into_iter().map(|r| (r, 0.0, 0.0)).collect();
        for (row, r, n) in raw {
            if let Ok(k) = entries.binary_search_by_key(&row, |e| e.0) {
                if let Some(e) = entries.get_mut(k) {
                    e.1 += r;
                    e.2 += n;
                }
            }
        }
        Self { entries }
    }

    /// True when no item gains anything.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(re-consumption, item-to-item)` of row `i` (0 for rows the session does not touch).
    pub fn get(&self, i: u32) -> (f32, f32) {
        match self.entries.binary_search_by_key(&i, |e| e.0) {
            Ok(k) => self.entries.get(k).map_or((0.0, 0.0), |e| (e.1, e.2)),
            Err(_) => (0.0, 0.0),
        }
    }

    /// Their sum for row `i`.
    pub fn total(&self, i: u32) -> f32 {
        let (r, n) = self.get(i);
        r + n
    }

    /// Adds every term to `scores` (indexed by row; rows beyond it are ignored).
    pub fn add_to(&self, scores: &mut [f32]) {
        for &(row, r, n) in &self.entries {
            if let Some(s) = scores.get_mut(row as usize) {
                *s += r + n;
            }
        }
    }
}
