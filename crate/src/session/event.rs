//! Events as the page describes them ([`EventInput`], also their stored form) and as the log keeps
//! them ([`LoggedEvent`]): validation against the bundle, the kinds and their wire names.

use serde::{Deserialize, Serialize};

use crate::bundle::{Bundle, EventWeights};
use crate::error::RequestError;
use crate::numfmt::Num;

/// Longest search query kept, in characters (longer ones are truncated).
pub const MAX_QUERY_CHARS: usize = 200;
/// Largest quantity accepted on an event.
pub const MAX_QUANTITY: u32 = 1_000_000;

/// What the shopper did to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    View,
    Click,
    AddToCart,
    RemoveFromCart,
    Purchase,
}

impl EventKind {
    /// Every item event kind.
    pub const ALL: [EventKind; 5] = [
        Self::View,
        Self::Click,
        Self::AddToCart,
        Self::RemoveFromCart,
        Self::Purchase,
    ];

    /// Parses the wire name (`view`, `click`, `add_to_cart`, `remove_from_cart`, `purchase`).
    /// `search` is not an item event: [`EventInput`] handles it.
    pub fn parse(name: &str) -> Result<Self, RequestError> {
        Ok(match name {
            "view" => Self::View,
            "click" => Self::Click,
            "add_to_cart" => Self::AddToCart,
            "remove_from_cart" => Self::RemoveFromCart,
            "purchase" => Self::Purchase,
            other => return Err(RequestError::UnknownEventType(other.to_owned())),
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Click => "click",
            Self::AddToCart => "add_to_cart",
            Self::RemoveFromCart => "remove_from_cart",
            Self::Purchase => "purchase",
        }
    }

    /// This kind's weight in the session profile.
    pub fn weight(self, w: &EventWeights) -> f32 {
        match self {
            Self::View => w.view,
            Self::Click => w.click,
            Self::AddToCart => w.add_to_cart,
            Self::RemoveFromCart => w.remove_from_cart,
            Self::Purchase => w.purchase,
        }
    }

    /// True for the kinds whose weight a short dwell lowers (views and clicks).
    pub(crate) fn dwell_scaled(self) -> bool {
        matches!(self, Self::View | Self::Click)
    }
}

/// One item event. `item` is a row of the bundle; `ts_ms` is milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub item: u32,
    pub ts_ms: f64,
}

/// The optional measurements of an item event.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EventDetails {
    /// Time spent on the item, in milliseconds (≥ 0).
    pub dwell_ms: Option<f64>,
    /// Units added, removed or bought (1 ≤ q ≤ [`MAX_QUANTITY`]).
    pub quantity: Option<u32>,
    /// Unit price the shopper saw (≥ 0). Stored and exported; not used for scoring.
    pub price: Option<f64>,
}

/// One entry of the log: an item event, or a search.
#[derive(Debug, Clone, PartialEq)]
pub enum LoggedEvent {
    /// Something done to an item.
    Item { event: Event, details: EventDetails },
    /// A search: the query text (trimmed, non-empty, at most [`MAX_QUERY_CHARS`] characters).
    Search { query: String, ts_ms: f64 },
}

impl LoggedEvent {
    /// When it happened (ms since the Unix epoch).
    pub fn ts_ms(&self) -> f64 {
        match self {
            Self::Item { event, .. } => event.ts_ms,
            Self::Search { ts_ms, .. } => *ts_ms,
        }
    }
}

crate::wire! {
    omit_empty;
    /// An event as the page describes it (`{type, item?, ts?, dwellMs?, quantity?, price?, query?}`),
    /// before validation; also the stored form of a logged entry (with item ids, not rows, so a stored
    /// session survives a new bundle).
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct EventInput {
        /// `view`, `click`, `add_to_cart`, `remove_from_cart`, `purchase` or `search`.
        kind: String = "type",
        /// The item id (every type but `search`).
        item: Option<String> = "item",
        /// Milliseconds since the Unix epoch. Required by [`EventInput::validate`]; the wasm layer
        /// fills in `Date.now()` when the page leaves it out.
        ts: Option<f64> = "ts",
        /// Dwell time in milliseconds.
        dwell_ms: Option<f64> = "dwellMs" | "dwell",
        /// Units (a whole number ≥ 1).
        quantity: Option<f64> = "quantity",
        /// Unit price (≥ 0).
        price: Option<f64> = "price",
        /// The search text (`search` only).
        query: Option<String> = "query",
        /// In a stored state only: the ε (in the accountant's units of 2⁻³⁰) of the releases that
        /// read this event so far, for its lifetime cap. A page's `track()` may not give it.
        dp_units: Option<u64> = "dpUnits",
    }
}

fn invalid_event(field: &'static str, why: impl Into<String>) -> RequestError {
    RequestError::InvalidEvent {
        field,
        why: why.into(),
    }
}

impl EventInput {
    /// Checks every field against `bundle` and returns the entry to log. Unknown item ids and
    /// types, missing or extra fields for the type, and out-of-range values are errors; an
    /// unknown item id is reported only for an event that is otherwise valid.
    pub fn validate(&self, bundle: &Bundle) -> Result<LoggedEvent, RequestError> {
        let ts_ms = match self.ts {
            Some(ts) if ts.is_finite() && ts >= 0.0 => ts,
            Some(ts) => {
                return Err(invalid_event(
                    "ts",
                    format!(
                        "must be a finite, non-negative number of milliseconds, got {}",
                        Num(ts)
                    ),
                ))
            }
            None => return Err(invalid_event("ts", "is required")),
        };
        if self.kind == "search" {
            if self.item.is_some() {
                return Err(invalid_event("item", "a search event has no item"));
            }
            if self.dwell_ms.is_some() || self.quantity.is_some() || self.price.is_some() {
                return Err(invalid_event(
                    "type",
                    "a search event takes only {type, query, ts}",
                ));
            }
            let query = self.query.as_deref().map(str::trim).unwrap_or("");
            if query.is_empty() {
                return Err(invalid_event("query", "a search needs a non-empty query"));
            }
            let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
            return Ok(LoggedEvent::Search { query, ts_ms });
        }
        let kind = EventKind::parse(&self.kind)?;
        if self.query.is_some() {
            return Err(invalid_event("query", "only a search event has a query"));
        }
        let id = self
            .item
            .as_deref()
            .ok_or_else(|| invalid_event("item", format!("a {} event needs an item", self.kind)))?;
        let dwell_ms = match self.dwell_ms {
            Some(d) if !(d.is_finite() && d >= 0.0) => {
                return Err(invalid_event(
                    "dwellMs",
                    format!(
                        "must be a finite number of milliseconds ≥ 0, got {}",
                        Num(d)
                    ),
                ))
            }
            d => d,
        };
        let quantity = match self.quantity {
            None => None,
            Some(q) if q.fract() == 0.0 && q >= 1.0 && q <= f64::from(MAX_QUANTITY) => {
                Some(q as u32)
            }
            Some(q) => {
                return Err(invalid_event(
                    "quantity",
                    format!(
                        "must be a whole number from 1 to {MAX_QUANTITY}, got {}",
                        Num(q)
                    ),
                ))
            }
        };
        let price = match self.price {
            Some(p) if !(p.is_finite() && p >= 0.0) => {
                return Err(invalid_event(
                    "price",
                    format!("must be a finite number ≥ 0, got {}", Num(p)),
                ))
            }
            p => p,
        };
        // Last: an event of an unknown item is otherwise valid (the shopper keeps it pending).
        let item = bundle
            .index_of(id)
            .ok_or_else(|| RequestError::UnknownItem(id.to_owned()))?;
        Ok(LoggedEvent::Item {
            event: Event { kind, item, ts_ms },
            details: EventDetails {
                dwell_ms,
                quantity,
                price,
            },
        })
    }
}
