//! Validation and decoding of a bundle's tensors and metadata. Order of checks: container (see
//! [`container::parse`]), `format` / `format_version`, `required`, digest, then each tensor. Small
//! per-item vectors are decoded to f32 here; the embedding matrix and the neighbour lists are only
//! validated, and later read in place.

use super::metadata::{metadata_f32, Metadata};
use std::ops::Range;

use safetensors::Dtype;

use super::container::{self, Container, Tensor};
use super::digest;
use super::format::{limits, BundleOptions, FORMAT, FORMAT_VERSION, KNOWN_TENSORS};
use super::id_index::IdIndex;
use super::params::ScoringParams;
use super::tables::{Categories, ContextWeights, NeighbourLists, RankingHead, TensorSummary};
use crate::error::BundleError;
use crate::numfmt::Num32;

/// Everything decoded from a valid bundle (byte ranges refer to the input).
pub(super) struct Parsed {
    pub emb: Range<usize>,
    pub n_items: usize,
    pub dim: usize,
    pub scale: Vec<f32>,
    pub pop: Vec<f32>,
    pub ids: Vec<String>,
    pub index: IdIndex,
    pub params: ScoringParams,
    pub metadata: Metadata,
    pub tensors: Vec<TensorSummary>,
    pub header_len: usize,
    pub categories: Option<Categories>,
    pub prices: Option<Vec<f32>>,
    pub neighbours: Option<NeighbourLists>,
    pub session_pos_weights: Option<Vec<f32>>,
    pub session_readout: Option<Vec<f32>>,
    pub head: Option<RankingHead>,
    pub ctx: Option<ContextWeights>,
}

pub(super) fn read(bytes: &[u8], options: &BundleOptions) -> Result<Parsed, BundleError> {
    let mut c = container::parse(bytes)?;
    check_format(c.metadata())?;
    check_required(&c, c.metadata())?;
    if options.verify_digest {
        digest::verify(&c)?;
    }
    let metadata = c.take_metadata();

    let emb = c.require("item_emb")?;
    expect_dtype(&emb, &[Dtype::I8])?;
    let (n, dim) = match *emb.shape {
        [n, d] if n >= 1 && (1..=limits::MAX_DIM).contains(&d) => (n, d),
        _ => {
            return Err(shape_error(
                &emb,
                format!("[n, d] with n ≥ 1 and 1 ≤ d ≤ {}", limits::MAX_DIM),
            ))
        }
    };
    check_count_key(&metadata, "n_items", n)?;
    check_count_key(&metadata, "dim", dim)?;

    let scale = per_item_floats(&c, "item_scale", n, Valid::NonNegative)?;
    let pop = per_item_floats(&c, "item_pop", n, Valid::NonNegative)?;
    let (ids, index) = read_ids(&c, n)?;
    let params = ScoringParams::read(&metadata)?;
    let categories = read_categories(&c, n)?;
    let prices = match c.get("item_price")? {
        None => None,
        Some(t) => Some(floats(&t, &[Dtype::F32], &[n], Valid::PriceOrUnknown)?),
    };
    let neighbours = read_neighbours(&c, &metadata, n)?;
    let session_pos_weights = match c.get("session_pos_weights")? {
        None => None,
        Some(t) => {
            let len = match *t.shape {
                [l] if (1..=limits::MAX_SESSION_POSITIONS).contains(&l) => l,
                _ => {
                    return Err(shape_error(
                        &t,
                        format!("[L] with 1 ≤ L ≤ {}", limits::MAX_SESSION_POSITIONS),
                    ))
                }
            };
            Some(floats(&t, &[Dtype::F32], &[len], Valid::Finite)?)
        }
    };
    let session_readout = match c.get("session_readout")? {
        None => None,
        Some(t) => {
            if *t.shape != [dim, dim] {
                return Err(shape_error(&t, format!("[{dim}, {dim}] (d × d)")));
            }
            Some(floats(&t, &[Dtype::F32], &[dim, dim], Valid::Finite)?)
        }
    };
    let head = read_head(&c, &metadata)?;
    let n_categories = categories.as_ref().map(|c| c.names.len());
    let ctx = read_ctx(&c, &metadata, n_categories)?;

    let tensors = c
        .tensors()
        .map(|t| {
            t.map(|t| TensorSummary {
                name: t.name.to_owned(),
                dtype: super::dtype::name(t.dtype),
                shape: t.shape.to_vec(),
                bytes: t.data.len(),
                offset: t.range.0,
                known: KNOWN_TENSORS.contains(&t.name),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    Ok(Parsed {
        emb: emb.byte_range(),
        n_items: n,
        dim,
        scale,
        pop,
        ids,
        index,
        params,
        metadata,
        tensors,
        header_len: c.header_len(),
        categories,
        prices,
        neighbours,
        session_pos_weights,
        session_readout,
        head,
        ctx,
    })
}

fn check_format(metadata: &Metadata) -> Result<(), BundleError> {
    let format = metadata
        .get("format")
        .ok_or(BundleError::MissingMetadata("format"))?;
    if format != FORMAT {
        return Err(BundleError::WrongFormat {
            expected: FORMAT,
            found: format.chars().take(80).collect(),
        });
    }
    let version = metadata
        .get("format_version")
        .ok_or(BundleError::MissingMetadata("format_version"))?;
    if version != FORMAT_VERSION {
        return Err(BundleError::UnsupportedVersion {
            found: version.chars().take(80).collect(),
            supported: FORMAT_VERSION,
        });
    }
    Ok(())
}

/// Every name in `required` must be known to this reader and present in the file.
fn check_required(c: &Container<'_>, metadata: &Metadata) -> Result<(), BundleError> {
    let Some(required) = metadata.get("required") else {
        return Ok(());
    };
    for name in required.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some(&known) = KNOWN_TENSORS.iter().find(|k| **k == name) else {
            return Err(BundleError::UnknownRequired(
                name.chars().take(80).collect(),
            ));
        };
        c.require(known)?;
    }
    Ok(())
}

/// `n_items` / `dim` are informational, but must agree with the tensors when present.
fn check_count_key(metadata: &Metadata, key: &str, actual: usize) -> Result<(), BundleError> {
    match metadata.get(key) {
        Some(v) if v.trim().parse::<usize>().ok() != Some(actual) => Err(BundleError::Metadata {
            key: key.into(),
            value: v.chars().take(80).collect(),
            why: format!("the tensors say {actual}"),
        }),
        _ => Ok(()),
    }
}

fn dtype_list(dtypes: &[Dtype]) -> String {
    let mut out = String::new();
    for (i, d) in dtypes.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&super::dtype::name(*d));
    }
    out
}

fn expect_dtype(t: &Tensor<'_>, allowed: &[Dtype]) -> Result<(), BundleError> {
    if allowed.contains(&t.dtype) {
        Ok(())
    } else {
        Err(BundleError::Dtype {
            name: t.name.into(),
            expected: dtype_list(allowed),
            found: super::dtype::name(t.dtype),
        })
    }
}

fn shape_error(t: &Tensor<'_>, expected: String) -> BundleError {
    BundleError::Shape {
        name: t.name.into(),
        expected,
        found: t.shape.to_vec(),
    }
}

fn le<const N: usize>(chunk: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    for (d, s) in a.iter_mut().zip(chunk) {
        *d = *s;
    }
    a
}

/// What a float value must be, besides finite (an enum rather than closures: one copy of the
/// decoding loop in the wasm binary).
#[derive(Clone, Copy)]
enum Valid {
    Finite,
    NonNegative,
    PriceOrUnknown,
}

impl Valid {
    fn ok(self, x: f32) -> bool {
        x.is_finite()
            && match self {
                Valid::Finite => true,
                Valid::NonNegative => x >= 0.0,
                Valid::PriceOrUnknown => x >= 0.0 || x == -1.0,
            }
    }

    fn what(self) -> &'static str {
        match self {
            Valid::Finite => "finite",
            Valid::NonNegative => "finite and ≥ 0",
            Valid::PriceOrUnknown => "a finite price ≥ 0, or −1 for unknown",
        }
    }
}

/// Decodes a float tensor of exactly `shape` to f32, checking every value is `valid`.
fn floats(
    t: &Tensor<'_>,
    allowed: &[Dtype],
    shape: &[usize],
    valid: Valid,
) -> Result<Vec<f32>, BundleError> {
    expect_dtype(t, allowed)?;
    if t.shape != shape {
        return Err(shape_error(t, crate::numfmt::dims(shape)));
    }
    let values: Vec<f32> = match t.dtype {
        Dtype::F16 => t
            .data
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes(le(c)).to_f32())
            .collect(),
        _ => t
            .data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(le(c)))
            .collect(),
    };
    if let Some((i, x)) = values.iter().enumerate().find(|(_, &x)| !valid.ok(x)) {
        return Err(BundleError::Value {
            name: t.name.into(),
            index: i,
            why: format!("{} is not {}", Num32(*x), valid.what()),
        });
    }
    Ok(values)
}

fn per_item_floats(
    c: &Container<'_>,
    name: &'static str,
    n: usize,
    valid: Valid,
) -> Result<Vec<f32>, BundleError> {
    let t = c.require(name)?;
    if t.shape != [n] {
        return Err(shape_error(&t, format!("[{n}] (one per item)")));
    }
    floats(&t, &[Dtype::F32, Dtype::F16], &[n], valid)
}

/// A `\n`-joined UTF-8 list from a 1-D U8 tensor. `count` is the number of entries if known;
/// otherwise at most `limit` are accepted. An empty tensor is an empty list when `count` is not
/// known. Entries must be non-empty.
fn names(t: &Tensor<'_>, count: Option<usize>, limit: usize) -> Result<Vec<String>, BundleError> {
    expect_dtype(t, &[Dtype::U8])?;
    if t.shape.len() != 1 {
        return Err(shape_error(t, "[bytes]".into()));
    }
    let text = std::str::from_utf8(t.data).map_err(|e| BundleError::Value {
        name: t.name.into(),
        index: e.valid_up_to(),
        why: "not UTF-8".into(),
    })?;
    if text.is_empty() && count.is_none() {
        return Ok(Vec::new());
    }
    // Count before allocating anything per entry.
    let found = text.bytes().filter(|&b| b == b'\n').count() + 1;
    match count {
        Some(n) if found != n => {
            return Err(BundleError::Value {
                name: t.name.into(),
                index: 0,
                why: format!("{found} entries for {n} rows"),
            })
        }
        None if found > limit => {
            return Err(BundleError::TooLarge {
                what: format!("number of entries in '{}'", t.name),
                found: found as u64,
                limit: limit as u64,
            })
        }
        _ => {}
    }
    let list: Vec<String> = text.split('\n').map(str::to_owned).collect();
    if let Some(i) = list.iter().position(String::is_empty) {
        return Err(BundleError::Value {
            name: t.name.into(),
            index: i,
            why: "empty entry".into(),
        });
    }
    Ok(list)
}

fn read_ids(c: &Container<'_>, n: usize) -> Result<(Vec<String>, IdIndex), BundleError> {
    let t = c.require("item_ids")?;
    let ids = names(&t, Some(n), n).map_err(|e| match e {
        BundleError::Value { index, why, .. } if why == "not UTF-8" => {
            BundleError::Ids(format!("not UTF-8 (invalid byte at offset {index})"))
        }
        BundleError::Value { index, why, .. } if why == "empty entry" => {
            BundleError::Ids(format!("empty id at row {index}"))
        }
        BundleError::Value { why, .. } => {
            BundleError::Ids(format!("{why} (ids are joined by '\\n')"))
        }
        other => other,
    })?;
    let index = IdIndex::build(&ids).map_err(|(first, row)| {
        let id: String = ids
            .get(row)
            .map(|id| id.chars().take(80).collect())
            .unwrap_or_default();
        BundleError::Ids(format!("duplicate id '{id}' at rows {first} and {row}"))
    })?;
    Ok((ids, index))
}

fn unique_names(what: &str, names: &[String]) -> Result<(), BundleError> {
    match IdIndex::build(names) {
        Ok(_) => Ok(()),
        Err((_, i)) => Err(BundleError::Value {
            name: what.into(),
            index: i,
            why: format!(
                "duplicate name '{}'",
                names
                    .get(i)
                    .map(|n| n.chars().take(80).collect::<String>())
                    .unwrap_or_default()
            ),
        }),
    }
}

fn read_categories(c: &Container<'_>, n: usize) -> Result<Option<Categories>, BundleError> {
    let (cat, names_t) = match (c.get("item_cat")?, c.get("cat_names")?) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(BundleError::MissingTensor("cat_names")),
        (None, Some(_)) => return Err(BundleError::MissingTensor("item_cat")),
        (Some(cat), Some(names_t)) => (cat, names_t),
    };
    let cat_names = names(&names_t, None, limits::MAX_CATEGORIES)?;
    unique_names("cat_names", &cat_names)?;
    expect_dtype(&cat, &[Dtype::I32])?;
    if cat.shape != [n] {
        return Err(shape_error(&cat, format!("[{n}] (one per item)")));
    }
    let k = cat_names.len();
    let values: Vec<i32> = cat
        .data
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes(le(b)))
        .collect();
    if let Some((i, v)) = values
        .iter()
        .enumerate()
        .find(|(_, &v)| v < -1 || usize::try_from(v).is_ok_and(|v| v >= k))
    {
        return Err(BundleError::Value {
            name: "item_cat".into(),
            index: i,
            why: format!("{v} is neither −1 (none) nor a category index < {k}"),
        });
    }
    Ok(Some(Categories {
        item: values,
        names: cat_names,
    }))
}

fn read_neighbours(
    c: &Container<'_>,
    metadata: &Metadata,
    n: usize,
) -> Result<Option<NeighbourLists>, BundleError> {
    let (offsets_t, items_t, weights_t) = match (
        c.get("nbr_offsets")?,
        c.get("nbr_items")?,
        c.get("nbr_weights")?,
    ) {
        (None, None, None) => return Ok(None),
        (Some(o), Some(i), Some(w)) => (o, i, w),
        (None, _, _) => return Err(BundleError::MissingTensor("nbr_offsets")),
        (_, None, _) => return Err(BundleError::MissingTensor("nbr_items")),
        (_, _, None) => return Err(BundleError::MissingTensor("nbr_weights")),
    };
    let scale = metadata_f32(
        metadata,
        "nbr.scale",
        |x| x > 0.0,
        "expected a finite number > 0",
    )?
    .ok_or(BundleError::MissingMetadata("nbr.scale"))?;
    expect_dtype(&offsets_t, &[Dtype::U32])?;
    if offsets_t.shape != [n + 1] {
        return Err(shape_error(&offsets_t, format!("[{}] (items + 1)", n + 1)));
    }
    expect_dtype(&items_t, &[Dtype::U16, Dtype::U32])?;
    let nnz = match *items_t.shape {
        [nnz] => nnz,
        _ => return Err(shape_error(&items_t, "[nnz]".into())),
    };
    expect_dtype(&weights_t, &[Dtype::U8])?;
    if weights_t.shape != [nnz] {
        return Err(shape_error(&weights_t, format!("[{nnz}] (as nbr_items)")));
    }
    let offsets: Vec<u32> = offsets_t
        .data
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(le(b)))
        .collect();
    let bad_offset = |index: usize, why: String| BundleError::Value {
        name: "nbr_offsets".into(),
        index,
        why,
    };
    if offsets.first() != Some(&0) {
        return Err(bad_offset(0, "the first offset must be 0".into()));
    }
    if let Some(i) = offsets.windows(2).position(|w| w.first() > w.get(1)) {
        return Err(bad_offset(i + 1, "offsets must not decrease".into()));
    }
    if offsets.last().map(|&x| x as usize) != Some(nnz) {
        return Err(bad_offset(
            n,
            format!("the last offset must equal nnz = {nnz}"),
        ));
    }
    let item_width = if items_t.dtype == Dtype::U16 { 2 } else { 4 };
    let item_at = |k: usize| -> u32 {
        let b = items_t
            .data
            .get(k * item_width..(k + 1) * item_width)
            .unwrap_or(&[]);
        if item_width == 2 {
            u32::from(u16::from_le_bytes(le(b)))
        } else {
            u32::from_le_bytes(le(b))
        }
    };
    for (row, w) in offsets.windows(2).enumerate() {
        let (s, e) = match *w {
            [s, e] => (s as usize, e as usize),
            _ => continue,
        };
        for k in s..e {
            let item = item_at(k) as usize;
            if item >= n || item == row {
                return Err(BundleError::Value {
                    name: "nbr_items".into(),
                    index: k,
                    why: if item == row {
                        format!("row {row} lists itself as a neighbour")
                    } else {
                        format!("{item} is not an item row (< {n})")
                    },
                });
            }
        }
    }
    Ok(Some(NeighbourLists {
        offsets,
        items: items_t.byte_range(),
        item_width,
        weights: weights_t.byte_range(),
        scale,
    }))
}

/// A comma-separated list of `expected` unique, non-empty names from a metadata key.
fn feature_names(
    metadata: &Metadata,
    key: &'static str,
    expected: usize,
) -> Result<Vec<String>, BundleError> {
    let value = metadata.get(key).ok_or(BundleError::MissingMetadata(key))?;
    let names: Vec<String> = value.split(',').map(|s| s.trim().to_owned()).collect();
    let bad = |why: String| BundleError::Metadata {
        key: key.into(),
        value: value.chars().take(80).collect(),
        why,
    };
    if names.len() != expected {
        return Err(bad(format!(
            "{} names for {expected} weight rows",
            names.len()
        )));
    }
    if let Some(i) = names.iter().position(String::is_empty) {
        return Err(bad(format!("name {i} is empty")));
    }
    if let Err((_, i)) = IdIndex::build(&names) {
        let dup = names.get(i).map(String::as_str).unwrap_or_default();
        return Err(bad(format!("name '{dup}' appears twice")));
    }
    Ok(names)
}

fn read_head(c: &Container<'_>, metadata: &Metadata) -> Result<Option<RankingHead>, BundleError> {
    let Some(t) = c.get("head_weights")? else {
        if metadata.contains_key("head.features") {
            return Err(BundleError::MissingTensor("head_weights"));
        }
        return Ok(None);
    };
    let f = match *t.shape {
        [f] if (1..=limits::MAX_HEAD_FEATURES).contains(&f) => f,
        _ => {
            return Err(shape_error(
                &t,
                format!("[F] with 1 ≤ F ≤ {}", limits::MAX_HEAD_FEATURES),
            ))
        }
    };
    let weights = floats(&t, &[Dtype::F32], &[f], Valid::Finite)?;
    let features = feature_names(metadata, "head.features", f)?;
    Ok(Some(RankingHead { features, weights }))
}

fn read_ctx(
    c: &Container<'_>,
    metadata: &Metadata,
    n_categories: Option<usize>,
) -> Result<Option<ContextWeights>, BundleError> {
    let Some(t) = c.get("ctx_weights")? else {
        if metadata.contains_key("ctx.features") {
            return Err(BundleError::MissingTensor("ctx_weights"));
        }
        return Ok(None);
    };
    let k = n_categories.ok_or(BundleError::MissingTensor("item_cat"))?;
    let rows = match *t.shape {
        [rows, cols] if cols == k && (1..=limits::MAX_CTX_FEATURES).contains(&rows) => rows,
        _ => {
            return Err(shape_error(
                &t,
                format!(
                    "[C, {k}] (context features × categories) with 1 ≤ C ≤ {}",
                    limits::MAX_CTX_FEATURES
                ),
            ))
        }
    };
    let weights = floats(&t, &[Dtype::F32], &[rows, k], Valid::Finite)?;
    let features = feature_names(metadata, "ctx.features", rows)?;
    Ok(Some(ContextWeights {
        features,
        n_categories: k,
        weights,
    }))
}
