//! The engine a storefront holds: one bundle plus this shopper's session. The wasm API is a thin
//! wrapper around it.

use crate::bundle::Bundle;
use crate::error::{RequestError, VitrineError};
use crate::rank::{recommend, RecommendRequest};
use crate::session::{Event, EventKind, SessionLog};

/// One recommended item.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Recommendation {
    /// The item id, as in the bundle.
    pub id: String,
    /// Higher is better; comparable within one response only.
    pub score: f32,
}

/// A loaded bundle and the shopper's session.
#[derive(Debug, Clone)]
pub struct Engine {
    bundle: Bundle,
    session: SessionLog,
}

impl Engine {
    /// Loads and validates a bundle; the session starts empty.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, VitrineError> {
        Ok(Self {
            bundle: Bundle::from_bytes(bytes)?,
            session: SessionLog::default(),
        })
    }

    /// The loaded bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The session so far.
    pub fn session(&self) -> &SessionLog {
        &self.session
    }

    /// Records an event. Unknown item ids and event types are errors and leave the session unchanged.
    pub fn track(&mut self, kind: &str, item_id: &str, ts_ms: f64) -> Result<(), VitrineError> {
        let kind = EventKind::parse(kind)?;
        let item = self
            .bundle
            .index_of(item_id)
            .ok_or_else(|| RequestError::UnknownItem(item_id.to_owned()))?;
        if !ts_ms.is_finite() {
            return Err(RequestError::InvalidOption {
                name: "ts",
                why: format!("must be a finite number of milliseconds, got {ts_ms}"),
            }
            .into());
        }
        self.session.push(Event { kind, item, ts_ms });
        Ok(())
    }

    /// The top-k for the current session.
    pub fn recommend(&self, request: &RecommendRequest) -> Vec<Recommendation> {
        recommend(&self.bundle, &self.session, request)
            .into_iter()
            .map(|s| Recommendation {
                id: self.bundle.ids()[s.index as usize].clone(),
                score: s.score,
            })
            .collect()
    }

    /// Forgets the session.
    pub fn reset(&mut self) {
        self.session.clear();
    }
}
