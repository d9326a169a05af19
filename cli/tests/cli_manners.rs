//! The command line's manners, through the built binary: every subcommand's `--help` documents
//! `--json` and the exit codes; `--json` prints one parseable document (also on failure); exit
//! codes for usage (2), bad input (3), integrity (4), I/O (5) and failed checks (6). `-` and
//! progress: `cli_stdio.rs`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

/// The subcommand names of a `--help` text's "Commands:" section (without `help`).
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_subcommand_help_documents_json_and_the_exit_codes() {
    // Walk the command tree as the binary reports it, so a subcommand added later is checked too.
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut leaves = Vec::new();
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let o = vitrine(&args);
        assert_eq!(code(&o), 0, "{args:?}");
        let help = text(&o.stdout);
        assert!(
            help.contains("Exit codes:") && help.contains("  4  integrity"),
            "{args:?} --help lacks the exit codes:\n{help}"
        );
        let subs = commands(&help);
        if subs.is_empty() {
            assert!(
                help.contains("--json"),
                "{args:?} --help lacks --json:\n{help}"
            );
            leaves.push(path.join(" "));
        }
        for c in subs {
            let mut p = path.clone();
            p.push(c);
            todo.push(p);
        }
    }
    leaves.sort();
    for known in [
        "eval",
        "exp analyze",
        "exp collect",
        "exp load",
        "exp simulate",
        "inspect",
        "pack",
        "recommend",
        "train",
    ] {
        assert!(
            leaves.iter().any(|l| l == known),
            "{known} not in {leaves:?}"
        );
    }
}

#[test]
fn json_output_of_every_subcommand_parses() {
    let f = fixture("json");
    let out = f.dir.join("again.vtr");
    let mut args = vec!["train", "--events", s(&f.train), "--out", s(&out), "--json"];
    args.extend(TRAIN_FLAGS);
    let o = vitrine(&args);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let t = json(&o);
    assert_eq!(t["items"], 30);
    assert_eq!(
        t["bytes"].as_u64(),
        Some(std::fs::metadata(&out).unwrap().len())
    );
    assert_eq!(t["training"]["epochs"].as_array().map(Vec::len), Some(2));
    assert!(
        t["training"]["best_validation_mrr20"].as_f64().is_some(),
        "{t}"
    );

    let o = vitrine(&[
        "eval",
        "--bundle",
        s(&f.bundle),
        "--test",
        s(&f.test),
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let e = json(&o);
    assert!(e["predictions"].as_u64().unwrap() > 0 && e["hit_rate"].as_f64().unwrap() > 0.3);

    let o = vitrine(&[
        "recommend",
        "--bundle",
        s(&f.bundle),
        "--items",
        "item3,item4",
        "--k",
        "5",
        "--epsilon",
        "inf",
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let r = json(&o);
    assert_eq!(r["results"].as_array().map(Vec::len), Some(5), "{r}");
    assert_eq!(r["results"][0]["rank"], 1);
    assert_eq!(r["privacy"]["private"], false);

    let o = vitrine(&["inspect", "--bundle", s(&f.bundle), "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(json(&o)["digest"]["status"], "valid");

    let packed = f.dir.join("packed.vtr");
    let o = pack(&f.dir, &packed, &["--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let p = json(&o);
    assert_eq!((p["items"].as_u64(), p["dim"].as_u64()), (Some(5), Some(3)));
    assert!(p["mean_cosine"].as_f64().unwrap() > 0.99, "{p}");

    let o = vitrine(&[
        "exp",
        "simulate",
        "--scenario",
        "conversion-layer0",
        "--n",
        "1000",
        "--reps",
        "3",
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(json(&o)["reps"], 3);

    let (manifest, orders) = (f.dir.join("experiments.json"), f.dir.join("orders.csv"));
    std::fs::write(&manifest, MANIFEST).unwrap();
    std::fs::write(&orders, orders_csv()).unwrap();
    let o = vitrine(&[
        "exp",
        "analyze",
        "--manifest",
        s(&manifest),
        "--orders",
        s(&orders),
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(json(&o)["experiments"][0]["experiment"], "home");
}

#[test]
fn collect_and_load_print_json() {
    let dir = scratch("collect");
    let (manifest, db) = (dir.join("experiments.json"), dir.join("reports.sqlite"));
    std::fs::write(&manifest, MANIFEST).unwrap();
    let mut child = Command::new(BIN)
        .args(["exp", "collect", "--manifest", s(&manifest), "--db", s(&db)])
        .args(["--listen", "127.0.0.1:0", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the collector");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("first line");
    let listening: Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(listening["event"], "listening");
    let url = listening["url"].as_str().expect("url").to_owned();

    let o = vitrine(&[
        "exp",
        "load",
        "--url",
        &url,
        "--manifest",
        s(&manifest),
        "--db",
        s(&db),
        "--rate",
        "50",
        "--seconds",
        "1",
        "--hostile",
        "5",
        "--retries",
        "5",
        "--connections",
        "2",
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}\n{}", text(&o.stdout), text(&o.stderr));
    let l = json(&o);
    assert_eq!(
        (l["ok"].as_bool(), l["exactly_once"].as_bool()),
        (Some(true), Some(true)),
        "{l}"
    );

    let pid = child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(child.wait().expect("wait").success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("rest of stdout");
    let stopped: Value = serde_json::from_str(rest.trim()).expect("one more JSON line");
    assert_eq!(stopped["event"], "stopped");
}

#[test]
fn usage_errors_exit_2() {
    let f = fixture("usage");
    let (b, t) = (s(&f.bundle), s(&f.test));
    let cases: &[&[&str]] = &[
        &["train", "--bogus"],
        &["eval", "--bundle", b, "--test", t, "--mechanism", "laplace"],
        &["eval", "--bundle", b, "--test", t, "--unit", "user"],
        &["eval", "--bundle", b, "--test", t, "--epsilon", "lots"],
        &["eval", "--bundle", b, "--test", t, "--budget-epsilon", "4"],
        &["eval", "--bundle", "-", "--test", "-"],
        &["train", "--events", t, "--out", "-", "--json"],
        &["train", "--events", t, "--out", "x.vtr", "--dim", "0"],
        &[
            "train",
            "--events",
            t,
            "--out",
            "x.vtr",
            "--context",
            "hour",
        ],
        &["inspect"],
        &["exp", "simulate", "--scenario", "nope"],
        &[
            "exp",
            "analyze",
            "--manifest",
            "m.json",
            "--orders",
            "o.csv",
            "--level",
            "2",
        ],
        &[
            "exp",
            "load",
            "--url",
            "http://example.com/v1/reports",
            "--manifest",
            "m.json",
        ],
    ];
    for args in cases {
        let o = vitrine(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o.stderr));
        assert!(!text(&o.stderr).contains("panicked"), "{args:?}");
        if !args.contains(&"--json") {
            assert!(
                o.stdout.is_empty(),
                "{args:?}: nothing on stdout without --json"
            );
        }
    }
    // With --json, the failure is a document too (clap's errors included).
    for args in [
        &[
            "eval",
            "--bundle",
            b,
            "--test",
            t,
            "--mechanism",
            "laplace",
            "--json",
        ][..],
        &[
            "eval",
            "--bundle",
            b,
            "--test",
            t,
            "--budget-epsilon",
            "4",
            "--json",
        ],
    ] {
        let o = vitrine(args);
        assert_eq!(code(&o), 2);
        let e = json(&o);
        assert_eq!(
            (
                e["error"]["kind"].as_str(),
                e["error"]["exit_code"].as_u64()
            ),
            (Some("usage"), Some(2)),
            "{e}"
        );
    }
}

#[test]
fn bad_input_exits_3() {
    let f = fixture("input");
    let missing = f.dir.join("missing.csv");
    let no_columns = f.dir.join("no-columns.csv");
    std::fs::write(&no_columns, "a,b\n1,2\n").unwrap();
    let junk = f.dir.join("junk.vtr");
    std::fs::write(&junk, b"not a bundle at all").unwrap();
    let bad_manifest = f.dir.join("bad.json");
    std::fs::write(
        &bad_manifest,
        r#"{"format":"vitrine-experiments","version":1,"experiments":[],"x":1}"#,
    )
    .unwrap();
    let (emb, ids) = pack_inputs(&f.dir);
    let short_ids = f.dir.join("short.txt");
    std::fs::write(&short_ids, "a\nb\n").unwrap();
    let out = f.dir.join("never.vtr");
    let (b, t) = (s(&f.bundle), s(&f.test));
    let cases: &[(&[&str], &str)] = &[
        (
            &["eval", "--bundle", b, "--test", s(&missing)],
            "missing.csv",
        ),
        (
            &["eval", "--bundle", b, "--test", s(&no_columns)],
            "session_id and item_id",
        ),
        (
            &["eval", "--bundle", s(&junk), "--test", t],
            "not a valid bundle",
        ),
        (&["inspect", "--bundle", s(&junk)], "junk.vtr"),
        (
            &["train", "--events", s(&no_columns), "--out", s(&out)],
            "session_id and item_id",
        ),
        (
            &[
                "exp",
                "analyze",
                "--manifest",
                s(&bad_manifest),
                "--orders",
                t,
            ],
            "unknown_field",
        ),
        (
            &[
                "pack",
                "--embeddings",
                s(&emb),
                "--ids",
                s(&short_ids),
                "--out",
                s(&out),
            ],
            "2 ids",
        ),
        (
            &[
                "pack",
                "--embeddings",
                s(&ids),
                "--ids",
                s(&ids),
                "--out",
                s(&out),
            ],
            "expected a .npy",
        ),
    ];
    for (args, needle) in cases {
        let o = vitrine(args);
        let err = text(&o.stderr);
        assert_eq!(code(&o), 3, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(!out.exists(), "a failed run leaves no output");
    let o = vitrine(&["eval", "--bundle", b, "--test", s(&missing), "--json"]);
    let e = json(&o);
    assert_eq!(
        (
            e["error"]["kind"].as_str(),
            e["error"]["exit_code"].as_u64()
        ),
        (Some("input"), Some(3)),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing.csv"),
        "{e}"
    );
    let o = vitrine(&[
        "exp",
        "analyze",
        "--manifest",
        s(&bad_manifest),
        "--orders",
        t,
        "--json",
    ]);
    assert_eq!(
        json(&o)["error"]["code"],
        "unknown_field",
        "the typed code is passed on"
    );
}

#[test]
fn integrity_io_and_check_failures_have_their_codes() {
    let dir = scratch("integrity");
    let good = dir.join("good.vtr");
    let o = pack(&dir, &good, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    // One flipped bit in the int8 embeddings: still a readable bundle, but its digest says no.
    let mut bytes = std::fs::read(&good).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let start = header["item_emb"]["data_offsets"][0].as_u64().unwrap() as usize;
    bytes[8 + header_len + start] ^= 1;
    let tampered = dir.join("tampered.vtr");
    std::fs::write(&tampered, &bytes).unwrap();
    let test = dir.join("test.csv");
    std::fs::write(&test, "session_id,item_id\n1,a\n1,b\n").unwrap();
    for args in [
        &["inspect", "--bundle", s(&tampered)][..],
        &["eval", "--bundle", s(&tampered), "--test", s(&test)],
        &["recommend", "--bundle", s(&tampered), "--items", "a"],
    ] {
        let o = vitrine(args);
        assert_eq!(code(&o), 4, "{args:?}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains("digest mismatch"), "{args:?}");
    }
    // inspect --json prints its report (which says so) and still exits 4: one document.
    let o = vitrine(&["inspect", "--bundle", s(&tampered), "--json"]);
    assert_eq!(code(&o), 4);
    assert_eq!(json(&o)["digest"]["status"], "mismatch");

    // An output that cannot be written: I/O.
    let o = pack(&dir, &dir.join("no-such-dir").join("x.vtr"), &[]);
    assert_eq!(code(&o), 5, "{}", text(&o.stderr));

    // A load test against a port nobody listens on: every check fails.
    let manifest = dir.join("experiments.json");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1/reports");
    let o = vitrine(&[
        "exp",
        "load",
        "--url",
        &url,
        "--manifest",
        s(&manifest),
        "--rate",
        "10",
        "--seconds",
        "1",
        "--hostile",
        "1",
        "--retries",
        "1",
        "--connections",
        "1",
        "--json",
    ]);
    assert_eq!(code(&o), 6, "{}", text(&o.stderr));
    assert_eq!(json(&o)["ok"], false, "the report is the one document");
}
