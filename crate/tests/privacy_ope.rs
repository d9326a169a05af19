//! Off-policy evaluation on the engine's own releases (the request option `ope`): the shelf-cut
//! release with an exploration slice reports the exact probabilities of what it released, under
//! the setting that ran and under a candidate ε; the draws follow those probabilities, the
//! importance weights average to 1, and the mixture stays within the charged ε.
//!
//! Randomness: the seeded generator (the `insecure-seeded-rng-for-tests-only` feature), so the
//! tests are deterministic.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::HashMap;

use common::clustered_bundle;
use vitrine::privacy::{
    InsecureSeededRngForTestsOnly as SeededRng, Propensity, ReleaseSource, ValidOpe,
};
use vitrine::{Event, EventKind, Model, RecommendRequest, Shopper, ShopperOptions};

const RUNS: usize = 20_000;

fn settings(extra: &str) -> ShopperOptions {
    serde_json::from_str(&format!(
        r#"{{"privacy":{{"epsilon":2,"budget":{{"epsilon":2}}{extra}}}}}"#
    ))
    .expect("settings")
}

/// A shopper whose device restored `device` and whose page then tracked `page`.
fn shopper(model: &Model, settings: &ShopperOptions, device: &[&str], page: &[&str]) -> Shopper {
    let row = |id: &str| model.bundle().index_of(id).expect("fixture id");
    let mut s = Shopper::new(model, settings).expect("valid settings");
    let restored: Vec<Event> = device
        .iter()
        .enumerate()
        .map(|(t, id)| Event {
            kind: EventKind::View,
            item: row(id),
            ts_ms: 1000.0 * t as f64,
        })
        .collect();
    s.restore_rows(&restored);
    for (t, id) in page.iter().enumerate() {
        s.track_row(Event {
            kind: EventKind::View,
            item: row(id),
            ts_ms: 100_000.0 + 1000.0 * t as f64,
        });
    }
    s
}

const OPE: ValidOpe = ValidOpe {
    share: 0.3,
    epsilon: 0.5,
    candidate_epsilon: 4.0,
};

fn request(ope: Option<ValidOpe>) -> RecommendRequest {
    let r = RecommendRequest::new(4).expect("k");
    match ope {
        Some(o) => r.with_ope(o),
        None => r,
    }
}

/// `RUNS` page loads of `s` (a clone each, so every shelf is a fresh release): the propensity
/// of each, and the frequency of each released left-out set.
fn draws(model: &Model, s: &Shopper, seed: u64) -> (Vec<Propensity>, HashMap<Vec<String>, usize>) {
    let mut rng = SeededRng::from_seed(seed);
    let mut props = Vec::with_capacity(RUNS);
    let mut sets = HashMap::new();
    for _ in 0..RUNS {
        let mut page = s.clone();
        let r = page.recommend(model, &request(Some(OPE)), 0.0, &mut rng);
        assert_eq!(page.last_source(), Some(ReleaseSource::Fresh));
        props.push(
            r.propensity
                .expect("a fresh release reports its probabilities"),
        );
        let left = page.privacy_snapshot(model).last_left_out.expect("a cut");
        *sets.entry(left).or_insert(0) += 1;
    }
    (props, sets)
}

/// A window of 4 of which the shelf shows 2 (so C(3, 1) = 3 sets show the key, C(3, 2) = 3 do
/// not): the key is shown as often as the reported logging probability says, and the weights
/// `candidate / logging` average to 1 (IPS of a constant reward is exact) and recover the
/// candidate's probability of showing the key.
#[test]
fn the_reported_probabilities_are_the_draws_probabilities() {
    let model = Model::from_bytes(clustered_bundle(4, 4, 4)).expect("bundle");
    let s = shopper(
        &model,
        &settings(r#","candidates":4,"topM":2"#),
        &["c0-i2", "c0-i2"],
        &["c0-i1", "c2-i3"],
    );
    let (props, sets) = draws(&model, &s, 7);
    assert_eq!(
        sets.len(),
        6,
        "every 2-of-4 set with its key rules: {sets:?}"
    );
    let n = RUNS as f64;
    let shown = props.iter().filter(|p| p.key_shown).count() as f64 / n;
    let p_shown = props.iter().find(|p| p.key_shown).expect("shown").logging * 3.0;
    let p_hidden = props.iter().find(|p| !p.key_shown).expect("hidden").logging * 3.0;
    assert!((p_shown + p_hidden - 1.0).abs() < 1e-12);
    let se = (p_shown * (1.0 - p_shown) / n).sqrt();
    assert!(
        (shown - p_shown).abs() < 4.0 * se,
        "key shown in {shown:.4} of the releases, reported {p_shown:.4}"
    );
    // The mixture: 70 % at ε = 2, 30 % at ε = 0.5, for h = 2 of W = 4 (p = h e^ε / (h e^ε + W − h)).
    let p = |eps: f64| 2.0 * eps.exp() / (2.0 * eps.exp() + 2.0);
    assert!((p_shown - (0.7 * p(2.0) + 0.3 * p(0.5))).abs() < 1e-8);
    let w: Vec<f64> = props.iter().map(|p| p.candidate / p.logging).collect();
    let mean_w = w.iter().sum::<f64>() / n;
    let sd_w = (w.iter().map(|x| (x - mean_w).powi(2)).sum::<f64>() / n).sqrt();
    assert!(
        (mean_w - 1.0).abs() < 4.0 * sd_w / n.sqrt(),
        "mean weight {mean_w:.4} (sd {sd_w:.3})"
    );
    let ips_shown = props
        .iter()
        .map(|p| f64::from(u8::from(p.key_shown)) * p.candidate / p.logging)
        .sum::<f64>()
        / n;
    let cand = props[0].candidate_key_shown;
    assert!((cand - p(4.0)).abs() < 1e-8);
    assert!(
        (ips_shown - cand).abs() < 4.0 * sd_w / n.sqrt(),
        "IPS of 'key shown' under the candidate: {ips_shown:.4} against {cand:.4}"
    );
}

/// The exploration slice draws at a lower ε with a coin independent of the device record, so the
/// releases of neighbouring records (the key in the window, and an empty record) stay within
/// e^ε of each other, as without it.
#[test]
fn the_exploration_slice_stays_within_the_charged_epsilon() {
    let model = Model::from_bytes(clustered_bundle(4, 4, 4)).expect("bundle");
    let settings = settings(r#","candidates":4,"topM":2"#);
    let page = ["c0-i1", "c2-i3"];
    let mut worst = 0.0f64;
    for x in ["c0-i0", "c0-i2", "c2-i0", "c2-i2"] {
        let (_, a) = draws(&model, &shopper(&model, &settings, &[x, x], &page), 11);
        let (_, b) = draws(&model, &shopper(&model, &settings, &[], &page), 12);
        for (set, &ca) in &a {
            let cb = b.get(set).copied().unwrap_or(0) as f64;
            let (pa, pb) = (ca as f64 / RUNS as f64, cb / RUNS as f64);
            // Lower bound on pa over upper bound on pb, 4 standard errors each.
            let lo = pa - 4.0 * (pa * (1.0 - pa) / RUNS as f64).sqrt();
            let hi = pb + 4.0 * (pb.max(1.0 / RUNS as f64) * (1.0 - pb) / RUNS as f64).sqrt();
            if lo > 0.0 {
                worst = worst.max((lo / hi).ln());
            }
        }
    }
    assert!(worst <= 2.0, "ln ratio {worst:.3} above ε = 2");
}

/// Where no exact probability exists, or the slice would spend more than the release, the option
/// is refused with a warning and nothing is reported; a reused release reports nothing either
/// (it is not a new draw).
#[test]
fn ope_is_ignored_with_a_warning_where_it_cannot_be_exact() {
    let model = Model::from_bytes(clustered_bundle(4, 4, 4)).expect("bundle");
    let mut rng = SeededRng::from_seed(3);
    let cases = [
        (r#"{"unit":"history"}"#, "shelf cut of unit 'device' only"),
        (
            r#"{"mechanism":"gaussian"}"#,
            "shelf cut of unit 'device' only",
        ),
        (r#"{"epsilon":0.25}"#, "above the release's ε"),
    ];
    for (privacy, why) in cases {
        let opts: ShopperOptions =
            serde_json::from_str(&format!(r#"{{"privacy":{privacy}}}"#)).expect("settings");
        let mut s = shopper(&model, &opts, &["c1-i1"], &["c0-i1"]);
        let r = s.recommend(&model, &request(Some(OPE)), 0.0, &mut rng);
        assert_eq!(r.propensity, None, "{privacy}");
        assert!(
            r.warnings.iter().any(|w| w.contains(why)),
            "{privacy}: {:?}",
            r.warnings
        );
    }
    let off: ShopperOptions =
        serde_json::from_str(r#"{"privacy":{"epsilon":"Infinity"}}"#).unwrap();
    let mut s = shopper(&model, &off, &["c1-i1"], &["c0-i1"]);
    let r = s.recommend(&model, &request(Some(OPE)), 0.0, &mut rng);
    assert_eq!(r.propensity, None);
    assert!(r.warnings.iter().any(|w| w.starts_with("ope ignored")));
    // The default settings: a fresh release reports, the reused one does not, and a request
    // without the option never does.
    let mut s = shopper(&model, &settings(""), &["c1-i1"], &["c0-i1"]);
    let first = s.recommend(&model, &request(Some(OPE)), 0.0, &mut rng);
    assert!(first.propensity.is_some() && first.warnings.is_empty());
    let again = s.recommend(&model, &request(Some(OPE)), 0.0, &mut rng);
    assert_eq!(s.last_source(), Some(ReleaseSource::Cached));
    assert_eq!(again.propensity, None);
    let mut s = shopper(&model, &settings(""), &["c1-i1"], &["c0-i1"]);
    assert_eq!(
        s.recommend(&model, &request(None), 0.0, &mut rng)
            .propensity,
        None
    );
}
