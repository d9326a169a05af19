//! The wire parity corpus (`corpus.json`): options, settings, events and stored states, valid and
//! invalid, each with its expected outcome (`ok` or an error `code`). Natively the serde reader
//! runs it (`tests/wire_parity.rs`); in the browser both the wasm reader and serde do, and must
//! agree value for value (`tests/web.rs`).
#![allow(dead_code)]

use serde::Deserialize;
use serde_json::Value;
use vitrine::error::{RequestError, VitrineError};
use vitrine::{EventInput, Model, RankOptions, Shopper, ShopperOptions, StoredState};

/// One corpus entry.
#[derive(Debug, Deserialize)]
pub struct Case {
    /// `rank`, `settings`, `event` or `state`.
    pub kind: String,
    /// `ok`, or the error code both readers must give.
    pub expect: String,
    pub json: Value,
}

/// The corpus.
pub fn corpus() -> Vec<Case> {
    serde_json::from_str(include_str!("corpus.json")).expect("corpus.json")
}

/// A value as a reader read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    Rank(RankOptions),
    Settings(ShopperOptions),
    Event(EventInput),
    State(StoredState),
}

/// The native (serde) reader. Absent options (`null`) are the defaults, as a JS call without
/// them is.
pub fn native_read(kind: &str, json: &Value) -> Result<Read, VitrineError> {
    let options = |e: serde_json::Error| -> VitrineError {
        RequestError::MalformedOptions {
            what: "options".into(),
            why: e.to_string(),
        }
        .into()
    };
    Ok(match kind {
        "rank" if json.is_null() => Read::Rank(RankOptions::default()),
        "rank" => Read::Rank(serde_json::from_value(json.clone()).map_err(options)?),
        "settings" if json.is_null() => Read::Settings(ShopperOptions::default()),
        "settings" => Read::Settings(serde_json::from_value(json.clone()).map_err(options)?),
        "event" => Read::Event(serde_json::from_value(json.clone()).map_err(|e| {
            VitrineError::from(RequestError::MalformedEvent {
                what: "event".into(),
                why: e.to_string(),
            })
        })?),
        "state" => Read::State(StoredState::parse(&json.to_string())?),
        other => panic!("unknown corpus kind {other}"),
    })
}

/// What the engine makes of a read value: the validated value (as its `Debug` text) or the error
/// code.
pub fn validate(model: &Model, read: &Read) -> Result<String, &'static str> {
    let code = |e: VitrineError| e.code();
    match read {
        Read::Rank(o) => o
            .validate(model.bundle())
            .map(|v| format!("{v:?}"))
            .map_err(|e| code(e.into())),
        Read::Settings(o) => Shopper::new(model, o)
            .map(|s| format!("{:?} {:?}", s.config(), s.privacy()))
            .map_err(code),
        Read::Event(e) => e
            .validate(model.bundle())
            .map(|v| format!("{v:?}"))
            .map_err(|e| code(e.into())),
        Read::State(s) => {
            let mut shopper = Shopper::new(model, &ShopperOptions::default()).map_err(code)?;
            let report = shopper.import_state(model, s, 0.0).map_err(code)?;
            Ok(format!("{report:?} {:?}", shopper.state(model)))
        }
    }
}

/// The outcome of reading then validating, as `ok` or the error code.
pub fn outcome(model: &Model, read: Result<Read, VitrineError>) -> Result<String, &'static str> {
    validate(model, &read.map_err(|e| e.code())?)
}
