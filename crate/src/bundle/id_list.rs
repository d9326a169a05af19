//! The item ids of a loaded bundle, in row order: one UTF-8 buffer and the end offset of each id.
//!
//! A `Vec<String>` cost an allocation per id at load and 24 bytes of header plus the allocator's
//! rounding per id in memory (at 1M ids: 1M allocations and ~45 MB of the wasm memory, against
//! ~12 MB here); an id lookup also chased one pointer less (`IdIndex`: slot, then the bytes).

use std::ops::Index;

/// Ids in row order, joined by `'\n'` in `text` (as a bundle's plain `item_ids` tensor holds them,
/// so that reading one is a copy and a scan). Invariants: `ends` is increasing but for empty ids,
/// its last value is `text.len()`, id `i` is `text[start(i)..ends[i]]` with `start(0) = 0` and
/// `start(i) = ends[i−1] + 1` (one separator byte), and every id lies on UTF-8 boundaries (`text`
/// is a `String`, and ids are only ever appended whole).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IdList {
    text: String,
    /// End offset of each id in `text`, bytes.
    ends: Vec<u32>,
}

impl IdList {
    /// An empty list with room for `n` ids of `bytes` bytes in all (separators not counted).
    pub fn with_capacity(n: usize, bytes: usize) -> Self {
        Self {
            text: String::with_capacity(bytes.saturating_add(n)),
            ends: Vec::with_capacity(n),
        }
    }

    /// [`IdList::with_capacity`] for exactly `n` ids of `bytes` bytes (separators not counted),
    /// or `None` when that is more than an id list holds (4 GiB) or the memory refuses it.
    pub fn try_with_capacity(n: usize, bytes: usize) -> Option<Self> {
        let text_len = bytes.checked_add(n.saturating_sub(1))?;
        u32::try_from(text_len).ok()?;
        let mut list = Self::default();
        list.text.try_reserve_exact(text_len).ok()?;
        list.ends.try_reserve_exact(n).ok()?;
        Some(list)
    }

    /// The `n` non-empty ids of `text`, joined by `'\n'` (a bundle's plain `item_ids`): one copy
    /// of the text and one scan for the separators. `Err` says why not (the count, an empty id,
    /// more than 4 GiB), naming the row.
    pub fn from_lines(text: &str, n: usize) -> Result<Self, String> {
        if u32::try_from(text.len()).is_err() {
            return Err("more than 4 GiB of ids".into());
        }
        let mut ends: Vec<u32> = Vec::with_capacity(n);
        let mut start = 0usize;
        for (at, _) in text.match_indices('\n') {
            if at == start {
                return Err(format!("empty id at row {}", ends.len()));
            }
            if ends.len() + 1 >= n {
                return Err(format!(
                    "more than {n} entries for {n} rows (ids are joined by '\\n')"
                ));
            }
            ends.push(at as u32); // < text.len() ≤ u32::MAX
            start = at + 1;
        }
        if start == text.len() {
            return Err(format!("empty id at row {}", ends.len()));
        }
        ends.push(text.len() as u32);
        if ends.len() != n {
            return Err(format!(
                "{} entries for {n} rows (ids are joined by '\\n')",
                ends.len()
            ));
        }
        Ok(Self {
            text: text.to_owned(),
            ends,
        })
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
            _ => *self.ends.get(i - 1)? as usize + 1,
        };
        self.text.get(start..end)
    }

    /// Appends an id. Returns false (and appends nothing) once the buffer would pass 4 GiB.
    pub fn push(&mut self, id: &str) -> bool {
        let separator = usize::from(!self.ends.is_empty());
        match u32::try_from(self.text.len() + separator + id.len()) {
            Ok(end) => {
                if separator == 1 {
                    self.text.push('\n');
                }
                self.text.push_str(id);
                self.ends.push(end);
                true
            }
            Err(_) => false,
        }
    }

    /// Bytes reserved for the joined text (tests: a decoded list is allocated at its size).
    #[cfg(test)]
    pub(crate) fn text_capacity(&self) -> usize {
        self.text.capacity()
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

    /// Room for exactly the ids asked for, or `None` past what a list holds.
    #[test]
    fn room_is_reserved_exactly_or_refused() {
        let list = IdList::try_with_capacity(3, 10).unwrap();
        assert!(list.text.capacity() >= 12 && list.ends.capacity() >= 3);
        assert!(
            IdList::try_with_capacity(2, u32::MAX as usize).is_none(),
            "4 GiB + 1"
        );
        assert!(IdList::try_with_capacity(usize::MAX, 1).is_none());
        assert!(IdList::try_with_capacity(0, 0).unwrap().is_empty());
    }

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
        // Empty ids first and last, and one alone.
        for list in [vec!["", "x", ""], vec![""], vec!["", ""]] {
            let ids: IdList = list.iter().collect();
            assert_eq!(ids.to_vec(), list);
        }
    }

    #[test]
    fn from_lines_reads_what_push_builds_and_refuses_the_rest() {
        let ids = IdList::from_lines("a\nbé\nccc", 3).unwrap();
        let pushed: IdList = ["a", "bé", "ccc"].into_iter().collect();
        assert_eq!(ids, pushed);
        assert_eq!(ids.to_vec(), ["a", "bé", "ccc"]);
        assert_eq!(IdList::from_lines("only", 1).unwrap().to_vec(), ["only"]);
        for (text, n, why) in [
            ("a\nb", 3, "2 entries for 3 rows"),
            ("a\nb\nc", 2, "more than 2 entries"),
            ("a\n\nc", 3, "empty id at row 1"),
            ("\na", 2, "empty id at row 0"),
            ("a\n", 2, "empty id at row 1"),
            ("", 1, "empty id at row 0"),
        ] {
            let err = IdList::from_lines(text, n).unwrap_err();
            assert!(err.contains(why), "{text:?}, {n}: {err}");
        }
    }
}
