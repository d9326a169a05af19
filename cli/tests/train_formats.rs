//! `vitrine train` on the same events as CSV, JSON Lines and GA4's export gives the same bundle;
//! the source arguments are checked by clap; a directory that is not a compact input is refused.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vitrine(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(args)
        .output()
        .expect("run vitrine")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "vitrine-train-formats-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// (session, item, ts in seconds, our event type) for a small log with repeated walks.
fn events() -> Vec<(usize, usize, u64, &'static str)> {
    let mut out = Vec::new();
    for session in 0..120 {
        let start = (session * 7) % 20;
        for t in 0..(3 + session % 4) {
            let kind = match (session + t) % 9 {
                0 => "add_to_cart",
                1 => "click",
                2 if t > 0 => "remove_from_cart",
                3 => "purchase",
                _ => "view",
            };
            out.push((
                session,
                (start + t) % 20,
                (1000 * session + 10 * t) as u64,
                kind,
            ));
        }
    }
    out
}

fn ga4_name(kind: &str) -> &str {
    match kind {
        "view" => "view_item",
        "click" => "select_item",
        other => other,
    }
}

#[test]
fn csv_jsonl_and_ga4_logs_of_the_same_events_train_the_same_bundle() {
    let dir = scratch("same");
    let mut csv = String::from("session_id,item_id,ts,event_type\n");
    let mut jsonl = String::new();
    let mut ga4 = String::new();
    for (i, (session, item, ts, kind)) in events().into_iter().enumerate() {
        writeln!(csv, "s{session},p{item},{ts},{kind}").unwrap();
        writeln!(
            jsonl,
            r#"{{"session_id":"s{session}","item_id":"p{item}","ts":{ts},"event_type":"{kind}"}}"#
        )
        .unwrap();
        if i % 5 == 0 {
            // Events GA4 logs that are not about items are skipped.
            writeln!(ga4, r#"{{"event_name":"page_view","event_timestamp":"{}","user_pseudo_id":"u{session}","event_params":[{{"key":"ga_session_id","value":{{"int_value":"1"}}}}]}}"#, ts * 1_000_000).unwrap();
        }
        writeln!(ga4, r#"{{"event_name":"{}","event_timestamp":"{}","user_pseudo_id":"u{session}","event_params":[{{"key":"ga_session_id","value":{{"int_value":"1"}}}}],"items":[{{"item_id":"p{item}"}}]}}"#, ga4_name(kind), ts * 1_000_000).unwrap();
    }
    std::fs::write(dir.join("log.csv"), csv).unwrap();
    std::fs::write(dir.join("log.jsonl"), jsonl).unwrap();
    std::fs::write(dir.join("ga4.json"), ga4).unwrap();
    let flags = ["--epochs", "2", "--dim", "8", "--negatives", "16"];
    let mut bundles = Vec::new();
    for (log, extra) in [
        ("log.csv", None),
        ("log.jsonl", None),
        ("ga4.json", Some("ga4")),
    ] {
        let out = dir.join(format!("{log}.vtr"));
        let path = dir.join(log);
        let mut args = vec!["train", "--events", s(&path), "--out", s(&out)];
        if let Some(f) = extra {
            args.extend(["--format", f]);
        }
        args.extend(flags);
        let o = vitrine(&args);
        assert!(
            o.status.success(),
            "{log}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if log == "ga4.json" {
            let skipped = format!("skipped {} GA4 events", events().len().div_ceil(5));
            assert!(
                String::from_utf8_lossy(&o.stderr).contains(&skipped),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        bundles.push(std::fs::read(out).unwrap());
    }
    assert!(bundles[0] == bundles[1], "JSON Lines = CSV");
    assert!(bundles[0] == bundles[2], "GA4 export = CSV");
}

#[test]
fn the_source_arguments_are_checked() {
    let dir = scratch("args");
    let log = dir.join("log.csv");
    std::fs::write(&log, "session_id,item_id\n1,a\n1,b\n").unwrap();
    let out = dir.join("out.vtr");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--events", s(&log), "--input", s(&dir)],
            "cannot be used with",
        ),
        (
            &["--input", s(&dir), "--format", "jsonl"],
            "cannot be used with",
        ),
        (
            &["--events", s(&log), "--with-neighbours"],
            "cannot be used with",
        ),
        (&[], "--events"),
    ];
    for (args, needle) in cases {
        let mut all = vec!["train", "--out", s(&out)];
        all.extend_from_slice(args);
        let o = vitrine(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // A directory that is not a compact input: the manifest is named.
    let o = vitrine(&["train", "--input", s(&dir), "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(3), "bad input");
    assert!(String::from_utf8_lossy(&o.stderr).contains("manifest.json"));
    for (manifest, needle) in [
        ("{", "not a valid manifest"),
        (
            r#"{"format":"other","format_version":1,"counts":{"events":1,"sessions":1,"items":1}}"#,
            "expected 'vitrine-training-input'",
        ),
        (
            r#"{"format":"vitrine-training-input","format_version":7,"counts":{"events":1,"sessions":1,"items":1}}"#,
            "format_version 7 is not supported",
        ),
        (
            r#"{"format":"vitrine-training-input","format_version":1,"counts":{"events":1,"sessions":1,"items":1}}"#,
            "cannot list",
        ),
    ] {
        std::fs::write(dir.join("manifest.json"), manifest).unwrap();
        let o = vitrine(&["train", "--input", s(&dir), "--out", s(&out)]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "bad input: {err}");
        assert!(err.contains(needle), "{manifest}: {err}");
        assert!(!out.exists());
    }
    std::fs::write(
        dir.join("manifest.json"),
        r#"{"format":"vitrine-training-input","format_version":1,"counts":{"events":1,"sessions":1,"items":1}}"#,
    )
    .unwrap();
    let o = vitrine(&[
        "train",
        "--input",
        s(&dir),
        "--out",
        s(&out),
        "--category-column",
        "dept",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no column 'dept'"));
}
