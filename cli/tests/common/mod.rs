//! Helpers of the CLI's integration tests: running the binary (with stdin), scratch directories,
//! a small trained bundle, pack inputs and an experiments manifest.
#![allow(dead_code)] // each test crate uses a part

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_vitrine");

pub fn vitrine(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run vitrine")
}

/// Runs vitrine with `input` on its stdin.
pub fn vitrine_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vitrine");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    // Written from a thread: a large input must not block on a full stdout pipe.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("stdin writer");
    out
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
            text(&o.stdout),
            text(&o.stderr)
        )
    })
}

pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exited (not killed)")
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vitrine-manners-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A small log with sequential structure (3 groups of 10 items walked in order).
pub fn log_csv(sessions: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut next = move |m: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    let mut out = String::from("session_id,item_id,ts,event_type\n");
    for s in 0..sessions {
        let (group, mut j, len) = (next(3), next(10), 3 + next(4));
        for t in 0..len {
            writeln!(
                out,
                "s{seed}-{s},item{},{},view",
                group * 10 + j,
                100 * s as u64 + t
            )
            .unwrap();
            j = (j + 1) % 10;
        }
    }
    out
}

/// A trained bundle with its training and test logs.
pub struct Fixture {
    pub dir: PathBuf,
    pub train: PathBuf,
    pub test: PathBuf,
    pub bundle: PathBuf,
}

pub const TRAIN_FLAGS: [&str; 8] = [
    "--dim", "8", "--epochs", "2", "--batch", "64", "--seed", "3",
];

pub fn fixture(name: &str) -> Fixture {
    let dir = scratch(name);
    let (train, test, bundle) = (
        dir.join("train.csv"),
        dir.join("test.csv"),
        dir.join("b.vtr"),
    );
    std::fs::write(&train, log_csv(300, 1)).unwrap();
    std::fs::write(&test, log_csv(40, 2)).unwrap();
    let mut args = vec!["train", "--events", s(&train), "--out", s(&bundle)];
    args.extend(TRAIN_FLAGS);
    let o = vitrine(&args);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    Fixture {
        dir,
        train,
        test,
        bundle,
    }
}

/// A .npy file (format 1.0) of little-endian float32 values.
pub fn npy_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    header.push_str(&" ".repeat((64 - (10 + header.len() + 1) % 64) % 64));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(values.iter().flat_map(|x| x.to_le_bytes()));
    out
}

/// Embeddings (5 × 3) and ids for `pack`.
pub fn pack_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let values: Vec<f32> = (0..15).map(|k| (k % 7) as f32 - 2.5).collect();
    let (emb, ids) = (dir.join("emb.npy"), dir.join("ids.txt"));
    std::fs::write(&emb, npy_f32(&[5, 3], &values)).unwrap();
    std::fs::write(&ids, "a\nb\nc\nd\ne\n").unwrap();
    (emb, ids)
}

/// `vitrine pack` of [`pack_inputs`] (written into `dir`) into `out`, with `extra` arguments.
pub fn pack(dir: &Path, out: &Path, extra: &[&str]) -> Output {
    let (emb, ids) = pack_inputs(dir);
    let mut args = vec![
        "pack",
        "--embeddings",
        s(&emb),
        "--ids",
        s(&ids),
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    vitrine(&args)
}

pub const MANIFEST: &str = r#"{"format":"vitrine-experiments","version":1,"experiments":[
  {"id":"home","salt":"0123456789abcdef","start":"2026-01-01","end":"2027-01-01",
   "arms":[{"name":"control","allocation":0.5},{"name":"treatment","allocation":0.5}],
   "metrics":[{"name":"conversion"},{"name":"shelf_click","epsilon":1}],
   "report":{"epsilon":1}}]}"#;

pub fn orders_csv() -> String {
    let mut out = String::from("label,converted\n");
    for (arm, conversions) in [("control", 30), ("treatment", 40)] {
        for i in 0..1000 {
            writeln!(out, "home:{arm},{}", u8::from(i < conversions)).unwrap();
        }
    }
    out
}
