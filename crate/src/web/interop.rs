//! JS values ↔ the core's wire types: a [`Reader`] and a [`Writer`] over `JsValue`, and the leaf
//! conversions (numbers, strings, lists, keywords). Field names come from the core types
//! ([`crate::wire`]); nothing here spells one. Unknown fields, wrong types and non-finite numbers
//! are errors with the code of what was being read (`invalid_option`, `invalid_event`,
//! `state_corrupt`), as serde's derives make them natively. Nothing here panics on JS input.

use std::collections::BTreeMap;
use std::rc::Rc;

use js_sys::{Array, JsString, Object, Reflect};
use serde_json::Value;
use wasm_bindgen::prelude::*;

use super::js_read::{js_entries, js_list, vitrine_fields, Budget, ListError, StrList, MAX_LIST};
use super::js_value::context_value;
use crate::context::ContextInput;
use crate::error::{RequestError, StateError, VitrineError};
use crate::numfmt::Num;
use crate::privacy::{CandidatesInput, EpsilonInput, PeriodInput, ReleaseSource};
use crate::wire::{Field, FromReader, NumberOrText, Reader, ToWriter, WireStruct, Writer};

/// What a top-level value is, which decides the code of its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Request options and settings: `invalid_option`.
    Options,
    /// An event: `invalid_event` (only the engine reads events).
    #[cfg_attr(not(feature = "web-engine"), allow(dead_code))]
    Event,
    /// A stored state: `state_corrupt`.
    State,
}

/// A reading error, already typed (boxed: results stay one word wide).
pub(crate) struct ReadError(pub Box<VitrineError>);

impl From<VitrineError> for ReadError {
    fn from(e: VitrineError) -> Self {
        Self(Box::new(e))
    }
}

/// Where a value sits in what is being read: the top-level value (with what it is and the code of
/// its errors), or a field or list element of a parent. The path is spelled only for an error.
enum Place {
    Top {
        kind: Kind,
        what: &'static str,
        /// What is left of the read's allowance ([`MAX_READ`]).
        budget: Budget,
    },
    Field {
        parent: Rc<Place>,
        name: &'static str,
    },
    Element {
        parent: Rc<Place>,
        index: u32,
    },
}

impl Place {
    fn top(&self) -> (Kind, &'static str) {
        match self {
            Place::Top { kind, what, .. } => (*kind, what),
            Place::Field { parent, .. } | Place::Element { parent, .. } => parent.top(),
        }
    }

    /// The read's allowance.
    fn budget(&self) -> &Budget {
        match self {
            Place::Top { budget, .. } => budget,
            Place::Field { parent, .. } | Place::Element { parent, .. } => parent.budget(),
        }
    }

    /// `filters.priceMin`, `boosts[2].weight`; empty at the top.
    fn path(&self, out: &mut String) {
        match self {
            Place::Top { .. } => {}
            Place::Field { parent, name } => {
                parent.path(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Place::Element { parent, index } => {
                parent.path(out);
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
        }
    }
}

/// A reader positioned at one JS value.
pub(crate) struct JsReader {
    value: JsValue,
    place: Rc<Place>,
}

/// An opened JS object: its fields' values in `fields` order.
pub(crate) struct JsObject {
    values: Vec<JsValue>,
    fields: &'static [Field],
    place: Rc<Place>,
}

impl JsReader {
    pub(crate) fn new(value: JsValue, kind: Kind, what: &'static str) -> Self {
        Self {
            value,
            place: Rc::new(Place::Top {
                kind,
                what,
                budget: Budget::new(MAX_READ),
            }),
        }
    }

    fn absent(&self) -> bool {
        self.value.is_undefined() || self.value.is_null()
    }

    /// An error about this value.
    #[inline(never)]
    #[cold]
    fn err(&self, why: &str) -> ReadError {
        let mut path = String::new();
        self.place.path(&mut path);
        let why = if path.is_empty() {
            why.to_owned()
        } else {
            format!("`{path}` {why}")
        };
        let (kind, what) = self.place.top();
        let what = what.to_string();
        ReadError::from(match kind {
            Kind::Options => VitrineError::from(RequestError::MalformedOptions { what, why }),
            Kind::Event => RequestError::MalformedEvent { what, why }.into(),
            Kind::State => StateError::Corrupt(format!("{what}: {why}")).into(),
        })
    }

    #[inline(never)]
    fn open(self, fields: &'static [Field], strict: bool) -> Result<JsObject, ReadError> {
        let mut keys = String::new();
        for f in fields {
            for k in std::iter::once(&f.name).chain(f.aliases) {
                if !keys.is_empty() {
                    keys.push(',');
                }
                keys.push_str(k);
            }
        }
        let read = vitrine_fields(&self.value, &keys, strict);
        if let Some(why) = read.as_string() {
            return Err(if matches!(*self.place, Place::Top { .. }) {
                self.err(&why)
            } else {
                self.err(&format!("is invalid: {why}"))
            });
        }
        let all: Array = read.unchecked_into();
        let mut values = Vec::with_capacity(fields.len());
        let mut at = 0u32;
        for f in fields {
            let mut found: Option<(JsValue, &str)> = None;
            for k in std::iter::once(&f.name).chain(f.aliases) {
                let v = all.get(at);
                at += 1;
                if v.is_undefined() {
                    continue;
                }
                if let Some((_, first)) = found {
                    return Err(self.err(&format!("gives `{first}` twice (also as `{k}`)")));
                }
                found = Some((v, k));
            }
            values.push(found.map_or(JsValue::UNDEFINED, |(v, _)| v));
        }
        Ok(JsObject {
            values,
            fields,
            place: self.place,
        })
    }

    /// A plain copy of this JS array, or the error saying why not (one function for every
    /// element type: [`JsElement::read_list`] is instantiated per type).
    #[inline(never)]
    fn array(&self) -> Result<Array, ReadError> {
        match js_list(&self.value, MAX_LIST) {
            Ok(items) => Ok(items),
            Err(ListError::Type) if self.absent() => Err(self.err("is required")),
            Err(e) => Err(self.err(&e.reason("must be an array"))),
        }
    }

    fn element(&self, value: JsValue, index: u32) -> Self {
        Self {
            value,
            place: Rc::new(Place::Element {
                parent: Rc::clone(&self.place),
                index,
            }),
        }
    }

    fn number(&self) -> Result<f64, ReadError> {
        match self.value.as_f64() {
            Some(x) if x.is_finite() => Ok(x),
            Some(x) => Err(self.err(&format!("must be a finite number, got {}", Num(x)))),
            None if self.absent() => Err(self.err("is required")),
            None => Err(self.err("must be a number")),
        }
    }

    /// Takes `units` (characters and list elements) from the read's budget.
    #[inline(never)]
    fn spend(&self, units: u32) -> Result<(), ReadError> {
        self.place
            .budget()
            .take(units)
            .map_err(|why| self.err(&format!("is {why}")))
    }

    /// `v`'s text when it is a string, its length taken from the budget before it is copied.
    fn text(&self, v: &JsValue) -> Result<Option<String>, ReadError> {
        match v.dyn_ref::<JsString>() {
            Some(s) => {
                self.spend(s.length())?;
                Ok(v.as_string())
            }
            None => Ok(None),
        }
    }

    fn string(&self) -> Result<String, ReadError> {
        match self.text(&self.value)? {
            Some(s) => Ok(s),
            None if self.absent() => Err(self.err("is required")),
            None => Err(self.err("must be a string")),
        }
    }

    /// A number (any, `Infinity` and `NaN` included: the type decides) or a text.
    fn number_or_text(&self) -> Result<NumberOrText, ReadError> {
        if let Some(x) = self.value.as_f64() {
            return Ok(NumberOrText::Number(x));
        }
        self.text(&self.value)?
            .map(NumberOrText::Text)
            .ok_or_else(|| self.err("must be a number or a keyword"))
    }
}

impl Reader for JsReader {
    type Error = ReadError;
    type Object = JsObject;

    fn object(self, fields: &'static [Field]) -> Result<JsObject, ReadError> {
        self.open(fields, true)
    }

    fn lenient_object(self, fields: &'static [Field]) -> Result<JsObject, ReadError> {
        self.open(fields, false)
    }

    #[inline(never)]
    fn field(object: &mut JsObject, index: usize) -> Self {
        let value = object
            .values
            .get_mut(index)
            .map_or(JsValue::UNDEFINED, |v| {
                std::mem::replace(v, JsValue::UNDEFINED)
            });
        Self {
            value,
            place: Rc::new(Place::Field {
                parent: Rc::clone(&object.place),
                name: object.fields.get(index).map_or("?", |f| f.name),
            }),
        }
    }
}

/// Reads a top-level value as `T`.
pub(crate) fn read<T: FromReader<JsReader>>(
    value: JsValue,
    kind: Kind,
    what: &'static str,
) -> Result<T, VitrineError> {
    T::from_reader(JsReader::new(value, kind, what)).map_err(|e| *e.0)
}

impl<T: FromReader<JsReader>> FromReader<JsReader> for Option<T> {
    #[inline]
    fn from_reader(r: JsReader) -> Result<Self, ReadError> {
        if r.absent() {
            Ok(None)
        } else {
            T::from_reader(r).map(Some)
        }
    }
}

impl FromReader<JsReader> for f64 {
    #[inline(never)]
    fn from_reader(r: JsReader) -> Result<Self, ReadError> {
        r.number()
    }
}

impl FromReader<JsReader> for f32 {
    #[inline(never)]
    fn from_reader(r: JsReader) -> Result<Self, ReadError> {
        r.number().map(|x| x as f32)
    }
}

/// Absent reads as `false` (such fields carry `#[serde(default)]`).
impl FromReader<JsReader> for bool {
    #[inline(never)]
    fn from_reader(r: JsReader) -> Result<Self, ReadError> {
        if r.absent() {
            return Ok(false);
        }
        r.value
            .as_bool()
            .ok_or_else(|| r.err("must be true or false"))
    }
}

/// `[lo, hi]`: a list of exactly two finite numbers (an experiment namespace's range).
impl FromReader<JsReader> for [f64; 2] {
    #[inline(never)]
    fn from_reader(r: JsReader) -> Result<Self, ReadError> {
        let list = match js_list(&r.value, 2) {
            Ok(list) if list.length() == 2 => list,
            Err(ListError::Type) if r.absent() => return Err(r.err("is required")),
            Err(e @ ListError::Threw(_)) => return Err(r.err(&e.reason(""))),
            _ => return Err(r.err("must be a list of two numbers")),
        };
        Ok([
            r.element(list.get(0), 0).number()?,
            r.element(list.get(1), 1).number()?,
        ])
    }
}

/// A required whole number in `[0, 2³²)` (counters of a stored experiment state).
impl FromReader<JsReader> for u32 {
    #[inline(never)]
    fn from_reader(r: JsReader) -> Result<Self, ReadError> {
        let x = r.number()?;
        if x >= 0.0 && x.fract() == 0.0 && x <= f64::from(u32::MAX) {
            Ok(x as u32)
        } else {
            Err(r.err(&format!(
                "must be a whole number from 0 to 2^32 - 1, got {}",
                Num(x)
            )))
        }
    }
}

/// An object of string keys to `T`s (a stored experiment state's tallies), at most
/// [`MAX_MAP_KEYS`] keys.
impl<T: FromReader<JsReader>> FromReader<JsReader> for BTreeMap<String, T> {
    fn from_reader(r: JsReader) -> Result<Self, ReadError> {
        let entries = match js_entries(&r.value, MAX_MAP_KEYS) {
            Ok(entries) => entries,
            Err(ListError::TooLong(_)) => return Err(r.err("has too many keys")),
            Err(e) => return Err(r.err(&e.reason("must be an object"))),
        };
        let mut out = BTreeMap::new();
        for i in 0..entries.length() / 2 {
            let item = r.element(entries.get(2 * i + 1), i);
            let key = r.text(&entries.get(2 * i))?.unwrap_or_default();
            out.insert(key, T::from_reader(item)?);
        }
        Ok(out)
    }
}

/// Most keys a map read from JS may have.
const MAX_MAP_KEYS: u32 = 1024;

/// A whole number ≥ 0 a JS number holds exactly; absent reads as 0 (such fields carry
/// `#[serde(default)]`).
impl FromReader<JsReader> for u64 {
    #[inline(never)]
    fn from_reader(r: JsReader) -> Result<Self, ReadError> {
        if r.absent() {
            return Ok(0);
        }
        let x = r.number()?;
        if x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_992.0 {
            Ok(x as u64)
        } else {
            Err(r.err(&format!("must be a whole number ≥ 0, got {}", Num(x))))
        }
    }
}

impl FromReader<JsReader> for String {
    #[inline(never)]
    fn from_reader(r: JsReader) -> Result<Self, ReadError> {
        r.string()
    }
}

/// Elements of lists: strings go through one joined copy, other types one by one.
pub(crate) trait JsElement: Sized {
    fn read_list(r: &JsReader) -> Result<Vec<Self>, ReadError> {
        let items = r.array()?;
        r.spend(items.length())?;
        // A plain loop: `collect` into a `Result` instantiates the iterator adapters per element
        // type (~3 KB of wasm). Room reserved for at most 1,024: an element may be large.
        let mut out = Vec::with_capacity(items.length().min(1024) as usize);
        for i in 0..items.length() {
            out.push(Self::read_one(r.element(items.get(i), i))?);
        }
        Ok(out)
    }
    fn read_one(r: JsReader) -> Result<Self, ReadError>;
}

impl JsElement for String {
    fn read_list(r: &JsReader) -> Result<Vec<Self>, ReadError> {
        match StrList::from_js(&r.value) {
            Ok(list) => {
                r.spend(list.units())?;
                Ok(list.strs().into_iter().map(str::to_owned).collect())
            }
            Err(_) if r.absent() => Err(r.err("is required")),
            Err(e) => Err(r.err(&e.reason("must be an array of strings"))),
        }
    }
    fn read_one(r: JsReader) -> Result<Self, ReadError> {
        r.string()
    }
}

impl JsElement for f32 {
    fn read_one(r: JsReader) -> Result<Self, ReadError> {
        f32::from_reader(r)
    }
}

impl<T: WireStruct + FromReader<JsReader>> JsElement for T {
    fn read_one(r: JsReader) -> Result<Self, ReadError> {
        T::from_reader(r)
    }
}

impl<T: JsElement> FromReader<JsReader> for Vec<T> {
    #[inline(never)]
    fn from_reader(r: JsReader) -> Result<Self, ReadError> {
        T::read_list(&r)
    }
}

macro_rules! read_keyword_type {
    ($($t:ty),*) => {$(
        impl FromReader<JsReader> for $t {
            #[inline(never)]
            fn from_reader(r: JsReader) -> Result<Self, ReadError> {
                let v = r.number_or_text()?;
                <$t>::from_wire(v).map_err(|why| r.err(&why))
            }
        }
    )*};
}
read_keyword_type!(EpsilonInput, PeriodInput, CandidatesInput);

/// Most string characters, list elements and object keys one value read from JS may hold in all
/// (64 Mi): a page's object may repeat one large string or list by reference without bound (a
/// list of ten references to a 500-million-character string), and every copy would go into the
/// wasm memory.
const MAX_READ: u32 = 1 << 26;

/// `context`: an object of keys to JSON-like values (checked by the core's context validation).
impl FromReader<JsReader> for ContextInput {
    #[inline(never)]
    fn from_reader(r: JsReader) -> Result<Self, ReadError> {
        // An array reads as `Value::Array` below (no `Array.isArray` here: it throws on a
        // revoked proxy).
        if !r.value.is_object() {
            return Err(r.err("must be an object"));
        }
        match context_value(&r.value) {
            Ok(Value::Object(map)) => {
                // Inserted one by one: `collect` into a BTreeMap would bring a stable sort into
                // the wasm (~3 KB) for what is already in key order.
                let mut input = BTreeMap::new();
                for (k, v) in map {
                    input.insert(k, v);
                }
                Ok(ContextInput(input))
            }
            Ok(_) => Err(r.err("must be an object")),
            Err(why) => Err(r.err(&format!("is invalid: {why}"))),
        }
    }
}

/// Writes plain JS values.
pub(crate) struct JsWriter;

impl Writer for JsWriter {
    type Value = JsValue;

    fn object(&mut self, fields: Vec<(&'static str, Option<JsValue>)>) -> JsValue {
        let o = Object::new();
        for (k, v) in fields {
            if let Some(v) = v {
                // Setting a property on a fresh plain object cannot fail.
                let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
            }
        }
        o.into()
    }
}

/// Writes `value` as a plain JS value.
pub(crate) fn write<T: ToWriter<JsWriter> + ?Sized>(value: &T) -> JsValue {
    value.to_writer(&mut JsWriter)
}

impl<T: ToWriter<JsWriter>> ToWriter<JsWriter> for Option<T> {
    fn to_writer(&self, w: &mut JsWriter) -> JsValue {
        self.as_ref().map_or(JsValue::NULL, |v| v.to_writer(w))
    }
}

impl<T: ToWriter<JsWriter>> ToWriter<JsWriter> for Vec<T> {
    fn to_writer(&self, w: &mut JsWriter) -> JsValue {
        self.iter()
            .map(|x| x.to_writer(w))
            .collect::<Array>()
            .into()
    }
}

impl<T: ToWriter<JsWriter>> ToWriter<JsWriter> for BTreeMap<String, T> {
    fn to_writer(&self, w: &mut JsWriter) -> JsValue {
        let o = Object::new();
        for (k, v) in self {
            // Setting a property on a fresh plain object cannot fail.
            let _ = Reflect::set(&o, &JsValue::from_str(k), &v.to_writer(w));
        }
        o.into()
    }
}

macro_rules! write_number {
    ($($t:ty),*) => {$(
        impl ToWriter<JsWriter> for $t {
            fn to_writer(&self, _: &mut JsWriter) -> JsValue {
                JsValue::from_f64(*self as f64)
            }
        }
    )*};
}
write_number!(f64, f32, u64, u32, u8, usize);

impl ToWriter<JsWriter> for bool {
    fn to_writer(&self, _: &mut JsWriter) -> JsValue {
        JsValue::from_bool(*self)
    }
}

impl ToWriter<JsWriter> for String {
    fn to_writer(&self, _: &mut JsWriter) -> JsValue {
        JsValue::from_str(self)
    }
}

impl ToWriter<JsWriter> for &'static str {
    fn to_writer(&self, _: &mut JsWriter) -> JsValue {
        JsValue::from_str(self)
    }
}

impl ToWriter<JsWriter> for ReleaseSource {
    fn to_writer(&self, _: &mut JsWriter) -> JsValue {
        JsValue::from_str(self.as_str())
    }
}
