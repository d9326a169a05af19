//! Events of items the bundle does not know yet ([`PendingEvents`]): a product added to the store
//! after the bundle was built is tracked like any other. Its events wait here — bounded, counted,
//! forgotten with the session — until a catalog update makes the id known; then they join the log
//! at their time and count like every other event.

use super::event::{EventInput, LoggedEvent};
use crate::bundle::Bundle;

/// Most pending events kept (the oldest go first).
pub const MAX_PENDING: usize = 50;
/// Longest item id kept pending, in bytes (longer ones are counted, not kept).
pub const MAX_PENDING_ID_BYTES: usize = 256;

/// Events waiting for their item to be known, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PendingEvents {
    events: Vec<EventInput>,
    /// Events of unknown items tracked since the session started (kept or not).
    tracked: u64,
}

impl PendingEvents {
    /// Keeps an event whose item the bundle does not know (already validated otherwise).
    pub fn push(&mut self, event: EventInput) {
        self.tracked = self.tracked.saturating_add(1);
        let keep = event
            .item
            .as_deref()
            .is_some_and(|id| id.len() <= MAX_PENDING_ID_BYTES && !id.contains('\n'));
        if keep {
            if self.events.len() >= MAX_PENDING {
                // A plain Vec (50 entries): cheaper in the wasm than a VecDeque.
                self.events.remove(0);
            }
            self.events.push(event);
        }
    }

    /// Takes out the events whose item `bundle` now knows, as log entries (oldest first); the
    /// others stay.
    pub fn take_known(&mut self, bundle: &Bundle) -> Vec<LoggedEvent> {
        let mut known = Vec::new();
        let mut waiting = Vec::new();
        for e in std::mem::take(&mut self.events) {
            match e.validate(bundle) {
                Ok(entry) => known.push(entry),
                Err(_) => waiting.push(e),
            }
        }
        self.events = waiting;
        known
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
            p.push(ev(&format!("x{i}"), i as f64));
        }
        p.push(ev(&"y".repeat(MAX_PENDING_ID_BYTES + 1), 0.0));
        assert_eq!(p.len(), MAX_PENDING);
        assert_eq!(p.tracked(), MAX_PENDING as u64 + 6);
        assert_eq!(p.events()[0].item.as_deref(), Some("x5"));
        p.clear();
        assert!(p.is_empty() && p.tracked() == 0);
    }
}
