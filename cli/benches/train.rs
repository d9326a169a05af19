//! `vitrine train` throughput: the release binary trains on a seeded synthetic event log (sessions
//! drawn from item clusters, so there is something to learn; not real data). The whole command is
//! timed: reading the CSV, training for a fixed number of epochs (no early stop, no refit), the
//! popularity-weight tuning and writing the bundle. Throughput is in events of the log per second.
//!
//! `cargo bench -p vitrine-cli --bench train` (add `-- --quick` for a short run).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Writes a log of `sessions` sessions over `items` items (3–12 events each, ~90 % within one of
/// 50 clusters, views with some clicks and carts); returns its path and its number of events.
fn synthetic_log(dir: &Path, sessions: usize, items: usize) -> (PathBuf, usize) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |m: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % m as u64) as usize
    };
    let clusters = 50;
    let per = items / clusters;
    let mut csv = String::from("session_id,item_id,ts,event_type\n");
    let mut events = 0;
    for s in 0..sessions {
        let cluster = next(clusters);
        let len = 3 + next(10);
        for e in 0..len {
            let item = if next(10) < 9 {
                cluster * per + next(per)
            } else {
                next(items)
            };
            let kind = ["view", "view", "view", "click", "add_to_cart"][next(5)];
            let ts = 1_700_000_000 + s * 600 + e * 30;
            let _ = writeln!(csv, "s{s:06},p{item:05},{ts},{kind}");
            events += 1;
        }
    }
    let path = dir.join(format!("train-bench-{sessions}x{items}.csv"));
    std::fs::write(&path, csv).expect("write the synthetic log");
    (path, events)
}

fn train(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bin = env!("CARGO_BIN_EXE_vitrine");
    let (sessions, items, dim, epochs) = (5_000, 2_000, 64, 2);
    let (log, events) = synthetic_log(&dir, sessions, items);
    let out = dir.join("train-bench.vtr");
    let mut g = c.benchmark_group(format!(
        "train/events{events}_items{items}_dim{dim}_epochs{epochs}"
    ));
    g.throughput(Throughput::Elements(events as u64));
    g.sample_size(10);
    g.bench_function("vitrine_train", |b| {
        b.iter(|| {
            let status = Command::new(bin)
                .args(["train", "--events"])
                .arg(&log)
                .arg("--out")
                .arg(&out)
                .args(["--dim", &dim.to_string(), "--epochs", &epochs.to_string()])
                .args(["--patience", "100", "--no-refit", "--seed", "1"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .expect("run vitrine train");
            assert!(status.success(), "vitrine train failed");
        })
    });
    g.finish();
}

criterion_group!(benches, train);
criterion_main!(benches);
