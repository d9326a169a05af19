//! The wasm API in headless Chromium: JS values in, JS values (or JS `Error`s) out.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

use vitrine::web::Recommender;

wasm_bindgen_test_configure!(run_in_browser);

fn js(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("test JSON")
}

fn error_message(err: JsValue) -> String {
    let err: js_sys::Error = err.dyn_into().expect("a JS Error");
    String::from(err.message())
}

fn ids(result: &JsValue) -> Vec<String> {
    Array::from(result)
        .iter()
        .map(|r| Reflect::get(&r, &"id".into()).unwrap().as_string().unwrap())
        .collect()
}

#[wasm_bindgen_test]
fn recommends_popular_then_personal() {
    let mut rec = Recommender::from_bytes(&clustered_bundle(4, 5, 8)).unwrap();
    assert_eq!(rec.item_count(), 20);
    let cold = rec.recommend(js(r#"{"k":3}"#)).unwrap();
    assert_eq!(ids(&cold), ["c0-i0", "c0-i1", "c0-i2"]);
    let first = Array::from(&cold).get(0);
    assert!(Reflect::get(&first, &"score".into())
        .unwrap()
        .as_f64()
        .is_some());

    rec.track(js(r#"{"type":"click","item":"c2-i1","ts":1700000000000}"#))
        .unwrap();
    rec.track(js(r#"{"type":"view","item":"c2-i3"}"#)).unwrap();
    assert_eq!(rec.session_length(), 2);
    let warm = rec.recommend(js(r#"{"k":3,"excludeSeen":true}"#)).unwrap();
    let warm = ids(&warm);
    assert_eq!(warm.len(), 3);
    assert!(
        warm.iter()
            .all(|id| cluster_of(id) == 2 && id != "c2-i1" && id != "c2-i3"),
        "{warm:?}"
    );

    rec.reset();
    assert_eq!(rec.session_length(), 0);
}

#[wasm_bindgen_test]
fn garbage_bytes_throw_a_clear_error() {
    let err = error_message(
        Recommender::from_bytes(b"definitely not a bundle")
            .err()
            .unwrap()
            .into(),
    );
    assert!(err.contains("not a valid bundle"), "{err}");
    let good = clustered_bundle(2, 2, 4);
    let err = error_message(
        Recommender::from_bytes(&good[..good.len() - 3])
            .err()
            .unwrap()
            .into(),
    );
    assert!(err.contains("not a valid bundle"), "{err}");
}

#[wasm_bindgen_test]
fn bad_events_and_options_throw_and_the_recommender_keeps_working() {
    let mut rec = Recommender::from_bytes(&clustered_bundle(2, 2, 4)).unwrap();
    let err = error_message(
        rec.track(js(r#"{"type":"view","item":"ghost"}"#))
            .err()
            .unwrap()
            .into(),
    );
    assert!(err.contains("unknown item id 'ghost'"), "{err}");
    let err = error_message(
        rec.track(js(r#"{"type":"levitate","item":"c0-i0"}"#))
            .err()
            .unwrap()
            .into(),
    );
    assert!(err.contains("unknown event type 'levitate'"), "{err}");
    let err = error_message(rec.track(js(r#"{"item":"c0-i0"}"#)).err().unwrap().into());
    assert!(err.contains("invalid event"), "{err}");
    let err = error_message(rec.recommend(js(r#"{"k":0}"#)).err().unwrap().into());
    assert!(err.contains("'k'"), "{err}");
    let err = error_message(rec.recommend(JsValue::UNDEFINED).err().unwrap().into());
    assert!(err.contains("recommend options"), "{err}");
    assert_eq!(rec.session_length(), 0);
    assert_eq!(ids(&rec.recommend(js(r#"{"k":2}"#)).unwrap()).len(), 2);
}

/// The wasm `simd128` dot product agrees with the scalar reference (random and edge inputs).
#[wasm_bindgen_test]
fn simd128_dot_matches_scalar() {
    use vitrine::kernels::{dot_i8, scalar};
    const {
        assert!(
            cfg!(target_feature = "simd128"),
            "the wasm build must enable simd128 (.cargo/config.toml)"
        )
    };
    let mut state = 0x2545_f491_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as i8
    };
    for len in [0usize, 1, 7, 15, 16, 17, 32, 63, 64, 65, 100, 257] {
        let a: Vec<i8> = (0..len).map(|_| next()).collect();
        let b: Vec<i8> = (0..len).map(|_| next()).collect();
        assert_eq!(dot_i8(&a, &b), scalar::dot_i8(&a, &b), "random, len {len}");
        for (x, y) in [(127i8, 127i8), (-128, -128), (-128, 127), (0, -128)] {
            let (a, b) = (vec![x; len], vec![y; len]);
            assert_eq!(
                dot_i8(&a, &b),
                scalar::dot_i8(&a, &b),
                "extremes {x}·{y}, len {len}"
            );
        }
    }
}
