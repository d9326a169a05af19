//! The empirical privacy audit: on a small catalog, for neighbouring histories, run the release
//! and the ranking many times (through the same core functions the engine calls:
//! `privacy::release_session` then `rank::recommend_from`) and check that the frequency of every
//! observable outcome — the top-1 item, and the top-3 *set* — under one history is at most e^ε
//! times its frequency under the other, plus δ and the sampling error.
//!
//! Neighbours per the stated unit (the whole local history): one event added, one event removed,
//! a whole different history, and the empty history. A deliberately broken mechanism (ε
//! under-stated by 2×) must fail the same check, so the audit can see what it is looking for.
//!
//! Randomness: the seeded generator (the `insecure-seeded-rng-for-tests-only` feature), so the
//! test is deterministic. 10,000 runs per history for the exponential mechanism and 4,000 for the
//! Gaussian one (each of which ranks the catalog) keep it to a few seconds.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::HashMap;

use common::clustered_bundle;
use vitrine::privacy::{
    self, AnchorMechanism, Calibrated, InsecureSeededRngForTestsOnly as SeededRng, PrivacyConfig,
    PrivacyOptions, PrivacyState, ProfileBounds, Released,
};
use vitrine::rank::{recommend_from, ProfileSource};
use vitrine::session::{SignalPolicy, DEFAULT_MAX_EVENTS};
use vitrine::{Bundle, Event, EventKind, RecommendRequest, SessionLog};

/// Releases per history (the Gaussian test uses [`GAUSSIAN_RUNS`]).
const RUNS: usize = 10_000;
const GAUSSIAN_RUNS: usize = 4_000;

fn history(bundle: &Bundle, items: &[&str]) -> SessionLog {
    let mut log = SessionLog::default();
    for (t, id) in items.iter().enumerate() {
        log.push(Event {
            kind: if t % 3 == 2 {
                EventKind::AddToCart
            } else {
                EventKind::View
            },
            item: bundle.index_of(id).expect("fixture id"),
            ts_ms: 1000.0 * t as f64,
        });
    }
    log
}

fn config(mechanism: &str, epsilon: f64) -> PrivacyConfig {
    let o: PrivacyOptions = serde_json::from_str(&format!(
        r#"{{"epsilon":{epsilon},"mechanism":"{mechanism}","budget":{{"epsilon":{epsilon}}}}}"#
    ))
    .expect("options");
    o.validate().expect("valid options")
}

/// What the audit counts over `RUNS` fresh releases for one history.
#[derive(Default)]
struct Counts {
    /// The top-1 id of the shelf.
    top1: HashMap<u32, usize>,
    /// The shelf's top 3 as a set.
    top3: HashMap<Vec<u32>, usize>,
    /// The mechanism's raw output, when it is an item (the exponential mechanism's anchor).
    anchor: HashMap<u32, usize>,
    runs: usize,
}

fn outcomes(
    bundle: &Bundle,
    log: &SessionLog,
    config: &PrivacyConfig,
    mechanism: &Calibrated,
    seed: u64,
) -> Counts {
    let runs = match mechanism {
        Calibrated::Gaussian(_) => GAUSSIAN_RUNS,
        Calibrated::Anchor(_) => RUNS,
    };
    let signals = SignalPolicy::from_bundle(bundle);
    let request = RecommendRequest::new(3)
        .expect("k")
        .exclude_in_cart(false)
        .exclude_purchased(false);
    let mut rng = SeededRng::from_seed(seed);
    let mut counts = Counts::default();
    // The shelf is a deterministic function of an anchor: rank each anchor's shelf once.
    let mut shelves: HashMap<u32, Vec<u32>> = HashMap::new();
    for _ in 0..runs {
        let mut state = PrivacyState::default();
        let now = log.latest_ts_ms().unwrap_or(0.0);
        let released = privacy::release_session(
            &mut state,
            config,
            Some(mechanism),
            bundle,
            log,
            &signals,
            now,
            0.0,
            &mut rng,
        )
        .expect("release");
        let rank = |source| -> Vec<u32> {
            recommend_from(bundle, log, &request, source)
                .iter()
                .map(|s| s.index)
                .collect()
        };
        let list = match released {
            Released::Profile(p, _) => rank(ProfileSource::Released(p)),
            Released::Anchor(j, _) => {
                *counts.anchor.entry(j).or_insert(0) += 1;
                shelves
                    .entry(j)
                    .or_insert_with(|| rank(ProfileSource::Anchor(j)))
                    .clone()
            }
            other => panic!("expected a fresh release, got {other:?}"),
        };
        *counts.top1.entry(list[0]).or_insert(0) += 1;
        let mut set = list;
        set.sort_unstable();
        *counts.top3.entry(set).or_insert(0) += 1;
    }
    counts.runs = runs;
    counts
}

/// The largest lower confidence bound on `ln(P_a(o) / P_b(o))` over outcomes seen under `a`,
/// using `z` standard errors on each frequency (`δ` is added to the denominator's side).
fn max_log_ratio<K: std::hash::Hash + Eq>(
    a: &HashMap<K, usize>,
    b: &HashMap<K, usize>,
    runs: usize,
    delta: f64,
    z: f64,
) -> f64 {
    let n = runs as f64;
    let mut worst = f64::NEG_INFINITY;
    for (o, &ca) in a {
        let pa = ca as f64 / n;
        let pb = b.get(o).copied().unwrap_or(0) as f64 / n;
        let lo_a = pa - z * (pa * (1.0 - pa) / n).sqrt() - z / n;
        let hi_b = pb + z * (pb.max(1.0 / n) * (1.0 - pb) / n).sqrt() + z / n;
        if lo_a > 0.0 {
            worst = worst.max((lo_a / (hi_b + delta)).ln());
        }
    }
    worst
}

/// The point estimate of the largest ratio (to show the audit can see the mechanism's ε).
fn max_point_ratio<K: std::hash::Hash + Eq>(a: &HashMap<K, usize>, b: &HashMap<K, usize>) -> f64 {
    a.iter()
        .filter_map(|(o, &ca)| {
            let cb = b.get(o).copied().unwrap_or(0);
            (ca >= 200 && cb >= 200).then(|| (ca as f64 / cb as f64).ln())
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

struct Audit {
    bundle: Bundle,
    pairs: Vec<(&'static str, SessionLog, SessionLog)>,
}

fn audit_fixture() -> Audit {
    // 4 clusters × 4 items in 4 dimensions: histories in different clusters rank differently.
    let bundle = Bundle::from_bytes(clustered_bundle(4, 4, 4)).expect("bundle");
    let h = |items: &[&str]| history(&bundle, items);
    let pairs = vec![
        (
            "one event added",
            h(&["c1-i0", "c1-i2"]),
            h(&["c1-i0", "c1-i2", "c3-i1"]),
        ),
        (
            "one event removed",
            h(&["c2-i0", "c3-i3", "c2-i1"]),
            h(&["c2-i0", "c2-i1"]),
        ),
        (
            "whole history",
            h(&["c1-i0", "c1-i1", "c1-i3"]),
            h(&["c3-i2", "c3-i0"]),
        ),
        ("empty history", h(&["c2-i2", "c2-i3"]), h(&[])),
    ];
    Audit { bundle, pairs }
}

fn check(audit: &Audit, config: &PrivacyConfig, mechanism: &Calibrated, epsilon: f64, delta: f64) {
    for (k, (name, a, b)) in audit.pairs.iter().enumerate() {
        let seed = 1000 + k as u64;
        let ca = outcomes(&audit.bundle, a, config, mechanism, seed);
        let cb = outcomes(&audit.bundle, b, config, mechanism, seed + 100);
        for (what, r) in [
            (
                "top-1, a/b",
                max_log_ratio(&ca.top1, &cb.top1, ca.runs, delta, 4.0),
            ),
            (
                "top-1, b/a",
                max_log_ratio(&cb.top1, &ca.top1, ca.runs, delta, 4.0),
            ),
            (
                "top-3 set, a/b",
                max_log_ratio(&ca.top3, &cb.top3, ca.runs, delta, 4.0),
            ),
            (
                "top-3 set, b/a",
                max_log_ratio(&cb.top3, &ca.top3, ca.runs, delta, 4.0),
            ),
            (
                "release, a/b",
                max_log_ratio(&ca.anchor, &cb.anchor, ca.runs, delta, 4.0),
            ),
            (
                "release, b/a",
                max_log_ratio(&cb.anchor, &ca.anchor, ca.runs, delta, 4.0),
            ),
        ] {
            assert!(
                r <= epsilon,
                "{name} ({what}): ln ratio lower bound {r:.3} > ε = {epsilon}"
            );
        }
    }
}

#[test]
fn exponential_mechanism_stays_within_e_epsilon() {
    let audit = audit_fixture();
    let epsilon = 2.0;
    let config = config("exponential", epsilon);
    let bounds = ProfileBounds::of(
        &SignalPolicy::from_bundle(&audit.bundle),
        DEFAULT_MAX_EVENTS,
    );
    let mechanism = config
        .mechanism(&audit.bundle, &bounds)
        .expect("calibrated")
        .expect("private");
    check(&audit, &config, &mechanism, epsilon, 0.0);
    // The audit is tight for this mechanism: on whole-history neighbours (disjoint top sets) the
    // ratio of the released anchor's frequencies reaches e^ε (point estimate within 0.15).
    let (_, a, b) = &audit.pairs[2];
    let ca = outcomes(&audit.bundle, a, &config, &mechanism, 7);
    let cb = outcomes(&audit.bundle, b, &config, &mechanism, 8);
    let seen = max_point_ratio(&ca.anchor, &cb.anchor);
    assert!(
        seen > epsilon - 0.15,
        "the largest observed ln ratio {seen:.3} should approach ε = {epsilon}"
    );
}

#[test]
fn gaussian_mechanism_stays_within_e_epsilon_plus_delta() {
    let audit = audit_fixture();
    let (epsilon, delta) = (2.0, 1e-6);
    let config = config("gaussian", epsilon);
    let bounds = ProfileBounds::of(
        &SignalPolicy::from_bundle(&audit.bundle),
        DEFAULT_MAX_EVENTS,
    );
    let mechanism = config
        .mechanism(&audit.bundle, &bounds)
        .expect("calibrated")
        .expect("private");
    check(&audit, &config, &mechanism, epsilon, delta);
}

/// The audit catches a mechanism whose ε is under-stated: the exponential mechanism calibrated
/// for 2ε but claimed to be ε.
#[test]
fn audit_detects_an_understated_epsilon() {
    let audit = audit_fixture();
    let epsilon = 1.0;
    let config = config("exponential", 2.0 * epsilon);
    let broken = Calibrated::Anchor(
        AnchorMechanism::calibrate(audit.bundle.n_items(), 2.0 * epsilon, None)
            .expect("calibrated"),
    );
    let (_, a, b) = &audit.pairs[2];
    let ca = outcomes(&audit.bundle, a, &config, &broken, 21);
    let cb = outcomes(&audit.bundle, b, &config, &broken, 22);
    let r = max_log_ratio(&ca.top1, &cb.top1, ca.runs, 0.0, 4.0)
        .max(max_log_ratio(&cb.top1, &ca.top1, ca.runs, 0.0, 4.0));
    assert!(
        r > epsilon,
        "the audit should flag ln ratio {r:.3} > ε = {epsilon}"
    );
}
