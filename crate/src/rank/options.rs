//! Request options: what the page passes ([`RankOptions`]) and their validation, once per request
//! and against the bundle, into [`ValidRankOptions`] (ids resolved to rows, unknown ones
//! collected, ranges checked). Everything downstream works on valid options only.

use serde::Deserialize;

use super::candidates::DistinctIds;
use crate::bundle::Bundle;
use crate::context::{ContextInput, ValidContext};
use crate::error::RequestError;
use crate::kernels::sort_rows;
use crate::numfmt::Num;
use crate::privacy::ValidOpe;

/// Largest `k` a request may ask for.
pub const MAX_K: usize = 10_000;
/// `k` when a `recommend` or `similar` request gives none.
pub const DEFAULT_K: usize = 10;
/// Most ids in one list of a request (candidates, allow, deny, exclude, a boost's items).
pub const MAX_IDS: usize = 100_000;
/// Most item ids a scenario (`similar` of a list, bought-together) reads: a cart's newest.
pub const MAX_ANCHORS: usize = 100;
/// Most pins and most boosts in one request.
pub const MAX_RULES: usize = 1_000;
/// Largest MMR pool.
pub const MAX_MMR_POOL: usize = 5_000;

pub(super) fn invalid(name: &'static str, why: impl Into<String>) -> RequestError {
    RequestError::InvalidOption {
        name,
        why: why.into(),
    }
}

crate::wire! {
    /// Request options as the page passes them (`{k, context, filters, exclude, boosts, pins,
    /// diversity, excludeSeen, excludePurchased, excludeInCart, explain, now}`), before validation.
    /// Every field is optional; unknown fields are errors (a typo must not pass silently).
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RankOptions {
        /// How many results (1 ..= [`MAX_K`]); default [`DEFAULT_K`], or every candidate for `rerank`.
        k: Option<f64> = "k",
        /// The visit's context (see [`crate::context`]).
        context: Option<ContextInput> = "context",
        /// Hard constraints on what may be shown.
        filters: Option<FilterOptions> = "filters",
        /// Item ids never to show (e.g. the products already on the page).
        exclude: Option<Vec<String>> = "exclude",
        /// Additive score changes for items or categories.
        boosts: Option<Vec<BoostOption>> = "boosts",
        /// Items placed at fixed ranks.
        pins: Option<Vec<PinOption>> = "pins",
        /// Per-category cap and/or MMR.
        diversity: Option<DiversityOptions> = "diversity",
        /// Leave out items the session has any event for (default false).
        exclude_seen: Option<bool> = "excludeSeen",
        /// Leave out purchased items (default true, false for `rerank`).
        exclude_purchased: Option<bool> = "excludePurchased",
        /// Leave out items in the cart (default true, false for `rerank`).
        exclude_in_cart: Option<bool> = "excludeInCart",
        /// Attach an explanation to each result (default false).
        explain: Option<bool> = "explain",
        /// The request's time in ms since the Unix epoch, for time decay and `max_age` (default:
        /// the caller's clock).
        now: Option<f64> = "now",
        /// Off-policy evaluation of a candidate ε: an exploration slice for this request's fresh
        /// release, and its probabilities in the response (`propensity`).
        ope: Option<OpeOption> = "ope",
    }
}

crate::wire! {
    /// `ope`: a share of fresh releases drawn at a lower ε (the exploration slice), and the ε of
    /// the candidate setting whose probabilities the response reports (`unit: 'device'` only).
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct OpeOption {
        /// The exploration slice's share of fresh releases, in [0, 1).
        share: f64 = "share",
        /// The exploration slice's ε: finite, > 0, at most the release's own ε.
        epsilon: f64 = "epsilon",
        /// The candidate setting's ε: finite and > 0.
        candidate_epsilon: f64 = "candidateEpsilon",
    }
}

impl OpeOption {
    fn validate(&self) -> Result<ValidOpe, RequestError> {
        if !(self.share >= 0.0 && self.share < 1.0) {
            return Err(invalid(
                "ope.share",
                format!("must be a number in [0, 1), got {}", Num(self.share)),
            ));
        }
        for (name, v) in [
            ("ope.epsilon", self.epsilon),
            ("ope.candidateEpsilon", self.candidate_epsilon),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(invalid(
                    name,
                    format!("must be a finite number > 0, got {}", Num(v)),
                ));
            }
        }
        Ok(ValidOpe {
            share: self.share,
            epsilon: self.epsilon,
            candidate_epsilon: self.candidate_epsilon,
        })
    }
}

crate::wire! {
    /// `filters`: every given constraint must hold for an item to be shown (pins included).
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct FilterOptions {
        /// Keep only items of these categories (names, as in the bundle's category list).
        categories: Option<Vec<String>> = "categories",
        /// Leave out items of these categories.
        exclude_categories: Option<Vec<String>> = "excludeCategories",
        /// Lowest price kept (inclusive). Items without a known price fail a price filter.
        price_min: Option<f64> = "priceMin",
        /// Highest price kept (inclusive).
        price_max: Option<f64> = "priceMax",
        /// Keep only these items.
        allow: Option<Vec<String>> = "allow",
        /// Never show these items.
        deny: Option<Vec<String>> = "deny",
    }
}

crate::wire! {
    /// One boost: `weight` is **added** to the score of the listed items and of every item of the
    /// listed categories (an item in several matching boosts gets their sum). Negative weights bury.
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct BoostOption {
        /// Item ids.
        items: Option<Vec<String>> = "items",
        /// Category names.
        categories: Option<Vec<String>> = "categories",
        /// Added to the score (finite; required).
        weight: f64 = "weight",
    }
}

crate::wire! {
    /// One pin: `item` shown at `rank` (1 = first).
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct PinOption {
        /// The item id (required; also read as `id`).
        item: String = "item" | "id",
        /// Its rank, 1-based (≤ k; required).
        rank: f64 = "rank",
    }
}

crate::wire! {
    /// `diversity`: a per-category cap and/or Maximal Marginal Relevance.
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct DiversityOptions {
        /// At most this many results per category (≥ 1); items without a category are not capped.
        max_per_category: Option<f64> = "maxPerCategory",
        /// MMR trade-off in [0, 1]: 1 = relevance only, 0 = dissimilarity only.
        lambda: Option<f64> = "lambda",
        /// How many of the best candidates MMR chooses from (default max(4k, 50), ≤ [`MAX_MMR_POOL`]).
        pool: Option<f64> = "pool",
    }
}

/// Filters resolved to rows and category indices.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ValidFilters {
    /// Sorted category indices to keep.
    pub(crate) keep_categories: Option<Vec<u32>>,
    /// Sorted category indices to leave out.
    pub(crate) drop_categories: Vec<u32>,
    /// Inclusive price range.
    pub(crate) price: Option<(f64, f64)>,
    /// Sorted rows to keep.
    pub(crate) allow: Option<Vec<u32>>,
}

impl ValidFilters {
    pub(crate) fn is_catalog_pass_needed(&self) -> bool {
        self.keep_categories.is_some() || !self.drop_categories.is_empty() || self.price.is_some()
    }

    /// Category and price constraints (allow and deny are handled by the candidate set).
    pub(crate) fn passes_attributes(&self, bundle: &Bundle, i: u32) -> bool {
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

    pub(crate) fn passes(&self, bundle: &Bundle, i: u32) -> bool {
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
pub(crate) struct ValidBoost {
    pub(crate) items: Vec<u32>,
    pub(crate) categories: Vec<u32>,
    pub(crate) weight: f32,
}

/// Validated diversity settings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ValidDiversity {
    pub(crate) max_per_category: Option<usize>,
    pub(crate) lambda: Option<f32>,
    pub(crate) pool: Option<usize>,
}

/// Options checked once against the bundle: ids resolved to rows (unknown ones collected),
/// categories resolved, ranges checked. Build with [`RankOptions::validate`], or with
/// [`ValidRankOptions::new`] and the builder methods for the common native cases.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRankOptions {
    pub(crate) k: Option<usize>,
    pub(crate) context: ValidContext,
    pub(crate) filters: ValidFilters,
    /// Sorted rows never shown (`exclude` ∪ `filters.deny`).
    pub(crate) excluded: Vec<u32>,
    pub(crate) boosts: Vec<ValidBoost>,
    /// (row, 0-based slot), sorted by slot.
    pub(crate) pins: Vec<(u32, usize)>,
    pub(crate) diversity: ValidDiversity,
    pub(crate) exclude_seen: Option<bool>,
    pub(crate) exclude_purchased: Option<bool>,
    pub(crate) exclude_in_cart: Option<bool>,
    pub(crate) explain: bool,
    pub(crate) now_ms: Option<f64>,
    pub(crate) ope: Option<ValidOpe>,
    pub(crate) unknown_ids: Vec<String>,
    pub(crate) warnings: Vec<String>,
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
            ope: None,
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

    /// The off-policy evaluation the request asks for, if any.
    pub fn ope(&self) -> Option<ValidOpe> {
        self.ope
    }

    /// Asks for off-policy evaluation of a fresh release (see [`OpeOption`]).
    pub fn with_ope(mut self, ope: ValidOpe) -> Self {
        self.ope = Some(ope);
        self
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
    unknown: DistinctIds,
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
                    self.unknown.insert(id);
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
            unknown: DistinctIds::default(),
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
            ope: self.ope.as_ref().map(OpeOption::validate).transpose()?,
            unknown_ids: r.unknown.into_vec(),
            warnings: r.warnings,
        })
    }
}
