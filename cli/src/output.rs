//! What goes to stdout: `--json` documents and text reports. Stdout carries results only; progress
//! and messages for people go to stderr. With `--json`, stdout holds exactly one JSON document —
//! the result, or `{"error": …}` when the command failed before printing one — except `exp
//! collect`, which prints one JSON object per line as events happen.
//!
//! Writes never panic: a closed pipe (`vitrine … | head -1`) or a full disk is an I/O error (exit 5).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use crate::exit::{self, ExitKind, ResultExt};

/// Set once anything was written to stdout (so a failure does not add a second document).
static STDOUT_WRITTEN: AtomicBool = AtomicBool::new(false);

/// Whether this process has written to stdout.
pub fn stdout_written() -> bool {
    STDOUT_WRITTEN.load(Ordering::Relaxed)
}

/// Writes `bytes` to stdout and flushes; a failure is an I/O error.
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    STDOUT_WRITTEN.store(true, Ordering::Relaxed);
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .kind(ExitKind::Io)
        .map_err(|e| e.context("cannot write to stdout"))
}

/// Prints `value` as pretty JSON (one document) on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_stdout(text.as_bytes())
}

/// Prints `value` as one line of JSON on stdout (for streams of events).
pub fn print_json_line<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string(value)?;
    text.push('\n');
    write_stdout(text.as_bytes())
}

/// Prints a text report on stdout.
pub fn print_text(text: &str) -> Result<()> {
    write_stdout(text.as_bytes())
}

/// The `--json` document of a failure.
pub fn error_document(kind: ExitKind, e: &anyhow::Error) -> serde_json::Value {
    let mut error = json!({
        "kind": kind.name(),
        "exit_code": kind.code(),
        "message": format!("{e:#}"),
    });
    if let Some(code) = exit::typed_code(e) {
        error["code"] = json!(code);
    }
    json!({ "error": error })
}

/// Appends one formatted line to a `String` report: `output::outln!(text, "{x} items")`.
macro_rules! outln {
    ($out:expr) => {
        $out.push('\n')
    };
    ($out:expr, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}

/// The help of `--json`, the same on every subcommand.
pub const JSON_HELP: &str = "Print the result as one JSON document on stdout (progress and messages stay on stderr; a failure prints {\"error\": {\"kind\", \"exit_code\", \"message\"}}); shapes in docs/cli.md";
pub(crate) use outln;
