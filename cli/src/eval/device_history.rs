//! `--device-history FILE --user-column COL`: each test session's device-only record D — the same
//! user's earlier sessions, read from another log — as a device restores it from storage.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;
use vitrine::{Event, EventKind, Model};

use crate::events::EventLog;

/// One stored event of a user: its kind, item id and time (seconds, as in the log).
#[derive(Debug, Clone)]
struct StoredEvent {
    kind: EventKind,
    item: u32,
    ts: f64,
}

/// The users' histories, by user id, oldest first.
#[derive(Debug, Default)]
pub struct DeviceHistory {
    by_user: HashMap<String, Vec<StoredEvent>>,
    /// Item ids of the history log, indexed by its interned item number.
    items: Vec<String>,
}

impl DeviceHistory {
    /// Reads `path` (any format `vitrine train` reads), grouping its events by `user_column`.
    pub fn read(path: &Path, user_column: &str) -> Result<Self> {
        let log = EventLog::read_with(path, &[user_column.to_owned()])?;
        let mut by_user: HashMap<String, Vec<StoredEvent>> = HashMap::new();
        for session in &log.sessions {
            for e in session {
                let user = &log.extra[e.seq as usize][0];
                if user.is_empty() {
                    continue;
                }
                by_user.entry(user.clone()).or_default().push(StoredEvent {
                    kind: e.kind,
                    item: e.item,
                    ts: e.ts,
                });
            }
        }
        for events in by_user.values_mut() {
            events.sort_by(|a, b| a.ts.total_cmp(&b.ts));
        }
        Ok(Self {
            by_user,
            items: log.items,
        })
    }

    /// `user`'s events strictly before `before_ts` (seconds), as bundle rows (items the bundle
    /// does not know are left out), oldest first.
    pub fn events_before(&self, model: &Model, user: &str, before_ts: f64) -> Vec<Event> {
        self.by_user
            .get(user)
            .map(|events| {
                events
                    .iter()
                    .filter(|e| e.ts < before_ts)
                    .filter_map(|e| {
                        let row = model.bundle().index_of(&self.items[e.item as usize])?;
                        Some(Event {
                            kind: e.kind,
                            item: row,
                            ts_ms: e.ts * 1000.0,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
