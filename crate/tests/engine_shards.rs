//! Big catalogs on demand, natively: a head bundle plus shards (deltas of kind `shard`, see
//! `bundle::overlay`) add up to the full catalog — the same scores as the full bundle once every
//! shard is applied, in any order, int8 and compact alike; a shard applied twice changes nothing;
//! pending events of shard products count once their shard joins; shards and catalog updates do
//! not mix; a shard of another head is refused.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::*;
use vitrine::bundle::{
    write_bundle, BundleParts, CategoryParts, CompactParts, DELTA_BASE_KEY, DELTA_KIND_KEY,
    DELTA_KIND_SHARD, DELTA_N_BASE_KEY,
};
use vitrine::catalog::{write_delta, DeltaItem, DeltaParts};
use vitrine::{Engine, RecommendRequest, VitrineError};

/// 4 clusters × 5 items, dim 4, a category per cluster, prices.
fn full_parts(compact: bool) -> BundleParts {
    let mut p = clustered_parts(4, 5, 4);
    p.categories = Some(CategoryParts {
        names: vec!["zero".into(), "one".into(), "two".into(), "three".into()],
        item: (0..20).map(|i| Some(i / 5)).collect(),
    });
    p.prices = Some((0..20).map(|i| Some(10.0 + i as f32)).collect());
    if compact {
        p.compact = Some(CompactParts {
            subspaces: 2,
            centroids: 16,
            codebooks: p.embeddings[..16 * 4].to_vec(),
            codes: None,
        });
    }
    p
}

/// `rows` of `p`; with `shard_of` (head digest, head rows) a shard.
fn subset(p: &BundleParts, rows: &[usize], shard_of: Option<(&str, usize)>) -> Vec<u8> {
    let d = p.dim;
    let cats = p.categories.as_ref().unwrap();
    let mut out = BundleParts {
        ids: rows.iter().map(|&r| p.ids[r].clone()).collect(),
        dim: d,
        embeddings: rows
            .iter()
            .flat_map(|&r| p.embeddings[r * d..(r + 1) * d].to_vec())
            .collect(),
        popularity: rows.iter().map(|&r| p.popularity[r]).collect(),
        categories: Some(CategoryParts {
            names: cats.names.clone(),
            item: rows.iter().map(|&r| cats.item[r]).collect(),
        }),
        prices: Some(
            rows.iter()
                .map(|&r| p.prices.as_ref().unwrap()[r])
                .collect(),
        ),
        compact: p.compact.clone(),
        ..Default::default()
    };
    if let Some((digest, n)) = shard_of {
        out.metadata = BTreeMap::from([
            (DELTA_BASE_KEY.to_owned(), digest.to_owned()),
            (DELTA_N_BASE_KEY.to_owned(), n.to_string()),
            (DELTA_KIND_KEY.to_owned(), DELTA_KIND_SHARD.to_owned()),
        ]);
    }
    write_bundle(&out).unwrap()
}

struct Set {
    head: Vec<u8>,
    shards: Vec<Vec<u8>>,
}

/// Head: clusters 0 and 1 (the popular ones); shards: cluster 2, cluster 3.
fn shard_set(p: &BundleParts) -> Set {
    let head = subset(p, &(0..10).collect::<Vec<_>>(), None);
    let digest = vitrine::Bundle::from_bytes(head.clone())
        .unwrap()
        .recorded_digest()
        .unwrap()
        .to_owned();
    let shards = [10..15, 15..20]
        .into_iter()
        .map(|r| subset(p, &r.collect::<Vec<_>>(), Some((&digest, 10))))
        .collect();
    Set { head, shards }
}

fn scores(e: &mut Engine) -> HashMap<String, f32> {
    let r = e.recommend(&RecommendRequest::new(100).unwrap(), 0.0);
    r.iter().map(|x| (x.id.clone(), x.score)).collect()
}

/// Equal scores, within `tol`.
fn assert_same_scores(a: &HashMap<String, f32>, b: &HashMap<String, f32>, tol: f32) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (id, s) in a {
        let t = b.get(id).unwrap_or_else(|| panic!("{id} missing"));
        assert!((s - t).abs() <= tol * s.abs().max(1.0), "{id}: {s} vs {t}");
    }
}

#[test]
fn head_plus_every_shard_scores_as_the_full_bundle_in_any_order() {
    for compact in [false, true] {
        let p = full_parts(compact);
        let set = shard_set(&p);
        let mut full = not_private(write_bundle(&p).unwrap());
        full.track("view", "c3-i1", 1.0).unwrap();
        full.track("view", "c2-i2", 2.0).unwrap();
        let want = scores(&mut full);
        // int8: the same bits. Compact: popularity is one byte on a log scale set by each file's
        // own largest value (`pop.log1p_max`), so a shard's prior differs from the full bundle's
        // by under one quantization step (the codes themselves are the same).
        let tol = if compact { 1e-3 } else { 1e-6 };
        for order in [[0, 1], [1, 0]] {
            let mut e = not_private(set.head.clone());
            assert_eq!(e.bundle().n_items(), 10);
            // Shard products are not known yet: their events wait, pending.
            e.track("view", "c3-i1", 1.0).unwrap();
            e.track("view", "c2-i2", 2.0).unwrap();
            let head_only = scores(&mut e);
            assert!(head_only.keys().all(|id| cluster_of(id) < 2));
            let mut promoted = 0;
            for k in order {
                let r = e.apply_update(set.shards[k].clone()).unwrap();
                assert_eq!((r.added, r.updated, r.unavailable), (5, 0, 0));
                promoted += r.promoted;
            }
            assert_eq!(promoted, 2, "both pending views joined (compact {compact})");
            assert_eq!(e.bundle().n_items(), 20);
            assert_same_scores(&scores(&mut e), &want, tol);
            // Categories and prices came with the rows.
            let row = e.bundle().index_of("c3-i4").unwrap() as usize;
            let b = e.bundle();
            assert_eq!(
                b.category_names().unwrap()[b.category(row).unwrap() as usize],
                "three"
            );
            assert_eq!(b.price(row), Some(29.0));
            // Applied again: nothing new, nothing hidden.
            let r = e.apply_update(set.shards[order[0]].clone()).unwrap();
            assert_eq!((r.added, r.updated, r.unavailable, r.items), (0, 5, 0, 20));
            assert_same_scores(&scores(&mut e), &want, tol);
        }
    }
}

#[test]
fn shards_and_catalog_updates_do_not_mix_and_a_foreign_shard_is_refused() {
    let p = full_parts(false);
    let set = shard_set(&p);
    let mut e = not_private(set.head.clone());
    let digest = e.bundle().recorded_digest().unwrap().to_owned();
    let update = write_delta(&DeltaParts {
        base_digest: digest,
        n_base: 10,
        dim: 4,
        items: vec![DeltaItem {
            id: "new".into(),
            embedding: Some(vec![1.0, 0.0, 0.0, 0.0]),
            popularity: 0.0,
            category: None,
            price: None,
            available: true,
        }],
        catalog: Vec::new(),
    })
    .unwrap();
    e.apply_update(set.shards[0].clone()).unwrap();
    let err = e.apply_update(update.clone()).unwrap_err();
    assert_eq!(err.code(), "update_mismatch", "{err}");
    assert_eq!(e.bundle().n_items(), 15, "nothing changed");
    // The other way round.
    let mut e = not_private(set.head.clone());
    e.apply_update(update).unwrap();
    let err = e.apply_update(set.shards[1].clone()).unwrap_err();
    assert_eq!(err.code(), "update_mismatch", "{err}");
    assert_eq!(e.bundle().n_items(), 11);
    // A shard cut from another head (another digest) is refused.
    let mut other = p.clone();
    other.popularity[0] += 1.0;
    let foreign = shard_set(&other).shards[0].clone();
    let mut e = not_private(set.head.clone());
    let err: VitrineError = e.apply_update(foreign).unwrap_err();
    assert_eq!(err.code(), "update_mismatch", "{err}");
    assert_eq!(e.bundle().n_items(), 10);
    // A compact shard on an int8 head is refused (an int8 head takes int8 rows).
    let compact = shard_set(&full_parts(true));
    let mut e = not_private(set.head.clone());
    let digest = e.bundle().recorded_digest().unwrap().to_owned();
    let p = full_parts(true);
    let bytes = subset(&p, &[12, 13], Some((&digest, 10)));
    assert!(e.apply_update(bytes).is_err());
    assert!(e.apply_update(compact.shards[0].clone()).is_err());
    assert_eq!(e.bundle().n_items(), 10);
}
