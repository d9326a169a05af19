//! The empirical privacy audit: on a small catalog, for neighbouring histories, run the release
//! and the ranking many times — through the engine's one request path (`Shopper::recommend` on a
//! shared `Model`) — and check that the frequency of every observable outcome (the top-1 item, the
//! top-3 *set*, and the released anchor) under one history is at most e^ε times its frequency under
//! the other, plus δ and the sampling error.
//!
//! Neighbours per the stated unit (the whole local history): one event added, one event removed,
//! a whole different history, and the empty history. A mechanism run at 2ε must fail the check for
//! ε, so the audit can see what it is looking for.
//!
//! Randomness: the seeded generator (the `insecure-seeded-rng-for-tests-only` feature), so the
//! test is deterministic. 10,000 runs per history for the exponential mechanism and 4,000 for the
//! Gaussian one (each of which ranks the catalog) keep it to a few seconds.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::HashMap;

use common::clustered_bundle;
use vitrine::privacy::{InsecureSeededRngForTestsOnly as SeededRng, PrivacyOptions};
use vitrine::{Event, EventKind, Model, RecommendRequest, Shopper, ShopperOptions};

/// Releases per history (the Gaussian test uses [`GAUSSIAN_RUNS`]).
const RUNS: usize = 10_000;
const GAUSSIAN_RUNS: usize = 4_000;

/// Events of `items` (views, every third an add-to-cart), a second apart from `t0_ms`.
fn events(model: &Model, items: &[&str], t0_ms: f64) -> Vec<Event> {
    items
        .iter()
        .enumerate()
        .map(|(t, id)| Event {
            kind: if t % 3 == 2 {
                EventKind::AddToCart
            } else {
                EventKind::View
            },
            item: model.bundle().index_of(id).expect("fixture id"),
            ts_ms: t0_ms + 1000.0 * t as f64,
        })
        .collect()
}

/// A shopper whose device restored `device` (its stored record D) and whose page then tracked
/// `page` (P), under privacy settings.
fn shopper(model: &Model, settings: &ShopperOptions, device: &[&str], page: &[&str]) -> Shopper {
    let mut s = Shopper::new(model, settings).expect("valid settings");
    s.restore_rows(&events(model, device, 0.0));
    for e in events(model, page, 100_000.0) {
        s.track_row(e);
    }
    s
}

/// Settings for one release at `epsilon` with a budget of exactly one; `extra` is more JSON of the
/// privacy options (e.g. `"unit":"history"`).
fn settings(mechanism: &str, epsilon: f64, extra: &str) -> ShopperOptions {
    let privacy: PrivacyOptions = serde_json::from_str(&format!(
        r#"{{"epsilon":{epsilon},"mechanism":"{mechanism}","budget":{{"epsilon":{epsilon}}}{extra}}}"#
    ))
    .expect("options");
    ShopperOptions {
        privacy: Some(privacy),
        ..Default::default()
    }
}

/// What the audit counts over fresh releases for one history.
#[derive(Default)]
struct Counts {
    /// The top-1 id of the shelf.
    top1: HashMap<u32, usize>,
    /// The shelf's top 3 as a set.
    top3: HashMap<Vec<u32>, usize>,
    /// The mechanism's raw output: the exponential mechanism's anchor, or the shelf-cut
    /// mechanism's left-out items (`unit: 'device'`), as ids.
    anchor: HashMap<Vec<String>, usize>,
    runs: usize,
}

/// Each run is a new page load of the same stored history: a clone of `shopper` before any
/// release, asked for its shelf once.
fn outcomes(model: &Model, shopper: &Shopper, runs: usize, seed: u64) -> Counts {
    let request = RecommendRequest::new(3)
        .expect("k")
        .exclude_in_cart(false)
        .exclude_purchased(false);
    let mut rng = SeededRng::from_seed(seed);
    let mut counts = Counts::default();
    for _ in 0..runs {
        let mut s = shopper.clone();
        let list: Vec<u32> = s
            .recommend(model, &request, 0.0, &mut rng)
            .rows
            .iter()
            .map(|r| r.index)
            .collect();
        assert_eq!(
            s.last_source(),
            Some(vitrine::privacy::ReleaseSource::Fresh),
            "every run must be a fresh release"
        );
        let snapshot = s.privacy_snapshot(model);
        if let Some(release) = snapshot
            .last_anchor
            .map(|a| vec![a])
            .or(snapshot.last_left_out)
        {
            *counts.anchor.entry(release).or_insert(0) += 1;
        }
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

/// A neighbouring pair: its name and the two histories.
type Pair = (&'static str, Vec<&'static str>, Vec<&'static str>);

struct Audit {
    model: Model,
    pairs: Vec<Pair>,
    /// What the page tracked, the same under both neighbours (the condition of the `device`
    /// unit's guarantee; empty for the whole-history unit, whose neighbours differ anywhere).
    page: Vec<&'static str>,
}

fn audit_fixture() -> Audit {
    // 4 clusters × 4 items in 4 dimensions: histories in different clusters rank differently.
    let model = Model::from_bytes(clustered_bundle(4, 4, 4)).expect("bundle");
    let pairs = vec![
        (
            "one event added",
            vec!["c1-i0", "c1-i2"],
            vec!["c1-i0", "c1-i2", "c3-i1"],
        ),
        (
            "one event removed",
            vec!["c2-i0", "c3-i3", "c2-i1"],
            vec!["c2-i0", "c2-i1"],
        ),
        (
            "whole history",
            vec!["c1-i0", "c1-i1", "c1-i3"],
            vec!["c3-i2", "c3-i0"],
        ),
        ("empty history", vec!["c2-i2", "c2-i3"], vec![]),
    ];
    Audit {
        model,
        pairs,
        page: Vec::new(),
    }
}

/// The neighbouring shoppers of pair `k` under `settings`.
fn pair(audit: &Audit, k: usize, settings: &ShopperOptions) -> (Shopper, Shopper) {
    let (_, a, b) = &audit.pairs[k];
    (
        shopper(&audit.model, settings, a, &audit.page),
        shopper(&audit.model, settings, b, &audit.page),
    )
}

fn check(audit: &Audit, settings: &ShopperOptions, runs: usize, epsilon: f64, delta: f64) {
    for (k, (name, _, _)) in audit.pairs.iter().enumerate() {
        let seed = 1000 + k as u64;
        let (a, b) = pair(audit, k, settings);
        let ca = outcomes(&audit.model, &a, runs, seed);
        let cb = outcomes(&audit.model, &b, runs, seed + 100);
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
    let settings = settings("exponential", epsilon, r#","unit":"history""#);
    check(&audit, &settings, RUNS, epsilon, 0.0);
    // The audit is tight for this mechanism: on whole-history neighbours (disjoint top sets) the
    // ratio of the released anchor's frequencies reaches e^ε (point estimate within 0.15).
    let (a, b) = pair(&audit, 2, &settings);
    let ca = outcomes(&audit.model, &a, RUNS, 7);
    let cb = outcomes(&audit.model, &b, RUNS, 8);
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
    check(
        &audit,
        &settings("gaussian", epsilon, r#","unit":"history""#),
        GAUSSIAN_RUNS,
        epsilon,
        delta,
    );
}

/// The audit catches a mechanism whose ε is under-stated: the exponential mechanism run at 2ε
/// but checked against ε.
#[test]
fn audit_detects_an_understated_epsilon() {
    let audit = audit_fixture();
    let epsilon = 1.0;
    let (a, b) = pair(
        &audit,
        2,
        &settings("exponential", 2.0 * epsilon, r#","unit":"history""#),
    );
    let ca = outcomes(&audit.model, &a, RUNS, 21);
    let cb = outcomes(&audit.model, &b, RUNS, 22);
    let r = max_log_ratio(&ca.top1, &cb.top1, ca.runs, 0.0, 4.0)
        .max(max_log_ratio(&cb.top1, &ca.top1, ca.runs, 0.0, 4.0));
    assert!(
        r > epsilon,
        "the audit should flag ln ratio {r:.3} > ε = {epsilon}"
    );
}

/// The default unit's guarantee is conditional: for what the page tracked held fixed, any two
/// device-only records give every output — the shelf, its top 3, the released anchor — within
/// e^ε. The page's events are ranked exactly, so they are a fixed part of every output here.
#[test]
fn device_unit_is_private_for_the_device_record_given_the_page() {
    let mut audit = audit_fixture();
    audit.page = vec!["c0-i1", "c2-i3"];
    let epsilon = 2.0;
    // The default shelf-cut mechanism (a window of 3, of which the shelf shows 1: its last item).
    let exp = settings("exponential", epsilon, "");
    check(&audit, &exp, RUNS, epsilon, 0.0);
    // Tight: on whole-record neighbours (different keys) the release's frequencies differ by
    // about e^ε (a window of 4 of which 2 are shown, so every outcome is frequent).
    let small = settings("exponential", epsilon, r#","candidates":4,"topM":2"#);
    check(&audit, &small, RUNS, epsilon, 0.0);
    // The key is a window item of the record: try each item of the page's clusters as a
    // one-item record against the empty one, until one lands in the window (not first in it).
    let mut seen = f64::NEG_INFINITY;
    for x in ["c0-i0", "c0-i2", "c0-i3", "c2-i0", "c2-i1", "c2-i2"] {
        let a = shopper(&audit.model, &small, &[x, x], &audit.page);
        let b = shopper(&audit.model, &small, &[], &audit.page);
        let ca = outcomes(&audit.model, &a, RUNS, 31);
        let cb = outcomes(&audit.model, &b, RUNS, 32);
        seen = seen.max(max_point_ratio(&ca.anchor, &cb.anchor));
        if seen > epsilon - 0.2 {
            break;
        }
    }
    assert!(
        seen > epsilon - 0.2,
        "the largest observed ln ratio {seen:.3} should approach ε = {epsilon}"
    );
    check(
        &audit,
        &settings("gaussian", epsilon, r#","blend":1"#),
        GAUSSIAN_RUNS,
        epsilon,
        1e-6,
    );
}

/// Under the device unit the page's own events are not noised: the shelf is the exact ranking of
/// the page's events (the same as without privacy) down to its cut (k − topM items), and below it
/// topM items of the next `candidates` of that ranking, which the release chooses — even with an
/// empty device record (skipping the release then would tell the page the record is empty).
#[test]
fn device_unit_ranks_the_page_exactly() {
    let audit = audit_fixture();
    let private = shopper(
        &audit.model,
        &settings("exponential", 1.0, r#","candidates":8,"topM":4"#),
        &[],
        &["c3-i0", "c3-i2"],
    );
    let open: ShopperOptions =
        serde_json::from_str(r#"{"privacy":{"epsilon":"Infinity"}}"#).expect("options");
    let raw = shopper(&audit.model, &open, &[], &["c3-i0", "c3-i2"]);
    // k = 6 with a window of 8, of which 4 are shown: the first 2 are exact.
    let request = RecommendRequest::new(6).expect("k");
    let wide = RecommendRequest::new(10).expect("k");
    let mut rng = SeededRng::from_seed(3);
    let mut shelves = std::collections::HashSet::new();
    for _ in 0..50 {
        let (mut p, mut r) = (private.clone(), raw.clone());
        let a = p.recommend(&audit.model, &request, 0.0, &mut rng);
        let b = r.recommend(&audit.model, &wide, 0.0, &mut rng);
        assert_eq!(a.rows.len(), 6);
        assert_eq!(a.rows[..2], b.rows[..2]);
        let window: Vec<u32> = b.rows[2..].iter().map(|r| r.index).collect();
        assert!(a.rows[2..].iter().all(|r| window.contains(&r.index)));
        // Below the cut the page's order is kept.
        let pos: Vec<usize> = a.rows[2..]
            .iter()
            .filter_map(|r| window.iter().position(|&w| w == r.index))
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{pos:?}");
        shelves.insert(a.rows.iter().map(|r| r.index).collect::<Vec<_>>());
        assert_eq!(p.privacy_status(0.0).budget.expect("private").releases, 1);
    }
    assert!(shelves.len() > 1, "the cut is a random release");
}

/// `refresh: 'record'` (default) releases once per device record; `refresh: 'page'` again after
/// each page event, within the budget. The release survives a snapshot round trip.
#[test]
fn device_unit_refreshes_per_record_or_per_page_event() {
    let audit = audit_fixture();
    let request = RecommendRequest::new(6).expect("k");
    let mut rng = SeededRng::from_seed(4);
    let t = |s: &mut Shopper, id: &str, ts: f64| {
        let ev = events(&audit.model, &[id], ts);
        s.track_row(ev[0]);
    };
    for (refresh, expect) in [("record", 1), ("page", 3)] {
        let privacy: PrivacyOptions = serde_json::from_str(&format!(
            r#"{{"epsilon":1,"refresh":"{refresh}","budget":{{"epsilon":8}},"candidates":8,"topM":4}}"#
        ))
        .expect("options");
        let opts = ShopperOptions {
            privacy: Some(privacy),
            ..Default::default()
        };
        let mut s = shopper(
            &audit.model,
            &opts,
            &["c1-i0", "c1-i1", "c1-i1"],
            &["c0-i0"],
        );
        s.recommend(&audit.model, &request, 0.0, &mut rng);
        t(&mut s, "c0-i1", 10_000.0);
        s.recommend(&audit.model, &request, 0.0, &mut rng);
        t(&mut s, "c0-i2", 11_000.0);
        s.recommend(&audit.model, &request, 0.0, &mut rng);
        let status = s.privacy_status(0.0).budget.expect("private");
        assert_eq!(status.releases, expect, "{refresh}");
        let snap = s.privacy_snapshot(&audit.model);
        let left_out = snap.last_left_out.clone().expect("a cut was released");
        assert_eq!(left_out.len(), 4, "8 window items, 4 shown");
        let json = serde_json::to_string(&snap).expect("json");
        assert!(json.contains("lastLeftOut"), "{json}");
    }
    let bad = serde_json::from_str::<PrivacyOptions>(r#"{"refresh":"sometimes"}"#)
        .expect("parses")
        .validate();
    assert!(bad.is_err());
    let history = serde_json::from_str::<PrivacyOptions>(r#"{"unit":"history","refresh":"page"}"#)
        .expect("parses")
        .validate();
    assert!(history.is_err());
}
