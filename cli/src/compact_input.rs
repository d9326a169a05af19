//! The compact training input written by `vitrine_spark prepare` (docs/scale.md has the format):
//! `manifest.json`, `items/*.parquet`, `sessions/*.parquet`, optional `neighbours/*.parquet`.
//! Read into the trainer's [`EventLog`], so training is the same as from an event log.
//!
//! Everything is checked before use: the manifest's format and version, item indices in range and
//! each present once, list lengths, event kinds, finite timestamps, the manifest's counts, and each
//! item's `count` against the events the sessions hold. Errors name the file (and row).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::record::{Field, Row};
use serde::Deserialize;
use vitrine::EventKind;

use crate::events::{EventLog, EventLogBuilder};

/// `format` of the manifest.
pub const FORMAT: &str = "vitrine-training-input";
/// The format version this reader implements.
pub const FORMAT_VERSION: u32 = 1;

/// The manifest fields the reader uses (others are informational).
#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub counts: Counts,
    #[serde(default)]
    pub has_ts: bool,
    #[serde(default)]
    pub category_column: Option<String>,
    #[serde(default)]
    pub context_columns: Vec<String>,
    #[serde(default)]
    pub aggregates: Aggregates,
}

/// `counts` of the manifest.
#[derive(Debug, Deserialize)]
pub struct Counts {
    pub events: u64,
    pub sessions: u64,
    pub items: u64,
    #[serde(default)]
    pub rejected: u64,
}

/// `aggregates` of the manifest.
#[derive(Debug, Default, Deserialize)]
pub struct Aggregates {
    #[serde(default)]
    pub neighbours: Option<NeighbourParams>,
}

/// How the neighbour lists were cut.
#[derive(Debug, Deserialize)]
pub struct NeighbourParams {
    /// Every pair has at least this support (sessions in which both items occur).
    pub min_support: u64,
}

/// The input read: the log, its neighbour lists when present, and the manifest.
pub struct CompactInput {
    pub log: EventLog,
    /// Per item: (neighbour row, weight), strongest first.
    pub neighbours: Option<Vec<Vec<(u32, f32)>>>,
    pub manifest: Manifest,
}

/// Event kinds by code (docs/scale.md).
const KINDS: [EventKind; 5] = [
    EventKind::View,
    EventKind::Click,
    EventKind::AddToCart,
    EventKind::RemoveFromCart,
    EventKind::Purchase,
];

/// Reads the compact input in `dir`. `extra` are the extra columns the trainer asks for: the
/// manifest's `category_column` (per item) or its `context_columns` (per session).
pub fn read(dir: &Path, extra: &[String]) -> Result<CompactInput> {
    let manifest_path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "cannot read {} (is {} the output of vitrine_spark prepare?)",
            manifest_path.display(),
            dir.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a valid manifest", manifest_path.display()))?;
    if manifest.format != FORMAT {
        bail!(
            "{}: format is '{}', expected '{FORMAT}'",
            manifest_path.display(),
            manifest.format
        );
    }
    if manifest.format_version != FORMAT_VERSION {
        bail!(
            "{}: format_version {} is not supported (this vitrine reads version {FORMAT_VERSION})",
            manifest_path.display(),
            manifest.format_version
        );
    }
    let sources = extra
        .iter()
        .map(|c| {
            if manifest.category_column.as_deref() == Some(c.as_str()) {
                Ok(Extra::Category)
            } else if manifest.context_columns.contains(c) {
                Ok(Extra::Context(c.clone()))
            } else {
                Err(anyhow!(
                    "{}: no column '{c}' (category column: {}, context columns: [{}]; prepare with --category-column / --context-columns)",
                    dir.display(),
                    manifest.category_column.as_deref().unwrap_or("none"),
                    manifest.context_columns.join(", ")
                ))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let items = read_items(&dir.join("items"))?;
    if items.ids.len() as u64 != manifest.counts.items {
        bail!(
            "{}: {} items, the manifest says {}",
            dir.join("items").display(),
            items.ids.len(),
            manifest.counts.items
        );
    }
    let log = read_sessions(dir, &manifest, &items, &sources)?;
    let neighbours = match &manifest.aggregates.neighbours {
        Some(p) => Some(read_neighbours(
            &dir.join("neighbours"),
            items.ids.len(),
            p.min_support,
        )?),
        None => None,
    };
    Ok(CompactInput {
        log,
        neighbours,
        manifest,
    })
}

/// Where an extra column's values come from.
enum Extra {
    Category,
    Context(String),
}

/// The item table, by index.
struct Items {
    ids: Vec<String>,
    count: Vec<u64>,
    category: Vec<String>,
}

/// The `.parquet` files of a table directory, in name order (Spark's `_SUCCESS`, `.crc` skipped).
fn table_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".parquet") && !n.starts_with(['.', '_']))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{}: no .parquet files", dir.display());
    }
    Ok(files)
}

/// Calls `each(file, row number, row)` for every row of the table, files in name order.
fn for_each_row(dir: &Path, mut each: impl FnMut(&Path, usize, &Row) -> Result<()>) -> Result<()> {
    for path in table_files(dir)? {
        let file = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let reader = SerializedFileReader::new(file)
            .with_context(|| format!("{}: not a Parquet file", path.display()))?;
        let rows = reader
            .get_row_iter(None)
            .with_context(|| format!("{}: cannot read rows", path.display()))?;
        for (i, row) in rows.enumerate() {
            let row = row.with_context(|| format!("{}: row {}", path.display(), i + 1))?;
            each(&path, i + 1, &row)
                .map_err(|e| anyhow!("{}: row {}: {e}", path.display(), i + 1))?;
        }
    }
    Ok(())
}

/// The column `name` of a row (`Field::Null` when the table has no such column).
fn column<'a>(row: &'a Row, name: &str) -> &'a Field {
    row.get_column_iter()
        .find(|(n, _)| n.as_str() == name)
        .map_or(&Field::Null, |(_, f)| f)
}

/// An integer field of any width.
fn integer(f: &Field) -> Option<i64> {
    Some(match *f {
        Field::Byte(v) => i64::from(v),
        Field::Short(v) => i64::from(v),
        Field::Int(v) => i64::from(v),
        Field::Long(v) => v,
        Field::UByte(v) => i64::from(v),
        Field::UShort(v) => i64::from(v),
        Field::UInt(v) => i64::from(v),
        Field::ULong(v) => i64::try_from(v).ok()?,
        _ => return None,
    })
}

fn float(f: &Field) -> Option<f64> {
    match *f {
        Field::Double(v) => Some(v),
        Field::Float(v) => Some(f64::from(v)),
        _ => integer(f).map(|v| v as f64),
    }
}

fn list<'a>(row: &'a Row, name: &str) -> Result<Option<&'a [Field]>> {
    match column(row, name) {
        Field::Null => Ok(None),
        Field::ListInternal(l) => Ok(Some(l.elements())),
        other => bail!("{name} is not a list ({other:?})"),
    }
}

fn string(f: &Field) -> Option<&str> {
    match f {
        Field::Str(s) => Some(s),
        _ => None,
    }
}

fn read_items(dir: &Path) -> Result<Items> {
    let mut rows: Vec<(u32, String, u64, String)> = Vec::new();
    for_each_row(dir, |_, _, row| {
        let item = integer(column(row, "item"))
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| anyhow!("item must be an index ≥ 0"))?;
        let id = string(column(row, "id")).unwrap_or("");
        if id.is_empty() || id.contains('\n') {
            bail!("id of item {item} is empty, missing or holds a newline");
        }
        let count = integer(column(row, "count"))
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| anyhow!("count of item {item} must be a number ≥ 0"))?;
        let category = string(column(row, "category")).unwrap_or("").trim();
        rows.push((item, id.to_owned(), count, category.to_owned()));
        Ok(())
    })?;
    let n = rows.len();
    let mut slots: Vec<Option<(String, u64, String)>> = vec![None; n];
    for (item, id, count, category) in rows {
        let slot = slots.get_mut(item as usize).ok_or_else(|| {
            anyhow!(
                "{}: item index {item} out of range (there are {n} items)",
                dir.display()
            )
        })?;
        if slot.is_some() {
            bail!("{}: item index {item} appears twice", dir.display());
        }
        *slot = Some((id, count, category));
    }
    let mut items = Items {
        ids: Vec::with_capacity(n),
        count: Vec::with_capacity(n),
        category: Vec::with_capacity(n),
    };
    let mut seen = std::collections::HashSet::with_capacity(n);
    // Every slot is filled: n distinct indices, each < n.
    for (id, count, category) in slots.into_iter().flatten() {
        if !seen.insert(id.clone()) {
            bail!("{}: item id '{id}' appears twice", dir.display());
        }
        items.ids.push(id);
        items.count.push(count);
        items.category.push(category);
    }
    Ok(items)
}

fn read_sessions(
    dir: &Path,
    manifest: &Manifest,
    items: &Items,
    extra: &[Extra],
) -> Result<EventLog> {
    let table = dir.join("sessions");
    let mut log = EventLogBuilder::new(&table.display().to_string());
    let mut counted = vec![0u64; items.ids.len()];
    let mut n_sessions = 0u64;
    for_each_row(&table, |_, row_number, row| {
        n_sessions += 1;
        let session = match column(row, "session_id") {
            Field::Null => format!("#{n_sessions}"),
            f => string(f)
                .map(str::to_owned)
                .or_else(|| integer(f).map(|v| v.to_string()))
                .ok_or_else(|| anyhow!("session_id must be a string"))?,
        };
        let seq = list(row, "items")?.ok_or_else(|| anyhow!("items is missing"))?;
        if seq.is_empty() {
            bail!("session '{session}' has no items");
        }
        let kinds = list(row, "kinds")?;
        let ts = if manifest.has_ts {
            Some(
                list(row, "ts")?
                    .ok_or_else(|| anyhow!("ts is missing (the manifest has has_ts)"))?,
            )
        } else {
            None
        };
        for (name, l) in [("kinds", kinds), ("ts", ts)] {
            if l.is_some_and(|l| l.len() != seq.len()) {
                bail!("{name} and items of session '{session}' differ in length");
            }
        }
        let context: Vec<Option<String>> = extra
            .iter()
            .map(|e| match e {
                Extra::Category => None,
                Extra::Context(c) => Some(match column(row, c) {
                    Field::Null => String::new(),
                    f => string(f)
                        .map(|s| s.trim().to_owned())
                        .or_else(|| integer(f).map(|v| v.to_string()))
                        .or_else(|| float(f).map(|v| v.to_string()))
                        .unwrap_or_default(),
                }),
            })
            .collect();
        for (k, field) in seq.iter().enumerate() {
            let item = integer(field)
                .and_then(|v| usize::try_from(v).ok())
                .filter(|&v| v < items.ids.len())
                .ok_or_else(|| anyhow!("items[{k}] of session '{session}' is not an item index"))?;
            let kind = match kinds {
                None => EventKind::View,
                Some(kinds) => integer(&kinds[k])
                    .and_then(|c| usize::try_from(c).ok())
                    .and_then(|c| KINDS.get(c).copied())
                    .ok_or_else(|| anyhow!("kinds[{k}] of session '{session}' is not 0..4"))?,
            };
            let t = match ts {
                None => None,
                Some(ts) => Some(float(&ts[k]).filter(|t| t.is_finite()).ok_or_else(|| {
                    anyhow!("ts[{k}] of session '{session}' is not a finite number")
                })?),
            };
            if kind != EventKind::RemoveFromCart {
                counted[item] += 1;
            }
            let values = (!extra.is_empty()).then(|| {
                extra
                    .iter()
                    .zip(&context)
                    .map(|(e, c)| match e {
                        Extra::Category => items.category[item].clone(),
                        Extra::Context(_) => c.clone().unwrap_or_default(),
                    })
                    .collect()
            });
            log.push(&session, &items.ids[item], t, kind, values)
                .map_err(|e| anyhow!("row {row_number}: {e}"))?;
        }
        Ok(())
    })?;
    let log = log.finish()?;
    let c = &manifest.counts;
    if (n_sessions, log.n_events as u64) != (c.sessions, c.events) {
        bail!(
            "{}: {n_sessions} sessions and {} events, the manifest says {} and {}",
            table.display(),
            log.n_events,
            c.sessions,
            c.events
        );
    }
    if log.session_ids.len() as u64 != n_sessions {
        bail!(
            "{}: a session_id appears in more than one row",
            table.display()
        );
    }
    if let Some(i) = (0..items.ids.len()).find(|&i| counted[i] != items.count[i]) {
        bail!(
            "{}: item '{}' has count {} but the sessions hold {} of its events (other than remove_from_cart)",
            dir.join("items").display(),
            items.ids[i],
            items.count[i],
            counted[i]
        );
    }
    if log.items.len() != items.ids.len() {
        bail!(
            "{}: {} items never occur in a session",
            dir.join("items").display(),
            items.ids.len() - log.items.len()
        );
    }
    Ok(reindexed(log, &items.ids))
}

/// The builder interns items in the order the sessions first mention them; the item table's order
/// (first seen in the raw log) is the one the trainer must see, so the events are renumbered.
fn reindexed(mut log: EventLog, ids: &[String]) -> EventLog {
    let index: std::collections::HashMap<&str, u32> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i as u32))
        .collect();
    let map: Vec<u32> = log
        .items
        .iter()
        .map(|id| index.get(id.as_str()).copied().unwrap_or(u32::MAX))
        .collect();
    for s in &mut log.sessions {
        for e in s.iter_mut() {
            e.item = map[e.item as usize];
        }
    }
    log.items = ids.to_vec();
    log
}

fn read_neighbours(dir: &Path, n: usize, min_support: u64) -> Result<Vec<Vec<(u32, f32)>>> {
    let mut lists: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n];
    for_each_row(dir, |_, _, row| {
        let index = |name: &str| {
            integer(column(row, name))
                .and_then(|v| usize::try_from(v).ok())
                .filter(|&v| v < n)
                .ok_or_else(|| anyhow!("{name} is not an item index"))
        };
        let (a, b) = (index("item")?, index("neighbour")?);
        if a == b {
            bail!("item {a} is its own neighbour");
        }
        let support = integer(column(row, "support")).unwrap_or(-1);
        if support < 0 || (support as u64) < min_support {
            bail!("support {support} of pair ({a}, {b}) is below the manifest's min_support {min_support}");
        }
        let weight = float(column(row, "weight"))
            .filter(|w| w.is_finite() && *w >= 0.0)
            .ok_or_else(|| anyhow!("weight of pair ({a}, {b}) is not a finite number ≥ 0"))?;
        lists[a].push((b as u32, weight as f32));
        Ok(())
    })?;
    for l in &mut lists {
        l.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        l.dedup_by_key(|x| x.0);
    }
    Ok(lists)
}
