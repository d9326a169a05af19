//! Text tables for `vitrine exp analyze` and `simulate` (the JSON forms are the structs).

use std::fmt::Write as _;

use serde::Serialize;

use super::analyze::{Layer0Analysis, Layer1Analysis, MeanCi, MetricLift, Srm};
use super::simulate::SimulationResult;

/// One experiment's analysis.
#[derive(Debug, Serialize)]
pub struct ExperimentReport {
    pub experiment: String,
    pub level: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer0: Option<Layer0Analysis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer1: Option<Layer1Analysis>,
}

fn ci(c: &[f64; 2]) -> String {
    format!("[{:.5}, {:.5}]", c[0], c[1])
}

fn mean(m: &MeanCi) -> String {
    format!("{:.5} {}", m.mean, ci(&m.ci))
}

fn srm_line(out: &mut String, s: &Srm) {
    let counts: Vec<String> = s
        .counts
        .iter()
        .map(|(a, n)| format!("{a} {n:.0}"))
        .collect();
    let _ = writeln!(
        out,
        "sample ratio: {} — p = {:.4}{}",
        counts.join(", "),
        s.p_value,
        if s.mismatch {
            "  ** MISMATCH: do not trust the estimates below until the cause is found **"
        } else {
            ""
        }
    );
}

fn lifts(out: &mut String, lifts: &[MetricLift]) {
    if lifts.is_empty() {
        return;
    }
    let _ = writeln!(out, "| metric | arm vs control | lift | CI | relative | relative CI | p | more |\n| --- | --- | --- | --- | --- | --- | --- | --- |");
    for l in lifts {
        let mut more = Vec::new();
        if let Some(s) = l.sequential_ci {
            more.push(format!("always-valid {}", ci(&s)));
        }
        if let Some(c) = &l.cuped {
            more.push(format!("CUPED {:+.5} {}", c.absolute, ci(&c.ci)));
        }
        if let Some(s) = l.cuped_sequential_ci {
            more.push(format!("CUPED always-valid {}", ci(&s)));
        }
        let _ = writeln!(
            out,
            "| {} | {} vs {} | {:+.5} | {} | {:+.2} % | [{:+.2}, {:+.2}] % | {:.4} | {} |",
            l.metric,
            l.arm,
            l.control,
            l.lift.absolute,
            ci(&l.lift.ci),
            100.0 * l.lift.relative,
            100.0 * l.lift.relative_ci[0],
            100.0 * l.lift.relative_ci[1],
            l.lift.p_value,
            more.join("; ")
        );
    }
}

/// The text form of one experiment's analysis.
pub fn experiment(e: &ExperimentReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# experiment {} ({:.0} % intervals)\n",
        e.experiment,
        100.0 * e.level
    );
    if let Some(l0) = &e.layer0 {
        let _ = writeln!(
            out,
            "## layer 0 (the store's orders joined with the arm label)"
        );
        srm_line(&mut out, &l0.srm);
        let _ = writeln!(out, "| arm | n | conversion | revenue / visitor | AOV | repeat purchase |\n| --- | --- | --- | --- | --- | --- |");
        for a in &l0.arms {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {} | {} | {} | {} |",
                a.arm,
                a.n,
                mean(&a.conversion),
                mean(&a.revenue_per_visitor),
                a.aov.as_ref().map_or("–".into(), mean),
                a.repeat_purchase.as_ref().map_or("–".into(), mean)
            );
        }
        if let Some(r) = l0.covariate_correlation {
            let _ = writeln!(out, "CUPED covariate: correlation with conversion {r:.3}");
        }
        lifts(&mut out, &l0.lifts);
        out.push('\n');
    }
    if let Some(l1) = &e.layer1 {
        let _ = writeln!(out, "## layer 1 (local-DP reports, debiased)");
        srm_line(&mut out, &l1.srm);
        for a in &l1.arms {
            let metrics: Vec<String> = a
                .metrics
                .iter()
                .map(|(k, m)| format!("{k} {}", mean(m)))
                .collect();
            let _ = writeln!(
                out,
                "- {} ({} reports): {}",
                a.arm,
                a.reports,
                metrics.join("; ")
            );
        }
        lifts(&mut out, &l1.lifts);
        for o in &l1.ope {
            let _ = writeln!(
                out,
                "OPE of the candidate from arm {}: IPS {}{}{}",
                o.arm,
                mean(&o.ips),
                o.snips
                    .as_ref()
                    .map_or(String::new(), |s| format!(", SNIPS {}", mean(s))),
                o.dr.as_ref()
                    .map_or(String::new(), |s| format!(", DR {}", mean(s)))
            );
        }
        if let Some(i) = &l1.interleaving {
            let _ = writeln!(
                out,
                "interleaving: {} wins {:.2} % {} of the devices' comparisons against {} (p = {:.4}; 50 % = no preference)",
                i.arms[1],
                100.0 * i.credit.mean,
                ci(&[100.0 * i.credit.ci[0], 100.0 * i.credit.ci[1]]),
                i.arms[0],
                i.p_value
            );
        }
        out.push('\n');
    }
    if e.layer0.is_none() && e.layer1.is_none() {
        let _ = writeln!(out, "(no data for this experiment)\n");
    }
    out
}

/// The text form of a simulation.
pub fn simulation(r: &SimulationResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: n = {}, {} reps{} in {:.1} s",
        r.scenario,
        r.n,
        r.reps,
        r.epsilon.map_or(String::new(), |e| format!(", ε = {e}")),
        r.seconds
    );
    let _ = writeln!(
        out,
        "truth {:.6}  mean estimate {:.6}  bias {:+.6}  coverage {:.2} %  mean half-width {:.6}{}  rejection rate {:.2} %",
        r.truth,
        r.mean_estimate,
        r.bias,
        100.0 * r.coverage,
        r.mean_half_width,
        r.analytic_half_width.map_or(String::new(), |h| format!(" (analytic {h:.6})")),
        100.0 * r.rejection_rate
    );
    for (k, v) in &r.extra {
        let _ = writeln!(out, "  {k}: {v:.6}");
    }
    out
}
