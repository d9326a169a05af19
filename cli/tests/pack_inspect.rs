//! `vitrine pack` and `vitrine inspect`, through the built binary: inputs in every supported form,
//! and for bad input a non-zero exit, a message naming the file, what was expected and what was
//! found, and no output file left behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vitrine::Bundle;

fn vitrine(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(args)
        .output()
        .expect("run vitrine")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh directory under the target dir for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("pack_inspect")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A .npy file (format 1.0), as numpy writes it.
fn npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape = match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let order = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// 6 items × 4 dims, not unit length.
fn matrix() -> Vec<f32> {
    (0..24)
        .map(|k| ((k * 7 % 11) as f32 - 5.0) * 0.3 + if k % 5 == 0 { 2.0 } else { 0.0 })
        .collect()
}

const IDS: &str = "p1\np2\np3\np4\np5\np6\n";

struct Inputs {
    dir: PathBuf,
    emb: PathBuf,
    ids: PathBuf,
    out: PathBuf,
}

fn inputs(name: &str) -> Inputs {
    let dir = scratch(name);
    let emb = dir.join("emb.npy");
    std::fs::write(&emb, npy("<f4", false, &[6, 4], &f32_bytes(&matrix()))).unwrap();
    let ids = dir.join("ids.txt");
    std::fs::write(&ids, IDS).unwrap();
    let out = dir.join("store.vtr");
    Inputs { dir, emb, ids, out }
}

fn normalized_row(m: &[f32], i: usize) -> Vec<f32> {
    let r = &m[i * 4..(i + 1) * 4];
    let n = r.iter().map(|x| x * x).sum::<f32>().sqrt();
    r.iter().map(|x| x / n).collect()
}

fn assert_rows_close(b: &Bundle, expected: impl Fn(usize) -> Vec<f32>) {
    for i in 0..b.n_items() {
        let got = b.dequantized_row(i);
        let want = expected(i);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() <= b.scales()[i] / 2.0 + 1e-5,
                "row {i}: {got:?} vs {want:?}"
            );
        }
    }
}

/// The failure contract: non-zero exit, the message names `needles`, no output or temp file.
fn assert_fails(o: &Output, dir: &Path, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "should fail; stdout: {}", stdout(o));
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".vtr"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[test]
fn pack_npy_with_popularity_and_catalog_then_inspect() {
    let i = inputs("full");
    let pop = i.dir.join("pop.txt");
    std::fs::write(&pop, "10\n0\n3.5\n1\n2\n0\n").unwrap();
    let catalog = i.dir.join("catalog.csv");
    std::fs::write(
        &catalog,
        "id,title,category,price\np1,Red shoe,shoes,19.90\np2,Hat,hats,\np4,Blue shoe,shoes,25\nzz,Gone,hats,1\np6,Sock,,3\n",
    )
    .unwrap();
    let o = vitrine(&[
        "pack",
        "--embeddings",
        s(&i.emb),
        "--ids",
        s(&i.ids),
        "--popularity",
        s(&pop),
        "--catalog",
        s(&catalog),
        "--out",
        s(&i.out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("packed 6 items × 4 dims"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("1 rows name ids that are not in --ids"),
        "{}",
        stderr(&o)
    );

    let b = Bundle::from_bytes(std::fs::read(&i.out).unwrap()).unwrap();
    assert_eq!(b.ids().to_vec(), ["p1", "p2", "p3", "p4", "p5", "p6"]);
    assert_eq!(*b.popularity(), [10.0, 0.0, 3.5, 1.0, 2.0, 0.0]);
    assert_eq!(b.category_names().unwrap(), ["shoes", "hats"]);
    let cats: Vec<_> = (0..6).map(|k| b.category(k)).collect();
    assert_eq!(cats, [Some(0), Some(1), None, Some(0), None, None]);
    let prices: Vec<_> = (0..6).map(|k| b.price(k)).collect();
    assert_eq!(
        prices,
        [Some(19.9), None, None, Some(25.0), None, Some(3.0)]
    );
    let m = matrix();
    assert_rows_close(&b, |k| normalized_row(&m, k));
    assert_eq!(b.metadata()["pack.normalized"], "true");
    assert_eq!(b.metadata()["pack.source"], "emb.npy");

    let o = vitrine(&["inspect", s(&i.out), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["items"], 6);
    assert_eq!(r["dim"], 4);
    assert_eq!(r["digest"]["status"], "valid");
    assert!(r["quantization"]["mean_cosine"].as_f64().unwrap() > 0.99);
    assert_eq!(r["optional_parts"]["categories"]["count"], 2);
    assert_eq!(r["optional_parts"]["prices"]["items_with_price"], 3);
    let emb = r["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "item_emb")
        .unwrap();
    assert_eq!(emb["dtype"], "I8");
    assert_eq!(emb["shape"], serde_json::json!([6, 4]));
    assert_eq!(emb["bytes"], 24);
    assert_eq!(r["metadata"]["format"], "vitrine-bundle");

    let o = vitrine(&["inspect", s(&i.out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in [
        "6 × 4 dims",
        "digest        valid (sha256:",
        "mean cosine 0.99",
        "item_emb",
        "I8",
        "[6,4]",
        "format = vitrine-bundle",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }

    // The packed bundle serves recommendations.
    let o = vitrine(&[
        "recommend",
        "--bundle",
        s(&i.out),
        "--items",
        "p1",
        "--k",
        "3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 3);
}

#[test]
fn pack_fortran_order_float64_and_keep_norms() {
    let i = inputs("fortran");
    let m = matrix();
    // Column-major float64 on disk.
    let mut data = Vec::new();
    for c in 0..4 {
        for r in 0..6 {
            data.extend_from_slice(&f64::from(m[r * 4 + c]).to_le_bytes());
        }
    }
    std::fs::write(&i.emb, npy("<f8", true, &[6, 4], &data)).unwrap();
    let o = vitrine(&[
        "pack",
        "--embeddings",
        s(&i.emb),
        "--ids",
        s(&i.ids),
        "--keep-norms",
        "--out",
        s(&i.out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let b = Bundle::from_bytes(std::fs::read(&i.out).unwrap()).unwrap();
    assert_rows_close(&b, |k| m[k * 4..(k + 1) * 4].to_vec());
    assert_eq!(*b.popularity(), [0.0; 6]);
    assert_eq!(b.metadata()["pack.normalized"], "false");
}

#[test]
fn pack_big_endian_npy_and_npy_popularity() {
    let i = inputs("big-endian");
    let m = matrix();
    let be: Vec<u8> = m.iter().flat_map(|x| x.to_be_bytes()).collect();
    std::fs::write(&i.emb, npy(">f4", false, &[6, 4], &be)).unwrap();
    let pop = i.dir.join("pop.npy");
    let counts: Vec<u8> = [5i64, 4, 3, 2, 1, 0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::write(&pop, npy("<i8", false, &[6], &counts)).unwrap();
    let o = vitrine(&[
        "pack",
        "--embeddings",
        s(&i.emb),
        "--ids",
        s(&i.ids),
        "--popularity",
        s(&pop),
        "--out",
        s(&i.out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let b = Bundle::from_bytes(std::fs::read(&i.out).unwrap()).unwrap();
    assert_rows_close(&b, |k| normalized_row(&m, k));
    assert_eq!(*b.popularity(), [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]);
}

fn safetensors_file(tensors: &[(&str, safetensors::Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.to_string(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

#[test]
fn pack_safetensors_in_every_float_dtype() {
    use safetensors::Dtype;
    let i = inputs("safetensors");
    let m = matrix();
    let f16: Vec<u8> = m
        .iter()
        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
        .collect();
    let bf16: Vec<u8> = m
        .iter()
        .flat_map(|x| half::bf16::from_f32(*x).to_le_bytes())
        .collect();
    let f64b: Vec<u8> = m.iter().flat_map(|x| f64::from(*x).to_le_bytes()).collect();
    let st = i.dir.join("model.safetensors");
    for (dtype, data, tol) in [
        (Dtype::F32, f32_bytes(&m), 0.0),
        (Dtype::F16, f16, 2e-3),
        (Dtype::BF16, bf16, 1e-2),
        (Dtype::F64, f64b, 0.0),
    ] {
        std::fs::write(
            &st,
            safetensors_file(&[
                ("item_factors", dtype, vec![6, 4], data),
                ("bias", Dtype::F32, vec![6], vec![0; 24]),
            ]),
        )
        .unwrap();
        let o = vitrine(&[
            "pack",
            "--embeddings",
            s(&st),
            "--ids",
            s(&i.ids),
            "--keep-norms",
            "--out",
            s(&i.out),
        ]);
        assert!(o.status.success(), "{dtype:?}: {}", stderr(&o));
        let b = Bundle::from_bytes(std::fs::read(&i.out).unwrap()).unwrap();
        for k in 0..6 {
            for (g, w) in b.dequantized_row(k).iter().zip(&m[k * 4..(k + 1) * 4]) {
                assert!(
                    (g - w).abs() <= b.scales()[k] / 2.0 + tol * w.abs() + 1e-5,
                    "{dtype:?} row {k}: {g} vs {w}"
                );
            }
        }
        assert_eq!(
            b.metadata()["pack.source"],
            "model.safetensors:item_factors"
        );
    }
    // Several candidates: --tensor chooses, and its absence is an error listing them.
    std::fs::write(
        &st,
        safetensors_file(&[
            ("users", Dtype::F32, vec![2, 4], vec![0; 32]),
            ("items", Dtype::F32, vec![6, 4], f32_bytes(&m)),
        ]),
    )
    .unwrap();
    std::fs::remove_file(&i.out).unwrap();
    let o = vitrine(&[
        "pack",
        "--embeddings",
        s(&st),
        "--ids",
        s(&i.ids),
        "--out",
        s(&i.out),
    ]);
    assert_fails(
        &o,
        &i.dir,
        &[
            "model.safetensors",
            "several 2-D float tensors",
            "items, users",
            "--tensor",
        ],
    );
    let o = vitrine(&[
        "pack",
        "--embeddings",
        s(&st),
        "--tensor",
        "items",
        "--ids",
        s(&i.ids),
        "--out",
        s(&i.out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = vitrine(&[
        "pack",
        "--embeddings",
        s(&st),
        "--tensor",
        "nope",
        "--ids",
        s(&i.ids),
        "--out",
        s(&i.dir.join("x.vtr")),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no tensor named 'nope'") && stderr(&o).contains("items F32 [6, 4]"),
        "{}",
        stderr(&o)
    );
    let o = vitrine(&[
        "pack",
        "--embeddings",
        s(&st),
        "--tensor",
        "users",
        "--ids",
        s(&i.ids),
        "--out",
        s(&i.dir.join("x.vtr")),
    ]);
    assert!(stderr(&o).contains("2 rows"), "{}", stderr(&o));
}

#[test]
fn pack_reports_bad_embeddings_clearly() {
    let i = inputs("bad-embeddings");
    let pack = |emb: &Path| {
        vitrine(&[
            "pack",
            "--embeddings",
            s(emb),
            "--ids",
            s(&i.ids),
            "--out",
            s(&i.out),
        ])
    };
    let f = i.dir.join("e.npy");
    std::fs::write(&f, npy("<f4", false, &[24], &f32_bytes(&matrix()))).unwrap();
    assert_fails(
        &pack(&f),
        &i.dir,
        &[
            "e.npy",
            "expected a 2-D float32 or float64 array",
            "found dtype '<f4', shape [24]",
        ],
    );
    std::fs::write(&f, npy("<i4", false, &[6, 4], &[0; 96])).unwrap();
    assert_fails(
        &pack(&f),
        &i.dir,
        &["e.npy", "expected a 2-D float32", "'<i4'"],
    );
    let mut m = matrix();
    m[9] = f32::NAN;
    std::fs::write(&f, npy("<f4", false, &[6, 4], &f32_bytes(&m))).unwrap();
    assert_fails(
        &pack(&f),
        &i.dir,
        &["e.npy", "expected finite numbers", "NaN at row 2, column 1"],
    );
    let mut good = npy("<f4", false, &[6, 4], &f32_bytes(&matrix()));
    good.truncate(good.len() - 5);
    std::fs::write(&f, &good).unwrap();
    assert_fails(&pack(&f), &i.dir, &["e.npy"]);
    std::fs::write(&f, b"not numpy at all").unwrap();
    assert_fails(&pack(&f), &i.dir, &["e.npy", "not a valid .npy file"]);
    let csv = i.dir.join("e.csv");
    std::fs::write(&csv, "1,2\n").unwrap();
    assert_fails(
        &pack(&csv),
        &i.dir,
        &["e.csv", "expected a .npy or .safetensors file", "'csv'"],
    );
    assert_fails(
        &pack(&i.dir.join("missing.npy")),
        &i.dir,
        &["cannot read embeddings", "missing.npy"],
    );
    let st = i.dir.join("e.safetensors");
    std::fs::write(
        &st,
        safetensors_file(&[("ids", safetensors::Dtype::I64, vec![6], vec![0; 48])]),
    )
    .unwrap();
    assert_fails(
        &pack(&st),
        &i.dir,
        &[
            "e.safetensors",
            "expected a 2-D float tensor",
            "ids I64 [6]",
        ],
    );
    std::fs::write(&st, b"\x10\0\0\0\0\0\0\0{}").unwrap();
    assert_fails(
        &pack(&st),
        &i.dir,
        &["e.safetensors", "not a valid safetensors file"],
    );
}

#[test]
fn pack_reports_bad_ids_popularity_and_catalog_clearly() {
    let i = inputs("bad-side-files");
    let run = |extra: &[&str]| {
        let mut args = vec!["pack", "--embeddings", s(&i.emb), "--out", s(&i.out)];
        args.extend_from_slice(extra);
        vitrine(&args)
    };
    let ids = i.dir.join("ids2.txt");
    std::fs::write(&ids, "a\nb\nc\n").unwrap();
    assert_fails(
        &run(&["--ids", s(&ids)]),
        &i.dir,
        &["ids2.txt", "3 ids", "6 rows"],
    );
    std::fs::write(&ids, "a\nb\nc\nd\nb\nf\n").unwrap();
    assert_fails(
        &run(&["--ids", s(&ids)]),
        &i.dir,
        &["ids2.txt line 5", "'b' already appeared on line 2"],
    );
    std::fs::write(&ids, "a\nb\n\nd\ne\nf\n").unwrap();
    assert_fails(
        &run(&["--ids", s(&ids)]),
        &i.dir,
        &["ids2.txt line 3", "found an empty line"],
    );
    std::fs::write(&ids, b"a\nb\xff\nc\nd\ne\nf\n").unwrap();
    assert_fails(
        &run(&["--ids", s(&ids)]),
        &i.dir,
        &["ids2.txt", "UTF-8", "line 2"],
    );

    let ids = s(&i.ids);
    let pop = i.dir.join("pop.txt");
    std::fs::write(&pop, "1\n2\n3\n").unwrap();
    assert_fails(
        &run(&["--ids", ids, "--popularity", s(&pop)]),
        &i.dir,
        &["pop.txt", "expected 6 popularity values", "found 3"],
    );
    std::fs::write(&pop, "1\n2\nmany\n4\n5\n6\n").unwrap();
    assert_fails(
        &run(&["--ids", ids, "--popularity", s(&pop)]),
        &i.dir,
        &["pop.txt line 3", "expected a number, found 'many'"],
    );
    std::fs::write(&pop, "1\n2\n-3\n4\n5\n6\n").unwrap();
    assert_fails(
        &run(&["--ids", ids, "--popularity", s(&pop)]),
        &i.dir,
        &["pop.txt", "non-negative", "-3"],
    );

    let cat = i.dir.join("catalog.csv");
    std::fs::write(&cat, "sku,category\np1,shoes\n").unwrap();
    assert_fails(
        &run(&["--ids", ids, "--catalog", s(&cat)]),
        &i.dir,
        &["catalog.csv", "'id' column", "found: sku,category"],
    );
    std::fs::write(&cat, "id,price\np1,12\np2,cheap\n").unwrap();
    assert_fails(
        &run(&["--ids", ids, "--catalog", s(&cat)]),
        &i.dir,
        &["catalog.csv line 3", "expected a price", "'cheap'"],
    );
    std::fs::write(&cat, "id,price\np1,12\np1,13\n").unwrap();
    assert_fails(
        &run(&["--ids", ids, "--catalog", s(&cat)]),
        &i.dir,
        &["catalog.csv line 3", "'p1' appears twice"],
    );
}

#[test]
fn a_failed_pack_keeps_an_existing_bundle() {
    let i = inputs("keep-existing");
    std::fs::write(&i.out, b"previous bundle").unwrap();
    let o = vitrine(&[
        "pack",
        "--embeddings",
        s(&i.dir.join("nope.npy")),
        "--ids",
        s(&i.ids),
        "--out",
        s(&i.out),
    ]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&i.out).unwrap(), b"previous bundle");
}

#[test]
fn inspect_rejects_bad_bundles_and_flags_digests() {
    let i = inputs("inspect-bad");
    let o = vitrine(&[
        "pack",
        "--embeddings",
        s(&i.emb),
        "--ids",
        s(&i.ids),
        "--out",
        s(&i.out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let good = std::fs::read(&i.out).unwrap();

    let junk = i.dir.join("junk.vtr");
    std::fs::write(&junk, b"hello").unwrap();
    let o = vitrine(&["inspect", s(&junk)]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("junk.vtr") && stderr(&o).contains("truncated"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());

    let o = vitrine(&["inspect", s(&i.dir.join("absent.vtr"))]);
    assert!(
        !o.status.success() && stderr(&o).contains("cannot read bundle"),
        "{}",
        stderr(&o)
    );

    // One flipped bit in the embeddings: still readable, but the digest says no.
    let mut tampered = good.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let t = i.dir.join("tampered.vtr");
    std::fs::write(&t, &tampered).unwrap();
    let o = vitrine(&["inspect", s(&t), "--json"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("digest mismatch"), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["digest"]["status"], "mismatch");
    let o = vitrine(&["inspect", s(&t)]);
    assert!(stdout(&o).contains("MISMATCH"));
}
