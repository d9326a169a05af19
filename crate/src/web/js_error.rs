//! The engine's errors as JS values: an `Error` whose `message` is the core's text and whose
//! `code` names the kind ([`crate::VitrineError::code`]; the experiments' errors add `path`).

use wasm_bindgen::prelude::*;

#[cfg(feature = "web-engine")]
use crate::error::VitrineError;

// The error's fields are defined on it, not assigned: with `Error.prototype` frozen (`Object.freeze`,
// a SES `lockdown()`), assigning `name` throws a TypeError, which went through the wasm frames
// mid-call and left the recommender's borrow held: every later call failed with "recursive use
// of an object".
#[wasm_bindgen(inline_js = r#"
export function vitrine_error(message, code, path) {
  const e = new Error(message);
  const own = (k, v) => {
    try {
      Object.defineProperty(e, k, { value: v, writable: true, enumerable: true, configurable: true });
    } catch {}
  };
  own('name', 'VitrineError');
  own('code', code);
  if (path !== undefined) own('path', path);
  return e;
}
"#)]
extern "C" {
    /// `new Error(message)` with own `name` (`VitrineError`), `code` and, when given, `path`.
    /// Never throws.
    fn vitrine_error(message: &str, code: &str, path: Option<String>) -> JsValue;
}

/// A JS `Error` (`name` `VitrineError`) with `message` and `code`.
#[cfg(feature = "web-engine")]
pub(super) fn js_error(message: &str, code: &str) -> JsValue {
    vitrine_error(message, code, None)
}

/// A JS `Error` (`name` `VitrineError`) with `message`, `code` and `path`.
#[cfg(feature = "web-experiments")]
pub(super) fn js_error_at(message: &str, code: &str, path: String) -> JsValue {
    vitrine_error(message, code, Some(path))
}

/// An engine error as a JS `Error` with its code.
#[cfg(feature = "web-engine")]
pub(super) fn fail(e: VitrineError) -> JsValue {
    js_error(&e.to_string(), e.code())
}
