//! Per-request state shared by scoring, rules and explanations ([`Prepared`]): the session
//! profile's scorer, context and boost terms, exclusions, and for the scenarios (`similar`,
//! bought-together) the anchors' mean direction and neighbours.

use super::env::{item_norm, Kind, ProfileSource, RankEnv, Related};
use super::options::ValidRankOptions;
use crate::bundle::{Bundle, ItemQuery, NeighbourKind};
use crate::context::ContextEffect;
use crate::kernels::{dot_i8, dot_i8_rows, sort_rows};
use crate::score::{DeviceSignal, Scorer, SessionSignal};
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
    /// For the scenarios: the rows asked about, ascending (never in the results).
    pub(super) anchors: Vec<u32>,
    /// For the scenarios: the anchors' neighbours `(row, weight)`, each anchor's list normalized
    /// to a strongest weight of 1 and divided by the number of anchors (rows may repeat).
    pub(super) neighbours: Vec<(u32, f32)>,
    /// `unit: 'device'`: an item released from the device-only record, shown in the last slot
    /// when the ranking leaves it out (the shelf's one private slot).
    pub(super) insert_last: Option<u32>,
    /// `unit: 'device'`: a released shelf cut — rows (sorted) left out below the first
    /// k − `slots` items of the ranking, and `slots`.
    pub(super) left_out: (&'a [u32], usize),
    /// For the scenarios: the anchors' mean unit vector, int8, and its scale (`None`: all zero).
    pub(super) anchor_query: Option<ItemQuery>,
    /// Weight of the mean cosine to the anchors (1 for `similar`).
    pub(super) cos_weight: f32,
    /// For explanations: [`event_terms`], computed once per request (on the first explained row).
    pub(super) event_terms: std::cell::OnceCell<Option<EventTerms>>,
}

/// Each weighted event's vector as the profile sees it (`None`: a zero vector), and the length of
/// their weighted sum (the profile before normalization).
pub(super) type EventTerms = (Vec<Option<Vec<f32>>>, f32);

impl<'a> Prepared<'a> {
    /// `anchors`: the scenario's item rows (distinct; empty for the other kinds).
    pub(super) fn new(
        env: RankEnv<'a>,
        opts: &'a ValidRankOptions,
        kind: Kind,
        anchors: &[u32],
    ) -> Self {
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
            // The scenarios read no profile: do not build one.
            _ if matches!(kind, Kind::Related(_)) => (Vec::new(), Scorer::public(bundle)),
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
                let page = SessionSignal::of(bundle, &weighted);
                // A released anchor takes a slot of its own (below); a released profile is blended.
                let blended = match device {
                    DeviceSignal::Anchor(_) | DeviceSignal::LeftOut { .. } => DeviceSignal::None,
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
            } if !matches!(kind, Kind::Related(_)) => Some(j),
            _ => None,
        };
        let left_out: (&'a [u32], usize) = match env.profile {
            ProfileSource::Page {
                device: DeviceSignal::LeftOut { rows, slots },
                ..
            } if !matches!(kind, Kind::Related(_)) => (rows, slots),
            _ => (&[], 0),
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
            Kind::Recommend | Kind::Related(_) => (true, true),
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
        let (mut anchor_query, mut cos_weight) = (None, 1.0);
        if let Kind::Related(related @ (Related::Similar | Related::BoughtTogether)) = kind {
            excluded.extend_from_slice(anchors);
            let lists = match related {
                Related::BoughtTogether if bundle.has_lists(NeighbourKind::CoPurchase) => {
                    NeighbourKind::CoPurchase
                }
                _ => NeighbourKind::CoOccurrence,
            };
            if related == Related::BoughtTogether {
                cos_weight = BOUGHT_TOGETHER_COS_WEIGHT;
            }
            let share = 1.0 / anchors.len().max(1) as f32;
            for &a in anchors {
                let list: Vec<(u32, f32)> = bundle.neighbour_list(lists, a as usize).collect();
                let max = list.iter().map(|n| n.1).fold(0.0f32, f32::max);
                if max > 0.0 {
                    neighbours.extend(list.into_iter().map(|(j, w)| (j, w / max * share)));
                }
            }
            anchor_query = mean_direction(&env, anchors);
        }
        sort_rows(&mut excluded);
        excluded.dedup();
        let mut sorted_anchors = anchors.to_vec();
        sort_rows(&mut sorted_anchors);
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
            anchors: sorted_anchors,
            neighbours,
            insert_last,
            left_out,
            anchor_query,
            cos_weight,
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
        if bundle.is_compact() {
            return bundle.item_dot(a as usize, b as usize) / (na * nb);
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

    /// Whether a scenario around anchors has anything to go on (a direction or neighbours);
    /// otherwise it ranks by popularity.
    pub(super) fn has_anchor_signal(&self) -> bool {
        self.anchor_query.is_some() || !self.neighbours.is_empty()
    }

    /// The mean cosine between item `i` and the anchors, times the scenario's cosine weight
    /// (0 when either side is a zero vector).
    pub(super) fn anchor_similarity(&self, i: u32) -> f32 {
        let Some(query) = &self.anchor_query else {
            return 0.0;
        };
        let bundle = self.bundle();
        let n = self.norm(i);
        if n <= 0.0 {
            return 0.0;
        }
        let ItemQuery::Int8(q, qs) = query else {
            return self.cos_weight * bundle.query_dot(query, i) / n;
        };
        self.cos_weight
            * dot_i8(q, bundle.row(i as usize)) as f32
            * qs
            * bundle.scales()[i as usize]
            / n
    }

    /// The model part of item `i`'s score (before context and boosts).
    pub(super) fn base_score(&self, i: u32) -> f32 {
        match self.kind {
            Kind::Related(Related::Trending) => self.bundle().trend_prior()[i as usize],
            Kind::Related(_) => {
                if self.has_anchor_signal() {
                    self.anchor_similarity(i) + self.neighbour(i)
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

    /// [`Prepared::score`] of each of `rows` (a candidate list), the model part batched where
    /// the scorer can (`recommend`/`rerank`): the same values.
    pub(super) fn score_rows(&self, rows: &[u32]) -> Vec<f32> {
        let mut out = vec![0.0f32; rows.len()];
        match self.kind {
            Kind::Recommend | Kind::Rerank => {
                self.scorer.score_rows(rows, &mut out);
                for (o, &i) in out.iter_mut().zip(rows) {
                    *o = *o + self.cat_add(i) + self.item_boost(i);
                }
            }
            Kind::Related(_) => {
                for (o, &i) in out.iter_mut().zip(rows) {
                    *o = self.score(i);
                }
            }
        }
        out
    }

    /// Whether `i` may be shown at all (available, filters, `exclude`/deny): what pins must
    /// pass too.
    pub(super) fn passes_hard_rules(&self, i: u32) -> bool {
        self.bundle().is_available(i as usize)
            && self.opts.filters.passes(self.bundle(), i)
            && self.opts.excluded.binary_search(&i).is_err()
    }

    /// Whether `i` may be ranked (hard rules and the session exclusions).
    pub(super) fn admissible(&self, i: u32) -> bool {
        self.bundle().is_available(i as usize)
            && self.opts.filters.passes(self.bundle(), i)
            && self.excluded.binary_search(&i).is_err()
    }

    /// Scores the whole catalog into one buffer, marking what may not be ranked with NaN.
    pub(super) fn score_catalog(&self) -> Vec<f32> {
        let bundle = self.bundle();
        let n = bundle.n_items();
        let mut scores = vec![0.0f32; n];
        match self.kind {
            Kind::Related(Related::Trending) => scores.copy_from_slice(bundle.trend_prior()),
            Kind::Related(_) => {
                if self.has_anchor_signal() {
                    let matrix = bundle.embeddings().ok().and_then(|m| m.to_slice());
                    match (&self.anchor_query, matrix) {
                        (Some(t @ ItemQuery::Table(_)), _) => {
                            bundle.query_dot_all(t, &mut scores);
                            for (i, s) in scores.iter_mut().enumerate() {
                                let n = self.norm(i as u32);
                                *s = if n > 0.0 {
                                    *s * self.cos_weight / n
                                } else {
                                    0.0
                                };
                            }
                        }
                        (Some(ItemQuery::Int8(q, qs)), Some(rows)) => {
                            dot_i8_rows(q, rows, &mut scores);
                            let w = self.cos_weight * qs;
                            for (i, s) in scores.iter_mut().enumerate() {
                                let n = self.norm(i as u32);
                                *s = if n > 0.0 {
                                    *s * w * bundle.scales()[i] / n
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
        for &i in self.excluded.iter().chain(bundle.unavailable()) {
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

/// The weight of the anchors' mean cosine in bought-together, beside the co-purchase neighbours
/// (each list scaled to a maximum of 1, shared by the anchors). Chosen on an Instacart validation
/// split (each training user's last order, bundle trained on the rest; HR@10 of the next basket
/// item: 0.1 → 13.07, 1 → 15.14, 2 → 15.81, 2.5 → 15.92, 3 → 15.94 with a lower MRR, 4 → 15.69):
/// co-purchase lists are sparse (≈ 2.7 per item at the training's minimum support), so the cosine
/// must carry the items they miss. Test figures in docs/quality.md, "Scenarios".
pub const BOUGHT_TOGETHER_COS_WEIGHT: f32 = 2.5;

/// The anchors' mean unit vector as the bundle's query form: an int8 query and its scale, such
/// that the mean cosine to item `i` is `scale · dot(query, row_i) · item_scale_i / ‖v_i‖`, or a
/// lookup table for a compact bundle. One int8 anchor: its own row (no requantization). `None`
/// when every anchor has a zero vector (or, int8, the mean is zero).
fn mean_direction(env: &RankEnv<'_>, anchors: &[u32]) -> Option<ItemQuery> {
    let bundle = env.bundle;
    let norm = |a: u32| match env.norms.get(a as usize) {
        Some(&n) => n,
        None => item_norm(bundle, a as usize),
    };
    if let ([a], false) = (anchors, bundle.is_compact()) {
        let n = norm(*a);
        return (n > 0.0).then(|| {
            ItemQuery::Int8(
                bundle.row(*a as usize).to_vec(),
                bundle.scales()[*a as usize] / n,
            )
        });
    }
    let mut mean = vec![0.0f32; bundle.dim()];
    let mut any = false;
    for &a in anchors {
        let n = norm(a);
        // A zero vector has no direction.
        if n > 0.0 {
            any = true;
            if bundle.is_compact() {
                // The anchor's reconstructed vector.
                for (m, x) in mean.iter_mut().zip(bundle.dequantized_row(a as usize)) {
                    *m += x / n / anchors.len() as f32;
                }
            } else {
                let s = bundle.scales()[a as usize] / n / anchors.len() as f32;
                for (m, &q) in mean.iter_mut().zip(bundle.row(a as usize)) {
                    *m += f32::from(q) * s;
                }
            }
        }
    }
    if !any {
        return None;
    }
    // The bundle's own query form: a lookup table, or an int8 query (none for a zero mean).
    match bundle.query_for(&mean) {
        ItemQuery::Int8(_, 0.0) => None,
        query => Some(query),
    }
}
