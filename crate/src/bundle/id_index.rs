//! Id → row lookup that stores only row numbers (the ids themselves stay in the bundle's id list):
//! an open-addressing table with linear probing, at most half full. Building it allocates one
//! `Vec<u32>` instead of cloning and hashing every id into a `HashMap<String, _>`, which dominated
//! load time (≈ 4 ms of 6 natively for 43k ids).
//!
//! The hash is seeded per process where the platform offers randomness (natively, from std's
//! `RandomState`), so crafted ids cannot be chosen to collide in advance.

use std::hash::BuildHasher;

use super::id_list::IdList;

const EMPTY: u32 = u32::MAX;

/// A list of ids by row: the bundle's [`IdList`], or names read as strings.
pub(crate) trait Rows {
    fn count(&self) -> usize;
    fn row(&self, i: usize) -> Option<&str>;
}

impl Rows for [String] {
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn row(&self, i: usize) -> Option<&str> {
        self.get(i).map(String::as_str)
    }
}

impl Rows for Vec<String> {
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn row(&self, i: usize) -> Option<&str> {
        self.get(i).map(String::as_str)
    }
}

impl Rows for IdList {
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn row(&self, i: usize) -> Option<&str> {
        self.get(i)
    }
}

/// Row numbers of `ids`, findable by id.
#[derive(Debug, Clone)]
pub(crate) struct IdIndex {
    /// `EMPTY` or a row; length a power of two ≥ 2 × rows.
    slots: Vec<u32>,
    seed: u64,
}

/// 64-bit hash of `bytes` (word-at-a-time multiply–xor, then a splitmix64 finalizer).
fn hash(seed: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    let mut w = [0u8; 8];
    for (d, s) in w.iter_mut().zip(chunks.remainder()) {
        *d = *s;
    }
    h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl IdIndex {
    /// Indexes `ids` (at most `u32::MAX − 1` of them). A repeated id is `Err((first row, row))`.
    pub fn build<R: Rows + ?Sized>(ids: &R) -> Result<Self, (usize, usize)> {
        let n = ids.count();
        let capacity = (n.max(4) * 2).next_power_of_two();
        let mask = capacity - 1;
        let mut slots = vec![EMPTY; capacity];
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64);
        for row in 0..n {
            let id = ids.row(row).unwrap_or_default();
            let mut s = hash(seed, id.as_bytes()) as usize & mask;
            loop {
                match slots.get(s).copied() {
                    Some(EMPTY) => {
                        if let Some(slot) = slots.get_mut(s) {
                            *slot = row as u32;
                        }
                        break;
                    }
                    Some(other) if ids.row(other as usize) == Some(id) => {
                        return Err((other as usize, row));
                    }
                    _ => s = (s + 1) & mask,
                }
            }
        }
        Ok(Self { slots, seed })
    }

    /// Row of `id` in `ids` (the list the index was built from).
    pub fn get<R: Rows + ?Sized>(&self, ids: &R, id: &str) -> Option<u32> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut s = hash(self.seed, id.as_bytes()) as usize & mask;
        loop {
            match *self.slots.get(s)? {
                EMPTY => return None,
                row if ids.row(row as usize) == Some(id) => return Some(row),
                _ => s = (s + 1) & mask,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_id_and_nothing_else() {
        let ids: Vec<String> = (0..5000).map(|i| format!("item-{i}")).collect();
        let index = IdIndex::build(&ids).unwrap();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(&ids, id), Some(i as u32));
        }
        for miss in [
            "",
            "item-5000",
            "item-",
            "ITEM-1",
            "item-12345678901234567890",
        ] {
            assert_eq!(index.get(&ids, miss), None, "{miss}");
        }
        let empty: Vec<String> = Vec::new();
        assert_eq!(IdIndex::build(&empty).unwrap().get(&empty, "x"), None);
        // The same over the bundle's id list.
        let list: IdList = ids.iter().collect();
        let index = IdIndex::build(&list).unwrap();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(&list, id), Some(i as u32));
        }
        assert_eq!(index.get(&list, "item-5000"), None);
    }

    #[test]
    fn reports_the_first_duplicate() {
        let ids: Vec<String> = ["a", "b", "c", "b", "a"].map(String::from).to_vec();
        assert_eq!(IdIndex::build(&ids).unwrap_err(), (1, 3));
    }
}
