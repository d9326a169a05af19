//! The item ids of a loaded bundle, in row order: one UTF-8 buffer and the end offset of each id.
//!
//! A `Vec<String>` cost an allocation per id at load and 24 bytes of header plus the allocator's
//! rounding per id in memory (at 1M ids: 1M allocations and ~45 MB of the wasm memory, against
//! ~12 MB here); an id lookup also chased one pointer less (`IdIndex`: slot, then the bytes).

use std::ops::Index;

/// Ids in row order. Invariants: `ends` is non-decreasing, its last value is `text.len()`, and
/// every id (`text[ends[i−1]..ends[i]]`) lies on UTF-8 boundaries (`text` is a `String`, and ids
/// are only ever appended whole).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IdList {
    text: String,
    /// End offset of each id in `text`, bytes.
    ends: Vec<u32>,
}

impl IdList {
    /// An empty list with room for `n` ids of `bytes` bytes in all.
    pub fn with_capacity(n: usize, bytes: usize) -> Self {
        Self {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(n),
        }
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are no ids.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Id of row `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = match i {
            0 => 0,
            _ => *self.ends.get(i - 1)? as usize,
        };
        self.text.get(start..end)
    }

    /// Appends an id. Returns false (and appends nothing) once the buffer would pass 4 GiB.
    pub fn push(&mut self, id: &str) -> bool {
        match u32::try_from(self.text.len() + id.len()) {
            Ok(end) => {
                self.text.push_str(id);
                self.ends.push(end);
                true
            }
            Err(_) => false,
        }
    }

    /// The ids in row order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// The ids as owned strings (for tools that rewrite a bundle).
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

impl Index<usize> for IdList {
    type Output = str;

    /// The id of row `i`; panics when `i` is out of range, as a slice does (callers index rows
    /// the bundle gave them).
    fn index(&self, i: usize) -> &str {
        match self.get(i) {
            Some(id) => id,
            None => panic!("row {i} out of range ({} ids)", self.len()),
        }
    }
}

impl std::fmt::Debug for IdList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> FromIterator<S> for IdList {
    /// Ids past the 4 GiB buffer limit are dropped (bundles hold far fewer bytes: reader limits).
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut out = IdList::default();
        for s in iter {
            out.push(s.as_ref());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_with_their_rows() {
        let ids: IdList = ["a", "bé", "", "ccc"].into_iter().collect();
        assert_eq!(ids.len(), 4);
        assert_eq!(ids.get(1), Some("bé"));
        assert_eq!(&ids[2], "");
        assert_eq!(ids.get(4), None);
        assert_eq!(ids.to_vec(), ["a", "bé", "", "ccc"]);
        assert_eq!(format!("{ids:?}"), r#"["a", "bé", "", "ccc"]"#);
        assert!(IdList::default().is_empty());
    }
}
