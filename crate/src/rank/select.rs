//! Selection: business rules, diversity, top-k and pins — the rows a response shows, in order.

use super::diversity::{capped_top_k, mmr, CategoryCounts};
use super::options::MAX_MMR_POOL;
use super::prepare::Prepared;
use crate::kernels::{top_k, Scored, TopK};

/// Rules, diversity, top-k and pins: the rows to show, in order, each flagged when pinned.
pub(super) fn select(
    p: &Prepared<'_>,
    k: usize,
    list: Option<&[u32]>,
    warnings: &mut Vec<String>,
) -> Vec<(Scored, bool)> {
    let opts = p.opts;
    let bundle = p.bundle();
    // Pins that survive the hard rules (and, for rerank, are candidates).
    let mut pins: Vec<(u32, usize)> = Vec::with_capacity(opts.pins.len());
    for &(i, slot) in &opts.pins {
        let id = &bundle.ids()[i as usize];
        if list.is_some_and(|l| !l.contains(&i)) {
            warnings.push(format!("pin '{id}' dropped: not among the candidates"));
        } else if p.anchors.binary_search(&i).is_ok() {
            // The items a scenario is about are left out of its results, pins included.
            warnings.push(format!("pin '{id}' dropped: it is an item asked about"));
        } else if !bundle.is_available(i as usize) {
            warnings.push(format!("pin '{id}' dropped: it is not available"));
        } else if !p.passes_hard_rules(i) {
            warnings.push(format!(
                "pin '{id}' dropped: the filters or the exclude list leave it out"
            ));
        } else {
            pins.push((i, slot));
        }
    }
    let n_ranked = k.saturating_sub(pins.len());
    let mut used = CategoryCounts::default();
    for &(i, _) in &pins {
        if let Some(c) = bundle.category(i as usize) {
            used.add(c);
        }
    }
    let cap = opts.diversity.max_per_category;
    let lambda = opts.diversity.lambda;
    // A released shelf cut leaves rows out below the first n_ranked − slots: rank that many more.
    let (left_out, cut_slots) = p.left_out;
    let extra = left_out.len();
    let pool_size = match lambda {
        Some(_) => opts
            .diversity
            .pool
            .unwrap_or((n_ranked * 4).max(50))
            .clamp(n_ranked, MAX_MMR_POOL),
        None => n_ranked + extra,
    };

    let pool: Vec<Scored> = match list {
        None if opts.filters.allow.is_none() => {
            let scores = p.score_catalog();
            match cap {
                None => top_k(&scores, pool_size),
                Some(cap) => capped_top_k(bundle, |m| top_k(&scores, m), pool_size, cap, &used),
            }
        }
        _ => {
            // A candidate list: the page's, or the allow list.
            let rows: &[u32] = list.or(opts.filters.allow.as_deref()).unwrap_or(&[]);
            let kept: Vec<u32> = rows
                .iter()
                .copied()
                .filter(|&i| p.admissible(i) && !pins.iter().any(|&(pi, _)| pi == i))
                .collect();
            let cands: Vec<Scored> = kept
                .iter()
                .zip(p.score_rows(&kept))
                .map(|(&index, score)| Scored { index, score })
                .collect();
            let best = |m: usize| {
                let mut top = TopK::new(m);
                cands.iter().for_each(|&c| top.push(c));
                top.into_sorted()
            };
            match cap {
                None => best(pool_size),
                Some(cap) => capped_top_k(bundle, best, pool_size, cap, &used),
            }
        }
    };
    let ranked = match lambda {
        Some(l) => mmr(p, &pool, n_ranked + extra, l, cap, &mut used.clone()),
        None => pool,
    };
    let ranked = cut(ranked, n_ranked, left_out, cut_slots);

    // Interleave pins at their slots; pins beyond the end move up, in slot order.
    let mut order: Vec<(Scored, bool)> = Vec::with_capacity(ranked.len() + pins.len());
    let mut ranked = ranked.into_iter().peekable();
    let mut pins_left = pins.iter().peekable();
    while order.len() < k {
        let slot = order.len();
        if let Some(&(i, _)) = pins_left.next_if(|&&(_, s)| s == slot) {
            order.push((
                Scored {
                    index: i,
                    score: p.score(i),
                },
                true,
            ));
        } else if let Some(c) = ranked.next() {
            order.push((c, false));
        } else if let Some(&(i, _)) = pins_left.next() {
            order.push((
                Scored {
                    index: i,
                    score: p.score(i),
                },
                true,
            ));
        } else {
            break;
        }
    }
    // The shelf's private slot: an item released from the device-only record, in the last place
    // when the ranking leaves it out and the request's rules allow it.
    if let Some(j) = p.insert_last {
        let listed = list.is_none_or(|l| l.contains(&j));
        if listed && k > 0 && p.admissible(j) && !order.iter().any(|(c, _)| c.index == j) {
            let scored = Scored {
                index: j,
                score: p.score(j),
            };
            if order.len() < k {
                order.push((scored, false));
            } else if let Some(last) = order.iter().rposition(|(_, pinned)| !pinned) {
                order[last] = (scored, false);
            }
        }
    }
    order
}

/// The shelf cut of `unit: 'device'` (post-processing of a `privacy::WindowMechanism` release):
/// the first `n − slots` rows as ranked, then the rest without the `left_out` rows (sorted), `n`
/// in all.
fn cut(ranked: Vec<Scored>, n: usize, left_out: &[u32], slots: usize) -> Vec<Scored> {
    let keep = n.saturating_sub(slots);
    ranked
        .into_iter()
        .enumerate()
        .filter(|(i, s)| *i < keep || left_out.binary_search(&s.index).is_err())
        .map(|(_, s)| s)
        .take(n)
        .collect()
}
