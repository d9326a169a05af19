//! The wasm-bindgen API. No logic lives here: it converts JS values to the core's plain option and
//! event types (field by field, so that the wasm needs no JSON (de)serializer), calls the
//! [`Engine`], converts the results back, and turns every error into a JS `Error` whose `message`
//! is the core's text and whose `code` names the kind (see [`VitrineError::code`]). Unknown field
//! names and non-finite numbers are rejected here, as the core's serde derives do natively. Nothing
//! here panics on JS input.

use std::collections::BTreeMap;

use js_sys::{Array, Object, Reflect};
use serde_json::{Map, Number, Value};
use wasm_bindgen::prelude::*;

use crate::bundle::{Bundle, BundleOptions};
use crate::context::ContextInput;
use crate::engine::{Engine, ItemExplanation};
use crate::error::{StateError, VitrineError};
use crate::numfmt::Num;
use crate::privacy::{
    AccountantState, BudgetOptions, CandidatesInput, EpsilonInput, PeriodInput, PrivacyOptions,
    PrivacySnapshot, PrivacyStatus, ReleaseSource,
};
use crate::rank::{
    BoostOption, DiversityOptions, EventReason, Explanation, FilterOptions, Part, PinOption,
    RankOptions, RowResponse, ValidRankOptions,
};
use crate::session::{EventInput, ImportReport, SessionOptions, WeightOverrides};

// Bulk conversions done in JS: one boundary crossing per list instead of one per string and per
// field (a `rerank` of 200 ids otherwise crosses ~1,000 times).
#[wasm_bindgen(inline_js = r#"
export function vitrine_join_ids(a) {
  if (!Array.isArray(a)) return undefined;
  let s = '';
  for (const x of a) {
    if (typeof x !== 'string' || x.includes('\n')) return undefined;
    s += '\n' + x;
  }
  return s;
}
export function vitrine_fields(o, keys) {
  const ks = keys.split(',');
  if (o === undefined || o === null) return [];
  if (typeof o !== 'object' || Array.isArray(o)) return 'expected an object';
  try {
    for (const k of Object.keys(o)) {
      if (!ks.includes(k)) return `unknown field \`${k}\`, expected one of ${ks.join(', ')}`;
    }
    return ks.map((k) => o[k] ?? undefined);
  } catch (e) {
    return `reading it threw: ${e instanceof Error ? e.message : String(e)}`;
  }
}
export function vitrine_reranked(input, positions, scores, ranks, flags) {
  const out = new Array(positions.length);
  for (let i = 0; i < positions.length; i++) {
    const o = { id: input[positions[i]], score: scores[i], rank: ranks[i] };
    if (flags[i] & 1) o.pinned = true;
    if (flags[i] & 2) o.boosted = true;
    out[i] = o;
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
    /// `"\n" + id` for each id, concatenated, or `undefined` unless `a` is an array of strings
    /// without `"\n"` (bundle ids never contain one).
    fn vitrine_join_ids(a: &JsValue) -> Option<String>;
    /// `[{id, score, rank, pinned?, boosted?}]` from the ids (`"\n"`-prefixed, concatenated) and
    /// parallel arrays (`flags`: 1 = pinned, 2 = boosted).
    fn vitrine_items(ids: &str, scores: &[f64], ranks: &[u32], flags: &[u8]) -> Array;
    /// The values of `o`'s fields named in `keys` (comma-separated), in that order (`null` read
    /// as `undefined`; `[]` when `o` is `undefined` or `null`), or why not (a string: not an
    /// object, a field not in `keys`, a getter that threw).
    fn vitrine_fields(o: &JsValue, keys: &str) -> JsValue;
    /// `[{id: input[position], score, rank, pinned?, boosted?}]`: `rerank`'s results, with the
    /// page's own id strings (no copy of the ids out of the wasm memory).
    fn vitrine_reranked(
        input: &JsValue,
        positions: &[u32],
        scores: &[f64],
        ranks: &[u32],
        flags: &[u8],
    ) -> Array;
}

/// A JS `Error` with `message` and `code`.
fn js_error(message: &str, code: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("VitrineError");
    // Setting a property on a fresh Error cannot fail; ignore the impossible error.
    let _ = Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}

fn fail(e: VitrineError) -> JsValue {
    js_error(&e.to_string(), e.code())
}

/// Reads the fields of one JS object, naming it (`what`) in every error. The object is read in one
/// call into JS (its known fields' values, in order).
struct Fields<'a> {
    known: &'a [&'a str],
    values: Array,
    what: &'a str,
    code: &'static str,
}

impl<'a> Fields<'a> {
    /// `value` must be an object whose keys are all in `known`; `undefined`/`null` is an empty one.
    fn new(value: JsValue, what: &'a str, known: &'a [&'a str]) -> Result<Self, JsValue> {
        Self::with_code(value, what, known, "invalid_option")
    }

    fn with_code(
        value: JsValue,
        what: &'a str,
        known: &'a [&'a str],
        code: &'static str,
    ) -> Result<Self, JsValue> {
        let mut f = Fields {
            known,
            values: Array::new(),
            what,
            code,
        };
        let read = vitrine_fields(&value, &known.join(","));
        if let Some(why) = read.as_string() {
            return Err(f.err(&why));
        }
        f.values = read.unchecked_into();
        Ok(f)
    }

    fn err(&self, why: &str) -> JsValue {
        js_error(&format!("invalid {}: {why}", self.what), self.code)
    }

    /// The value at `key`, `None` when `undefined` or `null`.
    #[inline(never)]
    fn get(&self, key: &str) -> Option<JsValue> {
        let i = self.known.iter().position(|k| *k == key)?;
        Some(self.values.get(i as u32)).filter(|v| !v.is_undefined())
    }

    fn number(&self, key: &str) -> Result<Option<f64>, JsValue> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() => Ok(Some(x)),
                Some(x) => {
                    Err(self.err(&format!("`{key}` must be a finite number, got {}", Num(x))))
                }
                None => Err(self.err(&format!("`{key}` must be a number"))),
            },
        }
    }

    fn f32(&self, key: &str) -> Result<Option<f32>, JsValue> {
        Ok(self.number(key)?.map(|x| x as f32))
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, JsValue> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.err(&format!("`{key}` must be true or false"))),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, JsValue> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_string()
                .map(Some)
                .ok_or_else(|| self.err(&format!("`{key}` must be a string"))),
        }
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, JsValue> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => strings(&v)
                .map(Some)
                .ok_or_else(|| self.err(&format!("`{key}` must be an array of strings"))),
        }
    }

    fn list(&self, key: &str) -> Result<Vec<JsValue>, JsValue> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(v) if Array::is_array(&v) => Ok(Array::from(&v).iter().collect()),
            Some(_) => Err(self.err(&format!("`{key}` must be an array"))),
        }
    }
}

/// An array of strings, or `None`.
fn strings(v: &JsValue) -> Option<Vec<String>> {
    StrList::from_js(v).map(|l| l.strs().into_iter().map(str::to_owned).collect())
}

/// The strings of a JS array: one joined copy (one boundary crossing) when no string holds a
/// `"\n"`, else each string.
enum StrList {
    Joined(String),
    Each(Vec<String>),
}

impl StrList {
    fn from_js(v: &JsValue) -> Option<Self> {
        if let Some(joined) = vitrine_join_ids(v) {
            return Some(StrList::Joined(joined));
        }
        if !Array::is_array(v) {
            return None;
        }
        let each: Option<Vec<String>> = Array::from(v).iter().map(|s| s.as_string()).collect();
        each.map(StrList::Each)
    }

    /// The strings, borrowed.
    fn strs(&self) -> Vec<&str> {
        match self {
            StrList::Joined(s) => s.split('\n').skip(1).collect(),
            StrList::Each(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// A context value as the core's JSON value (numbers must be finite; arrays are kept as such so
/// the core reports them).
fn to_value(v: &JsValue) -> Result<Value, String> {
    if v.is_undefined() || v.is_null() {
        return Ok(Value::Null);
    }
    if let Some(b) = v.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(x) = v.as_f64() {
        return Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| format!("{} is not a finite number", Num(x)));
    }
    if let Some(s) = v.as_string() {
        return Ok(Value::String(s));
    }
    if Array::is_array(v) {
        return Ok(Value::Array(Vec::new()));
    }
    if v.is_object() {
        let mut map = Map::new();
        for key in Object::keys(v.unchecked_ref::<Object>()).iter() {
            let k = key.as_string().unwrap_or_default();
            let inner = Reflect::get(v, &key).unwrap_or(JsValue::UNDEFINED);
            map.insert(k, to_value(&inner)?);
        }
        return Ok(Value::Object(map));
    }
    Err("unsupported value".into())
}

fn rank_options(value: JsValue, what: &str) -> Result<RankOptions, JsValue> {
    let f = Fields::new(
        value,
        what,
        &[
            "k",
            "context",
            "filters",
            "exclude",
            "boosts",
            "pins",
            "diversity",
            "excludeSeen",
            "excludePurchased",
            "excludeInCart",
            "explain",
            "now",
        ],
    )?;
    let context = match f.get("context") {
        None => None,
        Some(c) if c.is_object() && !Array::is_array(&c) => match to_value(&c) {
            Ok(Value::Object(map)) => {
                // Inserted one by one: `collect` into a BTreeMap would bring a stable sort into
                // the wasm (~3 KB) for what is already in key order.
                let mut input = BTreeMap::new();
                for (k, v) in map {
                    input.insert(k, v);
                }
                Some(ContextInput(input))
            }
            Ok(_) => None,
            Err(why) => return Err(f.err(&format!("`context`: {why}"))),
        },
        Some(_) => return Err(f.err("`context` must be an object")),
    };
    let filters = match f.get("filters") {
        None => None,
        Some(v) => {
            let g = Fields::new(
                v,
                "filters",
                &[
                    "categories",
                    "excludeCategories",
                    "priceMin",
                    "priceMax",
                    "allow",
                    "deny",
                ],
            )?;
            Some(FilterOptions {
                categories: g.strings("categories")?,
                exclude_categories: g.strings("excludeCategories")?,
                price_min: g.number("priceMin")?,
                price_max: g.number("priceMax")?,
                allow: g.strings("allow")?,
                deny: g.strings("deny")?,
            })
        }
    };
    let mut boosts = Vec::new();
    for b in f.list("boosts")? {
        let g = Fields::new(b, "boost", &["items", "categories", "weight"])?;
        boosts.push(BoostOption {
            items: g.strings("items")?,
            categories: g.strings("categories")?,
            weight: g
                .number("weight")?
                .ok_or_else(|| g.err("`weight` is required"))?,
        });
    }
    let mut pins = Vec::new();
    for p in f.list("pins")? {
        let g = Fields::new(p, "pin", &["item", "id", "rank"])?;
        pins.push(PinOption {
            item: g
                .string("item")?
                .or(g.string("id")?)
                .ok_or_else(|| g.err("`item` is required"))?,
            rank: g
                .number("rank")?
                .ok_or_else(|| g.err("`rank` is required"))?,
        });
    }
    let diversity = match f.get("diversity") {
        None => None,
        Some(v) => {
            let g = Fields::new(v, "diversity", &["maxPerCategory", "lambda", "pool"])?;
            Some(DiversityOptions {
                max_per_category: g.number("maxPerCategory")?,
                lambda: g.number("lambda")?,
                pool: g.number("pool")?,
            })
        }
    };
    Ok(RankOptions {
        k: f.number("k")?,
        context,
        filters,
        exclude: f.strings("exclude")?,
        boosts: (!boosts.is_empty()).then_some(boosts),
        pins: (!pins.is_empty()).then_some(pins),
        diversity,
        exclude_seen: f.bool("excludeSeen")?,
        exclude_purchased: f.bool("excludePurchased")?,
        exclude_in_cart: f.bool("excludeInCart")?,
        explain: f.bool("explain")?,
        now: f.number("now")?,
    })
}

const EVENT_FIELDS: [&str; 8] = [
    "type", "item", "ts", "dwellMs", "dwell", "quantity", "price", "query",
];

fn event_input(f: &Fields<'_>) -> Result<EventInput, JsValue> {
    Ok(EventInput {
        kind: f
            .string("type")?
            .ok_or_else(|| f.err("`type` is required"))?,
        item: f.string("item")?,
        ts: f.number("ts")?,
        dwell_ms: f.number("dwellMs")?.or(f.number("dwell")?),
        quantity: f.number("quantity")?,
        price: f.number("price")?,
        query: f.string("query")?,
    })
}

/// `epsilon`: a number, or `Infinity` (the explicit non-private mode).
fn epsilon_field(f: &Fields<'_>, key: &str) -> Result<Option<EpsilonInput>, JsValue> {
    match f.get(key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() || x == f64::INFINITY => Ok(Some(EpsilonInput(x))),
            _ if v.as_string().as_deref() == Some("Infinity") => {
                Ok(Some(EpsilonInput(f64::INFINITY)))
            }
            _ => Err(f.err(&format!("`{key}` must be a number or Infinity"))),
        },
    }
}

/// `privacy: {epsilon, delta, budget: {epsilon, period}, mechanism}`.
fn privacy_options(value: JsValue) -> Result<PrivacyOptions, JsValue> {
    let f = Fields::new(
        value,
        "recommender options (privacy)",
        &["epsilon", "delta", "budget", "mechanism", "candidates"],
    )?;
    let candidates = match f.get("candidates") {
        None => None,
        Some(c) if c.as_string().as_deref() == Some("all") => Some(CandidatesInput(None)),
        Some(_) => match f.number("candidates") {
            Ok(Some(n)) => Some(CandidatesInput(Some(n))),
            _ => return Err(f.err("`candidates` must be a number of items or \"all\"")),
        },
    };
    let budget = match f.get("budget") {
        None => None,
        Some(v) => {
            let g = Fields::new(
                v,
                "recommender options (privacy.budget)",
                &["epsilon", "period"],
            )?;
            let period = match g.get("period") {
                None => None,
                Some(p) if p.as_string().as_deref() == Some("session") => Some(PeriodInput(None)),
                Some(_) => match g.number("period") {
                    Ok(Some(ms)) => Some(PeriodInput(Some(ms))),
                    _ => {
                        return Err(g.err("`period` must be milliseconds or \"session\""));
                    }
                },
            };
            if let Some(EpsilonInput(e)) = epsilon_field(&g, "epsilon")? {
                if !e.is_finite() {
                    return Err(g.err("`epsilon` of a budget must be finite"));
                }
            }
            Some(BudgetOptions {
                epsilon: epsilon_field(&g, "epsilon")?,
                period,
            })
        }
    };
    Ok(PrivacyOptions {
        epsilon: epsilon_field(&f, "epsilon")?,
        delta: f.number("delta")?,
        budget,
        mechanism: f.string("mechanism")?,
        candidates,
    })
}

fn session_options(value: JsValue) -> Result<SessionOptions, JsValue> {
    let what = "recommender options";
    let f = Fields::new(
        value,
        what,
        &[
            "maxEvents",
            "maxAgeS",
            "halfLifeS",
            "dwellFullMs",
            "weights",
            "privacy",
        ],
    )?;
    let privacy = match f.get("privacy") {
        None => None,
        Some(v) => Some(privacy_options(v)?),
    };
    let weights = match f.get("weights") {
        None => None,
        Some(v) => {
            let g = Fields::new(
                v,
                "recommender options (weights)",
                &[
                    "view",
                    "click",
                    "add_to_cart",
                    "remove_from_cart",
                    "purchase",
                ],
            )?;
            Some(WeightOverrides {
                view: g.f32("view")?,
                click: g.f32("click")?,
                add_to_cart: g.f32("add_to_cart")?,
                remove_from_cart: g.f32("remove_from_cart")?,
                purchase: g.f32("purchase")?,
            })
        }
    };
    Ok(SessionOptions {
        max_events: f.number("maxEvents")?,
        max_age_s: f.number("maxAgeS")?,
        half_life_s: f.number("halfLifeS")?,
        dwell_full_ms: f.number("dwellFullMs")?,
        weights,
        privacy,
    })
}

/// `privacyStatus()` as a plain object.
fn privacy_status(s: &PrivacyStatus) -> JsValue {
    let num = |x: Option<f64>| x.map_or(JsValue::NULL, JsValue::from_f64);
    let budget = match &s.budget {
        None => JsValue::NULL,
        Some(b) => object(&[
            ("epsilon", b.epsilon.into()),
            ("delta", b.delta.into()),
            ("periodMs", num(b.period_ms)),
            ("spentEpsilon", b.spent_epsilon.into()),
            ("spentDelta", b.spent_delta.into()),
            ("remainingEpsilon", b.remaining_epsilon.into()),
            ("spentRho", b.spent_rho.into()),
            ("releases", (b.releases as f64).into()),
            ("periodEndsMs", num(b.period_ends_ms)),
        ]),
    };
    let source = s.last_source.map_or(JsValue::NULL, |src| {
        match src {
            ReleaseSource::Fresh => "fresh",
            ReleaseSource::Cached => "cached",
            ReleaseSource::Public => "public",
            ReleaseSource::NotPrivate => "notPrivate",
        }
        .into()
    });
    object(&[
        ("private", s.private.into()),
        ("mechanism", s.mechanism.into()),
        ("unit", s.unit.into()),
        ("epsilon", num(s.epsilon)),
        ("delta", num(s.delta)),
        ("budget", budget),
        ("releasesLeft", num(s.releases_left.map(|n| n as f64))),
        ("lastSource", source),
    ])
}

/// The stored privacy state (`privacy` of an exported session) as a plain object.
fn privacy_snapshot(p: &PrivacySnapshot) -> JsValue {
    let a = &p.accountant;
    let mut fields: Vec<(&str, JsValue)> = vec![(
        "accountant",
        object(&[
            ("rhoUnits", (a.rho_units as f64).into()),
            ("gaussianRhoUnits", (a.gaussian_rho_units as f64).into()),
            ("pureEpsilonUnits", (a.pure_epsilon_units as f64).into()),
            (
                "periodStartMs",
                a.period_start_ms.map_or(JsValue::NULL, JsValue::from_f64),
            ),
            ("releases", (a.releases as f64).into()),
        ]),
    )];
    if let Some(v) = &p.last_profile {
        fields.push(("lastProfile", array(v, |x| f64::from(*x).into())));
    }
    if let Some(id) = &p.last_anchor {
        fields.push(("lastAnchor", id.as_str().into()));
    }
    if p.current {
        fields.push(("current", true.into()));
    }
    object(&fields)
}

/// Reads a stored privacy state; anything malformed is `state_corrupt`.
fn privacy_snapshot_from(value: JsValue) -> Result<PrivacySnapshot, JsValue> {
    let what = "saved session state (privacy)";
    let f = Fields::with_code(
        value,
        what,
        &["accountant", "lastProfile", "lastAnchor", "current"],
        "state_corrupt",
    )?;
    let a = Fields::with_code(
        f.get("accountant").unwrap_or(JsValue::UNDEFINED),
        what,
        &[
            "rhoUnits",
            "gaussianRhoUnits",
            "pureEpsilonUnits",
            "periodStartMs",
            "releases",
        ],
        "state_corrupt",
    )?;
    let units = |key: &str| -> Result<u64, JsValue> {
        match a.number(key)? {
            None => Ok(0),
            Some(x) if x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_992.0 => Ok(x as u64),
            Some(x) => Err(a.err(&format!(
                "`{key}` must be a whole number ≥ 0, got {}",
                Num(x)
            ))),
        }
    };
    let last_profile = match f.get("lastProfile") {
        None => None,
        Some(v) if Array::is_array(&v) => {
            let mut out = Vec::new();
            for x in Array::from(&v).iter() {
                match x.as_f64() {
                    Some(x) if x.is_finite() => out.push(x as f32),
                    _ => return Err(f.err("`lastProfile` must be an array of finite numbers")),
                }
            }
            Some(out)
        }
        Some(_) => return Err(f.err("`lastProfile` must be an array")),
    };
    Ok(PrivacySnapshot {
        accountant: AccountantState {
            rho_units: units("rhoUnits")?,
            gaussian_rho_units: units("gaussianRhoUnits")?,
            pure_epsilon_units: units("pureEpsilonUnits")?,
            period_start_ms: a.number("periodStartMs")?,
            releases: units("releases")?,
        },
        last_profile,
        last_anchor: f.string("lastAnchor")?,
        current: f.bool("current")?.unwrap_or(false),
    })
}

/// A plain JS object from `(key, value)` pairs.
fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

fn array<T>(items: &[T], f: impl Fn(&T) -> JsValue) -> JsValue {
    items.iter().map(f).collect::<Array>().into()
}

fn str_array(items: &[String]) -> JsValue {
    array(items, |s| JsValue::from_str(s))
}

fn part(p: &Part) -> JsValue {
    object(&[
        ("feature", p.feature.as_str().into()),
        ("value", f64::from(p.value).into()),
    ])
}

fn reason(r: &EventReason) -> JsValue {
    object(&[
        ("type", r.kind.into()),
        ("item", r.item.as_str().into()),
        ("ts", r.ts.into()),
        ("weight", f64::from(r.weight).into()),
        ("similarity", f64::from(r.similarity).into()),
        ("contribution", f64::from(r.contribution).into()),
    ])
}

fn explanation(why: &Explanation, head: &[(&str, JsValue)]) -> JsValue {
    let mut fields: Vec<(&str, JsValue)> = head.to_vec();
    fields.extend([
        ("contributions", array(&why.contributions, part)),
        ("events", array(&why.events, reason)),
        ("context", array(&why.context, part)),
        ("personalized", why.personalized.into()),
        ("pinned", why.pinned.into()),
    ]);
    object(&fields)
}

/// A response as a JS array of results `{id, score, rank, pinned?, boosted?, why?}` with
/// `unknownIds` and `warnings` properties (like the array `RegExp.exec` returns with `index` and
/// `groups`). The plain fields cross the boundary as one string and three arrays.
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
fn response(bundle: &Bundle, r: &RowResponse) -> JsValue {
    let mut ids = String::new();
    for row in &r.rows {
        ids.push('\n');
        ids.push_str(&bundle.ids()[row.index as usize]);
    }
    let (scores, ranks, flags) = columns(r);
    complete(vitrine_items(&ids, &scores, &ranks, &flags), r)
}

/// `rerank`'s results: ids are the page's own strings, at each row's position in `input`.
fn reranked(input: &JsValue, r: &RowResponse) -> JsValue {
    let positions: Vec<u32> = r.rows.iter().map(|row| row.position.unwrap_or(0)).collect();
    let (scores, ranks, flags) = columns(r);
    complete(
        vitrine_reranked(input, &positions, &scores, &ranks, &flags),
        r,
    )
}

/// Adds the explanations, `unknownIds` and `warnings` to a response's items.
fn complete(items: Array, r: &RowResponse) -> JsValue {
    for (i, row) in r.rows.iter().enumerate() {
        if let Some(why) = &row.why {
            let _ = Reflect::set(&items.get(i as u32), &"why".into(), &explanation(why, &[]));
        }
    }
    let _ = Reflect::set(&items, &"unknownIds".into(), &str_array(&r.unknown_ids));
    let _ = Reflect::set(&items, &"warnings".into(), &str_array(&r.warnings));
    items.into()
}

fn string_arg(value: &JsValue, what: &str) -> Result<String, JsValue> {
    value.as_string().ok_or_else(|| {
        js_error(
            &format!("invalid option '{what}': expected a string"),
            "invalid_option",
        )
    })
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
    }

    fn load(bytes: Vec<u8>, options: &BundleOptions) -> Result<Recommender, JsError> {
        Bundle::from_bytes_with(bytes, options)
            .map_err(VitrineError::from)
            .and_then(|b| Engine::from_bundle(b, &SessionOptions::default()))
            .map(|engine| Recommender { engine })
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// Validates request options, with `Date.now()` as the request time unless they give one.
    fn options(&self, value: JsValue, what: &str) -> Result<ValidRankOptions, JsValue> {
        let raw = rank_options(value, what)?;
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
    /// `Error` naming the problem for anything invalid (a plain `Error`, without `code`: every
    /// load failure is a bundle problem; bad `options` throw an `invalid_option` one).
    ///
    /// `options`: `{verifyDigest}` (default `true`). `false` skips the bundle's SHA-256 check,
    /// most of the load time, for a page that has already verified the bytes (Subresource
    /// Integrity on the fetch, a signature); every other check still runs. The bytes are moved
    /// into the wasm memory once (no second copy).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes_with(bytes: Vec<u8>, options: JsValue) -> Result<Recommender, JsValue> {
        let f = Fields::new(options, "fromBytes options", &["verifyDigest"])?;
        let options = BundleOptions {
            verify_digest: f.bool("verifyDigest")?.unwrap_or(true),
        };
        Self::load(bytes, &options).map_err(JsValue::from)
    }

    /// Sets the session settings `{maxEvents, maxAgeS, halfLifeS, dwellFullMs, weights: {view,
    /// click, add_to_cart, remove_from_cart, purchase}}` (absent keys: the defaults and the
    /// bundle's values). The session is kept; smaller limits evict its oldest entries.
    pub fn configure(&mut self, options: JsValue) -> Result<(), JsValue> {
        let options = session_options(options)?;
        self.engine.configure(&options).map_err(fail)
    }

    /// Records `{type, item?, ts?, dwellMs?, quantity?, price?, query?}` (`ts` defaults to
    /// `Date.now()`). Throws for an unknown item id or event type or a bad field; the session is
    /// then unchanged.
    pub fn track(&mut self, event: JsValue) -> Result<(), JsValue> {
        let what = "event (expected {type, item, ts?})";
        if event.is_undefined() || event.is_null() {
            return Err(js_error(
                &format!("invalid {what}: got nothing"),
                "invalid_event",
            ));
        }
        let f = Fields::with_code(event, what, &EVENT_FIELDS, "invalid_event")?;
        let mut input = event_input(&f)?;
        input.ts.get_or_insert_with(js_sys::Date::now);
        self.engine.track_event(&input).map_err(fail)
    }

    /// The top `k` of the catalog: `[{id, score, rank, pinned?, boosted?, why?}]`, best first,
    /// with `unknownIds` and `warnings` properties. Options: `{k, context, filters, exclude,
    /// boosts, pins, diversity, excludeSeen, excludePurchased, excludeInCart, explain, now}`.
    pub fn recommend(&mut self, options: JsValue) -> Result<JsValue, JsValue> {
        let opts = self.options(options, "recommend options")?;
        let rows = self.engine.recommend_rows(&opts);
        Ok(response(self.engine.bundle(), &rows))
    }

    /// The page's candidate ids reordered (same options and result shape as `recommend`).
    pub fn rerank(&mut self, ids: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let list = StrList::from_js(&ids).ok_or_else(|| {
            js_error(
                "invalid candidates: expected an array of item ids",
                "invalid_option",
            )
        })?;
        let opts = self.options(options, "rerank options")?;
        let rows = self.engine.rerank_rows(&list.strs(), &opts).map_err(fail)?;
        Ok(reranked(&ids, &rows))
    }

    /// Items like `id` (same options and result shape as `recommend`).
    pub fn similar(&self, id: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let id = string_arg(&id, "id")?;
        let opts = self.options(options, "similar options")?;
        let rows = self.engine.similar_rows(&id, &opts);
        Ok(response(self.engine.bundle(), &rows))
    }

    /// Why item `id` gets its score under these (`recommend`) options: `{id, score,
    /// contributions, events, context, personalized, pinned}`.
    pub fn explain(&mut self, id: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let id = string_arg(&id, "id")?;
        let opts = self.options(options, "explain options")?;
        let ItemExplanation { id, score, why } = self.engine.explain(&id, &opts).map_err(fail)?;
        Ok(explanation(
            &why,
            &[("id", id.into()), ("score", f64::from(score).into())],
        ))
    }

    /// The session as a versioned JSON string, to store on the device.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self) -> String {
        let state = self.engine.session().to_state(self.engine.bundle());
        let events = array(&state.events, |e| {
            let mut fields: Vec<(&str, JsValue)> = vec![("type", e.kind.as_str().into())];
            let mut opt = |k, v: Option<JsValue>| {
                if let Some(v) = v {
                    fields.push((k, v));
                }
            };
            opt("item", e.item.as_deref().map(JsValue::from_str));
            opt("ts", e.ts.map(JsValue::from_f64));
            opt("dwellMs", e.dwell_ms.map(JsValue::from_f64));
            opt("quantity", e.quantity.map(JsValue::from_f64));
            opt("price", e.price.map(JsValue::from_f64));
            opt("query", e.query.as_deref().map(JsValue::from_str));
            object(&fields)
        });
        let obj = object(&[
            ("format", state.format.as_str().into()),
            ("version", state.version.into()),
            ("events", events),
            ("privacy", privacy_snapshot(&self.engine.privacy_snapshot())),
        ]);
        js_sys::JSON::stringify(&obj)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    }

    /// Replaces the session with a stored one; returns `{imported, unknownItems, expired,
    /// overLimit}`. Throws (`code` = `state_corrupt`, `state_foreign` or `state_too_new`) and keeps
    /// the session as it was for a state it cannot use.
    #[wasm_bindgen(js_name = importState)]
    pub fn import_state(&mut self, json: JsValue) -> Result<JsValue, JsValue> {
        let corrupt = |why: &str| fail(StateError::Corrupt(why.to_owned()).into());
        let json = json
            .as_string()
            .ok_or_else(|| corrupt("expected a JSON string"))?;
        let state = js_sys::JSON::parse(&json).map_err(|_| corrupt("not JSON"))?;
        if !state.is_object() || Array::is_array(&state) {
            return Err(corrupt("not a JSON object"));
        }
        let get = |k: &str| Reflect::get(&state, &k.into()).unwrap_or(JsValue::UNDEFINED);
        let format = get("format").as_string();
        let version = get("version").as_f64();
        crate::session::check_state_envelope(format.as_deref(), version)
            .map_err(|e| fail(e.into()))?;
        let list = get("events");
        if !Array::is_array(&list) {
            return Err(corrupt("'events' must be an array"));
        }
        let mut events = Vec::new();
        for (i, e) in Array::from(&list).iter().enumerate() {
            let what = format!("event {i}");
            let f = Fields::with_code(e, &what, &EVENT_FIELDS, "state_corrupt")
                .map_err(|_| corrupt(&format!("event {i} is malformed")))?;
            events.push(event_input(&f).map_err(|_| corrupt(&format!("event {i} is malformed")))?);
        }
        let ImportReport {
            imported,
            unknown_items,
            expired,
            over_limit,
        } = {
            let privacy = match get("privacy") {
                p if p.is_undefined() || p.is_null() => None,
                p => Some(privacy_snapshot_from(p)?),
            };
            self.engine
                .import_state_with_privacy(&events, privacy, js_sys::Date::now())
                .map_err(fail)?
        };
        Ok(object(&[
            ("imported", (imported as f64).into()),
            ("unknownItems", (unknown_items as f64).into()),
            ("expired", (expired as f64).into()),
            ("overLimit", (over_limit as f64).into()),
        ]))
    }

    /// Differential privacy: `{private, mechanism, unit, epsilon, delta, budget: {epsilon, delta,
    /// periodMs, spentEpsilon, spentDelta, remainingEpsilon, spentRho, releases, periodEndsMs},
    /// releasesLeft, lastSource}` now (see docs/PRIVACY.md).
    #[wasm_bindgen(js_name = privacyStatus)]
    pub fn privacy_status(&self) -> JsValue {
        privacy_status(&self.engine.privacy_status(js_sys::Date::now()))
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
