//! Explanations: the additive parts of one item's score and the session events behind its
//! similarity.

use super::env::{Kind, Related};
use super::prepare::{EventTerms, Prepared};
use super::response::{EventReason, Explanation, Part};

/// How many of the newest session events an explanation lists at most.
pub const MAX_EXPLAINED_EVENTS: usize = 5;

/// The explanation of item `i`'s score under `p`.
pub(super) fn explain_item(p: &Prepared<'_>, i: u32, pinned: bool) -> Explanation {
    let bundle = p.bundle();
    let mut contributions: Vec<Part> = Vec::new();
    let mut events = Vec::new();
    match p.kind {
        Kind::Related(Related::Trending) => contributions.push(Part {
            feature: "trending".into(),
            value: bundle.trend_prior()[i as usize],
        }),
        Kind::Related(_) => {
            if p.has_anchor_signal() {
                contributions.push(Part {
                    feature: "similarity".into(),
                    value: p.anchor_similarity(i),
                });
                let nb = p.neighbour(i);
                if nb != 0.0 {
                    contributions.push(Part {
                        feature: "neighbour".into(),
                        value: nb,
                    });
                }
            } else {
                contributions.push(Part {
                    feature: "popularity".into(),
                    value: bundle.prior()[i as usize],
                });
            }
        }
        Kind::Recommend | Kind::Rerank => {
            contributions.extend(p.scorer.contributions(i).into_iter().map(|c| Part {
                feature: c.feature.into(),
                value: c.value,
            }));
            events = event_reasons(p, i);
        }
    }
    let ctx = p.effect.item_bias(bundle, i);
    if ctx != 0.0 {
        contributions.push(Part {
            feature: "context".into(),
            value: ctx,
        });
    }
    let boost = p.boost(i);
    if boost != 0.0 {
        contributions.push(Part {
            feature: "boost".into(),
            value: boost,
        });
    }
    Explanation {
        contributions,
        events,
        context: p
            .effect
            .item_parts(bundle, i)
            .into_iter()
            .map(|(feature, value)| Part { feature, value })
            .collect(),
        personalized: p.scorer.is_personalized() && !matches!(p.kind, Kind::Related(_)),
        pinned,
    }
}

/// The session events behind item `i`'s similarity: each event's `weight · (W u_e) · v_i / ‖Σ
/// weight · W u‖` with `u_e` its item's unit vector and `W` the bundle's readout (identity when
/// absent), as `score::session_profile` builds the profile; they sum to the similarity part.
/// [`EventTerms`] of the request's weighted events; `None` when the profile is zero or not finite.
fn event_terms(p: &Prepared<'_>) -> Option<EventTerms> {
    let bundle = p.bundle();
    let d = bundle.dim();
    // Each event's vector as the profile sees it: its unit vector, through the readout `W` when
    // the bundle has one (the profile is `W · Σ weight · unit`, normalized).
    let readout = bundle.session_readout();
    let term = |j: u32| -> Option<Vec<f32>> {
        let n = p.norm(j);
        (n > 0.0).then(|| {
            let u: Vec<f32> = if bundle.is_compact() {
                let v = bundle.dequantized_row(j as usize);
                v.iter().map(|x| x / n).collect()
            } else {
                let s = bundle.scales()[j as usize] / n;
                bundle
                    .row(j as usize)
                    .iter()
                    .map(|&q| f32::from(q) * s)
                    .collect()
            };
            match readout {
                Some(w) => w
                    .chunks_exact(d)
                    .map(|row| row.iter().zip(&u).map(|(a, b)| a * b).sum())
                    .collect(),
                None => u,
            }
        })
    };
    let terms: Vec<Option<Vec<f32>>> = p.weighted.iter().map(|e| term(e.event.item)).collect();
    let mut profile = vec![0.0f32; d];
    for (e, t) in p.weighted.iter().zip(&terms) {
        if let Some(t) = t {
            profile
                .iter_mut()
                .zip(t)
                .for_each(|(a, x)| *a += e.weight * x);
        }
    }
    let z = profile.iter().map(|x| x * x).sum::<f32>().sqrt();
    (z > 0.0 && z.is_finite()).then_some((terms, z))
}

fn event_reasons(p: &Prepared<'_>, i: u32) -> Vec<EventReason> {
    let bundle = p.bundle();
    if !p.scorer.is_personalized() || p.weighted.is_empty() {
        return Vec::new();
    }
    let Some((terms, z)) = p.event_terms.get_or_init(|| event_terms(p)) else {
        return Vec::new();
    };
    let v_i = bundle.dequantized_row(i as usize);
    // Each event's share of the model's similarity `profile · v_i`: it adds
    // `weight · (W unit_e) · v_i / ‖Σ weight · W unit‖`.
    let mut shares: Vec<(usize, f32)> = p
        .weighted
        .iter()
        .zip(terms)
        .enumerate()
        .filter(|(_, (e, _))| e.weight != 0.0)
        .map(|(k, (e, t))| {
            let along = t
                .as_ref()
                .map_or(0.0, |t| t.iter().zip(&v_i).map(|(a, b)| a * b).sum::<f32>());
            (k, e.weight * along / *z)
        })
        .collect();
    // The largest |contribution| first (selection: the list is short and only a few are kept);
    // only those become reasons.
    let mut out = Vec::with_capacity(MAX_EXPLAINED_EVENTS.min(shares.len()));
    while out.len() < MAX_EXPLAINED_EVENTS && !shares.is_empty() {
        let mut best = 0;
        for (j, r) in shares.iter().enumerate() {
            if r.1.abs() > shares[best].1.abs() {
                best = j;
            }
        }
        let (k, contribution) = shares.swap_remove(best);
        let e = &p.weighted[k];
        out.push(EventReason {
            kind: e.event.kind.as_str(),
            item: bundle.ids()[e.event.item as usize].to_owned(),
            ts: e.event.ts_ms,
            weight: e.weight,
            similarity: p.cosine(e.event.item, i),
            contribution,
        });
    }
    out
}
