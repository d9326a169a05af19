//! Where `vitrine train` reads its events: an event log (`--events`: CSV, JSON Lines or GA4's
//! export) or the compact input prepared by `vitrine_spark` (`--input DIR`).

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::ValueEnum;

use crate::events::EventLog;
use crate::events_jsonl::{self, JsonLayout};
use crate::exit::{ExitKind, ResultExt};

/// The format of `--events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventsFormat {
    /// CSV with a header: session_id,item_id[,ts][,event_type][,extra columns].
    Csv,
    /// JSON Lines: one object per line with the same keys as the CSV columns.
    Jsonl,
    /// GA4's BigQuery export as JSON Lines (event_name, event_timestamp in µs, user_pseudo_id,
    /// event_params with ga_session_id, items[]).
    Ga4,
}

impl EventsFormat {
    /// The format a file name implies: `.jsonl`, `.ndjson`, `.json` → JSON Lines, else CSV.
    pub fn from_path(path: &Path) -> Self {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl" | "ndjson" | "json") => Self::Jsonl,
            _ => Self::Csv,
        }
    }
}

/// The `vitrine train` arguments that say where the events come from.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["events", "input"])))]
pub struct TrainInputArgs {
    /// Event log: CSV (header: session_id,item_id[,ts][,event_type]), JSON Lines with the same
    /// keys, or GA4's BigQuery export (--format ga4). Event types: ours or GA4's names. `-` reads
    /// stdin (CSV unless --format says otherwise).
    #[arg(long)]
    events: Option<PathBuf>,
    /// Format of --events (default: by extension; .jsonl/.ndjson/.json are JSON Lines, else CSV).
    #[arg(long, value_enum, conflicts_with = "input")]
    format: Option<EventsFormat>,
    /// The compact training input written by `python -m vitrine_spark prepare` (a directory;
    /// docs/scale.md). Exclusive with --events.
    #[arg(long, conflicts_with = "events")]
    input: Option<PathBuf>,
    /// With --input: put its co-occurrence neighbour lists into the bundle (`nbr_*`, used by
    /// `similar()`).
    #[arg(long, conflicts_with = "events")]
    with_neighbours: bool,
}

/// Events read for training, and neighbour lists for the bundle when asked for.
pub struct TrainingEvents {
    pub log: EventLog,
    pub neighbours: Option<Vec<Vec<(u32, f32)>>>,
}

impl TrainInputArgs {
    /// `--events`, if given.
    pub fn events(&self) -> Option<&Path> {
        self.events.as_deref()
    }

    /// Reads the events, keeping the values of the `extra` columns.
    pub fn load(&self, extra: &[String]) -> Result<TrainingEvents> {
        if let Some(dir) = &self.input {
            let input = crate::compact_input::read(dir, extra).kind(ExitKind::Input)?;
            let m = &input.manifest;
            eprintln!(
                "{}: {} events in {} sessions, {} items ({} rows rejected when it was prepared)",
                dir.display(),
                m.counts.events,
                m.counts.sessions,
                m.counts.items,
                m.counts.rejected
            );
            let neighbours = match (self.with_neighbours, input.neighbours) {
                (false, _) => None,
                (true, Some(n)) => Some(n),
                (true, None) => crate::exit::fail!(
                    Input,
                    "{}: --with-neighbours, but the input has no neighbour lists (prepared with --neighbours 0)",
                    dir.display()
                ),
            };
            return Ok(TrainingEvents {
                log: input.log,
                neighbours,
            });
        }
        let Some(path) = &self.events else {
            crate::exit::fail!(Usage, "give --events or --input");
        };
        let log = match self.format.unwrap_or_else(|| EventsFormat::from_path(path)) {
            EventsFormat::Csv => EventLog::read_with(path, extra)?,
            EventsFormat::Jsonl => events_jsonl::read(path, JsonLayout::Flat, extra)?,
            EventsFormat::Ga4 => events_jsonl::read(path, JsonLayout::Ga4, extra)?,
        };
        Ok(TrainingEvents {
            log,
            neighbours: None,
        })
    }
}
