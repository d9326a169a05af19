//! Bundles assembled by hand, the way a third party following `docs/bundle.md` would: tensors,
//! metadata, and a digest computed by an implementation of the spec independent of the crate's.
#![allow(dead_code)]

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use vitrine::bundle::{BundleParts, CategoryParts, ContextParts, HeadParts};
use vitrine::{Bundle, BundleError};

/// One tensor as written to the file.
#[derive(Debug, Clone)]
pub struct T {
    pub name: String,
    pub dtype: &'static str,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

pub fn t(name: &str, dtype: &'static str, shape: &[usize], data: Vec<u8>) -> T {
    T {
        name: name.into(),
        dtype,
        shape: shape.to_vec(),
        data,
    }
}

pub fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn i32s(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn u32s(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A valid 3-item, 2-dim bundle with every optional part:
/// items a, b, c; categories shoes/hats (c has none… b has none); neighbours a→{b,c}, b→{a}.
pub fn base_tensors() -> Vec<T> {
    vec![
        t("item_ids", "U8", &[5], b"a\nb\nc".to_vec()),
        t("item_emb", "I8", &[3, 2], vec![127, 0, 0, 127, 90, 90]),
        t("item_scale", "F32", &[3], f32s(&[0.01, 0.02, 0.5])),
        t("item_pop", "F32", &[3], f32s(&[10.0, 0.0, 3.5])),
        t("item_cat", "I32", &[3], i32s(&[0, -1, 1])),
        t("cat_names", "U8", &[10], b"shoes\nhats".to_vec()),
        t("item_price", "F32", &[3], f32s(&[19.5, -1.0, 0.0])),
        t("nbr_offsets", "U32", &[4], u32s(&[0, 2, 3, 3])),
        t("nbr_items", "U16", &[3], u16s(&[1, 2, 0])),
        t("nbr_weights", "U8", &[3], vec![255, 10, 128]),
        t("session_pos_weights", "F32", &[2], f32s(&[1.0, 0.5])),
        t("head_weights", "F32", &[2], f32s(&[0.5, 1.5])),
        t("ctx_weights", "F32", &[2, 2], f32s(&[0.1, 0.2, 0.3, 0.4])),
    ]
}

pub fn base_meta() -> BTreeMap<String, String> {
    [
        ("format", "vitrine-bundle"),
        ("format_version", "1"),
        ("nbr.scale", "0.01"),
        ("head.features", "sim,pop"),
        ("ctx.features", "hour=13,device=mobile"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The digest as `docs/bundle.md` specifies it, written from the spec alone.
pub fn spec_digest(meta: &BTreeMap<String, String>, tensors: &[T]) -> String {
    fn lp(h: &mut Sha256, b: &[u8]) {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    }
    let mut h = Sha256::new();
    h.update(b"vitrine-bundle-digest-v1\n");
    let keys: Vec<_> = meta.iter().filter(|(k, _)| *k != "digest").collect();
    h.update((keys.len() as u64).to_le_bytes());
    for (k, v) in keys {
        lp(&mut h, k.as_bytes());
        lp(&mut h, v.as_bytes());
    }
    let mut sorted: Vec<&T> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    h.update((sorted.len() as u64).to_le_bytes());
    for t in sorted {
        lp(&mut h, t.name.as_bytes());
        lp(&mut h, t.dtype.as_bytes());
        h.update((t.shape.len() as u64).to_le_bytes());
        for d in &t.shape {
            h.update((*d as u64).to_le_bytes());
        }
        lp(&mut h, &t.data);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A safetensors file: 8-byte header length, header JSON (tensors in the given order, packed
/// back to back), data. With `sign`, the spec digest is added to the metadata first.
pub fn assemble(meta: &BTreeMap<String, String>, tensors: &[T], sign: bool) -> Vec<u8> {
    let mut meta = meta.clone();
    if sign {
        meta.insert("digest".into(), spec_digest(&meta, tensors));
    }
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::to_value(&meta).unwrap());
    let mut at = 0usize;
    for t in tensors {
        header.insert(
            t.name.clone(),
            serde_json::json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [at, at + t.data.len()]}),
        );
        at += t.data.len();
    }
    let json = serde_json::to_string(&header).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(json.as_bytes());
    for t in tensors {
        out.extend_from_slice(&t.data);
    }
    out
}

/// The base bundle, signed.
pub fn base_bundle() -> Vec<u8> {
    assemble(&base_meta(), &base_tensors(), true)
}

/// The base bundle with one tensor replaced (or added) and re-signed.
pub fn with_tensor(replacement: T) -> Vec<u8> {
    let mut ts = base_tensors();
    match ts.iter_mut().find(|t| t.name == replacement.name) {
        Some(slot) => *slot = replacement,
        None => ts.push(replacement),
    }
    assemble(&base_meta(), &ts, true)
}

/// The base bundle without some tensors, re-signed.
pub fn without_tensors(names: &[&str]) -> Vec<u8> {
    let ts: Vec<T> = base_tensors()
        .into_iter()
        .filter(|t| !names.contains(&t.name.as_str()))
        .collect();
    assemble(&base_meta(), &ts, true)
}

/// The base bundle with one metadata key set (`Some`) or removed (`None`), re-signed.
pub fn with_meta(key: &str, value: Option<&str>) -> Vec<u8> {
    let mut meta = base_meta();
    match value {
        Some(v) => meta.insert(key.into(), v.into()),
        None => meta.remove(key),
    };
    assemble(&meta, &base_tensors(), true)
}

/// A writer-made bundle with every optional part, `clusters × per` items of dimension `dim`.
pub fn full_parts(clusters: usize, per: usize, dim: usize) -> BundleParts {
    let mut parts = clustered(clusters, per, dim);
    let n = parts.ids.len();
    parts.categories = Some(CategoryParts {
        names: (0..clusters).map(|c| format!("cat {c}")).collect(),
        item: (0..n)
            .map(|i| (i % 7 != 6).then_some((i / per) as u32))
            .collect(),
    });
    parts.prices = Some(
        (0..n)
            .map(|i| (i % 5 != 4).then_some(i as f32 * 1.25))
            .collect(),
    );
    parts.neighbours = Some(
        (0..n)
            .map(|i| {
                let c = i / per;
                (0..per)
                    .map(|j| c * per + j)
                    .filter(|&j| j != i)
                    .map(|j| (j as u32, 1.0 / (1 + j) as f32))
                    .collect()
            })
            .collect(),
    );
    parts.session_pos_weights = Some(vec![1.0, 0.7, 0.49, 0.343]);
    parts.head = Some(HeadParts {
        features: vec!["sim".into(), "pop".into(), "nbr".into()],
        weights: vec![1.0, 0.1, 0.5],
    });
    parts.context = Some(ContextParts {
        features: vec!["hour=13".into(), "device=mobile".into()],
        weights: (0..2 * clusters).map(|x| x as f32 / 10.0 - 0.3).collect(),
    });
    parts
}

/// Like `tests/common`' clustered catalog (kept here so this file stands alone).
pub fn clustered(clusters: usize, per: usize, dim: usize) -> BundleParts {
    let mut ids = Vec::new();
    let mut embeddings = Vec::new();
    let mut popularity = Vec::new();
    for c in 0..clusters {
        for i in 0..per {
            ids.push(format!("c{c}-i{i}"));
            for j in 0..dim {
                let base = if j == c % dim { 1.0 } else { 0.0 };
                embeddings.push(base + ((c * 31 + i * 17 + j * 7) % 11) as f32 / 110.0);
            }
            popularity.push(((clusters - c) * 1000 - i * 10) as f32);
        }
    }
    BundleParts {
        ids,
        dim,
        embeddings,
        popularity,
        ..Default::default()
    }
}

/// The error a bundle that must be rejected gets.
pub fn err(bytes: Vec<u8>) -> BundleError {
    Bundle::from_bytes(bytes).expect_err("bundle should be rejected")
}

/// Asserts a rejection naming the tensor (and the index, for values).
pub fn value_err(bytes: Vec<u8>, tensor: &str, at: usize) {
    match err(bytes) {
        BundleError::Value {
            ref name, index, ..
        } if name == tensor && index == at => {}
        other => panic!("expected a Value error for {tensor}[{at}], got {other:?}"),
    }
}

/// Asserts a rejection naming the tensor (and the index, for values).
pub fn shape_err(bytes: Vec<u8>, tensor: &str) {
    match err(bytes) {
        BundleError::Shape { ref name, .. } if name == tensor => {}
        other => panic!("expected a Shape error for {tensor}, got {other:?}"),
    }
}

/// Where a bundle file's JSON header ends (8 bytes of length, then the header).
pub fn header_end(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

/// What a page does with the engine's digest plan (`www/lib/digest.js`): SHA-256 over the plan's
/// pieces, the file's ranges read from `bytes`. `(recorded, computed)`, both `"sha256:<hex>"`.
pub fn page_digest(bytes: &[u8]) -> (String, String) {
    use vitrine::bundle::digest::{plan, PlanPiece};
    let plan = plan(&bytes[..header_end(bytes)], bytes.len() as u64).unwrap();
    let mut h = Sha256::new();
    for piece in &plan.pieces {
        match piece {
            PlanPiece::Bytes(b) => h.update(b),
            PlanPiece::File(r) => h.update(&bytes[r.clone()]),
        }
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    (plan.recorded, format!("sha256:{hex}"))
}
