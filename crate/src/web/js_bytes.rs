//! Bytes from the page (a bundle, a catalog update, a stream's chunk, a header) copied into the
//! wasm memory by the engine rather than by wasm-bindgen's glue. The glue allocates with an
//! allocator that aborts when the memory cannot grow: a 2 GiB `Uint8Array` (or any buffer on a
//! device short of memory) trapped the module (`RuntimeError: unreachable`). Here the length is
//! checked first, the room is reserved with `try_reserve_exact`, and both failures are coded
//! errors; anything but a `Uint8Array`, another typed array, a `DataView` or an `ArrayBuffer` is
//! refused by name instead of being read as its `length` zeros. One copy, like the glue's.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use super::js_error::js_error;
use crate::numfmt::Num;

#[wasm_bindgen(inline_js = r#"
export function vitrine_bytes(v, max) {
  try {
    let u;
    if (ArrayBuffer.isView(v)) u = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    else if (Object.prototype.toString.call(v) === '[object ArrayBuffer]') u = new Uint8Array(v);
    else return undefined;
    return u.length > max ? u.length : u;
  } catch (e) {
    try {
      return e instanceof Error ? e.message : String(e);
    } catch {
      return 'an exception';
    }
  }
}
"#)]
extern "C" {
    /// A `Uint8Array` over the bytes of `v` (a typed array, a `DataView`, an `ArrayBuffer`, of
    /// this realm or another), or its length when over `max`, or `undefined` for anything else,
    /// or why reading it threw (a string). Never throws.
    fn vitrine_bytes(v: &JsValue, max: f64) -> JsValue;
}

/// Most bytes one argument may hold: the largest `Vec` a 32-bit address space allows (2 GiB − 1).
/// The wasm memory is 4 GiB at most, and a bundle needs room beside its bytes.
const MAX_BYTES: usize = isize::MAX as usize;

/// A `Uint8Array` over the bytes of `value`, or a JS `Error` (`code`: `invalid_argument` for a
/// value that holds no bytes, `code` for one over [`MAX_BYTES`]) naming `what`.
pub(super) fn byte_view(value: &JsValue, what: &str, code: &str) -> Result<Uint8Array, JsValue> {
    let got = vitrine_bytes(value, MAX_BYTES as f64);
    if let Some(n) = got.as_f64() {
        return Err(js_error(
            &format!(
                "{what} is {} bytes: more than the engine's memory can hold (at most {} bytes)",
                Num(n),
                Num(MAX_BYTES as f64)
            ),
            code,
        ));
    }
    if let Some(why) = got.as_string() {
        return Err(js_error(
            &format!("{what}: reading it threw: {why}"),
            "invalid_argument",
        ));
    }
    if !got.is_object() {
        return Err(js_error(
            &format!("{what}: expected a Uint8Array (or another typed array, a DataView, an ArrayBuffer)"),
            "invalid_argument",
        ));
    }
    Ok(got.unchecked_into())
}

/// The error for `len` bytes the allocator could not find room for.
fn cannot_grow(what: &str, len: usize, code: &str) -> JsValue {
    js_error(
        &format!(
            "{what} is {} bytes: the engine's memory cannot grow to hold them",
            Num(len as f64)
        ),
        code,
    )
}

/// The bytes of `value` in a new `Vec` (see [`byte_view`] for the errors; `code` also when the
/// memory cannot grow to hold them).
pub(super) fn bytes_arg(value: &JsValue, what: &str, code: &str) -> Result<Vec<u8>, JsValue> {
    let view = byte_view(value, what, code)?;
    let len = view.length() as usize;
    let mut bytes = Vec::new();
    if bytes.try_reserve_exact(len).is_err() {
        return Err(cannot_grow(what, len, code));
    }
    view.copy_to_uninit(&mut bytes.spare_capacity_mut()[..len]);
    // SAFETY: `copy_to_uninit` initialized the first `len` bytes (it copies exactly
    // `view.length()` bytes into a slice of that length).
    unsafe { bytes.set_len(len) };
    Ok(bytes)
}
