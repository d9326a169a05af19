//! The wasm API in headless Chromium: JS values in, JS values (or JS `Error`s) out. Every request
//! option is exercised at least once through this layer; the kernels' `simd128` paths are checked
//! against the scalar ones.
#![cfg(target_arch = "wasm32")]

mod parity;
mod shop;

use js_sys::{Array, Reflect};
use shop::common::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

use vitrine::web::Recommender;

wasm_bindgen_test_configure!(run_in_browser);

fn js(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("test JSON")
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).expect("property")
}

fn error_message(err: JsValue) -> String {
    let err: js_sys::Error = err.dyn_into().expect("a JS Error");
    String::from(err.message())
}

fn error_code(err: &JsValue) -> String {
    get(err, "code").as_string().unwrap_or_default()
}

fn ids(result: &JsValue) -> Vec<String> {
    Array::from(result)
        .iter()
        .map(|r| get(&r, "id").as_string().unwrap())
        .collect()
}

fn strings(v: &JsValue) -> Vec<String> {
    Array::from(v)
        .iter()
        .map(|s| s.as_string().unwrap())
        .collect()
}

/// A recommender with privacy off (`privacy.epsilon: Infinity`): these tests check the API's
/// conversions and the ranking logic; the private mode has its own tests below.
fn open(bytes: &[u8]) -> Recommender {
    let mut rec = Recommender::from_bytes(bytes).unwrap();
    rec.configure(js(r#"{"privacy":{"epsilon":"Infinity"}}"#))
        .unwrap();
    rec
}

fn shop_rec() -> Recommender {
    open(&shop::shop_bundle())
}

#[wasm_bindgen_test]
fn recommends_popular_then_personal() {
    let mut rec = open(&clustered_bundle(4, 5, 8));
    assert_eq!(rec.item_count(), 20);
    let cold = rec.recommend(js(r#"{"k":3}"#)).unwrap();
    assert_eq!(ids(&cold), ["c0-i0", "c0-i1", "c0-i2"]);
    let first = Array::from(&cold).get(0);
    assert!(get(&first, "score").as_f64().is_some());
    assert_eq!(get(&first, "rank").as_f64(), Some(1.0));
    assert!(get(&first, "pinned").is_undefined(), "flags only when set");
    assert_eq!(strings(&get(&cold, "unknownIds")).len(), 0);
    assert_eq!(strings(&get(&cold, "warnings")).len(), 0);

    let ts = js_sys::Date::now() - 60_000.0;
    rec.track(js(&format!(
        r#"{{"type":"click","item":"c2-i1","ts":{ts}}}"#
    )))
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
    // No options: the defaults (k = 10).
    assert_eq!(ids(&rec.recommend(JsValue::UNDEFINED).unwrap()).len(), 10);

    rec.reset();
    assert_eq!(rec.session_length(), 0);
}

#[wasm_bindgen_test]
fn garbage_bytes_throw_a_clear_error() {
    let err = Recommender::from_bytes(b"definitely not a bundle")
        .err()
        .unwrap();
    assert!(error_message(err.into()).contains("not a valid bundle"));
    let good = clustered_bundle(2, 2, 4);
    let err = error_message(
        Recommender::from_bytes(&good[..good.len() - 3])
            .err()
            .unwrap()
            .into(),
    );
    assert!(err.contains("not a valid bundle"), "{err}");
    let mut rec = Recommender::from_bytes(&good).unwrap();
    let err = rec.configure(js(r#"{"maxEvents":0}"#)).err().unwrap();
    assert_eq!(error_code(&err), "invalid_option");
    assert!(error_message(err).contains("maxEvents"));
}

#[wasm_bindgen_test]
fn bad_events_and_options_throw_and_the_recommender_keeps_working() {
    let mut rec = open(&clustered_bundle(2, 2, 4));
    // A product the bundle does not know yet is normal input: kept pending, counted.
    assert!(
        rec.track(js(r#"{"type":"view","item":"ghost"}"#)).unwrap(),
        "track() says it was kept pending"
    );
    assert_eq!(rec.pending_events(), 1);
    assert_eq!(
        rec.session_length(),
        0,
        "not in the log until an update knows it"
    );
    let err = error_message(
        rec.track(js(r#"{"type":"levitate","item":"c0-i0"}"#))
            .err()
            .unwrap(),
    );
    assert!(err.contains("unknown event type 'levitate'"), "{err}");
    let err = error_message(rec.track(js(r#"{"item":"c0-i0"}"#)).err().unwrap());
    assert!(err.contains("invalid event"), "{err}");
    let err = error_message(rec.track(JsValue::UNDEFINED).err().unwrap());
    assert!(err.contains("invalid event"), "{err}");
    let err = error_message(rec.track(js("42")).err().unwrap());
    assert!(err.contains("invalid event"), "{err}");
    let err = rec
        .track(js(r#"{"type":"add_to_cart","item":"c0-i0","quantity":-2}"#))
        .err()
        .unwrap();
    assert_eq!(error_code(&err), "invalid_event");
    let err = rec.recommend(js(r#"{"k":0}"#)).err().unwrap();
    assert_eq!(error_code(&err), "invalid_option");
    assert!(error_message(err).contains("'k'"));
    let err = error_message(rec.recommend(js(r#"{"k":"ten"}"#)).err().unwrap());
    assert!(err.contains("recommend options"), "{err}");
    let err = error_message(rec.recommend(js(r#"{"kay":3}"#)).err().unwrap());
    assert!(err.contains("kay"), "{err}");
    // NaN is an error, not a silent default.
    let nan = js_sys::Object::new();
    Reflect::set(&nan, &"k".into(), &JsValue::from_f64(f64::NAN)).unwrap();
    let err = error_message(rec.recommend(nan.into()).err().unwrap());
    assert!(err.contains("NaN"), "{err}");
    let err = rec
        .recommend(js(r#"{"context":{"hour":25}}"#))
        .err()
        .unwrap();
    assert_eq!(error_code(&err), "invalid_context");
    let err = error_message(rec.similar(js("7"), JsValue::UNDEFINED).err().unwrap());
    assert!(err.contains("invalid ids"), "{err}");
    let err = error_message(
        rec.rerank(js(r#"{"a":1}"#), JsValue::UNDEFINED)
            .err()
            .unwrap(),
    );
    assert!(err.contains("invalid candidates"), "{err}");
    assert_eq!(rec.session_length(), 0);
    assert_eq!(ids(&rec.recommend(js(r#"{"k":2}"#)).unwrap()).len(), 2);
    // A known item: recorded, not pending.
    assert!(!rec.track(js(r#"{"type":"view","item":"c0-i0"}"#)).unwrap());
    assert_eq!(rec.session_length(), 1);
    assert_eq!(rec.pending_events(), 1);
}

/// `{"custom": {"deep": [[…[1]…]]}}` with `levels` arrays around the 1.
fn nested_context(levels: usize) -> JsValue {
    let mut v: JsValue = 1.into();
    for _ in 0..levels {
        let a = Array::new();
        a.push(&v);
        v = a.into();
    }
    let custom = js_sys::Object::new();
    Reflect::set(&custom, &"deep".into(), &v).unwrap();
    let context = js_sys::Object::new();
    Reflect::set(&context, &"custom".into(), &custom).unwrap();
    let options = js_sys::Object::new();
    Reflect::set(&options, &"context".into(), &context).unwrap();
    options.into()
}

/// A page's context value may nest without bound; the reader stops at 128 levels with a typed
/// error instead of running out of stack (5,000 levels broke the instance for good before), and
/// the recommender keeps working. Up to the limit the core's validation answers, as for JSON.
#[wasm_bindgen_test]
fn deeply_nested_context_values_are_errors_not_stack_overflows() {
    let mut rec = open(&clustered_bundle(2, 2, 4));
    let err = rec.recommend(nested_context(125)).err().unwrap();
    assert_eq!(error_code(&err), "invalid_context");
    assert!(error_message(err).contains("custom.deep"));
    for levels in [127, 1_000, 100_000] {
        let err = rec.recommend(nested_context(levels)).err().unwrap();
        assert_eq!(error_code(&err), "invalid_option", "{levels} levels");
        let message = error_message(err);
        assert!(message.contains("nests more than 128 levels"), "{message}");
    }
    assert_eq!(ids(&rec.recommend(js(r#"{"k":2}"#)).unwrap()).len(), 2);
}

#[wasm_bindgen_test]
fn every_request_option_through_js() {
    let mut rec = shop_rec();
    assert_eq!(rec.categories(), shop::CATEGORIES);
    assert_eq!(rec.context_features().len(), shop::CTX_FEATURES.len());
    rec.track(js(
        r#"{"type":"purchase","item":"shoes-1","quantity":1,"price":20}"#,
    ))
    .unwrap();
    rec.track(js(r#"{"type":"add_to_cart","item":"shoes-2"}"#))
        .unwrap();
    rec.track(js(r#"{"type":"view","item":"shoes-0","dwellMs":4000}"#))
        .unwrap();
    rec.track(js(r#"{"type":"search","query":"boots"}"#))
        .unwrap();
    assert_eq!(rec.session_length(), 4);

    // Defaults leave out purchased and in-cart items; the options bring them back.
    let r = ids(&rec.recommend(js(r#"{"k":24}"#)).unwrap());
    assert!(!r.contains(&"shoes-1".into()) && !r.contains(&"shoes-2".into()));
    let r = ids(&rec
        .recommend(js(
            r#"{"k":24,"excludePurchased":false,"excludeInCart":false}"#,
        ))
        .unwrap());
    assert!(r.contains(&"shoes-1".into()) && r.contains(&"shoes-2".into()));
    let r = ids(&rec.recommend(js(r#"{"k":24,"excludeSeen":true}"#)).unwrap());
    assert!(!r.contains(&"shoes-0".into()) && !r.contains(&"shoes-1".into()));

    // Context, filters, exclude, boosts, pins, diversity and explanations in one request.
    let r = rec
        .recommend(js(r#"{
            "k": 6,
            "context": {"hour": 13, "device": "desktop", "mood": "x"},
            "filters": {"excludeCategories": ["bags"], "priceMax": 50, "deny": ["socks-1"]},
            "exclude": ["hats-0", "ghost"],
            "boosts": [{"categories": ["hats"], "weight": 0.5}],
            "pins": [{"item": "shoes-4", "rank": 2}],
            "diversity": {"maxPerCategory": 2, "lambda": 0.7},
            "explain": true,
            "now": 1800000000000
        }"#))
        .unwrap();
    let got = ids(&r);
    assert_eq!(got.len(), 6, "{got:?}");
    assert_eq!(got[1], "shoes-4");
    assert!(got
        .iter()
        .all(|id| !id.starts_with("bags") && id != "socks-1" && id != "hats-0"));
    for c in ["shoes", "hats", "socks"] {
        let n = got
            .iter()
            .filter(|id| id.starts_with(c) && id.as_str() != "socks-5")
            .count();
        assert!(n <= 2, "{c}: {got:?}");
    }
    assert_eq!(strings(&get(&r, "unknownIds")), ["ghost"]);
    assert_eq!(
        strings(&get(&r, "warnings")),
        ["context key 'mood' ignored (not a context key)"]
    );
    let pinned = Array::from(&r).get(1);
    assert_eq!(get(&pinned, "pinned").as_bool(), Some(true));
    let why = get(&pinned, "why");
    assert!(Array::is_array(&get(&why, "contributions")));
    assert!(Array::is_array(&get(&why, "events")));
    let hat = Array::from(&r)
        .iter()
        .find(|x| get(x, "id").as_string().unwrap().starts_with("hats"))
        .expect("a hat");
    assert_eq!(get(&hat, "boosted").as_bool(), Some(true));

    // rerank, similar and explain.
    let r = rec
        .rerank(
            js(r#"["hats-1","nope","socks-2","hats-1"]"#),
            js(r#"{"k":5}"#),
        )
        .unwrap();
    assert_eq!(ids(&r).len(), 2);
    assert_eq!(strings(&get(&r, "unknownIds")), ["nope"]);
    assert_eq!(strings(&get(&r, "warnings")).len(), 1);
    // The results name the page's own candidates, whatever the list's path through the boundary
    // (one joined string, or each string when one holds a "\n").
    for list in [
        r#"["socks-2","hats-1","bags-3"]"#,
        r#"["socks-2","hats-1","bags-3","not\nan id"]"#,
    ] {
        let r = rec.rerank(js(list), JsValue::UNDEFINED).unwrap();
        let mut got = ids(&r);
        got.sort();
        assert_eq!(got, ["bags-3", "hats-1", "socks-2"], "{list}");
        let unknown = strings(&get(&r, "unknownIds"));
        assert_eq!(unknown.len(), usize::from(list.contains("not")), "{list}");
    }
    // A getter that throws while the options are read is an option error, not a crash.
    let throwing = js_sys::Function::new_no_args("throw new Error('boom')");
    let opts = js_sys::Object::new();
    let desc = js_sys::Object::new();
    Reflect::set(&desc, &"get".into(), &throwing).unwrap();
    Reflect::set(&desc, &"enumerable".into(), &JsValue::TRUE).unwrap();
    js_sys::Object::define_property(&opts, &"k".into(), &desc);
    let err = rec.rerank(js(r#"["hats-1"]"#), opts.into()).err().unwrap();
    assert_eq!(error_code(&err), "invalid_option");
    let msg = error_message(err);
    assert!(msg.contains("threw") && msg.contains("boom"), "{msg}");
    assert_eq!(
        ids(&rec.rerank(js(r#"["hats-1"]"#), JsValue::UNDEFINED).unwrap()),
        ["hats-1"]
    );
    let r = rec.similar(js(r#""bags-2""#), js(r#"{"k":3}"#)).unwrap();
    assert!(ids(&r).iter().all(|id| id.starts_with("bags")));
    let r = rec.similar(js(r#""gone""#), JsValue::UNDEFINED).unwrap();
    assert_eq!(strings(&get(&r, "unknownIds")), ["gone"]);
    let e = rec
        .explain(js(r#""shoes-3""#), js(r#"{"context":{"hour":13}}"#))
        .unwrap();
    assert_eq!(get(&e, "id").as_string().unwrap(), "shoes-3");
    assert!(get(&e, "score").as_f64().is_some());
    let events = Array::from(&get(&e, "events"));
    assert!(events.length() >= 1);
    let first = get(&events.get(0), "item").as_string().unwrap();
    assert!(first.starts_with("shoes-"), "{first}");
    assert!(get(&events.get(0), "contribution").as_f64().is_some());
    let err = rec
        .explain(js(r#""ghost""#), JsValue::UNDEFINED)
        .err()
        .unwrap();
    assert_eq!(error_code(&err), "unknown_item");
}

#[wasm_bindgen_test]
fn state_exports_imports_and_rejects_bad_states() {
    let mut rec = shop_rec();
    rec.track(js(r#"{"type":"view","item":"hats-1"}"#)).unwrap();
    rec.track(js(r#"{"type":"search","query":"hat"}"#)).unwrap();
    let state = rec.export_state();
    assert!(state.contains("vitrine-session"), "{state}");
    let mut other = shop_rec();
    let report = other.import_state(JsValue::from_str(&state)).unwrap();
    assert_eq!(get(&report, "imported").as_f64(), Some(2.0));
    assert_eq!(get(&report, "unknownItems").as_f64(), Some(0.0));
    assert_eq!(other.export_state(), state);
    for (bad, code) in [
        (JsValue::from_str("{oops"), "state_corrupt"),
        (
            JsValue::from_str(r#"{"format":"x","version":1}"#),
            "state_foreign",
        ),
        (
            JsValue::from_str(r#"{"format":"vitrine-session","version":99,"events":[]}"#),
            "state_too_new",
        ),
        (JsValue::from_f64(3.0), "state_corrupt"),
    ] {
        let err = other.import_state(bad).err().unwrap();
        assert_eq!(error_code(&err), code);
        assert_eq!(other.session_length(), 2, "unchanged");
    }
    assert_eq!(
        other.forget().as_f64(),
        Some(2.0),
        "a count without privacy"
    );
    assert_eq!(other.session_length(), 0);
    // Session settings.
    let mut small = Recommender::from_bytes(&shop::shop_bundle()).unwrap();
    small
        .configure(js(
            r#"{"maxEvents":1,"halfLifeS":60,"weights":{"view":0.5}}"#,
        ))
        .unwrap();
    small
        .track(js(r#"{"type":"view","item":"hats-1"}"#))
        .unwrap();
    small
        .track(js(r#"{"type":"view","item":"hats-2"}"#))
        .unwrap();
    assert_eq!(small.session_length(), 1);
    small.configure(js(r#"{"maxEvents":5}"#)).unwrap();
    let err = small
        .configure(js(r#"{"weights":{"view":"heavy"}}"#))
        .err()
        .unwrap();
    assert!(error_message(err).contains("recommender options"));
}

/// Every kernel table of this build (scalar and `simd128`) passes the one kernel checker.
#[wasm_bindgen_test]
fn every_kernel_table_passes_the_checker() {
    use vitrine::kernels;
    const {
        assert!(
            cfg!(target_feature = "simd128"),
            "the wasm build must enable simd128 (.cargo/config.toml)"
        )
    };
    assert_eq!(kernels::active_isa(), "simd128");
    let names: Vec<&str> = kernels::available().iter().map(|k| k.isa).collect();
    assert_eq!(names, ["scalar", "simd128"]);
    for k in kernels::available() {
        kernels::check::check(k).unwrap();
    }
}

/// The default recommender is private: it draws its noise from `crypto.getRandomValues`, reports
/// its accountant, stores it with the session, and takes `Infinity` only as an explicit option.
#[wasm_bindgen_test]
fn private_by_default_with_status_budget_and_state() {
    let mut rec = Recommender::from_bytes(&shop::shop_bundle()).unwrap();
    let status = rec.privacy_status();
    assert_eq!(get(&status, "private").as_bool(), Some(true));
    assert_eq!(
        get(&status, "mechanism").as_string().unwrap(),
        "exponential"
    );
    assert_eq!(get(&status, "unit").as_string().unwrap(), "device");
    assert!(get(&status, "lastSource").is_null());
    // The whole history as the unit (the page's events are private too): every change releases.
    rec.configure(js(
        r#"{"privacy":{"unit":"history","epsilon":2,"budget":{"epsilon":4,"period":"session"},"mechanism":"exponential"}}"#,
    ))
    .unwrap();
    rec.track(js(r#"{"type":"view","item":"hats-1"}"#)).unwrap();
    // Fresh releases draw from the browser's CSPRNG: two recommenders with the same history
    // disagree on some of 40 anchors (they would never all agree by chance).
    let first = ids(&rec.recommend(js(r#"{"k":1}"#)).unwrap());
    let status = rec.privacy_status();
    assert_eq!(get(&status, "lastSource").as_string().unwrap(), "fresh");
    let budget = get(&status, "budget");
    assert_eq!(get(&budget, "spentEpsilon").as_f64(), Some(2.0));
    assert_eq!(get(&budget, "remainingEpsilon").as_f64(), Some(2.0));
    assert_eq!(get(&status, "releasesLeft").as_f64(), Some(1.0));
    let mut differ = false;
    for _ in 0..40 {
        let mut other = Recommender::from_bytes(&shop::shop_bundle()).unwrap();
        other
            .configure(js(r#"{"privacy":{"unit":"history","epsilon":0.5}}"#))
            .unwrap();
        other
            .track(js(r#"{"type":"view","item":"hats-1"}"#))
            .unwrap();
        differ |= ids(&other.recommend(js(r#"{"k":1}"#)).unwrap()) != first;
    }
    assert!(differ);
    // Unchanged history: the same release again, nothing spent.
    assert_eq!(ids(&rec.recommend(js(r#"{"k":1}"#)).unwrap()), first);
    assert_eq!(
        get(&rec.privacy_status(), "lastSource")
            .as_string()
            .unwrap(),
        "cached"
    );
    // The accountant and the last release travel with the stored session.
    let saved = rec.export_state();
    assert!(
        saved.contains(r#""privacy":{"accountant":{"rhoUnits""#),
        "{saved}"
    );
    let mut restored = Recommender::from_bytes(&shop::shop_bundle()).unwrap();
    restored
        .configure(js(
            r#"{"privacy":{"unit":"history","epsilon":2,"budget":{"epsilon":4,"period":"session"}}}"#,
        ))
        .unwrap();
    restored.import_state(JsValue::from_str(&saved)).unwrap();
    let b = get(&restored.privacy_status(), "budget");
    assert_eq!(get(&b, "spentEpsilon").as_f64(), Some(2.0));
    let corrupt = saved.replace(r#""releases":1"#, r#""releases":"one""#);
    let err = restored
        .import_state(JsValue::from_str(&corrupt))
        .err()
        .unwrap();
    assert_eq!(error_code(&err), "state_corrupt");
    // Infinity (a JS number) is the explicit non-private mode; bad options are errors.
    let opts = js(r#"{"privacy":{}}"#);
    Reflect::set(
        &get(&opts, "privacy"),
        &"epsilon".into(),
        &f64::INFINITY.into(),
    )
    .unwrap();
    rec.configure(opts).unwrap();
    assert_eq!(get(&rec.privacy_status(), "private").as_bool(), Some(false));
    for bad in [
        r#"{"privacy":{"epsilon":-1}}"#,
        r#"{"privacy":{"epsilon":1,"budget":{"period":"week"}}}"#,
        r#"{"privacy":{"epsilon":1,"colour":1}}"#,
    ] {
        let err = rec.configure(js(bad)).err().unwrap();
        assert_eq!(error_code(&err), "invalid_option", "{bad}");
    }
}

/// With privacy on, nothing the page can read tells the stored record's size: `importState()` and
/// `forget()` return `null`, `sessionLength` counts only what the page provided. `joinStored()`
/// takes another tab's stored state and rejects what it cannot use.
#[wasm_bindgen_test]
fn private_mode_hides_the_stored_record_size() {
    let mut first = Recommender::from_bytes(&shop::shop_bundle()).unwrap();
    first
        .track(js(r#"{"type":"view","item":"hats-1"}"#))
        .unwrap();
    first
        .track(js(r#"{"type":"view","item":"hats-2"}"#))
        .unwrap();
    assert_eq!(first.session_length(), 2, "the page's own events");
    let stored = first.export_state();
    let mut rec = Recommender::from_bytes(&shop::shop_bundle()).unwrap();
    assert!(rec
        .import_state(JsValue::from_str(&stored))
        .unwrap()
        .is_null());
    assert_eq!(
        rec.session_length(),
        0,
        "restored events are the device's, not the page's"
    );
    rec.track(js(r#"{"type":"view","item":"shoes-1"}"#))
        .unwrap();
    assert_eq!(rec.session_length(), 1);
    rec.join_stored(JsValue::from_str(&stored)).unwrap();
    for (bad, code) in [
        (JsValue::from_str("{oops"), "state_corrupt"),
        (JsValue::from_str("[]"), "state_corrupt"),
        (JsValue::from_f64(1.0), "state_corrupt"),
        (
            JsValue::from_str(r#"{"format":"x","version":1}"#),
            "state_foreign",
        ),
    ] {
        let err = rec.join_stored(bad).err().unwrap();
        assert_eq!(error_code(&err), code);
    }
    assert!(rec.forget().is_null());
    assert_eq!(rec.session_length(), 0);
}

fn scores(result: &JsValue) -> Vec<f64> {
    Array::from(result)
        .iter()
        .map(|r| get(&r, "score").as_f64().unwrap())
        .collect()
}

#[wasm_bindgen_test]
fn rerank_answers_the_same_every_time() {
    let mut rec = shop_rec();
    rec.track(js(r#"{"type":"click","item":"hats-2","ts":1700000000000}"#))
        .unwrap();
    let now = js(r#"{"now":1700000060000}"#);
    let list = js(r#"["socks-2","nope","hats-1","bags-3","hats-1","multi\nline"]"#);
    let first = rec.rerank(list.clone(), now.clone()).unwrap();
    let again = rec.rerank(list.clone(), now.clone()).unwrap();
    assert_eq!(ids(&first), ids(&again));
    assert_eq!(scores(&first), scores(&again));
    assert_eq!(ids(&first)[0], "hats-1", "the session's category first");
    for r in [&first, &again] {
        assert_eq!(strings(&get(r, "unknownIds")), ["nope", "multi\nline"]);
        assert_eq!(
            strings(&get(r, "warnings")),
            ["duplicate candidate ids ranked once: 'hats-1'"]
        );
    }
    // The same ids in another order, and known ids mixed with new ones.
    let r = rec
        .rerank(js(r#"["bags-3","hats-1","socks-2"]"#), now.clone())
        .unwrap();
    assert_eq!(ids(&r), ids(&first));
    let r = rec
        .rerank(
            js(r#"["shoes-0","bags-3","nope","hats-3"]"#),
            JsValue::UNDEFINED,
        )
        .unwrap();
    let mut got = ids(&r);
    got.sort();
    assert_eq!(got, ["bags-3", "hats-3", "shoes-0"]);
    assert_eq!(strings(&get(&r, "unknownIds")), ["nope"]);
    // A list with a non-string is an error, whatever came before.
    let err = rec
        .rerank(js(r#"["hats-1", 5]"#), JsValue::UNDEFINED)
        .err()
        .unwrap();
    assert_eq!(error_code(&err), "invalid_option");
    // Each recommender answers from its own bundle.
    let mut other = open(&clustered_bundle(4, 5, 8));
    let r = other
        .rerank(js(r#"["hats-1","c1-i2","c0-i0"]"#), JsValue::UNDEFINED)
        .unwrap();
    let mut got = ids(&r);
    got.sort();
    assert_eq!(got, ["c0-i0", "c1-i2"]);
    assert_eq!(strings(&get(&r, "unknownIds")), ["hats-1"]);
}

/// The wire parity corpus through both readers in the browser: the wasm reader over JS values and
/// serde over the same JSON give equal values, or errors with the same code — and the expected one.
#[wasm_bindgen_test]
fn the_wasm_reader_and_serde_agree_on_the_corpus() {
    use vitrine::web::boundary;
    let model = vitrine::Model::from_bytes(shop::shop_bundle()).expect("shop bundle");
    for case in parity::corpus() {
        let value = js_sys::JSON::parse(&case.json.to_string()).expect("JSON");
        let js = match case.kind.as_str() {
            "rank" => boundary::rank_options(value, "options").map(parity::Read::Rank),
            "settings" => boundary::shopper_options(value).map(parity::Read::Settings),
            "event" => boundary::event(value).map(parity::Read::Event),
            "state" => boundary::stored_state(value).map(parity::Read::State),
            other => panic!("unknown kind {other}"),
        };
        let native = parity::native_read(&case.kind, &case.json);
        if let (Ok(a), Ok(b)) = (&js, &native) {
            assert_eq!(
                a, b,
                "{} {}: the readers read different values",
                case.kind, case.json
            );
        }
        let (js, native) = (parity::outcome(&model, js), parity::outcome(&model, native));
        assert_eq!(js, native, "{} {}", case.kind, case.json);
        let label = match &js {
            Ok(_) => "ok",
            Err(code) => code,
        };
        assert_eq!(label, case.expect, "{} {}", case.kind, case.json);
    }
}
