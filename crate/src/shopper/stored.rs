//! The stored form of a shopper ([`StoredState`]): `{"format": "vitrine-session", "version": 2,
//! "events": [...], "privacy": {...}}`. The core owns it: its envelope, its schema and its
//! version checks, whatever reads it (serde natively, the wasm layer over JS objects).

use serde::{Deserialize, Serialize};

use crate::error::{StateError, VitrineError};
use crate::privacy::PrivacySnapshot;
use crate::session::EventInput;
use crate::wire::{Field, FromReader, Reader, ToWriter, WireStruct, WireValue, Writer};

/// The `format` of a stored state.
pub const STATE_FORMAT: &str = "vitrine-session";
/// The state schema version this engine writes and reads (older ones would be migrated here).
/// Version 2 added the privacy accountant and last release (`privacy`); version 1 states are read
/// with a fresh accountant.
pub const STATE_VERSION: u32 = 2;

/// A stored shopper. Unknown fields are ignored (the envelope says whether this engine can read
/// the state at all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredState {
    /// Always [`STATE_FORMAT`].
    pub format: String,
    /// Schema version ([`STATE_VERSION`]).
    pub version: u32,
    /// Entries, oldest first (each with its `ts`).
    pub events: Vec<EventInput>,
    /// The privacy accountant and the last release (version ≥ 2; absent: a fresh accountant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacySnapshot>,
}

impl WireStruct for StoredState {
    const FIELDS: &'static [Field] = &[
        Field {
            name: "format",
            aliases: &[],
        },
        Field {
            name: "version",
            aliases: &[],
        },
        Field {
            name: "events",
            aliases: &[],
        },
        Field {
            name: "privacy",
            aliases: &[],
        },
    ];
}

impl StoredState {
    /// A state of the current version.
    pub fn new(events: Vec<EventInput>, privacy: Option<PrivacySnapshot>) -> Self {
        Self {
            format: STATE_FORMAT.to_owned(),
            version: STATE_VERSION,
            events,
            privacy,
        }
    }

    /// Parses JSON and checks the envelope first: not a JSON object or malformed →
    /// [`StateError::Corrupt`]; another `format` → [`StateError::Foreign`]; a newer `version` →
    /// [`StateError::TooNew`].
    pub fn parse(json: &str) -> Result<Self, StateError> {
        /// The envelope alone (other fields are ignored here).
        #[derive(Deserialize)]
        struct Envelope {
            format: Option<String>,
            version: Option<f64>,
        }
        let corrupt = |e: serde_json::Error| StateError::Corrupt(e.to_string());
        if !json.trim_start().starts_with('{') {
            return Err(StateError::Corrupt("not a JSON object".into()));
        }
        let env: Envelope = serde_json::from_str(json).map_err(corrupt)?;
        check_envelope(env.format.as_deref(), env.version)?;
        serde_json::from_str(json).map_err(corrupt)
    }

    /// The state as JSON.
    pub fn to_json(&self) -> String {
        // Plain strings and numbers cannot fail to serialize; an empty state otherwise.
        serde_json::to_string(self).unwrap_or_else(|_| {
            format!(r#"{{"format":"{STATE_FORMAT}","version":{STATE_VERSION},"events":[]}}"#)
        })
    }
}

/// Checks a stored state's `format` and `version` before its events are read: another format →
/// [`StateError::Foreign`]; a newer version → [`StateError::TooNew`]; no whole version ≥ 1 →
/// [`StateError::Corrupt`].
pub fn check_envelope(format: Option<&str>, version: Option<f64>) -> Result<(), StateError> {
    match format {
        Some(STATE_FORMAT) => {}
        Some(other) => return Err(StateError::Foreign(other.to_owned())),
        None => return Err(StateError::Foreign("(none)".to_owned())),
    }
    match version {
        Some(v) if v.fract() == 0.0 && v > f64::from(STATE_VERSION) => Err(StateError::TooNew {
            found: if v < 1e18 { v as u64 } else { u64::MAX },
            supported: STATE_VERSION,
        }),
        Some(v) if v.fract() == 0.0 && v >= 1.0 => Ok(()),
        _ => Err(StateError::Corrupt(
            "'version' must be a whole number ≥ 1".into(),
        )),
    }
}

/// Reads the envelope (`format`, `version`) and checks it before the events and the privacy state.
impl<R: Reader> FromReader<R> for StoredState
where
    Option<String>: FromReader<R>,
    Option<f64>: FromReader<R>,
    Vec<EventInput>: FromReader<R>,
    Option<PrivacySnapshot>: FromReader<R>,
{
    fn from_reader(r: R) -> Result<Self, R::Error> {
        let mut o = r.lenient_object(Self::FIELDS)?;
        let format = Option::<String>::from_reader(R::field(&mut o, 0))?;
        let version = Option::<f64>::from_reader(R::field(&mut o, 1))?;
        check_envelope(format.as_deref(), version).map_err(VitrineError::from)?;
        let events = Vec::<EventInput>::from_reader(R::field(&mut o, 2))?;
        let privacy = Option::<PrivacySnapshot>::from_reader(R::field(&mut o, 3))?;
        Ok(Self {
            format: format.unwrap_or_default(),
            version: version.map_or(STATE_VERSION, |v| v as u32),
            events,
            privacy,
        })
    }
}

impl<W: Writer> ToWriter<W> for StoredState
where
    String: ToWriter<W>,
    u32: ToWriter<W>,
    Vec<EventInput>: ToWriter<W>,
    PrivacySnapshot: ToWriter<W>,
{
    fn to_writer(&self, w: &mut W) -> W::Value {
        let fields = vec![
            ("format", Some(self.format.to_writer(w))),
            ("version", Some(self.version.to_writer(w))),
            ("events", Some(self.events.to_writer(w))),
            ("privacy", self.privacy.as_ref().map(|p| p.to_writer(w))),
        ];
        w.object(fields)
    }
}

impl WireValue for StoredState {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_envelope_errors_are_typed() {
        assert!(matches!(
            StoredState::parse("not json"),
            Err(StateError::Corrupt(_))
        ));
        assert!(matches!(
            StoredState::parse("[1,2]"),
            Err(StateError::Corrupt(_))
        ));
        assert_eq!(
            StoredState::parse(r#"{"format":"other-app","version":1}"#),
            Err(StateError::Foreign("other-app".into()))
        );
        assert!(matches!(
            StoredState::parse(r#"{"cart":[]}"#),
            Err(StateError::Foreign(_))
        ));
        assert_eq!(
            StoredState::parse(r#"{"format":"vitrine-session","version":7,"events":[]}"#),
            Err(StateError::TooNew {
                found: 7,
                supported: STATE_VERSION
            })
        );
        assert!(matches!(
            StoredState::parse(r#"{"format":"vitrine-session","version":"1","events":[]}"#),
            Err(StateError::Corrupt(_))
        ));
        assert!(matches!(
            StoredState::parse(r#"{"format":"vitrine-session","version":1,"events":{}}"#),
            Err(StateError::Corrupt(_))
        ));
        assert!(
            StoredState::parse(r#"{"format":"vitrine-session","version":1,"events":[]}"#).is_ok()
        );
    }
}
