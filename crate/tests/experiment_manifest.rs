//! `experiments.json` validation: a full manifest is read; every kind of mistake is refused with
//! its code and the JSON path of the bad field.

use vitrine::experiment::manifest::{Design, MetricKind, ValidManifest};

const FULL: &str = r#"{
  "format": "vitrine-experiments", "version": 1,
  "experiments": [
    {"id": "home-shelf", "salt": "6f1c0e9a2b7d4c3e", "start": "2026-12-01", "end": "2027-01-01",
     "namespace": {"name": "home", "range": [0, 0.5]},
     "arms": [{"name": "control", "allocation": 0.5, "settings": {"privacy": {"epsilon": 8}}},
              {"name": "treatment", "allocation": 0.5,
               "settings": {"bundle": "store-b.vtr", "options": {"k": 12, "excludeSeen": true}}}],
     "metrics": [{"name": "conversion"}, {"name": "revenue"}, {"name": "repeat_purchase"},
                 {"name": "shelf_click", "epsilon": 1}, {"name": "order_value", "max": 200, "epsilon": 0.5},
                 {"name": "ope_ips", "epsilon": 0.5}, {"name": "ope_weight", "epsilon": 0.5},
                 {"name": "ope_dr", "epsilon": 0.5}],
     "report": {"epsilon": 3, "window_days": 14, "repeat_days": 30,
                "ope": {"clip": 10, "candidate": {"epsilon": 4}, "exploration": {"share": 0.1, "epsilon": 0.5},
                        "reward_model": {"top": 0.2, "rest": 0.05}}}},
    {"id": "rankers", "salt": "a1b2c3d4e5f60718", "start": "2026-12-01", "end": "2027-01-01",
     "namespace": {"name": "home", "range": [0.5, 1]}, "design": "interleaving",
     "arms": [{"name": "old"}, {"name": "new", "settings": {"bundle": "new.vtr"}}],
     "metrics": [{"name": "interleaving_credit", "epsilon": 1}], "report": {"epsilon": 1}}
  ]}"#;

fn refused(text: &str) -> (String, String) {
    let e = ValidManifest::from_json(text).expect_err("should be refused");
    (e.code.to_string(), e.path)
}

#[test]
fn a_full_manifest_is_read() {
    let m = ValidManifest::from_json(FULL).unwrap();
    let e = m.experiment("home-shelf").unwrap();
    assert_eq!(e.design, Design::AB);
    assert_eq!(e.arms[0].buckets, (0, 5000));
    assert_eq!(e.arms[1].buckets, (5000, 10000));
    assert_eq!(e.report_epsilon, 3.0);
    assert_eq!(e.report_metrics().count(), 5);
    let dr = e.metric("ope_dr").unwrap();
    assert_eq!(dr.kind, MetricKind::OpeDr);
    let (_, lo, hi) = dr.ldp.unwrap();
    assert_eq!((lo, hi), (-2.0, 10.5));
    assert_eq!(e.metric("conversion").unwrap().ldp, None);
    assert_eq!(e.expected_shares()[1], ("treatment".to_string(), 0.5));
    let i = m.experiment("rankers").unwrap();
    assert_eq!(i.design, Design::Interleaving);
    assert!(i.has_arm_label("interleaved") && !i.has_arm_label("old"));
    assert_eq!(e.end_ms - e.start_ms, 31.0 * 86_400_000.0);
    // 2026-12-01 is day 20,788 since the epoch.
    assert_eq!(e.start_ms, 20_788.0 * 86_400_000.0);
}

#[test]
fn mistakes_are_refused_with_code_and_path() {
    let cases: Vec<(String, &str, &str)> = vec![
        (FULL.replace("\"window_days\": 14", "\"window_days\": 14, \"colour\": 1"),
         "unknown_field", "experiments[0].report.colour"),
        (FULL.replace("\"version\": 1", "\"version\": 2"), "manifest_version", "version"),
        (FULL.replace("vitrine-experiments", "other"), "manifest_format", "format"),
        (FULL.replace("\"allocation\": 0.5, \"settings\": {\"privacy\"", "\"allocation\": 0.6, \"settings\": {\"privacy\""),
         "allocation", "experiments[0].arms[1].allocation"),
        (FULL.replace("\"allocation\": 0.5, \"settings\": {\"privacy\"", "\"allocation\": 0.12345, \"settings\": {\"privacy\""),
         "allocation", "experiments[0].arms[0].allocation"),
        (FULL.replace("\"salt\": \"6f1c0e9a2b7d4c3e\"", "\"salt\": \"short\""), "salt", "experiments[0].salt"),
        (FULL.replace("\"end\": \"2027-01-01\",\n     \"namespace\": {\"name\": \"home\", \"range\": [0, 0.5]}",
                      "\"end\": \"2026-02-30\",\n     \"namespace\": {\"name\": \"home\", \"range\": [0, 0.5]}"),
         "date", "experiments[0].end"),
        (FULL.replace("\"range\": [0.5, 1]", "\"range\": [0.4, 1]"), "namespace_overlap", "experiments[1].namespace.range"),
        (FULL.replace("\"id\": \"rankers\"", "\"id\": \"home-shelf\""), "duplicate_id", "experiments[1].id"),
        (FULL.replace("{\"name\": \"revenue\"}", "{\"name\": \"revenue\", \"epsilon\": 1}"),
         "metric_field", "experiments[0].metrics[1]"),
        (FULL.replace("{\"name\": \"repeat_purchase\"}", "{\"name\": \"bounce\"}"),
         "unknown_metric", "experiments[0].metrics[2].name"),
        (FULL.replace("\"max\": 200, ", ""), "metric_field", "experiments[0].metrics[4].max"),
        (FULL.replace("\"report\": {\"epsilon\": 3", "\"report\": {\"epsilon\": 2.5"),
         "epsilon_sum", "experiments[0].report.epsilon"),
        (FULL.replace("{\"name\": \"shelf_click\", \"epsilon\": 1}", "{\"name\": \"shelf_click\", \"epsilon\": 0}"),
         "epsilon", "experiments[0].metrics[3].epsilon"),
        (FULL.replace("\"candidate\": {\"epsilon\": 4}", "\"candidate\": {\"epsilon\": -4}"),
         "privacy", "experiments[0].report.ope.candidate"),
        (FULL.replace("\"candidate\": {\"epsilon\": 4}", "\"candidate\": {\"epsilonn\": 4}"),
         "unknown_field", "experiments[0].report.ope.candidate.epsilonn"),
        (FULL.replace("{\"k\": 12, \"excludeSeen\": true}", "{\"k\": 12, \"exclude_seen\": true}"),
         "unknown_field", "experiments[0].arms[1].settings.options.exclude_seen"),
        (FULL.replace("\"share\": 0.1", "\"share\": 1.5"), "ope", "experiments[0].report.ope.exploration.share"),
        (FULL.replace("[{\"name\": \"old\"}", "[{\"name\": \"old\", \"allocation\": 0.5}"),
         "allocation", "experiments[1].arms[0].allocation"),
        (FULL.replace("\"design\": \"interleaving\"", "\"design\": \"ab\""),
         "allocation", "experiments[1].arms[0].allocation"),
        (FULL.replace("{\"name\": \"new\", ", "{\"name\": \"old\", "), "duplicate_arm", "experiments[1].arms[1].name"),
        (FULL.replace("\"name\": \"control\"", "\"name\": \"Control\""), "invalid_name", "experiments[0].arms[0].name"),
        (FULL.replace("\"allocation\": 0.5, \"settings\": {\"privacy\"", "\"allocation\": \"half\", \"settings\": {\"privacy\""),
         "invalid_type", "experiments[0].arms[0].allocation"),
        (FULL[..200].to_string(), "invalid_json", "experiments[0].namespace.?"),
    ];
    for (text, code, path) in cases {
        let (c, p) = refused(&text);
        assert_eq!(
            (c.as_str(), p.as_str()),
            (code, path),
            "case {code} at {path}"
        );
    }
}

#[test]
fn interleaving_credit_needs_an_interleaving_design_and_ope_needs_settings() {
    let text = FULL
        .replace(
            "{\"name\": \"revenue\"}",
            "{\"name\": \"interleaving_credit\", \"epsilon\": 1}",
        )
        .replace("\"report\": {\"epsilon\": 3", "\"report\": {\"epsilon\": 4");
    assert_eq!(refused(&text).0, "metric_needs");
    let no_ope = FULL.replace(
        ",\n                \"ope\": {\"clip\": 10, \"candidate\": {\"epsilon\": 4}, \"exploration\": {\"share\": 0.1, \"epsilon\": 0.5},\n                        \"reward_model\": {\"top\": 0.2, \"rest\": 0.05}}",
        "",
    );
    assert_ne!(no_ope, FULL);
    assert_eq!(
        refused(&no_ope),
        (
            "metric_needs".into(),
            "experiments[0].metrics[5].name".into()
        )
    );
}

#[test]
fn the_documented_demo_manifest_is_valid() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/experiments.example.json"
    ))
    .expect("docs/experiments.example.json");
    let m = ValidManifest::from_json(&text).unwrap();
    let e = m.experiment("demo-home-shelf").unwrap();
    assert_eq!(e.report_epsilon, 2.0);
    assert!(e.arms[1].settings.options.is_some());
}
