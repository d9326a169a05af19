//! The engine's `similar` and explanations, natively: vectors and neighbour lists, explanation
//! terms that sum to the score and name the events, learned position weights and readout.

mod rank_helpers;
mod shop;

use rank_helpers::*;
use shop::*;
use vitrine::{RequestError, VitrineError};

#[test]
fn similar_uses_vectors_and_neighbour_lists() {
    let e = engine();
    let r = e.similar("bags-2", &opts(&e, r#"{"k":5}"#));
    assert_eq!(cats(&r), [1; 5], "{r:?}");
    assert!(!ids(&r).contains(&"bags-2"), "the item itself is left out");
    // shoes-0 lists hats-3 as its strongest neighbour: it comes first despite another category.
    let r = e.similar("shoes-0", &opts(&e, r#"{"k":3,"explain":true}"#));
    assert_eq!(r[0].id, "hats-3", "{r:?}");
    let why = r[0].why.as_ref().unwrap();
    assert!(why
        .contributions
        .iter()
        .any(|p| p.feature == "neighbour" && (p.value - 1.0).abs() < 0.01));
    // Without neighbour lists, pure similarity.
    let plain = not_private(plain_shop_bundle());
    let r = plain.similar("shoes-0", &opts(&plain, r#"{"k":5}"#));
    assert_eq!(cats(&r), [0; 5]);
    // Rules apply to similar too.
    let r = e.similar(
        "shoes-0",
        &opts(
            &e,
            r#"{"k":3,"filters":{"categories":["shoes"]},"exclude":["shoes-1"]}"#,
        ),
    );
    assert!(cats(&r).iter().all(|&c| c == 0) && !ids(&r).contains(&"shoes-1"));
    // An unknown item falls back to recommend, reported.
    let r = e.similar("ghost", &opts(&e, r#"{"k":3}"#));
    assert_eq!(ids(&r), ["shoes-0", "shoes-1", "shoes-2"]);
    assert_eq!(r.unknown_ids, ["ghost"]);
    assert!(
        r.warnings[0].contains("'ghost' is not in the bundle"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn explanations_sum_to_the_score_and_name_the_events() {
    let mut e = engine();
    e.track("view", "hats-1", 1_000.0).unwrap();
    e.track("add_to_cart", "bags-2", 2_000.0).unwrap();
    let r = e.recommend(&opts(
        &e,
        r#"{"k":24,"explain":true,"context":{"hour":13},"boosts":[{"items":["hats-3"],"weight":0.1}],"pins":[{"item":"shoes-4","rank":2}]}"#,
    ), 0.0);
    for x in r.iter() {
        let why = x.why.as_ref().expect("explain: true");
        let sum: f32 = why.contributions.iter().map(|p| p.value).sum();
        assert!(
            (sum - x.score).abs() < 1e-4,
            "{}: {sum} vs {}",
            x.id,
            x.score
        );
        assert!(why.personalized);
        assert_eq!(why.pinned, x.pinned);
    }
    let hats3 = r
        .iter()
        .find(|x| x.id == "hats-3")
        .unwrap()
        .why
        .clone()
        .unwrap();
    assert_eq!(hats3.events[0].item, "hats-1", "{hats3:?}");
    assert!(hats3.events[0].similarity > 0.8);
    assert!(hats3.contributions.iter().any(|p| p.feature == "boost"));
    // The events' contributions add up to the similarity part (up to int8 rounding).
    let sim = hats3
        .contributions
        .iter()
        .find(|p| p.feature == "similarity")
        .unwrap()
        .value;
    let parts: f32 = hats3.events.iter().map(|e| e.contribution).sum();
    assert!((sim - parts).abs() < 0.02, "{sim} vs {parts}");
    let socks = r
        .iter()
        .find(|x| x.id == "socks-0")
        .unwrap()
        .why
        .clone()
        .unwrap();
    assert_eq!(socks.context.len(), 1);
    assert_eq!(socks.context[0].feature, "hour=13");
    assert!(socks
        .contributions
        .iter()
        .any(|p| p.feature == "context" && p.value == 2.0));
    // explain() for one item, whether or not it is in the top k.
    let one = e.explain("socks-5", &opts(&e, r#"{"k":1}"#), 0.0).unwrap();
    assert_eq!(one.id, "socks-5");
    let sum: f32 = one.why.contributions.iter().map(|p| p.value).sum();
    assert!((sum - one.score).abs() < 1e-5);
    assert!(matches!(
        e.explain("ghost", &opts(&e, "{}"), 0.0),
        Err(VitrineError::Request(RequestError::UnknownItem(_)))
    ));
    // Cold start explains popularity only.
    e.forget();
    let one = e.explain("shoes-0", &opts(&e, "{}"), 0.0).unwrap();
    assert_eq!(one.why.contributions.len(), 1);
    assert_eq!(one.why.contributions[0].feature, "popularity");
    assert!(!one.why.personalized && one.why.events.is_empty());
}

#[test]
fn explanations_follow_learned_position_weights_and_readout() {
    let mut parts = shop_parts();
    let d = parts.dim;
    // A readout that mixes dimensions, and position weights that ignore the third-newest event.
    parts.session_readout = Some(
        (0..d * d)
            .map(|x| {
                if x % (d + 1) == 0 {
                    1.0
                } else {
                    ((x * 7) % 5) as f32 / 20.0
                }
            })
            .collect(),
    );
    parts.session_pos_weights = Some(vec![1.0, 0.5]);
    let mut e = not_private(vitrine::bundle::write_bundle(&parts).unwrap());
    e.track("view", "socks-2", 1.0).unwrap();
    e.track("view", "hats-1", 2.0).unwrap();
    e.track("click", "bags-2", 3.0).unwrap();
    let r = e.recommend(&opts(&e, r#"{"k":24,"explain":true}"#), 0.0);
    for x in r.iter() {
        let why = x.why.as_ref().unwrap();
        let sim = why
            .contributions
            .iter()
            .find(|p| p.feature == "similarity")
            .unwrap()
            .value;
        let parts: f32 = why.events.iter().map(|e| e.contribution).sum();
        assert!((sim - parts).abs() < 0.02, "{}: {sim} vs {parts}", x.id);
        assert!(
            why.events.iter().all(|e| e.item != "socks-2"),
            "weight 0 beyond position 1"
        );
    }
}
