//! `vitrine exp collect` as a real HTTP server on loopback with a real SQLite file: valid reports
//! are stored once (retries are duplicates), every kind of bad request is refused with a 4xx and
//! a reason, a short load run stores every accepted report exactly once, and `vitrine exp
//! analyze --db` reads what was stored.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const MANIFEST: &str = r#"{"format":"vitrine-experiments","version":1,"experiments":[
  {"id":"shelf","salt":"0123456789abcdef","start":"2026-01-01","end":"2027-01-01",
   "arms":[{"name":"control","allocation":0.5},{"name":"treatment","allocation":0.5}],
   "metrics":[{"name":"conversion"},{"name":"shelf_click","epsilon":1},{"name":"order_value","max":200,"epsilon":0.5}],
   "report":{"epsilon":1.5}},
  {"id":"rankers","salt":"fedcba9876543210","start":"2026-01-01","end":"2027-01-01","design":"interleaving",
   "arms":[{"name":"old"},{"name":"new"}],"metrics":[{"name":"interleaving_credit","epsilon":1}],"report":{"epsilon":1}}]}"#;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vitrine-exp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A running `vitrine exp collect`. Dropped without `stop()` (a test failed), it is killed: a
/// leaked collector would keep the test runner's pipes (and any lock its parent held) open.
struct Collector {
    child: Child,
    addr: String,
    stopped: bool,
}

impl Drop for Collector {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Collector {
    fn start(manifest: &Path, db: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vitrine"))
            .args(["exp", "collect", "--manifest"])
            .arg(manifest)
            .arg("--db")
            .arg(db)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the collector");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the collector prints its address");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|s| s.strip_suffix("/v1/reports"))
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        Self {
            child,
            addr,
            stopped: false,
        }
    }

    fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        let status = self.child.wait().expect("wait");
        self.stopped = true;
        assert!(
            status.success(),
            "the collector exits cleanly on SIGTERM: {status}"
        );
    }
}

/// One HTTP/1.1 request on a fresh connection: (status, body).
fn request(addr: &str, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before reading a large body: ignore a broken pipe.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn post(addr: &str, body: &str) -> (u16, String) {
    request(
        addr,
        "POST",
        "/v1/reports",
        "application/json",
        body.as_bytes(),
    )
}

fn report(id_byte: u8, extra: &str) -> String {
    format!(
        r#"{{"v":1,"experiment":"shelf","arm":"treatment","id":"{}","epsilon":1.5,"values":{{"order_value":0,"shelf_click":1}}{extra}}}"#,
        format!("{id_byte:02x}").repeat(16)
    )
}

fn vitrine(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(args)
        .output()
        .expect("run vitrine")
}

#[test]
fn collector_stores_once_refuses_bad_requests_and_survives_load() {
    let dir = scratch("collect");
    let manifest = dir.join("experiments.json");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let db = dir.join("reports.sqlite");
    let c = Collector::start(&manifest, &db);
    let a = c.addr.as_str();

    // Stored once; a retry with the same id is a duplicate; text/plain (no preflight) works.
    let (s, b) = post(a, &report(1, ""));
    assert_eq!((s, b.contains("\"stored\":1")), (200, true), "{b}");
    let (s, b) = request(
        a,
        "POST",
        "/v1/reports",
        "text/plain;charset=UTF-8",
        report(1, "").as_bytes(),
    );
    assert_eq!((s, b.contains("\"duplicates\":1")), (200, true), "{b}");
    let batch = format!("[{},{}]", report(2, ""), report(3, ""));
    let (s, b) = post(a, &batch);
    assert_eq!((s, b.contains("\"stored\":2")), (200, true), "{b}");
    let interleaved = r#"{"v":1,"experiment":"rankers","arm":"interleaved","id":"0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f","epsilon":1,"values":{"interleaving_credit":1}}"#;
    assert_eq!(post(a, interleaved).0, 200);

    // Every refusal is a 4xx with a code and a reason.
    let good = report(9, "");
    let cases: Vec<(u16, &str, String)> = vec![
        (400, "invalid_json", "{\"v\":1,".into()),
        (400, "unknown_field", report(9, ",\"item\":\"p0012\"")),
        (
            422,
            "unknown_experiment",
            good.replace("\"shelf\"", "\"other\""),
        ),
        (422, "wrong_epsilon", good.replace("1.5", "3")),
        (422, "unknown_arm", good.replace("treatment", "control2")),
        (
            422,
            "invalid_value",
            good.replace("\"shelf_click\":1", "\"shelf_click\":2"),
        ),
        (422, "missing_value", good.replace("\"order_value\":0,", "")),
        (422, "invalid_id", good.replace("09090909", "0909090Z")),
        (
            400,
            "invalid_type",
            good.replace("\"epsilon\":1.5", "\"epsilon\":\"1.5\""),
        ),
        (422, "batch_size", "[]".into()),
        (400, "invalid_json", "[".repeat(10_000)),
        (
            413,
            "too_large",
            format!("{}{}", good, " ".repeat(70 * 1024)),
        ),
    ];
    for (status, code, body) in &cases {
        let (s, b) = post(a, body);
        assert_eq!(s, *status, "{code}: {b}");
        assert!(
            b.contains(&format!("\"code\":\"{code}\"")) && b.contains("\"reason\""),
            "{code}: {b}"
        );
    }
    let (s, b) = request(
        a,
        "POST",
        "/v1/reports",
        "application/x-www-form-urlencoded",
        good.as_bytes(),
    );
    assert_eq!(s, 415, "{b}");
    let (s, _) = request(
        a,
        "POST",
        "/v1/reports",
        "application/json",
        &[0xff, 0xfe, 0x80],
    );
    assert_eq!(s, 400);
    assert_eq!(
        request(a, "GET", "/v1/reports", "application/json", b"").0,
        405
    );
    assert_eq!(
        request(a, "POST", "/elsewhere", "application/json", good.as_bytes()).0,
        404
    );
    let (s, b) = request(a, "OPTIONS", "/v1/reports", "application/json", b"");
    assert_eq!(s, 204, "{b}");

    // A short, bounded load run on loopback: every accepted report stored exactly once.
    let url = format!("http://{a}/v1/reports");
    let out = vitrine(&[
        "exp",
        "load",
        "--url",
        &url,
        "--manifest",
        manifest.to_str().unwrap(),
        "--rate",
        "1500",
        "--seconds",
        "2",
        "--hostile",
        "140",
        "--retries",
        "100",
        "--connections",
        "16",
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "load failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(&text).expect("load JSON");
    assert_eq!(r["valid_sent"], 3000);
    assert_eq!(r["stored_new"], 3000);
    assert_eq!(r["exactly_once"], true);
    assert_eq!(r["hostile_refused_4xx"], 140);
    assert_eq!(r["retries_duplicate"], 100);

    // The load generator refuses any target but loopback.
    let out = vitrine(&[
        "exp",
        "load",
        "--url",
        "http://10.0.0.1:8787/v1/reports",
        "--manifest",
        manifest.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));

    c.stop();

    // analyze reads what the collector stored: 3 + 3000 reports (the load spreads over both experiments).
    let out = vitrine(&[
        "exp",
        "analyze",
        "--manifest",
        manifest.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("analyze JSON");
    let exps = v["experiments"].as_array().unwrap();
    let reports = |e: &serde_json::Value| -> u64 {
        e["layer1"]["arms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["reports"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(reports(&exps[0]) + reports(&exps[1]), 3 + 1 + 3000);
    assert!(exps[0]["layer1"]["lifts"][0]["lift"]["ci"].is_array());
    assert!(exps[1]["layer1"]["interleaving"]["credit"]["mean"].is_number());
}

#[test]
fn collector_refuses_a_public_address_without_public() {
    let dir = scratch("public");
    let manifest = dir.join("experiments.json");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let out = vitrine(&[
        "exp",
        "collect",
        "--manifest",
        manifest.to_str().unwrap(),
        "--db",
        dir.join("r.sqlite").to_str().unwrap(),
        "--listen",
        "0.0.0.0:0",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public"));
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        MANIFEST.replace("\"version\":1", "\"version\":1,\"extra\":0"),
    )
    .unwrap();
    let out = vitrine(&[
        "exp",
        "collect",
        "--manifest",
        bad.to_str().unwrap(),
        "--db",
        dir.join("r.sqlite").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown_field"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
