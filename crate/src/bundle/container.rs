//! The safetensors container, read defensively. The 8-byte header length, the header JSON and every
//! declared shape are checked against the reader's limits and the file's length *before* any tensor
//! data is touched or anything sized by the file is allocated. Every accessor returns an error
//! instead of panicking, even where an earlier check makes failure impossible.

use std::collections::BTreeMap;
use std::ops::Range;

use safetensors::tensor::Metadata;
use safetensors::Dtype;

use super::limits;
use crate::error::BundleError;

/// Length of the little-endian u64 that starts every safetensors file.
const LEN_PREFIX: usize = 8;

/// A parsed, validated container: the header and the bytes it describes.
pub(crate) struct Container<'a> {
    metadata: BTreeMap<String, String>,
    /// The tensors' header entries, in file order.
    entries: Vec<Entry>,
    bytes: &'a [u8],
    /// Offset of the data section (8 + header length) in `bytes`.
    data_start: usize,
}

/// One tensor's header entry.
struct Entry {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    /// Offsets relative to the data section.
    offsets: (usize, usize),
}

/// One tensor: its header entry and its bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tensor<'a> {
    pub name: &'a str,
    pub dtype: Dtype,
    pub shape: &'a [usize],
    pub data: &'a [u8],
    /// Absolute byte range of `data` in the file.
    pub range: (usize, usize),
}

impl<'a> Tensor<'a> {
    /// Range of the data in the file, as a `Range`.
    pub fn byte_range(&self) -> Range<usize> {
        self.range.0..self.range.1
    }
}

/// Parses the container. Errors, in the order checked: [`BundleError::Truncated`] (fewer than 8
/// bytes), [`BundleError::TooLarge`] (header length above the limit),
/// [`BundleError::HeaderBeyondFile`], [`BundleError::Container`] (header not UTF-8 / JSON, tensor
/// offsets overlapping, leaving holes or disagreeing with dtype × shape), [`BundleError::TooLarge`]
/// (a declared shape above a limit), [`BundleError::Truncated`] (the data section is shorter than
/// declared), [`BundleError::Container`] (bytes after the last tensor).
pub(crate) fn parse(bytes: &[u8]) -> Result<Container<'_>, BundleError> {
    let file_len = bytes.len() as u64;
    let Some(prefix) = bytes.get(..LEN_PREFIX) else {
        return Err(BundleError::Truncated {
            expected: LEN_PREFIX as u64,
            found: file_len,
        });
    };
    let mut len_bytes = [0u8; LEN_PREFIX];
    len_bytes.copy_from_slice(prefix);
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > limits::MAX_HEADER_BYTES {
        return Err(BundleError::TooLarge {
            what: "header length".into(),
            found: header_len,
            limit: limits::MAX_HEADER_BYTES,
        });
    }
    // header_len ≤ 100 MB, so this neither overflows nor truncates on 32-bit targets.
    let header_end = LEN_PREFIX + header_len as usize;
    let Some(header_bytes) = bytes.get(LEN_PREFIX..header_end) else {
        return Err(BundleError::HeaderBeyondFile {
            header_len,
            file_len,
        });
    };
    let text = std::str::from_utf8(header_bytes).map_err(|e| {
        BundleError::Container(format!(
            "header is not UTF-8 (invalid byte at header offset {})",
            e.valid_up_to()
        ))
    })?;
    // safetensors' own deserializer validates offsets (contiguous from 0, no overlap, no holes)
    // and checks that each tensor's byte length equals dtype size × shape with overflow checks.
    let header: Metadata =
        serde_json::from_str(text).map_err(|e| BundleError::Container(format!("header: {e}")))?;
    check_declared_shapes(&header)?;
    let data_len = header.data_len() as u64;
    let expected = LEN_PREFIX as u64 + header_len + data_len;
    if expected > file_len {
        return Err(BundleError::Truncated {
            expected,
            found: file_len,
        });
    }
    if expected < file_len {
        return Err(BundleError::Container(format!(
            "{} bytes after the last tensor (the header declares {expected} bytes in all)",
            file_len - expected
        )));
    }
    let metadata = header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let entries = header
        .offset_keys()
        .into_iter()
        .filter_map(|name| {
            let info = header.info(&name)?;
            Some(Entry {
                dtype: info.dtype,
                shape: info.shape.clone(),
                offsets: info.data_offsets,
                name,
            })
        })
        .collect();
    Ok(Container {
        metadata,
        entries,
        bytes,
        data_start: header_end,
    })
}

/// Checks the declared shapes of the tensors this reader decodes against the limits, from the
/// header alone (so a hostile header cannot make the reader allocate or loop over its claims).
fn check_declared_shapes(header: &Metadata) -> Result<(), BundleError> {
    let too_large = |what: &str, found: usize, limit: usize| BundleError::TooLarge {
        what: what.into(),
        found: found as u64,
        limit: limit as u64,
    };
    for (name, info) in header.tensors() {
        if info.shape.len() > limits::MAX_RANK {
            return Err(too_large(
                &format!("rank of tensor '{name}'"),
                info.shape.len(),
                limits::MAX_RANK,
            ));
        }
        let dim = |k: usize| info.shape.get(k).copied().unwrap_or(0);
        match name.as_str() {
            "item_emb" => {
                if dim(0) > limits::MAX_ITEMS {
                    return Err(too_large(
                        "item count (item_emb rows)",
                        dim(0),
                        limits::MAX_ITEMS,
                    ));
                }
                if dim(1) > limits::MAX_DIM {
                    return Err(too_large(
                        "embedding dimension (item_emb columns)",
                        dim(1),
                        limits::MAX_DIM,
                    ));
                }
            }
            "session_pos_weights" if dim(0) > limits::MAX_SESSION_POSITIONS => {
                return Err(too_large(
                    "session_pos_weights length",
                    dim(0),
                    limits::MAX_SESSION_POSITIONS,
                ));
            }
            "head_weights" if dim(0) > limits::MAX_HEAD_FEATURES => {
                return Err(too_large(
                    "head_weights length",
                    dim(0),
                    limits::MAX_HEAD_FEATURES,
                ));
            }
            "ctx_weights" => {
                if dim(0) > limits::MAX_CTX_FEATURES {
                    return Err(too_large(
                        "ctx_weights rows (context features)",
                        dim(0),
                        limits::MAX_CTX_FEATURES,
                    ));
                }
                if dim(1) > limits::MAX_CATEGORIES {
                    return Err(too_large(
                        "ctx_weights columns (categories)",
                        dim(1),
                        limits::MAX_CATEGORIES,
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

impl Container<'_> {
    /// The `__metadata__` map (empty when absent), sorted by key.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Length of the header JSON in bytes.
    pub fn header_len(&self) -> usize {
        self.data_start - LEN_PREFIX
    }

    /// Every tensor, in file order.
    pub fn tensors(&self) -> impl Iterator<Item = Result<Tensor<'_>, BundleError>> {
        self.entries.iter().map(|e| self.view(e))
    }

    /// A tensor by name, or `None` when the bundle has no such tensor.
    pub fn get(&self, name: &str) -> Result<Option<Tensor<'_>>, BundleError> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| self.view(e))
            .transpose()
    }

    /// A tensor every bundle must have.
    pub fn require(&self, name: &'static str) -> Result<Tensor<'_>, BundleError> {
        self.get(name)?.ok_or(BundleError::MissingTensor(name))
    }

    fn view<'s>(&'s self, e: &'s Entry) -> Result<Tensor<'s>, BundleError> {
        let (s, end) = e.offsets;
        let range = self
            .data_start
            .checked_add(s)
            .zip(self.data_start.checked_add(end))
            .filter(|(s, e)| s <= e)
            .ok_or_else(|| {
                BundleError::Container(format!("tensor '{}' offsets overflow", e.name))
            })?;
        let data = self.bytes.get(range.0..range.1).ok_or_else(|| {
            BundleError::Container(format!(
                "tensor '{}' extends beyond the end of the file",
                e.name
            ))
        })?;
        Ok(Tensor {
            name: &e.name,
            dtype: e.dtype,
            shape: &e.shape,
            data,
            range,
        })
    }
}
