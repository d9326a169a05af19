//! The shopper's local event log: what happened on this device, bounded in size.

use std::collections::VecDeque;

use crate::bundle::EventWeights;
use crate::error::RequestError;

/// Default cap on the number of events kept; older events are evicted first.
pub const DEFAULT_MAX_EVENTS: usize = 100;

/// What the shopper did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    View,
    Click,
    AddToCart,
    RemoveFromCart,
    Purchase,
}

impl EventKind {
    /// Parses the wire name (`view`, `click`, `add_to_cart`, `remove_from_cart`, `purchase`).
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
}

/// One tracked event. `item` is a row of the bundle; `ts_ms` is milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub item: u32,
    pub ts_ms: f64,
}

/// The bounded, ordered (oldest first) log of this session's events.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionLog {
    events: VecDeque<Event>,
    max_events: usize,
}

impl Default for SessionLog {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_MAX_EVENTS)
    }
}

impl SessionLog {
    /// An empty log keeping at most `max_events` (at least 1).
    pub fn with_capacity(max_events: usize) -> Self {
        let max_events = max_events.max(1);
        Self {
            events: VecDeque::with_capacity(max_events.min(1024)),
            max_events,
        }
    }

    /// Appends an event, evicting the oldest when the log is full.
    pub fn push(&mut self, event: Event) {
        if self.events.len() == self.max_events {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// Events, oldest first.
    pub fn events(&self) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        self.events.iter()
    }

    /// Number of events kept.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when nothing has been tracked.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Forgets every event.
    pub fn clear(&mut self) {
        self.events.clear();
    }

    /// True if `item` occurs in the log.
    pub fn contains(&self, item: u32) -> bool {
        self.events.iter().any(|e| e.item == item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_when_full() {
        let mut log = SessionLog::with_capacity(2);
        for i in 0..3 {
            log.push(Event {
                kind: EventKind::View,
                item: i,
                ts_ms: f64::from(i),
            });
        }
        let items: Vec<u32> = log.events().map(|e| e.item).collect();
        assert_eq!(items, vec![1, 2]);
    }

    #[test]
    fn parses_every_kind_and_rejects_others() {
        for k in [
            EventKind::View,
            EventKind::Click,
            EventKind::AddToCart,
            EventKind::RemoveFromCart,
            EventKind::Purchase,
        ] {
            assert_eq!(EventKind::parse(k.as_str()), Ok(k));
        }
        assert_eq!(
            EventKind::parse("teleport"),
            Err(RequestError::UnknownEventType("teleport".into()))
        );
    }
}
