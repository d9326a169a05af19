//! The engine's requests natively: recommend and rerank with every option (context, filters,
//! exclusions, boosts, pins, diversity), with their policies. `similar` and explanations:
//! `engine_explain.rs`.

mod rank_helpers;
mod shop;

use proptest::prelude::*;
use rank_helpers::*;
use shop::*;
use vitrine::{Engine, RankOptions, RankResponse, ValidRankOptions};

#[test]
fn cold_start_is_popularity_with_ranks_and_default_k() {
    let mut e = engine();
    let r = e.recommend(&opts(&e, "{}"), 0.0);
    assert_eq!(r.len(), 10, "default k");
    assert_eq!(&ids(&r)[..3], ["shoes-0", "shoes-1", "shoes-2"]);
    assert_eq!(
        r.iter().map(|x| x.rank).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<u32>>()
    );
    assert!(r.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(r.unknown_ids.is_empty() && r.warnings.is_empty());
    assert!(r.iter().all(|x| !x.pinned && !x.boosted && x.why.is_none()));
}

#[test]
fn session_personalizes_and_k_is_validated() {
    let mut e = engine();
    e.track("click", "hats-1", 1_000.0).unwrap();
    e.track("view", "hats-2", 2_000.0).unwrap();
    let r = e.recommend(&opts(&e, r#"{"k":4}"#), 0.0);
    assert_eq!(cats(&r), [2, 2, 2, 2]);
    for bad in [
        r#"{"k":0}"#,
        r#"{"k":10001}"#,
        r#"{"k":2.5}"#,
        r#"{"k":-1}"#,
    ] {
        assert!(opts_err(&e, bad).contains("'k'"), "{bad}");
    }
    // Unknown option names are errors, not silently ignored.
    let err = serde_json::from_str::<RankOptions>(r#"{"kk":3}"#).unwrap_err();
    assert!(err.to_string().contains("kk"), "{err}");
}

#[test]
fn context_shapes_cold_start_through_the_bundle_weights() {
    let mut e = engine();
    // hour=13 lifts socks by 2: more than any popularity difference.
    let r = e.recommend(&opts(&e, r#"{"k":3,"context":{"hour":13}}"#), 0.0);
    assert_eq!(cats(&r), [3, 3, 3], "{r:?}");
    let r = e.recommend(&opts(&e, r#"{"k":3,"context":{"device":"mobile"}}"#), 0.0);
    assert_eq!(cats(&r), [2, 2, 2]);
    let r = e.recommend(
        &opts(&e, r#"{"k":3,"context":{"custom":{"segment":"vip"}}}"#),
        0.0,
    );
    assert_eq!(cats(&r), [1, 1, 1]);
    // Features the bundle has no weights for, and weight-0 features, change nothing.
    let base = e.recommend(&opts(&e, r#"{"k":5}"#), 0.0);
    for ctx in [
        r#"{"hour":9}"#,
        r#"{"weekday":6}"#,
        r#"{"locale":"fr-FR","weather":"rain","channel":"email"}"#,
    ] {
        let r = e.recommend(&opts(&e, &format!(r#"{{"k":5,"context":{ctx}}}"#)), 0.0);
        assert_eq!(ids(&r), ids(&base), "{ctx}");
        assert_eq!(
            r.iter().map(|x| x.score).collect::<Vec<_>>(),
            base.iter().map(|x| x.score).collect::<Vec<_>>()
        );
    }
    // Unknown keys are ignored and reported.
    let r = e.recommend(
        &opts(&e, r#"{"k":5,"context":{"mood":"sunny","hour":9}}"#),
        0.0,
    );
    assert_eq!(ids(&r), ids(&base));
    assert_eq!(
        r.warnings,
        ["context key 'mood' ignored (not a context key)"]
    );
    // Malformed values are errors.
    for (ctx, key) in [
        (r#"{"hour":25}"#, "'hour'"),
        (r#"{"weekday":"x"}"#, "'weekday'"),
        (r#"{"device":"fridge"}"#, "'device'"),
    ] {
        let err = opts_err(&e, &format!(r#"{{"context":{ctx}}}"#));
        assert!(
            err.contains(key) && err.contains("invalid context"),
            "{err}"
        );
    }
    // A bundle without context weights ignores context.
    let mut plain = not_private(plain_shop_bundle());
    let a = plain.recommend(&opts(&plain, r#"{"k":5,"context":{"hour":13}}"#), 0.0);
    let b = plain.recommend(&opts(&plain, r#"{"k":5}"#), 0.0);
    assert_eq!(a, b);
    assert!(plain.context_features().is_empty());
    assert_eq!(e.context_features().len(), CTX_FEATURES.len());
}

#[test]
fn context_also_shapes_a_personal_session() {
    let mut e = engine();
    e.track("view", "shoes-3", 1.0).unwrap();
    let plain = e.recommend(&opts(&e, r#"{"k":24}"#), 0.0);
    let ctx = e.recommend(&opts(&e, r#"{"k":24,"context":{"hour":13}}"#), 0.0);
    for x in ctx.iter() {
        let before = plain.iter().find(|y| y.id == x.id).unwrap().score;
        let lift = if x.id.starts_with("socks") && x.id != "socks-5" {
            2.0
        } else {
            0.0
        };
        assert!(
            (x.score - before - lift).abs() < 1e-5,
            "{}: {before} → {}",
            x.id,
            x.score
        );
    }
}

#[test]
fn filters_by_category_price_allow_and_deny() {
    let mut e = engine();
    let r = e.recommend(
        &opts(&e, r#"{"k":24,"filters":{"categories":["bags","socks"]}}"#),
        0.0,
    );
    assert_eq!(r.len(), PER + PER - 1, "socks-5 has no category");
    assert!(cats(&r).iter().all(|&c| c == 1 || c == 3));
    let r = e.recommend(
        &opts(&e, r#"{"k":24,"filters":{"excludeCategories":["shoes"]}}"#),
        0.0,
    );
    assert_eq!(r.len(), 3 * PER);
    assert!(r.iter().all(|x| !x.id.starts_with("shoes")));
    // Price range, inclusive; items without a known price fail it.
    let r = e.recommend(
        &opts(&e, r#"{"k":24,"filters":{"priceMin":20,"priceMax":30}}"#),
        0.0,
    );
    assert_eq!(r.len(), 8);
    assert!(r
        .iter()
        .all(|x| x.id.ends_with("-1") || x.id.ends_with("-2")));
    let r = e.recommend(&opts(&e, r#"{"k":24,"filters":{"priceMin":55}}"#), 0.0);
    assert_eq!(
        ids(&r),
        ["shoes-5", "hats-5", "socks-5"],
        "bags-5 has no price"
    );
    // Allow and deny lists.
    let r = e.recommend(&opts(
        &e,
        r#"{"k":24,"filters":{"allow":["hats-0","socks-2","bags-4","ghost"],"deny":["socks-2"]}}"#,
    ), 0.0);
    assert_eq!(ids(&r), ["bags-4", "hats-0"]);
    assert_eq!(r.unknown_ids, ["ghost"]);
    // Everything together.
    let r = e.recommend(
        &opts(
            &e,
            r#"{"k":24,"filters":{"categories":["hats"],"priceMax":30,"deny":["hats-0"]}}"#,
        ),
        0.0,
    );
    assert_eq!(ids(&r), ["hats-1", "hats-2"]);
    // Unknown category names are reported; bad indices and ranges are errors.
    let r = e.recommend(
        &opts(&e, r#"{"filters":{"categories":["hats","gloves"]}}"#),
        0.0,
    );
    assert_eq!(cats(&r), [2; PER]);
    assert_eq!(
        r.warnings,
        ["filters.categories: category 'gloves' is not in this bundle"]
    );
    let err = serde_json::from_str::<RankOptions>(r#"{"filters":{"categories":[9]}}"#);
    assert!(err.is_err(), "categories are names");
    assert!(opts_err(&e, r#"{"filters":{"priceMin":30,"priceMax":20}}"#).contains("priceMin"));
    // A bundle without categories or prices rejects those filters.
    let plain = not_private(plain_shop_bundle());
    assert!(
        opts_err(&plain, r#"{"filters":{"categories":["hats"]}}"#).contains("no item categories")
    );
    assert!(opts_err(&plain, r#"{"filters":{"priceMax":10}}"#).contains("no item prices"));
    assert!(
        opts_err(&plain, r#"{"diversity":{"maxPerCategory":1}}"#).contains("no item categories")
    );
}

#[test]
fn exclusions_seen_purchased_in_cart_and_exclude_list() {
    let mut e = engine();
    e.track("view", "shoes-0", 1.0).unwrap();
    e.track("add_to_cart", "shoes-1", 2.0).unwrap();
    e.track("purchase", "shoes-2", 3.0).unwrap();
    let all = |e: &mut Engine, json: &str| -> Vec<String> {
        let o = opts(e, json);
        e.recommend(&o, 0.0).iter().map(|x| x.id.clone()).collect()
    };
    let has = |v: &[String], id: &str| v.iter().any(|x| x == id);
    // Defaults: purchased and in-cart out, seen in.
    let r = all(&mut e, r#"{"k":24}"#);
    assert!(has(&r, "shoes-0") && !has(&r, "shoes-1") && !has(&r, "shoes-2"));
    let r = all(
        &mut e,
        r#"{"k":24,"excludePurchased":false,"excludeInCart":false}"#,
    );
    assert!(has(&r, "shoes-1") && has(&r, "shoes-2") && r.len() == 24);
    let r = all(
        &mut e,
        r#"{"k":24,"excludeSeen":true,"excludePurchased":false,"excludeInCart":false}"#,
    );
    assert!(!has(&r, "shoes-0") && !has(&r, "shoes-1") && !has(&r, "shoes-2"));
    let r = all(&mut e, r#"{"k":24,"exclude":["hats-0","bags-1","nope"]}"#);
    assert!(!has(&r, "hats-0") && !has(&r, "bags-1"));
    let resp = e.recommend(
        &opts(&e, r#"{"k":24,"exclude":["hats-0","nope","nope"]}"#),
        0.0,
    );
    assert_eq!(resp.unknown_ids, ["nope"]);
    // Removing from the cart brings the item back.
    e.track("remove_from_cart", "shoes-1", 4.0).unwrap();
    assert!(has(&all(&mut e, r#"{"k":24}"#), "shoes-1"));
}

#[test]
fn boosts_are_additive_by_item_and_category() {
    let mut e = engine();
    let base = e.recommend(&opts(&e, r#"{"k":24}"#), 0.0);
    let score = |r: &RankResponse, id: &str| r.iter().find(|x| x.id == id).unwrap().score;
    let r = e.recommend(&opts(
        &e,
        r#"{"k":24,"boosts":[{"items":["socks-4","ghost"],"weight":0.5},{"categories":["socks"],"weight":0.25},{"items":["shoes-0"],"weight":-1}]}"#,
    ), 0.0);
    assert!((score(&r, "socks-4") - score(&base, "socks-4") - 0.75).abs() < 1e-6);
    assert!((score(&r, "socks-1") - score(&base, "socks-1") - 0.25).abs() < 1e-6);
    assert!(
        (score(&r, "socks-5") - score(&base, "socks-5")).abs() < 1e-6,
        "no category"
    );
    assert!((score(&r, "shoes-0") - score(&base, "shoes-0") + 1.0).abs() < 1e-6);
    assert!((score(&r, "hats-0") - score(&base, "hats-0")).abs() < 1e-6);
    assert_eq!(r[0].id, "socks-4", "{r:?}");
    assert!(r[0].boosted);
    assert!(r.iter().find(|x| x.id == "shoes-0").unwrap().boosted);
    assert!(!r.iter().find(|x| x.id == "hats-0").unwrap().boosted);
    assert_eq!(r.unknown_ids, ["ghost"]);
    assert_eq!(r.iter().last().unwrap().id, "shoes-0", "buried");
    assert!(opts_err(&e, r#"{"boosts":[{"weight":1}]}"#).contains("items or categories"));
    let err = serde_json::from_str::<RankOptions>(r#"{"boosts":[{"items":["a"]}]}"#).unwrap_err();
    assert!(err.to_string().contains("weight"), "{err}");
}

#[test]
fn pins_take_their_slots_after_filters_and_before_session_rules() {
    let mut e = engine();
    e.track("purchase", "socks-3", 1.0).unwrap();
    let r = e.recommend(
        &opts(
            &e,
            r#"{"k":5,"pins":[{"item":"socks-3","rank":1},{"item":"hats-4","rank":3}]}"#,
        ),
        0.0,
    );
    assert_eq!(r[0].id, "socks-3", "a pin beats excludePurchased");
    assert_eq!(r[2].id, "hats-4");
    assert!(r[0].pinned && r[2].pinned && !r[1].pinned);
    assert_eq!(r.len(), 5);
    assert_eq!(
        ids(&r).iter().filter(|i| **i == "hats-4").count(),
        1,
        "no duplicate"
    );
    // Filters and the exclude list beat pins (with a warning).
    let r = e.recommend(
        &opts(
            &e,
            r#"{"k":5,"filters":{"categories":["shoes"]},"pins":[{"item":"hats-4","rank":1}]}"#,
        ),
        0.0,
    );
    assert!(cats(&r).iter().all(|&c| c == 0));
    assert_eq!(
        r.warnings,
        ["pin 'hats-4' dropped: the filters or the exclude list leave it out"]
    );
    let r = e.recommend(
        &opts(
            &e,
            r#"{"k":5,"exclude":["hats-4"],"pins":[{"id":"hats-4","rank":2}]}"#,
        ),
        0.0,
    );
    assert!(!ids(&r).contains(&"hats-4"));
    // Pins beyond the available results move up.
    let r = e.recommend(&opts(
        &e,
        r#"{"k":10,"filters":{"allow":["shoes-1","bags-1","hats-1"]},"pins":[{"item":"hats-1","rank":9}]}"#,
    ), 0.0);
    assert_eq!(r.len(), 3);
    assert_eq!(r[2].id, "hats-1");
    assert!(r[2].pinned && !r[0].pinned && !r[1].pinned);
    // Unknown pinned ids are reported; bad pins are errors.
    let r = e.recommend(
        &opts(&e, r#"{"k":3,"pins":[{"item":"ghost","rank":1}]}"#),
        0.0,
    );
    assert_eq!(r.unknown_ids, ["ghost"]);
    assert_eq!(r.len(), 3);
    assert!(opts_err(&e, r#"{"k":3,"pins":[{"item":"hats-1","rank":4}]}"#).contains("pins.rank"));
    assert!(opts_err(&e, r#"{"pins":[{"item":"hats-1","rank":0}]}"#).contains("pins.rank"));
    assert!(opts_err(
        &e,
        r#"{"pins":[{"item":"hats-1","rank":1},{"item":"hats-2","rank":1}]}"#
    )
    .contains("rank 1"));
    assert!(opts_err(
        &e,
        r#"{"pins":[{"item":"hats-1","rank":1},{"item":"hats-1","rank":2}]}"#
    )
    .contains("pinned twice"));
}

#[test]
fn category_cap_limits_each_category_and_counts_pins() {
    let mut e = engine();
    let r = e.recommend(
        &opts(&e, r#"{"k":8,"diversity":{"maxPerCategory":2}}"#),
        0.0,
    );
    assert_eq!(r.len(), 8);
    for c in 0..4 {
        assert_eq!(cats(&r).iter().filter(|&&x| x == c).count(), 2, "{r:?}");
    }
    // Best first within the cap: the two most popular of each category, by score.
    assert_eq!(&ids(&r)[..2], ["shoes-0", "shoes-1"]);
    assert!(r.windows(2).all(|w| w[0].score >= w[1].score));
    // Pins count toward the cap; the uncategorized item is never capped.
    let r = e.recommend(
        &opts(
            &e,
            r#"{"k":24,"diversity":{"maxPerCategory":1},"pins":[{"item":"shoes-5","rank":1}]}"#,
        ),
        0.0,
    );
    assert_eq!(
        ids(&r),
        ["shoes-5", "bags-0", "hats-0", "socks-0", "socks-5"]
    );
    assert!(opts_err(&e, r#"{"diversity":{"maxPerCategory":0}}"#).contains("maxPerCategory"));
}

#[test]
fn mmr_trades_relevance_for_variety() {
    let mut e = engine();
    e.track("view", "shoes-0", 1.0).unwrap();
    let plain = e.recommend(&opts(&e, r#"{"k":6}"#), 0.0);
    let relevance_only = e.recommend(&opts(&e, r#"{"k":6,"diversity":{"lambda":1}}"#), 0.0);
    assert_eq!(ids(&plain), ids(&relevance_only));
    let varied = e.recommend(
        &opts(&e, r#"{"k":6,"diversity":{"lambda":0.3,"pool":24}}"#),
        0.0,
    );
    let distinct = |r: &RankResponse| {
        let mut c = cats(r);
        c.sort();
        c.dedup();
        c.len()
    };
    assert!(
        distinct(&varied) > distinct(&plain),
        "{varied:?} vs {plain:?}"
    );
    assert_eq!(
        varied[0].id, plain[0].id,
        "the first pick is the most relevant"
    );
    // MMR with a cap.
    let both = e.recommend(
        &opts(
            &e,
            r#"{"k":8,"diversity":{"lambda":0.5,"maxPerCategory":2,"pool":24}}"#,
        ),
        0.0,
    );
    for c in 0..4 {
        assert!(cats(&both).iter().filter(|&&x| x == c).count() <= 2);
    }
    for bad in [
        r#"{"diversity":{"lambda":1.5}}"#,
        r#"{"diversity":{"lambda":-0.1}}"#,
    ] {
        assert!(opts_err(&e, bad).contains("lambda"));
    }
    assert!(opts_err(&e, r#"{"diversity":{"lambda":0.5,"pool":0}}"#).contains("pool"));
}

#[test]
fn unknown_ids_are_reported_once_each_in_order_of_first_appearance() {
    let mut e = engine();
    // The options' unknown ids come first, then the list's, each once.
    let o = opts(&e, r#"{"exclude":["gone-b","shoes-0","gone-a","gone-b"]}"#);
    let r = e
        .rerank(&["gone-a", "hats-2", "new-1", "new-1", "gone-c"], &o, 0.0)
        .unwrap();
    assert_eq!(r.unknown_ids, ["gone-b", "gone-a", "new-1", "gone-c"]);
    // The most ids a list may hold, every one new to the bundle and each twice (deduplicated by
    // a hash table: a `contains` per id made this 5·10^9 string comparisons).
    let many: Vec<String> = (0..vitrine::rank::MAX_IDS / 2)
        .flat_map(|i| [format!("new-{i}"), format!("new-{i}")])
        .collect();
    let r = e.rerank(&many, &opts(&e, "{}"), 0.0).unwrap();
    assert!(r.is_empty());
    assert_eq!(r.unknown_ids.len(), vitrine::rank::MAX_IDS / 2);
    assert!(r
        .unknown_ids
        .iter()
        .enumerate()
        .all(|(i, id)| *id == format!("new-{i}")));
}

#[test]
fn rerank_orders_the_pages_candidates_and_reports_the_rest() {
    let mut e = engine();
    e.track("click", "bags-3", 1.0).unwrap();
    let cands = [
        "shoes-0", "bags-1", "ghost", "hats-2", "bags-4", "bags-1", "ghost2",
    ];
    let r = e.rerank(&cands, &opts(&e, "{}"), 0.0).unwrap();
    assert_eq!(r.len(), 4, "every known candidate, once");
    assert_eq!(cats(&r)[..2], [1, 1], "the session's category first");
    assert_eq!(r.unknown_ids, ["ghost", "ghost2"]);
    assert_eq!(
        r.warnings,
        ["duplicate candidate ids ranked once: 'bags-1'"]
    );
    // k, filters and pins apply; pins must be candidates.
    let r = e
        .rerank(
            &cands,
            &opts(
                &e,
                r#"{"k":2,"filters":{"excludeCategories":["bags"]},"pins":[{"item":"socks-1","rank":1}]}"#,
            ),
         0.0,)
        .unwrap();
    let mut got = ids(&r);
    got.sort();
    assert_eq!(got, ["hats-2", "shoes-0"]);
    assert!(r[0].score >= r[1].score);
    assert_eq!(
        r.warnings,
        [
            "duplicate candidate ids ranked once: 'bags-1'",
            "pin 'socks-1' dropped: not among the candidates"
        ]
    );
    // Session exclusions are off by default for rerank (it reorders a listing).
    e.track("purchase", "shoes-0", 2.0).unwrap();
    let r = e
        .rerank(&["shoes-0", "hats-2"], &opts(&e, "{}"), 0.0)
        .unwrap();
    assert_eq!(r.len(), 2);
    let r = e
        .rerank(
            &["shoes-0", "hats-2"],
            &opts(&e, r#"{"excludePurchased":true}"#),
            0.0,
        )
        .unwrap();
    assert_eq!(ids(&r), ["hats-2"]);
    // Scores are those of recommend.
    let rec = e.recommend(&opts(&e, r#"{"k":24,"excludePurchased":false}"#), 0.0);
    let rr = e.rerank(&["hats-2"], &opts(&e, "{}"), 0.0).unwrap();
    assert_eq!(
        rec.iter().find(|x| x.id == "hats-2").unwrap().score,
        rr[0].score
    );
    assert!(e
        .rerank(&Vec::<String>::new(), &opts(&e, "{}"), 0.0)
        .unwrap()
        .is_empty());
}

#[test]
fn rerank_rows_carry_each_candidates_first_position() {
    let mut e = engine();
    e.track("click", "bags-3", 1.0).unwrap();
    let cands = [
        "hats-2", "bags-1", "ghost", "hats-2", "bags-4", "bags-1", "hats-2", "shoes-0",
    ];
    let rows = e.rerank_rows(&cands, &opts(&e, "{}"), 0.0).unwrap();
    let items = e.rerank(&cands, &opts(&e, "{}"), 0.0).unwrap();
    assert_eq!(rows.rows.len(), 4);
    for (row, item) in rows.rows.iter().zip(items.iter()) {
        let p = row.position.expect("rerank rows have a position") as usize;
        assert_eq!(cands[p], item.id, "the position names the same item");
        assert_eq!(
            cands.iter().position(|c| *c == item.id),
            Some(p),
            "the first occurrence"
        );
        assert_eq!(row.score, item.score);
        assert_eq!(row.rank, item.rank);
    }
    // Duplicates are listed once each, in the order they repeat.
    assert_eq!(
        rows.warnings,
        ["duplicate candidate ids ranked once: 'hats-2', 'bags-1'"]
    );
    assert_eq!(rows.unknown_ids, ["ghost"]);
    // recommend and similar rows have no position.
    let r = e.recommend_rows(&opts(&e, r#"{"k":3}"#), 0.0);
    assert!(r.rows.iter().all(|r| r.position.is_none()));
    // Many distinct candidates (the dedup table grows past its first size), each once.
    let all: Vec<String> = e.bundle().ids().to_vec();
    let twice: Vec<&str> = all.iter().chain(all.iter()).map(String::as_str).collect();
    let r = e.rerank_rows(&twice, &opts(&e, "{}"), 0.0).unwrap();
    assert_eq!(r.rows.len(), all.len());
    let mut positions: Vec<u32> = r.rows.iter().map(|r| r.position.unwrap()).collect();
    positions.sort_unstable();
    assert_eq!(positions, (0..all.len() as u32).collect::<Vec<_>>());
}

#[test]
fn legacy_request_builder_still_works() {
    let mut e = engine();
    e.track("view", "hats-1", 1.0).unwrap();
    let r = e.recommend(
        &vitrine::RecommendRequest::new(3)
            .unwrap()
            .exclude_seen(true),
        0.0,
    );
    assert_eq!(r.len(), 3);
    assert!(!ids(&r).contains(&"hats-1"));
    let scored = e
        .recommend_rows(&ValidRankOptions::new(3).unwrap(), 0.0)
        .rows;
    assert_eq!(scored.len(), 3);
    assert_eq!(cat_of(&e.bundle().ids()[scored[0].index as usize]), 2);
}

/// The greedy reference for the category cap: best first, skipping full categories.
fn greedy_capped(scores: &[(String, f32)], k: usize, cap: usize) -> Vec<String> {
    let mut sorted: Vec<&(String, f32)> = scores.iter().collect();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut count = [0usize; 4];
    let mut out = Vec::new();
    for (id, _) in sorted {
        if out.len() == k {
            break;
        }
        if id == "socks-5" {
            out.push(id.clone());
            continue;
        }
        let c = cat_of(id);
        if count[c] < cap {
            count[c] += 1;
            out.push(id.clone());
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random sessions and options: never a panic, never an excluded item, ranks 1..=n, at most k,
    /// and the category cap equals the greedy reference.
    #[test]
    fn random_requests_keep_the_invariants(
        events in proptest::collection::vec((0usize..4, 0usize..PER, 0usize..5), 0..12),
        k in 1usize..30,
        cap in 1usize..4,
        lambda in proptest::option::of(0.0f64..=1.0),
        boost in -1.0f64..1.0,
        deny in proptest::collection::vec((0usize..4, 0usize..PER), 0..4),
    ) {
        let mut e = engine();
        let kinds = ["view", "click", "add_to_cart", "remove_from_cart", "purchase"];
        for (t, (c, i, kind)) in events.iter().enumerate() {
            e.track(kinds[*kind], &id(*c, *i), t as f64).unwrap();
        }
        let deny: Vec<String> = deny.iter().map(|(c, i)| id(*c, *i)).collect();
        let json = serde_json::json!({
            "k": k,
            "filters": {"deny": deny},
            "boosts": [{"categories": ["hats"], "weight": boost}],
            "diversity": {"maxPerCategory": cap, "lambda": lambda},
            "explain": true,
        });
        let o = opts(&e, &json.to_string());
        let r = e.recommend(&o, 0.0);
        prop_assert!(r.len() <= k);
        let ranks: Vec<u32> = r.iter().map(|x| x.rank).collect();
        prop_assert_eq!(ranks, (1..=r.len() as u32).collect::<Vec<_>>());
        let capped: Vec<usize> = r.iter().filter(|x| x.id != "socks-5").map(|x| cat_of(&x.id)).collect();
        for x in r.iter() {
            prop_assert!(!deny.contains(&x.id));
            let c = cat_of(&x.id);
            prop_assert!(capped.iter().filter(|&&y| y == c).count() <= cap);
        }
        if lambda.is_none() {
            let all = e.recommend(&opts(&e, &serde_json::json!({
                "k": 24, "filters": {"deny": deny},
                "boosts": [{"categories": ["hats"], "weight": boost}],
            }).to_string()), 0.0);
            let scores: Vec<(String, f32)> = all.iter().map(|x| (x.id.clone(), x.score)).collect();
            prop_assert_eq!(
                r.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
                greedy_capped(&scores, k, cap)
            );
        }
    }
}
