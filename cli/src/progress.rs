//! Progress of long commands (`train`, `eval`, `pack`), on stderr only: an indicatif bar when
//! stderr is a terminal, otherwise plain lines — at most one every [`LINE_INTERVAL`] while it runs
//! and one when it finishes — so a CI log or `2> file` stays short and readable. Nothing here
//! touches stdout.
//!
//! A [`Progress`] is `Sync`: `eval` counts sessions from rayon's threads.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Least time between two plain progress lines.
pub const LINE_INTERVAL: Duration = Duration::from_secs(10);

/// A counter of work done out of a known total, shown on stderr.
pub struct Progress {
    /// `Some`: a bar on the terminal; `None`: plain lines.
    bar: Option<ProgressBar>,
    unit: &'static str,
    label: Mutex<String>,
    pos: AtomicU64,
    len: AtomicU64,
    started: Instant,
    /// When the current phase started (a `reset` starts a new one), ms since `started`.
    phase_ms: AtomicU64,
    /// When the last plain line was printed, ms since `started`.
    last_line_ms: AtomicU64,
    finished: AtomicBool,
}

impl Progress {
    /// Progress of `len` `unit`s (e.g. 5000 "sessions") labelled `label`: a bar when stderr is a
    /// terminal, plain lines otherwise.
    pub fn new(label: impl Into<String>, len: u64, unit: &'static str) -> Self {
        let label = label.into();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            let template = format!(
                "{{prefix}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} {{msg}} ({{elapsed}}, eta {{eta}})"
            );
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(label.clone());
            bar
        });
        Self {
            bar,
            unit,
            label: Mutex::new(label),
            pos: AtomicU64::new(0),
            len: AtomicU64::new(len),
            started: Instant::now(),
            phase_ms: AtomicU64::new(0),
            last_line_ms: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn label(&self) -> String {
        self.label.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The plain line for the current state.
    fn line(&self, pos: u64) -> String {
        let len = self.len.load(Ordering::Relaxed);
        let seconds =
            (self.now_ms() - self.phase_ms.load(Ordering::Relaxed).min(self.now_ms())) as f64 / 1e3;
        let pct = if len == 0 {
            100.0
        } else {
            100.0 * pos as f64 / len as f64
        };
        format!(
            "{}: {pos}/{len} {} ({pct:.0} %), {seconds:.1}s",
            self.label(),
            self.unit
        )
    }

    /// Counts `n` more units done.
    pub fn inc(&self, n: u64) {
        let pos = self.pos.fetch_add(n, Ordering::Relaxed) + n;
        match &self.bar {
            Some(bar) => bar.inc(n),
            None => {
                let now = self.now_ms();
                let last = self.last_line_ms.load(Ordering::Relaxed);
                let due = now.saturating_sub(last) >= LINE_INTERVAL.as_millis() as u64;
                // One thread wins the right to print this line.
                if due
                    && self
                        .last_line_ms
                        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    eprintln!("{}", self.line(pos));
                }
            }
        }
    }

    /// Starts a new phase: another label and total, counting from 0 (e.g. the next epoch).
    pub fn reset(&self, label: impl Into<String>, len: u64) {
        let label = label.into();
        self.pos.store(0, Ordering::Relaxed);
        self.len.store(len, Ordering::Relaxed);
        let now = self.now_ms();
        self.phase_ms.store(now, Ordering::Relaxed);
        self.last_line_ms.store(now, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_length(len);
            bar.set_prefix(label.clone());
        }
        if let Ok(mut l) = self.label.lock() {
            *l = label;
        }
    }

    /// A short note after the counts (what is being done now).
    pub fn set_message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.into());
        }
    }

    /// Prints a line for people on stderr, above the bar when there is one.
    pub fn println(&self, line: impl AsRef<str>) {
        match &self.bar {
            Some(bar) => bar.println(line.as_ref()),
            None => eprintln!("{}", line.as_ref()),
        }
    }

    /// Ends the progress: the bar stays in its final state; without a bar, one last line.
    pub fn finish(&self) {
        if self.finished.swap(true, Ordering::Relaxed) {
            return;
        }
        match &self.bar {
            Some(bar) => bar.finish(),
            None => eprintln!("{}", self.line(self.pos.load(Ordering::Relaxed))),
        }
    }

    /// Ends the progress without a last line (the caller prints its own summary).
    pub fn clear(&self) {
        if self.finished.swap(true, Ordering::Relaxed) {
            return;
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    /// A progress dropped early (an error) removes its bar so the error message stands alone.
    fn drop(&mut self) {
        self.clear();
    }
}
