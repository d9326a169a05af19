//! A store's event log in memory ([`EventLog`], built by [`EventLogBuilder`]) and its CSV reader
//! (header line required). Every error names the file and line. JSON Lines and GA4's export:
//! `events_jsonl.rs`; the compact input of `vitrine_spark`: `compact_input.rs`.

use std::collections::HashMap;
use std::path::Path;

use crate::exit::{ExitKind, ResultExt};
use anyhow::{anyhow, bail, Context, Result};
use vitrine::EventKind;

/// One event of the log, with the session and item already interned.
#[derive(Debug, Clone, Copy)]
pub struct LogEvent {
    pub item: u32,
    pub ts: f64,
    pub kind: EventKind,
    /// Line order in the file (ties in `ts` keep file order).
    pub seq: u32,
}

/// An event log grouped into sessions.
#[derive(Debug, Default)]
pub struct EventLog {
    /// Item ids, indexed by the interned item number (first-seen order).
    pub items: Vec<String>,
    /// Each session's events in time order (ts, then file order).
    pub sessions: Vec<Vec<LogEvent>>,
    /// Session ids as in the file, indexed like `sessions`.
    pub session_ids: Vec<String>,
    pub n_events: usize,
    /// Values of the extra columns asked for (`read_with`), one row per event, indexed by
    /// `LogEvent::seq`; empty when none were asked for.
    pub extra: Vec<Vec<String>>,
}

impl EventLog {
    /// Reads `path`: header required with `session_id` and `item_id`; `ts` (number) and
    /// `event_type` (view, click, add_to_cart, remove_from_cart, purchase, or GA4's view_item,
    /// select_item) optional.
    pub fn read(path: &Path) -> Result<Self> {
        Self::read_with(path, &[])
    }

    /// Like [`EventLog::read`], also keeping the values of the `extra` columns (which must exist).
    /// `-` reads stdin. Any failure is bad input (exit 3).
    pub fn read_with(path: &Path, extra: &[String]) -> Result<Self> {
        let reader = crate::files::open_input(path, "event log")?;
        Self::from_reader_with(reader, &crate::files::input_name(path), extra).kind(ExitKind::Input)
    }

    /// Like [`EventLog::read`], from any reader; `name` is used in error messages.
    #[cfg(test)]
    pub fn from_reader<R: std::io::Read>(reader: R, name: &str) -> Result<Self> {
        Self::from_reader_with(reader, name, &[])
    }

    /// Like [`EventLog::read_with`], from any reader.
    pub fn from_reader_with<R: std::io::Read>(
        reader: R,
        name: &str,
        extra: &[String],
    ) -> Result<Self> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let headers = rdr
            .headers()
            .with_context(|| format!("{name}: cannot read the header line"))?
            .clone();
        let col = |want: &str| headers.iter().position(|h| h.trim() == want);
        let (Some(c_session), Some(c_item)) = (col("session_id"), col("item_id")) else {
            bail!(
                "{name}:1: the header must name the columns session_id and item_id (found: {})",
                headers.iter().collect::<Vec<_>>().join(",")
            );
        };
        let c_extra = extra
            .iter()
            .map(|c| {
                col(c).ok_or_else(|| {
                    anyhow!(
                        "{name}:1: no column '{c}' in the header (found: {})",
                        headers.iter().collect::<Vec<_>>().join(",")
                    )
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        let c_ts = col("ts");
        let c_type = col("event_type");

        let mut log = EventLogBuilder::new(name);
        let mut record = csv::StringRecord::new();
        loop {
            let more = rdr.read_record(&mut record).map_err(|e| {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                anyhow!("{name}:{line}: malformed CSV line ({e})")
            })?;
            if !more {
                break;
            }
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            let field = |c: usize, what: &str| -> Result<&str> {
                match record.get(c).map(str::trim) {
                    Some(v) if !v.is_empty() => Ok(v),
                    _ => bail!("{name}:{line}: the {what} column is empty or missing"),
                }
            };
            let session_id = field(c_session, "session_id")?;
            let item_id = field(c_item, "item_id")?;
            let ts = match c_ts.and_then(|c| record.get(c)).map(str::trim) {
                None | Some("") => None,
                Some(v) => match v.parse::<f64>() {
                    Ok(t) if t.is_finite() => Some(t),
                    _ => bail!("{name}:{line}: ts '{v}' is not a number"),
                },
            };
            let kind = match c_type.and_then(|c| record.get(c)).map(str::trim) {
                None | Some("") => EventKind::View,
                Some(v) => parse_event_type(v).map_err(|e| anyhow!("{name}:{line}: {e}"))?,
            };
            let extra = (!c_extra.is_empty()).then(|| {
                c_extra
                    .iter()
                    .map(|&c| record.get(c).unwrap_or("").trim().to_owned())
                    .collect()
            });
            log.push(session_id, item_id, ts, kind, extra)
                .map_err(|e| anyhow!("{name}:{line}: {e}"))?;
        }
        log.finish()
    }
}

/// An event type by our name (`view`, `click`, `add_to_cart`, `remove_from_cart`, `purchase`) or
/// GA4's (`view_item` = view, `select_item` = click; `add_to_cart`, `remove_from_cart`,
/// `purchase` are the same in both).
pub fn parse_event_type(name: &str) -> Result<EventKind> {
    Ok(match name {
        "view_item" => EventKind::View,
        "select_item" => EventKind::Click,
        other => EventKind::parse(other)?,
    })
}

/// Builds an [`EventLog`] event by event, in log order: interns sessions and items (first-seen
/// order), numbers events (`seq`), and shows progress on stderr every million events.
pub struct EventLogBuilder {
    log: EventLog,
    name: String,
    item_index: HashMap<String, u32>,
    session_index: HashMap<String, u32>,
    seq: u32,
}

/// Events between two progress lines.
const PROGRESS_EVERY: u32 = 1_000_000;

impl EventLogBuilder {
    /// An empty log; `name` (the file) is used in progress lines and errors.
    pub fn new(name: &str) -> Self {
        Self {
            log: EventLog::default(),
            name: name.to_owned(),
            item_index: HashMap::new(),
            session_index: HashMap::new(),
            seq: 0,
        }
    }

    /// Adds one event. `ts` defaults to the event's position in the log; `extra` holds the values
    /// of the extra columns asked for (`None` when none were). Errors (without a position: the
    /// caller adds it) for an item id with a newline and past 4 billion events.
    pub fn push(
        &mut self,
        session_id: &str,
        item_id: &str,
        ts: Option<f64>,
        kind: EventKind,
        extra: Option<Vec<String>>,
    ) -> Result<()> {
        if item_id.contains('\n') {
            bail!("item_id contains a newline");
        }
        let log = &mut self.log;
        let next_item = self.item_index.len() as u32;
        let item = *self
            .item_index
            .entry(item_id.to_owned())
            .or_insert_with(|| {
                log.items.push(item_id.to_owned());
                next_item
            });
        let next_session = self.session_index.len() as u32;
        let session = *self
            .session_index
            .entry(session_id.to_owned())
            .or_insert_with(|| {
                log.session_ids.push(session_id.to_owned());
                log.sessions.push(Vec::new());
                next_session
            });
        if let Some(extra) = extra {
            log.extra.push(extra);
        }
        log.sessions[session as usize].push(LogEvent {
            item,
            ts: ts.unwrap_or(f64::from(self.seq)),
            kind,
            seq: self.seq,
        });
        self.seq = self
            .seq
            .checked_add(1)
            .ok_or_else(|| anyhow!("more than 4 billion events"))?;
        log.n_events += 1;
        if self.seq % PROGRESS_EVERY == 0 {
            eprintln!(
                "{}: {} events read ({} sessions, {} items)",
                self.name,
                self.seq,
                log.sessions.len(),
                log.items.len()
            );
        }
        Ok(())
    }

    /// The log, each session in time order (ts, then log order). Errors when it has no event.
    pub fn finish(mut self) -> Result<EventLog> {
        if self.log.n_events == 0 {
            bail!("{}: no events", self.name);
        }
        for s in &mut self.log.sessions {
            s.sort_by(|a, b| a.ts.total_cmp(&b.ts).then(a.seq.cmp(&b.seq)));
        }
        Ok(self.log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<EventLog> {
        EventLog::from_reader(text.as_bytes(), "log.csv")
    }

    #[test]
    fn groups_and_orders_sessions() {
        let log = parse("session_id,item_id,ts\na,x,5\nb,y,1\na,z,2\n").unwrap();
        assert_eq!(log.items, vec!["x", "y", "z"]);
        assert_eq!(log.sessions.len(), 2);
        let a: Vec<u32> = log.sessions[0].iter().map(|e| e.item).collect();
        assert_eq!(a, vec![2, 0], "session a is ordered by ts");
        assert_eq!(log.n_events, 3);
    }

    #[test]
    fn missing_columns_name_the_file_and_line() {
        let err = parse("session,item\n1,2\n").unwrap_err().to_string();
        assert!(err.starts_with("log.csv:1:"), "{err}");
        assert!(err.contains("session_id and item_id"), "{err}");
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let err = parse("session_id,item_id,ts\n1,a,1\n2,b,notanumber\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("log.csv:3:"), "{err}");
        let err = parse("session_id,item_id\n1,a\n2\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("log.csv:3:"), "{err}");
        let err = parse("session_id,item_id,event_type\n1,a,teleport\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("log.csv:2:") && err.contains("teleport"),
            "{err}"
        );
        let err = parse("session_id,item_id\n1,\n").unwrap_err().to_string();
        assert!(
            err.starts_with("log.csv:2:") && err.contains("item_id"),
            "{err}"
        );
    }

    #[test]
    fn empty_log_is_an_error() {
        assert!(parse("session_id,item_id\n")
            .unwrap_err()
            .to_string()
            .contains("no events"));
    }

    #[test]
    fn ga4_event_names_are_read_too() {
        let log = parse(
            "session_id,item_id,event_type\na,x,view_item\na,y,select_item\na,y,add_to_cart\na,x,purchase\n",
        )
        .unwrap();
        let kinds: Vec<EventKind> = log.sessions[0].iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::View,
                EventKind::Click,
                EventKind::AddToCart,
                EventKind::Purchase
            ]
        );
        let err = parse("session_id,item_id,event_type\na,x,page_view\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("log.csv:2:") && err.contains("page_view"),
            "{err}"
        );
    }
}
