//! The empirical audit of the report mechanism: for neighbouring histories (any two: the unit is
//! the whole history), build the report through the device path many times — trigger, tally,
//! `take_report` — and check that every report outcome (the vector of randomized bits; the id is
//! fresh randomness and the rest is fixed by the manifest) is at most e^ε times as frequent under
//! one history as under the other, up to the sampling error. A mechanism whose values use twice
//! the claimed ε must fail the same check, so the audit can see what it looks for.
//!
//! Randomness: the seeded generator (`insecure-seeded-rng-for-tests-only`), so it is deterministic.

#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;

use vitrine::experiment::device::{DeviceEvent, DeviceExperiments};
use vitrine::experiment::{Team, ValidManifest};
use vitrine::privacy::InsecureSeededRngForTestsOnly as SeededRng;

const RUNS: usize = 40_000;

fn manifest(click_eps: f64, value_eps: f64, credit_eps: f64) -> ValidManifest {
    ValidManifest::from_json(&format!(
        r#"{{"format":"vitrine-experiments","version":1,"experiments":[
        {{"id":"ab","salt":"0123456789abcdef","start":"2026-01-01","end":"2026-02-01",
          "arms":[{{"name":"a","allocation":0.5}},{{"name":"b","allocation":0.5}}],
          "metrics":[{{"name":"shelf_click","epsilon":{click_eps}}},{{"name":"order_value","max":100,"epsilon":{value_eps}}}],
          "report":{{"epsilon":{}}}}},
        {{"id":"il","salt":"fedcba9876543210","start":"2026-01-01","end":"2026-02-01","design":"interleaving",
          "arms":[{{"name":"x"}},{{"name":"y"}}],
          "metrics":[{{"name":"interleaving_credit","epsilon":{credit_eps}}}],"report":{{"epsilon":{credit_eps}}}}}]}}"#,
        click_eps + value_eps
    ))
    .expect("manifest")
}

/// A history: what the device did during the window.
#[derive(Clone, Copy)]
struct History {
    clicks: u32,
    purchase: Option<f64>,
    credits: (u32, u32),
}

const NEIGHBOURS: [History; 4] = [
    History {
        clicks: 0,
        purchase: None,
        credits: (0, 0),
    },
    History {
        clicks: 3,
        purchase: Some(100.0),
        credits: (0, 2),
    },
    History {
        clicks: 1,
        purchase: Some(30.0),
        credits: (1, 0),
    },
    History {
        clicks: 0,
        purchase: Some(250.0),
        credits: (1, 1),
    },
];

/// Frequencies of report outcomes over `RUNS` reports of experiment `exp` for one history.
fn outcomes(m: &ValidManifest, exp: &str, h: History, seed: u64) -> BTreeMap<Vec<u8>, usize> {
    let e = m.experiment(exp).unwrap();
    let mut rng = SeededRng::from_seed(seed);
    let mut counts = BTreeMap::new();
    for _ in 0..RUNS {
        let mut d = DeviceExperiments::new(100.0);
        let t0 = e.start_ms;
        d.record_trigger(e, if exp == "il" { "interleaved" } else { "a" }, t0);
        for _ in 0..h.clicks {
            d.record(e, DeviceEvent::ShelfClick, t0 + 1.0);
        }
        if let Some(v) = h.purchase {
            d.record(e, DeviceEvent::Purchase(v), t0 + 2.0);
        }
        for _ in 0..h.credits.0 {
            d.record(e, DeviceEvent::Interleaving(Team::A), t0 + 3.0);
        }
        for _ in 0..h.credits.1 {
            d.record(e, DeviceEvent::Interleaving(Team::B), t0 + 3.0);
        }
        let r = d.take_report(e, e.end_ms, &mut rng).unwrap().expect("due");
        let key: Vec<u8> = r.values.values().copied().collect();
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// The largest lower confidence bound (4σ on each count) of `P(o | H1) / P(o | H2)` over outcomes.
fn worst_ratio_lower_bound(c1: &BTreeMap<Vec<u8>, usize>, c2: &BTreeMap<Vec<u8>, usize>) -> f64 {
    let mut worst: f64 = 0.0;
    for (o, &a) in c1 {
        let b = c2.get(o).copied().unwrap_or(0) as f64;
        let a = a as f64;
        let lower = (a - 4.0 * a.sqrt()).max(0.0) / (b + 4.0 * b.sqrt() + 1.0);
        worst = worst.max(lower);
    }
    worst
}

fn audit(m: &ValidManifest, exp: &str, claimed_epsilon: f64) -> f64 {
    let counts: Vec<_> = NEIGHBOURS
        .iter()
        .enumerate()
        .map(|(i, &h)| outcomes(m, exp, h, 100 + i as u64))
        .collect();
    let mut worst: f64 = 0.0;
    for (i, a) in counts.iter().enumerate() {
        for (j, b) in counts.iter().enumerate() {
            if i != j {
                worst = worst.max(worst_ratio_lower_bound(a, b));
            }
        }
    }
    worst / claimed_epsilon.exp()
}

#[test]
fn report_frequencies_stay_within_e_to_the_epsilon() {
    let m = manifest(1.0, 0.5, 1.0);
    let ab = audit(&m, "ab", 1.5);
    assert!(
        ab <= 1.0,
        "A/B report: worst ratio lower bound / e^ε = {ab}"
    );
    // The check is not vacuous: the extreme histories come close to e^ε.
    assert!(ab > 0.8, "{ab}");
    let il = audit(&m, "il", 1.0);
    assert!(il <= 1.0, "interleaving report: {il}");
}

#[test]
fn a_mechanism_using_twice_the_claimed_epsilon_fails_the_audit() {
    // Values randomized at ε = 2 + 1 while the experiment claims 1.5.
    let m = manifest(2.0, 1.0, 2.0);
    let ab = audit(&m, "ab", 1.5);
    assert!(ab > 1.0, "the audit should see the understated ε: {ab}");
    let il = audit(&m, "il", 1.0);
    assert!(il > 1.0, "{il}");
}
