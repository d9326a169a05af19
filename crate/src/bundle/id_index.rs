//! Id → row lookup that stores only row numbers (the ids themselves stay in the bundle's id list):
//! an open-addressing table with linear probing, at most three-quarters full. Building it
//! allocates one `Vec<u32>` instead of cloning and hashing every id into a `HashMap<String, _>`,
//! which dominated load time (≈ 4 ms of 6 natively for 43k ids).
//!
//! The hash is seeded per process where the platform offers randomness (natively, from std's
//! `RandomState`), so crafted ids cannot be chosen to collide in advance.

use std::hash::BuildHasher;

use super::id_list::IdList;

const EMPTY: u32 = u32::MAX;

/// The table's size for `n` rows: the smallest power of two ≥ 4 at most three-quarters full.
/// (Half full, as before, cost 12 bytes per id at 43k ids — a seventh of an int8 bundle's size
/// in memory; at three-quarters a lookup probes ~2 slots on a hit and ~5 on a miss, adjacent
/// 4-byte slots that a tag mismatch rejects without reading the id.)
fn capacity_for(n: usize) -> usize {
    n.saturating_mul(4).div_ceil(3).max(4).next_power_of_two()
}

/// Most groups [`IdIndex::build`] scatters the ids into: 256 write streams stay within the
/// caches and the TLB (2,048 streams were as slow as random writes at 1M ids, natively).
const MAX_GROUPS: usize = 256;

/// Fewest slots per group (log2): below 1,024 slots (4 KB) a table is one group.
const MIN_GROUP_SLOTS_LOG2: u32 = 10;

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

/// The first rows of a list (what an index held before [`IdIndex::extend`] failed).
struct Prefix<'a, R: ?Sized>(&'a R, usize);

impl<R: Rows + ?Sized> Rows for Prefix<'_, R> {
    fn count(&self) -> usize {
        self.1.min(self.0.count())
    }
    #[inline]
    fn row(&self, i: usize) -> Option<&str> {
        if i < self.1 {
            self.0.row(i)
        } else {
            None
        }
    }
}

/// Row numbers of `ids`, findable by id.
///
/// A slot holds `EMPTY` or a row in its low `row_bits` bits and, above them, that many bits of
/// the id's hash as a tag: a probe compares ids (a random read of the id list, a cache miss at a
/// million ids) only when the tag matches, so building and looking up touch the ids about once
/// each instead of once per occupied slot passed (at 1M ids: the build's id comparisons were
/// about half the wasm load time; docs/benchmarks.md, "Tagged id index").
#[derive(Debug, Clone)]
pub(crate) struct IdIndex {
    /// `EMPTY` or `tag | row`; length [`capacity_for`] the rows (so at least one slot is `EMPTY`:
    /// every probe ends).
    slots: Vec<u32>,
    seed: u64,
    /// Bits of a slot that hold the row: the fewest with `2^row_bits − 1 > last row`, so that no
    /// `tag | row` is `EMPTY`.
    row_bits: u32,
}

/// The smallest `b` with `2^b − 1 ≥ n` (a row `< n` then never fills its bits with ones).
fn row_bits_for(n: usize) -> u32 {
    (usize::BITS - n.leading_zeros()).min(32)
}

/// 64-bit hash of `bytes` (word-at-a-time multiply–xor, then a splitmix64 finalizer).
pub(crate) fn hash(seed: u64, bytes: &[u8]) -> u64 {
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
    /// Indexes `ids` (at most `u32::MAX − 1` of them). A repeated id is `Err((first row, row))`
    /// for the lowest such `row`, as inserting in row order would report it.
    ///
    /// Inserting in row order writes the table at random: at a million ids each insert was a
    /// cache and TLB miss (≈ 130 ms natively). Instead the ids are hashed in row order and their
    /// slot values scattered by home slot into at most [`MAX_GROUPS`] runs (few enough write
    /// streams for the caches), then inserted run by run, so the table is written in small
    /// windows. Ids are read in row order only; a probe reads an id only on a tag match.
    /// Transient memory: 8 bytes per id.
    pub fn build<R: Rows + ?Sized>(ids: &R) -> Result<Self, (usize, usize)> {
        let n = ids.count();
        let capacity = capacity_for(n);
        let mut index = Self {
            slots: vec![EMPTY; capacity],
            seed: std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64),
            row_bits: row_bits_for(n),
        };
        let runs = index.runs_by_home(ids);
        let mask = capacity - 1;
        let row_mask = index.row_mask();
        let mut repeat: Option<(usize, usize)> = None;
        for entry in runs {
            let mut s = (entry >> 32) as usize;
            let value = entry as u32;
            let row = (value & row_mask) as usize;
            loop {
                match index.slots.get(s).copied() {
                    Some(EMPTY) => {
                        if let Some(slot) = index.slots.get_mut(s) {
                            *slot = value;
                        }
                        break;
                    }
                    // Same tag: compare the ids (the only random reads of the list).
                    Some(e)
                        if e & !row_mask == value & !row_mask
                            && ids.row(index.row_of(e)) == ids.row(row) =>
                    {
                        // A run holds its rows in row order, so the row in the table is the
                        // id's first; keep the lowest repeating row over all runs.
                        if repeat.is_none_or(|(_, r)| row < r) {
                            repeat = Some((index.row_of(e), row));
                        }
                        break;
                    }
                    _ => s = (s + 1) & mask,
                }
            }
        }
        match repeat {
            Some(pair) => Err(pair),
            None => Ok(index),
        }
    }

    /// Adds rows `from..` of `ids` (the rows below `from` are indexed already), in place when the
    /// table stays at most three-quarters full and the row numbers fit its row bits, else by a
    /// new build.
    /// A catalog update appending its products then costs its own rows rather than the catalog
    /// (at a million ids, rebuilding was a sixth of applying a shard). A repeated id is
    /// `Err((first row, row))`, as [`IdIndex::build`] reports it; the index is then rebuilt from
    /// the rows below `from` (as it was).
    pub fn extend<R: Rows + ?Sized>(&mut self, ids: &R, from: usize) -> Result<(), (usize, usize)> {
        let n = ids.count();
        if capacity_for(n) > self.slots.len() || row_bits_for(n) != self.row_bits {
            *self = Self::build(ids)?;
            return Ok(());
        }
        let mask = self.slots.len() - 1;
        for row in from..n {
            let id = ids.row(row).unwrap_or_default();
            let (mut s, tag) = self.start(id);
            loop {
                match self.slots.get(s).copied() {
                    Some(EMPTY) => {
                        if let Some(slot) = self.slots.get_mut(s) {
                            *slot = tag | row as u32;
                        }
                        break;
                    }
                    Some(e) if self.holds(e, tag, ids, id) => {
                        let first = self.row_of(e);
                        // Back to the rows below `from` (unique: they were indexed).
                        if let Ok(before) = Self::build(&Prefix(ids, from)) {
                            *self = before;
                        }
                        return Err((first, row));
                    }
                    _ => s = (s + 1) & mask,
                }
            }
        }
        Ok(())
    }

    /// Every row's `home slot << 32 | tag | row`, grouped by the top bits of the home slot (at
    /// most [`MAX_GROUPS`] groups, in slot order; rows in row order within a group). Hashes
    /// every id twice, in row order: once to count the groups, once to place the entries.
    fn runs_by_home<R: Rows + ?Sized>(&self, ids: &R) -> Vec<u64> {
        let n = ids.count();
        let slot_bits = self.slots.len().trailing_zeros();
        let group_bits = slot_bits
            .saturating_sub(MIN_GROUP_SLOTS_LOG2)
            .min(MAX_GROUPS.trailing_zeros());
        let shift = slot_bits - group_bits;
        // `next[g]`: where group g's next entry goes (counts first, then running starts).
        let mut next = vec![0usize; 1 << group_bits];
        for row in 0..n {
            let (s, _) = self.start(ids.row(row).unwrap_or_default());
            if let Some(c) = next.get_mut(s >> shift) {
                *c += 1;
            }
        }
        let mut total = 0;
        for c in &mut next {
            (*c, total) = (total, total + *c);
        }
        let mut runs = vec![0u64; n];
        for row in 0..n {
            let (s, tag) = self.start(ids.row(row).unwrap_or_default());
            if let Some(at) = next.get_mut(s >> shift) {
                if let Some(e) = runs.get_mut(*at) {
                    *e = (s as u64) << 32 | u64::from(tag | row as u32);
                }
                *at += 1;
            }
        }
        runs
    }

    /// Row of `id` in `ids` (the list the index was built from).
    pub fn get<R: Rows + ?Sized>(&self, ids: &R, id: &str) -> Option<u32> {
        let (s, tag) = self.start(id);
        self.probe_from(ids, id, s, tag)
    }

    /// [`IdIndex::get`] of each of `queries`, in order. In three passes: every id's home slot,
    /// then the id text its tag points at, then the comparisons (and the rare further probes).
    /// Each pass's loads are independent of one another, so for ids new to the cache (a
    /// `rerank`'s candidates) the misses overlap instead of following one another.
    pub fn get_many<R: Rows + ?Sized, S: AsRef<str>>(
        &self,
        ids: &R,
        queries: &[S],
    ) -> Vec<Option<u32>> {
        let Some(mask) = self.slots.len().checked_sub(1) else {
            return vec![None; queries.len()];
        };
        let homes: Vec<(usize, u32, u32)> = queries
            .iter()
            .map(|q| {
                let (s, tag) = self.start(q.as_ref());
                (s, tag, self.slots.get(s).copied().unwrap_or(EMPTY))
            })
            .collect();
        let texts: Vec<Option<&str>> = homes
            .iter()
            .map(|&(_, tag, e)| {
                let tagged = e != EMPTY && e & !self.row_mask() == tag;
                tagged.then(|| ids.row(self.row_of(e))).flatten()
            })
            .collect();
        queries
            .iter()
            .zip(homes.into_iter().zip(texts))
            .map(|(q, ((s, tag, e), text))| {
                let id = q.as_ref();
                if e == EMPTY {
                    None
                } else if text == Some(id) {
                    Some(self.row_of(e) as u32)
                } else {
                    self.probe_from(ids, id, (s + 1) & mask, tag)
                }
            })
            .collect()
    }

    /// The rest of a probe for `id` (tag `tag`), from slot `s` on.
    fn probe_from<R: Rows + ?Sized>(
        &self,
        ids: &R,
        id: &str,
        mut s: usize,
        tag: u32,
    ) -> Option<u32> {
        let mask = self.slots.len().checked_sub(1)?;
        loop {
            match *self.slots.get(s)? {
                EMPTY => return None,
                e if self.holds(e, tag, ids, id) => return Some(self.row_of(e) as u32),
                _ => s = (s + 1) & mask,
            }
        }
    }

    /// The first slot to probe for `id`, and its tag (already shifted above the row bits).
    #[inline]
    fn start(&self, id: &str) -> (usize, u32) {
        let h = hash(self.seed, id.as_bytes());
        let slot = h as usize & self.slots.len().saturating_sub(1);
        // The tag comes from the hash's top bits, the slot from its bottom ones.
        let tag = ((h >> 32) as u32).checked_shl(self.row_bits).unwrap_or(0);
        (slot, tag)
    }

    /// The row in slot value `e`.
    #[inline]
    fn row_of(&self, e: u32) -> usize {
        (e & self.row_mask()) as usize
    }

    #[inline]
    fn row_mask(&self) -> u32 {
        u32::MAX.checked_shr(32 - self.row_bits).unwrap_or(0)
    }

    /// Whether slot value `e` is `id`'s: the tags agree, then the ids do.
    #[inline]
    fn holds<R: Rows + ?Sized>(&self, e: u32, tag: u32, ids: &R, id: &str) -> bool {
        e & !self.row_mask() == tag && ids.row(self.row_of(e)) == Some(id)
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

    /// Rows that fit the table's room and row bits go in place (same table, same seed); more
    /// rows than that rebuild it.
    #[test]
    fn extends_in_place_while_there_is_room() {
        let ids: Vec<String> = (0..300).map(|i| format!("p{i}")).collect();
        let mut index = IdIndex::build(&Prefix(&ids, 100)).unwrap();
        let (slots, seed) = (index.slots.len(), index.seed);
        index.extend(&Prefix(&ids, 120), 100).unwrap();
        assert_eq!((index.slots.len(), index.seed), (slots, seed), "in place");
        index.extend(&ids, 120).unwrap();
        assert!(index.slots.len() > slots, "rebuilt bigger");
        assert!(
            index.slots.len() * 3 >= 300 * 4,
            "at most three-quarters full"
        );
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(&ids, id), Some(i as u32));
        }
        assert_eq!(index.get(&ids, "p300"), None);
    }

    /// Every table is a power of two, at most three-quarters full (so a probe always meets an
    /// empty slot), and the smallest such: 43,097 ids take 65,536 slots (256 KB), not 131,072.
    #[test]
    fn tables_are_at_most_three_quarters_full() {
        for n in (0..2_000).chain([43_097, 49_152, 49_153, 1_000_000]) {
            let c = capacity_for(n);
            assert!(c.is_power_of_two() && c >= 4, "{n}: {c}");
            assert!(n * 4 <= c * 3 && n < c, "{n} ids in {c} slots");
            assert!(c == 4 || n * 4 > c / 2 * 3, "{n}: {c} is not the smallest");
        }
        assert_eq!(capacity_for(43_097), 65_536);
        // Full to the limit: every id found, every miss ends at an empty slot.
        let ids: Vec<String> = (0..48).map(|i| format!("q{i}")).collect();
        let index = IdIndex::build(&ids).unwrap();
        assert_eq!(index.slots.len(), 64);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(&ids, id), Some(i as u32));
        }
        for miss in (48..400).map(|i| format!("q{i}")) {
            assert_eq!(index.get(&ids, &miss), None);
        }
        // Batched: hits, misses and repeats in one list (full table: long probes, tags shared).
        let queries: Vec<String> = (0..400).map(|i| format!("q{}", (i * 37) % 400)).collect();
        let want: Vec<Option<u32>> = queries.iter().map(|q| index.get(&ids, q)).collect();
        assert_eq!(index.get_many(&ids, &queries), want);
        assert!(want.iter().any(Option::is_some) && want.iter().any(Option::is_none));
        let empty: Vec<String> = Vec::new();
        let none = IdIndex::build(&empty)
            .unwrap()
            .get_many(&empty, &["q1", ""]);
        assert_eq!(none, [None, None]);
    }

    #[test]
    fn row_bits_leave_no_row_all_ones() {
        for (n, bits) in [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 2),
            (4, 3),
            (7, 3),
            (8, 4),
            (1 << 20, 21),
        ] {
            assert_eq!(row_bits_for(n), bits, "n = {n}");
            if n > 0 {
                // The last row is below the row mask: no tag | row is EMPTY.
                assert!(((n - 1) as u64) < (1u64 << bits) - 1, "n = {n}");
            }
        }
        assert_eq!(row_bits_for(u32::MAX as usize - 1), 32);
    }

    proptest::proptest! {
        /// Any list (repeats included) against a HashMap: the first repeat is reported, else
        /// every id is found at its row and near misses are not.
        #[test]
        fn agrees_with_a_hash_map(ids in proptest::collection::vec("[a-c]{0,3}", 0..60)) {
            let mut first = std::collections::HashMap::new();
            let mut repeat = None;
            for (row, id) in ids.iter().enumerate() {
                if let Some(&f) = first.get(id.as_str()) {
                    repeat = Some((f, row));
                    break;
                }
                first.insert(id.as_str(), row);
            }
            match (IdIndex::build(&ids), repeat) {
                (Err(got), Some(want)) => proptest::prop_assert_eq!(got, want),
                (Ok(index), None) => {
                    for (row, id) in ids.iter().enumerate() {
                        proptest::prop_assert_eq!(index.get(&ids, id), Some(row as u32));
                    }
                    proptest::prop_assert_eq!(index.get(&ids, "d"), None);
                    let mut queries = ids.clone();
                    queries.extend(["d", "", "aaaa"].map(String::from));
                    let want: Vec<Option<u32>> = queries.iter().map(|q| index.get(&ids, q)).collect();
                    proptest::prop_assert_eq!(index.get_many(&ids, &queries), want);
                }
                (got, want) => proptest::prop_assert!(false, "{:?} vs {:?}", got.map(|_| ()), want),
            }
        }

        /// Extending an index of the first rows (in place or by a rebuild, whichever the sizes
        /// give): every id is found at its row; a repeat that reaches into the new rows is an
        /// error naming the rows, after which the index holds the first rows only, as before.
        #[test]
        fn extending_agrees_with_building(
            raw in proptest::collection::vec("[a-e]{1,3}", 0..80),
            cut in 0usize..80,
        ) {
            // The first rows without repeats (what an index already held), then the rest as drawn.
            let cut = cut.min(raw.len());
            let mut seen = std::collections::HashSet::new();
            let mut ids: Vec<String> = raw[..cut].iter().filter(|id| seen.insert(*id)).cloned().collect();
            let from = ids.len();
            ids.extend_from_slice(&raw[cut..]);
            let mut index = IdIndex::build(&Prefix(&ids, from)).unwrap();
            let whole = IdIndex::build(&ids);
            let got = index.extend(&ids, from);
            match whole {
                Ok(_) => {
                    proptest::prop_assert!(got.is_ok());
                    for (row, id) in ids.iter().enumerate() {
                        proptest::prop_assert_eq!(index.get(&ids, id), Some(row as u32));
                    }
                    proptest::prop_assert_eq!(index.get(&ids, "zz"), None);
                }
                Err(_) => {
                    let (first, row) = got.unwrap_err();
                    proptest::prop_assert_eq!(&ids[first], &ids[row]);
                    proptest::prop_assert!(first < row && row >= from);
                    for (r, id) in ids[..from].iter().enumerate() {
                        proptest::prop_assert_eq!(index.get(&Prefix(&ids, from), id), Some(r as u32));
                    }
                }
            }
        }
    }

    /// Repeats in different groups of the build's scatter (ids hash to unrelated slots): the
    /// lowest repeating row is reported with its id's first row, whatever the groups' order.
    #[test]
    fn reports_the_lowest_repeat_across_groups() {
        let mut ids: Vec<String> = (0..200_000)
            .map(|i| format!("{}", 100_000 + i * 7))
            .collect();
        for (later, first) in [(150_000, 10), (120_000, 90_000), (199_999, 5), (120_001, 7)] {
            ids[later] = ids[first].clone();
        }
        assert_eq!(IdIndex::build(&ids).unwrap_err(), (90_000, 120_000));
        // A third occurrence is reported against the first, not the second.
        let mut ids: Vec<String> = (0..50_000).map(|i| format!("p{i}")).collect();
        ids[40_000] = ids[3].clone();
        ids[30_000] = ids[3].clone();
        assert_eq!(IdIndex::build(&ids).unwrap_err(), (3, 30_000));
    }

    #[test]
    fn reports_the_first_duplicate() {
        let ids: Vec<String> = ["a", "b", "c", "b", "a"].map(String::from).to_vec();
        assert_eq!(IdIndex::build(&ids).unwrap_err(), (1, 3));
    }
}
