//! Event logs as JSON Lines: our flat objects, or GA4's BigQuery export layout. Every error names
//! the file and line.
//!
//! - Flat (`--format jsonl`): one object per line with `session_id`, `item_id` (strings or
//!   numbers), optional `ts` (a number, or a string holding one) and `event_type` (ours or GA4's
//!   names); extra columns are keys of the object.
//! - GA4 (`--format ga4`): `event_name`, `event_timestamp` (µs), `user_pseudo_id`, `event_params`
//!   (`ga_session_id`), `items[]`. Item events (`view_item`, `select_item`, `add_to_cart`,
//!   `remove_from_cart`, `purchase`) become one event per entry of `items[]`, in the session
//!   `user_pseudo_id:ga_session_id`; other events are skipped and counted. Extra columns are
//!   looked up in the item, then in `event_params`, then as a top-level (dotted) path.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use crate::exit::{ExitKind, ResultExt};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value};
use vitrine::EventKind;

use crate::events::{parse_event_type, EventLog, EventLogBuilder};

/// GA4 event names that are about items.
const GA4_ITEM_EVENTS: [&str; 5] = [
    "view_item",
    "select_item",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
];

/// The layout of each line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonLayout {
    /// Our flat objects.
    Flat,
    /// GA4's BigQuery export.
    Ga4,
}

/// Reads `path` (JSON Lines in `layout`), keeping the values of the `extra` columns.
/// `-` reads stdin. Any failure is bad input (exit 3).
pub fn read(path: &Path, layout: JsonLayout, extra: &[String]) -> Result<EventLog> {
    let reader = crate::files::open_input(path, "event log")?;
    from_reader(
        std::io::BufReader::new(reader),
        &crate::files::input_name(path),
        layout,
        extra,
    )
    .kind(ExitKind::Input)
}

/// Like [`read`], from any buffered reader; `name` is used in messages.
pub fn from_reader<R: BufRead>(
    mut reader: R,
    name: &str,
    layout: JsonLayout,
    extra: &[String],
) -> Result<EventLog> {
    let mut log = EventLogBuilder::new(name);
    let mut seen_extra = vec![false; extra.len()];
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut buf = String::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = reader
            .read_line(&mut buf)
            .with_context(|| format!("{name}:{}: cannot read the line (not UTF-8?)", line + 1))?;
        if n == 0 {
            break;
        }
        line += 1;
        let text = buf.trim();
        if text.is_empty() {
            continue;
        }
        let at = |e: anyhow::Error| anyhow!("{name}:{line}: {e}");
        let value: Value = serde_json::from_str(text)
            .map_err(|e| anyhow!("{name}:{line}: not a JSON object ({e})"))?;
        let Value::Object(obj) = value else {
            bail!("{name}:{line}: not a JSON object");
        };
        match layout {
            JsonLayout::Flat => flat_event(&obj, extra, &mut seen_extra, &mut log).map_err(at)?,
            JsonLayout::Ga4 => {
                if let Some(skip) =
                    ga4_events(&obj, extra, &mut seen_extra, &mut log).map_err(at)?
                {
                    *skipped.entry(skip).or_default() += 1;
                }
            }
        }
    }
    if let Some(i) = seen_extra.iter().position(|s| !s) {
        bail!("{name}: no line has a value for '{}'", extra[i]);
    }
    if !skipped.is_empty() {
        let total: usize = skipped.values().sum();
        let mut by_count: Vec<(&String, &usize)> = skipped.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = by_count
            .iter()
            .take(8)
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        eprintln!(
            "{name}: skipped {total} GA4 events that are not item events ({}{})",
            top.join(", "),
            if by_count.len() > 8 { ", …" } else { "" }
        );
    }
    log.finish()
}

/// A scalar as text: strings as they are (trimmed), numbers and booleans as JSON writes them;
/// `None` for null, absent, empty, arrays and objects.
fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A required id field: a non-empty string or a number.
fn id(obj: &Map<String, Value>, key: &str) -> Result<String> {
    match obj.get(key) {
        Some(Value::Array(_) | Value::Object(_)) => bail!("{key} must be a string or a number"),
        v => scalar(v).ok_or_else(|| anyhow!("{key} is empty or missing")),
    }
}

/// An optional timestamp: a finite number, or a string holding one.
fn timestamp(obj: &Map<String, Value>, key: &str) -> Result<Option<f64>> {
    let Some(v) = obj.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let t = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match t {
        Some(t) if t.is_finite() => Ok(Some(t)),
        _ => bail!("{key} {v} is not a number"),
    }
}

fn flat_event(
    obj: &Map<String, Value>,
    extra: &[String],
    seen: &mut [bool],
    log: &mut EventLogBuilder,
) -> Result<()> {
    let session = id(obj, "session_id")?;
    let item = id(obj, "item_id")?;
    let ts = timestamp(obj, "ts")?;
    let kind = match scalar(obj.get("event_type")) {
        None => EventKind::View,
        Some(t) => parse_event_type(&t)?,
    };
    let values = (!extra.is_empty()).then(|| {
        extra
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let v = scalar(obj.get(k)).unwrap_or_default();
                seen[i] |= !v.is_empty();
                v
            })
            .collect()
    });
    log.push(&session, &item, ts, kind, values)
}

/// GA4's `event_params` value of `key` (string, int, float or double value), as text.
fn ga4_param(obj: &Map<String, Value>, key: &str) -> Option<String> {
    let params = obj.get("event_params")?.as_array()?;
    let p = params
        .iter()
        .find(|p| p.get("key").and_then(Value::as_str) == Some(key))?;
    let v = p.get("value")?;
    ["int_value", "string_value", "double_value", "float_value"]
        .iter()
        .find_map(|f| scalar(v.get(*f)))
}

/// A top-level value by dotted path (`device.category`).
fn dotted<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut v = obj.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    Some(v)
}

/// One GA4 row: pushes its item events; returns the event name when it is not an item event.
fn ga4_events(
    obj: &Map<String, Value>,
    extra: &[String],
    seen: &mut [bool],
    log: &mut EventLogBuilder,
) -> Result<Option<String>> {
    let name = id(obj, "event_name")?;
    if !GA4_ITEM_EVENTS.contains(&name.as_str()) {
        return Ok(Some(name));
    }
    let kind = parse_event_type(&name)?;
    let user = id(obj, "user_pseudo_id")?;
    let session_number = ga4_param(obj, "ga_session_id")
        .ok_or_else(|| anyhow!("{name} without a ga_session_id in event_params"))?;
    let session = format!("{user}:{session_number}");
    // GA4 counts µs; the log's `ts` is in seconds, as in the CSV and JSON Lines formats.
    let ts = timestamp(obj, "event_timestamp")?
        .ok_or_else(|| anyhow!("{name} without an event_timestamp"))?
        / 1e6;
    let items = match obj.get("items") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => bail!("{name} without items[]"),
    };
    for (i, item) in items.iter().enumerate() {
        let Value::Object(item) = item else {
            bail!("items[{i}] is not an object");
        };
        let item_id = id(item, "item_id").map_err(|e| anyhow!("items[{i}]: {e}"))?;
        let values = (!extra.is_empty()).then(|| {
            extra
                .iter()
                .enumerate()
                .map(|(j, k)| {
                    let v = scalar(item.get(k))
                        .or_else(|| ga4_param(obj, k))
                        .or_else(|| scalar(dotted(obj, k)))
                        .unwrap_or_default();
                    seen[j] |= !v.is_empty();
                    v
                })
                .collect()
        });
        log.push(&session, &item_id, Some(ts), kind, values)?;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(text: &str, extra: &[&str]) -> Result<EventLog> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        from_reader(text.as_bytes(), "log.jsonl", JsonLayout::Flat, &extra)
    }

    fn ga4(text: &str, extra: &[&str]) -> Result<EventLog> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        from_reader(text.as_bytes(), "ga4.jsonl", JsonLayout::Ga4, &extra)
    }

    #[test]
    fn flat_lines_group_and_order_like_csv() {
        let log = flat(
            "{\"session_id\":\"a\",\"item_id\":\"x\",\"ts\":5}\n\n\
             {\"session_id\":7,\"item_id\":12,\"ts\":\"1\",\"event_type\":\"add_to_cart\"}\n\
             {\"session_id\":\"a\",\"item_id\":\"z\",\"ts\":2,\"event_type\":\"select_item\",\"cat\":\"shoes\"}\n",
            &["cat"],
        )
        .unwrap();
        assert_eq!(log.items, ["x", "12", "z"]);
        assert_eq!(log.session_ids, ["a", "7"]);
        let a: Vec<(u32, EventKind)> = log.sessions[0].iter().map(|e| (e.item, e.kind)).collect();
        assert_eq!(a, [(2, EventKind::Click), (0, EventKind::View)]);
        assert_eq!(log.sessions[1][0].kind, EventKind::AddToCart);
        assert_eq!(log.extra[2], ["shoes"]);
        assert_eq!(log.extra[0], [""]);
    }

    #[test]
    fn flat_errors_name_the_line() {
        let cases = [
            (
                "{\"session_id\":\"a\",\"item_id\":\"x\"}\n{\"session_id\":\"a\"",
                "log.jsonl:2:",
            ),
            (
                "{\"session_id\":\"a\",\"item_id\":\"x\"}\n[1,2]\n",
                "log.jsonl:2: not a JSON object",
            ),
            (
                "{\"session_id\":\"a\"}\n",
                "log.jsonl:1: item_id is empty or missing",
            ),
            (
                "{\"session_id\":\"a\",\"item_id\":{\"x\":1}}\n",
                "log.jsonl:1: item_id must be",
            ),
            (
                "{\"session_id\":\"a\",\"item_id\":\"x\",\"ts\":\"soon\"}\n",
                "log.jsonl:1: ts",
            ),
            (
                "{\"session_id\":\"a\",\"item_id\":\"x\",\"event_type\":\"teleport\"}\n",
                "teleport",
            ),
            (
                "{\"session_id\":\"a\",\"item_id\":\"x\\ny\"}\n",
                "log.jsonl:1: item_id contains a newline",
            ),
            ("\n\n", "no events"),
        ];
        for (text, want) in cases {
            let err = flat(text, &[]).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let err = flat("{\"session_id\":\"a\",\"item_id\":\"x\"}\n", &["cat"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no line has a value for 'cat'"), "{err}");
    }

    #[test]
    fn a_ten_megabyte_line_is_read_or_rejected_without_trouble() {
        let long = "y".repeat(10 << 20);
        let text = format!("{{\"session_id\":\"a\",\"item_id\":\"x\"}}\n{{\"session_id\":\"a\",\"item_id\":\"{long}\"}}\n{{\"session_id\":\"a\",\"item_id\":\"{long}\n");
        let err = flat(&text, &[]).unwrap_err().to_string();
        assert!(err.starts_with("log.jsonl:3:"), "{}", &err[..80]);
    }

    const GA4_LOG: &str = r#"{"event_name":"page_view","event_timestamp":"1700000000000000","user_pseudo_id":"u1","event_params":[{"key":"ga_session_id","value":{"int_value":"42"}}]}
{"event_name":"view_item","event_timestamp":1700000001000000,"user_pseudo_id":"u1","event_params":[{"key":"ga_session_id","value":{"int_value":42}},{"key":"page_type","value":{"string_value":"pdp"}}],"items":[{"item_id":"SKU1","item_category":"shoes"}],"device":{"category":"mobile"}}
{"event_name":"purchase","event_timestamp":1700000009000000,"user_pseudo_id":"u1","event_params":[{"key":"ga_session_id","value":{"int_value":42}}],"items":[{"item_id":"SKU1","item_category":"shoes"},{"item_id":"SKU2"}]}
{"event_name":"select_item","event_timestamp":1700000005000000,"user_pseudo_id":"u2","event_params":[{"key":"ga_session_id","value":{"int_value":7}}],"items":[{"item_id":"SKU2","item_category":"hats"}]}
"#;

    #[test]
    fn ga4_items_expand_into_events_of_user_sessions() {
        let log = ga4(GA4_LOG, &["item_category", "page_type", "device.category"]).unwrap();
        assert_eq!(log.items, ["SKU1", "SKU2"]);
        assert_eq!(log.session_ids, ["u1:42", "u2:7"]);
        assert_eq!(
            log.n_events, 4,
            "page_view is skipped, the purchase is two events"
        );
        let s: Vec<(u32, EventKind, f64)> = log.sessions[0]
            .iter()
            .map(|e| (e.item, e.kind, e.ts))
            .collect();
        assert_eq!(
            s,
            [
                (0, EventKind::View, 1.700000001e9),
                (0, EventKind::Purchase, 1.700000009e9),
                (1, EventKind::Purchase, 1.700000009e9)
            ]
        );
        assert_eq!(log.extra[0], ["shoes", "pdp", "mobile"]);
        assert_eq!(log.extra[2], ["", "", ""]);
        assert_eq!(log.sessions[1][0].kind, EventKind::Click);
    }

    #[test]
    fn ga4_errors_name_the_line() {
        let cases = [
            (
                r#"{"event_name":"purchase","event_timestamp":1,"user_pseudo_id":"u","event_params":[{"key":"ga_session_id","value":{"int_value":1}}],"items":[]}"#,
                "ga4.jsonl:1: purchase without items[]",
            ),
            (
                r#"{"event_name":"view_item","event_timestamp":1,"user_pseudo_id":"u","items":[{"item_id":"a"}]}"#,
                "ga4.jsonl:1: view_item without a ga_session_id",
            ),
            (
                r#"{"event_name":"view_item","event_timestamp":1,"event_params":[{"key":"ga_session_id","value":{"int_value":1}}],"items":[{"item_id":"a"}]}"#,
                "user_pseudo_id is empty or missing",
            ),
            (
                r#"{"event_name":"view_item","event_timestamp":1,"user_pseudo_id":"u","event_params":[{"key":"ga_session_id","value":{"int_value":1}}],"items":[{"item_name":"a"}]}"#,
                "items[0]: item_id is empty or missing",
            ),
            (
                r#"{"event_name":"view_item","user_pseudo_id":"u","event_params":[{"key":"ga_session_id","value":{"int_value":1}}],"items":[{"item_id":"a"}]}"#,
                "without an event_timestamp",
            ),
            (r#"{"event_name":"page_view"}"#, "no events"),
        ];
        for (text, want) in cases {
            let err = ga4(text, &[]).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
