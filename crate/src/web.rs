//! The wasm-bindgen API. No logic lives here: it converts JS values, calls the [`Engine`], and turns
//! every error into a JS `Error` whose `message` is the core's text and whose `code` names the
//! kind (see [`VitrineError::code`]). Nothing here panics on JS input.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::engine::Engine;
use crate::error::{RequestError, VitrineError};
use crate::rank::{RankOptions, RankResponse, ValidRankOptions};
use crate::session::{EventInput, SessionOptions};

// Values cross the boundary as JSON text: one (de)serializer (serde_json, which the bundle reader
// needs anyway) keeps the wasm small, and unknown option names are caught (`deny_unknown_fields`).
// The replacer turns non-finite numbers into strings so that `NaN` or `Infinity` is an error
// rather than JSON.stringify's silent `null`.
#[wasm_bindgen(inline_js = "export function vitrineToJson(v) { \
    return JSON.stringify(v, (k, x) => (typeof x === 'number' && !Number.isFinite(x)) ? String(x) : x); }")]
extern "C" {
    #[wasm_bindgen(catch, js_name = vitrineToJson)]
    fn to_json(value: &JsValue) -> Result<JsValue, JsValue>;
}

/// A JS `Error` with `message` and `code`.
fn js_error(message: &str, code: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("VitrineError");
    // Setting a property on a fresh Error cannot fail; ignore the impossible error.
    let _ = js_sys::Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}

fn fail(e: VitrineError) -> JsValue {
    js_error(&e.to_string(), e.code())
}

/// Converts a JS value (`undefined`/`null` = all defaults) into `T`.
fn parse<T: DeserializeOwned + Default>(value: &JsValue, what: &str) -> Result<T, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    let bad = |why: String| js_error(&format!("invalid {what}: {why}"), "invalid_option");
    let json = to_json(value)
        .map_err(|e| bad(js_sys::Error::from(e).message().into()))?
        .as_string()
        .ok_or_else(|| bad("not representable as JSON".into()))?;
    serde_json::from_str(&json).map_err(|e| bad(e.to_string()))
}

fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    serde_json::to_string(value)
        .ok()
        .and_then(|s| js_sys::JSON::parse(&s).ok())
        .ok_or_else(|| js_error("could not convert the result to JS", "internal"))
}

/// A response as a JS array of results with `unknownIds` and `warnings` properties (like the
/// array `RegExp.exec` returns with `index` and `groups`).
fn response(r: &RankResponse) -> Result<JsValue, JsValue> {
    let obj = to_js(r)?;
    let items = js_sys::Reflect::get(&obj, &"items".into())?;
    for key in ["unknownIds", "warnings"] {
        let key = JsValue::from_str(key);
        js_sys::Reflect::set(&items, &key, &js_sys::Reflect::get(&obj, &key)?)?;
    }
    Ok(items)
}

fn string_arg(value: &JsValue, what: &'static str) -> Result<String, JsValue> {
    value.as_string().ok_or_else(|| {
        fail(
            RequestError::InvalidOption {
                name: what,
                why: "expected a string".into(),
            }
            .into(),
        )
    })
}

/// A recommender: a loaded model bundle plus this shopper's in-memory session.
#[wasm_bindgen]
pub struct Recommender {
    engine: Engine,
}

impl Recommender {
    /// Validates request options, with `Date.now()` as the request time unless they give one.
    fn options(&self, value: JsValue, what: &str) -> Result<ValidRankOptions, JsValue> {
        let raw: RankOptions = parse(&value, what)?;
        Ok(self
            .engine
            .validate(&raw)
            .map_err(fail)?
            .or_now_ms(js_sys::Date::now()))
    }
}

#[wasm_bindgen]
impl Recommender {
    /// Loads a bundle from its bytes (session settings: [`Recommender::configure`]). Throws an
    /// `Error` naming the problem for anything invalid.
    /// (This one throws a plain `Error`, without `code`: every load failure is a bundle problem.)
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Recommender, JsError> {
        Engine::from_bytes(bytes.to_vec())
            .map(|engine| Recommender { engine })
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// Sets the session settings `{maxEvents, maxAgeS, halfLifeS, dwellFullMs, weights: {view,
    /// click, add_to_cart, remove_from_cart, purchase}}` (absent keys: the defaults and the
    /// bundle's values). The session is kept; smaller limits evict its oldest entries.
    pub fn configure(&mut self, options: JsValue) -> Result<(), JsValue> {
        let options: SessionOptions = parse(&options, "recommender options")?;
        self.engine.configure(&options).map_err(fail)
    }

    /// Records `{type, item?, ts?, dwellMs?, quantity?, price?, query?}` (`ts` defaults to
    /// `Date.now()`). Throws for an unknown item id or event type or a bad field; the session is
    /// then unchanged.
    pub fn track(&mut self, event: JsValue) -> Result<(), JsValue> {
        if event.is_undefined() || event.is_null() {
            return Err(js_error(
                "invalid event (expected {type, item, ts?}): got nothing",
                "invalid_event",
            ));
        }
        let mut input: EventInput = parse(&event, "event (expected {type, item, ts?})")?;
        input.ts.get_or_insert_with(js_sys::Date::now);
        self.engine.track_event(&input).map_err(fail)
    }

    /// The top `k` of the catalog: `[{id, score, rank, pinned?, boosted?, why?}]`, best first,
    /// with `unknownIds` and `warnings` properties. Options: `{k, context, filters, exclude,
    /// boosts, pins, diversity, excludeSeen, excludePurchased, excludeInCart, explain, now}`.
    pub fn recommend(&self, options: JsValue) -> Result<JsValue, JsValue> {
        let opts = self.options(options, "recommend options")?;
        response(&self.engine.recommend(&opts))
    }

    /// The page's candidate ids reordered (same options and result shape as `recommend`).
    pub fn rerank(&self, ids: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        if !js_sys::Array::is_array(&ids) {
            return Err(js_error(
                "invalid candidates: expected an array of item ids",
                "invalid_option",
            ));
        }
        let ids: Vec<String> = parse(&ids, "candidates (expected an array of item ids)")?;
        let opts = self.options(options, "rerank options")?;
        response(&self.engine.rerank(&ids, &opts).map_err(fail)?)
    }

    /// Items like `id` (same options and result shape as `recommend`).
    pub fn similar(&self, id: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let id = string_arg(&id, "id")?;
        let opts = self.options(options, "similar options")?;
        response(&self.engine.similar(&id, &opts))
    }

    /// Why item `id` gets its score under these (`recommend`) options: `{id, score,
    /// contributions, events, context, personalized, pinned}`.
    pub fn explain(&self, id: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let id = string_arg(&id, "id")?;
        let opts = self.options(options, "explain options")?;
        to_js(&self.engine.explain(&id, &opts).map_err(fail)?)
    }

    /// The session as a versioned JSON string, to store on the device.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self) -> String {
        self.engine.export_state()
    }

    /// Replaces the session with a stored one; returns `{imported, unknownItems, expired,
    /// overLimit}`. Throws (`code` = `state_corrupt`, `state_foreign` or `state_too_new`) and keeps
    /// the session as it was for a state it cannot use.
    #[wasm_bindgen(js_name = importState)]
    pub fn import_state(&mut self, json: JsValue) -> Result<JsValue, JsValue> {
        let json = json.as_string().ok_or_else(|| {
            js_error(
                "saved session state is corrupt: expected a JSON string",
                "state_corrupt",
            )
        })?;
        to_js(
            &self
                .engine
                .import_state(&json, js_sys::Date::now())
                .map_err(fail)?,
        )
    }

    /// Forgets the session.
    pub fn reset(&mut self) {
        self.engine.reset();
    }

    /// Forgets the session (every event, search and cart line); returns how many entries it held.
    pub fn forget(&mut self) -> u32 {
        self.engine.forget() as u32
    }

    /// Number of items in the bundle.
    #[wasm_bindgen(getter, js_name = itemCount)]
    pub fn item_count(&self) -> u32 {
        self.engine.bundle().n_items() as u32
    }

    /// Number of entries (events and searches) in the session.
    #[wasm_bindgen(getter, js_name = sessionLength)]
    pub fn session_length(&self) -> u32 {
        self.engine.session().len() as u32
    }

    /// The bundle's category names (empty when it has none).
    #[wasm_bindgen(getter)]
    pub fn categories(&self) -> Vec<String> {
        self.engine
            .bundle()
            .category_names()
            .map(<[String]>::to_vec)
            .unwrap_or_default()
    }

    /// The context features the bundle has weights for (empty: context changes nothing).
    #[wasm_bindgen(getter, js_name = contextFeatures)]
    pub fn context_features(&self) -> Vec<String> {
        self.engine.context_features().to_vec()
    }

    /// Which kernel the engine runs (`simd128` in a browser with SIMD).
    #[wasm_bindgen(getter)]
    pub fn kernel(&self) -> String {
        crate::kernels::active_isa().to_owned()
    }
}
