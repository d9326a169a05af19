//! Public per-item aggregates from the training sessions, for the bundle: co-occurrence
//! neighbour lists (`nbr_*`), co-purchase lists (`cop_*`) and recency-weighted counts
//! (`item_trend`).
//!
//! Neighbours are defined exactly as `vitrine_spark` computes them (`spark/vitrine_spark/
//! prepare.py`, `_neighbours`), so the two paths give the same lists for the same parameters:
//! in each session's sequence of positive events (all but `remove_from_cart`), two different items
//! within `window` positions of each other form a pair, counted once per session (its support);
//! pairs with support ≥ `min_support` are kept with weight `support / sqrt(sessions(a) ·
//! sessions(b))` (a cosine over sessions, `sessions(x)` counting the sessions of length ≥ 2 that
//! hold x), and each item keeps its `per_item` strongest (ties: the smaller row). Only counts of
//! at least `min_support` sessions reach the bundle: no list reveals a single session.
//!
//! Co-purchase lists are the same over the items added to a cart or purchased (a basket is a set:
//! every pair of the session, `window = None`).

use std::collections::HashMap;

use vitrine::EventKind;

use crate::events::{EventLog, LogEvent};

/// How neighbour lists are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighbourParams {
    /// Neighbours kept per item (0: no lists).
    pub per_item: usize,
    /// Sessions two items must share to be neighbours (≥ 1).
    pub min_support: u32,
    /// Positions apart two items may be to form a pair (`None`: anywhere in the session).
    pub window: Option<usize>,
}

/// Longest session prefix whose pairs are counted when `window` is `None` (a basket of 200 items
/// would otherwise weigh 40,000 pairs): the first this many distinct items.
const MAX_BASKET: usize = 100;

/// Neighbour lists over item rows `0..n_items` from `sessions` (each a sequence of rows), one
/// list per row, strongest first.
pub fn neighbours(
    sessions: &[Vec<u32>],
    n_items: usize,
    p: &NeighbourParams,
) -> Vec<Vec<(u32, f32)>> {
    let mut lists = vec![Vec::new(); n_items];
    if p.per_item == 0 {
        return lists;
    }
    let mut sessions_of = vec![0u32; n_items];
    let mut support: HashMap<(u32, u32), u32> = HashMap::new();
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut distinct: Vec<u32> = Vec::new();
    for s in sessions.iter().filter(|s| s.len() >= 2) {
        distinct.clear();
        distinct.extend(s.iter().copied());
        distinct.sort_unstable();
        distinct.dedup();
        for &i in &distinct {
            if let Some(c) = sessions_of.get_mut(i as usize) {
                *c += 1;
            }
        }
        pairs.clear();
        match p.window {
            Some(w) => {
                for (i, &a) in s.iter().enumerate() {
                    for &b in s.iter().skip(i + 1).take(w) {
                        if a != b {
                            pairs.push((a, b));
                            pairs.push((b, a));
                        }
                    }
                }
            }
            None => {
                let mut basket: Vec<u32> = Vec::new();
                for &a in s {
                    if !basket.contains(&a) && basket.len() < MAX_BASKET {
                        basket.push(a);
                    }
                }
                for &a in &basket {
                    for &b in &basket {
                        if a != b {
                            pairs.push((a, b));
                        }
                    }
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        for &pair in &pairs {
            *support.entry(pair).or_default() += 1;
        }
    }
    for ((a, b), c) in support {
        if c < p.min_support {
            continue;
        }
        let (na, nb) = (sessions_of[a as usize], sessions_of[b as usize]);
        let w = f64::from(c) / (f64::from(na) * f64::from(nb)).sqrt();
        lists[a as usize].push((b, w as f32));
    }
    for list in &mut lists {
        list.sort_unstable_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        list.truncate(p.per_item);
    }
    lists
}

/// Whether an event counts as evidence of interest (not a removal from the cart).
pub fn positive(e: &LogEvent) -> bool {
    e.kind != EventKind::RemoveFromCart
}

/// Whether an event is a purchase-like one (added to a cart, or purchased).
pub fn bought(e: &LogEvent) -> bool {
    matches!(e.kind, EventKind::AddToCart | EventKind::Purchase)
}

/// Each session's rows of the events `keep` accepts, in time order.
pub fn sequences(log: &EventLog, keep: fn(&LogEvent) -> bool) -> Vec<Vec<u32>> {
    log.sessions
        .iter()
        .map(|s| s.iter().filter(|e| keep(e)).map(|e| e.item).collect())
        .collect()
}

/// The log's co-purchase lists (whole baskets: every pair of a session's purchase-like events),
/// or `None` for a log without purchase-like events (the engine's bought-together then uses the
/// co-occurrence lists).
pub fn co_purchases(log: &EventLog, p: &NeighbourParams) -> Option<Vec<Vec<(u32, f32)>>> {
    let any = log.sessions.iter().flatten().any(bought);
    if !any || p.per_item == 0 {
        return None;
    }
    let params = NeighbourParams { window: None, ..*p };
    Some(neighbours(
        &sequences(log, bought),
        log.items.len(),
        &params,
    ))
}

/// Recency-weighted counts of positive events: each weighs `0.5^((newest ts − ts) / half_life_s)`.
/// `None` when the log has no timestamps (every `ts` is the event's position in the log).
pub fn trend(log: &EventLog, half_life_s: f64) -> Option<Vec<f32>> {
    let events = || log.sessions.iter().flatten();
    if events().all(|e| e.ts == f64::from(e.seq)) {
        return None;
    }
    let newest = events().map(|e| e.ts).fold(f64::NEG_INFINITY, f64::max);
    // Summed in fixed point (units of 2⁻⁴⁰): the same events give the same counts whatever the
    // order of the sessions (a CSV and a GA4 export of one log name their sessions differently).
    const UNIT: f64 = (1u64 << 40) as f64;
    let mut out = vec![0u128; log.items.len()];
    for e in events().filter(|e| positive(e)) {
        let w = 0.5f64.powf((newest - e.ts).max(0.0) / half_life_s);
        out[e.item as usize] += (w * UNIT).round() as u128;
    }
    Some(out.into_iter().map(|x| (x as f64 / UNIT) as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_need_support_and_a_window() {
        // a-b together in 3 sessions, a-c in 1, b-d 4 positions apart (outside a window of 2).
        let s: Vec<Vec<u32>> = vec![vec![0, 1], vec![1, 0], vec![0, 1, 2], vec![1, 5, 6, 7, 3]];
        let p = NeighbourParams {
            per_item: 10,
            min_support: 2,
            window: Some(2),
        };
        let l = neighbours(&s, 8, &p);
        assert_eq!(l[0].len(), 1);
        assert_eq!(l[0][0].0, 1);
        // support 3 / sqrt(3 sessions of a × 4 of b)
        assert!((l[0][0].1 - 3.0 / 12f32.sqrt()).abs() < 1e-6);
        assert_eq!(l[1], vec![(0, l[0][0].1)]);
        assert!(l[2].is_empty() && l[3].is_empty());
        // No window: b and d now pair once (support 1 < 2): still nothing.
        let all = neighbours(&s, 8, &NeighbourParams { window: None, ..p });
        assert!(all[3].is_empty());
        // A session counts a pair once, however often it repeats.
        let rep = neighbours(
            &[vec![0, 1, 0, 1, 0, 1]],
            2,
            &NeighbourParams {
                min_support: 2,
                ..p
            },
        );
        assert!(rep[0].is_empty());
    }

    #[test]
    fn lists_are_cut_to_the_strongest() {
        let mut s = Vec::new();
        for k in 1..=5u32 {
            for _ in 0..k {
                s.push(vec![0, k]);
            }
        }
        let p = NeighbourParams {
            per_item: 2,
            min_support: 1,
            window: None,
        };
        let l = neighbours(&s, 6, &p);
        let rows: Vec<u32> = l[0].iter().map(|x| x.0).collect();
        assert_eq!(rows, [5, 4]);
    }
}
