//! Bundle errors through the wasm API in headless Chromium: every rejection reaches JS as an
//! `Error` whose message names the problem, and the page keeps working (a good bundle loads after
//! any number of bad ones). Plus the browser load-time bench (ignored by default):
//! `cargo test --release --target wasm32-unknown-unknown -p vitrine --test bundle_web -- --include-ignored`
#![cfg(target_arch = "wasm32")]

mod bundle_fixtures;

use bundle_fixtures::*;
use sha2::Digest as _;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

use vitrine::bundle::{digest, write_bundle, BundleOptions, BundleParts};
use vitrine::web::{Recommender, WebBundleStream};
use vitrine::Bundle;

wasm_bindgen_test_configure!(run_in_browser);

fn load_error(bytes: &[u8]) -> String {
    let err: JsValue = Recommender::from_bytes(bytes)
        .err()
        .expect("bundle should be rejected")
        .into();
    let err: js_sys::Error = err.dyn_into().expect("a JS Error");
    String::from(err.message())
}

#[wasm_bindgen_test]
fn every_rejection_is_a_js_error_naming_the_problem() {
    let good = base_bundle();
    let mut tampered = good.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let mut huge_header = good.clone();
    huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut beyond = good.clone();
    beyond[..8].copy_from_slice(&(good.len() as u64).to_le_bytes());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..5].to_vec(), "truncated"),
        (good[..good.len() - 3].to_vec(), "truncated"),
        (beyond, "beyond the end of the file"),
        (huge_header, "header length"),
        (with_meta("format_version", Some("7")), "format_version '7'"),
        (with_meta("format", Some("onnx")), "format is 'onnx'"),
        (with_meta("required", Some("hologram")), "'hologram'"),
        (tampered, "digest mismatch"),
        (
            assemble(&base_meta(), &base_tensors(), false),
            "'digest' is missing",
        ),
        (
            with_tensor(t("item_scale", "F32", &[3], f32s(&[0.1, f32::NAN, 0.1]))),
            "'item_scale' holds an invalid value at index 1",
        ),
        (
            with_tensor(t("item_emb", "F32", &[3, 2], vec![0; 24])),
            "'item_emb' has dtype F32, expected I8",
        ),
        (
            with_tensor(t("item_pop", "F32", &[2], f32s(&[1.0, 2.0]))),
            "'item_pop' has shape [2]",
        ),
        (
            with_tensor(t("item_ids", "U8", &[5], b"a\nb\na".to_vec())),
            "duplicate id 'a'",
        ),
        (
            with_tensor(t("item_ids", "U8", &[5], b"a\nb\n\xff".to_vec())),
            "not UTF-8",
        ),
        (
            with_tensor(t("nbr_items", "U16", &[3], u16s(&[1, 2, 1]))),
            "lists itself",
        ),
        (
            with_tensor(t("nbr_offsets", "U32", &[4], u32s(&[0, 2, 1, 3]))),
            "'nbr_offsets'",
        ),
    ];
    for (bytes, needle) in &cases {
        let message = load_error(bytes);
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    }
    // The page keeps working: a good bundle loads and recommends after all of that.
    let rec = Recommender::from_bytes(&good).expect("good bundle");
    assert_eq!(rec.item_count(), 3);
}

/// The `code` and `message` of a JS error.
fn code_and_message(err: JsValue) -> (String, String) {
    let code = js_sys::Reflect::get(&err, &"code".into())
        .ok()
        .and_then(|c| c.as_string())
        .unwrap_or_default();
    let err: js_sys::Error = err.dyn_into().expect("a JS Error");
    (code, String::from(err.message()))
}

/// `b` as the page hands it over: a `Uint8Array`.
fn u8s(b: &[u8]) -> JsValue {
    js_sys::Uint8Array::from(b).into()
}

/// `bytes` pushed into a `BundleStream` in chunks of `chunk`, hashed as they come, then loaded.
fn streamed(bytes: &[u8], chunk: usize) -> Result<Recommender, JsValue> {
    let mut stream = WebBundleStream::new(Some(bytes.len() as u32), None);
    for c in bytes.chunks(chunk) {
        stream.push(u8s(c))?;
        stream.hash(100);
    }
    Recommender::from_stream(stream, JsValue::UNDEFINED)
}

#[wasm_bindgen_test]
fn a_streamed_bundle_loads_and_a_bad_stream_is_a_coded_error() {
    let good = write_bundle(&full_parts(3, 4, 8)).unwrap();
    let rec = streamed(&good, 7).expect("a good bundle streams in");
    assert_eq!(rec.item_count(), 12);
    let mut tampered = good.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let (code, message) = code_and_message(streamed(&tampered, 64).err().unwrap());
    assert_eq!(code, "bundle");
    assert!(message.contains("digest mismatch"), "{message}");
    let (code, message) = code_and_message(streamed(&good[..good.len() - 1], 64).err().unwrap());
    assert_eq!(
        (code.as_str(), message.contains("truncated")),
        ("bundle", true),
        "{message}"
    );
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let (code, message) = code_and_message(streamed(&huge, 64).err().unwrap());
    assert_eq!(
        (code.as_str(), message.contains("header length")),
        ("bundle", true),
        "{message}"
    );
    let mut longer = good.clone();
    longer.push(0);
    let (code, message) = code_and_message(streamed(&longer, 64).err().unwrap());
    assert_eq!(code, "bundle", "{message}");
    // A bad option is refused before the bytes are used.
    let mut stream = WebBundleStream::new(None, None);
    stream.push(u8s(&good)).unwrap();
    let bad_option = js_sys::JSON::parse(r#"{"computedDigest":"sha256:abc"}"#).unwrap();
    let (code, _) = code_and_message(Recommender::from_stream(stream, bad_option).err().unwrap());
    assert_eq!(code, "invalid_option");
    // In file order: the file's SHA-256, once, after the last byte; then a load without the digest.
    let mut stream = WebBundleStream::new(None, Some(true));
    stream.push(u8s(&good[..100])).unwrap();
    assert_eq!(stream.file_sha256(), None);
    stream.push(u8s(&good[100..])).unwrap();
    let sha: [u8; 32] = sha2::Sha256::digest(&good).into();
    assert_eq!(stream.file_sha256().as_deref(), Some(&sha[..]));
    assert_eq!(stream.file_sha256(), None, "asked once");
    let off = js_sys::JSON::parse(r#"{"verifyDigest":false}"#).unwrap();
    assert!(Recommender::from_stream(stream, off).is_ok());
}

#[wasm_bindgen_test]
fn optional_parts_and_f16_load_in_the_browser() {
    let b = Bundle::from_bytes(write_bundle(&full_parts(3, 4, 8)).unwrap()).unwrap();
    assert!(b.has_neighbours() && b.ctx_weights().is_some() && b.head().is_some());
    let b = Bundle::from_bytes(base_bundle()).unwrap();
    assert_eq!(b.category_names().unwrap(), ["shoes", "hats"]);
}

/// `performance.now()` in milliseconds.
fn now_ms() -> f64 {
    let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).expect("performance");
    let now: js_sys::Function = js_sys::Reflect::get(&perf, &"now".into())
        .expect("now")
        .dyn_into()
        .expect("function");
    now.call0(&perf).expect("now()").as_f64().expect("a number")
}

/// Load time of a 43,097 × 64 bundle in the browser: digest alone, load with and without digest
/// verification (median of 15 runs each). Prints the figures; asserts nothing about speed.
#[wasm_bindgen_test]
#[ignore]
fn bench_load_43097x64() {
    const N: usize = 43_097;
    const D: usize = 64;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let bytes = write_bundle(&BundleParts {
        ids: (0..N).map(|i| (100_000 + i * 7).to_string()).collect(),
        dim: D,
        embeddings: (0..N * D).map(|_| next()).collect(),
        popularity: (0..N).map(|i| (N - i) as f32).collect(),
        ..Default::default()
    })
    .unwrap();
    let median = |f: &mut dyn FnMut()| {
        let mut times: Vec<f64> = (0..15)
            .map(|_| {
                let t = now_ms();
                f();
                now_ms() - t
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let digest_ms = median(&mut || {
        digest::compute(&bytes).unwrap();
    });
    let verified_ms = median(&mut || {
        Bundle::from_bytes(bytes.clone()).unwrap();
    });
    let unverified = BundleOptions {
        verify_digest: false,
        computed_digest: None,
    };
    let unverified_ms = median(&mut || {
        Bundle::from_bytes_with(bytes.clone(), &unverified).unwrap();
    });
    let js_ms = median(&mut || {
        Recommender::from_bytes(&bytes).unwrap();
    });
    let line = format!(
        "bundle 43097x64 ({} bytes) in the browser, median of 15: digest {digest_ms:.2} ms, load verified {verified_ms:.2} ms, unverified {unverified_ms:.2} ms, Recommender.fromBytes {js_ms:.2} ms",
        bytes.len()
    );
    console_log!("{line}");
    web_sys::console::log_1(&line.into());
}
