//! Per-request state shared by scoring, rules and explanations ([`Prepared`]): the session
//! profile's scorer, context and boost terms, exclusions, and the neighbours of a `similar` anchor.

use super::env::{item_norm, Kind, ProfileSource, RankEnv};
use super::options::ValidRankOptions;
use crate::bundle::Bundle;
use crate::context::ContextEffect;
use crate::kernels::{dot_i8, dot_i8_rows, sort_rows};
use crate::score::{raw_profile, DeviceSignal, Scorer};
use crate::session::{Select, WeightedEvent};

/// Per-request state shared by scoring, rules and explanations.
pub(super) struct Prepared<'a> {
    pub(super) env: RankEnv<'a>,
    pub(super) opts: &'a ValidRankOptions,
    pub(super) kind: Kind,
    pub(super) weighted: Vec<WeightedEvent>,
    pub(super) scorer: Scorer<'a>,
    pub(super) effect: ContextEffect,
    /// Additive score per category (context + category boosts); empty when none.
    pub(super) cat_add: Vec<f32>,
    /// Boost per category alone (for explanations); empty when none.
    pub(super) cat_boost: Vec<f32>,
    /// Rows with an item boost, sorted (their sums: [`Prepared::item_boost`]).
    pub(super) boosted_rows: Vec<u32>,
    /// Sorted rows not to rank: exclusions (options and session) — pins are handled apart.
    pub(super) excluded: Vec<u32>,
    /// For `similar`: the anchor's neighbours (row, weight normalized to [0, 1]).
    pub(super) neighbours: Vec<(u32, f32)>,
    /// `unit: 'device'`: an item released from the device-only record, shown in the last slot
    /// when the ranking leaves it out (the shelf's one private slot).
    pub(super) insert_last: Option<u32>,
    /// For explanations: [`event_terms`], computed once per request (on the first explained row).
    pub(super) event_terms: std::cell::OnceCell<Option<EventTerms>>,
}

/// Each weighted event's vector as the profile sees it (`None`: a zero vector), and the length of
/// their weighted sum (the profile before normalization).
pub(super) type EventTerms = (Vec<Option<Vec<f32>>>, f32);

impl<'a> Prepared<'a> {
    pub(super) fn new(env: RankEnv<'a>, opts: &'a ValidRankOptions, kind: Kind) -> Self {
        let bundle = env.bundle;
        let now_ms = opts
            .now_ms
            .or_else(|| env.session.latest_ts_ms())
            .unwrap_or(0.0);
        // What session-based exclusions may read: every entry without privacy, the page's under
        // `unit: 'device'`, nothing from a release of the whole history.
        let readable = match env.profile {
            ProfileSource::Raw => Some(Select::All),
            ProfileSource::Page { .. } => Some(Select::Page),
            _ => None,
        };
        let (weighted, scorer) = match env.profile {
            // Item-to-item scores read no profile: do not build one.
            _ if matches!(kind, Kind::Similar(_)) => (Vec::new(), Scorer::public(bundle)),
            ProfileSource::Raw => {
                let weighted = env.session.effective_weights(env.signals, now_ms);
                let scorer = Scorer::with_events(bundle, &weighted);
                (weighted, scorer)
            }
            ProfileSource::Released(p) => (Vec::new(), Scorer::from_released(bundle, p)),
            ProfileSource::Anchor(j) => (Vec::new(), Scorer::from_anchor(bundle, j)),
            ProfileSource::Public => (Vec::new(), Scorer::public(bundle)),
            ProfileSource::Page { device, blend } => {
                let weighted = env
                    .session
                    .effective_weights_of(env.signals, now_ms, Select::Page);
                let page = raw_profile(bundle, &weighted);
                // A released anchor takes a slot of its own (below); a released profile is blended.
                let blended = match device {
                    DeviceSignal::Anchor(_) => DeviceSignal::None,
                    other => other,
                };
                let scorer = Scorer::blended(bundle, &page, blended, blend);
                (weighted, scorer)
            }
        };
        let insert_last = match env.profile {
            ProfileSource::Page {
                device: DeviceSignal::Anchor(j),
                ..
            } if !matches!(kind, Kind::Similar(_)) => Some(j),
            _ => None,
        };
        let effect = opts.context.effect(bundle);
        let n_cat = bundle.n_categories();
        let mut cat_boost = Vec::new();
        let mut boosted_rows: Vec<u32> = Vec::new();
        for b in &opts.boosts {
            if !b.categories.is_empty() {
                cat_boost.resize(n_cat, 0.0);
                for &c in &b.categories {
                    if let Some(x) = cat_boost.get_mut(c as usize) {
                        *x += b.weight;
                    }
                }
            }
            boosted_rows.extend(&b.items);
        }
        sort_rows(&mut boosted_rows);
        boosted_rows.dedup();
        let mut cat_add = Vec::new();
        if !effect.is_empty() || !cat_boost.is_empty() {
            cat_add = vec![0.0f32; n_cat];
            for (c, a) in cat_add.iter_mut().enumerate() {
                *a = effect.category_bias.get(c).copied().unwrap_or(0.0)
                    + cat_boost.get(c).copied().unwrap_or(0.0);
            }
        }
        let (def_purchased, def_cart) = match kind {
            Kind::Rerank => (false, false),
            Kind::Recommend | Kind::Similar(_) => (true, true),
        };
        let mut excluded = opts.excluded.clone();
        // Session-based exclusions read only what the privacy setting lets the ranking read
        // exactly (the engine warns when they are asked for and cannot be honoured).
        if let Some(which) = readable {
            if opts.exclude_seen.unwrap_or(false) {
                excluded.extend(env.session.seen_items_of(now_ms, which));
            }
            if opts.exclude_purchased.unwrap_or(def_purchased) {
                excluded.extend(env.session.purchased_items_of(now_ms, which));
            }
            if opts.exclude_in_cart.unwrap_or(def_cart) {
                excluded.extend(env.session.in_cart_items_of(now_ms, which));
            }
        }
        let mut neighbours = Vec::new();
        if let Kind::Similar(anchor) = kind {
            excluded.push(anchor);
            neighbours = bundle.neighbours(anchor as usize).collect();
            let max = neighbours.iter().map(|n| n.1).fold(0.0f32, f32::max);
            if max > 0.0 {
                neighbours.iter_mut().for_each(|n| n.1 /= max);
            }
        }
        sort_rows(&mut excluded);
        excluded.dedup();
        Self {
            env,
            opts,
            kind,
            weighted,
            scorer,
            effect,
            cat_add,
            cat_boost,
            boosted_rows,
            excluded,
            neighbours,
            insert_last,
            event_terms: std::cell::OnceCell::new(),
        }
    }

    pub(super) fn bundle(&self) -> &'a Bundle {
        self.env.bundle
    }

    pub(super) fn cat_add(&self, i: u32) -> f32 {
        if self.cat_add.is_empty() {
            return 0.0;
        }
        self.bundle()
            .category(i as usize)
            .and_then(|c| self.cat_add.get(c as usize))
            .copied()
            .unwrap_or(0.0)
    }

    /// Sum of the item boosts of row `i` (`boosts[].items` are sorted).
    pub(super) fn item_boost(&self, i: u32) -> f32 {
        if self.boosted_rows.binary_search(&i).is_err() {
            return 0.0;
        }
        self.opts
            .boosts
            .iter()
            .filter(|b| b.items.binary_search(&i).is_ok())
            .map(|b| b.weight)
            .sum()
    }

    pub(super) fn boost(&self, i: u32) -> f32 {
        let cat = if self.cat_boost.is_empty() {
            0.0
        } else {
            self.bundle()
                .category(i as usize)
                .and_then(|c| self.cat_boost.get(c as usize))
                .copied()
                .unwrap_or(0.0)
        };
        cat + self.item_boost(i)
    }

    pub(super) fn neighbour(&self, i: u32) -> f32 {
        self.neighbours
            .iter()
            .filter(|n| n.0 == i)
            .map(|n| n.1)
            .sum()
    }

    /// Cosine between items `a` and `b` (0 when either vector is zero).
    pub(super) fn cosine(&self, a: u32, b: u32) -> f32 {
        let bundle = self.bundle();
        let (na, nb) = (self.norm(a), self.norm(b));
        if na <= 0.0 || nb <= 0.0 {
            return 0.0;
        }
        let d = dot_i8(bundle.row(a as usize), bundle.row(b as usize)) as f32;
        d * bundle.scales()[a as usize] * bundle.scales()[b as usize] / (na * nb)
    }

    pub(super) fn norm(&self, i: u32) -> f32 {
        match self.env.norms.get(i as usize) {
            Some(&n) => n,
            None => item_norm(self.bundle(), i as usize),
        }
    }

    /// The model part of item `i`'s score (before context and boosts).
    pub(super) fn base_score(&self, i: u32) -> f32 {
        match self.kind {
            Kind::Similar(anchor) => {
                if self.norm(anchor) > 0.0 || !self.neighbours.is_empty() {
                    self.cosine(anchor, i) + self.neighbour(i)
                } else {
                    self.bundle().prior()[i as usize]
                }
            }
            Kind::Recommend | Kind::Rerank => self.scorer.score(i),
        }
    }

    /// The full score of item `i`.
    pub(super) fn score(&self, i: u32) -> f32 {
        self.base_score(i) + self.cat_add(i) + self.item_boost(i)
    }

    /// Whether `i` may be shown at all (filters, `exclude`/deny): what pins must pass too.
    pub(super) fn passes_hard_rules(&self, i: u32) -> bool {
        self.opts.filters.passes(self.bundle(), i) && self.opts.excluded.binary_search(&i).is_err()
    }

    /// Whether `i` may be ranked (hard rules and the session exclusions).
    pub(super) fn admissible(&self, i: u32) -> bool {
        self.opts.filters.passes(self.bundle(), i) && self.excluded.binary_search(&i).is_err()
    }

    /// Scores the whole catalog into one buffer, marking what may not be ranked with NaN.
    pub(super) fn score_catalog(&self) -> Vec<f32> {
        let bundle = self.bundle();
        let n = bundle.n_items();
        let mut scores = vec![0.0f32; n];
        match self.kind {
            Kind::Similar(anchor) => {
                let na = self.norm(anchor);
                if na > 0.0 || !self.neighbours.is_empty() {
                    let matrix = bundle.embeddings().ok().and_then(|m| m.to_slice());
                    match matrix {
                        Some(rows) if na > 0.0 => {
                            dot_i8_rows(bundle.row(anchor as usize), rows, &mut scores);
                            let sa = bundle.scales()[anchor as usize] / na;
                            for (i, s) in scores.iter_mut().enumerate() {
                                let nb = self.norm(i as u32);
                                *s = if nb > 0.0 {
                                    *s * sa * bundle.scales()[i] / nb
                                } else {
                                    0.0
                                };
                            }
                        }
                        _ => scores.iter_mut().for_each(|s| *s = 0.0),
                    }
                    for &(j, w) in &self.neighbours {
                        if let Some(s) = scores.get_mut(j as usize) {
                            *s += w;
                        }
                    }
                } else {
                    scores.copy_from_slice(bundle.prior());
                }
            }
            Kind::Recommend | Kind::Rerank => self.scorer.score_all(&mut scores),
        }
        if !self.cat_add.is_empty() {
            for (i, s) in scores.iter_mut().enumerate() {
                if let Some(c) = bundle.category(i) {
                    *s += self.cat_add.get(c as usize).copied().unwrap_or(0.0);
                }
            }
        }
        for &i in &self.boosted_rows {
            let b = self.item_boost(i);
            if let Some(s) = scores.get_mut(i as usize) {
                *s += b;
            }
        }
        if self.opts.filters.is_catalog_pass_needed() {
            for (i, s) in scores.iter_mut().enumerate() {
                if !self.opts.filters.passes_attributes(bundle, i as u32) {
                    *s = f32::NAN;
                }
            }
        }
        for &i in &self.excluded {
            if let Some(s) = scores.get_mut(i as usize) {
                *s = f32::NAN;
            }
        }
        for &(i, _) in &self.opts.pins {
            if let Some(s) = scores.get_mut(i as usize) {
                *s = f32::NAN;
            }
        }
        scores
    }
}
