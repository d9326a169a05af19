//! The catalog delta: a small safetensors file `vitrine catalog update` writes next to the
//! bundle and a page applies to its loaded engine (`applyUpdate(bytes)`). Integrity-checked like a
//! bundle: a SHA-256 `digest` over the same canonical stream (`docs/bundle.md`, "Digest"), always
//! verified; and bound to one bundle file by that file's digest (`base`). Deltas are cumulative:
//! each holds the whole difference between the bundle file and the current catalog, so a page
//! applies only the newest.
//!
//! | tensor | dtype | shape | |
//! | --- | --- | --- | --- |
//! | `add_ids` | U8 | [bytes] | ids of the products the file lacks, `\n`-joined (with the next three, when any) |
//! | `add_emb` | I8 | [a, d] | their vectors (content tower), int8 per row |
//! | `add_scale` | F32 | [a] | the rows' scales, finite ≥ 0 |
//! | `add_pop` | F32 | [a] | their popularity, finite ≥ 0 |
//! | `add_cat` | I32 | [a] | optional category: an index into `cat_names`, −1 none |
//! | `add_price` | F32 | [a] | optional price ≥ 0, −1 unknown |
//! | `chg_rows` | U32 | [c] | rows of the file whose category or price changed (with the next two) |
//! | `chg_cat` | I32 | [c] | their category (index into `cat_names`, −1 none) |
//! | `chg_price` | F32 | [c] | their price (−1 unknown) |
//! | `cat_names` | U8 | [bytes] | category names, `\n`-joined (with `add_cat` / `chg_cat`) |
//! | `unavail_ids` | U8 | [bytes] | ids never to recommend (out of stock, no longer sold), `\n`-joined |
//! | `catalog` | U8 | [bytes] | the added and changed products' catalog records (JSON Lines), for the page |
//!
//! Metadata: `format` = `vitrine-delta`, `format_version` = `1`, `base` (the bundle file's
//! `digest`), `n_base` (its rows), `dim`, `digest`.

use std::collections::BTreeMap;

use safetensors::Dtype;

use crate::bundle::{
    digest, expect_dtype, floats, le, names, parse_container, shape_error, AddedItem, Container,
    ExtraDtype, ExtraTensor, Overlay, Valid,
};
use crate::error::BundleError;

/// The `format` of a delta.
pub const DELTA_FORMAT: &str = "vitrine-delta";
/// The delta format version this reader and writer implement.
pub const DELTA_FORMAT_VERSION: &str = "1";
/// Most products a delta may add, change or mark.
pub const MAX_DELTA_ITEMS: usize = 10_000_000;

/// What a delta says about itself, besides the overlay.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaInfo {
    /// The delta's own digest.
    pub digest: String,
    /// Its vectors' dimension.
    pub dim: usize,
}

/// Reads and validates a delta (digest always verified). Every failure is a [`BundleError`]
/// naming the part; nothing panics on hostile bytes.
pub fn read_delta(bytes: &[u8]) -> Result<(Overlay, DeltaInfo), BundleError> {
    let c = parse_container(bytes)?;
    let meta = c.metadata();
    match meta.get("format") {
        Some(f) if f == DELTA_FORMAT => {}
        Some(f) => {
            return Err(BundleError::WrongFormat {
                expected: DELTA_FORMAT,
                found: f.chars().take(80).collect(),
            })
        }
        None => return Err(BundleError::MissingMetadata("format")),
    }
    match meta.get("format_version") {
        Some(v) if v == DELTA_FORMAT_VERSION => {}
        Some(v) => {
            return Err(BundleError::UnsupportedVersion {
                found: v.chars().take(80).collect(),
                supported: DELTA_FORMAT_VERSION,
            })
        }
        None => return Err(BundleError::MissingMetadata("format_version")),
    }
    digest::verify(&c)?;
    let count = |key: &'static str| -> Result<usize, BundleError> {
        let v = meta.get(key).ok_or(BundleError::MissingMetadata(key))?;
        v.trim()
            .parse::<usize>()
            .ok()
            .filter(|&x| x <= 50_000_000)
            .ok_or_else(|| BundleError::Metadata {
                key: key.into(),
                value: v.chars().take(80).collect(),
                why: "expected a whole number".into(),
            })
    };
    let (n_base, dim) = (count("n_base")?, count("dim")?);
    let base = meta
        .get("base")
        .ok_or(BundleError::MissingMetadata("base"))?
        .clone();
    let cat_names = match c.get("cat_names")? {
        Some(t) => Some(names(&t, None, 1_000_000)?),
        None => None,
    };
    let category =
        |t_name: &'static str, v: i32, i: usize| -> Result<Option<String>, BundleError> {
            if v == -1 {
                return Ok(None);
            }
            let names = cat_names
                .as_ref()
                .ok_or(BundleError::MissingTensor("cat_names"))?;
            usize::try_from(v)
                .ok()
                .and_then(|v| names.get(v))
                .cloned()
                .map(Some)
                .ok_or_else(|| BundleError::Value {
                    name: t_name.into(),
                    index: i,
                    why: format!("{v} is neither −1 nor a category index < {}", names.len()),
                })
        };

    let mut added = Vec::new();
    if let Some(ids_t) = c.get("add_ids")? {
        let emb = c.require("add_emb")?;
        expect_dtype(&emb, &[Dtype::I8])?;
        let a = match *emb.shape {
            [a, d] if d == dim && a <= MAX_DELTA_ITEMS => a,
            _ => return Err(shape_error(&emb, format!("[added, {dim}]"))),
        };
        let ids = names(&ids_t, Some(a), a)?;
        let per = |name: &'static str, valid: Valid| -> Result<Vec<f32>, BundleError> {
            floats(&c.require(name)?, &[Dtype::F32], &[a], valid)
        };
        let scale = per("add_scale", Valid::NonNegative)?;
        let pop = per("add_pop", Valid::NonNegative)?;
        let price = match c.get("add_price")? {
            Some(t) => Some(floats(&t, &[Dtype::F32], &[a], Valid::PriceOrUnknown)?),
            None => None,
        };
        let cats = ints(&c, "add_cat", a)?;
        let rows: &[i8] = bytemuck::cast_slice(emb.data);
        for (i, id) in ids.into_iter().enumerate() {
            added.push(AddedItem {
                id,
                emb: rows.get(i * dim..(i + 1) * dim).unwrap_or(&[]).to_vec(),
                scale: scale.get(i).copied().unwrap_or(0.0),
                pop: pop.get(i).copied().unwrap_or(0.0),
                category: match cats.as_ref().and_then(|c| c.get(i)) {
                    Some(&v) => category("add_cat", v, i)?,
                    None => None,
                },
                price: price
                    .as_ref()
                    .and_then(|p| p.get(i))
                    .copied()
                    .filter(|&p| p >= 0.0),
            });
        }
    } else if c.get("add_emb")?.is_some() {
        return Err(BundleError::MissingTensor("add_ids"));
    }

    let mut changed = Vec::new();
    if let Some(rows_t) = c.get("chg_rows")? {
        expect_dtype(&rows_t, &[Dtype::U32])?;
        let n = match *rows_t.shape {
            [n] if n <= MAX_DELTA_ITEMS => n,
            _ => return Err(shape_error(&rows_t, "[changed]".into())),
        };
        let cats = ints(&c, "chg_cat", n)?.ok_or(BundleError::MissingTensor("chg_cat"))?;
        let prices = floats(
            &c.require("chg_price")?,
            &[Dtype::F32],
            &[n],
            Valid::PriceOrUnknown,
        )?;
        for (i, b) in rows_t.data.chunks_exact(4).enumerate() {
            let row = u32::from_le_bytes(le(b));
            if row as usize >= n_base {
                return Err(BundleError::Value {
                    name: "chg_rows".into(),
                    index: i,
                    why: format!("{row} is not a row of the bundle file (< {n_base})"),
                });
            }
            changed.push((
                row,
                category("chg_cat", cats.get(i).copied().unwrap_or(-1), i)?,
                prices.get(i).copied().filter(|&p| p >= 0.0),
            ));
        }
    }

    let unavailable_ids = match c.get("unavail_ids")? {
        Some(t) if t.data.is_empty() => Vec::new(),
        Some(t) => names(&t, None, MAX_DELTA_ITEMS)?,
        None => Vec::new(),
    };
    let info = DeltaInfo {
        digest: meta.get(digest::DIGEST_KEY).cloned().unwrap_or_default(),
        dim,
    };
    Ok((
        Overlay {
            base_digest: base,
            n_base,
            added,
            changed,
            unavailable_ids,
        },
        info,
    ))
}

/// An optional I32 tensor of `n` values (categories), read as is (checked by the caller).
fn ints(c: &Container<'_>, name: &'static str, n: usize) -> Result<Option<Vec<i32>>, BundleError> {
    let Some(t) = c.get(name)? else {
        return Ok(None);
    };
    expect_dtype(&t, &[Dtype::I32])?;
    if *t.shape != [n] {
        return Err(shape_error(&t, format!("[{n}]")));
    }
    Ok(Some(
        t.data
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes(le(b)))
            .collect(),
    ))
}

/// What [`write_delta`] writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeltaParts {
    /// The overlay (its `base_digest` and `n_base` name the bundle file).
    pub overlay: Overlay,
    /// The vectors' dimension.
    pub dim: usize,
    /// The catalog records of the added and changed products (JSON Lines), for the page.
    pub catalog: Vec<u8>,
}

/// Serializes a delta (reproducibly) with its digest.
pub fn write_delta(parts: &DeltaParts) -> Result<Vec<u8>, BundleError> {
    let o = &parts.overlay;
    let d = parts.dim;
    let mut names: Vec<String> = Vec::new();
    let mut index = |name: &Option<String>| -> i32 {
        match name {
            None => -1,
            Some(n) => match names.iter().position(|x| x == n) {
                Some(i) => i as i32,
                None => {
                    names.push(n.clone());
                    (names.len() - 1) as i32
                }
            },
        }
    };
    let add_cat: Vec<i32> = o.added.iter().map(|a| index(&a.category)).collect();
    let chg_cat: Vec<i32> = o.changed.iter().map(|c| index(&c.1)).collect();
    let f32s =
        |v: &mut dyn Iterator<Item = f32>| -> Vec<u8> { v.flat_map(f32::to_le_bytes).collect() };
    let i32s = |v: &[i32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let u8t = |name: &str, data: Vec<u8>| ExtraTensor {
        name: name.into(),
        dtype: ExtraDtype::U8,
        shape: vec![data.len()],
        data,
    };
    let mut t: Vec<ExtraTensor> = Vec::new();
    let a = o.added.len();
    if a > 0 {
        if let Some(bad) = o.added.iter().position(|x| x.emb.len() != d) {
            return Err(BundleError::Value {
                name: "add_emb".into(),
                index: bad,
                why: format!("expected {d} values"),
            });
        }
        t.push(u8t(
            "add_ids",
            o.added
                .iter()
                .map(|x| x.id.as_str())
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
        ));
        t.push(ExtraTensor {
            name: "add_emb".into(),
            dtype: ExtraDtype::I8,
            shape: vec![a, d],
            data: o
                .added
                .iter()
                .flat_map(|x| x.emb.iter().map(|&q| q as u8))
                .collect(),
        });
        for (name, data) in [
            ("add_scale", f32s(&mut o.added.iter().map(|x| x.scale))),
            ("add_pop", f32s(&mut o.added.iter().map(|x| x.pop))),
            (
                "add_price",
                f32s(&mut o.added.iter().map(|x| x.price.unwrap_or(-1.0))),
            ),
        ] {
            t.push(ExtraTensor {
                name: name.into(),
                dtype: ExtraDtype::F32,
                shape: vec![a],
                data,
            });
        }
        t.push(ExtraTensor {
            name: "add_cat".into(),
            dtype: ExtraDtype::I32,
            shape: vec![a],
            data: i32s(&add_cat),
        });
    }
    let c = o.changed.len();
    if c > 0 {
        t.push(ExtraTensor {
            name: "chg_rows".into(),
            dtype: ExtraDtype::U32,
            shape: vec![c],
            data: o.changed.iter().flat_map(|x| x.0.to_le_bytes()).collect(),
        });
        t.push(ExtraTensor {
            name: "chg_cat".into(),
            dtype: ExtraDtype::I32,
            shape: vec![c],
            data: i32s(&chg_cat),
        });
        t.push(ExtraTensor {
            name: "chg_price".into(),
            dtype: ExtraDtype::F32,
            shape: vec![c],
            data: f32s(&mut o.changed.iter().map(|x| x.2.unwrap_or(-1.0))),
        });
    }
    if !names.is_empty() {
        t.push(u8t("cat_names", names.join("\n").into_bytes()));
    }
    if !o.unavailable_ids.is_empty() {
        t.push(u8t(
            "unavail_ids",
            o.unavailable_ids.join("\n").into_bytes(),
        ));
    }
    if !parts.catalog.is_empty() {
        t.push(u8t("catalog", parts.catalog.clone()));
    }
    let mut meta = BTreeMap::new();
    meta.insert("format".into(), DELTA_FORMAT.into());
    meta.insert("format_version".into(), DELTA_FORMAT_VERSION.into());
    meta.insert("base".into(), o.base_digest.clone());
    meta.insert("n_base".into(), o.n_base.to_string());
    meta.insert("dim".into(), d.to_string());
    let bytes = crate::bundle::write_digested(&meta, &t)?;
    // Never hand out a delta our own reader would reject.
    read_delta(&bytes)?;
    Ok(bytes)
}
