//! The default privacy unit, `device`: the page's own events ranked exactly, one release of the
//! device-only record per version of it, accounting on the engine's clock, a lifetime cap per
//! stored event, and the store's declaration that its server observed the current visit.

#![cfg(not(target_arch = "wasm32"))]

mod shop;

use shop::*;
use vitrine::privacy::ReleaseSource;
use vitrine::session::Select;
use vitrine::{Engine, RankOptions, ShopperOptions, ValidRankOptions};

fn opts(e: &Engine, json: &str) -> ValidRankOptions {
    let raw: RankOptions = serde_json::from_str(json).expect("test options");
    e.validate(&raw).expect("valid options")
}

fn engine(options: &str) -> Engine {
    let o: ShopperOptions = serde_json::from_str(options).expect("test settings");
    Engine::from_bundle(vitrine::Bundle::from_bytes(shop_bundle()).unwrap(), &o).unwrap()
}

fn shelf(e: &mut Engine, clock: f64) -> Vec<String> {
    let o = opts(e, r#"{"k":6}"#);
    e.recommend(&o, clock)
        .iter()
        .map(|r| r.id.clone())
        .collect()
}

fn releases(e: &Engine, clock: f64) -> u64 {
    e.privacy_status(clock).budget.expect("private").releases
}

const DAY: f64 = 86_400_000.0;

/// A page load restores the stored record and releases it once; the page's own events are then
/// ranked exactly, with no further release, however many there are.
#[test]
fn one_release_per_device_version_and_the_page_is_free() {
    let mut e = engine("{}");
    assert_eq!(e.privacy_status(0.0).unit, "device");
    e.track("view", "hats-1", 1_000.0).unwrap();
    shelf(&mut e, 1_000.0);
    assert_eq!(
        releases(&e, 1_000.0),
        1,
        "the first page: one release of an empty record"
    );
    for (t, item) in ["hats-2", "hats-3", "bags-1", "bags-2"].iter().enumerate() {
        e.track("view", item, 2_000.0 + t as f64).unwrap();
        let s = shelf(&mut e, 3_000.0);
        // The page's events are followed exactly: a hat or bag leads the shelf.
        assert!(
            s[0].starts_with("hats") || s[0].starts_with("bags"),
            "{s:?}"
        );
    }
    assert_eq!(releases(&e, 3_000.0), 1, "tracking spends nothing");
    // The next page load restores the record (now holding those events): one fresh release.
    let stored = e.export_state();
    let mut next = engine("{}");
    next.import_state(&stored, 10_000.0).unwrap();
    assert_eq!(releases(&next, 10_000.0), 1, "the stored accountant");
    next.track("view", "socks-1", 10_000.0).unwrap();
    shelf(&mut next, 10_000.0);
    assert_eq!(next.shopper().last_source(), Some(ReleaseSource::Fresh));
    assert_eq!(releases(&next, 10_000.0), 2);
    // Reconfiguring (even other privacy settings) makes no fresh release of the same record.
    for settings in [
        r#"{"privacy":{"epsilon":2}}"#,
        r#"{}"#,
        r#"{"privacy":{"blend":0.5}}"#,
    ] {
        next.configure(&serde_json::from_str(settings).unwrap())
            .unwrap();
        shelf(&mut next, 11_000.0);
        assert_eq!(next.shopper().last_source(), Some(ReleaseSource::Cached));
    }
    assert_eq!(releases(&next, 11_000.0), 2);
}

/// Budget periods run on the engine's clock: a request dated days ahead (`now`) changes decay but
/// opens no period; the clock's own day does.
#[test]
fn a_page_supplied_now_never_opens_a_budget_period() {
    let settings = r#"{"privacy":{"epsilon":1,"budget":{"epsilon":1,"period":86400000}}}"#;
    let mut e = engine(settings);
    e.track("view", "hats-1", 1_000.0).unwrap();
    shelf(&mut e, 1_000.0);
    assert_eq!(releases(&e, 1_000.0), 1);
    // A new stored record each time (a page load), dated far ahead by the page.
    let mut state = e.export_state();
    for day in 1..5 {
        let mut next = engine(settings);
        next.import_state(&state, 2_000.0).unwrap();
        let o = opts(
            &next,
            &format!(r#"{{"k":6,"now":{}}}"#, 2_000.0 + day as f64 * DAY),
        );
        next.recommend(&o, 2_000.0);
        assert_ne!(
            next.shopper().last_source(),
            Some(ReleaseSource::Fresh),
            "day {day}"
        );
        next.track("view", "bags-1", 2_000.0).unwrap();
        state = next.export_state();
    }
    // The engine's clock a day later: a new period, a fresh release.
    let mut later = engine(settings);
    later.import_state(&state, 1_000.0 + DAY + 1.0).unwrap();
    shelf(&mut later, 1_000.0 + DAY + 1.0);
    assert_eq!(later.shopper().last_source(), Some(ReleaseSource::Fresh));
}

/// Each stored event carries the ε of the releases that read it; at the cap it is retired from
/// every later release.
#[test]
fn stored_events_retire_at_their_lifetime_cap() {
    let settings = r#"{"privacy":{"epsilon":1,"eventCap":2,"budget":{"epsilon":8}}}"#;
    let mut e = engine(settings);
    e.track("view", "hats-1", 1_000.0).unwrap();
    shelf(&mut e, 1_000.0);
    let mut state = e.export_state();
    let device = Select::Device {
        cap_units: vitrine::privacy::accountant::units_down_of(2.0),
    };
    let mut readable = Vec::new();
    for load in 0..3 {
        let mut next = engine(settings);
        next.import_state(&state, 2_000.0 + load as f64).unwrap();
        readable.push(next.session().count(device));
        shelf(&mut next, 2_000.0 + load as f64);
        // Each page tracks something new, so the next load restores a new record.
        next.track("view", "socks-1", 2_000.0 + load as f64)
            .unwrap();
        state = next.export_state();
    }
    // hats-1 is read by the releases of loads 1 and 2 (1 ε each) and retired from load 3 on; the
    // socks-1 views join the record one load later each.
    assert_eq!(readable, [1, 2, 2]);
    assert!(state.contains(r#""dpUnits":2147483648"#), "{state}");
    // The page may not claim a lifetime spend for its own events.
    let err = e
        .track_event(
            &serde_json::from_str(r#"{"type":"view","item":"hats-2","ts":1,"dpUnits":5}"#).unwrap(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "invalid_event");
}

/// `observed: ['visit']`: restored events of the current visit (gaps of at most 30 minutes up to
/// the clock) count as the page's; older ones stay the device's.
#[test]
fn the_store_can_declare_the_visit_observed() {
    let mut e = engine(r#"{"privacy":{"epsilon":"Infinity"}}"#);
    let hour = 3_600_000.0;
    e.track("view", "hats-1", 10.0 * hour).unwrap();
    e.track("view", "bags-1", 20.0 * hour).unwrap();
    e.track("view", "bags-2", 20.0 * hour + 600_000.0).unwrap();
    let stored = e.export_state();
    let clock = 20.0 * hour + 1_200_000.0;
    let mut plain = engine("{}");
    plain.import_state(&stored, clock).unwrap();
    assert_eq!(plain.session().count(Select::Page), 0);
    let mut observed = engine(r#"{"privacy":{"observed":["visit"]}}"#);
    observed.import_state(&stored, clock).unwrap();
    assert_eq!(observed.session().count(Select::Page), 2);
}

/// Two tabs restore the same record; the second joins what the first stored before it releases,
/// so the origin's budget counts both releases once each — and a budget of one release is spent
/// once, whatever the tabs.
#[test]
fn tabs_share_one_budget_by_joining_the_stored_state() {
    let settings = r#"{"privacy":{"epsilon":1,"budget":{"epsilon":1}}}"#;
    let mut first = engine(settings);
    first.track("view", "hats-1", 1_000.0).unwrap();
    shelf(&mut first, 1_000.0);
    first.track("view", "hats-2", 1_000.0).unwrap();
    let stored = first.export_state();
    let (mut a, mut b) = (engine(settings), engine(settings));
    a.import_state(&stored, 2_000.0).unwrap();
    b.import_state(&stored, 2_000.0).unwrap();
    // The day's budget (1 ε) went to the first page: neither tab may release now.
    shelf(&mut a, 2_000.0);
    assert_eq!(a.shopper().last_source(), Some(ReleaseSource::Cached));
    // A new day: tab a releases and stores; tab b joins that before its own request.
    let day2 = 2_000.0 + DAY;
    shelf(&mut a, day2);
    assert_eq!(a.shopper().last_source(), Some(ReleaseSource::Fresh));
    b.join_stored(&vitrine::StoredState::parse(&a.export_state()).unwrap())
        .unwrap();
    shelf(&mut b, day2 + 1.0);
    assert_eq!(b.shopper().last_source(), Some(ReleaseSource::Cached));
    assert_eq!(releases(&b, day2 + 1.0), 1);
    // Without the join, b would have spent the day's budget a second time.
    let mut c = engine(settings);
    c.import_state(&stored, 2_000.0).unwrap();
    shelf(&mut c, day2 + 2.0);
    assert_eq!(c.shopper().last_source(), Some(ReleaseSource::Fresh));
}
