//! Team-draft interleaving (Radlinski, Kurup & Joachims, CIKM 2008) of two rankings on one shelf,
//! and its click credit.
//!
//! Each round, the team with fewer picks so far (a fair coin when they are even) adds its
//! highest-ranked item not yet on the shelf, and the item remembers its team. A click credits the
//! team of the clicked item. Per device, the clicks of all its interleaved shelves are tallied;
//! the device's **outcome** is `1` if the second arm's team got more clicks, `0` if the first did,
//! and `½` (a fair coin inside the report's 1BitMean) on a tie or no click, so identical rankers
//! give an expected credit of exactly ½. The outcome leaves the device only as the layer-1 bit of
//! the metric `interleaving_credit`.

use serde::{Deserialize, Serialize};

use crate::error::PrivacyError;
use crate::privacy::rng::RandomSource;
use crate::privacy::samplers::bernoulli;

/// Which ranking an interleaved item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Team {
    /// The experiment's first arm.
    A,
    /// The experiment's second arm.
    B,
}

/// An interleaved shelf: the items in order and each one's team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterleavedList<T> {
    pub items: Vec<T>,
    pub teams: Vec<Team>,
}

impl<T: PartialEq> InterleavedList<T> {
    /// The team credited for a click on `item` (`None`: not on this shelf).
    pub fn team_of(&self, item: &T) -> Option<Team> {
        self.items
            .iter()
            .position(|x| x == item)
            .and_then(|i| self.teams.get(i).copied())
    }
}

/// Team-draft interleaving of rankings `a` and `b` (best first) into at most `k` distinct items.
/// When one ranking runs out, the other fills the rest. Time O((|a| + |b|) · log k + k²) at
/// worst (the shelf's items kept sorted for the membership test; a page's `k` of 2³² − 1 reserves
/// no more than the two lists hold).
pub fn team_draft<T: Clone + Ord, R: RandomSource + ?Sized>(
    a: &[T],
    b: &[T],
    k: usize,
    rng: &mut R,
) -> Result<InterleavedList<T>, PrivacyError> {
    let room = k.min(a.len().saturating_add(b.len()));
    let mut out = InterleavedList {
        items: Vec::with_capacity(room),
        teams: Vec::with_capacity(room),
    };
    // The shelf's items, sorted: what the skips test (a scan of the shelf per skipped item was
    // O(k) each, and a list of a million repeats made it hang).
    let mut shown: Vec<&T> = Vec::with_capacity(room);
    let (mut ia, mut ib) = (0usize, 0usize);
    let (mut na, mut nb) = (0usize, 0usize);
    while out.items.len() < k {
        // Skip items already on the shelf.
        while ia < a.len() && shown.binary_search(&&a[ia]).is_ok() {
            ia += 1;
        }
        while ib < b.len() && shown.binary_search(&&b[ib]).is_ok() {
            ib += 1;
        }
        let (a_left, b_left) = (ia < a.len(), ib < b.len());
        let pick_a = match (a_left, b_left) {
            (false, false) => break,
            (true, false) => true,
            (false, true) => false,
            (true, true) => na < nb || (na == nb && bernoulli(rng, 1, 2)?),
        };
        let (item, team) = if pick_a {
            na += 1;
            (&a[ia], Team::A)
        } else {
            nb += 1;
            (&b[ib], Team::B)
        };
        if let Err(at) = shown.binary_search(&item) {
            shown.insert(at, item);
        }
        out.items.push(item.clone());
        out.teams.push(team);
    }
    Ok(out)
}

crate::wire! {
    /// A device's interleaving clicks (kept on the device).
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct InterleavingTally {
        a: u32 = "a",
        b: u32 = "b",
    }
}

impl InterleavingTally {
    /// Credits one click.
    pub fn credit(&mut self, team: Team) {
        match team {
            Team::A => self.a = self.a.saturating_add(1),
            Team::B => self.b = self.b.saturating_add(1),
        }
    }

    /// The device's outcome in `[0, 1]`: 1 if B won, 0 if A won, ½ on a tie (incl. no clicks).
    pub fn outcome(&self) -> f64 {
        match self.a.cmp(&self.b) {
            std::cmp::Ordering::Less => 1.0,
            std::cmp::Ordering::Greater => 0.0,
            std::cmp::Ordering::Equal => 0.5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::rng::InsecureSeededRngForTestsOnly as SeededRng;

    #[test]
    fn team_draft_takes_alternately_and_never_repeats() {
        let mut rng = SeededRng::from_seed(7);
        let a = [1, 2, 3, 4, 5];
        let b = [3, 1, 6, 7, 8];
        for _ in 0..200 {
            let l = team_draft(&a, &b, 6, &mut rng).unwrap();
            assert_eq!(l.items.len(), 6);
            let mut sorted = l.items.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 6, "{:?}", l.items);
            // Each prefix is balanced within one pick.
            let mut d = 0i32;
            for t in &l.teams {
                d += if *t == Team::A { 1 } else { -1 };
                assert!(d.abs() <= 1);
            }
            // Each team's items appear in its ranking's order.
            let ranks = |team, list: &[i32]| -> Vec<usize> {
                l.items
                    .iter()
                    .zip(&l.teams)
                    .filter(|(_, t)| **t == team)
                    .map(|(x, _)| list.iter().position(|y| y == x).unwrap())
                    .collect()
            };
            for (team, list) in [(Team::A, &a), (Team::B, &b)] {
                let r = ranks(team, list);
                assert!(r.windows(2).all(|w| w[0] < w[1]), "{r:?}");
            }
        }
    }

    #[test]
    fn exhausted_rankings_and_credit() {
        let mut rng = SeededRng::from_seed(8);
        let l = team_draft(&[1, 2], &[2, 1], 5, &mut rng).unwrap();
        assert_eq!(l.items.len(), 2);
        let l = team_draft(&[1, 2, 3], &[] as &[i32], 2, &mut rng).unwrap();
        assert_eq!(l.items, vec![1, 2]);
        assert_eq!(l.team_of(&1), Some(Team::A));
        assert_eq!(l.team_of(&9), None);
        let mut t = InterleavingTally::default();
        assert_eq!(t.outcome(), 0.5);
        t.credit(Team::B);
        assert_eq!(t.outcome(), 1.0);
        t.credit(Team::A);
        t.credit(Team::A);
        assert_eq!(t.outcome(), 0.0);
    }

    /// A `k` past what the lists hold reserves only what they hold (2³² − 1 overflowed the
    /// reservation), and a ranking of a million repeats is skipped in O(n log k), not O(n · k).
    #[test]
    fn a_huge_k_and_long_lists_of_repeats_stay_cheap() {
        let mut rng = SeededRng::from_seed(10);
        let l = team_draft(&[1, 2], &[3], usize::MAX, &mut rng).unwrap();
        assert_eq!(l.items.len(), 3);
        // `a`'s last distinct item lands near the end of the shelf; its million repeats follow.
        let a: Vec<u32> = (1..=5_000)
            .chain(std::iter::repeat_n(5_000, 1_000_000))
            .collect();
        let b: Vec<u32> = (10_001..=15_000).collect();
        let l = team_draft(&a, &b, 20_000, &mut rng).unwrap();
        assert_eq!(l.items.len(), 10_000, "every distinct item once");
        let mut sorted = l.items.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 10_000);
    }

    #[test]
    fn identical_rankings_split_the_credit_evenly() {
        let mut rng = SeededRng::from_seed(9);
        let list: Vec<u32> = (0..10).collect();
        let mut first_is_b = 0;
        let n = 20_000;
        for _ in 0..n {
            let l = team_draft(&list, &list, 10, &mut rng).unwrap();
            if l.teams[0] == Team::B {
                first_is_b += 1;
            }
        }
        let share = first_is_b as f64 / n as f64;
        assert!(
            (share - 0.5).abs() < 4.0 * (0.25 / n as f64).sqrt(),
            "{share}"
        );
    }
}
