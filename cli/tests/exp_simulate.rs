//! The simulator suite, with fewer shoppers and repetitions than `scripts/bench-experiments`
//! (which measures the acceptance figures at n = 100,000 and 2,000 repetitions): each scenario
//! runs through the real assignment, report and analysis code and must be unbiased within its
//! Monte Carlo error, cover the truth at about the nominal rate, match the analytic interval
//! width where there is one, and keep false positives near α. Bounds are 4 Monte Carlo standard
//! errors wide, so a correct estimator fails about once in 30,000 runs and a biased or
//! mis-scaled one fails outright; the seeds are fixed, so the suite is deterministic.

use std::process::Command;

use serde_json::Value;

fn simulate(scenario: &str, n: usize, reps: usize, extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args([
            "exp",
            "simulate",
            "--scenario",
            scenario,
            "--json",
            "--seed",
            "7",
        ])
        .args(["--n", &n.to_string(), "--reps", &reps.to_string()])
        .args(extra)
        .output()
        .expect("run vitrine");
    assert!(
        out.status.success(),
        "{scenario}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("simulate JSON")
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .or_else(|| v["extra"][key].as_f64())
        .unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// Unbiased within 4 Monte Carlo standard errors, coverage within 4 binomial standard errors
/// of 95 %, and (where given) the analytic half-width within 5 %.
fn check_estimator(v: &Value) {
    let name = v["scenario"].as_str().unwrap_or("?").to_string();
    let reps = f(v, "reps");
    let mc = f(v, "monte_carlo_se_of_mean_estimate");
    assert!(
        f(v, "bias").abs() <= 4.0 * mc,
        "{name}: bias {} vs Monte Carlo SE {mc}",
        f(v, "bias")
    );
    let cov_sd = (0.95f64 * 0.05 / reps).sqrt();
    assert!(
        (f(v, "coverage") - 0.95).abs() <= 4.0 * cov_sd,
        "{name}: coverage {}",
        f(v, "coverage")
    );
    if let Some(a) = v["analytic_half_width"].as_f64() {
        let hw = f(v, "mean_half_width");
        assert!(
            (hw / a - 1.0).abs() <= 0.05,
            "{name}: half-width {hw} vs analytic {a}"
        );
    }
}

#[test]
fn conversion_layer0_and_cuped() {
    let plain = simulate("conversion-layer0", 20_000, 100, &[]);
    check_estimator(&plain);
    let cuped = simulate("conversion-cuped", 20_000, 100, &[]);
    check_estimator(&cuped);
    // ρ = 0.5 by construction: CUPED's interval is √(1 − ρ²) ≈ 0.87 of the plain one.
    let rho = f(&cuped, "covariate_correlation");
    assert!((rho - 0.5).abs() < 0.03, "{rho}");
    let ratio = f(&cuped, "mean_half_width") / f(&cuped, "plain_half_width");
    assert!((ratio - 0.866).abs() < 0.02, "{ratio}");
}

#[test]
fn layer1_randomized_response_is_unbiased_with_the_analytic_width() {
    check_estimator(&simulate("conversion-ldp", 20_000, 60, &["--epsilon", "1"]));
    check_estimator(&simulate(
        "shelf-click-ldp",
        20_000,
        60,
        &["--epsilon", "2"],
    ));
}

#[test]
fn aa_false_positives_and_sequential_looks() {
    let v = simulate("aa-sequential", 10_000, 200, &["--looks", "20"]);
    check_estimator(&v);
    let sd = (0.05f64 * 0.95 / 200.0).sqrt();
    let fixed = f(&v, "rejection_rate");
    assert!(
        (fixed - 0.05).abs() <= 4.0 * sd,
        "fixed-horizon false positives {fixed}"
    );
    // Peeking at a fixed interval 20 times inflates false positives; the always-valid one does not.
    let peeking = f(&v, "peeking_rejection_rate");
    let sequential = f(&v, "sequential_rejection_rate");
    assert!(peeking > fixed + 0.04, "peeking {peeking} vs fixed {fixed}");
    assert!(sequential <= 0.05 + 4.0 * sd, "sequential {sequential}");
}

#[test]
fn srm_check_has_no_false_alarms_and_sees_lost_pings() {
    let v = simulate("srm", 50_000, 20, &["--loss", "0.05"]);
    check_estimator(&v);
    assert!(
        f(&v, "null_rejection_rate") <= 0.05,
        "{}",
        f(&v, "null_rejection_rate")
    );
    // 5 % of the treatment's pings lost at n = 50,000: found nearly always.
    assert!(
        f(&v, "rejection_rate") >= 0.9,
        "{}",
        f(&v, "rejection_rate")
    );
}

#[test]
fn ope_covers_the_candidates_value_and_beats_the_naive_estimate() {
    let v = simulate("ope", 20_000, 50, &[]);
    check_estimator(&v);
    assert!(f(&v, "rmse_dr") < f(&v, "rmse_naive"), "{v}");
    assert!(f(&v, "rmse_snips") < f(&v, "rmse_naive"), "{v}");
    // The naive estimate (the logging shelf's own click rate) is far off: the test has teeth.
    assert!((f(&v, "naive_mean") - f(&v, "truth")).abs() > 0.1, "{v}");
}

/// The default release (the shelf cut) through the engine's own exploration coin, draw and
/// reported probabilities: what a page logs with the `ope` option.
#[test]
fn ope_of_the_shelf_cut_covers_the_candidates_value() {
    let v = simulate("ope-cut", 20_000, 50, &[]);
    check_estimator(&v);
    assert!(f(&v, "rmse_dr") < f(&v, "rmse_naive"), "{v}");
    assert!(f(&v, "rmse_snips") < f(&v, "rmse_naive"), "{v}");
    // Logging at ε 1 shows the key less often than the candidate at ε 2 would: naive is low.
    assert!(f(&v, "truth") - f(&v, "naive_mean") > 0.05, "{v}");
}

#[test]
fn identical_rankers_interleaved_split_the_credit() {
    let v = simulate("interleaving", 20_000, 60, &[]);
    check_estimator(&v);
    let m = f(&v, "mean_estimate");
    assert!((0.49..=0.51).contains(&m), "{m}");
}

#[test]
fn simulations_are_reproducible_by_seed() {
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("seconds");
        v
    };
    let a = strip(simulate("shelf-click-ldp", 2_000, 5, &[]));
    let b = strip(simulate("shelf-click-ldp", 2_000, 5, &[]));
    assert_eq!(a, b);
    let out = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(["exp", "simulate", "--scenario", "nope", "--json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
