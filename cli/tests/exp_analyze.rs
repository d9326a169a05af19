//! `vitrine exp analyze` on the store's layer-0 export (CSV) and on reports as JSON Lines:
//! figures checked against hand computations, CUPED and always-valid intervals, bad input.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MANIFEST: &str = r#"{"format":"vitrine-experiments","version":1,"experiments":[
  {"id":"home","salt":"0123456789abcdef","start":"2026-01-01","end":"2027-01-01",
   "arms":[{"name":"control","allocation":0.5},{"name":"treatment","allocation":0.5}],
   "metrics":[{"name":"conversion"},{"name":"revenue"},{"name":"aov"},{"name":"repeat_purchase"},
              {"name":"shelf_click","epsilon":1}],
   "report":{"epsilon":1}}]}"#;

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("vitrine-exp-analyze-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn vitrine(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(args)
        .output()
        .expect("run vitrine")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// 10,000 units per arm: control converts 300 (3 %), treatment 330 (3.3 %); every order is
/// worth 50; a pre-period revenue that is high for most converters; every 3rd converter repeats.
fn orders_csv() -> String {
    let mut out = String::from("label,converted,revenue,repeat_purchase,pre_revenue\n");
    for (arm, conversions) in [("control", 300), ("treatment", 330)] {
        for i in 0..10_000 {
            let converted = i < conversions;
            let pre = if (converted && i % 4 != 0) || (!converted && i % 97 == 0) {
                80
            } else {
                0
            };
            writeln!(
                out,
                "home:{arm},{},{},{},{pre}",
                u8::from(converted),
                if converted { 50 } else { 0 },
                u8::from(converted && i % 3 == 0)
            )
            .unwrap();
        }
    }
    out
}

fn analyze(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let manifest = dir.join("experiments.json");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let mut args = vec!["exp", "analyze", "--manifest", s(&manifest), "--json"];
    args.extend_from_slice(extra);
    let out = vitrine(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn layer0_figures_match_hand_computation() {
    let dir = scratch("layer0");
    let orders = dir.join("orders.csv");
    std::fs::write(&orders, orders_csv()).unwrap();
    let v = analyze(&dir, &["--orders", s(&orders)]);
    let l0 = &v["experiments"][0]["layer0"];
    assert_eq!(l0["arms"][0]["n"], 10_000.0);
    assert_eq!(l0["arms"][1]["conversion"]["mean"], 0.033);
    assert!((l0["arms"][1]["aov"]["mean"].as_f64().unwrap() - 50.0).abs() < 1e-9);
    assert!((l0["srm"]["p_value"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    let conv = &l0["lifts"][0];
    assert_eq!(conv["metric"], "conversion");
    let abs = conv["lift"]["absolute"].as_f64().unwrap();
    assert!((abs - 0.003).abs() < 1e-12);
    // se² = p(1−p)/(n−1) per arm (sample variances).
    let se = (0.03f64 * 0.97 / 9_999.0 + 0.033 * 0.967 / 9_999.0).sqrt();
    let lo = conv["lift"]["ci"][0].as_f64().unwrap();
    assert!((abs - lo - 1.959_964 * se).abs() < 1e-6, "{lo}");
    assert!((conv["lift"]["relative"].as_f64().unwrap() - 0.1).abs() < 1e-9);
    assert!(conv.get("cuped").is_none() && conv.get("sequential_ci").is_none());
    let metrics: Vec<&str> = l0["lifts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["metric"].as_str().unwrap())
        .collect();
    assert_eq!(metrics, ["conversion", "revenue", "repeat_purchase", "aov"]);

    // CUPED narrows the interval; the always-valid interval is wider than the fixed one.
    let v = analyze(
        &dir,
        &[
            "--orders",
            s(&orders),
            "--covariate",
            "pre_revenue",
            "--sequential",
        ],
    );
    let conv = &v["experiments"][0]["layer0"]["lifts"][0];
    let width = |ci: &serde_json::Value| ci[1].as_f64().unwrap() - ci[0].as_f64().unwrap();
    assert!(
        width(&conv["cuped"]["ci"]) < 0.8 * width(&conv["lift"]["ci"]),
        "{conv}"
    );
    assert!(
        width(&conv["sequential_ci"]) > 1.2 * width(&conv["lift"]["ci"]),
        "{conv}"
    );
    assert!(
        v["experiments"][0]["layer0"]["covariate_correlation"]
            .as_f64()
            .unwrap()
            > 0.5
    );
}

#[test]
fn reports_from_json_lines_are_checked_and_deduplicated() {
    let dir = scratch("jsonl");
    let line = |id: u8, arm: &str, bit: u8| {
        format!(
            r#"{{"v":1,"experiment":"home","arm":"{arm}","id":"{}","epsilon":1,"values":{{"shelf_click":{bit}}}}}"#,
            format!("{id:02x}").repeat(16)
        )
    };
    let mut text = String::new();
    for i in 0..40u8 {
        writeln!(
            text,
            "{}",
            line(
                i,
                if i % 2 == 0 { "control" } else { "treatment" },
                i % 3 / 2
            )
        )
        .unwrap();
    }
    writeln!(text, "{}", line(0, "control", 0)).unwrap(); // a retry: counted once
    writeln!(
        text,
        "{}",
        line(99, "control", 0).replace("\"epsilon\":1", "\"epsilon\":2")
    )
    .unwrap();
    writeln!(text, "not json").unwrap();
    let reports = dir.join("reports.jsonl");
    std::fs::write(&reports, text).unwrap();
    let v = analyze(&dir, &["--reports", s(&reports)]);
    assert_eq!(v["rejected_report_lines"], 2);
    let l1 = &v["experiments"][0]["layer1"];
    assert_eq!(l1["arms"][0]["reports"], 20);
    assert_eq!(l1["arms"][1]["reports"], 20);
    assert!(l1["arms"][0]["metrics"]["shelf_click"]["mean"].is_number());
    assert_eq!(l1["lifts"][0]["metric"], "shelf_click");

    // The text form names the experiment and its tables.
    let manifest = dir.join("experiments.json");
    let out = vitrine(&[
        "exp",
        "analyze",
        "--manifest",
        s(&manifest),
        "--reports",
        s(&reports),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("# experiment home") && text.contains("| shelf_click |"),
        "{text}"
    );
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let dir = scratch("bad");
    let manifest = dir.join("experiments.json");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let orders = dir.join("orders.csv");
    std::fs::write(
        &orders,
        "label,converted\nhome:control,1\nhome:control,yes\n",
    )
    .unwrap();
    let out = vitrine(&[
        "exp",
        "analyze",
        "--manifest",
        s(&manifest),
        "--orders",
        s(&orders),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("converted"), "{err}");
    std::fs::write(&orders, "label,revenue\nhome:control,1\n").unwrap();
    let out = vitrine(&[
        "exp",
        "analyze",
        "--manifest",
        s(&manifest),
        "--orders",
        s(&orders),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no 'converted' column"));
    let out = vitrine(&[
        "exp",
        "analyze",
        "--manifest",
        s(&manifest),
        "--orders",
        s(&orders),
        "--covariate",
        "pre",
    ]);
    assert!(!out.status.success());
    // A source is required; --db and --reports are alternatives.
    assert!(!vitrine(&["exp", "analyze", "--manifest", s(&manifest)])
        .status
        .success());
    let out = vitrine(&[
        "exp",
        "analyze",
        "--manifest",
        s(&manifest),
        "--db",
        s(&dir.join("missing.sqlite")),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no report database"));
    let out = vitrine(&[
        "exp",
        "analyze",
        "--manifest",
        s(&manifest),
        "--orders",
        s(&orders),
        "--experiment",
        "nope",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no experiment 'nope'"));
}

/// The warehouse SQL of docs/experiments-warehouse.sql, run on a table of reports, gives the
/// estimates `vitrine exp analyze` prints.
#[test]
fn warehouse_sql_gives_the_same_estimates() {
    let dir = scratch("sql");
    let manifest_text = MANIFEST.replace(
        r#"{"name":"shelf_click","epsilon":1}],
   "report":{"epsilon":1}"#,
        r#"{"name":"shelf_click","epsilon":1},{"name":"order_value","max":200,"epsilon":0.5}],
   "report":{"epsilon":1.5}"#,
    );
    assert_ne!(manifest_text, MANIFEST);
    let manifest = dir.join("experiments.json");
    std::fs::write(&manifest, &manifest_text).unwrap();
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE report_values (experiment TEXT, arm TEXT, report_id TEXT, metric TEXT, value INTEGER);
         CREATE TABLE metric_params (experiment TEXT, metric TEXT, q REAL, lo REAL, hi REAL);",
    )
    .unwrap();
    for (metric, eps, hi) in [("shelf_click", 1.0f64, 1.0), ("order_value", 0.5, 200.0)] {
        conn.execute(
            "INSERT INTO metric_params VALUES ('home', ?1, ?2, 0, ?3)",
            rusqlite::params![metric, eps.exp() / (1.0 + eps.exp()), hi],
        )
        .unwrap();
    }
    let mut lines = String::new();
    let mut x: u64 = 12345;
    for i in 0..3000u32 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let (click, value) = ((x >> 40) % 3 == 0, (x >> 20) % 2);
        let arm = if i % 2 == 0 { "control" } else { "treatment" };
        let id = format!("{:032x}", u128::from(i) + 1);
        writeln!(
            lines,
            r#"{{"v":1,"experiment":"home","arm":"{arm}","id":"{id}","epsilon":1.5,"values":{{"order_value":{value},"shelf_click":{}}}}}"#,
            u8::from(click)
        )
        .unwrap();
        for (metric, v) in [("shelf_click", u64::from(click)), ("order_value", value)] {
            conn.execute(
                "INSERT INTO report_values VALUES ('home', ?1, ?2, ?3, ?4)",
                rusqlite::params![arm, id, metric, v as i64],
            )
            .unwrap();
        }
    }
    let reports = dir.join("reports.jsonl");
    std::fs::write(&reports, lines).unwrap();
    let v = analyze(&dir, &["--reports", s(&reports)]);
    // analyze() rewrote the manifest with MANIFEST: analyze again with the extended one.
    std::fs::write(&manifest, &manifest_text).unwrap();
    let out = vitrine(&[
        "exp",
        "analyze",
        "--manifest",
        s(&manifest),
        "--reports",
        s(&reports),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v2: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["rejected_report_lines"], 3000,
        "the first run's manifest has no order_value"
    );
    let arms = v2["experiments"][0]["layer1"]["arms"]
        .as_array()
        .unwrap()
        .clone();

    let sql = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/experiments-warehouse.sql"
    ))
    .unwrap();
    let mut stmt = conn.prepare(&sql).unwrap();
    let rows: Vec<(String, String, f64, f64)> = stmt
        .query_map(rusqlite::named_params! {":experiment": "home"}, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    for (arm, metric, mean, variance) in rows {
        let se = variance.sqrt();
        let a = arms.iter().find(|a| a["arm"] == arm.as_str()).unwrap();
        let m = &a["metrics"][&metric];
        let cli_mean = m["mean"].as_f64().unwrap();
        let cli_se = (m["ci"][1].as_f64().unwrap() - cli_mean) / 1.959_963_985;
        let scale = if metric == "order_value" { 200.0 } else { 1.0 };
        assert!(
            (mean - cli_mean).abs() < 1e-6 * scale,
            "{arm} {metric}: {mean} vs {cli_mean}"
        );
        assert!(
            (se - cli_se).abs() < 1e-6 * scale,
            "{arm} {metric}: {se} vs {cli_se}"
        );
    }
}
