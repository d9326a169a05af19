//! A page's `context` (a JS object of JSON-like values) as the core's JSON value, walked with a
//! stack of open arrays and objects on the heap (no recursion: the wasm stack is 128 KiB, and a
//! debug build's frames are large), within a nesting limit and an allowance of characters,
//! elements and keys.

use js_sys::{Array, JsString};
use serde_json::{Map, Number, Value};
use wasm_bindgen::prelude::*;

use super::js_read::{js_entries, js_list, Budget, ListError, MAX_LIST};
use crate::numfmt::Num;

/// How deep a context value may nest: serde_json's recursion limit, so that both readers refuse
/// what JSON parsing refuses.
const MAX_CONTEXT_DEPTH: usize = 128;

/// Most characters, list elements and object keys a request's `context` may hold in all (64 Ki:
/// a context is a few short tokens; a value that repeats one list by reference, `v = [v, v]`
/// sixty times over, is refused after 64 Ki of its 2⁶⁰ elements, not walked).
const MAX_CONTEXT_UNITS: u32 = 1 << 16;

/// `v` as a JSON value (numbers must be finite; whole ones are integers, as JSON parsing makes
/// them). Deeper than [`MAX_CONTEXT_DEPTH`] levels, or more than [`MAX_CONTEXT_UNITS`]
/// characters, elements and keys in all, is an error (a page's object may nest and repeat
/// without bound: 5,000 levels overflowed the stack of a recursive walk before).
pub(super) fn context_value(v: &JsValue) -> Result<Value, String> {
    let budget = Budget::new(MAX_CONTEXT_UNITS);
    let mut open: Vec<Open> = Vec::new();
    let mut next = v.clone();
    loop {
        // `next` is read: a value, or a container opened on the stack.
        let mut done = match scalar(&next, &budget)? {
            Some(value) => Some(value),
            None => {
                if open.len() >= MAX_CONTEXT_DEPTH && next.is_object() {
                    return Err(format!("nests more than {MAX_CONTEXT_DEPTH} levels deep"));
                }
                open.push(Open::new(&next, &budget)?);
                None
            }
        };
        // Finished values go to their containers, until one has a child left to read.
        loop {
            let Some(top) = open.last_mut() else {
                return Ok(done.unwrap_or(Value::Null));
            };
            if let Some(value) = done.take() {
                top.put(value);
            }
            if let Some(child) = top.child(&budget)? {
                next = child;
                break;
            }
            done = open.pop().map(Open::finish);
        }
    }
}

/// A null, boolean, number or string as a JSON value (a string's length taken from `budget`),
/// or `None` for anything else.
fn scalar(v: &JsValue, budget: &Budget) -> Result<Option<Value>, String> {
    if v.is_undefined() || v.is_null() {
        return Ok(Some(Value::Null));
    }
    if let Some(b) = v.as_bool() {
        return Ok(Some(Value::Bool(b)));
    }
    if let Some(x) = v.as_f64() {
        // Whole numbers as JSON parsing makes them (integers), so both readers hold equal values.
        if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
            return Ok(Some(Value::Number(Number::from(x as i64))));
        }
        return Number::from_f64(x)
            .map(|n| Some(Value::Number(n)))
            .ok_or_else(|| format!("{} is not a finite number", Num(x)));
    }
    if let Some(s) = v.dyn_ref::<JsString>() {
        budget.take(s.length())?;
        return Ok(Some(Value::String(String::from(s))));
    }
    Ok(None)
}

/// An array or object being read: its elements (a plain copy) or `[key, value, …]`, how many
/// children are read, and what they made so far.
struct Open {
    items: Array,
    /// Children in `items` (elements, or key–value pairs).
    len: u32,
    /// Children read.
    at: u32,
    made: Made,
}

enum Made {
    Array(Vec<Value>),
    /// The object so far, and the key of the child being read.
    Object(Map<String, Value>, String),
}

impl Open {
    /// `v` opened as an array or an object (its children counted in `budget`), or why not.
    fn new(v: &JsValue, budget: &Budget) -> Result<Self, String> {
        let (items, len, made) = match js_list(v, MAX_LIST) {
            Ok(items) => {
                let len = items.length();
                let room = len.min(1024) as usize;
                (items, len, Made::Array(Vec::with_capacity(room)))
            }
            Err(ListError::Type) => match js_entries(v, MAX_LIST) {
                Ok(entries) => {
                    let len = entries.length() / 2;
                    (entries, len, Made::Object(Map::new(), String::new()))
                }
                Err(ListError::Type) => return Err("unsupported value".into()),
                Err(e) => return Err(e.reason("")),
            },
            Err(e) => return Err(e.reason("")),
        };
        budget.take(len)?;
        Ok(Self {
            items,
            len,
            at: 0,
            made,
        })
    }

    /// The next child to read (an object's key read first), or `None` when all are read.
    fn child(&mut self, budget: &Budget) -> Result<Option<JsValue>, String> {
        if self.at >= self.len {
            return Ok(None);
        }
        let i = self.at;
        self.at += 1;
        Ok(Some(match &mut self.made {
            Made::Array(_) => self.items.get(i),
            Made::Object(_, key) => {
                *key = match scalar(&self.items.get(2 * i), budget)? {
                    Some(Value::String(k)) => k,
                    _ => String::new(),
                };
                self.items.get(2 * i + 1)
            }
        }))
    }

    /// Stores the value of the child read last.
    fn put(&mut self, value: Value) {
        match &mut self.made {
            Made::Array(out) => out.push(value),
            Made::Object(map, key) => {
                map.insert(std::mem::take(key), value);
            }
        }
    }

    /// The finished array or object.
    fn finish(self) -> Value {
        match self.made {
            Made::Array(out) => Value::Array(out),
            Made::Object(map, _) => Value::Object(map),
        }
    }
}
