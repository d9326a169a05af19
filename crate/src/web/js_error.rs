//! The engine's errors as JS values: an `Error` whose `message` is the core's text and whose
//! `code` names the kind ([`crate::VitrineError::code`]).

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use crate::error::VitrineError;

/// A JS `Error` (`name` `VitrineError`) with `message` and `code`.
pub(super) fn js_error(message: &str, code: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("VitrineError");
    // Setting a property on a fresh Error cannot fail; ignore the impossible error.
    let _ = Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}

/// An engine error as a JS `Error` with its code.
pub(super) fn fail(e: VitrineError) -> JsValue {
    js_error(&e.to_string(), e.code())
}
