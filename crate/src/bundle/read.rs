//! Validation and decoding of a bundle's tensors and metadata. Order of checks: container (see
//! [`container::parse`]), `format` / `format_version`, `required`, digest, then each tensor. Small
//! per-item vectors are decoded to f32 here; the embedding matrix and the neighbour lists are only
//! validated, and later read in place.

use super::metadata::Metadata;
use std::ops::Range;

use safetensors::Dtype;

use super::category_column::CategoryColumn;
use super::container::{self, Container, Tensor};
use super::decode::{expect_dtype, floats, names, shape_error, Valid};
use super::digest;
use super::f32_column::{F32Column, LogU8, Values};
use super::format::{
    limits, BundleOptions, FORMAT, FORMAT_VERSION, FORMAT_VERSION_1, FORMAT_VERSION_2,
    KNOWN_TENSORS, SUPPORTED_VERSIONS,
};
use super::id_code::{self, IdCoding};
use super::id_index::IdIndex;
use super::id_list::IdList;
use super::params::ScoringParams;
use super::pq::{read_pq, Pq};
use super::read_lists::read_lists;
use super::tables::{
    Categories, ContextWeights, NeighbourKind, NeighbourLists, RankingHead, TensorSummary,
};
use crate::error::BundleError;

/// Everything decoded from a valid bundle (byte ranges refer to the input).
pub(super) struct Parsed {
    pub emb: Range<usize>,
    pub pq: Option<Pq>,
    pub n_items: usize,
    pub dim: usize,
    pub scale: F32Column,
    pub pop: Values,
    pub ids: IdList,
    pub index: IdIndex,
    pub params: ScoringParams,
    pub metadata: Metadata,
    pub tensors: Vec<TensorSummary>,
    pub header_len: usize,
    pub categories: Option<Categories>,
    pub prices: Option<Vec<f32>>,
    pub neighbours: Option<NeighbourLists>,
    pub co_purchases: Option<NeighbourLists>,
    pub avail: Option<Vec<bool>>,
    pub trend: Option<Vec<f32>>,
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
        digest::verify(&c, options.computed_digest.as_deref())?;
    }
    let metadata = c.take_metadata();

    let (emb, pq, n, dim) = read_vectors(&c, &metadata)?;
    check_count_key(&metadata, "n_items", n)?;
    check_count_key(&metadata, "dim", dim)?;
    // The ids first: building their index takes transient memory (8 bytes per id), and the
    // per-item tables allocated after it reuse that space instead of growing the heap.
    let (ids, index) = read_ids(&c, &metadata, n)?;

    let scale = match pq {
        Some(_) => F32Column::default(),
        None => per_item_floats(&c, "item_scale", n, Valid::NonNegative)?,
    };
    let pop = per_item_values(&c, &metadata, "item_pop", n)?;
    let params = ScoringParams::read(&metadata)?;
    let categories = read_categories(&c, n)?;
    let prices = match c.get("item_price")? {
        None => None,
        Some(t) => Some(floats(&t, &[Dtype::F32], &[n], Valid::PriceOrUnknown)?),
    };
    let neighbours = read_lists(&c, &metadata, n, NeighbourKind::CoOccurrence)?;
    let co_purchases = read_lists(&c, &metadata, n, NeighbourKind::CoPurchase)?;
    let avail = match c.get("item_avail")? {
        None => None,
        Some(t) => Some(read_avail(&t, n)?),
    };
    let trend = match c.get("item_trend")? {
        None => None,
        Some(_) => Some(
            per_item_values(&c, &metadata, "item_trend", n)?
                .get(bytes)
                .into_owned(),
        ),
    };
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
        emb,
        pq,
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
        co_purchases,
        avail,
        trend,
        session_pos_weights,
        session_readout,
        head,
        ctx,
    })
}

/// `item_avail`: U8 `[n]`, 1 = may be recommended, 0 = not (out of stock, or no longer sold).
fn read_avail(t: &Tensor<'_>, n: usize) -> Result<Vec<bool>, BundleError> {
    expect_dtype(t, &[Dtype::U8])?;
    if t.shape != [n] {
        return Err(shape_error(t, format!("[{n}] (one per item)")));
    }
    if let Some(i) = t.data.iter().position(|&b| b > 1) {
        return Err(BundleError::Value {
            name: t.name.into(),
            index: i,
            why: "expected 1 (available) or 0 (not available)".into(),
        });
    }
    Ok(t.data.iter().map(|&b| b == 1).collect())
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
    if version != FORMAT_VERSION && version != FORMAT_VERSION_1 && version != FORMAT_VERSION_2 {
        return Err(BundleError::UnsupportedVersion {
            found: version.chars().take(80).collect(),
            supported: SUPPORTED_VERSIONS,
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

/// A per-item F32 or F16 tensor, read in place when it can be ([`F32Column::read`]).
fn per_item_floats(
    c: &Container<'_>,
    name: &'static str,
    n: usize,
    valid: Valid,
) -> Result<F32Column, BundleError> {
    let t = c.require(name)?;
    if t.shape != [n] {
        return Err(shape_error(&t, format!("[{n}] (one per item)")));
    }
    F32Column::read(&t, n, valid)
}

/// The item vectors: int8 rows (`item_emb`, whose byte range is returned) or, in a compact
/// bundle, product-quantized codes (`item_codes` with `pq_codebooks`; never both). Returns `n`
/// and `d` too.
#[allow(clippy::type_complexity)]
fn read_vectors(
    c: &Container<'_>,
    metadata: &Metadata,
) -> Result<(Range<usize>, Option<Pq>, usize, usize), BundleError> {
    if let Some(codes) = c.get("item_codes")? {
        if let Some(emb) = c.get("item_emb")? {
            return Err(shape_error(
                &emb,
                "no item_emb in a bundle with item_codes (one kind of item vectors)".into(),
            ));
        }
        let unit = match metadata.get("pq.unit_norm").map(|v| v.trim()) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(BundleError::Metadata {
                    key: "pq.unit_norm".into(),
                    value: other.chars().take(80).collect(),
                    why: "expected true or false".into(),
                })
            }
        };
        let (pq, n, d) = read_pq(c, codes, unit)?;
        return Ok((0..0, Some(pq), n, d));
    }
    if c.get("pq_codebooks")?.is_some() {
        return Err(BundleError::MissingTensor("item_codes"));
    }
    let emb = c.require("item_emb")?;
    expect_dtype(&emb, &[Dtype::I8])?;
    match *emb.shape {
        [n, d] if n >= 1 && (1..=limits::MAX_DIM).contains(&d) => {
            Ok((emb.byte_range(), None, n, d))
        }
        _ => Err(shape_error(
            &emb,
            format!("[n, d] with n ≥ 1 and 1 ≤ d ≤ {}", limits::MAX_DIM),
        )),
    }
}

/// A per-item value vector (`item_pop`, `item_trend`): F32 (or F16 for `item_pop`), or, in a
/// compact bundle, U8 log-quantized: `value = exp(q / 255 · L) − 1` with `L = ln(1 + max value)`
/// from the metadata key `<pop|trend>.log1p_max` (finite, ≥ 0).
fn per_item_values(
    c: &Container<'_>,
    metadata: &Metadata,
    name: &'static str,
    n: usize,
) -> Result<Values, BundleError> {
    let t = c.require(name)?;
    if t.dtype != Dtype::U8 {
        return match name {
            "item_pop" => per_item_floats(c, name, n, Valid::NonNegative),
            _ => floats(&t, &[Dtype::F32], &[n], Valid::NonNegative).map(F32Column::Owned),
        }
        .map(Values::Floats);
    }
    if t.shape != [n] {
        return Err(shape_error(&t, format!("[{n}] (one per item)")));
    }
    let key = if name == "item_pop" {
        "pop.log1p_max"
    } else {
        "trend.log1p_max"
    };
    // ≤ 88: exp(88) − 1 is still a finite f32.
    let l = super::metadata::metadata_f32(
        metadata,
        key,
        |x| (0.0..=88.0).contains(&x),
        "a number from 0 to 88",
    )?
    .ok_or(BundleError::MissingMetadata(key))?;
    Ok(Values::LogU8(LogU8 {
        range: t.byte_range(),
        log1p_max: l,
    }))
}

fn read_ids(
    c: &Container<'_>,
    metadata: &Metadata,
    n: usize,
) -> Result<(IdList, IdIndex), BundleError> {
    let t = c.require("item_ids")?;
    let coded = match metadata.get("ids.coding").map(|s| s.trim()) {
        None | Some("lines") => None,
        Some("delta") => Some(IdCoding::Delta),
        Some("front") => Some(IdCoding::Front),
        Some(other) => {
            return Err(BundleError::Metadata {
                key: "ids.coding".into(),
                value: other.chars().take(80).collect(),
                why: "expected lines, delta or front".into(),
            })
        }
    };
    let ids = match coded {
        Some(coding) => {
            expect_dtype(&t, &[Dtype::U8])?;
            if t.shape.len() != 1 {
                return Err(shape_error(&t, "[bytes]".into()));
            }
            id_code::decode(t.data, coding, n)?
        }
        None => plain_ids(&t, n)?,
    };
    let index = IdIndex::build(&ids).map_err(|(first, row)| {
        let id: String = ids
            .get(row)
            .map(|id| id.chars().take(80).collect())
            .unwrap_or_default();
        BundleError::Ids(format!("duplicate id '{id}' at rows {first} and {row}"))
    })?;
    Ok((ids, index))
}

/// The `\n`-joined ids of a version 1–2 bundle (or `ids.coding` = `lines`): exactly `n`,
/// non-empty, UTF-8 (checked once over the tensor), copied into one [`IdList`] buffer.
fn plain_ids(t: &Tensor<'_>, n: usize) -> Result<IdList, BundleError> {
    expect_dtype(t, &[Dtype::U8])?;
    if t.shape.len() != 1 {
        return Err(shape_error(t, "[bytes]".into()));
    }
    let text = std::str::from_utf8(t.data).map_err(|e| {
        BundleError::Ids(format!(
            "not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    IdList::from_lines(text, n).map_err(BundleError::Ids)
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
    expect_dtype(&cat, &[Dtype::I32, Dtype::U16, Dtype::U8])?;
    if cat.shape != [n] {
        return Err(shape_error(&cat, format!("[{n}] (one per item)")));
    }
    let k = cat_names.len();
    // Checked and narrowed in one pass straight from the tensor's bytes (a `Vec<i32>` first
    // would raise the wasm memory's high-water mark, which it never gives back, by 4 B per item).
    let width = match cat.dtype {
        Dtype::U8 => 1,
        Dtype::U16 => 2,
        _ => 4,
    };
    let item =
        CategoryColumn::from_file(cat.data, width, k).map_err(|(i, v)| BundleError::Value {
            name: "item_cat".into(),
            index: i,
            why: format!("{v} is neither −1 (none) nor a category index < {k}"),
        })?;
    Ok(Some(Categories {
        item,
        names: cat_names,
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
