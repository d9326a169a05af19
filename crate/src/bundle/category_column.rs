//! Each row's category index in memory, in the narrowest width that holds every index and "none":
//! one byte per item below 255 categories, two below 65,535, else four. A loaded bundle's
//! categories (and the file's own, kept once a catalog update arrives) were `Vec<i32>`: 4 bytes
//! per item, as much as a compact bundle's popularity, prior and norms together take of it.

/// Category index per row, little-endian in `width` bytes (1, 2 or 4); `None` (no category) is
/// the width's all-ones value. One byte buffer rather than an enum of three `Vec`s: the same
/// memory, and about a third of the wasm code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CategoryColumn {
    width: usize,
    bytes: Vec<u8>,
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

impl CategoryColumn {
    /// The column of a checked `item_cat` tensor's bytes (`width` 1, 2 or 4 bytes per value,
    /// little-endian; every value an index `< n_names` or the width's "none", −1 for I32): the
    /// bytes are taken as they are when the file's width is the column's.
    pub(crate) fn from_checked(data: &[u8], width: usize, n_names: usize) -> Self {
        let w = width_for(n_names);
        let bytes = if w == width {
            data.to_vec()
        } else {
            // I32 values (or U16 ones with < 255 names) into the narrower width.
            let mut bytes = Vec::with_capacity(data.len() / width.max(1) * w);
            for b in data.chunks_exact(width.max(1)) {
                let v = b.iter().rev().fold(0u32, |v, &x| (v << 8) | u32::from(x));
                let v = if v == none(width) { none(w) } else { v };
                match w {
                    1 => bytes.push(v as u8),
                    2 => bytes.extend_from_slice(&(v as u16).to_le_bytes()),
                    _ => bytes.extend_from_slice(&v.to_le_bytes()),
                }
            }
            bytes
        };
        CategoryColumn { width: w, bytes }
    }

    fn width(&self) -> usize {
        self.width.max(1)
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() / self.width()
    }

    /// Row `i`'s category; `None` when it has none or `i` is out of range.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<u32> {
        let w = self.width();
        let b = self.bytes.get(i * w..i * w + w)?;
        let v = b.iter().rev().fold(0u32, |v, &x| (v << 8) | u32::from(x));
        (v != none(w)).then_some(v)
    }

    /// Appends a row (widening the column first when `c` does not fit).
    pub(crate) fn push(&mut self, c: Option<u32>) {
        self.widen_for(c);
        let w = self.width();
        let v = c.unwrap_or(none(w));
        self.bytes.extend_from_slice(&v.to_le_bytes()[..w]);
    }

    /// Sets row `i` (widening when `c` does not fit); out of range: nothing.
    pub(crate) fn set(&mut self, i: usize, c: Option<u32>) {
        self.widen_for(c);
        let w = self.width();
        let v = c.unwrap_or(none(w));
        if let Some(b) = self.bytes.get_mut(i * w..i * w + w) {
            b.copy_from_slice(&v.to_le_bytes()[..w]);
        }
    }

    /// `n` rows: cut, or filled with "none".
    pub(crate) fn resize(&mut self, n: usize) {
        let w = self.width();
        self.width = w;
        self.bytes.resize(n * w, 0xFF);
    }

    /// Re-stores the column wide enough for index `c` (the all-ones value stays free for "none").
    fn widen_for(&mut self, c: Option<u32>) {
        let Some(c) = c else { return };
        let w = width_for(c as usize).max(self.width());
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
        let mut c = CategoryColumn::from_checked(&[], 1, 3);
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
        assert_eq!(CategoryColumn::from_checked(&[], 1, 254).width, 1);
        assert_eq!(CategoryColumn::from_checked(&[], 1, 300).width, 2);
        assert_eq!(CategoryColumn::from_checked(&[], 4, 65_535).width, 4);
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
            let c = CategoryColumn::from_checked(data, width, names);
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
