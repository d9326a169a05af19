//! The shopper's local event log: what happened on this device, bounded in size and age, with each
//! event's effective weight (type × position × time decay × dwell), the cart and purchase state it
//! implies, and a versioned JSON form for storage.
//!
//! Policies (see `docs/engine.md`):
//! - the log keeps at most `max_events` entries (item events and searches alike) and drops entries
//!   older than `max_age_s` (relative to the newest event when one is pushed, and to the request's
//!   `now` when weights or exclusions are computed); the oldest go first;
//! - a `search` event stores its query (trimmed, at most [`MAX_QUERY_CHARS`] characters) and is
//!   counted and exported, but does not change scores: bundles carry no text features yet;
//! - `add_to_cart` adds its quantity (default 1) to the item's cart line, `remove_from_cart`
//!   subtracts its quantity or, without one, empties the line, `purchase` marks the item purchased
//!   and empties its line.

mod event;
mod log;
mod pending;
mod signals;

pub use event::{
    Event, EventDetails, EventInput, EventKind, LoggedEvent, MAX_QUANTITY, MAX_QUERY_CHARS,
};
pub use log::{
    ImportReport, Origin, Select, SessionLog, DEFAULT_MAX_AGE_S, DEFAULT_MAX_EVENTS,
    MAX_EVENTS_LIMIT,
};
pub use pending::{PendingEvents, MAX_PENDING, MAX_PENDING_ID_BYTES};
pub use signals::{SessionConfig, SignalPolicy, WeightedEvent, DEFAULT_DWELL_FULL_MS, DWELL_FLOOR};
