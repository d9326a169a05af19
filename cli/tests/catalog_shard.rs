//! `vitrine catalog shard`: a head bundle of the most popular products and shards by category
//! (deltas of kind `shard` naming the head), with a manifest whose SRI hashes match the files;
//! every product exactly once; compact bundles give compact shards; bad arguments are usage errors.

mod common;

use std::collections::BTreeSet;

use base64::Engine as _;
use common::{code, fixture, json, s, text, vitrine};
use sha2::{Digest, Sha384};

/// The fixture bundle with a catalog: 30 products in three categories (ten each).
fn bundle_with_catalog(name: &str) -> (common::Fixture, std::path::PathBuf) {
    let f = fixture(name);
    let catalog = f.dir.join("catalog.csv");
    let mut rows = String::from("id,title,category,price\n");
    for i in 0..30 {
        rows.push_str(&format!("item{i},Item {i},group{},{}.5\n", i / 10, i + 1));
    }
    std::fs::write(&catalog, rows).unwrap();
    let full = f.dir.join("full.vtr");
    let o = vitrine(&[
        "catalog",
        "update",
        "--bundle",
        s(&f.bundle),
        "--catalog",
        s(&catalog),
        "--out",
        s(&full),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    (f, full)
}

fn shard(
    full: &std::path::Path,
    out: &std::path::Path,
    head: &str,
    max: &str,
) -> serde_json::Value {
    let o = vitrine(&[
        "catalog",
        "shard",
        "--bundle",
        s(full),
        "--head",
        head,
        "--max-shard-items",
        max,
        "--out-dir",
        s(out),
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    json(&o)
}

fn records(path: &std::path::Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    // The records are JSON Lines inside the file; pick the ids out of them.
    text.split("\"id\":\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

#[test]
fn a_head_and_shards_cover_the_catalog_once_with_matching_hashes() {
    let (f, full) = bundle_with_catalog("shard-cut");
    let dir = f.dir.join("set");
    let m = shard(&full, &dir, "8", "6");
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("shards.json")).unwrap()).unwrap();
    assert_eq!(on_disk["shards"], m["shards"]);
    assert_eq!(m["format"], "vitrine-shards");
    assert_eq!(
        (m["items"].as_u64(), m["head"]["items"].as_u64()),
        (Some(30), Some(8))
    );
    let head = json(&vitrine(&[
        "inspect",
        "--bundle",
        s(&dir.join("head.vtr")),
        "--json",
    ]));
    assert_eq!(
        (head["kind"].as_str(), head["items"].as_u64()),
        (Some("bundle"), Some(8))
    );
    let full_info = json(&vitrine(&["inspect", "--bundle", s(&full), "--json"]));
    assert_eq!(m["source_digest"], full_info["digest"]["value"]);

    let mut seen: BTreeSet<String> = records(&dir.join("head.vtr")).into_iter().collect();
    assert_eq!(seen.len(), 8);
    let mut total = 8;
    let files = std::iter::once(&m["head"]).chain(m["shards"].as_array().unwrap());
    for e in files {
        let path = dir.join(e["url"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        let sri = base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&bytes));
        assert_eq!(
            e["integrity"],
            format!("sha384-{sri}"),
            "{}",
            path.display()
        );
        assert_eq!(e["bytes"].as_u64(), Some(bytes.len() as u64));
        if e["categories"].is_null() {
            continue; // the head
        }
        let info = json(&vitrine(&["inspect", "--bundle", s(&path), "--json"]));
        assert_eq!(info["kind"], "shard", "{info}");
        assert_eq!(info["catalog_update"]["base"], head["digest"]["value"]);
        assert_eq!(info["catalog_update"]["base_items"], 8);
        assert_eq!(info["items"], e["items"]);
        assert!(e["items"].as_u64().unwrap() <= 6, "{e}");
        total += e["items"].as_u64().unwrap();
        for id in records(&path) {
            assert!(seen.insert(id.clone()), "{id} twice");
        }
        // A shard's categories are what its products are in.
        assert!(!e["categories"].as_array().unwrap().is_empty(), "{e}");
    }
    assert_eq!(total, 30);
    assert_eq!(seen.len(), 30, "every product once: {seen:?}");
    // The text summary says where the manifest went.
    let o = vitrine(&[
        "catalog",
        "shard",
        "--bundle",
        s(&full),
        "--head",
        "8",
        "--out-dir",
        s(&f.dir.join("set2")),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("shards.json"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn a_compact_bundle_gives_compact_shards_and_bad_arguments_are_refused() {
    let (f, full) = bundle_with_catalog("shard-compact");
    let compact = f.dir.join("compact.vtr");
    let o = vitrine(&[
        "compact",
        "--bundle",
        s(&full),
        "--out",
        s(&compact),
        "--pq-subspaces",
        "4",
        "--pq-centroids",
        "16",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let dir = f.dir.join("cset");
    let m = shard(&compact, &dir, "10", "100");
    for e in m["shards"].as_array().unwrap() {
        let info = json(&vitrine(&[
            "inspect",
            "--bundle",
            s(&dir.join(e["url"].as_str().unwrap())),
            "--json",
        ]));
        assert_eq!(info["quantization"]["kind"], "product", "{info}");
    }
    // Every product keeps the source's codes, byte for byte, in the head or its shard.
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    let source = vitrine::Bundle::from_bytes(read(&compact)).unwrap();
    let mut seen = 0;
    let files = std::iter::once(&m["head"]).chain(m["shards"].as_array().unwrap());
    for (i, e) in files.enumerate() {
        let bytes = read(&dir.join(e["url"].as_str().unwrap()));
        let b = if i == 0 {
            vitrine::Bundle::from_bytes(bytes)
        } else {
            vitrine::Bundle::from_bytes_delta(bytes)
        }
        .unwrap();
        for (row, id) in b.ids().iter().enumerate() {
            let src = source.index_of(id).unwrap() as usize;
            assert_eq!(b.codes(row), source.codes(src), "{id}");
            assert_eq!(b.codes(row).len(), 4);
            seen += 1;
        }
    }
    assert_eq!(seen, source.n_items());
    // --head 0, --head ≥ the catalog, --max-shard-items 0: usage errors (exit 2), nothing written.
    for (head, max) in [("0", "5"), ("30", "5"), ("5", "0")] {
        let out = f.dir.join(format!("bad-{head}-{max}"));
        let o = vitrine(&[
            "catalog",
            "shard",
            "--bundle",
            s(&full),
            "--head",
            head,
            "--max-shard-items",
            max,
            "--out-dir",
            s(&out),
        ]);
        assert_eq!(code(&o), 2, "{head} {max}: {}", text(&o.stderr));
        assert!(!out.join("shards.json").exists());
    }
}
