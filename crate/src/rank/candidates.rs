//! Candidate lists from the page: their distinct rows in order of first appearance.

/// The distinct rows of a candidate list in order of first appearance, with that position: an
/// open-addressing table of indices into `rows` (at most half full), so deduplicating n candidates
/// is O(n) instead of a sort.
pub(super) struct FirstSeen {
    /// `EMPTY_SLOT` or an index into `rows`; a power of two ≥ 2 × the list's length.
    slots: Vec<u32>,
    pub(super) rows: Vec<u32>,
    positions: Vec<u32>,
    /// Whether the row at the same index occurred again.
    repeated: Vec<bool>,
}

const EMPTY_SLOT: u32 = u32::MAX;

impl FirstSeen {
    pub(super) fn with_capacity(n: usize) -> Self {
        FirstSeen {
            slots: vec![EMPTY_SLOT; (2 * n).max(2).next_power_of_two()],
            rows: Vec::with_capacity(n),
            positions: Vec::with_capacity(n),
            repeated: Vec::with_capacity(n),
        }
    }

    /// The slot holding `row`, or the empty one where it would go.
    fn slot(&self, row: u32) -> usize {
        let mask = self.slots.len() - 1;
        // Fibonacci hashing: the high half of row × 2^64/φ.
        let mut s = ((u64::from(row).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize) & mask;
        loop {
            match self.slots[s] {
                EMPTY_SLOT => return s,
                j if self.rows[j as usize] == row => return s,
                _ => s = (s + 1) & mask,
            }
        }
    }

    /// Records `row` at `position`. Returns whether this is the row's first repeat (its second
    /// occurrence).
    pub(super) fn insert(&mut self, row: u32, position: u32) -> bool {
        let s = self.slot(row);
        match self.slots[s] {
            EMPTY_SLOT => {
                self.slots[s] = self.rows.len() as u32;
                self.rows.push(row);
                self.positions.push(position);
                self.repeated.push(false);
                false
            }
            j => !std::mem::replace(&mut self.repeated[j as usize], true),
        }
    }

    /// Where `row` first occurred.
    pub(super) fn position(&self, row: u32) -> Option<u32> {
        match self.slots[self.slot(row)] {
            EMPTY_SLOT => None,
            j => Some(self.positions[j as usize]),
        }
    }
}
