//! `-` reads stdin and writes stdout (the same bundle bytes and figures as with files), and
//! progress goes to stderr only: plain lines without a terminal, a bar on a pseudo-terminal.

mod common;

use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

#[test]
fn dash_reads_stdin_and_writes_stdout() {
    let f = fixture("stdio");
    // train: the log from stdin, the bundle to stdout — the same bytes as from and to files.
    let mut args = vec!["train", "--events", "-", "--out", "-"];
    args.extend(TRAIN_FLAGS);
    let o = vitrine_stdin(&args, &std::fs::read(&f.train).unwrap());
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(
        o.stdout,
        std::fs::read(&f.bundle).unwrap(),
        "the same bundle"
    );
    assert!(
        text(&o.stderr).contains("→ stdout"),
        "the report moves to stderr"
    );

    // eval: the test log from stdin gives the same figures.
    let from_file = json(&vitrine(&[
        "eval",
        "--bundle",
        s(&f.bundle),
        "--test",
        s(&f.test),
        "--json",
    ]));
    let test_bytes = std::fs::read(&f.test).unwrap();
    let o = vitrine_stdin(
        &["eval", "--bundle", s(&f.bundle), "--test", "-", "--json"],
        &test_bytes,
    );
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let from_stdin = json(&o);
    for key in ["predictions", "hit_rate", "mrr", "ndcg10", "coverage"] {
        assert_eq!(from_file[key], from_stdin[key], "{key}");
    }
    // The bundle from stdin instead.
    let o = vitrine_stdin(
        &["eval", "--bundle", "-", "--test", s(&f.test), "--json"],
        &std::fs::read(&f.bundle).unwrap(),
    );
    assert_eq!(json(&o)["mrr"], from_file["mrr"]);

    // inspect --bundle -: the same report, named stdin.
    let o = vitrine_stdin(
        &["inspect", "--bundle", "-", "--json"],
        &std::fs::read(&f.bundle).unwrap(),
    );
    let r = json(&o);
    assert_eq!(
        (r["path"].as_str(), r["digest"]["status"].as_str()),
        (Some("stdin"), Some("valid"))
    );

    // pack: embeddings from stdin (found to be .npy by their magic), the bundle to stdout.
    let (emb, ids) = pack_inputs(&f.dir);
    let o = vitrine_stdin(
        &["pack", "--embeddings", "-", "--ids", s(&ids), "--out", "-"],
        &std::fs::read(&emb).unwrap(),
    );
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let b = vitrine::Bundle::from_bytes(o.stdout.clone()).expect("a valid bundle on stdout");
    assert_eq!((b.n_items(), b.dim()), (5, 3));
    assert!(text(&o.stderr).contains("packed 5 items"));

    // exp analyze: the manifest from stdin.
    let orders = f.dir.join("orders.csv");
    std::fs::write(&orders, orders_csv()).unwrap();
    let o = vitrine_stdin(
        &[
            "exp",
            "analyze",
            "--manifest",
            "-",
            "--orders",
            s(&orders),
            "--json",
        ],
        MANIFEST.as_bytes(),
    );
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(json(&o)["experiments"][0]["experiment"], "home");
}

#[test]
fn progress_goes_to_stderr_only() {
    let f = fixture("progress");
    // Without a terminal: plain lines on stderr; stdout is exactly the JSON document.
    let o = vitrine(&[
        "eval",
        "--bundle",
        s(&f.bundle),
        "--test",
        s(&f.test),
        "--json",
    ]);
    assert_eq!(code(&o), 0);
    let err = text(&o.stderr);
    assert!(err.contains("eval: 40/40 sessions (100 %)"), "{err}");
    assert!(!text(&o.stdout).contains("sessions ("));
    json(&o);
    let out = f.dir.join("p.vtr");
    let mut args = vec!["train", "--events", s(&f.train), "--out", s(&out), "--json"];
    args.extend(TRAIN_FLAGS);
    let o = vitrine(&args);
    assert!(
        text(&o.stderr).contains("epoch  1: loss"),
        "{}",
        text(&o.stderr)
    );
    assert!(!text(&o.stdout).contains("epoch  1: loss"));
    json(&o);
    let o = pack(&f.dir, &out, &[]);
    assert!(
        text(&o.stderr).contains("pack: 6/6 steps"),
        "{}",
        text(&o.stderr)
    );
    assert!(!text(&o.stdout).contains("steps"));

    // On a terminal: a bar, drawn on stderr (the pseudo-terminal `script` gives), while stdout
    // (redirected to a file) holds only the JSON document. util-linux's `script` is part of every
    // Debian system (bsdutils).
    let json_out = f.dir.join("eval.json");
    let shell = format!(
        "'{BIN}' eval --bundle '{}' --test '{}' --json > '{}'",
        s(&f.bundle),
        s(&f.test),
        s(&json_out)
    );
    let o = Command::new("script")
        .args(["-qec", &shell, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("run script(1) from util-linux");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let terminal = text(&o.stdout);
    assert!(
        terminal.contains("eval [") && terminal.contains("sessions"),
        "no bar on the terminal: {terminal:?}"
    );
    assert!(
        terminal.contains('\r') || terminal.contains('\u{1b}'),
        "a bar redraws: {terminal:?}"
    );
    let doc = std::fs::read(&json_out).unwrap();
    assert!(
        !doc.contains(&0x1b) && !doc.contains(&b'\r'),
        "no terminal codes on stdout"
    );
    let m: Value = serde_json::from_slice(&doc).expect("stdout is the JSON document");
    assert_eq!(
        m["predictions"],
        json(&vitrine(&[
            "eval",
            "--bundle",
            s(&f.bundle),
            "--test",
            s(&f.test),
            "--json"
        ]))["predictions"]
    );
}
