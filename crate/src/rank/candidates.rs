//! Candidate lists from the page: their distinct rows in order of first appearance, and the
//! distinct ids the bundle does not know.

use crate::bundle::hash_id;

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

/// Distinct strings in order of first appearance (a request's unknown ids): an open-addressing
/// table of indices into the list (at most half full), so n ids cost O(n) hashes instead of the
/// O(n²) comparisons of a `contains` per id (200 unknown ids in a `rerank` cost more than 200 known
/// ones; a list of 100,000 took 68 s in the wasm).
#[derive(Debug, Default)]
pub(crate) struct DistinctIds {
    /// `EMPTY_SLOT` or an index into `list`; empty, or a power of two ≥ 2 × `list.len()`.
    slots: Vec<u32>,
    list: Vec<String>,
}

impl DistinctIds {
    /// The distinct strings of `ids`, in order of first appearance.
    pub(crate) fn of(ids: Vec<String>) -> Self {
        let mut d = DistinctIds::default();
        d.extend(ids);
        d
    }

    /// Adds `id` unless it is already there; returns whether it was added.
    pub(crate) fn insert(&mut self, id: &str) -> bool {
        match self.find(id) {
            Ok(_) => false,
            Err(slot) => {
                self.push(id.to_owned(), slot);
                true
            }
        }
    }

    /// Adds each of `ids` that is not there yet, in order.
    pub(crate) fn extend(&mut self, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            if let Err(slot) = self.find(&id) {
                self.push(id, slot);
            }
        }
    }

    /// The strings, in order of first appearance.
    pub(crate) fn into_vec(self) -> Vec<String> {
        self.list
    }

    /// `Ok(slot)` holding `id`, or `Err(slot)`: the empty one where it would go (`Err(0)` while
    /// there is no table).
    fn find(&self, id: &str) -> Result<usize, usize> {
        if self.slots.is_empty() {
            return Err(0);
        }
        let mask = self.slots.len() - 1;
        let mut s = hash_id(0, id.as_bytes()) as usize & mask;
        loop {
            match self.slots[s] {
                EMPTY_SLOT => return Err(s),
                j if self.list[j as usize] == id => return Ok(s),
                _ => s = (s + 1) & mask,
            }
        }
    }

    /// Appends `id`, not present, at `slot` (the empty one [`DistinctIds::find`] gave), doubling
    /// the table first when it would pass half full (then its slot is found again).
    fn push(&mut self, id: String, mut slot: usize) {
        if 2 * (self.list.len() + 1) > self.slots.len() {
            let size = (4 * (self.list.len() + 1)).next_power_of_two();
            self.slots = vec![EMPTY_SLOT; size];
            for j in 0..self.list.len() {
                if let Err(s) = self.find(&self.list[j]) {
                    self.slots[s] = j as u32;
                }
            }
            if let Err(s) = self.find(&id) {
                slot = s;
            }
        }
        self.slots[slot] = self.list.len() as u32;
        self.list.push(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_ids_keep_the_first_appearance_in_order() {
        let mut d = DistinctIds::of(vec!["b".into(), "a".into(), "b".into()]);
        assert!(d.insert("c"));
        assert!(!d.insert("a"));
        assert!(d.insert(""));
        assert!(!d.insert(""));
        assert_eq!(d.into_vec(), ["b", "a", "c", ""]);
        assert!(DistinctIds::default().into_vec().is_empty());
    }

    #[test]
    fn distinct_ids_agree_with_a_linear_scan_through_many_growths() {
        // 5,000 ids with repeats, against the O(n²) reference.
        let ids: Vec<String> = (0..5_000u64)
            .map(|i| format!("id-{}", (i * 7_919) % 3_001))
            .collect();
        let mut want: Vec<String> = Vec::new();
        for id in &ids {
            if !want.contains(id) {
                want.push(id.clone());
            }
        }
        let mut d = DistinctIds::default();
        let added = ids.iter().filter(|id| d.insert(id)).count();
        assert_eq!(added, want.len());
        assert_eq!(d.into_vec(), want);
        assert_eq!(DistinctIds::of(ids).into_vec(), want);
    }
}
