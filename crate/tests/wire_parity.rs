//! The wire parity corpus through the native (serde) reader: every entry gives its expected
//! outcome. The browser runs the same corpus through the wasm reader too (`tests/web.rs`).

#![cfg(not(target_arch = "wasm32"))]

mod parity;
mod shop;

use vitrine::Model;

#[test]
fn the_native_reader_gives_every_expected_outcome() {
    let model = Model::from_bytes(shop::shop_bundle()).expect("shop bundle");
    let cases = parity::corpus();
    assert!(cases.len() > 80);
    for case in &cases {
        let got = parity::outcome(&model, parity::native_read(&case.kind, &case.json));
        let label = match &got {
            Ok(_) => "ok",
            Err(code) => code,
        };
        assert_eq!(label, case.expect, "{} {}: {got:?}", case.kind, case.json);
    }
}
