//! The off-policy evaluation scenarios of `vitrine exp simulate` (see `simulate`): a device logs
//! each shelf's release probabilities under the setting that ran and under a candidate ε, its
//! reward, and reports the clipped OPE sums; the analysis must recover the candidate's click rate.
//!
//! - `ope`: the whole-history unit's anchor release — 50 candidate anchors, a top set of 5; the
//!   shelf runs at ε = 2 with 20 % of releases at ε = 0.5 (exploration); the candidate is ε = 4.
//!   A shelf whose anchor is in the shopper's top set is clicked with probability 0.35, else 0.05.
//! - `ope-cut`: the default release (`unit: 'device'`): the shelf cut shows 2 of a window of 6
//!   items, the device record's key with probability p(ε); the shelf runs at ε = 1 (the default
//!   ε_D) with 20 % of releases at ε = 0.25; the candidate is ε = 2. A shelf showing the key is
//!   clicked with probability 0.35, else 0.05. Each shelf goes through the engine's own code:
//!   `ValidOpe::explores` (the slice's coin), `WindowMechanism::left_out` (the draw),
//!   `ValidOpe::propensity` (what `recommend` returns) and `OpeImpression::of_release` (what the
//!   page's `Experiments` tallies).
//!
//! Both: two shelves per device; the public reward model (deliberately off) says 0.25 / 0.08;
//! weights clipped at 3.

use anyhow::{anyhow, Result};
use vitrine::experiment::assign::Enrollment;
use vitrine::experiment::device::{DeviceEvent, DeviceExperiments};
use vitrine::experiment::ope::{anchor_probability, with_exploration, OpeImpression};
use vitrine::experiment::ValidExperiment;
use vitrine::privacy::{AnchorMechanism, ValidOpe, WindowMechanism};

use super::analyze::{layer1, AnalysisOptions};
use super::sim_rep::{enroll, Rep};
use super::sim_rng::SimulatorSeededRng;
use super::sums::ReportSums;

const ITEMS: usize = 50;
const TOP: usize = 5;
const ANCHOR_LOG_EPS: f64 = 2.0;
const ANCHOR_TARGET_EPS: f64 = 4.0;
const ANCHOR_EXPLORE_EPS: f64 = 0.5;
const WINDOW: usize = 6;
const SLOTS: usize = 2;
const CUT_LOG_EPS: f64 = 1.0;
const CUT_TARGET_EPS: f64 = 2.0;
const CUT_EXPLORE_EPS: f64 = 0.25;
const SHARE: f64 = 0.2;
const CLIP: f64 = 3.0;
const REWARD_SHOWN: f64 = 0.35;
const REWARD_REST: f64 = 0.05;
const MODEL_TOP: f64 = 0.25;
const MODEL_REST: f64 = 0.08;
const SHELVES_PER_DEVICE: usize = 2;

/// The scenario's truth (the candidate's click rate) and its manifest's `report.ope` part.
pub(super) fn setup(cut: bool) -> Result<(f64, String)> {
    let (p, target, explore) = if cut {
        let m = WindowMechanism::calibrate(WINDOW, SLOTS, CUT_TARGET_EPS)?;
        (m.p(), CUT_TARGET_EPS, CUT_EXPLORE_EPS)
    } else {
        let m = AnchorMechanism::calibrate(ITEMS, ANCHOR_TARGET_EPS, Some(TOP))?;
        (m.p(), ANCHOR_TARGET_EPS, ANCHOR_EXPLORE_EPS)
    };
    let ope = format!(
        r#","ope":{{"clip":{CLIP},"candidate":{{"epsilon":{target}}},"exploration":{{"share":{SHARE},"epsilon":{explore}}},"reward_model":{{"top":{MODEL_TOP},"rest":{MODEL_REST}}}}}"#
    );
    Ok((p * REWARD_SHOWN + (1.0 - p) * REWARD_REST, ope))
}

/// One shelf: whether it showed the shopper's pick (the anchor in the top set, or the cut's
/// key) and its impression without the reward.
type Shelf = (bool, OpeImpression);

/// The anchor release of `ope`.
struct AnchorShelves {
    main: AnchorMechanism,
    explore: AnchorMechanism,
    target: AnchorMechanism,
}

impl AnchorShelves {
    fn new() -> Result<Self> {
        Ok(Self {
            main: AnchorMechanism::calibrate(ITEMS, ANCHOR_LOG_EPS, Some(TOP))?,
            explore: AnchorMechanism::calibrate(ITEMS, ANCHOR_EXPLORE_EPS, Some(TOP))?,
            target: AnchorMechanism::calibrate(ITEMS, ANCHOR_TARGET_EPS, Some(TOP))?,
        })
    }

    fn shelf(&self, set: &[u32], rng: &mut SimulatorSeededRng) -> Result<Shelf> {
        let prob = |m: &AnchorMechanism, top: bool| anchor_probability(m.p(), TOP, ITEMS, top);
        let mech = if rng.chance(SHARE) {
            &self.explore
        } else {
            &self.main
        };
        let anchor = mech.sample(set, rng)?;
        let top = set.binary_search(&anchor).is_ok();
        let imp = OpeImpression {
            logging_p: with_exploration(prob(&self.main, top), prob(&self.explore, top), SHARE),
            target_p: prob(&self.target, top),
            reward: 0.0,
            predicted: if top { MODEL_TOP } else { MODEL_REST },
            candidate_predicted: self.target.p() * MODEL_TOP + (1.0 - self.target.p()) * MODEL_REST,
        };
        Ok((top, imp))
    }
}

/// The shelf-cut release of `ope-cut`, through the engine's code.
fn cut_shelf(exp: &ValidExperiment, rng: &mut SimulatorSeededRng) -> Result<Shelf> {
    let ope = ValidOpe {
        share: SHARE,
        epsilon: CUT_EXPLORE_EPS,
        candidate_epsilon: CUT_TARGET_EPS,
    };
    let eps = if ope.explores(rng)? {
        CUT_EXPLORE_EPS
    } else {
        CUT_LOG_EPS
    };
    let key = rng.below(WINDOW);
    let left_out = WindowMechanism::calibrate(WINDOW, SLOTS, eps)?.left_out(key, rng)?;
    let shown = !left_out.contains(&key);
    let propensity = ope.propensity(WINDOW, SLOTS, CUT_LOG_EPS, shown)?;
    let settings = exp
        .ope
        .as_ref()
        .ok_or_else(|| anyhow!("the simulator's manifest has no report.ope"))?;
    let imp = OpeImpression::of_release(&propensity, 0.0, settings)
        .map_err(|e| anyhow!("the engine's propensity was refused: {e}"))?;
    Ok((shown, imp))
}

/// One repetition: `n` devices, two shelves each, one report each.
pub(super) fn rep(
    n: usize,
    exp: &ValidExperiment,
    opts: &AnalysisOptions,
    rng: &mut SimulatorSeededRng,
    cut: bool,
) -> Result<Rep> {
    let (truth, _) = setup(cut)?;
    let anchors = AnchorShelves::new()?;
    let mut sums = ReportSums::default();
    let (mut naive_sum, mut naive_n) = (0.0f64, 0.0f64);
    let t0 = exp.start_ms;
    for _ in 0..n {
        let Enrollment::Arm(a) = enroll(exp, rng)? else {
            continue;
        };
        let mut device = DeviceExperiments::new(100.0);
        device.record_trigger(exp, &exp.arms[a].name, t0);
        // The anchor scenario's shopper: a top set of 5 distinct rows of 50.
        let mut set: Vec<u32> = Vec::with_capacity(TOP);
        while !cut && set.len() < TOP {
            let r = rng.below(ITEMS) as u32;
            if !set.contains(&r) {
                set.push(r);
            }
        }
        set.sort_unstable();
        for s in 0..SHELVES_PER_DEVICE {
            let (shown, mut imp) = if cut {
                cut_shelf(exp, rng)?
            } else {
                anchors.shelf(&set, rng)?
            };
            let clicked = rng.chance(if shown { REWARD_SHOWN } else { REWARD_REST });
            imp.reward = f64::from(u8::from(clicked));
            if a == 0 {
                naive_sum += imp.reward;
                naive_n += 1.0;
            }
            device.record(exp, DeviceEvent::Ope(imp), t0 + 1.0 + s as f64);
        }
        let report = device
            .take_report(exp, exp.end_ms, rng)?
            .ok_or_else(|| anyhow!("a triggered device's report was not due"))?;
        sums.add(&report);
    }
    let analysis = layer1(exp, &sums, opts);
    let o = analysis
        .ope
        .iter()
        .find(|o| o.arm == exp.arms[0].name)
        .ok_or_else(|| anyhow!("no OPE estimate"))?;
    let dr = o.dr.ok_or_else(|| anyhow!("no DR estimate"))?;
    let snips = o.snips.ok_or_else(|| anyhow!("no SNIPS estimate"))?;
    let naive = naive_sum / naive_n.max(1.0);
    let covers = |ci: [f64; 2]| f64::from(u8::from(ci[0] <= truth && truth <= ci[1]));
    Ok(Rep {
        estimate: dr.mean,
        ci: dr.ci,
        rejected: dr.ci[0] > 0.0 || dr.ci[1] < 0.0,
        extra: vec![
            ("ips_mean", o.ips.mean),
            ("ips_coverage", covers(o.ips.ci)),
            ("snips_mean", snips.mean),
            ("snips_coverage", covers(snips.ci)),
            ("naive_mean", naive),
            ("rmse_dr", (dr.mean - truth).powi(2)),
            ("rmse_ips", (o.ips.mean - truth).powi(2)),
            ("rmse_snips", (snips.mean - truth).powi(2)),
            ("rmse_naive", (naive - truth).powi(2)),
        ],
    })
}
