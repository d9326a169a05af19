//! The wasm `Experiments` in headless Chromium: the manifest read from the page's parsed JSON
//! agrees with serde's native reading (same experiments, same arms for the same device id), errors
//! carry the core's `code` and `path`, reports are write-ahead and the budget never refills.
#![cfg(target_arch = "wasm32")]

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

use vitrine::experiment::{assign, experiment_label, DeviceId, Enrollment, ValidManifest};
use vitrine::web::Experiments;

wasm_bindgen_test_configure!(run_in_browser);

const MANIFEST: &str = include_str!("../../docs/experiments.example.json");
const DAY: f64 = 86_400_000.0;

fn js(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("test JSON")
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).expect("property")
}

fn code_and_path(err: &JsValue) -> (String, String) {
    (
        get(err, "code").as_string().unwrap_or_default(),
        get(err, "path").as_string().unwrap_or_default(),
    )
}

#[wasm_bindgen_test]
fn the_js_reader_and_serde_agree_on_the_manifest_and_the_arms() {
    let native = ValidManifest::from_json(MANIFEST).unwrap();
    let exp = &native.experiments()[0];
    let now = exp.start_ms + 100.0 * DAY;
    for i in 0..200u32 {
        let id = format!(
            "{:032x}",
            u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
        );
        let web = Experiments::new(
            js(MANIFEST),
            JsValue::UNDEFINED,
            JsValue::from(id.clone()),
            false,
        )
        .expect("the demo manifest");
        assert_eq!(web.ids(), vec![exp.id.clone()]);
        assert_eq!(web.device_id(), id);
        let enrollment = assign(exp, &DeviceId::parse(&id).unwrap(), now, false);
        let a = web.assign(JsValue::from(exp.id.as_str()), now).unwrap();
        match enrollment {
            Enrollment::Arm(i) => {
                assert_eq!(get(&a, "armIndex").as_f64(), Some(i as f64));
                assert_eq!(get(&a, "arm").as_string(), Some(exp.arms[i].name.clone()));
            }
            other => panic!("the demo manifest enrolls everyone, got {other:?}"),
        }
        assert_eq!(
            web.label(JsValue::from(exp.id.as_str()), now).unwrap(),
            experiment_label(exp, &enrollment)
        );
    }
}

#[wasm_bindgen_test]
fn bad_manifests_throw_the_cores_code_and_path() {
    let cases = [
        (
            r#""name": "control", "allocation": 0.5"#,
            r#""name": "control", "allocation": 0.75"#,
            ("allocation", "experiments[0].arms[1].allocation"),
        ),
        (
            r#""format": "vitrine-experiments""#,
            r#""format": "other""#,
            ("manifest_format", "format"),
        ),
        (
            r#""salt": "demo-salt-7c1e4b9a02d35f86""#,
            r#""salt": "short""#,
            ("salt", "experiments[0].salt"),
        ),
    ];
    for (from, to, want) in cases {
        let text = MANIFEST.replace(from, to);
        assert_ne!(text, MANIFEST, "{from}");
        let err = Experiments::new(js(&text), JsValue::UNDEFINED, JsValue::UNDEFINED, false)
            .err()
            .expect("refused");
        let (code, path) = code_and_path(&err);
        assert_eq!((code.as_str(), path.as_str()), want, "{to}");
    }
    let err = Experiments::new(
        js(r#"{"format":"vitrine-experiments","version":1,"experiments":[],"x":1}"#),
        JsValue::UNDEFINED,
        JsValue::UNDEFINED,
        false,
    )
    .err()
    .expect("refused");
    assert_eq!(code_and_path(&err).0, "unknown_field");
}

#[wasm_bindgen_test]
fn one_report_write_ahead_and_a_corrupt_state_never_refills_the_budget() {
    let native = ValidManifest::from_json(MANIFEST).unwrap();
    let exp = &native.experiments()[0];
    let t0 = exp.start_ms + 10.0 * DAY;
    let mut web =
        Experiments::new(js(MANIFEST), JsValue::UNDEFINED, JsValue::UNDEFINED, false).unwrap();
    assert!(web.new_device_id());
    assert!(web.trigger(JsValue::from(exp.id.as_str()), t0).unwrap());
    assert!(web
        .record(
            JsValue::from(exp.id.as_str()),
            "shelf_click".into(),
            0.0,
            t0 + 1.0
        )
        .unwrap());
    assert!(web
        .record(JsValue::from(exp.id.as_str()), "nope".into(), 0.0, t0)
        .is_err());
    assert_eq!(
        web.take_reports(t0 + 2.0).unwrap().length(),
        0,
        "window open"
    );
    let reports = web.take_reports(t0 + 2.0 * DAY).unwrap();
    assert_eq!(reports.length(), 1);
    let report = reports.get(0);
    assert_eq!(
        get(&report, "arm").as_string(),
        web.assign(JsValue::from(exp.id.as_str()), t0)
            .ok()
            .and_then(|a| get(&a, "arm").as_string())
    );
    // The state exported right after holds the charge and the reported flag (write-ahead).
    let state = web.export_state();
    assert_eq!(get(&state, "spent_epsilon").as_f64(), Some(2.0));
    let id = web.device_id();
    let mut back = Experiments::new(js(MANIFEST), state, JsValue::from(id.clone()), false).unwrap();
    assert!(!back.new_device_id());
    assert_eq!(
        back.take_reports(t0 + 30.0 * DAY).unwrap().length(),
        0,
        "never twice"
    );
    assert!(back.state_issue().is_null());
    // A corrupt stored state: replaced by one with no budget, and said so.
    for bad in [
        r#""garbage""#,
        r#"{"format":"vitrine-experiment-state","budget_epsilon":8,"spent_epsilon":-1,"tallies":{}}"#,
        r#"{"format":"vitrine-experiment-state","budget_epsilon":8,"spent_epsilon":0,"tallies":{"x":{"arm":"a"}}}"#,
    ] {
        let mut web =
            Experiments::new(js(MANIFEST), js(bad), JsValue::from(id.clone()), false).unwrap();
        assert_eq!(
            get(&web.state_issue(), "code").as_string().as_deref(),
            Some("state_corrupt"),
            "{bad}"
        );
        assert_eq!(get(&web.status(), "budgetEpsilon").as_f64(), Some(0.0));
        web.trigger(JsValue::from(exp.id.as_str()), t0).unwrap();
        assert_eq!(
            web.take_reports(t0 + 2.0 * DAY).unwrap().length(),
            0,
            "no budget"
        );
    }
    // Under GPC: never enrolled.
    let mut gpc =
        Experiments::new(js(MANIFEST), JsValue::UNDEFINED, JsValue::UNDEFINED, true).unwrap();
    assert!(!gpc.trigger(JsValue::from(exp.id.as_str()), t0).unwrap());
    assert_eq!(
        get(
            &gpc.assign(JsValue::from(exp.id.as_str()), t0).unwrap(),
            "reason"
        )
        .as_string()
        .as_deref(),
        Some("gpc")
    );
}

#[wasm_bindgen_test]
fn interleave_team_drafts_for_an_interleaved_device_only() {
    let interleaving = r#"{"format": "vitrine-experiments", "version": 1, "experiments": [
      {"id": "rankers", "salt": "interleave-test-salt-5d2e9c", "start": "2026-01-01",
       "end": "2030-01-01", "namespace": {"name": "home", "range": [0, 1]},
       "design": "interleaving", "arms": [{"name": "plain"}, {"name": "diverse"}],
       "metrics": [{"name": "interleaving_credit", "epsilon": 1}], "report": {"epsilon": 1}}]}"#;
    let native = ValidManifest::from_json(interleaving).expect("an interleaving manifest");
    let exp = &native.experiments()[0];
    let now = exp.start_ms + DAY;
    let a = js(r#"["p1","p2","p3","p4"]"#);
    let b = js(r#"["p3","p5","p1","p6"]"#);
    let web = Experiments::new(
        js(interleaving),
        JsValue::UNDEFINED,
        JsValue::UNDEFINED,
        false,
    )
    .unwrap();
    let out = web
        .interleave(JsValue::from(exp.id.as_str()), a.clone(), b.clone(), 4, now)
        .unwrap();
    let ids: Vec<String> = js_sys::Array::from(&get(&out, "ids"))
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    let teams: Vec<f64> = js_sys::Array::from(&get(&out, "teams"))
        .iter()
        .filter_map(|v| v.as_f64())
        .collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(teams.len(), 4);
    let lists = [["p1", "p2", "p3", "p4"], ["p3", "p5", "p1", "p6"]];
    let mut picks = [0usize; 2];
    for (i, (id, team)) in ids.iter().zip(&teams).enumerate() {
        let t = *team as usize;
        assert!(
            picks[t] <= picks[1 - t],
            "team {t} picks only when not ahead"
        );
        let best = lists[t].iter().find(|x| !ids[..i].iter().any(|s| s == *x));
        assert_eq!(best.copied(), Some(id.as_str()), "pick {i}");
        picks[t] += 1;
    }
    // Not interleaved: outside the dates, an A/B experiment, bad lists.
    let err = web
        .interleave(
            JsValue::from(exp.id.as_str()),
            a.clone(),
            b.clone(),
            4,
            exp.end_ms + DAY,
        )
        .expect_err("outside the dates");
    assert_eq!(code_and_path(&err).0, "not_interleaved");
    let ab = Experiments::new(js(MANIFEST), JsValue::UNDEFINED, JsValue::UNDEFINED, false).unwrap();
    let ab_id = ab.ids()[0].clone();
    let err = ab
        .interleave(JsValue::from(ab_id.as_str()), a.clone(), b, 4, now)
        .expect_err("A/B");
    assert_eq!(code_and_path(&err).0, "not_interleaved");
    let err = web
        .interleave(
            JsValue::from(exp.id.as_str()),
            a.clone(),
            js(r#"[1, 2]"#),
            4,
            now,
        )
        .expect_err("not strings");
    assert_eq!(code_and_path(&err).0, "invalid_argument");
    // A page's k of -1 arrives as 2^32 - 1: an error, not a reservation that overflows.
    let err = web
        .interleave(JsValue::from(exp.id.as_str()), a.clone(), a, u32::MAX, now)
        .expect_err("k");
    assert_eq!(code_and_path(&err).0, "invalid_argument");
}

/// Strings the page hands the experiments, too long to copy (a string of 2²⁹ characters
/// trapped the module in wasm-bindgen's copy) or not strings at all: an experiment id is an
/// `invalid_argument` error; a device id is one that does not parse (a fresh id, said in
/// `stateIssue`). The experiments keep answering.
#[wasm_bindgen_test]
fn long_or_wrong_ids_are_errors_not_traps() {
    let long = js_sys::Function::new_no_args("return 'x'.repeat(2 ** 26 + 1)")
        .call0(&JsValue::NULL)
        .unwrap();
    let web = Experiments::new(js(MANIFEST), JsValue::UNDEFINED, long.clone(), false).unwrap();
    assert!(web.new_device_id(), "a fresh id replaces the unusable one");
    assert_eq!(
        get(&web.state_issue(), "code").as_string().as_deref(),
        Some("device_id")
    );
    for bad in [long, JsValue::from(42), JsValue::NULL] {
        let err = web.assign(bad, 1.8e12).expect_err("an error");
        let (code, _) = code_and_path(&err);
        assert_eq!(code, "invalid_argument");
    }
    let id = get(&js(MANIFEST), "experiments");
    let first = js_sys::Array::from(&id).get(0);
    let a = web.assign(get(&first, "id"), 1.8e12).unwrap();
    assert!(get(&a, "enrolled").as_bool().is_some());
    // An event name too long to copy is not one of the names, and is not repeated.
    let mut web = web;
    let long = js_sys::Function::new_no_args("return 'x'.repeat(2 ** 26 + 1)")
        .call0(&JsValue::NULL)
        .unwrap();
    for bad in [long, JsValue::from(7)] {
        let err = web
            .record(get(&first, "id"), bad, 0.0, 1.8e12)
            .expect_err("an unknown event");
        let (code, _) = code_and_path(&err);
        assert_eq!(code, "invalid_event");
        let message = String::from(err.dyn_into::<js_sys::Error>().unwrap().message());
        assert!(message.len() < 200, "{message}");
    }
}
