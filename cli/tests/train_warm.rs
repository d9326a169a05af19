//! `vitrine train --warm-start B`: the result holds B's items and the new log's, keeps B's scoring
//! weights unless `--warm-retune`, adds popularity up, and refuses a bundle of another dimension.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{s, scratch, vitrine};
use serde_json::Value;

/// A log of walks over items `first..first + span` (ids `p<n>`), `sessions` sessions.
fn walks(path: &Path, first: usize, span: usize, sessions: usize) {
    let mut csv = String::from("session_id,item_id,ts\n");
    for session in 0..sessions {
        let start = (session * 7) % span;
        for t in 0..(3 + session % 4) {
            let item = first + (start + t) % span;
            writeln!(csv, "s{first}-{session},p{item},{}", 1000 * session + t).unwrap();
        }
    }
    std::fs::write(path, csv).unwrap();
}

fn train(args: &[&str]) -> Value {
    let mut all = vec!["train", "--dim", "8", "--epochs", "3", "--json"];
    all.extend_from_slice(args);
    let o = vitrine(&all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("train --json")
}

fn inspect(bundle: &Path) -> Value {
    let o = vitrine(&["inspect", "--bundle", s(bundle), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("inspect --json")
}

fn scoring(v: &Value) -> Vec<(String, String)> {
    let meta = v["metadata"].as_object().expect("metadata");
    meta.iter()
        .filter(|(k, _)| k.starts_with("score."))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

fn notes(summary: &Value) -> String {
    summary["training"]["notes"].to_string()
}

#[test]
fn a_warm_start_keeps_the_bundles_items_and_weights_and_adds_the_new_ones() {
    let dir = scratch("keeps");
    let (old_log, new_log) = (dir.join("old.csv"), dir.join("new.csv"));
    walks(&old_log, 0, 20, 150); // p0..p19
    walks(&new_log, 10, 15, 60); // p10..p24: p20..p24 are new, p0..p9 not mentioned
    let base = dir.join("base.vtr");
    train(&["--events", s(&old_log), "--out", s(&base)]);
    let warm = dir.join("warm.vtr");
    let summary = train(&[
        "--events",
        s(&new_log),
        "--warm-start",
        s(&base),
        "--out",
        s(&warm),
    ]);
    assert_eq!(summary["items"], 25, "{summary}");
    let text = notes(&summary);
    assert!(
        text.contains("10 of the log's 15 items came from the bundle, 5 new")
            && text.contains("10 bundle items not in the log trained as negatives")
            && text.contains("scoring weights kept from the bundle"),
        "{text}"
    );
    let (b, w) = (inspect(&base), inspect(&warm));
    assert_eq!(w["items"], 25, "{w}");
    assert_eq!(scoring(&w), scoring(&b), "B's weights are kept");

    // Retuned on the new log: the note says so (the weights may or may not differ).
    let retuned = dir.join("retuned.vtr");
    let summary = train(&[
        "--events",
        s(&new_log),
        "--warm-start",
        s(&base),
        "--warm-retune",
        "--out",
        s(&retuned),
    ]);
    assert!(
        notes(&summary).contains("scoring weights chosen on this log"),
        "{summary}"
    );

    // The old items are recommended from the new bundle: a session of p0 gets an answer.
    let o = vitrine(&[
        "recommend",
        "--bundle",
        s(&warm),
        "--items",
        "p0,p1",
        "--k",
        "5",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_warm_start_refuses_a_bundle_of_another_dimension_and_retune_needs_a_warm_start() {
    let dir = scratch("refuses");
    let log = dir.join("log.csv");
    walks(&log, 0, 12, 60);
    let base = dir.join("base.vtr");
    train(&["--events", s(&log), "--out", s(&base)]);
    let out = dir.join("out.vtr");
    let o = vitrine(&[
        "train",
        "--events",
        s(&log),
        "--warm-start",
        s(&base),
        "--dim",
        "16",
        "--out",
        s(&out),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("8 dimensions, --dim is 16"),
        "{err}"
    );
    assert!(!out.exists(), "no bundle is written");
    // Without --dim a warm start takes the bundle's own dimension.
    let o = vitrine(&[
        "train",
        "--events",
        s(&log),
        "--warm-start",
        s(&base),
        "--epochs",
        "1",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(inspect(&out)["dim"], 8);
    let o = vitrine(&[
        "train",
        "--events",
        s(&log),
        "--warm-retune",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2), "clap refuses --warm-retune alone");
}
