//! The safetensors container, read defensively. The 8-byte header length, the header JSON and every
//! declared shape are checked against the reader's limits and the file's length *before* any tensor
//! data is touched or anything sized by the file is allocated. Every accessor returns an error
//! instead of panicking, even where an earlier check makes failure impossible.

use super::metadata::Metadata;
use std::ops::Range;

use safetensors::Dtype;

use super::format::limits;

mod header;

use crate::error::BundleError;

/// Length of the little-endian u64 that starts every safetensors file.
pub(crate) const LEN_PREFIX: usize = 8;

/// A parsed, validated container: the header and the bytes it describes.
pub(crate) struct Container<'a> {
    metadata: Metadata,
    /// The tensors' header entries, in name order (unique names).
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
    let (metadata, entries, data_start, _) = parse_header(bytes, Some(bytes.len() as u64))?;
    Ok(Container {
        metadata,
        entries,
        bytes,
        data_start,
    })
}

/// A container's header alone, checked against the length of the whole file (every check of
/// [`parse`] but the presence of the data): enough to say where each tensor's bytes are.
pub(crate) struct HeaderLayout {
    metadata: Metadata,
    entries: Vec<Entry>,
    data_start: usize,
}

/// Parses the header from the file's first bytes (`prefix`: at least 8 + the header length, as
/// the file's first 8 bytes declare it) and the file's length, with [`parse`]'s errors.
pub(crate) fn parse_layout(prefix: &[u8], file_len: u64) -> Result<HeaderLayout, BundleError> {
    let (metadata, entries, data_start, _) = parse_header(prefix, Some(file_len))?;
    Ok(HeaderLayout {
        metadata,
        entries,
        data_start,
    })
}

/// Parses the header of a file whose length is not known yet (a download under way) from its
/// first bytes (`prefix`, as for [`parse_layout`]): the layout and the file length the header
/// declares (8 + header + data). Every check of [`parse_layout`] but the comparison with the
/// file's length, which the caller makes once the file is complete.
pub(crate) fn parse_layout_open(prefix: &[u8]) -> Result<(HeaderLayout, u64), BundleError> {
    let (metadata, entries, data_start, declared) = parse_header(prefix, None)?;
    let layout = HeaderLayout {
        metadata,
        entries,
        data_start,
    };
    Ok((layout, declared))
}

impl HeaderLayout {
    /// The `__metadata__` map, sorted by key.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Every tensor's name, dtype, shape and absolute byte range in the file, in name order.
    pub fn tensors(&self) -> impl Iterator<Item = (&str, Dtype, &[usize], Range<usize>)> {
        self.entries.iter().map(|e| {
            let (s, end) = e.offsets;
            // check_layout bounded every offset by the file's length: no overflow.
            let range = self.data_start.saturating_add(s)..self.data_start.saturating_add(end);
            (e.name.as_str(), e.dtype, e.shape.as_slice(), range)
        })
    }
}

/// Where the header ends (8 + the length the file's first 8 bytes declare), from the file's first
/// bytes; `None` when fewer than 8 are given. Error: [`BundleError::TooLarge`] for a header length
/// above the limit (so the result fits `usize` on every target: ≤ 8 + 100 MB).
pub(crate) fn header_end(bytes: &[u8]) -> Result<Option<usize>, BundleError> {
    let Some(prefix) = bytes.get(..LEN_PREFIX) else {
        return Ok(None);
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
    Ok(Some(LEN_PREFIX + header_len as usize))
}

/// What [`parse_header`] reads: metadata, entries in name order, where the data section starts,
/// and the file length the header declares.
type ParsedHeader = (Metadata, Vec<Entry>, usize, u64);

/// The header of a file whose first bytes are `bytes` and whose length is `file_len` (`None`: not
/// known yet, the declared length is not compared with it; `bytes.len()` stands for it in errors).
fn parse_header(bytes: &[u8], file_len: Option<u64>) -> Result<ParsedHeader, BundleError> {
    let known = file_len;
    let file_len = file_len.unwrap_or(bytes.len() as u64);
    let Some(header_end) = header_end(bytes)? else {
        return Err(BundleError::Truncated {
            expected: LEN_PREFIX as u64,
            found: file_len,
        });
    };
    let header_len = (header_end - LEN_PREFIX) as u64;
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
    let Header {
        metadata,
        mut entries,
    } = header::parse(text).map_err(|e| BundleError::Container(format!("header: {e}")))?;
    // Name order: what the digest hashes in, and duplicates become adjacent.
    heapsort_by(&mut entries, |a, b| a.name < b.name);
    if let Some(w) = entries
        .windows(2)
        .find(|w| w.first().map(|e| &e.name) == w.get(1).map(|e| &e.name))
    {
        let name = w.first().map(|e| e.name.as_str()).unwrap_or_default();
        return Err(BundleError::Container(format!(
            "tensor '{name}' is declared twice"
        )));
    }
    check_declared_shapes(&entries)?;
    let data_len = check_layout(&entries)?;
    // Saturating: an open header's offsets are not bounded by a file's length yet.
    let expected = (LEN_PREFIX as u64 + header_len).saturating_add(data_len as u64);
    if known.is_none() {
        return Ok((metadata, entries, header_end, expected));
    }
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
    Ok((metadata, entries, header_end, expected))
}

/// The header JSON: `__metadata__` (string → string) and one entry per tensor, read by
/// [`header::parse`] (a parser for exactly this grammar: serde_json's generic deserializer cost
/// ~16 KB of gzipped wasm); [`check_layout`] then applies safetensors' rules.
struct Header {
    metadata: Metadata,
    entries: Vec<Entry>,
}

/// Sorts `v` by `less` in place: heapsort, O(n log n) in the worst case without allocating. The
/// container's two sorts use it rather than `sort_unstable`, whose pattern-defeating quicksort
/// costs ~2 KB of wasm per element type (a header may list millions of tensors: no quadratic
/// insertion sort either).
fn heapsort_by<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    let sift = |v: &mut [T], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && less(&v[child], &v[child + 1]) {
            child += 1;
        }
        if !less(&v[root], &v[child]) {
            break;
        }
        v.swap(root, child);
        root = child;
    };
    for i in (0..v.len() / 2).rev() {
        sift(v, i, v.len());
    }
    for end in (1..v.len()).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

/// safetensors' layout rules: each tensor's byte length is dtype size × product(shape) (checked
/// for overflow), and the tensors tile the data section from 0 with no gap or overlap. Returns the
/// data section's length.
fn check_layout(entries: &[Entry]) -> Result<usize, BundleError> {
    let bad = |name: &str, why: String| BundleError::Container(format!("tensor '{name}': {why}"));
    for e in entries {
        let (s, end) = e.offsets;
        let bits = e
            .shape
            .iter()
            .try_fold(e.dtype.bitsize(), |a, &d| a.checked_mul(d))
            .ok_or_else(|| {
                bad(
                    &e.name,
                    format!("shape {} overflows", crate::numfmt::dims(&e.shape)),
                )
            })?;
        if bits % 8 != 0 || end.checked_sub(s) != Some(bits / 8) {
            return Err(bad(
                &e.name,
                format!(
                    "data_offsets [{s}, {end}] do not hold {} × {}",
                    super::dtype::name(e.dtype),
                    crate::numfmt::dims(&e.shape)
                ),
            ));
        }
    }
    let mut order: Vec<(usize, usize, &str)> = entries
        .iter()
        .map(|e| (e.offsets.0, e.offsets.1, e.name.as_str()))
        .collect();
    heapsort_by(&mut order, |a, b| a < b);
    let mut at = 0usize;
    for (s, end, name) in order {
        if s != at {
            return Err(bad(
                name,
                format!("data starts at {s}, expected {at} (tensors must tile the data without gaps or overlaps)"),
            ));
        }
        at = end;
    }
    Ok(at)
}

/// Checks the declared shapes of the tensors this reader decodes against the limits, from the
/// header alone (so a hostile header cannot make the reader allocate or loop over its claims).
fn check_declared_shapes(entries: &[Entry]) -> Result<(), BundleError> {
    let too_large = |what: &str, found: usize, limit: usize| BundleError::TooLarge {
        what: what.into(),
        found: found as u64,
        limit: limit as u64,
    };
    for info in entries {
        let name = &info.name;
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
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Moves the metadata out (call after the digest and format checks, which read it).
    pub fn take_metadata(&mut self) -> Metadata {
        std::mem::take(&mut self.metadata)
    }

    /// Length of the header JSON in bytes.
    pub fn header_len(&self) -> usize {
        self.data_start - LEN_PREFIX
    }

    /// Every tensor, in ascending byte order of name (the digest's order).
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

#[cfg(test)]
mod tests {
    use super::heapsort_by;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn heapsort_sorts(mut v in proptest::collection::vec(any::<(u8, u16)>(), 0..200)) {
            let mut want = v.clone();
            want.sort();
            heapsort_by(&mut v, |a, b| a < b);
            prop_assert_eq!(v, want);
        }
    }
}
