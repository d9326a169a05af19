//! `vitrine eval`'s table (without `--json`).

use super::metrics::Metrics;
use crate::output::outln;

/// The metrics as a markdown table.
pub fn eval_table(m: &Metrics) -> String {
    let mut t = String::new();
    outln!(t, "| metric | value |\n| --- | --- |");
    outln!(t, "| predictions | {} |", m.predictions);
    outln!(t, "| HR@{} | {:.2} % |", m.k, 100.0 * m.hit_rate);
    outln!(t, "| MRR@{} | {:.2} % |", m.k, 100.0 * m.mrr);
    outln!(t, "| NDCG@10 | {:.2} % |", 100.0 * m.ndcg10);
    outln!(t, "| coverage@{} | {:.2} % |", m.k, 100.0 * m.coverage);
    outln!(t, "| unknown items | {} |", m.unknown_items);
    outln!(t, "| predictions/s | {:.0} |", m.predictions_per_second);
    outln!(
        t,
        "| best fixed list (oracle) HR@{k} / MRR@{k} | {:.2} % / {:.2} % |",
        100.0 * m.best_fixed_list_hit_rate,
        100.0 * m.best_fixed_list_mrr,
        k = m.k
    );
    if let Some(p) = &m.privacy {
        outln!(
            t,
            "| privacy | {} mechanism, ε = {} per {}, δ = {}, unit = {} |",
            p.mechanism,
            p.epsilon,
            if p.budget_epsilon.is_some() {
                "release"
            } else {
                "release (fresh every prediction)"
            },
            p.delta,
            p.unit,
        );
        if let Some(s) = p.sigma_over_radius {
            outln!(
                t,
                "| gaussian noise | ρ = {:.4} per release, σ/R = {s:.3} |",
                p.rho
            );
        }
        if let (Some(top_m), Some(pr)) = (p.top_m, p.top_p) {
            outln!(
                t,
                "| exponential mechanism | top set m = {top_m}, P(anchor in top set) = {pr:.3} |"
            );
        }
        if let Some(b) = p.budget_epsilon {
            outln!(t, "| session budget | ε = {b} per test session |");
        }
        outln!(
            t,
            "| releases | {} fresh, {} cached, {} public |",
            p.fresh_releases,
            p.cached_releases,
            p.public_releases
        );
    }
    if let Some(b) = &m.bounds {
        outln!(
            t,
            "| public only (what is not protected) HR@{k} / MRR@{k} | {:.2} % / {:.2} % |",
            100.0 * b.public_only_hit_rate,
            100.0 * b.public_only_mrr,
            k = m.k
        );
        outln!(
            t,
            "| non-private (everything, raw) HR@{k} / MRR@{k} | {:.2} % / {:.2} % |",
            100.0 * b.non_private_hit_rate,
            100.0 * b.non_private_mrr,
            k = m.k
        );
        outln!(
            t,
            "| per-item bound: public-only HR@{} (k·e^ε) | {:.2} % |",
            b.ceiling_k,
            100.0 * b.ceiling_hit_rate
        );
    }
    t
}
