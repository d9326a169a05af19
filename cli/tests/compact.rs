//! Compact bundles from the command line: `vitrine compact` on a trained bundle (deterministic,
//! smaller, still evaluates), `train --compact`, `pack --compact`, `catalog update` keeping a
//! compact bundle compact, `inspect --json` reporting it, and bad options refused.

mod common;

use common::*;

fn inspect(path: &std::path::Path) -> serde_json::Value {
    let o = vitrine(&["inspect", "--bundle", s(path), "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    json(&o)
}

fn hit_rate(bundle: &std::path::Path, test: &std::path::Path) -> f64 {
    let o = vitrine(&["eval", "--bundle", s(bundle), "--test", s(test), "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    json(&o)["hit_rate"].as_f64().unwrap()
}

#[test]
fn compact_a_trained_bundle() {
    let f = fixture("compact-trained");
    let out = f.dir.join("c.vtr");
    let args = [
        "compact",
        "--bundle",
        s(&f.bundle),
        "--out",
        s(&out),
        "--pq-subspaces",
        "4",
        "--json",
    ];
    let o = vitrine(&args);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let summary = json(&o);
    assert_eq!(summary["subspaces"], 4);
    assert_eq!(summary["centroids"], 30, "no more centroids than items");
    // Deterministic: the same bundle and options give the same bytes.
    let first = std::fs::read(&out).unwrap();
    assert_eq!(code(&vitrine(&args)), 0);
    assert_eq!(std::fs::read(&out).unwrap(), first);

    let (full, compact) = (inspect(&f.bundle), inspect(&out));
    assert_eq!(compact["format_version"], "3");
    assert_eq!(compact["quantization"]["kind"], "product");
    assert_eq!(compact["optional_parts"]["compact"]["subspaces"], 4);
    assert_eq!(compact["optional_parts"]["compact"]["ids_coding"], "front");
    // Per item: 4 code bytes instead of 8 int8 values and a 4-byte scale (at 30 items the fixed
    // codebooks outweigh that; at Diginetica's 43,097 they are 0.8 bytes per item).
    let per_item = |v: &serde_json::Value, name: &str| {
        v["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["bytes_per_item"].as_f64().unwrap())
    };
    assert_eq!(per_item(&compact, "item_codes"), Some(4.0));
    assert_eq!(per_item(&full, "item_emb"), Some(8.0));
    assert_eq!(per_item(&compact, "item_emb"), None);
    assert!(compact["bytes_per_item"].as_f64().unwrap() > 0.0);
    assert_eq!(compact["items"], full["items"]);
    // The sequential log stays easy to predict from the compact vectors.
    let (h_full, h_compact) = (hit_rate(&f.bundle, &f.test), hit_rate(&out, &f.test));
    assert!(
        h_full > 0.5 && h_compact > 0.9 * h_full,
        "{h_full} vs {h_compact}"
    );

    // A catalog update of a compact bundle stays compact (same codebooks).
    let catalog = f.dir.join("catalog.jsonl");
    let lines: Vec<String> = (0..30)
        .map(|i| {
            let stock = if i == 3 { "out_of_stock" } else { "in_stock" };
            format!(r#"{{"id": "item{i}", "price": {i}.5, "availability": "{stock}"}}"#)
        })
        .collect();
    std::fs::write(&catalog, lines.join("\n")).unwrap();
    let updated = f.dir.join("u.vtr");
    let o = vitrine(&[
        "catalog",
        "update",
        "--bundle",
        s(&out),
        "--catalog",
        s(&catalog),
        "--out",
        s(&updated),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let u = inspect(&updated);
    assert_eq!(u["format_version"], "3");
    assert_eq!(u["optional_parts"]["compact"]["subspaces"], 4);
    assert_eq!(u["optional_parts"]["prices"]["items_with_price"], 30);
    let load =
        |p: &std::path::Path| vitrine::Bundle::from_bytes(std::fs::read(p).unwrap()).unwrap();
    let (before, after) = (load(&out), load(&updated));
    assert_eq!(
        after.pq().unwrap().codebooks(),
        before.pq().unwrap().codebooks()
    );
    let row = |id: &str| after.index_of(id).unwrap() as usize;
    assert!(!after.is_available(row("item3")) && after.is_available(row("item4")));
    assert_eq!(after.price(row("item4")), Some(4.5));
}

/// `compact --events`: the codebooks and the session readout are fine-tuned through the codes on
/// the log (same size, same codes, other centroids), deterministically; the training loss falls
/// and the ranking is at least as good as the untuned compact bundle's on the held-out log.
#[test]
fn compact_fine_tunes_on_a_log() {
    let f = fixture("compact-tune");
    let (plain, tuned) = (f.dir.join("plain.vtr"), f.dir.join("tuned.vtr"));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "compact",
            "--bundle",
            s(&f.bundle),
            "--pq-subspaces",
            "2",
            "--json",
        ];
        args.extend(extra);
        let o = vitrine(&args);
        assert_eq!(code(&o), 0, "{}", text(&o.stderr));
        json(&o)
    };
    let p = run(&["--out", s(&plain)]);
    assert!(p.get("fine_tune").is_none(), "{p}");
    let tune = [
        "--out",
        s(&tuned),
        "--events",
        s(&f.train),
        "--pq-tune-epochs",
        "4",
    ];
    let t = run(&tune);
    let report = &t["fine_tune"];
    assert_eq!(report["epochs"], 4, "{t}");
    assert_eq!(t["events_unknown_item"], 0);
    let losses: Vec<f64> = report["losses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_f64().unwrap())
        .collect();
    assert_eq!(losses.len(), 4);
    assert!(losses[3] < losses[0], "{losses:?}");
    assert_eq!(t["bytes"], p["bytes"], "the same size");
    let first = std::fs::read(&tuned).unwrap();
    run(&tune);
    assert_eq!(std::fs::read(&tuned).unwrap(), first, "deterministic");

    let load =
        |p: &std::path::Path| vitrine::Bundle::from_bytes(std::fs::read(p).unwrap()).unwrap();
    let (a, b) = (load(&plain), load(&tuned));
    for i in 0..a.n_items() {
        assert_eq!(a.codes(i), b.codes(i), "item {i}'s codes");
    }
    assert_ne!(a.pq().unwrap().codebooks(), b.pq().unwrap().codebooks());
    assert_ne!(a.session_readout(), b.session_readout());
    let (h_plain, h_tuned) = (hit_rate(&plain, &f.test), hit_rate(&tuned, &f.test));
    assert!(h_tuned >= h_plain, "{h_plain} → {h_tuned}");

    // A log of items the bundle does not have leaves nothing to tune on; --events without
    // epochs to tune would be ignored: both refused, nothing written.
    let other = f.dir.join("other.csv");
    std::fs::write(&other, "session_id,item_id,timestamp\ns1,zz1,1\ns1,zz2,2\n").unwrap();
    let none = f.dir.join("none.vtr");
    let base = ["compact", "--bundle", s(&f.bundle), "--out", s(&none)];
    for (log, extra, why) in [
        (
            &other,
            &["--pq-tune-epochs", "1"][..],
            "nothing to fine-tune on",
        ),
        (&f.train, &[][..], "give --pq-tune-epochs"),
    ] {
        let mut args = base.to_vec();
        args.extend(["--events", s(log)]);
        args.extend(extra.iter().copied());
        let o = vitrine(&args);
        assert_eq!(code(&o), 2, "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains(why), "{}", text(&o.stderr));
        assert!(!none.exists());
    }
    // Bad settings are usage errors and write nothing; a packed bundle has no readout to tune.
    let packed = f.dir.join("packed.vtr");
    let o = pack(&f.dir, &packed, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    for (bundle, bad) in [
        (
            &f.bundle,
            &["--pq-tune-epochs", "1", "--pq-tune-learning-rate", "0"][..],
        ),
        (&packed, &["--pq-tune-epochs", "1"][..]),
    ] {
        let out = f.dir.join("bad.vtr");
        let mut args = vec!["compact", "--bundle", s(bundle), "--out", s(&out)];
        args.extend(["--events", s(&f.train)]);
        args.extend(bad.iter().copied());
        let o = vitrine(&args);
        assert_eq!(code(&o), 2, "{bad:?}: {}", text(&o.stderr));
        assert!(!out.exists());
    }
}

#[test]
fn train_and_pack_write_compact_bundles() {
    let dir = scratch("compact-train-pack");
    let (train, out) = (dir.join("train.csv"), dir.join("t.vtr"));
    std::fs::write(&train, log_csv(200, 4)).unwrap();
    let mut args = vec![
        "train",
        "--events",
        s(&train),
        "--out",
        s(&out),
        "--compact",
        "--pq-tune-epochs",
        "1",
    ];
    args.extend(TRAIN_FLAGS);
    let o = vitrine(&args);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("compact: 8 sub-spaces"),
        "{}",
        text(&o.stdout)
    );
    // Trained here, with the epochs asked for: fine-tuned through the codes.
    assert!(
        text(&o.stdout).contains("fine-tuned through the codes on"),
        "{}",
        text(&o.stdout)
    );
    let t = inspect(&out);
    assert_eq!(t["format_version"], "3");
    assert_eq!(t["metadata"]["pq.unit_norm"], "true");
    // Without --dim, `train --compact` trains 48 dimensions in 21 sub-spaces; without
    // --compact, 64 (the defaults' choice: docs/quality.md, "Compact bundles"). Without
    // --neighbours, a compact bundle has no co-occurrence lists (they are not compacted) and a
    // full one has them; --neighbours still adds them to a compact bundle.
    for (compact, neighbours, dim, subspaces, lists) in [
        (true, None, 48, Some(21), false),
        (true, Some("10"), 48, Some(21), true),
        (false, None, 64, None, true),
    ] {
        let out = dir.join(format!("default-{compact}-{neighbours:?}.vtr"));
        let mut args = vec!["train", "--events", s(&train), "--out", s(&out)];
        args.extend(["--epochs", "1", "--batch", "256", "--seed", "3"]);
        if compact {
            args.push("--compact");
        }
        if let Some(n) = neighbours {
            args.extend(["--neighbours", n]);
        }
        let o = vitrine(&args);
        assert_eq!(code(&o), 0, "{}", text(&o.stderr));
        let t = inspect(&out);
        assert_eq!(t["dim"], dim, "compact: {compact}");
        assert_eq!(
            t["optional_parts"]["compact"]["subspaces"].as_u64(),
            subspaces
        );
        assert_eq!(
            t["optional_parts"]["neighbours"]["entries"]
                .as_u64()
                .is_some(),
            lists,
            "compact: {compact}, --neighbours {neighbours:?}: {t}"
        );
    }

    let packed = dir.join("p.vtr");
    let o = pack(&dir, &packed, &["--compact", "--pq-subspaces", "3"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("compact mean cosine"),
        "{}",
        text(&o.stdout)
    );
    let p = inspect(&packed);
    assert_eq!(p["format_version"], "3");
    assert_eq!(p["optional_parts"]["compact"]["centroids"], 5);
    // Bad options are usage errors, and nothing is written.
    for bad in [
        ["--pq-subspaces", "0"],
        ["--pq-subspaces", "4"],
        ["--pq-eta", "0.5"],
    ] {
        let out = dir.join("bad.vtr");
        let o = pack(&dir, &out, &["--compact", bad[0], bad[1]]);
        assert_eq!(code(&o), 2, "{bad:?}: {}", text(&o.stderr));
        assert!(!out.exists());
    }
}
