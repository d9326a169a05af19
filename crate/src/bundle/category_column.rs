//! Each row's category index in memory, in the narrowest width that holds every index and "none":
//! one byte per item below 255 categories, two below 65,535, else four. A loaded bundle's
//! categories (and the file's own, kept once a catalog update arrives) were `Vec<i32>`: 4 bytes
//! per item, as much as a compact bundle's popularity, prior and norms together take of it.

/// Category index per row, little-endian in `width` bytes (1, 2 or 4); `None` (no category) is
/// the width's all-ones value, as in the file's `item_cat` (U8 255, U16 65,535, I32 −1). One byte
/// buffer rather than an enum of three `Vec`s: the same memory, and about a third of the wasm code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CategoryColumn {
    width: usize,
    bytes: Vec<u8>,
}

impl Default for CategoryColumn {
    fn default() -> Self {
        CategoryColumn {
            width: 1,
            bytes: Vec::new(),
        }
    }
}

/// The all-ones "none" of a width.
fn none(width: usize) -> u32 {
    u32::MAX >> (32 - 8 * width.clamp(1, 4))
}

/// The narrowest width whose "none" is above index `c`.
fn width_for(c: usize) -> usize {
    match c {
        c if c < 0xFF => 1,
        c if c < 0xFFFF => 2,
        _ => 4,
    }
}

/// The little-endian value of 1, 2 or 4 bytes (on the lookup path of every filter and result).
#[inline]
fn value(b: &[u8]) -> u32 {
    match *b {
        [x] => u32::from(x),
        [x, y] => u32::from(u16::from_le_bytes([x, y])),
        [x, y, z, t] => u32::from_le_bytes([x, y, z, t]),
        _ => u32::MAX,
    }
}

impl CategoryColumn {
    /// The column of an `item_cat` tensor's bytes (`width` 1, 2 or 4 bytes per value,
    /// little-endian, "none" all ones), checked and narrowed in one pass: the bytes are taken as
    /// they are when the file's width is the column's. `Err((row, value))` for the first value
    /// that is neither "none" nor an index `< n_names` (an I32 value read as signed).
    pub(crate) fn from_file(
        data: &[u8],
        width: usize,
        n_names: usize,
    ) -> Result<Self, (usize, i64)> {
        let (width, w) = (width.clamp(1, 4), width_for(n_names));
        let mut bytes = Vec::with_capacity(if w == width {
            0
        } else {
            data.len() / width * w
        });
        for (i, b) in data.chunks_exact(width).enumerate() {
            let v = value(b);
            let v = if v == none(width) {
                none(w)
            } else if (v as usize) < n_names {
                v
            } else {
                return Err((
                    i,
                    if width == 4 {
                        i64::from(v as i32)
                    } else {
                        i64::from(v)
                    },
                ));
            };
            if w != width {
                bytes.extend_from_slice(&v.to_le_bytes()[..w]);
            }
        }
        if w == width {
            bytes = data.to_vec();
        }
        Ok(CategoryColumn { width: w, bytes })
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() / self.width
    }

    /// Row `i`'s category; `None` when it has none or `i` is out of range.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<u32> {
        let w = self.width;
        let v = value(self.bytes.get(i * w..i * w + w)?);
        (v != none(w)).then_some(v)
    }

    /// Appends a row (widening the column first when `c` does not fit).
    pub(crate) fn push(&mut self, c: Option<u32>) {
        self.widen_for(c);
        let w = self.width;
        let v = c.unwrap_or(none(w));
        self.bytes.extend_from_slice(&v.to_le_bytes()[..w]);
    }

    /// Sets row `i` (widening when `c` does not fit); out of range: nothing.
    pub(crate) fn set(&mut self, i: usize, c: Option<u32>) {
        self.widen_for(c);
        let w = self.width;
        let v = c.unwrap_or(none(w));
        if let Some(b) = self.bytes.get_mut(i * w..i * w + w) {
            b.copy_from_slice(&v.to_le_bytes()[..w]);
        }
    }

    /// `n` rows: cut, or filled with "none".
    pub(crate) fn resize(&mut self, n: usize) {
        self.bytes.resize(n * self.width, 0xFF);
    }

    /// Re-stores the column wide enough for index `c` (the all-ones value stays free for "none").
    fn widen_for(&mut self, c: Option<u32>) {
        let Some(c) = c else { return };
        let w = width_for(c as usize).max(self.width);
        if w == self.width {
            return;
        }
        let mut wider = CategoryColumn {
            width: w,
            bytes: Vec::with_capacity(self.len() * w),
        };
        for i in 0..self.len() {
            wider.push(self.get(i));
        }
        *self = wider;
    }
}

#[cfg(test)]
mod tests {
    use super::CategoryColumn;

    #[test]
    fn narrow_until_an_index_needs_more_and_none_survives_widening() {
        let mut c = CategoryColumn::from_file(&[], 1, 3).unwrap();
        for v in [Some(0), None, Some(254), Some(2)] {
            c.push(v);
        }
        assert_eq!(c.width, 1);
        assert_eq!(
            (0..5).map(|i| c.get(i)).collect::<Vec<_>>(),
            [Some(0), None, Some(254), Some(2), None]
        );
        c.set(3, Some(255));
        assert_eq!(c.width, 2);
        c.resize(6);
        c.set(5, Some(70_000));
        assert_eq!(c.width, 4);
        assert_eq!(
            (0..6).map(|i| c.get(i)).collect::<Vec<_>>(),
            [Some(0), None, Some(254), Some(255), None, Some(70_000)]
        );
        c.set(1, None);
        c.set(9, Some(1)); // out of range: nothing
        assert_eq!((c.len(), c.get(1)), (6, None));
        assert_eq!(CategoryColumn::from_file(&[], 1, 254).unwrap().width, 1);
        assert_eq!(CategoryColumn::from_file(&[], 1, 300).unwrap().width, 2);
        assert_eq!(CategoryColumn::from_file(&[], 4, 65_535).unwrap().width, 4);
        // From a file's checked tensor: kept as is at the same width, narrowed from I32/U16.
        let i32s: Vec<u8> = [0i32, -1, 3].iter().flat_map(|v| v.to_le_bytes()).collect();
        let u16s: Vec<u8> = [0u16, u16::MAX, 3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        for (data, width, names, w) in [
            (&i32s[..], 4, 4, 1),
            (&i32s[..], 4, 300, 2),
            (&i32s[..], 4, 70_000, 4),
            (&u16s[..], 2, 4, 1),
            (&u16s[..], 2, 300, 2),
            (&[0u8, 255, 3][..], 1, 4, 1),
            (&[0u8, 255, 3][..], 1, 300, 2),
        ] {
            let c = CategoryColumn::from_file(data, width, names).unwrap();
            assert_eq!(c.width, w, "{width} → {names} names");
            assert_eq!(
                (0..4).map(|i| c.get(i)).collect::<Vec<_>>(),
                [Some(0), None, Some(3), None]
            );
        }
        // A default (empty) column is one byte wide once used.
        let mut d = CategoryColumn::default();
        d.resize(2);
        d.set(0, Some(7));
        assert_eq!((d.width, d.get(0), d.get(1)), (1, Some(7), None));
    }
}
