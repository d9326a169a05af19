//! Hostile JS values at the wasm boundary, in headless Chromium: lists too long to read (a sparse
//! array of length 2³² − 1), ids too long to copy, getters and proxies that throw. Each is an
//! error with a code, never a panic or a JS exception through the wasm frames, and the
//! recommender keeps answering.
#![cfg(target_arch = "wasm32")]

mod shop;

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

use vitrine::web::Recommender;

wasm_bindgen_test_configure!(run_in_browser);

/// The value `body` (a JS function body) returns.
fn eval(body: &str) -> JsValue {
    Function::new_no_args(body)
        .call0(&JsValue::NULL)
        .expect("test JS")
}

fn message_and_code(err: JsValue) -> (String, String) {
    let code = Reflect::get(&err, &"code".into())
        .ok()
        .and_then(|c| c.as_string())
        .unwrap_or_default();
    let err: js_sys::Error = err.dyn_into().expect("a JS Error");
    (String::from(err.message()), code)
}

fn ids(result: &JsValue) -> Vec<String> {
    Array::from(result)
        .iter()
        .map(|r| Reflect::get(&r, &"id".into()).unwrap().as_string().unwrap())
        .collect()
}

fn open() -> Recommender {
    let mut rec = Recommender::from_bytes(&shop::shop_bundle()).unwrap();
    rec.configure(eval("return {privacy: {epsilon: Infinity}}"))
        .unwrap();
    rec
}

/// Arrays the page may hand `rerank`, and what the error says.
const HOSTILE_LISTS: [(&str, &str); 6] = [
    // Sparse: nothing to read, and a reservation for 2³² − 1 ids overflowed before.
    (
        "const a = []; a.length = 2 ** 32 - 1; return a",
        "at most 1000000 items, got 4294967295",
    ),
    (
        "const a = ['hats-1']; a.length = 2 ** 32 - 1; return a",
        "at most 1000000 items",
    ),
    (
        "return new Array(1000001).fill('hats-1')",
        "at most 1000000 items, got 1000001",
    ),
    // 3 × 2²⁵ characters: more than the engine copies (2²⁶).
    (
        "return new Array(3).fill('x'.repeat(2 ** 25))",
        "the ids hold 100663296 characters, at most 67108864",
    ),
    // More than a JS string holds: `join` throws a RangeError.
    (
        "return new Array(40).fill('x'.repeat(2 ** 25))",
        "reading it threw",
    ),
    (
        "return new Proxy(['hats-1'], {get(t, k) { if (k === 'length') throw new Error('boom'); return t[k]; }})",
        "reading it threw: boom",
    ),
];

#[wasm_bindgen_test]
fn hostile_candidate_lists_are_errors_and_the_recommender_keeps_working() {
    let mut rec = open();
    for (list, expected) in HOSTILE_LISTS {
        let err = rec.rerank(eval(list), JsValue::UNDEFINED).expect_err(list);
        let (message, code) = message_and_code(err);
        assert_eq!(code, "invalid_option", "{list}");
        assert!(
            message.starts_with("invalid candidates: ") && message.contains(expected),
            "{list}: {message}"
        );
        let r = rec
            .rerank(eval("return ['hats-1', 'bags-2']"), JsValue::UNDEFINED)
            .unwrap();
        assert_eq!(ids(&r).len(), 2, "after {list}");
    }
    // `similar` reads its ids the same way.
    let err = rec
        .similar(eval(HOSTILE_LISTS[0].0), JsValue::UNDEFINED)
        .expect_err("sparse");
    assert!(message_and_code(err).0.contains("at most 1000000 items"));
}

#[wasm_bindgen_test]
fn a_list_that_reads_differently_later_still_names_the_items() {
    let mut rec = open();
    // Read once to check, once to join; the third read (the results naming the page's strings)
    // throws: the results then name the bundle's ids, the same strings.
    let list = eval(
        "let n = 0; const a = ['bags-2', 'hats-1'];
         Object.defineProperty(a, 0, {get() { if (++n > 2) throw new Error('third'); return 'bags-2'; }});
         return a",
    );
    let mut got = ids(&rec.rerank(list, JsValue::UNDEFINED).unwrap());
    got.sort();
    assert_eq!(got, ["bags-2", "hats-1"]);
    // A getter that gives a string to the check and a number later: the join makes it text,
    // an id the bundle does not know.
    let list = eval(
        "let n = 0; const a = ['hats-1', 'x'];
         Object.defineProperty(a, 1, {get() { return ++n > 1 ? 42 : 'x'; }});
         return a",
    );
    let r = rec.rerank(list, JsValue::UNDEFINED).unwrap();
    assert_eq!(ids(&r), ["hats-1"]);
    // An id with a line break goes through the copy of each string.
    let r = rec
        .rerank(eval("return ['hats-1', 'a\\nb']"), JsValue::UNDEFINED)
        .unwrap();
    assert_eq!(ids(&r), ["hats-1"]);
    let unknown = Reflect::get(&r, &"unknownIds".into()).unwrap();
    assert_eq!(Array::from(&unknown).get(0).as_string().unwrap(), "a\nb");
}

#[wasm_bindgen_test]
fn hostile_option_values_are_option_errors() {
    let mut rec = open();
    let sparse = "(() => { const a = []; a.length = 2 ** 32 - 1; return a; })()";
    let throwing_list =
        "new Proxy([], {get(t, k) { if (k === 'length') throw new Error('boom'); return t[k]; }})";
    let throwing_object = "new Proxy({}, {ownKeys() { throw new Error('keys'); }})";
    for (options, expected) in [
        (
            format!("return {{exclude: {sparse}}}"),
            "at most 1000000 items",
        ),
        (
            format!("return {{boosts: {sparse}}}"),
            "at most 1000000 items",
        ),
        (
            format!("return {{boosts: {throwing_list}}}"),
            "reading it threw: boom",
        ),
        (
            format!("return {{exclude: {throwing_list}}}"),
            "reading it threw: boom",
        ),
        (
            format!("return {{context: {{segment: {sparse}}}}}"),
            "at most 1000000 items",
        ),
        (
            format!("return {{context: {throwing_object}}}"),
            "reading it threw: keys",
        ),
        (
            format!("return {{context: {{nested: {throwing_object}}}}}"),
            "reading it threw: keys",
        ),
        (
            "const p = Proxy.revocable({}, {}); p.revoke(); return {context: p.proxy}".into(),
            "reading it threw",
        ),
        // One list repeated by reference: 2⁶⁰ elements from 60 small arrays.
        (
            "let v = 0; for (let i = 0; i < 60; i++) v = [v, v]; return {context: {custom: {x: v}}}"
                .into(),
            "too large: more than 65536",
        ),
        // One string of 2²⁵ characters, ten times: 2²⁶ is the most one read copies.
        (
            "const item = 'x'.repeat(2 ** 25); return {pins: Array(10).fill({item, rank: 1})}"
                .into(),
            "too large: more than 67108864",
        ),
        (
            "const items = new Array(300000).fill('x'.repeat(100)); return {boosts: Array(10).fill({items, weight: 1})}"
                .into(),
            "too large: more than 67108864",
        ),
    ] {
        let err = rec.recommend(eval(&options)).expect_err(&options);
        let (message, code) = message_and_code(err);
        assert_eq!(code, "invalid_option", "{options}: {message}");
        assert!(message.contains(expected), "{options}: {message}");
    }
    assert_eq!(ids(&rec.recommend(eval("return {k: 3}")).unwrap()).len(), 3);
}

/// Bytes the page may hand `fromBytes`, `applyUpdate`, `digestPlan` and `BundleStream.push`:
/// more than a 32-bit memory holds (the glue's allocator trapped the module: `unreachable`),
/// values that hold no bytes (a string was read as its length in zeros), views whose
/// properties throw. Each is an error with a code, and the engine keeps loading.
#[wasm_bindgen_test]
fn hostile_bytes_are_errors_and_loading_still_works() {
    use vitrine::web::WebBundleStream;
    let good = shop::shop_bundle();
    let as_js = |b: &[u8]| JsValue::from(js_sys::Uint8Array::from(b));
    // (`push` words the memory error as the stream's own: "cannot load the bundle: the bundle
    // needs 2147483647 bytes, …"; the others as "the bundle is 2147483647 bytes: …".)
    let cases: [(&str, &str, &str); 6] = [
        (
            "return new Uint8Array(2 ** 31)",
            "bundle",
            "is 2147483648 bytes: more than the engine's memory can hold (at most 2147483647 bytes)",
        ),
        // Within the limit, but the allocator cannot find the room: refused, not a trap.
        (
            "return new Uint8Array(2 ** 31 - 1)",
            "bundle",
            "2147483647 bytes",
        ),
        ("return 'a bundle'", "invalid_argument", "expected a Uint8Array"),
        ("return {length: 2 ** 31}", "invalid_argument", "expected a Uint8Array"),
        ("return [1, 2, 3]", "invalid_argument", "expected a Uint8Array"),
        (
            "const u = new Uint8Array(8); Object.defineProperty(u, 'buffer', {get() { throw new Error('gone'); }}); return u",
            "invalid_argument",
            "reading it threw: gone",
        ),
    ];
    let mut rec = open();
    for (js, want_code, want) in cases {
        let v = eval(js);
        let check = |what: &str, err: JsValue| {
            let (message, code) = message_and_code(err);
            assert_eq!(code, want_code, "{what} {js}: {message}");
            assert!(message.contains(want), "{what} {js}: {message}");
        };
        check(
            "fromBytes",
            Recommender::from_bytes_with(v.clone(), JsValue::UNDEFINED)
                .err()
                .expect(js),
        );
        check(
            "applyUpdate",
            rec.apply_update(v.clone(), JsValue::UNDEFINED)
                .expect_err(js),
        );
        check(
            "digestPlan",
            Recommender::digest_plan(v.clone(), 100.0).expect_err(js),
        );
        let mut stream = WebBundleStream::new(None, None);
        check("push", stream.push(v).expect_err(js));
    }
    // Every kind of view over the bytes loads: an ArrayBuffer, a DataView, a Uint8Array that
    // views part of a larger buffer.
    let u8 = js_sys::Uint8Array::from(good.as_slice());
    Reflect::set(&js_sys::global(), &"vitrineTestBundle".into(), &u8).unwrap();
    for js in [
        "return globalThis.vitrineTestBundle.slice().buffer",
        "const u = globalThis.vitrineTestBundle; return new DataView(u.slice().buffer)",
        "const u = globalThis.vitrineTestBundle; const b = new Uint8Array(u.length + 7); b.set(u, 5); return b.subarray(5, 5 + u.length)",
    ] {
        let loaded = Recommender::from_bytes_with(eval(js), JsValue::UNDEFINED);
        assert!(loaded.is_ok(), "{js}");
    }
    // The stream takes the chunks of a good bundle after the refusals above.
    let mut stream = WebBundleStream::new(None, None);
    let (a, b) = good.split_at(good.len() / 2);
    stream.push(as_js(a)).unwrap();
    stream.push(as_js(b)).unwrap();
    assert!(Recommender::from_stream(stream, JsValue::UNDEFINED).is_ok());
    assert_eq!(ids(&rec.recommend(eval("return {k: 3}")).unwrap()).len(), 3);
}

/// One string too long to copy (more characters than the ids of a whole list may hold), given
/// where the engine takes a single string: `explain`'s id, `similar`'s id, `importState`'s JSON.
/// A string of 2²⁹ characters was copied by wasm-bindgen's allocator and trapped the module,
/// leaving the recommender's borrow held. Each is now an error with a code, and the recommender
/// keeps answering.
#[wasm_bindgen_test]
fn one_string_too_long_is_an_error_and_the_recommender_keeps_working() {
    let mut rec = open();
    let long = eval("return 'x'.repeat(2 ** 26 + 1)");
    let (message, code) = message_and_code(
        rec.explain(long.clone(), JsValue::UNDEFINED)
            .expect_err("explain"),
    );
    assert_eq!(code, "invalid_option", "{message}");
    assert!(
        message.contains("67108865 characters, at most 67108864"),
        "{message}"
    );
    let (message, code) = message_and_code(
        rec.similar(long.clone(), JsValue::UNDEFINED)
            .expect_err("similar"),
    );
    assert_eq!(code, "invalid_option", "{message}");
    assert!(message.contains("67108865 characters"), "{message}");
    let (message, code) = message_and_code(rec.import_state(long).expect_err("importState"));
    assert_eq!(code, "state_corrupt", "{message}");
    assert!(message.contains("too long"), "{message}");
    assert_eq!(ids(&rec.recommend(eval("return {k: 3}")).unwrap()).len(), 3);
}
