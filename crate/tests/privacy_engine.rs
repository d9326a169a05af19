//! The engine under the whole-history unit (`privacy.unit: 'history'`): when releases are fresh or
//! reused, what the budget does, what reads the history and what does not, and how the accountant
//! is stored. The default unit (`device`) has its own tests in `privacy_device.rs`.

#![cfg(not(target_arch = "wasm32"))]

mod shop;

use shop::*;
use vitrine::privacy::{PrivacyConfig, ReleaseSource};
use vitrine::ShopperOptions as SessionOptions;
use vitrine::{Engine, RankOptions, ValidRankOptions};

fn opts(e: &Engine, json: &str) -> ValidRankOptions {
    let raw: RankOptions = serde_json::from_str(json).expect("test options");
    e.validate(&raw).expect("valid options")
}

/// These tests run the accountant's clock at each request's `now` (the page's clock in the browser).
fn clock(o: &ValidRankOptions) -> f64 {
    o.request_time_ms().unwrap_or(0.0)
}

fn private(options: &str) -> Engine {
    let o: SessionOptions = serde_json::from_str(options).expect("test session options");
    Engine::from_bundle(vitrine::Bundle::from_bytes(shop_bundle()).unwrap(), &o).unwrap()
}

fn ids(e: &mut Engine, json: &str) -> Vec<String> {
    let o = opts(e, json);
    e.recommend(&o, clock(&o))
        .iter()
        .map(|r| r.id.clone())
        .collect()
}

fn spent(e: &Engine, now: f64) -> f64 {
    e.privacy_status(now).budget.expect("private").spent_epsilon
}

#[test]
fn the_default_engine_is_private_with_the_exponential_mechanism() {
    let e = Engine::from_bytes(shop_bundle()).unwrap();
    assert!(matches!(e.privacy(), PrivacyConfig::On(_)));
    let s = e.privacy_status(0.0);
    assert!(s.private);
    assert_eq!((s.mechanism, s.unit), ("exponential", "device"));
    assert_eq!(s.delta, Some(0.0));
    assert_eq!(s.last_source, None);
    let b = s.budget.unwrap();
    assert_eq!((b.spent_epsilon, b.releases), (0.0, 0));
    assert_eq!(
        s.releases_left,
        Some(
            (vitrine::privacy::DEFAULT_DEVICE_BUDGET_EPSILON
                / vitrine::privacy::DEFAULT_DEVICE_EPSILON) as u64
        )
    );
}

#[test]
fn one_release_per_history_version_and_the_budget_caps_them() {
    let mut e = private(
        r#"{"privacy":{"unit":"history","epsilon":2,"budget":{"epsilon":4,"period":1000000}}}"#,
    );
    e.track("view", "shoes-1", 1.0).unwrap();
    let first = ids(&mut e, r#"{"k":5,"now":10}"#);
    assert_eq!(
        e.privacy_status(10.0).last_source,
        Some(ReleaseSource::Fresh)
    );
    assert!((spent(&e, 10.0) - 2.0).abs() < 1e-6);
    // Same history: the same release, nothing spent — whatever the request's options.
    for json in [r#"{"k":5,"now":11}"#, r#"{"k":3,"now":12}"#] {
        let again = ids(&mut e, json);
        assert_eq!(
            e.privacy_status(12.0).last_source,
            Some(ReleaseSource::Cached)
        );
        assert_eq!(
            again[..again.len().min(3)],
            first[..again.len().min(3)],
            "{json}"
        );
    }
    assert!((spent(&e, 12.0) - 2.0).abs() < 1e-6);
    // A new event: a fresh release, the second and last the budget allows.
    e.track("view", "hats-2", 20.0).unwrap();
    ids(&mut e, r#"{"k":5,"now":21}"#);
    assert_eq!(
        e.privacy_status(21.0).last_source,
        Some(ReleaseSource::Fresh)
    );
    assert!((spent(&e, 21.0) - 4.0).abs() < 1e-6);
    assert_eq!(e.privacy_status(21.0).releases_left, Some(0));
    // Spent: the history keeps changing, the shelf does not (post-processing of the last
    // release), and nothing more is spent.
    let frozen = ids(&mut e, r#"{"k":5,"now":22}"#);
    for (t, item) in ["bags-0", "bags-1", "bags-2"].iter().enumerate() {
        e.track("add_to_cart", item, 30.0 + t as f64).unwrap();
        assert_eq!(ids(&mut e, r#"{"k":5,"now":40}"#), frozen);
        assert_eq!(
            e.privacy_status(40.0).last_source,
            Some(ReleaseSource::Cached)
        );
    }
    assert!((spent(&e, 40.0) - 4.0).abs() < 1e-6);
    // The next period starts with a full budget.
    ids(&mut e, r#"{"k":5,"now":1000100}"#);
    assert_eq!(
        e.privacy_status(1_000_100.0).last_source,
        Some(ReleaseSource::Fresh)
    );
    assert!((spent(&e, 1_000_100.0) - 2.0).abs() < 1e-6);
}

#[test]
fn private_requests_never_read_the_raw_history() {
    let mut e = private(r#"{"privacy":{"unit":"history","epsilon":3}}"#);
    e.track("purchase", "shoes-2", 1.0).unwrap();
    e.track("add_to_cart", "shoes-1", 2.0).unwrap();
    e.track("view", "shoes-0", 3.0).unwrap();
    // Session-based exclusions are ignored (with a warning), so seen, carted and purchased items
    // can appear; explanations list no events.
    let o = opts(
        &e,
        r#"{"k":24,"excludeSeen":true,"excludeInCart":true,"explain":true,"now":5}"#,
    );
    let r = e.recommend(&o, clock(&o));
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("excludeSeen, excludeInCart ignored")),
        "{:?}",
        r.warnings
    );
    assert_eq!(r.len(), 24);
    for item in r.iter() {
        let why = item.why.as_ref().expect("explanations");
        assert!(why.events.is_empty(), "{why:?}");
    }
    let x = e.explain("shoes-0", &o, clock(&o)).unwrap();
    assert!(x.why.events.is_empty());
    // An explicit `exclude` list is the page's own data and still applies.
    let o = opts(&e, r#"{"k":24,"exclude":["shoes-0","shoes-1"],"now":6}"#);
    let r = e.recommend(&o, clock(&o));
    assert!(r.iter().all(|x| x.id != "shoes-0" && x.id != "shoes-1"));
    // similar() reads nothing and spends nothing.
    let before = spent(&e, 7.0);
    let o = opts(&e, r#"{"k":5,"now":7}"#);
    let s = e.similar("hats-1", &o);
    assert_eq!(s.len(), 5);
    assert_eq!(spent(&e, 7.0), before);
}

#[test]
fn no_budget_and_nothing_released_gives_the_public_order() {
    let mut e = private(
        r#"{"privacy":{"unit":"history","epsilon":2,"budget":{"epsilon":2,"period":"session"}}}"#,
    );
    e.track("view", "bags-1", 1.0).unwrap();
    ids(&mut e, r#"{"k":5,"now":2}"#);
    // A stored state whose budget is spent but whose last release was lost.
    let mut state: serde_json::Value = serde_json::from_str(&e.export_state()).unwrap();
    let privacy = state["privacy"].as_object_mut().unwrap();
    assert!(privacy.remove("lastAnchor").is_some(), "{privacy:?}");
    let mut f = private(
        r#"{"privacy":{"unit":"history","epsilon":2,"budget":{"epsilon":2,"period":"session"}}}"#,
    );
    f.import_state(&state.to_string(), 3.0).unwrap();
    let public = ids(&mut f, r#"{"k":5,"now":4}"#);
    assert_eq!(
        f.privacy_status(4.0).last_source,
        Some(ReleaseSource::Public)
    );
    // The public order is the popularity prior's: the same for any history.
    let mut g = private(r#"{"privacy":{"epsilon":"Infinity"}}"#);
    assert_eq!(ids(&mut g, r#"{"k":5,"now":4}"#), public);
    // forget() erases the history and its accountant: a fresh release is allowed again.
    f.forget();
    f.track("view", "bags-2", 5.0).unwrap();
    ids(&mut f, r#"{"k":5,"now":6}"#);
    assert_eq!(
        f.privacy_status(6.0).last_source,
        Some(ReleaseSource::Fresh)
    );
}

#[test]
fn the_accountant_is_stored_with_the_session() {
    let mut e = private(
        r#"{"privacy":{"unit":"history","epsilon":1,"budget":{"epsilon":3,"period":"session"}}}"#,
    );
    e.track("view", "hats-0", 1.0).unwrap();
    let shelf = ids(&mut e, r#"{"k":5,"now":2}"#);
    let json = e.export_state();
    assert!(json.contains(r#""pureEpsilonUnits":1073741824"#), "{json}");
    assert!(json.contains(r#""lastAnchor":""#), "{json}");
    assert!(json.contains(r#""current":true"#), "{json}");
    let mut f = private(
        r#"{"privacy":{"unit":"history","epsilon":1,"budget":{"epsilon":3,"period":"session"}}}"#,
    );
    f.import_state(&json, 3.0).unwrap();
    assert!((spent(&f, 3.0) - 1.0).abs() < 1e-6);
    assert_eq!(f.privacy_status(3.0).releases_left, Some(2));
    // A reload of an unchanged history reuses the stored release: nothing is spent…
    assert_eq!(ids(&mut f, r#"{"k":5,"now":4}"#), shelf);
    assert_eq!(
        f.privacy_status(4.0).last_source,
        Some(ReleaseSource::Cached)
    );
    assert!((spent(&f, 4.0) - 1.0).abs() < 1e-6);
    // …and neither does configuring the same settings again; a new event makes a fresh one.
    f.configure(
        &serde_json::from_str(
            r#"{"privacy":{"unit":"history","epsilon":1,"budget":{"epsilon":3,"period":"session"}}}"#,
        )
        .unwrap(),
    )
    .unwrap();
    ids(&mut f, r#"{"k":5,"now":5}"#);
    assert!((spent(&f, 5.0) - 1.0).abs() < 1e-6);
    f.track("view", "hats-3", 6.0).unwrap();
    assert!(!f.export_state().contains(r#""current":true"#));
    ids(&mut f, r#"{"k":5,"now":7}"#);
    assert!((spent(&f, 7.0) - 2.0).abs() < 1e-6);
    // A version 1 state (no accountant) starts a fresh one.
    let v1 = r#"{"format":"vitrine-session","version":1,"events":[{"type":"view","item":"hats-0","ts":1}]}"#;
    let mut g = private(r#"{"privacy":{"unit":"history","epsilon":1}}"#);
    g.import_state(v1, 2.0).unwrap();
    assert_eq!(spent(&g, 2.0), 0.0);
    // A corrupt accountant is a typed error that changes nothing.
    let bad = json.replace(r#""releases":1"#, r#""releases":-1"#);
    let err = g.import_state(&bad, 2.0).unwrap_err();
    assert_eq!(err.code(), "state_corrupt", "{err}");
    assert_eq!(spent(&g, 2.0), 0.0);
}

#[test]
fn bad_privacy_options_are_typed_errors() {
    for bad in [
        r#"{"privacy":{"epsilon":0}}"#,
        r#"{"privacy":{"epsilon":2,"budget":{"epsilon":1}}}"#,
        r#"{"privacy":{"mechanism":"laplace"}}"#,
        r#"{"privacy":{"epsilon":1,"delta":0.5}}"#,
    ] {
        let o: SessionOptions = serde_json::from_str(bad).unwrap();
        let err = Engine::from_bundle(vitrine::Bundle::from_bytes(shop_bundle()).unwrap(), &o)
            .unwrap_err();
        assert_eq!(err.code(), "invalid_option", "{bad}: {err}");
    }
    let mut e = private(r#"{"privacy":{"epsilon":"Infinity"}}"#);
    assert!(!e.privacy_status(0.0).private);
    // Reconfiguring keeps what was spent.
    e.configure(&serde_json::from_str(r#"{"privacy":{"epsilon":2}}"#).unwrap())
        .unwrap();
    e.track("view", "hats-0", 1.0).unwrap();
    ids(&mut e, r#"{"k":3,"now":2}"#);
    e.configure(&serde_json::from_str(r#"{"privacy":{"epsilon":1}}"#).unwrap())
        .unwrap();
    assert!((spent(&e, 3.0) - 2.0).abs() < 1e-6);
}
