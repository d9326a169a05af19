//! The page's values read in JS helpers that never throw: a list copied in one crossing (its ids
//! joined into one string), an object's fields or entries, each element read once. An array
//! longer than [`MAX_LIST`] is refused from its length alone (a sparse array of length 2³² − 1
//! reserves nothing), ids over [`MAX_LIST_CHARS`] characters are not copied into the wasm memory,
//! and a getter or proxy that throws becomes a reason, never a JS exception through the wasm
//! frames (which would leave a `&mut self` method's borrow held). [`super::interop`] turns the
//! reasons into typed errors.

use std::cell::Cell;

use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::numfmt::Num;

// Bulk conversions done in JS: one boundary crossing per object or list instead of one per field
// and per string (a `rerank` of 200 ids otherwise crosses ~1,000 times).
#[wasm_bindgen(inline_js = r#"
function why(e) {
  try {
    return e instanceof Error ? e.message : String(e);
  } catch {
    return 'an exception';
  }
}
export function vitrine_join_ids(a, max, maxChars) {
  try {
    if (!Array.isArray(a)) return undefined;
    const n = a.length;
    if (n > max) return n;
    for (let i = 0; i < n; i++) if (typeof a[i] !== 'string') return undefined;
    const s = n === 0 ? '' : '\n' + a.join('\n');
    return s.length - n > maxChars ? n - s.length : n + s;
  } catch (e) {
    return [why(e)];
  }
}
export function vitrine_list(a, max) {
  try {
    if (!Array.isArray(a)) return undefined;
    const n = a.length;
    if (n > max) return n;
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = a[i];
    return out;
  } catch (e) {
    return why(e);
  }
}
export function vitrine_entries(o, max) {
  try {
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
    const keys = Object.keys(o);
    if (keys.length > max) return keys.length;
    const out = new Array(2 * keys.length);
    for (let i = 0; i < keys.length; i++) {
      out[2 * i] = keys[i];
      out[2 * i + 1] = o[keys[i]];
    }
    return out;
  } catch (e) {
    return why(e);
  }
}
export function vitrine_fields(o, keys, strict) {
  const ks = keys.split(',');
  if (o === undefined || o === null) return [];
  try {
    if (typeof o !== 'object' || Array.isArray(o)) return 'expected an object';
    if (strict) {
      for (const k of Object.keys(o)) {
        if (!ks.includes(k)) return `unknown field \`${k}\`, expected one of ${ks.join(', ')}`;
      }
    }
    return ks.map((k) => o[k] ?? undefined);
  } catch (e) {
    return `reading it threw: ${why(e)}`;
  }
}
"#)]
extern "C" {
    /// The array's length in decimal, then `"\n" + id` for each id, concatenated (one
    /// `Array.prototype.join`: a flat string); or `undefined` unless `a` is an array of strings;
    /// or its length when over `max`; or minus the ids' length (UTF-16 code units, separators
    /// not counted) when over `max_chars`; or `[why]` when reading it threw (a getter, a proxy,
    /// ids too long for a JS string). An id holding a `"\n"` (bundle ids never do) shows as more
    /// pieces than the length says. Never throws.
    fn vitrine_join_ids(a: &JsValue, max: u32, max_chars: u32) -> JsValue;
    /// A plain copy of the array `a` (each element read once: no getter runs later), or
    /// `undefined` when `a` is not an array, or its length when over `max`, or why reading it
    /// threw (a string). Never throws.
    fn vitrine_list(a: &JsValue, max: u32) -> JsValue;
    /// `[key, value, key, value, …]` of `o`'s own enumerable string keys, or `undefined` when `o`
    /// is not an object or is an array, or the keys' count when over `max`, or why reading them
    /// threw (a string). Never throws.
    fn vitrine_entries(o: &JsValue, max: u32) -> JsValue;
    /// The values of `o`'s fields named in `keys` (comma-separated), in that order (`null` read
    /// as `undefined`; `[]` when `o` is `undefined` or `null`), or why not (a string: not an
    /// object, a field not in `keys` when `strict`, a getter that threw).
    pub(super) fn vitrine_fields(o: &JsValue, keys: &str, strict: bool) -> JsValue;
}

/// Most elements a list read from JS may hold (the longest list the engine takes is
/// [`crate::rank::MAX_IDS`] ids): a longer array is an error before any element is read, so a
/// sparse array of length 2³² − 1 costs nothing.
pub(crate) const MAX_LIST: u32 = 1_000_000;

/// Most UTF-16 code units the ids of one list may hold together (64 Mi): a longer list is an
/// error before it is copied into the wasm memory, which it could exhaust.
pub(crate) const MAX_LIST_CHARS: u32 = 1 << 26;

/// What is left of a read's allowance of string characters, list elements and object keys: a
/// page's value may repeat one large string or list by reference without bound, and every copy
/// would go into the wasm memory (or every element be walked).
pub(crate) struct Budget {
    left: Cell<u32>,
    total: u32,
}

impl Budget {
    /// An allowance of `total` units.
    pub(crate) fn new(total: u32) -> Self {
        Self {
            left: Cell::new(total),
            total,
        }
    }

    /// Takes `units`, or says the value is too large.
    pub(crate) fn take(&self, units: u32) -> Result<(), String> {
        match self.left.get().checked_sub(units) {
            Some(rest) => {
                self.left.set(rest);
                Ok(())
            }
            None => Err(format!(
                "too large: more than {} characters, list elements and keys in all",
                self.total
            )),
        }
    }
}

/// Why a JS value could not be read as a list.
pub(crate) enum ListError {
    /// Not an array (of the expected element type, for string lists).
    Type,
    /// More than [`MAX_LIST`] elements (the array's length).
    TooLong(f64),
    /// Its ids hold more than [`MAX_LIST_CHARS`] code units (their count).
    TooManyChars(f64),
    /// Reading it threw (the exception's message).
    Threw(String),
}

impl ListError {
    /// The error's text: `expected` (what the value should have been) for a value of the wrong
    /// type, else what was wrong.
    #[inline(never)]
    pub(crate) fn reason(&self, expected: &str) -> String {
        match self {
            ListError::Type => expected.to_owned(),
            ListError::TooLong(n) => format!("at most {MAX_LIST} items, got {}", Num(*n)),
            ListError::TooManyChars(n) => format!(
                "the ids hold {} characters, at most {MAX_LIST_CHARS}",
                Num(*n)
            ),
            ListError::Threw(why) => format!("reading it threw: {why}"),
        }
    }
}

/// What [`vitrine_list`] or [`vitrine_entries`] returned: the plain array, or why not.
fn copied(got: JsValue) -> Result<Array, ListError> {
    if let Some(n) = got.as_f64() {
        return Err(ListError::TooLong(n));
    }
    if let Some(why) = got.as_string() {
        return Err(ListError::Threw(why));
    }
    if got.is_object() {
        return Ok(got.unchecked_into());
    }
    Err(ListError::Type)
}

/// A plain copy of the JS array `v` (at most `max` elements), or why not.
pub(crate) fn js_list(v: &JsValue, max: u32) -> Result<Array, ListError> {
    copied(vitrine_list(v, max))
}

/// `[key, value, …]` of the JS object `v` (at most `max` keys), or why not.
pub(super) fn js_entries(v: &JsValue, max: u32) -> Result<Array, ListError> {
    copied(vitrine_entries(v, max))
}

/// The text of `v` when it is a string of at most [`MAX_LIST_CHARS`] UTF-16 code units, the
/// same bound as the ids of a list: `Ok(None)` when `v` is not a string, [`ListError::TooManyChars`]
/// when it is longer. Its length is read before it is copied: a string of 2²⁹ characters was
/// copied into the wasm memory by wasm-bindgen's aborting allocator and trapped the module.
/// Never throws.
pub(crate) fn short_string(v: &JsValue) -> Result<Option<String>, ListError> {
    let Some(s) = v.dyn_ref::<js_sys::JsString>() else {
        return Ok(None);
    };
    if s.length() > MAX_LIST_CHARS {
        return Err(ListError::TooManyChars(f64::from(s.length())));
    }
    Ok(v.as_string())
}

/// The strings of a JS array: one joined copy (one boundary crossing) when no string holds a
/// `"\n"`, else each string. (Joined with `Array.prototype.join`, the ids are checked for
/// `"\n"` here: building the string with `+=` and an `includes` per id cost ~3 µs more per 200
/// ids in Node.)
pub(crate) enum StrList {
    /// The array's length in decimal, then `"\n" + id` for each id.
    Joined(String),
    /// Each string (some id holds a `"\n"`).
    Each(Vec<String>),
}

impl StrList {
    /// The strings of the JS array `v`, or why not (not an array of strings, more than
    /// [`MAX_LIST`] of them or [`MAX_LIST_CHARS`] characters, reading it threw). Never panics
    /// and lets no JS exception through, whatever `v` is.
    pub(crate) fn from_js(v: &JsValue) -> Result<Self, ListError> {
        let got = vitrine_join_ids(v, MAX_LIST, MAX_LIST_CHARS);
        if let Some(n) = got.as_f64() {
            return Err(if n < 0.0 {
                ListError::TooManyChars(-n)
            } else {
                ListError::TooLong(n)
            });
        }
        let Some(joined) = got.as_string() else {
            if got.is_object() {
                let why = Array::from(&got).get(0).as_string().unwrap_or_default();
                return Err(ListError::Threw(why));
            }
            return Err(ListError::Type);
        };
        // "3\na\nb\nc": the count in decimal, then each id after a "\n" (`strs` skips the
        // count). One pass over the bytes (slicing the `str` would bring its boundary-error
        // formatting into the wasm: ~4 KB).
        let (mut count, mut breaks) = (0usize, 0usize);
        for b in joined.bytes() {
            if b == b'\n' {
                breaks += 1;
            } else if breaks == 0 {
                count = count
                    .saturating_mul(10)
                    .saturating_add(usize::from(b.wrapping_sub(b'0')));
            }
        }
        if count == breaks {
            return Ok(StrList::Joined(joined));
        }
        // Some id holds a "\n": each string, from a plain copy of the array.
        let items = js_list(v, MAX_LIST)?;
        let mut each = Vec::with_capacity(items.length() as usize);
        for s in items.iter() {
            each.push(s.as_string().ok_or(ListError::Type)?);
        }
        Ok(StrList::Each(each))
    }

    /// The list's size for a read's budget: its bytes (the strings and a separator each).
    pub(crate) fn units(&self) -> u32 {
        let bytes = match self {
            StrList::Joined(s) => s.len(),
            StrList::Each(v) => v.iter().map(|s| s.len() + 1).sum(),
        };
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }

    /// The strings, borrowed.
    pub(crate) fn strs(&self) -> Vec<&str> {
        match self {
            // The first piece is the count.
            StrList::Joined(s) => s.split('\n').skip(1).collect(),
            StrList::Each(v) => v.iter().map(String::as_str).collect(),
        }
    }
}
