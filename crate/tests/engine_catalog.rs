//! The live catalog and the hybrid ranking, natively: catalog deltas (format, integrity, binding
//! to one bundle file, cumulative application), availability, pending events of unknown items,
//! the re-consumption and item-to-item terms, and the scenarios (similar of several items,
//! bought-together, trending).

mod bundle_fixtures;
mod common;

use common::*;
use vitrine::bundle::{write_bundle, BundleParts, ScoringParams};
use vitrine::catalog::{read_delta, write_delta, DeltaItem, DeltaParts};
use vitrine::rank::Related;
use vitrine::{BundleError, Engine, RecommendRequest, VitrineError};

/// The clustered fixture (3 clusters × 4 items, dim 4) with categories and prices.
fn parts() -> BundleParts {
    let mut p = clustered_parts(3, 4, 4);
    p.categories = Some(vitrine::bundle::CategoryParts {
        names: vec!["zero".into(), "one".into(), "two".into()],
        item: (0..12).map(|i| Some(i / 4)).collect(),
    });
    p.prices = Some((0..12).map(|i| Some(10.0 + i as f32)).collect());
    p
}

fn engine_of(p: &BundleParts) -> Engine {
    not_private(write_bundle(p).unwrap())
}

fn digest_of(e: &Engine) -> String {
    e.bundle().recorded_digest().unwrap().to_owned()
}

/// A new product pointing where cluster 2 points.
fn new_item(id: &str) -> DeltaItem {
    DeltaItem {
        id: id.into(),
        embedding: Some(vec![0.0, 0.0, 1.0, 0.0]),
        popularity: 0.0,
        category: Some("two".into()),
        price: Some(5.0),
        available: true,
    }
}

/// A product of the base file with a new category and price, or made unavailable.
fn base_item(id: &str, category: &str, price: f32, available: bool) -> DeltaItem {
    DeltaItem {
        id: id.into(),
        embedding: None,
        popularity: 0.0,
        category: Some(category.into()),
        price: Some(price),
        available,
    }
}

fn delta(e: &Engine, added: Vec<DeltaItem>, unavailable: &[&str]) -> Vec<u8> {
    let mut items = added;
    items.push(base_item("c0-i0", "one", 99.0, true));
    for id in unavailable {
        items.push(base_item(id, "two", 1.0, false));
    }
    write_delta(&DeltaParts {
        base_digest: digest_of(e),
        n_base: e.bundle().n_base(),
        dim: 4,
        items,
        catalog: br#"{"id":"new-1","title":"New"}"#.to_vec(),
    })
    .unwrap()
}

fn ids(r: &vitrine::RankResponse) -> Vec<String> {
    r.iter().map(|x| x.id.clone()).collect()
}

#[test]
fn a_delta_round_trips_and_is_integrity_checked() {
    let e = engine_of(&parts());
    let bytes = delta(&e, vec![new_item("new-1")], &["c0-i1"]);
    let d = read_delta(bytes.clone()).unwrap();
    assert_eq!(d.ids().to_vec(), ["new-1", "c0-i0", "c0-i1"]);
    assert!(d.is_delta() && !d.is_available(2) && d.is_available(0));
    assert_eq!(d.price(1), Some(99.0));
    // A delta is not a model: loading it as a bundle says what it is.
    let err = vitrine::Bundle::from_bytes(bytes.clone()).unwrap_err();
    assert!(err.to_string().contains("catalog update"), "{err}");
    // Any flipped byte of the data is refused (digest), and so is a bundle.
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut e = e;
    for at in [8 + header, bytes.len() - 1, bytes.len() / 2 + header / 2] {
        let mut bad = bytes.clone();
        bad[at] ^= 1;
        assert!(read_delta(bad.clone()).is_err(), "byte {at}");
        assert!(e.apply_update(bad).is_err(), "byte {at}");
    }
    assert!(matches!(
        read_delta(write_bundle(&parts()).unwrap()),
        Err(BundleError::MissingMetadata(_))
    ));
    assert!(e.apply_update(write_bundle(&parts()).unwrap()).is_err());
    assert!(read_delta(b"garbage".to_vec()).is_err());
    assert_eq!(e.bundle().n_items(), 12, "nothing changed");
}

#[test]
fn an_update_adds_changes_and_hides_products() {
    let mut e = engine_of(&parts());
    let before = e.bundle().n_items();
    let bytes = delta(&e, vec![new_item("new-1")], &["c2-i0"]);
    let r = e.apply_update(bytes).unwrap();
    assert_eq!(
        (r.added, r.updated, r.items, r.unavailable),
        (1, 2, before + 1, 1)
    );
    let b = e.bundle();
    let row = b.index_of("new-1").unwrap() as usize;
    assert_eq!(b.price(row), Some(5.0));
    assert_eq!(
        b.category_names().unwrap()[b.category(row).unwrap() as usize],
        "two"
    );
    assert_eq!(b.price(0), Some(99.0), "changed price");
    assert_eq!(b.category(0), Some(1), "changed category");
    // The new product is tracked, recommended near cluster 2 and similar to it; the unavailable
    // one is never shown, not even pinned.
    e.track("view", "c2-i1", 1.0).unwrap();
    let recs = ids(&e.recommend(&RecommendRequest::new(12).unwrap(), 0.0));
    assert!(recs.contains(&"new-1".to_string()), "{recs:?}");
    assert!(!recs.contains(&"c2-i0".to_string()), "{recs:?}");
    let sim = e.similar("new-1", &RecommendRequest::new(3).unwrap());
    assert!(ids(&sim).iter().all(|id| cluster_of(id) == 2), "{sim:?}");
    let opts = vitrine::RankOptions {
        k: Some(5.0),
        pins: Some(vec![vitrine::rank::PinOption {
            item: "c2-i0".into(),
            rank: 1.0,
        }]),
        ..Default::default()
    }
    .validate(e.bundle())
    .unwrap();
    let pinned = e.recommend(&opts, 0.0);
    assert!(!ids(&pinned).contains(&"c2-i0".to_string()));
    assert!(
        pinned.warnings.iter().any(|w| w.contains("not available")),
        "{:?}",
        pinned.warnings
    );
    // A second, cumulative update: new-1 no longer listed (gone), c2-i0 back in stock; rows stay.
    let row_before = e.bundle().index_of("new-1");
    let bytes = delta(&e, vec![new_item("new-2")], &[]);
    e.apply_update(bytes).unwrap();
    assert_eq!(e.bundle().index_of("new-1"), row_before, "rows never move");
    let all = ids(&e.recommend(&RecommendRequest::new(20).unwrap(), 0.0));
    assert!(all.contains(&"c2-i0".to_string()) && all.contains(&"new-2".to_string()));
    assert!(
        !all.contains(&"new-1".to_string()),
        "no longer sold: {all:?}"
    );
}

/// A delta listing exactly `items` (no helper defaults).
fn delta_of(e: &Engine, items: Vec<DeltaItem>) -> Vec<u8> {
    write_delta(&DeltaParts {
        base_digest: digest_of(e),
        n_base: e.bundle().n_base(),
        dim: 4,
        items,
        catalog: Vec::new(),
    })
    .unwrap()
}

#[test]
fn a_row_an_update_does_not_list_is_as_the_file_says() {
    // The file itself marks c1-i2 unavailable; an update that does not list it keeps it so.
    let mut p = parts();
    p.availability = Some((0..12).map(|i| i != 6).collect());
    let mut e = engine_of(&p);
    let hidden = "c1-i2".to_string();
    e.track("view", "c1-i1", 1.0).unwrap();
    let all = |e: &mut Engine| ids(&e.recommend(&RecommendRequest::new(20).unwrap(), 0.0));
    assert!(!all(&mut e).contains(&hidden), "the file hides it");
    // Update 1 changes c1-i1's category and price; update 2 no longer lists it: back to the file.
    let u1 = delta_of(
        &e,
        vec![base_item("c1-i1", "two", 1.0, true), new_item("new-1")],
    );
    e.apply_update(u1).unwrap();
    assert!(
        !all(&mut e).contains(&hidden),
        "still hidden after an update"
    );
    let row = e.bundle().index_of("c1-i1").unwrap() as usize;
    assert_eq!(
        (e.bundle().category(row), e.bundle().price(row)),
        (Some(2), Some(1.0))
    );
    let u2 = delta_of(&e, vec![new_item("new-1")]);
    e.apply_update(u2).unwrap();
    assert!(
        !all(&mut e).contains(&hidden),
        "still hidden after a second update"
    );
    assert_eq!(
        (e.bundle().category(row), e.bundle().price(row)),
        (Some(1), Some(15.0)),
        "an earlier update's change this one no longer lists is undone"
    );
    // An update that lists it as available brings it back.
    let u3 = delta_of(&e, vec![base_item("c1-i2", "one", 16.0, true)]);
    e.apply_update(u3).unwrap();
    assert!(all(&mut e).contains(&hidden));
}

#[test]
fn an_update_for_another_bundle_changes_nothing() {
    let mut e = engine_of(&parts());
    let mut other = parts();
    other.popularity[0] += 1.0;
    let o = engine_of(&other);
    let bytes = delta(&o, vec![new_item("new-1")], &[]);
    let err = e.apply_update(bytes).unwrap_err();
    assert_eq!(err.code(), "update_mismatch");
    assert!(e.bundle().index_of("new-1").is_none());
}

#[test]
fn pending_events_count_once_their_product_is_known() {
    let mut e = engine_of(&parts());
    e.track("view", "c1-i0", 1.0).unwrap();
    e.track("add_to_cart", "new-1", 2.0).unwrap();
    e.track("view", "c1-i1", 3.0).unwrap();
    assert_eq!(e.session().n_item_events(), 2);
    assert_eq!(e.shopper().pending().len(), 1);
    // Stored and restored with the session.
    let state = e.export_state();
    assert!(state.contains("new-1"), "{state}");
    let mut f = engine_of(&parts());
    f.import_state(&state, 4.0).unwrap();
    assert_eq!(f.shopper().pending().len(), 1);
    // The update makes it known: it joins the log at its time.
    let bytes = delta(&f, vec![new_item("new-1")], &[]);
    let r = f.apply_update(bytes).unwrap();
    assert_eq!(r.promoted, 1);
    assert!(f.shopper().pending().is_empty());
    let order: Vec<String> = f
        .session()
        .events()
        .map(|ev| f.bundle().ids()[ev.item as usize].to_owned())
        .collect();
    assert_eq!(order, ["c1-i0", "new-1", "c1-i1"]);
    assert!(f.session().in_cart_items(4.0).len() == 1);
    assert_eq!(f.forget(), 3);
}

/// The re-consumption term lifts items the session holds; the item-to-item term lifts the
/// neighbours of its items; both are off in a bundle without weights.
#[test]
fn session_terms_follow_the_bundle_weights() {
    let mut p = parts();
    // c0-i3's neighbour list names c2-i3 (which the embeddings put far away).
    let mut lists = vec![Vec::new(); 12];
    lists[3] = vec![(11u32, 1.0f32)];
    p.neighbours = Some(lists);
    let plain = engine_of(&p);
    let rank_of = |e: &mut Engine, id: &str| {
        ids(&e.recommend(&RecommendRequest::new(12).unwrap(), 0.0))
            .iter()
            .position(|x| x == id)
    };
    let mut e = plain.clone();
    e.track("view", "c0-i3", 1.0).unwrap();
    e.track("view", "c1-i0", 2.0).unwrap();
    let base_c2 = rank_of(&mut e, "c2-i3").unwrap();
    p.params = Some(ScoringParams {
        nbr_weight: 2.0,
        repeat_weight: 2.0,
        ..Default::default()
    });
    let mut t = engine_of(&p);
    t.track("view", "c0-i3", 1.0).unwrap();
    t.track("view", "c1-i0", 2.0).unwrap();
    assert_eq!(
        rank_of(&mut t, "c2-i3"),
        Some(2),
        "after the two session items"
    );
    assert!(base_c2 > 2);
    let top = ids(&t.recommend(&RecommendRequest::new(2).unwrap(), 0.0));
    assert_eq!(top, ["c1-i0", "c0-i3"], "the session's own items first");
    // The explanation names both terms, and its parts sum to the score.
    let why = t
        .explain("c2-i3", &RecommendRequest::new(3).unwrap(), 0.0)
        .unwrap();
    let named: Vec<&str> = why
        .why
        .contributions
        .iter()
        .map(|c| c.feature.as_str())
        .collect();
    assert!(named.contains(&"neighbours"), "{named:?}");
    let sum: f32 = why.why.contributions.iter().map(|c| c.value).sum();
    assert!((sum - why.score).abs() < 1e-4);
    // A version-2 bundle: the terms need a reader that knows them.
    let bytes = write_bundle(&p).unwrap();
    let b = vitrine::Bundle::from_bytes(bytes).unwrap();
    assert_eq!(b.metadata().get("format_version").unwrap(), "2");
    assert_eq!(
        vitrine::Bundle::from_bytes(write_bundle(&parts()).unwrap())
            .unwrap()
            .metadata()
            .get("format_version")
            .unwrap(),
        "1"
    );
}

#[test]
fn scenarios_rank_from_the_page_ids_and_public_aggregates() {
    let mut p = parts();
    let mut cop = vec![Vec::new(); 12];
    cop[0] = vec![(9u32, 1.0f32), (5, 0.5)];
    cop[1] = vec![(9u32, 0.2f32), (6, 1.0)];
    p.co_purchases = Some(cop);
    p.trend = Some((0..12).map(|i| i as f32).collect());
    p.availability = Some((0..12).map(|i| i != 10).collect());
    let e = engine_of(&p);
    let k5 = RecommendRequest::new(5).unwrap();
    // Bought together with c0-i0 and c0-i1: the cart's own cluster leads (the mean cosine, weight
    // BOUGHT_TOGETHER_COS_WEIGHT), and c2-i1 (row 9, in both co-purchase lists) is lifted into the
    // top 5, where the cosine alone does not put it (similar() of the same cart).
    let fbt = ids(&e.related(Related::BoughtTogether, &["c0-i0", "c0-i1"], &k5));
    assert!(fbt[..2].iter().all(|id| cluster_of(id) == 0), "{fbt:?}");
    assert!(fbt.contains(&"c2-i1".to_string()), "{fbt:?}");
    let sim_cart = ids(&e.related(Related::Similar, &["c0-i0", "c0-i1"], &k5));
    assert!(!sim_cart.contains(&"c2-i1".to_string()), "{sim_cart:?}");
    assert!(!fbt.contains(&"c0-i0".to_string()) && !fbt.contains(&"c0-i1".to_string()));
    // Trending: the recency-weighted counts, the unavailable row 10 left out.
    let tr = ids(&e.related(Related::Trending, &[] as &[&str], &k5));
    assert_eq!(tr, ["c2-i3", "c2-i1", "c2-i0", "c1-i3", "c1-i2"]);
    // similar() of a cart: items close to both, the cart left out; unknown ids reported.
    let sim = e.related(Related::Similar, &["c1-i0", "c1-i1", "ghost"], &k5);
    assert!(
        ids(&sim).iter().take(2).all(|id| cluster_of(id) == 1),
        "{sim:?}"
    );
    assert_eq!(sim.unknown_ids, ["ghost"]);
    let none = e.related(Related::BoughtTogether, &["ghost"], &k5);
    assert!(none
        .warnings
        .iter()
        .any(|w| w.contains("not in the bundle")));
    // A format-2 bundle that requires availability: an older reader would refuse it.
    assert!(e
        .bundle()
        .metadata()
        .get("required")
        .unwrap()
        .contains("item_avail"));
    let err: VitrineError = BundleError::UnknownRequired("item_avail".into()).into();
    assert_eq!(err.code(), "bundle");
}

/// A digest the page computed with its own SHA-256 (`applyUpdate(bytes, {computedDigest})`) is
/// checked against the one the delta records, as the engine's own hashing would be: the right one
/// applies the update; a wrong one, or the page's digest of bytes changed in transit, is refused
/// with nothing changed.
#[test]
fn an_update_takes_a_digest_computed_by_the_page() {
    use vitrine::bundle::{digest, BundleOptions};
    let computed = |d: &str| BundleOptions {
        computed_digest: Some(d.into()),
        ..BundleOptions::default()
    };
    let mut e = engine_of(&parts());
    let before = e.bundle().n_items();
    let bytes = delta(&e, vec![new_item("new-1")], &[]);
    let (recorded, right) = bundle_fixtures::page_digest(&bytes);
    assert_eq!(right, recorded);
    assert_eq!(right, digest::compute(&bytes).unwrap());
    let wrong = format!("sha256:{}", "0".repeat(64));
    let err = e
        .apply_update_with(bytes.clone(), &computed(&wrong))
        .unwrap_err();
    assert!(err.to_string().contains("digest"), "{err}");
    // Bytes changed in transit: the page's digest of them is not the recorded one.
    let mut changed = bytes.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    let (_, of_changed) = bundle_fixtures::page_digest(&changed);
    assert!(e
        .apply_update_with(changed, &computed(&of_changed))
        .is_err());
    assert_eq!(e.bundle().n_items(), before, "nothing changed");
    let r = e.apply_update_with(bytes, &computed(&right)).unwrap();
    assert_eq!((r.added, r.items), (1, before + 1));
}

/// The model's item norms follow every update, computed only for the rows it gave vectors: an
/// added product's, and a product of an earlier update whose vector a later update changes; the
/// result is the bits of computing every norm again.
#[test]
fn item_norms_follow_updates_row_by_row() {
    let mut e = engine_of(&parts());
    let full = |e: &Engine| vitrine::rank::item_norms(e.bundle());
    e.apply_update(delta_of(&e, vec![new_item("new-1"), new_item("new-2")]))
        .unwrap();
    assert_eq!(e.model().norms(), full(&e).as_slice());
    let mut longer = new_item("new-1");
    longer.embedding = Some(vec![0.0, 3.0, 4.0, 0.0]);
    e.apply_update(delta_of(&e, vec![longer, new_item("new-3")]))
        .unwrap();
    let row = e.bundle().index_of("new-1").unwrap() as usize;
    let norms = e.model().norms();
    assert_eq!(norms, full(&e).as_slice());
    assert!(
        norms[row] > 2.0 * norms[e.bundle().index_of("new-3").unwrap() as usize],
        "the changed vector's norm: {norms:?}"
    );
}
