//! The core, natively: the engine's behaviour. (Bundle reading/writing is tested in `bundle.rs`.)

mod common;

use common::*;
use vitrine::{RecommendRequest, RequestError, VitrineError};

#[test]
fn empty_session_ranks_by_popularity() {
    let mut engine = not_private(clustered_bundle(4, 5, 8));
    let recs = engine.recommend(&RecommendRequest::new(5).unwrap(), 0.0);
    let ids: Vec<&str> = recs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["c0-i0", "c0-i1", "c0-i2", "c0-i3", "c0-i4"]);
    assert!(recs.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn session_moves_recommendations_toward_its_cluster() {
    let mut engine = not_private(clustered_bundle(4, 5, 8));
    engine.track("click", "c3-i4", 1.0).unwrap();
    engine.track("view", "c3-i2", 2.0).unwrap();
    let recs = engine.recommend(&RecommendRequest::new(5).unwrap(), 0.0);
    assert!(recs.iter().all(|r| cluster_of(&r.id) == 3), "{recs:?}");
    // The most recent event dominates.
    engine.track("add_to_cart", "c1-i0", 3.0).unwrap();
    let top = &engine.recommend(&RecommendRequest::new(1).unwrap(), 0.0)[0];
    assert_eq!(cluster_of(&top.id), 1, "{top:?}");
}

#[test]
fn exclude_seen_drops_session_items() {
    let mut engine = not_private(clustered_bundle(2, 3, 4));
    engine.track("view", "c1-i0", 1.0).unwrap();
    let all = engine.recommend(&RecommendRequest::new(6).unwrap(), 0.0);
    assert!(all.iter().any(|r| r.id == "c1-i0"));
    let unseen = engine.recommend(&RecommendRequest::new(6).unwrap().exclude_seen(true), 0.0);
    assert_eq!(unseen.len(), 5);
    assert!(unseen.iter().all(|r| r.id != "c1-i0"));
}

#[test]
fn bad_requests_are_typed_errors_and_leave_the_session_alone() {
    let mut engine = not_private(clustered_bundle(2, 3, 4));
    // An item the bundle does not know is normal input: kept pending (counted), not logged.
    assert_eq!(engine.track("view", "no-such-item", 1.0), Ok(()));
    assert_eq!(engine.shopper().pending().len(), 1);
    assert_eq!(engine.shopper().pending().tracked(), 1);
    assert!(matches!(
        engine.track("teleport", "c0-i0", 1.0),
        Err(VitrineError::Request(RequestError::UnknownEventType(_)))
    ));
    assert!(engine.track("view", "c0-i0", f64::NAN).is_err());
    assert!(engine.session().is_empty());
    assert!(RecommendRequest::new(0).is_err());
    assert!(RecommendRequest::new(vitrine::rank::MAX_K + 1).is_err());
    // k larger than the catalog returns the whole catalog.
    assert_eq!(
        engine
            .recommend(&RecommendRequest::new(100).unwrap(), 0.0)
            .len(),
        6
    );
    engine.track("view", "c0-i0", 1.0).unwrap();
    engine.forget();
    assert!(engine.session().is_empty());
}
