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

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::bundle::{Bundle, EventWeights};
use crate::error::{BundleError, RequestError, StateError};
use crate::kernels::sort_rows;
use crate::numfmt::{parse_f64, Num, Num32};

/// Default cap on the number of entries kept; older entries are evicted first.
pub const DEFAULT_MAX_EVENTS: usize = 100;
/// Largest `max_events` accepted.
pub const MAX_EVENTS_LIMIT: usize = 10_000;
/// Default maximum age of an entry: 30 days, in seconds.
pub const DEFAULT_MAX_AGE_S: f64 = 30.0 * 86_400.0;
/// Default half-life of an event's weight: one day, in seconds (`score.half_life_s` overrides it).
pub const DEFAULT_HALF_LIFE_S: f64 = 86_400.0;
/// Default dwell at which a view or click counts fully, in milliseconds.
pub const DEFAULT_DWELL_FULL_MS: f64 = 10_000.0;
/// Floor of the dwell factor: a view with (almost) no dwell still counts this much.
pub const DWELL_FLOOR: f32 = 0.2;
/// Longest search query kept, in characters (longer ones are truncated).
pub const MAX_QUERY_CHARS: usize = 200;
/// Largest quantity accepted on an event.
pub const MAX_QUANTITY: u32 = 1_000_000;
/// The `format` of an exported session state.
pub const STATE_FORMAT: &str = "vitrine-session";
/// The state schema version this engine writes and reads (older ones would be migrated here).
/// Version 2 added the privacy accountant and last release (`privacy`); version 1 states are read
/// with a fresh accountant.
pub const STATE_VERSION: u32 = 2;

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
    fn dwell_scaled(self) -> bool {
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

/// An event as the page describes it (`{type, item?, ts?, dwellMs?, quantity?, price?, query?}`),
/// before validation; also the stored form of a logged entry (with item ids, not rows, so a stored
/// session survives a new bundle).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventInput {
    /// `view`, `click`, `add_to_cart`, `remove_from_cart`, `purchase` or `search`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The item id (every type but `search`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// Milliseconds since the Unix epoch. Required by [`EventInput::validate`]; the wasm layer
    /// fills in `Date.now()` when the page leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<f64>,
    /// Dwell time in milliseconds.
    #[serde(default, alias = "dwell", skip_serializing_if = "Option::is_none")]
    pub dwell_ms: Option<f64>,
    /// Units (a whole number ≥ 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<f64>,
    /// Unit price (≥ 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// The search text (`search` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

fn invalid_event(field: &'static str, why: impl Into<String>) -> RequestError {
    RequestError::InvalidEvent {
        field,
        why: why.into(),
    }
}

impl EventInput {
    /// Checks every field against `bundle` and returns the entry to log. Unknown item ids and
    /// types, missing or extra fields for the type, and out-of-range values are errors.
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
        let item = bundle
            .index_of(id)
            .ok_or_else(|| RequestError::UnknownItem(id.to_owned()))?;
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

/// How events turn into weights: per-type weights, per-position weights, a time-decay half-life
/// and the dwell scaling. Built from the bundle ([`SignalPolicy::from_bundle`]) and optionally
/// overridden by the page ([`SessionOptions`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SignalPolicy {
    /// Weight of each event type (`weight.*` in the bundle).
    pub weights: EventWeights,
    /// Learned weight per position from the newest (`session_pos_weights`); events beyond the
    /// last position weigh 0. When absent, `recency_decay^position`.
    pub position_weights: Option<Vec<f32>>,
    /// Per-position geometric decay in (0, 1] (`score.recency_decay`).
    pub recency_decay: f32,
    /// Half-life of an event's weight in seconds, > 0 (`score.half_life_s`; `inf` = no decay).
    pub half_life_s: f64,
    /// Dwell (ms) at which a view or click counts fully; shorter dwells scale its weight down
    /// linearly to [`DWELL_FLOOR`]. 0 turns dwell scaling off.
    pub dwell_full_ms: f64,
}

impl Default for SignalPolicy {
    fn default() -> Self {
        Self {
            weights: EventWeights::default(),
            position_weights: None,
            recency_decay: 0.7,
            half_life_s: DEFAULT_HALF_LIFE_S,
            dwell_full_ms: DEFAULT_DWELL_FULL_MS,
        }
    }
}

impl SignalPolicy {
    /// The bundle's policy: its `weight.*`, `score.recency_decay`, `session_pos_weights` and
    /// `score.half_life_s` (defaults for what is absent). A malformed `score.half_life_s` is an
    /// error (the engine checks it when it loads the bundle).
    pub fn try_from_bundle(bundle: &Bundle) -> Result<Self, BundleError> {
        let params = bundle.params();
        let half_life_s = match bundle.metadata().get("score.half_life_s") {
            None => DEFAULT_HALF_LIFE_S,
            Some(v) => match parse_f64(v.trim()) {
                Some(h) if h > 0.0 => h,
                _ => {
                    return Err(BundleError::Metadata {
                        key: "score.half_life_s".into(),
                        value: v.clone(),
                        why: "expected a number of seconds > 0 (or inf)".into(),
                    })
                }
            },
        };
        Ok(Self {
            weights: params.event_weights,
            position_weights: bundle.session_pos_weights().map(<[f32]>::to_vec),
            recency_decay: params.recency_decay,
            half_life_s,
            dwell_full_ms: DEFAULT_DWELL_FULL_MS,
        })
    }

    /// [`SignalPolicy::try_from_bundle`], falling back to the default half-life when the bundle's
    /// is malformed (for callers such as `vitrine eval` that have no place to report it).
    pub fn from_bundle(bundle: &Bundle) -> Self {
        Self::try_from_bundle(bundle).unwrap_or_else(|_| {
            let params = bundle.params();
            Self {
                weights: params.event_weights,
                position_weights: bundle.session_pos_weights().map(<[f32]>::to_vec),
                recency_decay: params.recency_decay,
                ..Self::default()
            }
        })
    }

    /// Weight of the event at `position` from the newest (0 = newest).
    fn position_weight(&self, position: usize) -> f32 {
        match &self.position_weights {
            Some(w) => w.get(position).copied().unwrap_or(0.0),
            None => {
                let p = i32::try_from(position).unwrap_or(i32::MAX);
                self.recency_decay.powi(p)
            }
        }
    }

    /// `0.5^(age / half_life)` for an event `age_ms` old (future events count as new).
    fn time_decay(&self, age_ms: f64) -> f32 {
        if !self.half_life_s.is_finite() || age_ms <= 0.0 {
            return 1.0;
        }
        0.5f64.powf(age_ms / (self.half_life_s * 1000.0)) as f32
    }

    fn dwell_factor(&self, kind: EventKind, dwell_ms: Option<f64>) -> f32 {
        match dwell_ms {
            Some(d) if kind.dwell_scaled() && self.dwell_full_ms > 0.0 => {
                ((d / self.dwell_full_ms) as f32).clamp(DWELL_FLOOR, 1.0)
            }
            _ => 1.0,
        }
    }
}

/// One item event with the weight it carries in the session profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightedEvent {
    /// Position of the entry in [`SessionLog::entries`] (0 = oldest kept).
    pub entry: usize,
    /// The event.
    pub event: Event,
    /// type weight × position weight × time decay × dwell factor (may be negative or 0).
    pub weight: f32,
}

/// Page-level overrides of the session's limits and of the bundle's signal policy
/// (`{maxEvents?, maxAgeS?, halfLifeS?, dwellFullMs?, weights?: {view?, click?, …}}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionOptions {
    /// Most entries kept (1 ..= [`MAX_EVENTS_LIMIT`]; default [`DEFAULT_MAX_EVENTS`]).
    #[serde(default)]
    pub max_events: Option<f64>,
    /// Oldest entry kept, in seconds (> 0; default [`DEFAULT_MAX_AGE_S`]).
    #[serde(default)]
    pub max_age_s: Option<f64>,
    /// Half-life of event weights in seconds (> 0; default: the bundle's).
    #[serde(default)]
    pub half_life_s: Option<f64>,
    /// Dwell (ms) at which views and clicks count fully (≥ 0; 0 = off).
    #[serde(default)]
    pub dwell_full_ms: Option<f64>,
    /// Per-type weights (each finite; default: the bundle's).
    #[serde(default)]
    pub weights: Option<WeightOverrides>,
    /// Differential privacy (`{epsilon, delta, budget: {epsilon, period}, mechanism}`; absent:
    /// the private defaults of `privacy`). Validated by the engine.
    #[serde(default)]
    pub privacy: Option<crate::privacy::PrivacyOptions>,
}

/// Per-type weight overrides.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct WeightOverrides {
    #[serde(default)]
    pub view: Option<f32>,
    #[serde(default)]
    pub click: Option<f32>,
    #[serde(default)]
    pub add_to_cart: Option<f32>,
    #[serde(default)]
    pub remove_from_cart: Option<f32>,
    #[serde(default)]
    pub purchase: Option<f32>,
}

/// The validated session configuration: limits plus signal policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    /// Most entries kept.
    pub max_events: usize,
    /// Oldest entry kept, in seconds.
    pub max_age_s: f64,
    /// How events become weights.
    pub signals: SignalPolicy,
}

fn invalid_option(name: &'static str, why: impl Into<String>) -> RequestError {
    RequestError::InvalidOption {
        name,
        why: why.into(),
    }
}

impl SessionOptions {
    /// Validates the overrides on top of `base` (usually the bundle's policy).
    pub fn validate(&self, base: SignalPolicy) -> Result<SessionConfig, RequestError> {
        let max_events = match self.max_events {
            None => DEFAULT_MAX_EVENTS,
            Some(m) if m.fract() == 0.0 && (1.0..=MAX_EVENTS_LIMIT as f64).contains(&m) => {
                m as usize
            }
            Some(m) => {
                return Err(invalid_option(
                    "maxEvents",
                    format!(
                        "must be a whole number from 1 to {MAX_EVENTS_LIMIT}, got {}",
                        Num(m)
                    ),
                ))
            }
        };
        let positive = |name: &'static str, v: Option<f64>, default: f64| match v {
            None => Ok(default),
            Some(x) if x > 0.0 && !x.is_nan() => Ok(x),
            Some(x) => Err(invalid_option(
                name,
                format!("must be a number of seconds > 0, got {}", Num(x)),
            )),
        };
        let max_age_s = positive("maxAgeS", self.max_age_s, DEFAULT_MAX_AGE_S)?;
        let mut signals = base;
        signals.half_life_s = positive("halfLifeS", self.half_life_s, signals.half_life_s)?;
        if let Some(d) = self.dwell_full_ms {
            if !(d.is_finite() && d >= 0.0) {
                return Err(invalid_option(
                    "dwellFullMs",
                    format!(
                        "must be a finite number of milliseconds ≥ 0, got {}",
                        Num(d)
                    ),
                ));
            }
            signals.dwell_full_ms = d;
        }
        if let Some(w) = &self.weights {
            let set = |slot: &mut f32, v: Option<f32>| match v {
                Some(x) if !x.is_finite() => Err(invalid_option(
                    "weights",
                    format!("every weight must be a finite number, got {}", Num32(x)),
                )),
                Some(x) => {
                    *slot = x;
                    Ok(())
                }
                None => Ok(()),
            };
            let ew = &mut signals.weights;
            set(&mut ew.view, w.view)?;
            set(&mut ew.click, w.click)?;
            set(&mut ew.add_to_cart, w.add_to_cart)?;
            set(&mut ew.remove_from_cart, w.remove_from_cart)?;
            set(&mut ew.purchase, w.purchase)?;
        }
        Ok(SessionConfig {
            max_events,
            max_age_s,
            signals,
        })
    }
}

/// The bounded, ordered (oldest first) log of this session's entries.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionLog {
    entries: VecDeque<LoggedEvent>,
    max_events: usize,
    max_age_ms: f64,
}

impl Default for SessionLog {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_MAX_EVENTS)
    }
}

impl SessionLog {
    /// An empty log keeping at most `max_events` entries (at least 1) of at most the default age.
    pub fn with_capacity(max_events: usize) -> Self {
        Self::with_limits(max_events, DEFAULT_MAX_AGE_S)
    }

    /// An empty log keeping at most `max_events` entries (at least 1) no older than `max_age_s`.
    pub fn with_limits(max_events: usize, max_age_s: f64) -> Self {
        let max_events = max_events.clamp(1, MAX_EVENTS_LIMIT);
        Self {
            entries: VecDeque::with_capacity(max_events.min(1024)),
            max_events,
            max_age_ms: if max_age_s > 0.0 {
                max_age_s * 1000.0
            } else {
                DEFAULT_MAX_AGE_S * 1000.0
            },
        }
    }

    /// Most entries kept.
    pub fn max_events(&self) -> usize {
        self.max_events
    }

    /// Oldest entry kept, in seconds.
    pub fn max_age_s(&self) -> f64 {
        self.max_age_ms / 1000.0
    }

    /// Appends an item event (no details), evicting the oldest entries beyond the limits.
    pub fn push(&mut self, event: Event) {
        self.log(LoggedEvent::Item {
            event,
            details: EventDetails::default(),
        });
    }

    /// Appends an entry, then evicts entries older than `max_age` before the newest timestamp and
    /// the oldest entries beyond `max_events`.
    pub fn log(&mut self, entry: LoggedEvent) {
        let now = self
            .latest_ts_ms()
            .map_or(entry.ts_ms(), |t| t.max(entry.ts_ms()));
        self.entries.push_back(entry);
        self.prune(now);
        while self.entries.len() > self.max_events {
            self.entries.pop_front();
        }
    }

    /// Drops entries older than `max_age` at `now_ms`. Returns how many were dropped.
    pub fn prune(&mut self, now_ms: f64) -> usize {
        let before = self.entries.len();
        let cutoff = now_ms - self.max_age_ms;
        self.entries.retain(|e| e.ts_ms() >= cutoff);
        before - self.entries.len()
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &LoggedEvent> + ExactSizeIterator {
        self.entries.iter()
    }

    /// Item events, oldest first (searches left out).
    pub fn events(&self) -> impl DoubleEndedIterator<Item = &Event> {
        self.entries.iter().filter_map(|e| match e {
            LoggedEvent::Item { event, .. } => Some(event),
            LoggedEvent::Search { .. } => None,
        })
    }

    /// Number of entries kept (searches included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing has been logged.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of item events kept.
    pub fn n_item_events(&self) -> usize {
        self.events().count()
    }

    /// Number of searches kept.
    pub fn n_searches(&self) -> usize {
        self.len() - self.n_item_events()
    }

    /// The newest timestamp in the log (ms), if any.
    pub fn latest_ts_ms(&self) -> Option<f64> {
        self.entries.iter().map(LoggedEvent::ts_ms).reduce(f64::max)
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    fn live(&self, now_ms: f64) -> impl DoubleEndedIterator<Item = (usize, &LoggedEvent)> {
        let cutoff = now_ms - self.max_age_ms;
        self.entries
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.ts_ms() >= cutoff)
    }

    /// Each live item event with its effective weight at `now_ms`, newest first:
    /// `type weight × position weight × 0.5^(age / half-life) × dwell factor`. Positions count
    /// item events from the newest (0). Entries older than `max_age` are left out.
    pub fn effective_weights(&self, policy: &SignalPolicy, now_ms: f64) -> Vec<WeightedEvent> {
        let mut out: Vec<WeightedEvent> = Vec::with_capacity(self.entries.len());
        let items = self.live(now_ms).filter_map(|(i, e)| match e {
            LoggedEvent::Item { event, details } => Some((i, event, details)),
            LoggedEvent::Search { .. } => None,
        });
        for (position, (entry, event, details)) in items.rev().enumerate() {
            let weight = event.kind.weight(&policy.weights)
                * policy.position_weight(position)
                * policy.time_decay(now_ms - event.ts_ms)
                * policy.dwell_factor(event.kind, details.dwell_ms);
            out.push(WeightedEvent {
                entry,
                event: *event,
                weight,
            });
        }
        out
    }

    /// Items with a live item event at `now_ms`, sorted, deduplicated.
    pub fn seen_items(&self, now_ms: f64) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .live(now_ms)
            .filter_map(|(_, e)| match e {
                LoggedEvent::Item { event, .. } => Some(event.item),
                LoggedEvent::Search { .. } => None,
            })
            .collect();
        sort_rows(&mut v);
        v.dedup();
        v
    }

    /// Items with a live `purchase` event at `now_ms`, sorted, deduplicated.
    pub fn purchased_items(&self, now_ms: f64) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .live(now_ms)
            .filter_map(|(_, e)| match e {
                LoggedEvent::Item { event, .. } if event.kind == EventKind::Purchase => {
                    Some(event.item)
                }
                _ => None,
            })
            .collect();
        sort_rows(&mut v);
        v.dedup();
        v
    }

    /// The cart at `now_ms` as `(item, quantity)`, in order of first event: `add_to_cart` adds its quantity
    /// (default 1), `remove_from_cart` subtracts its quantity or empties the line, `purchase`
    /// empties the line.
    pub fn cart(&self, now_ms: f64) -> Vec<(u32, u64)> {
        let mut lines: Vec<(u32, u64)> = Vec::new();
        for (_, e) in self.live(now_ms) {
            let LoggedEvent::Item { event, details } = e else {
                continue;
            };
            let q = u64::from(details.quantity.unwrap_or(1));
            let line = match lines.iter().position(|l| l.0 == event.item) {
                Some(p) => p,
                None => {
                    lines.push((event.item, 0));
                    lines.len() - 1
                }
            };
            let qty = &mut lines[line].1;
            match event.kind {
                EventKind::AddToCart => *qty = qty.saturating_add(q),
                EventKind::RemoveFromCart if details.quantity.is_some() => {
                    *qty = qty.saturating_sub(q)
                }
                EventKind::RemoveFromCart | EventKind::Purchase => *qty = 0,
                EventKind::View | EventKind::Click => {}
            }
        }
        lines.retain(|l| l.1 > 0);
        lines
    }

    /// The items in the cart at `now_ms`, sorted.
    pub fn in_cart_items(&self, now_ms: f64) -> Vec<u32> {
        let mut v: Vec<u32> = self.cart(now_ms).into_iter().map(|l| l.0).collect();
        sort_rows(&mut v);
        v
    }

    /// The log as a storable state (item ids, not rows, so it survives a new bundle).
    pub fn to_state(&self, bundle: &Bundle) -> SessionState {
        SessionState {
            format: STATE_FORMAT.to_owned(),
            version: STATE_VERSION,
            events: self
                .entries
                .iter()
                .map(|e| match e {
                    LoggedEvent::Item { event, details } => EventInput {
                        kind: event.kind.as_str().to_owned(),
                        item: bundle.ids().get(event.item as usize).cloned(),
                        ts: Some(event.ts_ms),
                        dwell_ms: details.dwell_ms,
                        quantity: details.quantity.map(f64::from),
                        price: details.price,
                        query: None,
                    },
                    LoggedEvent::Search { query, ts_ms } => EventInput {
                        kind: "search".to_owned(),
                        ts: Some(*ts_ms),
                        query: Some(query.clone()),
                        ..EventInput::default()
                    },
                })
                .collect(),
            privacy: None,
        }
    }

    /// The state as JSON (see [`SessionState`]).
    pub fn export_json(&self, bundle: &Bundle) -> String {
        // Serializing plain strings and numbers cannot fail; fall back to an empty state anyway.
        serde_json::to_string(&self.to_state(bundle)).unwrap_or_else(|_| {
            format!(r#"{{"format":"{STATE_FORMAT}","version":{STATE_VERSION},"events":[]}}"#)
        })
    }

    /// Replaces this log's entries with `events` from a stored state whose envelope passed
    /// [`check_state_envelope`] (limits kept). Events of items no longer in the bundle are dropped
    /// and counted; entries older than `max_age` at `now_ms` are dropped and counted; the newest
    /// `max_events` are kept. An invalid event is [`StateError::Corrupt`] and leaves the log
    /// unchanged.
    pub fn import_events(
        &mut self,
        events: &[EventInput],
        bundle: &Bundle,
        now_ms: f64,
    ) -> Result<ImportReport, StateError> {
        let mut report = ImportReport::default();
        let mut entries = VecDeque::with_capacity(events.len().min(self.max_events));
        for (i, stored) in events.iter().enumerate() {
            match stored.validate(bundle) {
                Ok(entry) => entries.push_back(entry),
                Err(RequestError::UnknownItem(_)) => report.unknown_items += 1,
                Err(e) => return Err(StateError::Corrupt(format!("event {i}: {e}"))),
            }
        }
        let cutoff = now_ms - self.max_age_ms;
        let before = entries.len();
        entries.retain(|e| e.ts_ms() >= cutoff);
        report.expired = before - entries.len();
        while entries.len() > self.max_events {
            entries.pop_front();
            report.over_limit += 1;
        }
        report.imported = entries.len();
        self.entries = entries;
        Ok(report)
    }
}

/// What [`SessionLog::import_events`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Entries now in the log.
    pub imported: usize,
    /// Events dropped because their item is not in this bundle (e.g. removed from the catalog).
    pub unknown_items: usize,
    /// Entries dropped because they were older than `max_age`.
    pub expired: usize,
    /// Oldest entries dropped to respect `max_events`.
    pub over_limit: usize,
}

/// The stored form of a session: `{"format": "vitrine-session", "version": 1, "events": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    /// Always [`STATE_FORMAT`].
    pub format: String,
    /// Schema version ([`STATE_VERSION`]).
    pub version: u32,
    /// Entries, oldest first (each with its `ts`).
    pub events: Vec<EventInput>,
    /// The privacy accountant and the last release (version ≥ 2; absent: a fresh accountant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<crate::privacy::PrivacySnapshot>,
}

impl SessionState {
    /// Parses and checks the envelope: not JSON or malformed → [`StateError::Corrupt`]; another
    /// `format` → [`StateError::Foreign`]; a newer `version` → [`StateError::TooNew`].
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
        check_state_envelope(env.format.as_deref(), env.version)?;
        serde_json::from_str(json).map_err(corrupt)
    }
}

/// Checks a stored state's `format` and `version` before its events are read: another format →
/// [`StateError::Foreign`]; a newer version → [`StateError::TooNew`]; no whole version ≥ 1 →
/// [`StateError::Corrupt`].
pub fn check_state_envelope(format: Option<&str>, version: Option<f64>) -> Result<(), StateError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(item: u32, ts: f64) -> Event {
        Event {
            kind: EventKind::View,
            item,
            ts_ms: ts,
        }
    }

    #[test]
    fn evicts_oldest_when_full() {
        let mut log = SessionLog::with_capacity(2);
        for i in 0..3 {
            log.push(ev(i, f64::from(i)));
        }
        let items: Vec<u32> = log.events().map(|e| e.item).collect();
        assert_eq!(items, vec![1, 2]);
    }

    #[test]
    fn evicts_by_age_and_ignores_old_entries_at_now() {
        let mut log = SessionLog::with_limits(10, 60.0);
        log.push(ev(0, 0.0));
        log.push(ev(1, 30_000.0));
        log.push(ev(2, 90_000.0)); // 0 is now 90 s older than the newest: evicted
        let items: Vec<u32> = log.events().map(|e| e.item).collect();
        assert_eq!(items, vec![1, 2]);
        // At now = 100 s, item 1 (70 s old) no longer counts, though still stored.
        let policy = SignalPolicy::default();
        let w: Vec<u32> = log
            .effective_weights(&policy, 100_000.0)
            .iter()
            .map(|w| w.event.item)
            .collect();
        assert_eq!(w, vec![2]);
        assert_eq!(log.seen_items(100_000.0), vec![2]);
        assert_eq!(log.prune(100_000.0), 1);
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn effective_weight_is_type_times_position_times_decay_times_dwell() {
        let policy = SignalPolicy {
            half_life_s: 10.0,
            ..SignalPolicy::default()
        };
        let mut log = SessionLog::default();
        log.log(LoggedEvent::Item {
            event: Event {
                kind: EventKind::AddToCart,
                item: 3,
                ts_ms: 0.0,
            },
            details: EventDetails::default(),
        });
        log.log(LoggedEvent::Search {
            query: "shoes".into(),
            ts_ms: 5_000.0,
        });
        log.log(LoggedEvent::Item {
            event: ev(4, 10_000.0),
            details: EventDetails {
                dwell_ms: Some(2_500.0),
                ..EventDetails::default()
            },
        });
        let w = log.effective_weights(&policy, 10_000.0);
        assert_eq!(w.len(), 2);
        // Newest: view (1) × position 0 (1) × no decay × dwell 2.5 s / 10 s.
        assert_eq!(w[0].event.item, 4);
        assert_eq!(w[0].entry, 2);
        assert!((w[0].weight - 0.25).abs() < 1e-6, "{w:?}");
        // Older: add_to_cart (2) × position 1 (0.7) × one half-life (0.5).
        assert!((w[1].weight - 0.7).abs() < 1e-6, "{w:?}");
        // Learned position weights replace the geometric decay; beyond them, weight 0.
        let learned = SignalPolicy {
            position_weights: Some(vec![1.0]),
            half_life_s: f64::INFINITY,
            ..SignalPolicy::default()
        };
        let w = log.effective_weights(&learned, 10_000.0);
        assert_eq!(w[1].weight, 0.0);
        // A very short dwell is floored.
        let p = SignalPolicy::default();
        assert_eq!(p.dwell_factor(EventKind::View, Some(0.0)), DWELL_FLOOR);
        assert_eq!(p.dwell_factor(EventKind::AddToCart, Some(0.0)), 1.0);
        assert_eq!(p.dwell_factor(EventKind::Click, None), 1.0);
    }

    #[test]
    fn cart_and_purchases_follow_the_events() {
        let mut log = SessionLog::default();
        let mut add = |kind, item, q: Option<u32>, ts| {
            log.log(LoggedEvent::Item {
                event: Event {
                    kind,
                    item,
                    ts_ms: ts,
                },
                details: EventDetails {
                    quantity: q,
                    ..EventDetails::default()
                },
            })
        };
        add(EventKind::AddToCart, 1, Some(3), 1.0);
        add(EventKind::RemoveFromCart, 1, Some(1), 2.0);
        add(EventKind::AddToCart, 2, None, 3.0);
        add(EventKind::RemoveFromCart, 2, None, 4.0);
        add(EventKind::AddToCart, 5, None, 5.0);
        add(EventKind::Purchase, 5, None, 6.0);
        add(EventKind::Purchase, 7, None, 7.0);
        assert_eq!(log.cart(10.0), vec![(1, 2)]);
        assert_eq!(log.in_cart_items(10.0), vec![1]);
        assert_eq!(log.purchased_items(10.0), vec![5, 7]);
        assert_eq!(log.seen_items(10.0), vec![1, 2, 5, 7]);
    }

    #[test]
    fn parses_every_kind_and_rejects_others() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Ok(k));
        }
        assert_eq!(
            EventKind::parse("teleport"),
            Err(RequestError::UnknownEventType("teleport".into()))
        );
    }

    #[test]
    fn state_envelope_errors_are_typed() {
        assert!(matches!(
            SessionState::parse("not json"),
            Err(StateError::Corrupt(_))
        ));
        assert!(matches!(
            SessionState::parse("[1,2]"),
            Err(StateError::Corrupt(_))
        ));
        assert_eq!(
            SessionState::parse(r#"{"format":"other-app","version":1}"#),
            Err(StateError::Foreign("other-app".into()))
        );
        assert!(matches!(
            SessionState::parse(r#"{"cart":[]}"#),
            Err(StateError::Foreign(_))
        ));
        assert_eq!(
            SessionState::parse(r#"{"format":"vitrine-session","version":7,"events":[]}"#),
            Err(StateError::TooNew {
                found: 7,
                supported: STATE_VERSION
            })
        );
        assert!(matches!(
            SessionState::parse(r#"{"format":"vitrine-session","version":"1","events":[]}"#),
            Err(StateError::Corrupt(_))
        ));
        assert!(matches!(
            SessionState::parse(r#"{"format":"vitrine-session","version":1,"events":{}}"#),
            Err(StateError::Corrupt(_))
        ));
        assert!(
            SessionState::parse(r#"{"format":"vitrine-session","version":1,"events":[]}"#).is_ok()
        );
    }
}
