//! The collector's SQLite file: one row per report (`reports`, unique by the report's random id,
//! so a retried report is stored once) and one row per report value (`report_values`), written in
//! WAL mode in batched transactions. Rows are appended in arrival order (rowid tables): only the
//! small unique index on the random id takes random inserts, which keeps the insert rate flat as
//! the file grows. The analysis reads the mergeable sums back with `GROUP BY`
//! (the same SQL works on a warehouse copy of the table: `docs/EXPERIMENTS.md`).

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};
use vitrine::experiment::Report;

use super::sums::{ArmSums, BitSums, ReportSums};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS reports (
  id          TEXT NOT NULL UNIQUE,  -- the report's random id (idempotent retries)
  experiment  TEXT NOT NULL,
  arm         TEXT NOT NULL,
  epsilon     REAL NOT NULL,
  received_ms INTEGER NOT NULL,
  body        TEXT NOT NULL          -- the report as received (checked against the manifest)
);
CREATE TABLE IF NOT EXISTS report_values (
  report_id   TEXT NOT NULL,
  experiment  TEXT NOT NULL,
  arm         TEXT NOT NULL,
  metric      TEXT NOT NULL,
  value       INTEGER NOT NULL CHECK (value IN (0, 1))  -- one randomized bit
);
CREATE INDEX IF NOT EXISTS report_values_by_experiment ON report_values (experiment, arm, metric);
";

/// Opens (creating if needed) a report database for writing: WAL, `synchronous = NORMAL`.
pub fn open_for_writing(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // 64 MiB of page cache: the id index of ten million reports.
    conn.pragma_update(None, "cache_size", -65_536)?;
    // No checkpoint inside a commit: `checkpoint_passive` runs them from another connection.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(SCHEMA)
        .with_context(|| format!("cannot create the report tables in {}", path.display()))?;
    Ok(conn)
}

/// Copies the WAL into the database without blocking the writer (a passive checkpoint), from its
/// own connection; the collector calls it every second.
pub fn checkpoint_passive(conn: &Connection) -> Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    Ok(())
}

/// Whether a report was new or a retry of a stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    Duplicate,
}

/// Inserts checked reports in one transaction; one outcome per report, in order.
pub fn insert_batch(
    conn: &mut Connection,
    reports: &[(Report, String)],
    now_ms: i64,
) -> Result<Vec<Stored>> {
    let tx = conn.transaction()?;
    let mut out = Vec::with_capacity(reports.len());
    {
        let mut ins = tx.prepare_cached(
            "INSERT OR IGNORE INTO reports (id, experiment, arm, epsilon, received_ms, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut val = tx.prepare_cached(
            "INSERT INTO report_values (report_id, experiment, arm, metric, value) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (r, body) in reports {
            let n = ins.execute(params![r.id, r.experiment, r.arm, r.epsilon, now_ms, body])?;
            if n == 0 {
                out.push(Stored::Duplicate);
                continue;
            }
            for (metric, v) in &r.values {
                val.execute(params![r.id, r.experiment, r.arm, metric, i64::from(*v)])?;
            }
            out.push(Stored::New);
        }
    }
    tx.commit()?;
    Ok(out)
}

/// Opens a report database read-only.
pub fn open_for_reading(path: &Path) -> Result<Connection> {
    if !path.exists() {
        anyhow::bail!("no report database at {}", path.display());
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // A reader of a WAL database can meet a transient lock while the collector writes (e.g.
    // `vitrine exp load` counting reports during a run): wait for it as the writer does.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Number of stored reports (all experiments).
pub fn count_reports(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM reports", [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// The mergeable sums of one experiment, by SQL.
pub fn read_sums(conn: &Connection, experiment: &str) -> Result<ReportSums> {
    let mut sums = ReportSums::default();
    let has_table: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'reports'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if has_table.is_none() {
        anyhow::bail!("not a report database (no 'reports' table)");
    }
    let mut q =
        conn.prepare("SELECT arm, COUNT(*) FROM reports WHERE experiment = ?1 GROUP BY arm")?;
    for row in q.query_map([experiment], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })? {
        let (arm, n) = row?;
        sums.arms
            .entry(arm)
            .or_insert_with(ArmSums::default)
            .reports = n.max(0) as u64;
    }
    let mut q = conn.prepare(
        "SELECT arm, metric, COUNT(*), SUM(value) FROM report_values WHERE experiment = ?1 GROUP BY arm, metric",
    )?;
    for row in q.query_map([experiment], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })? {
        let (arm, metric, n, ones) = row?;
        sums.arms.entry(arm).or_default().metrics.insert(
            metric,
            BitSums {
                n: n.max(0) as u64,
                ones: ones.max(0) as u64,
            },
        );
    }
    let mut q = conn.prepare(
        "SELECT a.arm, a.metric, b.metric, SUM(a.value * b.value)
           FROM report_values a JOIN report_values b ON a.report_id = b.report_id AND a.metric < b.metric
          WHERE a.experiment = ?1 GROUP BY a.arm, a.metric, b.metric",
    )?;
    for row in q.query_map([experiment], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })? {
        let (arm, a, b, both) = row?;
        sums.arms
            .entry(arm)
            .or_default()
            .pairs
            .insert((a, b), both.max(0) as u64);
    }
    Ok(sums)
}
