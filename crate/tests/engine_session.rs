//! The engine's signals natively: events of every type, their validation, weights and time decay,
//! the bounded log, and the stored state (export, import, typed errors).

mod shop;

use shop::*;
use vitrine::bundle::write_bundle;
use vitrine::shopper::{ShopperOptions as SessionOptions, STATE_VERSION};
use vitrine::{
    Engine, EventInput, RankOptions, RankResponse, RequestError, StateError, ValidRankOptions,
    VitrineError,
};

fn engine() -> Engine {
    not_private(shop_bundle())
}

fn engine_with(options: &str) -> Engine {
    let mut o: SessionOptions = serde_json::from_str(options).unwrap();
    o.privacy = o.privacy.or(not_private_options().privacy);
    Engine::from_bundle(vitrine::Bundle::from_bytes(shop_bundle()).unwrap(), &o).unwrap()
}

fn event(json: &str) -> EventInput {
    serde_json::from_str(json).expect("test event")
}

fn opts(e: &Engine, json: &str) -> ValidRankOptions {
    let raw: RankOptions = serde_json::from_str(json).unwrap();
    e.validate(&raw).unwrap()
}

fn top_cats(e: &mut Engine, k: usize) -> Vec<usize> {
    let o = opts(e, &format!(r#"{{"k":{k}}}"#));
    let r: RankResponse = e.recommend(&o, 0.0);
    r.iter().map(|x| cat_of(&x.id)).collect()
}

#[test]
fn every_event_type_is_tracked_with_its_details() {
    let mut e = engine();
    for json in [
        r#"{"type":"view","item":"hats-1","ts":1000,"dwellMs":12000}"#,
        r#"{"type":"click","item":"hats-2","ts":2000,"dwell":500}"#,
        r#"{"type":"add_to_cart","item":"bags-1","ts":3000,"quantity":2,"price":19.5}"#,
        r#"{"type":"remove_from_cart","item":"bags-1","ts":4000,"quantity":1}"#,
        r#"{"type":"purchase","item":"shoes-3","ts":5000,"quantity":1,"price":40}"#,
        r#"{"type":"search","query":"  red shoes  ","ts":6000}"#,
    ] {
        e.track_event(&event(json))
            .unwrap_or_else(|err| panic!("{json}: {err}"));
    }
    let s = e.session();
    assert_eq!(s.len(), 6);
    assert_eq!(s.n_searches(), 1);
    assert_eq!(s.n_item_events(), 5);
    assert_eq!(
        s.cart(6000.0),
        vec![(e.bundle().index_of("bags-1").unwrap(), 1)]
    );
    assert_eq!(
        s.purchased_items(6000.0),
        vec![e.bundle().index_of("shoes-3").unwrap()]
    );
    let state = e.export_state();
    assert!(state.contains(r#""query":"red shoes""#), "{state}");
    assert!(state.contains(r#""dwellMs":12000"#), "{state}");
    // The legacy form still works.
    e.track("view", "socks-1", 7000.0).unwrap();
    assert_eq!(e.session().len(), 7);
}

#[test]
fn a_search_is_stored_and_counted_but_does_not_change_scores() {
    let mut e = engine();
    e.track("view", "bags-1", 1.0).unwrap();
    let before = e.recommend(&opts(&e, r#"{"k":24}"#), 0.0);
    e.track_event(&event(r#"{"type":"search","query":"hats","ts":2}"#))
        .unwrap();
    let after = e.recommend(&opts(&e, r#"{"k":24}"#), 0.0);
    assert_eq!(before, after);
    assert_eq!(e.session().n_searches(), 1);
    // Searches alone leave the shelf cold.
    let mut cold = engine();
    cold.track_event(&event(r#"{"type":"search","query":"x","ts":1}"#))
        .unwrap();
    assert_eq!(top_cats(&mut cold, 3), [0, 0, 0]);
    // Long queries are truncated.
    let long = "a".repeat(500);
    cold.track_event(&event(&format!(
        r#"{{"type":"search","query":"{long}","ts":2}}"#
    )))
    .unwrap();
    assert!(!cold.export_state().contains(&"a".repeat(201)));
}

#[test]
fn invalid_events_are_typed_errors_and_change_nothing() {
    let mut e = engine();
    for (json, needle) in [
        (
            r#"{"type":"teleport","item":"hats-1","ts":1}"#,
            "unknown event type 'teleport'",
        ),
        (
            r#"{"type":"view","item":"ghost","ts":1,"dwellMs":-1}"#,
            "'dwellMs'",
        ),
        (r#"{"type":"view","ts":1}"#, "'item'"),
        (r#"{"type":"view","item":"hats-1"}"#, "'ts'"),
        (r#"{"type":"view","item":"hats-1","ts":-5}"#, "'ts'"),
        (
            r#"{"type":"view","item":"hats-1","ts":1,"dwellMs":-1}"#,
            "'dwellMs'",
        ),
        (
            r#"{"type":"add_to_cart","item":"hats-1","ts":1,"quantity":0}"#,
            "'quantity'",
        ),
        (
            r#"{"type":"add_to_cart","item":"hats-1","ts":1,"quantity":1.5}"#,
            "'quantity'",
        ),
        (
            r#"{"type":"purchase","item":"hats-1","ts":1,"price":-3}"#,
            "'price'",
        ),
        (
            r#"{"type":"view","item":"hats-1","ts":1,"query":"x"}"#,
            "'query'",
        ),
        (r#"{"type":"search","ts":1}"#, "'query'"),
        (r#"{"type":"search","query":"   ","ts":1}"#, "'query'"),
        (
            r#"{"type":"search","query":"x","item":"hats-1","ts":1}"#,
            "'item'",
        ),
        (
            r#"{"type":"search","query":"x","ts":1,"quantity":2}"#,
            "search",
        ),
    ] {
        let err = e.track_event(&event(json)).unwrap_err();
        assert!(err.to_string().contains(needle), "{json}: {err}");
    }
    assert!(matches!(
        e.track("view", "hats-1", f64::NAN),
        Err(VitrineError::Request(RequestError::InvalidEvent {
            field: "ts",
            ..
        }))
    ));
    assert!(e.session().is_empty());
    // An unknown item is kept pending (not an error), but only when the rest of the event is
    // valid: a bad field is still an error.
    assert!(e.track("view", "ghost", 1.0).is_ok());
    assert!(e.session().is_empty());
    assert_eq!(e.shopper().pending().len(), 1);
    assert!(matches!(
        e.track_event(&event(
            r#"{"type":"view","item":"ghost","ts":1,"quantity":0}"#
        )),
        Err(VitrineError::Request(RequestError::InvalidEvent {
            field: "quantity",
            ..
        }))
    ));
    assert_eq!(e.shopper().pending().len(), 1);
    // Unknown fields are rejected by the parser.
    assert!(
        serde_json::from_str::<EventInput>(r#"{"type":"view","item":"a","colour":"red"}"#).is_err()
    );
}

#[test]
fn the_log_is_bounded_by_count_and_age() {
    let mut e = engine_with(r#"{"maxEvents":3,"maxAgeS":60}"#);
    for (i, t) in [0.0, 10_000.0, 20_000.0, 30_000.0].iter().enumerate() {
        e.track("view", &id(1, i), *t).unwrap();
    }
    let items: Vec<u32> = e.session().events().map(|x| x.item).collect();
    assert_eq!(items.len(), 3, "oldest evicted");
    assert_eq!(&e.bundle().ids()[items[0] as usize], "bags-1");
    e.track("view", "hats-0", 85_000.0).unwrap();
    // bags-1 (75 s older) and bags-2 (65 s) are past 60 s: gone.
    assert_eq!(e.session().len(), 2);
    // Entries that age past maxAgeS by the request's `now` stop counting.
    let r = e.recommend(&opts(&e, r#"{"k":3,"now":200000}"#), 0.0);
    assert_eq!(
        r.iter().map(|x| cat_of(&x.id)).collect::<Vec<_>>(),
        [0, 0, 0],
        "cold again"
    );
    // Limits are validated.
    for bad in [
        r#"{"maxEvents":0}"#,
        r#"{"maxEvents":1e9}"#,
        r#"{"maxAgeS":-1}"#,
        r#"{"halfLifeS":0}"#,
        r#"{"dwellFullMs":-1}"#,
    ] {
        let o: SessionOptions = serde_json::from_str(bad).unwrap();
        assert!(
            Engine::from_bundle(vitrine::Bundle::from_bytes(shop_bundle()).unwrap(), &o).is_err(),
            "{bad}"
        );
    }
    // configure() shrinks the log.
    let mut e = engine();
    for i in 0..5 {
        e.track("view", &id(2, i), i as f64).unwrap();
    }
    e.configure(&serde_json::from_str(r#"{"maxEvents":2}"#).unwrap())
        .unwrap();
    assert_eq!(e.session().len(), 2);
    assert_eq!(e.config().max_events, 2);
}

#[test]
fn time_decay_fades_old_events_and_weights_can_be_overridden() {
    // The newest event by position is bags-1, but its timestamp is a day older than hats-1's.
    let track = |e: &mut Engine| {
        e.track("view", "hats-1", 86_400_000.0).unwrap();
        e.track("view", "bags-1", 0.0).unwrap();
    };
    let mut slow = engine_with(r#"{"halfLifeS":1e12}"#);
    track(&mut slow);
    assert_eq!(
        top_cats(&mut slow, 1),
        [1],
        "without decay, the newest position wins"
    );
    let mut fast = engine_with(r#"{"halfLifeS":3600}"#);
    track(&mut fast);
    assert_eq!(
        top_cats(&mut fast, 1),
        [2],
        "24 half-lives later bags-1 is forgotten"
    );
    let w = fast
        .session()
        .effective_weights(&fast.config().signals, 86_400_000.0);
    assert!(
        w[0].weight < 1e-6 && (w[1].weight - 0.7).abs() < 1e-6,
        "{w:?}"
    );
    // Per-type weights: views weigh nothing → the shelf is cold.
    let mut e = engine_with(r#"{"weights":{"view":0}}"#);
    e.track("view", "hats-1", 1.0).unwrap();
    assert_eq!(top_cats(&mut e, 3), [0, 0, 0]);
    e.track("click", "hats-1", 2.0).unwrap();
    assert_eq!(top_cats(&mut e, 3), [2, 2, 2]);
    // A short dwell counts less than a long one.
    let mut d = engine();
    d.track_event(&event(
        r#"{"type":"view","item":"hats-1","ts":1,"dwellMs":200}"#,
    ))
    .unwrap();
    d.track_event(&event(
        r#"{"type":"view","item":"bags-1","ts":1,"dwellMs":30000}"#,
    ))
    .unwrap();
    let w = d.session().effective_weights(&d.config().signals, 1.0);
    assert!(
        (w[0].weight - 1.0).abs() < 1e-6 && (w[1].weight - 0.2 * 0.7).abs() < 1e-6,
        "{w:?}"
    );
    // The bundle's half-life is read from its scoring parameters (malformed values: tests/bundle.rs).
    let mut parts = shop_parts();
    parts.params = Some(vitrine::bundle::ScoringParams {
        half_life_s: 60.0,
        ..Default::default()
    });
    let e = not_private(write_bundle(&parts).unwrap());
    assert_eq!(e.config().signals.half_life_s, 60.0);
}

#[test]
fn state_round_trips_and_bad_states_are_typed_errors() {
    let mut e = engine();
    e.track_event(&event(
        r#"{"type":"add_to_cart","item":"hats-1","ts":1000,"quantity":2,"price":9.5}"#,
    ))
    .unwrap();
    e.track_event(&event(r#"{"type":"search","query":"bags","ts":2000}"#))
        .unwrap();
    e.track("view", "bags-3", 3000.0).unwrap();
    let json = e.export_state();
    assert!(
        json.starts_with(&format!(
            r#"{{"format":"vitrine-session","version":{STATE_VERSION}"#
        )),
        "{json}"
    );
    let mut f = engine();
    let report = f.import_state(&json, 3000.0).unwrap();
    let restored = f.session().clone();
    assert_eq!(report.imported, 3);
    // The same entries; restored ones are the device's own record now (e tracked them).
    assert!(f.session().entries().eq(e.session().entries()));
    assert_eq!(f.export_state(), json);
    let a = e.recommend(&opts(&e, r#"{"k":5}"#), 0.0);
    assert_eq!(f.recommend(&opts(&f, r#"{"k":5}"#), 0.0), a);

    // Corrupt, foreign and too-new states: typed errors, session untouched.
    for (bad, code) in [
        ("{not json", "state_corrupt"),
        ("[]", "state_corrupt"),
        (
            r#"{"format":"vitrine-session","version":1,"events":[{"type":"view"}]}"#,
            "state_corrupt",
        ),
        (
            r#"{"format":"vitrine-session","version":1,"events":[{"type":"fly","item":"hats-1","ts":1}]}"#,
            "state_corrupt",
        ),
        (
            r#"{"format":"vitrine-session","version":1,"events":[{"type":"view","item":"hats-1","ts":-1}]}"#,
            "state_corrupt",
        ),
        (
            r#"{"format":"cart-v2","version":1,"events":[]}"#,
            "state_foreign",
        ),
        (r#"{"events":[]}"#, "state_foreign"),
        (
            r#"{"format":"vitrine-session","version":3,"events":[]}"#,
            "state_too_new",
        ),
    ] {
        let err = f.import_state(bad, 3000.0).unwrap_err();
        assert_eq!(err.code(), code, "{bad}: {err}");
        assert!(matches!(err, VitrineError::State(_)));
        assert_eq!(f.session(), &restored, "{bad}");
    }
    let err = f
        .import_state(r#"{"format":"vitrine-session","version":9}"#, 0.0)
        .unwrap_err();
    assert_eq!(
        err,
        VitrineError::State(StateError::TooNew {
            found: 9,
            supported: STATE_VERSION
        })
    );
    assert!(err.to_string().contains("start a fresh session"));

    // Items gone from the catalog are counted (and kept pending, in case a catalog update brings
    // them back); old entries expire; limits hold.
    let stale = r#"{"format":"vitrine-session","version":1,"events":[
        {"type":"view","item":"discontinued","ts":1000},
        {"type":"view","item":"hats-1","ts":1000},
        {"type":"view","item":"hats-2","ts":5000000000},
        {"type":"view","item":"hats-3","ts":5000000001},
        {"type":"view","item":"hats-4","ts":5000000002}]}"#;
    let mut g = engine_with(r#"{"maxEvents":2}"#);
    let report = g.import_state(stale, 5_000_000_002.0).unwrap();
    assert_eq!(report.unknown_items, 1);
    assert_eq!(report.expired, 1);
    assert_eq!(report.over_limit, 1);
    assert_eq!(report.imported, 2);
    // The unknown event is too old to keep (max age 30 days at that clock).
    assert_eq!(g.shopper().pending().len(), 0);
    // forget() erases everything (the privacy accountant starts over with the history).
    assert_eq!(g.forget(), 2);
    assert!(g.session().is_empty());
    assert_eq!(
        g.export_state(),
        format!(
            r#"{{"format":"vitrine-session","version":{STATE_VERSION},"events":[],"privacy":{{"accountant":{{"rhoUnits":0,"gaussianRhoUnits":0,"pureEpsilonUnits":0,"periodStartMs":null,"releases":0}}}}}}"#
        )
    );
}
