//! The bundle reader on arbitrary bytes: it must return `Ok` or a `BundleError`, never panic, hang
//! or allocate beyond the input's size; a bundle it accepts must then serve `track`/`recommend`
//! and every accessor without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vitrine::bundle::{digest, BundleOptions};
use vitrine::{Bundle, Event, EventKind, RecommendRequest, SessionLog};

fn exercise(b: &Bundle) {
    let n = b.n_items();
    let mut session = SessionLog::default();
    for (k, item) in [0, n / 2, n - 1].into_iter().enumerate() {
        session.push(Event {
            kind: EventKind::AddToCart,
            item: item as u32,
            ts_ms: k as f64,
        });
    }
    if let Ok(request) = RecommendRequest::new(5) {
        let _ = vitrine::recommend(b, &session, &request);
    }
    for i in 0..n.min(256) {
        let _ = (b.category(i), b.price(i), b.dequantized_row(i));
        for (j, w) in b.neighbours(i) {
            assert!((j as usize) < n && j as usize != i && w.is_finite());
        }
        if let Some(id) = b.ids().get(i) {
            assert_eq!(b.index_of(id), Some(i as u32));
        }
    }
    if let Some(ctx) = b.ctx_weights() {
        let _ = (ctx.view(), ctx.get(0, 0), ctx.feature_row("x"));
    }
    let _ = (b.head(), b.session_pos_weights(), b.tensors(), b.embeddings());
}

fuzz_target!(|data: &[u8]| {
    let _ = digest::check(data);
    let unverified = BundleOptions {
        verify_digest: false,
    };
    if let Ok(b) = Bundle::from_bytes_with(data.to_vec(), &unverified) {
        exercise(&b);
        // Verification can only reject more, never less.
        if Bundle::from_bytes(data.to_vec()).is_ok() {
            assert!(matches!(digest::check(data), Ok(digest::DigestStatus::Valid(_))));
        }
    } else {
        assert!(Bundle::from_bytes(data.to_vec()).is_err());
    }
});
