//! `vitrine exp simulate`: simulated shoppers with a known true effect, run through the real
//! code — the manifest parser, `assign`'s hash, the device's tallies and `take_report` (the
//! report's randomization), the mergeable sums and `analyze`'s estimators — repeated `reps`
//! times. It prints the truth, the mean estimate, the bias, the coverage of the 95 % intervals,
//! their mean half-width and the rejection rate (the share of intervals that exclude 0: power
//! under an effect, the false-positive rate without one). The shoppers' behaviour is drawn from
//! [`SimulatorSeededRng`]; everything else is the production path.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use clap::ValueEnum;
use rayon::prelude::*;
use serde::Serialize;
use vitrine::experiment::assign::Enrollment;
use vitrine::experiment::device::{DeviceEvent, DeviceExperiments};
use vitrine::experiment::{team_draft, BitRandomizer, ValidExperiment, ValidManifest};

use super::analyze::{layer0, layer1, AnalysisOptions, Layer0Arm, MetricLift};
use super::sim_ope;
use super::sim_rep::{enroll, Rep};
use super::sim_rng::SimulatorSeededRng;
use super::stats::{srm_p_value, z_for};
use super::sums::ReportSums;

/// The simulated experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Layer 0: 3 % conversion, +5 % relative in the treatment; difference in means.
    ConversionLayer0,
    /// The same with CUPED on a pre-period covariate correlated ρ = 0.5 with conversion.
    ConversionCuped,
    /// The same conversion measured by layer-1 reports (randomized response, ε).
    ConversionLdp,
    /// Layer 1: shelf clicks 30 → 31.5 % (randomized response, ε).
    ShelfClickLdp,
    /// A/A on layer-0 conversion, looked at 20 times: fixed and always-valid intervals.
    AaSequential,
    /// A share of the treatment's exposure pings is lost (`--loss`, default 2 %): the
    /// sample-ratio check's power.
    Srm,
    /// Off-policy evaluation of a candidate ε from a logging ε with an exploration slice
    /// (the whole-history unit's anchor release).
    Ope,
    /// The same for the default release (`unit: 'device'`, the shelf cut), through the engine's
    /// own exploration coin, shelf-cut draw and reported probabilities.
    OpeCut,
    /// Two identical rankers interleaved (team draft): the credit must be ½.
    Interleaving,
}

/// What `simulate` needs.
#[derive(Debug, Clone, Copy)]
pub struct SimulationParams {
    pub scenario: Scenario,
    /// Shoppers per repetition (all arms together).
    pub n: usize,
    /// ε of the report (layer-1 scenarios; `None`: the scenario's default).
    pub epsilon: Option<f64>,
    pub reps: usize,
    pub seed: u64,
    /// Looks of `aa-sequential`.
    pub looks: usize,
    /// Share of the treatment's exposure pings the `srm` scenario loses.
    pub srm_loss: f64,
}

/// The result `--json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct SimulationResult {
    pub scenario: String,
    pub n: usize,
    pub reps: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    pub seed: u64,
    /// The true value of the estimand (a lift in proportion units, a share, a policy value).
    pub truth: f64,
    pub mean_estimate: f64,
    pub bias: f64,
    /// Share of repetitions whose 95 % interval holds the truth.
    pub coverage: f64,
    pub mean_half_width: f64,
    /// Share of repetitions whose interval excludes 0 (SRM: whose p-value is below 0.001;
    /// interleaving: whose credit differs from ½ at 5 %).
    pub rejection_rate: f64,
    /// The half-width the formulas predict at this n, where there is a closed form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analytic_half_width: Option<f64>,
    /// Scenario-specific figures (e.g. `sequential_rejection_rate`, `rmse_naive`).
    pub extra: BTreeMap<String, f64>,
    pub seconds: f64,
}

const BASE_CONVERSION: f64 = 0.03;
const RELATIVE_LIFT: f64 = 0.05;

fn manifest(
    metrics: &str,
    report_epsilon: f64,
    design_arms: &str,
    ope: &str,
) -> Result<ValidManifest> {
    let report = if report_epsilon > 0.0 {
        format!(r#","report":{{"epsilon":{report_epsilon}{ope}}}"#)
    } else {
        String::new()
    };
    let text = format!(
        r#"{{"format":"vitrine-experiments","version":1,"experiments":[{{"id":"sim","salt":"simulated-experiment-salt",
        "start":"2026-01-01","end":"2026-02-01",{design_arms},"metrics":[{metrics}]{report}}}]}}"#
    );
    ValidManifest::from_json(&text).map_err(|e| anyhow!("simulator manifest: {e}"))
}

const AB: &str =
    r#""arms":[{"name":"control","allocation":0.5},{"name":"treatment","allocation":0.5}]"#;

fn find_lift<'a>(lifts: &'a [MetricLift], metric: &str) -> Result<&'a MetricLift> {
    lifts
        .iter()
        .find(|l| l.metric == metric)
        .ok_or_else(|| anyhow!("no estimate for {metric} (too few shoppers?)"))
}

/// Runs the simulation.
pub fn simulate(p: &SimulationParams) -> Result<SimulationResult> {
    if p.n < 100 || p.reps == 0 {
        crate::exit::fail!(Usage, "--n must be at least 100 and --reps at least 1");
    }
    if !(0.0..1.0).contains(&p.srm_loss) {
        crate::exit::fail!(Usage, "--loss must be in [0, 1)");
    }
    let started = std::time::Instant::now();
    let epsilon = match p.scenario {
        Scenario::ConversionLdp | Scenario::Interleaving => Some(p.epsilon.unwrap_or(1.0)),
        Scenario::ShelfClickLdp => Some(p.epsilon.unwrap_or(2.0)),
        Scenario::Ope | Scenario::OpeCut => Some(p.epsilon.unwrap_or(3.0)),
        _ => None,
    };
    let z = z_for(0.95);
    let opts = AnalysisOptions {
        level: 0.95,
        sequential_tuning: None,
    };
    let n = p.n as f64;
    let (truth, analytic, exp_manifest) = match p.scenario {
        Scenario::ConversionLayer0
        | Scenario::ConversionCuped
        | Scenario::AaSequential
        | Scenario::Srm => {
            let lift = if p.scenario == Scenario::AaSequential {
                0.0
            } else {
                RELATIVE_LIFT
            };
            let (c, t) = (BASE_CONVERSION, BASE_CONVERSION * (1.0 + lift));
            let hw = z * ((c * (1.0 - c) + t * (1.0 - t)) / (n / 2.0)).sqrt();
            let kept = 1.0 - p.srm_loss;
            let truth = if p.scenario == Scenario::Srm {
                0.5 * kept / (0.5 + 0.5 * kept)
            } else {
                t - c
            };
            let hw = match p.scenario {
                Scenario::ConversionCuped => hw * (1.0 - 0.25f64).sqrt(),
                // The observed share of the treatment among the exposures that arrive.
                Scenario::Srm => {
                    z * (truth * (1.0 - truth) / (n * (1.0 - p.srm_loss / 2.0))).sqrt()
                }
                _ => hw,
            };
            (
                truth,
                Some(hw),
                manifest(r#"{"name":"conversion"}"#, 0.0, AB, "")?,
            )
        }
        Scenario::ConversionLdp | Scenario::ShelfClickLdp => {
            let e = epsilon.unwrap_or(1.0);
            let (metric, base, rel) = if p.scenario == Scenario::ConversionLdp {
                ("purchase", BASE_CONVERSION, RELATIVE_LIFT)
            } else {
                ("shelf_click", 0.30, 0.05)
            };
            let r = BitRandomizer::new(e).map_err(|x| anyhow!("{x}"))?;
            let q = r.keep_probability();
            let unit_var = |u: f64| {
                let share = (1.0 - q) + u * (2.0 * q - 1.0);
                share * (1.0 - share) * r.debias_scale().powi(2)
            };
            let t = base * (1.0 + rel);
            let hw = z * ((unit_var(base) + unit_var(t)) / (n / 2.0)).sqrt();
            let m = manifest(
                &format!(r#"{{"name":"{metric}","epsilon":{e}}}"#),
                e,
                AB,
                "",
            )?;
            (t - base, Some(hw), m)
        }
        Scenario::Ope | Scenario::OpeCut => {
            let (truth, ope) = sim_ope::setup(p.scenario == Scenario::OpeCut)?;
            let e = epsilon.unwrap_or(3.0) / 3.0;
            let metrics = format!(
                r#"{{"name":"ope_ips","epsilon":{e}}},{{"name":"ope_weight","epsilon":{e}}},{{"name":"ope_dr","epsilon":{e}}}"#
            );
            (truth, None, manifest(&metrics, 3.0 * e, AB, &ope)?)
        }
        Scenario::Interleaving => {
            let e = epsilon.unwrap_or(1.0);
            let arms =
                r#""design":"interleaving","arms":[{"name":"ranker_a"},{"name":"ranker_b"}]"#;
            let m = manifest(
                &format!(r#"{{"name":"interleaving_credit","epsilon":{e}}}"#),
                e,
                arms,
                "",
            )?;
            (0.5, None, m)
        }
    };
    let exp = exp_manifest
        .experiments()
        .first()
        .ok_or_else(|| anyhow!("simulator manifest has no experiment"))?
        .clone();
    let reps: Vec<Rep> = (0..p.reps)
        .into_par_iter()
        .map(|rep| {
            let mut rng = SimulatorSeededRng::new(p.seed, rep as u64);
            run_rep(p, &exp, &opts, &mut rng)
        })
        .collect::<Result<_>>()?;
    let k = reps.len() as f64;
    let mean_estimate = reps.iter().map(|r| r.estimate).sum::<f64>() / k;
    let coverage = reps
        .iter()
        .filter(|r| r.ci[0] <= truth && truth <= r.ci[1])
        .count() as f64
        / k;
    let mean_half_width = reps.iter().map(|r| (r.ci[1] - r.ci[0]) / 2.0).sum::<f64>() / k;
    let rejection_rate = reps.iter().filter(|r| r.rejected).count() as f64 / k;
    let mut extra: BTreeMap<String, f64> = BTreeMap::new();
    for r in &reps {
        for (name, v) in &r.extra {
            *extra.entry((*name).to_string()).or_insert(0.0) += v / k;
        }
    }
    // Root mean squared errors are averaged as squares above; take the roots.
    for (name, v) in extra.iter_mut() {
        if name.starts_with("rmse_") {
            *v = v.sqrt();
        }
    }
    extra.insert(
        "monte_carlo_se_of_mean_estimate".into(),
        (reps
            .iter()
            .map(|r| (r.estimate - mean_estimate).powi(2))
            .sum::<f64>()
            / (k - 1.0).max(1.0)
            / k)
            .sqrt(),
    );
    Ok(SimulationResult {
        scenario: p
            .scenario
            .to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default(),
        n: p.n,
        reps: p.reps,
        epsilon,
        seed: p.seed,
        truth,
        mean_estimate,
        bias: mean_estimate - truth,
        coverage,
        mean_half_width,
        rejection_rate,
        analytic_half_width: analytic,
        extra,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn run_rep(
    p: &SimulationParams,
    exp: &ValidExperiment,
    opts: &AnalysisOptions,
    rng: &mut SimulatorSeededRng,
) -> Result<Rep> {
    match p.scenario {
        Scenario::ConversionLayer0 | Scenario::ConversionCuped | Scenario::Srm => {
            layer0_rep(p, exp, opts, rng)
        }
        Scenario::AaSequential => aa_sequential_rep(p, exp, rng),
        Scenario::ConversionLdp | Scenario::ShelfClickLdp | Scenario::Interleaving => {
            ldp_rep(p, exp, opts, rng)
        }
        Scenario::Ope => sim_ope::rep(p.n, exp, opts, rng, false),
        Scenario::OpeCut => sim_ope::rep(p.n, exp, opts, rng, true),
    }
}

fn layer0_rep(
    p: &SimulationParams,
    exp: &ValidExperiment,
    opts: &AnalysisOptions,
    rng: &mut SimulatorSeededRng,
) -> Result<Rep> {
    let mut data: BTreeMap<String, Layer0Arm> = BTreeMap::new();
    let mut before_loss = [0.0f64; 2];
    for _ in 0..p.n {
        let Enrollment::Arm(a) = enroll(exp, rng)? else {
            continue;
        };
        let treated = a == 1;
        let mult = if treated { 1.0 + RELATIVE_LIFT } else { 1.0 };
        // Heterogeneous shoppers: π ~ Beta(0.03, 0.97), so a pre-period conversion x ~ Bern(π)
        // and this period's y ~ Bern(mult·π) have correlation 1/(κ + 1) = 0.5 (κ = 1).
        let (x, y) = if p.scenario == Scenario::ConversionCuped {
            let x = rng.chance(BASE_CONVERSION);
            let pi_given_x = (BASE_CONVERSION + if x { 1.0 } else { 0.0 }) / 2.0;
            (f64::from(u8::from(x)), rng.chance(mult * pi_given_x))
        } else {
            (0.0, rng.chance(mult * BASE_CONVERSION))
        };
        before_loss[a] += 1.0;
        // The srm scenario loses a share of the treatment's exposure pings.
        if p.scenario == Scenario::Srm && treated && rng.chance(p.srm_loss) {
            continue;
        }
        let value = if y { rng.uniform(20.0, 120.0) } else { 0.0 };
        let arm = data.entry(exp.arms[a].name.clone()).or_default();
        let yf = f64::from(u8::from(y));
        arm.conversion.add(yf, x);
        arm.revenue.add(value, x);
        arm.aov.add(value, yf);
    }
    let analysis = layer0(exp, &data, p.scenario == Scenario::ConversionCuped, opts);
    if p.scenario == Scenario::Srm {
        let counts: Vec<f64> = exp
            .arms
            .iter()
            .map(|a| data.get(&a.name).map_or(0.0, |m| m.conversion.n))
            .collect();
        let total = counts[0] + counts[1];
        let share = counts[1] / total;
        let half = z_for(0.95) * (share * (1.0 - share) / total).sqrt();
        let null_p = srm_p_value(&before_loss, &[0.5, 0.5]);
        return Ok(Rep {
            estimate: share,
            ci: [share - half, share + half],
            rejected: analysis.srm.p_value < super::analyze::SRM_THRESHOLD,
            extra: vec![
                (
                    "null_rejection_rate",
                    f64::from(u8::from(null_p < super::analyze::SRM_THRESHOLD)),
                ),
                ("mean_p_value", analysis.srm.p_value),
            ],
        });
    }
    let l = find_lift(&analysis.lifts, "conversion")?;
    let (headline, mut extra) = match (&l.cuped, p.scenario) {
        (Some(c), Scenario::ConversionCuped) => (
            *c,
            vec![
                ("plain_half_width", l.lift.half_width),
                (
                    "covariate_correlation",
                    analysis.covariate_correlation.unwrap_or(f64::NAN),
                ),
            ],
        ),
        _ => (l.lift, vec![]),
    };
    extra.push((
        "rmse_estimate",
        (headline.absolute - BASE_CONVERSION * RELATIVE_LIFT).powi(2),
    ));
    Ok(Rep {
        estimate: headline.absolute,
        ci: headline.ci,
        rejected: headline.ci[0] > 0.0 || headline.ci[1] < 0.0,
        extra,
    })
}

fn aa_sequential_rep(
    p: &SimulationParams,
    exp: &ValidExperiment,
    rng: &mut SimulatorSeededRng,
) -> Result<Rep> {
    let looks = p.looks.max(1);
    let opts = AnalysisOptions {
        level: 0.95,
        sequential_tuning: Some(p.n as f64),
    };
    let mut data: BTreeMap<String, Layer0Arm> = BTreeMap::new();
    let (mut seq_rejected, mut peek_rejected) = (false, false);
    let mut last = None;
    for look in 1..=looks {
        let upto = p.n * look / looks;
        let from = p.n * (look - 1) / looks;
        for _ in from..upto {
            let Enrollment::Arm(a) = enroll(exp, rng)? else {
                continue;
            };
            let y = f64::from(u8::from(rng.chance(BASE_CONVERSION)));
            let arm = data.entry(exp.arms[a].name.clone()).or_default();
            arm.conversion.add(y, 0.0);
            arm.revenue.add(y, 0.0);
        }
        let analysis = layer0(exp, &data, false, &opts);
        let l = find_lift(&analysis.lifts, "conversion")?.clone();
        let excludes = |ci: [f64; 2]| ci[0] > 0.0 || ci[1] < 0.0;
        peek_rejected |= excludes(l.lift.ci);
        seq_rejected |= l.sequential_ci.is_some_and(excludes);
        last = Some(l);
    }
    let l = last.ok_or_else(|| anyhow!("no look"))?;
    let seq = l.sequential_ci.unwrap_or(l.lift.ci);
    Ok(Rep {
        estimate: l.lift.absolute,
        ci: l.lift.ci,
        rejected: l.lift.ci[0] > 0.0 || l.lift.ci[1] < 0.0,
        extra: vec![
            (
                "sequential_rejection_rate",
                f64::from(u8::from(seq_rejected)),
            ),
            ("peeking_rejection_rate", f64::from(u8::from(peek_rejected))),
            ("sequential_final_half_width", (seq[1] - seq[0]) / 2.0),
        ],
    })
}

fn ldp_rep(
    p: &SimulationParams,
    exp: &ValidExperiment,
    opts: &AnalysisOptions,
    rng: &mut SimulatorSeededRng,
) -> Result<Rep> {
    let mut sums = ReportSums::default();
    let t0 = exp.start_ms;
    let items: Vec<u32> = (0..10).collect();
    for _ in 0..p.n {
        let enrollment = enroll(exp, rng)?;
        let label = match &enrollment {
            Enrollment::Arm(a) => exp.arms[*a].name.clone(),
            Enrollment::Interleaved => vitrine::experiment::manifest::INTERLEAVED.to_string(),
            Enrollment::NotEnrolled(_) => continue,
        };
        let mut device = DeviceExperiments::new(100.0);
        device.record_trigger(exp, &label, t0);
        let treated = matches!(enrollment, Enrollment::Arm(1));
        match p.scenario {
            Scenario::ConversionLdp => {
                let mult = if treated { 1.0 + RELATIVE_LIFT } else { 1.0 };
                if rng.chance(mult * BASE_CONVERSION) {
                    device.record(
                        exp,
                        DeviceEvent::Purchase(rng.uniform(20.0, 120.0)),
                        t0 + 1.0,
                    );
                }
            }
            Scenario::ShelfClickLdp => {
                let rate = if treated { 0.315 } else { 0.30 };
                if rng.chance(rate) {
                    device.record(exp, DeviceEvent::ShelfClick, t0 + 1.0);
                }
            }
            _ => {
                // Identical rankers: 1–3 interleaved shelves; position-biased clicks.
                for visit in 0..1 + rng.below(3) {
                    let shelf = team_draft(&items, &items, items.len(), rng)?;
                    for (pos, team) in shelf.teams.iter().enumerate() {
                        if rng.chance(0.12 * 0.75f64.powi(pos as i32)) {
                            device.record(
                                exp,
                                DeviceEvent::Interleaving(*team),
                                t0 + 1.0 + visit as f64,
                            );
                        }
                    }
                }
            }
        }
        let report = device
            .take_report(exp, exp.end_ms, rng)?
            .ok_or_else(|| anyhow!("a triggered device's report was not due"))?;
        sums.add(&report);
    }
    let analysis = layer1(exp, &sums, opts);
    if p.scenario == Scenario::Interleaving {
        let i = analysis
            .interleaving
            .ok_or_else(|| anyhow!("no interleaving estimate"))?;
        return Ok(Rep {
            estimate: i.credit.mean,
            ci: i.credit.ci,
            rejected: i.p_value < 0.05,
            extra: vec![],
        });
    }
    let metric = if p.scenario == Scenario::ConversionLdp {
        "purchase"
    } else {
        "shelf_click"
    };
    let l = find_lift(&analysis.lifts, metric)?;
    Ok(Rep {
        estimate: l.lift.absolute,
        ci: l.lift.ci,
        rejected: l.lift.ci[0] > 0.0 || l.lift.ci[1] < 0.0,
        extra: vec![],
    })
}
