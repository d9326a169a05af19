//! The engine's wasm-bindgen class, `Recommender` (the `web-engine` feature: the default wasm
//! package, www/pkg/). Each method reads its JS arguments into the core's wire types
//! ([`super::interop`]), calls the [`Engine`] with the browser's clock (`Date.now()`), and writes
//! the results back ([`super::results`] for ranked lists).

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;

use super::interop::{read, write, Kind};
use super::js_bytes::bytes_arg;
use super::js_error::{fail, js_error};
use super::js_read::{short_string, ListError, StrList, MAX_LIST_CHARS};
use super::results;
use crate::bundle::{BundleOptions, LoadOptions};
use crate::engine::Engine;
use crate::error::{StateError, VitrineError};
use crate::rank::{Related, ValidRankOptions};
use crate::shopper::{ShopperOptions, StoredState};

/// A load's options (`{verifyDigest?, computedDigest?}`) from JS, validated: `fromBytes`,
/// `fromStream` and `applyUpdate` take the same.
fn bundle_options(options: JsValue, what: &'static str) -> Result<BundleOptions, JsValue> {
    let options: LoadOptions = read(options, Kind::Options, what).map_err(fail)?;
    BundleOptions::try_from(options).map_err(|e| fail(e.into()))
}

/// A string argument (an item id) of at most 2²⁶ characters, its length read before it is
/// copied.
fn string_arg(value: &JsValue, what: &str) -> Result<String, JsValue> {
    let reason = match short_string(value) {
        Ok(Some(s)) => return Ok(s),
        Ok(None) => "expected a string".to_owned(),
        Err(e) => e.reason("expected a string"),
    };
    Err(js_error(
        &format!("invalid option '{what}': {reason}"),
        "invalid_option",
    ))
}

/// The readers every method uses for its arguments, public for the parity test (`tests/web.rs`
/// feeds one corpus through these and through serde).
#[doc(hidden)]
pub mod boundary {
    use wasm_bindgen::JsValue;

    use crate::error::VitrineError;
    use crate::rank::RankOptions;
    use crate::session::EventInput;
    use crate::shopper::{ShopperOptions, StoredState};
    use crate::web::interop::{read, Kind};

    /// Request options (`recommend`, `rerank`, `similar`, `explain`).
    pub fn rank_options(value: JsValue, what: &'static str) -> Result<RankOptions, VitrineError> {
        read(value, Kind::Options, what)
    }

    /// `configure()`'s settings.
    pub fn shopper_options(value: JsValue) -> Result<ShopperOptions, VitrineError> {
        read(value, Kind::Options, "recommender options")
    }

    /// `track()`'s event.
    pub fn event(value: JsValue) -> Result<EventInput, VitrineError> {
        read(value, Kind::Event, "event (expected {type, item, ts?})")
    }

    /// A stored state (the parsed JSON of `importState()`).
    pub fn stored_state(value: JsValue) -> Result<StoredState, VitrineError> {
        read(value, Kind::State, "saved session state")
    }
}

/// A stored state from its JSON string (what `exportState()` returned): `state_corrupt` for
/// anything but a JSON object.
fn stored_state(json: JsValue) -> Result<StoredState, JsValue> {
    let corrupt = |why: &str| fail(StateError::Corrupt(why.to_owned()).into());
    let json = match short_string(&json) {
        Ok(Some(json)) => json,
        Ok(None) => return Err(corrupt("expected a JSON string")),
        Err(_) => {
            let why = format!("too long: more than {MAX_LIST_CHARS} characters");
            return Err(corrupt(&why));
        }
    };
    let value = js_sys::JSON::parse(&json).map_err(|_| corrupt("not JSON"))?;
    if !value.is_object() || Array::is_array(&value) {
        return Err(corrupt("not a JSON object"));
    }
    boundary::stored_state(value).map_err(fail)
}

#[wasm_bindgen]
extern "C" {
    /// `Date.now()`, or what it threw (a page's script may have replaced it).
    #[wasm_bindgen(catch, js_namespace = Date, js_name = now)]
    fn date_now() -> Result<f64, JsValue>;
    /// A `Date` of now, built by the constructor (which a replaced `Date.now` does not touch).
    #[wasm_bindgen(js_name = Date)]
    type ClockDate;
    #[wasm_bindgen(catch, constructor, js_class = Date)]
    fn new() -> Result<ClockDate, JsValue>;
    #[wasm_bindgen(catch, method, js_class = Date, js_name = getTime)]
    fn get_time(this: &ClockDate) -> Result<f64, JsValue>;
}

/// The browser's clock, in ms since the Unix epoch: what the engine's accountant runs on.
/// `Date.now()`; when a page's script replaced it with one that throws or returns no finite
/// number, `new Date().getTime()`; else 0. Never throws.
fn clock_ms() -> f64 {
    let finite = |t: Result<f64, JsValue>| t.ok().filter(|t| t.is_finite());
    finite(date_now())
        .or_else(|| finite(ClockDate::new().and_then(|d| d.get_time())))
        .unwrap_or(0.0)
}

/// A recommender: a loaded model bundle plus this shopper's in-memory session.
#[wasm_bindgen]
pub struct Recommender {
    engine: Engine,
}

impl Recommender {
    /// Loads a bundle from a slice with the default options (digest verified): `fromBytes(bytes)`
    /// for Rust callers.
    pub fn from_bytes(bytes: &[u8]) -> Result<Recommender, JsError> {
        Self::load(bytes.to_vec(), &BundleOptions::default())
            .map_err(|e| JsError::new(&e.to_string()))
    }

    fn load(bytes: Vec<u8>, options: &BundleOptions) -> Result<Recommender, VitrineError> {
        crate::model::Model::from_bytes_with(bytes, options)
            .and_then(|m| Engine::new(std::sync::Arc::new(m), &ShopperOptions::default()))
            .map(|engine| Recommender { engine })
    }

    /// Whether privacy is on (anything but `epsilon: Infinity`).
    fn private(&self) -> bool {
        !matches!(self.engine.privacy(), crate::privacy::PrivacyConfig::Off)
    }

    /// A scenario around the page's ids (a string or an array of strings; ignored by trending).
    fn related(
        &self,
        related: Related,
        ids: &JsValue,
        options: JsValue,
        what: &'static str,
    ) -> Result<JsValue, JsValue> {
        let invalid = |e: ListError| {
            js_error(
                &format!(
                    "invalid ids: {}",
                    e.reason("expected an item id or an array of item ids")
                ),
                "invalid_option",
            )
        };
        let list = match short_string(ids).map_err(invalid)? {
            Some(one) => StrList::Each(vec![one]),
            None if related == Related::Trending => StrList::Each(Vec::new()),
            None => StrList::from_js(ids).map_err(invalid)?,
        };
        let opts = self.options(options, what)?;
        let rows = self.engine.related_rows(related, &list.strs(), &opts);
        Ok(results::response(self.engine.bundle(), &rows))
    }

    /// Validates request options, with `Date.now()` as the request time unless they give one.
    fn options(&self, value: JsValue, what: &'static str) -> Result<ValidRankOptions, JsValue> {
        let raw = boundary::rank_options(value, what).map_err(fail)?;
        Ok(self
            .engine
            .validate(&raw)
            .map_err(fail)?
            .or_now_ms(clock_ms()))
    }
}

#[wasm_bindgen]
impl Recommender {
    /// Loads a bundle from its bytes (session settings: [`Recommender::configure`]). Throws an
    /// `Error` naming the problem for anything invalid: `code` `bundle` for a bundle that does not
    /// load or more bytes than the engine's memory can hold, `invalid_argument` when `bytes` is
    /// not a typed array, a `DataView` or an `ArrayBuffer`, `invalid_option` for bad `options`.
    ///
    /// `options`: `{verifyDigest}` (default `true`). `false` skips the bundle's SHA-256 check,
    /// most of the load time, for a page that has already verified the bytes (Subresource
    /// Integrity on the fetch, a signature); every other check still runs. The bytes are moved
    /// into the wasm memory once (no second copy).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes_with(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
        options: JsValue,
    ) -> Result<Recommender, JsValue> {
        let options = bundle_options(options, "fromBytes options")?;
        let bytes = bytes_arg(&bytes, "the bundle", "bundle")?;
        Self::load(bytes, &options).map_err(fail)
    }

    /// Loads the bundle a `BundleStream` received (the stream is used up), with `fromBytes`'s
    /// options: the digest the stream computed while the bytes came (or the caller's
    /// `computedDigest`, e.g. from the browser's SHA-256 when the download outran the hashing) is
    /// checked against the recorded one. Throws like `fromBytes`, and (`code` `bundle`) when the
    /// stream ended before the length its header declares.
    #[wasm_bindgen(js_name = fromStream)]
    pub fn from_stream(
        stream: super::stream::WebBundleStream,
        options: JsValue,
    ) -> Result<Recommender, JsValue> {
        let options = bundle_options(options, "fromStream options")?;
        let (bytes, options) = stream
            .inner
            .finish(options)
            .map_err(|e| fail(VitrineError::from(e)))?;
        Self::load(bytes, &options).map_err(fail)
    }

    /// How to compute the bundle's digest with the browser's own SHA-256 (`crypto.subtle`, several
    /// times faster than hashing in wasm), from the file's first bytes (`header`: 8 + the header
    /// length at least; the whole file will do) and its length: `{recorded, pieces}`, where
    /// `pieces` is an array of `Uint8Array` (bytes to hash as they are) and `[start, end]` (a
    /// range of the file). SHA-256 over the pieces in order, as `"sha256:" + hex`, is the
    /// canonical digest: pass it as `fromBytes(bytes, {computedDigest})` to have it checked
    /// against `recorded` without hashing again. Throws a plain `Error` for a header that does
    /// not parse or records no well-formed digest (`fromBytes` would refuse the bundle too).
    #[wasm_bindgen(js_name = digestPlan)]
    pub fn digest_plan(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] header: JsValue,
        file_length: f64,
    ) -> Result<JsValue, JsValue> {
        let header = bytes_arg(&header, "the header", "bundle")?;
        let plan = crate::bundle::digest::plan(&header, file_length as u64)
            .map_err(|e| JsValue::from(JsError::new(&e.to_string())))?;
        let pieces = Array::new();
        for piece in &plan.pieces {
            match piece {
                crate::bundle::digest::PlanPiece::Bytes(b) => {
                    pieces.push(&js_sys::Uint8Array::from(b.as_slice()))
                }
                crate::bundle::digest::PlanPiece::File(r) => pieces.push(&Array::of2(
                    &JsValue::from(r.start as f64),
                    &JsValue::from(r.end as f64),
                )),
            };
        }
        let out = js_sys::Object::new();
        let _ = Reflect::set(&out, &"recorded".into(), &plan.recorded.as_str().into());
        let _ = Reflect::set(&out, &"pieces".into(), &pieces);
        Ok(out.into())
    }

    /// Sets the session settings `{maxEvents, maxAgeS, halfLifeS, dwellFullMs, weights: {view,
    /// click, add_to_cart, remove_from_cart, purchase}, privacy}` (absent keys: the defaults and
    /// the bundle's values). The session is kept; smaller limits evict its oldest entries.
    pub fn configure(&mut self, options: JsValue) -> Result<(), JsValue> {
        let options = boundary::shopper_options(options).map_err(fail)?;
        self.engine.configure(&options).map_err(fail)
    }

    /// Records `{type, item?, ts?, dwellMs?, quantity?, price?, query?}` (`ts` defaults to
    /// `Date.now()`). Throws for an unknown event type or a bad field; the session is then
    /// unchanged. An item the bundle does not know is kept pending until a catalog update: the
    /// result is then `true` (the bundle is public, so this says nothing about the history).
    pub fn track(&mut self, event: JsValue) -> Result<bool, JsValue> {
        let what = "event (expected {type, item, ts?})";
        if event.is_undefined() || event.is_null() {
            return Err(js_error(
                &format!("invalid {what}: got nothing"),
                "invalid_event",
            ));
        }
        let mut input = boundary::event(event).map_err(fail)?;
        input.ts.get_or_insert_with(clock_ms);
        let before = self.engine.shopper().pending().tracked();
        self.engine.track_event(&input).map_err(fail)?;
        Ok(self.engine.shopper().pending().tracked() != before)
    }

    /// The top `k` of the catalog: `[{id, score, rank, pinned?, boosted?, why?}]`, best first,
    /// with `unknownIds` and `warnings` properties. Options: `{k, context, filters, exclude,
    /// boosts, pins, diversity, excludeSeen, excludePurchased, excludeInCart, explain, now}`.
    pub fn recommend(&mut self, options: JsValue) -> Result<JsValue, JsValue> {
        let opts = self.options(options, "recommend options")?;
        let rows = self.engine.recommend_rows(&opts, clock_ms());
        Ok(results::response(self.engine.bundle(), &rows))
    }

    /// The page's candidate ids reordered (same options and result shape as `recommend`).
    pub fn rerank(&mut self, ids: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let list = StrList::from_js(&ids).map_err(|e| {
            js_error(
                &format!(
                    "invalid candidates: {}",
                    e.reason("expected an array of item ids")
                ),
                "invalid_option",
            )
        })?;
        let opts = self.options(options, "rerank options")?;
        let rows = self
            .engine
            .rerank_rows(&list.strs(), &opts, clock_ms())
            .map_err(fail)?;
        Ok(results::reranked(&ids, self.engine.bundle(), &rows))
    }

    /// Items like `ids` (an id, or an array of ids: a cart), the ids left out (same options and
    /// result shape as `recommend`).
    pub fn similar(&self, ids: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        self.related(Related::Similar, &ids, options, "similar options")
    }

    /// Items bought together with `ids` (an id, or an array of ids: a cart), from the bundle's
    /// co-purchase lists (same options and result shape as `recommend`).
    #[wasm_bindgen(js_name = boughtTogether)]
    pub fn bought_together(&self, ids: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        self.related(
            Related::BoughtTogether,
            &ids,
            options,
            "boughtTogether options",
        )
    }

    /// What is popular lately (the bundle's recency-weighted counts; same options and result
    /// shape as `recommend`).
    pub fn trending(&self, options: JsValue) -> Result<JsValue, JsValue> {
        self.related(
            Related::Trending,
            &JsValue::UNDEFINED,
            options,
            "trending options",
        )
    }

    /// Applies a catalog update (a delta from `vitrine catalog update` for this bundle, or a
    /// shard): returns `{added, updated, unavailable, items, promoted}`. `options` as
    /// `fromBytes`'s (`{verifyDigest, computedDigest}`: the delta's digest computed with the
    /// browser's SHA-256 by `digestPlan`, checked against the recorded one instead of hashing in
    /// wasm). Throws (`code` `update_mismatch` for a delta of another bundle, `bundle` for a
    /// corrupt one or a digest that does not match) and changes nothing on error.
    #[wasm_bindgen(js_name = applyUpdate)]
    pub fn apply_update(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
        options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let options = bundle_options(options, "applyUpdate options")?;
        let bytes = bytes_arg(&bytes, "the update", "bundle")?;
        let report = self
            .engine
            .apply_update_with(bytes, &options)
            .map_err(fail)?;
        Ok(write(&report))
    }

    /// Why item `id` gets its score under these (`recommend`) options: `{id, score,
    /// contributions, events, context, personalized, pinned}`.
    pub fn explain(&mut self, id: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let id = string_arg(&id, "id")?;
        let opts = self.options(options, "explain options")?;
        let e = self.engine.explain(&id, &opts, clock_ms()).map_err(fail)?;
        let out = write(&e.why);
        let _ = Reflect::set(&out, &"id".into(), &e.id.into());
        let _ = Reflect::set(&out, &"score".into(), &f64::from(e.score).into());
        Ok(out)
    }

    /// The session as a versioned JSON string, to store on the device.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self) -> String {
        js_sys::JSON::stringify(&write(&self.engine.state()))
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    }

    /// Replaces the session with a stored one; returns `{imported, unknownItems, expired,
    /// overLimit}` without privacy, `null` with it (the counts would tell the stored record's
    /// size). Throws (`code` = `state_corrupt`, `state_foreign` or `state_too_new`) and keeps the
    /// session as it was for a state it cannot use.
    #[wasm_bindgen(js_name = importState)]
    pub fn import_state(&mut self, json: JsValue) -> Result<JsValue, JsValue> {
        let state = stored_state(json)?;
        let report = self.engine.import(&state, clock_ms()).map_err(fail)?;
        Ok(if self.private() {
            JsValue::NULL
        } else {
            write(&report)
        })
    }

    /// Joins what another tab stored (a JSON string of the stored state): its accountant, so that
    /// one budget is spent once per origin whatever the tabs, and its events' lifetime spends.
    /// Call it (under a lock shared by the tabs) before a ranking that may release. Throws like
    /// `importState` for a state it cannot use, and changes nothing then.
    #[wasm_bindgen(js_name = joinStored)]
    pub fn join_stored(&mut self, json: JsValue) -> Result<(), JsValue> {
        let state = stored_state(json)?;
        self.engine.join_stored(&state).map_err(fail)
    }

    /// Differential privacy: `{private, mechanism, unit, epsilon, delta, budget: {epsilon, delta,
    /// periodMs, spentEpsilon, spentDelta, remainingEpsilon, spentRho, releases, periodEndsMs},
    /// releasesLeft, lastSource}` now (see docs/PRIVACY.md).
    #[wasm_bindgen(js_name = privacyStatus)]
    pub fn privacy_status(&self) -> JsValue {
        write(&self.engine.privacy_status(clock_ms()))
    }

    /// Forgets the session.
    pub fn reset(&mut self) {
        self.engine.forget();
    }

    /// Forgets the session (every event, search and cart line); returns how many entries it held
    /// without privacy, `null` with it (the count would tell the stored record's size).
    pub fn forget(&mut self) -> JsValue {
        let private = self.private();
        let n = self.engine.forget();
        if private {
            JsValue::NULL
        } else {
            JsValue::from_f64(n as f64)
        }
    }

    /// Number of items in the bundle.
    #[wasm_bindgen(getter, js_name = itemCount)]
    pub fn item_count(&self) -> u32 {
        self.engine.bundle().n_items() as u32
    }

    /// Events of products the bundle does not know yet, kept until a catalog update knows them:
    /// all of them without privacy; with it, only those the page tracked (how many the stored
    /// record holds is what privacy protects).
    #[wasm_bindgen(getter, js_name = pendingEvents)]
    pub fn pending_events(&self) -> u32 {
        let pending = self.engine.shopper().pending();
        let n = if self.private() {
            pending.count(crate::session::Origin::Page)
        } else {
            pending.len()
        };
        n as u32
    }

    /// Number of entries (events and searches) in the session without privacy; with it, only
    /// those the page provided (the stored record's size is what privacy protects).
    #[wasm_bindgen(getter, js_name = sessionLength)]
    pub fn session_length(&self) -> u32 {
        let which = if self.private() {
            crate::session::Select::Page
        } else {
            crate::session::Select::All
        };
        self.engine.session().count(which) as u32
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

    /// Which kernel table the engine runs (`simd128` in a browser with SIMD).
    #[wasm_bindgen(getter)]
    pub fn kernel(&self) -> String {
        crate::kernels::active_isa().to_owned()
    }
}
