//! Events of items the bundle does not know yet ([`PendingEvents`]): a product added to the store
//! after the bundle was built is tracked like any other. Its events wait here — bounded, counted,
//! forgotten with the session — until a catalog update makes the id known; then they join the log
//! at their time and count like every other event, with the provenance they had when they
//! arrived (the page's `track()`: P; restored from storage: D, with its lifetime spend).

use super::event::{EventInput, LoggedEvent};
use super::log::Origin;
use crate::bundle::Bundle;

/// Most pending events kept (the oldest go first).
pub const MAX_PENDING: usize = 50;
/// Longest item id kept pending, in bytes (longer ones are counted, not kept).
pub const MAX_PENDING_ID_BYTES: usize = 256;

/// Events waiting for their item to be known, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PendingEvents {
    events: Vec<EventInput>,
    /// Who provided each of `events` (same length).
    origins: Vec<Origin>,
    /// Events of unknown items tracked since the session started (kept or not).
    tracked: u64,
}

impl PendingEvents {
    /// Keeps an event whose item the bundle does not know (already validated otherwise), provided
    /// by `origin`.
    pub fn push(&mut self, event: EventInput, origin: Origin) {
        self.tracked = self.tracked.saturating_add(1);
        let keep = event
            .item
            .as_deref()
            .is_some_and(|id| id.len() <= MAX_PENDING_ID_BYTES && !id.contains('\n'));
        if keep {
            if self.events.len() >= MAX_PENDING {
                // A plain Vec (50 entries): cheaper in the wasm than a VecDeque.
                self.events.remove(0);
                self.origins.remove(0);
            }
            self.events.push(event);
            self.origins.push(origin);
        }
    }

    /// Takes out the events whose item `bundle` now knows, as log entries with their origin and
    /// lifetime spend (accountant units), oldest first; the others stay.
    pub fn take_known(&mut self, bundle: &Bundle) -> Vec<(LoggedEvent, Origin, u64)> {
        let mut known = Vec::new();
        let (mut events, mut origins) = (Vec::new(), Vec::new());
        let taken = std::mem::take(&mut self.events);
        for (e, origin) in taken.into_iter().zip(std::mem::take(&mut self.origins)) {
            match e.validate(bundle) {
                Ok(entry) => known.push((entry, origin, e.dp_units.unwrap_or(0))),
                Err(_) => {
                    events.push(e);
                    origins.push(origin);
                }
            }
        }
        self.events = events;
        self.origins = origins;
        known
    }

    /// How many of the kept events `origin` provided.
    pub fn count(&self, origin: Origin) -> usize {
        self.origins.iter().filter(|&&o| o == origin).count()
    }

    /// The events kept, oldest first.
    pub fn events(&self) -> &[EventInput] {
        &self.events
    }

    /// Number of events kept.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when none is kept.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Events of unknown items tracked since the session started.
    pub fn tracked(&self) -> u64 {
        self.tracked
    }

    /// Forgets them all.
    pub fn clear(&mut self) {
        self.events.clear();
        self.origins.clear();
        self.tracked = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(item: &str, ts: f64) -> EventInput {
        EventInput {
            kind: "view".into(),
            item: Some(item.into()),
            ts: Some(ts),
            ..EventInput::default()
        }
    }

    #[test]
    fn bounded_and_counted() {
        let mut p = PendingEvents::default();
        for i in 0..(MAX_PENDING + 5) {
            let origin = if i % 2 == 0 {
                Origin::Page
            } else {
                Origin::Device
            };
            p.push(ev(&format!("x{i}"), i as f64), origin);
        }
        p.push(ev(&"y".repeat(MAX_PENDING_ID_BYTES + 1), 0.0), Origin::Page);
        assert_eq!(p.len(), MAX_PENDING);
        assert_eq!(p.count(Origin::Page) + p.count(Origin::Device), MAX_PENDING);
        assert_eq!(
            p.count(Origin::Device),
            MAX_PENDING / 2,
            "origins evicted with their events"
        );
        assert_eq!(p.tracked(), MAX_PENDING as u64 + 6);
        assert_eq!(p.events()[0].item.as_deref(), Some("x5"));
        p.clear();
        assert!(p.is_empty() && p.tracked() == 0);
    }
}
