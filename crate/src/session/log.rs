//! The bounded, ordered log of this session's entries: eviction by count and age, effective
//! weights, the cart and purchases it implies, and its stored form (events with item ids).

use std::collections::VecDeque;

use serde::Serialize;

use crate::bundle::Bundle;
use crate::error::{RequestError, StateError};
use crate::kernels::sort_rows;

use super::event::{Event, EventDetails, EventInput, EventKind, LoggedEvent};
use super::signals::{SignalPolicy, WeightedEvent};

/// Default cap on the number of entries kept; older entries are evicted first.
pub const DEFAULT_MAX_EVENTS: usize = 100;
/// Largest `max_events` accepted.
pub const MAX_EVENTS_LIMIT: usize = 10_000;
/// Default maximum age of an entry: 30 days, in seconds.
pub const DEFAULT_MAX_AGE_S: f64 = 30.0 * 86_400.0;

/// Who provided an entry, for the privacy guarantee (`docs/PRIVACY.md`): the page, in this page's
/// lifetime (P: the page and the store's server have it already), or the device's own stored
/// record (D: restored from storage; what differential privacy protects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Tracked by the page in this page's lifetime, or restored but declared observed by the store.
    Page,
    /// Restored from the device's storage (and not declared observed).
    Device,
}

/// Which entries a computation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// Every entry (the non-private model, and the `history` unit).
    All,
    /// The page's entries (P).
    Page,
    /// The device's entries (D) whose lifetime privacy spend is below `cap_units` (accountant
    /// units, 2⁻³⁰ ε); entries at the cap are retired from every later release.
    Device { cap_units: u64 },
    /// The page's entries and the device's below the cap: what a release may read.
    PageAndDevice { cap_units: u64 },
}

/// One entry of the log with its provenance.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    event: LoggedEvent,
    origin: Origin,
    /// ε (accountant units) of the releases that read this entry so far (its lifetime spend).
    dp_units: u64,
}

impl Entry {
    fn selected(&self, which: Select) -> bool {
        match which {
            Select::All => true,
            Select::Page => self.origin == Origin::Page,
            Select::Device { cap_units } => {
                self.origin == Origin::Device && self.dp_units < cap_units
            }
            Select::PageAndDevice { cap_units } => {
                self.origin == Origin::Page || self.dp_units < cap_units
            }
        }
    }
}

/// The bounded, ordered (oldest first) log of this session's entries.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionLog {
    entries: VecDeque<Entry>,
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

    /// Appends an entry the page provides ([`Origin::Page`]), then evicts entries older than
    /// `max_age` before the newest timestamp and the oldest entries beyond `max_events`.
    pub fn log(&mut self, entry: LoggedEvent) {
        self.log_from(entry, Origin::Page);
    }

    /// [`SessionLog::log`] with a given origin.
    pub fn log_from(&mut self, entry: LoggedEvent, origin: Origin) {
        let now = self
            .latest_ts_ms()
            .map_or(entry.ts_ms(), |t| t.max(entry.ts_ms()));
        self.entries.push_back(Entry {
            event: entry,
            origin,
            dp_units: 0,
        });
        self.prune(now);
        while self.entries.len() > self.max_events {
            self.entries.pop_front();
        }
    }

    /// Drops entries older than `max_age` at `now_ms`. Returns how many were dropped.
    pub fn prune(&mut self, now_ms: f64) -> usize {
        let before = self.entries.len();
        let cutoff = now_ms - self.max_age_ms;
        self.entries.retain(|e| e.event.ts_ms() >= cutoff);
        before - self.entries.len()
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &LoggedEvent> + ExactSizeIterator {
        self.entries.iter().map(|e| &e.event)
    }

    /// Every entry with its origin and lifetime spend (accountant units), oldest first.
    pub fn entries_with_provenance(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&LoggedEvent, Origin, u64)> + ExactSizeIterator {
        self.entries
            .iter()
            .map(|e| (&e.event, e.origin, e.dp_units))
    }

    /// Replaces the log with `entries` (with their origins and spends), limits kept (the oldest
    /// beyond `max_events` go).
    pub fn restore(&mut self, entries: impl IntoIterator<Item = (LoggedEvent, Origin, u64)>) {
        self.entries = entries
            .into_iter()
            .map(|(event, origin, dp_units)| Entry {
                event,
                origin,
                dp_units,
            })
            .collect();
        while self.entries.len() > self.max_events {
            self.entries.pop_front();
        }
    }

    /// Number of entries `which` selects.
    pub fn count(&self, which: Select) -> usize {
        self.entries.iter().filter(|e| e.selected(which)).count()
    }

    /// Whether `which` selects any entry.
    pub fn has(&self, which: Select) -> bool {
        self.entries.iter().any(|e| e.selected(which))
    }

    /// Marks the entries that `observed(entry)` says the store's server observed as
    /// [`Origin::Page`] (e.g. the restored events of the current visit).
    pub fn mark_observed(&mut self, observed: impl Fn(&LoggedEvent) -> bool) {
        for e in &mut self.entries {
            if e.origin == Origin::Device && observed(&e.event) {
                e.origin = Origin::Page;
            }
        }
    }

    /// Raises each entry's lifetime spend to that of the same event (kind, item, time) in
    /// `stored`, when larger (another tab's releases read it).
    pub fn join_spends(&mut self, stored: &[EventInput], bundle: &Bundle) {
        for s in stored {
            let Some(units) = s.dp_units else { continue };
            let Ok(entry) = s.validate(bundle) else {
                continue;
            };
            for e in &mut self.entries {
                if e.event == entry && e.dp_units < units {
                    e.dp_units = units;
                }
            }
        }
    }

    /// Adds `units` to the lifetime spend of every entry `which` selects (a release read them).
    pub fn charge(&mut self, which: Select, units: u64) {
        for e in &mut self.entries {
            if e.selected(which) {
                e.dp_units = e.dp_units.saturating_add(units);
            }
        }
    }

    /// Item events, oldest first (searches left out).
    pub fn events(&self) -> impl DoubleEndedIterator<Item = &Event> {
        self.entries.iter().filter_map(|e| match &e.event {
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
        self.entries
            .iter()
            .map(|e| e.event.ts_ms())
            .reduce(f64::max)
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    fn live_selected(
        &self,
        now_ms: f64,
        which: Select,
    ) -> impl DoubleEndedIterator<Item = (usize, &LoggedEvent)> {
        let cutoff = now_ms - self.max_age_ms;
        self.entries
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.event.ts_ms() >= cutoff && e.selected(which))
            .map(|(i, e)| (i, &e.event))
    }

    /// Each live item event with its effective weight at `now_ms`, newest first:
    /// `type weight × position weight × 0.5^(age / half-life) × dwell factor`. Positions count
    /// item events from the newest (0). Entries older than `max_age` are left out.
    pub fn effective_weights(&self, policy: &SignalPolicy, now_ms: f64) -> Vec<WeightedEvent> {
        self.effective_weights_of(policy, now_ms, Select::All)
    }

    /// [`SessionLog::effective_weights`] of the entries `which` selects (positions count within
    /// them, as if the log held only those).
    pub fn effective_weights_of(
        &self,
        policy: &SignalPolicy,
        now_ms: f64,
        which: Select,
    ) -> Vec<WeightedEvent> {
        let mut out: Vec<WeightedEvent> = Vec::with_capacity(self.entries.len());
        let items = self
            .live_selected(now_ms, which)
            .filter_map(|(i, e)| match e {
                LoggedEvent::Item { event, details } => Some((i, event, details)),
                LoggedEvent::Search { .. } => None,
            });
        for (position, (entry, event, details)) in items.rev().enumerate() {
            let (kind, decay, dwell) = (
                event.kind.weight(&policy.weights),
                policy.time_decay(now_ms - event.ts_ms),
                policy.dwell_factor(event.kind, details.dwell_ms),
            );
            out.push(WeightedEvent {
                entry,
                event: *event,
                weight: kind * policy.position_weight(position) * decay * dwell,
                base: kind * decay * dwell,
            });
        }
        out
    }

    /// Items with a live item event at `now_ms`, sorted, deduplicated.
    pub fn seen_items(&self, now_ms: f64) -> Vec<u32> {
        self.seen_items_of(now_ms, Select::All)
    }

    /// [`SessionLog::seen_items`] among the entries `which` selects.
    pub fn seen_items_of(&self, now_ms: f64, which: Select) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .live_selected(now_ms, which)
            .filter_map(|(_, e)| match e {
                LoggedEvent::Item { event, .. } => Some(event.item),
                LoggedEvent::Search { .. } => None,
            })
            .collect();
        sort_rows(&mut v);
        v.dedup();
        v
    }

    /// How many live item events each item has among the entries `which` selects, by row
    /// (ascending).
    pub fn item_counts_of(&self, now_ms: f64, which: Select) -> Vec<(u32, u32)> {
        let mut rows: Vec<u32> = self
            .live_selected(now_ms, which)
            .filter_map(|(_, e)| match e {
                LoggedEvent::Item { event, .. } => Some(event.item),
                LoggedEvent::Search { .. } => None,
            })
            .collect();
        sort_rows(&mut rows);
        let mut counts: Vec<(u32, u32)> = Vec::new();
        for r in rows {
            match counts.last_mut() {
                Some((last, n)) if *last == r => *n += 1,
                _ => counts.push((r, 1)),
            }
        }
        counts
    }

    /// Items with a live `purchase` event at `now_ms`, sorted, deduplicated.
    pub fn purchased_items(&self, now_ms: f64) -> Vec<u32> {
        self.purchased_items_of(now_ms, Select::All)
    }

    /// [`SessionLog::purchased_items`] among the entries `which` selects.
    pub fn purchased_items_of(&self, now_ms: f64, which: Select) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .live_selected(now_ms, which)
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
        self.cart_of(now_ms, Select::All)
    }

    /// [`SessionLog::cart`] from the entries `which` selects.
    pub fn cart_of(&self, now_ms: f64, which: Select) -> Vec<(u32, u64)> {
        let mut lines: Vec<(u32, u64)> = Vec::new();
        for (_, e) in self.live_selected(now_ms, which) {
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
        self.in_cart_items_of(now_ms, Select::All)
    }

    /// [`SessionLog::in_cart_items`] from the entries `which` selects.
    pub fn in_cart_items_of(&self, now_ms: f64, which: Select) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .cart_of(now_ms, which)
            .into_iter()
            .map(|l| l.0)
            .collect();
        sort_rows(&mut v);
        v
    }

    /// The entries in their stored form (item ids, not rows, so they survive a new bundle), oldest
    /// first.
    pub fn to_inputs(&self, bundle: &Bundle) -> Vec<EventInput> {
        self.entries
            .iter()
            .map(|e| match &e.event {
                LoggedEvent::Item { event, details } => EventInput {
                    kind: event.kind.as_str().to_owned(),
                    item: bundle.ids().get(event.item as usize).map(str::to_owned),
                    ts: Some(event.ts_ms),
                    dwell_ms: details.dwell_ms,
                    quantity: details.quantity.map(f64::from),
                    price: details.price,
                    query: None,
                    dp_units: (e.dp_units > 0).then_some(e.dp_units),
                },
                LoggedEvent::Search { query, ts_ms } => EventInput {
                    kind: "search".to_owned(),
                    ts: Some(*ts_ms),
                    query: Some(query.clone()),
                    dp_units: (e.dp_units > 0).then_some(e.dp_units),
                    ..EventInput::default()
                },
            })
            .collect()
    }

    /// Replaces this log's entries with `events` from a stored state (limits kept), as
    /// [`Origin::Device`] entries with their stored lifetime spends. Events of items no longer in the bundle are dropped
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
                Ok(entry) => entries.push_back(Entry {
                    event: entry,
                    origin: Origin::Device,
                    dp_units: stored.dp_units.unwrap_or(0),
                }),
                Err(RequestError::UnknownItem(_)) => report.unknown_items += 1,
                Err(e) => return Err(StateError::Corrupt(format!("event {i}: {e}"))),
            }
        }
        let cutoff = now_ms - self.max_age_ms;
        let before = entries.len();
        entries.retain(|e| e.event.ts_ms() >= cutoff);
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

crate::wire! {
    /// What [`SessionLog::import_events`] did.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
    pub struct ImportReport {
        /// Entries now in the log.
        imported: usize = "imported",
        /// Events dropped because their item is not in this bundle (e.g. removed from the catalog).
        unknown_items: usize = "unknownItems",
        /// Entries dropped because they were older than `max_age`.
        expired: usize = "expired",
        /// Oldest entries dropped to respect `max_events`.
        over_limit: usize = "overLimit",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::DWELL_FLOOR;

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
}
