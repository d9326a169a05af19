//! Responses as JS arrays of `{id, score, rank, pinned?, boosted?, why?}` with `unknownIds`,
//! `warnings` and (with the `ope` option, after a fresh release) `propensity` properties (like the
//! array `RegExp.exec` returns with `index` and `groups`). The plain fields cross the boundary as
//! one string (or the page's own id strings) and three arrays.

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;

use super::interop::write;
use crate::bundle::Bundle;
use crate::rank::RowResponse;

#[wasm_bindgen(inline_js = r#"
export function vitrine_reranked(input, positions, scores, ranks, flags) {
  const out = new Array(positions.length);
  try {
    for (let i = 0; i < positions.length; i++) {
      const id = input[positions[i]];
      if (typeof id !== 'string') return undefined;
      const o = { id, score: scores[i], rank: ranks[i] };
      if (flags[i] & 1) o.pinned = true;
      if (flags[i] & 2) o.boosted = true;
      out[i] = o;
    }
  } catch {
    return undefined;
  }
  return out;
}
export function vitrine_items(ids, scores, ranks, flags) {
  const id = ids.split('\n');
  const out = new Array(scores.length);
  for (let i = 0; i < scores.length; i++) {
    const o = { id: id[i + 1], score: scores[i], rank: ranks[i] };
    if (flags[i] & 1) o.pinned = true;
    if (flags[i] & 2) o.boosted = true;
    out[i] = o;
  }
  return out;
}
"#)]
extern "C" {
    /// `[{id, score, rank, pinned?, boosted?}]` from the ids (`"\n"`-prefixed, concatenated) and
    /// parallel arrays (`flags`: 1 = pinned, 2 = boosted).
    fn vitrine_items(ids: &str, scores: &[f64], ranks: &[u32], flags: &[u8]) -> Array;
    /// `[{id: input[position], score, rank, pinned?, boosted?}]`: `rerank`'s results, with the
    /// page's own id strings (no copy of the ids out of the wasm memory), or `undefined` when
    /// reading `input` again threw or gave a non-string (a getter, a proxy). Never throws.
    fn vitrine_reranked(
        input: &JsValue,
        positions: &[u32],
        scores: &[f64],
        ranks: &[u32],
        flags: &[u8],
    ) -> JsValue;
}

/// Parallel arrays of a response's scores, ranks and flags (1 = pinned, 2 = boosted).
fn columns(r: &RowResponse) -> (Vec<f64>, Vec<u32>, Vec<u8>) {
    let scores = r.rows.iter().map(|row| f64::from(row.score)).collect();
    let ranks = r.rows.iter().map(|row| row.rank).collect();
    let flags = r
        .rows
        .iter()
        .map(|row| u8::from(row.pinned) | (u8::from(row.boosted) << 1))
        .collect();
    (scores, ranks, flags)
}

/// `recommend`/`similar`'s results: ids from the bundle.
pub(crate) fn response(bundle: &Bundle, r: &RowResponse) -> JsValue {
    let mut ids = String::new();
    for row in &r.rows {
        ids.push('\n');
        ids.push_str(&bundle.ids()[row.index as usize]);
    }
    let (scores, ranks, flags) = columns(r);
    complete(vitrine_items(&ids, &scores, &ranks, &flags), r)
}

/// `rerank`'s results: ids are the page's own strings, at each row's position in `input` (the
/// bundle's, equal to them, when `input` no longer reads as it did).
pub(crate) fn reranked(input: &JsValue, bundle: &Bundle, r: &RowResponse) -> JsValue {
    let positions: Vec<u32> = r.rows.iter().map(|row| row.position.unwrap_or(0)).collect();
    let (scores, ranks, flags) = columns(r);
    let items = vitrine_reranked(input, &positions, &scores, &ranks, &flags);
    if items.is_undefined() {
        return response(bundle, r);
    }
    complete(items.unchecked_into(), r)
}

/// Adds the explanations, `unknownIds` and `warnings` to a response's items.
fn complete(items: Array, r: &RowResponse) -> JsValue {
    for (i, row) in r.rows.iter().enumerate() {
        if let Some(why) = &row.why {
            let _ = Reflect::set(&items.get(i as u32), &"why".into(), &write(why));
        }
    }
    let _ = Reflect::set(&items, &"unknownIds".into(), &write(&r.unknown_ids));
    let _ = Reflect::set(&items, &"warnings".into(), &write(&r.warnings));
    if let Some(p) = &r.propensity {
        let _ = Reflect::set(&items, &"propensity".into(), &write(p));
    }
    items.into()
}
