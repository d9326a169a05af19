//! The wasm-bindgen API. No logic lives here: it converts JS values, calls the core, and turns
//! every error into a JS `Error` with the core's message.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::engine::Engine;
use crate::rank::RecommendRequest;

/// `{type, item, ts?}` as passed to `track()`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrackInput {
    #[serde(rename = "type")]
    kind: String,
    item: String,
    /// Milliseconds since the Unix epoch; `Date.now()` when absent.
    ts: Option<f64>,
}

/// `{k, excludeSeen?}` as passed to `recommend()`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RecommendOptions {
    k: usize,
    #[serde(default)]
    exclude_seen: bool,
}

fn parse<T: for<'de> Deserialize<'de>>(value: JsValue, what: &str) -> Result<T, JsError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| JsError::new(&format!("invalid {what}: {e}")))
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&format!("could not convert the result to JS: {e}")))
}

/// A recommender: a loaded model bundle plus this shopper's in-memory session.
#[wasm_bindgen]
pub struct Recommender {
    engine: Engine,
}

#[wasm_bindgen]
impl Recommender {
    /// Loads a bundle from its bytes. Throws an `Error` naming the problem for anything invalid.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Recommender, JsError> {
        Engine::from_bytes(bytes.to_vec())
            .map(|engine| Recommender { engine })
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// Records `{type, item, ts?}`. Throws for an unknown item id or event type.
    pub fn track(&mut self, event: JsValue) -> Result<(), JsError> {
        let input: TrackInput = parse(event, "event (expected {type, item, ts?})")?;
        let ts = input.ts.unwrap_or_else(js_sys::Date::now);
        self.engine
            .track(&input.kind, &input.item, ts)
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// Returns the top `k` as `[{id, score}]`, best first.
    pub fn recommend(&self, options: JsValue) -> Result<JsValue, JsError> {
        let opts: RecommendOptions =
            parse(options, "recommend options (expected {k, excludeSeen?})")?;
        let request = RecommendRequest::new(opts.k)
            .map_err(|e| JsError::new(&e.to_string()))?
            .exclude_seen(opts.exclude_seen);
        to_js(&self.engine.recommend(&request))
    }

    /// Forgets the session.
    pub fn reset(&mut self) {
        self.engine.reset();
    }

    /// Number of items in the bundle.
    #[wasm_bindgen(getter, js_name = itemCount)]
    pub fn item_count(&self) -> u32 {
        self.engine.bundle().n_items() as u32
    }

    /// Number of events in the session.
    #[wasm_bindgen(getter, js_name = sessionLength)]
    pub fn session_length(&self) -> u32 {
        self.engine.session().len() as u32
    }
}
