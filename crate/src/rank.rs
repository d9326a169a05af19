//! Ranking: candidates (the whole catalog, a list from the page, or the neighbourhood of one item)
//! → scores (the model from `score`, plus context and boosts) → business rules (filters,
//! exclusions, pins) → diversity (per-category cap, MMR) → top-k → results with explanations.
//!
//! Options arrive as [`RankOptions`] (plain data, as the page sends them) and are validated once,
//! against the bundle, into [`ValidRankOptions`]; everything below works on valid options only.
//! Policies (unknown ids, boosts, pins versus filters, diversity) are stated on the types and in
//! `docs/engine.md`.

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::context::{ContextEffect, ContextInput, ValidContext};
use crate::error::RequestError;
use crate::kernels::{dot_i8, dot_i8_rows, sort_rows, top_k, Scored, TopK};
use crate::numfmt::Num;
use crate::score::Scorer;
use crate::session::{SessionLog, SignalPolicy, WeightedEvent};

/// Largest `k` a request may ask for.
pub const MAX_K: usize = 10_000;
/// `k` when a `recommend` or `similar` request gives none.
pub const DEFAULT_K: usize = 10;
/// Most ids in one list of a request (candidates, allow, deny, exclude, a boost's items).
pub const MAX_IDS: usize = 100_000;
/// Most pins and most boosts in one request.
pub const MAX_RULES: usize = 1_000;
/// Largest MMR pool.
pub const MAX_MMR_POOL: usize = 5_000;
/// How many of the newest session events an explanation lists at most.
pub const MAX_EXPLAINED_EVENTS: usize = 5;

fn invalid(name: &'static str, why: impl Into<String>) -> RequestError {
    RequestError::InvalidOption {
        name,
        why: why.into(),
    }
}

/// Request options as the page passes them (`{k, context, filters, exclude, boosts, pins,
/// diversity, excludeSeen, excludePurchased, excludeInCart, explain, now}`), before validation.
/// Every field is optional; unknown fields are errors (a typo must not pass silently).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RankOptions {
    /// How many results (1 ..= [`MAX_K`]); default [`DEFAULT_K`], or every candidate for `rerank`.
    #[serde(default)]
    pub k: Option<f64>,
    /// The visit's context (see [`crate::context`]).
    #[serde(default)]
    pub context: Option<ContextInput>,
    /// Hard constraints on what may be shown.
    #[serde(default)]
    pub filters: Option<FilterOptions>,
    /// Item ids never to show (e.g. the products already on the page).
    #[serde(default)]
    pub exclude: Option<Vec<String>>,
    /// Additive score changes for items or categories.
    #[serde(default)]
    pub boosts: Option<Vec<BoostOption>>,
    /// Items placed at fixed ranks.
    #[serde(default)]
    pub pins: Option<Vec<PinOption>>,
    /// Per-category cap and/or MMR.
    #[serde(default)]
    pub diversity: Option<DiversityOptions>,
    /// Leave out items the session has any event for (default false).
    #[serde(default)]
    pub exclude_seen: Option<bool>,
    /// Leave out purchased items (default true, false for `rerank`).
    #[serde(default)]
    pub exclude_purchased: Option<bool>,
    /// Leave out items in the cart (default true, false for `rerank`).
    #[serde(default)]
    pub exclude_in_cart: Option<bool>,
    /// Attach an explanation to each result (default false).
    #[serde(default)]
    pub explain: Option<bool>,
    /// The request's time in ms since the Unix epoch, for time decay and `max_age` (default: the
    /// wasm layer uses `Date.now()`, the native engine the session's newest event).
    #[serde(default)]
    pub now: Option<f64>,
}

/// `filters`: every given constraint must hold for an item to be shown (pins included).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FilterOptions {
    /// Keep only items of these categories (names, as in the bundle's category list).
    #[serde(default)]
    pub categories: Option<Vec<String>>,
    /// Leave out items of these categories.
    #[serde(default)]
    pub exclude_categories: Option<Vec<String>>,
    /// Lowest price kept (inclusive). Items without a known price fail a price filter.
    #[serde(default)]
    pub price_min: Option<f64>,
    /// Highest price kept (inclusive).
    #[serde(default)]
    pub price_max: Option<f64>,
    /// Keep only these items.
    #[serde(default)]
    pub allow: Option<Vec<String>>,
    /// Never show these items.
    #[serde(default)]
    pub deny: Option<Vec<String>>,
}

/// One boost: `weight` is **added** to the score of the listed items and of every item of the
/// listed categories (an item in several matching boosts gets their sum). Negative weights bury.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BoostOption {
    /// Item ids.
    #[serde(default)]
    pub items: Option<Vec<String>>,
    /// Category names.
    #[serde(default)]
    pub categories: Option<Vec<String>>,
    /// Added to the score (finite).
    pub weight: f64,
}

/// One pin: `item` shown at `rank` (1 = first).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PinOption {
    /// The item id.
    #[serde(alias = "id")]
    pub item: String,
    /// Its rank, 1-based (≤ k).
    pub rank: f64,
}

/// `diversity`: a per-category cap and/or Maximal Marginal Relevance.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DiversityOptions {
    /// At most this many results per category (≥ 1); items without a category are not capped.
    #[serde(default)]
    pub max_per_category: Option<f64>,
    /// MMR trade-off in [0, 1]: 1 = relevance only, 0 = dissimilarity only.
    #[serde(default)]
    pub lambda: Option<f64>,
    /// How many of the best candidates MMR chooses from (default max(4k, 50), ≤ [`MAX_MMR_POOL`]).
    #[serde(default)]
    pub pool: Option<f64>,
}

/// Filters resolved to rows and category indices.
#[derive(Debug, Clone, Default, PartialEq)]
struct ValidFilters {
    /// Sorted category indices to keep.
    keep_categories: Option<Vec<u32>>,
    /// Sorted category indices to leave out.
    drop_categories: Vec<u32>,
    /// Inclusive price range.
    price: Option<(f64, f64)>,
    /// Sorted rows to keep.
    allow: Option<Vec<u32>>,
}

impl ValidFilters {
    fn is_catalog_pass_needed(&self) -> bool {
        self.keep_categories.is_some() || !self.drop_categories.is_empty() || self.price.is_some()
    }

    /// Category and price constraints (allow and deny are handled by the candidate set).
    fn passes_attributes(&self, bundle: &Bundle, i: u32) -> bool {
        let cat = bundle.category(i as usize);
        if let Some(keep) = &self.keep_categories {
            match cat {
                Some(c) if keep.binary_search(&c).is_ok() => {}
                _ => return false,
            }
        }
        if let Some(c) = cat {
            if self.drop_categories.binary_search(&c).is_ok() {
                return false;
            }
        }
        if let Some((lo, hi)) = self.price {
            match bundle.price(i as usize) {
                Some(p) if f64::from(p) >= lo && f64::from(p) <= hi => {}
                _ => return false,
            }
        }
        true
    }

    fn passes(&self, bundle: &Bundle, i: u32) -> bool {
        if let Some(allow) = &self.allow {
            if allow.binary_search(&i).is_err() {
                return false;
            }
        }
        self.passes_attributes(bundle, i)
    }
}

/// A boost resolved to rows and categories.
#[derive(Debug, Clone, PartialEq)]
struct ValidBoost {
    items: Vec<u32>,
    categories: Vec<u32>,
    weight: f32,
}

/// Validated diversity settings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct ValidDiversity {
    max_per_category: Option<usize>,
    lambda: Option<f32>,
    pool: Option<usize>,
}

/// Options checked once against the bundle: ids resolved to rows (unknown ones collected),
/// categories resolved, ranges checked. Build with [`RankOptions::validate`], or with
/// [`ValidRankOptions::new`] and the builder methods for the common native cases.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRankOptions {
    k: Option<usize>,
    context: ValidContext,
    filters: ValidFilters,
    /// Sorted rows never shown (`exclude` ∪ `filters.deny`).
    excluded: Vec<u32>,
    boosts: Vec<ValidBoost>,
    /// (row, 0-based slot), sorted by slot.
    pins: Vec<(u32, usize)>,
    diversity: ValidDiversity,
    exclude_seen: Option<bool>,
    exclude_purchased: Option<bool>,
    exclude_in_cart: Option<bool>,
    explain: bool,
    now_ms: Option<f64>,
    unknown_ids: Vec<String>,
    warnings: Vec<String>,
}

/// The former name of [`ValidRankOptions`] (`RecommendRequest::new(k)?.exclude_seen(true)`).
pub type RecommendRequest = ValidRankOptions;

impl ValidRankOptions {
    /// Options for the top `k` (1 ≤ k ≤ [`MAX_K`]), every other option at its default.
    pub fn new(k: usize) -> Result<Self, RequestError> {
        if k == 0 || k > MAX_K {
            return Err(invalid(
                "k",
                format!("must be between 1 and {MAX_K}, got {k}"),
            ));
        }
        Ok(Self {
            k: Some(k),
            ..Self::default_for_all()
        })
    }

    fn default_for_all() -> Self {
        Self {
            k: None,
            context: ValidContext::default(),
            filters: ValidFilters::default(),
            excluded: Vec::new(),
            boosts: Vec::new(),
            pins: Vec::new(),
            diversity: ValidDiversity::default(),
            exclude_seen: None,
            exclude_purchased: None,
            exclude_in_cart: None,
            explain: false,
            now_ms: None,
            unknown_ids: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Leave out items that already occur in the session.
    pub fn exclude_seen(mut self, yes: bool) -> Self {
        self.exclude_seen = Some(yes);
        self
    }

    /// Leave out purchased items (on by default for `recommend` and `similar`).
    pub fn exclude_purchased(mut self, yes: bool) -> Self {
        self.exclude_purchased = Some(yes);
        self
    }

    /// Leave out items in the cart (on by default for `recommend` and `similar`).
    pub fn exclude_in_cart(mut self, yes: bool) -> Self {
        self.exclude_in_cart = Some(yes);
        self
    }

    /// Attach explanations to the results.
    pub fn explain(mut self, yes: bool) -> Self {
        self.explain = yes;
        self
    }

    /// The request's time (ms since the Unix epoch) for time decay and `max_age`.
    pub fn now_ms(mut self, now_ms: f64) -> Self {
        self.now_ms = Some(now_ms);
        self
    }

    /// Uses `now_ms` unless the options already carry a time.
    pub fn or_now_ms(mut self, now_ms: f64) -> Self {
        self.now_ms.get_or_insert(now_ms);
        self
    }

    /// How many results are asked for (`None`: the request kind's default).
    pub fn k(&self) -> Option<usize> {
        self.k
    }

    /// Ids in the options that the bundle does not know, in order of appearance, deduplicated.
    pub fn unknown_ids(&self) -> &[String] {
        &self.unknown_ids
    }

    /// Things the validation noticed but did not reject (ignored context keys, unknown categories).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The request time the options carry, if any (ms since the Unix epoch).
    pub fn request_time_ms(&self) -> Option<f64> {
        self.now_ms
    }

    /// The session-based exclusions asked for explicitly (`excludeSeen`, `excludePurchased`,
    /// `excludeInCart` set to true), by name.
    pub fn session_exclusions_requested(&self) -> Vec<&'static str> {
        [
            ("excludeSeen", self.exclude_seen),
            ("excludePurchased", self.exclude_purchased),
            ("excludeInCart", self.exclude_in_cart),
        ]
        .into_iter()
        .filter(|(_, v)| *v == Some(true))
        .map(|(name, _)| name)
        .collect()
    }
}

/// Resolves ids to rows, collecting unknown ones.
struct Resolver<'a> {
    bundle: &'a Bundle,
    unknown: Vec<String>,
    warnings: Vec<String>,
}

impl Resolver<'_> {
    fn ids(&mut self, name: &'static str, ids: &[String]) -> Result<Vec<u32>, RequestError> {
        if ids.len() > MAX_IDS {
            return Err(invalid(
                name,
                format!("lists at most {MAX_IDS} ids, got {}", ids.len()),
            ));
        }
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            match self.bundle.index_of(id) {
                Some(i) => rows.push(i),
                None => {
                    if !self.unknown.contains(id) {
                        self.unknown.push(id.clone());
                    }
                }
            }
        }
        sort_rows(&mut rows);
        rows.dedup();
        Ok(rows)
    }

    fn categories(
        &mut self,
        name: &'static str,
        refs: &[String],
    ) -> Result<Vec<u32>, RequestError> {
        let names = self.bundle.category_names().ok_or_else(|| {
            invalid(
                name,
                "this bundle has no item categories, so categories cannot be used",
            )
        })?;
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            match names.iter().position(|n| n == r) {
                Some(c) => out.push(c as u32),
                None => self
                    .warnings
                    .push(format!("{name}: category '{r}' is not in this bundle")),
            }
        }
        sort_rows(&mut out);
        out.dedup();
        Ok(out)
    }
}

fn whole(name: &'static str, v: f64, lo: usize, hi: usize) -> Result<usize, RequestError> {
    if v.fract() == 0.0 && v >= lo as f64 && v <= hi as f64 {
        Ok(v as usize)
    } else {
        Err(invalid(
            name,
            format!("must be a whole number from {lo} to {hi}, got {}", Num(v)),
        ))
    }
}

impl RankOptions {
    /// Checks every option against `bundle` once. Out-of-range values and malformed context are
    /// errors; ids the bundle does not know are collected in
    /// [`ValidRankOptions::unknown_ids`] (never silently dropped, never an error: a catalog
    /// changes faster than its bundle).
    pub fn validate(&self, bundle: &Bundle) -> Result<ValidRankOptions, RequestError> {
        let mut r = Resolver {
            bundle,
            unknown: Vec::new(),
            warnings: Vec::new(),
        };
        let k = self.k.map(|k| whole("k", k, 1, MAX_K)).transpose()?;
        let context = match &self.context {
            Some(c) => c.validate()?,
            None => ValidContext::default(),
        };
        for key in &context.ignored_keys {
            r.warnings
                .push(format!("context key '{key}' ignored (not a context key)"));
        }

        let mut filters = ValidFilters::default();
        let mut excluded = match &self.exclude {
            Some(ids) => r.ids("exclude", ids)?,
            None => Vec::new(),
        };
        if let Some(f) = &self.filters {
            if let Some(c) = &f.categories {
                filters.keep_categories = Some(r.categories("filters.categories", c)?);
            }
            if let Some(c) = &f.exclude_categories {
                filters.drop_categories = r.categories("filters.excludeCategories", c)?;
            }
            if f.price_min.is_some() || f.price_max.is_some() {
                let lo = f.price_min.unwrap_or(0.0);
                let hi = f.price_max.unwrap_or(f64::INFINITY);
                if lo.is_nan() || hi.is_nan() || lo > hi || hi < 0.0 {
                    return Err(invalid(
                        "filters.priceMin/priceMax",
                        format!(
                            "must be numbers with priceMin ≤ priceMax, got {} and {}",
                            Num(lo),
                            Num(hi)
                        ),
                    ));
                }
                if (0..bundle.n_items()).all(|i| bundle.price(i).is_none()) {
                    return Err(invalid(
                        "filters.priceMin/priceMax",
                        "this bundle has no item prices, so a price filter would leave nothing",
                    ));
                }
                filters.price = Some((lo, hi));
            }
            if let Some(ids) = &f.allow {
                filters.allow = Some(r.ids("filters.allow", ids)?);
            }
            if let Some(ids) = &f.deny {
                excluded.extend(r.ids("filters.deny", ids)?);
                sort_rows(&mut excluded);
                excluded.dedup();
            }
        }

        let mut boosts = Vec::new();
        for b in self.boosts.iter().flatten() {
            if boosts.len() >= MAX_RULES {
                return Err(invalid("boosts", format!("at most {MAX_RULES} boosts")));
            }
            if !b.weight.is_finite() {
                return Err(invalid(
                    "boosts",
                    format!("weight must be a finite number, got {}", Num(b.weight)),
                ));
            }
            if b.items.is_none() && b.categories.is_none() {
                return Err(invalid("boosts", "each boost needs items or categories"));
            }
            let items = match &b.items {
                Some(ids) => r.ids("boosts.items", ids)?,
                None => Vec::new(),
            };
            let categories = match &b.categories {
                Some(c) => r.categories("boosts.categories", c)?,
                None => Vec::new(),
            };
            boosts.push(ValidBoost {
                items,
                categories,
                weight: b.weight as f32,
            });
        }

        let mut pins: Vec<(u32, usize)> = Vec::new();
        for p in self.pins.iter().flatten() {
            if pins.len() >= MAX_RULES {
                return Err(invalid("pins", format!("at most {MAX_RULES} pins")));
            }
            let rank = whole("pins.rank", p.rank, 1, k.unwrap_or(MAX_K))?;
            let Some(row) = r
                .ids("pins.item", std::slice::from_ref(&p.item))?
                .first()
                .copied()
            else {
                continue;
            };
            if pins.iter().any(|&(_, s)| s == rank - 1) {
                return Err(invalid("pins", format!("two pins ask for rank {rank}")));
            }
            if pins.iter().any(|&(i, _)| i == row) {
                return Err(invalid(
                    "pins",
                    format!("item '{}' is pinned twice", p.item),
                ));
            }
            pins.push((row, rank - 1));
        }
        // By slot (insertion sort: pins are few, and this avoids another sort instantiation).
        for j in 1..pins.len() {
            let mut m = j;
            while m > 0 && pins[m - 1].1 > pins[m].1 {
                pins.swap(m - 1, m);
                m -= 1;
            }
        }

        let mut diversity = ValidDiversity::default();
        if let Some(d) = &self.diversity {
            if let Some(m) = d.max_per_category {
                if bundle.category_names().is_none() {
                    return Err(invalid(
                        "diversity.maxPerCategory",
                        "this bundle has no item categories",
                    ));
                }
                diversity.max_per_category = Some(whole("diversity.maxPerCategory", m, 1, MAX_K)?);
            }
            if let Some(l) = d.lambda {
                if !(0.0..=1.0).contains(&l) {
                    return Err(invalid(
                        "diversity.lambda",
                        format!("must be in [0, 1], got {}", Num(l)),
                    ));
                }
                diversity.lambda = Some(l as f32);
            }
            if let Some(p) = d.pool {
                diversity.pool = Some(whole("diversity.pool", p, 1, MAX_MMR_POOL)?);
            }
        }
        if let Some(now) = self.now {
            if !now.is_finite() {
                return Err(invalid(
                    "now",
                    format!("must be a finite number of milliseconds, got {}", Num(now)),
                ));
            }
        }
        Ok(ValidRankOptions {
            k,
            context,
            filters,
            excluded,
            boosts,
            pins,
            diversity,
            exclude_seen: self.exclude_seen,
            exclude_purchased: self.exclude_purchased,
            exclude_in_cart: self.exclude_in_cart,
            explain: self.explain.unwrap_or(false),
            now_ms: self.now,
            unknown_ids: r.unknown,
            warnings: r.warnings,
        })
    }
}

/// One named additive part of a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    /// `similarity`, `popularity`, `context`, `boost`, `neighbour`, or a context feature name.
    pub feature: String,
    /// What it adds.
    pub value: f32,
}

/// A session event behind a score: how similar its item is to the result, and how much that
/// adds to the similarity term (`weight · (W u_event) · v_item / ‖Σ weight · W u‖`, `W` the
/// bundle's readout or the identity; the parts of all events sum to the `similarity` contribution
/// up to int8 rounding).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventReason {
    /// Event type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The event's item id.
    pub item: String,
    /// When (ms since the Unix epoch).
    pub ts: f64,
    /// The event's effective weight (type × position × decay × dwell).
    pub weight: f32,
    /// Cosine between the event's item and the result.
    pub similarity: f32,
    /// Its share of the `similarity` contribution.
    pub contribution: f32,
}

/// Why an item got its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// Additive parts that sum to the score (`similarity`, `popularity`, `context`, `boost`,
    /// `neighbour`).
    pub contributions: Vec<Part>,
    /// The session events that weigh most on the `similarity` part, by |contribution|.
    pub events: Vec<EventReason>,
    /// The context features behind the `context` part, with their weight for the item's category.
    pub context: Vec<Part>,
    /// True when the session shaped the score (false: popularity and context only).
    pub personalized: bool,
    /// True when the item was placed by a pin.
    pub pinned: bool,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedItem {
    /// The item id.
    pub id: String,
    /// Higher is better; comparable within one response only. With MMR, results follow the MMR
    /// order and this stays the relevance score.
    pub score: f32,
    /// 1-based position in the response.
    pub rank: u32,
    /// Placed by a pin.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    /// A boost changed its score.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub boosted: bool,
    /// Why (when `explain` was asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<Explanation>,
}

/// A result before its id is attached: the bundle row (what [`RankEnv`] selects; the wasm layer
/// reads ids straight from the bundle instead of cloning them into [`RankedItem`]s).
#[derive(Debug, Clone, PartialEq)]
pub struct RankedRow {
    /// Row of the item in the bundle.
    pub index: u32,
    /// As [`RankedItem::score`].
    pub score: f32,
    /// 1-based position in the response.
    pub rank: u32,
    /// Placed by a pin.
    pub pinned: bool,
    /// A boost changed its score.
    pub boosted: bool,
    /// For `rerank`: the position of the item's first occurrence in the candidate list.
    pub position: Option<u32>,
    /// Why (when `explain` was asked for).
    pub why: Option<Explanation>,
}

/// A response of [`RankedRow`]s; [`RowResponse::into_response`] attaches the ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowResponse {
    /// Results, best first.
    pub rows: Vec<RankedRow>,
    /// As [`RankResponse::unknown_ids`].
    pub unknown_ids: Vec<String>,
    /// As [`RankResponse::warnings`].
    pub warnings: Vec<String>,
}

impl RowResponse {
    /// The response with each row's id from `bundle` (the bundle the rows came from).
    pub fn into_response(self, bundle: &Bundle) -> RankResponse {
        RankResponse {
            items: self
                .rows
                .into_iter()
                .map(|r| RankedItem {
                    id: bundle.ids()[r.index as usize].clone(),
                    score: r.score,
                    rank: r.rank,
                    pinned: r.pinned,
                    boosted: r.boosted,
                    why: r.why,
                })
                .collect(),
            unknown_ids: self.unknown_ids,
            warnings: self.warnings,
        }
    }
}

/// The distinct rows of a candidate list in order of first appearance, with that position: an
/// open-addressing table of indices into `rows` (at most half full), so deduplicating n candidates
/// is O(n) instead of a sort.
struct FirstSeen {
    /// `EMPTY_SLOT` or an index into `rows`; a power of two ≥ 2 × the list's length.
    slots: Vec<u32>,
    rows: Vec<u32>,
    positions: Vec<u32>,
    /// Whether the row at the same index occurred again.
    repeated: Vec<bool>,
}

const EMPTY_SLOT: u32 = u32::MAX;

impl FirstSeen {
    fn with_capacity(n: usize) -> Self {
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
    fn insert(&mut self, row: u32, position: u32) -> bool {
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
    fn position(&self, row: u32) -> Option<u32> {
        match self.slots[self.slot(row)] {
            EMPTY_SLOT => None,
            j => Some(self.positions[j as usize]),
        }
    }
}

/// A response: the results, best first, plus what could not be used.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RankResponse {
    /// Results, best first.
    pub items: Vec<RankedItem>,
    /// Ids in the request that the bundle does not know (in order of appearance, deduplicated):
    /// they were not ranked, filtered, boosted or pinned.
    pub unknown_ids: Vec<String>,
    /// Things to know about this response (ignored context keys, dropped pins, …).
    pub warnings: Vec<String>,
}

/// A response is its list of results; `unknown_ids` and `warnings` say what was left out.
impl std::ops::Deref for RankResponse {
    type Target = [RankedItem];
    fn deref(&self) -> &[RankedItem] {
        &self.items
    }
}

/// Everything a request ranks against: the bundle, the session, its signal policy, the items'
/// vector norms (for cosines) and where the session profile comes from.
#[derive(Debug, Clone, Copy)]
pub struct RankEnv<'a> {
    pub bundle: &'a Bundle,
    pub session: &'a SessionLog,
    pub signals: &'a SignalPolicy,
    /// ‖item vector‖ per row (dequantized); see [`item_norms`].
    pub norms: &'a [f32],
    /// The session's raw history, or a private release of its profile.
    pub profile: ProfileSource<'a>,
}

/// Where a request's session profile comes from.
///
/// With [`ProfileSource::Released`] or [`ProfileSource::Public`] nothing in the request reads the
/// raw history: scores come from the released vector (or the popularity prior), the session-based
/// exclusions (`excludeSeen`, `excludePurchased`, `excludeInCart`) are off, and explanations list
/// no events — all of it is post-processing of what was released (see `docs/PRIVACY.md`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProfileSource<'a> {
    /// The raw history (privacy off: `epsilon: Infinity`).
    Raw,
    /// A differentially private release of the pre-readout profile (`privacy::ProfileMechanism`).
    Released(&'a [f32]),
    /// An anchor item released by the exponential mechanism (`privacy::AnchorMechanism`).
    Anchor(u32),
    /// No session information at all (the budget allowed no release yet).
    Public,
}

/// ‖row i‖ of the dequantized embeddings, for every item (computed once per bundle).
pub fn item_norms(bundle: &Bundle) -> Vec<f32> {
    (0..bundle.n_items())
        .map(|i| item_norm(bundle, i))
        .collect()
}

/// The length of item `i`'s dequantized vector.
fn item_norm(bundle: &Bundle, i: usize) -> f32 {
    let r = bundle.row(i);
    bundle.scales()[i] * (dot_i8(r, r) as f32).sqrt()
}

/// What a request ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Recommend,
    Rerank,
    Similar(u32),
}

/// Per-request state shared by scoring, rules and explanations.
struct Prepared<'a> {
    env: RankEnv<'a>,
    opts: &'a ValidRankOptions,
    kind: Kind,
    weighted: Vec<WeightedEvent>,
    scorer: Scorer<'a>,
    effect: ContextEffect,
    /// Additive score per category (context + category boosts); empty when none.
    cat_add: Vec<f32>,
    /// Boost per category alone (for explanations); empty when none.
    cat_boost: Vec<f32>,
    /// Rows with an item boost, sorted (their sums: [`Prepared::item_boost`]).
    boosted_rows: Vec<u32>,
    /// Sorted rows not to rank: exclusions (options and session) — pins are handled apart.
    excluded: Vec<u32>,
    /// For `similar`: the anchor's neighbours (row, weight normalized to [0, 1]).
    neighbours: Vec<(u32, f32)>,
    /// For explanations: [`event_terms`], computed once per request (on the first explained row).
    event_terms: std::cell::OnceCell<Option<EventTerms>>,
}

/// Each weighted event's vector as the profile sees it (`None`: a zero vector), and the length of
/// their weighted sum (the profile before normalization).
type EventTerms = (Vec<Option<Vec<f32>>>, f32);

impl<'a> Prepared<'a> {
    fn new(env: RankEnv<'a>, opts: &'a ValidRankOptions, kind: Kind) -> Self {
        let bundle = env.bundle;
        let now_ms = opts
            .now_ms
            .or_else(|| env.session.latest_ts_ms())
            .unwrap_or(0.0);
        let private = env.profile != ProfileSource::Raw;
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
        // Session-based exclusions read the raw history: never in private mode (the engine
        // rejects them when asked for explicitly).
        if !private && opts.exclude_seen.unwrap_or(false) {
            excluded.extend(env.session.seen_items(now_ms));
        }
        if !private && opts.exclude_purchased.unwrap_or(def_purchased) {
            excluded.extend(env.session.purchased_items(now_ms));
        }
        if !private && opts.exclude_in_cart.unwrap_or(def_cart) {
            excluded.extend(env.session.in_cart_items(now_ms));
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
            event_terms: std::cell::OnceCell::new(),
        }
    }

    fn bundle(&self) -> &'a Bundle {
        self.env.bundle
    }

    fn cat_add(&self, i: u32) -> f32 {
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
    fn item_boost(&self, i: u32) -> f32 {
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

    fn boost(&self, i: u32) -> f32 {
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

    fn neighbour(&self, i: u32) -> f32 {
        self.neighbours
            .iter()
            .filter(|n| n.0 == i)
            .map(|n| n.1)
            .sum()
    }

    /// Cosine between items `a` and `b` (0 when either vector is zero).
    fn cosine(&self, a: u32, b: u32) -> f32 {
        let bundle = self.bundle();
        let (na, nb) = (self.norm(a), self.norm(b));
        if na <= 0.0 || nb <= 0.0 {
            return 0.0;
        }
        let d = dot_i8(bundle.row(a as usize), bundle.row(b as usize)) as f32;
        d * bundle.scales()[a as usize] * bundle.scales()[b as usize] / (na * nb)
    }

    fn norm(&self, i: u32) -> f32 {
        match self.env.norms.get(i as usize) {
            Some(&n) => n,
            None => item_norm(self.bundle(), i as usize),
        }
    }

    /// The model part of item `i`'s score (before context and boosts).
    fn base_score(&self, i: u32) -> f32 {
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
    fn score(&self, i: u32) -> f32 {
        self.base_score(i) + self.cat_add(i) + self.item_boost(i)
    }

    /// Whether `i` may be shown at all (filters, `exclude`/deny): what pins must pass too.
    fn passes_hard_rules(&self, i: u32) -> bool {
        self.opts.filters.passes(self.bundle(), i) && self.opts.excluded.binary_search(&i).is_err()
    }

    /// Whether `i` may be ranked (hard rules and the session exclusions).
    fn admissible(&self, i: u32) -> bool {
        self.opts.filters.passes(self.bundle(), i) && self.excluded.binary_search(&i).is_err()
    }

    /// Scores the whole catalog into one buffer, marking what may not be ranked with NaN.
    fn score_catalog(&self) -> Vec<f32> {
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

/// Per-category counts (categories in a response are few: a linear scan beats hashing).
#[derive(Debug, Clone, Default)]
struct CategoryCounts(Vec<(u32, usize)>);

impl CategoryCounts {
    fn get(&self, cat: u32) -> usize {
        self.0.iter().find(|c| c.0 == cat).map_or(0, |c| c.1)
    }

    fn add(&mut self, cat: u32) {
        match self.0.iter_mut().find(|c| c.0 == cat) {
            Some(c) => c.1 += 1,
            None => self.0.push((cat, 1)),
        }
    }
}

/// Best `k` candidates taken best-first, skipping those whose category already holds `cap`
/// (counting `used`); items without a category are not capped. `best(m)` returns the best `m`
/// candidates sorted (or all, when fewer). Exact: greedy over the best `m` equals greedy over all
/// candidates once it fills `k` slots or `best(m)` runs out, and `m` doubles until one happens.
fn capped_top_k(
    bundle: &Bundle,
    best: impl Fn(usize) -> Vec<Scored>,
    k: usize,
    cap: usize,
    used: &CategoryCounts,
) -> Vec<Scored> {
    let mut m = k.saturating_mul(4).max(64);
    loop {
        let prefix = best(m);
        let mut counts = used.clone();
        let mut out = Vec::with_capacity(k);
        for c in &prefix {
            if out.len() == k {
                break;
            }
            match bundle.category(c.index as usize) {
                Some(cat) if counts.get(cat) >= cap => {}
                Some(cat) => {
                    counts.add(cat);
                    out.push(*c);
                }
                None => out.push(*c),
            }
        }
        if out.len() == k || prefix.len() < m {
            return out;
        }
        m = m.saturating_mul(2);
    }
}

/// Maximal Marginal Relevance over `pool` (best first): repeatedly picks the candidate maximizing
/// `λ · rel − (1 − λ) · max cos(candidate, picked)`, with `rel` the score min-max normalized over
/// the pool to [0, 1] and cosines from the int8 vectors; respects the category cap.
fn mmr(
    p: &Prepared<'_>,
    pool: &[Scored],
    k: usize,
    lambda: f32,
    cap: Option<usize>,
    used: &mut CategoryCounts,
) -> Vec<Scored> {
    let bundle = p.bundle();
    let (lo, hi) = pool
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), c| {
            (lo.min(c.score), hi.max(c.score))
        });
    let span = hi - lo;
    let rel: Vec<f32> = pool
        .iter()
        .map(|c| {
            if span > 0.0 && span.is_finite() {
                (c.score - lo) / span
            } else {
                1.0
            }
        })
        .collect();
    let mut max_sim = vec![f32::NEG_INFINITY; pool.len()];
    let mut taken = vec![false; pool.len()];
    let mut out = Vec::with_capacity(k.min(pool.len()));
    while out.len() < k {
        let mut best: Option<(usize, f32)> = None;
        for (j, c) in pool.iter().enumerate() {
            if taken[j] {
                continue;
            }
            if let (Some(cap), Some(cat)) = (cap, bundle.category(c.index as usize)) {
                if used.get(cat) >= cap {
                    continue;
                }
            }
            let redundancy = if max_sim[j].is_finite() {
                max_sim[j]
            } else {
                0.0
            };
            let value = lambda * rel[j] - (1.0 - lambda) * redundancy;
            if best.is_none_or(|(_, v)| value > v) {
                best = Some((j, value));
            }
        }
        let Some((j, _)) = best else { break };
        taken[j] = true;
        let chosen = pool[j];
        if let Some(cat) = bundle.category(chosen.index as usize) {
            used.add(cat);
        }
        out.push(chosen);
        for (m, c) in pool.iter().enumerate() {
            if !taken[m] {
                max_sim[m] = max_sim[m].max(p.cosine(chosen.index, c.index));
            }
        }
    }
    out
}

impl<'a> RankEnv<'a> {
    /// The top `k` of the whole catalog for this session and context (rows: ids are attached by
    /// [`RowResponse::into_response`]).
    pub fn recommend_rows(&self, opts: &ValidRankOptions) -> RowResponse {
        let p = Prepared::new(*self, opts, Kind::Recommend);
        let k = opts.k.unwrap_or(DEFAULT_K);
        self.finish(&p, k, None, Vec::new())
    }

    /// The given candidates, reordered (and filtered) for this session and context, each with its
    /// position in `ids`. Unknown ids are reported in `unknown_ids`; duplicates are ranked once
    /// (and reported in `warnings`).
    pub fn rerank_rows<S: AsRef<str>>(
        &self,
        ids: &[S],
        opts: &ValidRankOptions,
    ) -> Result<RowResponse, RequestError> {
        if ids.len() > MAX_IDS {
            return Err(invalid(
                "candidates",
                format!("at most {MAX_IDS} ids, got {}", ids.len()),
            ));
        }
        let bundle = self.bundle;
        let mut unknown: Vec<String> = Vec::new();
        // Duplicates: keep the first occurrence.
        let mut seen = FirstSeen::with_capacity(ids.len());
        let mut duplicates: Vec<u32> = Vec::new();
        for (position, id) in ids.iter().enumerate() {
            let id = id.as_ref();
            match bundle.index_of(id) {
                Some(i) => {
                    if seen.insert(i, position as u32) {
                        duplicates.push(i);
                    }
                }
                None => {
                    if !unknown.iter().any(|u| u == id) {
                        unknown.push(id.to_owned());
                    }
                }
            }
        }
        let rows = &seen.rows;
        let p = Prepared::new(*self, opts, Kind::Rerank);
        let k = opts.k.unwrap_or(rows.len()).min(rows.len().max(1));
        let mut extra = Vec::new();
        if !duplicates.is_empty() {
            let names: Vec<&str> = duplicates
                .iter()
                .map(|&d| bundle.ids()[d as usize].as_str())
                .collect();
            extra.push(format!(
                "duplicate candidate ids ranked once: {}",
                quote_list(&names)
            ));
        }
        let mut response = self.finish(&p, k, Some(rows), extra);
        for r in &mut response.rows {
            r.position = seen.position(r.index);
        }
        for u in unknown {
            if !response.unknown_ids.contains(&u) {
                response.unknown_ids.push(u);
            }
        }
        Ok(response)
    }

    /// Items like `id` (item-to-item: embedding cosine, plus the bundle's neighbour list when it
    /// has one), under the same rules, context and boosts. An unknown `id` falls back to
    /// [`RankEnv::recommend_rows`] and is reported in `unknown_ids` and `warnings`.
    pub fn similar_rows(&self, id: &str, opts: &ValidRankOptions) -> RowResponse {
        let k = opts.k.unwrap_or(DEFAULT_K);
        match self.bundle.index_of(id) {
            Some(anchor) => {
                let p = Prepared::new(*self, opts, Kind::Similar(anchor));
                self.finish(&p, k, None, Vec::new())
            }
            None => {
                let mut r = self.recommend_rows(opts);
                r.unknown_ids.insert(0, id.to_owned());
                r.warnings.push(format!(
                    "similar: item '{id}' is not in the bundle; showing recommendations instead"
                ));
                r
            }
        }
    }

    /// Why `id` would get its score in a `recommend` with these options (whether or not it makes
    /// the top k). Unknown ids are errors here: the item is the request's subject.
    pub fn explain(
        &self,
        id: &str,
        opts: &ValidRankOptions,
    ) -> Result<(f32, Explanation), RequestError> {
        let i = self
            .bundle
            .index_of(id)
            .ok_or_else(|| RequestError::UnknownItem(id.to_owned()))?;
        let p = Prepared::new(*self, opts, Kind::Recommend);
        let pinned = opts.pins.iter().any(|&(r, _)| r == i);
        Ok((p.score(i), explain_item(&p, i, pinned)))
    }

    /// Rules, diversity, top-k, pins, then the response.
    fn finish(
        &self,
        p: &Prepared<'_>,
        k: usize,
        list: Option<&[u32]>,
        mut warnings: Vec<String>,
    ) -> RowResponse {
        let opts = p.opts;
        warnings.extend(opts.warnings.iter().cloned());
        let order = self.select(p, k, list, &mut warnings);
        let rows = order
            .into_iter()
            .enumerate()
            .map(|(r, (c, pinned))| RankedRow {
                index: c.index,
                score: c.score,
                rank: r as u32 + 1,
                pinned,
                boosted: p.boost(c.index) != 0.0,
                position: None,
                why: opts.explain.then(|| explain_item(p, c.index, pinned)),
            })
            .collect();
        RowResponse {
            rows,
            unknown_ids: opts.unknown_ids.clone(),
            warnings,
        }
    }

    /// Rules, diversity, top-k and pins: the rows to show, in order, each flagged when pinned.
    fn select(
        &self,
        p: &Prepared<'_>,
        k: usize,
        list: Option<&[u32]>,
        warnings: &mut Vec<String>,
    ) -> Vec<(Scored, bool)> {
        let opts = p.opts;
        let bundle = self.bundle;
        // Pins that survive the hard rules (and, for rerank, are candidates).
        let mut pins: Vec<(u32, usize)> = Vec::with_capacity(opts.pins.len());
        for &(i, slot) in &opts.pins {
            let id = &bundle.ids()[i as usize];
            if list.is_some_and(|l| !l.contains(&i)) {
                warnings.push(format!("pin '{id}' dropped: not among the candidates"));
            } else if Kind::Similar(i) == p.kind {
                warnings.push(format!("pin '{id}' dropped: it is the item asked about"));
            } else if !p.passes_hard_rules(i) {
                warnings.push(format!(
                    "pin '{id}' dropped: the filters or the exclude list leave it out"
                ));
            } else {
                pins.push((i, slot));
            }
        }
        let n_ranked = k.saturating_sub(pins.len());
        let mut used = CategoryCounts::default();
        for &(i, _) in &pins {
            if let Some(c) = bundle.category(i as usize) {
                used.add(c);
            }
        }
        let cap = opts.diversity.max_per_category;
        let lambda = opts.diversity.lambda;
        let pool_size = match lambda {
            Some(_) => opts
                .diversity
                .pool
                .unwrap_or((n_ranked * 4).max(50))
                .clamp(n_ranked, MAX_MMR_POOL),
            None => n_ranked,
        };

        let pool: Vec<Scored> = match list {
            None if opts.filters.allow.is_none() => {
                let scores = p.score_catalog();
                match cap {
                    None => top_k(&scores, pool_size),
                    Some(cap) => capped_top_k(bundle, |m| top_k(&scores, m), pool_size, cap, &used),
                }
            }
            _ => {
                // A candidate list: the page's, or the allow list.
                let rows: &[u32] = list.or(opts.filters.allow.as_deref()).unwrap_or(&[]);
                let cands: Vec<Scored> = rows
                    .iter()
                    .filter(|&&i| p.admissible(i) && !pins.iter().any(|&(pi, _)| pi == i))
                    .map(|&i| Scored {
                        index: i,
                        score: p.score(i),
                    })
                    .collect();
                let best = |m: usize| {
                    let mut top = TopK::new(m);
                    cands.iter().for_each(|&c| top.push(c));
                    top.into_sorted()
                };
                match cap {
                    None => best(pool_size),
                    Some(cap) => capped_top_k(bundle, best, pool_size, cap, &used),
                }
            }
        };
        let ranked = match lambda {
            Some(l) => mmr(p, &pool, n_ranked, l, cap, &mut used.clone()),
            None => {
                let mut v = pool;
                v.truncate(n_ranked);
                v
            }
        };

        // Interleave pins at their slots; pins beyond the end move up, in slot order.
        let mut order: Vec<(Scored, bool)> = Vec::with_capacity(ranked.len() + pins.len());
        let mut ranked = ranked.into_iter().peekable();
        let mut pins_left = pins.iter().peekable();
        while order.len() < k {
            let slot = order.len();
            if let Some(&(i, _)) = pins_left.next_if(|&&(_, s)| s == slot) {
                order.push((
                    Scored {
                        index: i,
                        score: p.score(i),
                    },
                    true,
                ));
            } else if let Some(c) = ranked.next() {
                order.push((c, false));
            } else if let Some(&(i, _)) = pins_left.next() {
                order.push((
                    Scored {
                        index: i,
                        score: p.score(i),
                    },
                    true,
                ));
            } else {
                break;
            }
        }
        order
    }
}

/// The explanation of item `i`'s score under `p`.
fn explain_item(p: &Prepared<'_>, i: u32, pinned: bool) -> Explanation {
    let bundle = p.bundle();
    let mut contributions: Vec<Part> = Vec::new();
    let mut events = Vec::new();
    match p.kind {
        Kind::Similar(anchor) => {
            if p.norm(anchor) > 0.0 || !p.neighbours.is_empty() {
                contributions.push(Part {
                    feature: "similarity".into(),
                    value: p.cosine(anchor, i),
                });
                let nb = p.neighbour(i);
                if nb != 0.0 {
                    contributions.push(Part {
                        feature: "neighbour".into(),
                        value: nb,
                    });
                }
            } else {
                contributions.push(Part {
                    feature: "popularity".into(),
                    value: bundle.prior()[i as usize],
                });
            }
        }
        Kind::Recommend | Kind::Rerank => {
            contributions.extend(p.scorer.contributions(i).into_iter().map(|c| Part {
                feature: c.feature.into(),
                value: c.value,
            }));
            events = event_reasons(p, i);
        }
    }
    let ctx = p.effect.item_bias(bundle, i);
    if ctx != 0.0 {
        contributions.push(Part {
            feature: "context".into(),
            value: ctx,
        });
    }
    let boost = p.boost(i);
    if boost != 0.0 {
        contributions.push(Part {
            feature: "boost".into(),
            value: boost,
        });
    }
    Explanation {
        contributions,
        events,
        context: p
            .effect
            .item_parts(bundle, i)
            .into_iter()
            .map(|(feature, value)| Part { feature, value })
            .collect(),
        personalized: p.scorer.is_personalized() && !matches!(p.kind, Kind::Similar(_)),
        pinned,
    }
}

/// The session events behind item `i`'s similarity: each event's `weight · (W u_e) · v_i / ‖Σ
/// weight · W u‖` with `u_e` its item's unit vector and `W` the bundle's readout (identity when
/// absent), as `score::session_profile` builds the profile; they sum to the similarity part.
/// [`EventTerms`] of the request's weighted events; `None` when the profile is zero or not finite.
fn event_terms(p: &Prepared<'_>) -> Option<EventTerms> {
    let bundle = p.bundle();
    let d = bundle.dim();
    // Each event's vector as the profile sees it: its unit vector, through the readout `W` when
    // the bundle has one (the profile is `W · Σ weight · unit`, normalized).
    let readout = bundle.session_readout();
    let term = |j: u32| -> Option<Vec<f32>> {
        let n = p.norm(j);
        (n > 0.0).then(|| {
            let s = bundle.scales()[j as usize] / n;
            let u: Vec<f32> = bundle
                .row(j as usize)
                .iter()
                .map(|&q| f32::from(q) * s)
                .collect();
            match readout {
                Some(w) => w
                    .chunks_exact(d)
                    .map(|row| row.iter().zip(&u).map(|(a, b)| a * b).sum())
                    .collect(),
                None => u,
            }
        })
    };
    let terms: Vec<Option<Vec<f32>>> = p.weighted.iter().map(|e| term(e.event.item)).collect();
    let mut profile = vec![0.0f32; d];
    for (e, t) in p.weighted.iter().zip(&terms) {
        if let Some(t) = t {
            profile
                .iter_mut()
                .zip(t)
                .for_each(|(a, x)| *a += e.weight * x);
        }
    }
    let z = profile.iter().map(|x| x * x).sum::<f32>().sqrt();
    (z > 0.0 && z.is_finite()).then_some((terms, z))
}

fn event_reasons(p: &Prepared<'_>, i: u32) -> Vec<EventReason> {
    let bundle = p.bundle();
    if !p.scorer.is_personalized() || p.weighted.is_empty() {
        return Vec::new();
    }
    let Some((terms, z)) = p.event_terms.get_or_init(|| event_terms(p)) else {
        return Vec::new();
    };
    let v_i = bundle.dequantized_row(i as usize);
    // Each event's share of the model's similarity `profile · v_i`: it adds
    // `weight · (W unit_e) · v_i / ‖Σ weight · W unit‖`.
    let mut shares: Vec<(usize, f32)> = p
        .weighted
        .iter()
        .zip(terms)
        .enumerate()
        .filter(|(_, (e, _))| e.weight != 0.0)
        .map(|(k, (e, t))| {
            let along = t
                .as_ref()
                .map_or(0.0, |t| t.iter().zip(&v_i).map(|(a, b)| a * b).sum::<f32>());
            (k, e.weight * along / *z)
        })
        .collect();
    // The largest |contribution| first (selection: the list is short and only a few are kept);
    // only those become reasons.
    let mut out = Vec::with_capacity(MAX_EXPLAINED_EVENTS.min(shares.len()));
    while out.len() < MAX_EXPLAINED_EVENTS && !shares.is_empty() {
        let mut best = 0;
        for (j, r) in shares.iter().enumerate() {
            if r.1.abs() > shares[best].1.abs() {
                best = j;
            }
        }
        let (k, contribution) = shares.swap_remove(best);
        let e = &p.weighted[k];
        out.push(EventReason {
            kind: e.event.kind.as_str(),
            item: bundle.ids()[e.event.item as usize].clone(),
            ts: e.event.ts_ms,
            weight: e.weight,
            similarity: p.cosine(e.event.item, i),
            contribution,
        });
    }
    out
}

fn quote_list<S: AsRef<str>>(ids: &[S]) -> String {
    let shown: Vec<String> = ids
        .iter()
        .take(10)
        .map(|i| format!("'{}'", i.as_ref()))
        .collect();
    let more = ids.len().saturating_sub(10);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Ranks the whole catalog for `session` with the bundle's own signal policy (the path `vitrine
/// eval` measures): the best `k`, best first, under the request's rules.
pub fn recommend(bundle: &Bundle, session: &SessionLog, request: &ValidRankOptions) -> Vec<Scored> {
    recommend_from(bundle, session, request, ProfileSource::Raw)
}

/// [`recommend`] with the session profile taken from `profile` (a private release, or nothing):
/// the path `vitrine eval --epsilon` measures, and what the engine runs in private mode.
pub fn recommend_from(
    bundle: &Bundle,
    session: &SessionLog,
    request: &ValidRankOptions,
    profile: ProfileSource<'_>,
) -> Vec<Scored> {
    let signals = SignalPolicy::from_bundle(bundle);
    let env = RankEnv {
        bundle,
        session,
        signals: &signals,
        norms: &[],
        profile,
    };
    let p = Prepared::new(env, request, Kind::Recommend);
    let mut warnings = Vec::new();
    env.select(&p, request.k.unwrap_or(DEFAULT_K), None, &mut warnings)
        .into_iter()
        .map(|(c, _)| c)
        .collect()
}
